// SPDX-License-Identifier: MIT
/*
 * The kernel data path: once the session keys are in the kernel, the
 * client socket carries plaintext for us and no byte needs to pass
 * through userspace. Each direction goes socket -> pipe -> socket with
 * splice(2); the pipe comes from the worker's pool while bytes are in it.
 *
 * Client -> backend (kTLS RX): splice returns one record per call, and
 * EINVAL when the next record is not application data; that record is
 * read with recvmsg (kst_ktls_recv) and decides: close_notify ends the
 * direction, a KeyUpdate closes the connection cleanly (Linux 6.1 cannot
 * take new RX keys; every later record would fail to decrypt), anything
 * else closes it. A decrypt error (EBADMSG) is sticky: close.
 *
 * Backend -> client (kTLS TX): the kernel encrypts what we splice in; the
 * end is a close_notify alert sent through the kernel.
 *
 * A KeyUpdate from the client, where the kernel can rekey (Linux 6.14+,
 * c->keys kept at the handoff), puts the client's next key in and reading
 * goes on (kst_conn_keyupdate); one that asks for ours queues our
 * KeyUpdate, which goes out ahead of any more data (kst_splice_down).
 *
 * Before a direction's records approach the AEAD limits (RFC 8446 5.5), a
 * connection that can rekey sends a KeyUpdate: for our direction, and
 * asking for the client's when its direction is the one near the limit;
 * one that cannot, or whose client ignores the request for another
 * SPLICE_MAX_RECORDS records, is closed. The limit is SPLICE_MAX_RECORDS;
 * tests lower it with KST_TEST_RECORD_LIMIT in the daemon's environment.
 *
 * The kernel takes what is spliced (or sent) into a kTLS socket before TCP
 * has room for all of it: the encrypted rest of the last record waits in
 * the TLS layer, which pushes it when TCP has room again, and the send
 * reports every byte taken. A FIN queued before then (shutdown SHUT_WR)
 * goes ahead of it, and close() frees it: the client would read the
 * response short by up to a record, then an EOF without close_notify. So
 * the close_notify and the FIN wait until TCP has room for a record and
 * more (or has sent and seen acknowledged all it had): the close_notify's
 * own send then pushes what waits, ahead of itself.
 *
 * No pipe to be had (EMFILE, ENFILE, ENOMEM): the direction copies through
 * a relay buffer instead (recvmsg / send on the kTLS socket, which the
 * kernel still decrypts and encrypts), until the buffer empties and a
 * pipe can be tried again. The connection goes on; nothing is cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/datapath/splice.h"

#include "daemon/datapath/conn.h"
#include "daemon/base/log.h"
#include "daemon/ocsp/certstate.h"
#include "ktls/ktls.h"

/* a default pipe holds 64 KiB; bigger ones count against the per-user
 * pipe budget once privileges are dropped */
#define SPLICE_CHUNK (64 * 1024)
#define SPLICE_FLAGS (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
/* records per direction before a TLS 1.3 kTLS connection is closed: far
 * below 2^24.5 (AES-GCM); counted as splice calls + bytes / 16 KiB, an
 * over-estimate of the records made */
#define SPLICE_MAX_RECORDS (1ULL << 23)
/* TCP send-queue room that takes what the TLS layer may still hold (at
 * most one record, 16 KiB + overhead, as it makes no new record while TCP
 * is full) and the close_notify, with room to spare */
#define SPLICE_FLUSH_ROOM (64 * 1024)
/* how soon a close_notify waiting for that room looks again (no event
 * comes when TCP's queue shrinks unless a send met a full one) */
#define SPLICE_FLUSH_POLL_MS 5

static struct kst_pipe *splice_pipe(struct kst_conn *c, struct kst_pipe **p)
{
	if (*p == NULL)
		*p = kst_worker_pipe_get(c->w);
	return *p;
}

static void splice_trim(struct kst_conn *c, struct kst_pipe **p)
{
	if (*p != NULL && (*p)->bytes == 0) {
		kst_worker_pipe_put(c->w, *p);
		*p = NULL;
	}
}

/* A failed call: logged here, at debug level; -err */
static int splice_fail(struct kst_conn *c, const char *what, int err)
{
	kst_debug("listener %s: peer %s: %s: %s", c->l->conf->name, c->peerstr,
		  what, strerror(err));
	return err ? -err : -EIO;
}

static void splice_count(struct kst_conn *c, uint64_t n, bool up)
{
	struct kst_conn_counters *cc = kst_conn_cert_counters(c);

	KST_COUNT_ADD(c->w->pc.bytes_ktls, n);
	if (cc != NULL)
		KST_COUNT_ADD(cc->bytes_ktls, n);
	if (up) {
		c->up_records += 1 + n / 16384;
		c->bytes_up += n;
	} else {
		c->dn_records += 1 + n / 16384;
		c->bytes_dn += n;
	}
}

/* A non-data record (or the end) is next on the kTLS RX socket. 0: go on;
 * -errno: close now. */
static int splice_control_record(struct kst_conn *c)
{
	unsigned char buf[256];
	struct kst_ktls_record rec;
	uint8_t type = 0;
	ssize_t n =
		kst_ktls_recv(c->cfd, buf, sizeof(buf), MSG_DONTWAIT, &type);

	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return splice_fail(c, "client record", (int)-n);
	if (n == 0) { /* TCP EOF: no close_notify came */
		c->flags |= KST_UP_EOF | KST_TRUNCATED;
		return 0;
	}
	switch (kst_ktls_record_classify(type, buf, (size_t)n, &rec)) {
	case KST_KTLS_REC_DATA:
		/* a data record read here: it must reach the backend too */
		if (c->up == NULL)
			c->up = kst_worker_buf_get(c->w); /* empty */
		if (c->up == NULL)
			return -ENOMEM; /* the pool is empty, malloc failed */
		if ((size_t)n > KST_BUF_CAP - c->up->tail)
			return -ENOBUFS; /* no room for the record */
		memcpy(c->up->data + c->up->tail, buf, (size_t)n);
		c->up->tail += (uint32_t)n;
		return 0;
	case KST_KTLS_REC_CLOSE_NOTIFY:
		c->flags |= KST_UP_EOF;
		return 0;
	case KST_KTLS_REC_KEY_UPDATE:
		/* where the kernel rekeys, its next key goes in now; else
		 * kst_conn_keyupdate said goodbye (no errno: EPROTO) */
		if (kst_conn_keyupdate(c, rec.update_requested))
			return 0;
		return -EPROTO;
	default:
		kst_debug("listener %s: peer %s: record type %u (%s): closing",
			  c->l->conf->name, c->peerstr, type,
			  rec.kind == KST_KTLS_REC_ALERT ? "alert" : "other");
		return -EPROTO;
	}
}

static void splice_no_pipe(struct kst_conn *c, const char *dir)
{
	kst_debug("listener %s: peer %s: no pipe for %s (%s): copying "
		  "through a buffer",
		  c->l->conf->name, c->peerstr, dir, strerror(errno));
}

/* client -> buffer without a pipe: plaintext records from the kTLS RX
 * socket; the caller's relay_up_write sends them on. */
static int splice_up_copy(struct kst_conn *c)
{
	struct kst_buf *b = c->up = kst_worker_buf_get(c->w);
	int ret = 0;

	if (b == NULL)
		return -ENOMEM; /* the pool is empty and malloc failed */
	while (!(c->flags & KST_UP_EOF) && (c->flags & KST_C_RD) &&
	       b->tail < KST_BUF_CAP) {
		struct kst_ktls_record rec;
		uint8_t type = 0;
		ssize_t n = kst_ktls_recv(c->cfd, b->data + b->tail,
					  KST_BUF_CAP - b->tail, MSG_DONTWAIT,
					  &type);

		if (n == -EAGAIN) {
			c->flags &= ~KST_C_RD;
			break;
		}
		if (n < 0) {
			ret = splice_fail(c, "client record", (int)-n);
			break;
		}
		if (n == 0) {
			c->flags |= KST_UP_EOF | KST_TRUNCATED;
			ret = 1;
			break;
		}
		switch (kst_ktls_record_classify(type, b->data + b->tail,
						 (size_t)n, &rec)) {
		case KST_KTLS_REC_DATA:
			b->tail += (uint32_t)n;
			splice_count(c, (uint64_t)n, true);
			ret = 1;
			continue;
		case KST_KTLS_REC_CLOSE_NOTIFY:
			c->flags |= KST_UP_EOF;
			ret = 1;
			break;
		case KST_KTLS_REC_KEY_UPDATE:
			if (kst_conn_keyupdate(c, rec.update_requested)) {
				ret = 1;
				continue;
			}
			ret = -EPROTO; /* goodbye said; no errno of its own */
			break;
		default:
			kst_debug("listener %s: peer %s: record type %u: "
				  "closing",
				  c->l->conf->name, c->peerstr, type);
			ret = -EPROTO;
			break;
		}
		break;
	}
	if (b->head == b->tail) {
		kst_worker_buf_put(c->w, b);
		c->up = NULL;
	}
	return ret;
}

/* backend -> buffer -> client without a pipe; the kernel encrypts. */
static int splice_down_copy(struct kst_conn *c)
{
	struct kst_buf *b = c->down;
	int moved = 0;

	if (b == NULL)
		b = c->down = kst_worker_buf_get(c->w);
	if (b == NULL)
		return -ENOMEM; /* the pool is empty and malloc failed */
	while (!(c->flags & KST_DOWN_EOF) && (c->flags & KST_B_RD) &&
	       b->tail < KST_BUF_CAP) {
		ssize_t n =
			read(c->bfd, b->data + b->tail, KST_BUF_CAP - b->tail);

		if (n > 0) {
			b->tail += (uint32_t)n;
			splice_count(c, (uint64_t)n, false);
			moved = 1;
		} else if (n == 0) {
			c->flags |= KST_DOWN_EOF;
			moved = 1;
		} else if (errno == EAGAIN) {
			c->flags &= ~KST_B_RD;
		} else {
			return splice_fail(c, "backend read", errno);
		}
	}
	while (b->head < b->tail && (c->flags & KST_C_WR)) {
		ssize_t n = send(c->cfd, b->data + b->head, b->tail - b->head,
				 MSG_NOSIGNAL);

		if (n > 0) {
			b->head += (uint32_t)n;
			moved = 1;
		} else if (n < 0 && errno == EAGAIN) {
			c->flags &= ~KST_C_WR;
		} else {
			return splice_fail(c, "client send",
					   n < 0 ? errno : EPIPE);
		}
	}
	if (b->head == b->tail) {
		kst_worker_buf_put(c->w, b);
		c->down = NULL;
	}
	return moved;
}

/* splice into a direction's pipe said 0 or failed with err: 1 go on
 * (something moved), 0 stop filling, -errno close. Up (kTLS RX), EINVAL
 * means a non-data record is next and 0 the end, or a zero-length data
 * record (TLS allows them), which splice reports alike; recvmsg skips
 * empty records and says 0 only at the end. Bytes before go out first.
 * Down, 0 is the backend's EOF. */
static int splice_fill_end(struct kst_conn *c, bool up, struct kst_pipe *p,
			   int err)
{
	int r;

	if (!up) {
		if (err != 0)
			return splice_fail(c, "backend splice", err);
		c->flags |= KST_DOWN_EOF;
		return 1;
	}
	if (err != 0 && err != EINVAL)
		return splice_fail(c, "client splice", err);
	if (p->bytes > 0)
		return 0;
	r = splice_control_record(c);
	return r < 0 ? r : 1;
}

/*
 * A direction's source -> its pipe (up: the client, kernel-decrypted;
 * down: the backend). It fills the pipe until it holds SPLICE_CHUNK or the
 * source is dry, and only then does the caller drain it: a kTLS RX splice
 * yields one record, and draining every record on its own would cost the
 * backend a wakeup and a read per 16 KiB. Without a pipe the direction
 * copies through a buffer instead; while that buffer (or, up, a data
 * record recvmsg took) holds bytes, they go first and no pipe is filled.
 */
static int splice_fill(struct kst_conn *c, bool up)
{
	struct kst_pipe **pp = up ? &c->pup : &c->pdn;
	struct kst_buf **bp = up ? &c->up : &c->down;
	int from = up ? c->cfd : c->bfd;
	uint32_t eof = up ? KST_UP_EOF : KST_DOWN_EOF;
	uint32_t rd = up ? KST_C_RD : KST_B_RD;
	/* bounded up: a stream of empty records never fills the pipe */
	int max = up ? 64 : INT_MAX, moved = 0, r;

	for (int i = 0;
	     i < max && *bp == NULL && !(c->flags & eof) && (c->flags & rd);
	     i++) {
		struct kst_pipe *p = splice_pipe(c, pp);
		ssize_t n;

		if (p == NULL) {
			splice_no_pipe(c, up ? "client data" : "backend data");
			r = up ? splice_up_copy(c) : splice_down_copy(c);
			return r < 0 ? r : (moved || r > 0);
		}
		if (p->bytes >= SPLICE_CHUNK)
			break;
		n = splice(from, NULL, p->w, NULL, SPLICE_CHUNK - p->bytes,
			   SPLICE_FLAGS);
		if (n > 0) {
			p->bytes += (uint32_t)n;
			splice_count(c, (uint64_t)n, up);
			moved = 1;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			/* the socket, or the pipe: both are retried on an
			 * event */
			if (p->bytes == 0)
				c->flags &= ~rd;
			break;
		}
		r = splice_fill_end(c, up, p, n < 0 ? errno : 0);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		moved = 1;
	}
	return moved;
}

/* client (kernel-decrypted) -> pipe -> backend: the fill; the drain is
 * kst_splice_up_drain, after the caller's relay_up_write */
int kst_splice_up(struct kst_conn *c)
{
	return splice_fill(c, true);
}

static int splice_drain(struct kst_conn *c, struct kst_pipe **pp, int to,
			uint32_t wr_flag, const char *what)
{
	struct kst_pipe *p = *pp;
	int moved = 0;

	while (p != NULL && p->bytes > 0 && (c->flags & wr_flag)) {
		ssize_t n =
			splice(p->r, NULL, to, NULL, p->bytes, SPLICE_FLAGS);

		if (n > 0) {
			p->bytes -= (uint32_t)n;
			moved = 1;
		} else if (n < 0 && errno == EAGAIN) {
			c->flags &= ~wr_flag;
		} else {
			return splice_fail(c, what, n < 0 ? errno : EPIPE);
		}
	}
	splice_trim(c, pp);
	return moved;
}

int kst_splice_up_drain(struct kst_conn *c)
{
	return splice_drain(c, &c->pup, c->bfd, KST_B_WR, "backend splice");
}

/* backend -> pipe -> client (kernel-encrypted) */
int kst_splice_down(struct kst_conn *c)
{
	int moved = 0, r;

	/* our KeyUpdate goes out, and our next key in, before more data */
	if (c->flags & KST_KU_SEND) {
		r = kst_conn_keyupdate_send(c);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		moved = 1;
	}
	/* a copy without a pipe goes on until its buffer is empty */
	if (c->down != NULL) {
		r = splice_down_copy(c);
		return r < 0 ? r : (moved || r > 0);
	}
	r = splice_fill(c, false);
	if (r < 0)
		return r;
	moved |= r;
	/* (without a pipe, splice_fill copied: there is none to drain) */
	r = splice_drain(c, &c->pdn, c->cfd, KST_C_WR, "client splice");
	return r < 0 ? r : (moved || r > 0);
}

int kst_splice_down_close(struct kst_conn *c)
{
	/* everything out first (a pipe, a copy's buffer, our KeyUpdate) */
	if (c->pdn != NULL || c->down != NULL || !(c->flags & KST_DOWN_EOF) ||
	    (c->flags & (KST_DOWN_SHUT | KST_KU_SEND)) ||
	    !kst_splice_tx_flushable(c))
		return 0;
	/* close_notify through the kernel, then FIN */
	if (kst_ktls_send_alert(c->cfd, 1, 0) < 0)
		kst_debug("listener %s: peer %s: close_notify not sent",
			  c->l->conf->name, c->peerstr);
	shutdown(c->cfd, SHUT_WR);
	c->flags |= KST_DOWN_SHUT;
	return 1;
}

bool kst_splice_tx_flushable(struct kst_conn *c)
{
	uint32_t mi[SK_MEMINFO_VARS] = {0};
	socklen_t len = sizeof(mi);

	c->flags &= ~KST_DN_FLUSH;
	if (getsockopt(c->cfd, SOL_SOCKET, SO_MEMINFO, mi, &len) < 0 ||
	    len <= SK_MEMINFO_WMEM_QUEUED * sizeof(mi[0]))
		return true; /* cannot tell: as before */
	if (mi[SK_MEMINFO_WMEM_QUEUED] == 0 ||
	    mi[SK_MEMINFO_SNDBUF] >=
		    mi[SK_MEMINFO_WMEM_QUEUED] + SPLICE_FLUSH_ROOM)
		return true;
	c->flags |= KST_DN_FLUSH;
	kst_timeq_set(&c->w->timers, &c->timer,
		      c->w->now_ms + SPLICE_FLUSH_POLL_MS);
	return false;
}

/* SPLICE_MAX_RECORDS, or the test hook's (at least 2) */
static uint64_t splice_record_limit(void)
{
	static uint64_t limit;
	const char *e = NULL;
	uint64_t v;

	if (__atomic_load_n(&limit, __ATOMIC_RELAXED) != 0)
		return __atomic_load_n(&limit, __ATOMIC_RELAXED);
	v = SPLICE_MAX_RECORDS;
	e = getenv("KST_TEST_RECORD_LIMIT");
	if (e != NULL && e[0] >= '0' && e[0] <= '9') {
		unsigned long long t = strtoull(e, NULL, 10);

		if (t >= 2 && t < SPLICE_MAX_RECORDS)
			v = t;
	}
	/* the same value from every thread */
	__atomic_store_n(&limit, v, __ATOMIC_RELAXED);
	return v;
}

bool kst_splice_over_limit(struct kst_conn *c)
{
	uint64_t lim = splice_record_limit();

	if (c->keys == NULL)
		return c->up_records > lim || c->dn_records > lim;
	/* the kernel rekeys: our KeyUpdate instead of a close; a client
	 * that was asked and still sends under its old key is closed at
	 * 2^24 records (well within AES-GCM's 2^24.5) */
	if (c->up_records > lim + SPLICE_MAX_RECORDS)
		return true;
	if (c->flags & KST_DOWN_SHUT)
		return false; /* our direction is over: nothing more to send */
	if (c->dn_records > lim && !(c->flags & KST_KU_SEND))
		c->flags |= KST_KU_SEND;
	if (c->up_records > lim && !(c->flags & KST_KU_ASKED))
		c->flags |= KST_KU_SEND | KST_KU_ASK;
	if ((c->flags & KST_KU_SEND) && (c->flags & KST_C_WR))
		kst_conn_again(
			c); /* out on the next round (else at EPOLLOUT) */
	return false;
}

void kst_splice_release(struct kst_conn *c)
{
	/* bytes still in a pipe are lost with the connection: drop the pipe */
	if (c->pup != NULL)
		kst_worker_pipe_close(c->pup);
	if (c->pdn != NULL)
		kst_worker_pipe_close(c->pdn);
	c->pup = c->pdn = NULL;
}
