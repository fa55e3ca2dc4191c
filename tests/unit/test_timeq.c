// SPDX-License-Identifier: MIT
/* The deadline heap: order, moves, removal from anywhere. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "daemon/base/timeq.h"

Test(timeq, pops_due_timers_in_deadline_order)
{
	struct kst_timeq q;
	struct kst_timer t[200];
	uint64_t last = 0;
	size_t popped = 0, deleted = 0;

	kst_timeq_init(&q);
	srand(7);
	for (size_t i = 0; i < 200; i++) {
		kst_timer_init(&t[i]);
		cr_assert_eq(
			kst_timeq_set(&q, &t[i], (uint64_t)(rand() % 1000)), 0);
	}
	/* move some, delete some */
	for (size_t i = 0; i < 200; i += 7)
		kst_timeq_set(&q, &t[i], (uint64_t)(rand() % 1000));
	for (size_t i = 3; i < 200; i += 11, deleted++)
		kst_timeq_del(&q, &t[i]);
	for (struct kst_timer *x; (x = kst_timeq_pop_due(&q, 1000));) {
		cr_assert_geq(x->deadline, last);
		cr_assert_eq(x->idx, KST_TIMER_IDLE);
		last = x->deadline;
		popped++;
	}
	cr_assert_eq(popped, 200 - deleted);
	cr_assert_eq(kst_timeq_next(&q), UINT64_MAX);
	kst_timeq_fini(&q);
}

Test(timeq, keeps_timers_not_yet_due)
{
	struct kst_timeq q;
	struct kst_timer a, b;

	kst_timeq_init(&q);
	kst_timer_init(&a);
	kst_timer_init(&b);
	kst_timeq_set(&q, &a, 100);
	kst_timeq_set(&q, &b, 50);
	cr_assert_eq(kst_timeq_next(&q), 50);
	cr_assert_eq(kst_timeq_pop_due(&q, 60), &b);
	cr_assert_null(kst_timeq_pop_due(&q, 60));
	kst_timeq_set(&q, &a, 10); /* moved earlier */
	cr_assert_eq(kst_timeq_pop_due(&q, 10), &a);
	kst_timeq_fini(&q);
}
