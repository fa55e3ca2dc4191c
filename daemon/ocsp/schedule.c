// SPDX-License-Identifier: MIT
/*
 * The refresh and retry schedule (rules and reasons in schedule.h). All
 * arithmetic goes through the saturating helpers at the top, because the
 * inputs come from responders (thisUpdate, nextUpdate) and from the
 * configuration, and neither is trusted to keep sums inside time_t.
 */
#include "daemon/ocsp/schedule.h"

#include "daemon/base/util.h"

#define SCHED_TIME_MAX                                          \
	((time_t)(((time_t)1 << (sizeof(time_t) * 8 - 2)) - 1 + \
		  ((time_t)1 << (sizeof(time_t) * 8 - 2))))
#define SCHED_TIME_MIN (-SCHED_TIME_MAX - 1)

static time_t sched_add(time_t a, time_t b);
static time_t sched_sub(time_t a, time_t b);
static time_t sched_pct(time_t v, unsigned pct);
static time_t sched_jitter(time_t delay, unsigned pct, uint32_t rnd);
static time_t sched_backoff(const struct kst_sched_params *p,
			    unsigned failures);

void kst_sched_params_default(struct kst_sched_params *p)
{
	p->refresh_pct = 50;
	p->margin = 300;
	p->retry_min = 60;
	p->retry_max = 3600;
	p->jitter_pct = 10;
}

static time_t sched_add(time_t a, time_t b)
{
	time_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? SCHED_TIME_MAX : SCHED_TIME_MIN;
	return r;
}

static time_t sched_sub(time_t a, time_t b)
{
	time_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? SCHED_TIME_MAX : SCHED_TIME_MIN;
	return r;
}

/* pct (capped at 100) percent of v >= 0, without overflow. */
static time_t sched_pct(time_t v, unsigned pct)
{
	time_t p = (time_t)KST_MIN(pct, 100u);

	return v / 100 * p + v % 100 * p / 100;
}

/*
 * delay >= 0 moved by -j .. +j, j = pct % of delay: rnd 0 gives delay - j,
 * UINT32_MAX gives delay + j, linearly in between.
 */
static time_t sched_jitter(time_t delay, unsigned pct, uint32_t rnd)
{
	uint64_t j = (uint64_t)sched_pct(delay, pct);
	uint64_t span = 2 * j, off, out;

	off = span / UINT32_MAX * rnd + span % UINT32_MAX * rnd / UINT32_MAX;
	out = (uint64_t)delay - j + off;
	return out > (uint64_t)SCHED_TIME_MAX ? SCHED_TIME_MAX : (time_t)out;
}

time_t kst_sched_refresh(const struct kst_sched_params *p, time_t this_update,
			 time_t next_update, time_t now, uint32_t rnd)
{
	time_t window = KST_MAX(sched_sub(next_update, this_update), 0);
	time_t margin = KST_MIN(KST_MAX((time_t)p->margin, 0), window / 4);
	time_t target =
		sched_add(this_update, sched_pct(window, p->refresh_pct));
	time_t delay = sched_sub(target, now), t;

	if (delay > 0)
		delay = sched_jitter(delay, p->jitter_pct, rnd);
	t = sched_add(now, KST_MAX(delay, 0));
	t = KST_MIN(t, sched_sub(next_update, margin));
	return KST_MAX(t, sched_add(now, KST_SCHED_REFRESH_FLOOR));
}

/* min(retry_min * 2^(failures-1), retry_max), doubling until the cap. */
static time_t sched_backoff(const struct kst_sched_params *p, unsigned failures)
{
	time_t lo = KST_MAX((time_t)p->retry_min, 0);
	time_t hi = KST_MAX((time_t)p->retry_max, lo);
	time_t d = lo;

	/* at most ~63 rounds: d at least doubles until it reaches hi */
	for (unsigned i = 1; i < failures && d > 0 && d < hi; i++)
		d = d > hi / 2 ? hi : d * 2;
	return KST_MIN(d, hi);
}

time_t kst_sched_retry(const struct kst_sched_params *p, unsigned failures,
		       time_t next_update, time_t now, uint32_t rnd)
{
	time_t delay =
		sched_jitter(sched_backoff(p, failures), p->jitter_pct, rnd);
	time_t t = sched_add(now, delay), cap;

	if (next_update != 0 && next_update > now) {
		cap = sched_sub(next_update, KST_MAX((time_t)p->margin, 0));
		if (cap <= now)
			cap = sched_add(now, sched_sub(next_update, now) / 2);
		t = KST_MIN(t, cap);
	}
	return KST_MAX(t, sched_add(now, KST_SCHED_RETRY_FLOOR));
}
