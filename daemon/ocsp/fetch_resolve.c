// SPDX-License-Identifier: MIT
/*
 * Bounded, cancellable name resolution for the fetcher (see
 * fetch_resolve.h): one c-ares channel per lookup, driven here by poll()
 * over the sockets c-ares reports through its socket-state callback, the
 * cancel fd, and the earlier of c-ares's own retry timer and the caller's
 * deadline. ares_destroy() ends a lookup that is given up: it closes the
 * channel's sockets and calls the completion callback (ARES_EDESTRUCTION)
 * while the state it writes to is still on this stack.
 */
#include "daemon/ocsp/fetch_resolve.h"

#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/util.h"

#define RESOLVE_SOCKS 8 /* sockets one lookup watches at once */

struct resolve {
	struct kst_fetch_addrs *out;
	bool done;
	int status; /* ARES_* */
	size_t nsocks;
	struct {
		ares_socket_t fd;
		short events;
	} socks[RESOLVE_SOCKS];
};

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;
static int resolve_lib_status = ARES_ENOTINITIALIZED;

static void resolve_lib_init(void)
{
	resolve_lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* c-ares: watch s for these events from now on (none: forget it). */
static void resolve_sock_state(void *data, ares_socket_t s, int readable,
			       int writable)
{
	struct resolve *r = data;
	short ev = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
	size_t i;

	for (i = 0; i < r->nsocks && r->socks[i].fd != s; i++)
		;
	if (ev == 0) {
		if (i < r->nsocks)
			r->socks[i] = r->socks[--r->nsocks];
		return;
	}
	if (i == r->nsocks) {
		if (r->nsocks == RESOLVE_SOCKS)
			return; /* not watched: c-ares's timer still runs */
		r->nsocks++;
	}
	r->socks[i].fd = s;
	r->socks[i].events = ev;
}

static void resolve_done(void *arg, int status, int timeouts,
			 struct ares_addrinfo *res)
{
	struct resolve *r = arg;
	struct kst_fetch_addrs *out = r->out;

	(void)timeouts;
	r->done = true;
	r->status = status;
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
	     n != NULL && out->n < KST_FETCH_ADDRS_MAX; n = n->ai_next) {
		if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
		    n->ai_addrlen > sizeof(out->addr[0]))
			continue;
		memcpy(&out->addr[out->n], n->ai_addr, n->ai_addrlen);
		out->len[out->n++] = (socklen_t)n->ai_addrlen;
	}
	if (status == ARES_SUCCESS && out->n == 0)
		r->status = ARES_ENODATA;
	if (res != NULL)
		ares_freeaddrinfo(res);
}

/* An IP literal: 0 and out filled, or -ENOENT for a name. */
static int resolve_literal(const char *host, const char *port,
			   struct kst_fetch_addrs *out)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char lit[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	size_t len = strlen(host);

	if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
		if (len - 2 >= sizeof(lit))
			return -ENOENT;
		memcpy(lit, host + 1, len - 2);
		lit[len - 2] = '\0';
	} else if (len < sizeof(lit)) {
		memcpy(lit, host, len + 1);
	} else {
		return -ENOENT;
	}
	/* AI_NUMERICHOST: never a lookup, whatever the NSS config says */
	if (getaddrinfo(lit, port, &hints, &res) != 0 || res == NULL)
		return -ENOENT;
	for (struct addrinfo *a = res;
	     a != NULL && out->n < KST_FETCH_ADDRS_MAX; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(out->addr[0]))
			continue;
		memcpy(&out->addr[out->n], a->ai_addr, a->ai_addrlen);
		out->len[out->n++] = a->ai_addrlen;
	}
	freeaddrinfo(res);
	return out->n > 0 ? 0 : -ENOENT;
}

/* Run the channel until the lookup is done, the deadline, or cancel. */
static int resolve_wait(ares_channel ch, struct resolve *r, uint64_t deadline,
			int cancel_fd)
{
	while (!r->done) {
		struct pollfd p[RESOLVE_SOCKS + 1];
		struct timeval tv, *tvp;
		uint64_t now = kst_mono_ms(), wait;
		size_t n = 0;
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		wait = deadline - now;
		tvp = ares_timeout(ch, NULL, &tv);
		if (tvp != NULL)
			wait = KST_MIN(wait,
				       (uint64_t)tvp->tv_sec * 1000 +
					       (uint64_t)tvp->tv_usec / 1000 +
					       1);
		for (size_t i = 0; i < r->nsocks; i++)
			p[n++] = (struct pollfd){r->socks[i].fd,
						 r->socks[i].events, 0};
		if (cancel_fd >= 0)
			p[n++] = (struct pollfd){cancel_fd, POLLIN, 0};
		rc = poll(p, n, (int)KST_MIN(wait, (uint64_t)INT_MAX));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && cancel_fd >= 0 && p[n - 1].revents != 0)
			return -ECANCELED;
		if (rc <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		/* the set may change while c-ares processes: walk the copy */
		for (size_t i = 0; i < n - (cancel_fd >= 0); i++) {
			short ev = p[i].revents;

			if (ev == 0)
				continue;
			ares_process_fd(ch,
					ev & (POLLIN | POLLERR | POLLHUP)
						? p[i].fd
						: ARES_SOCKET_BAD,
					ev & (POLLOUT | POLLERR | POLLHUP)
						? p[i].fd
						: ARES_SOCKET_BAD);
		}
	}
	return 0;
}

int kst_fetch_resolve(const char *host, int port, uint64_t deadline,
		      int cancel_fd, struct kst_fetch_addrs *out, char *why,
		      size_t why_size)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC,
					    .ai_socktype = SOCK_STREAM,
					    .ai_flags = ARES_AI_NUMERICSERV};
	struct resolve r = {.out = out};
	struct ares_options o = {.sock_state_cb = resolve_sock_state,
				 .sock_state_cb_data = &r};
	ares_channel ch = NULL;
	char ports[8];
	int rc;

	memset(out, 0, sizeof(*out));
	if (why_size > 0)
		why[0] = '\0';
	if (host == NULL || host[0] == '\0' || port <= 0 || port > 65535)
		return -EINVAL;
	snprintf(ports, sizeof(ports), "%d", port);
	if (resolve_literal(host, ports, out) == 0)
		return 0;
	pthread_once(&resolve_once, resolve_lib_init);
	if (resolve_lib_status != ARES_SUCCESS) {
		snprintf(why, why_size, "c-ares: %s",
			 ares_strerror(resolve_lib_status));
		return -EIO;
	}
	rc = ares_init_options(&ch, &o, ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		snprintf(why, why_size, "c-ares: %s", ares_strerror(rc));
		return rc == ARES_ENOMEM ? -ENOMEM : -EIO;
	}
	ares_getaddrinfo(ch, host, ports, &hints, resolve_done, &r);
	rc = resolve_wait(ch, &r, deadline, cancel_fd);
	ares_destroy(ch); /* ends what runs: resolve_done, EDESTRUCTION */
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	switch (r.status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOMEM:
		return -ENOMEM;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
	case ARES_ENONAME:
		snprintf(why, why_size, "%s", ares_strerror(r.status));
		return -ENOENT;
	default:
		snprintf(why, why_size, "%s", ares_strerror(r.status));
		return -EIO;
	}
}
