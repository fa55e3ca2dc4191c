// SPDX-License-Identifier: MIT
/*
 * `kstapled status` output from a fixed set of map values: the table, the
 * JSON and the Prometheus text are the output contract, so they are
 * compared with golden strings or checked line by line; the exit status
 * decides whether a monitoring check alerts. No BPF here: reading real pins
 * is tested in test_metrics.c.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/metrics/metrics_state.h"
#include "daemon/metrics/status.h"
#include "daemon/metrics/status_fmt.h"
#include "daemon/base/util.h"

#define NOW 1763720000LL

static void fixture_fresh(struct kst_status_cert *c)
{
	struct kst_cert_val *a = &c->val;

	for (int i = 0; i < 32; i++)
		c->key.sha256[i] = (unsigned char)i;
	strcpy(a->name, "example.com.ecdsa");
	strcpy(a->subject_cn, "example.com");
	a->state = KST_STAPLE_FRESH;
	a->policy = KST_BPF_POLICY_LENIENT;
	a->last_http_status = 200;
	strcpy(a->last_error_name, "ok");
	a->not_after = NOW + 60 * 86400;
	a->this_update = NOW - 3600;
	a->next_update = NOW + 3 * 86400 + 4 * 3600 + 120;
	a->produced_at = NOW - 3600;
	a->fetched_at = NOW - 3500;
	a->last_fetch_at = NOW - 3500;
	a->next_refresh = NOW + 2 * 3600 + 59;
	a->secs_to_next_update = a->next_update - (NOW - 1);
	a->flushed_at = NOW - 1;
	a->fetch_successes = 4;
	a->handshakes = 123;
	a->staples_served = 120;
	a->status_no_staple = 3;
	a->conns_ktls_tx = 120;
	a->conns_ktls_rx = 118;
	a->conns_userspace = 3;
	a->ktls_fallback.no_kernel = 3;
	a->hs_resumed = 40;
	a->tickets_issued = 80;
	a->tickets_refused_unknown = 9;
	a->tickets_refused_expired = 8;
	a->keyupdate_rekeys_rx = 12;
	a->keyupdate_rekeys_tx = 11;
	a->keyupdate_closes = 2;
	a->keyupdate_flood_closes = 1;
	a->bytes_ktls = 5u << 20;
	a->bytes_userspace = 2048;
}

/* must-staple, refresh failing with HTTP 503, nextUpdate in 12m30s */
static void fixture_stale(struct kst_status_cert *c)
{
	struct kst_cert_val *b = &c->val;

	for (int i = 0; i < 32; i++)
		c->key.sha256[i] = (unsigned char)(0xff - i);
	strcpy(b->name, "api \"rsa\"");
	strcpy(b->subject_cn, "api.example.com");
	b->state = KST_STAPLE_STALE;
	b->policy = KST_BPF_POLICY_MUST_STAPLE;
	b->must_staple = 1;
	b->fetch_consecutive_failures = 3;
	b->last_http_status = 503;
	b->last_error = 66;
	strcpy(b->last_error_name, "http");
	b->not_after = NOW + 30 * 86400;
	b->this_update = NOW - 5 * 86400;
	b->next_update = NOW + 12 * 60 + 30;
	b->next_refresh = NOW + 300;
	b->flushed_at = NOW - 1;
	b->fetch_successes = 2;
	b->fetch_failures = 3;
	b->handshakes = 10;
	b->staples_served = 10;
	b->conns_ktls_tx = 10;
	b->conns_ktls_rx = 10;
	b->conns_device_tx = 4;
}

/* fresh when last flushed two hours ago; nextUpdate passed 5m ago */
static void fixture_old(struct kst_status_cert *c)
{
	struct kst_cert_val *d = &c->val;

	memset(c->key.sha256, 0x11, sizeof(c->key.sha256));
	strcpy(d->name, "old");
	d->state = KST_STAPLE_FRESH;
	d->policy = KST_BPF_POLICY_LENIENT;
	d->last_error = 5;
	strcpy(d->last_error_name, "signature");
	d->fetch_consecutive_failures = 1;
	d->fetch_failures = 1;
	d->this_update = NOW - 8 * 86400;
	d->next_update = NOW - 5 * 60;
	d->next_refresh = NOW - 3 * 3600;
	d->flushed_at = NOW - 7200;
}

static void fixture_global(struct kst_global_val *g)
{
	memset(g, 0, sizeof(*g));
	g->started_at = NOW - 86400 - 3 * 3600;
	g->flushed_at = NOW - 1;
	g->pid = 4242;
	g->workers = 2;
	g->certs = 3;
	g->conns_accepted = 140;
	g->conns_active = 5;
	g->hs_fail_timeout = 1;
	g->hs_fail_protocol = 2;
	g->bytes_ktls = 5u << 20;
	g->bytes_userspace = 2048;
	g->reloads_ok = 1;
	/* process-wide: more than the certificates' sums (a reload removed
	 * a certificate that had counted), so the summary shows these */
	g->handshakes = 150;
	g->hs_resumed = 41;
	g->tickets_issued = 81;
	g->tickets_refused_unknown = 10;
	g->tickets_refused_expired = 7;
}

static struct kst_status_cert certs[3];
static struct kst_global_val global;

/* The three certificates, in the order `status` reads them back. */
static struct kst_status_view fixture(void)
{
	memset(certs, 0, sizeof(certs));
	fixture_old(&certs[0]);
	fixture_fresh(&certs[1]);
	fixture_stale(&certs[2]);
	fixture_global(&global);
	for (int i = 0; i < 3; i++) /* as kst_status_read fills it */
		kst_metrics_fingerprint(certs[i].val.sha256,
					certs[i].key.sha256);
	kst_status_sort(certs, 3);
	return (struct kst_status_view){certs, 3, &global, NOW};
}

/* What a renderer writes, as a malloc'd string. */
static char *render(void (*fn)(FILE *, const struct kst_status_view *),
		    const struct kst_status_view *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	fn(f, v);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

struct dur_case {
	long long secs;
	char want[16]; /* no pointers: criterion re-executes the binary */
};

/* clang-format off */
static struct dur_case dur_cases[] = {
	{ 0, "0s" },           { 59, "59s" },          { 60, "1m" },
	{ 119, "1m" },         { 3599, "59m" },        { 3600, "1h" },
	{ 3660, "1h 1m" },     { 86399, "23h 59m" },   { 86400, "1d" },
	{ 90000, "1d 1h" },    { 3 * 86400 + 4 * 3600 + 120, "3d 4h" },
	{ 400 * 86400, "400d" }, { -300, "5m" },
};
/* clang-format on */

ParameterizedTestParameters(status, formats_durations_in_two_units)
{
	return cr_make_param_array(struct dur_case, dur_cases,
				   KST_ARRAY_SIZE(dur_cases));
}

ParameterizedTest(struct dur_case *c, status, formats_durations_in_two_units)
{
	char buf[32];

	cr_assert_str_eq(kst_status_fmt_duration(buf, sizeof(buf), c->secs),
			 c->want, "%lld seconds", c->secs);
}

Test(status, formats_byte_counts_in_binary_units)
{
	char buf[32];

	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 0), "0 B");
	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 1023),
			 "1023 B");
	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 1024),
			 "1.0 KiB");
	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 1536),
			 "1.5 KiB");
	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 5u << 20),
			 "5.0 MiB");
	cr_assert_str_eq(kst_status_fmt_bytes(buf, sizeof(buf), 3ull << 40),
			 "3.0 TiB");
}

static const char table_golden[] =
	"CERT               STATE    NEXT UPDATE  LAST FETCH     NEXT REFRE"
	"SH  SERVED  NO STAPLE  KTLS TX/RX\n"
	"api \"rsa\"          stale    12m          http 503 (x3)  in 5m   "
	"          10          0       10/10\n"
	"example.com.ecdsa  fresh    3d 4h        ok             in 2h     "
	"       120          3     120/118\n"
	"old                expired  5m ago       signature      overdue 3h"
	"         0          0           -\n"
	"\n"
	"connections: 140 accepted, 5 active; backend connect failures: 0\n"
	"handshakes: 150, 41 resumed; failed: 1 timeout, 2 protocol, 0 no-c"
	"ert, 0 other\n"
	"tickets: 81 issued, 10 refused (unknown key), 7 refused (expired)\n"
	"key updates: 12 rx, 11 tx rekeyed; closed: 2 (kernel cannot rekey)"
	", 1 (flood)\n"
	"relayed: 5.0 MiB ktls, 2.0 KiB userspace; userspace connections: 3"
	" (no-kernel 3)\n"
	"reloads: 1 ok, 0 failed; pid 4242, 2 workers, up 1d 3h, flushed 1s"
	" ago\n"
	"kernel tls: not available (no /proc/net/tls_stat)\n"
	"attention: api \"rsa\" stale (must-staple), old expired\n";

Test(status, renders_the_table_a_person_reads)
{
	struct kst_status_view v = fixture();
	char *out = render(kst_status_render_table, &v);

	cr_assert_str_eq(out, table_golden, "got:\n%s", out);
	free(out);
}

/* The longest line of text, in columns (ASCII). */
static size_t widest_line(const char *text)
{
	size_t w = 0;

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		w = n > w ? n : w;
		p += n + (p[n] == '\n');
	}
	return w;
}

Test(status, table_fits_100_columns_and_cuts_only_a_long_name)
{
	struct kst_status_view v = fixture();
	char *out;

	cr_assert_leq(widest_line(table_golden), KST_STATUS_COLUMNS);
	strcpy(certs[1].val.name, "a-rather-long-certificate-name-of-"
				  "the-fleet.example.ecdsa.pem");
	certs[1].val.conns_ktls_tx = 1234567;
	out = render(kst_status_render_table, &v);
	cr_assert_leq(widest_line(out), KST_STATUS_COLUMNS, "%s", out);
	cr_assert_not_null(strstr(out, "\na-rather-long-c"), "%s", out);
	cr_assert_not_null(strstr(out, "~  fresh"), "cut with '~': %s", out);
	cr_assert_not_null(strstr(out, "1234567/118\n"), "%s", out);
	free(out);
}

static void squeeze(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++)
		if (!(*p == ' ' && o > s && o[-1] == ' '))
			*o++ = *p;
	*o = '\0';
}

/* The README's sample is real output: its header is the one printed. */
Test(status, readme_sample_has_the_table_as_printed)
{
	const char *src = getenv("KST_SRCDIR");
	struct kst_status_view v = fixture();
	char path[4096], *out, *nl;
	FILE *f;
	char *readme = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/README.md", src ? src : ".");
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s", path);
	cr_assert_geq(getdelim(&readme, &len, '\0', f), 0);
	fclose(f);
	out = render(kst_status_render_table, &v);
	nl = strchr(out, '\n');
	*nl = '\0';
	/* widths follow the contents: compare with runs of blanks as one */
	squeeze(out);
	squeeze(readme);
	cr_assert_not_null(strstr(readme, out), "README lacks '%s'", out);
	cr_assert_not_null(strstr(readme, "\nconnections: "), "summary");
	free(out);
	free(readme);
}

Test(status, wide_table_shows_every_column_and_the_whole_name)
{
	struct kst_status_view v = fixture();
	char *out;

	strcpy(certs[1].val.name, "a-rather-long-certificate-name-of-"
				  "the-fleet.example.ecdsa.pem");
	v.wide = true;
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "  NO STAPLE  DATA PATH\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\na-rather-long-certificate-name-of-"
				       "the-fleet.example.ecdsa.pem  fresh"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "  ktls 120/123 tx, 118 rx; user 3 "
				       "(no-kernel 3); resumed 40; tickets 80, "
				       "refused 9 unknown, 8 expired; rekeys "
				       "12 rx, 11 tx\n"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "  ktls 10/10 tx, 10 rx; nic 4 tx, 0 "
				       "rx\n"),
			   "%s", out);
	free(out);
}

Test(status, says_1_worker_not_1_workers)
{
	struct kst_status_view v = fixture();
	char *out;

	global.workers = 1;
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "pid 4242, 1 worker, up"), "%s", out);
	free(out);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(status, table_says_gone_when_the_daemon_stopped_flushing)
{
	struct kst_status_view v = fixture();
	char *out;

	global.flushed_at = NOW - 3600;
	out = render(kst_status_render_table, &v);
	cr_assert(starts_with(out, "daemon: gone: kstapled (pid 4242) has not "
				   "flushed the maps for 1h (it does every "
				   "second):\n  killed, crashed or hung"),
		  "got:\n%s", out);
	cr_assert_not_null(strstr(out, "last flush 1h ago"), "%s", out);
	cr_assert_null(strstr(out, " up "), "%s", out);
	cr_assert_eq(kst_status_exit_code(&v), KST_STATUS_EXIT_GONE);
	free(out);
	global.flushed_at = 0;
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "were never flushed"), "%s", out);
	cr_assert_eq(kst_status_exit_code(&v), KST_STATUS_EXIT_GONE);
	free(out);
	/* ten flush periods late is still running; eleven is gone */
	global.flushed_at = NOW - KST_STATUS_GONE_SECS;
	cr_assert_eq(kst_status_daemon(&global, NOW),
		     KST_STATUS_DAEMON_RUNNING);
	global.flushed_at = NOW - KST_STATUS_GONE_SECS - 1;
	cr_assert_eq(kst_status_daemon(&global, NOW), KST_STATUS_DAEMON_GONE);
}

Test(status, a_clean_stop_reads_as_stopped_in_table_and_json)
{
	struct kst_status_view v = fixture();
	char *out;

	global.workers = 0; /* kst_export_stop */
	global.flushed_at = NOW - 300;
	out = render(kst_status_render_table, &v);
	cr_assert(starts_with(out, "daemon: stopped: kstapled (pid 4242) "
				   "stopped 5m ago;\n  below are its last "
				   "values, nothing is served\n"),
		  "got:\n%s", out);
	cr_assert_not_null(
		strstr(out, "pid 4242 stopped 5m ago, after 1d 2h up"), "%s",
		out);
	free(out);
	out = render(kst_status_render_json, &v);
	cr_assert_not_null(strstr(out, "\"daemon\":\"stopped\",\"exit\":3}\n"),
			   "%s", out);
	free(out);
	cr_assert_eq(kst_status_exit_code(&v), KST_STATUS_EXIT_STOPPED);
}

Test(status, table_shows_kernel_tls_counters_when_present)
{
	struct kst_status_view v = fixture();
	char *out;

	global.tls_stat_present = 1;
	global.tls_stat.curr_tx_sw = 7;
	global.tls_stat.curr_rx_sw = 6;
	global.tls_stat.tx_sw = 70;
	global.tls_stat.rx_sw = 60;
	global.tls_stat.decrypt_error = 1;
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "kernel tls now: 7 tx, 6 rx sw; 0 tx, "
				       "0 rx device\nkernel tls total: 70 tx, "
				       "60 rx sw; 0 tx, 0 rx device; 1 "
				       "decrypt errors\n"),
			   "got:\n%s", out);
	free(out);
}

Test(status, table_says_so_when_there_are_no_certificates)
{
	struct kst_status_view v = fixture();
	char *out;

	v.n_certs = 0;
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "\n(no certificates)\n"), "%s", out);
	cr_assert_null(strstr(out, "attention"), "%s", out);
	free(out);
}

Test(status, table_never_passes_control_bytes_to_the_terminal)
{
	struct kst_status_view v = fixture();
	char *out;

	strcpy(certs[0].val.name, "evil\033[2J\x7f");
	out = render(kst_status_render_table, &v);
	cr_assert_not_null(strstr(out, "evil?[2J?"), "%s", out);
	cr_assert_null(strchr(out, '\033'));
	free(out);
}

static const char json_golden[] =
	"{\"now\":1763720000,\"now_rfc3339\":\"2025-11-21T10:13:20Z\",\""
	"certs\":[\n{\"name\":\"old\",\"subject_cn\":\"\",\"sha256\":\""
	"11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11:11"
	":11:11:11:11:11:11:11:11:11:11:11\",\"state\":\"fresh\",\"poli"
	"cy\":\"lenient\",\"must_staple\":false,\"fetch_consecutive_fai"
	"lures\":1,\"last_http_status\":0,\"last_error\":5,\"last_error"
	"_name\":\"signature\",\"not_after\":0,\"not_after_rfc3339\":nu"
	"ll,\"this_update\":1763028800,\"this_update_rfc3339\":\"2025-1"
	"1-13T10:13:20Z\",\"next_update\":1763719700,\"next_update_rfc3"
	"339\":\"2025-11-21T10:08:20Z\",\"produced_at\":0,\"produced_at"
	"_rfc3339\":null,\"fetched_at\":0,\"fetched_at_rfc3339\":null,\""
	"last_fetch_at\":0,\"last_fetch_at_rfc3339\":null,\"next_refres"
	"h\":1763709200,\"next_refresh_rfc3339\":\"2025-11-21T07:13:20Z"
	"\",\"secs_to_next_update\":0,\"flushed_at\":1763712800,\"flush"
	"ed_at_rfc3339\":\"2025-11-21T08:13:20Z\",\"fetch_successes\":0"
	",\"fetch_failures\":1,\"handshakes\":0,\"hs_resumed\":0,\"stap"
	"les_served\":0,\"status_no_staple\":0,\"tickets_issued\":0,\"t"
	"ickets_refused_unknown\":0,\"tickets_refused_expired\":0,\"con"
	"ns_ktls_tx\":0,\"conns_ktls_rx\":0,\"conns_device_tx\":0,\"con"
	"ns_device_rx\":0,\"conns_userspace\":0,\"keyupdate_closes\":0,"
	"\"keyupdate_rekeys_rx\":0,\"keyupdate_rekeys_tx\":0,\"keyupdat"
	"e_flood_closes\":0,\"bytes_ktls\":0,\"bytes_userspace\":0,\"kt"
	"ls_fallback\":{\"disabled\":0,\"no_kernel\":0,\"version\":0,\""
	"cipher\":0,\"pending\":0,\"no_secret\":0,\"setsockopt\":0,\"no"
	"t_installed\":0,\"openssl\":0,\"other\":0},\"state_now\":\"exp"
	"ired\",\"bad\":true}\n],\"global\":{\"started_at\":1763622800,"
	"\"started_at_rfc3339\":\"2025-11-20T07:13:20Z\",\"flushed_at\""
	":1763719999,\"flushed_at_rfc3339\":\"2025-11-21T10:13:19Z\",\""
	"pid\":4242,\"workers\":2,\"certs\":3,\"tls_stat_present\":fals"
	"e,\"conns_accepted\":140,\"conns_active\":5,\"hs_fail_timeout\""
	":1,\"hs_fail_protocol\":2,\"hs_fail_no_cert\":0,\"hs_fail_othe"
	"r\":0,\"backend_connect_failures\":0,\"bytes_ktls\":5242880,\""
	"bytes_userspace\":2048,\"reloads_ok\":1,\"reloads_failed\":0,\""
	"handshakes\":150,\"hs_resumed\":41,\"tickets_issued\":81,\"tic"
	"kets_refused_unknown\":10,\"tickets_refused_expired\":7,\""
	"tls_stat\":{\"curr_tx_sw\":0,\"curr_rx_sw\":0,\"curr_tx_device"
	"\":0,\"curr_rx_device\":0,\"tx_sw\":0,\"rx_sw\":0,\"tx_device\""
	":0,\"rx_device\":0,\"decrypt_error\":0,\"rx_device_resync\":0,"
	"\"decrypt_retry\":0,\"rx_no_pad_violation\":0,\"rx_rekey_ok\":"
	"0,\"rx_rekey_error\":0,\"tx_rekey_ok\":0,\"tx_rekey_error\":0,"
	"\"rx_rekey_received\":0}},\"listeners\":[],\"daemon\":\"running\""
	",\"exit\":1}\n";

Test(status, renders_json_with_the_btf_field_names_and_json_types)
{
	struct kst_status_view v = fixture();
	char *out;

	v.certs = &certs[2]; /* "old" */
	v.n_certs = 1;
	out = render(kst_status_render_json, &v);
	cr_assert_str_eq(out, json_golden, "got:\n%s", out);
	free(out);
}

Test(status, json_lists_every_certificate_and_escapes_strings)
{
	struct kst_status_view v = fixture();
	char *out, *p;
	int n = 0;

	out = render(kst_status_render_json, &v);
	for (p = out; (p = strstr(p, "\"sha256\":\"")) != NULL; p++)
		n++;
	cr_assert_eq(n, 3);
	cr_assert_not_null(strstr(out, "\"name\":\"api \\\"rsa\\\"\""));
	cr_assert_not_null(strstr(out, "\"sha256\":\"00:01:02:03:04:05:06:07:"
				       "08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:"
				       "15:16:17:18:19:1a:1b:1c:1d:1e:1f\""),
			   "%s", out);
	cr_assert_not_null(strstr(out, "\"ktls_fallback\":{\"disabled\":0,"
				       "\"no_kernel\":3,"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "\"exit\":1}\n"));
	free(out);
}

/* Every byte JSON must escape, and a negative number, as written by the
 * printf-free writers of the JSON listing. */
Test(status, json_escapes_every_byte_and_writes_negative_numbers)
{
	struct kst_status_view v = fixture();
	struct kst_status_cert c = certs[0];
	char *out;

	snprintf(c.val.name, sizeof(c.val.name), "a\\b\"c\x01\x1f\x7f\xc3z");
	c.val.secs_to_next_update = -1234567890123LL;
	v.certs = &c;
	v.n_certs = 1;
	out = render(kst_status_render_json, &v);
	cr_assert_not_null(strstr(out, "\"name\":\"a\\\\b\\\"c\\u0001"
				       "\\u001f\\u007f\\u00c3z\""),
			   "%s", out);
	cr_assert_not_null(
		strstr(out, "\"secs_to_next_update\":-1234567890123,"), "%s",
		out);
	free(out);
}

/* The family a sample line belongs to: its name up to '{' or ' '. */
static void family_of(const char *line, char *name, size_t size)
{
	size_t n = strcspn(line, "{ ");

	cr_assert_lt(n, size);
	memcpy(name, line, n);
	name[n] = '\0';
}

/*
 * Every sample follows the HELP and TYPE of its family, each family is
 * declared once, and counters end in _total: what node_exporter's parser
 * insists on.
 */
static void check_prometheus_grammar(char *text)
{
	char current[128] = "", name[sizeof(current) + 2], seen[4096] = " ";
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "# HELP ", 7) == 0) {
			family_of(l + 7, current, sizeof(current));
			snprintf(name, sizeof(name), " %s ", current);
			cr_assert_null(strstr(seen, name), "twice: %s", l);
			cr_assert_lt(strlen(seen) + strlen(name), sizeof(seen));
			strcat(seen, name + 1);
			continue;
		}
		if (strncmp(l, "# TYPE ", 7) == 0) {
			size_t n = strlen(current);

			cr_assert(strncmp(l + 7, current, n) == 0, "%s", l);
			if (strcmp(l + 8 + n, "counter") == 0)
				cr_assert(strstr(current, "_total") != NULL &&
						  strcmp(strstr(current,
								"_total"),
							 "_total") == 0,
					  "%s", l);
			else
				cr_assert_str_eq(l + 8 + n, "gauge", "%s", l);
			continue;
		}
		family_of(l, name, sizeof(name));
		cr_assert_str_eq(name, current, "sample outside its family: %s",
				 l);
		cr_assert_not_null(strrchr(l, ' '), "%s", l);
	}
}

Test(status, renders_prometheus_text_node_exporter_accepts)
{
	struct kst_status_view v = fixture();
	char *out = render(kst_status_render_prometheus, &v);

	check_prometheus_grammar(out);
	free(out);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define SHA_FRESH \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define SHA_OLD \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_STALE \
	"fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0"

Test(status, prometheus_has_process_wide_handshake_and_ticket_totals)
{
	struct kst_status_view v = fixture();
	char *out = render(kst_status_render_prometheus, &v);
	static const char *const want[] = {
		"# TYPE kstapled_handshakes_total counter",
		"kstapled_handshakes_total 150",
		"kstapled_handshakes_resumed_total 41",
		"kstapled_session_tickets_issued_total 81",
		"kstapled_session_tickets_refused_total{reason=\"unknown\"} 10",
		"kstapled_session_tickets_refused_total{reason=\"expired\"} 7",
	};

	for (size_t i = 0; i < KST_ARRAY_SIZE(want); i++)
		cr_expect(has_line(out, want[i]), "no line '%s' in:\n%s",
			  want[i], out);
	free(out);
}

/* Two listeners, as `status` reads them back (sorted by name). */
static const struct kst_listener_val listeners[2] = {
	{.name = "api",
	 .flushed_at = NOW - 1,
	 .handshakes = 7,
	 .hs_resumed = 3,
	 .tickets_issued = 9,
	 .tickets_refused_unknown = 2,
	 .tickets_refused_expired = 1},
	{.name = "we\"b", .flushed_at = NOW - 1, .handshakes = 5},
};

Test(status, table_json_and_prometheus_show_each_listener)
{
	struct kst_status_view v = fixture();
	char *out;
	static const char *const want_prom[] = {
		"# TYPE kstapled_listener_handshakes_total counter",
		"kstapled_listener_handshakes_total{listener=\"api\"} 7",
		"kstapled_listener_handshakes_total{listener=\"we\\\"b\"} 5",
		"kstapled_listener_handshakes_resumed_total{listener=\"api\"} "
		"3",
		"kstapled_listener_tickets_issued_total{listener=\"api\"} 9",
		"kstapled_listener_tickets_refused_total{listener=\"api\","
		"reason=\"unknown\"} 2",
		"kstapled_listener_tickets_refused_total{listener=\"api\","
		"reason=\"expired\"} 1",
	};

	v.listeners = listeners;
	v.n_listeners = 2;
	out = render(kst_status_render_table, &v);
	cr_expect_not_null(
		strstr(out,
		       "\n  listener api: handshakes 7, 3 resumed; tickets "
		       "9 issued, 2 refused (unknown key), 1 refused "
		       "(expired)\n"),
		"%s", out);
	cr_expect_not_null(strstr(out, "\n  listener we\"b: handshakes 5,"),
			   "%s", out);
	free(out);
	out = render(kst_status_render_json, &v);
	cr_expect_not_null(
		strstr(out, "\"listeners\":[\n{\"name\":\"api\",\"flushed_at\":"
			    "1763719999,\"flushed_at_rfc3339\":\"2025-11-21T10"
			    ":13:19Z\",\"handshakes\":7,\"hs_resumed\":3,\"tic"
			    "kets_issued\":9,\"tickets_refused_unknown\":2,\"t"
			    "ickets_refused_expired\":1},\n{\"name\":\"we\\\"b"
			    "\","),
		"%s", out);
	free(out);
	out = render(kst_status_render_prometheus, &v);
	check_prometheus_grammar(out); /* cuts out into lines */
	free(out);
	out = render(kst_status_render_prometheus, &v);
	for (size_t i = 0; i < KST_ARRAY_SIZE(want_prom); i++)
		cr_expect(has_line(out, want_prom[i]), "no line '%s' in:\n%s",
			  want_prom[i], out);
	free(out);
}

Test(status, prometheus_labels_each_cert_by_name_and_sha256)
{
	struct kst_status_view v = fixture();
	char *out = render(kst_status_render_prometheus, &v);
	static const char *const want[] = {
		"kstapled_cert_info{cert=\"api "
		"\\\"rsa\\\"\",sha256=\"" SHA_STALE
		"\",subject_cn=\"api.example.com\",policy=\"must-staple\","
		"must_staple=\"1\"} 1",
		"kstapled_staple_state{cert=\"old\",sha256=\"" SHA_OLD
		"\",state=\"expired\"} 1",
		"kstapled_staple_state{cert=\"old\",sha256=\"" SHA_OLD
		"\",state=\"fresh\"} 0",
		"kstapled_staple_seconds_to_next_update{cert=\"example.com."
		"ecdsa"
		"\",sha256=\"" SHA_FRESH "\"} 273720",
		"kstapled_cert_bad{cert=\"old\",sha256=\"" SHA_OLD "\"} 1",
		"kstapled_cert_bad{cert=\"example.com.ecdsa\",sha256="
		"\"" SHA_FRESH "\"} 0",
		"kstapled_ocsp_last_error{cert=\"api "
		"\\\"rsa\\\"\",sha256=\"" SHA_STALE "\",error=\"http\"} 66",
		"kstapled_ocsp_fetch_consecutive_failures{cert=\"api "
		"\\\"rsa\\\""
		"\",sha256=\"" SHA_STALE "\"} 3",
		"kstapled_cert_connections_total{cert=\"example.com.ecdsa\","
		"sha256=\"" SHA_FRESH "\",path=\"userspace\"} 3",
		"kstapled_cert_ktls_fallbacks_total{cert=\"example.com.ecdsa\","
		"sha256=\"" SHA_FRESH "\",reason=\"no-kernel\"} 3",
		"kstapled_handshake_failures_total{class=\"protocol\"} 2",
		"kstapled_reloads_total{result=\"ok\"} 1",
		"kstapled_start_time_seconds 1763622800",
	};

	for (size_t i = 0; i < KST_ARRAY_SIZE(want); i++)
		cr_assert(has_line(out, want[i]), "missing: %s\nin:\n%s",
			  want[i], out);
	cr_assert_null(strstr(out, "kstapled_kernel_tls"), "no tls_stat read");
	free(out);
}

Test(status, prometheus_exports_kernel_tls_stat_with_the_kernel_names)
{
	struct kst_status_view v = fixture();
	char *out;

	global.tls_stat_present = 1;
	global.tls_stat.curr_rx_device = 2;
	global.tls_stat.rx_no_pad_violation = 9;
	out = render(kst_status_render_prometheus, &v);
	cr_assert(has_line(out, "kstapled_kernel_tls_current{stat="
				"\"TlsCurrRxDevice\"} 2"),
		  "%s", out);
	cr_assert(has_line(out, "kstapled_kernel_tls_total{stat="
				"\"TlsRxNoPadViolation\"} 9"),
		  "%s", out);
	check_prometheus_grammar(out);
	free(out);
}

Test(status, prometheus_has_exactly_one_current_state_per_cert)
{
	struct kst_status_view v = fixture();
	char *out = render(kst_status_render_prometheus, &v);
	int ones = 0, zeros = 0;

	for (char *p = out; (p = strstr(p, "\nkstapled_staple_state{")) != NULL;
	     p++) {
		char *eol = strchr(p + 1, '\n');

		cr_assert_not_null(eol);
		if (strncmp(eol - 2, " 1", 2) == 0)
			ones++;
		else if (strncmp(eol - 2, " 0", 2) == 0)
			zeros++;
	}
	cr_assert_eq(ones, 3);
	cr_assert_eq(zeros, 3 * (KST_STAPLE__COUNT - 1));
	free(out);
}

struct bad_case {
	char what[48];
	enum kst_staple_state state;
	enum kst_bpf_policy policy;
	unsigned must_staple;
	long long next_update; /* relative to NOW; 0 = none */
	bool want;
};

/* clang-format off */
static struct bad_case bad_cases[] = {
	{ "fresh", KST_STAPLE_FRESH, KST_BPF_POLICY_LENIENT, 0, 3600, false },
	{ "refreshing", KST_STAPLE_REFRESHING, KST_BPF_POLICY_MUST_STAPLE, 1,
	  60, false },
	{ "stale, lenient", KST_STAPLE_STALE, KST_BPF_POLICY_LENIENT, 0, 60,
	  false },
	{ "stale, strict", KST_STAPLE_STALE, KST_BPF_POLICY_STRICT, 0, 60,
	  false },
	{ "stale, must-staple policy", KST_STAPLE_STALE,
	  KST_BPF_POLICY_MUST_STAPLE, 0, 60, true },
	{ "missing, lenient", KST_STAPLE_MISSING, KST_BPF_POLICY_LENIENT, 0, 0,
	  false },
	{ "missing, must-staple policy", KST_STAPLE_MISSING,
	  KST_BPF_POLICY_MUST_STAPLE, 0, 0, true },
	{ "missing, must-staple certificate", KST_STAPLE_MISSING,
	  KST_BPF_POLICY_LENIENT, 1, 0, true },
	{ "expired, lenient", KST_STAPLE_EXPIRED, KST_BPF_POLICY_LENIENT, 0,
	  -60, true },
	{ "fresh at the flush, past nextUpdate now", KST_STAPLE_FRESH,
	  KST_BPF_POLICY_LENIENT, 0, 0 - 1, true },
	{ "fresh with nextUpdate exactly now", KST_STAPLE_FRESH,
	  KST_BPF_POLICY_LENIENT, 0, 0 + 0, false },
	{ "revoked", KST_STAPLE_REVOKED, KST_BPF_POLICY_LENIENT, 0, 3600, true },
	{ "disabled, must-staple", KST_STAPLE_DISABLED,
	  KST_BPF_POLICY_MUST_STAPLE, 1, 0, false },
};
/* clang-format on */

ParameterizedTestParameters(status, decides_which_certs_need_attention)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   KST_ARRAY_SIZE(bad_cases));
}

ParameterizedTest(struct bad_case *c, status,
		  decides_which_certs_need_attention)
{
	struct kst_cert_val v = {
		.state = c->state,
		.policy = c->policy,
		.must_staple = c->must_staple,
		.next_update = c->next_update ? NOW + c->next_update : 0,
	};

	cr_assert_eq(kst_status_cert_bad(&v, NOW), c->want, "%s", c->what);
}

Test(status, exit_status_is_1_only_when_a_cert_needs_attention)
{
	struct kst_status_view v = fixture();

	cr_assert_eq(kst_status_exit_code(&v), 1);
	v.certs = &certs[1]; /* example.com.ecdsa alone */
	v.n_certs = 1;
	cr_assert_str_eq(certs[1].val.name, "example.com.ecdsa");
	cr_assert_eq(kst_status_exit_code(&v), 0);
	v.n_certs = 0;
	cr_assert_eq(kst_status_exit_code(&v), 0);
}

Test(status, sorts_by_name_then_key)
{
	struct kst_status_cert c[3] = {0};

	strcpy(c[0].val.name, "b");
	strcpy(c[1].val.name, "a");
	c[1].key.sha256[0] = 2;
	strcpy(c[2].val.name, "a");
	c[2].key.sha256[0] = 1;
	kst_status_sort(c, 3);
	cr_assert_eq(c[0].key.sha256[0], 1);
	cr_assert_eq(c[1].key.sha256[0], 2);
	cr_assert_str_eq(c[2].val.name, "b");
}

/* Run kst_status_main with stdout and stderr captured into *out, *err. */
static int run_status(char **argv, int argc, char **out, char **err)
{
	char path[2][64];
	int saved[2], rc;

	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(path[i], sizeof(path[i]), "/tmp/kst-status-%d-XXXXXX",
			 (int)getpid());
		fd = mkostemp(path[i], O_CLOEXEC);
		cr_assert_geq(fd, 0);
		saved[i] = dup(i + 1);
		dup2(fd, i + 1);
		close(fd);
	}
	rc = kst_status_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		unsigned char *buf = NULL;
		size_t len = 0;
		FILE *f;

		dup2(saved[i], i + 1);
		close(saved[i]);
		f = fopen(path[i], "re");
		cr_assert_not_null(f);
		buf = calloc(1, 1 << 16);
		len = fread(buf, 1, (1 << 16) - 1, f);
		buf[len] = '\0';
		fclose(f);
		unlink(path[i]);
		*(i == 0 ? out : err) = (char *)buf;
	}
	return rc;
}

Test(status, exits_2_and_says_why_when_there_is_no_pin_dir)
{
	char *argv[] = {"status", "--pin-dir", "/tmp/kst-no-such-dir", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_status(argv, 3, &out, &err), 2);
	cr_assert_not_null(strstr(err, "no directory /tmp/kst-no-such-dir: "
				       "is kstapled running"),
			   "%s", err);
	cr_assert_str_eq(out, "");
	free(out);
	free(err);
}

Test(status, exits_2_and_says_why_when_the_dir_is_not_bpffs)
{
	char *argv[] = {"status", "--pin-dir", "/tmp", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_status(argv, 3, &out, &err), 2);
	cr_assert_not_null(strstr(err, "/tmp is not on a bpf filesystem"), "%s",
			   err);
	free(out);
	free(err);
}

Test(status, rejects_bad_usage_with_exit_2)
{
	char *bogus[] = {"status", "--bogus", NULL};
	char *both[] = {"status", "--json", "--prometheus", "-", NULL};
	char *extra[] = {"status", "stray", NULL};
	char *now[] = {"status", "--now", "yesterday", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_status(bogus, 2, &out, &err), 2);
	cr_assert_not_null(strstr(err, "usage: kstapled status"), "%s", err);
	free(out);
	free(err);
	cr_assert_eq(run_status(both, 4, &out, &err), 2);
	free(out);
	free(err);
	cr_assert_eq(run_status(extra, 2, &out, &err), 2);
	free(out);
	free(err);
	cr_assert_eq(run_status(now, 3, &out, &err), 2);
	free(out);
	free(err);
}

/* a configuration file of a test's own, with text; returns its path */
static const char *write_conf(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/kst-status-%d.conf", (int)getpid());
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(status, reads_the_pin_dir_from_the_configuration)
{
	char *argv[] = {"status", "-c", NULL, NULL};
	char *out = NULL, *err = NULL;

	argv[2] = (char *)write_conf("[global]\nbpf-pin-dir = "
				     "/tmp/kst-pins-of-the-conf\n");
	cr_assert_eq(run_status(argv, 3, &out, &err), 2);
	cr_assert_not_null(
		strstr(err, "no directory /tmp/kst-pins-of-the-conf:"),
		"the configuration's pin dir: %s", err);
	free(out);
	free(err);
	argv[2] = (char *)write_conf("[global]\nbpf-pin-dir =\n");
	cr_assert_eq(run_status(argv, 3, &out, &err), 2);
	cr_assert_not_null(strstr(err, "sets bpf-pin-dir empty: that daemon "
				       "exports no metrics"),
			   "%s", err);
	free(out);
	free(err);
	unlink(argv[2]);
	argv[2] = "/tmp/kst-no-such.conf";
	cr_assert_eq(run_status(argv, 3, &out, &err), 2);
	cr_assert_not_null(strstr(err, "cannot read /tmp/kst-no-such.conf: No "
				       "such file"),
			   "%s", err);
	free(out);
	free(err);
}

Test(status, a_configuration_and_a_pin_dir_are_one_too_many)
{
	char *argv[] = {"status", "-c", "x.conf", "--pin-dir", "/tmp", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_status(argv, 5, &out, &err), 2);
	cr_assert_not_null(strstr(err, "usage: kstapled status"), "%s", err);
	free(out);
	free(err);
}

Test(status, prints_usage_and_exits_0_on_help)
{
	char *argv[] = {"status", "-h", NULL};
	char *out = NULL, *err = NULL;

	cr_assert_eq(run_status(argv, 2, &out, &err), 0);
	cr_assert_not_null(strstr(out, "usage: kstapled status"), "%s", out);
	cr_assert_not_null(strstr(out, "exit status: 0"), "%s", out);
	free(out);
	free(err);
}
