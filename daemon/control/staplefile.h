/* SPDX-License-Identifier: MIT */
/*
 * Staple files into the staple store (control thread). Three sources per
 * certificate, all through the one ingest path (kst_certstate_ingest):
 * the operator's file (`<pem>.ocsp` or `staple-file`), the copy of the
 * last fetched staple in state-dir (`<sha256 of the leaf>.ocsp`), and a
 * response a fetch just brought, from memory. A file is read again only
 * when it changed (inode, size or mtime), so the periodic check and
 * inotify events cost a stat per certificate.
 *
 * The state-dir copy is written here, by the control thread, and only for
 * a fetched response that became the staple served: a replayed older
 * response, or one refused, never replaces a newer file. A write that
 * fails (no state-dir, a read-only disk) does not keep the response from
 * being stapled: it is a warning (once per error), and the write is tried
 * again at every scan (5 s) until it works.
 *
 * The revocation held for a certificate (certstate.h) is persisted beside the
 * fetcher's file (`<sha256 of the leaf>.revoked`), read at start and on
 * every reload before any staple file, so no good response from before the
 * revocation can be stapled again.
 */
#ifndef KST_STAPLEFILE_H
#define KST_STAPLEFILE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "daemon/datapath/gen.h"

/* state-dir file of a certificate: "<dir>/<fingerprint>.ocsp" */
int kst_staplefile_state_path(const struct kst_config *conf,
			      const struct kst_cert *c, char *buf, size_t len);
/* (Re)load the changed staple files of every certificate of g; force reads
 * them even when unchanged (start, reload: but not those of a certificate
 * the reload reused, unless the OCSP settings changed). */
void kst_staplefile_scan(struct kst_gen *g, time_t now, bool force);
/*
 * The same for only the certificates a file name (a base name, as inotify
 * reports it) may concern: a staple file's, or a state-dir file's
 * ("<fingerprint>.ocsp", ".revoked"). O(1) in the number of certificates
 * after the first call of a generation (which indexes them). 0 or -ENOMEM
 * (then scan them all).
 */
int kst_staplefile_scan_name(struct kst_gen *g, const char *name, time_t now);
struct kst_staplefile_index;
void kst_staplefile_index_free(struct kst_staplefile_index *x);
/*
 * Every staple and state file is opened here: without following a final
 * symlink, non-blocking (a FIFO must not stall the control thread), and
 * only if it is a regular file (KST_STAPLEFILE_E_NOTREG otherwise). The fd
 * (O_CLOEXEC), or -errno.
 */
#define KST_STAPLEFILE_E_NOTREG (-EBADFD)
int kst_staplefile_open(const char *path);
/* "not a regular file" for KST_STAPLEFILE_E_NOTREG, else strerror(-err). */
const char *kst_staplefile_strerror(int err);
/* Read at most max + 1 bytes (so an oversized file is seen as such),
 * through kst_staplefile_open; 0 or -errno. */
int kst_staplefile_read(const char *path, size_t max, unsigned char **der,
			size_t *len);
/* state-dir revocation record of a certificate:
 * "<dir>/<fingerprint>.revoked" (format: kst_ocsp_revocation_format) */
int kst_staplefile_revocation_path(const struct kst_config *conf,
				   const struct kst_cert *c, char *buf,
				   size_t len);
/*
 * Read a revocation record. 0: *r holds it. -ENOENT: there is none (nor
 * a state-dir, even where a file stands in its place). Any
 * other -errno: a file is there but unreadable or not a record; *r then
 * holds "revoked as of now" (fail closed) and *why says what is wrong.
 */
int kst_staplefile_revocation_read(const char *path, time_t now,
				   struct kst_ocsp_revocation *r,
				   const char **why);
/* (Re)load one staple file into a certificate state, through the ingest
 * path; unchanged files are skipped unless force. */
void kst_staplefile_load(struct kst_certstate *cs, const char *path,
			 enum kst_staple_source src,
			 const struct kst_ocsp_params *p, time_t now,
			 bool force);
/*
 * A response a fetch brought, from memory, through the one ingest path
 * (the revocation held included); persisted (kst_staplefile_persist) only
 * when it became the staple served, except the fsync of state-dir itself,
 * which the caller owes (kst_staplefile_sync) once its batch of fetched
 * responses is in. ahead (NULL: none) is what the fetching thread did
 * already. The verdict's error.
 */
struct kst_staplefile_ahead {
	/* its kst_ocsp_ingest verdict, with the same params: only the steps
	 * that read the clock run again here (kst_ocsp_rejudge), not the
	 * parse and signature check; NULL: the full ingest here */
	const struct kst_ocsp_verdict *judged;
	/* der written and fsync'ed beside ocsp.state_path (the job's
	 * persist_tmp): renamed over the state file instead of writing it
	 * again, and then set NULL (taken); left as it is when not used */
	char *tmp;
};
enum kst_ocsp_err kst_staplefile_ingest_fetched(
	struct kst_certstate *cs, const unsigned char *der, size_t len,
	const struct kst_ocsp_params *p, time_t now, struct kst_ocsp_verdict *v,
	struct kst_staplefile_ahead *ahead);
/*
 * Write the fetched staple served to ocsp.state_path if it is not there
 * yet (ocsp.state_dirty): write, fsync, rename, fsync of the directory.
 * A failure is logged once per error (path and errno) and left dirty for
 * the next scan. 0 or -errno.
 */
int kst_staplefile_persist(struct kst_certstate *cs);
/*
 * At start: remove from state-dir the fetched responses written ahead
 * (kst_fetch_job.persist_tmp) that a killed run never renamed. The count
 * removed (said at info level when any).
 */
unsigned kst_staplefile_sweep(const char *dir);
/* The directory fsync that kst_staplefile_ingest_fetched left owing, if
 * any (issue 13: two fsyncs per fetched staple on the control thread,
 * one of them the same directory's every time). */
void kst_staplefile_sync(void);
/*
 * For -t: can start-up use dir as state-dir, as pv's user? 0: yes; 1: it
 * does not exist and start-up will create it; -errno: no. why says what
 * was found (for 1 and -errno).
 */
struct kst_privs;
int kst_staplefile_check_state_dir(const char *dir, const struct kst_privs *pv,
				   char *why, size_t len);
/* Drop staples past nextUpdate; the number dropped. Walks the
 * certificates only when one may have expired. */
unsigned kst_staplefile_expire(struct kst_gen *g, time_t now);
/* Writes that failed (state-dir copy, revocation record), again: no
 * system call for a certificate with nothing to write. */
void kst_staplefile_retry(struct kst_gen *g);

#endif
