// SPDX-License-Identifier: MIT
/*
 * Fuzz target: OCSP ingest (daemon/ocsp/verdict.c): kst_ocsp_ingest() on a
 * response, then kst_ocsp_choose() of what a certificate holding a staple
 * and maybe a revocation does with the verdict, and the state-dir
 * revocation record (format and parse).
 *
 * Raw DER alone rarely gets past the signature check, so half of the
 * inputs (first byte odd) are a description instead: response status,
 * signer (the issuer, a delegated signer with or without the OCSPSigning
 * EKU, a rogue CA's certificate), responder id form, CertID hash, one to
 * three single responses (which certificate, status, reason, times),
 * producedAt, a nonce, an extension with fuzzed bytes, a flipped signature
 * bit, trailing bytes. The target builds that response and signs it with
 * keys derived once from fixed labels (Ed25519, deterministic), so the
 * mutations explore what lies behind the signature. For the plain cases
 * (one single response about our certificate, signed by someone allowed
 * to, nothing broken on purpose) the verdict is predicted from the
 * description and must match, fields included; every verdict must be
 * consistent with itself; choose() must never staple while a newer-or-as-
 * new revocation is held, nor staple anything but a good verdict.
 *
 * Even inputs: raw DER for ingest (and text for the record parser).
 */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "daemon/ocsp/verdict.h"
#include "tests/lib/ocsp_mint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fuzz_ocsp_who {
	WHO_ISSUER,
	WHO_DELEGATED,	 /* issued by the issuer, OCSPSigning EKU */
	WHO_NO_EKU,	 /* issued by the issuer, no EKU */
	WHO_ROGUE,	 /* a CA of its own */
	WHO_ROGUE_DELEG, /* delegated, but issued by the rogue CA */
	WHO_COUNT,
};

static struct {
	X509 *issuer, *leaf, *sibling, *rogue, *stranger;
	X509 *signer[WHO_COUNT];
	EVP_PKEY *key[WHO_COUNT];
} fo;

static X509 *fuzz_ocsp_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
			    EVP_PKEY *ikey, bool ca, bool eku, uint64_t serial)
{
	struct kst_fuzz_cert c = {
		.cn = cn,
		.key = key,
		.issuer = issuer,
		.issuer_key = ikey,
		.ca = ca,
		.ocsp_signing = eku,
		.serial = serial,
	};

	return kst_fuzz_cert_new(&c);
}

int kst_fuzz_init(void)
{
	EVP_PKEY *ik = kst_fuzz_key("kst-fuzz ocsp issuer");
	EVP_PKEY *rk = kst_fuzz_key("kst-fuzz ocsp rogue");
	EVP_PKEY *lk = kst_fuzz_key("kst-fuzz ocsp leaf");

	fo.issuer =
		fuzz_ocsp_cert("fuzz issuer", ik, NULL, NULL, true, false, 1);
	fo.rogue =
		fuzz_ocsp_cert("fuzz issuer", rk, NULL, NULL, true, false, 1);
	fo.leaf = fuzz_ocsp_cert("leaf", lk, fo.issuer, ik, false, false, 10);
	fo.sibling =
		fuzz_ocsp_cert("sibling", lk, fo.issuer, ik, false, false, 11);
	fo.stranger =
		fuzz_ocsp_cert("stranger", lk, fo.rogue, rk, false, false, 10);
	fo.key[WHO_ISSUER] = ik;
	fo.signer[WHO_ISSUER] = fo.issuer;
	fo.key[WHO_ROGUE] = rk;
	fo.signer[WHO_ROGUE] = fo.rogue;
	fo.key[WHO_DELEGATED] = kst_fuzz_key("kst-fuzz ocsp delegated");
	fo.signer[WHO_DELEGATED] =
		fuzz_ocsp_cert("responder", fo.key[WHO_DELEGATED], fo.issuer,
			       ik, false, true, 20);
	fo.key[WHO_NO_EKU] = kst_fuzz_key("kst-fuzz ocsp no-eku");
	fo.signer[WHO_NO_EKU] = fuzz_ocsp_cert("responder", fo.key[WHO_NO_EKU],
					       fo.issuer, ik, false, false, 21);
	fo.key[WHO_ROGUE_DELEG] = kst_fuzz_key("kst-fuzz ocsp rogue-deleg");
	fo.signer[WHO_ROGUE_DELEG] =
		fuzz_ocsp_cert("responder", fo.key[WHO_ROGUE_DELEG], fo.rogue,
			       rk, false, true, 22);
	EVP_PKEY_free(lk);
	for (int i = 0; i < WHO_COUNT; i++)
		if (fo.signer[i] == NULL || fo.key[i] == NULL)
			return -1;
	return fo.leaf && fo.sibling && fo.stranger ? 0 : -1;
}

/* ------------------------------------------------------ description */

#define FL_INCLUDE_SIGNER 0x01
#define FL_RESPID_KEY	  0x02
#define FL_SHA256_ID	  0x04
#define FL_NONCE	  0x08
#define FL_EXT		  0x10
#define FL_EXT_CRITICAL	  0x20
#define FL_FLIP_SIG	  0x40
#define FL_TRAILING	  0x80

struct fuzz_single {
	int which; /* 0 leaf, 1 sibling, 2 stranger (other issuer) */
	int status, reason;
	time_t this_update, next_update, revoked_at; /* next 0: absent */
};

struct fuzz_desc {
	int response_status;
	int who;
	unsigned int flags;
	size_t n;
	struct fuzz_single s[3];
	time_t produced_at;
	const uint8_t *ext;
	size_t ext_len;
	const uint8_t *trailing;
	size_t trailing_len;
	struct kst_ocsp_held held;
};

/* A time within +-68 years of now, on a one-second grid. */
static time_t fuzz_ocsp_time(struct kst_fuzz_in *in)
{
	return KST_FUZZ_NOW + (int32_t)kst_fuzz_u32(in);
}

static void fuzz_ocsp_read_held(struct kst_fuzz_in *in, struct kst_ocsp_held *h)
{
	unsigned int f = kst_fuzz_u8(in);

	memset(h, 0, sizeof(*h));
	h->has_staple = f & 1;
	h->staple_this_update = fuzz_ocsp_time(in);
	h->newest_good = (f & 2) ? fuzz_ocsp_time(in) : 0;
	h->rev.revoked = f & 4;
	if (h->rev.revoked) {
		h->rev.this_update = fuzz_ocsp_time(in);
		h->rev.revoked_at = fuzz_ocsp_time(in);
		h->rev.reason = (int)(kst_fuzz_u8(in) % 12) - 1;
	}
}

static void fuzz_ocsp_read(struct kst_fuzz_in *in, struct fuzz_desc *d)
{
	unsigned int st = kst_fuzz_u8(in);

	memset(d, 0, sizeof(*d));
	fuzz_ocsp_read_held(in, &d->held);
	/* mostly successful; else one of the others, unassigned ones too */
	d->response_status = st < 200 ? 0 : (int)(st % 8);
	d->who = kst_fuzz_u8(in) % WHO_COUNT;
	d->flags = kst_fuzz_u8(in);
	d->n = kst_fuzz_u8(in) % 4;
	for (size_t i = 0; i < d->n; i++) {
		struct fuzz_single *s = &d->s[i];
		unsigned int b = kst_fuzz_u8(in);

		s->which = (b & 3) == 3 ? 0 : (int)(b & 3);
		s->status = (int)(((b >> 2) & 3) % 3);
		s->reason = (int)(kst_fuzz_u8(in) % 12) - 1; /* -1: none */
		if (s->reason == 7) /* value 7 is unused in CRLReason */
			s->reason = -1;
		s->this_update = fuzz_ocsp_time(in);
		s->next_update = (b & 0x80) ? 0 : fuzz_ocsp_time(in);
		s->revoked_at = fuzz_ocsp_time(in);
	}
	d->produced_at = fuzz_ocsp_time(in);
	if (d->flags & FL_EXT) {
		size_t want = kst_fuzz_u8(in);

		d->ext = kst_fuzz_bytes(in, want, &d->ext_len);
	}
	d->trailing = kst_fuzz_bytes(in, in->n, &d->trailing_len);
	if (!(d->flags & FL_TRAILING))
		d->trailing_len = 0;
}

static X509 *fuzz_ocsp_which(int which)
{
	return which == 0 ? fo.leaf : which == 1 ? fo.sibling : fo.stranger;
}

static int fuzz_ocsp_add_single(OCSP_BASICRESP *bs, const struct fuzz_desc *d,
				const struct fuzz_single *s)
{
	X509 *cert = fuzz_ocsp_which(s->which);
	X509 *issuer = s->which == 2 ? fo.rogue : fo.issuer;
	const EVP_MD *md =
		(d->flags & FL_SHA256_ID) ? EVP_sha256() : EVP_sha1();
	OCSP_CERTID *id = OCSP_cert_to_id(md, cert, issuer);
	ASN1_GENERALIZEDTIME *t =
		ASN1_GENERALIZEDTIME_set(NULL, s->this_update);
	ASN1_GENERALIZEDTIME *n =
		s->next_update ? ASN1_GENERALIZEDTIME_set(NULL, s->next_update)
			       : NULL;
	ASN1_GENERALIZEDTIME *r = ASN1_GENERALIZEDTIME_set(NULL, s->revoked_at);
	OCSP_SINGLERESP *single = NULL;
	int err = -EINVAL;

	if (id != NULL && t != NULL && r != NULL)
		single = OCSP_basic_add1_status(
			bs, id, s->status,
			s->status == V_OCSP_CERTSTATUS_REVOKED ? s->reason : -1,
			s->status == V_OCSP_CERTSTATUS_REVOKED ? r : NULL, t,
			n);
	if (single != NULL)
		err = 0;
	if (single != NULL && (d->flags & FL_EXT)) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.99999.7", 1);
		X509_EXTENSION *ext = NULL;

		if (os != NULL && oid != NULL &&
		    ASN1_OCTET_STRING_set(os, d->ext, (int)d->ext_len))
			ext = X509_EXTENSION_create_by_OBJ(
				NULL, oid, (d->flags & FL_EXT_CRITICAL) != 0,
				os);
		if (ext == NULL || !OCSP_SINGLERESP_add_ext(single, ext, -1))
			err = -EINVAL;
		X509_EXTENSION_free(ext);
		ASN1_OBJECT_free(oid);
		ASN1_OCTET_STRING_free(os);
	}
	ASN1_GENERALIZEDTIME_free(r);
	ASN1_GENERALIZEDTIME_free(n);
	ASN1_GENERALIZEDTIME_free(t);
	OCSP_CERTID_free(id);
	return err;
}

static int fuzz_ocsp_sign(OCSP_BASICRESP *bs, const struct fuzz_desc *d)
{
	unsigned long flags = OCSP_NOTIME;
	ASN1_GENERALIZEDTIME *t =
		(ASN1_GENERALIZEDTIME *)OCSP_resp_get0_produced_at(bs);

	if (!(d->flags & FL_INCLUDE_SIGNER))
		flags |= OCSP_NOCERTS;
	if (d->flags & FL_RESPID_KEY)
		flags |= OCSP_RESPID_KEY;
	if ((d->flags & FL_NONCE) && !OCSP_basic_add1_nonce(bs, NULL, 16))
		return -EINVAL;
	if (t == NULL || !ASN1_GENERALIZEDTIME_set(t, d->produced_at))
		return -ENOMEM;
	/* Ed25519: no separate digest */
	if (!OCSP_basic_sign(bs, fo.signer[d->who], fo.key[d->who], NULL, NULL,
			     flags))
		return -EINVAL;
	return 0;
}

/* The response the description asks for; DER in *der (OPENSSL_free). */
static int fuzz_ocsp_build(const struct fuzz_desc *d, unsigned char **der,
			   size_t *len)
{
	OCSP_BASICRESP *bs = NULL;
	OCSP_RESPONSE *resp = NULL;
	unsigned char *out = NULL, *all = NULL;
	int n, err = 0;

	if (d->response_status == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		bs = OCSP_BASICRESP_new();
		if (bs == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < d->n && err == 0; i++)
			err = fuzz_ocsp_add_single(bs, d, &d->s[i]);
		if (err == 0)
			err = fuzz_ocsp_sign(bs, d);
	}
	if (err == 0)
		resp = OCSP_response_create(d->response_status, bs);
	n = resp ? i2d_OCSP_RESPONSE(resp, &out) : -1;
	if (err == 0 && n > 0)
		all = OPENSSL_malloc((size_t)n + d->trailing_len + 1);
	if (all != NULL) {
		memcpy(all, out, (size_t)n);
		if (d->trailing_len > 0)
			memcpy(all + n, d->trailing, d->trailing_len);
		*der = all;
		*len = (size_t)n + d->trailing_len;
	} else if (err == 0) {
		err = -EINVAL;
	}
	OPENSSL_free(out);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	return err;
}

/* ---------------------------------------------------------- oracles */

/* The verdict a plain description must get, or -1 when not predicted. */
static int fuzz_ocsp_expect(const struct fuzz_desc *d)
{
	const struct fuzz_single *s = &d->s[0];
	struct kst_ocsp_params p;

	kst_ocsp_params_default(&p);
	if (d->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
		return d->trailing_len ? KST_OCSP_E_PARSE : KST_OCSP_E_STATUS;
	if (d->trailing_len > 0)
		return KST_OCSP_E_PARSE;
	if (d->flags & FL_FLIP_SIG)
		return -1; /* SIGNATURE, or PARSE if the flip broke DER */
	if (d->who != WHO_ISSUER && d->who != WHO_DELEGATED)
		return -1;
	if (d->who == WHO_DELEGATED && !(d->flags & FL_INCLUDE_SIGNER))
		return KST_OCSP_E_SIGNATURE;
	if (d->n != 1 || s->which != 0 || (d->flags & FL_EXT_CRITICAL))
		return -1;
	if (s->next_update && s->next_update < s->this_update)
		return KST_OCSP_E_BAD_TIMES;
	if (s->this_update > KST_FUZZ_NOW &&
	    s->this_update - KST_FUZZ_NOW > p.skew)
		return KST_OCSP_E_NOT_YET_VALID;
	if (s->next_update && s->next_update <= KST_FUZZ_NOW)
		return KST_OCSP_E_EXPIRED;
	if (!s->next_update && s->this_update + p.max_age <= KST_FUZZ_NOW)
		return KST_OCSP_E_TOO_OLD;
	return s->status == V_OCSP_CERTSTATUS_GOOD	? KST_OCSP_OK
	       : s->status == V_OCSP_CERTSTATUS_REVOKED ? KST_OCSP_E_REVOKED
							: KST_OCSP_E_UNKNOWN;
}

/* What holds for every verdict, described or not. */
static void fuzz_ocsp_check_verdict(const struct kst_ocsp_verdict *v)
{
	if (strlen(v->detail) == 0 || strlen(v->detail) >= sizeof(v->detail))
		kst_fuzz_fail("verdict %s without a detail",
			      kst_ocsp_err_name(v->err));
	if (v->err == KST_OCSP_OK &&
	    (v->cert_status != V_OCSP_CERTSTATUS_GOOD ||
	     v->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	     v->next_update <= KST_FUZZ_NOW ||
	     v->this_update > KST_FUZZ_NOW + KST_OCSP_DEFAULT_SKEW ||
	     v->produced_at == 0))
		kst_fuzz_fail("ok verdict for what may not be stapled: %s",
			      v->detail);
	if (v->err == KST_OCSP_E_REVOKED &&
	    v->cert_status != V_OCSP_CERTSTATUS_REVOKED)
		kst_fuzz_fail("revoked verdict without revoked status");
}

static void fuzz_ocsp_check_expected(const struct fuzz_desc *d,
				     const struct kst_ocsp_verdict *v)
{
	const struct fuzz_single *s = &d->s[0];
	int want = fuzz_ocsp_expect(d);

	if (want < 0)
		return;
	if ((int)v->err != want)
		kst_fuzz_fail("expected verdict %s, got %s: %s",
			      kst_ocsp_err_name((enum kst_ocsp_err)want),
			      kst_ocsp_err_name(v->err), v->detail);
	if (v->err < KST_OCSP_E_NO_MATCH)
		return;
	/* verified and ours: the fields are what was signed */
	if (v->produced_at != d->produced_at ||
	    v->this_update != s->this_update ||
	    v->has_next_update != (s->next_update != 0) ||
	    (s->next_update && v->next_update != s->next_update) ||
	    v->cert_status != s->status)
		kst_fuzz_fail("verdict fields differ from the response");
	if (s->status == V_OCSP_CERTSTATUS_REVOKED &&
	    (v->revoked_at != s->revoked_at ||
	     v->revocation_reason != s->reason))
		kst_fuzz_fail("revocation fields differ from the response");
}

/* choose(): the safety of the sticky revocation. */
static void fuzz_ocsp_check_choose(const struct kst_ocsp_held *h,
				   const struct kst_ocsp_verdict *in)
{
	struct kst_ocsp_verdict v = *in;
	enum kst_ocsp_action a = kst_ocsp_choose(h, &v);

	switch (a) {
	case KST_OCSP_ACT_STAPLE:
		if (in->err != KST_OCSP_OK || h->rev.revoked)
			kst_fuzz_fail("staples a %s verdict%s",
				      kst_ocsp_err_name(in->err),
				      h->rev.revoked ? " over a revocation"
						     : "");
		if (h->has_staple && in->this_update < h->staple_this_update)
			kst_fuzz_fail("an older response replaces the staple");
		break;
	case KST_OCSP_ACT_UNREVOKE:
		if (in->err != KST_OCSP_OK || !h->rev.revoked ||
		    in->this_update <= h->rev.this_update)
			kst_fuzz_fail("un-revoked by a response not newer "
				      "than the revocation");
		break;
	case KST_OCSP_ACT_REVOKE:
		if (in->err != KST_OCSP_E_REVOKED)
			kst_fuzz_fail("revokes on a %s verdict",
				      kst_ocsp_err_name(in->err));
		break;
	case KST_OCSP_ACT_KEEP:
		if (in->err == KST_OCSP_OK && !h->rev.revoked &&
		    !(h->has_staple && in->this_update < h->staple_this_update))
			kst_fuzz_fail("a newer good response is not stapled");
		break;
	default:
		kst_fuzz_fail("unknown action %d", (int)a);
	}
	if (a == KST_OCSP_ACT_KEEP && in->err == KST_OCSP_OK &&
	    v.err == KST_OCSP_OK && h->rev.revoked)
		kst_fuzz_fail("kept a revocation but the verdict says ok");
}

/* The state-dir record reads back as written. */
static void fuzz_ocsp_check_record(const struct kst_ocsp_revocation *r)
{
	struct kst_ocsp_revocation back;
	char buf[512];
	int n = kst_ocsp_revocation_format(r, buf, sizeof(buf));

	if (n < 0)
		kst_fuzz_fail("cannot format a revocation record");
	if (kst_ocsp_revocation_parse(buf, (size_t)n, &back) != 0 ||
	    !back.revoked || back.this_update != r->this_update ||
	    back.revoked_at != r->revoked_at || back.reason != r->reason)
		kst_fuzz_fail("the revocation record does not read back:\n%s",
			      buf);
}

static void fuzz_ocsp_ingest(const unsigned char *der, size_t len,
			     const struct kst_ocsp_held *h,
			     struct kst_ocsp_verdict *v)
{
	/* exactly len bytes on the heap: ASan sees a read past the end */
	unsigned char *copy = malloc(len ? len : 1);

	if (copy == NULL)
		abort();
	memcpy(copy, der, len);
	kst_ocsp_ingest(copy, len, fo.leaf, fo.issuer, KST_FUZZ_NOW, NULL, v);
	free(copy);
	if (getenv("KST_FUZZ_LOG") != NULL)
		fprintf(stderr, "verdict %s: %s\n", kst_ocsp_err_name(v->err),
			v->detail);
	fuzz_ocsp_check_verdict(v);
	fuzz_ocsp_check_choose(h, v);
	if (v->err == KST_OCSP_E_REVOKED) {
		struct kst_ocsp_revocation r = {
			.revoked = true,
			.this_update = v->this_update,
			.revoked_at = v->revoked_at,
			.reason = v->revocation_reason,
		};

		fuzz_ocsp_check_record(&r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kst_fuzz_in in = {data, size};
	struct kst_ocsp_verdict v;
	struct kst_ocsp_revocation r;
	struct fuzz_desc d;
	unsigned char *der = NULL;
	size_t len = 0;
	unsigned int mode = kst_fuzz_u8(&in);

	if (!(mode & 1)) {
		struct kst_ocsp_held h;

		fuzz_ocsp_read_held(&in, &h);
		fuzz_ocsp_ingest(in.p, in.n, &h, &v);
		kst_ocsp_revocation_parse((const char *)in.p, in.n, &r);
		return 0;
	}
	fuzz_ocsp_read(&in, &d);
	if (fuzz_ocsp_build(&d, &der, &len) < 0) {
		ERR_clear_error();
		return 0;
	}
	if (d.flags & FL_FLIP_SIG)
		kst_mint_flip_signature(der, len - d.trailing_len);
	fuzz_ocsp_ingest(der, len, &d.held, &v);
	fuzz_ocsp_check_expected(&d, &v);
	OPENSSL_free(der);
	ERR_clear_error();
	return 0;
}

/* ------------------------------------------------------------- seeds */

static void fuzz_ocsp_put_time(struct kst_fuzz_out *o, long off)
{
	kst_fuzz_put_u32(o, (uint32_t)(int32_t)off);
}

struct fuzz_ocsp_seed {
	const char *name;
	/* status: the single's first byte (which, status, no nextUpdate) */
	unsigned int who, flags, status;
	long this_off, next_off;
};

static void fuzz_ocsp_seed(const char *dir, const struct fuzz_ocsp_seed *s)
{
	struct kst_fuzz_out o = {.n = 0};

	kst_fuzz_put_u8(&o, 1);	       /* described */
	kst_fuzz_put_u8(&o, 1);	       /* held: a staple */
	fuzz_ocsp_put_time(&o, -7200); /* its thisUpdate */
	kst_fuzz_put_u8(&o, 0);	       /* successful */
	kst_fuzz_put_u8(&o, s->who);
	kst_fuzz_put_u8(&o, s->flags);
	kst_fuzz_put_u8(&o, 1); /* one single response */
	kst_fuzz_put_u8(&o, s->status);
	kst_fuzz_put_u8(&o, 2); /* reason keyCompromise (1) */
	fuzz_ocsp_put_time(&o, s->this_off);
	if (!(s->status & 0x80))
		fuzz_ocsp_put_time(&o, s->next_off);
	fuzz_ocsp_put_time(&o, s->this_off - 86400); /* revokedAt */
	fuzz_ocsp_put_time(&o, s->this_off);	     /* producedAt */
	if (s->flags & FL_EXT) {
		kst_fuzz_put_u8(&o, 4);
		kst_fuzz_put(&o, "\x04\x02hi", 4);
	}
	if (s->flags & FL_TRAILING)
		kst_fuzz_put(&o, "\r\n", 2);
	kst_fuzz_seed_put(dir, s->name, o.buf, o.n);
}

void kst_fuzz_seeds(const char *dir)
{
	static const struct fuzz_ocsp_seed seeds[] = {
		{"good-issuer", WHO_ISSUER, FL_INCLUDE_SIGNER, 0, -3600, 86400},
		{"good-delegated", WHO_DELEGATED,
		 FL_INCLUDE_SIGNER | FL_RESPID_KEY | FL_SHA256_ID, 0, -60,
		 7 * 86400},
		{"good-no-next-update", WHO_ISSUER, 0, 0x80, -600, 0},
		{"revoked-keycompromise", WHO_ISSUER, FL_INCLUDE_SIGNER, 0x04,
		 -3600, 86400},
		{"unknown-nonce-ext", WHO_ISSUER, FL_NONCE | FL_EXT, 0x08,
		 -3600, 86400},
		{"expired", WHO_ISSUER, 0, 0, -86400 * 8, -86400},
		{"no-eku", WHO_NO_EKU, FL_INCLUDE_SIGNER, 0, -3600, 86400},
		{"rogue", WHO_ROGUE_DELEG, FL_INCLUDE_SIGNER, 0, -3600, 86400},
		{"trailing-crlf", WHO_ISSUER, FL_TRAILING, 0, -3600, 86400},
		{"flipped-signature", WHO_ISSUER, FL_FLIP_SIG, 0, -3600, 86400},
	};
	struct fuzz_desc d;
	unsigned char *der = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		fuzz_ocsp_seed(dir, &seeds[i]);
	/* a good response as raw DER, for the other half */
	memset(&d, 0, sizeof(d));
	d.who = WHO_ISSUER;
	d.flags = FL_INCLUDE_SIGNER;
	d.n = 1;
	d.s[0].this_update = KST_FUZZ_NOW - 3600;
	d.s[0].next_update = KST_FUZZ_NOW + 86400;
	d.s[0].reason = -1;
	d.produced_at = d.s[0].this_update;
	if (fuzz_ocsp_build(&d, &der, &len) == 0) {
		struct kst_fuzz_out o = {.n = 0};

		kst_fuzz_put_u8(&o, 0); /* raw */
		kst_fuzz_put_u8(&o, 0); /* held: nothing */
		fuzz_ocsp_put_time(&o, 0);
		kst_fuzz_put(&o, der, len);
		kst_fuzz_seed_put(dir, "raw-good", o.buf, o.n);
		OPENSSL_free(der);
	}
	{
		static const char rec[] = "kstapled-revocation 1\n"
					  "this-update 1767222000\n"
					  "revoked-at 1767135600\nreason 1\n";
		struct kst_fuzz_out o = {.n = 0};

		kst_fuzz_put_u8(&o, 0);
		kst_fuzz_put_u8(&o, 0);
		fuzz_ocsp_put_time(&o, 0);
		kst_fuzz_put(&o, rec, sizeof(rec) - 1);
		kst_fuzz_seed_put(dir, "raw-record", o.buf, o.n);
	}
}
