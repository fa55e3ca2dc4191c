// SPDX-License-Identifier: MIT
/*
 * SIGHUP under load: while clients relay byte-exact payloads without a
 * pause, the certificate is renewed, a listener is added and another
 * removed, and a broken configuration is refused; no connection fails,
 * an open connection lives through it, new handshakes get the renewed
 * certificate at once, with its own staple.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static struct kst_h_daemon d;
static struct kst_h_backend b;
static struct kst_h_ocspd r;

static char *conf_v(const char *pem, int pa, int pb_or_c, const char *bc)
{
	char *text = NULL;

	cr_assert(asprintf(&text,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "allow-root = on\nlog-level = debug\nworkers = 2\n"
			   "[listener:a]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = ec\n"
			   "[listener:%s]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = ec\n"
			   "[cert:ec]\npem = %s\nocsp-url = %s\n",
			   kst_h_path("state"), pa, b.port, bc, pb_or_c, b.port,
			   pem, r.url) > 0);
	return text;
}

/* A renewed localhost certificate: same key, new serial, known to the
 * responder's index. Returns its PEM path; serial in hex. */
static const char *renew(const char *pki, const char *serial_hex)
{
	char cmd[4096];
	const char *pem = kst_h_path("renewed.pem");

	snprintf(
		cmd, sizeof(cmd),
		"set -e; cd %s\n"
		"printf 'basicConstraints=critical,CA:FALSE\\n"
		"keyUsage=critical,digitalSignature\\n"
		"extendedKeyUsage=serverAuth\\n"
		"subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > renew.ext\n"
		"openssl req -new -key localhost-ecdsa.key -subj /CN=localhost "
		"-out renew.csr 2>/dev/null\n"
		"openssl x509 -req -in renew.csr -CA int.crt -CAkey int.key "
		"-set_serial 0x%s -days 30 -extfile renew.ext -out renew.crt "
		"2>/dev/null\n"
		"exp=$(date -u -d '+30 days' +%%y%%m%%d%%H%%M%%SZ)\n"
		"printf 'V\\t%%s\\t\\t%s\\tunknown\\t/CN=localhost\\n' "
		"\"$exp\" >> index.txt\n"
		"cat renew.crt int.crt localhost-ecdsa.key > %s\n"
		"chmod 600 %s\n",
		pki, serial_hex, serial_hex, pem, pem);
	cr_assert_eq(kst_h_sh(cmd, NULL, 30000), 0, "%s", cmd);
	return pem;
}

static char *peer(int port, const char *want_key)
{
	char *out = NULL, a[64];

	snprintf(a, sizeof(a), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 20000, "-c", a, "--status", "--print",
				  "--sni", "localhost", NULL),
		     0, "%s", out);
	(void)want_key;
	return out;
}

Test(reload, under_load_renews_adds_and_removes_without_a_failure,
     .timeout = 180)
{
	char *pki = strdup(kst_h_path("pki")), cmd[1024], *v1, *v2, *out;
	char load_addr[64], hold_addr[64];
	int pa = kst_h_free_port(), pb = kst_h_free_port(),
	    pc = kst_h_free_port();
	char *load[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			load_addr,
			"--send",
			"8k",
			"--expect-echo",
			"--half-close",
			"--conns",
			"3000",
			"--parallel",
			"6",
			NULL};
	char *hold[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			hold_addr,
			"--send",
			"64k",
			"--expect-echo",
			"--hold",
			"4",
			NULL};
	pid_t lp, hp;
	const char *renewed;

	snprintf(cmd, sizeof(cmd), "cp -a %s %s", getenv("KST_TEST_PKI"), pki);
	cr_assert_eq(kst_h_sh(cmd, NULL, 10000), 0);
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert_eq(kst_h_ocspd_start(&r, pki, "ok", 1), 0);
	snprintf(cmd, sizeof(cmd), "%s/localhost-ecdsa.pem", pki);
	v1 = conf_v(cmd, pa, pb, "b");
	cr_assert_eq(kst_h_daemon_start(&d, v1), 0);
	/* the daemon's own config: rewrite it for the reloads */
	out = peer(pa, NULL);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1");
	free(out);
	snprintf(load_addr, sizeof(load_addr), "127.0.0.1:%d", pa);
	snprintf(hold_addr, sizeof(hold_addr), "127.0.0.1:%d", pa);
	lp = kst_h_spawn(load, kst_h_path("load.log"));
	hp = kst_h_spawn(hold, kst_h_path("hold.log"));
	usleep(500 * 1000);

	/* renewed cert, listener b gone, listener c new */
	renewed = renew(pki, "2710");
	v2 = conf_v(renewed, pa, pc, "c");
	kst_h_write(d.conf, v2, 0644);
	cr_assert_eq(kst_h_daemon_reload(&d), 0);
	out = peer(pa, NULL);
	cr_expect_str_eq(kst_h_kv(out, "peer_serial"), "2710",
			 "new handshakes get the renewed cert at once");
	free(out);
	cr_assert_eq(kst_h_wait_log(d.log, "cert ec: stapling fetched", 10000),
		     0);
	for (int i = 0; i < 20; i++) {
		out = peer(pa, NULL);
		if (strcmp(kst_h_kv(out, "stapled"), "1") == 0)
			break;
		free(out);
		out = NULL;
		usleep(200 * 1000);
	}
	cr_assert_not_null(out, "the renewed cert got its staple");
	cr_expect_str_eq(kst_h_kv(out, "staple_serial"), "2710",
			 "its own staple, not the old cert's");
	cr_expect_str_eq(kst_h_kv(out, "staple_matches_cert"), "1");
	free(out);
	out = peer(pc, NULL);
	free(out);
	cr_expect_neq(kst_h_wait_port("127.0.0.1", pb, 300), 0,
		      "listener b was closed");

	/* a broken configuration: refused, service goes on */
	kst_h_write(d.conf, "[global]\nworkers = many\n", 0644);
	cr_expect_eq(kst_h_daemon_reload(&d), -1);
	out = peer(pa, NULL);
	free(out);

	cr_expect_eq(kst_h_wait(hp, 30000), 0,
		     "the connection open across the reloads finished");
	cr_expect_eq(kst_h_wait(lp, 120000), 0, "no failed connection");
	out = kst_h_read(kst_h_path("load.log"));
	cr_expect(out && strstr(out, "failed=0"), "%s", out);
	free(out);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	kst_h_ocspd_stop(&r);
	free(v1);
	free(v2);
	free(pki);
}
