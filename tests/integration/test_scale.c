// SPDX-License-Identifier: MIT
/*
 * Many certificates (issue 13), for correctness, not speed: 2,000 ECDSA
 * leaves, each with its own key, one DNS name and its own staple file,
 * minted by kst-gen-certs (bench/certs/gen-certs.c). Every name gets its
 * own certificate with its own staple; a reload after three certificates
 * were re-minted serves exactly those three anew (with their new
 * staples), keeps the other 1,997 (not even read again: the log says how
 * many were reused; a touched file with the same bytes counts as
 * unchanged) with theirs; a reused certificate's key file is still
 * checked (made readable by others, the reload is refused with its
 * FILE:LINE). Handshakes run in this process (OpenSSL),
 * each bounded by socket timeouts; a few seconds in all.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
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

#define N_CERTS	      2000
#define CHANGED_FIRST 10 /* c10..c12 are re-minted before the reload */
#define CHANGED_END   13

static SSL_CTX *client;
static X509 *ca;

/* Handshake for name: the leaf's serial in hex (malloc'd); fails the
 * test unless the leaf is name's and the staple is a good response for
 * that very leaf. */
static char *scale_serial(int port, const char *name)
{
	struct kst_edge_served s;
	char *hex;

	kst_edge_probe(client, ca, port, name, &s);
	cr_assert_str_eq(s.cn, name, "SNI %s got the certificate of %s", name,
			 s.cn);
	cr_assert(s.stapled, "%s: no staple", name);
	cr_assert(s.staple_own,
		  "%s: the staple is not a good response for "
		  "its leaf",
		  name);
	hex = strdup(s.serial);
	cr_assert_not_null(hex);
	return hex;
}

static void scale_all(int port, char **serials)
{
	char name[64];

	for (int i = 0; i < N_CERTS; i++) {
		snprintf(name, sizeof(name), "c%d.bench.test", i);
		serials[i] = scale_serial(port, name);
	}
}

static void scale_gen(const char *dir, int n, int first)
{
	char cmd[1024];

	if (first < 0)
		snprintf(cmd, sizeof(cmd), "%s %s %d",
			 kst_h_tool("kst-gen-certs"), dir, n);
	else
		snprintf(cmd, sizeof(cmd), "%s %s %d %d",
			 kst_h_tool("kst-gen-certs"), dir, n, first);
	cr_assert_eq(kst_h_sh(cmd, NULL, 120000), 0, "%s", cmd);
}

Test(scale, every_name_its_cert_and_staple_and_reload_swaps_only_changed,
     .timeout = 300)
{
	static char *before[N_CERTS], *after[N_CERTS];
	const char *dir = kst_h_path("certs");
	char *certs, *text = NULL, *argv[4], want[64];
	int port = kst_h_free_port();
	FILE *f;
	pid_t pid;

	cr_assert_eq(mkdir(dir, 0700), 0);
	scale_gen(dir, N_CERTS, -1);
	certs = kst_h_read(kst_h_path("certs/certs.conf"));
	cr_assert_not_null(certs);
	cr_assert(asprintf(&text,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "allow-root = on\nlog-level = notice\n"
			   "workers = 2\n[ocsp]\nfetch = off\n"
			   "[listener:many]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\n%s",
			   kst_h_path("state"), port, kst_h_free_port(),
			   certs) > 0);
	mkdir(kst_h_path("state"), 0700);
	cr_assert_eq(kst_h_write(kst_h_path("many.conf"), text, 0644), 0);
	free(text);
	free(certs);
	f = fopen(kst_h_path("certs/ca.crt"), "re");
	cr_assert_not_null(f);
	ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(ca);
	client = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(client);

	argv[0] = (char *)kst_h_kstapled();
	argv[1] = "-c";
	argv[2] = (char *)kst_h_path("many.conf");
	argv[3] = NULL;
	pid = kst_h_spawn(argv, kst_h_path("many.log"));
	cr_assert_gt(pid, 0);
	cr_assert_eq(
		kst_h_wait_log(kst_h_path("many.log"), "started: ", 120000), 0,
		"did not start: %s", kst_h_read(kst_h_path("many.log")));
	scale_all(port, before);

	scale_gen(dir, CHANGED_END, CHANGED_FIRST);
	/* touched, same bytes: reused all the same (by content hash) */
	cr_assert_eq(utimensat(AT_FDCWD, kst_h_path("certs/c20.pem"), NULL, 0),
		     0);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "%d certs (%d unchanged, reused)", N_CERTS,
		 N_CERTS - (CHANGED_END - CHANGED_FIRST));
	cr_assert_eq(kst_h_wait_log(kst_h_path("many.log"), want, 120000), 0,
		     "no '%s' in: %s", want,
		     kst_h_read(kst_h_path("many.log")));
	scale_all(port, after);
	for (int i = 0; i < N_CERTS; i++) {
		bool changed = i >= CHANGED_FIRST && i < CHANGED_END;

		cr_expect_eq(strcmp(before[i], after[i]) != 0, changed,
			     "c%d: %s after the reload", i,
			     changed ? "the old certificate"
				     : "another certificate");
		free(before[i]);
		free(after[i]);
	}
	/* a reused certificate's key file is still checked: made readable
	 * by others, the reload is refused, naming the file and line */
	cr_assert_eq(chmod(kst_h_path("certs/c30.pem"), 0644), 0);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	cr_assert_eq(
		kst_h_wait_log(kst_h_path("many.log"), "reload failed", 120000),
		0);
	snprintf(want, sizeof(want), "many.conf:%d: key ", 12 + 30);
	cr_expect_eq(kst_h_count(kst_h_path("many.log"), want), 1,
		     "no '%s' in: %s", want,
		     kst_h_read(kst_h_path("many.log")));
	cr_expect_eq(kst_h_count(kst_h_path("many.log"),
				 "c30.pem is accessible by group or others"),
		     1);
	free(scale_serial(port, "c30.bench.test")); /* still served */
	cr_assert_eq(kst_h_stop(pid, SIGTERM, 20000), 0);
	SSL_CTX_free(client);
	X509_free(ca);
}
