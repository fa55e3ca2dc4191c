// SPDX-License-Identifier: MIT
/*
 * Rendering of `kstapled status` (see status_fmt.h). The JSON and Prometheus
 * outputs are driven by field tables over the ABI structs, so that a field
 * added to bpf/kstapled.h is one table line here, and the JSON keys are the
 * BTF names by construction.
 */
#include "daemon/metrics/status_fmt.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics/metrics_state.h"
#include "daemon/base/util.h"

enum fmt_kind {
	FMT_STR,
	FMT_U32,
	FMT_BOOL, /* __u32 0/1: JSON true/false */
	FMT_TIME, /* __s64 unix seconds, 0 = none: also as RFC 3339 */
	FMT_S64,
	FMT_U64,
	FMT_STATE,
	FMT_POLICY,
	FMT_FALLBACK, /* struct kst_bpf_fallback */
	FMT_TLS_STAT,
};

/* A field of an ABI struct, named as in its BTF. */
struct fmt_field {
	const char *name;
	size_t off;
	size_t size;
	enum fmt_kind kind;
};

/* A per-certificate Prometheus metric read straight from one field. */
struct fmt_prom {
	const char *name;
	const char *type;
	const char *help;
	size_t off;
	enum fmt_kind kind;
};

static int fmt_cert_cmp(const void *a, const void *b);
static void fmt_json_str(FILE *f, const char *s, size_t max);
static void fmt_json_fields(FILE *f, const void *base,
			    const struct fmt_field *fields, size_t n);
static void fmt_prom_label(FILE *f, const char *s, size_t max);
static void fmt_prom_head(FILE *f, const char *name, const char *type,
			  const char *help);
static void fmt_prom_cert(FILE *f, const char *name,
			  const struct kst_status_cert *c, const char *lkey,
			  const char *lval, const char *value);

/* clang-format off */
#define FMT_FIELD(type, field, kind)                                           \
	{ #field, offsetof(type, field), sizeof(((type *)0)->field), kind }
#define FMT_CERT(field, kind)   FMT_FIELD(struct kst_cert_val, field, kind)
#define FMT_GLOBAL(field, kind) FMT_FIELD(struct kst_global_val, field, kind)
#define FMT_TLS(field)          FMT_FIELD(struct kst_tls_stat_snap, field, FMT_U64)
#define FMT_FB(field)           FMT_FIELD(struct kst_bpf_fallback, field, FMT_U64)

/* clang-format on */

static const struct fmt_field fmt_cert_fields[] = {
	FMT_CERT(name, FMT_STR),
	FMT_CERT(subject_cn, FMT_STR),
	FMT_CERT(sha256, FMT_STR),
	FMT_CERT(state, FMT_STATE),
	FMT_CERT(policy, FMT_POLICY),
	FMT_CERT(must_staple, FMT_BOOL),
	FMT_CERT(fetch_consecutive_failures, FMT_U32),
	FMT_CERT(last_http_status, FMT_U32),
	FMT_CERT(last_error, FMT_U32),
	FMT_CERT(last_error_name, FMT_STR),
	FMT_CERT(not_after, FMT_TIME),
	FMT_CERT(this_update, FMT_TIME),
	FMT_CERT(next_update, FMT_TIME),
	FMT_CERT(produced_at, FMT_TIME),
	FMT_CERT(fetched_at, FMT_TIME),
	FMT_CERT(last_fetch_at, FMT_TIME),
	FMT_CERT(next_refresh, FMT_TIME),
	FMT_CERT(secs_to_next_update, FMT_S64),
	FMT_CERT(flushed_at, FMT_TIME),
	FMT_CERT(fetch_successes, FMT_U64),
	FMT_CERT(fetch_failures, FMT_U64),
	FMT_CERT(handshakes, FMT_U64),
	FMT_CERT(hs_resumed, FMT_U64),
	FMT_CERT(staples_served, FMT_U64),
	FMT_CERT(status_no_staple, FMT_U64),
	FMT_CERT(tickets_issued, FMT_U64),
	FMT_CERT(tickets_refused_unknown, FMT_U64),
	FMT_CERT(tickets_refused_expired, FMT_U64),
	FMT_CERT(conns_ktls_tx, FMT_U64),
	FMT_CERT(conns_ktls_rx, FMT_U64),
	FMT_CERT(conns_device_tx, FMT_U64),
	FMT_CERT(conns_device_rx, FMT_U64),
	FMT_CERT(conns_userspace, FMT_U64),
	FMT_CERT(keyupdate_closes, FMT_U64),
	FMT_CERT(keyupdate_rekeys_rx, FMT_U64),
	FMT_CERT(keyupdate_rekeys_tx, FMT_U64),
	FMT_CERT(keyupdate_flood_closes, FMT_U64),
	FMT_CERT(bytes_ktls, FMT_U64),
	FMT_CERT(bytes_userspace, FMT_U64),
	FMT_CERT(ktls_fallback, FMT_FALLBACK),
};

/* struct kst_bpf_fallback, in slot order (kst_metrics_fallback_slot) */
/* clang-format off */
static const struct fmt_field fmt_fallback_fields[] = {
	FMT_FB(disabled),   FMT_FB(no_kernel),     FMT_FB(version),
	FMT_FB(cipher),     FMT_FB(pending),       FMT_FB(no_secret),
	FMT_FB(setsockopt), FMT_FB(not_installed), FMT_FB(openssl),
	FMT_FB(other),
};
_Static_assert(KST_ARRAY_SIZE(fmt_fallback_fields) == KST_BPF_FALLBACK_SLOTS,
	       "one field per fallback slot");
/* clang-format on */

static const struct fmt_field fmt_global_fields[] = {
	FMT_GLOBAL(started_at, FMT_TIME),
	FMT_GLOBAL(flushed_at, FMT_TIME),
	FMT_GLOBAL(pid, FMT_U32),
	FMT_GLOBAL(workers, FMT_U32),
	FMT_GLOBAL(certs, FMT_U32),
	FMT_GLOBAL(tls_stat_present, FMT_BOOL),
	FMT_GLOBAL(conns_accepted, FMT_U64),
	FMT_GLOBAL(conns_active, FMT_U64),
	FMT_GLOBAL(hs_fail_timeout, FMT_U64),
	FMT_GLOBAL(hs_fail_protocol, FMT_U64),
	FMT_GLOBAL(hs_fail_no_cert, FMT_U64),
	FMT_GLOBAL(hs_fail_other, FMT_U64),
	FMT_GLOBAL(backend_connect_failures, FMT_U64),
	FMT_GLOBAL(bytes_ktls, FMT_U64),
	FMT_GLOBAL(bytes_userspace, FMT_U64),
	FMT_GLOBAL(reloads_ok, FMT_U64),
	FMT_GLOBAL(reloads_failed, FMT_U64),
	FMT_GLOBAL(handshakes, FMT_U64),
	FMT_GLOBAL(hs_resumed, FMT_U64),
	FMT_GLOBAL(tickets_issued, FMT_U64),
	FMT_GLOBAL(tickets_refused_unknown, FMT_U64),
	FMT_GLOBAL(tickets_refused_expired, FMT_U64),
	FMT_GLOBAL(tls_stat, FMT_TLS_STAT),
};

#define FMT_LISTENER(field, kind) \
	FMT_FIELD(struct kst_listener_val, field, kind)
static const struct fmt_field fmt_listener_fields[] = {
	FMT_LISTENER(name, FMT_STR),
	FMT_LISTENER(flushed_at, FMT_TIME),
	FMT_LISTENER(handshakes, FMT_U64),
	FMT_LISTENER(hs_resumed, FMT_U64),
	FMT_LISTENER(tickets_issued, FMT_U64),
	FMT_LISTENER(tickets_refused_unknown, FMT_U64),
	FMT_LISTENER(tickets_refused_expired, FMT_U64),
};

/* In /proc/net/tls_stat order, with the kernel's names for Prometheus. */
/* clang-format off */
static const struct fmt_field fmt_tls_fields[] = {
	FMT_TLS(curr_tx_sw),     FMT_TLS(curr_rx_sw),
	FMT_TLS(curr_tx_device), FMT_TLS(curr_rx_device),
	FMT_TLS(tx_sw),          FMT_TLS(rx_sw),
	FMT_TLS(tx_device),      FMT_TLS(rx_device),
	FMT_TLS(decrypt_error),  FMT_TLS(rx_device_resync),
	FMT_TLS(decrypt_retry),  FMT_TLS(rx_no_pad_violation),
	FMT_TLS(rx_rekey_ok),    FMT_TLS(rx_rekey_error),
	FMT_TLS(tx_rekey_ok),    FMT_TLS(tx_rekey_error),
	FMT_TLS(rx_rekey_received),
};
static const char *const fmt_tls_kernel_names[] = {
	"TlsCurrTxSw",     "TlsCurrRxSw",        "TlsCurrTxDevice",
	"TlsCurrRxDevice", "TlsTxSw",            "TlsRxSw",
	"TlsTxDevice",     "TlsRxDevice",        "TlsDecryptError",
	"TlsRxDeviceResync", "TlsDecryptRetry",  "TlsRxNoPadViolation",
	"TlsRxRekeyOk",    "TlsRxRekeyError",    "TlsTxRekeyOk",
	"TlsTxRekeyError", "TlsRxRekeyReceived",
};
_Static_assert(KST_ARRAY_SIZE(fmt_tls_fields) ==
		       KST_ARRAY_SIZE(fmt_tls_kernel_names),
	       "one kernel name per tls_stat field");
/* clang-format on */

/* clang-format off */
#define FMT_PROM(metric, type, help, field, kind)                              \
	{ metric, type, help, offsetof(struct kst_cert_val, field), kind }
/* clang-format on */

static const struct fmt_prom fmt_prom_cert_metrics[] = {
	FMT_PROM("kstapled_cert_not_after_seconds", "gauge",
		 "Certificate notAfter (unix seconds).", not_after, FMT_S64),
	FMT_PROM("kstapled_staple_this_update_seconds", "gauge",
		 "thisUpdate of the staple held (unix seconds, 0 = none).",
		 this_update, FMT_S64),
	FMT_PROM("kstapled_staple_next_update_seconds", "gauge",
		 "nextUpdate of the staple held (unix seconds, 0 = none).",
		 next_update, FMT_S64),
	FMT_PROM("kstapled_staple_produced_at_seconds", "gauge",
		 "producedAt of the staple held (unix seconds, 0 = none).",
		 produced_at, FMT_S64),
	FMT_PROM("kstapled_staple_fetched_at_seconds", "gauge",
		 "When the staple held was fetched or loaded (unix seconds).",
		 fetched_at, FMT_S64),
	FMT_PROM("kstapled_ocsp_last_fetch_seconds", "gauge",
		 "Last OCSP fetch attempt (unix seconds, 0 = none).",
		 last_fetch_at, FMT_S64),
	FMT_PROM("kstapled_ocsp_next_refresh_seconds", "gauge",
		 "Next scheduled OCSP refresh (unix seconds, 0 = none).",
		 next_refresh, FMT_S64),
	FMT_PROM("kstapled_ocsp_fetch_successes_total", "counter",
		 "OCSP fetches that gave a staple.", fetch_successes, FMT_U64),
	FMT_PROM("kstapled_ocsp_fetch_failures_total", "counter",
		 "OCSP fetches that failed.", fetch_failures, FMT_U64),
	FMT_PROM("kstapled_ocsp_fetch_consecutive_failures", "gauge",
		 "OCSP fetches failed since the last success.",
		 fetch_consecutive_failures, FMT_U32),
	FMT_PROM("kstapled_ocsp_last_http_status", "gauge",
		 "HTTP status of the last OCSP fetch (0 = none).",
		 last_http_status, FMT_U32),
	FMT_PROM("kstapled_cert_handshakes_total", "counter",
		 "Handshakes that selected the certificate.", handshakes,
		 FMT_U64),
	FMT_PROM("kstapled_staples_served_total", "counter",
		 "Handshakes that stapled an OCSP response.", staples_served,
		 FMT_U64),
	FMT_PROM("kstapled_status_requests_without_staple_total", "counter",
		 "status_request answered without a staple.", status_no_staple,
		 FMT_U64),
	FMT_PROM("kstapled_cert_handshakes_resumed_total", "counter",
		 "Handshakes that resumed a session (a ticket).", hs_resumed,
		 FMT_U64),
	FMT_PROM("kstapled_tickets_issued_total", "counter",
		 "Session tickets issued.", tickets_issued, FMT_U64),
	FMT_PROM("kstapled_keyupdate_closes_total", "counter",
		 "Connections closed on a TLS 1.3 KeyUpdate the kernel "
		 "cannot take.",
		 keyupdate_closes, FMT_U64),
	FMT_PROM("kstapled_keyupdate_flood_closes_total", "counter",
		 "Connections closed for sending too many KeyUpdates.",
		 keyupdate_flood_closes, FMT_U64),
};

/* Per-certificate counters of one family, told apart by a label. */
struct fmt_prom_labelled {
	const char *name;
	const char *help;
	const char *lkey;
	struct {
		const char *lval;
		size_t off;
	} v[2];
};

/* clang-format off */
#define FMT_OFF(field) offsetof(struct kst_cert_val, field)
static const struct fmt_prom_labelled fmt_prom_labelled_metrics[] = {
	{ "kstapled_tickets_refused_total",
	  "Session tickets refused, by reason (key unknown or retired; "
	  "older than ticket-lifetime).", "reason",
	  { { "unknown", FMT_OFF(tickets_refused_unknown) },
	    { "expired", FMT_OFF(tickets_refused_expired) } } },
	{ "kstapled_keyupdate_rekeys_total",
	  "TLS 1.3 KeyUpdates the kernel rekeyed for, by direction.",
	  "direction",
	  { { "rx", FMT_OFF(keyupdate_rekeys_rx) },
	    { "tx", FMT_OFF(keyupdate_rekeys_tx) } } },
};
/* clang-format on */

/* The per-certificate data-path counters, labelled by path. */
/* clang-format off */
static const struct {
	const char *label;
	size_t off;
} fmt_paths[] = {
	{ "ktls_tx", offsetof(struct kst_cert_val, conns_ktls_tx) },
	{ "ktls_rx", offsetof(struct kst_cert_val, conns_ktls_rx) },
	{ "device_tx", offsetof(struct kst_cert_val, conns_device_tx) },
	{ "device_rx", offsetof(struct kst_cert_val, conns_device_rx) },
	{ "userspace", offsetof(struct kst_cert_val, conns_userspace) },
};
/* clang-format on */

static uint32_t fmt_u32(const void *base, size_t off)
{
	uint32_t x;

	memcpy(&x, (const char *)base + off, sizeof(x));
	return x;
}

/* __s64/__u64 are long long: print them with %lld/%llu */
static long long fmt_s64(const void *base, size_t off)
{
	__s64 x;

	memcpy(&x, (const char *)base + off, sizeof(x));
	return x;
}

static unsigned long long fmt_u64(const void *base, size_t off)
{
	__u64 x;

	memcpy(&x, (const char *)base + off, sizeof(x));
	return x;
}

char *kst_status_fmt_duration(char *buf, size_t size, int64_t secs)
{
	unsigned long long s = secs < 0 ? 0 - (unsigned long long)secs
					: (unsigned long long)secs;
	unsigned long long d = s / 86400, h = s % 86400 / 3600,
			   m = s % 3600 / 60;

	if (d > 0 && h > 0)
		snprintf(buf, size, "%llud %lluh", d, h);
	else if (d > 0)
		snprintf(buf, size, "%llud", d);
	else if (h > 0 && m > 0)
		snprintf(buf, size, "%lluh %llum", h, m);
	else if (h > 0)
		snprintf(buf, size, "%lluh", h);
	else if (m > 0)
		snprintf(buf, size, "%llum", m);
	else
		snprintf(buf, size, "%llus", s);
	return buf;
}

char *kst_status_fmt_bytes(char *buf, size_t size, uint64_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	double x = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%llu B", (unsigned long long)n);
		return buf;
	}
	x /= 1024;
	while (x >= 1024 && u + 1 < KST_ARRAY_SIZE(units)) {
		x /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", x, units[u]);
	return buf;
}

static bool fmt_must_staple(const struct kst_cert_val *v)
{
	return v->policy == KST_BPF_POLICY_MUST_STAPLE || v->must_staple;
}

bool kst_status_cert_bad(const struct kst_cert_val *v, time_t now)
{
	switch (kst_metrics_state_at(v, now)) {
	case KST_STAPLE_EXPIRED:
	case KST_STAPLE_REVOKED:
		return true;
	case KST_STAPLE_MISSING:
	case KST_STAPLE_STALE:
		return fmt_must_staple(v);
	default:
		return false;
	}
}

enum kst_status_daemon kst_status_daemon(const struct kst_global_val *g,
					 time_t now)
{
	if (g->flushed_at != 0 && g->workers == 0)
		return KST_STATUS_DAEMON_STOPPED;
	if (g->flushed_at == 0 || now - g->flushed_at > KST_STATUS_GONE_SECS)
		return KST_STATUS_DAEMON_GONE;
	return KST_STATUS_DAEMON_RUNNING;
}

const char *kst_status_daemon_name(enum kst_status_daemon s)
{
	switch (s) {
	case KST_STATUS_DAEMON_RUNNING:
		return "running";
	case KST_STATUS_DAEMON_STOPPED:
		return "stopped";
	default:
		return "gone";
	}
}

int kst_status_exit_code(const struct kst_status_view *v)
{
	switch (kst_status_daemon(v->global, v->now)) {
	case KST_STATUS_DAEMON_STOPPED:
		return KST_STATUS_EXIT_STOPPED;
	case KST_STATUS_DAEMON_GONE:
		return KST_STATUS_EXIT_GONE;
	default:
		break;
	}
	for (size_t i = 0; i < v->n_certs; i++)
		if (kst_status_cert_bad(&v->certs[i].val, v->now))
			return 1;
	return 0;
}

static int fmt_cert_cmp(const void *a, const void *b)
{
	const struct kst_status_cert *x = a, *y = b;
	int r = strncmp(x->val.name, y->val.name, sizeof(x->val.name));

	return r != 0 ? r : memcmp(&x->key, &y->key, sizeof(x->key));
}

void kst_status_sort(struct kst_status_cert *certs, size_t n)
{
	if (n > 1)
		qsort(certs, n, sizeof(*certs), fmt_cert_cmp);
}

/* ------------------------------------------------------------ table */

static const char *fmt_state_name(enum kst_staple_state s)
{
	const char *name = kst_metrics_state_name(s);

	return name != NULL ? name : "?";
}

/*
 * A NUL-terminated copy of a fixed-size ABI string for the terminal: the
 * daemon stores printable ASCII only, and anything else (another writer)
 * becomes '?' rather than reaching the terminal as a control sequence.
 */
static const char *fmt_fixed(char *buf, size_t size, const char *field,
			     size_t field_size)
{
	size_t n = strnlen(field, field_size);

	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = field[i] >= 0x20 && field[i] < 0x7f ? field[i] : '?';
	buf[n] = '\0';
	return buf;
}

static void fmt_next_update(char *buf, size_t size,
			    const struct kst_cert_val *v, time_t now)
{
	char d[32];

	if (v->next_update == 0)
		snprintf(buf, size, "-");
	else if (v->next_update <= now) /* the state says expired */
		snprintf(buf, size, "%s ago",
			 kst_status_fmt_duration(d, sizeof(d),
						 now - v->next_update));
	else
		snprintf(buf, size, "%s",
			 kst_status_fmt_duration(d, sizeof(d),
						 v->next_update - now));
}

static void fmt_last_fetch(char *buf, size_t size, const struct kst_cert_val *v)
{
	char name[KST_BPF_ERRNAME_LEN + 1], what[48];

	if (v->last_error == 0 && v->fetch_successes + v->fetch_failures == 0) {
		snprintf(buf, size, "-");
		return;
	}
	if (v->last_error == 0)
		snprintf(what, sizeof(what), "ok");
	else if (v->last_http_status != 0 && v->last_http_status != 200)
		snprintf(what, sizeof(what), "http %u", v->last_http_status);
	else if (v->last_error_name[0] != '\0')
		snprintf(what, sizeof(what), "%s",
			 fmt_fixed(name, sizeof(name), v->last_error_name,
				   sizeof(v->last_error_name)));
	else
		snprintf(what, sizeof(what), "error %u", v->last_error);
	if (v->fetch_consecutive_failures > 1)
		snprintf(buf, size, "%s (x%u)", what,
			 v->fetch_consecutive_failures);
	else
		snprintf(buf, size, "%s", what);
}

static void fmt_next_refresh(char *buf, size_t size,
			     const struct kst_cert_val *v, time_t now)
{
	char d[32];

	if (v->next_refresh == 0 || v->state == KST_STAPLE_DISABLED)
		snprintf(buf, size, "-");
	else if (v->next_refresh > now)
		snprintf(buf, size, "in %s",
			 kst_status_fmt_duration(d, sizeof(d),
						 v->next_refresh - now));
	else if (now - v->next_refresh < 60)
		snprintf(buf, size, "due");
	else
		snprintf(buf, size, "overdue %s",
			 kst_status_fmt_duration(d, sizeof(d),
						 now - v->next_refresh));
}

/* ", " between the parts of a line; the first part gets none */
static void fmt_part(FILE *f, bool *first, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt_part(FILE *f, bool *first, const char *fmt, ...)
{
	va_list ap;

	if (!*first)
		fputs(", ", f);
	*first = false;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
}

/* "no-kernel 2, cipher 1" for the fallbacks counted in fb; "-" for none */
static void fmt_fallbacks(FILE *f, const struct kst_bpf_fallback *fb)
{
	bool first = true;

	for (unsigned i = 0; i < KST_BPF_FALLBACK_SLOTS; i++) {
		unsigned long long n = fmt_u64(fb, 8 * i);

		if (n != 0)
			fmt_part(f, &first, "%s %llu",
				 kst_metrics_fallback_slot_name(i), n);
	}
	if (first)
		fputc('-', f);
}

/*
 * --wide: "ktls 120/123 tx, 118 rx; nic 5 tx, 0 rx; user 3 (no-kernel 3);
 * resumed 40; tickets 80, refused 9 unknown, 8 expired; rekeys 12 rx, 11
 * tx" (the parts after ktls only when not zero).
 */
static void fmt_data_path(FILE *f, const struct kst_cert_val *v)
{
	if (v->handshakes == 0 && v->conns_userspace == 0) {
		fputc('-', f);
		return;
	}
	fprintf(f, "ktls %llu/%llu tx, %llu rx", v->conns_ktls_tx,
		v->handshakes, v->conns_ktls_rx);
	if (v->conns_device_tx != 0 || v->conns_device_rx != 0)
		fprintf(f, "; nic %llu tx, %llu rx", v->conns_device_tx,
			v->conns_device_rx);
	if (v->conns_userspace != 0) {
		fprintf(f, "; user %llu (", v->conns_userspace);
		fmt_fallbacks(f, &v->ktls_fallback);
		fputc(')', f);
	}
	if (v->hs_resumed != 0)
		fprintf(f, "; resumed %llu", v->hs_resumed);
	if (v->tickets_issued + v->tickets_refused_unknown +
		    v->tickets_refused_expired !=
	    0)
		fprintf(f, "; tickets %llu, refused %llu unknown, %llu expired",
			v->tickets_issued, v->tickets_refused_unknown,
			v->tickets_refused_expired);
	if (v->keyupdate_rekeys_rx + v->keyupdate_rekeys_tx != 0)
		fprintf(f, "; rekeys %llu rx, %llu tx", v->keyupdate_rekeys_rx,
			v->keyupdate_rekeys_tx);
}

/* The cells of a row, as text. */
enum fmt_col {
	FMT_COL_CERT,
	FMT_COL_STATE,
	FMT_COL_NEXT_UPDATE,
	FMT_COL_LAST_FETCH,
	FMT_COL_NEXT_REFRESH,
	FMT_COL_SERVED,
	FMT_COL_NO_STAPLE,
	FMT_COL_KTLS, /* the default table's last column */
	FMT_COL__COUNT
};

struct fmt_row {
	char cell[FMT_COL__COUNT][KST_BPF_NAME_LEN + 1];
};

/* clang-format off */
static const struct {
	const char *head;
	bool right; /* numbers */
} fmt_cols[FMT_COL__COUNT] = {
	[FMT_COL_CERT]         = { "CERT", false },
	[FMT_COL_STATE]        = { "STATE", false },
	[FMT_COL_NEXT_UPDATE]  = { "NEXT UPDATE", false },
	[FMT_COL_LAST_FETCH]   = { "LAST FETCH", false },
	[FMT_COL_NEXT_REFRESH] = { "NEXT REFRESH", false },
	[FMT_COL_SERVED]       = { "SERVED", true },
	[FMT_COL_NO_STAPLE]    = { "NO STAPLE", true },
	[FMT_COL_KTLS]         = { "KTLS TX/RX", true },
};
/* clang-format on */

static void fmt_row_of(struct fmt_row *r, const struct kst_cert_val *v,
		       time_t now)
{
	char(*c)[KST_BPF_NAME_LEN + 1] = r->cell;
	size_t sz = sizeof(r->cell[0]);

	fmt_fixed(c[FMT_COL_CERT], sz, v->name, sizeof(v->name));
	snprintf(c[FMT_COL_STATE], sz, "%s",
		 fmt_state_name(kst_metrics_state_at(v, now)));
	fmt_next_update(c[FMT_COL_NEXT_UPDATE], sz, v, now);
	fmt_last_fetch(c[FMT_COL_LAST_FETCH], sz, v);
	fmt_next_refresh(c[FMT_COL_NEXT_REFRESH], sz, v, now);
	snprintf(c[FMT_COL_SERVED], sz, "%llu", v->staples_served);
	snprintf(c[FMT_COL_NO_STAPLE], sz, "%llu", v->status_no_staple);
	if (v->handshakes == 0)
		snprintf(c[FMT_COL_KTLS], sz, "-");
	else
		snprintf(c[FMT_COL_KTLS], sz, "%llu/%llu", v->conns_ktls_tx,
			 v->conns_ktls_rx);
}

/*
 * Column widths from the header and the cells. The default table fits
 * KST_STATUS_COLUMNS: when it would not, the CERT column gives way (not
 * below its header + 8), its long names cut with a '~'.
 */
static void fmt_widths(const struct fmt_row *rows, size_t n, bool wide,
		       int w[FMT_COL__COUNT])
{
	int total = 0, ncols = wide ? FMT_COL_KTLS : FMT_COL__COUNT;

	for (int c = 0; c < FMT_COL__COUNT; c++) {
		w[c] = (int)strlen(fmt_cols[c].head);
		for (size_t i = 0; i < n; i++)
			w[c] = KST_MAX(w[c], (int)strlen(rows[i].cell[c]));
		if (c < ncols)
			total += w[c] + (c ? 2 : 0);
	}
	if (!wide && total > KST_STATUS_COLUMNS)
		w[FMT_COL_CERT] = KST_MAX(
			12, w[FMT_COL_CERT] - (total - KST_STATUS_COLUMNS));
}

static void fmt_cell(FILE *f, int col, int width, const char *text, bool last)
{
	int len = (int)strlen(text);

	if (col > 0)
		fputs("  ", f);
	if (len > width) /* only the CERT column is ever cut */
		fprintf(f, "%.*s~", width - 1, text);
	else if (fmt_cols[col].right)
		fprintf(f, "%*s", width, text);
	else if (last)
		fputs(text, f);
	else
		fprintf(f, "%-*s", width, text);
}

static void fmt_table_rows(FILE *f, const struct kst_status_view *v)
{
	int ncols = v->wide ? FMT_COL_KTLS : FMT_COL__COUNT;
	struct fmt_row *rows =
		calloc(v->n_certs ? v->n_certs : 1, sizeof(*rows));
	int w[FMT_COL__COUNT];

	if (rows == NULL) {
		fprintf(f, "(out of memory)\n");
		return;
	}
	for (size_t i = 0; i < v->n_certs; i++)
		fmt_row_of(&rows[i], &v->certs[i].val, v->now);
	fmt_widths(rows, v->n_certs, v->wide, w);
	for (int c = 0; c < ncols; c++)
		fmt_cell(f, c, w[c], fmt_cols[c].head,
			 !v->wide && c == ncols - 1);
	fputs(v->wide ? "  DATA PATH\n" : "\n", f);
	for (size_t i = 0; i < v->n_certs; i++) {
		for (int c = 0; c < ncols; c++)
			fmt_cell(f, c, w[c], rows[i].cell[c],
				 !v->wide && c == ncols - 1);
		if (v->wide) {
			fputs("  ", f);
			fmt_data_path(f, &v->certs[i].val);
		}
		fputc('\n', f);
	}
	if (v->n_certs == 0)
		fprintf(f, "(no certificates)\n");
	free(rows);
}

/* The certificates' counters added up, for the summary lines. */
static void fmt_cert_totals(const struct kst_status_view *v,
			    struct kst_cert_val *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < v->n_certs; i++) {
		const struct kst_cert_val *c = &v->certs[i].val;

		t->keyupdate_closes += c->keyupdate_closes;
		t->keyupdate_rekeys_rx += c->keyupdate_rekeys_rx;
		t->keyupdate_rekeys_tx += c->keyupdate_rekeys_tx;
		t->keyupdate_flood_closes += c->keyupdate_flood_closes;
		t->conns_userspace += c->conns_userspace;
		for (unsigned s = 0; s < KST_BPF_FALLBACK_SLOTS; s++) {
			__u64 *dst = (__u64 *)&t->ktls_fallback + s;

			*dst += fmt_u64(&c->ktls_fallback, 8 * s);
		}
	}
}

static void fmt_table_global(FILE *f, const struct kst_status_view *v)
{
	const struct kst_global_val *g = v->global;
	char a[32], b[32], up[32], ago[32];
	struct kst_cert_val t;

	fmt_cert_totals(v, &t);
	fprintf(f,
		"connections: %llu accepted, %llu active; backend connect "
		"failures: %llu\n",
		g->conns_accepted, g->conns_active,
		g->backend_connect_failures);
	fprintf(f,
		"handshakes: %llu, %llu resumed; failed: %llu timeout, "
		"%llu protocol, %llu no-cert, %llu other\n",
		g->handshakes, g->hs_resumed, g->hs_fail_timeout,
		g->hs_fail_protocol, g->hs_fail_no_cert, g->hs_fail_other);
	fprintf(f,
		"tickets: %llu issued, %llu refused (unknown key), %llu "
		"refused (expired)\n",
		g->tickets_issued, g->tickets_refused_unknown,
		g->tickets_refused_expired);
	for (size_t i = 0; i < v->n_listeners; i++) {
		const struct kst_listener_val *l = &v->listeners[i];

		fprintf(f,
			"  listener %.*s: handshakes %llu, %llu resumed; "
			"tickets %llu issued, %llu refused (unknown key), "
			"%llu refused (expired)\n",
			(int)sizeof(l->name), l->name, l->handshakes,
			l->hs_resumed, l->tickets_issued,
			l->tickets_refused_unknown, l->tickets_refused_expired);
	}
	fprintf(f,
		"key updates: %llu rx, %llu tx rekeyed; closed: %llu (kernel "
		"cannot rekey), %llu (flood)\n",
		t.keyupdate_rekeys_rx, t.keyupdate_rekeys_tx,
		t.keyupdate_closes, t.keyupdate_flood_closes);
	fprintf(f,
		"relayed: %s ktls, %s userspace; userspace connections: "
		"%llu",
		kst_status_fmt_bytes(a, sizeof(a), g->bytes_ktls),
		kst_status_fmt_bytes(b, sizeof(b), g->bytes_userspace),
		t.conns_userspace);
	if (t.conns_userspace != 0) {
		fputs(" (", f);
		fmt_fallbacks(f, &t.ktls_fallback);
		fputc(')', f);
	}
	fprintf(f, "\nreloads: %llu ok, %llu failed; ", g->reloads_ok,
		g->reloads_failed);
	kst_status_fmt_duration(ago, sizeof(ago), v->now - g->flushed_at);
	switch (kst_status_daemon(g, v->now)) {
	case KST_STATUS_DAEMON_STOPPED:
		fprintf(f, "pid %u stopped %s ago, after %s up\n", g->pid, ago,
			kst_status_fmt_duration(up, sizeof(up),
						g->flushed_at - g->started_at));
		break;
	case KST_STATUS_DAEMON_GONE:
		fprintf(f, "pid %u, %u %s, last flush %s ago\n", g->pid,
			g->workers, g->workers == 1 ? "worker" : "workers",
			g->flushed_at ? ago : "never");
		break;
	default:
		fprintf(f, "pid %u, %u %s, up %s, flushed %s ago\n", g->pid,
			g->workers, g->workers == 1 ? "worker" : "workers",
			kst_status_fmt_duration(up, sizeof(up),
						v->now - g->started_at),
			ago);
	}
}

/* First, when the daemon does not run: the rows are its last values. */
static void fmt_table_daemon(FILE *f, const struct kst_global_val *g,
			     time_t now)
{
	char ago[32];

	kst_status_fmt_duration(ago, sizeof(ago), now - g->flushed_at);
	switch (kst_status_daemon(g, now)) {
	case KST_STATUS_DAEMON_STOPPED:
		fprintf(f,
			"daemon: stopped: kstapled (pid %u) stopped %s ago;\n"
			"  below are its last values, nothing is served\n",
			g->pid, ago);
		break;
	case KST_STATUS_DAEMON_GONE:
		if (g->flushed_at == 0)
			fprintf(f, "daemon: gone: the maps were never flushed: "
				   "is kstapled running?\n");
		else
			fprintf(f,
				"daemon: gone: kstapled (pid %u) has not "
				"flushed the maps for %s (it does every "
				"second):\n  killed, crashed or hung; below "
				"are its last values\n",
				g->pid, ago);
		break;
	default:
		break;
	}
}

static void fmt_table_kernel(FILE *f, const struct kst_global_val *g)
{
	const struct kst_tls_stat_snap *t = &g->tls_stat;

	if (!g->tls_stat_present) {
		fprintf(f,
			"kernel tls: not available (no /proc/net/tls_stat)\n");
		return;
	}
	fprintf(f,
		"kernel tls now: %llu tx, %llu rx sw; %llu tx, %llu rx "
		"device\n",
		t->curr_tx_sw, t->curr_rx_sw, t->curr_tx_device,
		t->curr_rx_device);
	fprintf(f,
		"kernel tls total: %llu tx, %llu rx sw; %llu tx, %llu rx "
		"device; %llu decrypt errors\n",
		t->tx_sw, t->rx_sw, t->tx_device, t->rx_device,
		t->decrypt_error);
}

static void fmt_table_attention(FILE *f, const struct kst_status_view *v)
{
	char name[KST_BPF_NAME_LEN + 1];
	const char *sep = "attention: ";

	for (size_t i = 0; i < v->n_certs; i++) {
		const struct kst_cert_val *c = &v->certs[i].val;
		enum kst_staple_state s = kst_metrics_state_at(c, v->now);

		if (!kst_status_cert_bad(c, v->now))
			continue;
		fprintf(f, "%s%s %s%s", sep,
			fmt_fixed(name, sizeof(name), c->name, sizeof(c->name)),
			fmt_state_name(s),
			s == KST_STAPLE_MISSING || s == KST_STAPLE_STALE
				? " (must-staple)"
				: "");
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc('\n', f);
}

void kst_status_render_table(FILE *f, const struct kst_status_view *v)
{
	fmt_table_daemon(f, v->global, v->now);
	fmt_table_rows(f, v);
	fputc('\n', f);
	fmt_table_global(f, v);
	fmt_table_kernel(f, v->global);
	fmt_table_attention(f, v);
}

/* ------------------------------------------------------------- JSON */

/*
 * A listing of 100,000 certificates is about 140 MB of JSON: numbers and
 * keys are written without printf (which was half of `status --json`'s
 * time) and the stream is locked once (kst_status_render_json).
 */
static void fmt_json_u64(FILE *f, unsigned long long v, bool neg)
{
	char buf[24], *p = buf + sizeof(buf);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (neg)
		*--p = '-';
	fwrite_unlocked(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

static void fmt_json_s64(FILE *f, long long v)
{
	fmt_json_u64(
		f, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v,
		v < 0);
}

static void fmt_json_str(FILE *f, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";

	fputc_unlocked('"', f);
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			fputc_unlocked('\\', f);
			fputc_unlocked(ch, f);
		} else if (ch < 0x20 || ch >= 0x7f) {
			fputs_unlocked("\\u00", f);
			fputc_unlocked(hex[ch >> 4], f);
			fputc_unlocked(hex[ch & 15], f);
		} else {
			fputc_unlocked(ch, f);
		}
	}
	fputc_unlocked('"', f);
}

/* ,"NAME_rfc3339":"2026-11-21T10:13:20Z" (null for 0: none) */
static void fmt_json_rfc3339(FILE *f, const char *name, long long t)
{
	char buf[40];
	struct tm tm;
	time_t tt = (time_t)t;

	fputs_unlocked(",\"", f);
	fputs_unlocked(name, f);
	fputs_unlocked("_rfc3339\":", f);
	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm) == 0)
		fputs_unlocked("null", f);
	else
		fputs_unlocked(buf, f);
}

static void fmt_json_value(FILE *f, const void *base,
			   const struct fmt_field *fd)
{
	const char *p = (const char *)base + fd->off;

	switch (fd->kind) {
	case FMT_STR:
		fmt_json_str(f, p, fd->size);
		break;
	case FMT_U32:
		fmt_json_u64(f, fmt_u32(base, fd->off), false);
		break;
	case FMT_BOOL:
		fputs_unlocked(fmt_u32(base, fd->off) ? "true" : "false", f);
		break;
	case FMT_TIME:
		fmt_json_s64(f, fmt_s64(base, fd->off));
		fmt_json_rfc3339(f, fd->name, fmt_s64(base, fd->off));
		break;
	case FMT_S64:
		fmt_json_s64(f, fmt_s64(base, fd->off));
		break;
	case FMT_U64:
		fmt_json_u64(f, fmt_u64(base, fd->off), false);
		break;
	case FMT_STATE:
		fmt_json_str(f, fmt_state_name(fmt_u32(base, fd->off)), 32);
		break;
	case FMT_POLICY: {
		const char *name =
			kst_metrics_policy_name(fmt_u32(base, fd->off));

		fmt_json_str(f, name != NULL ? name : "?", 32);
		break;
	}
	case FMT_FALLBACK:
		fputc('{', f);
		fmt_json_fields(f, p, fmt_fallback_fields,
				KST_ARRAY_SIZE(fmt_fallback_fields));
		fputc('}', f);
		break;
	case FMT_TLS_STAT:
		fputc('{', f);
		fmt_json_fields(f, p, fmt_tls_fields,
				KST_ARRAY_SIZE(fmt_tls_fields));
		fputc('}', f);
		break;
	}
}

/* "field":value,... (no braces) */
static void fmt_json_fields(FILE *f, const void *base,
			    const struct fmt_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs_unlocked(i ? ",\"" : "\"", f);
		fputs_unlocked(fields[i].name, f);
		fputs_unlocked("\":", f);
		fmt_json_value(f, base, &fields[i]);
	}
}

static void fmt_json_cert(FILE *f, const struct kst_status_cert *c, time_t now)
{
	fputc('{', f);
	fmt_json_fields(f, &c->val, fmt_cert_fields,
			KST_ARRAY_SIZE(fmt_cert_fields));
	fputs(",\"state_now\":", f);
	fmt_json_str(f, fmt_state_name(kst_metrics_state_at(&c->val, now)), 32);
	fprintf(f, ",\"bad\":%s}",
		kst_status_cert_bad(&c->val, now) ? "true" : "false");
}

void kst_status_render_json(FILE *f, const struct kst_status_view *v)
{
	flockfile(f); /* once: the writers below are the _unlocked ones */
	fprintf(f, "{\"now\":%lld", (long long)v->now);
	fmt_json_rfc3339(f, "now", (long long)v->now);
	fputs(",\"certs\":[", f);
	for (size_t i = 0; i < v->n_certs; i++) {
		fputs(i ? ",\n" : "\n", f);
		fmt_json_cert(f, &v->certs[i], v->now);
	}
	fputs("\n],\"global\":{", f);
	fmt_json_fields(f, v->global, fmt_global_fields,
			KST_ARRAY_SIZE(fmt_global_fields));
	fputs("},\"listeners\":[", f);
	for (size_t i = 0; i < v->n_listeners; i++) {
		fputs(i ? ",\n{" : "\n{", f);
		fmt_json_fields(f, &v->listeners[i], fmt_listener_fields,
				KST_ARRAY_SIZE(fmt_listener_fields));
		fputc('}', f);
	}
	fprintf(f, "%s],\"daemon\":\"%s\",\"exit\":%d}\n",
		v->n_listeners ? "\n" : "",
		kst_status_daemon_name(kst_status_daemon(v->global, v->now)),
		kst_status_exit_code(v));
	funlockfile(f);
}

/* ------------------------------------------------------- Prometheus */

static void fmt_prom_label(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fprintf(f, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else
			fputc(s[i], f);
	}
}

static void fmt_prom_head(FILE *f, const char *name, const char *type,
			  const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{cert="...",sha256="..."[,lkey="lval"]} value */
static void fmt_prom_cert(FILE *f, const char *name,
			  const struct kst_status_cert *c, const char *lkey,
			  const char *lval, const char *value)
{
	char hex[2 * sizeof(c->key.sha256) + 1];

	kst_hex(hex, c->key.sha256, sizeof(c->key.sha256));
	fprintf(f, "%s{cert=\"", name);
	fmt_prom_label(f, c->val.name, sizeof(c->val.name));
	fprintf(f, "\",sha256=\"%s\"", hex);
	if (lkey != NULL) {
		fprintf(f, ",%s=\"", lkey);
		fmt_prom_label(f, lval, KST_BPF_NAME_LEN);
		fputc('"', f);
	}
	fprintf(f, "} %s\n", value);
}

static void fmt_prom_field(FILE *f, const struct kst_status_view *v,
			   const struct fmt_prom *m)
{
	char value[32];

	fmt_prom_head(f, m->name, m->type, m->help);
	for (size_t i = 0; i < v->n_certs; i++) {
		const void *base = &v->certs[i].val;

		if (m->kind == FMT_S64 || m->kind == FMT_TIME)
			snprintf(value, sizeof(value), "%lld",
				 fmt_s64(base, m->off));
		else if (m->kind == FMT_U32)
			snprintf(value, sizeof(value), "%u",
				 fmt_u32(base, m->off));
		else
			snprintf(value, sizeof(value), "%llu",
				 fmt_u64(base, m->off));
		fmt_prom_cert(f, m->name, &v->certs[i], NULL, NULL, value);
	}
}

static void fmt_prom_info(FILE *f, const struct kst_status_view *v)
{
	const char *m = "kstapled_cert_info";

	fmt_prom_head(f, m, "gauge",
		      "Certificate exported by kstapled (always 1).");
	for (size_t i = 0; i < v->n_certs; i++) {
		const struct kst_cert_val *c = &v->certs[i].val;
		const char *policy = kst_metrics_policy_name(c->policy);
		char hex[2 * sizeof(v->certs[i].key.sha256) + 1];

		kst_hex(hex, v->certs[i].key.sha256, sizeof(hex) / 2);
		fprintf(f, "%s{cert=\"", m);
		fmt_prom_label(f, c->name, sizeof(c->name));
		fprintf(f, "\",sha256=\"%s\",subject_cn=\"", hex);
		fmt_prom_label(f, c->subject_cn, sizeof(c->subject_cn));
		fprintf(f, "\",policy=\"%s\",must_staple=\"%u\"} 1\n",
			policy != NULL ? policy : "?", c->must_staple);
	}
}

/* One series per state, 1 for the state as of now (an enum gauge). */
static void fmt_prom_state(FILE *f, const struct kst_status_view *v)
{
	const char *m = "kstapled_staple_state";

	fmt_prom_head(f, m, "gauge",
		      "Staple state as of the report: 1 for the current one.");
	for (size_t i = 0; i < v->n_certs; i++) {
		enum kst_staple_state now =
			kst_metrics_state_at(&v->certs[i].val, v->now);

		for (int s = 0; s < KST_STAPLE__COUNT; s++)
			fmt_prom_cert(f, m, &v->certs[i], "state",
				      fmt_state_name(s),
				      (int)now == s ? "1" : "0");
	}
}

static void fmt_prom_derived(FILE *f, const struct kst_status_view *v)
{
	const char *ttl = "kstapled_staple_seconds_to_next_update";
	const char *bad = "kstapled_cert_bad";
	char value[32];

	fmt_prom_head(f, ttl, "gauge",
		      "Seconds until the staple's nextUpdate as of the "
		      "report (0 once expired or none).");
	for (size_t i = 0; i < v->n_certs; i++) {
		snprintf(value, sizeof(value), "%lld",
			 (long long)kst_metrics_secs_to_next_update(
				 v->certs[i].val.next_update, v->now));
		fmt_prom_cert(f, ttl, &v->certs[i], NULL, NULL, value);
	}
	fmt_prom_head(f, bad, "gauge",
		      "1 when the certificate needs attention (expired, "
		      "revoked, or without a staple under must-staple).");
	for (size_t i = 0; i < v->n_certs; i++)
		fmt_prom_cert(f, bad, &v->certs[i], NULL, NULL,
			      kst_status_cert_bad(&v->certs[i].val, v->now)
				      ? "1"
				      : "0");
}

static void fmt_prom_last_error(FILE *f, const struct kst_status_view *v)
{
	const char *m = "kstapled_ocsp_last_error";
	char value[16], name[KST_BPF_ERRNAME_LEN + 1];

	fmt_prom_head(f, m, "gauge",
		      "Code of the last OCSP fetch or ingest outcome "
		      "(0 = ok), named by the error label.");
	for (size_t i = 0; i < v->n_certs; i++) {
		const struct kst_cert_val *c = &v->certs[i].val;

		fmt_fixed(name, sizeof(name), c->last_error_name,
			  sizeof(c->last_error_name));
		snprintf(value, sizeof(value), "%u", c->last_error);
		fmt_prom_cert(f, m, &v->certs[i], "error", name, value);
	}
}

static void fmt_prom_paths(FILE *f, const struct kst_status_view *v)
{
	const char *conns = "kstapled_cert_connections_total";
	const char *bytes = "kstapled_cert_relayed_bytes_total";
	char value[32];

	fmt_prom_head(f, conns, "counter",
		      "Connections by data path (ktls_* and device_* per "
		      "direction in the kernel or NIC; userspace relayed).");
	for (size_t i = 0; i < v->n_certs; i++)
		for (size_t p = 0; p < KST_ARRAY_SIZE(fmt_paths); p++) {
			snprintf(value, sizeof(value), "%llu",
				 fmt_u64(&v->certs[i].val, fmt_paths[p].off));
			fmt_prom_cert(f, conns, &v->certs[i], "path",
				      fmt_paths[p].label, value);
		}
	fmt_prom_head(f, bytes, "counter", "Bytes relayed by data path.");
	for (size_t i = 0; i < v->n_certs; i++) {
		snprintf(value, sizeof(value), "%llu",
			 v->certs[i].val.bytes_ktls);
		fmt_prom_cert(f, bytes, &v->certs[i], "path", "ktls", value);
		snprintf(value, sizeof(value), "%llu",
			 v->certs[i].val.bytes_userspace);
		fmt_prom_cert(f, bytes, &v->certs[i], "path", "userspace",
			      value);
	}
}

static void fmt_prom_labelled(FILE *f, const struct kst_status_view *v,
			      const struct fmt_prom_labelled *m)
{
	char value[32];

	fmt_prom_head(f, m->name, "counter", m->help);
	for (size_t i = 0; i < v->n_certs; i++)
		for (size_t j = 0; j < KST_ARRAY_SIZE(m->v); j++) {
			snprintf(value, sizeof(value), "%llu",
				 fmt_u64(&v->certs[i].val, m->v[j].off));
			fmt_prom_cert(f, m->name, &v->certs[i], m->lkey,
				      m->v[j].lval, value);
		}
}

static void fmt_prom_fallbacks(FILE *f, const struct kst_status_view *v)
{
	const char *m = "kstapled_cert_ktls_fallbacks_total";
	char value[32];

	fmt_prom_head(f, m, "counter",
		      "Connection directions left in userspace, by reason.");
	for (size_t i = 0; i < v->n_certs; i++)
		for (unsigned r = 0; r < KST_BPF_FALLBACK_SLOTS; r++) {
			snprintf(
				value, sizeof(value), "%llu",
				fmt_u64(&v->certs[i].val.ktls_fallback, 8 * r));
			fmt_prom_cert(f, m, &v->certs[i], "reason",
				      kst_metrics_fallback_slot_name(r), value);
		}
}

static void fmt_prom_scalar(FILE *f, const char *name, const char *type,
			    const char *help, const char *label,
			    long long value)
{
	if (help != NULL)
		fmt_prom_head(f, name, type, help);
	if (label != NULL)
		fprintf(f, "%s{%s} %lld\n", name, label, value);
	else
		fprintf(f, "%s %lld\n", name, value);
}

static void fmt_prom_global(FILE *f, const struct kst_global_val *g)
{
	const char *hs = "kstapled_handshake_failures_total";
	const char *by = "kstapled_relayed_bytes_total";
	const char *rl = "kstapled_reloads_total";
	const char *tr = "kstapled_session_tickets_refused_total";

	fmt_prom_scalar(f, "kstapled_start_time_seconds", "gauge",
			"When the daemon started (unix seconds).", NULL,
			g->started_at);
	fmt_prom_scalar(f, "kstapled_last_flush_seconds", "gauge",
			"When the daemon last wrote these metrics (unix "
			"seconds).",
			NULL, g->flushed_at);
	fmt_prom_scalar(f, "kstapled_certificates", "gauge",
			"Certificates in the current generation.", NULL,
			g->certs);
	fmt_prom_scalar(f, "kstapled_workers", "gauge", "Worker threads.", NULL,
			g->workers);
	fmt_prom_scalar(f, "kstapled_connections_accepted_total", "counter",
			"Connections accepted.", NULL,
			(long long)g->conns_accepted);
	fmt_prom_scalar(f, "kstapled_connections_active", "gauge",
			"Connections open.", NULL, (long long)g->conns_active);
	fmt_prom_scalar(f, hs, "counter", "Failed handshakes, by class.",
			"class=\"timeout\"", (long long)g->hs_fail_timeout);
	fmt_prom_scalar(f, hs, NULL, NULL, "class=\"protocol\"",
			(long long)g->hs_fail_protocol);
	fmt_prom_scalar(f, hs, NULL, NULL, "class=\"no_cert\"",
			(long long)g->hs_fail_no_cert);
	fmt_prom_scalar(f, hs, NULL, NULL, "class=\"other\"",
			(long long)g->hs_fail_other);
	fmt_prom_scalar(f, "kstapled_handshakes_total", "counter",
			"Handshakes completed, every listener and certificate.",
			NULL, (long long)g->handshakes);
	fmt_prom_scalar(f, "kstapled_handshakes_resumed_total", "counter",
			"Of those, handshakes that resumed a session.", NULL,
			(long long)g->hs_resumed);
	fmt_prom_scalar(f, "kstapled_session_tickets_issued_total", "counter",
			"Session tickets issued, every listener and "
			"certificate.",
			NULL, (long long)g->tickets_issued);
	fmt_prom_scalar(f, tr, "counter",
			"Session tickets refused, every listener and "
			"certificate, by reason.",
			"reason=\"unknown\"",
			(long long)g->tickets_refused_unknown);
	fmt_prom_scalar(f, tr, NULL, NULL, "reason=\"expired\"",
			(long long)g->tickets_refused_expired);
	fmt_prom_scalar(f, "kstapled_backend_connect_failures_total", "counter",
			"Failed connections to a backend.", NULL,
			(long long)g->backend_connect_failures);
	fmt_prom_scalar(f, by, "counter", "Bytes relayed, by data path.",
			"path=\"ktls\"", (long long)g->bytes_ktls);
	fmt_prom_scalar(f, by, NULL, NULL, "path=\"userspace\"",
			(long long)g->bytes_userspace);
	fmt_prom_scalar(f, rl, "counter", "Configuration reloads, by result.",
			"result=\"ok\"", (long long)g->reloads_ok);
	fmt_prom_scalar(f, rl, NULL, NULL, "result=\"failed\"",
			(long long)g->reloads_failed);
}

/* The listeners' counters, labelled listener="NAME". */
static void fmt_prom_listeners(FILE *f, const struct kst_status_view *v)
{
	static const struct {
		const char *name, *help, *reason;
		size_t off;
	} m[] = {
		{"kstapled_listener_handshakes_total",
		 "Handshakes completed on the listener.", NULL,
		 offsetof(struct kst_listener_val, handshakes)},
		{"kstapled_listener_handshakes_resumed_total",
		 "Of those, handshakes that resumed a session.", NULL,
		 offsetof(struct kst_listener_val, hs_resumed)},
		{"kstapled_listener_tickets_issued_total",
		 "Session tickets the listener issued.", NULL,
		 offsetof(struct kst_listener_val, tickets_issued)},
		{"kstapled_listener_tickets_refused_total",
		 "Session tickets the listener refused, by reason.", "unknown",
		 offsetof(struct kst_listener_val, tickets_refused_unknown)},
		{"kstapled_listener_tickets_refused_total", NULL, "expired",
		 offsetof(struct kst_listener_val, tickets_refused_expired)},
	};

	if (v->n_listeners == 0)
		return;
	for (size_t k = 0; k < KST_ARRAY_SIZE(m); k++) {
		if (m[k].help != NULL)
			fmt_prom_head(f, m[k].name, "counter", m[k].help);
		for (size_t i = 0; i < v->n_listeners; i++) {
			const struct kst_listener_val *l = &v->listeners[i];

			fprintf(f, "%s{listener=\"", m[k].name);
			fmt_prom_label(f, l->name, sizeof(l->name));
			if (m[k].reason != NULL)
				fprintf(f, "\",reason=\"%s", m[k].reason);
			fprintf(f, "\"} %llu\n", fmt_u64(l, m[k].off));
		}
	}
}

/* /proc/net/tls_stat: gauges for the Curr* fields, counters for the rest. */
static void fmt_prom_kernel(FILE *f, const struct kst_global_val *g)
{
	const char *cur = "kstapled_kernel_tls_current";
	const char *tot = "kstapled_kernel_tls_total";
	char label[48];

	if (!g->tls_stat_present)
		return;
	for (size_t i = 0; i < KST_ARRAY_SIZE(fmt_tls_fields); i++) {
		bool curr = i < 4;

		snprintf(label, sizeof(label), "stat=\"%s\"",
			 fmt_tls_kernel_names[i]);
		fmt_prom_scalar(
			f, curr ? cur : tot, curr ? "gauge" : "counter",
			i == 0	 ? "kTLS sockets now, from /proc/net/tls_stat."
			: i == 4 ? "kTLS totals, from /proc/net/tls_stat."
				 : NULL,
			label,
			(long long)fmt_u64(&g->tls_stat,
					   fmt_tls_fields[i].off));
	}
}

void kst_status_render_prometheus(FILE *f, const struct kst_status_view *v)
{
	fmt_prom_info(f, v);
	fmt_prom_state(f, v);
	fmt_prom_derived(f, v);
	for (size_t i = 0; i < KST_ARRAY_SIZE(fmt_prom_cert_metrics); i++)
		fmt_prom_field(f, v, &fmt_prom_cert_metrics[i]);
	for (size_t i = 0; i < KST_ARRAY_SIZE(fmt_prom_labelled_metrics); i++)
		fmt_prom_labelled(f, v, &fmt_prom_labelled_metrics[i]);
	fmt_prom_last_error(f, v);
	fmt_prom_paths(f, v);
	fmt_prom_fallbacks(f, v);
	fmt_prom_global(f, v->global);
	fmt_prom_listeners(f, v);
	fmt_prom_kernel(f, v->global);
}
