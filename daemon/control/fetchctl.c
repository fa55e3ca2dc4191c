// SPDX-License-Identifier: MIT
/*
 * The control thread's side of OCSP fetching: which certificate is due,
 * submitting its job to the fetcher pool, and what a finished job changes.
 *
 * A certificate is fetched when stapling and fetching are on for it and it
 * has an OCSP URL (its own, or the configured override list); one without
 * a URL is a normal, quiet case: one info line, never an error, never
 * retried. Each certificate state has at most one job in flight and holds
 * a reference for it, so a reload that drops the certificate meanwhile
 * cannot free what the job points at.
 *
 * A job only fetches and verifies; what it brought is decided here. Every
 * response it received (good, revoked, or refused) goes from memory
 * through the one ingest path, the same as an operator's file
 * (kst_staplefile_ingest_fetched): a revoked one is recorded, a bad one or
 * an older one (a replay) keeps the current staple, and only a response
 * that became the staple served is persisted to state-dir, where a
 * failed write is a warning and is tried again, never a reason not to
 * staple. The next attempt comes from the schedule (schedule.h): early
 * refresh after a success, exponential backoff with jitter after a
 * failure, always before the held staple expires.
 */
#include "daemon/control/fetchctl.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "daemon/ocsp/fetcher.h"
#include "daemon/base/log.h"
#include "daemon/ocsp/fetch.h"
#include "daemon/ocsp/schedule.h"
#include "daemon/control/staplefile.h"

/* Finished jobs taken in per kst_fetchctl_done() call. */
#define KST_FETCHCTL_BATCH 64

static uint64_t fetchctl_rng;

static uint32_t fetchctl_rand(void)
{
	/* xorshift64*: jitter only needs to differ between hosts */
	if (fetchctl_rng == 0 &&
	    getrandom(&fetchctl_rng, sizeof(fetchctl_rng), 0) < 0)
		fetchctl_rng = (uint64_t)kst_now() | 1;
	fetchctl_rng ^= fetchctl_rng >> 12;
	fetchctl_rng ^= fetchctl_rng << 25;
	fetchctl_rng ^= fetchctl_rng >> 27;
	return (uint32_t)((fetchctl_rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void fetchctl_sched(const struct kst_config *conf,
			   struct kst_sched_params *p)
{
	kst_sched_params_default(p);
	p->refresh_pct = conf->ocsp.refresh_at_pct;
	p->margin = (long)(conf->ocsp.refresh_margin_ms / 1000);
	p->retry_min = (long)(conf->ocsp.retry_min_ms / 1000);
	p->retry_max = (long)(conf->ocsp.retry_max_ms / 1000);
}

static void fetchctl_opts(const struct kst_config *conf,
			  struct kst_fetch_opts *o)
{
	kst_fetch_opts_default(o);
	o->connect_timeout_ms = (long)conf->ocsp.connect_timeout_ms;
	o->response_timeout_ms = (long)conf->ocsp.response_timeout_ms;
	o->http_proxy = conf->ocsp.http_proxy;
	o->nonce = conf->ocsp.nonce;
	kst_staple_params(conf, &o->ingest);
	o->max_size = o->ingest.max_size;
}

/* Should this certificate be fetched at all? Logs the quiet case once. */
static bool fetchctl_wanted(const struct kst_cert *c)
{
	if (!c->fetch || c->self_issued)
		return false;
	if (c->n_ocsp_urls == 0) {
		if (!c->state->ocsp.no_url_logged)
			kst_info("cert %s: no OCSP URL in the certificate: "
				 "nothing to fetch",
				 c->name);
		c->state->ocsp.no_url_logged = true;
		return false;
	}
	return true;
}

/* When the held staple (if any) should be refreshed. */
static time_t fetchctl_first_due(const struct kst_config *conf,
				 struct kst_certstate *cs, time_t now)
{
	struct kst_sched_params sp;
	struct kst_staple *s = cs->cur;

	if (s == NULL || s->next_update <= now)
		return now;
	fetchctl_sched(conf, &sp);
	/* past its refresh point already (loaded from disk): now; the
	 * schedule's floor is there to stop re-fetch loops, not this */
	if (s->this_update + (s->next_update - s->this_update) *
				     (time_t)sp.refresh_pct / 100 <=
	    now)
		return now;
	return kst_sched_refresh(&sp, s->this_update, s->next_update, now,
				 fetchctl_rand());
}

static int fetchctl_submit(struct kst_daemon *d, struct kst_cert *c, time_t now)
{
	struct kst_certstate *cs = c->state;
	struct kst_fetch_opts o;
	struct kst_fetch_job *job;
	int rc;

	fetchctl_opts(d->gen->conf, &o);
	job = kst_fetch_job_new(cs, c->leaf, c->issuer,
				(const char *const *)c->ocsp_urls,
				c->n_ocsp_urls, &o);
	if (job == NULL)
		return -ENOMEM;
	/* out of memory: no write ahead, the control thread writes it */
	if (cs->ocsp.state_path != NULL)
		job->persist_path = strdup(cs->ocsp.state_path);
	kst_certstate_get(cs);
	rc = kst_fetcher_submit(d->fetcher, job);
	if (rc < 0) {
		kst_registry_put(&d->reg, cs);
		kst_fetch_job_free(job);
		return rc;
	}
	cs->ocsp.fetch_in_flight = true;
	kst_certstate_touch(cs);
	kst_debug("cert %s: fetching from %s", c->name, c->ocsp_urls[0]);
	(void)now;
	return 0;
}

/*
 * Each tick, the certificates due are submitted. The walk is O(N), so it
 * runs only when one may be due: at the earliest next_refresh it saw, and
 * again after any fetch finished, a new generation or the clock going
 * back (an idle daemon with 100,000 certificates spent a third of its CPU
 * here, issue 13).
 */
void kst_fetchctl_tick(struct kst_daemon *d, time_t now)
{
	struct kst_gen *g = d->gen;
	time_t due = 0;

	if (d->fetcher == NULL)
		return;
	if (d->fetch_due != 0 && g->id == d->fetch_gen_id &&
	    now >= d->fetch_walked && now < d->fetch_due)
		return;
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];
		struct kst_certstate *cs;

		if (c == NULL || !fetchctl_wanted(c))
			continue;
		cs = c->state;
		if (cs->ocsp.fetch_in_flight)
			continue;
		if (cs->ocsp.next_refresh == 0) {
			cs->ocsp.next_refresh =
				fetchctl_first_due(g->conf, cs, now);
			kst_certstate_touch(cs);
		}
		if (now >= cs->ocsp.next_refresh)
			fetchctl_submit(d, c, now);
		if (!cs->ocsp.fetch_in_flight &&
		    (due == 0 || cs->ocsp.next_refresh < due))
			due = cs->ocsp.next_refresh;
	}
	/* none to wait for (all in flight, or none fetched): a finish
	 * or a reload walks again */
	d->fetch_due = due != 0 ? due : (time_t)INT64_MAX;
	d->fetch_walked = now;
	d->fetch_gen_id = g->id;
}

/* ------------------------------------------------------------ results */

/*
 * A failed attempt: code is a fetch code, or the ingest code of a
 * response that was refused (then the ingest path has logged it).
 */
static void fetchctl_failed(struct kst_daemon *d, struct kst_certstate *cs,
			    const struct kst_fetch_job *job, uint32_t code,
			    bool logged, time_t now)
{
	struct kst_sched_params sp;
	struct kst_staple *s = cs->cur;

	cs->ocsp.fetch_failures++;
	cs->ocsp.consecutive_failures++;
	cs->ocsp.last_fetch_error = code;
	snprintf(cs->ocsp.last_fetch_error_name,
		 sizeof(cs->ocsp.last_fetch_error_name), "%s",
		 kst_fetch_err_name((int)code));
	fetchctl_sched(d->gen->conf, &sp);
	cs->ocsp.next_refresh =
		kst_sched_retry(&sp, cs->ocsp.consecutive_failures,
				s ? s->next_update : 0, now, fetchctl_rand());
	if (!logged && cs->ocsp.logged_fetch_error != code)
		kst_warn("cert %s: OCSP fetch from %s failed (%s): %s; %s, "
			 "retry in %llds",
			 cs->name, job->url, kst_fetch_err_name((int)code),
			 job->detail,
			 s ? "keeping the current staple" : "no staple",
			 (long long)(cs->ocsp.next_refresh - now));
	cs->ocsp.logged_fetch_error = code;
}

static void fetchctl_succeeded(struct kst_daemon *d, struct kst_certstate *cs,
			       const struct kst_fetch_job *job,
			       const struct kst_ocsp_verdict *v, time_t now)
{
	struct kst_sched_params sp;

	if (cs->ocsp.logged_fetch_error != 0)
		kst_notice("cert %s: OCSP fetch from %s works again", cs->name,
			   job->url);
	cs->ocsp.fetch_successes++;
	cs->ocsp.consecutive_failures = 0;
	cs->ocsp.last_fetch_error = 0;
	cs->ocsp.logged_fetch_error = 0;
	snprintf(cs->ocsp.last_fetch_error_name,
		 sizeof(cs->ocsp.last_fetch_error_name), "ok");
	cs->ocsp.fetched_at = job->finished;
	fetchctl_sched(d->gen->conf, &sp);
	cs->ocsp.next_refresh = kst_sched_refresh(
		&sp, v->this_update, v->next_update, now, fetchctl_rand());
}

static void fetchctl_finish(struct kst_daemon *d, struct kst_fetch_job *job)
{
	struct kst_certstate *cs = job->cookie;
	time_t now = kst_now();
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict v;
	enum kst_ocsp_err err;

	kst_certstate_touch(cs); /* and failed/succeeded below */
	cs->ocsp.fetch_in_flight = false;
	d->fetch_due = 0; /* its next refresh: walk at the next tick */
	cs->ocsp.last_fetch_at = job->finished;
	cs->ocsp.last_http_status = (uint32_t)job->http_status;
	if (job->der == NULL ||
	    (job->err != KST_FETCH_OK && job->err != KST_FETCH_E_VERDICT)) {
		/* no response, or one the job could not trust (nonce) */
		fetchctl_failed(d, cs, job, (uint32_t)job->err, false, now);
	} else {
		/* verified by the job as of then; decided now, with the
		 * staple and the revocation held */
		struct kst_staplefile_ahead ahead = {NULL, job->persist_tmp};

		kst_staple_params(d->gen->conf, &p);
		/* judged by the job with these params (not changed by a
		 * reload since): its signature check stands */
		if (kst_ocsp_params_equal(&p, &job->opts.ingest))
			ahead.judged = &job->verdict;
		err = kst_staplefile_ingest_fetched(cs, job->der, job->len, &p,
						    now, &v, &ahead);
		job->persist_tmp = ahead.tmp;
		if (err == KST_OCSP_OK)
			fetchctl_succeeded(d, cs, job, &v, now);
		else
			fetchctl_failed(d, cs, job, (uint32_t)err, true, now);
	}
	kst_registry_put(&d->reg, cs);
	kst_fetch_job_free(job);
}

/*
 * At most KST_FETCHCTL_BATCH jobs per call (the pool's fd stays readable
 * while more wait): each costs an ingest and a durable write, and 50,000
 * cold fetches finish faster than one thread takes them in, so draining
 * until empty kept the control thread here for the whole fetch (issue 13:
 * startup-wait ran 59 s instead of 10, signals and the watchdog waited).
 */
unsigned kst_fetchctl_done(struct kst_daemon *d)
{
	struct kst_fetch_job *job;
	unsigned n = 0;

	while (d->fetcher != NULL && n < KST_FETCHCTL_BATCH &&
	       (job = kst_fetcher_done(d->fetcher)) != NULL) {
		fetchctl_finish(d, job);
		n++;
	}
	kst_staplefile_sync(); /* state-dir once per batch, not per file */
	return n;
}

/* --------------------------------------------------------- start, stop */

int kst_fetchctl_start(struct kst_daemon *d)
{
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = KST_CTL_EV_FETCH};
	int rc = kst_fetcher_start(d->gen->conf->ocsp.fetch_concurrency,
				   &d->fetcher);

	if (rc < 0) {
		kst_crit("OCSP fetcher: %s", strerror(-rc));
		return rc;
	}
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, kst_fetcher_fd(d->fetcher), &ev) <
	    0)
		return -errno;
	kst_fetchctl_tick(d, kst_now());
	return 0;
}

/*
 * A certificate start-up should wait for: fetching, without a staple.
 * From *from on: nothing is submitted during the wait, so a certificate
 * found not fetching stays so, and the next call starts after it (one
 * pass over N in all, not one per batch of finished jobs).
 */
static bool fetchctl_waiting_for(struct kst_gen *g, time_t now, size_t *from)
{
	bool skip = true;

	for (size_t i = *from; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];

		if (c != NULL && c->state->ocsp.fetch_in_flight &&
		    (c->state->cur == NULL ||
		     c->state->cur->next_update <= now))
			return true;
		if (skip && (c == NULL || !c->state->ocsp.fetch_in_flight))
			*from = i + 1;
		else
			skip = false;
	}
	return false;
}

void kst_fetchctl_startup_wait(struct kst_daemon *d)
{
	uint64_t end =
		kst_mono_ms() + (uint64_t)d->gen->conf->ocsp.startup_wait_ms;
	struct pollfd p[2] = {{kst_fetcher_fd(d->fetcher), POLLIN, 0},
			      {d->sigfd, POLLIN, 0}};
	size_t from = 0;
	uint64_t now;

	while (fetchctl_waiting_for(d->gen, kst_now(), &from) &&
	       (now = kst_mono_ms()) < end) {
		if (poll(p, 2, (int)(end - now)) <= 0)
			continue;
		if (p[1].revents & POLLIN)
			return; /* a signal: the control loop takes it */
		kst_fetchctl_done(d);
	}
	from = 0;
	if (fetchctl_waiting_for(d->gen, kst_now(), &from))
		kst_notice("startup-wait over: serving; fetches still under "
			   "way continue in the background");
}

static void fetchctl_release(struct kst_certstate *cs, void *arg)
{
	struct kst_daemon *d = arg;

	d->fetch_due = 0;
	if (cs->ocsp.fetch_in_flight) {
		cs->ocsp.fetch_in_flight = false;
		kst_certstate_touch(cs);
		kst_registry_put(&d->reg, cs);
	}
}

void kst_fetchctl_stop(struct kst_daemon *d)
{
	if (d->fetcher == NULL)
		return;
	kst_fetchctl_done(d);
	/* jobs still queued or running are freed by the pool without
	 * their cookies being touched: release the references they held,
	 * including those of certificates a reload dropped */
	kst_fetcher_stop(d->fetcher);
	d->fetcher = NULL;
	kst_registry_each(&d->reg, fetchctl_release, d);
}
