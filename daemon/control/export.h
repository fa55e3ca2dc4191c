/* SPDX-License-Identifier: MIT */
/*
 * What the control thread exports to the pinned maps: per certificate,
 * the facts it holds (staple times, policy, fetch record) with the
 * workers' counters summed; per process, the workers' counters, reloads
 * and /proc/net/tls_stat. Called once a second and after every staple
 * event, so no map update ever happens on a worker.
 *
 * Cost: a flush writes only the certificates whose value changed since
 * they were last written, so an idle daemon makes no certificate map
 * update at all, and reads little. Each generation gets an index (built
 * once, O(N), with a hash set of the certificate states: a state served
 * by several certs of the generation is exported once, by the first). Per
 * certificate the index keeps a 64-bit signature of what was last written
 * (the facts with the staple state as of the flush, and the counters), the
 * state's change count (kst_certstate_touch, bumped by every writer of
 * what is exported) and when the clock alone changes the staple state
 * (a refresh comes due, nextUpdate passes). A flush reads a certificate's
 * facts only when it was touched, its time came, or in a rolling slice
 * (1/KST_EXPORT_ROLL_SECS of the certificates per flush, which catches a
 * change no writer announced); it sums the workers' counters only when
 * some worker counted anything since the previous flush or holds a
 * connection (its process counters moved, or active > 0). A certificate
 * whose signatures match is not written, a new generation's included
 * (what the previous index knew carries over by state and key; the facts
 * are read again). Every entry is rewritten at the last flush of a stop,
 * after a prune that made room, and every KST_EXPORT_FULL_SECS.
 *
 * So an entry's flushed_at (and secs_to_next_update, which is as of
 * flushed_at) is when it was last written, and the global entry's
 * flushed_at when the daemon last checked every entry; `kstapled status`
 * reads each entry as of the global flush (kst_status_read), which is
 * what a rewrite every second would have shown.
 */
#ifndef KST_EXPORT_H
#define KST_EXPORT_H

#include <stdint.h>
#include <time.h>

#include "daemon/datapath/gen.h"
#include "daemon/metrics/metrics.h"
#include "daemon/datapath/worker.h"

/* Every entry is rewritten at least this often (seconds): at 100,000
 * certificates a rewrite takes ~0.3 s of CPU. */
#define KST_EXPORT_FULL_SECS 300
/* Every certificate's facts are read at least this often (seconds), a
 * slice each flush, touched or not. */
#define KST_EXPORT_ROLL_SECS 60

struct kst_export_slot; /* export.c */

/* What flushes cost, counted for tests and benchmarks. */
struct kst_export_stats {
	uint64_t flushes;
	uint64_t index_builds; /* generations indexed */
	uint64_t index_probes; /* hash probes while indexing */
	uint64_t visits;       /* slots looked at (a word compared) */
	uint64_t facts_reads;  /* certificates whose facts were read */
	uint64_t counter_sums; /* certificates whose counters were summed */
	uint64_t cert_puts;    /* certificate map updates */
	uint64_t put_errors;
};

struct kst_export {
	struct kst_metrics *m; /* NULL: no BPF export (unless put is set) */
	time_t started_at;
	uint64_t reloads_ok, reloads_failed;
	/* Tests: writes certificate entries instead of the map (m unused
	 * for them); NULL: kst_metrics_cert_put on m. */
	int (*put)(void *ctx, const struct kst_cert_key *k,
		   const struct kst_cert_val *v);
	void *put_ctx;
	struct kst_export_stats st;
	/* the index of the generation last flushed (export.c) */
	const struct kst_gen *gen;
	unsigned gen_id;
	size_t gen_n;
	struct kst_export_slot *slots;
	size_t n_slots;
	time_t last_full;
	size_t roll; /* next slot of the rolling facts check */
	/* a flush with nothing touched since (kst_certstate_touches), no
	 * counter moved and nothing due before due_min (0: unknown) checks
	 * only the rolling slice */
	unsigned long touches;
	time_t due_min, quiet_since;
	bool full_pending;
	/* the set of keys the last successful prune kept: a count and a
	 * sum of their hashes */
	bool pruned;
	size_t pruned_n;
	uint64_t pruned_sig;
	bool warned_full;      /* the map refused an entry (logged once) */
	bool warned_listeners; /* kst_listeners_v2 refused one (once) */
	/* the workers' process counters at the previous flush */
	struct kst_proc_counters *wsnap;
	unsigned n_wsnap;
};

/* Write every certificate of g whose entry changed, and the global entry. */
void kst_export_flush(struct kst_export *e, struct kst_gen *g,
		      struct kst_worker *workers, unsigned nworkers,
		      time_t now);
/* The last flush of a clean stop: every entry is written, and the global
 * entry's workers is 0, which `kstapled status` reads as "stopped" (the
 * pins stay, so monitoring keeps the last values, marked). */
void kst_export_stop(struct kst_export *e, struct kst_gen *g,
		     struct kst_worker *workers, unsigned nworkers, time_t now);
/* Delete entries of certificates g does not serve (nothing to do when g
 * serves the same set as at the last prune). */
void kst_export_prune(struct kst_export *e, struct kst_gen *g);
/* Free the index (the maps are the caller's). */
void kst_export_free(struct kst_export *e);
/* The plain facts of one certificate (also used by logs and tests). */
void kst_export_cert_facts(const struct kst_cert *c, struct kst_cert_facts *f);

#endif
