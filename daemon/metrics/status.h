/* SPDX-License-Identifier: MIT */
/*
 * `kstapled status`: per-certificate staple freshness and data-path
 * counters, read from the pinned maps (bpf/kstapled.h), never from the
 * daemon, so it works while the daemon is busy, stopped or gone (ages are
 * then evaluated against now, and a stopped flush is reported).
 *
 *   kstapled status [--json | --wide] [-c FILE | --pin-dir DIR]
 *                   [--prometheus FILE]
 *     --wide             the table with every column and each
 *                        certificate's data path (the default table fits
 *                        100 columns, cutting long names with '~')
 *     -c, --config FILE  the daemon's configuration: read its bpf-pin-dir
 *                        (only that file is read, not the ones it names)
 *     --pin-dir DIR      where the maps are pinned (default
 *                        /sys/fs/bpf/kstapled, the bpf-pin-dir default)
 *     --json             one JSON object {"now", "certs": [...], "global":
 *                        {...}, "daemon", "exit"}; keys are the BTF field
 *                        names, flags booleans, each time also as
 *                        NAME_rfc3339 (doc/kstapled.8 lists them)
 *     --prometheus FILE  node_exporter textfile-collector format, written
 *                        atomically (temporary file, fsync, rename; mode
 *                        0644); "-" writes it to stdout. The table is then
 *                        not printed (the JSON is, when asked for).
 *     --now UNIX         (testing) evaluate ages against this time
 *
 * Exit status, so that it serves as a monitoring check:
 *   0  every certificate is fine
 *   1  some certificate needs attention: its staple expired or it is
 *      revoked, or it has no valid staple (missing, stale) under the
 *      must-staple policy; the table ends with an "attention:" line
 *   2  the maps cannot be read (no pins at DIR, permission, a layout this
 *      build does not know, ...; stderr says which), an output could not
 *      be written, or the command line is wrong
 * reading needs root, or membership of the daemon's group on kernels that
 * let unprivileged users use bpf() on pinned maps they may open
 * (since 5.19; before, only with kernel.unprivileged_bpf_disabled = 0)
 * through directories they may enter; a refusal names which of those is
 * the cause.
 */
#ifndef KST_STATUS_H
#define KST_STATUS_H

#include <stddef.h>

#include "daemon/metrics/status_fmt.h"

#define KST_STATUS_EXIT_OK	   0
#define KST_STATUS_EXIT_BAD	   1
#define KST_STATUS_EXIT_UNREADABLE 2

/* argv[0] is "status". Returns the exit status above. */
int kst_status_main(int argc, char **argv);

/*
 * Read both pinned maps under pin_dir: every certificate (malloc'd array,
 * sorted with kst_status_sort; *certs may be NULL when there are none) and
 * the global value, each certificate as of the global flush
 * (kst_status_as_of_flush). Returns 0 or -errno, with a sentence for the
 * operator in why.
 */
int kst_status_read(const char *pin_dir, struct kst_status_cert **certs,
		    size_t *n, struct kst_global_val *global, char *why,
		    size_t why_size);
/*
 * Every listener of kst_listeners_v2 under pin_dir, sorted by name (*out
 * malloc'd; NULL and 0 when the map is absent: a daemon that counts no
 * listener). Returns 0 or -errno, with a sentence in why.
 */
int kst_status_read_listeners(const char *pin_dir,
			      struct kst_listener_val **out, size_t *n,
			      char *why, size_t why_size);
/*
 * The daemon writes a certificate's entry only when it changed (and every
 * KST_EXPORT_FULL_SECS), having checked every entry at each flush: an
 * entry flushed before g->flushed_at is as of g->flushed_at, so its
 * flushed_at and secs_to_next_update are brought to that time.
 */
void kst_status_as_of_flush(struct kst_status_cert *certs, size_t n,
			    const struct kst_global_val *g);

#endif
