/* SPDX-License-Identifier: MIT */
/* The control thread's side of OCSP fetching; see fetchctl.c. */
#ifndef KST_FETCHCTL_H
#define KST_FETCHCTL_H

#include <time.h>

#include "daemon/control/daemon.h"

/* Start the pool (after the privilege drop) and submit what is due. */
int kst_fetchctl_start(struct kst_daemon *d);
/* Until every certificate without a valid staple has its first answer,
 * or [ocsp] startup-wait passes, or a signal arrives. */
void kst_fetchctl_startup_wait(struct kst_daemon *d);
/* Submit the jobs that are due (control tick). */
void kst_fetchctl_tick(struct kst_daemon *d, time_t now);
/* Take finished jobs in; how many. */
unsigned kst_fetchctl_done(struct kst_daemon *d);
void kst_fetchctl_stop(struct kst_daemon *d);

#endif
