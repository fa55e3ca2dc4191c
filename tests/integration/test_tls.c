// SPDX-License-Identifier: MIT
/*
 * What a client sees of the TLS side: the certificate chosen by SNI and by
 * the key types it can verify (ECDSA and RSA for one name), ALPN, and what
 * the backend receives in the PROXY header.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(tls, .fini = fini);

/* The localhost ECDSA and RSA certs, then other-ecdsa; proxy: the backend
 * expects a PROXY header. */
static void start(bool proxy, const char *extra)
{
	struct kst_edge_conf c = {.web_certs = true};
	char *lines = NULL;

	cr_assert(asprintf(&lines, "cert = %s\n%s", kst_h_leaf("other-ecdsa"),
			   extra ? extra : "") > 0);
	c.listener = lines;
	kst_edge_backend(&edge, "echo", proxy);
	kst_edge_start(&edge, &c);
	free(lines);
}

/* Connect with the client arguments given; the output, asserted ok. */
static char *connect_print_v(const char *sni, const char *sigalgs,
			     const char *tls, bool verify)
{
	char *out = NULL;
	char *argv[16];
	int argc = 0, rc;

	argv[argc++] = "-c";
	argv[argc++] = edge.addr;
	argv[argc++] = "--print";
	argv[argc++] = "--ca";
	argv[argc++] = (char *)kst_h_pki("root.crt");
	if (!verify)
		argc -= 2;
	if (sni) {
		argv[argc++] = "--sni";
		argv[argc++] = (char *)sni;
	}
	if (sigalgs) {
		argv[argc++] = "--sigalgs";
		argv[argc++] = (char *)sigalgs;
	}
	if (tls) {
		argv[argc++] = "--tls";
		argv[argc++] = (char *)tls;
	}
	argv[argc] = NULL;
	rc = kst_h_client(&out, 20000, argv[0], argv[1], argv[2], argv[3],
			  argv[4], argv[5], argv[6], argv[7], argv[8], argv[9],
			  argv[10], argv[11], NULL);
	cr_assert_eq(rc, 0, "%s", out);
	return out;
}

static char *connect_print(const char *sni, const char *sigalgs,
			   const char *tls)
{
	return connect_print_v(sni, sigalgs, tls, true);
}

Test(tls, gives_each_client_the_key_type_it_supports, .timeout = 60)
{
	static const struct {
		const char *sigalgs, *tls, *key;
	} cases[] = {
		{NULL, "1.3", "EC"},
		{"ECDSA+SHA256:RSA-PSS+SHA256", "1.3", "EC"},
		{"RSA-PSS+SHA256", "1.3", "RSA"},
		{"ECDSA+SHA256", "1.2", "EC"},
		{"RSA+SHA256", "1.2", "RSA"},
	};

	start(false, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *out = connect_print("localhost", cases[i].sigalgs,
					  cases[i].tls);

		cr_expect_str_eq(kst_h_kv(out, "peer_key"), cases[i].key,
				 "sigalgs %s over TLS %s", cases[i].sigalgs,
				 cases[i].tls);
		cr_expect_str_eq(kst_h_kv(out, "verify"), "ok",
				 "chain verifies to the root");
		free(out);
	}
	kst_edge_stop(&edge);
}

Test(tls, openssl_s_client_agrees_on_the_key_type, .timeout = 60)
{
	char *out = NULL;
	char *ec[] = {"openssl",  "s_client",	  "-connect",
		      edge.addr,  "-servername",  "localhost",
		      "-sigalgs", "ECDSA+SHA256", NULL};
	char *rsa[] = {"openssl",  "s_client",	     "-connect",
		       edge.addr,  "-servername",    "localhost",
		       "-sigalgs", "RSA-PSS+SHA256", NULL};

	start(false, NULL);
	cr_assert_eq(kst_h_run(ec, "Q\n", 2, &out, 20000), 0, "%s", out);
	cr_expect(strstr(out, "Server public key is 256 bit") != NULL, "%s",
		  out);
	free(out);
	cr_assert_eq(kst_h_run(rsa, "Q\n", 2, &out, 20000), 0, "%s", out);
	cr_expect(strstr(out, "Server public key is 2048 bit") != NULL, "%s",
		  out);
	free(out);
	kst_edge_stop(&edge);
}

Test(tls, selects_the_certificate_by_sni_with_wildcards, .timeout = 60)
{
	char *out;

	start(false, NULL);
	out = connect_print("other.test", NULL, NULL);
	cr_expect_str_eq(kst_h_kv(out, "peer_subject"), "CN=other.test");
	free(out);
	out = connect_print("x.wild.test", NULL, NULL);
	cr_expect_str_eq(kst_h_kv(out, "peer_subject"), "CN=other.test",
			 "*.wild.test covers x.wild.test");
	free(out);
	/* (not verified: the default certificate does not name it) */
	out = connect_print_v("unknown.example", NULL, NULL, false);
	cr_expect_str_eq(kst_h_kv(out, "peer_subject"), "CN=localhost",
			 "no match: the listener's first certificate");
	free(out);
	kst_edge_stop(&edge);
}

Test(tls, negotiates_alpn_from_the_configured_list, .timeout = 60)
{
	char *out = NULL;

	start(false, "alpn = h2,http/1.1\n");
	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--print",
				  "--alpn", "http/1.1,h2", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "alpn"), "h2", "server preference");
	free(out);
	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--print",
				  "--alpn", "spdy/3", NULL),
		     0, "no overlap: no ALPN, handshake goes on: %s", out);
	cr_expect_str_eq(kst_h_kv(out, "alpn"), "");
	free(out);
	kst_edge_stop(&edge);
}

Test(tls, honours_the_minimum_version_and_cipher_lists, .timeout = 60)
{
	char *out = NULL;

	start(false, "tls-min-version = 1.3\n"
		     "ciphersuites = TLS_CHACHA20_POLY1305_SHA256\n");
	cr_assert_neq(kst_h_client(&out, 20000, "-c", edge.addr, "--tls", "1.2",
				   NULL),
		      0, "TLS 1.2 refused: %s", out);
	free(out);
	out = connect_print(NULL, NULL, "1.3");
	cr_expect_str_eq(kst_h_kv(out, "cipher"),
			 "TLS_CHACHA20_POLY1305_SHA256");
	free(out);
	kst_edge_stop(&edge);
}

static char *proxy_header_seen(const char *alpn)
{
	char *out = NULL, *rec;

	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--sni",
				  "localhost", "--alpn", alpn, "--send", "1000",
				  "--expect-echo", "--half-close", NULL),
		     0, "%s", out);
	free(out);
	cr_assert_eq(kst_h_wait_log(edge.b.record, "version", 5000), 0);
	rec = kst_h_read(edge.b.record);
	cr_assert_not_null(rec);
	return rec;
}

Test(tls, sends_proxy_v2_with_alpn_sni_version_and_cipher, .timeout = 60)
{
	char *rec;

	start(true, "proxy-protocol = v2\nalpn = h2,http/1.1\n");
	rec = proxy_header_seen("h2");
	cr_expect(strstr(rec, "\"version\":2") != NULL, "%s", rec);
	cr_expect(strstr(rec, "\"src\":\"127.0.0.1:") != NULL, "%s", rec);
	cr_expect(strstr(rec, edge.addr) != NULL, "dst is our listener: %s",
		  rec);
	cr_expect(strstr(rec, "\"alpn\":\"h2\"") != NULL, "%s", rec);
	cr_expect(strstr(rec, "\"authority\":\"localhost\"") != NULL, "%s",
		  rec);
	cr_expect(strstr(rec, "\"ssl_version\":\"TLSv1.3\"") != NULL, "%s",
		  rec);
	cr_expect(strstr(rec, "\"ssl_cipher\":\"TLS_") != NULL, "%s", rec);
	free(rec);
	kst_edge_stop(&edge);
}

Test(tls, sends_proxy_v1, .timeout = 60)
{
	char *rec;

	start(true, "proxy-protocol = v1\n");
	rec = proxy_header_seen("h2");
	cr_expect(strstr(rec, "\"version\":1") != NULL, "%s", rec);
	cr_expect(strstr(rec, "\"src\":\"127.0.0.1:") != NULL, "%s", rec);
	free(rec);
	kst_edge_stop(&edge);
}

/* Bytes of the log that are neither printable ASCII nor a line end. */
static size_t log_control_bytes(const char *log)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)log; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			n++;
	return n;
}

/*
 * Issue 12 #7: the server name was taken with any byte but NUL and DEL+,
 * and logged raw, so a client could write lines (and journal priorities)
 * into the daemon's log. A name that is not a host name is refused with
 * unrecognized_name; the log shows it escaped; an IP literal counts as no
 * server name (the listener's default certificate).
 */
Test(tls, refuses_a_server_name_that_is_not_a_host_name, .timeout = 90)
{
	static const char *const bad[] = {"evil\n<0>kstapled: forged line",
					  "a\x01.test", "localhost.",
					  "under_score.test"};
	char ctl[] = "ctl\x01\x1b[2J.test";
	char *sc[] = {"openssl",     "s_client", "-connect", edge.addr,
		      "-servername", ctl,	 NULL};
	char *out = NULL, *log;
	int rc;

	start(false, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		rc = kst_h_client(&out, 20000, "-c", edge.addr, "--print",
				  "--sni", bad[i], NULL);
		cr_expect_neq(rc, 0, "server name #%zu was accepted:\n%s", i,
			      out);
		free(out);
	}
	rc = kst_h_run(sc, "Q\n", 2, &out, 20000);
	cr_expect_neq(rc, 0, "s_client got through:\n%s", out);
	cr_expect(strstr(out, "unrecognized name") != NULL,
		  "alert unrecognized_name expected:\n%s", out);
	free(out);
	/* an IP literal: served, with the default certificate */
	out = connect_print_v("127.0.0.1", NULL, NULL, false);
	cr_expect_str_eq(kst_h_kv(out, "peer_subject"), "CN=localhost");
	free(out);
	/* and good names still work */
	out = connect_print("other.test", NULL, NULL);
	cr_expect_str_eq(kst_h_kv(out, "peer_subject"), "CN=other.test");
	free(out);
	kst_edge_stop(&edge);
	log = kst_h_read(edge.d.log);
	cr_assert_not_null(log);
	cr_expect_eq(log_control_bytes(log), 0,
		     "raw control bytes in the daemon's log");
	cr_expect(strstr(log, "\n<0>kstapled: forged") == NULL,
		  "a forged line made it into the log");
	cr_expect(strstr(log, "evil\\x0a<0>kstapled: forged line") != NULL,
		  "the refused name is logged escaped:\n%s", log);
	cr_expect(strstr(log, "ctl\\x01\\x1b[2J.test") != NULL,
		  "the s_client name is logged escaped");
	free(log);
}
