// SPDX-License-Identifier: MIT
/*
 * `cert-dir = PATH`: listing a directory of certificates for the parser,
 * and the duplicate check of a listener's certificates; see certdir.h.
 * The scan reads names only (one readdir pass, a stat for a symbolic link
 * or a file system without d_type, one sort); what a name holds is the
 * certificate loader's business, which reports against the same line.
 */
#include "daemon/config/certdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config/config.h"
#include "daemon/base/log.h"

static int certdir_keep(int dfd, const struct dirent *de);
static int certdir_push(struct kst_certdir_list *l, size_t *cap,
			const char *name);
static int certdir_cmp(const void *a, const void *b);

bool kst_certdir_wanted(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".pem") == 0;
}

/*
 * 1: a certificate to load; 0: not one (a directory, a device). A name
 * that cannot be stat'ed (a dangling link) is kept: the loader then says
 * why it cannot be read, rather than a certificate silently missing.
 */
static int certdir_keep(int dfd, const struct dirent *de)
{
	struct stat st;

	if (!kst_certdir_wanted(de->d_name))
		return 0;
	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(dfd, de->d_name, &st, 0) < 0)
		return 1;
	return S_ISREG(st.st_mode) ? 1 : 0;
}

static int certdir_push(struct kst_certdir_list *l, size_t *cap,
			const char *name)
{
	char *copy;

	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **a = reallocarray(l->names, ncap, sizeof(*a));

		if (a == NULL)
			return -ENOMEM;
		l->names = a;
		*cap = ncap;
	}
	copy = strdup(name);
	if (copy == NULL)
		return -ENOMEM;
	l->names[l->n++] = copy;
	return 0;
}

static int certdir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void certdir_open_error(struct kst_diag *d, const char *file, int line,
			       const char *dir, int e)
{
	if (e == ENOTDIR)
		kst_diag_error(d, file, line, "cert-dir %s is not a directory",
			       dir);
	else
		kst_diag_error(d, file, line, "cert-dir %s: cannot open: %s",
			       dir, strerror(e));
}

int kst_certdir_scan(const char *dir, const char *file, int line,
		     struct kst_diag *d, struct kst_certdir_list *out)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = NULL;
	struct dirent *de;
	size_t cap = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (dfd < 0) {
		certdir_open_error(d, file, line, dir, errno);
		return -EINVAL;
	}
	dp = fdopendir(dfd);
	if (dp == NULL) {
		rc = -errno;
		close(dfd);
		goto out;
	}
	for (errno = 0; (de = readdir(dp)) != NULL; errno = 0) {
		if (certdir_keep(dirfd(dp), de) &&
		    (rc = certdir_push(out, &cap, de->d_name)) < 0)
			goto out;
	}
	if (errno != 0) {
		kst_diag_error(d, file, line, "cert-dir %s: cannot read: %s",
			       dir, strerror(errno));
		rc = -EINVAL;
		goto out;
	}
	if (out->n > 1)
		qsort(out->names, out->n, sizeof(*out->names), certdir_cmp);
	if (out->n == 0)
		kst_diag_warn(d, file, line,
			      "cert-dir %s holds no *.pem file: it adds no "
			      "certificate",
			      dir);
out:
	if (dp != NULL)
		closedir(dp);
	/* -ENOMEM is the caller's to report, as every allocation failure
	 * of the parser */
	if (rc < 0 && rc != -EINVAL && rc != -ENOMEM) {
		kst_diag_error(d, file, line, "cert-dir %s: cannot read: %s",
			       dir, strerror(-rc));
		rc = -EINVAL;
	}
	if (rc < 0)
		kst_certdir_list_free(out);
	return rc;
}

void kst_certdir_list_free(struct kst_certdir_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------- watching */

#define CERTDIR_QUIET_MS 1000 /* no event for this long: reload */
#define CERTDIR_EVENTS                                          \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | \
	 IN_MOVED_FROM | IN_ATTRIB)

/* Control thread only: the watch descriptors of the cert-dirs, and the
 * time of the last change not yet reloaded (0: none). */
static int *certdir_wds;
static size_t certdir_n_wds;
static uint64_t certdir_changed_ms;

void kst_certdir_watch(const struct kst_config *conf, int inofd)
{
	size_t n = 0;
	int *wds;

	free(certdir_wds);
	certdir_wds = NULL;
	certdir_n_wds = 0;
	if (inofd < 0 || !conf->global.cert_dir_watch)
		return;
	for (size_t i = 0; i < conf->n_listeners; i++)
		n += conf->listeners[i].n_cert_dirs;
	wds = calloc(n ? n : 1, sizeof(*wds));
	if (wds == NULL) {
		kst_err("cert-dir-watch: out of memory: SIGHUP reloads");
		return;
	}
	for (size_t i = 0; i < conf->n_listeners; i++) {
		const struct kst_listener_conf *lc = &conf->listeners[i];

		for (size_t j = 0; j < lc->n_cert_dirs; j++) {
			/* IN_MASK_ADD: the staple watch on the same directory
			 * keeps what it asked for */
			int wd =
				inotify_add_watch(inofd, lc->cert_dirs[j].path,
						  CERTDIR_EVENTS | IN_MASK_ADD);

			if (wd < 0)
				kst_warn("cert-dir-watch: %s: %s: SIGHUP "
					 "reloads it",
					 lc->cert_dirs[j].path,
					 strerror(errno));
			else
				wds[certdir_n_wds++] = wd;
		}
	}
	certdir_wds = wds;
}

static bool certdir_watched(int wd)
{
	for (size_t i = 0; i < certdir_n_wds; i++)
		if (certdir_wds[i] == wd)
			return true;
	return false;
}

void kst_certdir_event(const struct inotify_event *ev, uint64_t now_ms)
{
	if (certdir_n_wds == 0)
		return;
	if (!(ev->mask & IN_Q_OVERFLOW) &&
	    (!certdir_watched(ev->wd) || ev->len == 0 ||
	     !kst_certdir_wanted(ev->name) || ev->mask == IN_CREATE))
		return;
	certdir_changed_ms = now_ms ? now_ms : 1;
}

bool kst_certdir_due(uint64_t now_ms)
{
	if (certdir_changed_ms == 0 ||
	    now_ms - certdir_changed_ms < CERTDIR_QUIET_MS)
		return false;
	certdir_changed_ms = 0;
	return true;
}
