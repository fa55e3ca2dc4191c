/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets. Each `bind` address gets one socket per worker, all
 * with SO_REUSEPORT, so the kernel spreads new connections across workers
 * and no accept lock exists. A socket passed by systemd is one fd; every
 * worker then gets a dup of it. A kst_lsock is reference-counted: a reload
 * that keeps an address keeps its sockets (and the connections waiting in
 * their accept queues); one that drops an address closes them when the old
 * generation goes.
 *
 * One daemon per address: SO_REUSEPORT would let any process of the same
 * user join a port, so a second kstapled would silently take half the
 * connections. Each kst_lsock therefore holds a lock for its address for
 * as long as it lives (across the reloads that keep the address): a
 * listening unix socket in the Linux abstract namespace named
 * "kstapled/bind/inet/127.0.0.1:443" or "kstapled/bind/inet6/[::1]:443".
 * Abstract names belong to the network namespace, like the ports, and
 * vanish with the process: no stale files. The lock is taken before the
 * TCP socket is bound; a daemon that finds it taken refuses the address
 * and names the holder's PID (SO_PEERCRED of a connection to it). The
 * connections such a look-up leaves queued are drained once a second
 * (kst_lsock_drain). Limit: an abstract name is open to every local user,
 * so another user can hold one first and keep kstapled off that address.
 */
#ifndef KST_LISTENER_H
#define KST_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/base/parse.h"

struct kst_lsock {
	atomic_uint refs;
	struct kst_addr addr;
	bool from_systemd;
	int lockfd; /* the address lock (see above); -1 if none */
	unsigned n; /* one per worker */
	int fds[];
};

/* Opens and listens; -errno (EADDRINUSE, EACCES, ...). EADDRINUSE from
 * another kstapled on the address is logged with its PID. */
int kst_lsock_open(const struct kst_addr *a, unsigned nworkers,
		   unsigned backlog, struct kst_lsock **out);
/* Wraps an fd received from systemd (taken over: closed with the lsock). */
int kst_lsock_adopt(int fd, const struct kst_addr *a, unsigned nworkers,
		    struct kst_lsock **out);
void kst_lsock_get(struct kst_lsock *ls);
void kst_lsock_put(struct kst_lsock *ls);
/* Accept and close what look-ups of the address lock left queued. */
void kst_lsock_drain(struct kst_lsock *ls);
/* Which process holds the lock of address a: its PID, 0 if no one does,
 * -1 if one does but its PID cannot be read. For `-t`. */
int kst_lsock_holder(const struct kst_addr *a);
/* Same address (family, address, port)? */
bool kst_addr_equal(const struct kst_addr *a, const struct kst_addr *b);

#endif
