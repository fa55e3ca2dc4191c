// SPDX-License-Identifier: MIT
/*
 * export: what the once-a-second metrics flush costs and writes, counted
 * without BPF (kst_export.put captures the certificate entries). An idle
 * flush writes no certificate entry; a flush's work grows linearly with the
 * number of certificates (issue 13: it was quadratic); a change to one
 * certificate's facts, counters or staple state (as the clock passes its
 * refresh or nextUpdate) writes that entry alone; every entry is rewritten
 * on a new generation, every KST_EXPORT_FULL_SECS and at a stop; and what
 * `kstapled status` reads (each entry as of the global flush) is what a
 * rewrite of every entry at every flush would have shown.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control/export.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/metrics/status.h"

#define T0	 1763700000
#define NWORKERS 2

struct fixture {
	struct kst_gen g;
	struct kst_cert *certs;
	struct kst_certstate *states;
	struct kst_worker *workers;
	struct kst_cert_val *last; /* [n] the last value put, by key */
	uint64_t *puts_of;	   /* [n] puts per key */
	size_t n;
	char (*names)[32];
};

static int capture_put(void *ctx, const struct kst_cert_key *k,
		       const struct kst_cert_val *v)
{
	struct fixture *fx = ctx;
	uint32_t i;

	memcpy(&i, k->sha256, sizeof(i));
	cr_assert_lt(i, fx->n, "unknown key %u", i);
	fx->last[i] = *v;
	fx->puts_of[i]++;
	return 0;
}

/* A map that holds 100 entries: refuses new keys past that, as the
 * kernel does past max_entries. */
static int full_map_put(void *ctx, const struct kst_cert_key *k,
			const struct kst_cert_val *v)
{
	uint32_t i;

	memcpy(&i, k->sha256, sizeof(i));
	if (i >= 100)
		return -E2BIG;
	return capture_put(ctx, k, v);
}

/* n certificates, each its own state (key = its index), stapling off. */
static void fx_init(struct fixture *fx, size_t n)
{
	memset(fx, 0, sizeof(*fx));
	fx->n = n;
	fx->certs = calloc(n, sizeof(*fx->certs));
	fx->states = calloc(n, sizeof(*fx->states));
	fx->names = calloc(n, sizeof(*fx->names));
	fx->last = calloc(n, sizeof(*fx->last));
	fx->puts_of = calloc(n, sizeof(*fx->puts_of));
	fx->workers = calloc(NWORKERS, sizeof(*fx->workers));
	fx->g.certs = calloc(n, sizeof(*fx->g.certs));
	cr_assert(fx->certs && fx->states && fx->names && fx->last &&
		  fx->puts_of && fx->workers && fx->g.certs);
	for (size_t i = 0; i < n; i++) {
		struct kst_certstate *cs = &fx->states[i];
		struct kst_cert *c = &fx->certs[i];
		uint32_t key = (uint32_t)i;

		cs->nworkers = NWORKERS;
		cs->counters = aligned_alloc(KST_CACHELINE,
					     sizeof(*cs->counters) * NWORKERS);
		cr_assert(cs->counters);
		memset(cs->counters, 0, sizeof(*cs->counters) * NWORKERS);
		snprintf(fx->names[i], sizeof(fx->names[i]), "cert%zu", i);
		c->name = fx->names[i];
		snprintf(c->subject_cn, sizeof(c->subject_cn), "c%zu.test", i);
		memcpy(c->sha256, &key, sizeof(key));
		memcpy(cs->sha256, c->sha256, sizeof(cs->sha256));
		c->not_after = T0 + 86400 * 90;
		c->state = cs;
		fx->g.certs[i] = c;
	}
	fx->g.n_certs = n;
	fx->g.id = 1;
}

static void fx_free(struct fixture *fx)
{
	for (size_t i = 0; i < fx->n; i++)
		free(fx->states[i].counters);
	free(fx->certs);
	free(fx->states);
	free(fx->names);
	free(fx->last);
	free(fx->puts_of);
	free(fx->workers);
	free(fx->g.certs);
}

static void ex_init(struct kst_export *e, struct fixture *fx)
{
	memset(e, 0, sizeof(*e));
	e->put = capture_put;
	e->put_ctx = fx;
	e->started_at = T0 - 100;
}

/* The certificate entries one flush at now writes. */
static uint64_t flush_puts(struct kst_export *e, struct fixture *fx, time_t now)
{
	uint64_t before = e->st.cert_puts;

	kst_export_flush(e, &fx->g, fx->workers, NWORKERS, now);
	return e->st.cert_puts - before;
}

/* What a flush at now writes for cert i when it rewrites every entry. */
static void direct_value(struct fixture *fx, size_t i, time_t now,
			 struct kst_cert_val *v)
{
	struct kst_conn_counters cnt;
	struct kst_cert_facts f;

	kst_export_cert_facts(&fx->certs[i], &f);
	kst_certstate_counters(fx->certs[i].state, &cnt);
	kst_metrics_cert_build(v, &f, &cnt, now);
}

Test(export, idle_flush_writes_no_certificate)
{
	struct kst_export e;
	struct fixture fx;

	fx_init(&fx, 1000);
	ex_init(&e, &fx);
	cr_assert_eq(flush_puts(&e, &fx, T0), 1000, "first flush: all");
	for (int s = 1; s <= 5; s++) {
		uint64_t reads = e.st.facts_reads, sums = e.st.counter_sums;

		cr_assert_eq(flush_puts(&e, &fx, T0 + s), 0,
			     "idle flush at +%ds wrote entries", s);
		/* and read the facts of a rolling slice only */
		cr_assert_leq(e.st.facts_reads - reads,
			      (1000 + KST_EXPORT_ROLL_SECS - 1) /
				      KST_EXPORT_ROLL_SECS);
		cr_assert_eq(e.st.counter_sums, sums, "no counter read");
	}
	for (size_t i = 0; i < fx.n; i++)
		cr_assert_eq(fx.puts_of[i], 1, "cert %zu", i);
	kst_export_free(&e);
	fx_free(&fx);
}

/* Nothing touched, no counter moved, nothing due: a flush visits the
 * rolling slice only, not every certificate; a touch walks them again. */
Test(export, an_idle_flush_visits_only_the_rolling_slice)
{
	const uint64_t slice =
		(1000 + KST_EXPORT_ROLL_SECS - 1) / KST_EXPORT_ROLL_SECS;
	struct kst_export e;
	struct fixture fx;
	uint64_t visits;

	fx_init(&fx, 1000);
	ex_init(&e, &fx);
	flush_puts(&e, &fx, T0);
	flush_puts(&e, &fx, T0 + 1); /* learns the earliest due */
	for (int s = 2; s <= 6; s++) {
		visits = e.st.visits;
		cr_assert_eq(flush_puts(&e, &fx, T0 + s), 0);
		cr_assert_leq(e.st.visits - visits, slice,
			      "idle flush at +%ds visited %llu", s,
			      (unsigned long long)(e.st.visits - visits));
	}
	kst_certstate_touch(&fx.states[17]);
	visits = e.st.visits;
	flush_puts(&e, &fx, T0 + 7);
	cr_assert_eq(e.st.visits - visits, 1000, "a touch walks them all");
	kst_export_free(&e);
	fx_free(&fx);
}

/* Work of one generation's first flush and 9 idle flushes at n certs. */
static uint64_t work_for(size_t n, uint64_t *puts)
{
	struct kst_export e;
	struct fixture fx;
	uint64_t work;

	fx_init(&fx, n);
	ex_init(&e, &fx);
	for (int s = 0; s < 10; s++)
		flush_puts(&e, &fx, T0 + s);
	work = e.st.index_probes + e.st.visits + e.st.facts_reads +
	       e.st.counter_sums;
	*puts = e.st.cert_puts;
	kst_export_free(&e);
	fx_free(&fx);
	return work;
}

Test(export, work_grows_linearly)
{
	uint64_t p1, p16, w1 = work_for(1000, &p1), w16 = work_for(16000, &p16);

	/* linear: 16x the certs, 16x the work (hash probing may add a
	 * little); the quadratic scan did ~128x */
	cr_assert_leq(w16, 20 * w1, "1k certs: %llu, 16k: %llu steps",
		      (unsigned long long)w1, (unsigned long long)w16);
	/* and a few steps per certificate per flush, not N */
	cr_assert_leq(w16, 16000ULL * 10 * 4, "%llu", (unsigned long long)w16);
	/* each entry once: the 9 idle flushes wrote nothing */
	cr_assert_eq(p1, 1000, "%llu", (unsigned long long)p1);
	cr_assert_eq(p16, 16000, "%llu", (unsigned long long)p16);
}

Test(export, changed_facts_write_that_cert_alone)
{
	struct kst_export e;
	struct fixture fx;
	struct kst_cert_val want;

	fx_init(&fx, 300);
	ex_init(&e, &fx);
	flush_puts(&e, &fx, T0);
	fx.states[17].ocsp.fetch_failures = 3;
	fx.states[17].ocsp.last_fetch_error = 65;
	strcpy(fx.states[17].ocsp.last_fetch_error_name, "timeout");
	kst_certstate_touch(&fx.states[17]); /* as every writer does */
	cr_assert_eq(flush_puts(&e, &fx, T0 + 1), 1);
	cr_assert_eq(fx.puts_of[17], 2);
	direct_value(&fx, 17, T0 + 1, &want);
	cr_assert_eq(memcmp(&fx.last[17], &want, sizeof(want)), 0);
	cr_assert_str_eq(fx.last[17].last_error_name, "timeout");
	/* the error name alone changes (same code) */
	strcpy(fx.states[17].ocsp.last_fetch_error_name, "connect");
	kst_certstate_touch(&fx.states[17]);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 2), 1);
	cr_assert_str_eq(fx.last[17].last_error_name, "connect");
	cr_assert_eq(flush_puts(&e, &fx, T0 + 3), 0);
	kst_export_free(&e);
	fx_free(&fx);
}

/* A writer that forgot kst_certstate_touch: its change shows within
 * KST_EXPORT_ROLL_SECS anyway (the rolling check), written once. */
Test(export, an_unannounced_change_shows_within_the_period)
{
	struct kst_export e;
	struct fixture fx;
	int t;

	fx_init(&fx, 500);
	ex_init(&e, &fx);
	flush_puts(&e, &fx, T0);
	fx.states[123].ocsp.fetch_successes = 9;
	for (t = 1; t < KST_EXPORT_ROLL_SECS && fx.puts_of[123] == 1; t++)
		cr_assert_leq(flush_puts(&e, &fx, T0 + t), 1);
	cr_assert_eq(fx.puts_of[123], 2, "not seen within %d s", t);
	cr_assert_eq(fx.last[123].fetch_successes, 9);
	for (; t < KST_EXPORT_ROLL_SECS; t++)
		cr_assert_eq(flush_puts(&e, &fx, T0 + t), 0);
	kst_export_free(&e);
	fx_free(&fx);
}

Test(export, counters_are_flushed)
{
	struct kst_export e;
	struct fixture fx;

	fx_init(&fx, 300);
	ex_init(&e, &fx);
	flush_puts(&e, &fx, T0);
	/* a handshake: the worker accepted, and counted for cert 5 */
	fx.workers[1].pc.accepted++;
	fx.workers[1].pc.active++;
	fx.states[5].counters[1].c.handshakes++;
	cr_assert_eq(flush_puts(&e, &fx, T0 + 1), 1);
	cr_assert_eq(fx.last[5].handshakes, 1);
	/* the connection stays open and relays: no process counter moves
	 * but bytes (splice counts per cert and per process; the relay of
	 * userspace bytes likewise, but say it did not) */
	fx.states[5].counters[1].c.bytes_userspace += 100;
	cr_assert_eq(flush_puts(&e, &fx, T0 + 2), 1);
	cr_assert_eq(fx.last[5].bytes_userspace, 100);
	/* it closes */
	fx.workers[1].pc.active--;
	cr_assert_eq(flush_puts(&e, &fx, T0 + 3), 0);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 4), 0);
	kst_export_free(&e);
	fx_free(&fx);
}

Test(export, staple_state_follows_the_clock)
{
	struct kst_staple *s = calloc(1, sizeof(*s));
	struct kst_export e;
	struct fixture fx;
	struct kst_certstate *cs;

	cr_assert(s);
	fx_init(&fx, 50);
	ex_init(&e, &fx);
	cs = &fx.states[9];
	fx.certs[9].stapling = true;
	fx.certs[9].n_ocsp_urls = 1;
	s->this_update = T0 - 3600;
	s->next_update = T0 + 30;
	s->produced_at = T0 - 3600;
	cs->cur = s;
	cs->ocsp.ever_had = true;
	cs->ocsp.next_refresh = T0 + 10;
	flush_puts(&e, &fx, T0);
	cr_assert_eq(fx.last[9].state, KST_STAPLE_FRESH);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 9), 0);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 10), 1, "refresh due");
	cr_assert_eq(fx.last[9].state, KST_STAPLE_REFRESHING);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 29), 0);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 30), 1, "nextUpdate passed");
	cr_assert_eq(fx.last[9].state, KST_STAPLE_EXPIRED);
	cs->cur = NULL;
	free(s);
	kst_export_free(&e);
	fx_free(&fx);
}

Test(export, shared_state_exported_once_by_first_cert)
{
	struct kst_export e;
	struct fixture fx;

	fx_init(&fx, 10);
	ex_init(&e, &fx);
	fx.certs[7].state = &fx.states[3]; /* same leaf, two cert lines */
	memcpy(fx.certs[7].sha256, fx.certs[3].sha256, 32);
	fx.g.certs[8] = NULL;
	cr_assert_eq(flush_puts(&e, &fx, T0), 8);
	cr_assert_eq(fx.puts_of[3], 1);
	cr_assert_str_eq(fx.last[3].name, "cert3");
	cr_assert_eq(fx.puts_of[7], 0);
	cr_assert_eq(fx.puts_of[8], 0);
	kst_export_free(&e);
	fx_free(&fx);
}

Test(export, full_rewrite_on_period_and_stop)
{
	struct kst_export e;
	struct fixture fx;

	fx_init(&fx, 200);
	ex_init(&e, &fx);
	cr_assert_eq(flush_puts(&e, &fx, T0), 200, "the first flush");
	cr_assert_eq(flush_puts(&e, &fx, T0 + 1), 0);
	cr_assert_eq(flush_puts(&e, &fx, T0 + KST_EXPORT_FULL_SECS - 1), 0);
	cr_assert_eq(flush_puts(&e, &fx, T0 + KST_EXPORT_FULL_SECS), 200);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 1 + KST_EXPORT_FULL_SECS), 0);
	/* the clock stepped back: rewrite */
	cr_assert_eq(flush_puts(&e, &fx, T0), 200);
	kst_export_stop(&e, &fx.g, fx.workers, NWORKERS, T0 + 1);
	for (size_t i = 0; i < fx.n; i++)
		cr_assert_eq(fx.last[i].flushed_at, T0 + 1);
	kst_export_free(&e);
	fx_free(&fx);
}

/* A reload is a new generation of new certificate objects; those it
 * reused share their state. Issue 13: 100,000 map updates per SIGHUP. */
Test(export, a_reload_writes_only_what_changed)
{
	struct kst_export e;
	struct fixture fx;
	struct kst_cert *again = calloc(200, sizeof(*again));

	cr_assert_not_null(again);
	fx_init(&fx, 200);
	ex_init(&e, &fx);
	cr_assert_eq(flush_puts(&e, &fx, T0), 200);
	/* nothing changed: new objects, the same states */
	memcpy(again, fx.certs, 200 * sizeof(*again));
	for (size_t i = 0; i < 200; i++)
		fx.g.certs[i] = &again[i];
	fx.g.id = 2;
	kst_export_prune(&e, &fx.g);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 2), 0, "nothing to write");
	cr_assert_eq(e.st.index_builds, 2, "the new generation indexed");
	/* renamed (same file, same state): its entry says the new name */
	fx.g.id = 3;
	again[7].name = "renamed";
	cr_assert_eq(flush_puts(&e, &fx, T0 + 3), 1);
	cr_assert_eq(fx.puts_of[7], 2);
	cr_assert_str_eq(fx.last[7].name, "renamed");
	/* a new state under the same key (the file replaced): written */
	{
		struct kst_certstate fresh = fx.states[9];

		fx.g.id = 4;
		again[9].state = &fresh;
		cr_assert_eq(flush_puts(&e, &fx, T0 + 4), 1);
		cr_assert_eq(fx.puts_of[9], 2);
		fx.g.id = 5;
		again[9].state = &fx.states[9];
		cr_assert_eq(flush_puts(&e, &fx, T0 + 5), 1);
	}
	/* the period still rewrites everything */
	cr_assert_eq(flush_puts(&e, &fx, T0 + KST_EXPORT_FULL_SECS), 200);
	kst_export_free(&e);
	fx_free(&fx);
	free(again);
}

/* An entry written at T0 and left alone since reads, as of a global flush
 * at T0 + 42, exactly as a rewrite at T0 + 42 would have written it. */
Test(export, status_reads_entries_as_of_the_global_flush)
{
	struct kst_staple *s = calloc(1, sizeof(*s));
	struct kst_status_cert sc[2];
	struct kst_global_val g = {0};
	struct kst_cert_val want;
	struct kst_export e;
	struct fixture fx;

	cr_assert(s);
	fx_init(&fx, 2);
	ex_init(&e, &fx);
	fx.certs[1].stapling = true;
	fx.certs[1].n_ocsp_urls = 1;
	s->this_update = T0 - 3600;
	s->next_update = T0 + 86400;
	fx.states[1].cur = s;
	fx.states[1].ocsp.ever_had = true;
	for (int t = 0; t <= 42; t++)
		flush_puts(&e, &fx, T0 + t);
	cr_assert_eq(fx.puts_of[1], 1);
	for (size_t i = 0; i < 2; i++) {
		memcpy(sc[i].key.sha256, fx.certs[i].sha256, 32);
		sc[i].val = fx.last[i];
	}
	g.flushed_at = T0 + 42;
	kst_status_as_of_flush(sc, 2, &g);
	for (size_t i = 0; i < 2; i++) {
		direct_value(&fx, i, T0 + 42, &want);
		cr_assert_eq(memcmp(&sc[i].val, &want, sizeof(want)), 0,
			     "cert %zu", i);
	}
	cr_assert_eq(sc[1].val.secs_to_next_update, 86400 - 42);
	/* an entry newer than the global one (written since) stands */
	g.flushed_at = T0 - 5;
	sc[0].val.flushed_at = T0;
	kst_status_as_of_flush(sc, 1, &g);
	cr_assert_eq(sc[0].val.flushed_at, T0);
	fx.states[1].cur = NULL;
	free(s);
	kst_export_free(&e);
	fx_free(&fx);
}

/* Past the map's capacity: the entries that fit are exported and kept up
 * to date; the others are retried at full flushes only, not every second
 * (which would be a system call per certificate per second). */
Test(export, past_the_map_capacity_no_retry_storm)
{
	struct kst_export e;
	struct fixture fx;

	fx_init(&fx, 150);
	ex_init(&e, &fx);
	e.put = full_map_put;
	cr_assert_eq(flush_puts(&e, &fx, T0), 150);
	cr_assert_eq(e.st.put_errors, 50);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 1), 0);
	fx.states[140].ocsp.fetch_failures = 1; /* refused: tried again */
	kst_certstate_touch(&fx.states[140]);
	fx.states[10].ocsp.fetch_failures = 1;
	kst_certstate_touch(&fx.states[10]);
	cr_assert_eq(flush_puts(&e, &fx, T0 + 2), 2);
	cr_assert_eq(fx.last[10].fetch_failures, 1);
	cr_assert_eq(e.st.put_errors, 51);
	cr_assert_eq(flush_puts(&e, &fx, T0 + KST_EXPORT_FULL_SECS), 150);
	kst_export_free(&e);
	fx_free(&fx);
}
