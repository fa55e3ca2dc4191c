/* SPDX-License-Identifier: MIT */
/*
 * NIC TLS offload at start, on reload and in `-t`: one summary line per
 * interface that has any TLS offload feature, the `nic-offload` switch,
 * and what the interfaces a listener binds to can do. Without the ethtool
 * netlink family or the privilege, one notice and nothing else changes.
 */
#ifndef KST_NICCTL_H
#define KST_NICCTL_H

#include <stdio.h>

#include "daemon/datapath/gen.h"

void kst_nicctl_start(struct kst_gen *g);
/* `kstapled -t`: the listeners' interfaces, to out. */
void kst_nicctl_check(const struct kst_config *conf, FILE *out);

#endif
