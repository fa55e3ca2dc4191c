// SPDX-License-Identifier: MIT
/*
 * Pure metrics decisions (rules in metrics_state.h): staple state, map values
 * from facts, counter sums, and the token tables of the ABI's codes. The
 * token tables mirror stable, append-only codes owned by other modules
 * (enum kst_ocsp_err, enum kst_ktls_why); they live here because `kstapled
 * status` must name codes read from a map written by another process, and
 * tests/unit/test_metrics_state.c checks them against those modules.
 */
#include "daemon/metrics/metrics_state.h"

#include <string.h>

#include "daemon/base/util.h"

static const char *const state_slot_names[KST_BPF_FALLBACK_SLOTS] = {
	"disabled",  "no-kernel",  "version",	    "cipher",  "pending",
	"no-secret", "setsockopt", "not-installed", "openssl", "other",
};

static bool state_staple_valid(const struct kst_staple_facts *f, time_t now);
static void state_copy_name(char *dst, size_t size, const char *src);
static void state_add(uint64_t *dst, const uint64_t *src);

static const char *const state_names[KST_STAPLE__COUNT] = {
	[KST_STAPLE_MISSING] = "missing",
	[KST_STAPLE_FRESH] = "fresh",
	[KST_STAPLE_REFRESHING] = "refreshing",
	[KST_STAPLE_STALE] = "stale",
	[KST_STAPLE_EXPIRED] = "expired",
	[KST_STAPLE_REVOKED] = "revoked",
	[KST_STAPLE_DISABLED] = "disabled",
};

static const char *const state_policy_names[KST_BPF_POLICY__COUNT] = {
	[KST_BPF_POLICY_LENIENT] = "lenient",
	[KST_BPF_POLICY_STRICT] = "strict",
	[KST_BPF_POLICY_MUST_STAPLE] = "must-staple",
};

/* enum kst_ocsp_err (daemon/ocsp/verdict.h) */
static const char *const state_err_names[] = {
	"ok",	     "empty",	      "too-large", "parse",
	"status",    "signature",     "signer",	   "no-match",
	"ambiguous", "not-yet-valid", "expired",   "too-old",
	"bad-times", "revoked",	      "unknown",   "internal",
};

/* enum kst_ktls_why (ktls/ktls.h) */
static const char *const state_fallback_names[] = {
	"ok",	   "disabled",	"no-kernel",  "version",       "cipher",
	"pending", "no-secret", "setsockopt", "not-installed", "openssl",
};

static bool state_staple_valid(const struct kst_staple_facts *f, time_t now)
{
	return f->has_staple && (f->next_update == 0 || now < f->next_update);
}

enum kst_staple_state kst_metrics_staple_state(const struct kst_staple_facts *f,
					       time_t now)
{
	bool due = f->next_refresh != 0 && now >= f->next_refresh;

	if (!f->enabled || !f->has_source)
		return KST_STAPLE_DISABLED;
	if (f->revoked)
		return KST_STAPLE_REVOKED;
	if (state_staple_valid(f, now)) {
		if (f->consecutive_failures > 0)
			return KST_STAPLE_STALE;
		if (due || f->fetch_in_flight)
			return KST_STAPLE_REFRESHING;
		return KST_STAPLE_FRESH;
	}
	if (f->has_staple || f->ever_had)
		return KST_STAPLE_EXPIRED;
	return KST_STAPLE_MISSING;
}

enum kst_staple_state kst_metrics_state_at(const struct kst_cert_val *v,
					   time_t now)
{
	switch (v->state) {
	case KST_STAPLE_FRESH:
	case KST_STAPLE_REFRESHING:
	case KST_STAPLE_STALE:
		if (v->next_update != 0 && v->next_update <= now)
			return KST_STAPLE_EXPIRED;
		return v->state;
	default:
		return v->state;
	}
}

int64_t kst_metrics_secs_to_next_update(time_t next_update, time_t now)
{
	if (next_update == 0 || next_update <= now)
		return 0;
	return (int64_t)next_update - (int64_t)now;
}

static void state_add(uint64_t *dst, const uint64_t *src)
{
	*dst += __atomic_load_n(src, __ATOMIC_RELAXED);
}

void kst_metrics_sum(struct kst_conn_counters *dst,
		     const struct kst_conn_counters *src)
{
	state_add(&dst->handshakes, &src->handshakes);
	state_add(&dst->staples_served, &src->staples_served);
	state_add(&dst->status_no_staple, &src->status_no_staple);
	state_add(&dst->ktls_tx, &src->ktls_tx);
	state_add(&dst->ktls_rx, &src->ktls_rx);
	state_add(&dst->device_tx, &src->device_tx);
	state_add(&dst->device_rx, &src->device_rx);
	state_add(&dst->userspace, &src->userspace);
	for (size_t i = 0; i < KST_BPF_FALLBACK_SLOTS; i++)
		state_add(&dst->ktls_fallback[i], &src->ktls_fallback[i]);
	state_add(&dst->keyupdate_closes, &src->keyupdate_closes);
	state_add(&dst->bytes_ktls, &src->bytes_ktls);
	state_add(&dst->bytes_userspace, &src->bytes_userspace);
	state_add(&dst->hs_resumed, &src->hs_resumed);
	state_add(&dst->tickets_issued, &src->tickets_issued);
	state_add(&dst->tickets_refused_unknown, &src->tickets_refused_unknown);
	state_add(&dst->tickets_refused_expired, &src->tickets_refused_expired);
	state_add(&dst->keyupdate_rekeys_rx, &src->keyupdate_rekeys_rx);
	state_add(&dst->keyupdate_rekeys_tx, &src->keyupdate_rekeys_tx);
	state_add(&dst->keyupdate_flood_closes, &src->keyupdate_flood_closes);
}

void kst_metrics_sum_proc(struct kst_proc_counters *dst,
			  const struct kst_proc_counters *src)
{
	state_add(&dst->accepted, &src->accepted);
	state_add(&dst->active, &src->active);
	state_add(&dst->hs_fail_timeout, &src->hs_fail_timeout);
	state_add(&dst->hs_fail_protocol, &src->hs_fail_protocol);
	state_add(&dst->hs_fail_no_cert, &src->hs_fail_no_cert);
	state_add(&dst->hs_fail_other, &src->hs_fail_other);
	state_add(&dst->backend_connect_failures,
		  &src->backend_connect_failures);
	state_add(&dst->bytes_ktls, &src->bytes_ktls);
	state_add(&dst->bytes_userspace, &src->bytes_userspace);
	state_add(&dst->handshakes, &src->handshakes);
	state_add(&dst->hs_resumed, &src->hs_resumed);
	state_add(&dst->tickets_issued, &src->tickets_issued);
	state_add(&dst->tickets_refused_unknown, &src->tickets_refused_unknown);
	state_add(&dst->tickets_refused_expired, &src->tickets_refused_expired);
}

void kst_metrics_sum_hs(struct kst_hs_counters *dst,
			const struct kst_hs_counters *src)
{
	state_add(&dst->handshakes, &src->handshakes);
	state_add(&dst->hs_resumed, &src->hs_resumed);
	state_add(&dst->tickets_issued, &src->tickets_issued);
	state_add(&dst->tickets_refused_unknown, &src->tickets_refused_unknown);
	state_add(&dst->tickets_refused_expired, &src->tickets_refused_expired);
}

/* Truncated, NUL-padded, printable ASCII only (see the header). */
static void state_copy_name(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	memset(dst, 0, size);
	for (; src != NULL && src[i] != '\0' && i < size - 1; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
}

static void state_build_staple(struct kst_cert_val *out,
			       const struct kst_cert_facts *f, time_t now)
{
	const struct kst_staple_facts *s = &f->staple;
	const char *err = f->last_error_name;

	out->state = kst_metrics_staple_state(s, now);
	out->fetch_consecutive_failures = s->consecutive_failures;
	out->last_http_status = f->last_http_status;
	out->last_error = f->last_error;
	if (err == NULL)
		err = kst_metrics_err_name(f->last_error);
	state_copy_name(out->last_error_name, sizeof(out->last_error_name),
			err);
	out->this_update = s->this_update;
	out->next_update = s->next_update;
	out->produced_at = f->produced_at;
	out->fetched_at = f->fetched_at;
	out->secs_to_next_update =
		kst_metrics_secs_to_next_update(s->next_update, now);
	out->last_fetch_at = f->last_fetch_at;
	out->next_refresh = s->next_refresh;
	out->fetch_successes = f->fetch_successes;
	out->fetch_failures = f->fetch_failures;
}

void kst_metrics_cert_build(struct kst_cert_val *out,
			    const struct kst_cert_facts *f,
			    const struct kst_conn_counters *c, time_t now)
{
	memset(out, 0, sizeof(*out));
	state_copy_name(out->name, sizeof(out->name), f->name);
	state_copy_name(out->subject_cn, sizeof(out->subject_cn),
			f->subject_cn);
	out->policy = f->policy;
	out->must_staple = f->must_staple;
	out->not_after = f->not_after;
	out->flushed_at = now;
	state_build_staple(out, f, now);
	if (f->sha256 != NULL)
		kst_metrics_fingerprint(out->sha256, f->sha256);
	out->handshakes = c->handshakes;
	out->hs_resumed = c->hs_resumed;
	out->staples_served = c->staples_served;
	out->status_no_staple = c->status_no_staple;
	out->tickets_issued = c->tickets_issued;
	out->tickets_refused_unknown = c->tickets_refused_unknown;
	out->tickets_refused_expired = c->tickets_refused_expired;
	out->conns_ktls_tx = c->ktls_tx;
	out->conns_ktls_rx = c->ktls_rx;
	out->conns_device_tx = c->device_tx;
	out->conns_device_rx = c->device_rx;
	out->conns_userspace = c->userspace;
	out->keyupdate_closes = c->keyupdate_closes;
	out->keyupdate_rekeys_rx = c->keyupdate_rekeys_rx;
	out->keyupdate_rekeys_tx = c->keyupdate_rekeys_tx;
	out->keyupdate_flood_closes = c->keyupdate_flood_closes;
	out->bytes_ktls = c->bytes_ktls;
	out->bytes_userspace = c->bytes_userspace;
	_Static_assert(sizeof(out->ktls_fallback) == sizeof(c->ktls_fallback),
		       "the fallback struct has a field per slot");
	memcpy(&out->ktls_fallback, c->ktls_fallback,
	       sizeof(out->ktls_fallback));
}

void kst_metrics_global_build(struct kst_global_val *out,
			      const struct kst_global_facts *f,
			      const struct kst_proc_counters *c, time_t now)
{
	memset(out, 0, sizeof(*out));
	out->started_at = f->started_at;
	out->flushed_at = now;
	out->pid = f->pid;
	out->workers = f->workers;
	out->certs = f->certs;
	out->reloads_ok = f->reloads_ok;
	out->reloads_failed = f->reloads_failed;
	out->conns_accepted = c->accepted;
	out->conns_active = c->active;
	out->hs_fail_timeout = c->hs_fail_timeout;
	out->hs_fail_protocol = c->hs_fail_protocol;
	out->hs_fail_no_cert = c->hs_fail_no_cert;
	out->hs_fail_other = c->hs_fail_other;
	out->backend_connect_failures = c->backend_connect_failures;
	out->bytes_ktls = c->bytes_ktls;
	out->bytes_userspace = c->bytes_userspace;
	out->handshakes = c->handshakes;
	out->hs_resumed = c->hs_resumed;
	out->tickets_issued = c->tickets_issued;
	out->tickets_refused_unknown = c->tickets_refused_unknown;
	out->tickets_refused_expired = c->tickets_refused_expired;
	out->tls_stat_present = f->tls_stat_present;
	if (f->tls_stat_present)
		out->tls_stat = f->tls_stat;
}

void kst_metrics_listener_build(struct kst_listener_key *k,
				struct kst_listener_val *out, const char *name,
				const struct kst_hs_counters *c, time_t now)
{
	memset(k, 0, sizeof(*k));
	memset(out, 0, sizeof(*out));
	state_copy_name(out->name, sizeof(out->name), name);
	memcpy(k->name, out->name, sizeof(k->name));
	out->flushed_at = now;
	out->handshakes = c->handshakes;
	out->hs_resumed = c->hs_resumed;
	out->tickets_issued = c->tickets_issued;
	out->tickets_refused_unknown = c->tickets_refused_unknown;
	out->tickets_refused_expired = c->tickets_refused_expired;
}

const char *kst_metrics_state_name(enum kst_staple_state s)
{
	if ((unsigned)s >= KST_ARRAY_SIZE(state_names))
		return NULL;
	return state_names[s];
}

const char *kst_metrics_policy_name(enum kst_bpf_policy p)
{
	if ((unsigned)p >= KST_ARRAY_SIZE(state_policy_names))
		return NULL;
	return state_policy_names[p];
}

const char *kst_metrics_err_name(uint32_t code)
{
	if (code >= KST_ARRAY_SIZE(state_err_names))
		return NULL;
	return state_err_names[code];
}

const char *kst_metrics_fallback_name(unsigned why)
{
	if (why >= KST_ARRAY_SIZE(state_fallback_names))
		return NULL;
	return state_fallback_names[why];
}

const char *kst_metrics_fallback_slot_name(unsigned slot)
{
	if (slot >= KST_ARRAY_SIZE(state_slot_names))
		return NULL;
	return state_slot_names[slot];
}

void kst_metrics_fingerprint(char *buf, const unsigned char sha256[32])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		buf[3 * i] = hex[sha256[i] >> 4];
		buf[3 * i + 1] = hex[sha256[i] & 15];
		buf[3 * i + 2] = i < 31 ? ':' : '\0';
	}
	memset(buf + 95, 0, KST_BPF_FP_LEN - 95);
}
