/* SPDX-License-Identifier: MIT */
/*
 * The fetcher pool: a fixed number of threads that run OCSP fetch jobs
 * (daemon/ocsp/fetch.h) off the control thread, so that a slow or dead
 * responder holds one thread for at most its job's timeouts and never the
 * control thread, a worker or another certificate's fetch (HAProxy's
 * updater could get stuck for every certificate, hitch fetches one at a
 * time in one process).
 *
 * See doc/threads.md (the completion eventfd, what a reload does). Both
 * queues (FIFO of jobs, completions) are under one mutex, held only to link
 * or unlink a job. At most `threads` fetches run at once: that is the bound
 * on concurrent connections to responders. Fetcher threads block every
 * signal (the daemon takes them by signalfd).
 *
 * A job passes wholly to the pool at submit and back to the caller at
 * done(); nothing else touches it meanwhile, so the caller reads the
 * results without locking. The pool never touches a job's cookie.
 */
#ifndef KST_FETCHER_H
#define KST_FETCHER_H

#include "daemon/ocsp/fetch.h"

#define KST_FETCHER_MAX_THREADS 256

struct kst_fetcher;

/* threads: 1 .. KST_FETCHER_MAX_THREADS. 0 or -EINVAL, -ENOMEM, -EAGAIN. */
int kst_fetcher_start(unsigned threads, struct kst_fetcher **out);

/* Readable (EPOLLIN) when finished jobs wait in kst_fetcher_done(). */
int kst_fetcher_fd(struct kst_fetcher *f);

/*
 * Queue a job; the pool owns it until kst_fetcher_done() returns it. It
 * sets job->cancel_fd. 0, or -EINVAL (NULL job), -ESHUTDOWN (stopping):
 * then the job stays the caller's.
 */
int kst_fetcher_submit(struct kst_fetcher *f, struct kst_fetch_job *job);

/* The next finished job, in completion order, or NULL; the caller owns
 * it (kst_fetch_job_free). The fd stays readable while more wait, so a
 * caller may take a bounded batch and come back. */
struct kst_fetch_job *kst_fetcher_done(struct kst_fetcher *f);

/* Jobs submitted and not finished yet: queued plus running. */
unsigned kst_fetcher_in_flight(struct kst_fetcher *f);

/*
 * Stop and free the pool: jobs still queued are freed without running,
 * running ones are cancelled (their waits end at once, name lookups
 * included), finished ones not collected are freed, the
 * threads are joined. No cookie is touched: the caller, which knows every
 * job it submitted, releases what cookies stand for. NULL is a no-op.
 */
void kst_fetcher_stop(struct kst_fetcher *f);

#endif
