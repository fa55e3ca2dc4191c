/* SPDX-License-Identifier: MIT */
/*
 * The control thread (the process's main thread once serving): the only
 * writer of the generation pointer, the staple store and the metrics maps.
 * It reacts to signals (SIGHUP reload, SIGTERM/SIGINT drain and exit),
 * staple file changes (inotify, and a periodic stat as a safety net), a
 * one-second tick (expiring staples, flushing metrics, freeing retired
 * generations) and the fetcher's results.
 */
#ifndef KST_CONTROL_H
#define KST_CONTROL_H

#include <stdbool.h>

#include "daemon/config.h"

struct kst_run_opts {
	const char *config_path;
	bool check_only; /* -t */
	bool dump;       /* -T */
};

/* `kstapled -c FILE`: serve until SIGTERM/SIGINT; the exit status. */
int kst_control_run(const struct kst_run_opts *o);
/* `kstapled -t -c FILE`: check everything the file names; exit status. */
int kst_control_check(const struct kst_run_opts *o);

#endif
