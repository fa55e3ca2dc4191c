// SPDX-License-Identifier: MIT
/*
 * Start, check and stop as an operator sees them: `-t` reports every
 * error of a broken configuration with its line; SIGTERM stops accepting,
 * lets connections finish within the drain bound, and exits 0.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int check(const char *conf_text, char **out)
{
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("check.conf"), NULL};

	kst_h_write(kst_h_path("check.conf"), conf_text, 0644);
	return kst_h_run(argv, NULL, 0, out, 20000);
}

/* PEM pieces of the test PKI concatenated into dir/name, mode */
static const char *pem(const char *name, int mode, const char *const *parts)
{
	char *all = NULL, *tmp;
	const char *path = kst_h_path(name);

	for (; *parts; parts++) {
		char *p = kst_h_read(kst_h_pki(*parts));

		cr_assert_not_null(p, "%s", *parts);
		cr_assert(asprintf(&tmp, "%s%s", all ? all : "", p) > 0);
		free(all);
		free(p);
		all = tmp;
	}
	kst_h_write(path, all, mode);
	free(all);
	return path;
}

Test(lifecycle, check_accepts_a_good_configuration, .timeout = 30)
{
	char *web = kst_h_conf_web(8443, 8080, NULL), *conf = NULL, *out = NULL;

	cr_assert(asprintf(&conf, "[global]\nuser = nobody\n%s", web) > 0);
	cr_assert_eq(check(conf, &out), 0, "%s", out);
	cr_expect(strstr(out, "configuration OK") != NULL, "%s", out);
	free(out);
	free(conf);
	free(web);
}

Test(lifecycle, check_as_root_refuses_what_would_run_as_root, .timeout = 30)
{
	char *conf = kst_h_conf_web(8443, 8080, NULL), *out = NULL;

	kst_test_require(geteuid() == 0, "needs root");
	cr_expect_eq(check(conf, &out), 1, "%s", out);
	cr_expect(strstr(out, "refuses to serve as root") != NULL, "%s", out);
	free(out);
	free(conf);
}

Test(lifecycle, check_reports_every_broken_file_with_its_line, .timeout = 30)
{
	static const char *const leaf_int_key[] = {
		"localhost-ecdsa.crt", "int.crt", "localhost-ecdsa.key", NULL};
	static const char *const no_chain[] = {"localhost-ecdsa.crt",
					       "localhost-ecdsa.key", NULL};
	static const char *const wrong_key[] = {
		"localhost-ecdsa.crt", "int.crt", "other-ecdsa.key", NULL};
	static const char *const disorder[] = {"localhost-ecdsa.crt", "int.crt",
					       "rogue-ca.crt",
					       "localhost-ecdsa.key", NULL};
	char *text = NULL, *out = NULL, want[600];
	struct {
		int line;
		const char *needle;
	} expect[] = {
		{5, "does not match the certificate"},
		{6, "chain incomplete"},
		{7, "accessible by group or others"},
		{8, "cannot read"},
		{9, "chain out of order"},
		{10, "unknown option 'ciphers-typo'"},
		{11, "proxy-protocol: 'v3' is not one of"},
	};

	cr_assert(asprintf(&text,
			   "[listener:web]\n"		       /* 1 */
			   "bind = 127.0.0.1:8443\n"	       /* 2 */
			   "backend = 127.0.0.1:8080\n"	       /* 3 */
			   "# the certificates\n"	       /* 4 */
			   "cert = %s\n"		       /* 5 */
			   "cert = %s\n"		       /* 6 */
			   "cert = %s\n"		       /* 7 */
			   "cert = /nonexistent/missing.pem\n" /* 8 */
			   "cert = %s\n"		       /* 9 */
			   "ciphers-typo = HIGH\n"	       /* 10 */
			   "proxy-protocol = v3\n",	       /* 11 */
			   pem("wrongkey.pem", 0600, wrong_key),
			   pem("nochain.pem", 0600, no_chain),
			   pem("groupread.pem", 0640, leaf_int_key),
			   pem("disorder.pem", 0600, disorder)) > 0);
	cr_assert_eq(check(text, &out), 1, "%s", out);
	for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++) {
		snprintf(want, sizeof(want),
			 "%s:%d: ", kst_h_path("check.conf"), expect[i].line);
		cr_expect(strstr(out, want) != NULL &&
				  strstr(strstr(out, want), expect[i].needle) !=
					  NULL,
			  "expected \"%s...%s\" in:\n%s", want,
			  expect[i].needle, out);
	}
	cr_expect(strstr(out, "configuration OK") == NULL);
	free(text);
	free(out);
}

/* An issuer is told from a namesake by the key identifiers, or by the
 * signature when the leaf has none: int-twin has int's name on another
 * key. */
Test(lifecycle, check_tells_the_issuer_from_a_namesake, .timeout = 30)
{
	static const char *const twin_ids[] = {"localhost-ecdsa.crt",
					       "int-twin.crt",
					       "localhost-ecdsa.key", NULL};
	static const char *const twin_sig[] = {"noakid.crt", "int-twin.crt",
					       "noakid.key", NULL};
	static const char *const good_sig[] = {"noakid.crt", "int.crt",
					       "noakid.key", NULL};
	char *text = NULL, *out = NULL, want[600];

	cr_assert(asprintf(&text,
			   "[listener:web]\n"		/* 1 */
			   "bind = 127.0.0.1:8443\n"	/* 2 */
			   "backend = 127.0.0.1:8080\n" /* 3 */
			   "# the certificates\n"	/* 4 */
			   "cert = %s\n"		/* 5 */
			   "cert = %s\n"		/* 6 */
			   "cert = %s\n",		/* 7 */
			   pem("twin-ids.pem", 0600, twin_ids),
			   pem("twin-sig.pem", 0600, twin_sig),
			   pem("good-sig.pem", 0600, good_sig)) > 0);
	cr_assert_eq(check(text, &out), 1, "%s", out);
	for (int line = 5; line <= 7; line++) {
		const char *at;

		snprintf(want, sizeof(want),
			 "%s:%d: ", kst_h_path("check.conf"), line);
		at = strstr(out, want);
		if (line < 7)
			cr_expect(at != NULL &&
					  strstr(at, "chain incomplete") !=
						  NULL,
				  "expected \"%schain incomplete\" in:\n%s",
				  want, out);
		else
			cr_expect(at == NULL, "good-sig.pem refused:\n%s", out);
	}
	free(text);
	free(out);
}

Test(lifecycle, sigterm_lets_open_connections_finish_and_exits_0, .timeout = 60)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	char *conf, addr[64];
	char *argv[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			addr,
			"--send",
			"1M",
			"--expect-echo",
			"--half-close",
			"--hold",
			"2",
			NULL};
	int port = kst_h_free_port(), rc;
	long long t_term, t_client, t_exit;
	pid_t client;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, "[global]\ndrain-timeout = 20s\n");
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	client = kst_h_spawn(argv, kst_h_path("client.log"));
	usleep(800 * 1000); /* the transfer is done, the client holds on */
	t_term = now_ms();
	kill(d.pid, SIGTERM);
	cr_assert_eq(kst_h_wait_log(d.log, "stopping", 5000), 0);
	usleep(200 * 1000);
	cr_expect_neq(kst_h_wait_port("127.0.0.1", port, 300), 0,
		      "no new connections once draining");
	rc = kst_h_wait(client, 20000);
	t_client = now_ms();
	cr_expect_eq(rc, 0, "the open connection finished normally");
	cr_expect_eq(kst_h_wait(d.pid, 20000), 0, "exit status 0");
	t_exit = now_ms();
	cr_expect_geq(t_exit + 50, t_client,
		      "the daemon waited for the connection");
	cr_expect_lt(t_exit - t_term, 10000);
	d.pid = 0;
	kst_h_backend_stop(&b);
	free(conf);
}

Test(lifecycle, sigterm_drain_is_bounded, .timeout = 60)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	char *conf, addr[64];
	char *argv[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			addr,
			"--send",
			"10",
			"--expect-echo",
			"--hold",
			"30",
			NULL};
	int port = kst_h_free_port();
	long long t0;
	pid_t client;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, "[global]\ndrain-timeout = 1s\n");
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	client = kst_h_spawn(argv, kst_h_path("client.log"));
	usleep(500 * 1000);
	t0 = now_ms();
	kill(d.pid, SIGTERM);
	cr_expect_eq(kst_h_wait(d.pid, 10000), 0, "exit status 0");
	cr_expect_lt(now_ms() - t0, 4000, "within the 1 s drain bound");
	cr_expect_geq(now_ms() - t0, 900);
	d.pid = 0;
	kst_h_stop(client, SIGTERM, 5000);
	kst_h_backend_stop(&b);
	free(conf);
}

Test(lifecycle, check_warns_about_a_must_staple_cert_without_staple,
     .timeout = 30)
{
	char *conf = NULL, *out = NULL;

	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:8443\n"
			   "backend = 127.0.0.1:8080\ncert = %s\n",
			   kst_h_leaf("must-staple")) > 0);
	cr_expect_eq(check(conf, &out), 0, "a warning, not an error: %s", out);
	cr_expect(strstr(out, "warning: cert must-staple.pem is Must-Staple "
			      "(RFC 7633) but has no valid staple now") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "it will not be served") != NULL, "%s", out);
	free(out);
	free(conf);
}
