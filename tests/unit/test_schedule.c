// SPDX-License-Identifier: MIT
/*
 * The refresh and retry schedule, with time and randomness as plain
 * numbers. Expected times are worked out in each test from the rules in
 * daemon/ocsp/schedule.h (fraction, jitter, margin, floors, backoff), written
 * as arithmetic on the inputs so a reader can check them by hand.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <limits.h>
#include <stdint.h>

#include "daemon/ocsp/schedule.h"
#include "daemon/base/util.h"

#define M 60L
#define H 3600L
#define D 86400L

/* An arbitrary "now" in 2023; nothing depends on the wall clock. */
#define T0 ((time_t)1700000000)

#define TIME_MAX ((time_t)INT64_MAX)
#define TIME_MIN ((time_t)INT64_MIN)

_Static_assert(sizeof(time_t) == 8, "the overflow cases assume 64 bits");

static struct kst_sched_params defaults(void)
{
	struct kst_sched_params p;

	kst_sched_params_default(&p);
	return p;
}

static struct kst_sched_params no_jitter(void)
{
	struct kst_sched_params p = defaults();

	p.jitter_pct = 0;
	return p;
}

/* ------------------------------------------------------------ refresh */

Test(schedule, defaults_are_half_way_300s_margin_1min_to_1h_10pct_jitter)
{
	struct kst_sched_params p = defaults();

	cr_expect_eq(p.refresh_pct, 50);
	cr_expect_eq(p.margin, 300);
	cr_expect_eq(p.retry_min, 60);
	cr_expect_eq(p.retry_max, 3600);
	cr_expect_eq(p.jitter_pct, 10);
}

Test(schedule, refreshes_half_way_through_the_validity)
{
	struct kst_sched_params p = no_jitter();

	/* a 7-day response fetched as it was produced */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 7 * D, T0, 0),
		     T0 + 7 * D / 2);
	/* fetched a day late (a CDN's cached copy): still half-way */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 7 * D, T0 + D, 0),
		     T0 + 7 * D / 2);
	/* a third of the way, when configured so (mod_md's 33 % left) */
	p.refresh_pct = 67;
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 3 * D, T0, 12345),
		     T0 + 3 * D * 67 / 100);
}

Test(schedule, jitter_moves_the_delay_by_at_most_its_percentage)
{
	struct kst_sched_params p = defaults();
	time_t delay = 7 * D / 2, j = delay / 10;
	time_t lo = T0 + delay - j, hi = T0 + delay + j;
	time_t min = TIME_MAX, max = TIME_MIN;
	uint32_t rnd = 1;

	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 7 * D, T0, 0), lo);
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 7 * D, T0, UINT32_MAX), hi);
	for (int i = 0; i < 10000; i++) {
		time_t t;

		rnd = rnd * 1664525u + 1013904223u; /* any spread will do */
		t = kst_sched_refresh(&p, T0, T0 + 7 * D, T0, rnd);
		cr_assert(t >= lo && t <= hi, "rnd %u gave %ld", rnd, t - T0);
		min = KST_MIN(min, t);
		max = KST_MAX(max, t);
	}
	/* hosts drawing different numbers do spread over the whole range */
	cr_expect_lt(min, lo + j / 10);
	cr_expect_gt(max, hi - j / 10);
}

Test(schedule, never_refreshes_later_than_next_update_minus_margin)
{
	struct kst_sched_params p = defaults();

	/* refresh at 100 %, pushed later still by jitter: the margin wins */
	p.refresh_pct = 100;
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + D, T0, UINT32_MAX),
		     T0 + D - 300);
	/* a percentage over 100 counts as 100 */
	p.refresh_pct = 250;
	p.jitter_pct = 0;
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + D, T0, 0), T0 + D - 300);
}

Test(schedule, short_windows_shrink_the_margin_to_a_quarter)
{
	struct kst_sched_params p = no_jitter();

	/* 10 min of validity: margin 150 s, not 300 s (which would put the
	 * cap at the refresh point itself, or before thisUpdate) */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 10 * M, T0, 0), T0 + 5 * M);
	p.refresh_pct = 90;
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 10 * M, T0, 0),
		     T0 + 10 * M - 150);
}

Test(schedule, refreshes_soon_but_not_in_a_loop_once_past_the_point)
{
	struct kst_sched_params p = defaults();

	/* restarted with a staple 60 % through: refresh right away */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + 10 * D, T0 + 6 * D, 7),
		     T0 + 6 * D + KST_SCHED_REFRESH_FLOOR);
	/* a responder serving a copy 10 s from expiry: the floor wins
	 * over nextUpdate - margin, so it is not asked again at once */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + D, T0 + D - 10, 7),
		     T0 + D - 10 + KST_SCHED_REFRESH_FLOOR);
	/* nextUpdate before thisUpdate (ingest refuses those): no loop */
	cr_expect_eq(kst_sched_refresh(&p, T0, T0 - D, T0, 7),
		     T0 + KST_SCHED_REFRESH_FLOOR);
}

Test(schedule, response_without_next_update_uses_the_synthetic_one)
{
	struct kst_sched_params p = no_jitter();
	long max_age = D; /* ingest's default: next_update = tu + max_age */

	cr_expect_eq(kst_sched_refresh(&p, T0, T0 + max_age, T0, 0),
		     T0 + max_age / 2);
}

Test(schedule, refresh_survives_extreme_times)
{
	struct kst_sched_params p = defaults();
	time_t t;

	/* a window as long as time_t allows, and longer */
	t = kst_sched_refresh(&p, 0, TIME_MAX, 0, UINT32_MAX);
	cr_expect(t >= KST_SCHED_REFRESH_FLOOR && t <= TIME_MAX - 300, "%ld",
		  t);
	t = kst_sched_refresh(&p, TIME_MIN, TIME_MAX, 0, UINT32_MAX);
	cr_expect(t >= KST_SCHED_REFRESH_FLOOR && t <= TIME_MAX - 300, "%ld",
		  t);
	/* now at the end of time: saturates instead of wrapping */
	t = kst_sched_refresh(&p, TIME_MAX - 100, TIME_MAX, TIME_MAX - 10, 0);
	cr_expect_eq(t, TIME_MAX);
	t = kst_sched_refresh(&p, TIME_MIN, TIME_MIN + 100, TIME_MIN, 0);
	cr_expect(t > TIME_MIN, "%ld", t);
	/* absurd parameters */
	p.margin = LONG_MAX;
	p.jitter_pct = UINT_MAX;
	p.refresh_pct = UINT_MAX;
	t = kst_sched_refresh(&p, T0, T0 + D, T0, UINT32_MAX);
	cr_expect(t >= T0 + KST_SCHED_REFRESH_FLOOR && t <= T0 + D, "%ld",
		  t - T0);
	p.margin = LONG_MIN;
	t = kst_sched_refresh(&p, T0, T0 + D, T0, 0);
	cr_expect(t >= T0 + KST_SCHED_REFRESH_FLOOR && t <= T0 + D, "%ld",
		  t - T0);
}

/* -------------------------------------------------------------- retry */

struct backoff_case {
	unsigned failures;
	long want; /* seconds after now, without jitter */
};

// clang-format off
static struct backoff_case backoff_cases[] = {
	{0, 60},		/* 0 counts as the first failure */
	{1, 60},		/* retry_min */
	{2, 120}, {3, 240}, {4, 480}, {5, 960}, {6, 1920},
	{7, 3600},		/* 3840 capped at retry_max */
	{8, 3600}, {64, 3600}, {65, 3600}, {1000, 3600},
	{UINT_MAX, 3600},	/* no shift overflow, no endless loop */
};
// clang-format on

ParameterizedTestParameters(schedule, backs_off_doubling_up_to_the_cap)
{
	return cr_make_param_array(struct backoff_case, backoff_cases,
				   KST_ARRAY_SIZE(backoff_cases));
}

ParameterizedTest(struct backoff_case *c, schedule,
		  backs_off_doubling_up_to_the_cap)
{
	struct kst_sched_params p = no_jitter();

	cr_expect_eq(kst_sched_retry(&p, c->failures, 0, T0, 99), T0 + c->want,
		     "failure %u: %ld", c->failures,
		     kst_sched_retry(&p, c->failures, 0, T0, 99) - T0);
}

Test(schedule, retry_is_jittered_within_its_percentage)
{
	struct kst_sched_params p = defaults();

	cr_expect_eq(kst_sched_retry(&p, 1, 0, T0, 0), T0 + 54);
	cr_expect_eq(kst_sched_retry(&p, 1, 0, T0, UINT32_MAX), T0 + 66);
	cr_expect_eq(kst_sched_retry(&p, 9, 0, T0, 0), T0 + 3240);
	cr_expect_eq(kst_sched_retry(&p, 9, 0, T0, UINT32_MAX), T0 + 3960);
}

Test(schedule, retries_before_the_held_staple_expires)
{
	struct kst_sched_params p = no_jitter();

	/* backoff says 1920 s, the staple expires in 1000 s: retry at
	 * nextUpdate - margin */
	cr_expect_eq(kst_sched_retry(&p, 6, T0 + 1000, T0, 0), T0 + 700);
	/* backoff earlier than that: backoff */
	cr_expect_eq(kst_sched_retry(&p, 1, T0 + 1000, T0, 0), T0 + 60);
	/* within the margin already: half-way to the expiry, then halves */
	cr_expect_eq(kst_sched_retry(&p, 3, T0 + 200, T0, 0), T0 + 100);
	cr_expect_eq(kst_sched_retry(&p, 4, T0 + 200, T0 + 100, 0), T0 + 150);
	/* but never sooner than the floor */
	cr_expect_eq(kst_sched_retry(&p, 5, T0 + 6, T0, 0),
		     T0 + KST_SCHED_RETRY_FLOOR);
}

Test(schedule, an_expired_staple_does_not_shorten_the_backoff)
{
	struct kst_sched_params p = no_jitter();

	cr_expect_eq(kst_sched_retry(&p, 4, T0 - 10, T0, 0), T0 + 480);
	cr_expect_eq(kst_sched_retry(&p, 4, T0, T0, 0), T0 + 480);
}

Test(schedule, retry_never_polls_faster_than_the_floor)
{
	struct kst_sched_params p = no_jitter();

	p.retry_min = 0;
	cr_expect_eq(kst_sched_retry(&p, 1, 0, T0, 0),
		     T0 + KST_SCHED_RETRY_FLOOR);
	p.retry_min = -100;
	p.retry_max = -5;
	cr_expect_eq(kst_sched_retry(&p, 30, 0, T0, 0),
		     T0 + KST_SCHED_RETRY_FLOOR);
	/* a max below the min counts as the min */
	p.retry_min = 600;
	p.retry_max = 10;
	cr_expect_eq(kst_sched_retry(&p, 3, 0, T0, 0), T0 + 600);
}

Test(schedule, retry_survives_extreme_times)
{
	struct kst_sched_params p = defaults();
	time_t t;

	p.retry_min = LONG_MAX / 2;
	p.retry_max = LONG_MAX;
	t = kst_sched_retry(&p, UINT_MAX, 0, T0, UINT32_MAX);
	cr_expect_eq(t, TIME_MAX);
	t = kst_sched_retry(&p, 2, 0, TIME_MAX - 10, 0);
	cr_expect_eq(t, TIME_MAX);
	p.jitter_pct = UINT_MAX;
	p.margin = LONG_MAX;
	t = kst_sched_retry(&p, 3, TIME_MAX, TIME_MIN, 0);
	cr_expect(t >= TIME_MIN + KST_SCHED_RETRY_FLOOR, "%ld", t);
	t = kst_sched_retry(&p, 3, T0 + D, T0, UINT32_MAX);
	cr_expect(t >= T0 + KST_SCHED_RETRY_FLOOR && t <= T0 + D, "%ld",
		  t - T0);
}
