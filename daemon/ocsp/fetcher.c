// SPDX-License-Identifier: MIT
/*
 * The fetcher pool (threading model in doc/threads.md). Two eventfds: `done`
 * counts completions for the control thread's epoll; `cancel` is written
 * once, at stop, and never read, so it stays readable and every wait of
 * every running job (they poll it next to their socket) ends at once.
 */
#include "daemon/ocsp/fetcher.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/base/util.h"

struct fetcher_queue {
	struct kst_fetch_job *head, *tail;
	unsigned count;
};

struct kst_fetcher {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stopping */
	struct fetcher_queue pending, done;
	unsigned running;
	bool stopping;
	int done_fd, cancel_fd;
	unsigned nthreads; /* started */
	pthread_t threads[];
};

static void *fetcher_main(void *arg);
static struct kst_fetch_job *fetcher_take(struct kst_fetcher *f);
static void fetcher_finish(struct kst_fetcher *f, struct kst_fetch_job *job);
static int fetcher_spawn(struct kst_fetcher *f, unsigned threads);
static void fetcher_push(struct fetcher_queue *q, struct kst_fetch_job *job);
static struct kst_fetch_job *fetcher_pop(struct fetcher_queue *q);
static void fetcher_drop(struct fetcher_queue *q);
static void fetcher_free(struct kst_fetcher *f);

int kst_fetcher_start(unsigned threads, struct kst_fetcher **out)
{
	struct kst_fetcher *f;
	int err;

	*out = NULL;
	if (threads == 0 || threads > KST_FETCHER_MAX_THREADS)
		return -EINVAL;
	f = calloc(1, sizeof(*f) + threads * sizeof(f->threads[0]));
	if (f == NULL)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->work, NULL);
	f->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->done_fd < 0 || f->cancel_fd < 0) {
		err = -errno;
		fetcher_free(f);
		return err;
	}
	err = fetcher_spawn(f, threads);
	if (err < 0) {
		kst_fetcher_stop(f);
		return err;
	}
	*out = f;
	return 0;
}

/* Threads start with every signal blocked; the caller's mask is kept. */
static int fetcher_spawn(struct kst_fetcher *f, unsigned threads)
{
	sigset_t all, old;
	int err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; f->nthreads < threads; f->nthreads++) {
		err = -pthread_create(&f->threads[f->nthreads], NULL,
				      fetcher_main, f);
		if (err < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

int kst_fetcher_fd(struct kst_fetcher *f)
{
	return f->done_fd;
}

int kst_fetcher_submit(struct kst_fetcher *f, struct kst_fetch_job *job)
{
	if (job == NULL)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		pthread_mutex_unlock(&f->lock);
		return -ESHUTDOWN;
	}
	job->cancel_fd = f->cancel_fd;
	fetcher_push(&f->pending, job);
	pthread_cond_signal(&f->work);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

struct kst_fetch_job *kst_fetcher_done(struct kst_fetcher *f)
{
	struct kst_fetch_job *job;
	uint64_t n;
	bool more;

	/* clear the fd first: a job finishing after this read signals again */
	if (read(f->done_fd, &n, sizeof(n)) < 0)
		(void)0; /* EAGAIN: nothing was signalled */
	pthread_mutex_lock(&f->lock);
	job = fetcher_pop(&f->done);
	more = f->done.head != NULL;
	pthread_mutex_unlock(&f->lock);
	/* still readable while finished jobs wait: a caller may take a
	 * bounded batch and come back (issue 13: a control thread draining
	 * until empty never returned while 50,000 fetches kept finishing) */
	if (more && write(f->done_fd, &(uint64_t){1}, sizeof(uint64_t)) < 0)
		(void)0; /* cannot overflow at one per job */
	return job;
}

unsigned kst_fetcher_in_flight(struct kst_fetcher *f)
{
	unsigned n;

	pthread_mutex_lock(&f->lock);
	n = f->pending.count + f->running;
	pthread_mutex_unlock(&f->lock);
	return n;
}

void kst_fetcher_stop(struct kst_fetcher *f)
{
	uint64_t one = 1;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->work);
	pthread_mutex_unlock(&f->lock);
	if (write(f->cancel_fd, &one, sizeof(one)) < 0)
		(void)0; /* cannot fail on a fresh eventfd */
	for (unsigned i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	fetcher_free(f);
}

/* ------------------------------------------------------------ threads */

static void *fetcher_main(void *arg)
{
	struct kst_fetcher *f = arg;
	struct kst_fetch_job *job;

	while ((job = fetcher_take(f)) != NULL) {
		kst_fetch_run(job, 0);
		fetcher_finish(f, job);
	}
	return NULL;
}

/* The next queued job, or NULL when the pool stops. */
static struct kst_fetch_job *fetcher_take(struct kst_fetcher *f)
{
	struct kst_fetch_job *job = NULL;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping && f->pending.head == NULL)
		pthread_cond_wait(&f->work, &f->lock);
	if (!f->stopping) {
		job = fetcher_pop(&f->pending);
		f->running++;
	}
	pthread_mutex_unlock(&f->lock);
	return job;
}

static void fetcher_finish(struct kst_fetcher *f, struct kst_fetch_job *job)
{
	uint64_t one = 1;

	pthread_mutex_lock(&f->lock);
	f->running--;
	fetcher_push(&f->done, job);
	pthread_mutex_unlock(&f->lock);
	if (write(f->done_fd, &one, sizeof(one)) < 0)
		(void)0; /* the counter cannot overflow at one per job */
}

/* ------------------------------------------------------------- queues */

static void fetcher_push(struct fetcher_queue *q, struct kst_fetch_job *job)
{
	job->next = NULL;
	if (q->tail != NULL)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	q->count++;
}

static struct kst_fetch_job *fetcher_pop(struct fetcher_queue *q)
{
	struct kst_fetch_job *job = q->head;

	if (job == NULL)
		return NULL;
	q->head = job->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->count--;
	job->next = NULL;
	return job;
}

static void fetcher_drop(struct fetcher_queue *q)
{
	struct kst_fetch_job *job;

	while ((job = fetcher_pop(q)) != NULL)
		kst_fetch_job_free(job);
}

/* After the threads are gone (or were never started). */
static void fetcher_free(struct kst_fetcher *f)
{
	fetcher_drop(&f->pending);
	fetcher_drop(&f->done);
	if (f->done_fd >= 0)
		close(f->done_fd);
	if (f->cancel_fd >= 0)
		close(f->cancel_fd);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
