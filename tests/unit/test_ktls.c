// SPDX-License-Identifier: MIT
/*
 * The kTLS handoff on real handshakes over loopback TCP, server and client
 * OpenSSL in one thread on non-blocking sockets. Each handoff test asserts
 * what this kernel really does: without kTLS (this build host) both
 * directions stay in userspace with a reason and the connection still
 * works through OpenSSL; with kTLS (the hwtest VM) they are in the kernel
 * and data crosses it. The preconditions (pending data, no secret, option
 * off, suite, version) are decided before any kernel call, so they are
 * checked everywhere. Tests that only make sense on a kTLS kernel skip
 * with a reason elsewhere. OpenSSL >= 3.2 installs TLS 1.3 RX itself (and
 * 3.5 offloads TLS 1.3 AES-CCM): the tests accept what OpenSSL put in the
 * kernel and count every TLS_RX key install in the process, so that
 * kstapled is seen to install RX only where OpenSSL did not, never twice.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "ktls/crypto_info.h"
#include "ktls/ktls.h"
#include "ktls/probe.h"
#include "tests/lib/testutil.h"

#define NO_KTLS_REASON "needs a kTLS kernel (hwtest VM)"

/* RX keys the kernel took (setsockopt(SOL_TLS, TLS_RX) returned 0) and
 * those it refused as already set (EBUSY), kstapled's and OpenSSL's alike:
 * the test binary's setsockopt comes before libc's for libssl and
 * libcrypto too. Each test runs in a process of its own. */
static int tls_rx_calls, tls_rx_busy;
/* when set, every setsockopt(SOL_TLS, TLS_RX) fails with this errno */
static int tls_rx_fail;

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r;

	if (level == SOL_TLS && name == TLS_RX && tls_rx_fail != 0) {
		errno = tls_rx_fail;
		return -1;
	}
	r = (int)syscall(SYS_setsockopt, fd, level, name, val, len);

	if (level == SOL_TLS && name == TLS_RX) {
		if (r == 0)
			tls_rx_calls++;
		else if (errno == EBUSY)
			tls_rx_busy++;
	}
	return r;
}

/* OpenSSL itself runs RX in the kernel (>= 3.2 does it for TLS 1.3 too) */
static bool openssl_has_rx(SSL *ssl)
{
	return BIO_get_ktls_recv(SSL_get_rbio(ssl)) > 0;
}

struct tpair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	int sfd, cfd;
};

struct topts {
	int version;	    /* pinned on the client */
	char suite[48];	    /* TLS 1.3 ciphersuite or TLS 1.2 cipher list */
	bool ktls;	    /* SSL_OP_ENABLE_KTLS on the server */
	bool keylog;	    /* kst_ktls_keylog_cb on the server */
	bool read_ahead;    /* on the server */
	bool data_first;    /* client data lands before server reads Finished */
	bool client_keylog; /* keep the client's TLS 1.3 traffic secret */
	uint8_t maxfrag;    /* client asks for max_fragment_length */
};

/* The client's CLIENT_TRAFFIC_SECRET_0, for tests that seal records the
 * way OpenSSL never does. */
static unsigned char client_secret[KST_KTLS_MAX_SECRET_LEN];
static size_t client_secret_len;

static void client_keylog_cb(const SSL *ssl, const char *line)
{
	static const char lab[] = "CLIENT_TRAFFIC_SECRET_0 ";
	const char *hex = line + sizeof(lab) - 1 + 2 * SSL3_RANDOM_SIZE + 1;
	size_t n;

	(void)ssl;
	if (strncmp(line, lab, sizeof(lab) - 1) != 0 ||
	    strlen(line) < sizeof(lab) + 2 * SSL3_RANDOM_SIZE)
		return;
	n = strlen(hex);
	cr_assert(n == 64 || n == 96);
	for (size_t i = 0; i < n; i += 2) {
		int hi = OPENSSL_hexchar2int((unsigned char)hex[i]);
		int lo = OPENSSL_hexchar2int((unsigned char)hex[i + 1]);

		cr_assert(hi >= 0 && lo >= 0);
		client_secret[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	client_secret_len = n / 2;
}

static void tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(l >= 0 && *cfd >= 0);
	cr_assert(bind(l, (struct sockaddr *)&a, alen) == 0 &&
		  listen(l, 1) == 0 &&
		  getsockname(l, (struct sockaddr *)&a, &alen) == 0);
	cr_assert(connect(*cfd, (struct sockaddr *)&a, alen) == 0);
	*sfd = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	cr_assert(*sfd >= 0);
	cr_assert(fcntl(*cfd, F_SETFL, fcntl(*cfd, F_GETFL) | O_NONBLOCK) == 0);
	close(l);
}

static SSL_CTX *server_ctx(const struct topts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *cert = kst_test_cert("localhost-ecdsa");
	EVP_PKEY *key = kst_test_key("localhost-ecdsa");

	cr_assert(ctx && cert && key, "test PKI");
	cr_assert(SSL_CTX_use_certificate(ctx, cert) == 1 &&
		  SSL_CTX_use_PrivateKey(ctx, key) == 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	/* everything on: the client picks what the case needs */
	cr_assert(SSL_CTX_set_ciphersuites(
			  ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
			       "TLS_CHACHA20_POLY1305_SHA256:"
			       "TLS_AES_128_CCM_SHA256") == 1);
	cr_assert(SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0") == 1);
	SSL_CTX_set_min_proto_version(ctx, 0);
	if (o->ktls)
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	if (o->keylog)
		SSL_CTX_set_keylog_callback(ctx, kst_ktls_keylog_cb);
	SSL_CTX_set_read_ahead(ctx, o->read_ahead);
	return ctx;
}

static SSL_CTX *client_ctx(const struct topts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	cr_assert_not_null(ctx);
	SSL_CTX_set_min_proto_version(ctx, o->version);
	SSL_CTX_set_max_proto_version(ctx, o->version);
	if (o->version == TLS1_3_VERSION)
		cr_assert(SSL_CTX_set_ciphersuites(ctx, o->suite) == 1);
	else
		cr_assert(SSL_CTX_set_cipher_list(ctx, o->suite) == 1);
	if (o->client_keylog)
		SSL_CTX_set_keylog_callback(ctx, client_keylog_cb);
	if (o->maxfrag)
		cr_assert(SSL_CTX_set_tlsext_max_fragment_length(
				  ctx, o->maxfrag) == 1);
	return ctx;
}

/* true when done; false to be called again; fails the test on error */
static bool hs_step(SSL *ssl, const char *who)
{
	int r = SSL_do_handshake(ssl);
	int e = SSL_get_error(ssl, r);
	char buf[256];

	if (r == 1)
		return true;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return false;
	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	cr_assert_fail("%s handshake failed: %d %s", who, e, buf);
	return false;
}

static void wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};

	cr_assert(poll(&p, 1, 2000) == 1, "fd %d not ready in 2 s", fd);
}

/* Wait until at least n bytes are queued for reading on fd. */
static void wait_queued(int fd, int n)
{
	int q = 0;

	for (int i = 0; i < 200 && q < n; i++) {
		cr_assert(ioctl(fd, FIONREAD, &q) == 0);
		if (q < n)
			usleep(5000);
	}
	cr_assert(q >= n, "only %d of %d bytes arrived", q, n);
}

static const char early[] = "bytes sent right behind the client Finished";

static void tpair_open(struct tpair *p, const struct topts *o)
{
	bool cd = false, sd = false, wrote = false;

	cr_assert(kst_ktls_init() == 0);
	tcp_pair(&p->cfd, &p->sfd);
	p->sctx = server_ctx(o);
	p->cctx = client_ctx(o);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	cr_assert(p->s && p->c && SSL_set_fd(p->s, p->sfd) == 1 &&
		  SSL_set_fd(p->c, p->cfd) == 1);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	for (int i = 0; i < 2000 && !(cd && sd); i++) {
		if (!cd)
			cd = hs_step(p->c, "client");
		if (cd && o->data_first && !wrote) {
			cr_assert(SSL_write(p->c, early, sizeof(early)) ==
				  sizeof(early));
			/* Finished (>= 54 bytes), then header + data + type +
			 * tag */
			wait_queued(p->sfd, 54 + (int)sizeof(early) + 22);
			wrote = true;
		}
		if (!sd)
			sd = hs_step(p->s, "server");
		if (!(cd && sd))
			usleep(500);
	}
	cr_assert(cd && sd, "handshake did not finish");
	cr_assert(SSL_version(p->s) == o->version);
}

static void tpair_close(struct tpair *p)
{
	cr_assert_eq(tls_rx_busy, 0, "RX keys set twice on one socket");
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	close(p->sfd);
	close(p->cfd);
}

/* SSL_read exactly len bytes on a non-blocking SSL. */
static void ssl_read_all(SSL *ssl, int fd, void *buf, size_t len)
{
	size_t have = 0;

	for (int i = 0; i < 1000 && have < len; i++) {
		int n = SSL_read(ssl, (char *)buf + have, (int)(len - have));

		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		cr_assert(SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ,
			  "SSL_read: %d", SSL_get_error(ssl, n));
		wait_fd(fd, POLLIN);
	}
	cr_assert(have == len, "read %zu of %zu", have, len);
}

/* Data records through kernel RX until len bytes; returns them in buf. */
static void ktls_read_all(int fd, void *buf, size_t len)
{
	size_t have = 0;

	for (int i = 0; i < 1000 && have < len; i++) {
		uint8_t type = 0;
		ssize_t n = kst_ktls_recv(fd, (char *)buf + have, len - have, 0,
					  &type);

		if (n == -EAGAIN) {
			wait_fd(fd, POLLIN);
			continue;
		}
		cr_assert(n > 0 && type == 23, "recv %zd type %u", n, type);
		have += (size_t)n;
	}
	cr_assert(have == len);
}

/* The server reads len bytes the way the daemon does after the handoff:
 * from the kernel when RX is there, through OpenSSL otherwise. */
static void server_read_all(struct tpair *p, const struct kst_ktls_result *res,
			    void *buf, size_t len)
{
	if (res->rx)
		ktls_read_all(p->sfd, buf, len);
	else
		ssl_read_all(p->s, p->sfd, buf, len);
}

/* A ping each way after the handoff, byte-exact. */
static void ping_pong(struct tpair *p, const struct kst_ktls_result *res)
{
	char ping[] = "ping from the client", pong[] = "pong from the server";
	char buf[sizeof(ping)];

	cr_assert(SSL_write(p->c, ping, sizeof(ping)) == sizeof(ping));
	server_read_all(p, res, buf, sizeof(ping));
	cr_assert_str_eq(buf, ping);
	if (res->tx)
		cr_assert(write(p->sfd, pong, sizeof(pong)) == sizeof(pong));
	else
		cr_assert(SSL_write(p->s, pong, sizeof(pong)) == sizeof(pong));
	ssl_read_all(p->c, p->cfd, buf, sizeof(pong));
	cr_assert_str_eq(buf, pong);
}

/* ---- the handoff as this kernel does it ---- */

struct version_case {
	int version;
	char suite[48];
	uint16_t cipher_type;
};

ParameterizedTestParameters(handoff, reports_what_this_kernel_installed)
{
	static struct version_case cases[] = {
		{TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256",
		 TLS_CIPHER_AES_GCM_128},
		{TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384",
		 TLS_CIPHER_AES_GCM_256},
		{TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256",
		 TLS_CIPHER_CHACHA20_POLY1305},
		{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256",
		 TLS_CIPHER_AES_GCM_128},
		{TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305",
		 TLS_CIPHER_CHACHA20_POLY1305},
	};
	return cr_make_param_array(struct version_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct version_case *vc, handoff,
		  reports_what_this_kernel_installed)
{
	struct topts o = {.version = vc->version, .ktls = true, .keylog = true};
	struct kst_ktls_result res;
	char ping[] = "ping from the client", pong[] = "pong from the server";
	char buf[64];
	struct tpair p;

	strcpy(o.suite, vc->suite);
	tpair_open(&p, &o);
	if (vc->version == TLS1_3_VERSION)
		cr_assert(kst_ktls_has_secret(p.s), "keylog captured it");
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	cr_assert_not(kst_ktls_has_secret(p.s), "secret gone after handoff");
	cr_assert_eq(res.version, vc->version);
	cr_assert_eq(res.cipher_type, vc->cipher_type);
	cr_assert(SSL_write(p.c, ping, sizeof(ping)) == sizeof(ping));
	if (kst_ktls_probe(NULL)) {
		cr_assert(res.tx && res.rx, "tx %s rx %s",
			  kst_ktls_why_name(res.tx_why),
			  kst_ktls_why_name(res.rx_why));
		cr_assert(res.tx_why == KST_KTLS_WHY_OK &&
			  res.rx_why == KST_KTLS_WHY_OK);
		cr_assert_eq(res.rx_step, KST_KTLS_STEP_NONE);
		/* by OpenSSL (TLS 1.2, TLS 1.3 with OpenSSL >= 3.2) or by
		 * kstapled (TLS 1.3 with OpenSSL 3.0), never both */
		cr_assert_eq(tls_rx_calls, 1, "RX keys set %d times",
			     tls_rx_calls);
		ktls_read_all(p.sfd, buf, sizeof(ping));
		cr_assert(write(p.sfd, pong, sizeof(pong)) == sizeof(pong));
	} else {
		cr_assert(!res.tx && !res.rx);
		cr_assert_eq(res.tx_why, KST_KTLS_WHY_NO_KERNEL, "tx %s",
			     kst_ktls_why_name(res.tx_why));
		cr_assert_eq(res.rx_why, KST_KTLS_WHY_NO_KERNEL, "rx %s",
			     kst_ktls_why_name(res.rx_why));
		cr_assert(res.tx_rec_seq == 0 && res.rx_rec_seq == 0);
		cr_assert_eq(tls_rx_calls, 0);
		ssl_read_all(p.s, p.sfd, buf, sizeof(ping));
		cr_assert(SSL_write(p.s, pong, sizeof(pong)) == sizeof(pong));
	}
	cr_assert_str_eq(buf, ping);
	ssl_read_all(p.c, p.cfd, buf, sizeof(pong));
	cr_assert_str_eq(buf, pong);
	tpair_close(&p);
}

/* ---- preconditions, decided before the kernel is asked ---- */

struct pending_case {
	bool keep_read_ahead; /* else switched off after the handshake */
};

ParameterizedTestParameters(handoff, early_bytes_arrive_intact_with_read_ahead)
{
	static struct pending_case cases[] = {{true}, {false}};

	return cr_make_param_array(struct pending_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * Client bytes right behind its Finished, read_ahead on. OpenSSL 3.0 has
 * read them ahead by the end of the handshake (SSL_has_pending); 3.5 leaves
 * them in the socket. Either way they reach the server byte-exact: kstapled
 * keeps RX in userspace ("pending") while OpenSSL holds bytes or read_ahead
 * stays on, and RX keys are set once at most.
 */
ParameterizedTest(struct pending_case *pc, handoff,
		  early_bytes_arrive_intact_with_read_ahead)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true,
			  .read_ahead = true,
			  .data_first = true};
	struct kst_ktls_result res;
	char buf[sizeof(early)];
	struct tpair p;
	bool pending;

	tpair_open(&p, &o);
	pending = SSL_has_pending(p.s);
	if (!pc->keep_read_ahead)
		SSL_set_read_ahead(p.s, 0); /* the buffer is what matters */
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	cr_assert_not(kst_ktls_has_secret(p.s), "wiped on this path too");
	if (!openssl_has_rx(p.s) && (pending || pc->keep_read_ahead)) {
		cr_assert_not(res.rx);
		cr_assert_eq(res.rx_why, KST_KTLS_WHY_PENDING, "rx %s",
			     kst_ktls_why_name(res.rx_why));
		cr_assert_eq(tls_rx_calls, 0);
	}
	cr_assert_leq(tls_rx_calls, 1, "RX keys set %d times", tls_rx_calls);
	/* whoever holds them, the early bytes come out intact */
	server_read_all(&p, &res, buf, sizeof(buf));
	cr_assert_str_eq(buf, early);
	ping_pong(&p, &res);
	tpair_close(&p);
}

/* No secret for kstapled: RX is in the kernel only where OpenSSL (>= 3.2)
 * put it there itself, and then it is reported as such. */
Test(handoff, without_the_keylog_callback_reports_no_secret)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true};
	struct kst_ktls_result res;
	struct tpair p;

	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	if (openssl_has_rx(p.s)) {
		cr_assert(res.rx && res.rx_why == KST_KTLS_WHY_OK, "rx %s",
			  kst_ktls_why_name(res.rx_why));
		cr_assert_eq(tls_rx_calls, 1, "OpenSSL's install only");
	} else {
		cr_assert_not(res.rx);
		cr_assert_eq(res.rx_why, KST_KTLS_WHY_NO_SECRET, "rx %s",
			     kst_ktls_why_name(res.rx_why));
		cr_assert_eq(tls_rx_calls, 0);
	}
	ping_pong(&p, &res);
	tpair_close(&p);
}

/*
 * Hands off a fresh pair built from o and expects both directions to stay
 * in userspace for reason why; leaves the pair open and the result in res.
 */
static void expect_refused_both_ways(struct tpair *p, const struct topts *o,
				     enum kst_ktls_why why,
				     struct kst_ktls_result *res)
{
	tpair_open(p, o);
	cr_assert_eq(kst_ktls_handoff(p->s, p->sfd, true, res), 0);
	cr_assert(!res->tx && !res->rx);
	cr_assert_eq(res->rx_step, KST_KTLS_STEP_NONE, "no install tried");
	cr_assert_eq(res->tx_why, why, "tx %s", kst_ktls_why_name(res->tx_why));
	cr_assert_eq(res->rx_why, why, "rx %s", kst_ktls_why_name(res->rx_why));
}

Test(handoff, with_ktls_option_off_reports_disabled_both_ways)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .keylog = true};
	struct kst_ktls_result res;
	struct tpair p;

	expect_refused_both_ways(&p, &o, KST_KTLS_WHY_DISABLED, &res);
	cr_assert_not(kst_ktls_has_secret(p.s));
	tpair_close(&p);
}

/* want_rx13 off: kstapled sets no RX key; what OpenSSL (>= 3.2) put in
 * the kernel itself is reported as in the kernel. */
Test(handoff, without_want_rx13_installs_no_rx_of_its_own)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_CHACHA20_POLY1305_SHA256",
			  .ktls = true,
			  .keylog = true};
	struct kst_ktls_result res;
	struct tpair p;

	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, false, &res), 0);
	if (openssl_has_rx(p.s)) {
		cr_assert(res.rx && res.rx_why == KST_KTLS_WHY_OK, "rx %s",
			  kst_ktls_why_name(res.rx_why));
		cr_assert_eq(tls_rx_calls, 1, "OpenSSL's install only");
	} else {
		cr_assert_not(res.rx);
		cr_assert_eq(res.rx_why, KST_KTLS_WHY_DISABLED, "rx %s",
			     kst_ktls_why_name(res.rx_why));
		cr_assert_eq(tls_rx_calls, 0);
	}
	cr_assert_not(kst_ktls_has_secret(p.s));
	ping_pong(&p, &res);
	tpair_close(&p);
}

/*
 * max_fragment_length makes OpenSSL 3.0 keep TX in userspace (kTLS sends
 * 16 KiB records). TLS 1.3 RX must then stay there too: the connection
 * keeps using SSL_write, and OpenSSL would read the kernel's plaintext.
 */
Test(handoff, keeps_tls13_rx_in_userspace_when_tx_stays_there)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true,
			  .maxfrag = TLSEXT_max_fragment_length_512};
	enum kst_ktls_why want = kst_ktls_probe(NULL) ? KST_KTLS_WHY_OPENSSL
						      : KST_KTLS_WHY_NO_KERNEL;
	struct kst_ktls_result res;
	char buf[sizeof("ping")];
	struct tpair p;

	expect_refused_both_ways(&p, &o, want, &res);
	cr_assert_not(kst_ktls_has_secret(p.s), "wiped on this path too");
	cr_assert(SSL_write(p.c, "ping", sizeof("ping")) == sizeof("ping"));
	ssl_read_all(p.s, p.sfd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ping", "OpenSSL still reads the records");
	tpair_close(&p);
}

/*
 * ktls/ never logs: when the kernel refuses our TLS 1.3 RX key, the result
 * names the step and its errno (the daemon logs "TLS_RX: <strerror>" from
 * them), TX stays in the kernel and OpenSSL still reads the records.
 */
Test(handoff, reports_a_refused_tls13_rx_key_with_its_errno)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true};
	struct kst_ktls_result res;
	const char *why = NULL;
	char buf[sizeof("ping")];
	struct tpair p;

	kst_test_require(kst_ktls_probe(&why), "%s: %s", NO_KTLS_REASON, why);
	tls_rx_fail = ENOMEM; /* OpenSSL >= 3.2's own install too */
	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	tls_rx_fail = 0;
	cr_assert(res.tx && !res.rx, "tx %s rx %s",
		  kst_ktls_why_name(res.tx_why), kst_ktls_why_name(res.rx_why));
	cr_assert_eq(res.rx_why, KST_KTLS_WHY_SETSOCKOPT, "rx %s",
		     kst_ktls_why_name(res.rx_why));
	cr_assert_eq(res.rx_step, KST_KTLS_STEP_TLS_RX);
	cr_assert_eq(res.rx_err, -ENOMEM, "err %d", res.rx_err);
	cr_assert_not(kst_ktls_has_secret(p.s), "wiped on this path too");
	cr_assert(SSL_write(p.c, "ping", sizeof("ping")) == sizeof("ping"));
	ssl_read_all(p.s, p.sfd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ping", "OpenSSL still reads the records");
	tpair_close(&p);
}

/*
 * TLS 1.3 AES-CCM is not in kstapled's own table: it never sets CCM keys
 * itself. OpenSSL 3.0 keeps both directions in userspace ("cipher");
 * OpenSSL 3.5 puts both in the kernel itself, and that is what is reported
 * (the kernel's cipher type). Data crosses byte-exact either way.
 */
Test(handoff, tls13_ccm_runs_only_where_openssl_put_it)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_CCM_SHA256",
			  .ktls = true,
			  .keylog = true};
	struct kst_ktls_result res;
	struct tpair p;
	bool otx, orx;

	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	otx = BIO_get_ktls_send(SSL_get_wbio(p.s)) > 0;
	orx = openssl_has_rx(p.s);
	cr_assert_eq(res.tx, otx, "tx %s", kst_ktls_why_name(res.tx_why));
	cr_assert_eq(res.rx, orx, "rx %s", kst_ktls_why_name(res.rx_why));
	cr_assert_eq(tls_rx_calls, orx ? 1 : 0, "no CCM key of kstapled's");
	cr_assert_not(kst_ktls_has_secret(p.s));
	if (otx)
		cr_assert_eq(res.cipher_type, TLS_CIPHER_AES_CCM_128);
	else
		cr_assert(res.tx_why == KST_KTLS_WHY_CIPHER &&
				  res.cipher_type == 0,
			  "tx %s", kst_ktls_why_name(res.tx_why));
	if (!orx)
		cr_assert_eq(res.rx_why, KST_KTLS_WHY_CIPHER, "rx %s",
			     kst_ktls_why_name(res.rx_why));
	ping_pong(&p, &res);
	tpair_close(&p);
}

Test(handoff, refuses_tls12_cbc_suites)
{
	struct topts o = {.version = TLS1_2_VERSION,
			  .suite = "ECDHE-ECDSA-AES128-SHA256",
			  .ktls = true};
	struct kst_ktls_result res;
	struct tpair p;

	expect_refused_both_ways(&p, &o, KST_KTLS_WHY_CIPHER, &res);
	tpair_close(&p);
}

Test(handoff, refuses_versions_before_tls12)
{
	struct topts o = {.version = TLS1_1_VERSION,
			  .suite = "ALL:@SECLEVEL=0",
			  .ktls = true};
	struct kst_ktls_result res;
	struct tpair p;

	expect_refused_both_ways(&p, &o, KST_KTLS_WHY_VERSION, &res);
	tpair_close(&p);
}

Test(handoff, refuses_bad_arguments)
{
	struct kst_ktls_result res;

	cr_assert_eq(kst_ktls_handoff(NULL, 3, true, &res), -EINVAL);
}

/* ---- the secret capture ---- */

static void keylog_line(SSL *ssl, const char *label, const char *random,
			const char *secret)
{
	char line[512];

	snprintf(line, sizeof(line), "%s %s %s", label, random, secret);
	kst_ktls_keylog_cb(ssl, line);
}

Test(keylog, keeps_only_this_connections_client_traffic_secret)
{
	/* a fresh server SSL has an all-zero client_random */
	char zero[65], other[65], s32[65], s48[97];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *ssl = SSL_new(ctx);

	cr_assert(kst_ktls_init() == 0 && ssl != NULL);
	memset(zero, '0', 64);
	memset(other, '0', 64);
	other[63] = '1';
	memset(s32, 'a', 64);
	memset(s48, 'b', 96);
	zero[64] = other[64] = s32[64] = s48[96] = '\0';
	keylog_line(ssl, "SERVER_TRAFFIC_SECRET_0", zero, s32);
	keylog_line(ssl, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", zero, s32);
	keylog_line(ssl, "CLIENT_TRAFFIC_SECRET_0", other, s32);
	keylog_line(ssl, "CLIENT_TRAFFIC_SECRET_0", zero, "abcd");
	keylog_line(ssl, "CLIENT_TRAFFIC_SECRET_0", zero, s48 + 1);
	kst_ktls_keylog_cb(ssl, "CLIENT_TRAFFIC_SECRET_0 0000");
	kst_ktls_keylog_cb(ssl, "CLIENT_RANDOM");
	cr_assert_not(kst_ktls_has_secret(ssl), "nothing acceptable yet");
	s32[10] = 'x';
	keylog_line(ssl, "CLIENT_TRAFFIC_SECRET_0", zero, s32);
	cr_assert_not(kst_ktls_has_secret(ssl), "not hex");
	keylog_line(ssl, "CLIENT_TRAFFIC_SECRET_0", zero, s48);
	cr_assert(kst_ktls_has_secret(ssl), "SHA-384 sized secret kept");
	/* the ex_data free callback releases it (ASan: no leak) */
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* ---- record I/O ---- */

struct rec_case {
	char what[40];
	uint8_t type;
	unsigned char buf[8];
	size_t len;
	enum kst_ktls_rec kind;
	uint8_t level, desc, hs;
	bool requested;
};

ParameterizedTestParameters(record, classifies_what_the_kernel_returns)
{
	static struct rec_case cases[] = {
		{"data", 23, {'h', 'i'}, 2, KST_KTLS_REC_DATA},
		{"close_notify",
		 21,
		 {1, 0},
		 2,
		 KST_KTLS_REC_CLOSE_NOTIFY,
		 1,
		 0},
		{"fatal bad_record_mac",
		 21,
		 {2, 20},
		 2,
		 KST_KTLS_REC_ALERT,
		 2,
		 20},
		{"user_canceled", 21, {1, 90}, 2, KST_KTLS_REC_ALERT, 1, 90},
		{"truncated alert", 21, {1}, 1, KST_KTLS_REC_INVALID},
		{"KeyUpdate",
		 22,
		 {24, 0, 0, 1, 0},
		 5,
		 KST_KTLS_REC_KEY_UPDATE,
		 0,
		 0,
		 24,
		 false},
		{"KeyUpdate requested",
		 22,
		 {24, 0, 0, 1, 1},
		 5,
		 KST_KTLS_REC_KEY_UPDATE,
		 0,
		 0,
		 24,
		 true},
		{"KeyUpdate bad value",
		 22,
		 {24, 0, 0, 1, 2},
		 5,
		 KST_KTLS_REC_INVALID,
		 0,
		 0,
		 24},
		{"KeyUpdate truncated",
		 22,
		 {24, 0, 0, 1},
		 4,
		 KST_KTLS_REC_INVALID,
		 0,
		 0,
		 24},
		{"NewSessionTicket",
		 22,
		 {4, 0, 0, 2, 0, 0},
		 6,
		 KST_KTLS_REC_HANDSHAKE,
		 0,
		 0,
		 4},
		{"truncated handshake", 22, {24, 0}, 2, KST_KTLS_REC_INVALID},
		{"change_cipher_spec", 20, {1}, 1, KST_KTLS_REC_INVALID},
		{"heartbeat", 24, {1}, 1, KST_KTLS_REC_INVALID},
	};
	return cr_make_param_array(struct rec_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rec_case *c, record,
		  classifies_what_the_kernel_returns)
{
	struct kst_ktls_record r;

	cr_assert_eq(kst_ktls_record_classify(c->type, c->buf, c->len, &r),
		     c->kind, "%s", c->what);
	cr_assert_eq(r.kind, c->kind);
	cr_assert_eq(r.alert_level, c->level, "%s", c->what);
	cr_assert_eq(r.alert_desc, c->desc, "%s", c->what);
	cr_assert_eq(r.hs_type, c->hs, "%s", c->what);
	cr_assert_eq(r.update_requested, c->requested, "%s", c->what);
	cr_assert_eq(kst_ktls_record_classify(c->type, c->buf, c->len, NULL),
		     c->kind);
}

Test(record, recv_reports_data_on_a_socket_without_kernel_rx)
{
	int c, s;
	char buf[16];
	uint8_t type = 0;

	tcp_pair(&c, &s);
	cr_assert(write(c, "abc", 3) == 3);
	wait_fd(s, POLLIN);
	cr_assert_eq(kst_ktls_recv(s, buf, sizeof(buf), 0, &type), 3);
	cr_assert_eq(type, 23);
	cr_assert_eq(kst_ktls_recv(s, buf, sizeof(buf), MSG_DONTWAIT, &type),
		     -EAGAIN);
	close(c);
	close(s);
}

Test(record, send_alert_refuses_a_socket_without_kernel_tx)
{
	int c, s, q = -1;

	tcp_pair(&c, &s);
	cr_assert_eq(kst_ktls_send_alert(s, 1, 0), -EOPNOTSUPP);
	usleep(20000);
	cr_assert(ioctl(c, FIONREAD, &q) == 0);
	cr_assert_eq(q, 0, "no plaintext alert bytes on the wire");
	close(c);
	close(s);
}

Test(record, get_info_says_no_ulp_on_a_plain_socket)
{
	struct kst_ktls_info info;
	int c, s, err;

	tcp_pair(&c, &s);
	err = kst_ktls_get_info(s, TLS_TX, &info);
	cr_assert(err == -EOPNOTSUPP || err == -ENOPROTOOPT, "got %d", err);
	cr_assert_eq(kst_ktls_get_info(s, 7, &info), -EINVAL);
	close(c);
	close(s);
}

Test(why, names_are_the_stable_metric_labels)
{
	static const char *const names[] = {
		"ok",	     "disabled",   "no-kernel",
		"version",   "cipher",	   "pending",
		"no-secret", "setsockopt", "not-installed",
		"openssl",
	};

	cr_assert_eq(KST_KTLS_WHY__MAX, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_str_eq(kst_ktls_why_name((enum kst_ktls_why)i),
				 names[i]);
	cr_assert_str_eq(kst_ktls_why_name(KST_KTLS_WHY__MAX), "unknown");
}

/* ---- only on a kTLS kernel ---- */

static void require_ktls(void)
{
	const char *why = NULL;

	kst_test_require(kst_ktls_probe(&why), "%s: %s", NO_KTLS_REASON, why);
}

static void ktls13_pair(struct tpair *p, struct kst_ktls_result *res)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_256_GCM_SHA384",
			  .ktls = true,
			  .keylog = true};

	tpair_open(p, &o);
	cr_assert_eq(kst_ktls_handoff(p->s, p->sfd, true, res), 0);
	cr_assert(res->tx && res->rx, "tx %s rx %s",
		  kst_ktls_why_name(res->tx_why),
		  kst_ktls_why_name(res->rx_why));
}

/* Next non-data record through kernel RX, skipping data. */
static enum kst_ktls_rec next_control(int fd, struct kst_ktls_record *r)
{
	unsigned char buf[512];

	for (int i = 0; i < 100; i++) {
		uint8_t type = 0;
		ssize_t n = kst_ktls_recv(fd, buf, sizeof(buf), 0, &type);

		if (n == -EAGAIN) {
			wait_fd(fd, POLLIN);
			continue;
		}
		cr_assert(n > 0, "recv: %zd", n);
		if (type != 23)
			return kst_ktls_record_classify(type, buf, (size_t)n,
							r);
	}
	cr_assert_fail("no control record");
	return KST_KTLS_REC_INVALID;
}

Test(kernel, close_notify_arrives_as_an_alert_record_and_goes_back)
{
	struct kst_ktls_result res;
	struct kst_ktls_record r;
	struct kst_ktls_info rx;
	struct tpair p;
	char b;
	int n = 0;

	require_ktls();
	ktls13_pair(&p, &res);
	cr_assert(SSL_shutdown(p.c) == 0);
	cr_assert_eq(next_control(p.sfd, &r), KST_KTLS_REC_CLOSE_NOTIFY);
	cr_assert_eq(r.alert_level, 1);
	cr_assert_eq(kst_ktls_get_info(p.sfd, TLS_RX, &rx), 0);
	cr_assert_eq(rx.rec_seq, 1, "the alert was record 0");
	cr_assert_eq(kst_ktls_send_alert(p.sfd, 1, 0), 0);
	for (int i = 0; i < 100; i++) {
		n = SSL_read(p.c, &b, 1);
		if (n > 0 || SSL_get_error(p.c, n) != SSL_ERROR_WANT_READ)
			break;
		wait_fd(p.cfd, POLLIN);
	}
	cr_assert_eq(SSL_get_error(p.c, n), SSL_ERROR_ZERO_RETURN,
		     "client saw our close_notify");
	tpair_close(&p);
}

Test(kernel, client_key_update_arrives_as_a_key_update_record)
{
	struct kst_ktls_result res;
	struct kst_ktls_record r;
	struct tpair p;
	char buf[8];

	require_ktls();
	ktls13_pair(&p, &res);
	cr_assert(SSL_write(p.c, "before", 6) == 6);
	cr_assert(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	cr_assert(SSL_write(p.c, "after", 5) == 5);
	ktls_read_all(p.sfd, buf, 6);
	cr_assert_arr_eq(buf, "before", 6);
	cr_assert_eq(next_control(p.sfd, &r), KST_KTLS_REC_KEY_UPDATE);
	cr_assert_not(r.update_requested);
	tpair_close(&p);
}

/* TLS 1.3 with TX in the kernel and RX in OpenSSL (the daemon's path when
 * it cannot install RX). OpenSSL >= 3.2 puts RX in the kernel itself with
 * TX: there is no such connection to test. */
static void ktls13_tx_only_pair(struct tpair *p)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true};
	struct kst_ktls_result res;

	tpair_open(p, &o);
	cr_assert_eq(kst_ktls_handoff(p->s, p->sfd, false, &res), 0);
	if (openssl_has_rx(p->s)) {
		tpair_close(p);
		cr_skip_test("OpenSSL %s installs TLS 1.3 RX itself: no "
			     "connection with TX alone in the kernel",
			     OpenSSL_version(OPENSSL_VERSION_STRING));
	}
	cr_assert(res.tx && !res.rx, "tx %s rx %s",
		  kst_ktls_why_name(res.tx_why), kst_ktls_why_name(res.rx_why));
}

/* SSL_read until data or anything but WANT_READ; returns SSL_get_error
 * (SSL_ERROR_NONE with data). */
static int ssl_read_some(SSL *ssl, int fd, char *buf, int len, int *got)
{
	int n = 0;

	for (int i = 0; i < 100; i++) {
		n = SSL_read(ssl, buf, len);
		if (n > 0 || SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
			break;
		wait_fd(fd, POLLIN);
	}
	*got = n;
	return n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
}

/*
 * A KeyUpdate that asks for ours, read by OpenSSL while the kernel has TX:
 * OpenSSL keeps its answer for its next write, which the daemon never
 * makes on such a connection, so the kernel's key stays the one the client
 * reads and the close_notify through the kernel ends cleanly (kernel 6.1
 * could not take a new TX key anyway).
 */
Test(kernel, a_requested_key_update_under_kernel_tx_ends_cleanly)
{
	struct tpair p;
	char buf[16], err[256] = "";
	int got = 0, e;

	require_ktls();
	ktls13_tx_only_pair(&p);
	cr_assert(SSL_key_update(p.c, SSL_KEY_UPDATE_REQUESTED) == 1);
	cr_assert(SSL_write(p.c, "after", 5) == 5);
	cr_assert_eq(ssl_read_some(p.s, p.sfd, buf, sizeof(buf), &got),
		     SSL_ERROR_NONE);
	cr_assert(got == 5 && memcmp(buf, "after", 5) == 0);
	cr_assert_eq(kst_ktls_send_alert(p.sfd, 1, 0), 0);
	e = ssl_read_some(p.c, p.cfd, buf, sizeof(buf), &got);
	ERR_error_string_n(ERR_peek_error(), err, sizeof(err));
	cr_assert_eq(e, SSL_ERROR_ZERO_RETURN,
		     "the client reads our close_notify: error %d %s", e, err);
	tpair_close(&p);
}

/* One that asks for nothing changes only the RX key, which OpenSSL has:
 * both directions keep working. */
Test(kernel, an_unrequested_key_update_under_kernel_tx_keeps_data_flowing)
{
	struct tpair p;
	char buf[16];
	int got = 0;

	require_ktls();
	ktls13_tx_only_pair(&p);
	cr_assert(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	cr_assert(SSL_write(p.c, "after", 5) == 5);
	cr_assert_eq(ssl_read_some(p.s, p.sfd, buf, sizeof(buf), &got),
		     SSL_ERROR_NONE);
	cr_assert(got == 5 && memcmp(buf, "after", 5) == 0);
	cr_assert(write(p.sfd, "reply", 5) == 5, "through kernel TX");
	cr_assert_eq(ssl_read_some(p.c, p.cfd, buf, sizeof(buf), &got),
		     SSL_ERROR_NONE);
	cr_assert(got == 5 && memcmp(buf, "reply", 5) == 0);
	tpair_close(&p);
}

/*
 * TLS 1.3 application-data record number seq from the client, sealed here
 * (AES-128-GCM, key from the client's traffic secret): OpenSSL never sends
 * an empty one. Returns the record's length in out.
 */
static size_t seal13(const char *data, size_t len, uint64_t seq,
		     unsigned char *out)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	unsigned char key[16], iv[12], in[64];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t body = len + 1 + 16;
	int n = 0;

	cr_assert(s != NULL && len < sizeof(in) && ctx != NULL);
	cr_assert_eq(kst_ktls_tls13_derive(s, client_secret, client_secret_len,
					   key, iv),
		     0);
	for (int i = 0; i < 8; i++)
		iv[11 - i] ^= (unsigned char)(seq >> (8 * i));
	memcpy(in, data, len);
	in[len] = 23; /* inner content type */
	out[0] = 23;
	out[1] = out[2] = 3;
	out[3] = (unsigned char)(body >> 8);
	out[4] = (unsigned char)body;
	cr_assert(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) &&
		  EVP_EncryptUpdate(ctx, NULL, &n, out, 5) &&
		  EVP_EncryptUpdate(ctx, out + 5, &n, in, (int)len + 1) &&
		  EVP_EncryptFinal_ex(ctx, out + 5 + len + 1, &n) &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
				      out + 5 + len + 1));
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	return 5 + body;
}

/* splice sock -> pipe, waiting out EAGAIN (bounded); its result. */
static ssize_t splice_wait(int fd, int pipe_w)
{
	ssize_t n = -1;

	for (int i = 0; i < 200; i++) {
		n = splice(fd, NULL, pipe_w, NULL, 4096, SPLICE_F_NONBLOCK);
		if (n >= 0 || errno != EAGAIN)
			break;
		usleep(10000);
	}
	return n;
}

/* kst_ktls_recv, waiting out EAGAIN (bounded). */
static ssize_t recv_wait(int fd, void *buf, size_t len, uint8_t *type)
{
	ssize_t n = -EAGAIN;

	for (int i = 0; i < 200 && n == -EAGAIN; i++) {
		n = kst_ktls_recv(fd, buf, len, MSG_DONTWAIT, type);
		if (n == -EAGAIN)
			usleep(10000);
	}
	return n;
}

/*
 * How kernel RX reports a zero-length application-data record (TLS allows
 * them): splice() returns 0, as at the end of the stream; recvmsg() skips
 * it (EAGAIN when nothing follows, else the next record) and returns 0
 * only at the real end. The daemon's splice path relies on exactly this.
 */
Test(kernel, an_empty_record_reads_as_zero_from_splice_only)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true,
			  .client_keylog = true};
	struct kst_ktls_result res;
	unsigned char rec[128], buf[64];
	struct tpair p;
	uint8_t type = 0;
	int pfd[2];
	size_t n;

	require_ktls();
	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff(p.s, p.sfd, true, &res), 0);
	cr_assert(res.rx, "rx %s", kst_ktls_why_name(res.rx_why));
	cr_assert(pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0);
	n = seal13("", 0, 0, rec);
	cr_assert(write(p.cfd, rec, n) == (ssize_t)n);
	cr_assert_eq(splice_wait(p.sfd, pfd[1]), 0,
		     "splice: 0 for the empty record");
	usleep(50000);
	cr_assert_eq(
		kst_ktls_recv(p.sfd, buf, sizeof(buf), MSG_DONTWAIT, &type),
		-EAGAIN, "the record is gone; not the end");
	/* two empty records, then data: recvmsg skips to the data */
	n = seal13("", 0, 1, rec);
	n += seal13("", 0, 2, rec + n);
	n += seal13("hello", 5, 3, rec + n);
	cr_assert(write(p.cfd, rec, n) == (ssize_t)n);
	cr_assert_eq(recv_wait(p.sfd, buf, sizeof(buf), &type), 5);
	cr_assert(type == 23 && memcmp(buf, "hello", 5) == 0);
	/* the real end: both say 0 */
	cr_assert(shutdown(p.cfd, SHUT_WR) == 0);
	wait_fd(p.sfd, POLLIN);
	cr_assert_eq(splice_wait(p.sfd, pfd[1]), 0);
	cr_assert_eq(recv_wait(p.sfd, buf, sizeof(buf), &type), 0);
	close(pfd[0]);
	close(pfd[1]);
	tpair_close(&p);
}

/* ---- TLS 1.3 KeyUpdate: parsing, the next secret, the kernel rekey ---- */

struct ku_parse_case {
	char name[32];
	unsigned char buf[12];
	size_t len;
	int ret;
	bool requested;
};

ParameterizedTestParameters(keyupdate, parse_takes_exactly_one_message)
{
	static struct ku_parse_case cases[] = {
		{"not requested", {24, 0, 0, 1, 0}, 5, 0, false},
		{"requested", {24, 0, 0, 1, 1}, 5, 0, true},
		{"request value 2", {24, 0, 0, 1, 2}, 5, -EBADMSG, false},
		{"request value 255", {24, 0, 0, 1, 255}, 5, -EBADMSG, false},
		{"empty", {0}, 0, -EBADMSG, false},
		{"type only", {24}, 1, -EBADMSG, false},
		{"no body", {24, 0, 0, 1}, 4, -EBADMSG, false},
		{"length 0", {24, 0, 0, 0}, 4, -EBADMSG, false},
		{"length 2", {24, 0, 0, 2, 0, 0}, 6, -EBADMSG, false},
		{"length 2^16 + 1", {24, 1, 0, 1, 0}, 5, -EBADMSG, false},
		{"two KeyUpdates in one record",
		 {24, 0, 0, 1, 0, 24, 0, 0, 1, 0},
		 10,
		 -EBADMSG,
		 false},
		{"trailing byte", {24, 0, 0, 1, 1, 0}, 6, -EBADMSG, false},
		{"NewSessionTicket", {4, 0, 0, 1, 0}, 5, -EBADMSG, false},
	};
	return cr_make_param_array(struct ku_parse_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ku_parse_case *c, keyupdate,
		  parse_takes_exactly_one_message)
{
	bool req = !c->requested;

	cr_assert_eq(kst_ktls_key_update_parse(c->buf, c->len, &req), c->ret,
		     "%s", c->name);
	if (c->ret == 0)
		cr_assert_eq(req, c->requested, "%s", c->name);
	else
		cr_assert_eq(req, !c->requested, "%s: untouched", c->name);
	/* the record classifier agrees */
	cr_assert_eq(kst_ktls_record_classify(22, c->buf, c->len, NULL) ==
			     KST_KTLS_REC_KEY_UPDATE,
		     c->ret == 0, "%s", c->name);
}

Test(keyupdate, parse_refuses_null)
{
	cr_assert_eq(kst_ktls_key_update_parse(NULL, 5, NULL), -EBADMSG);
}

/* HKDF-Expand-Label built by hand (RFC 8446 7.1) and fed to plain HKDF:
 * an independent path to what kst_ktls_tls13_next_secret computes. */
static void expand_label_by_hand(const char *md, const unsigned char *secret,
				 size_t len, const char *label,
				 unsigned char *out)
{
	unsigned char info[64];
	size_t ll = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5];

	info[n++] = (unsigned char)(len >> 8);
	info[n++] = (unsigned char)len;
	info[n++] = (unsigned char)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, ll);
	n += ll;
	info[n++] = 0; /* empty context */
	p[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)md, 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, len);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	p[4] = OSSL_PARAM_construct_end();
	cr_assert(k != NULL && EVP_KDF_derive(k, out, len, p) == 1);
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
}

Test(keyupdate, next_secret_is_hkdf_expand_label_traffic_upd)
{
	static const uint16_t ids[] = {0x1301, 0x1302, 0x1303};
	unsigned char secret[KST_KTLS_MAX_SECRET_LEN], next[48], want[48];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct kst_ktls_suite *s =
			kst_ktls_suite_find(TLS1_3_VERSION, ids[i]);

		cr_assert_not_null(s);
		for (size_t j = 0; j < sizeof(secret); j++)
			secret[j] = (unsigned char)(i * 64 + j);
		cr_assert_eq(kst_ktls_tls13_next_secret(s, secret,
							s->secret_len, next),
			     0);
		expand_label_by_hand(s->digest, secret, s->secret_len,
				     "traffic upd", want);
		cr_assert_arr_eq(next, want, s->secret_len, "%s", s->name);
		cr_assert(memcmp(next, secret, s->secret_len) != 0);
	}
	cr_assert_eq(kst_ktls_tls13_next_secret(
			     kst_ktls_suite_find(TLS1_3_VERSION, 0x1301),
			     secret, 48, next),
		     -EINVAL, "wrong secret length");
	cr_assert_eq(kst_ktls_tls13_next_secret(NULL, secret, 32, next),
		     -EINVAL);
}

/* Complete TLS records at the front of buf; *third: where the third
 * starts. */
static size_t records_in(const unsigned char *buf, size_t have, size_t *third)
{
	size_t off = 0, n = 0;

	while (off + 5 <= have &&
	       off + 5 + ((size_t)buf[off + 3] << 8 | buf[off + 4]) <= have) {
		if (n == 2)
			*third = off;
		off += 5 + ((size_t)buf[off + 3] << 8 | buf[off + 4]);
		n++;
	}
	return n;
}

/*
 * The client's record after its KeyUpdate opened with the key of the next
 * secret, without any kernel: OpenSSL's own KeyUpdate is the reference.
 * The client writes "before", a KeyUpdate and "after"; the server side
 * reads the raw records off the socket.
 */
Test(keyupdate, next_secret_opens_openssls_record_after_its_key_update)
{
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .client_keylog = true};
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	unsigned char raw[512], next[32], key[16], iv[12], pt[64];
	size_t have = 0, off = 0, rec = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	struct tpair p;
	int n = 0, m = 0;

	tpair_open(&p, &o);
	cr_assert(SSL_write(p.c, "before", 6) == 6);
	cr_assert(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	cr_assert(SSL_write(p.c, "after", 5) == 5);
	/* three records: data, KeyUpdate (both under key 0), data */
	for (int i = 0; i < 200 && rec < 3; i++) {
		ssize_t r = recv(p.sfd, raw + have, sizeof(raw) - have, 0);

		if (r > 0)
			have += (size_t)r;
		else
			usleep(5000);
		rec = records_in(raw, have, &off);
	}
	cr_assert_eq(rec, 3, "three records arrived");
	cr_assert_eq(raw[off], 23);
	n = (int)((size_t)raw[off + 3] << 8 | raw[off + 4]);
	cr_assert_eq(n, 5 + 1 + 16, "\"after\", its type, the tag");
	cr_assert_eq(kst_ktls_tls13_next_secret(s, client_secret,
						client_secret_len, next),
		     0);
	cr_assert_eq(kst_ktls_tls13_derive(s, next, sizeof(next), key, iv), 0);
	/* record 0 under the new key: the nonce is the iv itself */
	cr_assert(ctx &&
		  EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv) &&
		  EVP_DecryptUpdate(ctx, NULL, &m, raw + off, 5) &&
		  EVP_DecryptUpdate(ctx, pt, &m, raw + off + 5, n - 16) &&
		  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16,
				      raw + off + 5 + n - 16));
	cr_assert_eq(EVP_DecryptFinal_ex(ctx, pt + m, &m), 1,
		     "the tag verifies under the next key");
	cr_assert_arr_eq(pt, "after\x17", 6);
	EVP_CIPHER_CTX_free(ctx);
	tpair_close(&p);
}

Test(keyupdate, rekey_probe_agrees_with_a_real_connection)
{
	struct kst_ktls_result res;
	struct kst_ktls_keys *keys = NULL;
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = true,
			  .keylog = true};
	struct tpair p;
	const char *why = NULL;
	bool can = kst_ktls_rekey_probe(&why);
	int err;

	require_ktls();
	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff_keep(p.s, p.sfd, true, &res, &keys), 0);
	cr_assert(res.tx && res.rx);
	cr_assert_not_null(keys, "both secrets kept");
	cr_assert_not(kst_ktls_has_secret(p.s), "moved out of the SSL");
	err = kst_ktls_rekey(keys, p.sfd, TLS_TX);
	if (can)
		cr_assert_eq(err, 0, "probe: %s", why);
	else
		cr_assert_eq(err, -EBUSY, "probe: %s; rekey: %s", why,
			     strerror(-err));
	kst_ktls_keys_free(keys);
	tpair_close(&p);
}

Test(keyupdate, nothing_is_kept_where_a_direction_stays_in_userspace)
{
	struct kst_ktls_result res;
	struct kst_ktls_keys *keys = (struct kst_ktls_keys *)&res;
	struct topts o = {.version = TLS1_3_VERSION,
			  .suite = "TLS_AES_128_GCM_SHA256",
			  .ktls = false,
			  .keylog = true};
	struct tpair p;

	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff_keep(p.s, p.sfd, true, &res, &keys), 0);
	cr_assert_null(keys);
	cr_assert_not(kst_ktls_has_secret(p.s), "wiped");
	cr_assert_eq(kst_ktls_rekey(NULL, p.sfd, TLS_RX), -ENOKEY);
	cr_assert_eq(kst_ktls_send_key_update(p.sfd, false), -EOPNOTSUPP,
		     "never in clear");
	tpair_close(&p);
}

struct rekey_case {
	char suite[48];
	bool requested;
};

ParameterizedTestParameters(keyupdate, client_key_updates_are_rekeyed)
{
	static struct rekey_case cases[] = {
		{"TLS_AES_128_GCM_SHA256", false},
		{"TLS_AES_128_GCM_SHA256", true},
		{"TLS_AES_256_GCM_SHA384", false},
		{"TLS_AES_256_GCM_SHA384", true},
		{"TLS_CHACHA20_POLY1305_SHA256", false},
		{"TLS_CHACHA20_POLY1305_SHA256", true},
	};
	return cr_make_param_array(struct rekey_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

/*
 * The daemon's sequence on a kernel that rekeys, three times over: the
 * KeyUpdate arrives as such, the kernel holds the next record
 * (EKEYEXPIRED) until the client's next key is in, and when asked our
 * KeyUpdate goes out before our next key; both directions stay
 * byte-exact, and tls_stat counts what we did. A kernel that cannot
 * rekey refuses the client's next key (EBUSY), as the daemon's probe
 * said it would, and then fails the next record (EBADMSG).
 */
ParameterizedTest(struct rekey_case *rc, keyupdate,
		  client_key_updates_are_rekeyed, .timeout = 120)
{
	struct topts o = {
		.version = TLS1_3_VERSION, .ktls = true, .keylog = true};
	struct kst_tls_stat s0, s1;
	struct kst_ktls_result res;
	struct kst_ktls_keys *keys = NULL;
	struct kst_ktls_record r;
	struct kst_ktls_info info;
	struct tpair p;
	char buf[32];
	uint8_t type = 0;
	const int rounds = 3;
	bool can;

	require_ktls();
	/* before s0: the probe itself rekeys a TX key once */
	can = kst_ktls_rekey_probe(NULL);
	snprintf(o.suite, sizeof(o.suite), "%s", rc->suite);
	tpair_open(&p, &o);
	cr_assert_eq(kst_ktls_handoff_keep(p.s, p.sfd, true, &res, &keys), 0);
	cr_assert(res.tx && res.rx && keys != NULL);
	cr_assert_eq(kst_ktls_tls_stat_read(&s0), 0);
	if (!can) {
		cr_assert(SSL_write(p.c, "before", 6) == 6);
		cr_assert(SSL_key_update(
				  p.c,
				  rc->requested
					  ? SSL_KEY_UPDATE_REQUESTED
					  : SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
		cr_assert(SSL_write(p.c, "after", 5) == 5);
		ktls_read_all(p.sfd, buf, 6);
		cr_assert_arr_eq(buf, "before", 6);
		cr_assert_eq(next_control(p.sfd, &r), KST_KTLS_REC_KEY_UPDATE);
		cr_assert_eq(kst_ktls_rekey(keys, p.sfd, TLS_RX), -EBUSY);
		tls_rx_busy = 0; /* that refusal was the point */
		cr_assert_eq(recv_wait(p.sfd, buf, sizeof(buf), &type),
			     -EBADMSG, "the next record fails to decrypt");
		kst_ktls_keys_free(keys);
		tpair_close(&p);
		return;
	}
	for (int i = 0; i < rounds; i++) {
		char before[32], after[32], reply[32];
		int got = 0;

		snprintf(before, sizeof(before), "before %d", i);
		snprintf(after, sizeof(after), "after %d", i);
		snprintf(reply, sizeof(reply), "reply %d", i);
		cr_assert(SSL_write(p.c, before, 8) == 8);
		cr_assert(SSL_key_update(
				  p.c,
				  rc->requested
					  ? SSL_KEY_UPDATE_REQUESTED
					  : SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
		cr_assert(SSL_write(p.c, after, 7) == 7);
		ktls_read_all(p.sfd, buf, 8);
		cr_assert_arr_eq(buf, before, 8);
		cr_assert_eq(next_control(p.sfd, &r), KST_KTLS_REC_KEY_UPDATE);
		cr_assert_eq(r.update_requested, rc->requested);
		cr_assert_eq(recv_wait(p.sfd, buf, sizeof(buf), &type),
			     -EKEYEXPIRED, "the kernel holds the new records");
		cr_assert_eq(kst_ktls_rekey(keys, p.sfd, TLS_RX), 0);
		cr_assert_eq(kst_ktls_get_info(p.sfd, TLS_RX, &info), 0);
		cr_assert_eq(info.rec_seq, 0, "a new key starts at record 0");
		ktls_read_all(p.sfd, buf, 7);
		cr_assert_arr_eq(buf, after, 7);
		if (rc->requested) {
			cr_assert_eq(kst_ktls_send_key_update(p.sfd, false), 0);
			cr_assert_eq(kst_ktls_rekey(keys, p.sfd, TLS_TX), 0);
		}
		cr_assert(write(p.sfd, reply, 7) == 7, "through kernel TX");
		cr_assert_eq(ssl_read_some(p.c, p.cfd, buf, sizeof(buf), &got),
			     SSL_ERROR_NONE);
		cr_assert(got == 7 && memcmp(buf, reply, 7) == 0,
			  "the client reads our reply");
	}
	cr_assert_eq(kst_ktls_tls_stat_read(&s1), 0);
	cr_assert(s1.has_rekey);
	cr_assert_eq(s1.rx_rekey_ok - s0.rx_rekey_ok, (uint64_t)rounds);
	cr_assert_eq(s1.rx_rekey_received - s0.rx_rekey_received,
		     (uint64_t)rounds);
	cr_assert_eq(s1.tx_rekey_ok - s0.tx_rekey_ok,
		     rc->requested ? (uint64_t)rounds : 0);
	cr_assert_eq(s1.rx_rekey_error, s0.rx_rekey_error);
	kst_ktls_keys_free(keys);
	tpair_close(&p);
}
