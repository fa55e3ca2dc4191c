// SPDX-License-Identifier: MIT
/*
 * kst_par_run: par.h's threads, joined before it returns.
 */
#include "daemon/base/par.h"

#include <pthread.h>
#include <unistd.h>

static void *par_thread(void *arg)
{
	struct kst_par *par = arg;

	par->thread(par);
	return NULL;
}

void kst_par_run(struct kst_par *par)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = ncpu > 1 ? (size_t)ncpu : 1, started = 0;
	pthread_t th[KST_PAR_THREADS_MAX];

	atomic_store(&par->next, 0);
	if (par->n < KST_PAR_MIN)
		n = 1;
	n = n > KST_PAR_THREADS_MAX ? KST_PAR_THREADS_MAX : n;
	for (; started + 1 < n; started++)
		if (pthread_create(&th[started], NULL, par_thread, par) != 0)
			break;
	par->thread(par);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

size_t kst_par_next(struct kst_par *par)
{
	size_t i = atomic_fetch_add(&par->next, 1);

	return i < par->n ? i : par->n;
}
