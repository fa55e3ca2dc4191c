// SPDX-License-Identifier: MIT
/*
 * The worker event loop: accepting, dispatching socket events to
 * connections, timeouts, and the control thread's mailbox. The threading
 * model is written down in doc/threads.md.
 */
#include "daemon/datapath/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/datapath/conn.h"
#include "daemon/base/log.h"
#include "daemon/tls/ticket.h"
#include "daemon/base/util.h"
#include "ktls/sockdiag.h"

static void *worker_main(void *arg);
static void worker_mailbox(struct kst_worker *w);
static void worker_set_gen(struct kst_worker *w, struct kst_gen *g);
static void worker_accept(struct kst_worker *w, struct kst_wls *wls);

/*
 * Accepts per listening socket per turn of the loop. Each accept runs the
 * first half of a handshake inline (the certificate signature: tens of us
 * for ECDSA, about a millisecond for RSA-2048), and every connection
 * accepted in a turn waits for the end of the turn before its Finished is
 * read: a batch of 64 made the p99 of handshakes tens of milliseconds
 * behind a burst. One per turn interleaves new connections with the ones
 * already in flight (the socket is level-triggered: the next epoll_wait
 * reports it again at once if more are queued), and saves the accept()
 * that would only say EAGAIN.
 */
#define WORKER_ACCEPT_BATCH    1
#define WORKER_EMFILE_PAUSE_MS 100
#define WORKER_POOL_MAX	       64

int kst_worker_start(struct kst_worker *w, unsigned id,
		     struct kst_shared *shared, struct kst_gen *gen)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int rc;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->shared = shared;
	w->mq_tail = &w->mq;
	pthread_mutex_init(&w->mlock, NULL);
	kst_timeq_init(&w->timers);
	w->drain_msg = calloc(1, sizeof(*w->drain_msg));
	if (w->drain_msg == NULL)
		return -ENOMEM;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->evfd < 0)
		return -errno;
	w->mbox_ev.type = KST_EV_MBOX;
	ev.data.ptr = &w->mbox_ev;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) < 0)
		return -errno;
	kst_gen_get(gen);
	kst_gen_socks_get(gen);
	worker_set_gen(w, gen);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	return -rc;
}

int kst_worker_send(struct kst_worker *w, const struct kst_wmsg *m)
{
	struct kst_wmsg *copy = malloc(sizeof(*copy));

	if (copy == NULL)
		return -ENOMEM;
	*copy = *m;
	kst_worker_post(w, copy); /* queued: nothing can fail after this */
	return 0;
}

void kst_worker_drain(struct kst_worker *w, uint64_t deadline_ms)
{
	struct kst_wmsg *m = w->drain_msg;

	if (m == NULL)
		return;
	w->drain_msg = NULL;
	m->type = KST_WMSG_DRAIN;
	m->deadline_ms = deadline_ms;
	kst_worker_post(w, m);
}

void kst_worker_join(struct kst_worker *w)
{
	struct kst_wmsg *m, *next;

	pthread_join(w->thread, NULL);
	/* what arrived after the worker stopped reading */
	for (m = w->mq; m != NULL; m = next) {
		next = m->next;
		if (m->type == KST_WMSG_GEN) {
			kst_gen_socks_put(m->gen);
			kst_gen_put(m->gen);
		}
		free(m);
	}
	w->mq = NULL;
	w->mq_tail = &w->mq;
	free(w->drain_msg);
	w->drain_msg = NULL;
	for (size_t i = 0; i < w->pool.n; i++)
		free(w->pool.free[i]);
	free(w->pool.free);
	for (size_t i = 0; i < w->pipes.n; i++)
		kst_worker_pipe_close(w->pipes.free[i]);
	free(w->pipes.free);
	kst_sockdiag_close(w->sockdiag);
	close(w->epfd);
	close(w->evfd);
	kst_timeq_fini(&w->timers);
	pthread_mutex_destroy(&w->mlock);
}

/* Keep up to max; false: the caller disposes of it. */
static bool pool_put(struct kst_bufpool *pool, void *obj, size_t max)
{
	if (pool->n == pool->cap && pool->cap < max) {
		size_t cap = pool->cap ? pool->cap * 2 : 8;
		void **f = realloc(pool->free, cap * sizeof(*f));

		if (f != NULL) {
			pool->free = f;
			pool->cap = cap;
		}
	}
	if (pool->n >= pool->cap || pool->n >= max)
		return false;
	pool->free[pool->n++] = obj;
	return true;
}

/* Always empty, pooled or new: a pooled buffer keeps the offsets (and
 * bytes) of the connection that used it last. */
struct kst_buf *kst_worker_buf_get(struct kst_worker *w)
{
	struct kst_buf *b;

	if (w->pool.n > 0)
		b = w->pool.free[--w->pool.n];
	else
		b = malloc(KST_BUF_BYTES);
	if (b != NULL)
		b->head = b->tail = 0;
	return b;
}

void kst_worker_buf_put(struct kst_worker *w, struct kst_buf *buf)
{
	if (buf != NULL && !pool_put(&w->pool, buf, WORKER_POOL_MAX))
		free(buf);
}

struct kst_pipe *kst_worker_pipe_get(struct kst_worker *w)
{
	struct kst_pipe *p;
	int fds[2];

	if (w->pipes.n > 0)
		return w->pipes.free[--w->pipes.n];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return NULL;
	p = malloc(sizeof(*p));
	if (p == NULL) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	p->r = fds[0];
	p->w = fds[1];
	p->bytes = 0;
	return p;
}

void kst_worker_pipe_close(struct kst_pipe *p)
{
	close(p->r);
	close(p->w);
	free(p);
}

void kst_worker_pipe_put(struct kst_worker *w, struct kst_pipe *p)
{
	if (p != NULL && !pool_put(&w->pipes, p, KST_WORKER_PIPES_POOLED))
		kst_worker_pipe_close(p);
}

bool kst_worker_sockdiag(struct kst_worker *w)
{
	int rc;

	if (w->sockdiag != NULL)
		return true;
	if (w->sockdiag_failed)
		return false;
	rc = kst_sockdiag_open(&w->sockdiag);
	if (rc < 0) {
		w->sockdiag_failed = true;
		if (w->id == 0)
			kst_info("sock_diag unavailable (%s): kTLS connections "
				 "are not reported as software or device",
				 strerror(-rc));
		return false;
	}
	return true;
}

/* ------------------------------------------------------ listen sockets */

static void worker_listen_arm(struct kst_worker *w, bool on)
{
	for (size_t i = 0; i < w->n_ls; i++) {
		/* exclusive: a socket systemd passed is shared by every
		 * worker; one wakes per connection, not all */
		struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
					 .data.ptr = &w->ls[i].ev};

		if (on)
			epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ls[i].fd, &ev);
		else
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->ls[i].fd, NULL);
	}
}

static void worker_drop_listen(struct kst_worker *w)
{
	if (!w->accept_paused)
		worker_listen_arm(w, false);
	for (size_t i = 0; i < w->n_ls; i++)
		kst_lsock_put(w->ls[i].ls);
	free(w->ls);
	w->ls = NULL;
	w->n_ls = 0;
}

/* Take this generation's sockets (the ones for this worker), adopting the
 * references that came with it (kst_gen_socks_get) and its own. */
static void worker_set_gen(struct kst_worker *w, struct kst_gen *g)
{
	size_t n = 0, k = 0;
	struct kst_wls *ls;

	for (size_t i = 0; i < g->n_listeners; i++)
		n += g->listeners[i].conf->n_binds;
	ls = calloc(n ? n : 1, sizeof(*ls));
	if (ls == NULL) {
		kst_err("worker %u: out of memory switching configuration",
			w->id);
		kst_gen_socks_put(g);
		kst_gen_put(g);
		return;
	}
	for (size_t i = 0; i < g->n_listeners; i++) {
		struct kst_listener *l = &g->listeners[i];

		for (size_t j = 0; j < l->conf->n_binds; j++) {
			if (l->socks == NULL || l->socks[j] == NULL)
				continue;
			ls[k].ev.type = KST_EV_LISTEN;
			ls[k].l = l;
			ls[k].ls = l->socks[j];
			ls[k].fd = l->socks[j]->fds[w->id];
			k++;
		}
	}
	worker_drop_listen(w);
	w->ls = ls;
	w->n_ls = k;
	if (!w->draining && !w->accept_paused)
		worker_listen_arm(w, true);
	if (w->gen != NULL)
		kst_gen_put(w->gen);
	w->gen = g;
	atomic_store(&w->gen_seen, g->id);
}

static void worker_pause_accept(struct kst_worker *w, uint64_t until)
{
	if (!w->accept_paused)
		worker_listen_arm(w, false);
	w->accept_paused = true;
	w->resume_ms = until;
}

static void worker_maybe_resume(struct kst_worker *w)
{
	unsigned active = atomic_load(&w->shared->active);
	unsigned max = atomic_load(&w->shared->max_connections);

	if (!w->accept_paused || w->draining || w->now_ms < w->resume_ms ||
	    active >= max)
		return;
	w->accept_paused = false;
	worker_listen_arm(w, true);
}

static void worker_accept(struct kst_worker *w, struct kst_wls *wls)
{
	static atomic_llong emfile_logged;

	for (int i = 0; i < WORKER_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		if (atomic_load(&w->shared->active) >=
			    atomic_load(&w->shared->max_connections) ||
		    !kst_conn_hs_room(w, wls)) {
			/* resumed by the loop once connections close, or
			 * handshakes finish */
			worker_pause_accept(w, w->now_ms + 10);
			return;
		}
		fd = accept4(wls->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			kst_conn_accept(w, wls, fd, (struct sockaddr *)&ss,
					len);
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			long long now = (long long)kst_now();

			if (atomic_exchange(&emfile_logged, now) != now)
				kst_err("listener %s: accept: %s; pausing "
					"accepts for %d ms",
					wls->l->conf->name, strerror(errno),
					WORKER_EMFILE_PAUSE_MS);
			worker_pause_accept(w,
					    w->now_ms + WORKER_EMFILE_PAUSE_MS);
			return;
		}
		/* ECONNABORTED and the like: that client is gone, go on */
	}
}

/* ---------------------------------------------------------- mailbox */

static bool worker_gen_superseded(const struct kst_wmsg *later)
{
	for (; later != NULL; later = later->next)
		if (later->type == KST_WMSG_GEN)
			return true;
	return false;
}

static void worker_mailbox(struct kst_worker *w)
{
	struct kst_wmsg *m, *next;
	uint64_t v;

	if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		kst_err("worker %u: mailbox: %s", w->id, strerror(errno));
	pthread_mutex_lock(&w->mlock);
	m = w->mq;
	w->mq = NULL;
	w->mq_tail = &w->mq;
	pthread_mutex_unlock(&w->mlock);
	for (; m != NULL; m = next) {
		next = m->next;
		switch (m->type) {
		case KST_WMSG_GEN:
			/* only the newest: a reload right after another
			 * retired this one; its sockets may be closing */
			if (worker_gen_superseded(next)) {
				kst_gen_socks_put(m->gen);
				kst_gen_put(m->gen);
			} else
				worker_set_gen(w, m->gen);
			break;
		case KST_WMSG_DRAIN:
			w->draining = true;
			w->drain_deadline = m->deadline_ms;
			worker_drop_listen(w);
			break;
		case KST_WMSG_STOP:
			w->stop = true;
			break;
		case KST_WMSG_PING:
			break;
		}
		free(m);
	}
}

/* ------------------------------------------------------------- loop */

static void worker_timers(struct kst_worker *w)
{
	struct kst_timer *t;

	while ((t = kst_timeq_pop_due(&w->timers, w->now_ms)) != NULL)
		kst_conn_timeout(w, t);
}

static int worker_wait_ms(struct kst_worker *w)
{
	uint64_t next = kst_timeq_next(&w->timers);

	if (w->accept_paused && w->resume_ms < next)
		next = w->resume_ms;
	if (w->draining && w->drain_deadline < next)
		next = w->drain_deadline;
	if (w->again != NULL)
		return 0;
	if (next == UINT64_MAX)
		return -1;
	return next <= w->now_ms ? 0 : (int)KST_MIN(next - w->now_ms, 60000);
}

/*
 * One event of a batch. The mailbox is only noted here and read after the
 * whole batch: a new generation or a drain frees the listen array (and may
 * drop the last reference to a listener), and later events of the same
 * batch still point into it. What the batch names stays valid until the
 * batch ends: listen entries until the mailbox runs, connections until
 * kst_conn_free_closed.
 */
static void worker_dispatch(struct kst_worker *w, struct epoll_event *ev,
			    bool *mbox)
{
	struct kst_ev *e = ev->data.ptr;

	switch (e->type) {
	case KST_EV_LISTEN:
		worker_accept(w, (struct kst_wls *)e);
		break;
	case KST_EV_MBOX:
		*mbox = true;
		break;
	default:
		kst_conn_event(w, e, ev->events);
	}
}

static void worker_close_all(struct kst_worker *w, const char *why)
{
	struct kst_timer *t;

	/* every open connection has a deadline, so the heap lists them */
	while ((t = kst_timeq_pop_due(&w->timers, UINT64_MAX)) != NULL) {
		struct kst_conn *c =
			kst_container_of(t, struct kst_conn, timer);

		kst_conn_abort(c, why);
	}
	kst_conn_free_closed(w);
}

static void *worker_main(void *arg)
{
	struct kst_worker *w = arg;
	struct epoll_event evs[128];

	while (!w->stop) {
		bool mbox;
		int n;

		w->now_ms = kst_mono_ms();
		n = epoll_wait(w->epfd, evs, KST_ARRAY_SIZE(evs),
			       worker_wait_ms(w));
		if (n < 0 && errno != EINTR) {
			kst_crit("worker %u: epoll_wait: %s", w->id,
				 strerror(errno));
			break;
		}
		w->now_ms = kst_mono_ms();
		/* the busy connections queued last turn, then this batch
		 * (skipping them: relay.h): each gets one relay budget per
		 * turn, and one queued now goes on after the next
		 * epoll_wait, once new accepts and handshakes had theirs */
		kst_conn_run_again(w);
		mbox = false;
		for (int i = 0; i < n; i++)
			worker_dispatch(w, &evs[i], &mbox);
		if (mbox)
			worker_mailbox(w); /* after the batch: see above */
		worker_timers(w);
		kst_conn_free_closed(w);
		worker_maybe_resume(w);
		kst_ticket_worker_sync(w->id);
		atomic_fetch_add_explicit(&w->heartbeat, 1,
					  memory_order_relaxed);
		if (w->draining &&
		    (w->nconns == 0 || w->now_ms >= w->drain_deadline))
			break;
	}
	if (w->nconns > 0)
		kst_notice("worker %u: closing %zu connections%s", w->id,
			   w->nconns,
			   w->draining ? " at the drain deadline" : "");
	worker_close_all(w, w->draining ? "drain deadline" : "shutdown");
	worker_drop_listen(w);
	if (w->gen != NULL)
		kst_gen_put(w->gen);
	w->gen = NULL;
	return NULL;
}

void kst_worker_post(struct kst_worker *w, struct kst_wmsg *m)
{
	uint64_t one = 1;

	m->next = NULL;
	pthread_mutex_lock(&w->mlock);
	*w->mq_tail = m;
	w->mq_tail = &m->next;
	pthread_mutex_unlock(&w->mlock);
	/* fails only when the counter is full: the fd is readable then */
	if (write(w->evfd, &one, sizeof(one)) < 0) {
	}
}
