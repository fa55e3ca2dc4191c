/* SPDX-License-Identifier: MIT */
/*
 * What the control thread exports to the pinned maps: per certificate,
 * the facts it holds (staple times, policy, fetch record) with the
 * workers' counters summed; per process, the workers' counters, reloads
 * and /proc/net/tls_stat. Called once a second and after every staple
 * event, so no map update ever happens on a worker.
 */
#ifndef KST_EXPORT_H
#define KST_EXPORT_H

#include <stdint.h>
#include <time.h>

#include "daemon/gen.h"
#include "daemon/metrics.h"
#include "daemon/worker.h"

struct kst_export {
	struct kst_metrics *m; /* NULL: no BPF export */
	time_t started_at;
	uint64_t reloads_ok, reloads_failed;
};

/* Write every certificate of g and the global entry. */
void kst_export_flush(struct kst_export *e, struct kst_gen *g,
		      struct kst_worker *workers, unsigned nworkers,
		      time_t now);
/* The last flush of a clean stop: as kst_export_flush, with the global
 * entry's workers 0, which `kstapled status` reads as "stopped" (the pins
 * stay, so monitoring keeps the last values, marked). */
void kst_export_stop(struct kst_export *e, struct kst_gen *g,
		     struct kst_worker *workers, unsigned nworkers, time_t now);
/* Delete entries of certificates g does not serve. */
void kst_export_prune(struct kst_export *e, struct kst_gen *g);
/* The plain facts of one certificate (also used by logs and tests). */
void kst_export_cert_facts(const struct kst_cert *c,
			   struct kst_cert_facts *f);

#endif
