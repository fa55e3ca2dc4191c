// SPDX-License-Identifier: MIT
/*
 * The pinned metrics maps: open (load the maps-only BPF object through its
 * skeleton, adopting compatible pins first), write, close. See metrics.h for
 * the re-use rule and the errors. libbpf's own messages go to the debug log:
 * the caller reports the one outcome that matters (metrics on or off).
 */
#include "daemon/metrics/metrics.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "daemon/base/log.h"
#include "daemon/base/util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bpf/kstapled.skel.h"
#pragma GCC diagnostic pop

struct kst_metrics {
	struct kstapled_bpf *skel;
	int certs_fd;	  /* borrowed from skel */
	int global_fd;	  /* borrowed from skel */
	int listeners_fd; /* borrowed from skel */
	bool reused;
};

#define METRICS_PINS 3

/* One of the maps while opening: where it is pinned, how it got there. */
struct metrics_pin {
	struct bpf_map *map;
	char path[PATH_MAX];
	bool reused;  /* adopted an existing pin */
	bool created; /* pinned by this open */
};

static int metrics_libbpf_print(enum libbpf_print_level level, const char *fmt,
				va_list ap);
static int metrics_check_fs(const char *pin_dir);
static int metrics_make_dir(const char *pin_dir, gid_t gid);
static void metrics_remove_old_pins(const char *pin_dir);
static bool metrics_compatible(int fd, const struct bpf_map *map, char *why,
			       size_t size);
static int metrics_adopt(struct metrics_pin *p);
static int metrics_pin(struct metrics_pin *p, gid_t gid);
static int metrics_open_pins(struct kstapled_bpf *skel, const char *pin_dir,
			     gid_t gid, struct metrics_pin pins[METRICS_PINS]);
static int metrics_collect_doomed(struct kst_metrics *m,
				  const struct kst_cert_key *sorted, size_t n,
				  struct kst_cert_key **doomed, size_t *count);
static int metrics_key_cmp(const void *a, const void *b);

static int metrics_libbpf_print(enum libbpf_print_level level, const char *fmt,
				va_list ap)
{
	char line[512];
	size_t n;

	(void)level;
	if (!kst_log_enabled(KST_LOG_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	kst_debug("libbpf: %s", line);
	return 0;
}

/* pin_dir, or its parent when pin_dir does not exist yet, on bpffs? */
static int metrics_check_fs(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct statfs st;

	if (statfs(pin_dir, &st) == 0)
		return st.f_type == BPF_FS_MAGIC ? 0 : -EOPNOTSUPP;
	if (errno != ENOENT)
		return -errno;
	if (snprintf(parent, sizeof(parent), "%s", pin_dir) >=
	    (int)sizeof(parent))
		return -ENAMETOOLONG;
	if (statfs(dirname(parent), &st) != 0)
		return -errno;
	return st.f_type == BPF_FS_MAGIC ? 0 : -EOPNOTSUPP;
}

static int metrics_make_dir(const char *pin_dir, gid_t gid)
{
	if (mkdir(pin_dir, 0750) != 0) {
		struct stat st;

		if (errno != EEXIST)
			return -errno;
		if (stat(pin_dir, &st) != 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	}
	/* exactly 0750 whatever the umask; the group may traverse */
	if (chmod(pin_dir, 0750) != 0 || chown(pin_dir, (uid_t)-1, gid) != 0)
		return -errno;
	return 0;
}

/*
 * Pins of an earlier map layout (KST_BPF_OLD_PINS) hold the last values of a
 * daemon that no longer writes them: a reader of that layout would take
 * them for live ones. Only BPF maps by those names are removed.
 */
static void metrics_remove_old_pins(const char *pin_dir)
{
	static const char *const old[] = {KST_BPF_OLD_PINS};
	char path[PATH_MAX];

	for (size_t i = 0; i < KST_ARRAY_SIZE(old); i++) {
		int fd;

		if (snprintf(path, sizeof(path), "%s/%s", pin_dir, old[i]) >=
		    (int)sizeof(path))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		close(fd);
		if (unlink(path) == 0)
			kst_notice("metrics: removed %s (an earlier map "
				   "layout; this kstapled writes %s and %s)",
				   path, KST_BPF_CERTS_MAP, KST_BPF_GLOBAL_MAP);
		else
			kst_warn("metrics: cannot remove %s (an earlier map "
				 "layout): %s",
				 path, strerror(errno));
	}
}

/* Does the pinned map behind fd have the shape this build creates? */
static bool metrics_compatible(int fd, const struct bpf_map *map, char *why,
			       size_t size)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);

	if (err != 0) {
		snprintf(why, size, "cannot read its info: %s", strerror(-err));
		return false;
	}
	if (info.type != bpf_map__type(map) ||
	    info.map_flags != bpf_map__map_flags(map)) {
		snprintf(why, size, "map type %u flags 0x%x, expected %u 0x%x",
			 info.type, info.map_flags, bpf_map__type(map),
			 bpf_map__map_flags(map));
		return false;
	}
	if (info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map) ||
	    info.max_entries != bpf_map__max_entries(map)) {
		snprintf(why, size,
			 "key/value size %u/%u max %u, expected %u/%u max %u",
			 info.key_size, info.value_size, info.max_entries,
			 bpf_map__key_size(map), bpf_map__value_size(map),
			 bpf_map__max_entries(map));
		return false;
	}
	return true;
}

/* Re-use the pin at p->path when compatible, else remove it. */
static int metrics_adopt(struct metrics_pin *p)
{
	char why[160];
	int fd = bpf_obj_get(p->path);
	int err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (metrics_compatible(fd, p->map, why, sizeof(why))) {
		err = bpf_map__reuse_fd(p->map, fd);
		if (err == 0) {
			p->reused = true;
			kst_info("metrics: re-using pinned map %s", p->path);
		}
	} else {
		kst_notice("metrics: replacing pinned map %s: %s", p->path,
			   why);
		if (unlink(p->path) != 0)
			err = -errno;
	}
	close(fd);
	return err;
}

/* Pin a newly created map, then (re)apply mode and group to the pin. */
static int metrics_pin(struct metrics_pin *p, gid_t gid)
{
	if (!p->reused) {
		if (bpf_obj_pin(bpf_map__fd(p->map), p->path) != 0)
			return -errno;
		p->created = true;
	}
	if (chmod(p->path, 0640) != 0 || chown(p->path, (uid_t)-1, gid) != 0)
		return -errno;
	return 0;
}

static int metrics_open_pins(struct kstapled_bpf *skel, const char *pin_dir,
			     gid_t gid, struct metrics_pin pins[METRICS_PINS])
{
	int err = 0;

	pins[0].map = skel->maps.kst_certs_v2;
	pins[1].map = skel->maps.kst_global_v2;
	pins[2].map = skel->maps.kst_listeners_v2;
	for (int i = 0; i < METRICS_PINS && err == 0; i++) {
		if (snprintf(pins[i].path, sizeof(pins[i].path), "%s/%s",
			     pin_dir, bpf_map__name(pins[i].map)) >=
		    (int)sizeof(pins[i].path))
			return -ENAMETOOLONG;
		err = metrics_adopt(&pins[i]);
	}
	if (err == 0)
		err = kstapled_bpf__load(skel);
	for (int i = 0; i < METRICS_PINS && err == 0; i++)
		err = metrics_pin(&pins[i], gid);
	return err;
}

/* Empty the listener map (bounded: at most its capacity deletes). */
static void metrics_clear_listeners(int fd)
{
	struct kst_listener_key k;

	for (unsigned i = 0; i <= KST_BPF_LISTENERS_MAX; i++)
		if (bpf_map_get_next_key(fd, NULL, &k) != 0 ||
		    bpf_map_delete_elem(fd, &k) != 0)
			break;
}

int kst_metrics_open(const char *pin_dir, gid_t gid, struct kst_metrics **out)
{
	struct metrics_pin pins[METRICS_PINS] = {0};
	struct kst_metrics *m = NULL;
	int err;

	*out = NULL;
	libbpf_set_print(metrics_libbpf_print);
	err = metrics_check_fs(pin_dir);
	if (err == 0)
		err = metrics_make_dir(pin_dir, gid);
	if (err != 0)
		return err;
	metrics_remove_old_pins(pin_dir);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->skel = kstapled_bpf__open();
	if (m->skel == NULL) {
		err = -errno;
		goto error;
	}
	err = metrics_open_pins(m->skel, pin_dir, gid, pins);
	if (err != 0)
		goto error;
	m->certs_fd = bpf_map__fd(m->skel->maps.kst_certs_v2);
	m->global_fd = bpf_map__fd(m->skel->maps.kst_global_v2);
	m->listeners_fd = bpf_map__fd(m->skel->maps.kst_listeners_v2);
	m->reused = pins[0].reused && pins[1].reused && pins[2].reused;
	if (pins[2].reused) /* a previous run's listeners: not this one's */
		metrics_clear_listeners(m->listeners_fd);
	*out = m;
	return 0;
error:
	/* leave no half-made set of pins behind */
	for (int i = 0; i < METRICS_PINS; i++)
		if (pins[i].created)
			unlink(pins[i].path);
	kstapled_bpf__destroy(m->skel);
	free(m);
	return err < 0 ? err : -EINVAL;
}

int kst_metrics_cert_put(struct kst_metrics *m, const struct kst_cert_key *k,
			 const struct kst_cert_val *v)
{
	return bpf_map_update_elem(m->certs_fd, k, v, BPF_ANY);
}

int kst_metrics_cert_del(struct kst_metrics *m, const struct kst_cert_key *k)
{
	return bpf_map_delete_elem(m->certs_fd, k);
}

static int metrics_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kst_cert_key));
}

/* Every key of the map not in sorted[0..n), into a new array. */
static int metrics_collect_doomed(struct kst_metrics *m,
				  const struct kst_cert_key *sorted, size_t n,
				  struct kst_cert_key **doomed, size_t *count)
{
	struct kst_cert_key cur, prev, *grown;
	size_t cap = 0;
	int err = 0;

	*doomed = NULL;
	*count = 0;
	/* bounded: a concurrent delete may restart the walk, not loop it */
	for (size_t i = 0; i <= 2 * (size_t)KST_BPF_CERTS_MAX; i++) {
		err = bpf_map_get_next_key(m->certs_fd, i ? &prev : NULL, &cur);
		if (err != 0)
			break;
		prev = cur;
		if (n > 0 && bsearch(&cur, sorted, n, sizeof(cur),
				     metrics_key_cmp) != NULL)
			continue;
		if (*count == cap) {
			cap = cap ? 2 * cap : 16;
			grown = reallocarray(*doomed, cap, sizeof(cur));
			if (grown == NULL)
				return -ENOMEM;
			*doomed = grown;
		}
		(*doomed)[(*count)++] = cur;
	}
	return err == -ENOENT ? 0 : err;
}

int kst_metrics_cert_prune(struct kst_metrics *m,
			   const struct kst_cert_key *keep, size_t n)
{
	struct kst_cert_key *sorted = NULL, *doomed = NULL;
	size_t count = 0;
	int err = 0;

	if (n > 0) {
		sorted = malloc(n * sizeof(*sorted));
		if (sorted == NULL)
			return -ENOMEM;
		memcpy(sorted, keep, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), metrics_key_cmp);
	}
	err = metrics_collect_doomed(m, sorted, n, &doomed, &count);
	for (size_t i = 0; i < count && err == 0; i++) {
		err = bpf_map_delete_elem(m->certs_fd, &doomed[i]);
		if (err == -ENOENT)
			err = 0;
	}
	free(doomed);
	free(sorted);
	return err < 0 ? err : (int)count;
}

int kst_metrics_global_put(struct kst_metrics *m,
			   const struct kst_global_val *v)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->global_fd, &zero, v, BPF_ANY);
}

int kst_metrics_listener_put(struct kst_metrics *m,
			     const struct kst_listener_key *k,
			     const struct kst_listener_val *v)
{
	return bpf_map_update_elem(m->listeners_fd, k, v, BPF_ANY);
}

int kst_metrics_probe_write(struct kst_metrics *m)
{
	struct kst_global_val v;
	__u32 zero = 0;
	int rc = bpf_map_lookup_elem(m->global_fd, &zero, &v);

	if (rc < 0)
		return rc;
	return bpf_map_update_elem(m->global_fd, &zero, &v, BPF_EXIST);
}

bool kst_metrics_reused(const struct kst_metrics *m)
{
	return m->reused;
}

void kst_metrics_close(struct kst_metrics *m)
{
	if (m == NULL)
		return;
	kstapled_bpf__destroy(m->skel);
	free(m);
}
