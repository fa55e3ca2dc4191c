/* SPDX-License-Identifier: MIT */
/*
 * Dropping root after setup. Started as root, kstapled binds its sockets,
 * loads keys, pins its maps and opens netlink sockets, then switches to
 * [global] user/group before any thread starts, keeping only:
 *   CAP_NET_BIND_SERVICE  when a listener binds a port below 1024, so a
 *                         reload can open another one;
 *   CAP_BPF               when the metrics maps are pinned and this kernel
 *                         refuses map writes through a kept fd without it
 *                         (Linux before 6.5 with unprivileged BPF off:
 *                         probed, not assumed).
 * kTLS and sock_diag need nothing on the daemon's own sockets (the tls
 * module is loaded by the start-up probe, as root). The bounding set
 * keeps the same list and nothing more, and no_new_privs is set (also
 * with allow-root), so nothing the process could exec gains anything.
 */
#ifndef KST_PRIVS_H
#define KST_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <sys/capability.h>

#include "daemon/config/config.h"

struct kst_privs {
	bool drop; /* a user is configured */
	uid_t uid;
	gid_t gid;
	char user[64];
};

/* Look up [global] user/group; -ENOENT with why filled when unknown. */
int kst_privs_resolve(const struct kst_global_conf *g, struct kst_privs *p,
		      char *why, size_t len);
/* state-dir exists (0750) and belongs to the service user; -ELOOP (and
 * no owner changed) when it is a symbolic link. */
int kst_privs_state_dir(const char *dir, const struct kst_privs *p);
/* Sets no_new_privs; then, with a user configured, empties the bounding
 * set but for caps[0..n) and switches to p's user, keeping caps[0..n)
 * (permitted and effective); checks that root cannot be regained.
 * 0 or -errno. */
int kst_privs_drop(const struct kst_privs *p, const cap_value_t *caps, int n);
/* In a child: drop everything, run probe; true if probe returned 0. */
bool kst_privs_works_without_caps(const struct kst_privs *p,
				  int (*probe)(void *), void *arg);
/* "cap_net_bind_service,cap_bpf" of the calling thread's effective set */
void kst_privs_describe(char *buf, size_t len);

#endif
