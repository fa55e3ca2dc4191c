// SPDX-License-Identifier: MIT
/* Deadline heap; see timeq.h. */
#include "daemon/base/timeq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void timeq_place(struct kst_timeq *q, size_t i, struct kst_timer *t)
{
	q->heap[i] = t;
	t->idx = (uint32_t)i;
}

static void timeq_up(struct kst_timeq *q, size_t i)
{
	struct kst_timer *t = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (q->heap[parent]->deadline <= t->deadline)
			break;
		timeq_place(q, i, q->heap[parent]);
		i = parent;
	}
	timeq_place(q, i, t);
}

static void timeq_down(struct kst_timeq *q, size_t i)
{
	struct kst_timer *t = q->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;

		if (l >= q->n)
			break;
		if (r < q->n && q->heap[r]->deadline < q->heap[l]->deadline)
			m = r;
		if (q->heap[m]->deadline >= t->deadline)
			break;
		timeq_place(q, i, q->heap[m]);
		i = m;
	}
	timeq_place(q, i, t);
}

void kst_timeq_init(struct kst_timeq *q)
{
	memset(q, 0, sizeof(*q));
}

void kst_timeq_fini(struct kst_timeq *q)
{
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

int kst_timeq_set(struct kst_timeq *q, struct kst_timer *t, uint64_t deadline)
{
	if (t->idx != KST_TIMER_IDLE) {
		uint64_t old = t->deadline;

		t->deadline = deadline;
		if (deadline < old)
			timeq_up(q, t->idx);
		else
			timeq_down(q, t->idx);
		return 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct kst_timer **h = realloc(q->heap, cap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		q->heap = h;
		q->cap = cap;
	}
	t->deadline = deadline;
	q->heap[q->n] = t;
	t->idx = (uint32_t)q->n;
	q->n++;
	timeq_up(q, q->n - 1);
	return 0;
}

void kst_timeq_del(struct kst_timeq *q, struct kst_timer *t)
{
	size_t i = t->idx;
	struct kst_timer *last;

	if (i == KST_TIMER_IDLE)
		return;
	t->idx = KST_TIMER_IDLE;
	last = q->heap[--q->n];
	if (i == q->n)
		return;
	timeq_place(q, i, last);
	if (i > 0 && q->heap[(i - 1) / 2]->deadline > last->deadline)
		timeq_up(q, i);
	else
		timeq_down(q, i);
}

struct kst_timer *kst_timeq_pop_due(struct kst_timeq *q, uint64_t now)
{
	struct kst_timer *t;

	if (q->n == 0 || q->heap[0]->deadline > now)
		return NULL;
	t = q->heap[0];
	kst_timeq_del(q, t);
	return t;
}

uint64_t kst_timeq_next(const struct kst_timeq *q)
{
	return q->n ? q->heap[0]->deadline : UINT64_MAX;
}
