// SPDX-License-Identifier: MIT
/*
 * The configuration file parser, driven by the option table
 * (config_opts.c).
 *
 * A row says where its value lives and where the line that set it is
 * kept; this file reads a value into that field and records the line.
 * The defaults are applied by parsing the default text through the same
 * code as a value from the file, so a default can never be out of its own
 * bounds (a unit test checks every row).
 *
 * The parser never opens the files the configuration names; it resolves
 * relative paths against the configuration file's directory and checks
 * syntax, bounds and references (a listener's `cert = NAME` must name a
 * [cert:NAME] section). Errors are collected, not fatal, so that `-t`
 * reports all of them. One exception: a listener's `cert-dir = PATH` is
 * listed where it stands (names only, daemon/config/certdir.h), each `*.pem` in
 * it becoming a `cert = FILE` line.
 */
#include "daemon/config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "daemon/config/certdir.h"
#include "daemon/config/config_opts.h"
#include "daemon/base/log.h"
#include "daemon/base/parse.h"
#include "daemon/base/util.h"

#define N_OPTIONS kst_config_option_count() /* rows of config_opts.c */

/* Parser state for one file. */
struct config_parser {
	struct kst_config *conf;
	struct kst_diag *diag;
	const char *path;
	char *dir; /* of the file, for relative paths */
	enum opt_section sec;
	void *obj;	/* the section's struct */
	int sec_line;	/* line of the current section header */
	int *set_lines; /* [N_OPTIONS]: where set in this section, or 0 */
	/* cert names -> index + 1 in conf->certs (0: empty slot); open
	 * addressing, kept under half full: config_cert_index */
	size_t *cert_slots, cert_mask;
	/* unresolved `cert = NAME` references: (listener, ref, name) */
	struct {
		size_t listener, ref;
		char *name;
	} * pending;
	size_t n_pending;
};

/* --------------------------------------------------------- the table */

static void *opt_field(const struct kst_option *o, void *obj)
{
	return (char *)obj + o->off;
}

static char *config_path(struct config_parser *p, const char *v)
{
	char *r = NULL;

	if (v[0] == '/' || v[0] == '\0' || p->dir == NULL)
		return strdup(v);
	if (asprintf(&r, "%s/%s", p->dir, v) < 0)
		return NULL;
	return r;
}

static int choice_index(const char *const *choices, const char *v)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(choices[i], v) == 0)
			return i;
	return -1;
}

/* Bounds check for the numeric types, against the textual bounds. */
static int opt_check_bounds(const struct kst_option *o, int64_t v, char *err,
			    size_t errlen)
{
	int64_t lo = 0, hi = 0;
	int (*conv)(const char *, int64_t *) =
		o->type == OT_DURATION ? kst_parse_duration_ms : kst_parse_size;

	if (o->min == NULL)
		return 0;
	if (o->type == OT_UINT || o->type == OT_PERCENT) {
		uint64_t a, b;

		kst_parse_uint(o->min, &a);
		kst_parse_uint(o->max, &b);
		lo = (int64_t)a;
		hi = (int64_t)b;
	} else {
		conv(o->min, &lo);
		conv(o->max, &hi);
	}
	if (v < lo || v > hi) {
		snprintf(err, errlen, "%s must be between %s and %s", o->name,
			 o->min, o->max);
		return -ERANGE;
	}
	return 0;
}

/* Scalar option value into its field. */
static int opt_set_scalar(struct config_parser *p, const struct kst_option *o,
			  void *obj, const char *v, char *err, size_t errlen)
{
	void *f = opt_field(o, obj);
	char buf[256];
	uint64_t u;
	int64_t i64;
	bool b;
	int idx;

	if (*v == '\0' && !(o->flags & OPT_EMPTY)) {
		snprintf(err, errlen, "%s needs a value", o->name);
		return -EINVAL;
	}
	switch (o->type) {
	case OT_UINT:
	case OT_PERCENT:
		if ((o->flags & OPT_AUTO) && strcmp(v, "auto") == 0) {
			*(unsigned *)f = 0;
			return 0;
		}
		if (o->type == OT_PERCENT && *v && v[strlen(v) - 1] == '%') {
			snprintf(buf, sizeof(buf), "%.*s", (int)strlen(v) - 1,
				 v);
			v = buf;
		}
		if (kst_parse_uint(v, &u) < 0 || u > UINT_MAX) {
			snprintf(err, errlen, "%s: '%s' is not a number%s",
				 o->name, v,
				 (o->flags & OPT_AUTO) ? " or auto" : "");
			return -EINVAL;
		}
		if (opt_check_bounds(o, (int64_t)u, err, errlen) < 0)
			return -ERANGE;
		*(unsigned *)f = (unsigned)u;
		return 0;
	case OT_DURATION:
	case OT_SIZE:
		if ((o->type == OT_DURATION ? kst_parse_duration_ms(v, &i64)
					    : kst_parse_size(v, &i64)) < 0) {
			snprintf(
				err, errlen,
				o->type == OT_DURATION
					? "%s: '%s' is not a duration (e.g. "
					  "500ms, 30s, 5m, 1h, 2d)"
					: "%s: '%s' is not a size (e.g. 65536, "
					  "64k, 1m)",
				o->name, v);
			return -EINVAL;
		}
		if (opt_check_bounds(o, i64, err, errlen) < 0)
			return -ERANGE;
		*(int64_t *)f = i64;
		return 0;
	case OT_BOOL:
		if (kst_parse_bool(v, &b) < 0) {
			snprintf(err, errlen, "%s: '%s' is not on or off",
				 o->name, v);
			return -EINVAL;
		}
		*(bool *)f = b;
		return 0;
	case OT_ENUM:
		idx = choice_index(o->choices, v);
		if (idx < 0) {
			kst_option_choices(o, buf, sizeof(buf));
			snprintf(err, errlen, "%s: '%s' is not one of: %s",
				 o->name, v, buf);
			return -EINVAL;
		}
		if (o->flags & OPT_LOGLEVEL)
			idx = kst_log_level_from_name(v);
		*(int *)f = idx;
		return 0;
	case OT_TLSVER:
		if (strcmp(v, "1.2") == 0 || strcmp(v, "TLSv1.2") == 0)
			*(int *)f = 0x0303;
		else if (strcmp(v, "1.3") == 0 || strcmp(v, "TLSv1.3") == 0)
			*(int *)f = 0x0304;
		else {
			snprintf(err, errlen, "%s: '%s' is not 1.2 or 1.3",
				 o->name, v);
			return -EINVAL;
		}
		return 0;
	case OT_STRING:
	case OT_PATH: {
		char *s = o->type == OT_PATH ? config_path(p, v) : strdup(v);

		if (s == NULL)
			return -ENOMEM;
		free(*(char **)f);
		*(char **)f = s;
		return 0;
	}
	default:
		snprintf(err, errlen, "%s: internal error", o->name);
		return -EINVAL;
	}
}

/* --------------------------------------------------------- sections */

static const struct kst_option *opt_find(enum opt_section sec, const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (kst_config_options[i].sec == sec &&
		    strcmp(kst_config_options[i].name, name) == 0)
			return &kst_config_options[i];
	return NULL;
}

/* An unknown key: where it belongs if another section has it, else the
 * closest option of this section. */
static void opt_unknown(struct kst_diag *diag, const char *path, int line,
			enum opt_section sec, const char *key)
{
	const char *cands[KST_CONFIG_MAX_OPTIONS], *hint;
	size_t n = 0;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct kst_option *o = &kst_config_options[i];

		if (o->sec != sec && strcmp(o->name, key) == 0) {
			kst_diag_error(diag, path, line,
				       "unknown option '%s' in [%s]: it "
				       "belongs in [%s]",
				       key, kst_config_section_names[sec],
				       kst_config_section_names[o->sec]);
			return;
		}
		if (o->sec == sec)
			cands[n++] = o->name;
	}
	hint = kst_parse_suggest(key, cands, n);
	if (hint != NULL) {
		kst_diag_error(diag, path, line,
			       "unknown option '%s' in [%s]; did you mean "
			       "'%s'?",
			       key, kst_config_section_names[sec], hint);
		return;
	}
	for (size_t i = 0; i < N_OPTIONS; i++) /* a near miss elsewhere */
		cands[i] = kst_config_options[i].name;
	hint = kst_parse_suggest(key, cands, N_OPTIONS);
	for (size_t i = 0; hint != NULL && i < N_OPTIONS; i++)
		if (cands[i] == hint) {
			kst_diag_error(
				diag, path, line,
				"unknown option '%s' in [%s]; did you "
				"mean '%s' (an option of [%s])?",
				key, kst_config_section_names[sec], hint,
				kst_config_section_names[kst_config_options[i]
								 .sec]);
			return;
		}
	if (hint == NULL)
		kst_diag_error(diag, path, line,
			       "unknown option '%s' in [%s] (kstapled "
			       "--options lists them)",
			       key, kst_config_section_names[sec]);
}

/* A section header that is none of the four, with the likely one. */
static void section_unknown(struct kst_diag *diag, const char *path, int line,
			    const char *hdr)
{
	static const char *const kinds[] = {"global", "ocsp", "listener",
					    "cert"};
	const char *colon = strchr(hdr, ':'), *hint;
	char kind[80];

	snprintf(kind, sizeof(kind), "%.*s",
		 (int)(colon ? (size_t)(colon - hdr) : strlen(hdr)), hdr);
	hint = kst_parse_suggest(kind, kinds, KST_ARRAY_SIZE(kinds));
	if (hint == NULL) {
		kst_diag_error(diag, path, line,
			       "unknown section [%s] (expected [global], "
			       "[ocsp], [listener:NAME] or [cert:NAME])",
			       hdr);
	} else if (hint == kinds[0] || hint == kinds[1]) {
		kst_diag_error(diag, path, line,
			       "unknown section [%s]; did you mean [%s]?", hdr,
			       hint);
	} else if (colon == NULL || colon[1] == '\0') {
		kst_diag_error(diag, path, line,
			       "unknown section [%s]: a %s section needs a "
			       "name, as in [%s:NAME]",
			       hdr, hint, hint);
	} else if (strcmp(kind, hint) != 0) {
		kst_diag_error(diag, path, line,
			       "unknown section [%s]; did you mean [%s:%s]?",
			       hdr, hint, colon + 1);
	} else {
		kst_diag_error(diag, path, line,
			       "bad section [%s]: a %s name has no blank or "
			       "'/' (as in [%s:NAME])",
			       hdr, hint, hint);
	}
}

/* An allocation failed: the load fails, saying so (never a configuration
 * with a line, a default or a section silently missing). */
static void config_oom(struct config_parser *p, int line)
{
	kst_diag_error(p->diag, p->path, line, "out of memory");
}

/* Apply every default of a section to obj (parsing the default text). */
static void opt_defaults(struct config_parser *p, enum opt_section sec,
			 void *obj)
{
	char err[256] = "";
	int rc;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct kst_option *o = &kst_config_options[i];

		if (o->sec != sec)
			continue;
		if (o->flags & OPT_INHERIT) {
			*(int *)opt_field(o, obj) = -1;
			continue;
		}
		if (o->def == NULL)
			continue;
		if (o->type == OT_ALPN)
			continue;
		rc = opt_set_scalar(p, o, obj, o->def, err, sizeof(err));
		if (rc == -ENOMEM)
			config_oom(p, p->sec_line);
		else if (rc < 0)
			kst_err("internal: default of %s: %s", o->name, err);
	}
}

/* Room for need elements in *arr of *cap, doubling: 100,000 `cert =`
 * lines grown one element at a time copied the arrays over and over
 * (issue 13). 0 or -ENOMEM (then *arr is as it was). */
static int reserve(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 8;
	void *a;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	a = reallocarray(*(void **)arr, c, size);
	if (a == NULL)
		return -ENOMEM;
	*(void **)arr = a;
	*cap = c;
	return 0;
}

/* One more, zeroed, element at the end of an array grown by reserve. */
static void *grow_cap(void *arr, size_t *n, size_t *cap, size_t size)
{
	if (reserve(arr, cap, *n + 1, size) < 0)
		return NULL;
	memset(*(char **)arr + *n * size, 0, size);
	(*n)++;
	return *(void **)arr;
}

static void *grow(void *arr, size_t *n, size_t size)
{
	char *a = realloc(arr, (*n + 1) * size);

	if (a == NULL)
		return NULL;
	memset(a + *n * size, 0, size);
	(*n)++;
	return a;
}

/* ------------------------------------------- the cert index (issue 13) */

static size_t cert_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* Room for need names: the index doubles when half full, so finding a
 * cert by name stays O(1) and a config with N certs parses in O(N). */
static int cert_index_reserve(struct config_parser *p, size_t need)
{
	const struct kst_config *c = p->conf;
	size_t cap = p->cert_mask ? (p->cert_mask + 1) * 2 : 64, *slots;

	if (p->cert_slots != NULL && need * 2 <= p->cert_mask + 1)
		return 0;
	while (cap < need * 2)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	free(p->cert_slots);
	p->cert_slots = slots;
	p->cert_mask = cap - 1;
	for (size_t i = 0; i < c->n_certs; i++) {
		size_t h = cert_hash(c->certs[i].name) & p->cert_mask;

		while (slots[h] != 0)
			h = (h + 1) & p->cert_mask;
		slots[h] = i + 1;
	}
	return 0;
}

/* A new cert named name, which it takes over (NULL: out of memory, and
 * name is still the caller's). */
static struct kst_cert_conf *cert_add(struct config_parser *p, char *name,
				      int line)
{
	struct kst_config *c = p->conf;
	struct kst_cert_conf *arr, *cc;
	size_t h;

	arr = cert_index_reserve(p, c->n_certs + 1) == 0
		      ? grow_cap(&c->certs, &c->n_certs, &c->certs_cap,
				 sizeof(*arr))
		      : NULL;
	if (arr == NULL)
		return NULL;
	c->certs = arr;
	cc = &arr[c->n_certs - 1];
	for (h = cert_hash(name) & p->cert_mask; p->cert_slots[h] != 0;
	     h = (h + 1) & p->cert_mask)
		;
	p->cert_slots[h] = c->n_certs;
	opt_defaults(p, SEC_CERT, cc);
	cc->name = name;
	cc->line = line;
	return cc;
}

static struct kst_cert_conf *cert_find(struct config_parser *p,
				       const char *name, size_t *idx);

/* The inline cert of a resolved PEM path (taken over): the one already
 * named so (a file listed twice is loaded once), else a new one. */
static int cert_inline(struct config_parser *p, char *path, int line,
		       size_t *idx)
{
	struct kst_cert_conf *cc = cert_find(p, path, idx);

	if (cc != NULL) {
		free(path);
		return 0;
	}
	cc = cert_add(p, path, line);
	if (cc == NULL) {
		free(path);
		return -ENOMEM;
	}
	*idx = p->conf->n_certs - 1;
	cc->pem = path; /* the name too: one string (kst_config_free) */
	cc->pem_line = line;
	cc->inline_cert = true;
	return 0;
}

static struct kst_cert_conf *cert_find(struct config_parser *p,
				       const char *name, size_t *idx)
{
	struct kst_config *c = p->conf;

	for (size_t h = cert_hash(name) & p->cert_mask;
	     p->cert_slots != NULL && p->cert_slots[h] != 0;
	     h = (h + 1) & p->cert_mask) {
		size_t i = p->cert_slots[h] - 1;

		if (strcmp(c->certs[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &c->certs[i];
		}
	}
	return NULL;
}

static int section_begin(struct config_parser *p, const char *hdr, int line)
{
	struct kst_config *c = p->conf;
	const char *colon = strchr(hdr, ':');
	size_t kind = colon ? (size_t)(colon - hdr) : strlen(hdr);
	const char *name = colon ? colon + 1 : "";

	memset(p->set_lines, 0, N_OPTIONS * sizeof(int));
	p->sec_line = line;
	if (strcmp(hdr, "global") == 0) {
		p->sec = SEC_GLOBAL;
		p->obj = &c->global;
		return 0;
	}
	if (strcmp(hdr, "ocsp") == 0) {
		p->sec = SEC_OCSP;
		p->obj = &c->ocsp;
		return 0;
	}
	if (colon == NULL || *name == '\0' || strpbrk(name, " \t/") != NULL) {
		section_unknown(p->diag, p->path, line, hdr);
		return -EINVAL;
	}
	if (kind == 8 && strncmp(hdr, "listener", 8) == 0) {
		struct kst_listener_conf *arr, *lc;
		char *copy;

		for (size_t i = 0; i < c->n_listeners; i++) {
			if (strcmp(c->listeners[i].name, name) == 0) {
				kst_diag_error(p->diag, p->path, line,
					       "listener '%s' already defined "
					       "at line %d",
					       name, c->listeners[i].line);
				return -EINVAL;
			}
		}
		copy = strdup(name); /* first: no entry without a name */
		arr = copy ? grow(c->listeners, &c->n_listeners, sizeof(*arr))
			   : NULL;
		if (arr == NULL) {
			free(copy);
			return -ENOMEM;
		}
		c->listeners = arr;
		lc = &arr[c->n_listeners - 1];
		opt_defaults(p, SEC_LISTENER, lc);
		lc->name = copy;
		lc->line = line;
		p->sec = SEC_LISTENER;
		p->obj = lc;
		return 0;
	}
	if (kind == 4 && strncmp(hdr, "cert", 4) == 0) {
		struct kst_cert_conf *cc = cert_find(p, name, NULL);
		char *copy;

		if (cc != NULL) {
			kst_diag_error(p->diag, p->path, line,
				       "cert '%s' already defined at line %d",
				       name, cc->line);
			return -EINVAL;
		}
		copy = strdup(name);
		cc = copy ? cert_add(p, copy, line) : NULL;
		if (cc == NULL) {
			free(copy);
			return -ENOMEM;
		}
		p->sec = SEC_CERT;
		p->obj = cc;
		return 0;
	}
	section_unknown(p->diag, p->path, line, hdr);
	return -EINVAL;
}

/* ------------------------------------------------ list-valued options */

static int listener_bind(struct config_parser *p, struct kst_listener_conf *lc,
			 const char *v, int line)
{
	struct kst_addr a, *arr;
	char err[300];

	if (kst_parse_addr(v, true, &a, err, sizeof(err)) < 0) {
		kst_diag_error(p->diag, p->path, line, "bind %s", err);
		return -EINVAL;
	}
	if (a.ss.ss_family == AF_UNIX) {
		kst_diag_error(p->diag, p->path, line,
			       "bind '%s': listeners take TCP addresses", v);
		return -EINVAL;
	}
	for (size_t i = 0; i < lc->n_binds; i++) {
		if (lc->binds[i].len == a.len &&
		    memcmp(&lc->binds[i].ss, &a.ss, a.len) == 0) {
			kst_diag_error(p->diag, p->path, line,
				       "bind '%s' repeats line %d", v,
				       lc->binds[i].line);
			return -EINVAL;
		}
	}
	a.line = line;
	arr = grow(lc->binds, &lc->n_binds, sizeof(*arr));
	if (arr == NULL)
		return -ENOMEM;
	lc->binds = arr;
	arr[lc->n_binds - 1] = a;
	return 0;
}

static int listener_cert(struct config_parser *p, struct kst_listener_conf *lc,
			 const char *v, int line)
{
	struct kst_cert_ref *arr;
	size_t idx = 0;

	arr = grow_cap(&lc->certs, &lc->n_certs, &lc->certs_cap, sizeof(*arr));
	if (arr == NULL)
		return -ENOMEM;
	arr[lc->n_certs - 1].line = line;
	lc->last_cert_line = line;
	if (strchr(v, '/') == NULL) {
		/* a [cert:NAME] reference, resolved at the end */
		char *name = strdup(v);
		void *pa = name ? realloc(p->pending, (p->n_pending +
						       1) * sizeof(*p->pending))
				: NULL;

		if (pa == NULL) {
			free(name);
			return -ENOMEM;
		}
		p->pending = pa;
		p->pending[p->n_pending].listener =
			(size_t)(lc - p->conf->listeners);
		p->pending[p->n_pending].ref = lc->n_certs - 1;
		p->pending[p->n_pending].name = name;
		p->n_pending++;
		arr[lc->n_certs - 1].cert = SIZE_MAX;
		return 0;
	} else {
		char *path = config_path(p, v);

		if (path == NULL || cert_inline(p, path, line, &idx) < 0)
			return -ENOMEM;
		arr[lc->n_certs - 1].cert = idx;
	}
	return 0;
}

/* DIR/NAME, without doubling the '/' of DIR = "/". */
static char *cert_dir_entry(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	char *r = NULL;

	if (asprintf(&r, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/",
		     name) < 0)
		return NULL;
	return r;
}

/* The scanned names as cert refs of lc, each like a `cert = FILE` line;
 * cd->n counts those added, even when memory runs out. */
static int cert_dir_refs(struct config_parser *p, struct kst_listener_conf *lc,
			 struct kst_cert_dir *cd,
			 const struct kst_certdir_list *list)
{
	struct kst_cert_ref *arr;

	if (list->n == 0)
		return 0;
	if (reserve(&lc->certs, &lc->certs_cap, lc->n_certs + list->n,
		    sizeof(*arr)) < 0)
		return -ENOMEM;
	arr = lc->certs;
	for (size_t i = 0; i < list->n; i++) {
		char *path = cert_dir_entry(cd->path, list->names[i]);
		size_t idx;

		if (path == NULL || cert_inline(p, path, cd->line, &idx) < 0)
			return -ENOMEM;
		arr[lc->n_certs].cert = idx;
		arr[lc->n_certs].line = cd->line;
		lc->n_certs++;
		cd->n++;
	}
	return 0;
}

/* `cert-dir = PATH`: its *.pem files, listed now (daemon/config/certdir.h). */
static int listener_cert_dir(struct config_parser *p,
			     struct kst_listener_conf *lc, const char *v,
			     int line)
{
	struct kst_certdir_list list = {0};
	struct kst_cert_dir *arr, *cd;
	char *dir;
	int rc;

	if (*v == '\0') {
		kst_diag_error(p->diag, p->path, line,
			       "cert-dir needs a value");
		return -EINVAL;
	}
	dir = config_path(p, v);
	arr = dir ? grow(lc->cert_dirs, &lc->n_cert_dirs, sizeof(*arr)) : NULL;
	if (arr == NULL) {
		free(dir);
		return -ENOMEM;
	}
	lc->cert_dirs = arr;
	cd = &arr[lc->n_cert_dirs - 1];
	cd->path = dir;
	cd->line = line;
	cd->first = lc->n_certs;
	for (size_t i = 0; i + 1 < lc->n_cert_dirs; i++)
		if (strcmp(arr[i].path, dir) == 0)
			kst_diag_warn(p->diag, p->path, line,
				      "cert-dir %s repeats line %d", dir,
				      arr[i].line);
	rc = kst_certdir_scan(dir, p->path, line, p->diag, &list);
	if (rc == 0)
		rc = cert_dir_refs(p, lc, cd, &list);
	kst_certdir_list_free(&list);
	return rc;
}

/* `key =` inside a listener: the key of the inline cert just above. */
static int listener_key(struct config_parser *p, struct kst_listener_conf *lc,
			const char *v, int line)
{
	struct kst_cert_conf *cc;
	size_t ci;
	char *path;

	if (lc->n_certs == 0 || lc->certs[lc->n_certs - 1].cert == SIZE_MAX) {
		kst_diag_error(p->diag, p->path, line,
			       "key must follow a 'cert = /path' line (for a "
			       "[cert:NAME] section, set key there)");
		return -EINVAL;
	}
	if (lc->n_cert_dirs > 0 && lc->cert_dirs[lc->n_cert_dirs - 1].line >=
					   lc->certs[lc->n_certs - 1].line) {
		kst_diag_error(p->diag, p->path, line,
			       "key must follow a 'cert = /path' line, not "
			       "cert-dir (line %d): each PEM in a cert-dir "
			       "holds its own key",
			       lc->cert_dirs[lc->n_cert_dirs - 1].line);
		return -EINVAL;
	}
	ci = lc->certs[lc->n_certs - 1].cert;
	cc = &p->conf->certs[ci];
	path = config_path(p, v);
	if (path == NULL)
		return -ENOMEM;
	if (cc->key != NULL && strcmp(cc->key, path) != 0) {
		kst_diag_error(p->diag, p->path, line,
			       "cert %s already has key %s (line %d)", cc->pem,
			       cc->key, cc->key_line);
		free(path);
		return -EINVAL;
	}
	free(cc->key);
	cc->key = path;
	cc->key_line = line;
	return 0;
}

static int cert_url(struct config_parser *p, struct kst_cert_conf *cc,
		    const char *v, int line)
{
	char **arr, *copy;

	if (strncmp(v, "http://", 7) != 0) {
		kst_diag_error(p->diag, p->path, line,
			       "ocsp-url '%s': only http:// responders exist "
			       "(RFC 6960 A.1)",
			       v);
		return -EINVAL;
	}
	copy = strdup(v);
	arr = copy ? realloc(cc->ocsp_urls,
			     (cc->n_ocsp_urls + 1) * sizeof(*arr))
		   : NULL;
	if (arr == NULL) {
		free(copy);
		return -ENOMEM;
	}
	cc->ocsp_urls = arr;
	arr[cc->n_ocsp_urls++] = copy;
	return 0;
}

/* ---------------------------------------------------------- one line */

static int option_set(struct config_parser *p, const struct kst_option *o,
		      const char *v, int line)
{
	struct kst_listener_conf *lc = p->obj;
	struct kst_cert_conf *cc = p->obj;
	char err[512];
	int rc;

	switch (o->type) {
	case OT_BIND:
		return listener_bind(p, lc, v, line);
	case OT_CERT:
		return listener_cert(p, lc, v, line);
	case OT_KEY:
		return listener_key(p, lc, v, line);
	case OT_CERTDIR:
		return listener_cert_dir(p, lc, v, line);
	case OT_URL:
		return cert_url(p, cc, v, line);
	case OT_BACKEND:
		if (kst_parse_addr(v, true, &lc->backend, err, sizeof(err)) <
		    0) {
			kst_diag_error(p->diag, p->path, line, "backend %s",
				       err);
			return -EINVAL;
		}
		lc->backend.line = line;
		lc->has_backend = true;
		return 0;
	case OT_ALPN:
		free(lc->alpn_wire);
		free(lc->alpn_text);
		lc->alpn_wire = NULL;
		lc->alpn_text = strdup(v);
		if (lc->alpn_text == NULL)
			return -ENOMEM;
		if (kst_parse_alpn(v, &lc->alpn_wire, &lc->alpn_len) < 0) {
			kst_diag_error(p->diag, p->path, line,
				       "alpn '%s': expected protocol names of "
				       "1 to 255 bytes, comma-separated",
				       v);
			return -EINVAL;
		}
		return 0;
	default:
		break;
	}
	rc = opt_set_scalar(p, o, p->obj, v, err, sizeof(err));
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		kst_diag_error(p->diag, p->path, line, "%s", err);
		return -EINVAL;
	}
	if (o->line_off != 0) /* for the loader's FILE:LINE */
		*(int *)((char *)p->obj + o->line_off) = line;
	return 0;
}

static void config_line(struct config_parser *p, char *raw, int line)
{
	const struct kst_option *o;
	char *key, *val;
	int rc;

	switch (kst_parse_line(raw, &key, &val)) {
	case KST_LINE_BLANK:
		return;
	case KST_LINE_BAD_SECTION:
		kst_diag_error(p->diag, p->path, line,
			       "malformed section header '%s'", key);
		p->obj = NULL;
		return;
	case KST_LINE_SECTION:
		rc = section_begin(p, key, line);
		if (rc == -ENOMEM)
			config_oom(p, line);
		if (rc < 0)
			p->obj = NULL;
		return;
	case KST_LINE_BAD:
		kst_diag_error(p->diag, p->path, line,
			       "expected 'key = value', got '%s'", key);
		return;
	case KST_LINE_OPTION:
		break;
	}
	if (p->obj == NULL) {
		if (p->sec_line == 0)
			kst_diag_error(p->diag, p->path, line,
				       "'%s' outside any section", key);
		return; /* inside a broken section: already reported */
	}
	o = opt_find(p->sec, key);
	if (o == NULL) {
		opt_unknown(p->diag, p->path, line, p->sec, key);
		return;
	}
	if (!(o->flags & OPT_REPEAT)) {
		int *seen = &p->set_lines[o - kst_config_options];

		if (*seen) {
			kst_diag_error(p->diag, p->path, line,
				       "%s already set at line %d", key, *seen);
			return;
		}
		*seen = line;
	}
	if (option_set(p, o, val, line) == -ENOMEM)
		config_oom(p, line);
}

/* ------------------------------------------------------------ checks */

static void config_resolve_refs(struct config_parser *p)
{
	for (size_t i = 0; i < p->n_pending; i++) {
		struct kst_listener_conf *lc =
			&p->conf->listeners[p->pending[i].listener];
		struct kst_cert_ref *ref = &lc->certs[p->pending[i].ref];
		size_t idx;

		if (cert_find(p, p->pending[i].name, &idx) != NULL &&
		    !p->conf->certs[idx].inline_cert)
			ref->cert = idx;
		else
			kst_diag_error(p->diag, p->path, ref->line,
				       "cert '%s': no [cert:%s] section (a PEM "
				       "path must contain a '/')",
				       p->pending[i].name, p->pending[i].name);
	}
}

static void config_check(struct config_parser *p)
{
	struct kst_config *c = p->conf;

	if (c->n_listeners == 0)
		kst_diag_error(p->diag, p->path, 0,
			       "no [listener:NAME] section: nothing to serve");
	for (size_t i = 0; i < c->n_listeners; i++) {
		struct kst_listener_conf *lc = &c->listeners[i];

		if (lc->n_binds == 0)
			kst_diag_error(p->diag, p->path, lc->line,
				       "listener '%s' has no bind", lc->name);
		if (!lc->has_backend)
			kst_diag_error(p->diag, p->path, lc->line,
				       "listener '%s' has no backend",
				       lc->name);
		if (lc->n_certs == 0)
			kst_diag_error(p->diag, p->path, lc->line,
				       "listener '%s' has no cert", lc->name);
	}
	for (size_t i = 0; i < c->n_certs; i++) {
		if (c->certs[i].pem == NULL)
			kst_diag_error(p->diag, p->path, c->certs[i].line,
				       "cert '%s' has no pem",
				       c->certs[i].name);
	}
	if (c->ocsp.retry_min_ms > c->ocsp.retry_max_ms)
		kst_diag_error(p->diag, p->path, 0,
			       "[ocsp] retry-min is larger than retry-max");
}

/* ------------------------------------------------------------- entry */

static void config_init(struct config_parser *p, struct kst_config *c,
			const char *path, struct kst_diag *diag)
{
	const char *slash = strrchr(path, '/');

	memset(p, 0, sizeof(*p));
	p->conf = c;
	p->diag = diag;
	p->path = path;
	p->dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;
	if (slash == path) {
		free(p->dir);
		p->dir = strdup("");
	}
	c->path = strdup(path);
	if (c->path == NULL || (slash != NULL && p->dir == NULL))
		config_oom(p, 0);
	opt_defaults(p, SEC_GLOBAL, &c->global);
	opt_defaults(p, SEC_OCSP, &c->ocsp);
}

/* One line of the file, [s, s + len); a NUL byte in it is an error (it
 * would otherwise end the C string and silently drop what follows). */
static void config_raw_line(struct config_parser *p, const char *s, size_t len,
			    int lineno)
{
	const char *nul = memchr(s, '\0', len);
	char *line;

	if (nul != NULL) {
		kst_diag_error(p->diag, p->path, lineno,
			       "NUL byte at column %zu: the file is not text",
			       (size_t)(nul - s) + 1);
		return;
	}
	line = strndup(s, len);
	if (line != NULL)
		config_line(p, line, lineno);
	else
		config_oom(p, lineno);
	free(line);
}

/*
 * The cert arrays sized once for the lines that may add a cert (those that
 * start with "cert" or "[cert", blanks aside): a second reload of 100,000 `cert
 * =` lines spent half its parsing growing them in a heap the freed generation
 * had left in pieces (issue 13). Without the memory, they grow as they go.
 */
static void config_presize(struct config_parser *p, const char *text,
			   size_t len)
{
	const char *s = text, *end = text + len;
	size_t n = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));

		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		n += ((size_t)(end - s) >= 4 && memcmp(s, "cert", 4) == 0) ||
		     ((size_t)(end - s) >= 5 && memcmp(s, "[cert", 5) == 0);
		s = nl ? nl + 1 : end;
	}
	if (n > 0 && reserve(&p->conf->certs, &p->conf->certs_cap, n,
			     sizeof(*p->conf->certs)) == 0)
		(void)cert_index_reserve(p, n);
}

static struct kst_config *config_parse_text(const char *path, const char *text,
					    size_t len, struct kst_diag *diag,
					    bool keep)
{
	struct kst_config *c = calloc(1, sizeof(*c));
	struct config_parser p;
	size_t errors = diag->errors;
	const char *s = text, *end = text + len;
	int lineno = 0;

	if (c == NULL) {
		kst_diag_error(diag, path, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	config_init(&p, c, path, diag);
	p.set_lines = calloc(N_OPTIONS, sizeof(int));
	if (p.set_lines == NULL) {
		config_oom(&p, 0);
		free(p.dir);
		kst_config_free(c);
		errno = ENOMEM;
		return NULL;
	}
	config_presize(&p, text, len);
	/* strtok_r would skip empty lines and lose the numbering */
	while (s != NULL && s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

		config_raw_line(&p, s, n, ++lineno);
		s = nl ? nl + 1 : NULL;
	}
	config_resolve_refs(&p);
	config_check(&p);
	for (size_t i = 0; i < p.n_pending; i++)
		free(p.pending[i].name);
	free(p.pending);
	free(p.cert_slots);
	free(p.set_lines);
	free(p.dir);
	if (diag->errors > errors && !keep) {
		kst_config_free(c);
		errno = EINVAL;
		return NULL;
	}
	return c;
}

struct kst_config *kst_config_parse_string(const char *path, const char *text,
					   struct kst_diag *diag)
{
	return config_parse_text(path, text, strlen(text), diag, false);
}

struct kst_config *kst_config_parse_buf(const char *path, const void *buf,
					size_t len, struct kst_diag *diag)
{
	return config_parse_text(path, buf, len, diag, false);
}

static bool config_is_dir(FILE *f)
{
	struct stat st;

	return fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
}

/* The whole file, NUL-terminated, in one buffer of the size fstat gives
 * (a 100,000-line file grown by doubling was copied a dozen times). A
 * read error leaves what was read and ferror(f) set; -ENOMEM. */
static int config_read(FILE *f, char **text, size_t *len)
{
	struct stat st;
	size_t cap = 4096, n = 0;
	char *buf, *grown;

	if (fstat(fileno(f), &st) == 0 && st.st_size > 0)
		cap = (size_t)st.st_size + 2; /* a short read ends it */
	buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - 1 - n, f);
		if (n < cap - 1)
			break;
		grown = realloc(buf, cap * 2); /* it grew meanwhile */
		if (grown == NULL)
			free(buf);
		buf = grown;
		cap *= 2;
	}
	if (buf == NULL)
		return -ENOMEM;
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

static struct kst_config *config_parse_file(const char *path,
					    struct kst_diag *diag, bool keep)
{
	struct kst_config *c;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	f = fopen(path, "re");
	if (f == NULL) {
		int e = errno;

		kst_diag_error(diag, path, 0, "cannot open: %s", strerror(e));
		errno = e;
		return NULL;
	}
	if (config_is_dir(f)) {
		kst_diag_error(diag, path, 0,
			       "is a directory: give the configuration file "
			       "(e.g. %s/kstapled.conf)",
			       path);
		fclose(f);
		errno = EISDIR;
		return NULL;
	}
	if (config_read(f, &text, &len) < 0) {
		kst_diag_error(diag, path, 0, "cannot read: out of memory");
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	if (ferror(f))
		kst_diag_error(diag, path, 0, "read error: %s",
			       strerror(errno));
	fclose(f);
	c = config_parse_text(path, text, len, diag, keep);
	free(text);
	return c;
}

struct kst_config *kst_config_parse(const char *path, struct kst_diag *diag)
{
	return config_parse_file(path, diag, false);
}

struct kst_config *kst_config_parse_all(const char *path, struct kst_diag *diag)
{
	return config_parse_file(path, diag, true);
}

void kst_config_free(struct kst_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_listeners; i++) {
		struct kst_listener_conf *lc = &c->listeners[i];

		free(lc->name);
		free(lc->binds);
		free(lc->ciphers);
		free(lc->ciphersuites);
		free(lc->groups);
		free(lc->alpn_wire);
		free(lc->alpn_text);
		free(lc->ticket_keys);
		free(lc->certs);
		for (size_t j = 0; j < lc->n_cert_dirs; j++)
			free(lc->cert_dirs[j].path);
		free(lc->cert_dirs);
	}
	free(c->listeners);
	for (size_t i = 0; i < c->n_certs; i++) {
		struct kst_cert_conf *cc = &c->certs[i];

		if (cc->pem != cc->name) /* an inline cert's are one */
			free(cc->pem);
		free(cc->name);
		free(cc->key);
		free(cc->staple_file);
		for (size_t j = 0; j < cc->n_ocsp_urls; j++)
			free(cc->ocsp_urls[j]);
		free(cc->ocsp_urls);
	}
	free(c->certs);
	free(c->global.state_dir);
	free(c->global.bpf_pin_dir);
	free(c->global.user);
	free(c->global.group);
	free(c->global.nic_offload);
	free(c->global.ticket_keys);
	free(c->ocsp.http_proxy);
	free(c->path);
	free(c);
}

const char *kst_config_listener_ticket_keys(const struct kst_config *conf,
					    const struct kst_listener_conf *lc,
					    int *line)
{
	if (lc->ticket_keys != NULL) {
		*line = lc->ticket_keys_line;
		return lc->ticket_keys;
	}
	*line = conf->global.ticket_keys_line;
	return conf->global.ticket_keys ? conf->global.ticket_keys : "";
}

int kst_config_cert_policy(const struct kst_config *conf,
			   const struct kst_cert_conf *cc)
{
	return cc->policy == KST_POLICY_INHERIT ? conf->ocsp.policy
						: cc->policy;
}

bool kst_config_cert_fetch(const struct kst_config *conf,
			   const struct kst_cert_conf *cc)
{
	return cc->fetch < 0 ? conf->ocsp.fetch : cc->fetch == 1;
}

int kst_config_listener_ktls(const struct kst_config *conf,
			     const struct kst_listener_conf *lc)
{
	return lc->ktls == KST_KTLS_MODE_INHERIT ? conf->global.ktls : lc->ktls;
}
