/* SPDX-License-Identifier: MIT */
/*
 * Staple files into the staple store (control thread). Two sources per
 * certificate, both through the one ingest path (kst_certstate_ingest):
 * the operator's file (`<pem>.ocsp` or `staple-file`) and the fetcher's
 * file in state-dir (`<sha256 of the leaf>.ocsp`). A file is read again
 * only when it changed (inode, size or mtime), so the periodic check and
 * inotify events cost a stat per certificate.
 *
 * The revocation held for a certificate (staple.h) is persisted beside the
 * fetcher's file (`<sha256 of the leaf>.revoked`), read at start and on
 * every reload before any staple file, so no good response from before the
 * revocation can be stapled again.
 */
#ifndef KST_STAPLING_H
#define KST_STAPLING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "daemon/gen.h"

void kst_stapling_params(const struct kst_config *conf,
			 struct kst_ocsp_params *p);
/* state-dir file of a certificate: "<dir>/<fingerprint>.ocsp" */
int kst_stapling_state_path(const struct kst_config *conf,
			    const struct kst_cert *c, char *buf, size_t len);
/* (Re)load the changed staple files of every certificate of g; force reads
 * them even when unchanged (start, reload). */
void kst_stapling_scan(struct kst_gen *g, time_t now, bool force);
/*
 * Every staple and state file is opened here: without following a final
 * symlink, non-blocking (a FIFO must not stall the control thread), and
 * only if it is a regular file (KST_STAPLING_E_NOTREG otherwise). The fd
 * (O_CLOEXEC), or -errno.
 */
#define KST_STAPLING_E_NOTREG (-EBADFD)
int kst_stapling_open(const char *path);
/* "not a regular file" for KST_STAPLING_E_NOTREG, else strerror(-err). */
const char *kst_stapling_strerror(int err);
/* Read at most max + 1 bytes (so an oversized file is seen as such),
 * through kst_stapling_open; 0 or -errno. */
int kst_stapling_read(const char *path, size_t max, unsigned char **der,
		      size_t *len);
/* state-dir revocation record of a certificate:
 * "<dir>/<fingerprint>.revoked" (format: kst_ocsp_revocation_format) */
int kst_stapling_revocation_path(const struct kst_config *conf,
				 const struct kst_cert *c, char *buf,
				 size_t len);
/*
 * Read a revocation record. 0: *r holds it. -ENOENT: there is none. Any
 * other -errno: a file is there but unreadable or not a record; *r then
 * holds "revoked as of now" (fail closed) and *why says what is wrong.
 */
int kst_stapling_revocation_read(const char *path, time_t now,
				 struct kst_ocsp_revocation *r,
				 const char **why);
/* (Re)load one staple file into a certificate state, through the ingest
 * path; unchanged files are skipped unless force. */
void kst_stapling_load(struct kst_certstate *cs, const char *path,
		       enum kst_staple_source src,
		       const struct kst_ocsp_params *p, time_t now, bool force);
/* Drop staples past nextUpdate; the number dropped. */
unsigned kst_stapling_expire(struct kst_gen *g, time_t now);

#endif
