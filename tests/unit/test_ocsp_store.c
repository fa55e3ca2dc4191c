// SPDX-License-Identifier: MIT
/*
 * The ingest decision against a table of responses: the ones the openssl
 * CLI made with the test PKI (scripts/pki.sh -s) and minted ones
 * (tests/lib/ocsp_mint) for every edge the CLI cannot make. Each row says
 * how to build the response, when "now" is, and which verdict a user must
 * see. Expected times and statuses come from the row or, for CLI fixtures,
 * from OpenSSL's own reading of the fixture and the responder's index.txt,
 * never from the code under test.
 *
 * All times are offsets from BASE, the thisUpdate of the CLI-made
 * localhost-ecdsa response: the whole test PKI is valid then and for ten
 * years after, so "now" never depends on the wall clock.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "daemon/ocsp/verdict.h"
#include "daemon/base/util.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"

#define M      60L
#define H      3600L
#define D      86400L
#define ABSENT LONG_MIN /* next_off: no nextUpdate */

#define GOOD	V_OCSP_CERTSTATUS_GOOD
#define REVOKED V_OCSP_CERTSTATUS_REVOKED
#define UNKNOWN V_OCSP_CERTSTATUS_UNKNOWN
#define OURS	"localhost-ecdsa"

/*
 * Rows hold strings as arrays: criterion hands each row to a freshly
 * executed child, where pointers into the parent's image are not valid.
 */
#define PKI_NAME_LEN 24
#define OR(s, dflt)  ((s)[0] != '\0' ? (s) : (dflt))

struct single_spec {
	char cert[PKI_NAME_LEN];   /* PKI leaf; "" ends the list */
	char issuer[PKI_NAME_LEN]; /* "": "int" */
	int status;
	long this_off, next_off;
	bool sha256;
	int reason; /* revoked: OCSP_REVOKED_STATUS_*, -1 none */
	long rev_off;
};

// clang-format off
#define SINGLE(c, st, t, n)                                                    \
	{ .cert = c, .status = st, .this_off = t, .next_off = n, .reason = -1 }
#define SINGLE_REVOKED(c, t, n, why, rev)                                      \
	{ .cert = c, .status = REVOKED, .this_off = t, .next_off = n,          \
	  .reason = why, .rev_off = rev }
// clang-format on

enum mangle {
	MANGLE_NONE = 0,
	MANGLE_FLIP_SIGNATURE,
	MANGLE_DROP_LAST_BYTE,
	MANGLE_KEEP_HALF,
	MANGLE_KEEP_ONE_BYTE,
	MANGLE_TRAILING_ZERO,
	MANGLE_TRAILING_COPY,
	MANGLE_EMPTY,
	MANGLE_GARBAGE,
	MANGLE_PAD_OVER_DEFAULT_LIMIT,
	MANGLE_SUCCESSFUL_WITHOUT_BODY,
	MANGLE_JUNK_IN_RESPONSE_BYTES,
	MANGLE_LONG_FORM_OUTER_LENGTH,
};

enum limit { LIMIT_DEFAULT = 0, LIMIT_EXACT, LIMIT_ONE_LESS };

struct ocsp_case {
	char name[64];
	char fixture[PKI_NAME_LEN]; /* CLI ocsp/<fixture>.der; "": minted */
	char leaf[PKI_NAME_LEN];    /* the cert ingested for; "": OURS */
	int resp_status;	    /* minted OCSP_RESPONSE_STATUS_* */
	struct single_spec singles[4];
	char signer[PKI_NAME_LEN]; /* "": "int"; see case_signer() */
	bool omit_signer, by_key;
	enum mangle mangle;
	enum limit limit;
	long now_off;
	enum kst_ocsp_err want;
	char detail_has[32]; /* substring the detail must carry */
};

/* One test's world: the issuer, the leaf, and BASE. */
struct world {
	X509 *leaf, *issuer;
	time_t base;
};

static time_t asn1_to_epoch(const ASN1_TIME *t)
{
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days = 0, secs = 0;

	cr_assert(epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, t));
	ASN1_TIME_free(epoch);
	return (time_t)days * D + secs;
}

static void read_fixture(const char *name, unsigned char **der, size_t *len)
{
	char rel[128];
	char *path = NULL;
	int err;

	snprintf(rel, sizeof(rel), "ocsp/%s.der", name);
	path = kst_test_pki_path(rel);
	cr_assert(path != NULL);
	err = kst_test_read_file(path, der, len);
	kst_test_require(err == 0,
			 "no CLI-made OCSP fixture %s (%s): mint "
			 "the PKI with scripts/pki.sh -s",
			 path, strerror(-err));
	free(path);
}

/* OpenSSL's own parse of a response, apart from the code under test. */
static OCSP_BASICRESP *parse_basic(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;

	OCSP_RESPONSE_free(resp);
	cr_assert(bs != NULL, "fixture does not parse");
	return bs;
}

static void world_load(struct world *w, const char *leaf)
{
	unsigned char *der = NULL;
	size_t len = 0;
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *thisupd = NULL;

	w->leaf = kst_test_cert(leaf);
	w->issuer = kst_test_cert("int");
	cr_assert(w->leaf != NULL && w->issuer != NULL,
		  "test PKI not found in %s", kst_test_pki());
	read_fixture(OURS, &der, &len);
	bs = parse_basic(der, len);
	OCSP_single_get0_status(OCSP_resp_get0(bs, 0), NULL, NULL, &thisupd,
				NULL);
	w->base = asn1_to_epoch(thisupd);
	OCSP_BASICRESP_free(bs);
	free(der);
}

static void world_free(struct world *w)
{
	X509_free(w->leaf);
	X509_free(w->issuer);
}

/*
 * The signer of a minted row: a PKI name, or a delegated signer minted
 * for the test (issued by int, OCSPSigning EKU) with a validity window
 * around BASE.
 */
static void case_signer(const struct world *w, const char *name, X509 **cert,
			EVP_PKEY **key)
{
	struct kst_mint_cert spec = {
		.cn = name,
		.issuer = w->issuer,
		.issuer_key = kst_test_key("int"),
		.ocsp_signing = true,
	};

	if (strcmp(name, "expired-delegate") == 0) {
		spec.not_before = w->base - D;
		spec.not_after = w->base + 2 * H;
	} else if (strcmp(name, "later-delegate") == 0) {
		spec.not_before = w->base + 30 * D;
		spec.not_after = w->base + 31 * D;
	} else {
		EVP_PKEY_free(spec.issuer_key);
		*cert = kst_test_cert(name);
		*key = kst_test_key(name);
		cr_assert(*cert != NULL && *key != NULL, "no PKI signer %s",
			  name);
		return;
	}
	cr_assert(spec.issuer_key != NULL);
	cr_assert_eq(kst_mint_cert(&spec, cert, key), 0);
	EVP_PKEY_free(spec.issuer_key);
}

static size_t case_singles(const struct ocsp_case *c)
{
	size_t n = 0;

	while (n < KST_ARRAY_SIZE(c->singles) && c->singles[n].cert[0] != '\0')
		n++;
	return n;
}

static void mint_case(const struct ocsp_case *c, const struct world *w,
		      unsigned char **der, size_t *len)
{
	struct kst_mint_single s[KST_ARRAY_SIZE(c->singles)];
	struct kst_mint m = {
		.response_status = c->resp_status,
		.singles = s,
		.n = case_singles(c),
		.include_signer = !c->omit_signer,
		.respid_by_key = c->by_key,
		.produced_at = w->base + c->singles[0].this_off,
	};
	int err;

	case_signer(w, OR(c->signer, "int"), &m.signer, &m.signer_key);
	for (size_t i = 0; i < m.n; i++) {
		const struct single_spec *sp = &c->singles[i];

		s[i] = (struct kst_mint_single){
			.cert = kst_test_cert(sp->cert),
			.issuer = kst_test_cert(OR(sp->issuer, "int")),
			.id_md = sp->sha256 ? EVP_sha256() : NULL,
			.status = sp->status,
			.reason = sp->reason,
			.revoked_at = w->base + sp->rev_off,
			.this_update = w->base + sp->this_off,
			.next_update = sp->next_off == ABSENT
					       ? 0
					       : w->base + sp->next_off,
		};
		cr_assert(s[i].cert != NULL && s[i].issuer != NULL);
	}
	err = kst_mint_ocsp(&m, der, len);
	cr_assert_eq(err, 0, "%s: minting failed: %s", c->name, strerror(-err));
	for (size_t i = 0; i < m.n; i++) {
		X509_free(s[i].cert);
		X509_free(s[i].issuer);
	}
	X509_free(m.signer);
	EVP_PKEY_free(m.signer_key);
}

/* The row's response, in a malloc'd buffer with room to mangle. */
static void build_case(const struct ocsp_case *c, const struct world *w,
		       unsigned char **out, size_t *out_len)
{
	unsigned char *der = NULL, *buf;
	size_t len = 0;

	if (c->mangle == MANGLE_SUCCESSFUL_WITHOUT_BODY) {
		OCSP_RESPONSE *r = OCSP_response_create(
			OCSP_RESPONSE_STATUS_SUCCESSFUL, NULL);
		int n = i2d_OCSP_RESPONSE(r, &der);

		cr_assert(n > 0);
		len = (size_t)n;
		OCSP_RESPONSE_free(r);
	} else if (c->fixture[0] != '\0') {
		read_fixture(c->fixture, &der, &len);
	} else {
		mint_case(c, w, &der, &len);
	}
	buf = calloc(1, 2 * len + KST_OCSP_DEFAULT_MAX_SIZE + 1);
	cr_assert(buf != NULL);
	memcpy(buf, der, len);
	if (c->fixture[0] != '\0' &&
	    c->mangle != MANGLE_SUCCESSFUL_WITHOUT_BODY)
		free(der);
	else
		OPENSSL_free(der);
	*out = buf;
	*out_len = len;
}

/* Tag, DER length and body at out; returns the bytes written. */
static size_t der_wrap(unsigned char *out, int tag, const unsigned char *body,
		       size_t n)
{
	size_t hdr = 2;

	out[0] = (unsigned char)tag;
	if (n < 0x80) {
		out[1] = (unsigned char)n;
	} else {
		out[1] = 0x82;
		out[2] = (unsigned char)(n >> 8);
		out[3] = (unsigned char)n;
		hdr = 4;
	}
	memmove(out + hdr, body, n);
	return hdr + n;
}

/*
 * Rebuilds a successful OCSPResponse by hand around the basic response of
 * der plus four stray bytes inside responseBytes' OCTET STRING: every
 * length is right, so only a reader that checks the OCTET STRING is
 * consumed notices.
 */
static void mangle_junk_in_response_bytes(unsigned char *der, size_t *len)
{
	static const unsigned char status[] = {0x0a, 0x01, 0x00};
	static const unsigned char basic_oid[] = {0x06, 0x09, 0x2b, 0x06,
						  0x01, 0x05, 0x05, 0x07,
						  0x30, 0x01, 0x01};
	OCSP_BASICRESP *bs = parse_basic(der, *len);
	unsigned char *basic = NULL, *a = malloc(*len + 64);
	unsigned char *b = malloc(*len + 64);
	int n = i2d_OCSP_BASICRESP(bs, &basic);
	size_t m;

	cr_assert(n > 0 && a != NULL && b != NULL);
	memcpy(a, basic, (size_t)n);
	memcpy(a + n, "JUNK", 4);
	m = der_wrap(b, 0x04, a, (size_t)n + 4);
	memcpy(a, basic_oid, sizeof(basic_oid));
	memcpy(a + sizeof(basic_oid), b, m);
	m = der_wrap(b, 0x30, a, m + sizeof(basic_oid));
	m = der_wrap(a + sizeof(status), 0xa0, b, m);
	memcpy(a, status, sizeof(status));
	*len = der_wrap(der, 0x30, a, m + sizeof(status));
	OPENSSL_free(basic);
	OCSP_BASICRESP_free(bs);
	free(a);
	free(b);
}

/* The outer SEQUENCE length in five bytes where DER wants three: BER. */
static void mangle_long_form_outer_length(unsigned char *der, size_t *len)
{
	cr_assert(der[0] == 0x30 && der[1] == 0x82);
	memmove(der + 6, der + 4, *len - 4);
	der[1] = 0x84;
	der[4] = der[2];
	der[5] = der[3];
	der[2] = der[3] = 0;
	*len += 2;
}

static void mangle_case(const struct ocsp_case *c, unsigned char *der,
			size_t *len)
{
	static const char garbage[] = "HTTP/1.1 503 Service Unavailable\r\n";

	switch (c->mangle) {
	case MANGLE_FLIP_SIGNATURE:
		cr_assert_eq(kst_mint_flip_signature(der, *len), 0);
		break;
	case MANGLE_DROP_LAST_BYTE:
		*len -= 1;
		break;
	case MANGLE_KEEP_HALF:
		*len /= 2;
		break;
	case MANGLE_KEEP_ONE_BYTE:
		*len = 1;
		break;
	case MANGLE_TRAILING_ZERO:
		der[(*len)++] = 0;
		break;
	case MANGLE_TRAILING_COPY:
		memcpy(der + *len, der, *len);
		*len *= 2;
		break;
	case MANGLE_EMPTY:
		*len = 0;
		break;
	case MANGLE_GARBAGE:
		memcpy(der, garbage, sizeof(garbage) - 1);
		*len = sizeof(garbage) - 1;
		break;
	case MANGLE_PAD_OVER_DEFAULT_LIMIT:
		*len = KST_OCSP_DEFAULT_MAX_SIZE + 1;
		break;
	case MANGLE_JUNK_IN_RESPONSE_BYTES:
		mangle_junk_in_response_bytes(der, len);
		break;
	case MANGLE_LONG_FORM_OUTER_LENGTH:
		mangle_long_form_outer_length(der, len);
		break;
	default:
		break;
	}
}

/* Defects that still parse as a successful OCSPResponse. */
static bool mangle_parses(enum mangle m)
{
	return m == MANGLE_SUCCESSFUL_WITHOUT_BODY ||
	       m == MANGLE_JUNK_IN_RESPONSE_BYTES ||
	       m == MANGLE_LONG_FORM_OUTER_LENGTH;
}

/* A verdict that got past the signer check and found our response. */
static bool want_single_read(enum kst_ocsp_err e)
{
	return e == KST_OCSP_OK || e == KST_OCSP_E_NOT_YET_VALID ||
	       e == KST_OCSP_E_EXPIRED || e == KST_OCSP_E_TOO_OLD ||
	       e == KST_OCSP_E_BAD_TIMES || e == KST_OCSP_E_REVOKED ||
	       e == KST_OCSP_E_UNKNOWN;
}

static const struct single_spec *case_ours(const struct ocsp_case *c)
{
	const char *leaf = OR(c->leaf, OURS);

	for (size_t i = 0; i < case_singles(c); i++)
		if (strcmp(c->singles[i].cert, leaf) == 0 &&
		    c->singles[i].issuer[0] == '\0')
			return &c->singles[i];
	return NULL;
}

/* Minted rows: the verdict carries what the row put in our response. */
static void check_minted(const struct ocsp_case *c, const struct world *w,
			 const struct kst_ocsp_verdict *v)
{
	const struct single_spec *s = case_ours(c);
	time_t this_update;

	cr_assert(s != NULL, "%s: row has no single response of ours", c->name);
	this_update = w->base + s->this_off;
	cr_assert_eq(v->cert_status, s->status, "%s", c->name);
	cr_assert_eq(v->this_update, this_update, "%s", c->name);
	cr_assert_eq(v->has_next_update, s->next_off != ABSENT, "%s", c->name);
	cr_assert_eq(v->next_update,
		     s->next_off == ABSENT
			     ? this_update + KST_OCSP_DEFAULT_MAX_AGE
			     : w->base + s->next_off,
		     "%s", c->name);
	cr_assert_eq(v->produced_at, w->base + c->singles[0].this_off, "%s",
		     c->name);
	if (s->status != REVOKED)
		return;
	cr_assert_eq(v->revoked_at, w->base + s->rev_off, "%s", c->name);
	cr_assert_eq(v->revocation_reason, s->reason, "%s", c->name);
}

/*
 * The responder's database says when and why the "revoked" leaf was
 * revoked: "R<TAB>expiry<TAB>YYMMDDHHMMSSZ,reason<TAB>serial...".
 */
static void check_index_revocation(const struct ocsp_case *c,
				   const struct kst_ocsp_verdict *v)
{
	char *path = kst_test_pki_path("index.txt");
	char line[512], when[32] = "", why[64] = "";
	ASN1_UTCTIME *t = ASN1_UTCTIME_new();
	FILE *f = path ? fopen(path, "r") : NULL;
	int rows = 0;

	cr_assert(f != NULL && t != NULL, "no index.txt in the test PKI");
	while (rows < 64 && fgets(line, sizeof(line), f) != NULL) {
		rows++;
		if (line[0] == 'R' &&
		    sscanf(line, "R\t%*s\t%31[^,],%63[^\t]", when, why) == 2)
			break;
	}
	fclose(f);
	free(path);
	cr_assert(why[0] != '\0', "%s: index.txt has no revoked entry",
		  c->name);
	cr_assert(ASN1_UTCTIME_set_string(t, when), "%s: bad time %s", c->name,
		  when);
	cr_assert_eq(ASN1_TIME_cmp_time_t(t, v->revoked_at), 0,
		     "%s: revoked_at differs from index.txt's %s", c->name,
		     when);
	cr_assert_str_eq(OCSP_crl_reason_str(v->revocation_reason), why, "%s",
			 c->name);
	cr_assert_eq(v->revocation_reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE,
		     "%s", c->name);
	ASN1_UTCTIME_free(t);
}

/* CLI rows: the verdict agrees with OpenSSL's reading of the fixture. */
static void check_fixture(const struct ocsp_case *c, const struct world *w,
			  const unsigned char *der, size_t len,
			  const struct kst_ocsp_verdict *v)
{
	OCSP_BASICRESP *bs = parse_basic(der, len);
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, w->leaf, w->issuer);
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL, *rev = NULL;
	int status = -1, reason = -1;

	cr_assert(OCSP_resp_find_status(bs, id, &status, &reason, &rev,
					&thisupd, &nextupd),
		  "%s: fixture has no response for the leaf", c->name);
	cr_assert_eq(v->cert_status, status, "%s", c->name);
	cr_assert_eq(ASN1_TIME_cmp_time_t(thisupd, v->this_update), 0, "%s",
		     c->name);
	cr_assert(nextupd != NULL && v->has_next_update, "%s", c->name);
	cr_assert_eq(ASN1_TIME_cmp_time_t(nextupd, v->next_update), 0, "%s",
		     c->name);
	cr_assert_eq(ASN1_TIME_cmp_time_t(OCSP_resp_get0_produced_at(bs),
					  v->produced_at),
		     0, "%s", c->name);
	if (status == REVOKED)
		check_index_revocation(c, v);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
}

static void check_verdict(const struct ocsp_case *c, const struct world *w,
			  const unsigned char *der, size_t len,
			  const struct kst_ocsp_verdict *v)
{
	cr_assert(v->detail[0] != '\0' &&
			  memchr(v->detail, '\0', sizeof(v->detail)) != NULL,
		  "%s: no detail", c->name);
	if (c->detail_has[0] != '\0')
		cr_assert(strstr(v->detail, c->detail_has) != NULL,
			  "%s: detail \"%s\" lacks \"%s\"", c->name, v->detail,
			  c->detail_has);
	if (c->want == KST_OCSP_E_STATUS)
		cr_assert_eq(v->response_status, c->resp_status, "%s", c->name);
	if (want_single_read(c->want))
		cr_assert_eq(v->response_status, 0, "%s", c->name);
	if (want_single_read(c->want) && c->fixture[0] != '\0')
		check_fixture(c, w, der, len, v);
	else if (want_single_read(c->want))
		check_minted(c, w, v);
	else
		/* Nothing of an unverified or unmatched response is kept. */
		cr_assert(v->cert_status == -1 && v->this_update == 0 &&
				  v->next_update == 0 && v->revoked_at == 0 &&
				  v->revocation_reason == -1,
			  "%s: verdict kept single-response fields", c->name);
	if (c->want >= KST_OCSP_E_EMPTY && c->want <= KST_OCSP_E_SIGNER)
		cr_assert_eq(v->produced_at, 0, "%s", c->name);
	if (c->want == KST_OCSP_E_EMPTY || c->want == KST_OCSP_E_TOO_LARGE ||
	    (c->want == KST_OCSP_E_PARSE && !mangle_parses(c->mangle)))
		cr_assert_eq(v->response_status, -1, "%s", c->name);
}

ParameterizedTestParameters(ocsp_ingest, staples_only_what_the_table_allows)
{
	/* One row per line group; the formatter would scatter the fields. */
	// clang-format off
	static struct ocsp_case cases[] = {
		/* --- made by `openssl ocsp` (index responder, int signs) */
		{ .name = "cli_good", .fixture = OURS, .now_off = H,
		  .want = KST_OCSP_OK, .detail_has = "good" },
		{ .name = "cli_good_rsa_leaf", .fixture = "localhost-rsa",
		  .leaf = "localhost-rsa", .now_off = H, .want = KST_OCSP_OK },
		{ .name = "cli_good_must_staple_leaf", .fixture = "must-staple",
		  .leaf = "must-staple", .now_off = H, .want = KST_OCSP_OK },
		{ .name = "cli_revoked", .fixture = "revoked",
		  .leaf = "revoked",
		  .now_off = H, .want = KST_OCSP_E_REVOKED,
		  .detail_has = "reason keyCompromise" },
		{ .name = "cli_response_for_another_cert",
		  .fixture = "other-ecdsa", .now_off = H,
		  .want = KST_OCSP_E_NO_MATCH },
		{ .name = "cli_flipped_signature", .fixture = OURS,
		  .mangle = MANGLE_FLIP_SIGNATURE, .now_off = H,
		  .want = KST_OCSP_E_SIGNATURE },
		{ .name = "cli_truncated_by_one_byte", .fixture = OURS,
		  .mangle = MANGLE_DROP_LAST_BYTE, .now_off = H,
		  .want = KST_OCSP_E_PARSE },
		{ .name = "cli_trailing_zero_byte", .fixture = OURS,
		  .mangle = MANGLE_TRAILING_ZERO, .now_off = H,
		  .want = KST_OCSP_E_PARSE, .detail_has = "1 trailing byte" },
		{ .name = "cli_junk_inside_response_bytes", .fixture = OURS,
		  .mangle = MANGLE_JUNK_IN_RESPONSE_BYTES, .now_off = H,
		  .want = KST_OCSP_E_PARSE, .detail_has = "not DER" },
		{ .name = "cli_long_form_outer_length", .fixture = OURS,
		  .mangle = MANGLE_LONG_FORM_OUTER_LENGTH, .now_off = H,
		  .want = KST_OCSP_E_PARSE, .detail_has = "not DER" },
		{ .name = "cli_exactly_max_size", .fixture = OURS,
		  .limit = LIMIT_EXACT, .now_off = H, .want = KST_OCSP_OK },
		{ .name = "cli_one_byte_over_max_size", .fixture = OURS,
		  .limit = LIMIT_ONE_LESS, .now_off = H,
		  .want = KST_OCSP_E_TOO_LARGE },

		/* --- minted, signed by the issuer */
		{ .name = "good", .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "good_sha256_certid",
		  .singles = { { .cert = OURS, .status = GOOD, .next_off = D,
				 .sha256 = true, .reason = -1 } },
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "good_issuer_cert_left_out",
		  .singles = { SINGLE(OURS, GOOD, 0, D) }, .omit_signer = true,
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "good_responder_id_by_key",
		  .singles = { SINGLE(OURS, GOOD, 0, D) }, .by_key = true,
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "good_exactly_max_size",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .limit = LIMIT_EXACT, .now_off = H, .want = KST_OCSP_OK },
		{ .name = "unknown", .singles = { SINGLE(OURS, UNKNOWN, 0, D) },
		  .now_off = H, .want = KST_OCSP_E_UNKNOWN },
		{ .name = "revoked_superseded",
		  .singles = { SINGLE_REVOKED(OURS, 0, D,
					      OCSP_REVOKED_STATUS_SUPERSEDED,
					      -D) },
		  .now_off = H, .want = KST_OCSP_E_REVOKED,
		  .detail_has = "superseded" },
		{ .name = "revoked_without_reason",
		  .singles = { SINGLE_REVOKED(OURS, 0, D, -1, -H) },
		  .now_off = H, .want = KST_OCSP_E_REVOKED,
		  .detail_has = "no reason" },

		/* --- times */
		{ .name = "expired", .singles = { SINGLE(OURS, GOOD, 0, H) },
		  .now_off = 2 * H, .want = KST_OCSP_E_EXPIRED,
		  .detail_has = "in the past" },
		{ .name = "next_update_exactly_now",
		  .singles = { SINGLE(OURS, GOOD, 0, H) }, .now_off = H,
		  .want = KST_OCSP_E_EXPIRED },
		{ .name = "next_update_one_second_ahead",
		  .singles = { SINGLE(OURS, GOOD, 0, H) }, .now_off = H - 1,
		  .want = KST_OCSP_OK },
		{ .name = "next_update_equal_to_this_update",
		  .singles = { SINGLE(OURS, GOOD, H, H) }, .now_off = H,
		  .want = KST_OCSP_E_EXPIRED },
		{ .name = "expired_and_revoked_reads_as_expired",
		  .singles = { SINGLE_REVOKED(OURS, 0, H,
					      OCSP_REVOKED_STATUS_KEYCOMPROMISE,
					      -H) },
		  .now_off = 2 * H, .want = KST_OCSP_E_EXPIRED },
		{ .name = "not_yet_valid",
		  .singles = { SINGLE(OURS, GOOD, 2 * H, D) }, .now_off = H,
		  .want = KST_OCSP_E_NOT_YET_VALID },
		{ .name = "this_update_one_second_past_skew",
		  .singles = { SINGLE(OURS, GOOD, H + 301, D) }, .now_off = H,
		  .want = KST_OCSP_E_NOT_YET_VALID },
		{ .name = "this_update_in_the_future_within_skew",
		  .singles = { SINGLE(OURS, GOOD, H + 300, D) }, .now_off = H,
		  .want = KST_OCSP_OK },
		{ .name = "no_next_update_fresh",
		  .singles = { SINGLE(OURS, GOOD, 0, ABSENT) },
		  .now_off = D - 1, .want = KST_OCSP_OK },
		{ .name = "no_next_update_too_old",
		  .singles = { SINGLE(OURS, GOOD, 0, ABSENT) }, .now_off = D,
		  .want = KST_OCSP_E_TOO_OLD },
		{ .name = "next_update_before_this_update",
		  .singles = { SINGLE(OURS, GOOD, H, H - 1) }, .now_off = H,
		  .want = KST_OCSP_E_BAD_TIMES },

		/* --- which single response is ours */
		{ .name = "certid_of_another_cert",
		  .singles = { SINGLE("other-ecdsa", GOOD, 0, D) },
		  .now_off = H, .want = KST_OCSP_E_NO_MATCH },
		{ .name = "no_single_response_at_all", .now_off = H,
		  .want = KST_OCSP_E_NO_MATCH },
		{ .name = "multi_ours_chosen_among_others",
		  .singles = { SINGLE("other-ecdsa", GOOD, 0, D),
			       SINGLE(OURS, GOOD, 10 * M, 2 * D),
			       SINGLE_REVOKED("localhost-rsa", 0, D,
					      OCSP_REVOKED_STATUS_SUPERSEDED,
					      -H) },
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "multi_ours_revoked_among_good",
		  .singles = { SINGLE("other-ecdsa", GOOD, 0, D),
			       SINGLE_REVOKED(OURS, 0, D,
					      OCSP_REVOKED_STATUS_KEYCOMPROMISE,
					      -H),
			       SINGLE("localhost-rsa", GOOD, 0, D) },
		  .now_off = H, .want = KST_OCSP_E_REVOKED },
		{ .name = "multi_ours_expired_among_fresh",
		  .singles = { SINGLE("other-ecdsa", GOOD, 0, D),
			       SINGLE(OURS, GOOD, 0, 30 * M) },
		  .now_off = H, .want = KST_OCSP_E_EXPIRED },
		{ .name = "multi_mixed_certid_hashes",
		  .singles = { SINGLE("other-ecdsa", GOOD, 0, D),
			       { .cert = OURS, .status = GOOD, .next_off = D,
				 .sha256 = true, .reason = -1 } },
		  .now_off = H, .want = KST_OCSP_OK },
		{ .name = "multi_with_another_issuers_cert",
		  .singles = { SINGLE(OURS, GOOD, 0, D),
			       { .cert = "rogue-signer", .issuer = "rogue-ca",
				 .status = GOOD, .next_off = D,
				 .reason = -1 } },
		  .now_off = H, .want = KST_OCSP_E_SIGNER,
		  .detail_has = "every certificate" },
		{ .name = "duplicate_certid",
		  .singles = { SINGLE(OURS, GOOD, 0, D),
			       SINGLE(OURS, GOOD, 0, D) },
		  .now_off = H, .want = KST_OCSP_E_AMBIGUOUS },
		{ .name = "duplicate_certid_conflicting",
		  .singles = { SINGLE(OURS, GOOD, 0, D),
			       SINGLE_REVOKED(OURS, 0, D, -1, -H) },
		  .now_off = H, .want = KST_OCSP_E_AMBIGUOUS },
		{ .name = "duplicate_certid_sha1_and_sha256",
		  .singles = { SINGLE(OURS, GOOD, 0, D),
			       { .cert = OURS, .status = GOOD, .next_off = D,
				 .sha256 = true, .reason = -1 } },
		  .now_off = H, .want = KST_OCSP_E_AMBIGUOUS },

		/* --- who signed */
		{ .name = "bad_signature",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_FLIP_SIGNATURE, .now_off = H,
		  .want = KST_OCSP_E_SIGNATURE,
		  .detail_has = "does not verify" },
		{ .name = "delegated_signer",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "ocsp-signer", .now_off = H, .want = KST_OCSP_OK },
		{ .name = "delegated_signer_by_key",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "ocsp-signer", .by_key = true, .now_off = H,
		  .want = KST_OCSP_OK },
		{ .name = "delegated_signer_left_out",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "ocsp-signer", .omit_signer = true, .now_off = H,
		  .want = KST_OCSP_E_SIGNATURE, .detail_has = "not found" },
		{ .name = "delegated_signer_without_eku",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "ocsp-noeku", .now_off = H,
		  .want = KST_OCSP_E_SIGNER, .detail_has = "OCSPSigning" },
		{ .name = "signer_from_another_ca",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "rogue-signer", .now_off = H,
		  .want = KST_OCSP_E_SIGNER },
		{ .name = "wrong_issuer_rogue_ca",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "rogue-ca", .now_off = H,
		  .want = KST_OCSP_E_SIGNER },
		{ .name = "wrong_issuer_rogue_ca_left_out",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "rogue-ca", .omit_signer = true, .now_off = H,
		  .want = KST_OCSP_E_SIGNATURE },
		{ .name = "signed_by_a_sibling_leaf",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "other-ecdsa", .now_off = H,
		  .want = KST_OCSP_E_SIGNER },
		{ .name = "signed_by_the_issuers_own_ca",
		  .singles = { SINGLE(OURS, GOOD, 0, D) }, .signer = "root",
		  .now_off = H, .want = KST_OCSP_E_SIGNER },
		{ .name = "delegated_signer_valid_at_now",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "expired-delegate", .now_off = H,
		  .want = KST_OCSP_OK },
		{ .name = "delegated_signer_expired_at_now",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "expired-delegate", .now_off = 3 * H,
		  .want = KST_OCSP_E_SIGNER, .detail_has = "expired" },
		{ .name = "delegated_signer_not_yet_valid_at_now",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .signer = "later-delegate", .now_off = H,
		  .want = KST_OCSP_E_SIGNER, .detail_has = "not yet valid" },
		{ .name = "delegated_signer_valid_later_than_the_wall_clock",
		  .singles = { SINGLE(OURS, GOOD, 30 * D, 31 * D) },
		  .signer = "later-delegate", .now_off = 30 * D + H,
		  .want = KST_OCSP_OK },

		/* --- responseStatus */
		{ .name = "malformed_request",
		  .resp_status = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
		  .want = KST_OCSP_E_STATUS,
		  .detail_has = "malformedRequest (1)" },
		{ .name = "internal_error",
		  .resp_status = OCSP_RESPONSE_STATUS_INTERNALERROR,
		  .want = KST_OCSP_E_STATUS,
		  .detail_has = "internalError (2)" },
		{ .name = "try_later",
		  .resp_status = OCSP_RESPONSE_STATUS_TRYLATER,
		  .want = KST_OCSP_E_STATUS, .detail_has = "tryLater (3)" },
		{ .name = "sig_required",
		  .resp_status = OCSP_RESPONSE_STATUS_SIGREQUIRED,
		  .want = KST_OCSP_E_STATUS, .detail_has = "sigRequired (5)" },
		{ .name = "unauthorized",
		  .resp_status = OCSP_RESPONSE_STATUS_UNAUTHORIZED,
		  .want = KST_OCSP_E_STATUS, .detail_has = "unauthorized (6)" },
		{ .name = "unassigned_status_4", .resp_status = 4,
		  .want = KST_OCSP_E_STATUS, .detail_has = "(4)" },
		{ .name = "successful_without_body",
		  .mangle = MANGLE_SUCCESSFUL_WITHOUT_BODY,
		  .want = KST_OCSP_E_PARSE },

		/* --- bytes */
		{ .name = "empty", .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_EMPTY, .want = KST_OCSP_E_EMPTY },
		{ .name = "garbage", .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_GARBAGE, .want = KST_OCSP_E_PARSE },
		{ .name = "one_byte", .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_KEEP_ONE_BYTE, .want = KST_OCSP_E_PARSE },
		{ .name = "truncated_to_half",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_KEEP_HALF, .want = KST_OCSP_E_PARSE },
		{ .name = "truncated_by_one_byte",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_DROP_LAST_BYTE, .want = KST_OCSP_E_PARSE },
		{ .name = "two_responses_back_to_back",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_TRAILING_COPY, .now_off = H,
		  .want = KST_OCSP_E_PARSE, .detail_has = "trailing" },
		{ .name = "over_the_default_size_limit",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .mangle = MANGLE_PAD_OVER_DEFAULT_LIMIT, .now_off = H,
		  .want = KST_OCSP_E_TOO_LARGE, .detail_has = "65537" },
		{ .name = "one_byte_over_max_size",
		  .singles = { SINGLE(OURS, GOOD, 0, D) },
		  .limit = LIMIT_ONE_LESS, .now_off = H,
		  .want = KST_OCSP_E_TOO_LARGE },
	};
	// clang-format on

	return cr_make_param_array(struct ocsp_case, cases,
				   KST_ARRAY_SIZE(cases));
}

ParameterizedTest(struct ocsp_case *c, ocsp_ingest,
		  staples_only_what_the_table_allows)
{
	struct kst_ocsp_params params;
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0, built_len;
	enum kst_ocsp_err e;

	world_load(&w, OR(c->leaf, OURS));
	build_case(c, &w, &der, &len);
	built_len = len;
	mangle_case(c, der, &len);
	kst_ocsp_params_default(&params);
	if (c->limit == LIMIT_EXACT)
		params.max_size = len;
	else if (c->limit == LIMIT_ONE_LESS)
		params.max_size = len - 1;

	e = kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + c->now_off,
			    &params, &v);

	cr_assert_eq(e, v.err, "%s: returned %d, verdict says %d", c->name, e,
		     v.err);
	cr_assert_eq(e, c->want, "%s: got %s (%s), want %s", c->name,
		     kst_ocsp_err_name(e), v.detail,
		     kst_ocsp_err_name(c->want));
	check_verdict(c, &w, der, built_len, &v);
	free(der);
	world_free(&w);
}

/* --- outside the table */

struct err_name_case {
	enum kst_ocsp_err e;
	int number;
	char name[16];
};

/* The numbers and tokens are an ABI (BPF map, logs): written out here. */
ParameterizedTestParameters(ocsp_err, keeps_its_stable_number_and_name)
{
	static struct err_name_case cases[] = {
		{KST_OCSP_OK, 0, "ok"},
		{KST_OCSP_E_EMPTY, 1, "empty"},
		{KST_OCSP_E_TOO_LARGE, 2, "too-large"},
		{KST_OCSP_E_PARSE, 3, "parse"},
		{KST_OCSP_E_STATUS, 4, "status"},
		{KST_OCSP_E_SIGNATURE, 5, "signature"},
		{KST_OCSP_E_SIGNER, 6, "signer"},
		{KST_OCSP_E_NO_MATCH, 7, "no-match"},
		{KST_OCSP_E_AMBIGUOUS, 8, "ambiguous"},
		{KST_OCSP_E_NOT_YET_VALID, 9, "not-yet-valid"},
		{KST_OCSP_E_EXPIRED, 10, "expired"},
		{KST_OCSP_E_TOO_OLD, 11, "too-old"},
		{KST_OCSP_E_BAD_TIMES, 12, "bad-times"},
		{KST_OCSP_E_REVOKED, 13, "revoked"},
		{KST_OCSP_E_UNKNOWN, 14, "unknown"},
		{KST_OCSP_E_INTERNAL, 15, "internal"},
	};

	return cr_make_param_array(struct err_name_case, cases,
				   KST_ARRAY_SIZE(cases));
}

ParameterizedTest(struct err_name_case *c, ocsp_err,
		  keeps_its_stable_number_and_name)
{
	cr_assert_eq((int)c->e, c->number);
	cr_assert_str_eq(kst_ocsp_err_name(c->e), c->name);
}

Test(ocsp_err, names_a_value_outside_the_enum_invalid)
{
	cr_assert_str_eq(
		kst_ocsp_err_name((enum kst_ocsp_err)KST_OCSP_ERR_COUNT),
		"invalid");
	cr_assert_str_eq(kst_ocsp_err_name((enum kst_ocsp_err) - 1), "invalid");
}

Test(ocsp_params, defaults_are_64k_300s_skew_and_one_day_max_age)
{
	struct kst_ocsp_params p;

	memset(&p, 0xff, sizeof(p));
	kst_ocsp_params_default(&p);
	cr_assert_eq(p.max_size, 65536);
	cr_assert_eq(p.skew, 300);
	cr_assert_eq(p.max_age, 86400);
}

/* A good response of ours from int, minted; OPENSSL_free it. */
static void mint_ours(const struct world *w, long this_off, long next_off,
		      unsigned char **der, size_t *len)
{
	int err = kst_mint_simple(OURS, GOOD, w->base + this_off,
				  next_off == ABSENT ? 0 : w->base + next_off,
				  "int", der, len);

	cr_assert_eq(err, 0, "kst_mint_simple: %s", strerror(-err));
}

Test(ocsp_params, null_params_mean_the_defaults)
{
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	mint_ours(&w, H, ABSENT, &der, &len);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer,
				     w.base + H + KST_OCSP_DEFAULT_MAX_AGE - 1,
				     NULL, &v),
		     KST_OCSP_OK, "%s", v.detail);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer,
				     w.base + H + KST_OCSP_DEFAULT_MAX_AGE,
				     NULL, &v),
		     KST_OCSP_E_TOO_OLD, "%s", v.detail);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer,
				     w.base + H - KST_OCSP_DEFAULT_SKEW - 1,
				     NULL, &v),
		     KST_OCSP_E_NOT_YET_VALID, "%s", v.detail);
	OPENSSL_free(der);
	world_free(&w);
}

Test(ocsp_params, honours_a_configured_skew_and_max_age)
{
	struct kst_ocsp_params p = {
		.max_size = 4096, .skew = 0, .max_age = 10 * M};
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	mint_ours(&w, H, ABSENT, &der, &len);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + H - 1,
				     &p, &v),
		     KST_OCSP_E_NOT_YET_VALID, "%s", v.detail);
	cr_assert_eq(
		kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + H, &p, &v),
		KST_OCSP_OK, "%s", v.detail);
	cr_assert_eq(v.next_update, w.base + H + 10 * M);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer,
				     w.base + H + 10 * M, &p, &v),
		     KST_OCSP_E_TOO_OLD, "%s", v.detail);
	OPENSSL_free(der);
	world_free(&w);
}

/* A verdict judged again later (kst_ocsp_rejudge: a fetch thread's verdict
 * applied by the control thread) says what a new ingest then would say,
 * from either side of every time bound, with and without nextUpdate. */
Test(ocsp_rejudge, agrees_with_a_new_ingest_at_every_time)
{
	const struct kst_ocsp_params p = {
		.max_size = 4096, .skew = 5 * M, .max_age = 10 * M};
	/* the signer's certificate is valid at all of them: that check is
	 * not repeated */
	const long offs[] = {H - 5 * M - 1,  H - 5 * M,	 H,    2 * H - 1, 2 * H,
			     H + 10 * M - 1, H + 10 * M, 3 * H};
	struct world w;

	world_load(&w, OURS);
	for (int with_next = 0; with_next < 2; with_next++) {
		unsigned char *der = NULL;
		size_t len = 0;

		mint_ours(&w, H, with_next ? 2 * H : ABSENT, &der, &len);
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]);
			     j++) {
				struct kst_ocsp_verdict then, fresh;
				enum kst_ocsp_err e;

				kst_ocsp_ingest(der, len, w.leaf, w.issuer,
						w.base + offs[i], &p, &then);
				e = kst_ocsp_rejudge(&then, w.base + offs[j],
						     &p);
				kst_ocsp_ingest(der, len, w.leaf, w.issuer,
						w.base + offs[j], &p, &fresh);
				cr_assert_eq(e, fresh.err,
					     "next %d, %ld then %ld: %s vs %s",
					     with_next, offs[i], offs[j],
					     then.detail, fresh.detail);
				cr_assert_eq(then.err, fresh.err);
				cr_assert_str_eq(then.detail, fresh.detail);
				cr_assert_eq(then.next_update,
					     fresh.next_update);
			}
		}
		OPENSSL_free(der);
	}
	world_free(&w);
}

Test(ocsp_rejudge, leaves_a_refusal_before_the_times_as_it_is)
{
	X509 *other = kst_test_cert("localhost-rsa");
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	cr_assert_not_null(other);
	world_load(&w, OURS);
	mint_ours(&w, H, 2 * H, &der, &len);
	/* good, in time, but about another certificate */
	cr_assert_eq(kst_ocsp_ingest(der, len, other, w.issuer, w.base + H,
				     NULL, &v),
		     KST_OCSP_E_NO_MATCH, "%s", v.detail);
	cr_expect_eq(kst_ocsp_rejudge(&v, w.base + H + M, NULL),
		     KST_OCSP_E_NO_MATCH);
	cr_expect_eq(v.err, KST_OCSP_E_NO_MATCH);
	X509_free(other);
	OPENSSL_free(der);
	world_free(&w);
}

Test(ocsp_ingest, refuses_a_call_without_certificates)
{
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	mint_ours(&w, 0, D, &der, &len);
	cr_assert_eq(
		kst_ocsp_ingest(der, len, NULL, w.issuer, w.base + H, NULL, &v),
		KST_OCSP_E_INTERNAL);
	cr_assert_eq(
		kst_ocsp_ingest(der, len, w.leaf, NULL, w.base + H, NULL, &v),
		KST_OCSP_E_INTERNAL);
	cr_assert_eq(kst_ocsp_ingest(NULL, 0, w.leaf, w.issuer, w.base + H,
				     NULL, &v),
		     KST_OCSP_E_EMPTY);
	OPENSSL_free(der);
	world_free(&w);
}

Test(ocsp_ingest, leaves_the_callers_openssl_error_queue_as_it_was)
{
	static const unsigned char garbage[] = {0x30, 0x03, 0x0a, 0x01};
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	mint_ours(&w, 0, D, &der, &len);
	ERR_clear_error();
	ERR_raise(ERR_LIB_USER, 42);
	cr_assert_eq(kst_ocsp_ingest(garbage, sizeof(garbage), w.leaf, w.issuer,
				     w.base + H, NULL, &v),
		     KST_OCSP_E_PARSE);
	cr_assert_eq(kst_mint_flip_signature(der, len), 0);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + H,
				     NULL, &v),
		     KST_OCSP_E_SIGNATURE);
	cr_assert_eq(ERR_GET_REASON(ERR_get_error()), 42);
	cr_assert_eq(ERR_get_error(), 0, "ingest left errors behind");
	OPENSSL_free(der);
	world_free(&w);
}

Test(ocsp_must_staple, is_detected_on_a_cert_with_the_tls_feature)
{
	X509 *x = kst_test_cert("must-staple");

	cr_assert(x != NULL);
	cr_assert(kst_ocsp_cert_must_staple(x));
	X509_free(x);
}

Test(ocsp_must_staple, is_not_claimed_for_ordinary_certs)
{
	static const char *const names[] = {"localhost-ecdsa", "localhost-rsa",
					    "int"};

	for (size_t i = 0; i < KST_ARRAY_SIZE(names); i++) {
		X509 *x = kst_test_cert(names[i]);

		cr_assert(x != NULL);
		cr_assert_not(kst_ocsp_cert_must_staple(x), "%s", names[i]);
		X509_free(x);
	}
}

/* --- the minting helpers other tests build on */

Test(ocsp_mint, simple_delegated_revoked_response_reads_back)
{
	struct kst_ocsp_verdict v;
	struct world w;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	cr_assert_eq(kst_mint_simple(OURS, REVOKED, w.base, w.base + D,
				     "ocsp-signer", &der, &len),
		     0);
	cr_assert_eq(kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + H,
				     NULL, &v),
		     KST_OCSP_E_REVOKED, "%s", v.detail);
	cr_assert_eq(v.revoked_at, w.base - H);
	cr_assert_eq(v.revocation_reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	cr_assert_eq(v.produced_at, w.base);
	OPENSSL_free(der);
	world_free(&w);
}

Test(ocsp_mint, simple_reports_a_missing_signer)
{
	unsigned char *der = NULL;
	size_t len = 0;

	cr_assert_eq(
		kst_mint_simple(OURS, GOOD, 1, 2, "no-such-signer", &der, &len),
		-ENOENT);
	cr_assert_null(der);
}

Test(ocsp_mint, write_replaces_the_file_and_leaves_no_temporary)
{
	char dir[] = "/tmp/kst-ocsp-mint-XXXXXX";
	char path[64];
	struct world w;
	unsigned char *der = NULL, *back = NULL;
	size_t len = 0, back_len = 0;
	DIR *d;
	struct dirent *de;
	int entries = 0;

	world_load(&w, OURS);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/staple.ocsp", dir);
	cr_assert_eq(kst_mint_write(path, (const unsigned char *)"old", 3), 0);
	mint_ours(&w, 0, D, &der, &len);
	cr_assert_eq(kst_mint_write(path, der, len), 0);
	cr_assert_eq(kst_test_read_file(path, &back, &back_len), 0);
	cr_assert_eq(back_len, len);
	cr_assert_arr_eq(back, der, len);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL && entries < 16)
		if (de->d_name[0] != '.')
			entries++;
	closedir(d);
	cr_assert_eq(entries, 1, "temporary file left in %s", dir);
	cr_assert_eq(kst_mint_write("/nonexistent-dir/x.ocsp", der, len),
		     -ENOENT);
	unlink(path);
	rmdir(dir);
	free(back);
	OPENSSL_free(der);
	world_free(&w);
}

/* ------------------------------------------------ sticky revocation */

/*
 * What a verdict changes for a certificate holding a staple and/or a
 * revocation (kst_ocsp_choose). Times are offsets from T; the verdict is
 * what kst_ocsp_ingest said about a response (its err, certStatus and
 * thisUpdate): the routes back from a revocation (reload of the state-dir
 * or operator file, restart, replay) all arrive as one of these rows.
 */
#define T 1700000000L

struct choose_case {
	char name[80];
	bool has_staple;
	long staple_off, newest_good_off; /* newest_good_off: LONG_MIN none */
	bool revoked;
	long rev_off;
	enum kst_ocsp_err err; /* the verdict */
	int cert_status;
	long this_off;
	enum kst_ocsp_action want;
	enum kst_ocsp_err want_err;
	char detail_has[32];
};

#define NONE LONG_MIN
// clang-format off
#define HOLD_STAPLE(off)  .has_staple = true, .staple_off = off, \
			  .newest_good_off = off
#define HOLD_NOTHING	  .newest_good_off = NONE
#define HOLD_REVOKED(off) .revoked = true, .rev_off = off, \
			  .newest_good_off = NONE
#define SAYS_GOOD(off)	  .err = KST_OCSP_OK, .cert_status = GOOD, \
			  .this_off = off
#define SAYS_REVOKED(off) .err = KST_OCSP_E_REVOKED, \
			  .cert_status = REVOKED, .this_off = off
// clang-format on

ParameterizedTestParameters(ocsp_choose, keeps_a_revocation_until_newer_good)
{
	static struct choose_case cases[] = {
		{"a first good response is stapled", HOLD_NOTHING, SAYS_GOOD(0),
		 KST_OCSP_ACT_STAPLE, KST_OCSP_OK, ""},
		{"a newer good response replaces the staple", HOLD_STAPLE(0),
		 SAYS_GOOD(10), KST_OCSP_ACT_STAPLE, KST_OCSP_OK, ""},
		{"an as-new good response replaces the staple", HOLD_STAPLE(0),
		 SAYS_GOOD(0), KST_OCSP_ACT_STAPLE, KST_OCSP_OK, ""},
		{"an older good response is valid but not news", HOLD_STAPLE(0),
		 SAYS_GOOD(-10), KST_OCSP_ACT_KEEP, KST_OCSP_OK, ""},
		{"a revoked response empties an empty slot", HOLD_NOTHING,
		 SAYS_REVOKED(0), KST_OCSP_ACT_REVOKE, KST_OCSP_E_REVOKED,
		 "revoked at"},
		{"a revoked response newer than the staple revokes",
		 HOLD_STAPLE(0), SAYS_REVOKED(10), KST_OCSP_ACT_REVOKE,
		 KST_OCSP_E_REVOKED, "revoked at"},
		{"a revoked response as new as the staple revokes",
		 HOLD_STAPLE(0), SAYS_REVOKED(0), KST_OCSP_ACT_REVOKE,
		 KST_OCSP_E_REVOKED, "revoked at"},
		{"a revoked response older than the good one stapled is "
		 "ignored",
		 .newest_good_off = 10, SAYS_REVOKED(0),
		 .want = KST_OCSP_ACT_KEEP, .want_err = KST_OCSP_E_REVOKED,
		 .detail_has = "ignored"},
		{"reloaded state file from before the revocation is refused",
		 HOLD_REVOKED(0), SAYS_GOOD(-3600), KST_OCSP_ACT_KEEP,
		 KST_OCSP_E_REVOKED, "still revoked"},
		{"a replayed good response as new as the revocation is refused",
		 HOLD_REVOKED(0), SAYS_GOOD(0), KST_OCSP_ACT_KEEP,
		 KST_OCSP_E_REVOKED, "still revoked"},
		{"a good response one second newer un-revokes", HOLD_REVOKED(0),
		 SAYS_GOOD(1), KST_OCSP_ACT_UNREVOKE, KST_OCSP_OK, ""},
		{"a replayed revoked response changes nothing", HOLD_REVOKED(0),
		 SAYS_REVOKED(0), KST_OCSP_ACT_KEEP, KST_OCSP_E_REVOKED,
		 "revoked at"},
		{"an older revoked response changes nothing", HOLD_REVOKED(0),
		 SAYS_REVOKED(-10), KST_OCSP_ACT_KEEP, KST_OCSP_E_REVOKED,
		 "revoked at"},
		{"a newer revoked response advances the revocation",
		 HOLD_REVOKED(0), SAYS_REVOKED(10), KST_OCSP_ACT_REVOKE,
		 KST_OCSP_E_REVOKED, "revoked at"},
		{"an expired response changes nothing while revoked",
		 HOLD_REVOKED(0), .err = KST_OCSP_E_EXPIRED,
		 .cert_status = GOOD, .this_off = 10, .want = KST_OCSP_ACT_KEEP,
		 .want_err = KST_OCSP_E_EXPIRED, .detail_has = "fixture"},
		{"a bad signature changes nothing while revoked",
		 HOLD_REVOKED(0), .err = KST_OCSP_E_SIGNATURE,
		 .cert_status = -1, .want = KST_OCSP_ACT_KEEP,
		 .want_err = KST_OCSP_E_SIGNATURE, .detail_has = "fixture"},
		{"an unknown status changes nothing while revoked",
		 HOLD_REVOKED(0), .err = KST_OCSP_E_UNKNOWN,
		 .cert_status = UNKNOWN, .this_off = 10,
		 .want = KST_OCSP_ACT_KEEP, .want_err = KST_OCSP_E_UNKNOWN,
		 .detail_has = "fixture"},
		{"a bad response keeps the staple", HOLD_STAPLE(0),
		 .err = KST_OCSP_E_PARSE, .cert_status = -1,
		 .want = KST_OCSP_ACT_KEEP, .want_err = KST_OCSP_E_PARSE,
		 .detail_has = "fixture"},
	};

	return cr_make_param_array(struct choose_case, cases,
				   KST_ARRAY_SIZE(cases));
}

ParameterizedTest(struct choose_case *c, ocsp_choose,
		  keeps_a_revocation_until_newer_good)
{
	struct kst_ocsp_held h = {
		.has_staple = c->has_staple,
		.staple_this_update = c->has_staple ? T + c->staple_off : 0,
		.newest_good =
			c->newest_good_off == NONE ? 0 : T + c->newest_good_off,
		.rev = {c->revoked, c->revoked ? T + c->rev_off : 0,
			c->revoked ? T + c->rev_off - H : 0,
			c->revoked ? 1 : -1},
	};
	struct kst_ocsp_verdict v = {
		.err = c->err,
		.response_status = 0,
		.cert_status = c->cert_status,
		.this_update = T + c->this_off,
		.next_update = T + c->this_off + D,
		.has_next_update = true,
		.revocation_reason = c->cert_status == REVOKED ? 1 : -1,
		.revoked_at = c->cert_status == REVOKED ? T - H : 0,
	};

	snprintf(v.detail, sizeof(v.detail), "%s",
		 c->err == KST_OCSP_E_REVOKED ? "revoked at (fixture)"
					      : "fixture");
	cr_assert_eq(kst_ocsp_choose(&h, &v), c->want, "%s", c->name);
	cr_assert_eq(v.err, c->want_err, "%s: err %s", c->name,
		     kst_ocsp_err_name(v.err));
	cr_assert(strstr(v.detail, c->detail_has) != NULL, "%s: detail '%s'",
		  c->name, v.detail);
}

/* The real verdicts of minted responses through choose: the replay of the
 * good response from before a revocation is refused, a later one is not. */
Test(ocsp_choose, refuses_the_real_good_response_from_before_the_revocation)
{
	struct world w;
	struct kst_ocsp_held h = {0};
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;

	world_load(&w, OURS);
	cr_assert_eq(kst_mint_simple(OURS, REVOKED, w.base + H, w.base + D,
				     "int", &der, &len),
		     0);
	kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + 2 * H, NULL, &v);
	OPENSSL_free(der);
	cr_assert_eq(kst_ocsp_choose(&h, &v), KST_OCSP_ACT_REVOKE);
	h.rev = (struct kst_ocsp_revocation){true, v.this_update, v.revoked_at,
					     v.revocation_reason};
	cr_assert_eq(kst_mint_simple(OURS, GOOD, w.base, w.base + D, "int",
				     &der, &len),
		     0);
	kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + 2 * H, NULL, &v);
	OPENSSL_free(der);
	cr_assert_eq(v.err, KST_OCSP_OK, "valid on its own: %s", v.detail);
	cr_assert_eq(kst_ocsp_choose(&h, &v), KST_OCSP_ACT_KEEP);
	cr_assert_eq(v.err, KST_OCSP_E_REVOKED, "%s", v.detail);
	cr_assert_eq(kst_mint_simple(OURS, GOOD, w.base + 2 * H, w.base + D,
				     "int", &der, &len),
		     0);
	kst_ocsp_ingest(der, len, w.leaf, w.issuer, w.base + 2 * H, NULL, &v);
	OPENSSL_free(der);
	cr_assert_eq(kst_ocsp_choose(&h, &v), KST_OCSP_ACT_UNREVOKE, "%s",
		     v.detail);
	world_free(&w);
}

struct record_case {
	char name[64];
	char text[400];
	int want; /* 0 or -EINVAL */
	long long this_update, revoked_at;
	int reason;
};

ParameterizedTestParameters(ocsp_revocation, parses_only_a_whole_record)
{
	static struct record_case cases[] = {
		{"the written form",
		 "kstapled-revocation 1\n# a comment\n"
		 "this-update 1700000000\nrevoked-at 1699996400\nreason 1\n",
		 0, 1700000000, 1699996400, 1},
		{"any order, no final newline, no reason given",
		 "reason -1\nrevoked-at 5\n\nkstapled-revocation 1\n"
		 "this-update 7",
		 0, 7, 5, -1},
		{"a revocation time before 1970, as a CA signed it",
		 "kstapled-revocation 1\nthis-update 7\n"
		 "revoked-at -58573103\nreason 1\n",
		 0, 7, -58573103, 1},
		{"empty", "", -EINVAL},
		{"no header", "this-update 7\nrevoked-at 5\nreason 1\n",
		 -EINVAL},
		{"another version",
		 "kstapled-revocation 2\nthis-update 7\nrevoked-at 5\nreason "
		 "1\n",
		 -EINVAL},
		{"a key missing",
		 "kstapled-revocation 1\nthis-update 7\n"
		 "reason 1\n",
		 -EINVAL},
		{"a key twice",
		 "kstapled-revocation 1\nthis-update 7\n"
		 "this-update 9\nrevoked-at 5\nreason 1\n",
		 -EINVAL},
		{"an unknown key",
		 "kstapled-revocation 1\nthis-update 7\n"
		 "revoked-at 5\nreason 1\nnext-update 9\n",
		 -EINVAL},
		{"junk after a number",
		 "kstapled-revocation 1\n"
		 "this-update 7x\nrevoked-at 5\nreason 1\n",
		 -EINVAL},
		{"no number",
		 "kstapled-revocation 1\nthis-update \n"
		 "revoked-at 5\nreason 1\n",
		 -EINVAL},
		{"a thisUpdate before 1970",
		 "kstapled-revocation 1\n"
		 "this-update -363496190\nrevoked-at 5\nreason 1\n",
		 0, -363496190, 5, 1},
		{"a reason out of range",
		 "kstapled-revocation 1\n"
		 "this-update 7\nrevoked-at 5\nreason 11\n",
		 -EINVAL},
		{"a number out of range",
		 "kstapled-revocation 1\n"
		 "this-update 99999999999999999999\nrevoked-at 5\nreason 1\n",
		 -EINVAL},
		{"a NUL inside",
		 "kstapled-revocation 1\nthis-update 7\0\n"
		 "revoked-at 5\nreason 1\n",
		 -EINVAL},
	};

	return cr_make_param_array(struct record_case, cases,
				   KST_ARRAY_SIZE(cases));
}

ParameterizedTest(struct record_case *c, ocsp_revocation,
		  parses_only_a_whole_record)
{
	struct kst_ocsp_revocation r = {0};
	/* the NUL row: its length is that of the whole literal */
	size_t len = strcmp(c->name, "a NUL inside") == 0
			     ? strlen(c->text) + 1 +
				       strlen(c->text + strlen(c->text) + 1)
			     : strlen(c->text);

	cr_assert_eq(kst_ocsp_revocation_parse(c->text, len, &r), c->want, "%s",
		     c->name);
	if (c->want != 0) {
		cr_assert(!r.revoked, "%s: nothing held from a bad record",
			  c->name);
		return;
	}
	cr_assert(r.revoked);
	cr_assert_eq((long long)r.this_update, c->this_update);
	cr_assert_eq((long long)r.revoked_at, c->revoked_at);
	cr_assert_eq(r.reason, c->reason);
}

Test(ocsp_revocation, reads_back_what_it_writes_and_says_it_in_utc)
{
	struct kst_ocsp_revocation in = {true, T, T - H, 1}, out = {0};
	char buf[512];
	int n = kst_ocsp_revocation_format(&in, buf, sizeof(buf));

	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert(strstr(buf, "2023-11-14T22:13:20Z") != NULL, "%s", buf);
	cr_assert(strstr(buf, "keyCompromise") != NULL, "%s", buf);
	cr_assert_eq(kst_ocsp_revocation_parse(buf, (size_t)n, &out), 0, "%s",
		     buf);
	cr_assert_eq(out.this_update, in.this_update);
	cr_assert_eq(out.revoked_at, in.revoked_at);
	cr_assert_eq(out.reason, in.reason);
	cr_assert_eq(kst_ocsp_revocation_format(&in, buf, 40), -ENOSPC);
}
