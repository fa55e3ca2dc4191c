// SPDX-License-Identifier: MIT
/* Listening sockets; see listener.h. */
#include "daemon/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct kst_lsock *lsock_alloc(const struct kst_addr *a, unsigned n)
{
	struct kst_lsock *ls = calloc(1, sizeof(*ls) + n * sizeof(int));

	if (ls == NULL)
		return NULL;
	atomic_init(&ls->refs, 1);
	ls->addr = *a;
	ls->n = n;
	for (unsigned i = 0; i < n; i++)
		ls->fds[i] = -1;
	return ls;
}

static int lsock_one(const struct kst_addr *a, unsigned backlog)
{
	int fd, one = 1, defer = 1, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto error;
	/* [::]:443 and 0.0.0.0:443 are separate bind lines */
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* a TLS client speaks first: wake us when the ClientHello is there
	 * (a silent client is accepted after about a second anyway, and then
	 * has handshake-timeout) */
	setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, (int)backlog) < 0)
		goto error;
	return fd;
error:
	err = -errno;
	close(fd);
	return err;
}

int kst_lsock_open(const struct kst_addr *a, unsigned nworkers,
		   unsigned backlog, struct kst_lsock **out)
{
	struct kst_lsock *ls = lsock_alloc(a, nworkers);
	int fd;

	*out = NULL;
	if (ls == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < nworkers; i++) {
		fd = lsock_one(&ls->addr, backlog);
		if (fd < 0) {
			kst_lsock_put(ls);
			return fd;
		}
		ls->fds[i] = fd;
		/* port 0: the other workers must share the port picked */
		if (i == 0) {
			socklen_t len = sizeof(ls->addr.ss);

			getsockname(fd, (struct sockaddr *)&ls->addr.ss, &len);
		}
	}
	*out = ls;
	return 0;
}

int kst_lsock_adopt(int fd, const struct kst_addr *a, unsigned nworkers,
		    struct kst_lsock **out)
{
	struct kst_lsock *ls = lsock_alloc(a, nworkers);

	*out = NULL;
	if (ls == NULL)
		return -ENOMEM;
	ls->from_systemd = true;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ls->fds[0] = fd;
	for (unsigned i = 1; i < nworkers; i++) {
		ls->fds[i] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (ls->fds[i] < 0) {
			int err = -errno;

			kst_lsock_put(ls);
			return err;
		}
	}
	*out = ls;
	return 0;
}

void kst_lsock_get(struct kst_lsock *ls)
{
	atomic_fetch_add(&ls->refs, 1);
}

void kst_lsock_put(struct kst_lsock *ls)
{
	if (ls == NULL || atomic_fetch_sub(&ls->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < ls->n; i++)
		if (ls->fds[i] >= 0)
			close(ls->fds[i]);
	free(ls);
}

bool kst_addr_equal(const struct kst_addr *a, const struct kst_addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss;
		const struct sockaddr_in *y = (const void *)&b->ss;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)&a->ss;
		const struct sockaddr_in6 *y = (const void *)&b->ss;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}
