// SPDX-License-Identifier: MIT
/*
 * The fetcher pool with real fetches against kst-ocspd on loopback: jobs
 * come back through the eventfd with their cookies, no more than the pool's
 * thread count run at once (counted by the responder, which logs each
 * request as it arrives), a hanging responder holds only its own job, and
 * stopping with jobs running and queued takes milliseconds, not timeouts.
 * Every wait is bounded; every process is stopped by PID.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ocsp/fetcher.h"
#include "daemon/base/util.h"
#include "tests/lib/dnssink.h"
#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

#define WAIT_MS 10000

static struct {
	struct kst_h_ocspd ocspd[2];
	struct kst_fetcher *pool;
} env;

static void pool_fini(void)
{
	kst_fetcher_stop(env.pool);
	env.pool = NULL;
	for (int i = 0; i < 2; i++)
		kst_h_ocspd_stop(&env.ocspd[i]);
}

TestSuite(fetcher, .fini = pool_fini);

/* Requests responder i has logged so far (hang logs on arrival). */
static int ocspd_requests(int i)
{
	return kst_h_ocspd_requests(&env.ocspd[i]);
}

/* Wait (bounded) until responder i has logged n requests. */
static bool ocspd_wait_requests(int i, int n, int timeout_ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)timeout_ms;

	while (ocspd_requests(i) < n && kst_mono_ms() < end)
		usleep(10000);
	return ocspd_requests(i) >= n;
}

static struct kst_fetch_job *job_for(int port, long response_ms,
				     uintptr_t cookie)
{
	char url[64];
	const char *urls[] = {url};
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	struct kst_fetch_opts o;
	struct kst_fetch_job *job;

	kst_fetch_opts_default(&o);
	o.connect_timeout_ms = 2000;
	o.response_timeout_ms = response_ms;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	job = kst_fetch_job_new((void *)cookie, leaf, issuer, urls, 1, &o);
	cr_assert_not_null(job);
	X509_free(leaf);
	X509_free(issuer);
	return job;
}

/* The next finished job, waiting on the pool's fd up to timeout_ms. */
static struct kst_fetch_job *wait_done(int timeout_ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)timeout_ms;
	struct kst_fetch_job *job;

	while ((job = kst_fetcher_done(env.pool)) == NULL) {
		struct pollfd p = {kst_fetcher_fd(env.pool), POLLIN, 0};
		uint64_t now = kst_mono_ms();

		if (now >= end)
			return NULL;
		poll(&p, 1, (int)(end - now));
	}
	return job;
}

Test(fetcher, refuses_a_pool_without_threads_or_a_null_job)
{
	struct kst_fetcher *f = (struct kst_fetcher *)1;

	cr_expect_eq(kst_fetcher_start(0, &f), -EINVAL);
	cr_expect_null(f);
	cr_expect_eq(kst_fetcher_start(KST_FETCHER_MAX_THREADS + 1, &f),
		     -EINVAL);
	cr_assert_eq(kst_fetcher_start(1, &env.pool), 0);
	cr_expect_eq(kst_fetcher_submit(env.pool, NULL), -EINVAL);
	cr_expect_null(kst_fetcher_done(env.pool), "nothing finished");
	cr_expect_eq(kst_fetcher_in_flight(env.pool), 0);
	kst_fetcher_stop(NULL);
}

Test(fetcher, returns_every_job_with_its_cookie_through_the_fd)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	bool seen[6] = {false};

	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	for (uintptr_t i = 1; i <= 5; i++)
		cr_assert_eq(
			kst_fetcher_submit(env.pool, job_for(port, 5000, i)),
			0);
	for (int n = 0; n < 5; n++) {
		struct kst_fetch_job *job = wait_done(WAIT_MS);
		uintptr_t c;

		cr_assert_not_null(job, "job %d of 5 did not come back", n + 1);
		c = (uintptr_t)job->cookie;
		cr_assert(c >= 1 && c <= 5 && !seen[c], "cookie %lu",
			  (unsigned long)c);
		seen[c] = true;
		cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
		cr_expect(job->der != NULL, "the body is kept");
		cr_expect_eq(job->verdict.err, KST_OCSP_OK,
			     "ingest used the clock at completion");
		kst_fetch_job_free(job);
	}
	cr_expect_eq(kst_fetcher_in_flight(env.pool), 0);
	cr_expect_null(kst_fetcher_done(env.pool));
	/* the fd was cleared by done(): not readable any more */
	{
		struct pollfd p = {kst_fetcher_fd(env.pool), POLLIN, 0};

		cr_expect_eq(poll(&p, 1, 0), 0);
	}
	cr_expect_eq(ocspd_requests(0), 5);
}

Test(fetcher, runs_no_more_fetches_at_once_than_it_has_threads)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "hang");

	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	for (uintptr_t i = 1; i <= 3; i++)
		cr_assert_eq(
			kst_fetcher_submit(env.pool, job_for(port, 1500, i)),
			0);
	cr_expect_eq(kst_fetcher_in_flight(env.pool), 3);
	cr_assert(ocspd_wait_requests(0, 2, WAIT_MS), "two fetches start");
	usleep(300000); /* a third connection would have arrived by now */
	cr_expect_eq(ocspd_requests(0), 2, "the third job waits its turn");
	cr_expect_eq(kst_fetcher_in_flight(env.pool), 3);
	/* when the first two time out, the third gets a thread */
	cr_expect(ocspd_wait_requests(0, 3, WAIT_MS), "the third runs");
	for (int n = 0; n < 2; n++) {
		struct kst_fetch_job *job = wait_done(WAIT_MS);

		cr_assert_not_null(job);
		cr_expect_eq(job->err, KST_FETCH_E_TIMEOUT, "%s", job->detail);
		kst_fetch_job_free(job);
	}
}

Test(fetcher, a_hanging_responder_does_not_delay_other_jobs)
{
	int dead = kst_edge_ocspd_start(&env.ocspd[0], "hang"),
	    alive = kst_edge_ocspd_start(&env.ocspd[1], "ok");
	struct kst_fetch_job *job;
	uint64_t t0;

	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	cr_assert_eq(kst_fetcher_submit(env.pool, job_for(dead, 8000, 1)), 0);
	cr_assert(ocspd_wait_requests(0, 1, WAIT_MS));
	t0 = kst_mono_ms();
	cr_assert_eq(kst_fetcher_submit(env.pool, job_for(alive, 8000, 2)), 0);
	job = wait_done(WAIT_MS);
	cr_assert_not_null(job);
	cr_expect_eq((uintptr_t)job->cookie, 2, "the live responder's first");
	cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	cr_expect_lt(kst_mono_ms() - t0, 2000, "not held by the hang");
	cr_expect_eq(kst_fetcher_in_flight(env.pool), 1, "the hang still runs");
	kst_fetch_job_free(job);
}

Test(fetcher, stops_in_milliseconds_with_jobs_running_and_queued)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "hang");
	uint64_t t0, ms;

	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	for (uintptr_t i = 1; i <= 6; i++)
		cr_assert_eq(
			kst_fetcher_submit(env.pool, job_for(port, 30000, i)),
			0);
	cr_assert(ocspd_wait_requests(0, 2, WAIT_MS), "two fetches hang");
	t0 = kst_mono_ms();
	kst_fetcher_stop(env.pool); /* frees all six jobs (ASan checks) */
	env.pool = NULL;
	ms = kst_mono_ms() - t0;
	cr_log_info("stop with 2 running, 4 queued: %lu ms", (unsigned long)ms);
	cr_expect_lt(ms, 1000, "stop took %lu ms, not the 30 s timeouts",
		     (unsigned long)ms);
	cr_expect_eq(ocspd_requests(0), 2, "queued jobs never ran");
}

/*
 * Stopping while fetches wait for a DNS server that never answers
 * (tests/lib/dnssink.h: the system resolver would wait 10 s) takes
 * milliseconds: the pool does not wait for a resolver.
 */
Test(fetcher, stops_in_milliseconds_while_names_are_being_resolved,
     .timeout = 60)
{
	int sink = kst_h_dns_sink(), asked = 0;
	const char *urls[] = {"http://ocsp.silent.kst.test/"};
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	struct kst_fetch_opts o;
	uint64_t t0, end, ms;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	kst_fetch_opts_default(&o);
	o.connect_timeout_ms = 30000;
	o.response_timeout_ms = 30000;
	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	for (uintptr_t i = 1; i <= 3; i++) {
		struct kst_fetch_job *job =
			kst_fetch_job_new((void *)i, leaf, issuer, urls, 1, &o);

		cr_assert_not_null(job);
		cr_assert_eq(kst_fetcher_submit(env.pool, job), 0);
	}
	end = kst_mono_ms() + WAIT_MS;
	while ((asked += kst_h_dns_sink_queries(sink)) < 2 &&
	       kst_mono_ms() < end)
		usleep(10000);
	cr_assert_geq(asked, 2, "the fetches are resolving");
	t0 = kst_mono_ms();
	kst_fetcher_stop(env.pool);
	env.pool = NULL;
	ms = kst_mono_ms() - t0;
	cr_log_info("stop while resolving: %lu ms", (unsigned long)ms);
	cr_expect_lt(ms, 3000, "stop waited %lu ms for the resolver",
		     (unsigned long)ms);
	X509_free(leaf);
	X509_free(issuer);
	close(sink);
}

/* Threads of this process, by id, from /proc/self/task. */
static int list_tasks(long *tids, int cap)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL && n < cap)
		if (e->d_name[0] != '.')
			tids[n++] = strtol(e->d_name, NULL, 10);
	if (d != NULL)
		closedir(d);
	return n;
}

/* The SigBlk mask of thread tid. */
static unsigned long long blocked_of(long tid)
{
	char path[64], line[128];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return mask;
}

Test(fetcher, threads_block_signals_the_daemon_takes_by_signalfd)
{
	long before[64], after[64];
	int nb = list_tasks(before, 64), na, pool_threads = 0;
	static const int sigs[] = {SIGHUP,  SIGINT,  SIGTERM,
				   SIGCHLD, SIGPIPE, SIGUSR1};

	cr_assert_eq(kst_fetcher_start(3, &env.pool), 0);
	na = list_tasks(after, 64);
	for (int i = 0; i < na; i++) {
		bool old = false;
		unsigned long long m;

		for (int j = 0; j < nb; j++)
			old = old || after[i] == before[j];
		if (old)
			continue;
		pool_threads++;
		m = blocked_of(after[i]);
		for (size_t s = 0; s < KST_ARRAY_SIZE(sigs); s++)
			cr_expect(m & (1ull << (sigs[s] - 1)),
				  "thread %ld does not block signal %d",
				  after[i], sigs[s]);
	}
	cr_expect_eq(pool_threads, 3);
	cr_expect_eq(blocked_of(gettid()) & (1ull << (SIGTERM - 1)), 0,
		     "the caller's mask is unchanged");
}
