// SPDX-License-Identifier: MIT
/*
 * Per-listener counters (daemon/metrics/lstats.c): one slot per name for the
 * life of the process, a block per worker, summed into one map entry per name.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/metrics/lstats.h"

struct lstats_seen {
	struct kst_listener_val v[4];
	int n;
};

static int lstats_put(void *ctx, const struct kst_listener_key *k,
		      const struct kst_listener_val *v)
{
	struct lstats_seen *s = ctx;

	cr_assert_lt(s->n, 4);
	cr_assert_eq(memcmp(k->name, v->name, sizeof(k->name)), 0);
	s->v[s->n++] = *v;
	return 0;
}

Test(lstats, a_name_keeps_its_blocks_and_each_is_summed_over_workers)
{
	struct kst_hs_counters *web = kst_lstats_get("web", 3);
	struct kst_hs_counters *api = kst_lstats_get("api", 3);
	struct lstats_seen seen = {0};

	cr_assert_not_null(web);
	cr_assert_not_null(api);
	cr_assert_neq(web, api);
	/* a reload that keeps the name keeps the counts */
	cr_assert_eq(kst_lstats_get("web", 3), web);
	cr_assert_eq((uintptr_t)&web[1] % 64, 0, "a cache line per worker");
	for (unsigned w = 0; w < 3; w++) {
		web[w].handshakes = w + 1;
		web[w].hs_resumed = 1;
		web[w].tickets_refused_expired = 2;
	}
	api[2].tickets_issued = 7;
	cr_assert_eq(kst_lstats_flush(NULL, 1000, lstats_put, &seen), 2);
	cr_assert_eq(seen.n, 2);
	cr_assert_str_eq(seen.v[0].name, "web");
	cr_assert_eq(seen.v[0].handshakes, 6);
	cr_assert_eq(seen.v[0].hs_resumed, 3);
	cr_assert_eq(seen.v[0].tickets_refused_expired, 6);
	cr_assert_eq(seen.v[0].flushed_at, 1000);
	cr_assert_str_eq(seen.v[1].name, "api");
	cr_assert_eq(seen.v[1].tickets_issued, 7);
	cr_assert_eq(seen.v[1].handshakes, 0);
	kst_lstats_free();
}

Test(lstats, gives_no_blocks_past_the_map_capacity)
{
	char name[16];

	for (unsigned i = 0; i < KST_BPF_LISTENERS_MAX; i++) {
		snprintf(name, sizeof(name), "l%u", i);
		cr_assert_not_null(kst_lstats_get(name, 1), "%s", name);
	}
	cr_assert_null(kst_lstats_get("one-too-many", 1));
	cr_assert_not_null(kst_lstats_get("l0", 1), "known names still are");
	kst_lstats_free();
}
