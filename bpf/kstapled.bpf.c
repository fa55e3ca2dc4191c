// SPDX-License-Identifier: MIT
/*
 * kstapled's BPF object: maps only, no programs. It exists to give the
 * pinned maps their BTF (key and value types from bpf/kstapled.h), so that
 * `bpftool map dump` prints every field by name. daemon/metrics/metrics.c loads
 * it through the generated skeleton, pins the maps under bpf-pin-dir and is
 * their only writer.
 *
 * The certificate and listener maps allocate entries on demand
 * (BPF_F_NO_PREALLOC):
 * preallocating KST_BPF_CERTS_MAX entries would pin ~70 MiB of kernel memory
 * for a daemon that usually serves a handful of certificates.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bpf/kstapled.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KST_BPF_CERTS_MAX);
	__type(key, struct kst_cert_key);
	__type(value, struct kst_cert_val);
} kst_certs_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kst_global_val);
} kst_global_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, KST_BPF_LISTENERS_MAX);
	__type(key, struct kst_listener_key);
	__type(value, struct kst_listener_val);
} kst_listeners_v2 SEC(".maps");
