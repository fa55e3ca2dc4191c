// SPDX-License-Identifier: MIT
/*
 * I/O half of the sock_diag module: per-socket kTLS state through
 * NETLINK_SOCK_DIAG. libnl has no inet_diag helpers, so requests go over a
 * raw netlink socket; replies are read by kst_sockdiag_parse
 * (sockdiag_parse.c, pure).
 *
 * The kernel answers an exact inet_diag request inside sendto(): the
 * handler runs in the sender's context and queues its reply before the
 * call returns. A query is therefore one send and one read, and the
 * receive timeout only bounds the unexpected. A reply to an earlier query
 * that gave up carries an older sequence number and is skipped.
 *
 * Only the 4-tuple and the socket cookie go into a request: the cookie
 * makes the kernel refuse (ENOENT) a different socket that has since taken
 * the same tuple.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "ktls/sockdiag.h"

/* A TCP socket's reply is under 1 KiB (diag msg, tcp_info, ULP). */
#define KST_SOCKDIAG_BUFSIZE	8192
#define KST_SOCKDIAG_RCVTIMEO_S 1
/* Datagrams one query reads at most before giving up (stale replies). */
#define KST_SOCKDIAG_MAX_READS 16

struct kst_sockdiag {
	int fd;
	uint32_t seq;
	/* netlink messages are 4-byte aligned; keep the buffer so too */
	unsigned char buf[KST_SOCKDIAG_BUFSIZE] __attribute__((aligned(8)));
};

static int sockdiag_id(const struct sockaddr *local,
		       const struct sockaddr *peer, uint64_t cookie,
		       uint32_t ifindex, struct inet_diag_req_v2 *req);
static int sockdiag_send(struct kst_sockdiag *sd,
			 const struct inet_diag_req_v2 *req, bool dump);
static int sockdiag_recv(struct kst_sockdiag *sd, bool dump,
			 struct kst_sockdiag_tls *out);
static int sockdiag_query(struct kst_sockdiag *sd, struct inet_diag_req_v2 *req,
			  struct kst_sockdiag_tls *out);
static int sockdiag_probe(struct kst_sockdiag *sd);

/* An exact request: the socket's own view, src local and dst peer. */
static int sockdiag_id(const struct sockaddr *local,
		       const struct sockaddr *peer, uint64_t cookie,
		       uint32_t ifindex, struct inet_diag_req_v2 *req)
{
	struct inet_diag_sockid *id = &req->id;

	memset(req, 0, sizeof(*req));
	if (!local || !peer || local->sa_family != peer->sa_family)
		return -EINVAL;
	req->sdiag_family = local->sa_family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_ext = 1u << (INET_DIAG_INFO - 1);
	req->idiag_states = ~0u;
	if (local->sa_family == AF_INET) {
		const struct sockaddr_in *l = (const void *)local;
		const struct sockaddr_in *p = (const void *)peer;

		id->idiag_sport = l->sin_port;
		id->idiag_dport = p->sin_port;
		id->idiag_src[0] = l->sin_addr.s_addr;
		id->idiag_dst[0] = p->sin_addr.s_addr;
	} else if (local->sa_family == AF_INET6) {
		const struct sockaddr_in6 *l = (const void *)local;
		const struct sockaddr_in6 *p = (const void *)peer;

		id->idiag_sport = l->sin6_port;
		id->idiag_dport = p->sin6_port;
		memcpy(id->idiag_src, &l->sin6_addr, sizeof(l->sin6_addr));
		memcpy(id->idiag_dst, &p->sin6_addr, sizeof(p->sin6_addr));
		/* A link-local socket is bound to its link. */
		if (!ifindex && IN6_IS_ADDR_LINKLOCAL(&l->sin6_addr))
			ifindex = l->sin6_scope_id;
	} else {
		return -EAFNOSUPPORT;
	}
	id->idiag_if = ifindex;
	id->idiag_cookie[0] = cookie ? (uint32_t)cookie : INET_DIAG_NOCOOKIE;
	id->idiag_cookie[1] =
		cookie ? (uint32_t)(cookie >> 32) : INET_DIAG_NOCOOKIE;
	return 0;
}

static int sockdiag_send(struct kst_sockdiag *sd,
			 const struct inet_diag_req_v2 *req, bool dump)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh =
			{
				.nlmsg_len = NLMSG_LENGTH(sizeof(*req)),
				.nlmsg_type = SOCK_DIAG_BY_FAMILY,
				.nlmsg_flags =
					NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0),
				.nlmsg_seq = ++sd->seq,
			},
		.req = *req,
	};
	ssize_t n;

	do
		n = sendto(sd->fd, &msg, msg.nlh.nlmsg_len, 0,
			   (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == msg.nlh.nlmsg_len ? 0 : -EIO;
}

/*
 * Reads until the message that ends this query: the reply (exact), DONE
 * (a dump: only the probe uses one, and wants nothing from it) or an
 * error. Messages of other queries are skipped.
 */
static int sockdiag_recv(struct kst_sockdiag *sd, bool dump,
			 struct kst_sockdiag_tls *out)
{
	for (int reads = 0; reads < KST_SOCKDIAG_MAX_READS; reads++) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n =
			recvfrom(sd->fd, sd->buf, sizeof(sd->buf), MSG_TRUNC,
				 (struct sockaddr *)&from, &fromlen);
		int left = (int)n;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if ((size_t)n > sizeof(sd->buf))
			return -EMSGSIZE;
		if (from.nl_pid != 0)
			continue;

		for (struct nlmsghdr *h = (struct nlmsghdr *)sd->buf;
		     NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != sd->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return dump ? 0 : -ENOENT;
			/* An error ends a dump too; the parser returns it. */
			if (!dump || h->nlmsg_type == NLMSG_ERROR)
				return kst_sockdiag_parse(h, h->nlmsg_len, out);
		}
	}
	return -ETIMEDOUT;
}

static int sockdiag_query(struct kst_sockdiag *sd, struct inet_diag_req_v2 *req,
			  struct kst_sockdiag_tls *out)
{
	int err = sockdiag_send(sd, req, false);

	return err ? err : sockdiag_recv(sd, false, out);
}

/*
 * Asks for a dump of TCP sockets in no state: the kernel walks nothing and
 * answers DONE, or ENOENT when inet_diag or tcp_diag is missing (after
 * trying to load them).
 */
static int sockdiag_probe(struct kst_sockdiag *sd)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = AF_INET,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = 0,
	};
	int err = sockdiag_send(sd, &req, true);

	if (!err)
		err = sockdiag_recv(sd, true, NULL);
	return err == -ENOENT ? -EPROTONOSUPPORT : err;
}

int kst_sockdiag_open(struct kst_sockdiag **out)
{
	struct timeval tv = {.tv_sec = KST_SOCKDIAG_RCVTIMEO_S};
	struct kst_sockdiag *sd = calloc(1, sizeof(*sd));
	int err;

	if (!sd)
		return -ENOMEM;
	sd->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (sd->fd < 0) {
		err = -errno;
		goto error;
	}
	if (setsockopt(sd->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		err = -errno;
		goto error;
	}
	err = sockdiag_probe(sd);
	if (err)
		goto error;
	*out = sd;
	return 0;
error:
	kst_sockdiag_close(sd);
	return err;
}

void kst_sockdiag_close(struct kst_sockdiag *sd)
{
	if (!sd)
		return;
	if (sd->fd >= 0)
		close(sd->fd);
	free(sd);
}

int kst_sockdiag_query_tuple(struct kst_sockdiag *sd,
			     const struct sockaddr *local,
			     const struct sockaddr *peer, uint64_t cookie,
			     struct kst_sockdiag_tls *out)
{
	struct inet_diag_req_v2 req;
	int err = sockdiag_id(local, peer, cookie, 0, &req);

	return err ? err : sockdiag_query(sd, &req, out);
}

/* The socket's tuple, cookie and bound device, as the kernel keys it. */
int kst_sockdiag_query_fd(struct kst_sockdiag *sd, int fd,
			  struct kst_sockdiag_tls *out)
{
	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	socklen_t olen = sizeof(int);
	struct inet_diag_req_v2 req;
	uint64_t cookie = 0;
	int proto = 0, ifindex = 0, err;

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return -errno;
	if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (proto != IPPROTO_TCP)
		return -EPROTOTYPE;
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
		return -errno;
	olen = sizeof(cookie);
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &olen) < 0)
		cookie = 0;
	olen = sizeof(ifindex);
	if (getsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &ifindex, &olen) < 0)
		ifindex = 0;
	err = sockdiag_id((struct sockaddr *)&local, (struct sockaddr *)&peer,
			  cookie, (uint32_t)ifindex, &req);
	return err ? err : sockdiag_query(sd, &req, out);
}
