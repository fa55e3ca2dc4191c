/* SPDX-License-Identifier: MIT */
/*
 * Directories of certificates (`cert-dir = PATH` in a listener, issue 13):
 * an operator with 100,000 PEM files names the directory instead of
 * writing 100,000 `cert =` lines.
 *
 * The configuration parser lists the directory when it reads the line
 * (kst_certdir_scan) and adds each `*.pem` regular file (a symbolic link
 * is followed) as if it were a `cert = FILE` line at that place, in
 * byte-wise sorted name order; dotfiles, other names and subdirectories
 * are left alone. Only names are read here: the files are loaded, checked
 * and reused across reloads by the generation like any inline cert, so a
 * reload (which parses the file again) sees files added and removed.
 * Listing is one readdir pass and one sort: O(N log N) in the entries.
 *
 * Certificates of a listener that cover the same SNI name with the same
 * key type, whatever lines brought them in, are reported by
 * kst_sni_warn_dups (sni.h). With `cert-dir-watch = on`, a change in a cert-dir
 * triggers the reload itself (kst_certdir_watch below).
 */
#ifndef KST_CERTDIR_H
#define KST_CERTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/base/diag.h"

struct kst_config;

/* The names a scan found, sorted (strcmp); each and the array malloc'd. */
struct kst_certdir_list {
	char **names;
	size_t n;
};

/* Is a directory entry named so a certificate: "*.pem", not a dotfile. */
bool kst_certdir_wanted(const char *name);
/*
 * Lists dir into out. Errors (the directory cannot be opened or read, is
 * not a directory) go to d as FILE:LINE, the cert-dir line, and return
 * -EINVAL; a directory without a certificate is a warning there and
 * returns 0 with out->n == 0. -ENOMEM: nothing reported. On failure out
 * is empty.
 */
int kst_certdir_scan(const char *dir, const char *file, int line,
		     struct kst_diag *d, struct kst_certdir_list *out);
void kst_certdir_list_free(struct kst_certdir_list *l);

/*
 * `cert-dir-watch = on` (control thread only): kst_certdir_watch adds an
 * inotify watch on every cert-dir of conf to inofd (the control thread's,
 * which also watches staple directories; called again after each reload,
 * it forgets the directories of the configuration before). Each event
 * read from inofd goes to kst_certdir_event, which notes a `*.pem` name
 * written, added or removed in one of them (or a lost event queue);
 * kst_certdir_due says, once, that a reload is due: something changed and
 * nothing more for a second, so a batch of copies makes one reload.
 */
struct inotify_event;
void kst_certdir_watch(const struct kst_config *conf, int inofd);
void kst_certdir_event(const struct inotify_event *ev, uint64_t now_ms);
bool kst_certdir_due(uint64_t now_ms);

#endif
