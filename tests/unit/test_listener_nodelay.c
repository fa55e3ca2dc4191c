// SPDX-License-Identifier: MIT
/*
 * Connections the daemon accepts have Nagle's algorithm off (TCP_NODELAY)
 * from the start, whether the listening socket is the daemon's own or one
 * systemd passed: the listening socket carries the option and accepted
 * sockets inherit it, so no setsockopt is spent per connection (issue 18).
 * Without it a small record written right after another (a response, then
 * close_notify) waits for the client's delayed ACK.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/datapath/lsock.h"

static struct kst_addr loopback_any_port(void)
{
	struct kst_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&a.ss;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.len = sizeof(*sin);
	return a;
}

/* Connects to lfd's address, accepts as the worker does; the accepted
 * socket's TCP_NODELAY. */
static int accepted_nodelay(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int c, s, v = -1;

	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0, "connect: %s",
		     strerror(errno));
	/* the daemon's sockets defer the accept until data comes */
	cr_assert_eq(write(c, "x", 1), 1);
	cr_assert_eq(poll(&p, 1, 10000), 1, "the connection was queued");
	s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	cr_assert_geq(s, 0, "accept: %s", strerror(errno));
	len = sizeof(v);
	cr_assert_eq(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	close(s);
	close(c);
	return v;
}

Test(listener_nodelay, connections_accepted_on_our_sockets_have_nagle_off)
{
	struct kst_addr a = loopback_any_port();
	struct kst_lsock *ls = NULL;

	/* one worker: with more, SO_REUSEPORT picks the socket a
	 * connection lands on */
	cr_assert_eq(kst_lsock_open(&a, 1, 16, &ls), 0);
	cr_expect_neq(accepted_nodelay(ls->fds[0]), 0, "TCP_NODELAY on");
	kst_lsock_put(ls);
}

Test(listener_nodelay, connections_accepted_on_a_passed_socket_have_nagle_off)
{
	struct kst_addr a = loopback_any_port();
	struct kst_lsock *ls = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(a.ss);

	/* as systemd makes it: bound and listening, no TCP options */
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a.ss, &len), 0);
	cr_assert_eq(kst_lsock_adopt(fd, &a, 1, &ls), 0);
	cr_expect_neq(accepted_nodelay(ls->fds[0]), 0, "TCP_NODELAY on");
	kst_lsock_put(ls);
}
