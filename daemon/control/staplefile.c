// SPDX-License-Identifier: MIT
/* Staple files into the store; see staplefile.h. */
#include "daemon/control/staplefile.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "daemon/base/log.h"
#include "daemon/base/par.h"
#include "daemon/base/util.h"
#include "daemon/control/privs.h"
#include "daemon/ocsp/fetch.h"

int kst_staplefile_state_path(const struct kst_config *conf,
			      const struct kst_cert *c, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.ocsp", conf->global.state_dir,
			 c->fingerprint);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int kst_staplefile_open(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return KST_STAPLEFILE_E_NOTREG;
	}
	return fd;
}

const char *kst_staplefile_strerror(int err)
{
	if (err == KST_STAPLEFILE_E_NOTREG)
		return "not a regular file";
	if (err == -ELOOP)
		return "a symbolic link (not followed)";
	return strerror(-err);
}

int kst_staplefile_read(const char *path, size_t max, unsigned char **der,
			size_t *len)
{
	unsigned char *buf = NULL;
	size_t off = 0;
	int fd = kst_staplefile_open(path), err = 0;

	/* opened first, so that a missing file reads as -ENOENT even
	 * when memory is short */
	if (fd < 0)
		return fd;
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (off < max + 1) {
		ssize_t r = read(fd, buf + off, max + 1 - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	if (err < 0) {
		free(buf);
		return err;
	}
	*der = buf;
	*len = off;
	return 0;
}

int kst_staplefile_revocation_path(const struct kst_config *conf,
				   const struct kst_cert *c, char *buf,
				   size_t len)
{
	int n = snprintf(buf, len, "%s/%s.revoked", conf->global.state_dir,
			 c->fingerprint);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int kst_staplefile_revocation_read(const char *path, time_t now,
				   struct kst_ocsp_revocation *r,
				   const char **why)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int err = kst_staplefile_read(path, 4096, &text, &len);

	*why = NULL;
	/* no record there; ENOTDIR: state-dir itself is missing (a file
	 * where a directory should be), so no record can be either */
	if (err == -ENOENT || err == -ENOTDIR)
		return -ENOENT;
	if (err == 0 && len <= 4096 &&
	    kst_ocsp_revocation_parse((const char *)text, len, r) == 0) {
		free(text);
		return 0;
	}
	free(text);
	/* there, but unreadable: fail closed, as revoked as of now */
	*why = err < 0 ? kst_staplefile_strerror(err)
		       : "not a revocation record";
	memset(r, 0, sizeof(*r));
	r->revoked = true;
	r->this_update = now;
	r->reason = -1;
	return err < 0 ? err : -EINVAL;
}

/* A revocation record read ahead (kst_staplefile_revocation_read's
 * results), on every core, when a start or reload scans many. */
struct stapling_rev_ahead {
	bool done;
	int err;
	struct kst_ocsp_revocation r;
	bool has_why;
	char why[128]; /* a copy: strerror's text may be the thread's */
};

/*
 * Start and reload: the record in state-dir decides. One there holds the
 * certificate revoked (unless a newer revocation is held already); none
 * there where one was written means the operator deleted it, which is the
 * documented override. A record that could not be written yet (or a new
 * state-dir) is written now.
 */
static void stapling_revocation_sync(struct kst_certstate *cs, const char *path,
				     time_t now,
				     const struct stapling_rev_ahead *ahead)
{
	struct kst_ocsp_revocation r;
	const char *why;
	int err;

	if (cs->ocsp.rev_path == NULL || strcmp(cs->ocsp.rev_path, path) != 0) {
		char *copy = strdup(path);

		/* out of memory: not persisted yet, but still read below */
		if (copy != NULL) {
			free(cs->ocsp.rev_path);
			cs->ocsp.rev_path = copy;
			cs->ocsp.rev_on_disk = false;
			cs->ocsp.rev_dirty = cs->ocsp.revoked;
		}
	}
	if (ahead != NULL && ahead->done) {
		err = ahead->err;
		r = ahead->r;
		why = ahead->has_why ? ahead->why : NULL;
	} else {
		err = kst_staplefile_revocation_read(path, now, &r, &why);
	}
	if (err == -ENOENT && cs->ocsp.revoked && cs->ocsp.rev_on_disk &&
	    !cs->ocsp.rev_dirty) {
		kst_notice("cert %s: revocation record %s was removed: no "
			   "longer held revoked",
			   cs->name, path);
		kst_certstate_forget_revocation(cs);
		cs->ocsp.rev_on_disk = false;
		return;
	}
	if (err != -ENOENT) {
		if (why != NULL)
			kst_err("cert %s: revocation record %s: %s; held "
				"revoked as of now (delete it to override)",
				cs->name, path, why);
		kst_certstate_hold_revocation(cs, &r, path);
		cs->ocsp.rev_on_disk = true;
		/* rewritten when memory is newer, or what is there is no
		 * record (a passing error, like ENOMEM, leaves it be) */
		if (err == -EINVAL || err == KST_STAPLEFILE_E_NOTREG ||
		    cs->ocsp.revoked_this_update > r.this_update)
			cs->ocsp.rev_dirty = true;
	}
	if (cs->ocsp.rev_dirty)
		kst_certstate_save_revocation(cs);
}

/* What stat() saw of a staple file: taken ahead, on every core, when a
 * start or reload scans many (done), or now. */
struct stapling_stat {
	bool done;
	int err; /* 0 or -errno */
	long long ino, size, mtime_ns;
};

static void stapling_stat_now(struct stapling_stat *x, const char *path)
{
	struct stat st;

	memset(x, 0, sizeof(*x));
	x->done = true;
	if (stat(path, &st) < 0) {
		x->err = -errno;
		return;
	}
	x->ino = (long long)st.st_ino;
	x->size = (long long)st.st_size;
	x->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL +
		      st.st_mtim.tv_nsec;
}

/* Changed since last seen? Records what is seen now (ahead: seen then;
 * NULL or not done: stat now). -1: missing. */
static int stapling_changed(struct kst_certstate *cs, int src, const char *path,
			    const struct stapling_stat *ahead)
{
	struct stapling_stat now;
	bool missing_before = cs->ocsp.seen[src].ino == -1;

	if (ahead == NULL || !ahead->done) {
		stapling_stat_now(&now, path);
		ahead = &now;
	}
	if (ahead->err < 0) {
		if (!missing_before)
			kst_certstate_touch(cs);
		cs->ocsp.seen[src].ino = -1;
		return missing_before ? -2 : -1;
	}
	if (cs->ocsp.seen[src].ino == ahead->ino &&
	    cs->ocsp.seen[src].size == ahead->size &&
	    cs->ocsp.seen[src].mtime_ns == ahead->mtime_ns)
		return 0;
	kst_certstate_touch(cs);
	cs->ocsp.seen[src].ino = ahead->ino;
	cs->ocsp.seen[src].size = ahead->size;
	cs->ocsp.seen[src].mtime_ns = ahead->mtime_ns;
	return 1;
}

/*
 * A staple file read and verified ahead, on every core, when a start or
 * reload scans many certificates (kst_staplefile_scan): verifying is most of
 * the cost and reads nothing of the state. It is used only if the file is
 * still the one stat() saw then; else the file is read again.
 */
struct stapling_pre {
	struct stapling_stat seen; /* what stat() saw before the read */
	struct kst_ocsp_verdict v;
	size_t len;
	unsigned char der[];
};

static void stapling_load(struct kst_certstate *cs, const char *path,
			  enum kst_staple_source src,
			  const struct kst_ocsp_params *p, time_t now,
			  bool force, struct stapling_pre *pre,
			  const struct stapling_stat *ahead)
{
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;
	int ch = stapling_changed(cs, (int)src, path, ahead), err;

	if (ch == -1 && src == KST_STAPLE_SRC_FILE)
		kst_info("cert %s: no staple file %s%s", cs->name, path,
			 cs->cur ? " any more; keeping the current staple"
				 : "");
	if (ch < 0 || (ch == 0 && !force))
		return;
	if (pre != NULL && pre->seen.ino == cs->ocsp.seen[src].ino &&
	    pre->seen.size == cs->ocsp.seen[src].size &&
	    pre->seen.mtime_ns == cs->ocsp.seen[src].mtime_ns) {
		cs->ocsp.ingest_path = path;
		kst_certstate_apply(cs, pre->der, pre->len, src, now, &pre->v);
		cs->ocsp.ingest_path = NULL;
		return;
	}
	err = kst_staplefile_read(path, p->max_size, &der, &len);
	if (err < 0) {
		kst_warn("cert %s: cannot read %s: %s", cs->name, path,
			 kst_staplefile_strerror(err));
		/* try again next time, unless only a change can help */
		if (err != KST_STAPLEFILE_E_NOTREG && err != -ELOOP) {
			cs->ocsp.seen[src].ino = 0;
			kst_certstate_touch(cs);
		}
		return;
	}
	cs->ocsp.ingest_path = path; /* named in a rejection */
	kst_certstate_ingest(cs, der, len, src, now, p, &v);
	cs->ocsp.ingest_path = NULL;
	free(der);
}

void kst_staplefile_load(struct kst_certstate *cs, const char *path,
			 enum kst_staple_source src,
			 const struct kst_ocsp_params *p, time_t now,
			 bool force)
{
	stapling_load(cs, path, src, p, now, force, NULL, NULL);
}

/*
 * The state file's path, as of this generation's state-dir. A new one
 * (state-dir changed by a reload) gets the fetched staple served, if any.
 */
static void stapling_state_path_set(struct kst_certstate *cs, const char *path)
{
	char *copy;

	if (cs->ocsp.state_path != NULL &&
	    strcmp(cs->ocsp.state_path, path) == 0)
		return;
	copy = strdup(path);
	if (copy == NULL)
		return; /* not persisted there yet; tried again next scan */
	free(cs->ocsp.state_path);
	cs->ocsp.state_path = copy;
	cs->ocsp.state_logged_err = 0;
	if (cs->cur != NULL && cs->cur->source == KST_STAPLE_SRC_FETCHED)
		cs->ocsp.state_dirty = true;
}

static int stapling_persist(struct kst_certstate *cs, bool defer, char **ahead);

enum kst_ocsp_err kst_staplefile_ingest_fetched(
	struct kst_certstate *cs, const unsigned char *der, size_t len,
	const struct kst_ocsp_params *p, time_t now, struct kst_ocsp_verdict *v,
	struct kst_staplefile_ahead *ahead)
{
	/* the control thread is the slot's only writer: no lock to read it */
	const struct kst_staple *before = cs->cur;
	enum kst_ocsp_err err;

	if (ahead != NULL && ahead->judged != NULL) {
		*v = *ahead->judged;
		kst_ocsp_rejudge(v, now, p);
		err = kst_certstate_apply(cs, der, len, KST_STAPLE_SRC_FETCHED,
					  now, v);
	} else {
		err = kst_certstate_ingest(cs, der, len, KST_STAPLE_SRC_FETCHED,
					   now, p, v);
	}

	/* a new staple is allocated while the old one is still held, so a
	 * different pointer means this response is now the one served */
	if (err == KST_OCSP_OK && cs->cur != before) {
		cs->ocsp.state_dirty = true;
		stapling_persist(cs, true, ahead ? &ahead->tmp : NULL);
	}
	return err;
}

/* A path in the directory whose fsync a deferred write owes; "": none.
 * Control thread only. */
static char stapling_owed[PATH_MAX];

static bool stapling_same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && memcmp(a, b, la) == 0;
}

void kst_staplefile_sync(void)
{
	int err;

	if (stapling_owed[0] == '\0')
		return;
	err = kst_sync_dir_of(stapling_owed);
	if (err < 0)
		kst_warn("cannot fsync the directory of %s: %s; fetched "
			 "staples written there may not survive a crash",
			 stapling_owed, strerror(-err));
	stapling_owed[0] = '\0';
}

/* A write ahead (kst_write_tmp) that no one renamed: "<name>.ocsp.tmp."
 * and six characters. */
static bool stapling_is_tmp(const char *name)
{
	const char *t = strstr(name, ".ocsp" KST_TMP_INFIX);

	return t != NULL && strlen(t) == strlen(".ocsp" KST_TMP_INFIX) + 6;
}

unsigned kst_staplefile_sweep(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (dp == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL)
		if ((e->d_type == DT_REG || e->d_type == DT_UNKNOWN) &&
		    stapling_is_tmp(e->d_name) &&
		    unlinkat(dirfd(dp), e->d_name, 0) == 0)
			n++;
	closedir(dp);
	if (n > 0)
		kst_info("state-dir %s: removed %u unfinished write%s of an "
			 "earlier run",
			 dir, n, n == 1 ? "" : "s");
	return n;
}

int kst_staplefile_persist(struct kst_certstate *cs)
{
	return stapling_persist(cs, false, NULL);
}

/* Is tmp a file kst_write_tmp made beside path? */
static bool stapling_beside(const char *tmp, const char *path)
{
	size_t n = strlen(path);

	return strncmp(tmp, path, n) == 0 &&
	       strncmp(tmp + n, KST_TMP_INFIX, strlen(KST_TMP_INFIX)) == 0;
}

/* The deferred write: the file written ahead renamed into place, or the
 * staple written now. */
static int stapling_write_deferred(const struct kst_staple *s, const char *path,
				   char **ahead)
{
	if (ahead != NULL && *ahead != NULL && stapling_beside(*ahead, path)) {
		if (rename(*ahead, path) < 0)
			return -errno; /* the job's free removes it */
		free(*ahead);
		*ahead = NULL;
		return 0;
	}
	return kst_write_atomic_nosync(path, s->der, s->len,
				       KST_FETCH_PERSIST_MODE);
}

static int stapling_persist(struct kst_certstate *cs, bool defer, char **ahead)
{
	const struct kst_staple *s = cs->cur;
	const char *path = cs->ocsp.state_path;
	int err;

	if (!cs->ocsp.state_dirty)
		return 0;
	if (path == NULL || s == NULL || s->source != KST_STAPLE_SRC_FETCHED) {
		/* no fetched staple is served (any more): nothing to keep */
		cs->ocsp.state_dirty = false;
		return 0;
	}
	/* one directory owed at a time */
	if (stapling_owed[0] != '\0' &&
	    (!defer || !stapling_same_dir(stapling_owed, path)))
		kst_staplefile_sync();
	err = defer ? stapling_write_deferred(s, path, ahead)
		    : kst_write_atomic(path, s->der, s->len,
				       KST_FETCH_PERSIST_MODE);
	if (err == 0 && defer && strlen(path) < sizeof(stapling_owed))
		memcpy(stapling_owed, path, strlen(path) + 1);
	else if (err == 0 && defer)
		err = kst_sync_dir_of(path);
	if (err < 0) {
		if (err != cs->ocsp.state_logged_err)
			kst_warn("cert %s: cannot write %s: %s; the fetched "
				 "response is stapled anyway, the write is "
				 "tried again every few seconds",
				 cs->name, path, strerror(-err));
		cs->ocsp.state_logged_err = err;
		kst_certstate_writes_owed = true;
		return err;
	}
	if (cs->ocsp.state_logged_err != 0)
		kst_notice("cert %s: fetched response written to %s now",
			   cs->name, path);
	else
		kst_debug("cert %s: fetched response written to %s", cs->name,
			  path);
	cs->ocsp.state_logged_err = 0;
	cs->ocsp.state_dirty = false;
	/* seen as it is now: the scan need not read back what was written */
	stapling_changed(cs, KST_STAPLE_SRC_FETCHED, path, NULL);
	return 0;
}

/*
 * A certificate a reload reused keeps its staple: its files are read again
 * only if they changed (unless the OCSP settings did, or it has none: say
 * the revocation held was just forgotten).
 */
static bool stapling_keeps_staple(const struct kst_gen *g,
				  const struct kst_cert *c)
{
	return c->reused && !g->staples_recheck && c->state->cur != NULL;
}

/*
 * What a start or reload scan of many certificates reads on every core
 * first (kst_staplefile_scan), per certificate: the revocation record,
 * what stat() sees of the staple file and the fetched one, and those
 * files read and verified where the certificate does not keep its staple.
 * Only reads: the state is changed in order, on the control thread
 * (issue 13: 300,000 path lookups one after another per reload).
 */
struct stapling_ahead {
	struct stapling_rev_ahead rev;
	struct stapling_stat st[2];  /* file, fetched */
	struct stapling_pre *pre[2]; /* file, fetched; NULL: not read */
};

/* a: what was read ahead, or NULL */
static void stapling_scan_one(struct kst_gen *g, struct kst_cert *c,
			      const struct kst_ocsp_params *p, time_t now,
			      bool force, const struct stapling_ahead *a)
{
	char path[4096];
	bool owed;

	if (c == NULL || !c->stapling)
		return;
	/* the revocation held first: it decides what may follow; read on
	 * every start and reload (force), reused certificate or not */
	if (kst_staplefile_revocation_path(g->conf, c, path, sizeof(path)) ==
		    0 &&
	    (force || c->state->ocsp.rev_path == NULL))
		stapling_revocation_sync(c->state, path, now,
					 a ? &a->rev : NULL);
	else if (c->state->ocsp.rev_dirty)
		kst_certstate_save_revocation(c->state);
	if (stapling_keeps_staple(g, c))
		force = false;
	stapling_load(c->state, c->staple_path, KST_STAPLE_SRC_FILE, p, now,
		      force, a ? a->pre[0] : NULL, a ? &a->st[0] : NULL);
	if (kst_staplefile_state_path(g->conf, c, path, sizeof(path)) != 0)
		return;
	stapling_state_path_set(c->state, path);
	/* a write that failed before: again (before the load, which then
	 * sees the file as written, not as it was read ahead) */
	owed = c->state->ocsp.state_dirty;
	kst_staplefile_persist(c->state);
	stapling_load(c->state, path, KST_STAPLE_SRC_FETCHED, p, now, force,
		      a && !owed ? a->pre[1] : NULL,
		      a && !owed ? &a->st[1] : NULL);
}

struct stapling_par {
	struct kst_par par; /* first: the thread gets &par */
	struct kst_gen *g;
	const struct kst_ocsp_params *p;
	time_t now;
	struct stapling_ahead *ahead; /* per certificate */
};

static struct stapling_pre *stapling_pre_read(const char *path,
					      const struct kst_certstate *cs,
					      const struct kst_ocsp_params *p,
					      time_t now)
{
	struct stapling_stat st;
	unsigned char *der = NULL;
	size_t len = 0;
	struct stapling_pre *x = NULL;

	/* stat first: a file replaced after it is seen as changed later */
	stapling_stat_now(&st, path);
	if (st.err < 0 ||
	    kst_staplefile_read(path, p->max_size, &der, &len) < 0)
		return NULL;
	x = malloc(sizeof(*x) + len);
	if (x != NULL) {
		x->seen = st;
		x->len = len;
		memcpy(x->der, der, len);
		kst_ocsp_ingest(x->der, len, cs->leaf, cs->issuer, now, p,
				&x->v);
	}
	free(der);
	return x;
}

static void stapling_pre_thread(struct kst_par *par)
{
	struct stapling_par *job = (struct stapling_par *)par;
	char path[4096];
	size_t i;

	while ((i = kst_par_next(par)) < par->n) {
		const struct kst_cert *c = job->g->certs[i];
		struct stapling_ahead *a = &job->ahead[i];
		bool keeps;

		if (c == NULL || !c->stapling)
			continue;
		if (kst_staplefile_revocation_path(job->g->conf, c, path,
						   sizeof(path)) == 0) {
			const char *why;

			a->rev.err = kst_staplefile_revocation_read(
				path, job->now, &a->rev.r, &why);
			a->rev.has_why = why != NULL;
			if (why != NULL)
				snprintf(a->rev.why, sizeof(a->rev.why), "%s",
					 why);
			a->rev.done = true;
		}
		/* what stapling_scan_one reads whatever changed */
		keeps = stapling_keeps_staple(job->g, c);
		stapling_stat_now(&a->st[0], c->staple_path);
		if (!keeps)
			a->pre[0] = stapling_pre_read(c->staple_path, c->state,
						      job->p, job->now);
		if (kst_staplefile_state_path(job->g->conf, c, path,
					      sizeof(path)) != 0)
			continue;
		stapling_stat_now(&a->st[1], path);
		if (!keeps)
			a->pre[1] = stapling_pre_read(path, c->state, job->p,
						      job->now);
	}
}

void kst_staplefile_scan(struct kst_gen *g, time_t now, bool force)
{
	struct kst_ocsp_params p;
	struct stapling_par job = {.g = g, .p = &p, .now = now};

	kst_staple_params(g->conf, &p);
	/* many to read and verify (start, reload): on every core first;
	 * without the memory for it, one by one below */
	if (force && g->n_certs >= KST_PAR_MIN)
		job.ahead = calloc(g->n_certs, sizeof(*job.ahead));
	if (job.ahead != NULL) {
		job.par.n = g->n_certs;
		job.par.thread = stapling_pre_thread;
		kst_par_run(&job.par);
	}
	for (size_t i = 0; i < g->n_certs; i++)
		stapling_scan_one(g, g->certs[i], &p, now, force,
				  job.ahead ? &job.ahead[i] : NULL);
	for (size_t i = 0; job.ahead != NULL && i < g->n_certs; i++) {
		free(job.ahead[i].pre[0]);
		free(job.ahead[i].pre[1]);
	}
	free(job.ahead);
}

/* ------------------------------------------- staple files by name */

/*
 * Which certificates a file name in a watched directory may concern: the
 * base name of its staple file, or its fingerprint (the state-dir's
 * "<sha256>.ocsp" and ".revoked"). Open addressing over (key, cert)
 * pairs, a key listed once per certificate; built at the first inotify
 * event of a generation.
 */
struct kst_staplefile_index {
	struct {
		const char *key;
		size_t cert;
	} * slots;
	size_t mask;
};

static size_t stapling_hash(const char *s, size_t len)
{
	size_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static void stapling_index_add(struct kst_staplefile_index *x, const char *key,
			       size_t cert)
{
	size_t h = stapling_hash(key, strlen(key)) & x->mask;

	while (x->slots[h].key != NULL)
		h = (h + 1) & x->mask;
	x->slots[h].key = key;
	x->slots[h].cert = cert;
}

static struct kst_staplefile_index *stapling_index(struct kst_gen *g)
{
	struct kst_staplefile_index *x;
	size_t cap = 16;

	if (g->staple_index != NULL)
		return g->staple_index;
	while (cap < g->n_certs * 4)
		cap *= 2;
	x = calloc(1, sizeof(*x));
	if (x == NULL || (x->slots = calloc(cap, sizeof(*x->slots))) == NULL) {
		free(x);
		return NULL;
	}
	x->mask = cap - 1;
	for (size_t i = 0; i < g->n_certs; i++) {
		const struct kst_cert *c = g->certs[i];
		const char *base;

		if (c == NULL || !c->stapling)
			continue;
		base = strrchr(c->staple_path, '/');
		stapling_index_add(x, base ? base + 1 : c->staple_path, i);
		stapling_index_add(x, c->fingerprint, i);
	}
	g->staple_index = x;
	g->staple_index_free = kst_staplefile_index_free;
	return x;
}

void kst_staplefile_index_free(struct kst_staplefile_index *x)
{
	if (x == NULL)
		return;
	free(x->slots);
	free(x);
}

/* Scan the certificates key (len bytes) names; false: none. */
static bool stapling_scan_key(struct kst_gen *g, struct kst_staplefile_index *x,
			      const char *key, size_t len,
			      const struct kst_ocsp_params *p, time_t now)
{
	bool found = false;

	for (size_t h = stapling_hash(key, len) & x->mask;
	     x->slots[h].key != NULL; h = (h + 1) & x->mask) {
		if (strlen(x->slots[h].key) != len ||
		    memcmp(x->slots[h].key, key, len) != 0)
			continue;
		stapling_scan_one(g, g->certs[x->slots[h].cert], p, now, false,
				  NULL);
		found = true;
	}
	return found;
}

int kst_staplefile_scan_name(struct kst_gen *g, const char *name, time_t now)
{
	struct kst_staplefile_index *x = stapling_index(g);
	struct kst_ocsp_params p;
	const char *dot = strrchr(name, '.');
	size_t len = strlen(name);

	if (x == NULL)
		return -ENOMEM;
	kst_staple_params(g->conf, &p);
	stapling_scan_key(g, x, name, len, &p, now);
	/* "<fingerprint>.ocsp" or ".revoked" in state-dir */
	if (dot != NULL && dot - name == 64 &&
	    (strcmp(dot, ".ocsp") == 0 || strcmp(dot, ".revoked") == 0))
		stapling_scan_key(g, x, name, 64, &p, now);
	return 0;
}

/* Why a missing dir cannot be created: its parent is not a directory
 * that can be written. 0 when it can be. */
static int stapling_check_parent(const char *dir, char *why, size_t len)
{
	char *copy = strdup(dir), *parent;
	struct stat st;
	int err = 0;

	if (copy == NULL)
		return -ENOMEM;
	parent = dirname(copy);
	if (stat(parent, &st) < 0)
		err = -errno;
	else if (!S_ISDIR(st.st_mode))
		err = -ENOTDIR;
	else if (access(parent, W_OK | X_OK) < 0)
		err = -errno;
	if (err < 0)
		snprintf(why, len,
			 "does not exist and cannot be created (%s: %s)",
			 parent, strerror(-err));
	free(copy);
	return err;
}

/* Start-up gives the directory itself (not a link) to the user: then
 * its owner bits count for that user; through a link, the target's. */
static bool stapling_user_writes(const struct stat *lst, const struct stat *st,
				 const struct kst_privs *pv)
{
	bool link = S_ISLNK(lst->st_mode);
	uid_t uid = link ? st->st_uid : pv->uid;
	gid_t gid = link ? st->st_gid : pv->gid;
	mode_t need = uid == pv->uid   ? S_IWUSR | S_IXUSR
		      : gid == pv->gid ? S_IWGRP | S_IXGRP
				       : S_IWOTH | S_IXOTH;

	return (st->st_mode & need) == need;
}

int kst_staplefile_check_state_dir(const char *dir, const struct kst_privs *pv,
				   char *why, size_t len)
{
	struct stat lst, st;
	int err;

	why[0] = '\0';
	if (lstat(dir, &lst) < 0 && errno == ENOENT) {
		err = stapling_check_parent(dir, why, len);
		if (err < 0)
			return err;
		snprintf(why, len,
			 "does not exist: start-up creates it (mode 0750%s%s)",
			 pv->drop ? ", owner " : "", pv->drop ? pv->user : "");
		return 1;
	}
	if (stat(dir, &st) < 0) {
		err = -errno;
		snprintf(why, len, "cannot be used: %s", strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "is not a directory");
		return -ENOTDIR;
	}
	/* Dropping privileges, the user writes it, not root: root's own
	 * access() says nothing (under a unit's bounding set without
	 * CAP_DAC_OVERRIDE it fails on the user's 0750 directory). */
	if (pv->drop && geteuid() == 0) {
		struct statvfs vfs;

		if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
			snprintf(why, len, "is on a read-only file system");
			return -EROFS;
		}
	} else if (access(dir, W_OK | X_OK) < 0) {
		err = -errno;
		snprintf(why, len, "is not writable: %s", strerror(-err));
		return err;
	}
	if (pv->drop && geteuid() == 0 &&
	    !stapling_user_writes(&lst, &st, pv)) {
		snprintf(why, len, "is not writable by user %s (mode %04o)",
			 pv->user, (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	return 0;
}

/*
 * Once a second: a walk over every certificate only when a staple may
 * have expired, that is when the earliest nextUpdate seen by the last
 * walk has come or a slot changed since (issue 13: an idle daemon with
 * 100,000 certificates walked them all every second).
 */
unsigned kst_staplefile_expire(struct kst_gen *g, time_t now)
{
	time_t next = (time_t)LLONG_MAX;
	unsigned n = 0;

	if (g->expire_walked && g->expire_epoch == kst_certstate_epoch() &&
	    now < g->expire_next)
		return 0;
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_certstate *cs =
			g->certs[i] ? g->certs[i]->state : NULL;

		if (cs == NULL)
			continue;
		if (kst_certstate_expire(cs, now))
			n++;
		else if (cs->cur != NULL && cs->cur->next_update < next)
			next = cs->cur->next_update;
	}
	g->expire_next = next;
	g->expire_epoch = kst_certstate_epoch();
	g->expire_walked = true;
	return n;
}

void kst_staplefile_retry(struct kst_gen *g)
{
	/* a walk of every certificate only while a write failed (issue 13:
	 * an idle daemon with 100,000 certificates walked them every 5 s) */
	if (!kst_certstate_writes_owed)
		return;
	kst_certstate_writes_owed = false; /* a failure below sets it again */
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];

		if (c == NULL || !c->stapling)
			continue;
		if (c->state->ocsp.rev_dirty && c->state->ocsp.rev_path != NULL)
			kst_certstate_save_revocation(c->state);
		if (c->state->ocsp.state_dirty)
			kst_staplefile_persist(c->state);
	}
}
