// SPDX-License-Identifier: MIT
/*
 * The benchmark's load generator, run as a user runs it: the real
 * kst-load binary against `openssl s_server` on loopback (serving the
 * test PKI's ECDSA certificate and its staple), its one JSON line read
 * back. What is checked is what the benchmark's tables rely on: every
 * handshake counted, staples compared byte for byte, only the key type
 * under test offered, failures counted by reason, byte counts checked,
 * the server found by its session.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

#define RUN_MS 30000

static struct kst_tool load_server;
static int load_server_port;

static const char *load_bin(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/bench/kst-load", kst_test_builddir());
	return path;
}

static char *load_pki(const char *name)
{
	char *p = kst_test_pki_path(name);

	cr_assert_not_null(p);
	return p;
}

/* s_server in its own session (so --server-sid finds exactly it). */
static void load_start_server(const char *www_flag)
{
	char accept[32];
	char *crt = load_pki("localhost-ecdsa.crt");
	char *key = load_pki("localhost-ecdsa.key");
	char *chain = load_pki("int.crt");
	char *staple = load_pki("ocsp/localhost-ecdsa.der");
	char *argv[] = {"setsid", "openssl",	    "s_server", "-accept",
			accept,	  "-cert",	    crt,	"-key",
			key,	  "-cert_chain",    chain,	"-status_file",
			staple,	  (char *)www_flag, NULL};

	load_server_port = kst_free_port();
	cr_assert_gt(load_server_port, 0);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", load_server_port);
	cr_assert_eq(kst_tool_start(&load_server, argv, "ACCEPT", 10000), 0,
		     "openssl s_server did not start");
	free(crt);
	free(key);
	free(chain);
	free(staple);
}

static void load_stop_server(void)
{
	kst_tool_release(&load_server);
}

/* Runs kst-load with args (NULL-terminated); returns its JSON line. */
static char *load_run(int *status, const char *first, ...)
{
	char *argv[40] = {(char *)load_bin()};
	char *out = NULL, *json;
	const char *a;
	int n = 1;
	va_list ap;

	va_start(ap, first);
	for (a = first; a && n < 39; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	*status = kst_tool_run(argv, NULL, 0, RUN_MS, &out);
	cr_assert_not_null(out);
	json = strstr(out, "{\"mode\"");
	if (!json)
		return out;
	memmove(out, json, strlen(json) + 1);
	return out;
}

static double load_num(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	cr_assert_not_null(p, "no \"%s\" in %s", key, json);
	return strtod(p + strlen(pat), NULL);
}

static bool load_has(const char *json, const char *fragment)
{
	return strstr(json, fragment) != NULL;
}

static char *load_target(void)
{
	static char target[32];

	snprintf(target, sizeof(target), "127.0.0.1:%d", load_server_port);
	return target;
}

Test(kst_load, counts_every_handshake_stapled_with_the_expected_response,
     .fini = load_stop_server)
{
	char *staple = load_pki("ocsp/localhost-ecdsa.der");
	char sid[16];
	char *json;
	int st;

	load_start_server("-www");
	snprintf(sid, sizeof(sid), "%d", (int)load_server.pid);
	json = load_run(&st, "rate", "-c", load_target(), "--rate", "20",
			"--duration", "0.5", "--expect-staple", staple,
			"--server-sid", sid, NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "scheduled"), 10, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 10, "%s", json);
	cr_expect_eq(load_num(json, "failed"), 0, "%s", json);
	cr_expect_eq(load_num(json, "stapled"), 10, "%s", json);
	cr_expect_eq(load_num(json, "staple_mismatch"), 0, "%s", json);
	cr_expect_eq(load_num(json, "staple_share"), 1, "%s", json);
	cr_expect_eq(load_num(json, "server_procs"), 1, "%s", json);
	cr_expect(load_has(json, "\"version\":\"TLSv1.3\""), "%s", json);
	cr_expect(load_has(json, "\"sigalg\":\"ECDSA\""), "%s", json);
	cr_expect(load_num(json, "hs_p99_ms") > 0, "%s", json);
	/* the server's CPU per handshake, split into user and system time */
	cr_expect(load_num(json, "server_user_us_per_hs") >= 0, "%s", json);
	cr_expect(load_num(json, "server_sys_us_per_hs") >= 0, "%s", json);
	double split = load_num(json, "server_user_us_per_hs") +
		       load_num(json, "server_sys_us_per_hs"),
	       total = load_num(json, "server_cpu_us_per_hs");
	/* printed with 6 significant digits each */
	cr_expect(split - total < 1e-4 * total + 0.01 &&
			  total - split < 1e-4 * total + 0.01,
		  "%s", json);
	free(json);
	free(staple);
}

Test(kst_load, counts_a_staple_for_another_certificate_as_a_mismatch,
     .fini = load_stop_server)
{
	char *other = load_pki("ocsp/localhost-rsa.der");
	char *json;
	int st;

	load_start_server("-www");
	json = load_run(&st, "rate", "-c", load_target(), "--tls", "1.2",
			"--rate", "20", "--duration", "0.25", "--expect-staple",
			other, NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 5, "%s", json);
	cr_expect_eq(load_num(json, "stapled"), 5, "%s", json);
	cr_expect_eq(load_num(json, "staple_mismatch"), 5, "%s", json);
	cr_expect_eq(load_num(json, "staple_share"), 0, "%s", json);
	free(json);
	free(other);
}

Test(kst_load, offers_only_the_key_type_under_test, .fini = load_stop_server)
{
	char *json;
	int st;

	load_start_server("-www");
	json = load_run(&st, "rate", "-c", load_target(), "--key", "rsa",
			"--rate", "20", "--duration", "0.25", NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 0, "%s", json);
	cr_expect_eq(load_num(json, "handshake"), 5, "%s", json);
	free(json);
}

Test(kst_load, counts_refused_connections_as_connect_failures)
{
	char target[32], *json;
	int st;

	snprintf(target, sizeof(target), "127.0.0.1:%d", kst_free_port());
	json = load_run(&st, "rate", "-c", target, "--rate", "40", "--duration",
			"0.25", NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "scheduled"), 10, "%s", json);
	cr_expect_eq(load_num(json, "connect"), 10, "%s", json);
	cr_expect_eq(load_num(json, "failed"), 10, "%s", json);
	cr_expect(load_has(json, "\"sustained\":false"), "%s", json);
	free(json);
}

/* s_server -WWW serves files from its working directory. */
static void load_write_body(const char *name, size_t len)
{
	char *buf = malloc(len);
	FILE *f;

	cr_assert_not_null(buf);
	memset(buf, 'x', len);
	mkdir("bytes", 0755);
	f = fopen(name, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
}

static char load_tmpdir[] = "/tmp/kst-load-test.XXXXXX";

static void load_enter_tmpdir(void)
{
	cr_assert_not_null(mkdtemp(load_tmpdir));
	cr_assert_eq(chdir(load_tmpdir), 0);
}

/* Stops the server, then removes the served files and their directory. */
static void load_leave_tmpdir(void)
{
	load_stop_server();
	if (chdir("/") == 0 && strchr(load_tmpdir, 'X') == NULL) {
		char path[128];

		snprintf(path, sizeof(path), "%s/bytes/65536", load_tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bytes/70000", load_tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bytes", load_tmpdir);
		rmdir(path);
		rmdir(load_tmpdir);
	}
}

Test(kst_load, bulk_download_counts_the_body_bytes, .fini = load_leave_tmpdir)
{
	char *json;
	int st;

	load_enter_tmpdir();
	load_write_body("bytes/65536", 65536);
	load_start_server("-WWW");
	json = load_run(&st, "bulk", "-c", load_target(), "--down", "64K",
			NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 1, "%s", json);
	cr_expect_eq(load_num(json, "bytes"), 65536, "%s", json);
	cr_expect(load_num(json, "mb_per_s") > 0, "%s", json);
	cr_expect(load_has(json, "\"direction\":\"down\""), "%s", json);
	free(json);
}

Test(kst_load, bulk_download_fails_when_the_body_is_short,
     .fini = load_leave_tmpdir)
{
	char *json;
	int st;

	load_enter_tmpdir();
	load_write_body("bytes/70000", 1000);
	load_start_server("-WWW");
	json = load_run(&st, "bulk", "-c", load_target(), "--down", "70000",
			NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 0, "%s", json);
	cr_expect_eq(load_num(json, "http"), 1, "%s", json);
	free(json);
}

Test(kst_load, idle_holds_connections_and_reads_the_server_rss,
     .fini = load_stop_server)
{
	char sid[16], *json;
	int st;

	/* s_server serves one connection at a time: hold just one */
	load_start_server("-www");
	snprintf(sid, sizeof(sid), "%d", (int)load_server.pid);
	json = load_run(&st, "idle", "-c", load_target(), "--conns", "1",
			"--hold", "0.2", "--settle", "0.1", "--server-sid", sid,
			NULL);
	cr_assert_eq(st, 0, "%s", json);
	cr_expect_eq(load_num(json, "completed"), 1, "%s", json);
	cr_expect_eq(load_num(json, "closed_by_server"), 0, "%s", json);
	cr_expect(load_num(json, "rss_kb_before") > 0, "%s", json);
	cr_expect(load_num(json, "rss_kb_after") > 0, "%s", json);
	free(json);
}

Test(kst_load, ports_prints_distinct_free_loopback_ports)
{
	char *argv[] = {(char *)load_bin(), "ports", "3", NULL};
	char *out = NULL;
	int a = 0, b = 0, c = 0;

	cr_assert_eq(kst_tool_run(argv, NULL, 0, RUN_MS, &out), 0);
	cr_assert_eq(sscanf(out, "%d %d %d", &a, &b, &c), 3, "%s", out);
	cr_expect(a > 0 && b > 0 && c > 0 && a < 65536 && b < 65536 &&
		  c < 65536);
	cr_expect(a != b && b != c && a != c, "%s", out);
	free(out);
}

Test(kst_load, refuses_a_run_without_a_target)
{
	char *argv[] = {(char *)load_bin(), "rate", "--rate", "10", NULL};
	char *out = NULL;

	cr_expect_eq(kst_tool_run(argv, NULL, 0, RUN_MS, &out), 2, "%s", out);
	free(out);
}
