// SPDX-License-Identifier: MIT
/*
 * kst_sockdiag against the running kernel, on loopback TCP connections.
 * This host has no kTLS, so no socket here carries the "tls" ULP; what is
 * proven is the request (tuple, cookie, v4-mapped, link binding), the
 * error mapping, and a real ULP_INFO reply: an MPTCP subflow is a TCP
 * socket with the "mptcp" ULP. The TLS states themselves are covered by
 * canned replies in tests/unit/test_sockdiag.c; on a kernel with kTLS (the
 * VM harness: KST_HWTEST_TESTS=test_sockdiag_live) one test attaches the
 * "tls" ULP and installs TX and RX keys by hand, no OpenSSL involved, and
 * watches each step in the kernel's answer. It skips elsewhere.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/tls.h>

#include "daemon/base/util.h"
#include "ktls/sockdiag.h"
#include "tests/lib/testutil.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

struct conn {
	int client, server;
};

static struct kst_sockdiag *open_or_skip(void)
{
	struct kst_sockdiag *sd = NULL;
	int err = kst_sockdiag_open(&sd);

	kst_test_require(err != -EPROTONOSUPPORT,
			 "kernel lacks inet_diag/tcp_diag (sock_diag for TCP)");
	cr_assert_eq(err, 0, "kst_sockdiag_open: %s", strerror(-err));
	return sd;
}

/* A connected pair on a loopback address of family fam (any port). */
static int loop_pair(int fam, int proto, const char *addr, bool v6only,
		     struct conn *c)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = fam == AF_INET ? sizeof(struct sockaddr_in)
				       : sizeof(struct sockaddr_in6);
	int one = 1, l = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, proto);
	int on = v6only;

	if (l < 0)
		return -errno;
	ss.ss_family = fam;
	if (fam == AF_INET)
		inet_pton(fam, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(fam, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&ss, &len) < 0) {
		int err = -errno;

		close(l);
		return err;
	}
	c->client = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, proto);
	cr_assert_geq(c->client, 0);
	cr_assert_eq(connect(c->client, (struct sockaddr *)&ss, len), 0,
		     "connect: %s", strerror(errno));
	c->server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c->server, 0);
	close(l);
	return 0;
}

/* A v4 client to a dual-stack listener: the server sees ::ffff:a.b.c.d. */
static int mapped_pair(struct conn *c)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in s4 = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(s6);
	int off = 0, l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		return -errno;
	setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(l, (struct sockaddr *)&s6, sizeof(s6)) < 0 || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&s6, &len) < 0) {
		int err = -errno;

		close(l);
		return err;
	}
	s4.sin_port = s6.sin6_port;
	c->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(c->client, (struct sockaddr *)&s4, sizeof(s4)), 0);
	c->server = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c->server, 0);
	close(l);
	return 0;
}

static void close_pair(struct conn *c)
{
	close(c->client);
	close(c->server);
}

static void expect_plain_tcp(struct kst_sockdiag *sd, int fd, const char *who)
{
	struct kst_sockdiag_tls t;

	memset(&t, 0x5a, sizeof(t));
	cr_assert_eq(kst_sockdiag_query_fd(sd, fd, &t), 0, "%s", who);
	cr_expect(!t.ulp_tls, "%s", who);
	cr_expect_str_eq(t.ulp, "", "%s", who);
	cr_expect_eq(t.tx, KST_TLS_CONF_NONE, "%s", who);
	cr_expect_eq(t.rx, KST_TLS_CONF_NONE, "%s", who);
}

Test(sockdiag_live, finds_both_ends_of_an_ipv4_connection)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct conn c;

	cr_assert_eq(loop_pair(AF_INET, 0, "127.0.0.1", false, &c), 0);
	expect_plain_tcp(sd, c.client, "client");
	expect_plain_tcp(sd, c.server, "server");
	close_pair(&c);
	kst_sockdiag_close(sd);
}

Test(sockdiag_live, finds_both_ends_of_an_ipv6_connection)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct conn c = {-1, -1};
	int err = loop_pair(AF_INET6, 0, "::1", true, &c);

	kst_test_require(err == 0, "no IPv6 loopback here (%s)",
			 strerror(-err));
	expect_plain_tcp(sd, c.client, "client");
	expect_plain_tcp(sd, c.server, "server");
	close_pair(&c);
	kst_sockdiag_close(sd);
}

Test(sockdiag_live, finds_a_v4_mapped_socket_of_a_dual_stack_listener)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct conn c = {-1, -1};
	int err = mapped_pair(&c);

	kst_test_require(err == 0, "no dual-stack socket here (%s)",
			 strerror(-err));
	expect_plain_tcp(sd, c.server, "v4-mapped server end");
	close_pair(&c);
	kst_sockdiag_close(sd);
}

Test(sockdiag_live, a_stale_cookie_finds_nothing)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	struct kst_sockdiag_tls t;
	uint64_t cookie = 0;
	socklen_t cl = sizeof(cookie);
	struct conn c;

	cr_assert_eq(loop_pair(AF_INET, 0, "127.0.0.1", false, &c), 0);
	getsockname(c.client, (struct sockaddr *)&l, &ll);
	getpeername(c.client, (struct sockaddr *)&p, &pl);
	cr_assert_eq(getsockopt(c.client, SOL_SOCKET, SO_COOKIE, &cookie, &cl),
		     0);
	cr_expect_eq(kst_sockdiag_query_tuple(sd, (struct sockaddr *)&l,
					      (struct sockaddr *)&p, cookie,
					      &t),
		     0);
	cr_expect_eq(kst_sockdiag_query_tuple(sd, (struct sockaddr *)&l,
					      (struct sockaddr *)&p,
					      cookie + 1000, &t),
		     -ENOENT);
	close_pair(&c);
	kst_sockdiag_close(sd);
}

Test(sockdiag_live, says_why_a_socket_cannot_be_asked_about)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sv[2];
	struct kst_sockdiag_tls t;

	cr_assert_eq(bind(lst, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lst, 1), 0);
	cr_expect_eq(kst_sockdiag_query_fd(sd, lst, &t), -ENOTCONN);
	cr_expect_eq(kst_sockdiag_query_fd(sd, udp, &t), -EPROTOTYPE);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_expect_eq(kst_sockdiag_query_fd(sd, sv[0], &t), -EAFNOSUPPORT);
	cr_expect_eq(kst_sockdiag_query_fd(sd, 1000, &t), -EBADF);
	close(sv[0]);
	close(sv[1]);
	close(udp);
	close(lst);
	kst_sockdiag_close(sd);
}

Test(sockdiag_live, reads_a_real_ulp_reply_from_an_mptcp_subflow)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	struct kst_sockdiag_tls t;
	struct conn c = {-1, -1};
	int err = loop_pair(AF_INET, IPPROTO_MPTCP, "127.0.0.1", false, &c);

	kst_test_require(err == 0, "no MPTCP here (%s)", strerror(-err));
	/* The MPTCP socket itself is not TCP... */
	cr_expect_eq(kst_sockdiag_query_fd(sd, c.client, &t), -EPROTOTYPE);
	/* ...its first subflow is, on the same tuple, with the mptcp ULP. */
	getsockname(c.client, (struct sockaddr *)&l, &ll);
	getpeername(c.client, (struct sockaddr *)&p, &pl);
	cr_assert_eq(kst_sockdiag_query_tuple(sd, (struct sockaddr *)&l,
					      (struct sockaddr *)&p, 0, &t),
		     0);
	kst_test_require(t.ulp[0], "MPTCP fell back to plain TCP here");
	cr_expect_str_eq(t.ulp, "mptcp");
	cr_expect(!t.ulp_tls);
	cr_expect_eq(t.tx, KST_TLS_CONF_NONE);
	close_pair(&c);
	kst_sockdiag_close(sd);
}

/* One handle per thread, as the workers use it. */
static void *query_many(void *arg)
{
	const struct conn *c = arg;
	struct kst_sockdiag *sd = NULL;
	struct kst_sockdiag_tls t;
	intptr_t bad = 0;

	if (kst_sockdiag_open(&sd))
		return (void *)(intptr_t)-1;
	for (int i = 0; i < 500; i++)
		if (kst_sockdiag_query_fd(sd, i % 2 ? c->client : c->server,
					  &t) ||
		    t.ulp_tls)
			bad++;
	kst_sockdiag_close(sd);
	return (void *)bad;
}

Test(sockdiag_live, answers_many_queries_from_several_threads)
{
	struct kst_sockdiag *sd = open_or_skip();
	pthread_t th[4];
	struct conn c;
	uint64_t t0;

	kst_sockdiag_close(sd);
	cr_assert_eq(loop_pair(AF_INET, 0, "127.0.0.1", false, &c), 0);
	t0 = kst_mono_ms();
	for (size_t i = 0; i < KST_ARRAY_SIZE(th); i++)
		cr_assert_eq(pthread_create(&th[i], NULL, query_many, &c), 0);
	for (size_t i = 0; i < KST_ARRAY_SIZE(th); i++) {
		void *bad;

		cr_assert_eq(pthread_join(th[i], &bad), 0);
		cr_expect_eq((intptr_t)bad, 0, "thread %zu: %ld bad answers", i,
			     (long)(intptr_t)bad);
	}
	cr_log_info("2000 queries on 4 threads: %llu ms",
		    (unsigned long long)(kst_mono_ms() - t0));
	close_pair(&c);
}

static void expect_tls(struct kst_sockdiag *sd, int fd, enum kst_tls_conf tx,
		       enum kst_tls_conf rx, const char *line)
{
	struct kst_sockdiag_tls t;
	char got[96];

	cr_assert_eq(kst_sockdiag_query_fd(sd, fd, &t), 0);
	cr_expect(t.ulp_tls);
	cr_expect_eq(t.tx, tx);
	cr_expect_eq(t.rx, rx);
	cr_assert_eq(kst_sockdiag_format(&t, got, sizeof(got)), 0);
	cr_expect_str_eq(got, line);
}

/* Keys never used for a byte: the kernel only has to accept them. */
Test(sockdiag_live, follows_ktls_installation_step_by_step)
{
	struct kst_sockdiag *sd = open_or_skip();
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_2_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};
	struct conn c;
	int r;

	cr_assert_eq(loop_pair(AF_INET, 0, "127.0.0.1", false, &c), 0);
	r = setsockopt(c.server, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
	kst_test_require(r == 0, "no kTLS in this kernel (TCP_ULP tls: %s)",
			 strerror(errno));
	expect_tls(sd, c.server, KST_TLS_CONF_BASE, KST_TLS_CONF_BASE,
		   "tls tx none rx none");
	r = setsockopt(c.server, SOL_TLS, TLS_TX, &ci, sizeof(ci));
	kst_test_require(r == 0, "kernel refused AES-GCM-128 TLS_TX (%s)",
			 strerror(errno));
	expect_tls(sd, c.server, KST_TLS_CONF_SW, KST_TLS_CONF_BASE,
		   "tls 1.2 aes-gcm-128 tx sw rx none");
	cr_assert_eq(setsockopt(c.server, SOL_TLS, TLS_RX, &ci, sizeof(ci)), 0,
		     "TLS_RX: %s", strerror(errno));
	expect_tls(sd, c.server, KST_TLS_CONF_SW, KST_TLS_CONF_SW,
		   "tls 1.2 aes-gcm-128 tx sw rx sw");
	/* The other end never had the ULP. */
	expect_plain_tcp(sd, c.client, "client");
	close_pair(&c);
	kst_sockdiag_close(sd);
}
