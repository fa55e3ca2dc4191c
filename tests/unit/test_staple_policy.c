// SPDX-License-Identifier: MIT
/*
 * The staple policy of daemon/ocsp/certstate.c: what kst_certstate_ingest puts
 * in (or keeps out of) a certificate's slot, and when kst_certstate_servable
 * lets a certificate be served, under each policy. The rules asserted are
 * the contract (DESIGN.md, README "Stapling"): a good response is stapled;
 * a newer one replaces it; an older one or a refused one keeps the last
 * good staple; a revocation empties the slot and is sticky against every
 * response not newer than it (only a good one with a later thisUpdate, the
 * CA un-revoking, lifts it); nothing past nextUpdate is stapled; `strict`
 * stops serving a certificate whose staple expired or was revoked and
 * `must-staple` never serves one without a valid staple.
 *
 * Responses are minted with the test PKI (tests/lib/ocsp_mint). Times are
 * offsets from BASE, a day after the PKI's certificates became valid, so
 * nothing depends on the wall clock.
 */
#include <criterion/criterion.h>

#include <openssl/ocsp.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/config.h"
#include "daemon/ocsp/certstate.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"

#define M 60L
#define H 3600L
#define D 86400L

#define GOOD	V_OCSP_CERTSTATUS_GOOD
#define REVOKED V_OCSP_CERTSTATUS_REVOKED
#define UNKNOWN V_OCSP_CERTSTATUS_UNKNOWN

static struct kst_registry reg;
static struct kst_certstate *cs;
static X509 *leaf, *issuer;
static time_t base;

static time_t asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	cr_assert(ASN1_TIME_to_tm(t, &tm) == 1);
	return timegm(&tm);
}

static void setup(void)
{
	unsigned char sha[32] = {1, 2, 3};
	time_t a, b;

	leaf = kst_test_cert("localhost-ecdsa");
	issuer = kst_test_cert("int");
	cr_assert(leaf != NULL && issuer != NULL, "test PKI not found in %s",
		  kst_test_pki());
	a = asn1_epoch(X509_get0_notBefore(leaf));
	b = asn1_epoch(X509_get0_notBefore(issuer));
	base = (a > b ? a : b) + D;
	kst_registry_init(&reg, 2);
	cs = kst_registry_get1(&reg, leaf, issuer, sha, "localhost-ecdsa");
	cr_assert_not_null(cs);
}

static void teardown(void)
{
	kst_registry_put(&reg, cs);
	X509_free(leaf);
	X509_free(issuer);
}

TestSuite(staple_policy, .init = setup, .fini = teardown, .timeout = 30);

/* Mints a response for leaf_name (signed by the issuer) and ingests it at
 * now; returns the verdict's error. */
static enum kst_ocsp_err ingest_as(const char *leaf_name, int status,
				   long this_off, long next_off, long now_off,
				   bool flip)
{
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;
	enum kst_ocsp_err err;

	cr_assert_eq(kst_mint_simple(leaf_name, status, base + this_off,
				     base + next_off, "int", &der, &len),
		     0, "minting a response for %s", leaf_name);
	if (flip)
		cr_assert_eq(kst_mint_flip_signature(der, len), 0);
	err = kst_certstate_ingest(cs, der, len, KST_STAPLE_SRC_FETCHED,
				   base + now_off, NULL, &v);
	OPENSSL_free(der);
	return err;
}

static enum kst_ocsp_err ingest(int status, long this_off, long next_off,
				long now_off)
{
	return ingest_as("localhost-ecdsa", status, this_off, next_off, now_off,
			 false);
}

/* thisUpdate of the staple a handshake at now gets; 0: none. */
static time_t served(long now_off)
{
	struct kst_staple *s = kst_certstate_staple_get1(cs, base + now_off);
	time_t t = s ? s->this_update : 0;

	kst_staple_put(s);
	return t;
}

static void expect_servable(long now_off, bool lenient, bool strict, bool must)
{
	time_t now = base + now_off;

	cr_expect_eq(kst_certstate_servable(cs, KST_POLICY_LENIENT, now),
		     lenient, "lenient: servable should be %d", lenient);
	cr_expect_eq(kst_certstate_servable(cs, KST_POLICY_STRICT, now), strict,
		     "strict: servable should be %d", strict);
	cr_expect_eq(kst_certstate_servable(cs, KST_POLICY_MUST_STAPLE, now),
		     must, "must-staple: servable should be %d", must);
}

Test(staple_policy, good_response_is_stapled_and_servable_under_every_policy)
{
	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	cr_expect_eq(served(H), base);
	expect_servable(H, true, true, true);
}

Test(staple_policy, without_a_staple_only_must_staple_refuses_to_serve)
{
	cr_expect_eq(served(H), 0);
	expect_servable(H, true, true, false);
}

Test(staple_policy, newer_good_response_replaces_the_staple)
{
	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	cr_assert_eq(ingest(GOOD, 2 * H, 7 * D + 2 * H, 3 * H), KST_OCSP_OK);
	cr_expect_eq(served(3 * H), base + 2 * H);
}

Test(staple_policy, older_good_response_keeps_the_newer_staple)
{
	cr_assert_eq(ingest(GOOD, 2 * H, 7 * D, 3 * H), KST_OCSP_OK);
	ingest(GOOD, 0, 7 * D, 3 * H); /* a replay, or a stale cache */
	cr_expect_eq(served(3 * H), base + 2 * H);
	expect_servable(3 * H, true, true, true);
}

/* Every refusal leaves the last good staple served. */
Test(staple_policy, refused_responses_keep_the_last_good_staple)
{
	static const struct {
		const char *what, *leaf;
		int status;
		long this_off, next_off;
		bool flip;
		enum kst_ocsp_err want;
	} rows[] = {
		{"bad signature", "localhost-ecdsa", GOOD, 2 * H, 7 * D, true,
		 KST_OCSP_E_SIGNATURE},
		{"another certificate's", "other-ecdsa", GOOD, 2 * H, 7 * D,
		 false, KST_OCSP_E_NO_MATCH},
		{"already expired", "localhost-ecdsa", GOOD, -2 * D, -M, false,
		 KST_OCSP_E_EXPIRED},
		{"not yet valid", "localhost-ecdsa", GOOD, 2 * D, 9 * D, false,
		 KST_OCSP_E_NOT_YET_VALID},
		{"status unknown", "localhost-ecdsa", UNKNOWN, 2 * H, 7 * D,
		 false, KST_OCSP_E_UNKNOWN},
	};

	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum kst_ocsp_err err = ingest_as(
			rows[i].leaf, rows[i].status, rows[i].this_off,
			rows[i].next_off, 3 * H, rows[i].flip);

		cr_expect_eq(err, rows[i].want, "%s: verdict %s, want %s",
			     rows[i].what, kst_ocsp_err_name(err),
			     kst_ocsp_err_name(rows[i].want));
		cr_expect_eq(served(3 * H), base, "%s: staple replaced",
			     rows[i].what);
		expect_servable(3 * H, true, true, true);
	}
}

Test(staple_policy, unknown_status_is_not_stapled_on_an_empty_slot)
{
	cr_expect_eq(ingest(UNKNOWN, 0, 7 * D, H), KST_OCSP_E_UNKNOWN);
	cr_expect_eq(served(H), 0);
	expect_servable(H, true, true, false);
}

Test(staple_policy, revoked_empties_the_slot_and_stops_strict_and_must_staple)
{
	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	cr_expect_eq(ingest(REVOKED, 2 * H, 7 * D, 3 * H), KST_OCSP_E_REVOKED);
	cr_expect(cs->ocsp.revoked);
	cr_expect_eq(served(3 * H), 0, "a revoked certificate kept its staple");
	expect_servable(3 * H, true, false, false);
}

/* A replay of the good response from before the revocation (or the
 * operator's old file on a reload) must not undo it. */
Test(staple_policy, revocation_is_not_undone_by_an_older_or_as_new_good)
{
	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	cr_assert_eq(ingest(REVOKED, 2 * H, 7 * D, 3 * H), KST_OCSP_E_REVOKED);
	for (long t = 0; t <= 2 * H; t += H) {
		cr_expect_eq(ingest(GOOD, t, 7 * D, 4 * H), KST_OCSP_E_REVOKED,
			     "good of thisUpdate BASE+%lds accepted", t);
		cr_expect(cs->ocsp.revoked, "good of BASE+%lds un-revoked", t);
		cr_expect_eq(served(4 * H), 0);
		expect_servable(4 * H, true, false, false);
	}
}

Test(staple_policy, revocation_survives_the_staple_expiry_check)
{
	cr_assert_eq(ingest(REVOKED, 0, 2 * H, H), KST_OCSP_E_REVOKED);
	cr_expect_not(kst_certstate_expire(cs, base + 3 * H));
	cr_expect(cs->ocsp.revoked);
	cr_expect_eq(ingest(GOOD, -H, 7 * D, 4 * H), KST_OCSP_E_REVOKED);
	expect_servable(4 * H, true, false, false);
}

/* README "Stapling": the CA un-revoking (certificateHold released) is a
 * good response with a thisUpdate after the revoked one's. */
Test(staple_policy, only_a_good_with_a_later_this_update_lifts_a_revocation)
{
	cr_assert_eq(ingest(REVOKED, 2 * H, 7 * D, 3 * H), KST_OCSP_E_REVOKED);
	cr_expect_eq(ingest(GOOD, 2 * H + 1, 7 * D, 4 * H), KST_OCSP_OK);
	cr_expect_not(cs->ocsp.revoked);
	cr_expect_eq(served(4 * H), base + 2 * H + 1);
	expect_servable(4 * H, true, true, true);
}

/* A revocation record read from state-dir at start or reload holds the
 * same way as one ingested. */
Test(staple_policy, held_revocation_record_refuses_the_good_from_before_it)
{
	struct kst_ocsp_revocation r = {true, base + 2 * H, base + H, 1};

	cr_assert_eq(ingest(GOOD, 0, 7 * D, H), KST_OCSP_OK);
	kst_certstate_hold_revocation(cs, &r, "test record");
	cr_expect_eq(served(3 * H), 0);
	cr_expect_eq(ingest(GOOD, H, 7 * D, 3 * H), KST_OCSP_E_REVOKED);
	expect_servable(3 * H, true, false, false);
}

Test(staple_policy, staple_past_next_update_is_neither_served_nor_servable)
{
	cr_assert_eq(ingest(GOOD, 0, 2 * H, H), KST_OCSP_OK);
	expect_servable(2 * H - 1, true, true, true);
	/* at nextUpdate, before the control thread's expiry tick ran */
	cr_expect_eq(served(2 * H), 0, "stapled at its nextUpdate");
	expect_servable(2 * H, true, false, false);
	/* after it */
	cr_expect(kst_certstate_expire(cs, base + 2 * H));
	cr_expect_eq(served(2 * H + 1), 0);
	expect_servable(2 * H + 1, true, false, false);
}

Test(staple_policy, fresh_good_after_expiry_makes_it_servable_again)
{
	cr_assert_eq(ingest(GOOD, 0, 2 * H, H), KST_OCSP_OK);
	cr_assert(kst_certstate_expire(cs, base + 3 * H));
	cr_expect_eq(ingest(GOOD, 3 * H, 7 * D, 3 * H + M), KST_OCSP_OK);
	cr_expect_eq(served(3 * H + M), base + 3 * H);
	expect_servable(3 * H + M, true, true, true);
}

Test(staple_policy, expired_response_is_never_stapled)
{
	cr_expect_eq(ingest(GOOD, -2 * D, -M, 0), KST_OCSP_E_EXPIRED);
	cr_expect_eq(served(0), 0);
	cr_expect_eq(ingest(GOOD, -H, 0, 0), KST_OCSP_E_EXPIRED,
		     "a response at its nextUpdate was taken");
	cr_expect_eq(served(0), 0);
}
