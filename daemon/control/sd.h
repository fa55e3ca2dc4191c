/* SPDX-License-Identifier: MIT */
/*
 * systemd integration through libsystemd: the notify protocol (READY,
 * STATUS, RELOADING, STOPPING, WATCHDOG; all no-ops when NOTIFY_SOCKET is
 * unset) and the sockets of socket activation.
 */
#ifndef KST_SD_H
#define KST_SD_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/datapath/gen.h"

void kst_sd_ready(const char *status);
void kst_sd_status(const char *status);
/* RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects */
void kst_sd_reloading(void);
void kst_sd_stopping(void);
void kst_sd_watchdog(void);
/* WatchdogSec in microseconds, or 0 when not asked for */
uint64_t kst_sd_watchdog_usec(void);

/*
 * The listening sockets systemd passed (LISTEN_FDS), with their address
 * and FileDescriptorName; the environment is cleared so children do not
 * inherit them. 0 (possibly none) or -errno.
 */
int kst_sd_listen_fds(struct kst_passed_fd **out, size_t *n);

#endif
