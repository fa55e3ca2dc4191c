/* SPDX-License-Identifier: MIT */
/*
 * Staple files into the staple store (control thread). Two sources per
 * certificate, both through the one ingest path (kst_certstate_ingest):
 * the operator's file (`<pem>.ocsp` or `staple-file`) and the fetcher's
 * file in state-dir (`<sha256 of the leaf>.ocsp`). A file is read again
 * only when it changed (inode, size or mtime), so the periodic check and
 * inotify events cost a stat per certificate.
 */
#ifndef KST_STAPLING_H
#define KST_STAPLING_H

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
/* Read at most max + 1 bytes (so an oversized file is seen as such);
 * 0 or -errno. */
int kst_stapling_read(const char *path, size_t max, unsigned char **der,
		      size_t *len);
/* (Re)load one staple file into a certificate state, through the ingest
 * path; unchanged files are skipped unless force. */
void kst_stapling_load(struct kst_certstate *cs, const char *path,
		       enum kst_staple_source src,
		       const struct kst_ocsp_params *p, time_t now, bool force);
/* Drop staples past nextUpdate; the number dropped. */
unsigned kst_stapling_expire(struct kst_gen *g, time_t now);

#endif
