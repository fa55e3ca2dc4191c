// SPDX-License-Identifier: MIT
/*
 * The load generator's only output: one JSON object on one line, with the
 * counts a reader needs to judge the figures (scheduled, completed, failed
 * by reason, staples, tickets) next to the figures themselves (latency
 * percentiles, server CPU per handshake or per byte, RSS per connection).
 * Ratios that would divide by zero are printed as null.
 */
#include <math.h>
#include <openssl/ssl.h>

#include "bench/load.h"

struct load_json {
	FILE *f;
	bool first;
};

static void jkey(struct load_json *j, const char *key)
{
	fprintf(j->f, "%s\"%s\":", j->first ? "" : ",", key);
	j->first = false;
}

static void jstr(struct load_json *j, const char *key, const char *val)
{
	jkey(j, key);
	kst_load_json_str(j->f, val);
}

static void ju64(struct load_json *j, const char *key, uint64_t val)
{
	jkey(j, key);
	fprintf(j->f, "%llu", (unsigned long long)val);
}

static void jnum(struct load_json *j, const char *key, double val)
{
	jkey(j, key);
	if (isfinite(val))
		fprintf(j->f, "%.6g", val);
	else
		fputs("null", j->f);
}

static double jdiv(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static uint64_t load_failed(const struct kst_load_result *res)
{
	uint64_t n = 0;
	int i;

	for (i = 1; i < KST_LOAD_F_MAX; i++)
		n += res->failed[i];
	return n;
}

static void load_print_common(struct load_json *j,
			      const struct kst_load_opts *o,
			      const struct kst_load_result *res)
{
	static const char *const modes[] = {"rate", "bulk", "idle"};
	uint64_t hs = res->hs.n;
	int i;

	jstr(j, "mode", modes[o->mode]);
	jstr(j, "label", o->label);
	jstr(j, "target", o->target);
	jstr(j, "tls", o->tls_version == TLS1_3_VERSION ? "1.3" : "1.2");
	jstr(j, "key", o->key == KST_LOAD_KEY_RSA ? "rsa" : "ecdsa");
	jstr(j, "version", res->version);
	jstr(j, "cipher", res->cipher);
	jstr(j, "group", res->group);
	jstr(j, "sigalg", res->sigalg);
	ju64(j, "scheduled", res->scheduled);
	ju64(j, "started", res->started);
	ju64(j, "handshakes", hs);
	ju64(j, "completed", res->completed);
	ju64(j, "failed", load_failed(res));
	jkey(j, "fail");
	fputc('{', j->f);
	for (i = 1; i < KST_LOAD_F_MAX; i++)
		fprintf(j->f, "%s\"%s\":%llu", i > 1 ? "," : "",
			kst_load_fail_name(i),
			(unsigned long long)res->failed[i]);
	fputc('}', j->f);
	ju64(j, "stapled", res->stapled);
	ju64(j, "staple_mismatch", res->staple_mismatch);
	jnum(j, "staple_share",
	     jdiv((double)(res->stapled - res->staple_mismatch), (double)hs));
	jnum(j, "tickets_per_conn", jdiv((double)res->tickets, (double)hs));
	jnum(j, "session_id_share", jdiv((double)res->session_ids, (double)hs));
}

/*
 * CPU time the machine spent on anything but the server, the client and
 * the backend, as a share of all CPUs over the run: above a few percent,
 * something else competed for the CPUs and the timings are suspect.
 */
static double load_foreign_share(const struct kst_load_usage *u)
{
	double ours =
		(double)(u->server_cpu_ns + u->self_cpu_ns + u->aux_cpu_ns);
	double foreign = (double)u->machine_busy_ns - ours;

	if (foreign < 0)
		foreign = 0;
	return jdiv(foreign, (double)u->wall_ns * (double)u->ncpus);
}

static void load_print_usage(struct load_json *j,
			     const struct kst_load_usage *u)
{
	jnum(j, "wall_s", (double)u->wall_ns / 1e9);
	jnum(j, "machine_busy_s", (double)u->machine_busy_ns / 1e9);
	jnum(j, "foreign_cpu_share", load_foreign_share(u));
	jnum(j, "server_cpu_s", (double)u->server_cpu_ns / 1e9);
	jnum(j, "server_sys_s", (double)u->server_sys_ns / 1e9);
	ju64(j, "server_procs", u->server_procs);
	jnum(j, "client_cpu_s", (double)u->self_cpu_ns / 1e9);
	jnum(j, "aux_cpu_s", (double)u->aux_cpu_ns / 1e9);
}

static void load_print_rate(struct load_json *j, const struct kst_load_opts *o,
			    struct kst_load_result *res,
			    const struct kst_load_usage *u)
{
	double span = (double)(res->t_last_done_ns - res->t_first_ns) / 1e9;
	double achieved, hs = (double)res->hs.n;

	if (res->completed == 0 || span < o->duration_s)
		span = o->duration_s;
	achieved = (double)res->completed / span;
	jnum(j, "offered_rate", o->rate);
	jnum(j, "duration_s", o->duration_s);
	jnum(j, "achieved_rate", achieved);
	/* every connection done, and at the pace they were offered */
	jkey(j, "sustained");
	fputs((double)res->completed >= 0.999 * (double)res->scheduled &&
			      achieved >= 0.95 * o->rate
		      ? "true"
		      : "false",
	      j->f);
	jnum(j, "hs_p50_ms", kst_load_lat_pct_ms(&res->hs, 50));
	jnum(j, "hs_p90_ms", kst_load_lat_pct_ms(&res->hs, 90));
	jnum(j, "hs_p99_ms", kst_load_lat_pct_ms(&res->hs, 99));
	jnum(j, "hs_max_ms", kst_load_lat_pct_ms(&res->hs, 100));
	jnum(j, "req_p50_ms", kst_load_lat_pct_ms(&res->total, 50));
	jnum(j, "req_p99_ms", kst_load_lat_pct_ms(&res->total, 99));
	jnum(j, "start_lag_p99_ms", kst_load_lat_pct_ms(&res->lag, 99));
	jnum(j, "server_cpu_us_per_hs",
	     jdiv((double)u->server_cpu_ns / 1e3, hs));
	jnum(j, "server_user_us_per_hs",
	     jdiv((double)(u->server_cpu_ns - u->server_sys_ns) / 1e3, hs));
	jnum(j, "server_sys_us_per_hs",
	     jdiv((double)u->server_sys_ns / 1e3, hs));
	jnum(j, "client_cpu_us_per_hs", jdiv((double)u->self_cpu_ns / 1e3, hs));
}

static void load_print_bulk(struct load_json *j, const struct kst_load_opts *o,
			    const struct kst_load_result *res,
			    const struct kst_load_usage *u)
{
	double secs = (double)res->data_ns / 1e9;
	double bytes = (double)res->bytes;

	jstr(j, "direction", o->dir == KST_LOAD_UP ? "up" : "down");
	ju64(j, "bytes", res->bytes);
	jnum(j, "data_s", secs);
	jnum(j, "mb_per_s", jdiv(bytes / 1e6, secs));
	jnum(j, "server_ns_per_byte", jdiv((double)u->server_cpu_ns, bytes));
	jnum(j, "server_cpu_s_per_gb",
	     jdiv((double)u->server_cpu_ns / 1e9, bytes / 1e9));
	/* client and backend share a core: near 1.0, they were the limit */
	jnum(j, "load_side_busy",
	     jdiv((double)(u->self_cpu_ns + u->aux_cpu_ns) / 1e9, secs));
}

static void load_print_idle(struct load_json *j, const struct kst_load_opts *o,
			    const struct kst_load_result *res)
{
	double grown = (double)res->rss_kb_after - (double)res->rss_kb_before;

	ju64(j, "conns", o->conns);
	jnum(j, "establish_s",
	     (double)(res->t_last_done_ns - res->t_first_ns) / 1e9);
	jnum(j, "hold_s", o->hold_s);
	ju64(j, "rss_kb_before", res->rss_kb_before);
	ju64(j, "rss_kb_after", res->rss_kb_after);
	jnum(j, "rss_bytes_per_conn",
	     jdiv(grown * 1024.0, (double)res->completed));
	jkey(j, "backend_conns");
	fprintf(j->f, "%d", res->backend_conns);
	ju64(j, "closed_by_server", res->closed_by_server);
}

void kst_load_print(FILE *f, const struct kst_load_opts *o,
		    struct kst_load_result *res, const struct kst_load_usage *u)
{
	struct load_json j = {.f = f, .first = true};

	fputc('{', f);
	load_print_common(&j, o, res);
	load_print_usage(&j, u);
	if (o->mode == KST_LOAD_RATE)
		load_print_rate(&j, o, res, u);
	else if (o->mode == KST_LOAD_BULK)
		load_print_bulk(&j, o, res, u);
	else
		load_print_idle(&j, o, res);
	jstr(&j, "first_error", res->first_error);
	fputs("}\n", f);
	fflush(f);
}
