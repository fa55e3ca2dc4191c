// SPDX-License-Identifier: MIT
/*
 * A resumed session goes to the kernel like a full one: with `ticket-keys`
 * and `ktls = require`, a TLS 1.2 and a TLS 1.3 connection resumed from a
 * ticket each run TX and RX in the kernel (the kernel's own tls_stat, in
 * this test's network namespace, counts one software TX and one RX
 * install per connection; `require` would close a connection that could
 * not have both) and echo 1 MiB byte-exact through the backend.
 *
 * The client is OpenSSL in this process (openssl s_client cannot send a
 * checked payload): a full handshake and an echo, whose reads also take
 * the TLS 1.3 tickets in, then a second connection offering that session.
 *
 * Needs a kernel with kTLS: the QEMU guest of `make hwtest` runs every
 * test_ktls* binary; elsewhere these tests skip with the reason.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "ktls/probe.h"
#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

#define ECHO_CHUNK (16 * 1024)
#define ECHO_BYTES (1024 * 1024)

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(ktls_tickets, .fini = fini);

static void require_ktls(void)
{
	const char *why = NULL;

	kst_test_require(kst_ktls_probe(&why), "no kernel TLS here: %s",
			 why ? why : "?");
}

static void tls_stat(struct kst_tls_stat *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(kst_ktls_tls_stat_read(s), 0, "/proc/net/tls_stat");
}

static void start(void)
{
	struct kst_edge_conf c = {.ocsp = "fetch = off\n",
				  .web_certs = true,
				  .listener = "ktls = require\n"};
	char *global = NULL, line[200], *key = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "ticket-key", "new", NULL};
	const char *keys = kst_h_path("tickets.keys");
	char keypath[512];

	snprintf(keypath, sizeof(keypath), "%s", keys);
	cr_assert_eq(kst_h_private_netns(), 0, "a private netns (root)");
	cr_assert_eq(kst_h_run(argv, NULL, 0, &key, 10000), 0);
	snprintf(line, sizeof(line), "%s", key);
	free(key);
	cr_assert_eq(kst_h_write(keypath, line, 0600), 0);
	cr_assert(asprintf(&global, "ticket-keys = %s\n", keypath) > 0);
	c.global = global;
	kst_edge_start(&edge, &c);
	free(global);
}

static int tcp_connect(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Sends n bytes in chunks, reading each one's echo back: 0 when every
 * byte came back as sent. */
static int echo(SSL *ssl, size_t n)
{
	static unsigned char out[ECHO_CHUNK], in[ECHO_CHUNK];

	for (size_t done = 0; done < n; done += ECHO_CHUNK) {
		size_t got = 0;

		cr_assert_eq(RAND_bytes(out, sizeof(out)), 1);
		if (SSL_write(ssl, out, sizeof(out)) != (int)sizeof(out))
			return -1;
		while (got < sizeof(in)) {
			int r = SSL_read(ssl, in + got,
					 (int)(sizeof(in) - got));

			if (r <= 0)
				return -1;
			got += (size_t)r;
		}
		if (memcmp(in, out, sizeof(in)) != 0)
			return -1;
	}
	return 0;
}

/* One connection over TLS version v offering sess (NULL: none): echoes n
 * bytes, closes with close_notify; *reused says whether it resumed; the
 * session it ends with (for the next one). */
static SSL_SESSION *conn(SSL_CTX *ctx, SSL_SESSION *sess, size_t n,
			 bool *reused)
{
	SSL *ssl = SSL_new(ctx);
	SSL_SESSION *next;
	int fd = tcp_connect(edge.d.port);

	cr_assert_not_null(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (sess != NULL)
		cr_assert_eq(SSL_set_session(ssl, sess), 1);
	cr_assert_eq(SSL_connect(ssl), 1, "handshake");
	*reused = SSL_session_reused(ssl);
	cr_expect_eq(echo(ssl, n), 0, "%zu bytes echoed byte-exact", n);
	next = SSL_get1_session(ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return next;
}

struct ver_case {
	int version;
	char name[8];
};

static struct ver_case vers[] = {
	{TLS1_2_VERSION, "1.2"},
	{TLS1_3_VERSION, "1.3"},
};

ParameterizedTestParameters(ktls_tickets, a_resumed_session_runs_in_the_kernel)
{
	return cr_make_param_array(struct ver_case, vers,
				   sizeof(vers) / sizeof(vers[0]));
}

ParameterizedTest(struct ver_case *vc, ktls_tickets,
		  a_resumed_session_runs_in_the_kernel, .timeout = 300)
{
	SSL_CTX *ctx;
	SSL_SESSION *s1, *s2;
	struct kst_tls_stat t0, t1;
	bool reused;

	require_ktls();
	start();
	ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(ctx);
	SSL_CTX_set_min_proto_version(ctx, vc->version);
	SSL_CTX_set_max_proto_version(ctx, vc->version);
	/* a small echo first: its reads take TLS 1.3's tickets in */
	s1 = conn(ctx, NULL, ECHO_CHUNK, &reused);
	cr_assert_not(reused);
	cr_assert_not_null(s1);
	cr_assert(SSL_SESSION_is_resumable(s1), "TLS %s: a ticket came",
		  vc->name);
	tls_stat(&t0);
	s2 = conn(ctx, s1, ECHO_BYTES, &reused);
	tls_stat(&t1);
	cr_expect(reused, "TLS %s: the second connection resumed", vc->name);
	cr_expect_eq(t1.tx_sw - t0.tx_sw, 1, "TLS %s: TX in the kernel",
		     vc->name);
	cr_expect_eq(t1.rx_sw - t0.rx_sw, 1, "TLS %s: RX in the kernel",
		     vc->name);
	cr_expect_eq(t1.decrypt_error, t0.decrypt_error);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	SSL_CTX_free(ctx);
	cr_expect(kst_h_alive(edge.d.pid));
	kst_edge_stop(&edge);
	cr_expect_eq(kst_h_count(edge.d.log, "AddressSanitizer"), 0);
}
