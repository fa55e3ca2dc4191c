// SPDX-License-Identifier: MIT
/*
 * Sweep scenario "conn": one client connection through a worker's code
 * path, driven in this thread: accept (kst_conn_accept), the TLS
 * handshake with SNI and a staple, the kTLS hand-off decision, the
 * backend connection and the relay both ways, then the close. The worker
 * is the daemon's struct with its epoll set; this file plays its loop
 * (events, run-again list, timers, freeing closed connections). A TLS
 * client and a backend in the same thread answer, their allocations not
 * counted. Each failure must end in the exchange served, or the
 * connection refused and closed; when nothing moves any more, time jumps
 * past every deadline, and the connection must then close.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon/datapath/conn.h"
#include "daemon/control/staplefile.h"
#include "daemon/base/util.h"
#include "ktls/sockdiag.h"
#include "tests/allocfail/af.h"
#include "tests/allocfail/fixture.h"

static int conn_backend_lfd = -1;

static int conn_prepare(void)
{
	unsigned short port;

	if (conn_backend_lfd < 0)
		conn_backend_lfd = af_listen(&port);
	if (conn_backend_lfd < 0 ||
	    fcntl(conn_backend_lfd, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	return af_fixture(port, NULL);
}

static void conn_cleanup(void)
{
	if (conn_backend_lfd >= 0)
		close(conn_backend_lfd);
	conn_backend_lfd = -1;
}

struct conn_peer {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, bfd;
	bool hs_done, sent, got, closed, failed, stapled;
	char bbuf[64];
	size_t blen;
	bool bsent;
};

/* The client: handshake, "ping", expect "pong", close. */
static void conn_client_step(struct conn_peer *p)
{
	const unsigned char *resp;
	char buf[64];
	int r;

	if (p->closed)
		return;
	if (!p->hs_done) {
		r = SSL_connect(p->ssl);
		if (r == 1) {
			p->hs_done = true;
			p->stapled = SSL_get_tlsext_status_ocsp_resp(p->ssl,
								     &resp) > 0;
		} else if (SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ &&
			   SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_WRITE) {
			p->failed = true;
		}
	}
	if (p->hs_done && !p->sent) {
		r = SSL_write(p->ssl, "ping", 4);
		if (r == 4)
			p->sent = true;
		else if (SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ &&
			 SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_WRITE)
			p->failed = true;
	}
	if (p->sent && !p->got) {
		r = SSL_read(p->ssl, buf, sizeof(buf));
		if (r == 4 && memcmp(buf, "pong", 4) == 0)
			p->got = true;
		else if (r <= 0 &&
			 SSL_get_error(p->ssl, r) != SSL_ERROR_WANT_READ)
			p->failed = true;
	}
	if (p->got || p->failed) {
		if (p->got)
			SSL_shutdown(p->ssl);
		close(p->fd);
		p->fd = -1;
		p->closed = true;
	}
	ERR_clear_error();
}

/* The backend: take the connection, answer "ping" with "pong", close
 * at EOF. */
static void conn_backend_step(struct conn_peer *p)
{
	ssize_t n;

	if (p->bfd < 0) {
		p->bfd = accept4(conn_backend_lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (p->bfd < 0)
			return;
	}
	n = recv(p->bfd, p->bbuf + p->blen, sizeof(p->bbuf) - p->blen,
		 MSG_DONTWAIT);
	if (n > 0)
		p->blen += (size_t)n;
	if (!p->bsent && p->blen >= 4 &&
	    memcmp(p->bbuf + p->blen - 4, "ping", 4) == 0 &&
	    send(p->bfd, "pong", 4, MSG_NOSIGNAL) == 4)
		p->bsent = true;
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		close(p->bfd);
		p->bfd = -2; /* done: no second connection */
	}
}

/* One turn of the worker's loop, as worker_main does it. */
static void conn_worker_turn(struct kst_worker *w, uint64_t skew)
{
	struct epoll_event evs[16];
	struct kst_timer *t;
	int n;

	w->now_ms = kst_mono_ms() + skew;
	n = epoll_wait(w->epfd, evs, 16, 1);
	w->now_ms = kst_mono_ms() + skew;
	for (int i = 0; i < n; i++)
		kst_conn_event(w, evs[i].data.ptr, evs[i].events);
	kst_conn_run_again(w);
	while ((t = kst_timeq_pop_due(&w->timers, w->now_ms)) != NULL)
		kst_conn_timeout(w, t);
	kst_conn_free_closed(w);
}

static void conn_worker_fini(struct kst_worker *w)
{
	struct kst_timer *t;

	while ((t = kst_timeq_pop_due(&w->timers, UINT64_MAX)) != NULL)
		kst_conn_abort(kst_container_of(t, struct kst_conn, timer),
			       "allocfail teardown");
	kst_conn_free_closed(w);
	for (size_t i = 0; i < w->pool.n; i++)
		free(w->pool.free[i]);
	free(w->pool.free);
	for (size_t i = 0; i < w->pipes.n; i++)
		kst_worker_pipe_close(w->pipes.free[i]);
	free(w->pipes.free);
	kst_sockdiag_close(w->sockdiag);
	if (w->epfd >= 0)
		close(w->epfd);
	kst_timeq_fini(&w->timers);
}

static int conn_connect(unsigned short *port_out, int *lfd, int *cfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	*lfd = af_listen(port_out);
	if (*lfd < 0)
		return -1;
	a.sin_port = htons(*port_out);
	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cfd < 0 || connect(*cfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return 0;
}

static int conn_drive(struct kst_worker *w, struct conn_peer *p)
{
	uint64_t skew = 0;

	for (int i = 0; i < 3000; i++) {
		af_pause();
		conn_client_step(p);
		conn_backend_step(p);
		af_resume();
		conn_worker_turn(w, skew);
		if (p->closed && w->nconns == 0)
			return 0;
		/* stuck: every deadline passes (handshake, idle, linger) */
		if (i % 400 == 399)
			skew += 3600 * 1000;
	}
	af_fail("connection neither served nor closed (client %s, handshake "
		"%s, backend %s, %zu connections)",
		p->got	    ? "done"
		: p->failed ? "failed"
			    : "waiting",
		p->hs_done ? "done" : "not done",
		p->bsent       ? "answered"
		: p->bfd == -1 ? "not connected"
			       : "open",
		w->nconns);
	return -1;
}

static int conn_run(void)
{
	struct kst_shared shared = {.max_connections = 16};
	struct kst_worker w = {.epfd = -1, .shared = &shared};
	struct conn_peer p = {.fd = -1, .bfd = -1};
	struct kst_registry reg;
	struct kst_wls wls = {.ev.type = KST_EV_LISTEN};
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	unsigned short port;
	int lfd = -1, sfd, ok = -1;

	kst_registry_init(&reg, 1);
	kst_timeq_init(&w.timers);
	/* a previous child's backend connection, if it died early */
	while ((sfd = accept4(conn_backend_lfd, NULL, NULL,
			      SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		close(sfd);
	w.gen = af_gen_build("a.conf", &reg, NULL, false);
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w.gen == NULL || w.epfd < 0 || conn_connect(&port, &lfd, &p.fd) < 0)
		goto out;
	kst_staplefile_scan(w.gen, af_t0, true);
	wls.l = &w.gen->listeners[0];
	wls.fd = lfd;
	p.ctx = SSL_CTX_new(TLS_client_method());
	p.ssl = p.ctx ? SSL_new(p.ctx) : NULL;
	if (p.ssl == NULL)
		goto out;
	SSL_set_fd(p.ssl, p.fd);
	SSL_set_tlsext_host_name(p.ssl, "localhost");
	SSL_set_tlsext_status_type(p.ssl, TLSEXT_STATUSTYPE_ocsp);
	sfd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		      SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (sfd < 0)
		goto out;
	if (fcntl(p.fd, F_SETFL, O_NONBLOCK) < 0)
		goto out;
	w.now_ms = kst_mono_ms();
	af_begin();
	kst_conn_accept(&w, &wls, sfd, (struct sockaddr *)&ss, sslen);
	ok = conn_drive(&w, &p);
	af_end();
	if (ok == 0 && !af_injected() && !(p.got && p.stapled)) {
		af_fail("without a failure: %s",
			p.got ? "no staple" : "no pong");
		ok = -1;
	}
out:
	conn_worker_fini(&w);
	SSL_free(p.ssl);
	SSL_CTX_free(p.ctx);
	if (p.fd >= 0)
		close(p.fd);
	if (p.bfd >= 0)
		close(p.bfd);
	if (lfd >= 0)
		close(lfd);
	if (w.gen != NULL) {
		kst_gen_put(w.gen);
		kst_gen_destroy(w.gen, &reg);
	}
	if (reg.count != 0) {
		af_fail("%zu certificate states left in the registry",
			reg.count);
		ok = -1;
	}
	ERR_clear_error();
	return ok;
}

const struct af_scenario af_sc_conn = {
	.name = "conn",
	.what = "accept, handshake, hand-off, relay, close",
	.prepare = conn_prepare,
	.warm = true,
	.run = conn_run,
	.cleanup = conn_cleanup,
};
