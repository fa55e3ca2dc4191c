// SPDX-License-Identifier: MIT
/*
 * Latency bookkeeping for the load generator: every sample is kept (a run
 * is bounded, at most rate x duration samples), so percentiles are exact
 * rather than bucketed. Also the one JSON string writer the output needs.
 */
#include <errno.h>
#include <stdlib.h>

#include "bench/load.h"

static int load_cmp_u64(const void *a, const void *b);

int kst_load_lat_add(struct kst_load_lat *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		uint64_t *p = realloc(l->ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->ns = p;
		l->cap = cap;
	}
	l->ns[l->n++] = ns;
	return 0;
}

static int load_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile: the smallest sample with p% at or below it. */
double kst_load_lat_pct_ms(struct kst_load_lat *l, double p)
{
	size_t rank;

	if (l->n == 0)
		return 0;
	qsort(l->ns, l->n, sizeof(*l->ns), load_cmp_u64);
	rank = (size_t)((p / 100.0) * (double)l->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > l->n)
		rank = l->n;
	return (double)l->ns[rank - 1] / 1e6;
}

void kst_load_lat_free(struct kst_load_lat *l)
{
	free(l->ns);
	l->ns = NULL;
	l->n = l->cap = 0;
}

void kst_load_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}
