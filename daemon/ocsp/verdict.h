/* SPDX-License-Identifier: MIT */
/*
 * The one ingest path: decides whether a DER OCSP response may be stapled
 * for a certificate. Operator staple files and fetched responses both go
 * through kst_ocsp_ingest(), so this is the only place that says yes.
 *
 * Pure: the response, the certificates, the parameters and the current time
 * are inputs; nothing here reads the clock, touches a file or logs. The
 * caller logs the verdict, naming the certificate. The OpenSSL error queue
 * is left as the caller had it.
 */
#ifndef KST_OCSP_STORE_H
#define KST_OCSP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#define KST_OCSP_DEFAULT_MAX_SIZE 65536
#define KST_OCSP_DEFAULT_SKEW	  300
#define KST_OCSP_DEFAULT_MAX_AGE  86400

struct kst_ocsp_params {
	size_t max_size; /* bytes; default KST_OCSP_DEFAULT_MAX_SIZE */
	long skew;	 /* seconds a thisUpdate may lie in the future */
	long max_age;	 /* seconds a response without nextUpdate stays usable
			    after its thisUpdate */
};

void kst_ocsp_params_default(struct kst_ocsp_params *p);
/* Would both judge every response the same? */
bool kst_ocsp_params_equal(const struct kst_ocsp_params *a,
			   const struct kst_ocsp_params *b);

/*
 * Stable numeric codes: they are exported in a BPF map ("last error
 * reason"), so never renumber; append only.
 */
enum kst_ocsp_err {
	KST_OCSP_OK = 0, /* good and valid: may be stapled */
	KST_OCSP_E_EMPTY = 1,
	KST_OCSP_E_TOO_LARGE = 2,
	/* not DER OCSPResponse, trailing bytes, not basic, bad time */
	KST_OCSP_E_PARSE = 3,
	KST_OCSP_E_STATUS = 4, /* responseStatus not successful */
	/* signature does not verify, or signer certificate not found */
	KST_OCSP_E_SIGNATURE = 5,
	/* signer neither the issuer nor a delegated signer the issuer signed
	 * with the OCSPSigning EKU, valid at now */
	KST_OCSP_E_SIGNER = 6,
	KST_OCSP_E_NO_MATCH = 7,      /* no single response for this cert */
	KST_OCSP_E_AMBIGUOUS = 8,     /* several for this cert */
	KST_OCSP_E_NOT_YET_VALID = 9, /* thisUpdate > now + skew */
	KST_OCSP_E_EXPIRED = 10,      /* nextUpdate <= now (no skew) */
	KST_OCSP_E_TOO_OLD = 11,      /* no nextUpdate, older than max_age */
	KST_OCSP_E_BAD_TIMES = 12,    /* nextUpdate before thisUpdate */
	KST_OCSP_E_REVOKED = 13,
	KST_OCSP_E_UNKNOWN = 14,  /* certStatus unknown */
	KST_OCSP_E_INTERNAL = 15, /* allocation failure etc. */
};
#define KST_OCSP_ERR_COUNT 16

/*
 * Short stable token: "ok", "empty", "too-large", "parse", "status",
 * "signature", "signer", "no-match", "ambiguous", "not-yet-valid",
 * "expired", "too-old", "bad-times", "revoked", "unknown", "internal";
 * "invalid" for a value outside the enum.
 */
const char *kst_ocsp_err_name(enum kst_ocsp_err e);

/*
 * What ingest found. Fields are filled as far as the checks got: the
 * response status once the DER parses; producedAt and the fields of our
 * single response only once the signature and the signer are verified (so
 * nothing unauthenticated is ever recorded), and then even when a later
 * check fails (the times of an expired response, the revocation of a
 * revoked one).
 */
struct kst_ocsp_verdict {
	enum kst_ocsp_err err;
	int response_status; /* OCSP_RESPONSE_STATUS_*, -1 if unparsable */
	int cert_status;     /* V_OCSP_CERTSTATUS_*, -1 if no single
				response of ours */
	time_t this_update;  /* 0 when unknown */
	time_t next_update;  /* from the response; when absent:
				this_update + max_age */
	bool has_next_update;
	time_t produced_at;    /* 0 when unknown */
	time_t revoked_at;     /* when revoked, else 0 */
	int revocation_reason; /* OCSP_REVOKED_STATUS_* or -1 */
	char detail[192];      /* one sentence about the response, not naming
				  the certificate (the caller does) */
};

/*
 * leaf: the certificate; issuer: its issuer (the next certificate of the
 * PEM chain). p NULL means the defaults. Returns v->err, KST_OCSP_OK only
 * when the response may be stapled.
 */
enum kst_ocsp_err kst_ocsp_ingest(const unsigned char *der, size_t len,
				  X509 *leaf, X509 *issuer, time_t now,
				  const struct kst_ocsp_params *p,
				  struct kst_ocsp_verdict *v);
/*
 * A verdict kst_ocsp_ingest gave earlier (a fetch thread's), judged again
 * at now with the same p (NULL: the defaults): only the steps that read the
 * clock (times, then status) run again; parsing and the signature stand as
 * checked then. A verdict refused before those steps is returned as it is. The
 * verdict's error, as kst_ocsp_ingest at now would give it.
 */
enum kst_ocsp_err kst_ocsp_rejudge(struct kst_ocsp_verdict *v, time_t now,
				   const struct kst_ocsp_params *p);

/*
 * A verified revocation, held for a certificate. It is sticky: the slot
 * stays empty until a good response whose thisUpdate is after the revoked
 * response's arrives (the CA un-revoked), so an older good response, be it
 * the state-dir file from before the revocation, the operator's file on a
 * reload, or a replay over plain HTTP, cannot undo it. The control thread
 * persists it in state-dir (kst_ocsp_revocation_format) so that a restart
 * keeps it too.
 */
struct kst_ocsp_revocation {
	bool revoked;
	time_t this_update; /* of the revoked response */
	time_t revoked_at;  /* revocationTime */
	int reason;	    /* OCSP_REVOKED_STATUS_* or -1 */
};

/* What a certificate holds when a verdict arrives. */
struct kst_ocsp_held {
	bool has_staple;
	time_t staple_this_update; /* of the staple in the slot */
	time_t newest_good;	   /* thisUpdate of the newest good response
				      ever stapled; 0: none */
	struct kst_ocsp_revocation rev;
};

enum kst_ocsp_action {
	KST_OCSP_ACT_KEEP,     /* nothing changes */
	KST_OCSP_ACT_STAPLE,   /* the good response replaces the staple */
	KST_OCSP_ACT_UNREVOKE, /* good and newer than the revocation held:
				  drop the revocation, staple it */
	KST_OCSP_ACT_REVOKE,   /* empty the slot; hold (or advance) the
				  revocation from the verdict */
};

/*
 * What a verdict of kst_ocsp_ingest changes for a certificate holding h:
 * - good: replaces an older (or as old) staple, unless a revocation is
 *   held whose thisUpdate is not before the response's; then v->err
 *   becomes KST_OCSP_E_REVOKED with a detail saying so (so callers count
 *   it as refused) and nothing changes;
 * - revoked: held unless an as-new or newer revocation is held already,
 *   or a newer good response was stapled before (the CA un-revoked since);
 * - anything else: nothing changes.
 */
enum kst_ocsp_action kst_ocsp_choose(const struct kst_ocsp_held *h,
				     struct kst_ocsp_verdict *v);

/*
 * The state-dir record of a revocation ("<fingerprint>.revoked"), text:
 *
 *   kstapled-revocation 1
 *   this-update <unix seconds>
 *   revoked-at <unix seconds>
 *   reason <OCSP_REVOKED_STATUS_*, -1 none>
 *
 * plus '#' lines (the same times in UTC, for people). Format returns the
 * length written (NUL not counted) or -ENOSPC. Parse accepts exactly that
 * (any line order, '#' lines and blank lines ignored, each key once, all
 * three present); 0 or -EINVAL. r->revoked is set on success.
 */
int kst_ocsp_revocation_format(const struct kst_ocsp_revocation *r, char *buf,
			       size_t size);
int kst_ocsp_revocation_parse(const char *text, size_t len,
			      struct kst_ocsp_revocation *r);

/*
 * RFC 7633: true when the certificate carries the TLS Feature extension
 * (id-pe-tlsfeature, 1.3.6.1.5.5.7.1.24) listing status_request (5).
 */
bool kst_ocsp_cert_must_staple(X509 *leaf);

#endif
