// SPDX-License-Identifier: MIT
/* Listening sockets; see lsock.h. */
#include "daemon/datapath/lsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/base/log.h"

static struct kst_lsock *lsock_alloc(const struct kst_addr *a, unsigned n)
{
	struct kst_lsock *ls = calloc(1, sizeof(*ls) + n * sizeof(int));

	if (ls == NULL)
		return NULL;
	atomic_init(&ls->refs, 1);
	ls->addr = *a;
	ls->lockfd = -1;
	ls->n = n;
	for (unsigned i = 0; i < n; i++)
		ls->fds[i] = -1;
	return ls;
}

/* "127.0.0.1:443", "[fe80::1%2]:443": kst_addr_format with the scope, so
 * that link-local addresses on two interfaces have two locks. */
static void lock_addr_text(const struct sockaddr_storage *ss, char *buf,
			   size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?", scope[IF_NAMESIZE + 2] = "";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)ss;

		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(v4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)ss;

		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		if (v6->sin6_scope_id != 0)
			snprintf(scope, sizeof(scope), "%%%u",
				 v6->sin6_scope_id);
		snprintf(buf, len, "[%s%s]:%u", host, scope,
			 ntohs(v6->sin6_port));
	} else {
		snprintf(buf, len, "family %u", (unsigned)ss->ss_family);
	}
}

/* The abstract unix address of the lock for ss; its length. */
static socklen_t lock_name(const struct sockaddr_storage *ss,
			   struct sockaddr_un *un)
{
	char addr[INET6_ADDRSTRLEN + 40];
	int n;

	lock_addr_text(ss, addr, sizeof(addr));
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	/* sun_path[0] stays 0: the abstract namespace */
	n = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1,
		     "kstapled/bind/%s/%s",
		     ss->ss_family == AF_INET6 ? "inet6" : "inet", addr);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   (size_t)n);
}

/* The PID of the process holding the lock; 0 if none, -1 if unknown. */
static int lock_holder(const struct sockaddr_storage *ss)
{
	struct sockaddr_un un;
	socklen_t len = lock_name(ss, &un), clen = sizeof(struct ucred);
	struct ucred cred = {0};
	int fd, pid;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&un, len) < 0)
		pid = errno == ECONNREFUSED || errno == ENOENT ? 0 : -1;
	else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
		 cred.pid > 0)
		pid = (int)cred.pid;
	else
		pid = -1;
	close(fd);
	return pid;
}

/* Take the lock of ss: the fd, or -EADDRINUSE (logged, with the holder). */
static int lock_take(const struct sockaddr_storage *ss)
{
	struct sockaddr_un un;
	socklen_t len = lock_name(ss, &un);
	char addr[INET6_ADDRSTRLEN + 40];
	int fd, err, pid;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&un, len) == 0 &&
	    listen(fd, 16) == 0)
		return fd;
	err = -errno;
	close(fd);
	if (err != -EADDRINUSE)
		return err;
	lock_addr_text(ss, addr, sizeof(addr));
	pid = lock_holder(ss);
	if (pid > 0)
		kst_err("bind %s: kstapled (pid %d) already serves this "
			"address; one daemon per address: stop it, or reload "
			"it (kill -HUP %d) with the new configuration",
			addr, pid, pid);
	else
		kst_err("bind %s: another kstapled already serves this "
			"address (its pid could not be read); one daemon per "
			"address",
			addr);
	return -EADDRINUSE;
}

/* ls's lock, on the address it has now: 0 or -errno. */
static int lsock_lock(struct kst_lsock *ls)
{
	int fd = lock_take(&ls->addr.ss);

	if (fd < 0)
		return fd;
	ls->lockfd = fd;
	return 0;
}

void kst_lsock_drain(struct kst_lsock *ls)
{
	/* bounded: at most what the backlog holds */
	for (int i = 0; ls != NULL && ls->lockfd >= 0 && i < 64; i++) {
		int fd = accept4(ls->lockfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			break;
		close(fd);
	}
}

int kst_lsock_holder(const struct kst_addr *a)
{
	return lock_holder(&a->ss);
}

static bool addr_port_zero(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)ss)
			       ->sin_port == 0;
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)(const void *)ss)
			       ->sin6_port == 0;
	return false;
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
	/* accepted sockets inherit it: no setsockopt per connection */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
	/* the lock first, so that no second daemon ever joins the port;
	 * port 0 has no name before the kernel picks one: locked after */
	if (!addr_port_zero(&ls->addr.ss) && (fd = lsock_lock(ls)) < 0) {
		kst_lsock_put(ls);
		return fd;
	}
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
			if (ls->lockfd < 0 && (fd = lsock_lock(ls)) < 0) {
				kst_lsock_put(ls);
				return fd;
			}
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
	/* the lock too, on the address the socket has (it may have been
	 * matched by name): kstapled.socket sets ReusePort=yes, so a daemon
	 * started by hand could join systemd's socket */
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			ss = ls->addr.ss;
		ls->lockfd = lock_take(&ss);
	}
	if (ls->lockfd < 0) {
		int err = ls->lockfd;

		ls->lockfd = -1;
		close(fd); /* taken over */
		kst_lsock_put(ls);
		return err;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* inherited by accepted sockets, as for our own (kst_lsock_open) */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
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
	/* after the TCP sockets: the address is free when the lock is */
	if (ls->lockfd >= 0)
		close(ls->lockfd);
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
