/* SPDX-License-Identifier: MIT */
/*
 * Work spread over every core at start and reload (issue 13): loading
 * certificates (gen.c) and verifying their staple files (staplefile.c). The
 * items are independent; each thread takes the next index from a shared
 * counter. Below KST_PAR_MIN items one thread does it all, in order (a
 * deterministic allocation order for tests and the allocation-failure
 * sweep). The control thread is one of the threads; a thread that cannot
 * start leaves its share to the others.
 */
#ifndef KST_PAR_H
#define KST_PAR_H

#include <stdatomic.h>
#include <stddef.h>

#define KST_PAR_MIN	    256
#define KST_PAR_THREADS_MAX 16

struct kst_par {
	size_t n;	    /* items 0 .. n-1 */
	atomic_size_t next; /* the next item to take */
	/* one thread's share: call kst_par_next until it says no more */
	void (*thread)(struct kst_par *par);
};

/* Runs par->thread on up to one thread per core (par->next from 0). */
void kst_par_run(struct kst_par *par);
/* The next item index for this thread, or par->n when there is none. */
size_t kst_par_next(struct kst_par *par);

#endif
