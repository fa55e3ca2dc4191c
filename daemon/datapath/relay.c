// SPDX-License-Identifier: MIT
/*
 * The userspace relay: plaintext between the client's TLS session and the
 * backend socket, both directions, with backpressure and half-close.
 *
 * Each direction has at most one buffer, taken from the worker's pool only
 * while bytes are in flight and returned when it empties, so an idle
 * connection holds no relay memory. A direction stops reading its source
 * while its buffer is full; it resumes when the sink drains it. Readiness
 * is edge-triggered: a flag set by an event stays set until an operation
 * meets EAGAIN (or OpenSSL's WANT_READ/WANT_WRITE, which mean the same).
 * Bytes OpenSSL has buffered are read without waiting for an event.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "daemon/datapath/relay.h"

#include "daemon/datapath/conn.h"
#include "daemon/base/log.h"
#include "daemon/datapath/splice.h"
#include "daemon/ocsp/certstate.h"

static int relay_up_read(struct kst_conn *c);
static int relay_up_write(struct kst_conn *c);
static int relay_down_read(struct kst_conn *c);
static int relay_down_write(struct kst_conn *c);

static struct kst_buf *relay_buf(struct kst_conn *c, struct kst_buf **b)
{
	if (*b == NULL)
		*b = kst_worker_buf_get(c->w); /* empty */
	return *b;
}

/* An empty buffer goes back to the pool. */
static void relay_trim(struct kst_conn *c, struct kst_buf **b)
{
	if (*b != NULL && (*b)->head == (*b)->tail) {
		kst_worker_buf_put(c->w, *b);
		*b = NULL;
	}
}

/* Bytes relayed by the userspace path, per worker and per cert (and per
 * connection and direction, for its close line). */
static void relay_count(struct kst_conn *c, uint64_t n, bool up)
{
	if (up)
		c->bytes_up += n;
	else
		c->bytes_dn += n;
	KST_COUNT_ADD(c->w->pc.bytes_userspace, n);
	if (c->ts.chosen != NULL)
		KST_COUNT_ADD(kst_conn_cert_counters(c)->bytes_userspace, n);
}

/* A failed read or write: logged here, at debug level; -err, or -EIO for
 * a TLS error that left no errno. */
static int relay_fail(struct kst_conn *c, const char *what, int err)
{
	char errs[256];

	if (kst_log_enabled(KST_LOG_DEBUG)) {
		kst_log_ssl_errors(errs, sizeof(errs));
		kst_debug("listener %s: peer %s: %s: %s%s%s", c->l->conf->name,
			  c->peerstr, what, err ? strerror(err) : "TLS error",
			  errs[0] ? "; " : "", errs);
	}
	ERR_clear_error();
	return err ? -err : -EIO;
}

/* client -> buffer, through OpenSSL */
static int relay_up_read(struct kst_conn *c)
{
	int ret = 0;
	struct kst_buf *b;

	if (c->flags & KST_UP_EOF)
		return 0;
	if (!(c->flags & (c->flags & KST_UP_WANTS_W ? KST_C_WR : KST_C_RD)) &&
	    !SSL_has_pending(c->ssl))
		return 0;
	b = relay_buf(c, &c->up);
	if (b == NULL)
		return -ENOMEM; /* the pool is empty and malloc failed */
	while (b->tail < KST_BUF_CAP) {
		size_t n = 0;
		int r, err;

		ERR_clear_error();
		r = SSL_read_ex(c->ssl, b->data + b->tail,
				KST_BUF_CAP - b->tail, &n);
		if (r == 1) {
			b->tail += (uint32_t)n;
			ret = 1;
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		c->flags &= ~KST_UP_WANTS_W;
		if (err == SSL_ERROR_WANT_READ) {
			c->flags &= ~KST_C_RD;
		} else if (err == SSL_ERROR_WANT_WRITE) {
			c->flags &= ~KST_C_WR;
			c->flags |= KST_UP_WANTS_W;
		} else if (err == SSL_ERROR_ZERO_RETURN) {
			c->flags |= KST_UP_EOF; /* close_notify */
		} else if (ERR_GET_REASON(ERR_peek_error()) ==
				   SSL_R_UNEXPECTED_EOF_WHILE_READING ||
			   (err == SSL_ERROR_SYSCALL && errno == 0)) {
			c->flags |= KST_UP_EOF | KST_TRUNCATED;
			ERR_clear_error();
		} else {
			ret = relay_fail(c, "client read", errno);
		}
		break;
	}
	relay_trim(c, &c->up);
	return ret;
}

/* buffer -> backend */
static int relay_up_write(struct kst_conn *c)
{
	struct kst_buf *b = c->up;
	int moved = 0;

	while (b != NULL && b->head < b->tail && (c->flags & KST_B_WR)) {
		ssize_t n = send(c->bfd, b->data + b->head, b->tail - b->head,
				 MSG_NOSIGNAL);

		if (n > 0) {
			b->head += (uint32_t)n;
			relay_count(c, (uint64_t)n, true);
			moved = 1;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			c->flags &= ~KST_B_WR;
			break;
		}
		return relay_fail(c, "backend write", errno);
	}
	if (b != NULL && b->head == b->tail) {
		b->head = b->tail = 0;
		relay_trim(c, &c->up);
	}
	if (c->up == NULL && c->pup == NULL && (c->flags & KST_UP_EOF) &&
	    !(c->flags & KST_UP_SHUT)) {
		shutdown(c->bfd, SHUT_WR);
		c->flags |= KST_UP_SHUT;
		moved = 1;
	}
	return moved;
}

/* backend -> buffer */
static int relay_down_read(struct kst_conn *c)
{
	int ret = 0;
	struct kst_buf *b;

	if ((c->flags & KST_DOWN_EOF) || !(c->flags & KST_B_RD))
		return 0;
	b = relay_buf(c, &c->down);
	if (b == NULL)
		return -ENOMEM; /* the pool is empty and malloc failed */
	while (b->tail < KST_BUF_CAP) {
		ssize_t n =
			read(c->bfd, b->data + b->tail, KST_BUF_CAP - b->tail);

		if (n > 0) {
			b->tail += (uint32_t)n;
			ret = 1;
			continue;
		}
		if (n == 0) {
			c->flags |= KST_DOWN_EOF;
			ret = 1;
		} else if (errno == EAGAIN) {
			c->flags &= ~KST_B_RD;
		} else {
			ret = relay_fail(c, "backend read", errno);
		}
		break;
	}
	relay_trim(c, &c->down);
	return ret;
}

/* close_notify once the backend is done and everything went out: 1 sent,
 * 0 not yet (OpenSSL waits for the client socket), -errno failed */
static int relay_down_shutdown(struct kst_conn *c)
{
	int r, err;

	ERR_clear_error();
	r = SSL_shutdown(c->ssl);
	if (r < 0) {
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE) {
			c->flags &= ~KST_C_WR;
			return 0;
		}
		if (err == SSL_ERROR_WANT_READ) {
			c->flags &= ~KST_C_RD;
			return 0;
		}
		return relay_fail(c, "close_notify", errno);
	}
	shutdown(c->cfd, SHUT_WR);
	c->flags |= KST_DOWN_SHUT;
	return 1;
}

/* buffer -> client, through OpenSSL */
static int relay_down_write(struct kst_conn *c)
{
	struct kst_buf *b = c->down;
	int moved = 0, sr;
	uint32_t need = c->flags & KST_DN_WANTS_R ? KST_C_RD : KST_C_WR;

	while (b != NULL && b->head < b->tail && (c->flags & need)) {
		size_t n = 0;
		int r, err;

		ERR_clear_error();
		r = SSL_write_ex(c->ssl, b->data + b->head, b->tail - b->head,
				 &n);
		if (r == 1) {
			b->head += (uint32_t)n;
			relay_count(c, n, false);
			moved = 1;
			c->flags &= ~KST_DN_WANTS_R;
			need = KST_C_WR;
			continue;
		}
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE) {
			c->flags &= ~(KST_C_WR | KST_DN_WANTS_R);
		} else if (err == SSL_ERROR_WANT_READ) {
			c->flags &= ~KST_C_RD;
			c->flags |= KST_DN_WANTS_R;
		} else {
			return relay_fail(c, "client write", errno);
		}
		break;
	}
	if (b != NULL && b->head == b->tail) {
		b->head = b->tail = 0;
		relay_trim(c, &c->down);
	}
	/* under kTLS TX, as in splice.c: what the TLS layer still holds
	 * goes out ahead of the close_notify, not after the FIN */
	if (c->down == NULL && (c->flags & KST_DOWN_EOF) &&
	    !(c->flags & KST_DOWN_SHUT) && (c->flags & KST_C_WR) &&
	    (c->path == KST_PATH_USERSPACE || kst_splice_tx_flushable(c))) {
		sr = relay_down_shutdown(c);
		if (sr != 0)
			return sr;
	}
	return moved;
}

/* One step's result into the round's: moved (1) or nothing (0) until a
 * step fails; then the first failure stays. The steps after a failure
 * still run (what they move is delivered and counted before the close). */
static int relay_add(int acc, int r)
{
	if (acc < 0)
		return acc;
	if (r < 0)
		return r;
	return acc | (r > 0);
}

/* One round in both directions, each by where its keys live. */
static int relay_round(struct kst_conn *c)
{
	int acc = 0;

	if (c->path == KST_PATH_KTLS_BOTH) {
		/* the PROXY header first, the client's EOF to the backend
		 * last */
		acc = relay_add(acc, relay_up_write(c));
		acc = relay_add(acc, kst_splice_up(c));
		acc = relay_add(acc, kst_splice_up_drain(c));
		acc = relay_add(acc, relay_up_write(c));
	} else {
		acc = relay_add(acc, relay_up_read(c));
		acc = relay_add(acc, relay_up_write(c));
	}
	if (c->flags & KST_KEYUPDATE) {
		kst_conn_keyupdate_close(c);
		/* no errno of its own: the client's KeyUpdate cannot be
		 * followed here (EPROTO) */
		return acc < 0 ? acc : -EPROTO;
	}
	if (c->path == KST_PATH_USERSPACE) {
		acc = relay_add(acc, relay_down_read(c));
		acc = relay_add(acc, relay_down_write(c));
	} else {
		acc = relay_add(acc, kst_splice_down(c));
		/* the close_notify only in a round where nothing failed */
		if (acc >= 0)
			acc = relay_add(acc, kst_splice_down_close(c));
	}
	return acc;
}

bool kst_relay_pump(struct kst_conn *c)
{
	uint64_t start = c->bytes_up + c->bytes_dn;
	int rounds = 0, r;

	/* queued to run again (its budget spent): an event meanwhile only
	 * set flags, which that run uses, so the connection gets one budget
	 * per turn of the loop (worker.c) */
	if (c->flags & KST_AGAIN)
		return true;
	do {
		r = relay_round(c);
		if (r > 0)
			c->last_active = c->w->now_ms;
		/* bounded, so one busy connection cannot keep new ones
		 * (accepts, handshakes) or the other busy ones waiting */
	} while (r > 0 && ++rounds < KST_RELAY_ROUNDS &&
		 c->bytes_up + c->bytes_dn - start < KST_RELAY_BUDGET);
	if (r < 0)
		return false;
	if (c->path != KST_PATH_USERSPACE && kst_splice_over_limit(c)) {
		kst_notice("listener %s: peer %s: closing a kTLS connection "
			   "before its keys wear out (no rekey under kTLS)",
			   c->l->conf->name, c->peerstr);
		c->flags |= KST_GOODBYE;
		return false;
	}
	if ((c->flags & KST_UP_SHUT) && (c->flags & KST_DOWN_SHUT)) {
		kst_debug("listener %s: peer %s: done%s", c->l->conf->name,
			  c->peerstr,
			  c->flags & KST_TRUNCATED
				  ? " (client closed without close_notify)"
				  : "");
		return false;
	}
	/* stopped by the budget while bytes still moved: come back on the
	 * next turn without waiting for an event (the readiness flags stay
	 * set until EAGAIN; an edge may never come for bytes already
	 * buffered). Only what stays open is queued; closing unlinks it. */
	if (r > 0)
		kst_conn_again(c);
	return true;
}

void kst_relay_release(struct kst_conn *c)
{
	kst_worker_buf_put(c->w, c->up);
	kst_worker_buf_put(c->w, c->down);
	c->up = c->down = NULL;
	kst_splice_release(c);
}
