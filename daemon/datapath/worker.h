/* SPDX-License-Identifier: MIT */
/*
 * Worker threads. See doc/threads.md (what a worker owns, its mailbox, its
 * counters, what a reload does).
 *
 * All sockets are edge-triggered; the connection keeps its own readiness
 * flags (set by events, cleared by EAGAIN), so no epoll_ctl happens after a
 * socket is added. Timeouts are one deadline per connection in a heap; the
 * loop sleeps in epoll_wait until the earliest.
 */
#ifndef KST_WORKER_H
#define KST_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/datapath/gen.h"
#include "daemon/metrics/metrics_state.h"
#include "daemon/base/timeq.h"

enum kst_ev_type {
	KST_EV_LISTEN,
	KST_EV_CLIENT,
	KST_EV_BACKEND,
	KST_EV_MBOX,
};

struct kst_ev {
	uint8_t type;
};

/* A listening socket as a worker holds it. */
struct kst_wls {
	struct kst_ev ev;
	int fd;
	struct kst_listener *l;
	struct kst_lsock *ls; /* reference */
};

enum kst_wmsg_type {
	KST_WMSG_GEN,	/* accept with this generation (reference passed) */
	KST_WMSG_DRAIN, /* stop accepting, finish connections by deadline */
	KST_WMSG_STOP,	/* close everything now and exit */
	KST_WMSG_PING,	/* nothing: wakes the loop (watchdog) */
};

struct kst_wmsg {
	enum kst_wmsg_type type;
	struct kst_gen *gen;
	uint64_t deadline_ms;
	struct kst_wmsg *next;
};

/* What all workers share: the connection limit. */
struct kst_shared {
	atomic_uint active;
	atomic_uint max_connections;
};

struct kst_bufpool {
	void **free;
	size_t n, cap;
};

/* A pipe for splice, with the bytes in it. */
struct kst_pipe {
	int r, w;
	uint32_t bytes;
};

struct kst_worker {
	unsigned id;
	pthread_t thread;
	int epfd, evfd;
	struct kst_ev mbox_ev;
	struct kst_wmsg *drain_msg; /* allocated at start: a stop needs none */
	struct kst_shared *shared;
	struct kst_gen *gen; /* accepting with */
	struct kst_wls *ls;
	size_t n_ls;
	pthread_mutex_t mlock;
	struct kst_wmsg *mq, **mq_tail;
	struct kst_timeq timers;
	uint64_t now_ms;
	size_t nconns;
	bool accept_paused;
	uint64_t resume_ms; /* accept again at (EMFILE backoff) */
	bool draining;
	uint64_t drain_deadline;
	bool stop;
	struct kst_bufpool pool;
	struct kst_bufpool pipes;      /* empty struct kst_pipe */
	struct kst_sockdiag *sockdiag; /* opened on first use */
	bool sockdiag_failed;
	struct kst_conn *closing; /* closed this iteration, freed at its end */
	struct kst_conn *again;	  /* to pump again without an event */
	/* connections in the handshake, oldest first (max-handshakes):
	 * before a whole ClientHello, and after it */
	struct kst_hsq {
		struct kst_conn *first, *last;
	} hs_idle, hs_busy;
	size_t n_hs;		 /* on them */
	atomic_uint gen_seen;	 /* id of the generation in use */
	atomic_ullong heartbeat; /* loop iterations, for the watchdog */
	struct kst_proc_counters pc __attribute__((aligned(64)));
};

int kst_worker_start(struct kst_worker *w, unsigned id,
		     struct kst_shared *shared, struct kst_gen *gen);
/* Queue a message (copied); 0 or -ENOMEM. */
int kst_worker_send(struct kst_worker *w, const struct kst_wmsg *m);
/* Queue a message the caller allocated (malloc; the worker frees it).
 * It cannot fail: a reload allocates every worker's message first, so
 * it reaches every worker or none. */
void kst_worker_post(struct kst_worker *w, struct kst_wmsg *m);
/* Stop accepting, finish connections until deadline_ms, then stop; with
 * the message allocated at start, so a stop works out of memory too. */
void kst_worker_drain(struct kst_worker *w, uint64_t deadline_ms);
void kst_worker_join(struct kst_worker *w);

/*
 * File descriptors, for deriving max-connections from RLIMIT_NOFILE. A
 * connection holds its client and backend sockets, and on the splice path
 * (kTLS) a pipe per direction while bytes are in it: up to 6. A worker
 * holds its epoll and eventfd, a sock_diag socket, one listening socket
 * per bind, and up to KST_WORKER_PIPES_POOLED idle pipes. When a pipe
 * cannot be had all the same, the splice path copies through a relay
 * buffer instead (splice.c).
 */
#define KST_CONN_FDS		2
#define KST_CONN_FDS_SPLICE	6
#define KST_WORKER_PIPES_POOLED 16
#define KST_WORKER_FDS(n_binds) (3u + (n_binds) + 2u * KST_WORKER_PIPES_POOLED)

/* Buffer pool of the worker (fixed-size relay buffers, conn.h): get one
 * that is empty (head = tail = 0), whether pooled or new; NULL when out of
 * memory. */
struct kst_buf;
struct kst_buf *kst_worker_buf_get(struct kst_worker *w);
void kst_worker_buf_put(struct kst_worker *w, struct kst_buf *buf);
/* Pipe pool: get an empty pipe (NULL on failure), put back an empty one;
 * close one that still holds bytes. */
struct kst_pipe *kst_worker_pipe_get(struct kst_worker *w);
void kst_worker_pipe_put(struct kst_worker *w, struct kst_pipe *p);
void kst_worker_pipe_close(struct kst_pipe *p);
/* The worker's sock_diag handle, opened on first use; false when this
 * kernel has none (inet_diag/tcp_diag missing). */
bool kst_worker_sockdiag(struct kst_worker *w);

#endif
