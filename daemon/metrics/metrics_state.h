/* SPDX-License-Identifier: MIT */
/*
 * What the metrics maps say, decided from plain inputs: the staple state of a
 * certificate, the map values built from facts and counters, the sum of the
 * workers' counter blocks, and the names of the ABI's codes. Pure: time is a
 * parameter, nothing here does I/O, allocates or logs, so every rule is
 * tested with a table (tests/unit/test_metrics_state.c).
 * daemon/metrics/metrics.c writes what this builds; `kstapled status` reads it
 * back.
 *
 * Staple state rules, first match wins (now = the time passed in):
 *   disabled    stapling is off for this certificate, or it has neither an
 *               OCSP URL nor a staple file: nothing will ever be stapled,
 *               quietly (a normal case since CAs drop OCSP).
 *   revoked     the last response with a good signature said revoked.
 *   fresh       a valid staple (nextUpdate > now), no fetch failure since
 *               the last success, no fetch in flight, and now is before the
 *               next refresh (or none is scheduled).
 *   refreshing  a valid staple, no failure yet, and a refresh is due
 *               (now >= next refresh) or in flight.
 *   stale       a valid staple and at least one failed fetch since the last
 *               success: its refresh came due and failed. The backoff moves
 *               the next refresh forward after each failure, so failures,
 *               not the clock, mark it.
 *   expired     had a staple and none is valid now (nextUpdate <= now).
 *   missing     enabled and never had a valid staple.
 * A staple whose nextUpdate <= now is never fresh, refreshing or stale,
 * whatever the other flags say: nothing past nextUpdate is stapled.
 */
#ifndef KST_METRICS_STATE_H
#define KST_METRICS_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bpf/kstapled.h"

struct kst_staple_facts {
	bool enabled;	 /* stapling on for this certificate */
	bool has_source; /* an OCSP URL to fetch, or a staple file */
	bool has_staple; /* holds a staple that passed ingest */
	bool revoked;	 /* last good-signature response said revoked */
	bool ever_had;	 /* held a valid staple at some point */
	bool fetch_in_flight;
	/* of the staple held, or else of the last one held (so that an
	 * expired state still says since when); 0 = none */
	time_t this_update;
	time_t next_update;
	time_t next_refresh; /* 0 = none scheduled */
	uint32_t consecutive_failures;
};

enum kst_staple_state kst_metrics_staple_state(const struct kst_staple_facts *f,
					       time_t now);
/*
 * The state of a flushed value as of now: a staple that was fresh,
 * refreshing or stale at the flush but whose nextUpdate has passed since is
 * expired (the daemon may have stopped flushing). Other states stand.
 */
enum kst_staple_state kst_metrics_state_at(const struct kst_cert_val *v,
					   time_t now);
/* max(0, next_update - now); 0 when there is no staple. */
int64_t kst_metrics_secs_to_next_update(time_t next_update, time_t now);

/*
 * What a worker counts for one certificate, in its own memory. The control
 * thread sums the workers' blocks (kst_metrics_sum) and flushes the sum.
 * Workers add with plain or relaxed-atomic increments of whole 64-bit words;
 * the sum reads each word once with a relaxed atomic load, so it may run
 * while workers count (a sum is then a few events behind, never torn).
 */
struct kst_conn_counters {
	uint64_t handshakes;
	uint64_t staples_served;
	uint64_t status_no_staple;
	uint64_t ktls_tx;
	uint64_t ktls_rx;
	uint64_t device_tx;
	uint64_t device_rx;
	uint64_t userspace;
	/* by reason: index with kst_metrics_fallback_slot() */
	uint64_t ktls_fallback[KST_BPF_FALLBACK_SLOTS];
	uint64_t keyupdate_closes;
	uint64_t bytes_ktls;
	uint64_t bytes_userspace;
	/* full handshakes are handshakes - hs_resumed */
	uint64_t hs_resumed;
	uint64_t tickets_issued;
	uint64_t tickets_refused_unknown; /* key not (or no longer) listed */
	uint64_t tickets_refused_expired; /* older than ticket-lifetime */
	/* TLS 1.3 KeyUpdate on kTLS connections (kernels that rekey) */
	uint64_t keyupdate_rekeys_rx; /* client keys installed in the kernel */
	uint64_t keyupdate_rekeys_tx; /* our KeyUpdates sent + TX rekeyed */
	uint64_t keyupdate_flood_closes;
};

/* What a worker counts for the whole process (same rules as above). */
struct kst_proc_counters {
	uint64_t accepted;
	uint64_t active; /* accepted minus closed, per worker */
	uint64_t hs_fail_timeout;
	uint64_t hs_fail_protocol;
	uint64_t hs_fail_no_cert;
	uint64_t hs_fail_other;
	uint64_t backend_connect_failures;
	uint64_t bytes_ktls;
	uint64_t bytes_userspace;
	/* completed handshakes and tickets, whatever the certificate */
	uint64_t handshakes;
	uint64_t hs_resumed;
	uint64_t tickets_issued;
	uint64_t tickets_refused_unknown;
	uint64_t tickets_refused_expired;
};

/*
 * What a worker counts for one listener (daemon/metrics/lstats.h), same rules
 * as above; one cache line, so that workers' blocks side by side do not share
 * one.
 */
struct kst_hs_counters {
	uint64_t handshakes;
	uint64_t hs_resumed;
	uint64_t tickets_issued;
	uint64_t tickets_refused_unknown;
	uint64_t tickets_refused_expired;
} __attribute__((aligned(64)));

void kst_metrics_sum_hs(struct kst_hs_counters *dst,
			const struct kst_hs_counters *src);
/* The kst_listeners_v2 key and value of listener name (same string rules
 * as kst_metrics_cert_build). */
void kst_metrics_listener_build(struct kst_listener_key *k,
				struct kst_listener_val *out, const char *name,
				const struct kst_hs_counters *c, time_t now);

void kst_metrics_sum(struct kst_conn_counters *dst,
		     const struct kst_conn_counters *src);
void kst_metrics_sum_proc(struct kst_proc_counters *dst,
			  const struct kst_proc_counters *src);

/* The ktls_fallback slot for a kTLS reason code: the fields of struct
 * kst_bpf_fallback in order from code 1; the last slot (`other`) collects
 * codes it does not name (and 0, which is never a fallback). */
static inline unsigned kst_metrics_fallback_slot(unsigned why)
{
	return why >= 1 && why < KST_BPF_FALLBACK_SLOTS
		       ? why - 1
		       : KST_BPF_FALLBACK_SLOTS - 1;
}

/* Plain facts about one certificate (strings borrowed, NULL = ""). */
struct kst_cert_facts {
	const unsigned char *sha256; /* [32] of the leaf; NULL = "" */
	const char *name;	     /* config name or PEM basename */
	const char *subject_cn;
	time_t not_after;
	enum kst_bpf_policy policy;
	bool must_staple;
	struct kst_staple_facts staple;
	time_t produced_at;   /* of the staple in kst_staple_facts */
	time_t fetched_at;    /* when that staple was fetched or loaded */
	time_t last_fetch_at; /* last attempt */
	uint64_t fetch_successes;
	uint64_t fetch_failures;
	uint32_t last_http_status;
	uint32_t last_error;	     /* code, see bpf/kstapled.h */
	const char *last_error_name; /* NULL: kst_metrics_err_name() */
};

/*
 * The kst_certs_v2 value for a certificate as of now (the flush time). The
 * whole value is written (no stale bytes); strings are truncated to their
 * field and every byte outside printable ASCII becomes '?', so that bpftool
 * prints them as strings and no reader needs to sanitise them.
 */
void kst_metrics_cert_build(struct kst_cert_val *out,
			    const struct kst_cert_facts *f,
			    const struct kst_conn_counters *c, time_t now);

struct kst_global_facts {
	time_t started_at;
	uint32_t pid;
	uint32_t workers;
	uint32_t certs;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	bool tls_stat_present; /* /proc/net/tls_stat was readable */
	struct kst_tls_stat_snap tls_stat;
};

void kst_metrics_global_build(struct kst_global_val *out,
			      const struct kst_global_facts *f,
			      const struct kst_proc_counters *c, time_t now);

/* Short stable tokens; NULL for a code without one. */
const char *kst_metrics_state_name(enum kst_staple_state s); /* "fresh" */
const char *kst_metrics_policy_name(enum kst_bpf_policy p);  /* "lenient" */
const char *kst_metrics_err_name(uint32_t code);	     /* "signature" */
const char *kst_metrics_fallback_name(unsigned why);	     /* "no-kernel" */
/* The token of a ktls_fallback slot ("no-kernel", ..., "other"). */
const char *kst_metrics_fallback_slot_name(unsigned slot);
/* "ab:cd:..." (lower case) of a SHA-256 into buf[KST_BPF_FP_LEN]. */
void kst_metrics_fingerprint(char *buf, const unsigned char sha256[32]);

#endif
