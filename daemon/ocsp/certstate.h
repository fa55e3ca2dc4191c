/* SPDX-License-Identifier: MIT */
/*
 * The staple store.
 *
 * A staple is an immutable, reference-counted DER OCSP response that passed
 * ingest (verdict.c). Each certificate (identified by the SHA-256 of its
 * leaf) has one kst_certstate, shared by every generation that serves that
 * leaf, holding the current staple in a slot, the policy flags workers read
 * in the handshake, per-worker counters, and the control thread's record of
 * what happened to it (last verdict, revocation, fetch state).
 *
 * Threads: See doc/threads.md (the slot mutex, the counters).
 */
#ifndef KST_STAPLE_H
#define KST_STAPLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "daemon/metrics/metrics_state.h"
#include "daemon/ocsp/verdict.h"
#include "daemon/base/util.h"

enum kst_staple_source {
	KST_STAPLE_SRC_FILE, /* operator's staple file */
	/* fetched: from a responder, or its copy persisted in state-dir */
	KST_STAPLE_SRC_FETCHED,
};

struct kst_staple {
	atomic_uint refs;
	time_t this_update, next_update, produced_at;
	time_t loaded_at;
	enum kst_staple_source source;
	size_t len;
	unsigned char der[];
};

/* One worker's counters for one certificate, on its own cache line. */
struct kst_cs_counters {
	struct kst_conn_counters c;
} __attribute__((aligned(KST_CACHELINE)));

#define KST_CS_REVOKED 0x1 /* a verified response said revoked */
#define KST_CS_EXPIRED 0x2 /* the staple passed nextUpdate, none since */

/* What the control thread knows of a certificate's OCSP life. */
struct kst_cert_ocsp {
	enum kst_ocsp_err last_err;   /* of the last ingest */
	enum kst_ocsp_err logged_err; /* last reason logged (log once) */
	time_t last_ingest;
	/* the revocation held (kst_ocsp_choose): sticky, persisted */
	bool revoked;
	time_t revoked_at;
	int revocation_reason;
	time_t revoked_this_update; /* thisUpdate of the revoked response */
	char *rev_path;	    /* state-dir record; NULL: not persisted (-t) */
	bool rev_dirty;	    /* the record on disk differs from memory */
	bool rev_on_disk;   /* the record was written or read there */
	int rev_logged_err; /* last save error logged (log once) */
	/* the fetched staple's copy in state-dir (staplefile.h) */
	char *state_path;	 /* NULL: not persisted (-t, tests) */
	bool state_dirty;	 /* the staple served is not on disk yet */
	int state_logged_err;	 /* last write error logged (log once) */
	const char *ingest_path; /* file being ingested, for its log line */
	bool ever_had;
	time_t last_this_update, last_next_update; /* of the last staple */
	time_t last_produced_at, last_loaded_at;
	/* fetching (see fetch glue in control): outcomes of every attempt */
	bool fetch_in_flight;
	uint64_t fetch_successes, fetch_failures;
	uint32_t consecutive_failures;
	uint32_t last_http_status;
	uint32_t last_fetch_error; /* 0, an ingest code, or a fetch code */
	char last_fetch_error_name[16];
	uint32_t logged_fetch_error; /* last failure logged (log once) */
	time_t last_fetch_at;	     /* last attempt finished */
	time_t fetched_at;	     /* when the staple held was fetched */
	time_t next_refresh;	     /* 0: none scheduled */
	bool no_url_logged;
	/* source files as last seen, to notice changes by stat */
	struct {
		long long mtime_ns, size, ino;
	} seen[2];
};

struct kst_certstate {
	atomic_uint refs;
	unsigned char sha256[32];
	char name[64]; /* for logs: the configuration's name of the cert */
	pthread_mutex_t lock;
	struct kst_staple *cur; /* under lock */
	atomic_int flags;	/* KST_CS_* */
	/* control thread: bumped by every change of what the metrics export
	 * reads (cur, ocsp), with kst_certstate_touch; see export.h */
	unsigned changes;
	unsigned nworkers;
	/* [nworkers + 1], allocated at the first count (kst_certstate_
	 * counting); NULL until then. Read and set with __atomic_*. */
	struct kst_cs_counters *counters;
	X509 *leaf, *issuer;	     /* references, for ingest */
	struct kst_cert_ocsp ocsp;   /* control thread only */
	void *fetch;		     /* fetcher's per-cert state */
	struct kst_certstate *hnext; /* registry chain */
};

/* Touches of every state: export.c skips its walk while this stands. */
extern unsigned long kst_certstate_touches;

/* A change the metrics export must write at its next flush (export.h):
 * control thread, with or before every change of cur or ocsp. */

static inline void kst_certstate_touch(struct kst_certstate *cs)
{
	cs->changes++;
	kst_certstate_touches++;
}

/* ---- staples */
struct kst_staple *kst_staple_new(const unsigned char *der, size_t len,
				  const struct kst_ocsp_verdict *v,
				  enum kst_staple_source src, time_t now);
void kst_staple_get(struct kst_staple *s);
void kst_staple_put(struct kst_staple *s);

/* ---- the slot (any thread) */
/* The current staple if its nextUpdate is after now, with a reference. */
struct kst_staple *kst_certstate_staple_get1(struct kst_certstate *cs,
					     time_t now);
/* Whether policy allows serving this certificate now. */
bool kst_certstate_servable(struct kst_certstate *cs, int policy, time_t now);

/* ---- control thread */
/* Replace the slot's staple (takes ownership of s; NULL empties it). */
void kst_certstate_staple_set0(struct kst_certstate *cs, struct kst_staple *s);
/*
 * The one ingest path into a slot: runs kst_ocsp_ingest on der for this
 * certificate, then kst_ocsp_choose: a good response newer than (or as new
 * as) the current one replaces it; a verified revoked response empties the
 * slot and holds the certificate revoked (logged at crit, written to the
 * record at ocsp.rev_path) until a good response with a later thisUpdate
 * lifts it; any other verdict keeps the current staple, and its reason is
 * logged once. Returns the verdict's error.
 */
struct kst_config;
/* The OCSP checks' parameters a configuration sets ([ocsp]). */
void kst_staple_params(const struct kst_config *conf,
		       struct kst_ocsp_params *p);
enum kst_ocsp_err kst_certstate_ingest(struct kst_certstate *cs,
				       const unsigned char *der, size_t len,
				       enum kst_staple_source src, time_t now,
				       const struct kst_ocsp_params *p,
				       struct kst_ocsp_verdict *v);
/*
 * The same with v already computed by kst_ocsp_ingest(der, len, cs->leaf,
 * cs->issuer, now, p, v), on any thread (it reads no state): what a
 * start or reload verifies on every core (staplefile.c) and then applies
 * here, in order, on the control thread.
 */
enum kst_ocsp_err kst_certstate_apply(struct kst_certstate *cs,
				      const unsigned char *der, size_t len,
				      enum kst_staple_source src, time_t now,
				      struct kst_ocsp_verdict *v);
/*
 * Hold a revocation read from the state-dir record at start or reload, if
 * it is newer than the one held (the slot is emptied); src_path names the
 * record in the log.
 */
void kst_certstate_hold_revocation(struct kst_certstate *cs,
				   const struct kst_ocsp_revocation *r,
				   const char *src_path);
/* Forget the revocation (the operator deleted the record). */
void kst_certstate_forget_revocation(struct kst_certstate *cs);
/*
 * A revocation record or fetched staple could not be written (control
 * thread only): kst_staplefile_retry walks the certificates again while
 * this is set, and clears it first.
 */
extern bool kst_certstate_writes_owed;
/*
 * Bring the record at ocsp.rev_path in line with memory (write, fsync,
 * rename; or unlink when no longer revoked); clears rev_dirty on success.
 * 0 or -errno (logged).
 */
int kst_certstate_save_revocation(struct kst_certstate *cs);
/* Counts every change of any slot (control thread): what was computed
 * from the slots holds while it stays the same. */
unsigned long kst_certstate_epoch(void);
/* Drop the staple if its nextUpdate has passed; true if it did. */
bool kst_certstate_expire(struct kst_certstate *cs, time_t now);
/* Sum of the workers' counters. */
void kst_certstate_counters(struct kst_certstate *cs,
			    struct kst_conn_counters *sum);

/* ---- the registry of certstates, by leaf SHA-256 (control thread) */
/* 4,096 chains: a few states each at 100,000 certificates */
#define KST_REGISTRY_BUCKETS 4096
struct kst_registry {
	struct kst_certstate *buckets[KST_REGISTRY_BUCKETS];
	unsigned nworkers;
	size_t count;
};

void kst_registry_init(struct kst_registry *r, unsigned nworkers);
/* The state for this leaf, created on first use; returns a new reference. */
struct kst_certstate *kst_registry_get1(struct kst_registry *r, X509 *leaf,
					X509 *issuer,
					const unsigned char sha256[32],
					const char *name);
/* Another reference to a state already registered. */
void kst_certstate_get(struct kst_certstate *cs);
/* Drop a reference; the last one unlinks and frees the state. */
void kst_registry_put(struct kst_registry *r, struct kst_certstate *cs);
/* Visit every state (control thread). */
void kst_registry_each(struct kst_registry *r,
		       void (*fn)(struct kst_certstate *cs, void *arg),
		       void *arg);

/*
 * Worker w's counters of cs. They are allocated at the first count, so a
 * certificate no client has asked for costs no counters: 768 of 1,432
 * bytes per certificate with two workers, and most of 100,000 are idle
 * (issue 13). Without memory, counts go to a per-thread block nobody reads.
 */
struct kst_conn_counters *kst_certstate_counting_new(struct kst_certstate *cs,
						     unsigned w);

static inline struct kst_conn_counters *
kst_certstate_counting(struct kst_certstate *cs, unsigned w)
{
	struct kst_cs_counters *a =
		__atomic_load_n(&cs->counters, __ATOMIC_ACQUIRE);

	return a != NULL ? &a[w].c : kst_certstate_counting_new(cs, w);
}

/* Counting from a worker: single writer, relaxed. */
#define KST_COUNT(field)                                                  \
	__atomic_store_n(&(field),                                        \
			 __atomic_load_n(&(field), __ATOMIC_RELAXED) + 1, \
			 __ATOMIC_RELAXED)
#define KST_COUNT_ADD(field, n)                                             \
	__atomic_store_n(&(field),                                          \
			 __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)

#endif
