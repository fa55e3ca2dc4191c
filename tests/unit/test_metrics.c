// SPDX-License-Identifier: MIT
/*
 * The metrics map layer on this host: load, pin, write, prune, close,
 * re-open and re-use, replace an incompatible pin, pin permissions, what
 * bpftool prints, and `kstapled status` reading the pins. Needs root and a
 * bpf filesystem (mounted at /sys/fs/bpf when it is not); every test pins
 * under its own /sys/fs/bpf/kst-test-<pid> and removes it afterwards.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "daemon/metrics/metrics.h"
#include "daemon/metrics/metrics_state.h"
#include "daemon/metrics/status.h"
#include "daemon/base/util.h"
#include "tests/lib/testutil.h"

#define BPFFS	 "/sys/fs/bpf"
#define NOW	 1763720000
#define TEST_GID 4242

static char pin_dir[64];

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* Mount bpffs at /sys/fs/bpf once, under a lock: tests run in parallel. */
static bool bpffs_ready(void)
{
	int lock = open("/tmp/kst-test-bpffs.lock",
			O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	bool ok;

	if (lock >= 0)
		flock(lock, LOCK_EX);
	ok = on_bpffs(BPFFS) ||
	     (mount("bpf", BPFFS, "bpf", 0, "mode=0700") == 0 &&
	      on_bpffs(BPFFS));
	if (lock >= 0)
		close(lock);
	return ok;
}

static void require_bpf(void)
{
	kst_test_require(geteuid() == 0, "needs root for bpf() and bpffs");
	kst_test_require(bpffs_ready(), "bpffs cannot be mounted at " BPFFS);
	snprintf(pin_dir, sizeof(pin_dir), BPFFS "/kst-test-%d", (int)getpid());
}

static void remove_pin_dir(void)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX];

	if (pin_dir[0] == '\0' || (d = opendir(pin_dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(pin_dir);
}

TestSuite(metrics, .fini = remove_pin_dir);

static struct kst_cert_key key_of(unsigned char b)
{
	struct kst_cert_key k;

	memset(k.sha256, b, sizeof(k.sha256));
	return k;
}

/* A value built the way the daemon builds it. */
static struct kst_cert_val value_of(const char *name, time_t next_update,
				    uint64_t handshakes)
{
	unsigned char sha[32];
	struct kst_conn_counters c = {
		.handshakes = handshakes,
		.staples_served = handshakes - 1,
		.status_no_staple = 1,
		.ktls_tx = handshakes,
		.ktls_rx = handshakes - 2,
		.userspace = 2,
	};
	struct kst_cert_facts f = {
		.name = name,
		.subject_cn = "example.com",
		.not_after = NOW + 90 * 86400,
		.policy = KST_BPF_POLICY_MUST_STAPLE,
		.must_staple = true,
		.staple = {.enabled = true,
			   .has_source = true,
			   .has_staple = true,
			   .ever_had = true,
			   .this_update = NOW - 3600,
			   .next_update = next_update,
			   .next_refresh = NOW + 3600},
		.produced_at = NOW - 3600,
		.fetched_at = NOW - 3000,
		.last_fetch_at = NOW - 3000,
		.fetch_successes = 7,
		.last_http_status = 200,
	};
	struct kst_cert_val v;

	c.ktls_fallback[KST_BPF_FALLBACK_SLOTS - 1] = 5;
	c.ktls_fallback[kst_metrics_fallback_slot(2)] = 4; /* no-kernel */
	c.hs_resumed = 11;
	c.tickets_refused_expired = 2;
	c.keyupdate_rekeys_tx = 3;
	for (size_t i = 0; i < sizeof(sha); i++)
		sha[i] = (unsigned char)(0xa0 + i);
	f.sha256 = sha;
	kst_metrics_cert_build(&v, &f, &c, NOW);
	return v;
}

static struct kst_global_val global_of(void)
{
	struct kst_proc_counters c = {.accepted = 77, .active = 3};
	struct kst_global_facts f = {
		.started_at = NOW - 600, .pid = 4242, .workers = 2, .certs = 2};
	struct kst_global_val g;

	kst_metrics_global_build(&g, &f, &c, NOW);
	return g;
}

static int pin_fd(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static struct bpf_map_info pin_info(const char *name)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);
	int fd = pin_fd(name);

	cr_assert_geq(fd, 0, "pin %s: %s", name, strerror(errno));
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	return info;
}

/* Open with the test's pin directory and two certificates put. */
static struct kst_metrics *open_with_two(void)
{
	struct kst_metrics *m = NULL;
	struct kst_cert_key a = key_of(0xaa), b = key_of(0xbb);
	struct kst_cert_val va = value_of("cert-a", NOW + 86400, 123);
	struct kst_cert_val vb = value_of("cert-b", NOW - 300, 9);
	struct kst_global_val g = global_of();
	int err = kst_metrics_open(pin_dir, TEST_GID, &m);

	cr_assert_eq(err, 0, "open: %s", strerror(-err));
	cr_assert_not_null(m);
	cr_assert_eq(kst_metrics_cert_put(m, &a, &va), 0);
	cr_assert_eq(kst_metrics_cert_put(m, &b, &vb), 0);
	cr_assert_eq(kst_metrics_global_put(m, &g), 0);
	return m;
}

/* ------------------------------------------------- bpftool's view */

static char *run_capture(const char *cmd)
{
	FILE *p = popen(cmd, "re");
	size_t cap = 1 << 20, len = 0, n;
	char *buf = calloc(1, cap);

	cr_assert_not_null(p);
	cr_assert_not_null(buf);
	while ((n = fread(buf + len, 1, cap - 1 - len, p)) > 0)
		len += n;
	buf[len] = '\0';
	cr_assert_eq(pclose(p), 0, "%s failed:\n%s", cmd, buf);
	return buf;
}

/* The JSON object starting at the '{' at s, as a new string. */
static char *json_object(const char *s)
{
	int depth = 0;
	bool in_str = false;

	for (const char *p = s; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_str = false;
		} else if (*p == '"') {
			in_str = true;
		} else if (*p == '{') {
			depth++;
		} else if (*p == '}' && --depth == 0) {
			return strndup(s, (size_t)(p - s + 1));
		}
	}
	cr_assert_fail("unterminated JSON object");
	return NULL;
}

/* `"key":value` present, followed by ',' or '}' (a whole value). */
static bool json_has(const char *obj, const char *kv)
{
	size_t n = strlen(kv);

	for (const char *p = obj; (p = strstr(p, kv)) != NULL; p++)
		if (p[n] == ',' || p[n] == '}')
			return true;
	return false;
}

/* Every member of the BTF struct behind the pinned map's value is printed
 * by name in obj; the struct is the one this build compiled. */
static void check_btf_members(const char *map, const char *obj, __u32 size)
{
	struct bpf_map_info info = pin_info(map);
	struct btf *btf = btf__load_from_kernel_by_id(info.btf_id);
	const struct btf_type *t;
	const struct btf_member *mb;
	char key[96];

	cr_assert_not_null(btf, "no BTF for %s", map);
	t = btf__type_by_id(btf, info.btf_value_type_id);
	cr_assert(t != NULL && btf_is_struct(t), "%s value is a struct", map);
	cr_assert_eq(t->size, size, "%s BTF size", map);
	mb = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, mb++) {
		snprintf(key, sizeof(key),
			 "\"%s\":", btf__name_by_offset(btf, mb->name_off));
		cr_assert_not_null(strstr(obj, key), "bpftool lacks %s in %s",
				   key, obj);
	}
	cr_assert_gt(btf_vlen(t), 10);
	btf__free(btf);
}

static void require_bpftool(void)
{
	kst_test_require(system("command -v bpftool >/dev/null 2>&1") == 0,
			 "bpftool is not installed");
}

Test(metrics, bpftool_prints_every_cert_field_by_name)
{
	struct kst_metrics *m;
	char cmd[PATH_MAX + 64], *out, *p, *obj;

	require_bpf();
	require_bpftool();
	m = open_with_two();
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/%s", pin_dir,
		 KST_BPF_CERTS_MAP);
	out = run_capture(cmd);
	p = strstr(out, "\"formatted\":{\"key\":{\"sha256\":[170,170,");
	cr_assert_not_null(p, "no BTF-formatted entry for cert-a:\n%s", out);
	p = strstr(p, "\"value\":{");
	cr_assert_not_null(p);
	obj = json_object(p + strlen("\"value\":"));
	check_btf_members(KST_BPF_CERTS_MAP, obj, sizeof(struct kst_cert_val));
	cr_assert(json_has(obj, "\"name\":\"cert-a\""), "%s", obj);
	cr_assert(json_has(obj, "\"subject_cn\":\"example.com\""), "%s", obj);
	cr_assert(json_has(obj, "\"state\":\"KST_STAPLE_FRESH\""), "%s", obj);
	cr_assert(json_has(obj, "\"policy\":\"KST_BPF_POLICY_MUST_STAPLE\""));
	cr_assert(json_has(obj, "\"must_staple\":1"));
	cr_assert(json_has(obj, "\"last_error_name\":\"ok\""), "%s", obj);
	cr_assert(json_has(obj, "\"next_update\":1763806400"), "%s", obj);
	cr_assert(json_has(obj, "\"secs_to_next_update\":86400"), "%s", obj);
	cr_assert(json_has(obj, "\"flushed_at\":1763720000"), "%s", obj);
	cr_assert(json_has(obj, "\"handshakes\":123"), "%s", obj);
	cr_assert(json_has(obj, "\"conns_ktls_rx\":121"), "%s", obj);
	cr_assert(json_has(obj, "\"hs_resumed\":11"), "%s", obj);
	cr_assert(json_has(obj, "\"tickets_refused_expired\":2"), "%s", obj);
	cr_assert(json_has(obj, "\"keyupdate_rekeys_tx\":3"), "%s", obj);
	/* a self-describing value: the fingerprint, labelled fallbacks */
	cr_assert(json_has(obj, "\"sha256\":\"a0:a1:a2:a3:a4:a5:a6:a7:a8:a9:"
				"aa:ab:ac:ad:ae:af:b0:b1:b2:b3:b4:b5:b6:b7:b8:"
				"b9:ba:bb:bc:bd:be:bf\""),
		  "%s", obj);
	cr_assert_not_null(strstr(obj, "\"ktls_fallback\":{\"disabled\":0,"
				       "\"no_kernel\":4,\"version\":0,"),
			   "%s", obj);
	cr_assert(json_has(obj, "\"other\":5}"), "%s", obj);
	cr_assert_not_null(strstr(out, "\"name\":\"cert-b\""), "%s", out);
	free(obj);
	free(out);
	kst_metrics_close(m);
}

Test(metrics, bpftool_prints_the_global_value_by_name)
{
	struct kst_metrics *m;
	char cmd[PATH_MAX + 64], *out, *p, *obj;

	require_bpf();
	require_bpftool();
	m = open_with_two();
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/%s", pin_dir,
		 KST_BPF_GLOBAL_MAP);
	out = run_capture(cmd);
	p = strstr(out, "\"formatted\":{\"key\":0,\"value\":{");
	cr_assert_not_null(p, "%s", out);
	obj = json_object(strstr(p, "\"value\":") + strlen("\"value\":"));
	check_btf_members(KST_BPF_GLOBAL_MAP, obj,
			  sizeof(struct kst_global_val));
	cr_assert(json_has(obj, "\"pid\":4242"), "%s", obj);
	cr_assert(json_has(obj, "\"conns_accepted\":77"), "%s", obj);
	cr_assert_not_null(strstr(obj, "\"tls_stat\":{\"curr_tx_sw\":0,"));
	free(obj);
	free(out);
	kst_metrics_close(m);
}

/* ---------------------------------------------------- map layer */

static bool pinned_has(unsigned char b)
{
	struct kst_cert_key k = key_of(b);
	struct kst_cert_val v;
	int fd = pin_fd(KST_BPF_CERTS_MAP);
	int err;

	cr_assert_geq(fd, 0);
	err = bpf_map_lookup_elem(fd, &k, &v);
	close(fd);
	cr_assert(err == 0 || err == -ENOENT, "lookup: %s", strerror(-err));
	return err == 0;
}

Test(metrics, prune_removes_the_entries_not_kept)
{
	struct kst_metrics *m;
	struct kst_cert_key c = key_of(0xcc), keep[2];
	struct kst_cert_val vc = value_of("cert-c", NOW + 60, 1);

	require_bpf();
	m = open_with_two();
	cr_assert_eq(kst_metrics_cert_put(m, &c, &vc), 0);
	keep[0] = key_of(0xcc);
	keep[1] = key_of(0xaa);
	cr_assert_eq(kst_metrics_cert_prune(m, keep, 2), 1, "bb deleted");
	cr_assert(pinned_has(0xaa));
	cr_assert_not(pinned_has(0xbb));
	cr_assert(pinned_has(0xcc));
	cr_assert_eq(kst_metrics_cert_del(m, &c), 0);
	cr_assert_not(pinned_has(0xcc));
	cr_assert_eq(kst_metrics_cert_del(m, &c), -ENOENT);
	cr_assert_eq(kst_metrics_cert_prune(m, NULL, 0), 1, "aa deleted");
	cr_assert_not(pinned_has(0xaa));
	kst_metrics_close(m);
}

Test(metrics, close_keeps_pins_and_reopen_reuses_them_with_values)
{
	struct kst_metrics *m;
	struct kst_cert_key a = key_of(0xaa);
	struct kst_cert_val want = value_of("cert-a", NOW + 86400, 123), got;
	__u32 id_certs, id_global;
	int fd, err;

	require_bpf();
	m = open_with_two();
	cr_assert_not(kst_metrics_reused(m), "first open creates");
	id_certs = pin_info(KST_BPF_CERTS_MAP).id;
	id_global = pin_info(KST_BPF_GLOBAL_MAP).id;
	kst_metrics_close(m);
	cr_assert_eq(pin_info(KST_BPF_CERTS_MAP).id, id_certs, "pin stays");

	err = kst_metrics_open(pin_dir, TEST_GID, &m);
	cr_assert_eq(err, 0, "re-open: %s", strerror(-err));
	cr_assert(kst_metrics_reused(m));
	cr_assert_eq(pin_info(KST_BPF_CERTS_MAP).id, id_certs);
	cr_assert_eq(pin_info(KST_BPF_GLOBAL_MAP).id, id_global);
	fd = pin_fd(KST_BPF_CERTS_MAP);
	cr_assert_eq(bpf_map_lookup_elem(fd, &a, &got), 0, "value survived");
	cr_assert_arr_eq(&got, &want, sizeof(got));
	close(fd);
	/* and the re-used map is the one written through */
	want.handshakes = 999;
	cr_assert_eq(kst_metrics_cert_put(m, &a, &want), 0);
	fd = pin_fd(KST_BPF_CERTS_MAP);
	cr_assert_eq(bpf_map_lookup_elem(fd, &a, &got), 0);
	cr_assert_eq(got.handshakes, 999);
	close(fd);
	kst_metrics_close(m);
}

Test(metrics, replaces_a_pin_with_a_different_value_size)
{
	struct kst_metrics *m = NULL;
	char path[PATH_MAX];
	struct bpf_map_info info;
	int old, err;
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);

	require_bpf();
	cr_assert_eq(mkdir(pin_dir, 0750), 0);
	/* as the object would create it, but for the value size */
	old = bpf_map_create(BPF_MAP_TYPE_HASH, "kst_certs_v2",
			     sizeof(struct kst_cert_key), 100,
			     KST_BPF_CERTS_MAX, &opts);
	cr_assert_geq(old, 0, "create: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, KST_BPF_CERTS_MAP);
	cr_assert_eq(bpf_obj_pin(old, path), 0);
	close(old);

	err = kst_metrics_open(pin_dir, TEST_GID, &m);
	cr_assert_eq(err, 0, "open: %s", strerror(-err));
	cr_assert_not(kst_metrics_reused(m));
	info = pin_info(KST_BPF_CERTS_MAP);
	cr_assert_eq(info.value_size, sizeof(struct kst_cert_val));
	cr_assert_eq(info.max_entries, KST_BPF_CERTS_MAX);
	kst_metrics_close(m);
}

/* A v1 daemon's pins would read as its last values forever: gone. */
Test(metrics, open_removes_the_pins_of_the_v1_layout)
{
	static const char *const v1[] = {"kst_certs_v1", "kst_global_v1"};
	struct kst_metrics *m = NULL;
	char path[PATH_MAX];
	struct stat st;
	int err;

	require_bpf();
	cr_assert_eq(mkdir(pin_dir, 0750), 0);
	for (size_t i = 0; i < KST_ARRAY_SIZE(v1); i++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, v1[i], 4, 8, 1,
					NULL);

		cr_assert_geq(fd, 0, "create: %s", strerror(errno));
		snprintf(path, sizeof(path), "%s/%s", pin_dir, v1[i]);
		cr_assert_eq(bpf_obj_pin(fd, path), 0);
		close(fd);
	}
	err = kst_metrics_open(pin_dir, TEST_GID, &m);
	cr_assert_eq(err, 0, "open: %s", strerror(-err));
	for (size_t i = 0; i < KST_ARRAY_SIZE(v1); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, v1[i]);
		cr_assert_eq(stat(path, &st), -1, "%s is still there", path);
	}
	cr_assert_eq(pin_info(KST_BPF_CERTS_MAP).value_size,
		     sizeof(struct kst_cert_val));
	kst_metrics_close(m);
}

Test(metrics, pins_are_mode_0640_in_a_0750_dir_of_the_group)
{
	struct kst_metrics *m;
	char path[PATH_MAX];
	const char *names[] = {"", "/" KST_BPF_CERTS_MAP,
			       "/" KST_BPF_GLOBAL_MAP};
	struct stat st;

	require_bpf();
	m = open_with_two();
	for (size_t i = 0; i < KST_ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s%s", pin_dir, names[i]);
		cr_assert_eq(stat(path, &st), 0, "%s", path);
		cr_assert_eq(st.st_mode & 07777, i == 0 ? 0750 : 0640,
			     "%s mode %o", path, st.st_mode & 07777);
		cr_assert_eq(st.st_gid, TEST_GID, "%s group", path);
	}
	kst_metrics_close(m);
}

Test(metrics, open_fails_cleanly_off_bpffs)
{
	char dir[] = "/tmp/kst-metrics-XXXXXX", sub[64];
	struct kst_metrics *m = (struct kst_metrics *)&m;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(kst_metrics_open(dir, (gid_t)-1, &m), -EOPNOTSUPP);
	cr_assert_null(m);
	snprintf(sub, sizeof(sub), "%s/pins", dir);
	cr_assert_eq(kst_metrics_open(sub, (gid_t)-1, &m), -EOPNOTSUPP);
	cr_assert_null(m);
	cr_assert_eq(stat(sub, &st), -1, "nothing created off bpffs");
	snprintf(sub, sizeof(sub), "%s/no/pins", dir);
	cr_assert_eq(kst_metrics_open(sub, (gid_t)-1, &m), -ENOENT);
	kst_metrics_close(NULL);
	rmdir(dir);
}

/* ------------------------------------------------- kstapled status */

/* Run kst_status_main with stdout captured; returns its exit status. */
static int run_status(char **argv, int argc, char **out)
{
	char path[64];
	int saved, fd, rc;
	unsigned char *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/tmp/kst-metrics-out-%d", (int)getpid());
	fflush(stdout);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	saved = dup(1);
	dup2(fd, 1);
	close(fd);
	rc = kst_status_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	cr_assert_eq(kst_test_read_file(path, &buf, &len), 0);
	unlink(path);
	*out = realloc(buf, len + 1);
	(*out)[len] = '\0';
	return rc;
}

Test(metrics, status_reads_the_pins_and_exits_1_when_one_is_expired)
{
	struct kst_metrics *m;
	char now[32], *out = NULL;
	char *argv[] = {"status", "--pin-dir", pin_dir, "--now", now, NULL};

	require_bpf();
	m = open_with_two(); /* cert-b's nextUpdate passed 5m ago */
	snprintf(now, sizeof(now), "%d", NOW);
	cr_assert_eq(run_status(argv, 5, &out), 1, "%s", out);
	cr_assert_not_null(strstr(out, "\ncert-a "), "%s", out);
	cr_assert_not_null(strstr(out, "\ncert-b "), "%s", out);
	cr_assert_not_null(strstr(out, "expired  5m ago"), "%s", out);
	cr_assert_not_null(strstr(out, "attention: cert-b expired"), "%s", out);
	free(out);

	/* pruned to cert-a alone, everything is fine */
	struct kst_cert_key keep = key_of(0xaa);
	cr_assert_eq(kst_metrics_cert_prune(m, &keep, 1), 1);
	cr_assert_eq(run_status(argv, 5, &out), 0, "%s", out);
	cr_assert_null(strstr(out, "cert-b"), "%s", out);
	free(out);
	kst_metrics_close(m);
}

Test(metrics, status_writes_json_and_a_prometheus_file_from_the_pins)
{
	struct kst_metrics *m;
	char now[32], prom[64], *out = NULL;
	unsigned char *text = NULL;
	size_t len = 0;
	char *argv[] = {"status", "--pin-dir",	  pin_dir, "--now", now,
			"--json", "--prometheus", prom,	   NULL};
	struct stat st;

	require_bpf();
	m = open_with_two();
	snprintf(now, sizeof(now), "%d", NOW);
	snprintf(prom, sizeof(prom), "/tmp/kst-metrics-%d.prom", (int)getpid());
	cr_assert_eq(run_status(argv, 8, &out), 1);
	cr_assert_not_null(strstr(out, "\"name\":\"cert-a\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"state_now\":\"expired\""), "%s", out);
	/* the JSON keys are the BTF names, every one of them */
	check_btf_members(KST_BPF_CERTS_MAP, out, sizeof(struct kst_cert_val));
	check_btf_members(KST_BPF_GLOBAL_MAP, out,
			  sizeof(struct kst_global_val));
	cr_assert_not_null(strstr(out, "\"global\":{\"started_at\":1763719400"),
			   "%s", out);
	cr_assert_eq(kst_test_read_file(prom, &text, &len), 0);
	cr_assert_not_null(
		strstr((char *)text, "kstapled_staple_state{cert=\"cert-b\","));
	cr_assert_eq(stat(prom, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);
	unlink(prom);
	free(text);
	free(out);
	kst_metrics_close(m);
}

Test(metrics, status_finds_the_pin_dir_in_the_configuration)
{
	struct kst_metrics *m;
	char now[32], conf[64], text[256], *out = NULL;
	char *argv[] = {"status", "-c", conf, "--now", now, NULL};
	char *longopt[] = {"status", "--config", conf, "--now", now, NULL};

	require_bpf();
	m = open_with_two();
	snprintf(now, sizeof(now), "%d", NOW);
	snprintf(conf, sizeof(conf), "/tmp/kst-metrics-%d.conf", (int)getpid());
	/* listeners and certs do not matter: only bpf-pin-dir is read */
	snprintf(text, sizeof(text),
		 "[global]\nbpf-pin-dir = %s\n[listener:a]\nbind = "
		 "127.0.0.1:1\nbackend = 127.0.0.1:2\ncert = /nonexistent\n",
		 pin_dir);
	{
		FILE *f = fopen(conf, "we");

		cr_assert_not_null(f);
		fputs(text, f);
		cr_assert_eq(fclose(f), 0);
	}
	cr_assert_eq(run_status(argv, 5, &out), 1, "%s", out);
	cr_assert_not_null(strstr(out, "\ncert-a "), "%s", out);
	free(out);
	cr_assert_eq(run_status(longopt, 5, &out), 1, "%s", out);
	cr_assert_not_null(strstr(out, "\ncert-b "), "%s", out);
	free(out);
	unlink(conf);
	kst_metrics_close(m);
}

Test(metrics, status_exits_2_on_an_empty_pin_dir)
{
	char *argv[] = {"status", "--pin-dir", pin_dir, NULL};
	char *out = NULL;

	require_bpf();
	cr_assert_eq(mkdir(pin_dir, 0750), 0);
	cr_assert_eq(run_status(argv, 3, &out), 2);
	cr_assert_str_eq(out, "");
	free(out);
}

/*
 * A bpffs of our own, in a private mount namespace, mounted 0700 like
 * systemd mounts /sys/fs/bpf: the permission test changes its modes
 * without touching the host's.
 */
static void require_private_bpffs(void)
{
	bool ok;

	require_bpf();
	ok = unshare(CLONE_NEWNS) == 0 &&
	     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	     mount("bpf", BPFFS, "bpf", 0, "mode=0700") == 0;
	kst_test_require(ok, "no private mount namespace for a bpffs: %s",
			 strerror(errno));
}

/* kst_status_read as uid/gid in a child: number of certs read, or
 * 200 + errno; why gets the child's explanation. */
static int status_read_as(uid_t uid, gid_t gid, char *why, size_t size)
{
	struct kst_status_cert *certs = NULL;
	struct kst_global_val g;
	size_t n = 0;
	int pipefd[2], err = 0;
	pid_t pid;

	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		alarm(10);
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(100);
		err = kst_status_read(pin_dir, &certs, &n, &g, why, size);
		if (write(pipefd[1], why, strnlen(why, size - 1)) < 0)
			_exit(101);
		_exit(err == 0 ? (int)n : 200 + (-err & 0x3f));
	}
	close(pipefd[1]);
	memset(why, 0, size);
	if (read(pipefd[0], why, size - 1) < 0)
		why[0] = '\0';
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &err, 0), pid);
	cr_assert(WIFEXITED(err), "child did not exit");
	return WEXITSTATUS(err);
}

/*
 * Pins are 0640 with the daemon's group in a 0750 directory: others cannot
 * open them; a group member can once the bpffs root lets it through (systemd
 * mounts /sys/fs/bpf 0700) and where the kernel lets unprivileged users use
 * bpf() on objects they may open (older kernels gate every command behind
 * kernel.unprivileged_bpf_disabled).
 */
Test(metrics, only_root_and_the_group_may_read_the_pins)
{
	struct kst_metrics *m;
	char why[512] = "";
	int rc;

	require_private_bpffs();
	m = open_with_two();
	rc = status_read_as(65534, TEST_GID, why, sizeof(why));
	cr_assert_eq(rc, 200 + EACCES, "bpffs root 0700: %d %s", rc, why);
	/* the cause is the directory, not the group (which is right) */
	cr_assert_not_null(strstr(why, "directory " BPFFS " is mode "), "%s",
			   why);
	cr_assert_null(strstr(why, "member"), "%s", why);
	cr_assert_eq(chmod(BPFFS, 0711), 0);
	rc = status_read_as(65534, 65534, why, sizeof(why));
	cr_assert_eq(rc, 200 + EACCES, "others: %d %s", rc, why);
	cr_assert_not_null(strstr(why, "permission denied"), "%s", why);
	cr_assert_not_null(strstr(why, "is mode 0750"), "pin dir: %s", why);
	rc = status_read_as(65534, TEST_GID, why, sizeof(why));
	if (rc == 200 + EPERM) { /* the cause, not the group */
		cr_assert_not_null(strstr(why, "the kernel refused bpf()"),
				   "%s", why);
		cr_assert_null(strstr(why, "member"), "%s", why);
	}
	kst_test_require(rc != 200 + EPERM,
			 "this kernel refuses bpf() to unprivileged users "
			 "(%s)",
			 why);
	cr_assert_eq(rc, 2, "group member reads both certs: %d %s", rc, why);
	kst_metrics_close(m);
}
