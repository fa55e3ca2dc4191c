/* SPDX-License-Identifier: MIT */
/*
 * The ABI of kstapled's pinned BPF maps, shared by the BPF object
 * (bpf/kstapled.bpf.c, which gives the maps their BTF), the daemon (the only
 * writer, daemon/metrics/metrics.c) and every reader (`kstapled status`,
 * bpftool).
 *
 * Operators read these maps with `bpftool map dump pinned
 * /sys/fs/bpf/kstapled/kst_certs_v2`, which prints every field by its name
 * below, so names are chosen to read well there: a char array prints as a
 * string (the daemon stores printable ASCII only, or bpftool falls back to a
 * byte list), an enum field prints as its enumerator name, a nested struct
 * as an object of named fields, integers in decimal. The key (the SHA-256
 * of the leaf) prints as bytes; the value repeats it as the fingerprint
 * string `openssl x509 -fingerprint -sha256` prints (lower case), so an
 * entry is found with grep. Times are unix seconds (signed 64-bit, 0 =
 * none); counters only grow for the life of the process that flushes them.
 *
 * Layout rules: fixed-width types only, fields ordered so that there is no
 * implicit padding (asserted below), enums are 4 bytes. A layout change is a
 * new map name (_v3), never an edit of this one. History:
 *   v1  kst_certs_v1, kst_global_v1: fallback reasons as an unlabelled
 *       array, no fingerprint string, no resumption/ticket/rekey counters.
 *   v2  this header. A v2 daemon removes v1 pins from its pin directory at
 *       start (KST_BPF_OLD_PINS), so no reader takes a v1 daemon's last
 *       values for live ones.
 */
#ifndef KST_BPF_KSTAPLED_H
#define KST_BPF_KSTAPLED_H

#include <linux/types.h>

/* Pin names under bpf-pin-dir (bpffs refuses names with a dot). */
#define KST_BPF_CERTS_MAP     "kst_certs_v2"
#define KST_BPF_GLOBAL_MAP    "kst_global_v2"
#define KST_BPF_LISTENERS_MAP "kst_listeners_v2"
/* Pins of earlier layouts, removed from bpf-pin-dir at start. */
#define KST_BPF_OLD_PINS "kst_certs_v1", "kst_global_v1"
#define KST_BPF_PIN_DIR	 "/sys/fs/bpf/kstapled"
/*
 * Certificates one daemon exports; entries are allocated on demand (the
 * kernel sizes only its bucket array by this: 16 bytes a slot, 2 MiB).
 * Past it the daemon serves every certificate but exports the first
 * KST_BPF_CERTS_MAX (the map refuses the others with E2BIG: one warning,
 * retried at each full flush). A capacity change keeps the name: readers
 * do not depend on it, and the daemon replaces a pin of another capacity.
 */
#define KST_BPF_CERTS_MAX 131072
/* Listener names one daemon exports (kst_listeners_v2; past it a
 * listener counts only in kst_global_v2). */
#define KST_BPF_LISTENERS_MAX 1024
#define KST_BPF_NAME_LEN      64
#define KST_BPF_ERRNAME_LEN   16
/* "ab:cd:...": 32 bytes as lower-case hex pairs joined by ':', NUL */
#define KST_BPF_FP_LEN 96
/* Fields of struct kst_bpf_fallback (one __u64 each). */
#define KST_BPF_FALLBACK_SLOTS 10

/*
 * Codes of kst_cert_val.last_error (a plain u32, so that new codes need no
 * new layout):
 *     0        ok
 *     1..63    the OCSP ingest verdict (enum kst_ocsp_err,
 * daemon/ocsp/verdict.h: 1 empty, 2 too-large, 3 parse, 4 status, 5 signature,
 *              6 signer, 7 no-match, 8 ambiguous, 9 not-yet-valid,
 *              10 expired, 11 too-old, 12 bad-times, 13 revoked,
 *              14 unknown, 15 internal)
 *     64..127  fetch-level errors of the OCSP fetcher (connect, timeout,
 *              http, body, write, ...)
 *     128..    reserved
 * last_error_name holds the writer's token for the code, so a reader older
 * than the code still prints something meaningful.
 */
#define KST_BPF_ERR_FETCH_BASE 64
#define KST_BPF_ERR_RESERVED   128

/* Staple state, derived by daemon/metrics/metrics_state.c (rules there). */
enum kst_staple_state {
	KST_STAPLE_MISSING = 0, /* enabled, never had a valid staple */
	KST_STAPLE_FRESH = 1,
	KST_STAPLE_REFRESHING = 2,
	KST_STAPLE_STALE = 3,
	KST_STAPLE_EXPIRED = 4,
	KST_STAPLE_REVOKED = 5,
	KST_STAPLE_DISABLED = 6,
	KST_STAPLE__COUNT
};

/* Same values as enum kst_policy of the configuration. */
enum kst_bpf_policy {
	KST_BPF_POLICY_LENIENT = 0,
	KST_BPF_POLICY_STRICT = 1,
	KST_BPF_POLICY_MUST_STAPLE = 2,
	KST_BPF_POLICY__COUNT
};

/* kst_certs_v2 key: SHA-256 of the leaf certificate's DER. */
struct kst_cert_key {
	__u8 sha256[32];
};

/*
 * Connection directions left in userspace, by the kTLS module's reason
 * (enum kst_ktls_why, ktls/ktls.h: 1 disabled ... 9 openssl, in field
 * order); a code this layout does not name is counted in `other`.
 */
struct kst_bpf_fallback {
	__u64 disabled;	     /* not asked for (ktls = off) */
	__u64 no_kernel;     /* the kernel has no tls ULP */
	__u64 version;	     /* neither TLS 1.2 nor 1.3 */
	__u64 cipher;	     /* suite the kernel cannot run */
	__u64 pending;	     /* OpenSSL held buffered records */
	__u64 no_secret;     /* TLS 1.3 secret not captured */
	__u64 setsockopt;    /* TCP_ULP or SOL_TLS refused */
	__u64 not_installed; /* the kernel reports no keys */
	__u64 openssl;	     /* OpenSSL declined */
	__u64 other;
};

/* kst_certs_v2 value: one certificate, as of the last flush. */
struct kst_cert_val {
	char name[KST_BPF_NAME_LEN];	   /* config name or PEM basename */
	char subject_cn[KST_BPF_NAME_LEN]; /* "" when the subject has none */
	char sha256[KST_BPF_FP_LEN];	   /* the key, "ab:cd:..." */
	enum kst_staple_state state;
	enum kst_bpf_policy policy;
	__u32 must_staple;		  /* 1: RFC 7633 TLS feature */
	__u32 fetch_consecutive_failures; /* since the last success */
	__u32 last_http_status;		  /* of the last fetch, 0 = none */
	__u32 last_error;		  /* code of the last fetch/ingest */
	char last_error_name[KST_BPF_ERRNAME_LEN];
	__s64 not_after;
	/* the staple held now (0 when none) */
	__s64 this_update;
	__s64 next_update;
	__s64 produced_at;
	__s64 fetched_at; /* when that staple was fetched or loaded */
	/* the refresh schedule */
	__s64 last_fetch_at; /* last fetch attempt, whatever its outcome */
	__s64 next_refresh;
	__s64 secs_to_next_update; /* at flushed_at; 0 once expired */
	__s64 flushed_at;
	__u64 fetch_successes;
	__u64 fetch_failures;
	/* handshakes that selected this certificate */
	__u64 handshakes;
	__u64 hs_resumed; /* of those, resumed (full = handshakes - this) */
	__u64 staples_served;
	__u64 status_no_staple; /* status_request answered without one */
	__u64 tickets_issued;
	__u64 tickets_refused_unknown; /* key not (or no longer) listed */
	__u64 tickets_refused_expired; /* older than ticket-lifetime */
	/*
	 * Connections by data path. ktls_* count a direction run by the
	 * kernel (software or NIC), device_* the subset the NIC runs,
	 * userspace the connections relayed through userspace in at least
	 * one direction.
	 */
	__u64 conns_ktls_tx;
	__u64 conns_ktls_rx;
	__u64 conns_device_tx;
	__u64 conns_device_rx;
	__u64 conns_userspace;
	__u64 keyupdate_closes; /* TLS 1.3 KeyUpdate the kernel cannot take */
	/* TLS 1.3 KeyUpdate on kernels that rekey */
	__u64 keyupdate_rekeys_rx;    /* client keys installed */
	__u64 keyupdate_rekeys_tx;    /* ours sent, TX rekeyed */
	__u64 keyupdate_flood_closes; /* too many KeyUpdates: closed */
	__u64 bytes_ktls;	      /* relayed by splice() on kTLS sockets */
	__u64 bytes_userspace;
	struct kst_bpf_fallback ktls_fallback;
};

/* /proc/net/tls_stat at the last flush (per network namespace); counters
 * the kernel does not print (rekey: 6.14+) stay 0. */
struct kst_tls_stat_snap {
	__u64 curr_tx_sw;
	__u64 curr_rx_sw;
	__u64 curr_tx_device;
	__u64 curr_rx_device;
	__u64 tx_sw;
	__u64 rx_sw;
	__u64 tx_device;
	__u64 rx_device;
	__u64 decrypt_error;
	__u64 rx_device_resync;
	__u64 decrypt_retry;
	__u64 rx_no_pad_violation;
	__u64 rx_rekey_ok;
	__u64 rx_rekey_error;
	__u64 tx_rekey_ok;
	__u64 tx_rekey_error;
	__u64 rx_rekey_received;
};

/* kst_global_v2 value (key: __u32 0): the process. */
struct kst_global_val {
	__s64 started_at;
	__s64 flushed_at;
	__u32 pid;
	__u32 workers;
	__u32 certs;		/* certificates in the current generation */
	__u32 tls_stat_present; /* 0: the kernel has no kTLS */
	__u64 conns_accepted;
	__u64 conns_active;
	__u64 hs_fail_timeout;
	__u64 hs_fail_protocol; /* protocol error or alert */
	__u64 hs_fail_no_cert;	/* no certificate servable under its policy */
	__u64 hs_fail_other;
	__u64 backend_connect_failures;
	__u64 bytes_ktls;
	__u64 bytes_userspace;
	__u64 reloads_ok;
	__u64 reloads_failed;
	/*
	 * Handshakes completed and session tickets, over every listener and
	 * certificate for the life of the process (the per-certificate sums
	 * drop certificates a reload removed; these do not).
	 */
	__u64 handshakes;
	__u64 hs_resumed; /* of those, resumed (full = handshakes - this) */
	__u64 tickets_issued;
	__u64 tickets_refused_unknown; /* key not (or no longer) listed */
	__u64 tickets_refused_expired; /* older than ticket-lifetime */
	struct kst_tls_stat_snap tls_stat;
};

/* kst_listeners_v2 key: the listener's name, NUL-padded. */
struct kst_listener_key {
	char name[KST_BPF_NAME_LEN];
};

/*
 * kst_listeners_v2 value: one [listener:NAME] for the life of the process
 * (a reload that keeps the name keeps counting; one that drops it leaves
 * its last counts), as of the last flush.
 */
struct kst_listener_val {
	char name[KST_BPF_NAME_LEN]; /* the key again, as a string */
	__s64 flushed_at;
	__u64 handshakes;
	__u64 hs_resumed; /* of those, resumed (full = handshakes - this) */
	__u64 tickets_issued;
	__u64 tickets_refused_unknown; /* key not (or no longer) listed */
	__u64 tickets_refused_expired; /* older than ticket-lifetime */
};

#define KST_BPF_ASSERT_OFF(type, field, off)                     \
	_Static_assert(__builtin_offsetof(type, field) == (off), \
		       #type "." #field " moved")

_Static_assert(sizeof(enum kst_staple_state) == 4, "enum is 4 bytes");
_Static_assert(sizeof(enum kst_bpf_policy) == 4, "enum is 4 bytes");
_Static_assert(sizeof(struct kst_cert_key) == 32, "key is a SHA-256");
_Static_assert(sizeof(struct kst_bpf_fallback) == 8 * KST_BPF_FALLBACK_SLOTS,
	       "one __u64 per fallback slot");
_Static_assert(sizeof(struct kst_cert_val) == 576, "kst_cert_val size");
KST_BPF_ASSERT_OFF(struct kst_cert_val, sha256, 128);
KST_BPF_ASSERT_OFF(struct kst_cert_val, state, 224);
KST_BPF_ASSERT_OFF(struct kst_cert_val, last_error_name, 248);
KST_BPF_ASSERT_OFF(struct kst_cert_val, not_after, 264);
KST_BPF_ASSERT_OFF(struct kst_cert_val, flushed_at, 328);
KST_BPF_ASSERT_OFF(struct kst_cert_val, fetch_successes, 336);
KST_BPF_ASSERT_OFF(struct kst_cert_val, bytes_userspace, 488);
KST_BPF_ASSERT_OFF(struct kst_cert_val, ktls_fallback, 496);
_Static_assert(sizeof(struct kst_tls_stat_snap) == 136, "tls_stat size");
_Static_assert(sizeof(struct kst_global_val) == 296, "kst_global_val size");
KST_BPF_ASSERT_OFF(struct kst_global_val, pid, 16);
KST_BPF_ASSERT_OFF(struct kst_global_val, conns_accepted, 32);
KST_BPF_ASSERT_OFF(struct kst_global_val, reloads_failed, 112);
KST_BPF_ASSERT_OFF(struct kst_global_val, handshakes, 120);
KST_BPF_ASSERT_OFF(struct kst_global_val, tickets_refused_expired, 152);
KST_BPF_ASSERT_OFF(struct kst_global_val, tls_stat, 160);
_Static_assert(sizeof(struct kst_listener_key) == KST_BPF_NAME_LEN,
	       "listener key is the name");
_Static_assert(sizeof(struct kst_listener_val) == 112, "kst_listener_val size");
KST_BPF_ASSERT_OFF(struct kst_listener_val, flushed_at, 64);
KST_BPF_ASSERT_OFF(struct kst_listener_val, tickets_refused_expired, 104);

#endif
