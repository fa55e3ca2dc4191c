/* SPDX-License-Identifier: MIT */
/*
 * When to fetch a certificate's OCSP response next: after a good response
 * (refresh) and after a failed attempt (retry). Pure: the clock and the
 * randomness are parameters, nothing here reads the time, logs or keeps
 * state, so every rule below is tested with plain numbers. The caller (the
 * control thread) keeps the consecutive failure count and draws rnd from
 * any PRNG; a fleet of hosts restarted together must not fetch in step.
 *
 * Refresh, after a response the ingest path accepted:
 *
 *   target = thisUpdate + refresh_pct % of [thisUpdate, nextUpdate]
 *     Early, like Caddy (50 %) and mod_md (33 % remaining), not hitch's
 *     nextUpdate - 600 s or nginx's nextUpdate - 300 s: a responder outage
 *     then has half the validity to pass before the staple expires.
 *   delay = target - now, moved by +-jitter_pct % of itself (rnd 0 gives
 *     the earliest, UINT32_MAX the latest)
 *     No peer but mod_md jitters; without it, hosts that restart together
 *     refresh together, at the responder, forever.
 *   never later than nextUpdate - margin
 *     The margin leaves time to retry before the staple expires. It never
 *     exceeds a quarter of the window, so a response valid for less than
 *     four margins is still refreshed part-way rather than at once.
 *   never sooner than now + KST_SCHED_REFRESH_FLOOR (this one wins)
 *     A responder that keeps serving a cached response close to its
 *     nextUpdate would otherwise be asked again in a loop.
 *
 * A response without nextUpdate: the caller passes the synthetic
 * next_update ingest computed (thisUpdate + max_age, the verdict's
 * next_update), so such a response is refreshed half-way through the time
 * it is trusted, not every hour (nginx) nor never.
 *
 * Retry, after the n-th consecutive failure (n >= 1):
 *
 *   delay = min(retry_min * 2^(n-1), retry_max), +-jitter_pct %
 *     Exponential like HAProxy (60 s x 2^n, capped at 3600 s, no jitter)
 *     and mod_md (5 s doubling, +-50 %); unlike hitch's and nginx's fixed
 *     60/300 s, a dead responder is not polled at a constant rate. Any
 *     n, however large, gives retry_max without overflow.
 *   when a staple is held (next_update != 0, still in the future) and the
 *   retry would come after next_update - margin: retry at
 *   next_update - margin, or when that has passed, half-way to
 *   next_update
 *     So a retry always happens before the staple expires (HAProxy and
 *     nginx can back off past it), and the retries close in on the expiry
 *     by halves rather than every few seconds.
 *   never sooner than now + KST_SCHED_RETRY_FLOOR
 *     A failing responder is never polled in a tight loop.
 *
 * Arithmetic saturates: any time_t in, any parameters, gives a time_t out
 * (no signed overflow); negative durations count as 0, jitter_pct is
 * capped at 100, retry_max below retry_min counts as retry_min.
 */
#ifndef KST_SCHEDULE_H
#define KST_SCHEDULE_H

#include <stdint.h>
#include <time.h>

#define KST_SCHED_REFRESH_FLOOR 30 /* seconds */
#define KST_SCHED_RETRY_FLOOR	5  /* seconds */

struct kst_sched_params {
	unsigned refresh_pct; /* % of the validity before refresh: 50 */
	long margin;	      /* seconds before nextUpdate, at least: 300 */
	long retry_min, retry_max; /* seconds of backoff: 60 .. 3600 */
	unsigned jitter_pct;	   /* +-% of each delay: 10 */
};

/* 50 %, 300 s, 60 s .. 3600 s, 10 %. */
void kst_sched_params_default(struct kst_sched_params *p);

/* When to refresh after a good response (rules above). */
time_t kst_sched_refresh(const struct kst_sched_params *p, time_t this_update,
			 time_t next_update, time_t now, uint32_t rnd);

/*
 * When to retry after the failures-th consecutive failure (0 counts as 1);
 * next_update is that of the staple held, 0 when none is held.
 */
time_t kst_sched_retry(const struct kst_sched_params *p, unsigned failures,
		       time_t next_update, time_t now, uint32_t rnd);

#endif
