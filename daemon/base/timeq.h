/* SPDX-License-Identifier: MIT */
/*
 * A binary min-heap of deadlines, one per worker: every connection has one
 * deadline at a time (handshake, backend connect, or idle). Idle deadlines
 * are lazy: activity only stamps the connection, and when its deadline
 * comes the owner checks the stamp and pushes it back if it was active.
 * So no heap operation happens per byte.
 */
#ifndef KST_TIMEQ_H
#define KST_TIMEQ_H

#include <stddef.h>
#include <stdint.h>

#define KST_TIMER_IDLE UINT32_MAX /* not in a heap */

struct kst_timer {
	uint64_t deadline; /* monotonic ms */
	uint32_t idx;	   /* position in the heap, or KST_TIMER_IDLE */
};

struct kst_timeq {
	struct kst_timer **heap;
	size_t n, cap;
};

void kst_timeq_init(struct kst_timeq *q);
void kst_timeq_fini(struct kst_timeq *q);
static inline void kst_timer_init(struct kst_timer *t)
{
	t->deadline = 0;
	t->idx = KST_TIMER_IDLE;
}
/* Insert, or move if already queued. 0 or -ENOMEM. */
int kst_timeq_set(struct kst_timeq *q, struct kst_timer *t, uint64_t deadline);
void kst_timeq_del(struct kst_timeq *q, struct kst_timer *t);
/* The earliest timer if its deadline is <= now, removed from the heap. */
struct kst_timer *kst_timeq_pop_due(struct kst_timeq *q, uint64_t now);
/* Earliest deadline, or UINT64_MAX when empty. */
uint64_t kst_timeq_next(const struct kst_timeq *q);

#endif
