// SPDX-License-Identifier: MIT
/*
 * `cert-dir = PATH` with the real daemon: a directory of three
 * certificates (kst-gen-certs: one name each, key in the PEM, staple file
 * beside it) serves each name with its own certificate and staple. A
 * fourth file is added and one removed, SIGHUP: the new name is served
 * with its staple, the removed one no longer, the two others are reused
 * (the log says so). A broken PEM added to the directory makes the next
 * reload fail naming the file and the cert-dir line, and the generation
 * before it keeps serving. With cert-dir-watch = on, adding or removing
 * a file needs no SIGHUP; `-t` names a cert-dir the service user cannot
 * list. Handshakes run in this process (OpenSSL), each
 * bounded by socket timeouts; about ten seconds in all.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

#define CD_DIR_LINE 12 /* of cert-dir in the daemon's file: see cd_conf */

static SSL_CTX *cd_client;
static X509 *cd_ca;

/* name is served with its own certificate and its own good staple */
static void cd_expect_served(int port, const char *name)
{
	struct kst_edge_served s;

	kst_edge_probe(cd_client, cd_ca, port, name, &s);
	cr_expect_str_eq(s.cn, name, "SNI %s got the certificate of %s", name,
			 s.cn);
	cr_expect(s.staple_own, "%s: no good staple of its own", name);
}

static void cd_expect_not_served(int port, const char *name)
{
	struct kst_edge_served s;

	kst_edge_probe(cd_client, cd_ca, port, name, &s);
	cr_expect_str_neq(s.cn, name, "%s is still served", name);
}

/* kst-gen-certs DIR N [FIRST]: leaves c<FIRST>..c<N-1>.bench.test */
static void cd_gen(const char *dir, int n, int first)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s %s %d %d", kst_h_tool("kst-gen-certs"),
		 dir, n, first);
	cr_assert_eq(kst_h_sh(cmd, NULL, 60000), 0, "%s", cmd);
}

static void cd_load_ca(const char *path)
{
	FILE *f = fopen(path, "re");

	cr_assert_not_null(f, "%s", path);
	cd_ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(cd_ca);
	cd_client = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(cd_client);
}

Test(certdir, serves_the_directory_and_follows_it_on_reload, .timeout = 120)
{
	struct kst_h_daemon d;
	const char *dir = kst_h_path("certs");
	char *text = NULL, want[600];
	int port = kst_h_free_port();

	cr_assert_eq(mkdir(dir, 0700), 0);
	cd_gen(dir, 3, 0);
	cd_load_ca(kst_h_path("certs/ca.crt"));
	/* the harness puts 6 lines of [global] first: cert-dir is line 12 */
	cr_assert(asprintf(&text,
			   "[ocsp]\nfetch = off\n"
			   "[listener:dir]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert-dir = %s\n",
			   port, kst_h_free_port(), dir) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	free(text);
	cd_expect_served(port, "c0.bench.test");
	cd_expect_served(port, "c1.bench.test");
	cd_expect_served(port, "c2.bench.test");

	/* a fourth, one removed (with its staple) */
	cd_gen(dir, 4, 3);
	cr_assert_eq(unlink(kst_h_path("certs/c0.pem")), 0);
	cr_assert_eq(unlink(kst_h_path("certs/c0.pem.ocsp")), 0);
	cr_assert_eq(kst_h_daemon_reload(&d), 0, "%s", kst_h_read(d.log));
	cr_expect_eq(kst_h_count(d.log, "3 certs (2 unchanged, reused)"), 1,
		     "%s", kst_h_read(d.log));
	cd_expect_served(port, "c1.bench.test");
	cd_expect_served(port, "c2.bench.test");
	cd_expect_served(port, "c3.bench.test");
	cd_expect_not_served(port, "c0.bench.test");

	/* a broken file: the reload is refused, naming it and the line */
	cr_assert_eq(kst_h_write(kst_h_path("certs/broken.pem"),
				 "not a certificate\n", 0600),
		     0);
	cr_assert_eq(kst_h_daemon_reload(&d), -1, "%s", kst_h_read(d.log));
	snprintf(want, sizeof(want), "kstapled.conf:%d: cert %s", CD_DIR_LINE,
		 kst_h_path("certs/broken.pem"));
	cr_expect_eq(kst_h_count(d.log, want), 1, "no '%s' in: %s", want,
		     kst_h_read(d.log));
	cd_expect_served(port, "c1.bench.test");
	cd_expect_served(port, "c3.bench.test");
	cd_expect_not_served(port, "c0.bench.test");

	/* -t says the same, with the same FILE:LINE */
	{
		char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c", d.conf,
				NULL};
		char *out = NULL;

		cr_expect_neq(kst_h_run(argv, NULL, 0, &out, 30000), 0);
		cr_expect_not_null(out ? strstr(out, want) : NULL,
				   "-t: no '%s' in: %s", want, out);
		free(out);
	}
	cr_assert_eq(kst_h_daemon_stop(&d), 0);
	SSL_CTX_free(cd_client);
	X509_free(cd_ca);
}

/* cert-dir-watch = on: a file added to the directory is served without a
 * SIGHUP (one reload, about a second after the last write), a file
 * removed is dropped the same way. */
Test(certdir, cert_dir_watch_reloads_when_a_pem_comes_or_goes, .timeout = 120)
{
	struct kst_h_daemon d;
	const char *dir = kst_h_path("watched");
	char *text = NULL;
	int port = kst_h_free_port(), reloads;

	cr_assert_eq(mkdir(dir, 0700), 0);
	cd_gen(dir, 1, 0);
	cd_load_ca(kst_h_path("watched/ca.crt"));
	cr_assert(asprintf(&text,
			   "cert-dir-watch = on\n[ocsp]\nfetch = off\n"
			   "[listener:dir]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert-dir = %s\n",
			   port, kst_h_free_port(), dir) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	free(text);
	cd_expect_served(port, "c0.bench.test");
	cd_expect_not_served(port, "c1.bench.test");

	reloads = kst_h_count(d.log, "reloaded: ");
	cd_gen(dir, 2, 1); /* c1.pem and its staple */
	for (int i = 0; i < 150 && kst_h_count(d.log, "reloaded: ") == reloads;
	     i++)
		usleep(100 * 1000);
	cr_assert_eq(kst_h_count(d.log, "reloaded: "), reloads + 1,
		     "one reload, without SIGHUP: %s", kst_h_read(d.log));
	cr_expect_eq(kst_h_count(d.log, "cert-dir changed: reloading"), 1);
	cd_expect_served(port, "c0.bench.test");
	cd_expect_served(port, "c1.bench.test");

	/* a staple file rewritten is no reason to reload (a reload would
	 * come within about 2 s: none in 3 s) */
	cr_assert_eq(kst_h_copy(kst_h_path("watched/c1.pem.ocsp"),
				kst_h_path("watched/c1.pem.ocsp"), 0644),
		     0);
	usleep(3000 * 1000);
	cr_expect_eq(kst_h_count(d.log, "reloaded: "), reloads + 1, "%s",
		     kst_h_read(d.log));
	cr_assert_eq(unlink(kst_h_path("watched/c0.pem")), 0);
	for (int i = 0;
	     i < 150 && kst_h_count(d.log, "reloaded: ") == reloads + 1; i++)
		usleep(100 * 1000);
	cr_assert_eq(kst_h_count(d.log, "reloaded: "), reloads + 2, "%s",
		     kst_h_read(d.log));
	cd_expect_not_served(port, "c0.bench.test");
	cd_expect_served(port, "c1.bench.test");
	cr_assert_eq(kst_h_daemon_stop(&d), 0);
	SSL_CTX_free(cd_client);
	X509_free(cd_ca);
}

/* -t as root with a service user: a cert-dir that user cannot list is
 * named (start lists it as root; a reload, as the user, would fail). */
Test(certdir, check_names_a_cert_dir_the_service_user_cannot_list,
     .timeout = 60)
{
	const char *dir = kst_h_path("private");
	char *text = NULL, *out = NULL, want[600];
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("u.conf"), NULL};

	kst_test_require(geteuid() == 0, "needs root to check as another user");
	kst_test_require(getpwnam("nobody") != NULL, "no user nobody");
	cr_assert_eq(mkdir(dir, 0700), 0);
	cd_gen(dir, 1, 0);
	mkdir(kst_h_path("state"), 0700);
	cr_assert(asprintf(&text,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "user = nobody\n[ocsp]\nfetch = off\n"
			   "[listener:dir]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert-dir = %s\n",
			   kst_h_path("state"), kst_h_free_port(),
			   kst_h_free_port(), dir) > 0);
	cr_assert_eq(kst_h_write(kst_h_path("u.conf"), text, 0644), 0);
	free(text);
	cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 30000), 0, "%s", out);
	snprintf(want, sizeof(want),
		 "u.conf:10: warning: listener dir: cert-dir %s is not "
		 "readable by user nobody",
		 dir);
	cr_expect_not_null(out ? strstr(out, want) : NULL, "no '%s' in: %s",
			   want, out);
	free(out);
}
