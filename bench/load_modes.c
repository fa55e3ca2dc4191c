// SPDX-License-Identifier: MIT
/*
 * The three load shapes, each a bounded loop around one epoll set.
 *
 * rate: open loop. Connection i is due at t0 + i/R whatever happened to
 * the others, and its latencies are measured from that due time, so time
 * spent queued (in the client when max-inflight is reached, or in the
 * server's backlog) counts. The loop ends when every connection has
 * finished, or at t0 + duration + timeout + 1 s, whichever is first.
 *
 * bulk: one connection, N bytes one way; the clock runs from the end of
 * the handshake to the last byte (download) or to the backend's
 * acknowledgement of the last byte (upload).
 *
 * idle: K connections, at most P handshaking at once; once all are
 * established (or failed) the servers' RSS is read, then the connections
 * are held for the hold time or until SIGUSR1/SIGTERM/SIGINT.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "bench/load.h"

#define NS_PER_S    1000000000ull
#define SWEEP_NS    (50 * 1000000ull)
#define POLL_MAX_NS SWEEP_NS

volatile sig_atomic_t kst_load_stop;

static uint64_t load_s_to_ns(double s)
{
	return s <= 0 ? 0 : (uint64_t)(s * (double)NS_PER_S);
}

static uint64_t load_failed_total(const struct kst_load_result *res)
{
	uint64_t n = 0;
	int i;

	for (i = 1; i < KST_LOAD_F_MAX; i++)
		n += res->failed[i];
	return n;
}

/* One round: poll, then time out overdue connections. */
static int load_round(struct kst_load_engine *e, uint64_t wait_ns,
		      uint64_t *last_sweep)
{
	int ret = kst_load_engine_poll(e, wait_ns);
	uint64_t now = kst_load_now_ns();

	if (now - *last_sweep >= SWEEP_NS) {
		kst_load_engine_sweep(e, now);
		*last_sweep = now;
	}
	return ret;
}

static uint64_t load_due(uint64_t t0, uint64_t i, double rate)
{
	return t0 + (uint64_t)((double)i * (double)NS_PER_S / rate);
}

int kst_load_run_rate(struct kst_load_engine *e)
{
	const struct kst_load_opts *o = e->o;
	struct kst_load_result *res = e->res;
	uint64_t total = (uint64_t)llround(o->rate * o->duration_s);
	uint64_t t0 = kst_load_now_ns() + 1000000, next = 0, last_sweep = t0;
	uint64_t end = t0 + load_s_to_ns(o->duration_s + o->timeout_s + 1);
	int ret = 0;

	res->scheduled = total;
	res->t_first_ns = t0;
	while (!kst_load_stop && ret == 0) {
		uint64_t now = kst_load_now_ns(), wait = POLL_MAX_NS;

		while (next < total && load_due(t0, next, o->rate) <= now &&
		       e->nactive < o->max_inflight)
			kst_load_conn_start(e, load_due(t0, next++, o->rate));
		if ((next >= total && e->nactive == 0) || now >= end)
			break;
		if (next < total && e->nactive < o->max_inflight) {
			uint64_t due = load_due(t0, next, o->rate);

			wait = due > now ? due - now : 0;
			if (wait > POLL_MAX_NS)
				wait = POLL_MAX_NS;
		}
		ret = load_round(e, wait, &last_sweep);
	}
	res->failed[KST_LOAD_F_NOTSTARTED] += total - next;
	while (e->active)
		kst_load_conn_finish(e, e->active, KST_LOAD_F_TIMEOUT);
	return ret;
}

int kst_load_run_bulk(struct kst_load_engine *e)
{
	uint64_t start = kst_load_now_ns(), last_sweep = start;
	int ret = 0;

	e->res->scheduled = 1;
	e->res->t_first_ns = start;
	kst_load_conn_start(e, start);
	while (e->nactive > 0 && !kst_load_stop && ret == 0)
		ret = load_round(e, POLL_MAX_NS, &last_sweep);
	while (e->active)
		kst_load_conn_finish(e, e->active, KST_LOAD_F_TIMEOUT);
	return ret;
}

/* Starts connections, P at most handshaking, until K are done or failed. */
static int load_idle_establish(struct kst_load_engine *e)
{
	const struct kst_load_opts *o = e->o;
	struct kst_load_result *res = e->res;
	uint64_t start = kst_load_now_ns(), last_sweep = start;
	uint64_t end = start + load_s_to_ns(o->timeout_s) * 4;
	int ret = 0;

	res->scheduled = o->conns;
	res->t_first_ns = start;
	while (!kst_load_stop && ret == 0 && kst_load_now_ns() < end) {
		uint64_t settled = res->completed + load_failed_total(res);

		if (settled >= o->conns)
			break;
		while (res->started < o->conns &&
		       res->started - settled < o->parallel) {
			kst_load_conn_start(e, kst_load_now_ns());
			settled = res->completed + load_failed_total(res);
		}
		ret = load_round(e, POLL_MAX_NS, &last_sweep);
	}
	res->failed[KST_LOAD_F_NOTSTARTED] += o->conns - res->started;
	res->t_last_done_ns = kst_load_now_ns();
	return ret;
}

/* Waits (serving events) until deadline or a stop signal. */
static int load_idle_wait(struct kst_load_engine *e, uint64_t deadline)
{
	uint64_t last_sweep = kst_load_now_ns(), now;
	int ret = 0;

	while (!kst_load_stop && ret == 0 &&
	       (now = kst_load_now_ns()) < deadline) {
		uint64_t wait = deadline - now;

		ret = load_round(e, wait < POLL_MAX_NS ? wait : POLL_MAX_NS,
				 &last_sweep);
	}
	return ret;
}

static void load_idle_ready(const struct kst_load_opts *o,
			    const struct kst_load_result *res)
{
	FILE *f;

	fprintf(stderr, "kst-load: %llu of %u connections established\n",
		(unsigned long long)res->completed, o->conns);
	if (!o->ready_file)
		return;
	f = fopen(o->ready_file, "we");
	if (!f)
		return;
	fprintf(f, "established %llu\n", (unsigned long long)res->completed);
	fclose(f);
}

int kst_load_run_idle(struct kst_load_engine *e)
{
	const struct kst_load_opts *o = e->o;
	struct kst_load_result *res = e->res;
	uint64_t now;
	int ret;

	res->rss_kb_before = kst_load_session_rss_kb(o->server_sid);
	ret = load_idle_establish(e);
	/* let the server finish what follows a handshake (backend connect) */
	if (ret == 0)
		ret = load_idle_wait(e, kst_load_now_ns() +
						load_s_to_ns(o->settle_s));
	res->rss_kb_after = kst_load_session_rss_kb(o->server_sid);
	res->backend_conns =
		o->backend_port > 0
			? kst_load_count_established_to(o->backend_port)
			: -1;
	load_idle_ready(o, e->res);
	now = kst_load_now_ns();
	if (ret == 0)
		ret = load_idle_wait(e, now + load_s_to_ns(o->hold_s));
	while (e->active)
		kst_load_conn_finish(e, e->active, KST_LOAD_OK);
	return ret;
}
