// SPDX-License-Identifier: MIT
/*
 * Stapling from staple files, as real clients see it: openssl s_client
 * -status, curl --cert-status, gnutls-cli --ocsp, and kst-client (which
 * checks the staple's serial against the served certificate). Fetching is
 * off here: these tests are about the operator's files and the policies.
 */
#include <criterion/criterion.h>
#include <openssl/ocsp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(stapling, .fini = fini);

/* A staple file beside the test's copy of leaf: the CLI-made response
 * (good for 10 years), or minted with the given times. */
static void staple_cli(const char *leaf)
{
	char src[128], dst[128];

	snprintf(src, sizeof(src), "ocsp/%s.der", leaf);
	snprintf(dst, sizeof(dst), "%s.pem.ocsp", leaf);
	cr_assert_eq(kst_h_copy(kst_h_pki(src), kst_h_path(dst), 0644), 0);
}

static void staple_minted(const char *leaf, int status, time_t this_update,
			  time_t next_update)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char dst[128];

	cr_assert_eq(kst_mint_simple(leaf, status, this_update, next_update,
				     "int", &der, &len),
		     0);
	snprintf(dst, sizeof(dst), "%s.pem.ocsp", leaf);
	cr_assert_eq(kst_mint_write(kst_h_path(dst), der, len), 0);
	OPENSSL_free(der);
}

/* certs: the listener's cert lines */
static void start(const char *global, const char *certs)
{
	struct kst_edge_conf c = {
		.global = global, .ocsp = "fetch = off\n", .listener = certs};

	kst_edge_start(&edge, &c);
}

static char *certs_line(const char *a, const char *b2)
{
	char *s = NULL;

	cr_assert(asprintf(&s, "cert = %s\n%s%s%s", kst_h_leaf(a),
			   b2 ? "cert = " : "", b2 ? kst_h_leaf(b2) : "",
			   b2 ? "\n" : "") > 0);
	return s;
}

/* kst-client --status --print, with optional sigalgs and sni */
static char *status_print(const char *sigalgs, const char *sni, bool ok)
{
	char *out = NULL;
	int rc = kst_h_client(&out, 20000, "-c", edge.addr, "--status",
			      "--print", "--ca", kst_h_pki("root.crt"), "--sni",
			      sni ? sni : "localhost", "--sigalgs",
			      sigalgs ? sigalgs : "ECDSA+SHA256:RSA-PSS+SHA256",
			      NULL);

	if (ok)
		cr_assert_eq(rc, 0, "%s", out);
	else
		cr_assert_neq(rc, 0, "expected a failed handshake: %s", out);
	return out;
}

Test(stapling, openssl_s_client_sees_a_successful_response_for_its_serial,
     .timeout = 60)
{
	char *certs, *out = NULL, *serial, want[128];
	char *argv[] = {"openssl", "s_client",	  "-connect",  edge.addr,
			"-status", "-servername", "localhost", NULL};

	staple_cli("localhost-ecdsa");
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	cr_assert_eq(kst_h_run(argv, "Q\n", 2, &out, 20000), 0, "%s", out);
	cr_expect(strstr(out, "OCSP Response Status: successful (0x0)") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "Cert Status: good") != NULL);
	serial = kst_h_read(kst_h_pki("leaves.txt"));
	/* leaves.txt: name<TAB>serial<TAB>subject */
	sscanf(strstr(serial, "localhost-ecdsa\t") + 16, "%127s", want);
	cr_expect(strstr(out, want) != NULL, "serial %s in:\n%s", want, out);
	free(serial);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, curl_cert_status_passes_with_a_staple_and_fails_without,
     .timeout = 60)
{
	char *certs, *out = NULL, url[128];
	/* the ECDSA cert has a staple, the RSA cert none; curl's request is
	 * echoed back as a (malformed) response: only the TLS part matters */
	char *ec[] = {"curl",
		      "-sS",
		      "--cert-status",
		      "--cacert",
		      (char *)kst_h_pki("root.crt"),
		      "--max-time",
		      "5",
		      url,
		      NULL};
	char *rsa[] = {"curl",
		       "-sS",
		       "--cert-status",
		       "--cacert",
		       (char *)kst_h_pki("root.crt"),
		       "--max-time",
		       "5",
		       "--tls-max",
		       "1.2",
		       "--ciphers",
		       "ECDHE-RSA-AES128-GCM-SHA256",
		       url,
		       NULL};

	staple_cli("localhost-ecdsa");
	certs = certs_line("localhost-ecdsa", "localhost-rsa");
	start(NULL, certs);
	snprintf(url, sizeof(url), "https://localhost:%d/", edge.port);
	kst_h_run(ec, NULL, 0, &out, 20000);
	cr_expect(strstr(out, "OCSP") == NULL, "ECDSA: staple accepted: %s",
		  out);
	free(out);
	kst_h_run(rsa, NULL, 0, &out, 20000);
	cr_expect(strstr(out, "No OCSP response received") != NULL,
		  "RSA: no staple, curl refuses: %s", out);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, gnutls_cli_verifies_the_staple, .timeout = 60)
{
	char *certs, *out = NULL, p[16];
	char *argv[] = {"gnutls-cli",
			"--x509cafile",
			(char *)kst_h_pki("root.crt"),
			"--ocsp",
			"-p",
			p,
			"localhost",
			NULL};

	staple_cli("localhost-ecdsa");
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	snprintf(p, sizeof(p), "%d", edge.port);
	kst_h_run(argv, "", 0, &out, 20000);
	cr_expect(strstr(out, "OCSP status request") != NULL, "%s", out);
	cr_expect(strstr(out, "The certificate is trusted") != NULL, "%s", out);
	cr_expect(strstr(out, "Connecting to OCSP server") == NULL,
		  "it had no need to ask the responder: %s", out);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, ecdsa_and_rsa_clients_each_get_their_certs_own_staple,
     .timeout = 60)
{
	char *certs, *out;

	staple_cli("localhost-ecdsa");
	staple_cli("localhost-rsa");
	certs = certs_line("localhost-ecdsa", "localhost-rsa");
	start(NULL, certs);
	out = status_print("ECDSA+SHA256", NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "peer_key"), "EC");
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	cr_expect_str_eq(kst_h_kv(out, "staple_matches_cert"), "1",
			 "the staple is for the served cert: %s", out);
	cr_expect_str_eq(kst_h_kv(out, "staple_serial"),
			 kst_h_kv(out, "peer_serial"));
	free(out);
	out = status_print("RSA-PSS+SHA256", NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "peer_key"), "RSA");
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	cr_expect_str_eq(kst_h_kv(out, "staple_matches_cert"), "1", "%s", out);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, a_client_that_does_not_ask_gets_no_staple, .timeout = 60)
{
	char *certs, *out = NULL;

	staple_cli("localhost-ecdsa");
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	cr_assert_eq(
		kst_h_client(&out, 20000, "-c", edge.addr, "--print", NULL), 0,
		"%s", out);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "0");
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, an_expired_staple_file_is_not_stapled, .timeout = 60)
{
	char *certs, *out;
	time_t now = time(NULL);

	staple_minted("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD, now - 7200,
		      now - 60);
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "0");
	cr_expect_eq(kst_h_count(edge.d.log, "rejected (expired)"), 1,
		     "the reason is logged once");
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, a_staple_stops_being_stapled_when_its_next_update_passes,
     .timeout = 60)
{
	char *certs, *out;
	time_t now = time(NULL);

	staple_minted("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD, now - 60,
		      now + 3);
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	free(out);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "staple expired", 8000), 0);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "0",
			 "nothing past nextUpdate is stapled");
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, replacing_the_file_under_load_switches_without_failures,
     .timeout = 120)
{
	char *certs, *out = NULL, *first, *second;
	char *argv[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			edge.addr,
			"--status",
			"--require-staple",
			"--send",
			"2k",
			"--expect-echo",
			"--half-close",
			"--conns",
			"600",
			"--parallel",
			"6",
			NULL};
	time_t now = time(NULL);
	pid_t load;
	int rc;

	staple_minted("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD, now - 3600,
		      now + 86400);
	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	out = status_print(NULL, NULL, true);
	first = strdup(kst_h_kv(out, "staple_sha256"));
	free(out);
	load = kst_h_spawn(argv, kst_h_path("load.log"));
	for (int i = 1; i <= 5; i++) {
		usleep(200 * 1000);
		staple_minted("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
			      now - 3600 + i, now + 86400 + i);
	}
	rc = kst_h_wait(load, 90000);
	out = kst_h_read(kst_h_path("load.log"));
	cr_expect_eq(rc, 0, "no connection failed during the swaps: %s", out);
	cr_expect(strstr(out, "failed=0") != NULL, "%s", out);
	free(out);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "good until", 5000), 0);
	usleep(300 * 1000);
	out = status_print(NULL, NULL, true);
	second = strdup(kst_h_kv(out, "staple_sha256"));
	cr_expect_str_neq(first, second, "the new file is stapled");
	cr_expect_geq(kst_h_count(edge.d.log, "stapling staple file"), 2);
	free(out);
	free(first);
	free(second);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, a_must_staple_cert_is_never_served_without_a_staple,
     .timeout = 60)
{
	char *certs, *out;

	certs = certs_line("must-staple", NULL);
	start(NULL, certs);
	out = status_print(NULL, "must-staple.test", false);
	free(out);
	cr_expect_gt(
		kst_h_count(edge.d.log, "must-staple without a valid staple"),
		0, "the log says why");
	/* the staple arrives: served and stapled, without a reload */
	staple_cli("must-staple");
	cr_assert_eq(kst_h_wait_log(edge.d.log,
				    "cert must-staple.pem: stapling", 8000),
		     0);
	out = status_print(NULL, "must-staple.test", true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, strict_policy_falls_back_to_another_cert_when_a_staple_expires,
     .timeout = 60)
{
	char *certs = NULL, *out;
	time_t now = time(NULL);

	staple_minted("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD, now - 60,
		      now + 3);
	staple_cli("localhost-rsa");
	cr_assert(asprintf(&certs,
			   "cert = ec\ncert = %s\n[cert:ec]\npem = %s\n"
			   "policy = strict\n",
			   kst_h_leaf("localhost-rsa"),
			   kst_h_leaf("localhost-ecdsa")) > 0);
	start(NULL, certs);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "peer_key"), "EC");
	free(out);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "staple expired", 8000), 0);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "peer_key"), "RSA",
			 "the strict ECDSA cert is no longer served");
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	free(out);
	out = status_print("ECDSA+SHA256", NULL, false); /* nothing left */
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, a_revoked_response_is_not_stapled_and_logged_critical,
     .timeout = 60)
{
	char *certs = NULL, *out;

	staple_cli("revoked");
	cr_assert(asprintf(&certs, "cert = %s\n", kst_h_leaf("revoked")) > 0);
	start(NULL, certs);
	out = status_print(NULL, "revoked.test", true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "0");
	free(out);
	cr_expect_eq(kst_h_count(edge.d.log, "crit: cert revoked.pem"), 1);
	cr_expect_gt(kst_h_count(edge.d.log, "keyCompromise"), 0,
		     "the reason is in the log");
	free(certs);
	kst_edge_stop(&edge);
}

Test(stapling, sighup_reloads_staples_and_keeps_serving, .timeout = 60)
{
	char *certs, *out;

	certs = certs_line("localhost-ecdsa", NULL);
	start(NULL, certs);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "0");
	free(out);
	staple_cli("localhost-ecdsa");
	cr_assert_eq(kst_h_daemon_reload(&edge.d), 0);
	out = status_print(NULL, NULL, true);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

/* The number of the first line of file starting with prefix; 0: none. */
static int line_of(const char *file, const char *prefix)
{
	char *text = kst_h_read(file), *p = text;
	int n = 1;

	while (p != NULL && strncmp(p, prefix, strlen(prefix)) != 0) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
		n++;
	}
	free(text);
	return p != NULL ? n : 0;
}

/*
 * Issue 12, defect 6: a FIFO where the staple file should be used to block
 * the control thread in open() at start-up (and SIGTERM, read from a
 * signalfd by that thread, could not stop it). Every wait below is bounded
 * so that, against such a daemon, the test fails instead of hanging.
 */
Test(stapling, a_fifo_as_staple_file_is_refused_without_hanging, .timeout = 90)
{
	char *certs, *text = NULL, *out = NULL, want[700];
	const char *fifo = kst_h_path("localhost-ecdsa.pem.ocsp");
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c", edge.d.conf,
			 NULL};
	int started, rc;

	cr_assert_eq(mkfifo(fifo, 0644), 0);
	certs = certs_line("localhost-ecdsa", NULL);
	edge.port = kst_h_free_port();
	cr_assert_eq(kst_h_backend_start(&edge.b, "echo", false), 0);
	cr_assert(asprintf(&text,
			   "[ocsp]\nfetch = off\n[listener:web]\n"
			   "bind = 127.0.0.1:%d\nbackend = 127.0.0.1:%d\n%s",
			   edge.port, edge.b.port, certs) > 0);
	snprintf(edge.addr, sizeof(edge.addr), "127.0.0.1:%d", edge.port);
	/* the harness waits at most 10 s for "started" */
	started = kst_h_daemon_start(&edge.d, text);
	cr_expect_eq(started, 0, "starts within bounded time");
	snprintf(want, sizeof(want), "%s: not a regular file", fifo);
	cr_expect_eq(kst_h_count(edge.d.log, want), 1,
		     "the log names the path and why, once");
	if (started == 0) {
		out = status_print(NULL, NULL, true); /* still serves */
		cr_expect_str_eq(kst_h_kv(out, "stapled"), "0");
		free(out);
	}
	rc = kst_h_run(check, NULL, 0, &out, 10000);
	cr_expect_eq(rc, 1, "kstapled -t fails (%d): %s", rc, out);
	/* an error (warnings say "warning:") at the cert's FILE:LINE */
	snprintf(want, sizeof(want),
		 "%s:%d: cert localhost-ecdsa.pem: "
		 "staple file %s: not a regular file",
		 edge.d.conf, line_of(edge.d.conf, "cert = "), fifo);
	cr_expect(out != NULL && strstr(out, want) != NULL,
		  "a FILE:LINE error naming the FIFO: %s", out);
	free(out);
	rc = kst_h_stop(edge.d.pid, SIGTERM, 5000);
	cr_expect_eq(rc, 0, "SIGTERM stops it (exit status %d)", rc);
	edge.d.pid = 0;
	kst_h_backend_stop(&edge.b);
	free(text);
	free(certs);
}
