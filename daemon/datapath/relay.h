/* SPDX-License-Identifier: MIT */
/*
 * The relay, as the connection sees it (relay.c): once a connection is in
 * RELAY, each event pumps it; the pump moves plaintext both ways, through
 * OpenSSL or, where the keys are in the kernel, through splice.h, until
 * nothing moves or the per-wakeup budget (KST_RELAY_BUDGET bytes, at most
 * KST_RELAY_ROUNDS rounds) is spent; then the connection is queued on the
 * worker's run-again list and goes on at the next turn of the loop, once
 * the events that came meanwhile had theirs.
 *
 * Inside relay.c and splice.c each step follows one convention: an int
 * that is > 0 when something moved, 0 when nothing did, and -errno when
 * the connection must close (the failure is logged where it happens, at
 * debug level).
 */
#ifndef KST_RELAY_H
#define KST_RELAY_H

#include <stdbool.h>

struct kst_conn;

/* Move data until nothing moves or the budget is spent (then queued to
 * run again); false when the connection must close (both directions
 * done, or an error that was logged). A connection already queued is
 * left for that run: one budget per turn of the loop. */
bool kst_relay_pump(struct kst_conn *c);
/* Give the buffers and pipes back (bytes in them are lost). */
void kst_relay_release(struct kst_conn *c);

#endif
