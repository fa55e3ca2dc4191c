// SPDX-License-Identifier: MIT
/*
 * Fetching as an operator sees it, against the real `openssl ocsp`
 * index-file responder behind kst-ocspd on loopback (no mock of OpenSSL's
 * client): eager first fetch, persistence in state-dir, restarts with the
 * responder down, backoff and recovery, isolation from a hanging
 * responder, every kind of bad answer rejected with the reason recorded
 * while the previous staple stays, revocation, expiry while the responder
 * is down, and the quiet case of a certificate without an OCSP URL.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/base/util.h"
#include "tests/lib/dnssink.h"
#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"

static struct kst_h_ocspd r;
static struct kst_edge edge;

/* A [cert:NAME] for a leaf of the test PKI, fetching from url. */
static char *cert_section(const char *name, const char *leaf, const char *url)
{
	char *s = NULL;

	cr_assert(asprintf(&s, "[cert:%s]\npem = %s\nocsp-url = %s\n", name,
			   kst_h_leaf(leaf), url) > 0);
	return s;
}

/* global: [global] lines (or an [ocsp] section of its own, which comes
 * before the fetch settings); certs_refs: the listener's cert lines;
 * sections: the [cert:NAME] sections they name. */
static void start(const char *global, const char *certs_refs,
		  const char *sections)
{
	struct kst_edge_conf c = {
		.global = global,
		.ocsp = "startup-wait = 5s\nretry-min = 2s\nretry-max = 4s\n"
			"connect-timeout = 1s\nresponse-timeout = 2s\n",
		.listener = certs_refs,
		.sections = sections,
	};

	kst_edge_pins(&edge, "fetch");
	kst_edge_start(&edge, &c);
}

static void stop_all(void)
{
	kst_edge_stop(&edge);
	kst_h_ocspd_stop(&r);
}

TestSuite(fetch, .fini = stop_all);

/* One connection asking for a staple: stapled=0/1 */
static int stapled(const char *sni, const char *sigalgs)
{
	char *out = NULL;
	int v;

	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--status",
				  "--print", "--sni", sni ? sni : "localhost",
				  "--sigalgs",
				  sigalgs ? sigalgs : "ECDSA+SHA256", NULL),
		     0, "%s", out);
	v = atoi(kst_h_kv(out, "stapled"));
	if (v)
		cr_expect_str_eq(kst_h_kv(out, "staple_matches_cert"), "1");
	free(out);
	return v;
}

/* A value of one cert in `kstapled status --json`. */
static char *status_field(const char *cert, const char *key)
{
	char *json = kst_h_status_json(edge.pins);
	char *v = kst_h_json_get(json, cert, key);

	cr_assert_not_null(v, "%s of %s in:\n%s", key, cert, json);
	free(json);
	return v;
}

static int state_files(void)
{
	DIR *dir = opendir(kst_h_path("state"));
	struct dirent *e;
	int n = 0;

	while (dir != NULL && (e = readdir(dir)) != NULL)
		n += strstr(e->d_name, ".ocsp") != NULL &&
		     strstr(e->d_name, "tmp") == NULL;
	if (dir != NULL)
		closedir(dir);
	return n;
}

Test(fetch, a_fresh_start_staples_the_first_handshake_and_persists,
     .timeout = 90)
{
	char *s1, *s2, *refs = "cert = ec\ncert = rsa\n", *secs = NULL;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	s1 = cert_section("ec", "localhost-ecdsa", r.url);
	s2 = cert_section("rsa", "localhost-rsa", r.url);
	cr_assert(asprintf(&secs, "%s%s", s1, s2) > 0);
	start(NULL, refs, secs);
	/* no staple on disk: fetched before the listener accepted */
	cr_expect_eq(stapled(NULL, "ECDSA+SHA256"), 1);
	cr_expect_eq(stapled(NULL, "RSA-PSS+SHA256"), 1);
	cr_expect_eq(state_files(), 2, "both responses persisted");
	cr_expect_eq(kst_h_ocspd_requests(&r), 2, "one fetch each");
	/* restart with the responder down: staples from disk */
	cr_expect_eq(kst_h_daemon_stop(&edge.d), 0);
	kst_h_ocspd_stop(&r);
	start(NULL, refs, secs);
	cr_expect_eq(stapled(NULL, "ECDSA+SHA256"), 1, "from state-dir");
	cr_expect_eq(stapled(NULL, "RSA-PSS+SHA256"), 1);
	free(s1);
	free(s2);
	free(secs);
	stop_all();
}

Test(fetch, the_aia_url_of_the_certificate_is_used, .timeout = 90)
{
	char *pki = strdup(kst_h_path("pki")), cmd[1024], *secs = NULL;
	int rport = kst_h_free_port();

	/* a PKI whose leaves name this test's responder */
	snprintf(cmd, sizeof(cmd),
		 "%s/scripts/pki.sh -u http://127.0.0.1:%d/ %s",
		 getenv("KST_SRCDIR") ? getenv("KST_SRCDIR") : ".", rport, pki);
	cr_assert_eq(kst_h_sh(cmd, NULL, 60000), 0);
	memset(&r, 0, sizeof(r));
	{
		char idx[600], ca[600], key[600], l[64];
		char *argv[] = {(char *)kst_h_tool("kst-ocspd"),
				"-l",
				l,
				"--index",
				idx,
				"--ca",
				ca,
				"--rsigner",
				ca,
				"--rkey",
				key,
				"--log",
				(char *)kst_h_path("aia.requests"),
				NULL};

		snprintf(idx, sizeof(idx), "%s/index.txt", pki);
		snprintf(ca, sizeof(ca), "%s/int.crt", pki);
		snprintf(key, sizeof(key), "%s/int.key", pki);
		snprintf(l, sizeof(l), "127.0.0.1:%d", rport);
		r.pid = kst_h_spawn(argv, kst_h_path("aia.log"));
		cr_assert_eq(
			kst_h_wait_log(kst_h_path("aia.log"), "ready", 10000),
			0);
	}
	cr_assert(asprintf(&secs, "cert = %s/localhost-ecdsa.pem\n", pki) > 0);
	start(NULL, secs, "");
	cr_expect_eq(stapled(NULL, NULL), 1);
	cr_expect_gt(kst_h_count(kst_h_path("aia.requests"), "GET"), 0,
		     "small requests go as GET");
	free(secs);
	free(pki);
	stop_all();
}

Test(fetch, responder_down_at_start_serves_then_staples_after_backoff,
     .timeout = 90)
{
	char *sec;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "close", 1), 0);
	sec = cert_section("ec", "localhost-ecdsa", r.url);
	start("[ocsp]\nstartup-wait = 1s\n", "cert = ec\n", sec);
	cr_expect_eq(stapled(NULL, NULL), 0, "lenient: served without");
	cr_expect_gt(kst_h_count(edge.d.log, "OCSP fetch from"), 0,
		     "logged why");
	kst_h_ocspd_mode(&r, "ok");
	for (int i = 0; i < 40 && stapled(NULL, NULL) == 0; i++)
		usleep(250 * 1000);
	cr_expect_eq(stapled(NULL, NULL), 1, "stapled within the backoff");
	cr_expect_eq(kst_h_count(edge.d.log, "works again"), 1);
	free(sec);
	stop_all();
}

Test(fetch, a_hanging_responder_does_not_delay_other_certs, .timeout = 90)
{
	struct kst_h_ocspd hang;
	char *s1, *s2, *secs = NULL;
	struct timespec t0, t1;

	cr_assert_eq(kst_h_ocspd_start(&hang, NULL, "hang", 1), 0);
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	s1 = cert_section("hung", "other-ecdsa", hang.url);
	s2 = cert_section("ec", "localhost-ecdsa", r.url);
	cr_assert(asprintf(&secs, "%s%s", s1, s2) > 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start(NULL, "cert = ec\ncert = hung\n", secs);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_eq(stapled("localhost", NULL), 1);
	cr_expect_eq(stapled("other.test", NULL), 0);
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 5,
		     "start waited for the hang only up to its timeout");
	free(status_field("hung", "name")); /* present in the map */
	cr_assert_eq(kst_h_wait_log(edge.d.log, "(timeout)", 8000), 0,
		     "the hang hit the response timeout");
	kst_h_ocspd_stop(&hang);
	free(s1);
	free(s2);
	free(secs);
	stop_all();
}

/* Good staple on disk, past its refresh point; the responder answers
 * with the fault; the reason is recorded, the staple stays. */
struct fault {
	char mode[32];
	char reason[24];
};

static const struct fault faults[] = {
	{"http500", "http"},	  {"garbage", "body"},
	{"wrong-key", "signer"},  {"other-cert", "no-match"},
	{"expired", "expired"},	  {"trylater", "status"},
	{"redirect", "redirect"}, {"hang", "timeout"},
};

ParameterizedTestParameters(fetch, a_bad_answer_is_recorded_and_the_staple_kept)
{
	return cr_make_param_array(struct fault, faults,
				   sizeof(faults) / sizeof(faults[0]));
}

ParameterizedTest(const struct fault *f, fetch,
		  a_bad_answer_is_recorded_and_the_staple_kept, .timeout = 90)
{
	unsigned char *der = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	char *sec, *err, *state;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, f->mode, 1), 0);
	sec = cert_section("ec", "localhost-ecdsa", r.url);
	/* valid for 2 more hours, but 90 % of its window is gone */
	cr_assert_eq(kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				     now - 18 * 3600, now + 2 * 3600, "int",
				     &der, &len),
		     0);
	cr_assert_eq(kst_mint_write(kst_h_path("localhost-ecdsa.pem.ocsp"), der,
				    len),
		     0);
	OPENSSL_free(der);
	start("[ocsp]\nstartup-wait = 0s\n", "cert = ec\n", sec);
	cr_assert_eq(kst_h_wait_log(edge.d.log, f->reason, 10000), 0,
		     "%s: the reason %s in the log", f->mode, f->reason);
	cr_expect_eq(stapled(NULL, NULL), 1, "the old staple is still served");
	err = status_field("ec", "last_error_name");
	cr_expect_str_eq(err, f->reason);
	state = status_field("ec", "state");
	cr_expect_str_eq(state, "stale", "a valid staple whose refresh failed");
	free(err);
	free(state);
	free(sec);
	stop_all();
}

Test(fetch, a_revoked_answer_is_not_stapled_and_is_recorded, .timeout = 90)
{
	char *sec, *state;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	sec = cert_section("rev", "revoked", r.url);
	start(NULL, "cert = rev\n", sec);
	cr_expect_eq(stapled("revoked.test", NULL), 0);
	cr_expect_eq(kst_h_count(edge.d.log, "crit: cert rev"), 1);
	state = status_field("rev", "state");
	cr_expect_str_eq(state, "revoked");
	free(state);
	free(sec);
	stop_all();
}

Test(fetch, a_staple_expiring_while_the_responder_is_down_stops, .timeout = 90)
{
	unsigned char *der = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	char *sec, *state;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "close", 1), 0);
	sec = cert_section("ec", "localhost-ecdsa", r.url);
	cr_assert_eq(kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				     now - 3600, now + 4, "int", &der, &len),
		     0);
	cr_assert_eq(kst_mint_write(kst_h_path("localhost-ecdsa.pem.ocsp"), der,
				    len),
		     0);
	OPENSSL_free(der);
	start("[ocsp]\nstartup-wait = 0s\n", "cert = ec\n", sec);
	cr_expect_eq(stapled(NULL, NULL), 1);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "staple expired", 10000), 0);
	cr_expect_eq(stapled(NULL, NULL), 0, "never past nextUpdate");
	state = status_field("ec", "state");
	cr_expect_str_eq(state, "expired");
	free(state);
	free(sec);
	stop_all();
}

Test(fetch, a_cert_without_an_ocsp_url_is_quiet, .timeout = 60)
{
	char *refs = NULL, *state;

	cr_assert(asprintf(&refs, "cert = %s\n", kst_h_leaf("no-ocsp")) > 0);
	start(NULL, refs, "");
	cr_expect_eq(stapled("no-ocsp.test", NULL), 0);
	sleep(2); /* a few control ticks: still nothing to fetch */
	cr_expect_eq(kst_h_count(edge.d.log, "no OCSP URL"), 1,
		     "one info line");
	cr_expect_eq(kst_h_count(edge.d.log, "warn:"), 0, "no warning");
	cr_expect_eq(kst_h_count(edge.d.log, "fetching"), 0, "no fetch");
	state = status_field("no-ocsp.pem", "state");
	cr_expect_str_eq(state, "disabled");
	free(state);
	free(refs);
	stop_all();
}

/*
 * A responder name the DNS never answers for (tests/lib/dnssink.h, where
 * the system resolver would wait 10 s): the fetch resolving it holds no
 * reload, and SIGTERM ends the daemon within its drain bound (2 s here,
 * no connection to drain), not when the resolver gives up.
 */
Test(fetch, reload_and_stop_do_not_wait_for_a_silent_resolver, .timeout = 90)
{
	struct kst_edge_conf c = {
		.global = "drain-timeout = 2s\n",
		.ocsp = "startup-wait = 0s\nconnect-timeout = 60s\n"
			"response-timeout = 60s\n",
		.listener = "cert = ec\n",
	};
	int sink = kst_h_dns_sink(), asked = 0, rc;
	char *sec = NULL;
	uint64_t t0, end, ms;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	cr_assert(asprintf(&sec,
			   "[cert:ec]\npem = %s\n"
			   "ocsp-url = http://ocsp.silent.kst.test/\n",
			   kst_h_leaf("localhost-ecdsa")) > 0);
	c.sections = sec;
	kst_edge_start(&edge, &c);
	free(sec);
	end = kst_mono_ms() + 10000;
	while ((asked += kst_h_dns_sink_queries(sink)) < 1 &&
	       kst_mono_ms() < end)
		usleep(20000);
	cr_assert_geq(asked, 1, "the fetch is resolving the name");
	t0 = kst_mono_ms();
	cr_expect_eq(kst_h_daemon_reload(&edge.d), 0, "reloaded");
	ms = kst_mono_ms() - t0;
	cr_log_info("reload while resolving: %lu ms", (unsigned long)ms);
	cr_expect_lt(ms, 3000, "the reload took %lu ms", (unsigned long)ms);
	t0 = kst_mono_ms();
	rc = kst_h_daemon_stop(&edge.d);
	ms = kst_mono_ms() - t0;
	cr_log_info("SIGTERM while resolving: exit %d after %lu ms", rc,
		    (unsigned long)ms);
	cr_expect_eq(rc, 0);
	cr_expect_lt(ms, 2000 + 1500, "stopping took %lu ms",
		     (unsigned long)ms);
	kst_h_backend_stop(&edge.b);
	close(sink);
}

/*
 * A responder that sends a good response and then more (a CRLF after the
 * Content-Length bytes, 4 KiB of junk) or no Content-Length at all: the
 * response is stapled and persisted, exactly its own bytes.
 */
struct sloppy {
	char mode[16];
};

static struct sloppy sloppy_modes[] = {{"crlf"}, {"junk"}, {"no-length"}};

ParameterizedTestParameters(fetch, a_good_response_followed_by_more_staples)
{
	return cr_make_param_array(struct sloppy, sloppy_modes,
				   sizeof(sloppy_modes) /
					   sizeof(sloppy_modes[0]));
}

ParameterizedTest(struct sloppy *m, fetch,
		  a_good_response_followed_by_more_staples, .timeout = 90)
{
	const char *mode = m->mode;
	char *sec;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, mode, 1), 0);
	sec = cert_section("ec", "localhost-ecdsa", r.url);
	start(NULL, "cert = ec\n", sec);
	cr_expect_eq(stapled(NULL, "ECDSA+SHA256"), 1, "%s: stapled", mode);
	cr_expect_eq(state_files(), 1, "%s: persisted", mode);
	cr_expect_eq(kst_h_count(edge.d.log, "OCSP fetch from"), 0,
		     "%s: no fetch failed", mode);
	free(sec);
	stop_all();
}
