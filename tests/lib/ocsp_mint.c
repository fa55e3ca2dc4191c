// SPDX-License-Identifier: MIT
/*
 * OCSP response and signer-certificate minting for tests; see ocsp_mint.h.
 * Built on OpenSSL's responder API (OCSP_basic_add1_status,
 * OCSP_basic_sign), so what is minted is what a real responder would
 * send, except where a test asks for a defect.
 */
#include "tests/lib/ocsp_mint.h"

#include "daemon/base/util.h"
#include "tests/lib/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int mint_basic(const struct kst_mint *m, OCSP_BASICRESP **out);
static int mint_add_single(OCSP_BASICRESP *bs, const struct kst_mint_single *s);
static int mint_sign(OCSP_BASICRESP *bs, const struct kst_mint *m);
static int mint_cert_body(X509 *x, const struct kst_mint_cert *c,
			  EVP_PKEY *key);
static int mint_cert_ext(X509 *x, X509 *issuer, int nid, const char *value);

int kst_mint_ocsp(const struct kst_mint *m, unsigned char **der, size_t *len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	unsigned char *out = NULL;
	int n, err = 0;

	if (m == NULL || der == NULL || len == NULL ||
	    (m->n > 0 && m->singles == NULL))
		return -EINVAL;
	if (m->response_status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		err = mint_basic(m, &bs);
		if (err)
			goto out;
	}
	resp = OCSP_response_create(m->response_status, bs);
	if (resp == NULL) {
		err = -ENOMEM;
		goto out;
	}
	n = i2d_OCSP_RESPONSE(resp, &out);
	if (n <= 0) {
		err = -EINVAL;
		goto out;
	}
	*der = out;
	*len = (size_t)n;
out:
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return err;
}

static int mint_basic(const struct kst_mint *m, OCSP_BASICRESP **out)
{
	OCSP_BASICRESP *bs = NULL;
	int err = 0;

	if (m->signer == NULL || m->signer_key == NULL)
		return -EINVAL;
	bs = OCSP_BASICRESP_new();
	if (bs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->n && err == 0; i++)
		err = mint_add_single(bs, &m->singles[i]);
	if (err == 0)
		err = mint_sign(bs, m);
	if (err) {
		OCSP_BASICRESP_free(bs);
		return err;
	}
	*out = bs;
	return 0;
}

static int mint_add_single(OCSP_BASICRESP *bs, const struct kst_mint_single *s)
{
	bool revoked = s->status == V_OCSP_CERTSTATUS_REVOKED;
	OCSP_CERTID *id = OCSP_cert_to_id(s->id_md ? s->id_md : EVP_sha1(),
					  s->cert, s->issuer);
	ASN1_GENERALIZEDTIME *thisupd =
		ASN1_GENERALIZEDTIME_set(NULL, s->this_update);
	ASN1_GENERALIZEDTIME *nextupd =
		s->next_update ? ASN1_GENERALIZEDTIME_set(NULL, s->next_update)
			       : NULL;
	ASN1_GENERALIZEDTIME *rev =
		revoked ? ASN1_GENERALIZEDTIME_set(NULL, s->revoked_at) : NULL;
	int err = 0;

	if (id == NULL || thisupd == NULL || (s->next_update && !nextupd) ||
	    (revoked && rev == NULL))
		err = -ENOMEM;
	else if (!OCSP_basic_add1_status(bs, id, s->status,
					 revoked ? s->reason : -1, rev, thisupd,
					 nextupd))
		err = -EINVAL;
	ASN1_GENERALIZEDTIME_free(rev);
	ASN1_GENERALIZEDTIME_free(nextupd);
	ASN1_GENERALIZEDTIME_free(thisupd);
	OCSP_CERTID_free(id);
	return err;
}

static int mint_sign(OCSP_BASICRESP *bs, const struct kst_mint *m)
{
	unsigned long flags = 0;

	if (!m->include_signer)
		flags |= OCSP_NOCERTS;
	if (m->respid_by_key)
		flags |= OCSP_RESPID_KEY;
	if (m->produced_at != 0) {
		/*
		 * OpenSSL has no setter for producedAt; the getter's time is
		 * the field itself, and OCSP_NOTIME keeps signing from
		 * overwriting it with the clock.
		 */
		ASN1_GENERALIZEDTIME *t =
			(ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(bs);

		if (t == NULL || !ASN1_GENERALIZEDTIME_set(t, m->produced_at))
			return -ENOMEM;
		flags |= OCSP_NOTIME;
	}
	if (!OCSP_basic_sign(bs, m->signer, m->signer_key, EVP_sha256(), NULL,
			     flags))
		return -EINVAL;
	return 0;
}

int kst_mint_simple(const char *leaf_name, int status, time_t this_update,
		    time_t next_update, const char *signer_name,
		    unsigned char **der, size_t *len)
{
	X509 *leaf = kst_test_cert(leaf_name);
	X509 *issuer = kst_test_cert("int");
	X509 *signer = kst_test_cert(signer_name);
	EVP_PKEY *key = kst_test_key(signer_name);
	struct kst_mint_single s = {
		.cert = leaf,
		.issuer = issuer,
		.status = status,
		.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE,
		.revoked_at = this_update - 3600,
		.this_update = this_update,
		.next_update = next_update,
	};
	struct kst_mint m = {
		.response_status = OCSP_RESPONSE_STATUS_SUCCESSFUL,
		.singles = &s,
		.n = 1,
		.signer = signer,
		.signer_key = key,
		.include_signer = true,
		.produced_at = this_update,
	};
	int err = -ENOENT;

	if (leaf != NULL && issuer != NULL && signer != NULL && key != NULL)
		err = kst_mint_ocsp(&m, der, len);
	EVP_PKEY_free(key);
	X509_free(signer);
	X509_free(issuer);
	X509_free(leaf);
	return err;
}

int kst_mint_write(const char *path, const unsigned char *der, size_t len)
{
	return kst_write_atomic(path, der, len, 0644);
}

int kst_mint_flip_signature(unsigned char *der, size_t len)
{
	const unsigned char *cur = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &cur, (long)len);
	OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	const ASN1_OCTET_STRING *sig = bs ? OCSP_resp_get0_signature(bs) : NULL;
	int n = sig ? ASN1_STRING_length(sig) : 0;
	unsigned char *at = NULL;

	/* The signed response sits verbatim inside the outer DER. */
	if (n > 0)
		at = memmem(der, len, ASN1_STRING_get0_data(sig), (size_t)n);
	if (at != NULL)
		at[n / 2] ^= 0x01;
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return at != NULL ? 0 : -EINVAL;
}

int kst_mint_cert(const struct kst_mint_cert *c, X509 **cert, EVP_PKEY **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int err;

	if (k == NULL || x == NULL) {
		err = -ENOMEM;
		goto error;
	}
	err = mint_cert_body(x, c, k);
	if (err == 0 && c->ocsp_signing)
		err = mint_cert_ext(x, c->issuer, NID_ext_key_usage,
				    "OCSPSigning");
	if (err == 0 && !X509_sign(x, c->issuer_key, EVP_sha256()))
		err = -EINVAL;
	if (err)
		goto error;
	*cert = x;
	*key = k;
	return 0;
error:
	X509_free(x);
	EVP_PKEY_free(k);
	return err;
}

/* Names, validity, key and the extensions every signer carries. */
static int mint_cert_body(X509 *x, const struct kst_mint_cert *c, EVP_PKEY *key)
{
	X509_NAME *name = X509_get_subject_name(x);
	uint64_t serial = 0;
	int err = 0;

	if (c->issuer == NULL || c->issuer_key == NULL || c->cn == NULL)
		return -EINVAL;
	if (RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1)
		return -EIO;
	serial >>= 1; /* a positive INTEGER */
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)c->cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(c->issuer)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), c->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), c->not_after) ||
	    !X509_set_pubkey(x, key))
		return -ENOMEM;
	err = mint_cert_ext(x, c->issuer, NID_basic_constraints,
			    "critical,CA:FALSE");
	if (err == 0)
		err = mint_cert_ext(x, c->issuer, NID_key_usage,
				    "critical,digitalSignature");
	if (err == 0)
		err = mint_cert_ext(x, c->issuer, NID_subject_key_identifier,
				    "hash");
	if (err == 0)
		err = mint_cert_ext(x, c->issuer, NID_authority_key_identifier,
				    "keyid");
	return err;
}

static int mint_cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext = NULL;
	int err = 0;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || !X509_add_ext(x, ext, -1))
		err = -EINVAL;
	X509_EXTENSION_free(ext);
	return err;
}
