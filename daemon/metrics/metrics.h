/* SPDX-License-Identifier: MIT */
/*
 * The pinned metrics maps (ABI: bpf/kstapled.h): loading the BPF object,
 * pinning or re-using its maps under bpf-pin-dir, and writing entries.
 * The only user of the generated skeleton. Control thread only: nothing
 * here is thread-safe, and nothing needs to be (workers count in their own
 * memory, the control thread sums with metrics_state.h and writes here).
 *
 * On restart, a pinned map whose type, flags, key and value sizes and
 * capacity match this build is re-used (bpf_map__reuse_fd before load), so
 * monitoring sees one continuous map and its entries survive; any other
 * pin under the same name is replaced, and the reason logged. The pins
 * outlive the daemon: kst_metrics_close leaves them for `kstapled status`
 * and bpftool, and the next start re-uses them.
 */
#ifndef KST_METRICS_H
#define KST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bpf/kstapled.h"

struct kst_metrics;

/*
 * Load the object and pin (or re-use the existing compatible pins of) all
 * maps under pin_dir, which is created 0750 (group gid) when missing; its
 * parent must be on a bpf filesystem. Pins are set to mode 0640, group gid:
 * root and the daemon's group can read them, and only the daemon writes,
 * through the fds it keeps. gid (gid_t)-1 leaves the group alone.
 * Returns 0 or -errno when BPF is unavailable; the caller logs one notice
 * and runs without metrics:
 *   -EOPNOTSUPP  pin_dir (or its parent) is not on a bpf filesystem
 *   -ENOENT      pin_dir's parent does not exist
 *   -EPERM, -EACCES  no privilege for bpf() or for the pin directory
 *   other        from libbpf or the kernel
 */
int kst_metrics_open(const char *pin_dir, gid_t gid, struct kst_metrics **out);
/* Insert or replace one certificate's entry; -E2BIG when the map is full. */
int kst_metrics_cert_put(struct kst_metrics *m, const struct kst_cert_key *k,
			 const struct kst_cert_val *v);
/* -ENOENT when there is no such entry. */
int kst_metrics_cert_del(struct kst_metrics *m, const struct kst_cert_key *k);
/* Delete every entry whose key is not in keep[0..n) (certificates removed by
 * a reload, or left by a previous run). The count deleted, or -errno. */
int kst_metrics_cert_prune(struct kst_metrics *m,
			   const struct kst_cert_key *keep, size_t n);
int kst_metrics_global_put(struct kst_metrics *m,
			   const struct kst_global_val *v);
/* Insert or replace one listener's entry; -E2BIG when the map is full. */
int kst_metrics_listener_put(struct kst_metrics *m,
			     const struct kst_listener_key *k,
			     const struct kst_listener_val *v);
/* All maps were re-used from existing pins (not created by this open). */
bool kst_metrics_reused(const struct kst_metrics *m);
/* Close the maps; the pins stay. NULL is a no-op. */
/* Read the global entry and write it back: whether this process can still
 * update the maps (used to probe what a dropped process keeps). 0/-errno. */
int kst_metrics_probe_write(struct kst_metrics *m);
void kst_metrics_close(struct kst_metrics *m);

#endif
