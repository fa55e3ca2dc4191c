// SPDX-License-Identifier: MIT
/*
 * What the metrics flush (daemon/control/export.c) costs the control thread
 * with N certificates, measured in process: N certificate states as the daemon
 * holds them (no staple, fetch off), the first flush of a generation (it
 * writes every entry), then idle flushes once a "second" (the clock is a
 * parameter, so the run takes as long as the work), with the real pinned
 * map under PIN_DIR (kst_metrics_open), or without BPF when none is given
 * (entries counted, not written). Prints the CPU time of each kind of
 * flush and the share of a core it takes at one flush a second, the full
 * rewrite every KST_EXPORT_FULL_SECS amortised. Built and run by
 * bench/idle-certs.sh --flush-cost (against libkst.a), or by hand:
 *   flush-cost N [PIN_DIR]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/control/export.h"
#include "daemon/ocsp/certstate.h"

#define NWORKERS 2

static int count_put(void *ctx, const struct kst_cert_key *k,
		     const struct kst_cert_val *v)
{
	(void)ctx;
	(void)k;
	(void)v;
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct kst_export e = {0};
	struct kst_worker *workers;
	struct kst_certstate **states;
	struct kst_cert **certs;
	struct kst_gen g = {0};
	time_t t0 = time(NULL);
	double c0, full, idle;
	uint64_t puts;
	size_t n;
	int idle_n = 0, err;

	if (argc < 2 || (n = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: flush-cost N [PIN_DIR]\n");
		return 2;
	}
	certs = calloc(n, sizeof(*certs));
	states = calloc(n, sizeof(*states));
	workers = calloc(NWORKERS, sizeof(*workers));
	if (certs == NULL || states == NULL || workers == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		/* separate allocations, as the daemon makes them */
		struct kst_certstate *cs = calloc(1, sizeof(*cs));
		struct kst_cert *c = calloc(1, sizeof(*c));
		uint32_t key = (uint32_t)i;

		if (cs == NULL || c == NULL)
			return 1;
		cs->nworkers = NWORKERS;
		cs->counters = aligned_alloc(KST_CACHELINE,
					     sizeof(*cs->counters) * NWORKERS);
		if (cs->counters == NULL)
			return 1;
		memset(cs->counters, 0, sizeof(*cs->counters) * NWORKERS);
		c->name = malloc(32);
		if (c->name == NULL)
			return 1;
		snprintf(c->name, 32, "c%zu.pem", i);
		snprintf(c->subject_cn, sizeof(c->subject_cn),
			 "c%zu.bench.test", i);
		memcpy(c->sha256, &key, sizeof(key));
		c->not_after = t0 + 86400 * 365;
		c->state = cs;
		certs[i] = c;
		states[i] = cs;
	}
	g.certs = certs;
	g.n_certs = n;
	g.id = 1;
	e.started_at = t0;
	if (argc > 2) {
		err = kst_metrics_open(argv[2], (gid_t)-1, &e.m);
		if (err < 0) {
			fprintf(stderr, "flush-cost: %s: %s\n", argv[2],
				strerror(-err));
			return 1;
		}
	} else {
		e.put = count_put;
	}
	kst_export_prune(&e, &g);
	c0 = cpu_now();
	kst_export_flush(&e, &g, workers, NWORKERS, t0);
	full = cpu_now() - c0;
	puts = e.st.cert_puts;
	c0 = cpu_now();
	for (int s = 1; s < KST_EXPORT_FULL_SECS; s++, idle_n++)
		kst_export_flush(&e, &g, workers, NWORKERS, t0 + s);
	idle = (cpu_now() - c0) / idle_n;
	printf("N=%zu %s: full flush %.1f ms (%llu entries written); idle "
	       "flush %.3f ms (%llu written in %d); at 1 flush/s with a full "
	       "one every %d s: %.3f%% of a core\n",
	       n, e.m ? "bpf map" : "no map", full * 1e3,
	       (unsigned long long)puts, idle * 1e3,
	       (unsigned long long)(e.st.cert_puts - puts), idle_n,
	       KST_EXPORT_FULL_SECS,
	       (full + idle * (KST_EXPORT_FULL_SECS - 1)) /
		       KST_EXPORT_FULL_SECS * 100);
	if (e.m != NULL) {
		/* leave no entries behind: prune to none */
		g.n_certs = 0;
		kst_export_prune(&e, &g);
		kst_metrics_close(e.m);
	}
	kst_export_free(&e);
	return 0;
}
