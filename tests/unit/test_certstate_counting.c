// SPDX-License-Identifier: MIT
/*
 * A certificate's per-worker counters (daemon/ocsp/certstate.h,
 * kst_certstate_counting): none are allocated until a worker counts
 * something for it, since most of 100,000 certificates are idle (issue
 * 13); what is counted is summed; workers racing to the first count
 * share one block and lose no count.
 */
#include <criterion/criterion.h>

#include <pthread.h>

#include "daemon/ocsp/certstate.h"
#include "tests/lib/testutil.h"

#define WORKERS 2
#define ROUNDS	64
#define COUNTS	1000

static struct kst_registry reg;
static X509 *leaf, *issuer;

static void setup(void)
{
	leaf = kst_test_cert("localhost-ecdsa");
	issuer = kst_test_cert("int");
	cr_assert(leaf != NULL && issuer != NULL, "test PKI not found in %s",
		  kst_test_pki());
	kst_registry_init(&reg, WORKERS);
}

static void teardown(void)
{
	X509_free(leaf);
	X509_free(issuer);
}

TestSuite(certstate_counting, .init = setup, .fini = teardown, .timeout = 60);

static struct kst_certstate *state(unsigned char tag)
{
	unsigned char sha[32] = {tag, 7};
	struct kst_certstate *cs =
		kst_registry_get1(&reg, leaf, issuer, sha, "localhost-ecdsa");

	cr_assert_not_null(cs);
	return cs;
}

Test(certstate_counting, an_idle_certificate_holds_no_counters)
{
	struct kst_certstate *cs = state(1);
	struct kst_conn_counters sum;

	cr_expect_null(cs->counters, "counters before any count");
	kst_certstate_counters(cs, &sum);
	cr_expect_eq(sum.handshakes, 0);
	cr_expect_null(cs->counters, "summing allocated the counters");

	KST_COUNT(kst_certstate_counting(cs, 1)->handshakes);
	KST_COUNT_ADD(kst_certstate_counting(cs, 0)->bytes_userspace, 5000);
	KST_COUNT(kst_certstate_counting(cs, 1)->handshakes);
	cr_expect_not_null(cs->counters);
	cr_expect_eq(kst_certstate_counting(cs, 1),
		     kst_certstate_counting(cs, 1), "one block per worker");
	kst_certstate_counters(cs, &sum);
	cr_expect_eq(sum.handshakes, 2);
	cr_expect_eq(sum.bytes_userspace, 5000);
	kst_registry_put(&reg, cs);
}

struct racer {
	struct kst_certstate *cs;
	unsigned worker;
	pthread_barrier_t *go;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	for (int i = 0; i < COUNTS; i++)
		KST_COUNT(kst_certstate_counting(r->cs, r->worker)->handshakes);
	return NULL;
}

Test(certstate_counting, workers_racing_to_the_first_count_lose_nothing)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct kst_certstate *cs = state((unsigned char)(2 + round));
		struct racer r[WORKERS];
		pthread_t t[WORKERS];
		pthread_barrier_t go;
		struct kst_conn_counters sum;

		pthread_barrier_init(&go, NULL, WORKERS);
		for (unsigned w = 0; w < WORKERS; w++) {
			r[w] = (struct racer){cs, w, &go};
			cr_assert_eq(pthread_create(&t[w], NULL, race, &r[w]),
				     0);
		}
		for (unsigned w = 0; w < WORKERS; w++)
			pthread_join(t[w], NULL);
		pthread_barrier_destroy(&go);
		kst_certstate_counters(cs, &sum);
		cr_assert_eq(sum.handshakes, (uint64_t)WORKERS * COUNTS,
			     "round %d: %llu counted", round,
			     (unsigned long long)sum.handshakes);
		kst_registry_put(&reg, cs);
	}
}
