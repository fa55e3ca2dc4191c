// SPDX-License-Identifier: MIT
/*
 * The pinned maps of a running daemon, read the way operators read them:
 * `bpftool -j map dump pinned` (parsed here), `kstapled status` and
 * `--json`, compared with what the staple file says (`openssl ocsp
 * -resp_text`) and with what the clients did.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <openssl/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

TestSuite(metrics, .fini = fini);

/* The test's own pin directory, unless global names another. */
static void start(const char *global, const char *certs)
{
	struct kst_edge_conf c = {
		.global = global, .ocsp = "fetch = off\n", .listener = certs};

	kst_edge_pins(&edge, "metrics");
	kst_edge_start(&edge, &c);
}

/* `bpftool -j map dump pinned <pins>/kst_certs_v2`, after a flush */
static char *dump(void)
{
	char map[256],
		*argv[] = {"bpftool", "-j", "map", "dump", "pinned", map, NULL};
	char *out = NULL;

	usleep(1300 * 1000);
	snprintf(map, sizeof(map), "%s/kst_certs_v2", edge.pins);
	cr_assert_eq(kst_h_run(argv, NULL, 0, &out, 10000), 0, "%s", out);
	return out;
}

/* A field of the entry named cert in a bpftool -j dump: its text. */
static char *field(const char *dumpt, const char *cert, const char *key)
{
	return kst_h_json_get(dumpt, cert, key);
}

static long long field_num(const char *dumpt, const char *cert, const char *key)
{
	char *v = field(dumpt, cert, key);
	long long n;

	cr_assert_not_null(v, "%s.%s in the dump:\n%s", cert, key, dumpt);
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

static int entries(const char *dumpt)
{
	int n = 0;

	for (const char *p = dumpt; (p = strstr(p, "\"name\":")); p++)
		n++;
	return n;
}

/* "This Update: Nov 21 11:42:28 2026 GMT" from openssl ocsp -resp_text */
static time_t ocsp_time(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	struct tm tm = {0};

	cr_assert_not_null(p, "%s in:\n%s", label, text);
	p += strlen(label);
	while (*p == ' ')
		p++;
	cr_assert_not_null(strptime(p, "%b %d %H:%M:%S %Y GMT", &tm));
	return timegm(&tm);
}

static void staple_cli(const char *leaf)
{
	char src[128], dst[128];

	snprintf(src, sizeof(src), "ocsp/%s.der", leaf);
	snprintf(dst, sizeof(dst), "%s.pem.ocsp", leaf);
	cr_assert_eq(kst_h_copy(kst_h_pki(src), kst_h_path(dst), 0644), 0);
}

static int stapled_handshakes(int n)
{
	char *out = NULL, num[16];
	int rc;

	snprintf(num, sizeof(num), "%d", n);
	rc = kst_h_client(&out, 30000, "-c", edge.addr, "--status",
			  "--require-staple", "--conns", num, "--parallel", "2",
			  NULL);
	free(out);
	return rc;
}

Test(metrics, the_map_shows_each_cert_with_its_staples_times_and_counts,
     .timeout = 90)
{
	char *certs = NULL, *dumpt, *text = NULL, *st;
	char *argv[] = {
		"openssl",    "ocsp",
		"-respin",    (char *)kst_h_pki("ocsp/localhost-ecdsa.der"),
		"-resp_text", "-noverify",
		NULL};

	staple_cli("localhost-ecdsa");
	cr_assert(asprintf(&certs, "cert = %s\ncert = %s\n",
			   kst_h_leaf("localhost-ecdsa"),
			   kst_h_leaf("localhost-rsa")) > 0);
	start(NULL, certs);
	dumpt = dump();
	cr_expect_eq(entries(dumpt), 2, "one entry per cert:\n%s", dumpt);
	cr_assert_eq(kst_h_run(argv, NULL, 0, &text, 10000), 0);
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "this_update"),
		     ocsp_time(text, "This Update:"));
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "next_update"),
		     ocsp_time(text, "Next Update:"));
	st = field(dumpt, "localhost-ecdsa.pem", "state");
	cr_expect_str_eq(st, "KST_STAPLE_FRESH");
	free(st);
	st = field(dumpt, "localhost-rsa.pem", "state");
	cr_expect_str_eq(st, "KST_STAPLE_MISSING");
	free(st);
	/* the value names its certificate as openssl does (lower case) */
	{
		char *fp = NULL,
		     *fpargv[] = {"openssl",
				  "x509",
				  "-noout",
				  "-fingerprint",
				  "-sha256",
				  "-in",
				  (char *)kst_h_leaf("localhost-ecdsa"),
				  NULL};

		cr_assert_eq(kst_h_run(fpargv, NULL, 0, &fp, 10000), 0);
		for (char *q = fp; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		st = field(dumpt, "localhost-ecdsa.pem", "sha256");
		cr_assert_not_null(st);
		cr_expect_eq(strlen(st), 95, "%s", st);
		cr_expect_not_null(strstr(fp, st), "%s not in %s", st, fp);
		free(st);
		free(fp);
	}
	free(dumpt);
	/* served rises by exactly the stapled handshakes done */
	cr_assert_eq(stapled_handshakes(7), 0);
	dumpt = dump();
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "staples_served"),
		     7);
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "handshakes"), 7);
	cr_expect_eq(field_num(dumpt, "localhost-rsa.pem", "handshakes"), 0);
	free(dumpt);
	cr_assert_eq(stapled_handshakes(5), 0);
	dumpt = dump();
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "staples_served"),
		     12);
	free(dumpt);
	free(text);
	free(certs);
	kst_edge_stop(&edge);
}

Test(metrics, state_changes_show_within_the_flush_interval, .timeout = 90)
{
	unsigned char *der = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	char *certs = NULL, *dumpt, *st;

	cr_assert_eq(kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				     now - 60, now + 3, "int", &der, &len),
		     0);
	cr_assert_eq(kst_mint_write(kst_h_path("localhost-ecdsa.pem.ocsp"), der,
				    len),
		     0);
	OPENSSL_free(der);
	staple_cli("revoked");
	cr_assert(asprintf(&certs, "cert = %s\ncert = %s\n",
			   kst_h_leaf("localhost-ecdsa"),
			   kst_h_leaf("revoked")) > 0);
	start(NULL, certs);
	dumpt = dump();
	st = field(dumpt, "localhost-ecdsa.pem", "state");
	cr_expect_str_eq(st, "KST_STAPLE_FRESH");
	free(st);
	st = field(dumpt, "revoked.pem", "state");
	cr_expect_str_eq(st, "KST_STAPLE_REVOKED");
	free(st);
	free(dumpt);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "staple expired", 8000), 0);
	dumpt = dump(); /* within one flush of the drop */
	st = field(dumpt, "localhost-ecdsa.pem", "state");
	cr_expect_str_eq(st, "KST_STAPLE_EXPIRED", "%s", dumpt);
	cr_expect_eq(
		field_num(dumpt, "localhost-ecdsa.pem", "secs_to_next_update"),
		0);
	free(st);
	free(dumpt);
	free(certs);
	kst_edge_stop(&edge);
}

Test(metrics, status_and_json_agree_with_the_map_and_a_reload_prunes,
     .timeout = 90)
{
	char *certs = NULL, *dumpt, *out = NULL, *json = NULL;
	char *table[] = {(char *)kst_h_kstapled(), "status", "--pin-dir",
			 edge.pins, NULL};
	char *js[] = {(char *)kst_h_kstapled(),
		      "status",
		      "--json",
		      "--pin-dir",
		      edge.pins,
		      NULL};

	staple_cli("localhost-ecdsa");
	staple_cli("other-ecdsa");
	cr_assert(asprintf(&certs, "cert = %s\ncert = %s\n",
			   kst_h_leaf("localhost-ecdsa"),
			   kst_h_leaf("other-ecdsa")) > 0);
	start(NULL, certs);
	cr_assert_eq(stapled_handshakes(3), 0);
	dumpt = dump();
	cr_expect_eq(kst_h_run(table, NULL, 0, &out, 10000), 0,
		     "all fine: exit 0:\n%s", out);
	cr_expect(strstr(out, "localhost-ecdsa.pem") &&
			  strstr(out, "other-ecdsa.pem") &&
			  strstr(out, "fresh"),
		  "%s", out);
	cr_expect_eq(kst_h_run(js, NULL, 0, &json, 10000), 0);
	cr_expect(strstr(json, "\"staples_served\":3") != NULL, "%s", json);
	cr_expect_eq(field_num(dumpt, "localhost-ecdsa.pem", "staples_served"),
		     3);
	free(out);
	free(json);
	free(dumpt);
	/* a reload that removes a cert removes its entry */
	{
		char *conf = kst_h_read(edge.d.conf),
		     *p = strstr(conf, "cert = ");

		p = strstr(p + 1, "cert = ");
		*p = '\0';
		kst_h_write(edge.d.conf, conf, 0644);
		free(conf);
	}
	cr_assert_eq(kst_h_daemon_reload(&edge.d), 0);
	dumpt = dump();
	cr_expect_eq(entries(dumpt), 1, "%s", dumpt);
	cr_expect_null(field(dumpt, "other-ecdsa.pem", "name"));
	free(dumpt);
	free(certs);
	kst_edge_stop(&edge);
}

Test(metrics, a_cert_in_a_bad_state_makes_status_exit_1, .timeout = 90)
{
	char *certs = NULL, *out = NULL;
	char *table[] = {(char *)kst_h_kstapled(), "status", "--pin-dir",
			 edge.pins, NULL};

	/* must-staple without a staple: the monitoring check fails */
	cr_assert(asprintf(&certs, "cert = %s\n", kst_h_leaf("must-staple")) >
		  0);
	start(NULL, certs);
	usleep(1300 * 1000);
	cr_expect_eq(kst_h_run(table, NULL, 0, &out, 10000), 1, "%s", out);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}

Test(metrics, the_daemon_serves_without_bpf, .timeout = 90)
{
	char *certs = NULL, *out = NULL;

	staple_cli("localhost-ecdsa");
	cr_assert(asprintf(&certs, "cert = %s\n",
			   kst_h_leaf("localhost-ecdsa")) > 0);
	/* bpf-pin-dir on a file system that is not bpffs */
	start("bpf-pin-dir = /tmp\n", certs);
	cr_expect_eq(kst_h_count(edge.d.log, "notice: metrics: no BPF export"),
		     1, "one clear notice");
	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--status",
				  "--require-staple", "--send", "1k",
				  "--expect-echo", NULL),
		     0, "%s", out);
	free(out);
	cr_expect_eq(kst_h_daemon_stop(&edge.d), 0);
	kst_h_backend_stop(&edge.b);
	/* and with it empty */
	start("bpf-pin-dir =\n", certs);
	cr_expect_eq(kst_h_count(edge.d.log, "no BPF export"), 2,
		     "one line each run");
	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--status",
				  "--require-staple", NULL),
		     0, "%s", out);
	free(out);
	free(certs);
	kst_edge_stop(&edge);
}
