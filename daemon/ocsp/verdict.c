// SPDX-License-Identifier: MIT
/*
 * The OCSP ingest decision: everything kstapled staples passed
 * kst_ocsp_ingest(). The checks run in a fixed order (size, DER, response
 * status, signature and signer, our single response, times, certificate
 * status) and the first failure decides, so one response always gets the
 * same verdict and the same "last error" code in the BPF map.
 *
 * The signer check is OpenSSL's OCSP_basic_verify() with a store holding
 * only the certificate's issuer (partial chain, verification time = now):
 * the signer must be the issuer itself, or a certificate the issuer signed
 * directly (intermediates in the response are not used) that carries the
 * OCSPSigning EKU and is valid at now. OpenSSL also requires the signer to
 * be authorised for every CertID of a multi-response, as OpenSSL-based
 * clients do when they check our staple, so a response mixing certificates
 * of another issuer is refused (SIGNER) rather than stapled for clients to
 * reject. Which of SIGNATURE and SIGNER applies is read from OpenSSL's
 * reason code; see ocsp_verify_failed().
 *
 * Pure: no clock (OCSP_check_validity() reads it, so times are compared
 * here), no I/O, no logging; the caller's OpenSSL error queue is restored.
 */
#include "daemon/ocsp/verdict.h"
#include "daemon/base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

/* Raised before OCSP_basic_verify(), which can fail without an error. */
#define OCSP_SENTINEL_REASON 1

static enum kst_ocsp_err ocsp_parse(const unsigned char *der, size_t len,
				    const struct kst_ocsp_params *p,
				    struct kst_ocsp_verdict *v,
				    OCSP_BASICRESP **bs);
static enum kst_ocsp_err ocsp_check_der(OCSP_BASICRESP *bs,
					const unsigned char *der, size_t len,
					struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_verify(OCSP_BASICRESP *bs, X509 *issuer,
				     time_t now, struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_verify_failed(struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_find_single(OCSP_BASICRESP *bs, X509 *leaf,
					  X509 *issuer,
					  struct kst_ocsp_verdict *v,
					  OCSP_SINGLERESP **out);
static int ocsp_single_is_ours(OCSP_SINGLERESP *s, X509 *leaf, X509 *issuer);
static enum kst_ocsp_err ocsp_read_single(OCSP_SINGLERESP *s,
					  const struct kst_ocsp_params *p,
					  struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_check_times(time_t now,
					  const struct kst_ocsp_params *p,
					  struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_check_status(struct kst_ocsp_verdict *v);
static enum kst_ocsp_err ocsp_decide(struct kst_ocsp_verdict *v,
				     enum kst_ocsp_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool ocsp_asn1_epoch(const ASN1_GENERALIZEDTIME *t, time_t *out);
static const char *ocsp_fmt_utc(char *buf, size_t size, time_t t);
static const char *ocsp_response_status_name(int status);

static const char *const ocsp_err_names[KST_OCSP_ERR_COUNT] = {
	[KST_OCSP_OK] = "ok",
	[KST_OCSP_E_EMPTY] = "empty",
	[KST_OCSP_E_TOO_LARGE] = "too-large",
	[KST_OCSP_E_PARSE] = "parse",
	[KST_OCSP_E_STATUS] = "status",
	[KST_OCSP_E_SIGNATURE] = "signature",
	[KST_OCSP_E_SIGNER] = "signer",
	[KST_OCSP_E_NO_MATCH] = "no-match",
	[KST_OCSP_E_AMBIGUOUS] = "ambiguous",
	[KST_OCSP_E_NOT_YET_VALID] = "not-yet-valid",
	[KST_OCSP_E_EXPIRED] = "expired",
	[KST_OCSP_E_TOO_OLD] = "too-old",
	[KST_OCSP_E_BAD_TIMES] = "bad-times",
	[KST_OCSP_E_REVOKED] = "revoked",
	[KST_OCSP_E_UNKNOWN] = "unknown",
	[KST_OCSP_E_INTERNAL] = "internal",
};

void kst_ocsp_params_default(struct kst_ocsp_params *p)
{
	p->max_size = KST_OCSP_DEFAULT_MAX_SIZE;
	p->skew = KST_OCSP_DEFAULT_SKEW;
	p->max_age = KST_OCSP_DEFAULT_MAX_AGE;
}

bool kst_ocsp_params_equal(const struct kst_ocsp_params *a,
			   const struct kst_ocsp_params *b)
{
	return a->max_size == b->max_size && a->skew == b->skew &&
	       a->max_age == b->max_age;
}

const char *kst_ocsp_err_name(enum kst_ocsp_err e)
{
	if ((unsigned int)e >= KST_OCSP_ERR_COUNT)
		return "invalid";
	return ocsp_err_names[e];
}

enum kst_ocsp_err kst_ocsp_ingest(const unsigned char *der, size_t len,
				  X509 *leaf, X509 *issuer, time_t now,
				  const struct kst_ocsp_params *p,
				  struct kst_ocsp_verdict *v)
{
	struct kst_ocsp_params defaults;
	OCSP_BASICRESP *bs = NULL;
	OCSP_SINGLERESP *single = NULL;
	enum kst_ocsp_err e;

	if (p == NULL) {
		kst_ocsp_params_default(&defaults);
		p = &defaults;
	}
	memset(v, 0, sizeof(*v));
	v->response_status = -1;
	v->cert_status = -1;
	v->revocation_reason = -1;
	if (leaf == NULL || issuer == NULL || (der == NULL && len > 0))
		return ocsp_decide(v, KST_OCSP_E_INTERNAL,
				   "no certificate, issuer or response given");

	ERR_set_mark();
	e = ocsp_parse(der, len, p, v, &bs);
	if (e == KST_OCSP_OK)
		e = ocsp_verify(bs, issuer, now, v);
	if (e == KST_OCSP_OK)
		e = ocsp_find_single(bs, leaf, issuer, v, &single);
	if (e == KST_OCSP_OK)
		e = ocsp_read_single(single, p, v);
	if (e == KST_OCSP_OK)
		e = ocsp_check_times(now, p, v);
	if (e == KST_OCSP_OK)
		e = ocsp_check_status(v);
	OCSP_BASICRESP_free(bs);
	ERR_pop_to_mark();
	return e;
}

enum kst_ocsp_err kst_ocsp_rejudge(struct kst_ocsp_verdict *v, time_t now,
				   const struct kst_ocsp_params *p)
{
	struct kst_ocsp_params defaults;
	enum kst_ocsp_err e;

	if (p == NULL) {
		kst_ocsp_params_default(&defaults);
		p = &defaults;
	}
	switch (v->err) {
	case KST_OCSP_OK:
	case KST_OCSP_E_REVOKED:
	case KST_OCSP_E_UNKNOWN:
	case KST_OCSP_E_BAD_TIMES:
	case KST_OCSP_E_NOT_YET_VALID:
	case KST_OCSP_E_EXPIRED:
	case KST_OCSP_E_TOO_OLD:
		break; /* past steps 1 to 4 */
	default:
		return v->err;
	}
	e = ocsp_check_times(now, p, v);
	return e == KST_OCSP_OK ? ocsp_check_status(v) : e;
}

/* Steps 1 and 2: size, DER, responseStatus, basic response. */
static enum kst_ocsp_err ocsp_parse(const unsigned char *der, size_t len,
				    const struct kst_ocsp_params *p,
				    struct kst_ocsp_verdict *v,
				    OCSP_BASICRESP **bs)
{
	const unsigned char *cur = der;
	OCSP_RESPONSE *resp = NULL;
	enum kst_ocsp_err e = KST_OCSP_OK;
	int status;

	if (len == 0)
		return ocsp_decide(v, KST_OCSP_E_EMPTY, "response is empty");
	if (len > p->max_size || len > LONG_MAX)
		return ocsp_decide(
			v, KST_OCSP_E_TOO_LARGE,
			"response is %zu bytes, over the %zu-byte limit", len,
			p->max_size);
	resp = d2i_OCSP_RESPONSE(NULL, &cur, (long)len);
	if (resp == NULL && len >= 10 && memcmp(der, "-----BEGIN", 10) == 0)
		return ocsp_decide(v, KST_OCSP_E_PARSE,
				   "PEM text, not DER: convert it with "
				   "sed '/^-----/d' FILE | base64 -d > "
				   "FILE.der");
	if (resp == NULL)
		return ocsp_decide(v, KST_OCSP_E_PARSE,
				   "not a DER OCSPResponse (%zu byte%s)", len,
				   len == 1 ? "" : "s");
	if ((size_t)(cur - der) != len) {
		size_t extra = len - (size_t)(cur - der);

		e = ocsp_decide(v, KST_OCSP_E_PARSE,
				"%zu trailing byte%s after the OCSPResponse",
				extra, extra == 1 ? "" : "s");
		goto out;
	}
	status = OCSP_response_status(resp);
	v->response_status = status;
	if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		e = ocsp_decide(v, KST_OCSP_E_STATUS, "responseStatus %s (%d)",
				ocsp_response_status_name(status), status);
		goto out;
	}
	*bs = OCSP_response_get1_basic(resp);
	if (*bs == NULL)
		e = ocsp_decide(v, KST_OCSP_E_PARSE,
				"successful but without a basic OCSP response");
	else
		e = ocsp_check_der(*bs, der, len, v);
out:
	OCSP_RESPONSE_free(resp);
	return e;
}

/*
 * RFC 6960 (A.2) sends the DER encoding, and strict clients (NSS, Go)
 * refuse anything else, while OpenSSL ignores bytes hidden after the basic
 * response inside responseBytes. What was parsed must encode back to the
 * very bytes given.
 */
static enum kst_ocsp_err ocsp_check_der(OCSP_BASICRESP *bs,
					const unsigned char *der, size_t len,
					struct kst_ocsp_verdict *v)
{
	OCSP_RESPONSE *again =
		OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	unsigned char *out = NULL;
	int n = again != NULL ? i2d_OCSP_RESPONSE(again, &out) : -1;
	enum kst_ocsp_err e = KST_OCSP_OK;

	if (n < 0)
		e = ocsp_decide(v, KST_OCSP_E_INTERNAL,
				"out of memory re-encoding the response");
	else if ((size_t)n != len || memcmp(out, der, len) != 0)
		e = ocsp_decide(v, KST_OCSP_E_PARSE,
				"not DER: extra bytes inside responseBytes or "
				"a non-canonical encoding");
	OPENSSL_free(out);
	OCSP_RESPONSE_free(again);
	return e;
}

/*
 * Step 3. The issuer is both the only trust anchor and an extra certificate
 * to find the signer in, since a CA signing its own responses often leaves
 * its certificate out. OCSP_NOCHAIN: an authorised signer never needs an
 * intermediate. OCSP_NOEXPLICIT: an aux trust setting on the issuer must not
 * stand in for the delegation check.
 */
static enum kst_ocsp_err ocsp_verify(OCSP_BASICRESP *bs, X509 *issuer,
				     time_t now, struct kst_ocsp_verdict *v)
{
	const unsigned long flags =
		OCSP_NOCHAIN | OCSP_NOEXPLICIT | OCSP_PARTIAL_CHAIN;
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	enum kst_ocsp_err e = KST_OCSP_OK;
	time_t produced;

	if (store == NULL || certs == NULL ||
	    !X509_STORE_add_cert(store, issuer) ||
	    !sk_X509_push(certs, issuer)) {
		e = ocsp_decide(v, KST_OCSP_E_INTERNAL,
				"out of memory verifying the signature");
		goto out;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), now);
	ERR_raise(ERR_LIB_USER, OCSP_SENTINEL_REASON);
	if (OCSP_basic_verify(bs, certs, store, flags) <= 0) {
		e = ocsp_verify_failed(v);
		goto out;
	}
	if (ocsp_asn1_epoch(OCSP_resp_get0_produced_at(bs), &produced))
		v->produced_at = produced;
out:
	sk_X509_free(certs);
	X509_STORE_free(store);
	return e;
}

/*
 * Reads why OCSP_basic_verify() failed from the newest error it raised.
 * The signature itself (or finding the signer's certificate) is SIGNATURE;
 * a signer whose certificate does not chain to the issuer at now, lacks
 * the EKU, or is not authorised for every CertID is SIGNER. OpenSSL raises
 * nothing for the last case, hence the sentinel.
 */
static enum kst_ocsp_err ocsp_verify_failed(struct kst_ocsp_verdict *v)
{
	const char *data = NULL, *prefix = "Verify error:";
	int flags = 0;
	unsigned long err =
		ERR_peek_last_error_all(NULL, NULL, NULL, &data, &flags);

	if (!(flags & ERR_TXT_STRING) || data == NULL)
		data = "";
	if (strncmp(data, prefix, strlen(prefix)) == 0)
		data += strlen(prefix) + strspn(data + strlen(prefix), " ");
	if (ERR_GET_LIB(err) == ERR_LIB_USER &&
	    ERR_GET_REASON(err) == OCSP_SENTINEL_REASON)
		return ocsp_decide(
			v, KST_OCSP_E_SIGNER,
			"signer not authorised for every certificate "
			"in the response");
	if (ERR_GET_REASON(err) == ERR_R_MALLOC_FAILURE)
		return ocsp_decide(v, KST_OCSP_E_INTERNAL,
				   "out of memory verifying the signature");
	if (ERR_GET_LIB(err) != ERR_LIB_OCSP)
		goto other;
	switch (ERR_GET_REASON(err)) {
	case OCSP_R_SIGNER_CERTIFICATE_NOT_FOUND:
		return ocsp_decide(v, KST_OCSP_E_SIGNATURE,
				   "signer certificate not found: neither the "
				   "issuer nor included in the response");
	case OCSP_R_SIGNATURE_FAILURE:
	case OCSP_R_NO_SIGNER_KEY:
		return ocsp_decide(v, KST_OCSP_E_SIGNATURE,
				   "signature does not verify");
	case OCSP_R_CERTIFICATE_VERIFY_ERROR:
		return ocsp_decide(v, KST_OCSP_E_SIGNER,
				   "signer certificate does not verify against "
				   "the issuer at this time: %s",
				   data);
	case OCSP_R_MISSING_OCSPSIGNING_USAGE:
		return ocsp_decide(
			v, KST_OCSP_E_SIGNER,
			"delegated signer lacks the OCSPSigning EKU");
	case OCSP_R_RESPONSE_CONTAINS_NO_REVOCATION_DATA:
		return ocsp_decide(v, KST_OCSP_E_NO_MATCH,
				   "response holds no single response");
	}
other:
	return ocsp_decide(v, KST_OCSP_E_SIGNER, "cannot verify the signer: %s",
			   ERR_reason_error_string(err)
				   ? ERR_reason_error_string(err)
				   : "unknown error");
}

/* Step 4: exactly one single response carries our CertID. */
static enum kst_ocsp_err ocsp_find_single(OCSP_BASICRESP *bs, X509 *leaf,
					  X509 *issuer,
					  struct kst_ocsp_verdict *v,
					  OCSP_SINGLERESP **out)
{
	int n = OCSP_resp_count(bs), matches = 0;

	for (int i = 0; i < n; i++) {
		OCSP_SINGLERESP *s = OCSP_resp_get0(bs, i);
		int r = ocsp_single_is_ours(s, leaf, issuer);

		if (r < 0)
			return ocsp_decide(v, KST_OCSP_E_INTERNAL,
					   "out of memory computing a CertID");
		if (r > 0 && matches++ == 0)
			*out = s;
	}
	if (matches == 0)
		return ocsp_decide(
			v, KST_OCSP_E_NO_MATCH,
			"none of its %d single responses is for this "
			"certificate",
			n);
	if (matches > 1)
		return ocsp_decide(v, KST_OCSP_E_AMBIGUOUS,
				   "%d of its single responses are for this "
				   "certificate",
				   matches);
	return KST_OCSP_OK;
}

/*
 * Our CertID is computed with the hash of the single response's own
 * CertID, so SHA-1 and SHA-256 ids both match. 1 ours, 0 not, -1 error.
 */
static int ocsp_single_is_ours(OCSP_SINGLERESP *s, X509 *leaf, X509 *issuer)
{
	/* OpenSSL 3.0's getter wants a mutable id; it only reads it. */
	OCSP_CERTID *theirs = (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(s);
	ASN1_OBJECT *alg = NULL;
	OCSP_CERTID *ours = NULL;
	const EVP_MD *md;
	int r;

	if (!OCSP_id_get0_info(NULL, &alg, NULL, NULL, theirs))
		return 0;
	md = EVP_get_digestbyobj(alg);
	if (md == NULL)
		return 0;
	ours = OCSP_cert_to_id(md, leaf, issuer);
	if (ours == NULL)
		return -1;
	r = OCSP_id_cmp(ours, theirs) == 0;
	OCSP_CERTID_free(ours);
	return r;
}

/* Fills the verdict from our single response, whatever it says. */
static enum kst_ocsp_err ocsp_read_single(OCSP_SINGLERESP *s,
					  const struct kst_ocsp_params *p,
					  struct kst_ocsp_verdict *v)
{
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int reason = -1;

	v->cert_status =
		OCSP_single_get0_status(s, &reason, &rev, &thisupd, &nextupd);
	if (!ocsp_asn1_epoch(thisupd, &v->this_update))
		return ocsp_decide(v, KST_OCSP_E_PARSE,
				   "thisUpdate is not a valid time");
	v->has_next_update = nextupd != NULL;
	if (nextupd != NULL && !ocsp_asn1_epoch(nextupd, &v->next_update))
		return ocsp_decide(v, KST_OCSP_E_PARSE,
				   "nextUpdate is not a valid time");
	if (nextupd == NULL &&
	    __builtin_add_overflow(v->this_update, p->max_age, &v->next_update))
		v->next_update = p->max_age > 0 ? (time_t)LLONG_MAX : 0;
	if (v->cert_status != V_OCSP_CERTSTATUS_REVOKED)
		return KST_OCSP_OK;
	v->revocation_reason = reason;
	if (!ocsp_asn1_epoch(rev, &v->revoked_at))
		return ocsp_decide(v, KST_OCSP_E_PARSE,
				   "revocationTime is not a valid time");
	return KST_OCSP_OK;
}

/* Step 5. No skew on nextUpdate: nothing past it is ever stapled. */
static enum kst_ocsp_err ocsp_check_times(time_t now,
					  const struct kst_ocsp_params *p,
					  struct kst_ocsp_verdict *v)
{
	char a[32], b[32];

	if (v->has_next_update && v->next_update < v->this_update)
		return ocsp_decide(v, KST_OCSP_E_BAD_TIMES,
				   "nextUpdate %s is before thisUpdate %s",
				   ocsp_fmt_utc(a, sizeof(a), v->next_update),
				   ocsp_fmt_utc(b, sizeof(b), v->this_update));
	if (v->this_update > now && v->this_update - now > p->skew)
		return ocsp_decide(
			v, KST_OCSP_E_NOT_YET_VALID,
			"thisUpdate %s is %llds ahead, more than the "
			"%lds skew allowed",
			ocsp_fmt_utc(a, sizeof(a), v->this_update),
			(long long)(v->this_update - now), p->skew);
	if (v->has_next_update && v->next_update <= now)
		return ocsp_decide(v, KST_OCSP_E_EXPIRED,
				   "nextUpdate %s is in the past",
				   ocsp_fmt_utc(a, sizeof(a), v->next_update));
	if (!v->has_next_update && v->next_update <= now)
		return ocsp_decide(
			v, KST_OCSP_E_TOO_OLD,
			"no nextUpdate, and thisUpdate %s is %lds old "
			"or more",
			ocsp_fmt_utc(a, sizeof(a), v->this_update), p->max_age);
	return KST_OCSP_OK;
}

/* Step 6. */
static enum kst_ocsp_err ocsp_check_status(struct kst_ocsp_verdict *v)
{
	char a[32], b[32];

	switch (v->cert_status) {
	case V_OCSP_CERTSTATUS_GOOD:
		return ocsp_decide(v, KST_OCSP_OK, "good, thisUpdate %s, %s %s",
				   ocsp_fmt_utc(a, sizeof(a), v->this_update),
				   v->has_next_update
					   ? "nextUpdate"
					   : "no nextUpdate, usable until",
				   ocsp_fmt_utc(b, sizeof(b), v->next_update));
	case V_OCSP_CERTSTATUS_REVOKED:
		if (v->revocation_reason < 0)
			return ocsp_decide(
				v, KST_OCSP_E_REVOKED,
				"revoked at %s, no reason given",
				ocsp_fmt_utc(a, sizeof(a), v->revoked_at));
		return ocsp_decide(v, KST_OCSP_E_REVOKED,
				   "revoked at %s, reason %s",
				   ocsp_fmt_utc(a, sizeof(a), v->revoked_at),
				   OCSP_crl_reason_str(v->revocation_reason));
	default:
		return ocsp_decide(v, KST_OCSP_E_UNKNOWN, "certStatus unknown");
	}
}

enum kst_ocsp_action kst_ocsp_choose(const struct kst_ocsp_held *h,
				     struct kst_ocsp_verdict *v)
{
	char a[32], b[32];

	if (v->err == KST_OCSP_OK && h->rev.revoked) {
		if (v->this_update > h->rev.this_update)
			return KST_OCSP_ACT_UNREVOKE;
		ocsp_decide(v, KST_OCSP_E_REVOKED,
			    "good, but its thisUpdate %s is not after the "
			    "revoked response's (%s) held: still revoked",
			    ocsp_fmt_utc(a, sizeof(a), v->this_update),
			    ocsp_fmt_utc(b, sizeof(b), h->rev.this_update));
		return KST_OCSP_ACT_KEEP;
	}
	if (v->err == KST_OCSP_OK)
		return h->has_staple && v->this_update < h->staple_this_update
			       ? KST_OCSP_ACT_KEEP
			       : KST_OCSP_ACT_STAPLE;
	if (v->err != KST_OCSP_E_REVOKED ||
	    v->cert_status != V_OCSP_CERTSTATUS_REVOKED)
		return KST_OCSP_ACT_KEEP;
	/* a good response newer than this one was stapled: un-revoked since */
	if (v->this_update < h->newest_good) {
		ocsp_decide(v, KST_OCSP_E_REVOKED,
			    "revoked, but older (thisUpdate %s) than the good "
			    "response stapled (%s): ignored",
			    ocsp_fmt_utc(a, sizeof(a), v->this_update),
			    ocsp_fmt_utc(b, sizeof(b), h->newest_good));
		return KST_OCSP_ACT_KEEP;
	}
	if (h->rev.revoked && v->this_update <= h->rev.this_update)
		return KST_OCSP_ACT_KEEP;
	return KST_OCSP_ACT_REVOKE;
}

int kst_ocsp_revocation_format(const struct kst_ocsp_revocation *r, char *buf,
			       size_t size)
{
	char a[32], b[32];
	int n = snprintf(
		buf, size,
		"kstapled-revocation 1\n"
		"# A verified OCSP response said revoked. Only a good "
		"response with a later\n"
		"# thisUpdate lifts it; deleting this file by hand "
		"does too (see the README).\n"
		"# thisUpdate %s, revoked at %s, reason %s\n"
		"this-update %lld\nrevoked-at %lld\nreason %d\n",
		ocsp_fmt_utc(a, sizeof(a), r->this_update),
		ocsp_fmt_utc(b, sizeof(b), r->revoked_at),
		r->reason < 0 ? "none given" : OCSP_crl_reason_str(r->reason),
		(long long)r->this_update, (long long)r->revoked_at, r->reason);

	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* One "key value" line of a record; 1 known and valid, 0 not, -1 bad. */
static int ocsp_record_line(const char *line, size_t len, long long vals[3],
			    unsigned *seen)
{
	static const char *const keys[] = {"this-update", "revoked-at",
					   "reason"};
	char copy[96], *end;
	size_t k;

	if (len >= sizeof(copy) || memchr(line, '\0', len) != NULL)
		return -1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (strcmp(copy, "kstapled-revocation 1") == 0) {
		*seen |= 1u << 3;
		return 1;
	}
	for (k = 0; k < KST_ARRAY_SIZE(keys); k++) {
		size_t kl = strlen(keys[k]);

		if (strncmp(copy, keys[k], kl) != 0 || copy[kl] != ' ')
			continue;
		if (*seen & (1u << k) || copy[kl + 1] == '\0')
			return -1;
		errno = 0;
		vals[k] = strtoll(copy + kl + 1, &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
		*seen |= 1u << k;
		return 1;
	}
	return -1;
}

int kst_ocsp_revocation_parse(const char *text, size_t len,
			      struct kst_ocsp_revocation *r)
{
	long long vals[3] = {0, 0, 0};
	unsigned seen = 0;
	size_t off = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;

		if (n > 0 && text[off] != '#' &&
		    ocsp_record_line(text + off, n, vals, &seen) < 0)
			return -EINVAL;
		off += n + 1;
	}
	/* both times are whatever the CA signed, 1958 included (ingest
	 * bounds thisUpdate only from above): any value format() wrote
	 * reads back */
	if (seen != 0xf || vals[2] < -1 ||
	    vals[2] > OCSP_REVOKED_STATUS_AACOMPROMISE)
		return -EINVAL;
	r->revoked = true;
	r->this_update = (time_t)vals[0];
	r->revoked_at = (time_t)vals[1];
	r->reason = (int)vals[2];
	return 0;
}

bool kst_ocsp_cert_must_staple(X509 *leaf)
{
	bool found = false;
	int idx = -1;

	/* A repeated extension is looked at whole, each occurrence. */
	while (!found &&
	       (idx = X509_get_ext_by_NID(leaf, NID_tlsfeature, idx)) >= 0) {
		STACK_OF(ASN1_INTEGER) *features =
			X509V3_EXT_d2i(X509_get_ext(leaf, idx));

		for (int i = 0; i < sk_ASN1_INTEGER_num(features); i++)
			if (ASN1_INTEGER_get(
				    sk_ASN1_INTEGER_value(features, i)) == 5)
				found = true;
		sk_ASN1_INTEGER_pop_free(features, ASN1_INTEGER_free);
	}
	return found;
}

/* Sets the verdict's code and sentence; returns the code. */
static enum kst_ocsp_err ocsp_decide(struct kst_ocsp_verdict *v,
				     enum kst_ocsp_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	v->err = e;
	return e;
}

/* ASN1_TIME_to_tm() reads the clock only when given no time. */
static bool ocsp_asn1_epoch(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return false;
	*out = timegm(&tm);
	return true;
}

static const char *ocsp_fmt_utc(char *buf, size_t size, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "@%lld", (long long)t);
	return buf;
}

/* RFC 6960 spelling, so the detail reads like the standard. */
static const char *ocsp_response_status_name(int status)
{
	static const char *const names[] = {
		[OCSP_RESPONSE_STATUS_SUCCESSFUL] = "successful",
		[OCSP_RESPONSE_STATUS_MALFORMEDREQUEST] = "malformedRequest",
		[OCSP_RESPONSE_STATUS_INTERNALERROR] = "internalError",
		[OCSP_RESPONSE_STATUS_TRYLATER] = "tryLater",
		[OCSP_RESPONSE_STATUS_SIGREQUIRED] = "sigRequired",
		[OCSP_RESPONSE_STATUS_UNAUTHORIZED] = "unauthorized",
	};

	if (status < 0 || (size_t)status >= KST_ARRAY_SIZE(names) ||
	    names[status] == NULL)
		return "unassigned";
	return names[status];
}
