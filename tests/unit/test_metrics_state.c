// SPDX-License-Identifier: MIT
/*
 * metrics_state: the staple state rules as a table, the transitions a
 * certificate goes through as time passes, the map values built from
 * facts, the sums of worker counters, and the code names the ABI shares
 * with the OCSP and kTLS modules. Time is always a parameter.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stddef.h>
#include <string.h>

#include "daemon/metrics/metrics_state.h"
#include "daemon/base/util.h"

#if __has_include("daemon/ocsp/verdict.h")
#include "daemon/ocsp/verdict.h"
#define HAVE_OCSP_STORE 1
#endif
#if __has_include("ktls/ktls.h")
#include "ktls/ktls.h"
#define HAVE_KTLS 1
#endif
#if __has_include("daemon/config/config.h")
#include "daemon/config/config.h"
#define HAVE_CONFIG 1
#endif

#define T0 1700000000	    /* thisUpdate of the staple in the table */
#define NU (T0 + 7 * 86400) /* its nextUpdate */
#define NR (T0 + 3 * 86400) /* its next refresh */

struct state_case {
	char what[64]; /* no pointers: criterion re-executes the binary */
	struct kst_staple_facts f;
	time_t now;
	enum kst_staple_state want;
};

/* Cases start from HELD and override a field or two: that is the point. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* A valid staple held, refresh scheduled half-way, nothing failed. */
#define HELD                                                     \
	.enabled = true, .has_source = true, .has_staple = true, \
	.ever_had = true, .this_update = T0, .next_update = NU,  \
	.next_refresh = NR

/* clang-format off */
static struct state_case state_cases[] = {
	{ "fresh before the refresh", { HELD }, T0 + 3600, KST_STAPLE_FRESH },
	{ "fresh a second before the refresh", { HELD }, NR - 1,
	  KST_STAPLE_FRESH },
	{ "fresh when no refresh is scheduled",
	  { HELD, .next_refresh = 0 }, NU - 1, KST_STAPLE_FRESH },
	{ "refreshing at exactly the refresh time", { HELD }, NR,
	  KST_STAPLE_REFRESHING },
	{ "refreshing when a fetch is in flight before it is due",
	  { HELD, .fetch_in_flight = true }, T0 + 60, KST_STAPLE_REFRESHING },
	{ "stale after a failed refresh, retry scheduled later",
	  { HELD, .consecutive_failures = 1, .next_refresh = NR + 600 },
	  NR + 1, KST_STAPLE_STALE },
	{ "stale when the retry is due too",
	  { HELD, .consecutive_failures = 3 }, NR + 3600, KST_STAPLE_STALE },
	{ "stale one second before nextUpdate",
	  { HELD, .consecutive_failures = 9 }, NU - 1, KST_STAPLE_STALE },
	{ "expired at exactly nextUpdate", { HELD }, NU, KST_STAPLE_EXPIRED },
	{ "never fresh past nextUpdate whatever the flags",
	  { HELD, .next_refresh = NU + 86400 }, NU + 1, KST_STAPLE_EXPIRED },
	{ "expired past nextUpdate with failures",
	  { HELD, .consecutive_failures = 2, .fetch_in_flight = true },
	  NU + 5, KST_STAPLE_EXPIRED },
	{ "expired after the daemon dropped the staple",
	  { HELD, .has_staple = false }, NU + 60, KST_STAPLE_EXPIRED },
	{ "missing when never had one",
	  { .enabled = true, .has_source = true, .next_refresh = T0 }, T0,
	  KST_STAPLE_MISSING },
	{ "missing while the first fetch is in flight",
	  { .enabled = true, .has_source = true, .fetch_in_flight = true },
	  T0, KST_STAPLE_MISSING },
	{ "missing after failed first fetches",
	  { .enabled = true, .has_source = true, .consecutive_failures = 4 },
	  T0, KST_STAPLE_MISSING },
	{ "revoked wins over a valid staple", { HELD, .revoked = true },
	  T0 + 60, KST_STAPLE_REVOKED },
	{ "revoked without any staple",
	  { .enabled = true, .has_source = true, .revoked = true }, T0,
	  KST_STAPLE_REVOKED },
	{ "disabled when stapling is off, even with a staple",
	  { HELD, .enabled = false }, T0 + 60, KST_STAPLE_DISABLED },
	{ "disabled without OCSP URL or staple file",
	  { .enabled = true, .has_source = false }, T0, KST_STAPLE_DISABLED },
	{ "disabled wins over revoked",
	  { HELD, .enabled = false, .revoked = true }, T0,
	  KST_STAPLE_DISABLED },
};
/* clang-format on */

ParameterizedTestParameters(metrics_state, derives_state_by_the_rules)
{
	return cr_make_param_array(struct state_case, state_cases,
				   KST_ARRAY_SIZE(state_cases));
}

ParameterizedTest(struct state_case *c, metrics_state,
		  derives_state_by_the_rules)
{
	enum kst_staple_state got = kst_metrics_staple_state(&c->f, c->now);

	cr_assert_eq(got, c->want, "%s: got %s, want %s", c->what,
		     kst_metrics_state_name(got),
		     kst_metrics_state_name(c->want));
}

/* The life of one certificate, the way the control thread sees it. */
Test(metrics_state, goes_fresh_refreshing_stale_expired_and_back_to_fresh)
{
	struct kst_staple_facts f = {HELD};

	cr_assert_eq(kst_metrics_staple_state(&f, T0 + 10), KST_STAPLE_FRESH);
	f.fetch_in_flight = true;
	cr_assert_eq(kst_metrics_staple_state(&f, NR), KST_STAPLE_REFRESHING);
	f.fetch_in_flight = false;
	f.consecutive_failures = 1;
	f.next_refresh = NR + 300; /* backoff */
	cr_assert_eq(kst_metrics_staple_state(&f, NR + 1), KST_STAPLE_STALE);
	cr_assert_eq(kst_metrics_staple_state(&f, NU - 1), KST_STAPLE_STALE);
	cr_assert_eq(kst_metrics_staple_state(&f, NU), KST_STAPLE_EXPIRED);
	f.has_staple = false; /* the daemon drops it */
	cr_assert_eq(kst_metrics_staple_state(&f, NU + 1), KST_STAPLE_EXPIRED);
	/* a new response arrives */
	f.has_staple = true;
	f.consecutive_failures = 0;
	f.this_update = NU + 10;
	f.next_update = NU + 10 + 7 * 86400;
	f.next_refresh = NU + 10 + 3 * 86400;
	cr_assert_eq(kst_metrics_staple_state(&f, NU + 20), KST_STAPLE_FRESH);
}

Test(metrics_state, flushed_state_turns_expired_once_next_update_passes)
{
	static const enum kst_staple_state live[] = {
		KST_STAPLE_FRESH, KST_STAPLE_REFRESHING, KST_STAPLE_STALE};
	struct kst_cert_val v = {.next_update = NU};

	for (size_t i = 0; i < KST_ARRAY_SIZE(live); i++) {
		v.state = live[i];
		cr_assert_eq(kst_metrics_state_at(&v, NU - 1), live[i]);
		cr_assert_eq(kst_metrics_state_at(&v, NU), KST_STAPLE_EXPIRED);
	}
	v.state = KST_STAPLE_REVOKED;
	cr_assert_eq(kst_metrics_state_at(&v, NU + 1), KST_STAPLE_REVOKED);
	v.state = KST_STAPLE_DISABLED;
	cr_assert_eq(kst_metrics_state_at(&v, NU + 1), KST_STAPLE_DISABLED);
	v.state = KST_STAPLE_FRESH;
	v.next_update = 0; /* no bound known */
	cr_assert_eq(kst_metrics_state_at(&v, NU + 1), KST_STAPLE_FRESH);
}

Test(metrics_state, seconds_to_next_update_is_never_negative)
{
	cr_assert_eq(kst_metrics_secs_to_next_update(NU, NU - 90), 90);
	cr_assert_eq(kst_metrics_secs_to_next_update(NU, NU - 1), 1);
	cr_assert_eq(kst_metrics_secs_to_next_update(NU, NU), 0);
	cr_assert_eq(kst_metrics_secs_to_next_update(NU, NU + 86400), 0);
	cr_assert_eq(kst_metrics_secs_to_next_update(0, NU), 0);
}

static struct kst_conn_counters counters_sample(void)
{
	struct kst_conn_counters c = {
		.handshakes = 123,
		.staples_served = 120,
		.status_no_staple = 3,
		.ktls_tx = 119,
		.ktls_rx = 118,
		.device_tx = 7,
		.device_rx = 6,
		.userspace = 5,
		.keyupdate_closes = 2,
		.bytes_ktls = 1 << 20,
		.bytes_userspace = 4096,
		.hs_resumed = 40,
		.tickets_issued = 80,
		.tickets_refused_unknown = 9,
		.tickets_refused_expired = 8,
		.keyupdate_rekeys_rx = 12,
		.keyupdate_rekeys_tx = 11,
		.keyupdate_flood_closes = 1,
	};

	c.ktls_fallback[kst_metrics_fallback_slot(2)] = 4; /* no-kernel */
	c.ktls_fallback[kst_metrics_fallback_slot(4)] = 1; /* cipher */
	c.ktls_fallback[kst_metrics_fallback_slot(77)] = 2;
	return c;
}

Test(metrics_state, builds_cert_value_from_facts_and_counters)
{
	struct kst_conn_counters c = counters_sample();
	unsigned char sha[32];
	struct kst_cert_facts f = {
		.sha256 = sha,
		.name = "example.com.ecdsa",
		.subject_cn = "example.com",
		.not_after = T0 + 90 * 86400,
		.policy = KST_BPF_POLICY_STRICT,
		.must_staple = true,
		.staple = {HELD, .consecutive_failures = 2},
		.produced_at = T0 - 5,
		.fetched_at = T0 + 1,
		.last_fetch_at = NR + 30,
		.fetch_successes = 10,
		.fetch_failures = 2,
		.last_http_status = 503,
		.last_error = KST_BPF_ERR_FETCH_BASE + 2,
		.last_error_name = "http",
	};
	struct kst_cert_val v;

	for (size_t i = 0; i < sizeof(sha); i++)
		sha[i] = (unsigned char)(i * 17);
	memset(&v, 0xa5, sizeof(v));
	kst_metrics_cert_build(&v, &f, &c, NR + 60);
	cr_assert_str_eq(v.name, "example.com.ecdsa");
	cr_assert_str_eq(v.sha256, "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:"
				   "ee:ff:10:21:32:43:54:65:76:87:98:a9:ba:cb:"
				   "dc:ed:fe:0f");
	cr_assert_eq(v.sha256[sizeof(v.sha256) - 1], 0, "padded with NULs");
	cr_assert_str_eq(v.subject_cn, "example.com");
	cr_assert_eq(v.name[sizeof(v.name) - 1], 0, "padded with NULs");
	cr_assert_eq(v.state, KST_STAPLE_STALE);
	cr_assert_eq(v.policy, KST_BPF_POLICY_STRICT);
	cr_assert_eq(v.must_staple, 1);
	cr_assert_eq(v.fetch_consecutive_failures, 2);
	cr_assert_eq(v.last_http_status, 503);
	cr_assert_eq(v.last_error, 66);
	cr_assert_str_eq(v.last_error_name, "http");
	cr_assert_eq(v.not_after, T0 + 90 * 86400);
	cr_assert_eq(v.this_update, T0);
	cr_assert_eq(v.next_update, NU);
	cr_assert_eq(v.produced_at, T0 - 5);
	cr_assert_eq(v.fetched_at, T0 + 1);
	cr_assert_eq(v.last_fetch_at, NR + 30);
	cr_assert_eq(v.next_refresh, NR);
	cr_assert_eq(v.secs_to_next_update, NU - (NR + 60));
	cr_assert_eq(v.flushed_at, NR + 60);
	cr_assert_eq(v.fetch_successes, 10);
	cr_assert_eq(v.fetch_failures, 2);
	cr_assert_eq(v.handshakes, 123);
	cr_assert_eq(v.staples_served, 120);
	cr_assert_eq(v.status_no_staple, 3);
	cr_assert_eq(v.conns_ktls_tx, 119);
	cr_assert_eq(v.conns_ktls_rx, 118);
	cr_assert_eq(v.conns_device_tx, 7);
	cr_assert_eq(v.conns_device_rx, 6);
	cr_assert_eq(v.conns_userspace, 5);
	cr_assert_eq(v.keyupdate_closes, 2);
	cr_assert_eq(v.bytes_ktls, 1 << 20);
	cr_assert_eq(v.bytes_userspace, 4096);
	cr_assert_eq(v.hs_resumed, 40);
	cr_assert_eq(v.tickets_issued, 80);
	cr_assert_eq(v.tickets_refused_unknown, 9);
	cr_assert_eq(v.tickets_refused_expired, 8);
	cr_assert_eq(v.keyupdate_rekeys_rx, 12);
	cr_assert_eq(v.keyupdate_rekeys_tx, 11);
	cr_assert_eq(v.keyupdate_flood_closes, 1);
	/* the fallbacks land in their named fields */
	cr_assert_eq(v.ktls_fallback.no_kernel, 4);
	cr_assert_eq(v.ktls_fallback.cipher, 1);
	cr_assert_eq(v.ktls_fallback.other, 2, "a code it does not name");
	cr_assert_eq(
		v.ktls_fallback.disabled + v.ktls_fallback.version +
			v.ktls_fallback.pending + v.ktls_fallback.no_secret +
			v.ktls_fallback.setsockopt +
			v.ktls_fallback.not_installed + v.ktls_fallback.openssl,
		0);
}

Test(metrics_state, a_value_without_a_key_has_an_empty_fingerprint)
{
	struct kst_conn_counters c = {0};
	struct kst_cert_facts f = {.name = "x"};
	struct kst_cert_val v;

	memset(&v, 0xa5, sizeof(v));
	kst_metrics_cert_build(&v, &f, &c, T0);
	cr_assert_str_eq(v.sha256, "");
}

Test(metrics_state, clamps_seconds_to_zero_in_an_expired_value)
{
	struct kst_conn_counters c = {0};
	struct kst_cert_facts f = {.name = "x", .staple = {HELD}};
	struct kst_cert_val v;

	kst_metrics_cert_build(&v, &f, &c, NU + 3600);
	cr_assert_eq(v.state, KST_STAPLE_EXPIRED);
	cr_assert_eq(v.secs_to_next_update, 0);
	cr_assert_eq(v.next_update, NU, "still says since when");
}

Test(metrics_state, stores_names_as_printable_ascii_truncated_to_the_field)
{
	char longname[200];
	struct kst_conn_counters c = {0};
	struct kst_cert_facts f = {.name = longname,
				   .subject_cn = "caf\xc3\xa9\n\"x\""};
	struct kst_cert_val v;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	kst_metrics_cert_build(&v, &f, &c, T0);
	cr_assert_eq(strlen(v.name), sizeof(v.name) - 1);
	cr_assert_str_eq(v.subject_cn, "caf???\"x\"");
}

Test(metrics_state, names_last_error_from_the_code_when_not_given)
{
	struct kst_conn_counters c = {0};
	struct kst_cert_facts f = {.name = "x", .last_error = 5};
	struct kst_cert_val v;

	kst_metrics_cert_build(&v, &f, &c, T0);
	cr_assert_str_eq(v.last_error_name, "signature");
	f.last_error = 0;
	kst_metrics_cert_build(&v, &f, &c, T0);
	cr_assert_str_eq(v.last_error_name, "ok");
	f.last_error = 99; /* a fetch code this build cannot name */
	kst_metrics_cert_build(&v, &f, &c, T0);
	cr_assert_str_eq(v.last_error_name, "");
}

Test(metrics_state, builds_global_value_and_keeps_tls_stat_only_when_read)
{
	struct kst_proc_counters c = {
		.accepted = 1000,
		.active = 12,
		.hs_fail_timeout = 1,
		.hs_fail_protocol = 2,
		.hs_fail_no_cert = 3,
		.hs_fail_other = 4,
		.backend_connect_failures = 5,
		.bytes_ktls = 6,
		.bytes_userspace = 7,
		.handshakes = 40,
		.hs_resumed = 41,
		.tickets_issued = 42,
		.tickets_refused_unknown = 43,
		.tickets_refused_expired = 44,
	};
	struct kst_global_facts f = {
		.started_at = T0,
		.pid = 4321,
		.workers = 2,
		.certs = 3,
		.reloads_ok = 8,
		.reloads_failed = 9,
		.tls_stat = {.curr_tx_sw = 11, .tx_sw = 22, .rx_rekey_ok = 33},
	};
	struct kst_global_val g;

	memset(&g, 0xa5, sizeof(g));
	kst_metrics_global_build(&g, &f, &c, T0 + 50);
	cr_assert_eq(g.started_at, T0);
	cr_assert_eq(g.flushed_at, T0 + 50);
	cr_assert_eq(g.pid, 4321);
	cr_assert_eq(g.workers, 2);
	cr_assert_eq(g.certs, 3);
	cr_assert_eq(g.conns_accepted, 1000);
	cr_assert_eq(g.conns_active, 12);
	cr_assert_eq(g.hs_fail_timeout, 1);
	cr_assert_eq(g.hs_fail_protocol, 2);
	cr_assert_eq(g.hs_fail_no_cert, 3);
	cr_assert_eq(g.hs_fail_other, 4);
	cr_assert_eq(g.backend_connect_failures, 5);
	cr_assert_eq(g.bytes_ktls, 6);
	cr_assert_eq(g.bytes_userspace, 7);
	cr_assert_eq(g.reloads_ok, 8);
	cr_assert_eq(g.reloads_failed, 9);
	cr_assert_eq(g.handshakes, 40);
	cr_assert_eq(g.hs_resumed, 41);
	cr_assert_eq(g.tickets_issued, 42);
	cr_assert_eq(g.tickets_refused_unknown, 43);
	cr_assert_eq(g.tickets_refused_expired, 44);
	cr_assert_eq(g.tls_stat_present, 0);
	cr_assert_eq(g.tls_stat.curr_tx_sw, 0, "not read: all zero");
	f.tls_stat_present = true;
	kst_metrics_global_build(&g, &f, &c, T0 + 50);
	cr_assert_eq(g.tls_stat_present, 1);
	cr_assert_eq(g.tls_stat.curr_tx_sw, 11);
	cr_assert_eq(g.tls_stat.tx_sw, 22);
	cr_assert_eq(g.tls_stat.rx_rekey_ok, 33);
}

/*
 * Sums are checked word by word over the whole struct, so a counter added
 * to the struct but forgotten in the sum fails here.
 */
#define WORDS(type) (sizeof(type) / sizeof(uint64_t))

static void fill_words(void *p, size_t words, uint64_t seed)
{
	uint64_t *w = p;

	for (size_t i = 0; i < words; i++)
		w[i] = seed * 1000 + i;
}

Test(metrics_state, sums_every_counter_of_every_worker)
{
	struct kst_conn_counters w[3], sum = {0};
	const uint64_t *s = (const uint64_t *)&sum;

	_Static_assert(sizeof(w[0]) % sizeof(uint64_t) == 0, "u64 words");
	for (size_t k = 0; k < 3; k++) {
		fill_words(&w[k], WORDS(w[0]), k + 1);
		kst_metrics_sum(&sum, &w[k]);
	}
	for (size_t i = 0; i < WORDS(sum); i++)
		cr_assert_eq(s[i], 6000 + 3 * i, "word %zu", i);
		/* and by name, the counters the ticket and KeyUpdate code fill
		 */
#define WORD_OF(f) (offsetof(struct kst_conn_counters, f) / sizeof(uint64_t))
	cr_assert_eq(sum.hs_resumed, 6000 + 3 * WORD_OF(hs_resumed));
	cr_assert_eq(sum.tickets_issued, 6000 + 3 * WORD_OF(tickets_issued));
	cr_assert_eq(sum.tickets_refused_unknown,
		     6000 + 3 * WORD_OF(tickets_refused_unknown));
	cr_assert_eq(sum.tickets_refused_expired,
		     6000 + 3 * WORD_OF(tickets_refused_expired));
	cr_assert_eq(sum.keyupdate_rekeys_rx,
		     6000 + 3 * WORD_OF(keyupdate_rekeys_rx));
	cr_assert_eq(sum.keyupdate_rekeys_tx,
		     6000 + 3 * WORD_OF(keyupdate_rekeys_tx));
	cr_assert_eq(sum.keyupdate_flood_closes,
		     6000 + 3 * WORD_OF(keyupdate_flood_closes));
#undef WORD_OF
}

Test(metrics_state, sums_every_process_counter_of_every_worker)
{
	struct kst_proc_counters w[4], sum = {0};
	const uint64_t *s = (const uint64_t *)&sum;

	_Static_assert(sizeof(w[0]) % sizeof(uint64_t) == 0, "u64 words");
	for (size_t k = 0; k < 4; k++) {
		fill_words(&w[k], WORDS(w[0]), k + 1);
		kst_metrics_sum_proc(&sum, &w[k]);
	}
	for (size_t i = 0; i < WORDS(sum); i++)
		cr_assert_eq(s[i], 10000 + 4 * i, "word %zu", i);
}

Test(metrics_state, sums_every_listener_counter_of_every_worker)
{
	struct kst_hs_counters w[3], sum = {0};

	for (size_t k = 0; k < 3; k++) {
		memset(&w[k], 0, sizeof(w[k]));
		w[k].handshakes = 10 * (k + 1);
		w[k].hs_resumed = k + 1;
		w[k].tickets_issued = 100 * (k + 1);
		w[k].tickets_refused_unknown = 2;
		w[k].tickets_refused_expired = 1;
		kst_metrics_sum_hs(&sum, &w[k]);
	}
	cr_assert_eq(sum.handshakes, 60);
	cr_assert_eq(sum.hs_resumed, 6);
	cr_assert_eq(sum.tickets_issued, 600);
	cr_assert_eq(sum.tickets_refused_unknown, 6);
	cr_assert_eq(sum.tickets_refused_expired, 3);
}

Test(metrics_state, builds_listener_key_and_value_with_a_clean_name)
{
	struct kst_hs_counters c = {.handshakes = 5,
				    .hs_resumed = 4,
				    .tickets_issued = 3,
				    .tickets_refused_unknown = 2,
				    .tickets_refused_expired = 1};
	char longname[100];
	struct kst_listener_key k;
	struct kst_listener_val v;

	memset(&k, 0xa5, sizeof(k));
	memset(&v, 0xa5, sizeof(v));
	kst_metrics_listener_build(&k, &v, "we\tb", &c, T0);
	cr_assert_str_eq(v.name, "we?b");
	cr_assert_eq(memcmp(k.name, v.name, sizeof(k.name)), 0,
		     "the key is the name, NUL-padded");
	cr_assert_eq(k.name[sizeof(k.name) - 1], 0);
	cr_assert_eq(v.flushed_at, T0);
	cr_assert_eq(v.handshakes, 5);
	cr_assert_eq(v.hs_resumed, 4);
	cr_assert_eq(v.tickets_issued, 3);
	cr_assert_eq(v.tickets_refused_unknown, 2);
	cr_assert_eq(v.tickets_refused_expired, 1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	kst_metrics_listener_build(&k, &v, longname, &c, T0);
	cr_assert_eq(strlen(v.name), KST_BPF_NAME_LEN - 1, "truncated");
}

Test(metrics_state, counts_unknown_fallback_reasons_in_the_last_slot)
{
	cr_assert_eq(kst_metrics_fallback_slot(1), 0);
	cr_assert_eq(kst_metrics_fallback_slot(9), 8);
	cr_assert_eq(kst_metrics_fallback_slot(0), KST_BPF_FALLBACK_SLOTS - 1);
	cr_assert_eq(kst_metrics_fallback_slot(10), KST_BPF_FALLBACK_SLOTS - 1);
	cr_assert_eq(kst_metrics_fallback_slot(1000),
		     KST_BPF_FALLBACK_SLOTS - 1);
	cr_assert_str_eq(kst_metrics_fallback_slot_name(0), "disabled");
	cr_assert_str_eq(
		kst_metrics_fallback_slot_name(KST_BPF_FALLBACK_SLOTS - 1),
		"other");
	cr_assert_null(kst_metrics_fallback_slot_name(KST_BPF_FALLBACK_SLOTS));
}

Test(metrics_state, names_every_state_and_policy_distinctly)
{
	for (int i = 0; i < KST_STAPLE__COUNT; i++) {
		cr_assert_not_null(kst_metrics_state_name(i), "state %d", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(kst_metrics_state_name(i),
					  kst_metrics_state_name(j));
	}
	cr_assert_null(kst_metrics_state_name(KST_STAPLE__COUNT));
	cr_assert_str_eq(kst_metrics_policy_name(KST_BPF_POLICY_MUST_STAPLE),
			 "must-staple");
	cr_assert_null(kst_metrics_policy_name(KST_BPF_POLICY__COUNT));
}

Test(metrics_state, error_names_match_the_ocsp_module)
{
#ifdef HAVE_OCSP_STORE
	for (int e = KST_OCSP_OK; e <= KST_OCSP_E_INTERNAL; e++)
		cr_assert_str_eq(kst_metrics_err_name(e), kst_ocsp_err_name(e),
				 "code %d", e);
	cr_assert_lt(KST_OCSP_E_INTERNAL, KST_BPF_ERR_FETCH_BASE);
#else
	cr_skip_test("daemon/ocsp/verdict.h is not in the tree yet");
#endif
	cr_assert_null(kst_metrics_err_name(KST_BPF_ERR_RESERVED));
}

Test(metrics_state, fallback_names_match_the_ktls_module)
{
#ifdef HAVE_KTLS
	/* every reason but ok has a named slot of its own */
	cr_assert_eq(KST_KTLS_WHY__MAX, KST_BPF_FALLBACK_SLOTS,
		     "a new kTLS reason needs a field in kst_bpf_fallback");
	for (int w = 0; w < KST_KTLS_WHY__MAX; w++)
		cr_assert_str_eq(kst_metrics_fallback_name(w),
				 kst_ktls_why_name(w), "reason %d", w);
	for (int w = 1; w < KST_KTLS_WHY__MAX; w++)
		cr_assert_str_eq(kst_metrics_fallback_slot_name(
					 kst_metrics_fallback_slot(w)),
				 kst_ktls_why_name(w), "reason %d", w);
	cr_assert_null(kst_metrics_fallback_name(KST_KTLS_WHY__MAX));
#else
	cr_skip_test("ktls/ktls.h is not in the tree yet");
#endif
}

Test(metrics_state, policy_values_match_the_configuration)
{
#ifdef HAVE_CONFIG
	cr_assert_eq(KST_BPF_POLICY_LENIENT, KST_POLICY_LENIENT);
	cr_assert_eq(KST_BPF_POLICY_STRICT, KST_POLICY_STRICT);
	cr_assert_eq(KST_BPF_POLICY_MUST_STAPLE, KST_POLICY_MUST_STAPLE);
#else
	cr_skip_test("daemon/config/config.h is not in the tree yet");
#endif
}
