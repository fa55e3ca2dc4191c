// SPDX-License-Identifier: MIT
/*
 * `kstapled status` (see status.h): opens the pinned maps read-only, checks
 * that they have the layout this build knows, copies every entry out, and
 * hands the copy to the renderers of status_fmt.c. It never talks to the
 * daemon. Errors are sentences for the operator on stderr, with exit
 * status 2.
 */
#include "daemon/metrics/status.h"
#include "daemon/config/config.h"
#include "daemon/metrics/metrics_state.h"
#include "daemon/base/util.h"

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
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

struct status_opts {
	const char *pin_dir;
	const char *config;
	const char *prometheus;
	bool json;
	bool wide;
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

static const struct status_map status_listeners = {
	KST_BPF_LISTENERS_MAP, BPF_MAP_TYPE_HASH,
	sizeof(struct kst_listener_key), sizeof(struct kst_listener_val)};

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: kstapled status [--json | --wide] [-c FILE | --pin-dir "
		"DIR] [--prometheus FILE]\n"
		"  -c, --config FILE  the daemon's configuration: its "
		"bpf-pin-dir\n"
		"  --pin-dir DIR      pinned maps (default %s)\n"
		"  --json             JSON instead of the table\n"
		"  --wide             the table with every column (default: "
		"%d columns)\n"
		"  --prometheus FILE  node_exporter textfile format "
		"(\"-\": stdout)\n"
		"exit status: 0 all certificates fine, 1 some need attention, "
		"2 maps unreadable,\n"
		"  3 the daemon stopped (cleanly), 4 the daemon looks gone "
		"(no flush for %ds)\n",
		KST_BPF_PIN_DIR, KST_STATUS_COLUMNS, KST_STATUS_GONE_SECS);
}

/* "group kstapled" or "gid 4242" */
static const char *status_group_name(gid_t gid, char *buf, size_t size)
{
	struct group *gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, size, "group %s", gr->gr_name);
	else
		snprintf(buf, size, "gid %u", (unsigned)gid);
	return buf;
}

/*
 * EACCES opening path: the first directory on the way this process may not
 * enter (systemd mounts /sys/fs/bpf 0700), else the pin's own mode and
 * group. Checked with the effective ids, as the kernel does.
 */
static void status_explain_eacces(const char *path, char *why, size_t size)
{
	char dir[PATH_MAX], grp[64];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = strchr(dir + 1, '/'); p != NULL;
	     p = strchr(p + 1, '/')) {
		*p = '\0';
		if (faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) != 0 &&
		    errno == EACCES && stat(dir, &st) == 0) {
			snprintf(why, size,
				 "permission denied opening %s: directory %s "
				 "is mode %04o, owner uid %u, %s, and does not "
				 "let uid %u through; run as root, or make it "
				 "traversable (chmod o+x %s, or g+x for a "
				 "group you are in)",
				 path, dir, (unsigned)(st.st_mode & 07777),
				 (unsigned)st.st_uid,
				 status_group_name(st.st_gid, grp, sizeof(grp)),
				 (unsigned)geteuid(), dir);
			return;
		}
		*p = '/';
	}
	if (stat(path, &st) == 0) {
		snprintf(why, size,
			 "permission denied opening %s: it is mode %04o, %s; "
			 "run as root or as a member of that group",
			 path, (unsigned)(st.st_mode & 07777),
			 status_group_name(st.st_gid, grp, sizeof(grp)));
		return;
	}
	snprintf(why, size, "permission denied opening %s", path);
}

/* Before Linux 5.19, kernel.unprivileged_bpf_disabled refused every
 * bpf() command to users; since, only map and program creation. */
static bool status_sysctl_gates_reads(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major < 5 || (major == 5 && minor < 19);
}

/* EPERM from bpf(): the sysctl when it is the cause, with its value. */
static void status_explain_eperm(const char *path, char *why, size_t size)
{
	char val[16] = "";
	FILE *f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");

	if (f != NULL) {
		if (fgets(val, sizeof(val), f) == NULL)
			val[0] = '\0';
		fclose(f);
		val[strcspn(val, "\n")] = '\0';
	}
	if (val[0] != '\0' && strcmp(val, "0") != 0 &&
	    status_sysctl_gates_reads())
		snprintf(why, size,
			 "the kernel refused bpf() on %s: "
			 "/proc/sys/kernel/unprivileged_bpf_disabled is %s, "
			 "and this kernel (before 5.19) then refuses every "
			 "bpf() call to users: run as root%s",
			 path, val,
			 strcmp(val, "1") == 0
				 ? " (1 stays until reboot)"
				 : ", or set it to 0 (sysctl "
				   "kernel.unprivileged_bpf_disabled=0)");
	else
		snprintf(why, size,
			 "the kernel refused bpf() on %s although the pin's "
			 "mode lets you open it (a security module such as "
			 "SELinux or AppArmor?): run as root",
			 path);
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
		status_explain_eacces(path, why, size);
		break;
	case EPERM:
		status_explain_eperm(path, why, size);
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

/* certificates read per BPF_MAP_LOOKUP_BATCH call */
#define STATUS_BATCH 256

static int status_certs_grow(struct kst_status_cert **certs, size_t *cap,
			     size_t want)
{
	struct kst_status_cert *grown;
	size_t ncap = *cap ? *cap : STATUS_BATCH;

	while (ncap < want)
		ncap *= 2;
	if (ncap == *cap)
		return 0;
	grown = reallocarray(*certs, ncap, sizeof(**certs));
	if (grown == NULL)
		return -ENOMEM;
	*certs = grown;
	*cap = ncap;
	return 0;
}

/*
 * Every certificate in the map, each once. A get_next_key walk is not a
 * listing: the daemon's flush replaces entries, a replaced entry moves to
 * the head of its hash bucket, and a walk already past that head skips it
 * (a certificate missing from `status`). The kernel's batch lookup copies
 * a whole bucket under the bucket's lock, so every entry present for the
 * whole read is listed exactly once.
 */
static int status_read_certs(int fd, struct kst_status_cert **certs, size_t *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct kst_cert_key keys[STATUS_BATCH];
	struct kst_cert_val *vals;
	__u64 in = 0, out = 0; /* a hash map's batch token is a bucket */
	size_t cap = 0;
	bool first = true;
	int err = 0;

	vals = calloc(STATUS_BATCH, sizeof(*vals));
	if (vals == NULL)
		return -ENOMEM;
	for (;;) {
		__u32 count = STATUS_BATCH;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys,
					   vals, &count, &opts);
		if (err != 0 && err != -ENOENT)
			break;
		if (status_certs_grow(certs, &cap, *n + count) < 0) {
			err = -ENOMEM;
			break;
		}
		for (__u32 i = 0; i < count; i++, (*n)++) {
			(*certs)[*n].key = keys[i];
			(*certs)[*n].val = vals[i];
			/* the key is what the entry is: say it */
			kst_metrics_fingerprint((*certs)[*n].val.sha256,
						keys[i].sha256);
		}
		if (err == -ENOENT) { /* that was the last bucket */
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
	free(vals);
	if (err != 0)
		return err;
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

static int status_listener_cmp(const void *a, const void *b)
{
	const struct kst_listener_val *x = a, *y = b;

	return strncmp(x->name, y->name, sizeof(x->name));
}

int kst_status_read_listeners(const char *pin_dir,
			      struct kst_listener_val **out, size_t *n,
			      char *why, size_t why_size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct kst_listener_key *keys = NULL;
	__u32 count = KST_BPF_LISTENERS_MAX;
	__u64 token = 0;
	int fd, err;

	*out = NULL;
	*n = 0;
	fd = status_open_map(pin_dir, &status_listeners, why, why_size);
	if (fd == -ENOENT)
		return 0; /* a daemon that counts no listener */
	if (fd < 0)
		return fd;
	keys = calloc(KST_BPF_LISTENERS_MAX, sizeof(*keys));
	*out = calloc(KST_BPF_LISTENERS_MAX, sizeof(**out));
	if (keys == NULL || *out == NULL) {
		err = -ENOMEM;
	} else {
		/* the whole map in one call (see status_read_certs) */
		err = bpf_map_lookup_batch(fd, NULL, &token, keys, *out, &count,
					   &opts);
		if (err == -ENOENT)
			err = 0;
	}
	if (err == 0) {
		*n = count;
		for (size_t i = 0; i < *n; i++) /* the key is the name */
			memcpy((*out)[i].name, keys[i].name,
			       sizeof(keys[i].name) - 1);
		qsort(*out, *n, sizeof(**out), status_listener_cmp);
	} else {
		snprintf(why, why_size, "reading %s under %s: %s",
			 KST_BPF_LISTENERS_MAP, pin_dir, strerror(-err));
		free(*out);
		*out = NULL;
	}
	free(keys);
	close(fd);
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
		{"wide", no_argument, NULL, 'w'},
		{"pin-dir", required_argument, NULL, 'd'},
		{"config", required_argument, NULL, 'c'},
		{"prometheus", required_argument, NULL, 'p'},
		{"now", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	optind = 0; /* GNU: a full re-initialisation, callable again */
	while ((c = getopt_long(argc, argv, "+hc:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'w':
			o->wide = true;
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
	if (optind == argc &&
	    !(o->json && o->prometheus != NULL &&
	      strcmp(o->prometheus, "-") == 0) &&
	    !(o->config != NULL && o->pin_dir != NULL))
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

/*
 * The pin directory the daemon of o->config uses (its bpf-pin-dir, or the
 * default), into buf. Only the configuration is read, not the files it
 * names; a syntax error elsewhere in it does not matter here.
 */
static int status_pin_dir_of(const char *config, char *buf, size_t size)
{
	struct kst_diag diag;
	struct kst_config *conf;
	int err = 0;

	kst_diag_init(&diag);
	conf = kst_config_parse_all(config, &diag);
	if (conf == NULL) {
		err = errno ? errno : EINVAL;
		fprintf(stderr, "kstapled status: cannot read %s: %s\n", config,
			strerror(err));
	} else if (conf->global.bpf_pin_dir == NULL ||
		   conf->global.bpf_pin_dir[0] == '\0') {
		fprintf(stderr,
			"kstapled status: %s sets bpf-pin-dir empty: that "
			"daemon exports no metrics\n",
			config);
		err = ENOENT;
	} else if (snprintf(buf, size, "%s", conf->global.bpf_pin_dir) >=
		   (int)size) {
		err = ENAMETOOLONG;
	}
	kst_config_free(conf);
	kst_diag_free(&diag);
	return err ? -err : 0;
}

int kst_status_main(int argc, char **argv)
{
	struct status_opts o = {0};
	char conf_pins[PATH_MAX];
	struct kst_status_cert *certs = NULL;
	struct kst_listener_val *listeners = NULL;
	struct kst_global_val global = {0};
	struct kst_status_view view = {0};
	char why[PATH_MAX + 256];
	size_t n = 0, n_listeners = 0;
	int rc = 0;

	if (!status_parse(argc, argv, &o, &rc))
		return rc;
	if (o.config != NULL) {
		if (status_pin_dir_of(o.config, conf_pins, sizeof(conf_pins)) !=
		    0)
			return KST_STATUS_EXIT_UNREADABLE;
		o.pin_dir = conf_pins;
	}
	if (o.pin_dir == NULL)
		o.pin_dir = KST_BPF_PIN_DIR;
	if (kst_status_read(o.pin_dir, &certs, &n, &global, why, sizeof(why)) !=
	    0) {
		fprintf(stderr, "kstapled status: %s\n", why);
		return KST_STATUS_EXIT_UNREADABLE;
	}
	if (kst_status_read_listeners(o.pin_dir, &listeners, &n_listeners, why,
				      sizeof(why)) != 0) {
		fprintf(stderr, "kstapled status: %s\n", why);
		free(certs);
		return KST_STATUS_EXIT_UNREADABLE;
	}
	view.listeners = listeners;
	view.n_listeners = n_listeners;
	view.certs = certs;
	view.n_certs = n;
	view.global = &global;
	view.now = o.have_now ? o.now : time(NULL);
	view.wide = o.wide;
	rc = status_output(&o, &view);
	free(listeners);
	free(certs);
	return rc;
}
