/* SPDX-License-Identifier: MIT */
/*
 * The control thread's state, shared by its files: control.c (the loop,
 * reload, shutdown), start.c (the start-up sequence, privileges, socket
 * activation, notify) and fetchctl.c (the fetcher's schedule and results).
 * Only the control thread touches it.
 */
#ifndef KST_DAEMON_H
#define KST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/control/export.h"
#include "daemon/datapath/gen.h"
#include "daemon/control/privs.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/datapath/worker.h"

struct kst_fetcher;

/* epoll tags of the control loop */
enum {
	KST_CTL_EV_SIGNAL = 1,
	KST_CTL_EV_TICK,
	KST_CTL_EV_INOTIFY,
	KST_CTL_EV_FETCH,
};

struct kst_daemon {
	const char *config_path;
	struct kst_gen *gen;	  /* current, one reference */
	struct kst_gen **retired; /* replaced, freed once unused */
	size_t n_retired, retired_cap;
	struct kst_registry reg;
	struct kst_worker *workers;
	unsigned nworkers, nstarted;
	struct kst_shared shared;
	int epfd, sigfd, tickfd, inofd;
	bool ktls_available;
	bool stopping;
	unsigned ticks;
	struct kst_export exp; /* reload counts, start time, the maps */
	struct kst_privs privs;
	struct kst_fetcher *fetcher; /* NULL until started */
	/* fetchctl.c: no certificate of generation fetch_gen_id is due
	 * before fetch_due (0: walk them at the next tick) */
	time_t fetch_due, fetch_walked;
	unsigned fetch_gen_id;
	uint64_t watchdog_usec;		/* 0: no WatchdogSec */
	unsigned long long *heartbeats; /* [nworkers] at the last check */
	char status[256];		/* last STATUS= sent */
};

/* start.c */
int kst_start_run(struct kst_daemon *d, struct kst_config *conf);
/* control.c */
int kst_control_build(struct kst_daemon *d, struct kst_config *conf,
		      struct kst_passed_fd *passed, size_t n_passed,
		      struct kst_gen **out);
void kst_control_flush(struct kst_daemon *d);
void kst_control_watch(struct kst_daemon *d);
/* What SIGHUP does: build, publish and switch to a new generation, or
 * keep serving the current one and log why not. */
void kst_control_reload(struct kst_daemon *d);
/* max-connections as the open-files limit allows (raised to the hard
 * limit first) for generation g served by nworkers. */
unsigned kst_control_rlimit(const struct kst_gen *g, unsigned nworkers);
unsigned kst_control_nworkers(const struct kst_config *conf);
/* One-line summary for STATUS= and the log. */
void kst_control_summary(struct kst_daemon *d, char *buf, size_t len);

#endif
