/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets. Each `bind` address gets one socket per worker, all
 * with SO_REUSEPORT, so the kernel spreads new connections across workers
 * and no accept lock exists. A socket passed by systemd is one fd; every
 * worker then gets a dup of it. A kst_lsock is reference-counted: a reload
 * that keeps an address keeps its sockets (and the connections waiting in
 * their accept queues); one that drops an address closes them when the old
 * generation goes.
 */
#ifndef KST_LISTENER_H
#define KST_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/parse.h"

struct kst_lsock {
	atomic_uint refs;
	struct kst_addr addr;
	bool from_systemd;
	unsigned n; /* one per worker */
	int fds[];
};

/* Opens and listens; -errno (EADDRINUSE, EACCES, ...). */
int kst_lsock_open(const struct kst_addr *a, unsigned nworkers,
		   unsigned backlog, struct kst_lsock **out);
/* Wraps an fd received from systemd (taken over: closed with the lsock). */
int kst_lsock_adopt(int fd, const struct kst_addr *a, unsigned nworkers,
		    struct kst_lsock **out);
void kst_lsock_get(struct kst_lsock *ls);
void kst_lsock_put(struct kst_lsock *ls);
/* Same address (family, address, port)? */
bool kst_addr_equal(const struct kst_addr *a, const struct kst_addr *b);

#endif
