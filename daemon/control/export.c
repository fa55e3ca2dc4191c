// SPDX-License-Identifier: MIT
/* Control thread -> pinned maps; see export.h (what a flush writes). */
#include "daemon/control/export.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/metrics/lstats.h"
#include "daemon/metrics/metrics_state.h"
#include "ktls/probe.h"

void kst_export_cert_facts(const struct kst_cert *c, struct kst_cert_facts *f)
{
	struct kst_certstate *cs = c->state;
	const struct kst_cert_ocsp *o = &cs->ocsp;
	struct kst_staple *s = cs->cur; /* control thread: the only writer */

	memset(f, 0, sizeof(*f));
	f->sha256 = c->sha256;
	f->name = c->name;
	f->subject_cn = c->subject_cn;
	f->not_after = c->not_after;
	f->policy = (enum kst_bpf_policy)c->policy;
	f->must_staple = c->must_staple;
	f->staple.enabled = c->stapling;
	f->staple.has_source = c->n_ocsp_urls > 0 ||
			       o->seen[KST_STAPLE_SRC_FILE].ino > 0 ||
			       o->ever_had;
	f->staple.has_staple = s != NULL;
	f->staple.revoked = o->revoked;
	f->staple.ever_had = o->ever_had;
	f->staple.fetch_in_flight = o->fetch_in_flight;
	f->staple.this_update = s ? s->this_update : o->last_this_update;
	f->staple.next_update = s ? s->next_update : o->last_next_update;
	f->staple.next_refresh = o->next_refresh;
	f->staple.consecutive_failures = o->consecutive_failures;
	f->produced_at = s ? s->produced_at : o->last_produced_at;
	f->fetched_at = o->fetched_at;
	f->last_fetch_at = o->last_fetch_at;
	f->fetch_successes = o->fetch_successes;
	f->fetch_failures = o->fetch_failures;
	f->last_http_status = o->last_http_status;
	f->last_error = o->last_fetch_error;
	f->last_error_name =
		o->last_fetch_error_name[0] ? o->last_fetch_error_name : NULL;
}

/* One certificate entry of the generation's index. */
struct kst_export_slot {
	const struct kst_cert *c; /* the first cert of g with this state */
	const struct kst_certstate *cs; /* c->state */
	uint64_t facts_sig; /* of what was last written (0: nothing) */
	uint64_t cnt_sig;
	time_t due;	  /* the state may change by the clock then; 0: never */
	unsigned changes; /* cs->changes when the facts were last read */
	uint64_t key64;	  /* the key's first 8 bytes */
};

/* Mixes 64-bit words (splitmix64 finaliser); not cryptographic, only a
 * change detector: a collision costs one entry one missed update until the
 * next full flush. */
static uint64_t export_mix(uint64_t h, uint64_t w)
{
	h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static uint64_t export_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, b + i, 8);
		h = export_mix(h, w);
	}
	for (w = 0; i < len; i++)
		w = w << 8 | b[i];
	h = export_mix(h, w);
	return h ? h : 1; /* 0 means "never written" */
}

/* What a flush would write for c, but flushed_at and secs_to_next_update
 * (which follow the clock) and the counters. */
static uint64_t export_facts_sig(const struct kst_cert *c,
				 struct kst_cert_facts *f, time_t now)
{
	char err[sizeof(c->state->ocsp.last_fetch_error_name)];
	struct kst_cert_facts plain;
	uint64_t h;

	kst_export_cert_facts(c, f); /* memset: no stray padding bytes */
	memset(err, 0, sizeof(err));
	if (f->last_error_name != NULL)
		strncpy(err, f->last_error_name, sizeof(err) - 1);
	/* what the pointers point at, not where: a reload's new objects
	 * with the same facts have the same signature */
	plain = *f;
	plain.sha256 = NULL;
	plain.name = NULL;
	plain.subject_cn = NULL;
	plain.last_error_name = NULL;
	h = export_hash(&plain, sizeof(plain));
	h = export_mix(h, export_hash(err, sizeof(err)));
	h = export_mix(h, f->sha256 ? export_hash(f->sha256, 32) : 0);
	h = export_mix(h, f->name ? export_hash(f->name, strlen(f->name)) : 0);
	h = export_mix(h, f->subject_cn ? export_hash(f->subject_cn,
						      strlen(f->subject_cn))
					: 0);
	return export_mix(h,
			  (uint64_t)kst_metrics_staple_state(&f->staple, now));
}

/* When the staple state of f changes by the clock alone (a refresh comes
 * due, nextUpdate passes; kst_metrics_staple_state): the first of those
 * after now, or 0. */
static time_t export_due(const struct kst_cert_facts *f, time_t now)
{
	time_t due = 0, t[2] = {f->staple.next_refresh, f->staple.next_update};

	for (size_t i = 0; i < 2; i++)
		if (t[i] > now && (due == 0 || t[i] < due))
			due = t[i];
	return due;
}

static uint64_t export_key64(const struct kst_cert *c)
{
	uint64_t k;

	memcpy(&k, c->sha256, sizeof(k));
	return k;
}

/*
 * What the previous index knew of an entry, for the same state and key
 * in the new one: a reload that changes nothing writes nothing (issue 13:
 * 100,000 map updates per SIGHUP). Every slot's facts are read again (a
 * renamed certificate keeps its state; a slot not carried has nothing to
 * match, so it is written), the counters are not (the same state's).
 * The old slots' pointers are compared, never followed: their
 * generation may be gone.
 */
static void export_carry(struct kst_export_slot *slots, size_t n,
			 const struct kst_export_slot *old, size_t n_old)
{
	const struct kst_export_slot **by_cs;
	size_t cap = 16;

	while (cap < 2 * n_old)
		cap *= 2;
	by_cs = n_old ? calloc(cap, sizeof(*by_cs)) : NULL;
	if (by_cs == NULL)
		return; /* nothing carried: every entry is written */
	for (size_t i = 0; i < n_old; i++) {
		size_t h =
			(size_t)export_mix(0, (uintptr_t)old[i].cs) & (cap - 1);

		while (by_cs[h] != NULL)
			h = (h + 1) & (cap - 1);
		by_cs[h] = &old[i];
	}
	for (size_t i = 0; i < n; i++) {
		size_t h = (size_t)export_mix(0, (uintptr_t)slots[i].cs) &
			   (cap - 1);

		for (; by_cs[h] != NULL; h = (h + 1) & (cap - 1)) {
			const struct kst_export_slot *o = by_cs[h];

			if (o->cs != slots[i].cs || o->key64 != slots[i].key64)
				continue;
			slots[i].facts_sig = o->facts_sig;
			slots[i].cnt_sig = o->cnt_sig;
			slots[i].due = o->due;
			break;
		}
	}
	free(by_cs);
}

/*
 * Index g: one slot per distinct certificate state, in the order of g (the
 * first cert of a state names its entry). O(N): an open-addressed set of
 * the states seen. -ENOMEM leaves no index (the next flush retries).
 */
static int export_index(struct kst_export *e, const struct kst_gen *g)
{
	const struct kst_certstate **set;
	struct kst_export_slot *slots;
	size_t cap = 16, n = 0;

	while (cap < 2 * g->n_certs)
		cap *= 2;
	set = calloc(cap, sizeof(*set));
	slots = calloc(g->n_certs ? g->n_certs : 1, sizeof(*slots));
	if (set == NULL || slots == NULL) {
		free(set);
		free(slots);
		free(e->slots);
		e->slots = NULL;
		e->n_slots = 0;
		e->gen = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->n_certs; i++) {
		const struct kst_cert *c = g->certs[i];
		size_t h;

		if (c == NULL)
			continue;
		h = (size_t)export_mix(0, (uintptr_t)c->state) & (cap - 1);
		for (;;) {
			e->st.index_probes++;
			if (set[h] == NULL || set[h] == c->state)
				break;
			h = (h + 1) & (cap - 1);
		}
		if (set[h] != NULL)
			continue; /* exported by an earlier cert */
		set[h] = c->state;
		slots[n].c = c;
		slots[n].key64 = export_key64(c);
		slots[n].changes = c->state->changes - 1; /* facts: read */
		slots[n++].cs = c->state;
	}
	free(set);
	export_carry(slots, n, e->slots, e->n_slots);
	free(e->slots);
	e->slots = slots;
	e->n_slots = n;
	e->gen = g;
	e->gen_id = g->id;
	e->gen_n = g->n_certs;
	e->warned_full = false;
	e->st.index_builds++;
	return 0;
}

/*
 * Whether any worker may have counted since the previous flush: its
 * process counters moved, or it holds connections (a handshake or a relay
 * on an open connection counts per certificate without moving them; the
 * close that ends it moves `active`). Keeps the snapshot for next time.
 */
static bool export_counters_moved(struct kst_export *e,
				  struct kst_worker *workers, unsigned nworkers)
{
	bool moved = false;

	if (e->n_wsnap != nworkers) {
		struct kst_proc_counters *s =
			calloc(nworkers ? nworkers : 1, sizeof(*s));

		if (s == NULL)
			return true;
		free(e->wsnap);
		e->wsnap = s;
		e->n_wsnap = nworkers;
		moved = true;
	}
	for (unsigned i = 0; i < nworkers; i++) {
		struct kst_proc_counters pc = {0};

		kst_metrics_sum_proc(&pc, &workers[i].pc);
		if (pc.active != 0 || memcmp(&pc, &e->wsnap[i], sizeof(pc)))
			moved = true;
		e->wsnap[i] = pc;
	}
	return moved;
}

static void export_global(struct kst_export *e, struct kst_gen *g,
			  struct kst_worker *workers, unsigned nworkers,
			  bool stopped, time_t now)
{
	struct kst_global_facts gf = {0};
	struct kst_proc_counters pc = {0};
	struct kst_global_val v;
	struct kst_tls_stat ts;

	for (unsigned i = 0; i < nworkers; i++)
		kst_metrics_sum_proc(&pc, &workers[i].pc);
	gf.started_at = e->started_at;
	gf.pid = (uint32_t)getpid();
	gf.workers = stopped ? 0 : nworkers; /* 0: see kst_export_stop */
	gf.certs = (uint32_t)g->n_certs;
	gf.reloads_ok = e->reloads_ok;
	gf.reloads_failed = e->reloads_failed;
	if (kst_ktls_tls_stat_read(&ts) == 0) {
		gf.tls_stat_present = true;
		gf.tls_stat.curr_tx_sw = ts.curr_tx_sw;
		gf.tls_stat.curr_rx_sw = ts.curr_rx_sw;
		gf.tls_stat.curr_tx_device = ts.curr_tx_device;
		gf.tls_stat.curr_rx_device = ts.curr_rx_device;
		gf.tls_stat.tx_sw = ts.tx_sw;
		gf.tls_stat.rx_sw = ts.rx_sw;
		gf.tls_stat.tx_device = ts.tx_device;
		gf.tls_stat.rx_device = ts.rx_device;
		gf.tls_stat.decrypt_error = ts.decrypt_error;
		gf.tls_stat.rx_device_resync = ts.rx_device_resync;
		gf.tls_stat.decrypt_retry = ts.decrypt_retry;
		gf.tls_stat.rx_no_pad_violation = ts.rx_no_pad_violation;
		gf.tls_stat.rx_rekey_ok = ts.rx_rekey_ok;
		gf.tls_stat.rx_rekey_error = ts.rx_rekey_error;
		gf.tls_stat.tx_rekey_ok = ts.tx_rekey_ok;
		gf.tls_stat.tx_rekey_error = ts.tx_rekey_error;
		gf.tls_stat.rx_rekey_received = ts.rx_rekey_received;
	}
	kst_metrics_global_build(&v, &gf, &pc, now);
	kst_metrics_global_put(e->m, &v);
}

static void export_flush(struct kst_export *e, struct kst_gen *g,
			 struct kst_worker *workers, unsigned nworkers,
			 bool stopped, time_t now);

void kst_export_flush(struct kst_export *e, struct kst_gen *g,
		      struct kst_worker *workers, unsigned nworkers, time_t now)
{
	export_flush(e, g, workers, nworkers, false, now);
}

void kst_export_stop(struct kst_export *e, struct kst_gen *g,
		     struct kst_worker *workers, unsigned nworkers, time_t now)
{
	export_flush(e, g, workers, nworkers, true, now);
}

/*
 * One slot: read what may have changed (facts when check_facts or it was
 * touched or due, counters when moved), write its entry if that differs.
 * 1: written; 0: nothing to write; -errno: the map refused it.
 */
static int export_slot(struct kst_export *e, size_t i, bool full, bool moved,
		       bool check_facts, time_t now)
{
	struct kst_export_slot *sl = &e->slots[i];
	const struct kst_cert *c = sl->c;
	uint64_t fsig = sl->facts_sig, csig = sl->cnt_sig;
	bool have_f = false, have_cnt = false;
	struct kst_conn_counters cnt;
	struct kst_cert_facts f;
	struct kst_cert_key k;
	struct kst_cert_val v;
	int rc;

	e->st.visits++;
	if (full || check_facts || sl->cs->changes != sl->changes ||
	    (sl->due != 0 && now >= sl->due)) {
		fsig = export_facts_sig(c, &f, now);
		have_f = true;
		e->st.facts_reads++;
	}
	if (moved) {
		kst_certstate_counters(c->state, &cnt);
		csig = export_hash(&cnt, sizeof(cnt));
		e->st.counter_sums++;
		have_cnt = true;
	}
	if (!full && fsig == sl->facts_sig && csig == sl->cnt_sig) {
		if (have_f) {
			sl->changes = sl->cs->changes;
			sl->due = export_due(&f, now);
		}
		return 0;
	}
	if (!have_f) {
		fsig = export_facts_sig(c, &f, now);
		e->st.facts_reads++;
	}
	if (!have_cnt) { /* the facts changed: counters as of now */
		kst_certstate_counters(c->state, &cnt);
		csig = export_hash(&cnt, sizeof(cnt));
		e->st.counter_sums++;
	}
	sl->changes = sl->cs->changes;
	sl->due = export_due(&f, now);
	kst_metrics_cert_build(&v, &f, &cnt, now);
	memcpy(k.sha256, c->sha256, sizeof(k.sha256));
	rc = e->put ? e->put(e->put_ctx, &k, &v)
		    : kst_metrics_cert_put(e->m, &k, &v);
	e->st.cert_puts++;
	/* A refused entry is retried at the next full flush, not at every
	 * flush: past the map's capacity that would be a system call per
	 * certificate per second. */
	sl->facts_sig = fsig;
	sl->cnt_sig = csig;
	if (rc < 0) {
		kst_debug("metrics: cert %s: %s", c->name, strerror(-rc));
		return rc;
	}
	return 1;
}

static void export_flush(struct kst_export *e, struct kst_gen *g,
			 struct kst_worker *workers, unsigned nworkers,
			 bool stopped, time_t now)
{
	size_t errors = 0, roll_n;
	int last_err = 0;
	bool full, moved, quiet;
	time_t due_min = 0;

	if (e->m == NULL && e->put == NULL)
		return;
	if (e->gen != g || e->gen_id != g->id || e->gen_n != g->n_certs) {
		(void)export_index(e, g); /* -ENOMEM: no entries this time */
		e->due_min = 0;		  /* walk them all */
	}
	e->st.flushes++;
	full = stopped || e->full_pending || now < e->last_full ||
	       now - e->last_full >= KST_EXPORT_FULL_SECS;
	moved = export_counters_moved(e, workers, nworkers) || full;
	/* facts read without a touch: a slice per flush, all in a period
	 * (a change a writer did not announce still shows, late) */
	roll_n = full || e->n_slots == 0 ? 0
					 : (e->n_slots + KST_EXPORT_ROLL_SECS -
					    1) / KST_EXPORT_ROLL_SECS;
	if (e->roll >= e->n_slots)
		e->roll = 0;
	/* nothing touched, no counter moved, nothing due: only the slice
	 * (an idle daemon with 100,000 certificates visited every one each
	 * second, issue 13) */
	quiet = !full && !moved && e->due_min != 0 &&
		e->touches == kst_certstate_touches && now < e->due_min &&
		now >= e->quiet_since;
	for (size_t n = 0; n < (quiet ? roll_n : e->n_slots); n++) {
		size_t i = quiet ? (e->roll + n) % e->n_slots : n;
		size_t off =
			i >= e->roll ? i - e->roll : i + e->n_slots - e->roll;
		int rc = export_slot(e, i, full, moved, off < roll_n, now);
		time_t due = e->slots[i].due;

		if (rc < 0) {
			e->st.put_errors++;
			errors++;
			last_err = rc;
		}
		if (due != 0 && (due_min == 0 || due < due_min))
			due_min = due;
	}
	/* a walk of every slot knows the earliest due; the slice only
	 * lowers it */
	if (!quiet)
		e->due_min = due_min != 0 ? due_min : (time_t)INT64_MAX;
	else if (due_min != 0 && due_min < e->due_min)
		e->due_min = due_min;
	e->touches = kst_certstate_touches;
	e->quiet_since = now;
	e->roll = e->n_slots ? (e->roll + roll_n) % e->n_slots : 0;
	if (errors > 0 && !e->warned_full) {
		if (last_err == -E2BIG)
			kst_warn("metrics: %zu of %zu certificates not "
				 "exported: "
				 "the map holds %u (all are served)",
				 errors, e->n_slots,
				 (unsigned)KST_BPF_CERTS_MAX);
		else
			kst_warn("metrics: %zu of %zu certificates not "
				 "exported: %s",
				 errors, e->n_slots, strerror(-last_err));
		e->warned_full = true;
	}
	if (full) {
		e->last_full = now;
		e->full_pending = false;
	}
	if (e->m != NULL) {
		int rc = 0;

		export_global(e, g, workers, nworkers, stopped, now);
		if (moved) /* listeners count only where the workers' do */
			rc = kst_lstats_flush(e->m, now, NULL, NULL);
		if (rc < 0 && !e->warned_listeners) {
			kst_warn("metrics: not every listener exported to "
				 "%s: %s",
				 KST_BPF_LISTENERS_MAP, strerror(-rc));
			e->warned_listeners = true;
		}
	}
}

void kst_export_free(struct kst_export *e)
{
	free(e->slots);
	free(e->wsnap);
	e->slots = NULL;
	e->wsnap = NULL;
	e->n_slots = 0;
	e->n_wsnap = 0;
	e->gen = NULL;
}

void kst_export_prune(struct kst_export *e, struct kst_gen *g)
{
	struct kst_cert_key *keep;
	uint64_t sig = 0;
	size_t n = 0;
	int rc;

	if (e->m == NULL)
		return;
	keep = calloc(g->n_certs ? g->n_certs : 1, sizeof(*keep));
	if (keep == NULL)
		return;
	for (size_t i = 0; i < g->n_certs; i++) {
		if (g->certs[i] == NULL)
			continue;
		memcpy(keep[n++].sha256, g->certs[i]->sha256, 32);
		/* a sum: the same set in any order */
		sig += export_hash(g->certs[i]->sha256, 32);
	}
	/* the same certificates as the last prune left: nothing to delete
	 * (every key of the map walked, 100,000 system calls, issue 13) */
	if (!e->pruned || e->pruned_n != n || e->pruned_sig != sig) {
		rc = kst_metrics_cert_prune(e->m, keep, n);
		e->pruned = rc >= 0;
		e->pruned_n = n;
		e->pruned_sig = sig;
		/* room made: what the map refused is tried again */
		if (rc > 0)
			e->full_pending = true;
	}
	free(keep);
}
