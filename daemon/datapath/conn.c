// SPDX-License-Identifier: MIT
/*
 * The connection state machine (see conn.h): accept, TLS handshake,
 * backend connect with the PROXY header, hand-off to the relay, timeouts
 * and teardown. Connection-level events log at debug level; failures that
 * say something about the service (backend down) log at warn, at most once
 * a second per listener.
 */
#include "daemon/datapath/conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <linux/tls.h>

#include <openssl/err.h>

#include "daemon/base/log.h"
#include "daemon/base/parse.h"
#include "daemon/datapath/proxy.h"
#include "daemon/datapath/relay.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/base/util.h"
#include "ktls/ktls.h"
#include "ktls/probe.h"
#include "ktls/sockdiag.h"

static void conn_handshake(struct kst_conn *c);
static void conn_handshake_done(struct kst_conn *c);
static void conn_connect(struct kst_conn *c);
static void conn_connected(struct kst_conn *c);
static void conn_backend_failed(struct kst_conn *c, int err);
static void conn_close(struct kst_conn *c);
static void conn_again_unlink(struct kst_conn *c);

/* The relay is over: a goodbye lingers, anything else closes now. */
static void conn_end(struct kst_conn *c)
{
	if (c->flags & KST_GOODBYE)
		kst_conn_linger(c);
	else
		conn_close(c);
}

static const struct kst_global_conf *conn_conf(const struct kst_conn *c)
{
	return &c->gen->conf->global;
}

static void conn_set_timer(struct kst_conn *c, int64_t ms)
{
	kst_timeq_set(&c->w->timers, &c->timer, c->w->now_ms + (uint64_t)ms);
}

static int conn_epoll_add(struct kst_conn *c, int fd, struct kst_ev *ev)
{
	struct epoll_event e = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.ptr = ev,
	};

	return epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, fd, &e);
}

/* ------------------------------------------------ handshakes in flight */

/* max-handshakes (auto: a quarter of the connection limit in force,
 * which the open-files limit may have lowered), as this worker's share:
 * each bounds its own, as SO_REUSEPORT spreads the connections, so one
 * worker's idle handshakes never keep another from accepting. */
static unsigned conn_max_handshakes(const struct kst_worker *w,
				    unsigned nworkers, unsigned *share)
{
	unsigned m = w->gen->conf->global.max_handshakes;

	if (m == 0)
		m = atomic_load(&w->shared->max_connections) / 4;
	if (m == 0)
		m = 1;
	nworkers = nworkers ? nworkers : 1;
	*share = (m + nworkers - 1) / nworkers;
	return m;
}

static struct kst_hsq *conn_hsq(struct kst_conn *c)
{
	return c->flags & KST_HS_HELLO ? &c->w->hs_busy : &c->w->hs_idle;
}

static void conn_hsq_add(struct kst_conn *c)
{
	struct kst_hsq *q = conn_hsq(c);

	c->flags |= KST_IN_HS;
	c->hs_since = c->w->now_ms;
	c->hs_next = NULL;
	c->hs_prev = q->last;
	if (q->last != NULL)
		q->last->hs_next = c;
	else
		q->first = c;
	q->last = c;
}

static void conn_hsq_del(struct kst_conn *c)
{
	struct kst_hsq *q = conn_hsq(c);

	if (c->hs_prev != NULL)
		c->hs_prev->hs_next = c->hs_next;
	else
		q->first = c->hs_next;
	if (c->hs_next != NULL)
		c->hs_next->hs_prev = c->hs_prev;
	else
		q->last = c->hs_prev;
	c->hs_prev = c->hs_next = NULL;
	c->flags &= ~KST_IN_HS;
}

static void conn_hs_enter(struct kst_conn *c)
{
	conn_hsq_add(c);
	c->w->n_hs++;
}

/* The ClientHello is coming (OpenSSL has its message header): from the
 * idle queue to the busy one. */
static void conn_hs_progress(struct kst_conn *c)
{
	if (!(c->flags & KST_IN_HS) || (c->flags & KST_HS_HELLO) ||
	    SSL_get_state(c->ssl) == TLS_ST_BEFORE)
		return;
	conn_hsq_del(c);
	c->flags |= KST_HS_HELLO;
	conn_hsq_add(c);
}

/* Out of the handshake: finished, failed or closed. */
static void conn_hs_leave(struct kst_conn *c)
{
	if (!(c->flags & KST_IN_HS))
		return;
	conn_hsq_del(c);
	c->w->n_hs--;
}

/* A handshake past its ClientHello this long may be closed for room. */
#define CONN_HS_BUSY_GRACE_MS 2000

/*
 * Past max-handshakes, room is made by closing this worker's oldest
 * handshake whose ClientHello has not begun to arrive (TCP_DEFER_ACCEPT
 * wakes us when the first bytes are in, and a real client's ClientHello
 * comes in one flight), else its oldest handshake stuck after the
 * ClientHello for CONN_HS_BUSY_GRACE_MS. Otherwise the handshakes in
 * progress are real ones finishing: accepting waits a moment, new
 * connections wait in the backlog (as for max-connections). So clients
 * that open connections and send nothing (or a byte now and then) hold
 * at most max-handshakes slots, cycled out by new arrivals, and never
 * the whole of max-connections; established connections are not
 * touched. (HAProxy and nginx have no separate bound: such clients fill
 * maxconn / worker_connections for their timeout.)
 */
bool kst_conn_hs_room(struct kst_worker *w, const struct kst_wls *wls)
{
	static __thread time_t warned;
	unsigned share, max = conn_max_handshakes(w, wls->ls->n, &share);
	struct kst_conn *old;

	if (w->n_hs < share)
		return true;
	old = w->hs_idle.first;
	if (old == NULL && w->hs_busy.first != NULL &&
	    w->hs_busy.first->hs_since + CONN_HS_BUSY_GRACE_MS <= w->now_ms)
		old = w->hs_busy.first;
	if (old == NULL)
		return false;
	if (warned != kst_now()) {
		warned = kst_now();
		kst_warn("listener %s: %u connections in the TLS handshake "
			 "(max-handshakes): closing the oldest idle ones to "
			 "make room",
			 wls->l->conf->name, max);
	}
	KST_COUNT(w->pc.hs_fail_timeout);
	kst_debug("listener %s: peer %s: handshake closed to make room "
		  "(max-handshakes %u, %s)",
		  old->l->conf->name, old->peerstr, max,
		  old->flags & KST_HS_HELLO ? "stalled after its ClientHello"
					    : "no ClientHello");
	conn_close(old);
	return true;
}

void kst_conn_accept(struct kst_worker *w, struct kst_wls *wls, int fd,
		     const struct sockaddr *sa, socklen_t salen)
{
	struct kst_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		close(fd);
		return;
	}
	atomic_fetch_add(&w->shared->active, 1);
	w->nconns++;
	KST_COUNT(w->pc.accepted);
	c->w = w;
	c->cfd = fd;
	c->bfd = -1;
	c->cev.type = KST_EV_CLIENT;
	c->bev.type = KST_EV_BACKEND;
	c->gen = w->gen;
	kst_gen_get(c->gen);
	c->l = wls->l;
	memcpy(&c->peer, sa, KST_MIN(salen, sizeof(c->peer)));
	kst_addr_format(sa, c->peerstr, sizeof(c->peerstr));
	c->ts.peer = c->peerstr;
	c->ts.worker = w->id;
	c->ts.pc = &w->pc;
	c->ts.lc = c->l->hs ? &c->l->hs[w->id] : NULL;
	c->born_ms = w->now_ms;
	kst_timer_init(&c->timer);
	/* TCP_NODELAY: inherited from the listening socket (lsock.c) */
	/* read-ahead saves syscalls, but the kernel cannot take over bytes
	 * OpenSSL has read ahead */
	c->ssl = kst_tls_new(&c->l->tls, fd, &c->ts, !c->l->tls.ktls);
	if (c->ssl == NULL || conn_epoll_add(c, fd, &c->cev) < 0) {
		kst_log_ssl(KST_LOG_ERR, "listener %s: peer %s: cannot set up",
			    c->l->conf->name, c->peerstr);
		conn_close(c);
		return;
	}
	c->state = KST_CONN_HANDSHAKE;
	conn_hs_enter(c);
	conn_set_timer(c, conn_conf(c)->handshake_timeout_ms);
	/* TCP_DEFER_ACCEPT: the ClientHello is usually here already */
	c->flags |= KST_C_RD | KST_C_WR;
	conn_handshake(c);
}

/* Rate-limited warning: once a second per listener and kind. */
static bool conn_warn_ok(void)
{
	static __thread time_t last;
	time_t now = kst_now();

	if (last == now)
		return false;
	last = now;
	return true;
}

/* TLS 1.3 KeyUpdate from the client while our TX is in the kernel:
 * OpenSSL would rekey only its own copy (msg callback, KTLS_TX path). */
static void conn_msg_cb(int write_p, int version, int content_type,
			const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct kst_conn *c = arg;

	(void)version;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_KEY_UPDATE)
		c->flags |= KST_KEYUPDATE;
}

/* Software or the NIC? The kernel says, per socket (sock_diag); one
 * netlink round trip per kTLS connection. */
static void conn_count_device(struct kst_conn *c, struct kst_conn_counters *cc)
{
	struct kst_sockdiag_tls t;

	if (!kst_worker_sockdiag(c->w) ||
	    kst_sockdiag_query_fd(c->w->sockdiag, c->cfd, &t) < 0)
		return;
	if (t.tx == KST_TLS_CONF_HW || t.tx == KST_TLS_CONF_HW_RECORD)
		KST_COUNT(cc->device_tx);
	if (t.rx == KST_TLS_CONF_HW || t.rx == KST_TLS_CONF_HW_RECORD)
		KST_COUNT(cc->device_rx);
	kst_debug("listener %s: peer %s: kernel tls tx %s, rx %s",
		  c->l->conf->name, c->peerstr, kst_tls_conf_name(t.tx),
		  kst_tls_conf_name(t.rx));
}

struct kst_conn_counters *kst_conn_cert_counters(struct kst_conn *c)
{
	return c->ts.chosen != NULL
		       ? kst_certstate_counting(c->ts.chosen->cert->state,
						c->w->id)
		       : NULL;
}

static void conn_count_path(struct kst_conn *c, const struct kst_ktls_result *r)
{
	struct kst_conn_counters *cc = kst_conn_cert_counters(c);

	if (cc == NULL)
		return;
	if (r->tx)
		KST_COUNT(cc->ktls_tx);
	if (r->rx)
		KST_COUNT(cc->ktls_rx);
	if (!r->tx && !r->rx)
		KST_COUNT(cc->userspace);
	if (!r->tx)
		KST_COUNT(cc->ktls_fallback[kst_metrics_fallback_slot(
			r->tx_why)]);
	if (!r->rx && r->rx_why != r->tx_why)
		KST_COUNT(cc->ktls_fallback[kst_metrics_fallback_slot(
			r->rx_why)]);
	if (r->tx || r->rx)
		conn_count_device(c, cc);
}

/* What the handoff did (ktls/ does not log): the failed step of our TLS
 * 1.3 RX install, then what each direction got. */
static void conn_handoff_log(const struct kst_conn *c,
			     const struct kst_ktls_result *r)
{
	if (r->rx_step == KST_KTLS_STEP_DERIVE) /* drains OpenSSL's queue */
		kst_log_ssl(KST_LOG_DEBUG,
			    "ktls: fd %d: TLS 1.3 key derivation", c->cfd);
	else if (r->rx_step == KST_KTLS_STEP_TLS_RX)
		kst_debug("ktls: fd %d: TLS_RX: %s", c->cfd,
			  strerror(-r->rx_err));
	kst_debug("ktls: fd %d: TLS %#x tx %s rx %s", c->cfd, r->version,
		  kst_ktls_why_name(r->tx_why), kst_ktls_why_name(r->rx_why));
}

/* Hand the keys to the kernel where it can take them; the path follows
 * from what the kernel says it has. false: `ktls = require` refused. */
static bool conn_handoff(struct kst_conn *c)
{
	struct kst_ktls_result r = {.tx_why = KST_KTLS_WHY_DISABLED,
				    .rx_why = KST_KTLS_WHY_DISABLED};
	int err = -ENOSYS; /* no handoff tried */

	if (c->l->tls.ktls && SSL_version(c->ssl) == TLS1_3_VERSION &&
	    kst_ktls_rekey_probe(NULL))
		/* the secrets stay with the connection: the kernel rekeys */
		err = kst_ktls_handoff_keep(c->ssl, c->cfd, true, &r, &c->keys);
	else if (c->l->tls.ktls)
		err = kst_ktls_handoff(c->ssl, c->cfd, true, &r);
	else if (c->l->ktls_mode != KST_KTLS_MODE_OFF)
		r.tx_why = r.rx_why = KST_KTLS_WHY_NO_KERNEL;
	if (err == 0)
		conn_handoff_log(c, &r);
	conn_count_path(c, &r);
	c->path = r.tx && r.rx ? KST_PATH_KTLS_BOTH
		  : r.tx       ? KST_PATH_KTLS_TX
			       : KST_PATH_USERSPACE;
	if (c->path != KST_PATH_KTLS_BOTH) {
		kst_ktls_keys_free(c->keys); /* only both ways rekey */
		c->keys = NULL;
	}
	if (c->path == KST_PATH_KTLS_TX &&
	    SSL_version(c->ssl) == TLS1_3_VERSION) {
		SSL_set_msg_callback(c->ssl, conn_msg_cb);
		SSL_set_msg_callback_arg(c->ssl, c);
	}
	kst_debug("listener %s: peer %s: kTLS tx %s, rx %s", c->l->conf->name,
		  c->peerstr, r.tx ? "kernel" : kst_ktls_why_name(r.tx_why),
		  r.rx ? "kernel" : kst_ktls_why_name(r.rx_why));
	if (c->l->ktls_mode != KST_KTLS_MODE_REQUIRE ||
	    c->path == KST_PATH_KTLS_BOTH)
		return true;
	if (conn_warn_ok())
		kst_warn("listener %s: peer %s: refused: ktls = require, but "
			 "%s stays in userspace (%s)",
			 c->l->conf->name, c->peerstr, r.tx ? "RX" : "TX",
			 kst_ktls_why_name(r.tx ? r.rx_why : r.tx_why));
	KST_COUNT(c->w->pc.hs_fail_other);
	return false;
}

/* The SNI for the close line, printable ASCII only (the SSL may be gone
 * by then: kTLS both ways frees it). */
static void conn_note_sni(struct kst_conn *c)
{
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	size_t i = 0;

	for (; sni != NULL && sni[i] != '\0' && i < sizeof(c->sni) - 1; i++)
		c->sni[i] = sni[i] > 0x20 && sni[i] < 0x7f ? sni[i] : '?';
	c->sni[i] = '\0';
}

/* One debug line per connection, at its close. */
static void conn_log_close(struct kst_conn *c)
{
	uint64_t ms = c->w->now_ms - c->born_ms;

	kst_debug("listener %s: peer %s: connection closed: sni %s, "
		  "%llu bytes from the client, %llu to it, %llu.%03llus",
		  c->l->conf->name, c->peerstr, c->sni[0] ? c->sni : "-",
		  (unsigned long long)c->bytes_up,
		  (unsigned long long)c->bytes_dn,
		  (unsigned long long)(ms / 1000),
		  (unsigned long long)(ms % 1000));
}

static void conn_handshake_done(struct kst_conn *c)
{
	struct kst_tls_cert *tc = c->ts.chosen;

	conn_hs_leave(c);
	conn_note_sni(c);
	if (tc != NULL)
		KST_COUNT(kst_conn_cert_counters(c)->handshakes);
	if (tc != NULL && SSL_session_reused(c->ssl)) /* a ticket resumed */
		KST_COUNT(kst_conn_cert_counters(c)->hs_resumed);
	KST_COUNT(c->w->pc.handshakes);
	if (c->ts.lc != NULL)
		KST_COUNT(c->ts.lc->handshakes);
	if (SSL_session_reused(c->ssl)) {
		KST_COUNT(c->w->pc.hs_resumed);
		if (c->ts.lc != NULL)
			KST_COUNT(c->ts.lc->hs_resumed);
	}
	kst_debug("listener %s: peer %s: %s %s, cert %s%s", c->l->conf->name,
		  c->peerstr, SSL_get_version(c->ssl),
		  SSL_get_cipher_name(c->ssl), tc ? tc->cert->name : "?",
		  c->ts.stapled ? ", stapled" : "");
	if (!conn_handoff(c)) {
		kst_conn_linger(c);
		return;
	}
	c->state = KST_CONN_CONNECTING;
	conn_connect(c);
}

void kst_conn_close_notify(struct kst_conn *c)
{
	if (c->path != KST_PATH_USERSPACE) {
		kst_ktls_send_alert(c->cfd, 1, 0); /* through the kernel */
	} else if (c->ssl != NULL) {
		SSL_shutdown(c->ssl); /* best effort: one small record */
		ERR_clear_error();
	}
}

void kst_conn_keyupdate_close(struct kst_conn *c)
{
	if (c->ts.chosen != NULL)
		KST_COUNT(kst_conn_cert_counters(c)->keyupdate_closes);
	kst_debug("listener %s: peer %s: TLS 1.3 KeyUpdate under kTLS: "
		  "closing cleanly (this kernel cannot rekey)",
		  c->l->conf->name, c->peerstr);
	c->flags |= KST_GOODBYE; /* the pump's caller lingers */
}

/* Out of kept keys: goodbye, counted as a flood or as a close. */
static bool conn_keyupdate_refuse(struct kst_conn *c, bool flood)
{
	struct kst_conn_counters *cc = kst_conn_cert_counters(c);

	if (!flood) {
		kst_conn_keyupdate_close(c);
		return false;
	}
	if (cc != NULL)
		KST_COUNT(cc->keyupdate_flood_closes);
	if (conn_warn_ok())
		kst_notice("listener %s: peer %s: more than %u TLS 1.3 "
			   "KeyUpdates in a minute (keyupdate-limit): closing",
			   c->l->conf->name, c->peerstr,
			   conn_conf(c)->keyupdate_limit);
	c->flags |= KST_GOODBYE;
	return false;
}

bool kst_conn_keyupdate(struct kst_conn *c, bool update_requested)
{
	struct kst_conn_counters *cc = kst_conn_cert_counters(c);
	uint64_t now = c->w->now_ms;
	int err;

	if (c->keys == NULL)
		return conn_keyupdate_refuse(c, false);
	if (c->ku_count == 0 || now - c->ku_window_ms >= 60000) {
		c->ku_window_ms = now;
		c->ku_count = 0;
	}
	/* the answer to our own request (near the record limit) is ours */
	if (!(c->flags & KST_KU_ASKED) &&
	    ++c->ku_count > conn_conf(c)->keyupdate_limit)
		return conn_keyupdate_refuse(c, true);
	err = kst_ktls_rekey(c->keys, c->cfd, TLS_RX);
	if (err < 0) {
		kst_notice("listener %s: peer %s: TLS 1.3 KeyUpdate: the "
			   "kernel refused the next RX key (%s): closing",
			   c->l->conf->name, c->peerstr, strerror(-err));
		return conn_keyupdate_refuse(c, false);
	}
	if (cc != NULL)
		KST_COUNT(cc->keyupdate_rekeys_rx);
	c->up_records = 0;
	c->flags &= ~KST_KU_ASKED;
	if (update_requested)
		c->flags |= KST_KU_SEND;
	kst_debug("listener %s: peer %s: TLS 1.3 KeyUpdate%s: RX rekeyed",
		  c->l->conf->name, c->peerstr,
		  update_requested ? " (update requested)" : "");
	return true;
}

int kst_conn_keyupdate_send(struct kst_conn *c)
{
	struct kst_conn_counters *cc = kst_conn_cert_counters(c);
	bool ask = c->flags & KST_KU_ASK;
	int err;

	if (!(c->flags & KST_KU_SEND))
		return 0;
	if (c->keys == NULL || (c->flags & KST_DOWN_SHUT)) {
		/* our close_notify is out: nothing more is sent */
		c->flags &= ~(KST_KU_SEND | KST_KU_ASK);
		return 0;
	}
	if (!(c->flags & KST_C_WR))
		return -EAGAIN;
	err = kst_ktls_send_key_update(c->cfd, ask);
	if (err == -EAGAIN) {
		c->flags &= ~KST_C_WR;
		return -EAGAIN;
	}
	if (err == 0)
		err = kst_ktls_rekey(c->keys, c->cfd, TLS_TX);
	if (err < 0) {
		/* our KeyUpdate may be out with no key to follow it: no
		 * clean goodbye is left */
		kst_notice("listener %s: peer %s: our TLS 1.3 KeyUpdate: %s: "
			   "closing",
			   c->l->conf->name, c->peerstr, strerror(-err));
		/* not -EAGAIN: to the caller, that one means "not yet" */
		return err == -EAGAIN ? -EIO : err;
	}
	c->flags &= ~(KST_KU_SEND | KST_KU_ASK);
	if (ask)
		c->flags |= KST_KU_ASKED;
	c->dn_records = 0;
	if (cc != NULL)
		KST_COUNT(cc->keyupdate_rekeys_tx);
	kst_debug("listener %s: peer %s: sent our TLS 1.3 KeyUpdate%s: TX "
		  "rekeyed",
		  c->l->conf->name, c->peerstr,
		  ask ? " (update requested)" : "");
	return 0;
}

#define CONN_LINGER_MS 2000

void kst_conn_linger(struct kst_conn *c)
{
	struct kst_worker *w = c->w;

	if (c->state == KST_CONN_CLOSED || c->state == KST_CONN_LINGER)
		return;
	if (!(c->flags & KST_DOWN_SHUT))
		kst_conn_close_notify(c);
	kst_ktls_keys_free(c->keys); /* no rekey after goodbye */
	c->keys = NULL;
	shutdown(c->cfd, SHUT_WR);
	if (c->bfd >= 0)
		close(c->bfd);
	c->bfd = -1;
	kst_relay_release(c);
	c->state = KST_CONN_LINGER;
	kst_timeq_set(&w->timers, &c->timer, w->now_ms + CONN_LINGER_MS);
	c->flags |= KST_C_RD;
	kst_conn_linger_event(c, 0);
}

/* Discard what the client still sends; close at its FIN or an error.
 * Under kTLS RX nothing is read: a read makes the kernel decrypt the next
 * record, which after a KeyUpdate fails and errors the socket; the FIN
 * shows as RDHUP all the same. */
void kst_conn_linger_event(struct kst_conn *c, uint32_t events)
{
	char scratch[16384];

	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		conn_close(c);
		return;
	}
	if (c->path == KST_PATH_KTLS_BOTH)
		return;
	for (int i = 0; i < 64; i++) {
		ssize_t n =
			recv(c->cfd, scratch, sizeof(scratch), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR &&
			       errno != EIO && errno != EBADMSG)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			return;
	}
}

/* Why a handshake failed, for the counters and the debug line. */
static void conn_handshake_failed(struct kst_conn *c, int err)
{
	unsigned long e = ERR_peek_error();
	char errs[256];

	if (c->ts.refused)
		KST_COUNT(c->w->pc.hs_fail_no_cert);
	else if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL)
		KST_COUNT(c->w->pc.hs_fail_protocol);
	else
		KST_COUNT(c->w->pc.hs_fail_other);
	if (kst_log_enabled(KST_LOG_DEBUG)) {
		kst_log_ssl_errors(errs, sizeof(errs));
		kst_debug("listener %s: peer %s: handshake failed: %s",
			  c->l->conf->name, c->peerstr,
			  errs[0] ? errs
			  : e	  ? "?"
				  : "connection closed");
	}
	ERR_clear_error();
	conn_close(c);
}

static void conn_handshake(struct kst_conn *c)
{
	int r, err;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		conn_handshake_done(c);
		return;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		c->flags &= ~KST_C_RD;
		conn_hs_progress(c);
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		c->flags &= ~KST_C_WR;
		conn_hs_progress(c);
		return;
	}
	conn_handshake_failed(c, err);
}

static void conn_connect(struct kst_conn *c)
{
	const struct kst_addr *a = &c->l->conf->backend;
	int one = 1;

	c->bfd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->bfd < 0) {
		conn_backend_failed(c, errno);
		return;
	}
	if (a->ss.ss_family != AF_UNIX)
		setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conn_epoll_add(c, c->bfd, &c->bev) < 0) {
		conn_backend_failed(c, errno);
		return;
	}
	conn_set_timer(c, conn_conf(c)->connect_timeout_ms);
	if (connect(c->bfd, (const struct sockaddr *)&a->ss, a->len) == 0) {
		conn_connected(c);
		return;
	}
	if (errno != EINPROGRESS) /* unix sockets: EAGAIN = backlog full */
		conn_backend_failed(c, errno);
}

static void conn_backend_event(struct kst_conn *c, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0)
		conn_backend_failed(c, err);
	else
		conn_connected(c);
}

static void conn_backend_failed(struct kst_conn *c, int err)
{
	KST_COUNT(c->w->pc.backend_connect_failures);
	if (conn_warn_ok())
		kst_warn("listener %s: peer %s: backend %s: %s",
			 c->l->conf->name, c->peerstr, c->l->conf->backend.text,
			 strerror(err));
	/* tell the client; it may be sending already */
	kst_conn_linger(c);
}

/* The PROXY header goes first in the client->backend buffer. */
static int conn_proxy_header(struct kst_conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	struct kst_proxy_info pi = {0};
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	ssize_t n;

	if (c->l->conf->proxy == KST_PROXY_OFF)
		return 0;
	if (getsockname(c->cfd, (struct sockaddr *)&local, &llen) < 0)
		return -errno;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	pi.src = &c->peer.sa;
	pi.dst = (const struct sockaddr *)&local;
	pi.alpn = (const char *)alpn;
	pi.alpn_len = alpn_len;
	pi.sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	pi.tls_version = SSL_get_version(c->ssl);
	pi.cipher = SSL_get_cipher_name(c->ssl);
	c->up = kst_worker_buf_get(c->w);
	if (c->up == NULL)
		return -ENOMEM;
	if (c->l->conf->proxy == KST_PROXY_V1)
		n = kst_proxy_v1(&pi, (char *)c->up->data, KST_BUF_CAP);
	else
		n = kst_proxy_v2(&pi, c->up->data, KST_BUF_CAP);
	if (n < 0)
		return (int)n;
	c->up->tail = (uint32_t)n;
	return 0;
}

static void conn_connected(struct kst_conn *c)
{
	int err;

	c->state = KST_CONN_RELAY;
	c->flags |= KST_B_RD | KST_B_WR | KST_C_RD | KST_C_WR;
	c->last_active = c->w->now_ms;
	conn_set_timer(c, conn_conf(c)->idle_timeout_ms);
	err = conn_proxy_header(c);
	if (err < 0) {
		kst_err("listener %s: peer %s: PROXY header: %s",
			c->l->conf->name, c->peerstr, strerror(-err));
		conn_close(c);
		return;
	}
	if (c->path == KST_PATH_KTLS_BOTH) {
		/* the kernel has both directions: OpenSSL's state is no
		 * longer needed, and an idle connection costs little */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (!kst_relay_pump(c))
		conn_end(c);
}

void kst_conn_event(struct kst_worker *w, struct kst_ev *ev, uint32_t events)
{
	struct kst_conn *c;
	bool client = ev->type == KST_EV_CLIENT;
	uint32_t before;

	(void)w;
	c = client ? kst_container_of(ev, struct kst_conn, cev)
		   : kst_container_of(ev, struct kst_conn, bev);
	if (c->state == KST_CONN_CLOSED)
		return;
	before = c->flags;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		c->flags |= client ? KST_C_RD : KST_B_RD;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->flags |= client ? KST_C_WR : KST_B_WR;
	switch (c->state) {
	case KST_CONN_HANDSHAKE:
		/* only for what OpenSSL waits for (conn_handshake cleared
		 * it): the first EPOLLOUT of an edge-triggered socket, or
		 * data while our flight waits for room, would only cost an
		 * SSL_do_handshake and a read that says EAGAIN */
		if (client && (c->flags & ~before & (KST_C_RD | KST_C_WR)))
			conn_handshake(c);
		break;
	case KST_CONN_CONNECTING:
		if (!client)
			conn_backend_event(c, events);
		break;
	case KST_CONN_RELAY:
		if (!kst_relay_pump(c))
			conn_end(c);
		break;
	case KST_CONN_LINGER:
		if (client)
			kst_conn_linger_event(c, events);
		break;
	default:
		break;
	}
}

void kst_conn_timeout(struct kst_worker *w, struct kst_timer *t)
{
	struct kst_conn *c = kst_container_of(t, struct kst_conn, timer);
	int64_t idle = conn_conf(c)->idle_timeout_ms;

	switch (c->state) {
	case KST_CONN_HANDSHAKE:
		KST_COUNT(w->pc.hs_fail_timeout);
		kst_debug("listener %s: peer %s: handshake timeout",
			  c->l->conf->name, c->peerstr);
		conn_close(c);
		break;
	case KST_CONN_CONNECTING:
		conn_backend_failed(c, ETIMEDOUT);
		break;
	case KST_CONN_RELAY:
		if (c->last_active + (uint64_t)idle > w->now_ms &&
		    (c->flags & KST_DN_FLUSH)) {
			/* the close_notify waits for TCP room: look again;
			 * the pump sets the timer again if it still waits */
			if (!kst_relay_pump(c)) {
				conn_end(c);
				break;
			}
			if (c->flags & KST_DN_FLUSH)
				break;
		}
		if (c->last_active + (uint64_t)idle > w->now_ms) {
			kst_timeq_set(&w->timers, &c->timer,
				      c->last_active + (uint64_t)idle);
			break;
		}
		kst_debug("listener %s: peer %s: idle timeout",
			  c->l->conf->name, c->peerstr);
		conn_close(c);
		break;
	case KST_CONN_LINGER:
		conn_close(c);
		break;
	default:
		break;
	}
}

void kst_conn_abort(struct kst_conn *c, const char *why)
{
	kst_debug("listener %s: peer %s: closed: %s", c->l->conf->name,
		  c->peerstr, why);
	conn_close(c);
}

static void conn_close(struct kst_conn *c)
{
	struct kst_worker *w = c->w;

	if (c->state == KST_CONN_CLOSED)
		return;
	if (kst_log_enabled(KST_LOG_DEBUG))
		conn_log_close(c);
	c->state = KST_CONN_CLOSED;
	conn_again_unlink(c); /* freed at the end of this iteration */
	conn_hs_leave(c);
	kst_timeq_del(&w->timers, &c->timer);
	kst_relay_release(c);
	SSL_free(c->ssl);
	c->ssl = NULL;
	kst_ktls_keys_free(c->keys);
	c->keys = NULL;
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->bfd >= 0)
		close(c->bfd);
	c->cfd = c->bfd = -1;
	kst_gen_put(c->gen);
	atomic_fetch_sub(&w->shared->active, 1);
	w->nconns--;
	c->next_closed = w->closing;
	w->closing = c;
}

void kst_conn_free_closed(struct kst_worker *w)
{
	struct kst_conn *c = w->closing, *next;

	for (; c != NULL; c = next) {
		next = c->next_closed;
		free(c);
	}
	w->closing = NULL;
}

/*
 * The run-again list is doubly linked (again_pprev points at whatever
 * points at us), so a connection leaves it from anywhere: closing one
 * unlinks it, and nothing that is freed can still be queued.
 */
static void conn_again_unlink(struct kst_conn *c)
{
	if (!(c->flags & KST_AGAIN))
		return;
	*c->again_pprev = c->next_again;
	if (c->next_again != NULL)
		c->next_again->again_pprev = c->again_pprev;
	c->next_again = NULL;
	c->again_pprev = NULL;
	c->flags &= ~KST_AGAIN;
}

void kst_conn_again(struct kst_conn *c)
{
	struct kst_worker *w = c->w;

	if ((c->flags & KST_AGAIN) || c->state == KST_CONN_CLOSED)
		return;
	c->flags |= KST_AGAIN;
	c->next_again = w->again;
	c->again_pprev = &w->again;
	if (w->again != NULL)
		w->again->again_pprev = &c->next_again;
	w->again = c;
}

void kst_conn_run_again(struct kst_worker *w)
{
	struct kst_conn *list = w->again, *c;

	/* this round's list; a pump may queue its connection anew on
	 * w->again, for the next iteration */
	w->again = NULL;
	if (list != NULL)
		list->again_pprev = &list;
	while ((c = list) != NULL) {
		conn_again_unlink(c);
		if (c->state == KST_CONN_RELAY && !kst_relay_pump(c))
			conn_end(c);
	}
}
