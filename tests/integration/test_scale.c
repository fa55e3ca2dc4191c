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

#include "tests/lib/harness.h"

#define N_CERTS	      2000
#define CHANGED_FIRST 10 /* c10..c12 are re-minted before the reload */
#define CHANGED_END   13

static SSL_CTX *client;
static X509 *ca;

static int scale_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Handshake for name: the leaf's serial in hex (malloc'd); fails the
 * test unless the leaf is name's and the staple is a good response for
 * that very leaf. */
static char *scale_serial(int port, const char *name)
{
	int fd = scale_connect(port);
	SSL *ssl = SSL_new(client);
	const unsigned char *der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	char cn[256] = "", *hex;
	BIGNUM *bn;
	int status = -1;
	long len;
	X509 *leaf;

	cr_assert_not_null(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, name);
	SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
	cr_assert_eq(SSL_connect(ssl), 1, "%s: handshake failed", name);
	leaf = SSL_get1_peer_certificate(ssl);
	cr_assert_not_null(leaf);
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName,
				  cn, sizeof(cn));
	cr_assert_str_eq(cn, name, "SNI %s got the certificate of %s", name,
			 cn);
	len = SSL_get_tlsext_status_ocsp_resp(ssl, &der);
	cr_assert_gt(len, 0, "%s: no staple", name);
	resp = d2i_OCSP_RESPONSE(NULL, &der, len);
	bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	id = OCSP_cert_to_id(NULL, leaf, ca);
	cr_assert(bs != NULL && id != NULL);
	cr_assert_eq(
		OCSP_resp_find_status(bs, id, &status, NULL, NULL, NULL, NULL),
		1, "%s: the staple is another certificate's", name);
	cr_assert_eq(status, V_OCSP_CERTSTATUS_GOOD);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	cr_assert_not_null(hex);
	BN_free(bn);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	X509_free(leaf);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
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
		OPENSSL_free(before[i]);
		OPENSSL_free(after[i]);
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
