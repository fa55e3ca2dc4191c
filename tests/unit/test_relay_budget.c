// SPDX-License-Identifier: MIT
/*
 * The relay's per-wakeup budget (issue 18, handshakes behind a download):
 * one wakeup of a busy connection relays a bounded number of bytes, then
 * the connection waits on the worker's run-again list while the other
 * events of the loop (accepts, handshakes) have their turn, and goes on
 * from there without needing a new epoll edge, to the last byte. A pump of
 * 64 full buffers (4 MiB, several per turn when both sockets had events)
 * kept the handshakes on that worker waiting tens of milliseconds.
 *
 * The connection is the real relay (relay.c, conn.c's run-again list) on
 * a real TLS 1.3 session: the server side writes into a memory BIO that
 * takes everything, so a wakeup stops only where the relay decides to;
 * the backend is /dev/zero (a download without end) or a pipe holding a
 * known pattern and then its end. No epoll is involved: the test plays
 * the worker loop's part.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "daemon/config/config.h"
#include "daemon/datapath/conn.h"
#include "daemon/datapath/relay.h"
#include "tests/lib/testutil.h"

/* what one wakeup may relay: the budget, and the round that crosses it
 * (a buffer each way) */
#define WAKEUP_MAX ((uint64_t)KST_RELAY_BUDGET + 2 * (uint64_t)KST_BUF_CAP)

static struct kst_worker w;
static struct kst_listener_conf lconf = {.name = "budget"};
static struct kst_listener listener = {.conf = &lconf};
static SSL_CTX *sctx, *cctx;
static SSL *cli, *srv;
static struct kst_conn *c;

/* what one side wrote, to the other side's read BIO */
static void shuttle(SSL *from, SSL *to)
{
	char buf[16384];
	int n;

	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0)
		cr_assert_eq(BIO_write(SSL_get_rbio(to), buf, n), n);
}

static SSL *memory_ssl(SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);

	cr_assert_not_null(ssl);
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	return ssl;
}

/* A TLS 1.3 session in memory, and a connection in RELAY on it whose
 * backend is bfd; every socket ready as far as the relay knows. */
static void setup_conn(int bfd)
{
	X509 *cert = kst_test_cert("localhost-ecdsa");
	EVP_PKEY *pkey = kst_test_key("localhost-ecdsa");
	int cd = 0, sd = 0;

	cr_assert(cert != NULL && pkey != NULL, "test PKI (KST_TEST_PKI)");
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	cr_assert(sctx != NULL && cctx != NULL);
	cr_assert(SSL_CTX_use_certificate(sctx, cert) == 1 &&
		  SSL_CTX_use_PrivateKey(sctx, pkey) == 1);
	SSL_CTX_set_num_tickets(sctx, 0);
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	cli = memory_ssl(cctx);
	srv = memory_ssl(sctx);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	for (int i = 0; i < 20 && !(cd == 1 && sd == 1); i++) {
		if (cd != 1)
			cd = SSL_do_handshake(cli);
		shuttle(cli, srv);
		if (sd != 1)
			sd = SSL_do_handshake(srv);
		shuttle(srv, cli);
	}
	cr_assert(cd == 1 && sd == 1, "the handshake in memory finished");

	memset(&w, 0, sizeof(w));
	w.now_ms = 1;
	c = calloc(1, sizeof(*c));
	cr_assert_not_null(c);
	c->cev.type = KST_EV_CLIENT;
	c->bev.type = KST_EV_BACKEND;
	c->state = KST_CONN_RELAY;
	c->path = KST_PATH_USERSPACE;
	c->flags = KST_C_RD | KST_C_WR | KST_B_RD | KST_B_WR;
	c->cfd = -1; /* the client is the memory BIO */
	c->bfd = bfd;
	c->ssl = srv;
	c->w = &w;
	c->l = &listener;
	snprintf(c->peerstr, sizeof(c->peerstr), "memory");
}

static void teardown_conn(void)
{
	if (c != NULL) {
		kst_relay_release(c);
		if (c->bfd >= 0)
			close(c->bfd);
		free(c);
		c = NULL;
	}
	for (size_t i = 0; i < w.pool.n; i++)
		free(w.pool.free[i]);
	free(w.pool.free);
	memset(&w, 0, sizeof(w));
	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	cli = srv = NULL;
	cctx = sctx = NULL;
}

TestSuite(relay_budget, .fini = teardown_conn);

Test(relay_budget, a_wakeup_relays_a_bounded_share_of_an_endless_download)
{
	int zero = open("/dev/zero", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	uint64_t first, before;

	cr_assert(zero >= 0, "/dev/zero: %s", strerror(errno));
	setup_conn(zero);

	/* the backend's first event: one wakeup's share, then the
	 * connection waits its next turn on the run-again list */
	cr_assert(kst_relay_pump(c), "the connection stays open");
	first = c->bytes_dn;
	cr_expect_gt(first, 0, "the download started");
	cr_expect_leq(first, WAKEUP_MAX,
		      "one wakeup relayed %llu bytes: at most the budget "
		      "(%llu) and the round that crossed it",
		      (unsigned long long)first,
		      (unsigned long long)KST_RELAY_BUDGET);
	cr_expect(c->flags & KST_AGAIN, "queued to go on without an event");
	cr_expect_eq(w.again, c, "on the worker's run-again list");

	/* the client socket's event in the same turn does not pump it
	 * ahead of its turn: only the run-again pass does, once */
	before = c->bytes_dn;
	kst_conn_event(&w, &c->cev, EPOLLOUT);
	kst_conn_event(&w, &c->bev, EPOLLIN);
	cr_expect_eq(c->bytes_dn, before,
		     "events of a queued connection relayed %llu bytes "
		     "before its turn",
		     (unsigned long long)(c->bytes_dn - before));
	kst_conn_run_again(&w);
	cr_expect_gt(c->bytes_dn, before, "its turn relays more");
	cr_expect_leq(c->bytes_dn - before, WAKEUP_MAX,
		      "one turn relayed %llu bytes",
		      (unsigned long long)(c->bytes_dn - before));
	cr_expect_eq(w.again, c, "and queues it for the next turn");
}

Test(relay_budget, a_download_spread_over_wakeups_arrives_whole_and_closes)
{
	enum { PIPE_BYTES = 1024 * 1024 };
	unsigned char *want = malloc(PIPE_BYTES), *got = malloc(PIPE_BYTES);
	size_t len = 0, have = 0;
	int p[2], turns = 0, r;

	cr_assert(want != NULL && got != NULL);
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	/* as much as the pipe takes (1 MiB unless pipe-max-size is lower),
	 * a pattern that shows a lost, repeated or reordered byte */
	(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
	for (size_t i = 0; i < PIPE_BYTES; i++)
		want[i] = (unsigned char)((i * 7 + i / 65521) & 0xff);
	while (len < PIPE_BYTES) {
		ssize_t n = write(p[1], want + len, PIPE_BYTES - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[1]); /* the backend's EOF after it */
	kst_test_require(len > 2 * WAKEUP_MAX,
			 "a pipe of %zu bytes is too small to need several "
			 "wakeups",
			 len);
	setup_conn(p[0]);

	/* one event, then no more: the rest comes from the run-again
	 * list alone, one budget per turn */
	cr_assert(kst_relay_pump(c));
	while (w.again != NULL && turns < 1000) {
		kst_conn_run_again(&w);
		turns++;
	}
	cr_expect_null(w.again, "the run-again list emptied");
	cr_expect_geq(turns, (int)(len / WAKEUP_MAX),
		      "%zu bytes took %d more turns", len, turns);
	cr_expect_eq(c->bytes_dn, len, "relayed %llu of %zu bytes",
		     (unsigned long long)c->bytes_dn, len);
	cr_expect(c->flags & KST_DOWN_EOF, "the backend's end was seen");
	cr_expect(c->flags & KST_DOWN_SHUT, "and close_notify sent");

	/* what the client reads: the pattern, whole, then close_notify */
	shuttle(srv, cli);
	while (have < len) {
		size_t n = 0;

		if (SSL_read_ex(cli, got + have, len - have, &n) != 1)
			break;
		have += n;
	}
	cr_expect_eq(have, len, "the client read %zu of %zu bytes", have, len);
	cr_expect(have == len && memcmp(got, want, len) == 0, "byte-exact");
	r = SSL_read_ex(cli, got, 1, &have);
	cr_expect_eq(SSL_get_error(cli, r), SSL_ERROR_ZERO_RETURN,
		     "then close_notify");
	free(want);
	free(got);
}
