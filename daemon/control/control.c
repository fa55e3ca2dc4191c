// SPDX-License-Identifier: MIT
/*
 * The control thread: start-up, the control loop, reload and shutdown.
 * See control.h for its duties. Start-up order matters for the promise
 * that staples are there from the first handshake: configuration, then
 * certificates and sockets (one generation), then every staple on disk,
 * and only then workers that accept.
 */
#include "daemon/control/control.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/config/certdir.h"
#include "daemon/control/daemon.h"
#include "daemon/control/export.h"
#include "daemon/control/fetchctl.h"
#include "daemon/control/nicctl.h"
#include "daemon/control/sd.h"
#include "daemon/datapath/gen.h"
#include "daemon/base/log.h"
#include "daemon/control/staplefile.h"
#include "daemon/tls/ticket.h"
#include "daemon/tls/tls.h"
#include "daemon/base/util.h"
#include "daemon/datapath/worker.h"
#include "ktls/ktls.h"
#include "ktls/probe.h"

/* Every staple directory is watched (inotify): the periodic scan is only
 * a safety net then. Control thread only. */
static bool control_watching;
/* The last "max-connections lowered" notice (kst_control_rlimit), so
 * that a reload repeats it only when it changed. Control thread only. */
static unsigned control_lowered_said, control_lowered_from;

static int control_setup(struct kst_daemon *d);
static void control_loop(struct kst_daemon *d);
static void control_reload(struct kst_daemon *d);
static void control_shutdown(struct kst_daemon *d);

unsigned kst_control_nworkers(const struct kst_config *conf)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (conf->global.workers > 0)
		return conf->global.workers;
	return n > 0 ? (unsigned)n : 1;
}

/*
 * Raise the soft open-files limit to the hard one, and serve at most the
 * connections that fit in it: 2 descriptors each, 6 where a listener
 * may splice under kTLS (worker.h), after the daemon's own (128) and what
 * each worker holds besides its connections (listening sockets, pooled
 * pipes).
 */
unsigned kst_control_rlimit(const struct kst_gen *g, unsigned nworkers)
{
	unsigned max_connections = g->conf->global.max_connections;
	unsigned per = KST_CONN_FDS;
	rlim_t fit, reserve;
	size_t binds = 0;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return max_connections;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (size_t i = 0; i < g->n_listeners; i++) {
		binds += g->listeners[i].conf->n_binds;
		if (g->listeners[i].tls.ktls)
			per = KST_CONN_FDS_SPLICE;
	}
	reserve = 128 + (rlim_t)nworkers * KST_WORKER_FDS(binds);
	fit = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / per : 1;
	if (fit == 0)
		fit = 1;
	if (fit >= (rlim_t)max_connections)
		return max_connections;
	/* said once: a reload that lowers it the same way is not news */
	kst_log(control_lowered_said == (unsigned)fit &&
				control_lowered_from == max_connections
			? KST_LOG_DEBUG
			: KST_LOG_NOTICE,
		"max-connections %u lowered to %llu: the open files limit "
		"is %llu (%u per connection%s, %llu for the daemon and its "
		"workers)",
		max_connections, (unsigned long long)fit,
		(unsigned long long)rl.rlim_cur, per,
		per == KST_CONN_FDS_SPLICE ? " with kTLS splice pipes" : "",
		(unsigned long long)reserve);
	control_lowered_said = (unsigned)fit;
	control_lowered_from = max_connections;
	return (unsigned)fit;
}

static struct kst_config *control_load(const char *path)
{
	struct kst_diag diag;
	struct kst_config *conf;

	kst_diag_init(&diag);
	conf = kst_config_parse(path, &diag);
	kst_diag_log(&diag);
	kst_diag_free(&diag);
	return conf;
}

int kst_control_build(struct kst_daemon *d, struct kst_config *conf,
		      struct kst_passed_fd *passed, size_t n_passed,
		      struct kst_gen **out)
{
	struct kst_gen_env env = {
		.reg = &d->reg,
		.nworkers = d->nworkers,
		.prev = d->gen,
		.open_sockets = true,
		.ktls_available = d->ktls_available,
		.passed = passed,
		.n_passed = n_passed,
	};
	struct kst_diag diag;
	int rc;

	kst_diag_init(&diag);
	rc = kst_gen_build(conf, &env, &diag, out);
	kst_diag_log(&diag);
	kst_diag_free(&diag);
	return rc;
}

/* ------------------------------------------------------------ events */

static int control_add(struct kst_daemon *d, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Watch the directories holding staple files. */
void kst_control_watch(struct kst_daemon *d)
{
	char path[PATH_MAX], last[PATH_MAX] = "";
	bool ok = true;

	control_watching = false;
	if (d->inofd < 0)
		return;
	for (size_t i = 0; i < d->gen->n_certs; i++) {
		const struct kst_cert *c = d->gen->certs[i];
		char *slash;

		snprintf(path, sizeof(path), "%s", c->staple_path);
		slash = strrchr(path, '/');
		if (slash == NULL)
			continue;
		*slash = '\0';
		/* certificates of one directory come in runs: a watch per
		 * directory, not a system call per certificate */
		if (strcmp(path, last) == 0)
			continue;
		memcpy(last, path, sizeof(last));
		if (inotify_add_watch(d->inofd, path[0] ? path : "/",
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
					      IN_DELETE | IN_MOVED_FROM |
					      IN_ATTRIB) < 0)
			ok = false;
	}
	if (inotify_add_watch(d->inofd, d->gen->conf->global.state_dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
		ok = false;
	control_watching = ok;
	kst_ticket_watch(d->inofd);
	kst_certdir_watch(d->gen->conf, d->inofd); /* cert-dir-watch */
}

static int control_setup(struct kst_daemon *d)
{
	struct itimerspec one_sec = {{1, 0}, {1, 0}};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* blocked before any thread starts, so every thread inherits it */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	d->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->epfd < 0 || d->sigfd < 0 || d->tickfd < 0)
		return -errno;
	timerfd_settime(d->tickfd, 0, &one_sec, NULL);
	if (control_add(d, d->sigfd, KST_CTL_EV_SIGNAL) < 0 ||
	    control_add(d, d->tickfd, KST_CTL_EV_TICK) < 0)
		return -errno;
	if (d->inofd >= 0)
		control_add(d, d->inofd, KST_CTL_EV_INOTIFY);
	return 0;
}

/* ------------------------------------------------------------ export */

/*
 * Flushes that events ask for (a batch of fetched staples, staple files
 * changed) come at most every CONTROL_EVENT_FLUSH_MS; one owed is done
 * when that time is up (control_loop's timeout). A flush visits every
 * certificate: one per event was O(N) per batch of fetched staples, so
 * O(N^2) for a cold fetch (issue 13: 15% of the control thread during
 * 20,000 cold fetches). The tick still flushes every second.
 */
#define CONTROL_EVENT_FLUSH_MS 100
static uint64_t control_flushed_ms; /* control thread only */
static bool control_flush_owed;

void kst_control_flush(struct kst_daemon *d)
{
	kst_export_flush(&d->exp, d->gen, d->workers, d->nstarted, kst_now());
	control_flushed_ms = kst_mono_ms();
	control_flush_owed = false;
}

static void control_event_flush(struct kst_daemon *d)
{
	if (kst_mono_ms() - control_flushed_ms >= CONTROL_EVENT_FLUSH_MS)
		kst_control_flush(d);
	else
		control_flush_owed = true;
}

/* epoll_wait's timeout: until an owed flush is due, or none (-1). */
static int control_flush_timeout(void)
{
	uint64_t since = kst_mono_ms() - control_flushed_ms;

	if (!control_flush_owed)
		return -1;
	return since >= CONTROL_EVENT_FLUSH_MS
		       ? 0
		       : (int)(CONTROL_EVENT_FLUSH_MS - since);
}

/* ------------------------------------------------------- generations */

/* Room for one more retired generation, taken before a reload commits:
 * a generation that cannot be listed would never be freed. */
static int control_retire_reserve(struct kst_daemon *d)
{
	size_t cap = d->retired_cap ? d->retired_cap * 2 : 4;
	struct kst_gen **r;

	if (d->n_retired < d->retired_cap)
		return 0;
	r = realloc(d->retired, cap * sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	d->retired = r;
	d->retired_cap = cap;
	return 0;
}

static void control_retire(struct kst_daemon *d, struct kst_gen *g)
{
	kst_gen_put(g);
	kst_gen_release_sockets(g);
	if (control_retire_reserve(d) < 0) {
		kst_err("out of memory: generation %u is never freed", g->id);
		return;
	}
	d->retired[d->n_retired++] = g;
}

static void control_free_retired(struct kst_daemon *d)
{
	size_t k = 0, n = d->n_retired;

	for (size_t i = 0; i < d->n_retired; i++) {
		if (kst_gen_unused(d->retired[i])) {
			kst_debug("generation %u: freed", d->retired[i]->id);
			kst_gen_destroy(d->retired[i], &d->reg);
		} else {
			d->retired[k++] = d->retired[i];
		}
	}
	d->n_retired = k;
	/* what a generation held goes back to the system, not only to the
	 * allocator (issue 13: RSS stayed at its peak after a reload) */
	if (k < n)
		malloc_trim(0);
}

/* Every worker's message is allocated before any is sent: out of memory,
 * no worker is told (-ENOMEM), never only some of them. */
static int control_publish(struct kst_daemon *d, struct kst_gen *g)
{
	struct kst_wmsg **m = calloc(d->nworkers ? d->nworkers : 1, sizeof(*m));
	unsigned i;

	for (i = 0; m != NULL && i < d->nworkers; i++) {
		m[i] = calloc(1, sizeof(**m));
		if (m[i] == NULL)
			break;
	}
	if (m == NULL || i < d->nworkers) {
		for (unsigned j = 0; m != NULL && j < i; j++)
			free(m[j]);
		free(m);
		return -ENOMEM;
	}
	atomic_store(&d->shared.max_connections,
		     kst_control_rlimit(g, d->nworkers));
	for (i = 0; i < d->nworkers; i++) {
		kst_gen_get(g);
		kst_gen_socks_get(g);
		m[i]->type = KST_WMSG_GEN;
		m[i]->gen = g;
		kst_worker_post(&d->workers[i], m[i]);
	}
	free(m);
	return 0;
}

static void control_reload(struct kst_daemon *d)
{
	struct kst_config *conf;
	struct kst_gen *g = NULL;

	kst_notice("SIGHUP: reloading %s", d->config_path);
	kst_sd_reloading();
	conf = control_load(d->config_path);
	if (conf == NULL || kst_control_build(d, conf, NULL, 0, &g) < 0) {
		kst_config_free(conf);
		d->exp.reloads_failed++;
		kst_err("reload failed: still serving generation %u",
			d->gen->id);
		kst_sd_ready(d->status);
		return;
	}
	if (control_retire_reserve(d) < 0) {
		kst_gen_destroy(g, &d->reg); /* never published; owns conf */
		d->exp.reloads_failed++;
		kst_err("reload failed: out of memory: still serving "
			"generation %u",
			d->gen->id);
		kst_sd_ready(d->status);
		return;
	}
	if (kst_control_nworkers(conf) != d->nworkers)
		kst_warn("workers: changing %u to %u needs a restart",
			 d->nworkers, kst_control_nworkers(conf));
	if (conf->ocsp.fetch_concurrency !=
	    d->gen->conf->ocsp.fetch_concurrency)
		kst_warn("fetch-concurrency: changing %u to %u needs a restart",
			 d->gen->conf->ocsp.fetch_concurrency,
			 conf->ocsp.fetch_concurrency);
	kst_log_set_level(conf->global.log_level);
	kst_staplefile_scan(g, kst_now(), true);
	if (control_publish(d, g) < 0) {
		kst_gen_destroy(g, &d->reg); /* never published; owns conf */
		d->exp.reloads_failed++;
		kst_err("reload failed: out of memory telling the workers: "
			"still serving generation %u",
			d->gen->id);
		kst_sd_ready(d->status);
		return;
	}
	control_retire(d, d->gen);
	d->gen = g;
	kst_control_watch(d);
	d->exp.reloads_ok++;
	kst_nicctl_start(g);
	kst_fetchctl_tick(d, kst_now()); /* new or renewed certs: now */
	kst_export_prune(&d->exp, g);
	kst_control_flush(d);
	kst_control_summary(d, d->status, sizeof(d->status));
	kst_sd_ready(d->status);
	kst_notice("reloaded: generation %u, %zu listener%s, %zu cert%s (%zu "
		   "unchanged, reused)",
		   g->id, g->n_listeners, g->n_listeners == 1 ? "" : "s",
		   g->n_certs, g->n_certs == 1 ? "" : "s", g->n_reused);
}

/* SIGHUP's work, callable without a signal (the allocation-failure
 * sweep, tests/allocfail, drives it with every allocation failing). */
void kst_control_reload(struct kst_daemon *d)
{
	control_reload(d);
}

/* -------------------------------------------------------------- loop */

/* WATCHDOG=1 only while every worker turns its loop: each tick pings
 * the workers (waking them), the next tick checks they counted it. */
static void control_watchdog(struct kst_daemon *d)
{
	struct kst_wmsg ping = {.type = KST_WMSG_PING};
	bool alive = true;

	if (d->watchdog_usec == 0)
		return;
	for (unsigned i = 0; i < d->nstarted; i++) {
		unsigned long long hb = atomic_load(&d->workers[i].heartbeat);

		if (hb == d->heartbeats[i])
			alive = false;
		d->heartbeats[i] = hb;
		kst_worker_send(&d->workers[i], &ping);
	}
	if (alive)
		kst_sd_watchdog();
	else
		kst_warn("watchdog: a worker did not turn its loop in a "
			 "second; not telling systemd all is well");
}

/* STATUS= when the summary changed. */
static void control_status(struct kst_daemon *d)
{
	char s[sizeof(d->status)];

	kst_control_summary(d, s, sizeof(s));
	if (strcmp(s, d->status) == 0)
		return;
	memcpy(d->status, s, sizeof(s));
	kst_sd_status(s);
}

void kst_control_summary(struct kst_daemon *d, char *buf, size_t len)
{
	/* counted again only when a slot changed or a staple may have
	 * expired (see kst_staplefile_expire): not a walk every second */
	static struct {
		const struct kst_gen *g;
		unsigned gen_id;
		unsigned long epoch;
		size_t stapling, fresh;
	} last;
	struct kst_gen *g = d->gen;
	time_t now = kst_now();
	size_t stapling = 0, fresh = 0;

	if (last.g == g && last.gen_id == g->id &&
	    last.epoch == kst_certstate_epoch() && g->expire_walked &&
	    now < g->expire_next) {
		stapling = last.stapling;
		fresh = last.fresh;
		goto out;
	}
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];

		if (c == NULL || !c->stapling)
			continue;
		stapling++;
		if (c->state->cur != NULL && c->state->cur->next_update > now)
			fresh++;
	}
	last.g = g;
	last.gen_id = g->id;
	last.epoch = kst_certstate_epoch();
	last.stapling = stapling;
	last.fresh = fresh;
out:
	snprintf(buf, len,
		 "%zu listener%s, %zu cert%s, staples %zu/%zu valid%s",
		 g->n_listeners, g->n_listeners == 1 ? "" : "s", g->n_certs,
		 g->n_certs == 1 ? "" : "s", fresh, stapling,
		 d->ktls_available ? ", kTLS" : "");
}

static void control_signal(struct kst_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			control_reload(d);
		} else {
			kst_notice("%s: stopping",
				   strsignal((int)si.ssi_signo));
			d->stopping = true;
		}
	}
}

static void control_tick(struct kst_daemon *d)
{
	uint64_t n;
	time_t now = kst_now();

	if (read(d->tickfd, &n, sizeof(n)) < 0)
		return;
	d->ticks++;
	if (kst_certdir_due(kst_mono_ms())) { /* cert-dir-watch */
		kst_notice("cert-dir changed: reloading");
		control_reload(d);
	}
	kst_staplefile_expire(d->gen, now);
	kst_ticket_rescan(); /* the safety net of the inotify watch */
	/* every staple file stat()ed: each 5 s without inotify, each
	 * minute with (issue 13: 2N stats every 5 s were most of an idle
	 * daemon's CPU); failed writes are tried again each 5 s either way */
	if (d->ticks % (control_watching ? 60 : 5) == 0)
		kst_staplefile_scan(d->gen, now, false);
	else if (d->ticks % 5 == 0)
		kst_staplefile_retry(d->gen);
	kst_fetchctl_tick(d, now);
	for (size_t i = 0; i < d->gen->n_listeners; i++) /* lsock.h */
		for (size_t j = 0; j < d->gen->listeners[i].conf->n_binds; j++)
			kst_lsock_drain(d->gen->listeners[i].socks[j]);
	control_free_retired(d);
	kst_control_flush(d);
	control_watchdog(d);
	control_status(d);
}

/*
 * Staple files changed: only the certificates an event's file name
 * concerns are looked at (issue 13: a full scan per batch of fetched
 * files re-stat()ed 2N paths each time). An overflowed queue, or an event
 * without a name, means anything may have changed: one full scan.
 */
static void control_inotify(struct kst_daemon *d)
{
	char buf[4096] __attribute__((aligned(8)));
	time_t now = kst_now();
	bool full = false;
	ssize_t n;

	while ((n = read(d->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			kst_certdir_event(ev, kst_mono_ms());
			if ((ev->mask & IN_Q_OVERFLOW) || ev->len == 0)
				full = true;
			else if (!full && kst_staplefile_scan_name(
						  d->gen, ev->name, now) < 0)
				full = true;
		}
	}
	if (full)
		kst_staplefile_scan(d->gen, now, false);
	kst_ticket_rescan();
	control_event_flush(d);
}

static void control_loop(struct kst_daemon *d)
{
	struct epoll_event evs[8];

	while (!d->stopping) {
		int n = epoll_wait(d->epfd, evs, KST_ARRAY_SIZE(evs),
				   control_flush_timeout());

		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case KST_CTL_EV_SIGNAL:
				control_signal(d);
				break;
			case KST_CTL_EV_TICK:
				control_tick(d);
				break;
			case KST_CTL_EV_INOTIFY:
				control_inotify(d);
				break;
			case KST_CTL_EV_FETCH:
				if (kst_fetchctl_done(d) > 0)
					control_event_flush(d);
				break;
			}
		}
		if (control_flush_owed && control_flush_timeout() == 0)
			kst_control_flush(d);
	}
}

/* ------------------------------------------------------ start / stop */

static void control_shutdown(struct kst_daemon *d)
{
	int64_t drain = d->gen->conf->global.drain_timeout_ms;
	uint64_t deadline = kst_mono_ms() + (uint64_t)drain;

	kst_sd_stopping();
	kst_fetchctl_stop(d);
	for (unsigned i = 0; i < d->nstarted; i++)
		kst_worker_drain(&d->workers[i], deadline);
	for (unsigned i = 0; i < d->nstarted; i++)
		kst_worker_join(&d->workers[i]);
	/* the pins stay: monitoring sees the last state, marked stopped */
	kst_export_stop(&d->exp, d->gen, d->workers, d->nstarted, kst_now());
	kst_metrics_close(d->exp.m);
	kst_export_free(&d->exp);
	free(d->workers);
	free(d->heartbeats);
	control_retire(d, d->gen);
	control_free_retired(d);
	free(d->retired);
	kst_notice("stopped");
}

int kst_control_run(const struct kst_run_opts *o)
{
	struct kst_daemon d = {.config_path = o->config_path, .inofd = -1};
	struct kst_config *conf;
	int rc;

	if (kst_tls_init() < 0 || control_setup(&d) < 0) {
		kst_crit("cannot set up the control thread: %s",
			 strerror(errno));
		return 1;
	}
	conf = control_load(o->config_path);
	if (conf == NULL)
		return 1;
	kst_log_set_level(conf->global.log_level);
	d.exp.started_at = kst_now();
	rc = kst_start_run(&d, conf);
	if (rc < 0) {
		if (d.gen == NULL)
			kst_config_free(conf);
		d.stopping = true;
	} else {
		control_loop(&d);
	}
	if (d.gen != NULL)
		control_shutdown(&d);
	return rc < 0 ? 1 : 0;
}
