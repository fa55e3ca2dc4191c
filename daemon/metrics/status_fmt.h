/* SPDX-License-Identifier: MIT */
/*
 * What `kstapled status` prints, from values already read out of the pinned
 * maps: the table a person reads, the JSON a script reads (keys are the BTF
 * field names of bpf/kstapled.h), and the node_exporter textfile format.
 * Pure apart from writing to the FILE it is given: time is a parameter, so
 * the output formats are tested as golden strings
 * (tests/unit/test_status.c). daemon/metrics/status.c reads the maps and runs
 * it.
 *
 * Ages are evaluated against now, not the flush time, so a daemon that
 * stopped flushing cannot leave a staple looking fresh past its nextUpdate
 * (kst_metrics_state_at).
 */
#ifndef KST_STATUS_FMT_H
#define KST_STATUS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bpf/kstapled.h"

/*
 * Whether the daemon that writes the maps still runs. It flushes them at
 * least once a second; a clean stop flushes a last time with workers = 0
 * (the pins stay, so monitoring reads the last state, marked stopped). Maps
 * not flushed for longer than KST_STATUS_GONE_SECS (ten flush periods)
 * belong to a daemon that was killed, crashed or hangs.
 */
#define KST_STATUS_GONE_SECS 10

enum kst_status_daemon {
	KST_STATUS_DAEMON_RUNNING,
	KST_STATUS_DAEMON_STOPPED, /* stopped cleanly: workers 0 */
	KST_STATUS_DAEMON_GONE,	   /* no flush for KST_STATUS_GONE_SECS */
};

/* The exit status of `kstapled status` when the daemon does not run (they
 * take precedence over 1, "a certificate needs attention"; 2 is "the maps
 * cannot be read", in status.h). */
#define KST_STATUS_EXIT_STOPPED 3
#define KST_STATUS_EXIT_GONE	4

enum kst_status_daemon kst_status_daemon(const struct kst_global_val *g,
					 time_t now);
/* "running", "stopped", "gone". */
const char *kst_status_daemon_name(enum kst_status_daemon s);

struct kst_status_cert {
	struct kst_cert_key key;
	struct kst_cert_val val;
};

struct kst_status_view {
	const struct kst_status_cert *certs; /* kst_status_sort order */
	size_t n_certs;
	const struct kst_global_val *global;
	time_t now;
	bool wide; /* the table: every column, whatever its width */
	const struct kst_listener_val *listeners; /* sorted by name */
	size_t n_listeners;
};

/* The table fits this many columns (a certificate name is cut with '~'
 * where it must); --wide adds the data path of each and cuts nothing. */
#define KST_STATUS_COLUMNS 100

/* "3d 4h", "3d", "5h 12m", "12m", "45s": the two largest units, truncated;
 * a negative duration is formatted as its magnitude. Returns buf. */
char *kst_status_fmt_duration(char *buf, size_t size, int64_t secs);
/* "512 B", "1.5 KiB", "3.2 GiB". Returns buf. */
char *kst_status_fmt_bytes(char *buf, size_t size, uint64_t n);

/*
 * Needs attention (exit status 1): expired or revoked as of now, or missing
 * or stale under the must-staple policy (or a must-staple certificate),
 * where a handshake without a valid staple is refused.
 */
bool kst_status_cert_bad(const struct kst_cert_val *v, time_t now);
/* KST_STATUS_EXIT_STOPPED or _GONE when the daemon does not run; else 1
 * when any certificate is bad, else 0. */
int kst_status_exit_code(const struct kst_status_view *v);

/* By name, then key, so that output is stable. */
void kst_status_sort(struct kst_status_cert *certs, size_t n);

void kst_status_render_table(FILE *f, const struct kst_status_view *v);
void kst_status_render_json(FILE *f, const struct kst_status_view *v);
void kst_status_render_prometheus(FILE *f, const struct kst_status_view *v);

#endif
