// SPDX-License-Identifier: MIT
/* Control thread -> pinned maps; see export.h. */
#include "daemon/export.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/metrics_state.h"
#include "ktls/probe.h"

void kst_export_cert_facts(const struct kst_cert *c, struct kst_cert_facts *f)
{
	struct kst_certstate *cs = c->state;
	const struct kst_cert_ocsp *o = &cs->ocsp;
	struct kst_staple *s = cs->cur; /* control thread: the only writer */

	memset(f, 0, sizeof(*f));
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

/* A certificate state may be served by several certs of g: once each. */
static bool export_first(struct kst_gen *g, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (g->certs[j] != NULL &&
		    g->certs[j]->state == g->certs[i]->state)
			return false;
	return true;
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
		      struct kst_worker *workers, unsigned nworkers,
		      time_t now)
{
	export_flush(e, g, workers, nworkers, false, now);
}

void kst_export_stop(struct kst_export *e, struct kst_gen *g,
		     struct kst_worker *workers, unsigned nworkers, time_t now)
{
	export_flush(e, g, workers, nworkers, true, now);
}

static void export_flush(struct kst_export *e, struct kst_gen *g,
			 struct kst_worker *workers, unsigned nworkers,
			 bool stopped, time_t now)
{
	if (e->m == NULL)
		return;
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];
		struct kst_conn_counters cnt;
		struct kst_cert_facts f;
		struct kst_cert_key k;
		struct kst_cert_val v;
		int rc;

		if (c == NULL || !export_first(g, i))
			continue;
		kst_export_cert_facts(c, &f);
		kst_certstate_counters(c->state, &cnt);
		kst_metrics_cert_build(&v, &f, &cnt, now);
		memcpy(k.sha256, c->sha256, sizeof(k.sha256));
		rc = kst_metrics_cert_put(e->m, &k, &v);
		if (rc < 0)
			kst_debug("metrics: cert %s: %s", c->name, strerror(-rc));
	}
	export_global(e, g, workers, nworkers, stopped, now);
}

void kst_export_prune(struct kst_export *e, struct kst_gen *g)
{
	struct kst_cert_key *keep;
	size_t n = 0;

	if (e->m == NULL)
		return;
	keep = calloc(g->n_certs ? g->n_certs : 1, sizeof(*keep));
	if (keep == NULL)
		return;
	for (size_t i = 0; i < g->n_certs; i++)
		if (g->certs[i] != NULL)
			memcpy(keep[n++].sha256, g->certs[i]->sha256, 32);
	kst_metrics_cert_prune(e->m, keep, n);
	free(keep);
}
