/* SPDX-License-Identifier: MIT */
/*
 * The kernel data path (splice.c), as the relay calls it once the session
 * keys are in the kernel: kTLS RX splices client -> pipe -> backend, kTLS
 * TX backend -> pipe -> client, with a buffer copy where no pipe is to be
 * had, the close_notify through the kernel, and the AEAD record limits.
 *
 * The data steps return > 0 when something moved, 0 when nothing did,
 * and -errno when the connection must close (logged at debug level where
 * it failed).
 */
#ifndef KST_SPLICE_H
#define KST_SPLICE_H

#include <stdbool.h>

struct kst_conn;

/* client (kernel-decrypted) -> pipe, until the pipe holds a chunk or the
 * client is dry; a non-data record next is read and decides (close_notify,
 * KeyUpdate, or a close) */
int kst_splice_up(struct kst_conn *c);
/* pipe -> backend */
int kst_splice_up_drain(struct kst_conn *c);
/* our queued KeyUpdate, then backend -> pipe -> client (kernel-encrypted) */
int kst_splice_down(struct kst_conn *c);
/* After a round where nothing failed: once the backend is done and all of
 * it went out (and our KeyUpdate), close_notify through the kernel and FIN
 * (1), when TCP has room for it (kst_splice_tx_flushable); else 0. */
int kst_splice_down_close(struct kst_conn *c);
/* A direction's records near the AEAD limit: true, close. Where the
 * kernel rekeys (c->keys), our KeyUpdate is queued instead (asking for the
 * client's when its direction is near it) and false comes back, unless
 * the client ignored that request for as many records again. */
bool kst_splice_over_limit(struct kst_conn *c);
void kst_splice_release(struct kst_conn *c);
/* Under kTLS TX, before the close_notify and the FIN: true when TCP can
 * take whatever the kernel's TLS layer still holds (then the close_notify
 * send pushes it); false: KST_DN_FLUSH is set and the connection's timer
 * brings it back in a moment. */
bool kst_splice_tx_flushable(struct kst_conn *c);

#endif
