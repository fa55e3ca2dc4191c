// SPDX-License-Identifier: MIT
/*
 * Per-listener counters: one slot per listener name for the life of the
 * process, a block per worker in it; summed and exported by the control
 * thread (see lstats.h).
 */
#include "daemon/metrics/lstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics/metrics.h"

struct lstats_slot {
	char name[KST_BPF_NAME_LEN];
	unsigned nworkers;
	struct kst_hs_counters *w; /* [nworkers] */
};

/* Control thread only (see lstats.h). */
static struct lstats_slot *lstats_slots;
static size_t lstats_n, lstats_cap;

struct kst_hs_counters *kst_lstats_get(const char *name, unsigned nworkers)
{
	struct lstats_slot *grown, *sl;
	size_t size;

	if (nworkers == 0)
		return NULL;
	for (size_t i = 0; i < lstats_n; i++)
		if (strncmp(lstats_slots[i].name, name, KST_BPF_NAME_LEN - 1) ==
		    0)
			return lstats_slots[i].nworkers >= nworkers
				       ? lstats_slots[i].w
				       : NULL;
	if (lstats_n >= KST_BPF_LISTENERS_MAX)
		return NULL;
	if (lstats_n == lstats_cap) {
		size_t cap = lstats_cap ? 2 * lstats_cap : 8;

		grown = reallocarray(lstats_slots, cap, sizeof(*grown));
		if (grown == NULL)
			return NULL;
		lstats_slots = grown;
		lstats_cap = cap;
	}
	sl = &lstats_slots[lstats_n];
	memset(sl, 0, sizeof(*sl));
	size = (size_t)nworkers * sizeof(*sl->w);
	sl->w = aligned_alloc(_Alignof(struct kst_hs_counters), size);
	if (sl->w == NULL)
		return NULL;
	memset(sl->w, 0, size);
	strncpy(sl->name, name, sizeof(sl->name) - 1);
	sl->nworkers = nworkers;
	lstats_n++;
	return sl->w;
}

int kst_lstats_flush(struct kst_metrics *m, time_t now,
		     int (*put)(void *ctx, const struct kst_listener_key *k,
				const struct kst_listener_val *v),
		     void *ctx)
{
	int rc = 0, written = 0;

	for (size_t i = 0; i < lstats_n; i++) {
		const struct lstats_slot *sl = &lstats_slots[i];
		struct kst_hs_counters sum = {0};
		struct kst_listener_key k;
		struct kst_listener_val v;
		int e;

		for (unsigned w = 0; w < sl->nworkers; w++)
			kst_metrics_sum_hs(&sum, &sl->w[w]);
		kst_metrics_listener_build(&k, &v, sl->name, &sum, now);
		e = put ? put(ctx, &k, &v)
		    : m ? kst_metrics_listener_put(m, &k, &v)
			: -EBADF;
		if (e < 0)
			rc = e;
		else
			written++;
	}
	return rc < 0 ? rc : written;
}

void kst_lstats_free(void)
{
	for (size_t i = 0; i < lstats_n; i++)
		free(lstats_slots[i].w);
	free(lstats_slots);
	lstats_slots = NULL;
	lstats_n = 0;
	lstats_cap = 0;
}
