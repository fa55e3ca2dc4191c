/* SPDX-License-Identifier: MIT */
/*
 * The control thread: `kstapled -c` (serve) and `-t` (check).
 * See doc/threads.md (what it owns, its events, the channels to the workers
 * and the fetcher pool, what a reload does).
 */
#ifndef KST_CONTROL_H
#define KST_CONTROL_H

#include <stdbool.h>

#include "daemon/config/config.h"

struct kst_run_opts {
	const char *config_path;
	bool check_only; /* -t */
	bool dump;	 /* -T */
};

/* `kstapled -c FILE`: serve until SIGTERM/SIGINT; the exit status. */
int kst_control_run(const struct kst_run_opts *o);
/* `kstapled -t -c FILE`: check everything the file names; exit status. */
int kst_check_run(const struct kst_run_opts *o);

#endif
