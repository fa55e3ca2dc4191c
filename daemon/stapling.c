// SPDX-License-Identifier: MIT
/* Staple files into the store; see stapling.h. */
#include "daemon/stapling.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"

void kst_stapling_params(const struct kst_config *conf,
			 struct kst_ocsp_params *p)
{
	kst_ocsp_params_default(p);
	p->max_size = (size_t)conf->ocsp.max_response_size;
	p->skew = (long)(conf->ocsp.skew_ms / 1000);
	p->max_age = (long)(conf->ocsp.max_age_ms / 1000);
}

int kst_stapling_state_path(const struct kst_config *conf,
			    const struct kst_cert *c, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.ocsp", conf->global.state_dir,
			 c->fingerprint);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int kst_stapling_read(const char *path, size_t max, unsigned char **der,
		      size_t *len)
{
	unsigned char *buf = malloc(max + 1);
	size_t off = 0;
	int fd, err = 0;

	if (buf == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
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

/* Changed since last seen? Records what is seen now. -1: missing. */
static int stapling_changed(struct kst_certstate *cs, int src,
			    const char *path)
{
	struct stat st;
	long long mt;
	bool missing_before = cs->ocsp.seen[src].ino == -1;

	if (stat(path, &st) < 0) {
		cs->ocsp.seen[src].ino = -1;
		return missing_before ? -2 : -1;
	}
	mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if (cs->ocsp.seen[src].ino == (long long)st.st_ino &&
	    cs->ocsp.seen[src].size == (long long)st.st_size &&
	    cs->ocsp.seen[src].mtime_ns == mt)
		return 0;
	cs->ocsp.seen[src].ino = (long long)st.st_ino;
	cs->ocsp.seen[src].size = (long long)st.st_size;
	cs->ocsp.seen[src].mtime_ns = mt;
	return 1;
}

void kst_stapling_load(struct kst_certstate *cs, const char *path,
		       enum kst_staple_source src,
		       const struct kst_ocsp_params *p, time_t now, bool force)
{
	struct kst_ocsp_verdict v;
	unsigned char *der = NULL;
	size_t len = 0;
	int ch = stapling_changed(cs, (int)src, path), err;

	if (ch == -1 && src == KST_STAPLE_SRC_FILE)
		kst_info("cert %s: no staple file %s%s", cs->name, path,
			 cs->cur ? " any more; keeping the current staple"
				 : "");
	if (ch < 0 || (ch == 0 && !force))
		return;
	err = kst_stapling_read(path, p->max_size, &der, &len);
	if (err < 0) {
		kst_warn("cert %s: cannot read %s: %s", cs->name, path,
			 strerror(-err));
		cs->ocsp.seen[src].ino = 0; /* try again next time */
		return;
	}
	kst_certstate_ingest(cs, der, len, src, now, p, &v);
	free(der);
}

void kst_stapling_scan(struct kst_gen *g, time_t now, bool force)
{
	struct kst_ocsp_params p;
	char path[4096];

	kst_stapling_params(g->conf, &p);
	for (size_t i = 0; i < g->n_certs; i++) {
		struct kst_cert *c = g->certs[i];

		if (c == NULL || !c->stapling)
			continue;
		kst_stapling_load(c->state, c->staple_path, KST_STAPLE_SRC_FILE,
			      &p, now, force);
		if (kst_stapling_state_path(g->conf, c, path, sizeof(path)) ==
		    0)
			kst_stapling_load(c->state, path, KST_STAPLE_SRC_FETCHED,
				      &p, now, force);
	}
}

unsigned kst_stapling_expire(struct kst_gen *g, time_t now)
{
	unsigned n = 0;

	for (size_t i = 0; i < g->n_certs; i++)
		if (g->certs[i] != NULL &&
		    kst_certstate_expire(g->certs[i]->state, now))
			n++;
	return n;
}
