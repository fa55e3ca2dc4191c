// SPDX-License-Identifier: MIT
/*
 * The worker's relay buffer pool (issue 12, defect 4): a buffer handed
 * out is always empty, whether it is new or comes back from the pool
 * with the offsets (and the plaintext) of the connection that used it
 * last. The splice path's control-record copy appends at `tail` of a
 * buffer it just got, so stale offsets there ran past the block or sent
 * another connection's bytes.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/datapath/conn.h"
#include "daemon/datapath/worker.h"

static void pool_free(struct kst_worker *w)
{
	for (size_t i = 0; i < w->pool.n; i++)
		free(w->pool.free[i]);
	free(w->pool.free);
}

Test(worker_pool, a_new_buffer_comes_empty)
{
	struct kst_worker w;
	struct kst_buf *b;

	memset(&w, 0, sizeof(w));
	b = kst_worker_buf_get(&w);
	cr_assert_not_null(b);
	cr_expect_eq(b->head, 0);
	cr_expect_eq(b->tail, 0);
	free(b);
}

Test(worker_pool, a_pooled_buffer_comes_back_empty)
{
	struct kst_worker w;
	struct kst_buf *b[3], *again[3];

	memset(&w, 0, sizeof(w));
	/* three connections leave buffers half used, as an error or a
	 * close does (kst_relay_release puts them back as they are) */
	for (int i = 0; i < 3; i++) {
		b[i] = kst_worker_buf_get(&w);
		cr_assert_not_null(b[i]);
		memset(b[i]->data, 'A' + i, 1000);
		b[i]->head = 100u * (unsigned)(i + 1);
		b[i]->tail = (uint32_t)KST_BUF_CAP - (uint32_t)i;
	}
	for (int i = 0; i < 3; i++)
		kst_worker_buf_put(&w, b[i]);
	cr_assert_eq(w.pool.n, 3, "the pool keeps them");
	for (int i = 0; i < 3; i++) {
		again[i] = kst_worker_buf_get(&w);
		cr_assert_not_null(again[i]);
		cr_expect_eq(again[i]->head, 0, "buffer %d: head %u", i,
			     again[i]->head);
		cr_expect_eq(again[i]->tail, 0, "buffer %d: tail %u", i,
			     again[i]->tail);
	}
	cr_expect_eq(w.pool.n, 0, "they came from the pool");
	for (int i = 0; i < 3; i++)
		kst_worker_buf_put(&w, again[i]);
	pool_free(&w);
}
