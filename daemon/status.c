// SPDX-License-Identifier: MIT
/*
 * `kstapled status` (see status.h): opens the pinned maps read-only, checks
 * that they have the layout this build knows, copies every entry out, and
 * hands the copy to the renderers of status_fmt.c. It never talks to the
 * daemon. Errors are sentences for the operator on stderr, with exit
 * status 2.
 */
#include "daemon/status.h"
#include "daemon/metrics_state.h"
#include "daemon/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

struct status_opts {
	const char *pin_dir;
	const char *prometheus;
	bool json;
	bool have_now;
	time_t now;
};

/* The shape a pinned map must have for this build to read it. */
struct status_map {
	const char *name;
	__u32 type;
	__u32 key_size;
	__u32 value_size;
};

static const struct status_map status_certs = {
	KST_BPF_CERTS_MAP, BPF_MAP_TYPE_HASH, sizeof(struct kst_cert_key),
	sizeof(struct kst_cert_val)};
static const struct status_map status_global = {
	KST_BPF_GLOBAL_MAP, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
	sizeof(struct kst_global_val)};

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: kstapled status [--json] [--pin-dir DIR] "
		"[--prometheus FILE]\n"
		"  --pin-dir DIR      pinned maps (default %s)\n"
		"  --json             JSON instead of the table\n"
		"  --prometheus FILE  node_exporter textfile format "
		"(\"-\": stdout)\n"
		"exit status: 0 all certificates fine, 1 some need attention, "
		"2 maps unreadable,\n"
		"  3 the daemon stopped (cleanly), 4 the daemon looks gone "
		"(no flush for %ds)\n",
		KST_BPF_PIN_DIR, KST_STATUS_GONE_SECS);
}

/* The group that may read the pins: the pin's, else its directory's. */
static const char *status_pin_group(const char *path)
{
	char dir[PATH_MAX];
	struct group *gr = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(path, &st) == 0 || stat(dirname(dir), &st) == 0)
		gr = getgrgid(st.st_gid);
	return gr != NULL ? gr->gr_name : "(the daemon's)";
}

/* Why a pin is not there: no directory, not bpffs, or no daemon. */
static void status_explain_missing(const char *pin_dir, const char *path,
				   char *why, size_t size)
{
	struct statfs st;

	if (statfs(pin_dir, &st) != 0)
		snprintf(why, size,
			 "no directory %s: is kstapled running with "
			 "bpf-pin-dir there?",
			 pin_dir);
	else if (st.f_type != BPF_FS_MAGIC)
		snprintf(why, size, "%s is not on a bpf filesystem", pin_dir);
	else
		snprintf(why, size,
			 "no pinned map at %s: is kstapled running with "
			 "bpf-pin-dir there?",
			 path);
}

/* Why opening a pin failed, in the operator's terms. */
static void status_explain(int err, const char *pin_dir, const char *path,
			   char *why, size_t size)
{
	switch (err) {
	case ENOENT:
		status_explain_missing(pin_dir, path, why, size);
		break;
	case EACCES:
		snprintf(why, size,
			 "permission denied opening %s: run as root or as a "
			 "member of group %s",
			 path, status_pin_group(path));
		break;
	case EPERM:
		snprintf(why, size,
			 "the kernel refused bpf() on %s: reading pinned maps "
			 "needs root (CAP_BPF) here "
			 "(kernel.unprivileged_bpf_disabled)",
			 path);
		break;
	case EINVAL:
		snprintf(why, size, "%s is not a pinned BPF map", path);
		break;
	default:
		snprintf(why, size, "cannot open %s: %s", path, strerror(err));
	}
}

/* Open one pin read-only and check its layout; fd or -errno. */
static int status_open_map(const char *pin_dir, const struct status_map *m,
			   char *why, size_t size)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, m->name) >=
	    (int)sizeof(path)) {
		snprintf(why, size, "pin directory name too long");
		return -ENAMETOOLONG;
	}
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		err = errno;
		status_explain(err, pin_dir, path, why, size);
		return -err;
	}
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err == 0 && (info.type != m->type || info.key_size != m->key_size ||
			 info.value_size != m->value_size)) {
		snprintf(why, size,
			 "%s has map type %u, key %u, value %u bytes; this "
			 "kstapled reads type %u, key %u, value %u",
			 path, info.type, info.key_size, info.value_size,
			 m->type, m->key_size, m->value_size);
		err = -EPROTO;
	} else if (err != 0) {
		snprintf(why, size, "cannot query %s: %s", path,
			 strerror(-err));
	}
	if (err != 0) {
		close(fd);
		return err;
	}
	return fd;
}

static int status_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kst_cert_key));
}

/* A walk restarted by a concurrent delete can repeat keys: drop them. */
static size_t status_dedupe(struct kst_status_cert *c, size_t n)
{
	size_t out = 0;

	qsort(c, n, sizeof(*c), status_key_cmp);
	for (size_t i = 0; i < n; i++)
		if (out == 0 || status_key_cmp(&c[out - 1].key, &c[i].key))
			c[out++] = c[i];
	return out;
}

static int status_read_certs(int fd, struct kst_status_cert **certs, size_t *n)
{
	struct kst_status_cert *grown;
	struct kst_cert_key key, prev;
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i <= 2 * (size_t)KST_BPF_CERTS_MAX; i++) {
		err = bpf_map_get_next_key(fd, i ? &prev : NULL, &key);
		if (err != 0)
			break;
		prev = key;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = reallocarray(*certs, cap, sizeof(**certs));
			if (grown == NULL)
				return -ENOMEM;
			*certs = grown;
		}
		(*certs)[*n].key = key;
		err = bpf_map_lookup_elem(fd, &key, &(*certs)[*n].val);
		if (err == 0)
			(*n)++;
		else if (err != -ENOENT)
			return err;
	}
	if (err != 0 && err != -ENOENT)
		return err;
	*n = status_dedupe(*certs, *n);
	kst_status_sort(*certs, *n);
	return 0;
}

void kst_status_as_of_flush(struct kst_status_cert *certs, size_t n,
			    const struct kst_global_val *g)
{
	for (size_t i = 0; i < n; i++) {
		struct kst_cert_val *v = &certs[i].val;

		if (g->flushed_at <= v->flushed_at)
			continue;
		v->flushed_at = g->flushed_at;
		v->secs_to_next_update = kst_metrics_secs_to_next_update(
			v->next_update, g->flushed_at);
	}
}

int kst_status_read(const char *pin_dir, struct kst_status_cert **certs,
		    size_t *n, struct kst_global_val *global, char *why,
		    size_t why_size)
{
	__u32 zero = 0;
	int cfd = -1, gfd = -1, err;

	*certs = NULL;
	*n = 0;
	cfd = status_open_map(pin_dir, &status_certs, why, why_size);
	if (cfd < 0)
		return cfd;
	gfd = status_open_map(pin_dir, &status_global, why, why_size);
	if (gfd < 0) {
		err = gfd;
		goto out;
	}
	err = bpf_map_lookup_elem(gfd, &zero, global);
	if (err == 0)
		err = status_read_certs(cfd, certs, n);
	if (err == 0)
		kst_status_as_of_flush(*certs, *n, global);
	if (err != 0) {
		snprintf(why, why_size, "reading the maps under %s: %s",
			 pin_dir, strerror(-err));
		free(*certs);
		*certs = NULL;
		*n = 0;
	}
out:
	if (gfd >= 0)
		close(gfd);
	close(cfd);
	return err;
}

/* Write the textfile atomically: a scrape sees the old file or the new. */
static int status_write_prom_file(const char *path,
				  const struct kst_status_view *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int err;

	if (f == NULL)
		return -errno;
	kst_status_render_prometheus(f, v);
	err = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	if (err == 0)
		err = kst_write_atomic(path, text, len, 0644);
	free(text);
	return err;
}

static int status_parse_now(const char *s, time_t *now)
{
	char *end = NULL;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || x < 0)
		return -EINVAL;
	*now = (time_t)x;
	return 0;
}

/* true: go on; false: exit with *rc (after -h, or a usage error). */
static bool status_parse(int argc, char **argv, struct status_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"pin-dir", required_argument, NULL, 'd'},
		{"prometheus", required_argument, NULL, 'p'},
		{"now", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	optind = 0; /* GNU: a full re-initialisation, callable again */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'd':
			o->pin_dir = optarg;
			break;
		case 'p':
			o->prometheus = optarg;
			break;
		case 'n':
			if (status_parse_now(optarg, &o->now) != 0)
				goto usage;
			o->have_now = true;
			break;
		case 'h':
			status_usage(stdout);
			*rc = KST_STATUS_EXIT_OK;
			return false;
		default:
			goto usage;
		}
	}
	/* both on stdout would make neither parseable */
	if (optind == argc && !(o->json && o->prometheus != NULL &&
				strcmp(o->prometheus, "-") == 0))
		return true;
usage:
	status_usage(stderr);
	*rc = KST_STATUS_EXIT_UNREADABLE;
	return false;
}

/* Everything but reading: outputs, then the verdict. */
static int status_output(const struct status_opts *o,
			 const struct kst_status_view *v)
{
	int err = 0;

	if (o->prometheus != NULL && strcmp(o->prometheus, "-") == 0)
		kst_status_render_prometheus(stdout, v);
	else if (o->prometheus != NULL)
		err = status_write_prom_file(o->prometheus, v);
	if (err != 0) {
		fprintf(stderr, "kstapled status: cannot write %s: %s\n",
			o->prometheus, strerror(-err));
		return KST_STATUS_EXIT_UNREADABLE;
	}
	if (o->json)
		kst_status_render_json(stdout, v);
	else if (o->prometheus == NULL)
		kst_status_render_table(stdout, v);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kstapled status: writing stdout: %s\n",
			strerror(errno));
		return KST_STATUS_EXIT_UNREADABLE;
	}
	return kst_status_exit_code(v);
}

int kst_status_main(int argc, char **argv)
{
	struct status_opts o = {.pin_dir = KST_BPF_PIN_DIR};
	struct kst_status_cert *certs = NULL;
	struct kst_global_val global = {0};
	struct kst_status_view view = {0};
	char why[PATH_MAX + 256];
	size_t n = 0;
	int rc = 0;

	if (!status_parse(argc, argv, &o, &rc))
		return rc;
	if (kst_status_read(o.pin_dir, &certs, &n, &global, why, sizeof(why)) !=
	    0) {
		fprintf(stderr, "kstapled status: %s\n", why);
		return KST_STATUS_EXIT_UNREADABLE;
	}
	view.certs = certs;
	view.n_certs = n;
	view.global = &global;
	view.now = o.have_now ? o.now : time(NULL);
	rc = status_output(&o, &view);
	free(certs);
	return rc;
}
