/* SPDX-License-Identifier: MIT */
/*
 * Per-listener handshake and ticket counters. A listener name gets one
 * slot for the life of the process (a reload that keeps the name keeps
 * its counts), holding a counter block per worker; a kst_listener of each
 * generation points at its name's blocks, and a worker counts in its own
 * block (KST_COUNT, relaxed: see metrics_state.h). The control thread
 * creates slots (at generation builds) and sums them at each flush into
 * the map kst_listeners_v2 (bpf/kstapled.h). Slots are never freed before
 * exit: a listener a reload removed keeps its last counts in the map.
 * At most KST_BPF_LISTENERS_MAX names; past that a listener counts only
 * process-wide. Control thread only, but the counting.
 */
#ifndef KST_LSTATS_H
#define KST_LSTATS_H

#include <time.h>

#include "daemon/metrics/metrics_state.h"

struct kst_metrics;

/* The blocks ([nworkers]) of listener name, created on first use; NULL
 * when out of memory or slots. */
struct kst_hs_counters *kst_lstats_get(const char *name, unsigned nworkers);
/* Sum every slot's blocks and write one entry per name through put (or
 * kst_metrics_listener_put when put is NULL). Returns the number of
 * entries written, or -errno of the last refused one. */
int kst_lstats_flush(struct kst_metrics *m, time_t now,
		     int (*put)(void *ctx, const struct kst_listener_key *k,
				const struct kst_listener_val *v),
		     void *ctx);
/* Free every slot (at exit, once no worker runs). */
void kst_lstats_free(void);

#endif
