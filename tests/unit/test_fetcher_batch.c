// SPDX-License-Identifier: MIT
/*
 * The fetcher pool's fd while finished jobs wait (issue 13): the control
 * thread takes finished jobs in bounded batches (kst_fetchctl_done), so
 * the pool's fd must stay readable as long as one is left, or the rest
 * would wait for the next fetch to finish, and the last ones for ever.
 * Before, kst_fetcher_done() cleared the fd on every call, and the control
 * thread drained the queue until empty: with 50,000 cold fetches finishing
 * faster than it took them in, it stayed there for the whole fetch (59 s
 * of a 10 s startup-wait). Real fetches against kst-ocspd on loopback;
 * every wait bounded, the responder stopped by PID.
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon/ocsp/fetcher.h"
#include "daemon/base/util.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

#define WAIT_MS 10000
#define JOBS	3

static struct {
	struct kst_h_ocspd ocspd;
	struct kst_fetcher *pool;
} env;

static void batch_fini(void)
{
	kst_fetcher_stop(env.pool);
	env.pool = NULL;
	kst_h_ocspd_stop(&env.ocspd);
}

TestSuite(fetcher_batch, .fini = batch_fini);

static struct kst_fetch_job *batch_job(int port, uintptr_t cookie)
{
	char url[64];
	const char *urls[] = {url};
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	struct kst_fetch_opts o;
	struct kst_fetch_job *job;

	kst_fetch_opts_default(&o);
	o.connect_timeout_ms = 2000;
	o.response_timeout_ms = 5000;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	job = kst_fetch_job_new((void *)cookie, leaf, issuer, urls, 1, &o);
	cr_assert_not_null(job);
	X509_free(leaf);
	X509_free(issuer);
	return job;
}

static bool batch_readable(void)
{
	struct pollfd p = {kst_fetcher_fd(env.pool), POLLIN, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

Test(fetcher_batch, the_fd_stays_readable_while_finished_jobs_wait)
{
	uint64_t end = kst_mono_ms() + WAIT_MS;
	int port;

	kst_test_require(kst_tool_built("kst-ocspd"),
			 "kst-ocspd is not built in $KST_BUILD/tools "
			 "(make all)");
	cr_assert_eq(kst_h_ocspd_start(&env.ocspd, NULL, "ok", 0), 0,
		     "kst-ocspd did not start (%s)", env.ocspd.out);
	port = env.ocspd.port;
	cr_assert_eq(kst_fetcher_start(2, &env.pool), 0);
	for (uintptr_t i = 1; i <= JOBS; i++)
		cr_assert_eq(kst_fetcher_submit(env.pool, batch_job(port, i)),
			     0);
	/* every job finished, none taken yet */
	while (kst_fetcher_in_flight(env.pool) > 0 && kst_mono_ms() < end)
		usleep(10000);
	cr_assert_eq(kst_fetcher_in_flight(env.pool), 0,
		     "the %d fetches did not finish in %d ms", JOBS, WAIT_MS);
	for (int n = 0; n < JOBS; n++) {
		struct kst_fetch_job *job;

		cr_assert(batch_readable(),
			  "%d finished job%s wait%s, the fd is not readable: a "
			  "caller that took a batch would never be woken "
			  "for them",
			  JOBS - n, JOBS - n == 1 ? "" : "s",
			  JOBS - n == 1 ? "s" : "");
		job = kst_fetcher_done(env.pool);
		cr_assert_not_null(job, "job %d of %d", n + 1, JOBS);
		cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
		kst_fetch_job_free(job);
	}
	cr_expect_not(batch_readable(), "none left: the fd is clear");
	cr_expect_null(kst_fetcher_done(env.pool));
}
