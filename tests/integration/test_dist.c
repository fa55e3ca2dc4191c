// SPDX-License-Identifier: MIT
/*
 * What an operator installs (dist/, doc/, mk/install.mk), checked the way
 * the operator's tools would: `make install` puts every file where
 * systemd and man look for it, with its mode, and points the unit at the
 * installed binary; `systemd-analyze verify` accepts the units as
 * installed; systemd-sysusers and systemd-tmpfiles create the user and the
 * directories the unit relies on; the manual pages render without a
 * warning and kstapled.conf(5) documents exactly the options the parser
 * knows; the example configuration passes `kstapled -t`.
 *
 * `make install` runs for real, into a directory of the test, from the
 * source tree ($KST_SRCDIR) with the build directory under test
 * ($KST_BUILD).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ctype.h>
#include <ftw.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

/* make, configure, build and test steps: generous, a rebuild may happen */
#define DIST_MAKE_MS 300000
#define DIST_TOOL_MS 30000
/* One timeout for every test: criterion 2.4's runner leaks (LeakSanitizer
 * sees 48 bytes) when a test with a shorter timeout starts while one with
 * a longer timeout runs. */
#define DIST_TIMEOUT_S 600

/* A make in a SAN=1 build directory must stay a SAN=1 make, or a rebuild
 * links sanitized objects without the sanitizer runtime. */
#ifdef __SANITIZE_ADDRESS__
#define DIST_MAKE_VARS "SAN=1"
#else
#define DIST_MAKE_VARS ""
#endif

struct dist_file {
	int mode;
	const char *path;
};

/* Every file and directory `make install DESTDIR=D PREFIX=/usr` makes. */
static const struct dist_file dist_tree_usr[] = {
	{0755, "etc"},
	{0750, "etc/kstapled"},
	{0644, "etc/kstapled/kstapled.conf.example"},
	{0755, "lib"},
	{0755, "lib/systemd"},
	{0755, "lib/systemd/system"},
	{0644, "lib/systemd/system/kstapled.service"},
	{0644, "lib/systemd/system/kstapled.socket"},
	{0755, "usr"},
	{0755, "usr/lib"},
	{0755, "usr/lib/modules-load.d"},
	{0644, "usr/lib/modules-load.d/kstapled.conf"},
	{0755, "usr/lib/sysusers.d"},
	{0644, "usr/lib/sysusers.d/kstapled.conf"},
	{0755, "usr/lib/tmpfiles.d"},
	{0644, "usr/lib/tmpfiles.d/kstapled.conf"},
	{0755, "usr/sbin"},
	{0755, "usr/sbin/kstapled"},
	{0755, "usr/share"},
	{0755, "usr/share/man"},
	{0755, "usr/share/man/man5"},
	{0644, "usr/share/man/man5/kstapled.conf.5"},
	{0755, "usr/share/man/man8"},
	{0644, "usr/share/man/man8/kstapled.8"},
	{0, NULL},
};

/* ... and with PREFIX=/usr/local: everything under the prefix. */
static const struct dist_file dist_tree_usr_local[] = {
	{0755, "usr"},
	{0755, "usr/local"},
	{0755, "usr/local/etc"},
	{0750, "usr/local/etc/kstapled"},
	{0644, "usr/local/etc/kstapled/kstapled.conf.example"},
	{0755, "usr/local/lib"},
	{0755, "usr/local/lib/modules-load.d"},
	{0644, "usr/local/lib/modules-load.d/kstapled.conf"},
	{0755, "usr/local/lib/systemd"},
	{0755, "usr/local/lib/systemd/system"},
	{0644, "usr/local/lib/systemd/system/kstapled.service"},
	{0644, "usr/local/lib/systemd/system/kstapled.socket"},
	{0755, "usr/local/lib/sysusers.d"},
	{0644, "usr/local/lib/sysusers.d/kstapled.conf"},
	{0755, "usr/local/lib/tmpfiles.d"},
	{0644, "usr/local/lib/tmpfiles.d/kstapled.conf"},
	{0755, "usr/local/sbin"},
	{0755, "usr/local/sbin/kstapled"},
	{0755, "usr/local/share"},
	{0755, "usr/local/share/man"},
	{0755, "usr/local/share/man/man5"},
	{0644, "usr/local/share/man/man5/kstapled.conf.5"},
	{0755, "usr/local/share/man/man8"},
	{0644, "usr/local/share/man/man8/kstapled.8"},
	{0, NULL},
};

static const struct dist_file *const dist_trees[] = {dist_tree_usr,
						     dist_tree_usr_local};

/* A parameter row: no pointers (criterion re-executes the binary). */
struct dist_prefix {
	char prefix[32];
	char sbindir[32];
	char sysconfdir[32];
	char unitdir[40];
	int tree; /* index into dist_trees */
};

/* ------------------------------------------------------------ helpers */

static bool dist_have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", tool);
	return kst_h_sh(cmd, NULL, DIST_TOOL_MS) == 0;
}

/*
 * `make ARGS` in the source tree against the build under test. The tests
 * of this file run in parallel: one make at a time (flock), or two would
 * regenerate the same manual page at once. The parent make's jobserver is
 * not ours to use.
 */
static void dist_make(const char *args)
{
	char *cmd = NULL, *out = NULL;
	int rc;

	cr_assert(
		asprintf(
			&cmd,
			"umask 022; env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "
			"flock '%s/.dist-make.lock' "
			"make -s --no-print-directory -C '%s' BUILD='%s' %s %s",
			kst_test_builddir(), kst_test_srcdir(),
			kst_test_builddir(), DIST_MAKE_VARS, args) > 0);
	rc = kst_h_sh(cmd, &out, DIST_MAKE_MS);
	cr_assert_eq(rc, 0, "%s: exit %d\n%s", cmd, rc, out);
	free(out);
	free(cmd);
}

/* `kstapled ARGS` (shell words), under the lock of dist_make: a make
 * of another test may be relinking the binary. Exit status. */
static int dist_kstapled(const char *args, char **out)
{
	char *cmd = NULL;
	int rc;

	cr_assert(asprintf(&cmd, "flock '%s/.dist-make.lock' '%s' %s 2>&1",
			   kst_test_builddir(), kst_h_kstapled(), args) > 0);
	rc = kst_h_sh(cmd, out, DIST_TOOL_MS);
	free(cmd);
	return rc;
}

/* Full path of a tool on PATH (malloc'd). */
static char *dist_which(const char *tool)
{
	char cmd[128], *out = NULL;

	snprintf(cmd, sizeof(cmd), "command -v %s", tool);
	cr_assert_eq(kst_h_sh(cmd, &out, DIST_TOOL_MS), 0, "no %s", tool);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static char *dist_sub(const char *a, const char *b)
{
	char *p = NULL;

	cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

/* The tree under nftw's root, as "mode path" lines (collected here). */
static char *dist_listing;
static size_t dist_root_len;

static int dist_walk_one(const char *path, const struct stat *st, int type,
			 struct FTW *ftw)
{
	char *line = NULL, *grown = NULL;

	(void)type;
	if (ftw->level == 0)
		return 0;
	if (asprintf(&line, "%04o %s\n", (unsigned)(st->st_mode & 07777),
		     path + dist_root_len + 1) < 0)
		return -1;
	if (asprintf(&grown, "%s%s", dist_listing ? dist_listing : "", line) <
	    0) {
		free(line);
		return -1;
	}
	free(line);
	free(dist_listing);
	dist_listing = grown;
	return 0;
}

static int dist_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "mode path" listing of the tree under root (malloc'd). */
static char *dist_list_tree(const char *root)
{
	char *lines[256], *p, *save = NULL, *sorted;
	size_t n = 0, len;

	dist_listing = NULL;
	dist_root_len = strlen(root);
	cr_assert_eq(nftw(root, dist_walk_one, 16, FTW_PHYS), 0);
	if (dist_listing == NULL)
		return strdup("");
	len = strlen(dist_listing) + 1; /* strtok_r cuts it in lines */
	for (p = strtok_r(dist_listing, "\n", &save); p && n < 256;
	     p = strtok_r(NULL, "\n", &save))
		lines[n++] = p;
	qsort(lines, n, sizeof(*lines), dist_line_cmp);
	sorted = calloc(1, len);
	cr_assert_not_null(sorted);
	for (size_t i = 0; i < n; i++) {
		strcat(sorted, lines[i]);
		strcat(sorted, "\n");
	}
	free(dist_listing);
	dist_listing = NULL;
	return sorted;
}

static char *dist_expected_tree(const struct dist_file *t)
{
	char *lines[256], *sorted, *line;
	size_t n = 0, len = 0;

	for (; t->path && n < 256; t++) {
		cr_assert(asprintf(&line, "%04o %s", (unsigned)t->mode,
				   t->path) > 0);
		lines[n++] = line;
	}
	qsort(lines, n, sizeof(*lines), dist_line_cmp);
	for (size_t i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	sorted = calloc(1, len + 1);
	cr_assert_not_null(sorted);
	for (size_t i = 0; i < n; i++) {
		strcat(sorted, lines[i]);
		strcat(sorted, "\n");
		free(lines[i]);
	}
	return sorted;
}

/* Does text have a line that is exactly want? */
static bool dist_has_line(const char *text, const char *want)
{
	size_t wl = strlen(want);

	for (const char *p = text; p && *p;
	     p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, want, wl) == 0 && (p[wl] == '\n' || !p[wl]))
			return true;
	return false;
}

/* ------------------------------------------------------------ install */

ParameterizedTestParameters(dist, install_puts_every_file_in_place)
{
	static struct dist_prefix rows[] = {
		{"/usr", "/usr/sbin", "/etc", "/lib/systemd/system", 0},
		{"/usr/local", "/usr/local/sbin", "/usr/local/etc",
		 "/usr/local/lib/systemd/system", 1},
	};

	return cr_make_param_array(struct dist_prefix, rows,
				   sizeof(rows) / sizeof(rows[0]));
}

/* The installed unit checks and starts the installed binary with the
 * installed configuration. */
static void dist_check_unit(const char *dest, const struct dist_prefix *row)
{
	static const char *const lines[][2] = {{"ExecStartPre=", " -t -c"},
					       {"ExecStart=", " -c"},
					       {"ExecReload=", " -t -c"}};
	char *path = NULL, *unit, *want = NULL;

	cr_assert(asprintf(&path, "%s%s/kstapled.service", dest, row->unitdir) >
		  0);
	unit = kst_h_read(path);
	cr_assert_not_null(unit, "%s", path);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		cr_assert(asprintf(&want, "%s%s/kstapled%s %s/kstapled/%s",
				   lines[i][0], row->sbindir, lines[i][1],
				   row->sysconfdir, "kstapled.conf") > 0);
		cr_expect(dist_has_line(unit, want), "no \"%s\" in:\n%s", want,
			  unit);
		free(want);
	}
	free(unit);
	free(path);
}

ParameterizedTest(struct dist_prefix *row, dist,
		  install_puts_every_file_in_place, .timeout = DIST_TIMEOUT_S)
{
	char *dest = dist_sub(kst_h_dir(), "dest"), *args = NULL;
	char *got, *want, *out = NULL, *cmd = NULL;

	cr_assert(asprintf(&args, "install DESTDIR='%s' PREFIX=%s", dest,
			   row->prefix) > 0);
	dist_make(args);
	got = dist_list_tree(dest);
	want = dist_expected_tree(dist_trees[row->tree]);
	cr_expect_str_eq(got, want, "PREFIX=%s installed:\n%s\nexpected:\n%s",
			 row->prefix, got, want);
	dist_check_unit(dest, row);

	/* no installed text still names the /usr paths of another prefix */
	cr_assert(asprintf(&cmd,
			   "grep -rIlE '(^|[^[:alnum:]_/])(/etc/kstapled|"
			   "/usr/sbin/kstapled)' '%s' || true",
			   dest) > 0);
	cr_assert_eq(kst_h_sh(cmd, &out, DIST_TOOL_MS), 0);
	if (strcmp(row->prefix, "/usr") != 0)
		cr_expect_str_empty(out,
				    "PREFIX=%s: paths not rewritten in:\n%s",
				    row->prefix, out);
	free(cmd);
	free(out);
	free(want);
	free(got);
	free(args);
	free(dest);
}

/* ------------------------------------------------------------ systemd */

/*
 * systemd-analyze verify (systemd 252) exits 0 even on unknown keys or bad
 * values; it only prints them. So a clean unit is exit 0 and no output.
 * It also checks that each Exec binary exists and that each
 * Documentation= man page resolves. --root= cannot be used for that in
 * 252: it then looks for sysinit.target under the root too. So the units
 * are installed for real under a prefix in the test directory (their
 * paths then name a binary that exists) and man looks in its MANPATH.
 */
static int dist_verify(const char *prefix, const char *unit_dir,
		       const char *units, char **out)
{
	char *cmd = NULL;
	int rc;

	cr_assert(asprintf(&cmd,
			   "cd '%s' && MANPATH='%s/share/man' "
			   "SYSTEMD_PAGER= systemd-analyze verify %s 2>&1",
			   unit_dir, prefix, units) > 0);
	rc = kst_h_sh(cmd, out, DIST_TOOL_MS);
	free(cmd);
	return rc;
}

Test(dist, units_pass_systemd_analyze_verify_as_installed,
     .timeout = DIST_TIMEOUT_S)
{
	char *prefix = dist_sub(kst_h_dir(), "prefix"), *args = NULL;
	char *units = dist_sub(prefix, "lib/systemd/system"), *out = NULL;
	int rc;

	kst_test_require(dist_have("systemd-analyze"),
			 "systemd-analyze is not installed (package systemd)");
	kst_test_require(dist_have("man"),
			 "man is not installed (package man-db): "
			 "systemd-analyze verify resolves Documentation=");
	cr_assert(asprintf(&args, "install PREFIX='%s'", prefix) > 0);
	dist_make(args);
	rc = dist_verify(prefix, units, "kstapled.service kstapled.socket",
			 &out);
	cr_expect_eq(rc, 0, "systemd-analyze verify: exit %d\n%s", rc, out);
	cr_expect_str_empty(out, "systemd-analyze verify complained:\n%s", out);
	free(out);
	free(args);
	free(units);
	free(prefix);
}

/* The check above would pass vacuously if verify said nothing at all. */
Test(dist, systemd_analyze_verify_reports_a_broken_unit,
     .timeout = DIST_TIMEOUT_S)
{
	char *prefix = dist_sub(kst_h_dir(), "prefix"), *args = NULL;
	char *units = dist_sub(prefix, "lib/systemd/system"), *cmd = NULL;
	char *out = NULL;

	kst_test_require(dist_have("systemd-analyze"),
			 "systemd-analyze is not installed (package systemd)");
	kst_test_require(dist_have("man"),
			 "man is not installed (package man-db)");
	cr_assert(asprintf(&args, "install PREFIX='%s'", prefix) > 0);
	dist_make(args);
	cr_assert(asprintf(&cmd,
			   "cd '%s' && sed -e 's/^ProtectSystem=strict/"
			   "ProtectSystem=stricter/' kstapled.service "
			   ">broken.service",
			   units) > 0);
	cr_assert_eq(kst_h_sh(cmd, NULL, DIST_TOOL_MS), 0);
	dist_verify(prefix, units, "broken.service", &out);
	cr_expect(strstr(out, "stricter") != NULL,
		  "systemd-analyze verify said nothing about a bad value:\n%s",
		  out);
	free(out);
	free(cmd);
	free(args);
	free(units);
	free(prefix);
}

/* uid and gid of the kstapled user in root/etc/passwd, checked to be a
 * system user with the state directory as home and no shell. */
static void dist_service_user(const char *root, unsigned *uid, unsigned *gid)
{
	char *path = dist_sub(root, "etc/passwd"), *passwd = kst_h_read(path);
	const char *line;

	cr_assert_not_null(passwd, "sysusers made no %s", path);
	line = strstr(passwd, "kstapled:x:");
	cr_assert_not_null(line, "no kstapled user in:\n%s", passwd);
	cr_assert_eq(sscanf(line, "kstapled:x:%u:%u:", uid, gid), 2);
	cr_expect(*uid > 0 && *uid < 1000, "not a system user: %u", *uid);
	cr_expect(strstr(line, ":/var/lib/kstapled:") != NULL, "%s", line);
	cr_expect(strstr(line, "nologin") != NULL, "%s", line);
	free(passwd);
	free(path);
}

Test(dist, sysusers_and_tmpfiles_create_user_and_directories,
     .timeout = DIST_TIMEOUT_S)
{
	char *dest = dist_sub(kst_h_dir(), "dest"), *args = NULL, *cmd = NULL;
	char *out = NULL;
	const char *dirs[] = {"etc/kstapled", "var/lib/kstapled",
			      "sys/fs/bpf/kstapled"};
	const bool user_owned[] = {false, true, false};
	unsigned uid = 0, gid = 0;
	struct stat st;

	kst_test_require(dist_have("systemd-sysusers") &&
				 dist_have("systemd-tmpfiles"),
			 "systemd-sysusers or systemd-tmpfiles is missing "
			 "(package systemd)");
	kst_test_require(geteuid() == 0,
			 "systemd-tmpfiles --root can only chown as root");
	cr_assert(asprintf(&args, "install DESTDIR='%s' PREFIX=/usr", dest) >
		  0);
	dist_make(args);
	cr_assert(asprintf(&cmd,
			   "systemd-sysusers --root='%s' 2>&1 && "
			   "systemd-tmpfiles --root='%s' --create 2>&1",
			   dest, dest) > 0);
	cr_assert_eq(kst_h_sh(cmd, &out, DIST_TOOL_MS), 0, "%s\n%s", cmd, out);
	dist_service_user(dest, &uid, &gid);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *d = dist_sub(dest, dirs[i]);

		cr_assert_eq(stat(d, &st), 0, "tmpfiles made no %s", d);
		cr_expect_eq(st.st_mode & 07777, 0750, "%s: %04o", d,
			     st.st_mode & 07777);
		cr_expect_eq(st.st_uid, user_owned[i] ? uid : 0, "%s: uid %u",
			     d, (unsigned)st.st_uid);
		cr_expect_eq(st.st_gid, gid, "%s: gid %u, kstapled is %u", d,
			     (unsigned)st.st_gid, gid);
		free(d);
	}
	free(out);
	free(cmd);
	free(args);
	free(dest);
}

Test(dist, modules_load_file_loads_tls, .timeout = DIST_TIMEOUT_S)
{
	char *path = NULL, *text;

	cr_assert(asprintf(&path, "%s/dist/modules-load.d/kstapled.conf",
			   kst_test_srcdir()) > 0);
	text = kst_h_read(path);
	cr_assert_not_null(text, "%s", path);
	cr_expect(dist_has_line(text, "tls"), "no \"tls\" line in:\n%s", text);
	free(text);
	free(path);
}

/*
 * The unit's CapabilityBoundingSet= as a setpriv(1) --bounding-set list
 * ("-all,+net_bind_service,..."), from every such line of the unit.
 */
static char *dist_unit_caps(const char *unit)
{
	char *list = strdup("-all"), *tmp;
	const char *p = unit;

	while ((p = strstr(p, "\nCapabilityBoundingSet=")) != NULL) {
		const char *end;

		p += strlen("\nCapabilityBoundingSet=");
		end = strchr(p, '\n');
		while (p < end) {
			size_t n = strcspn(p, " \n");

			if (n > 4 && strncmp(p, "CAP_", 4) == 0) {
				cr_assert(asprintf(&tmp, "%s,+%.*s", list,
						   (int)n - 4, p + 4) > 0);
				free(list);
				list = tmp;
			}
			p += n + (p[n] == ' ');
		}
	}
	for (char *c = list; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return list;
}

/* A loopback port below 1024 nobody listens on, or -1. */
static int dist_free_low_port(void)
{
	for (int port = 1023; port >= 600; port--) {
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)port)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 &&
		     bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	return -1;
}

/* The unit's capability list, for setpriv (malloc'd). */
static char *dist_shipped_caps(void)
{
	char *src = NULL, *unit, *caps;

	cr_assert(asprintf(&src, "%s/dist/kstapled.service",
			   kst_test_srcdir()) > 0);
	unit = kst_h_read(src);
	cr_assert_not_null(unit, "%s", src);
	caps = dist_unit_caps(unit);
	cr_assert(strchr(caps, '+') != NULL, "no CapabilityBoundingSet in %s",
		  src);
	free(unit);
	free(src);
	return caps;
}

/*
 * A configuration in the documented layout: the key and the state
 * directory belong to the service user (nobody here), the listener binds
 * a port below 1024, the maps are pinned under pins. Its path.
 */
static char *dist_caps_conf(int port, const char *pins)
{
	char *state = dist_sub(kst_h_dir(), "state");
	char *path = dist_sub(kst_h_dir(), "caps.conf"), *conf = NULL;
	const char *pem = kst_h_leaf("localhost-ecdsa");

	cr_assert_not_null(pem);
	cr_assert_eq(chown(pem, 65534, 65534), 0);
	cr_assert_eq(mkdir(state, 0750), 0);
	cr_assert_eq(chown(state, 65534, 65534), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nstate-dir = %s\nbpf-pin-dir = %s\n"
			   "user = nobody\nallow-root = on\nworkers = 1\n"
			   "[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:9\ncert = %s\n",
			   state, pins, port, pem) > 0);
	cr_assert_eq(kst_h_write(path, conf, 0640), 0);
	free(conf);
	free(state);
	return path;
}

/*
 * Start-up inside the unit's capability bounding set, as systemd would
 * start it (root, nothing else): bind a port below 1024, read a key that
 * belongs to the service user (mode 0600) and pin the maps on bpffs. Each
 * capability of the list is there for one of these; this fails when the
 * daemon comes to need one the unit does not grant.
 */
Test(dist, daemon_starts_within_the_units_capabilities,
     .timeout = DIST_TIMEOUT_S)
{
	char *caps, *setpriv, *path, *cmd = NULL, *text, pins[96];
	char *log = dist_sub(kst_h_dir(), "caps.log");
	struct statfs fs;
	int port, started, rc;
	pid_t pid;

	kst_test_require(geteuid() == 0, "needs root, as the unit starts it");
	kst_test_require(dist_have("setpriv"),
			 "setpriv is missing (package util-linux)");
	kst_test_require(
		statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type == BPF_FS_MAGIC,
		"no bpffs at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
	port = dist_free_low_port();
	cr_assert(port > 0, "no free loopback port below 1024");
	caps = dist_shipped_caps();
	setpriv = dist_which("setpriv");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kst_dist_%d", (int)getpid());
	path = dist_caps_conf(port, pins);
	{
		char *argv[] = {setpriv, "--bounding-set",
				caps,	 "--inh-caps=-all",
				"--",	 (char *)kst_h_kstapled(),
				"-c",	 path,
				NULL};

		pid = kst_h_spawn(argv, log);
	}
	cr_assert(pid > 0);
	started = kst_h_wait_log(log, "started", 20000);
	rc = kst_h_stop(pid, SIGTERM, 20000);
	/* the pins outlive the daemon by design: remove them before judging */
	cr_assert(asprintf(&cmd, "rm -rf '%s'", pins) > 0);
	kst_h_sh(cmd, NULL, DIST_TOOL_MS);
	text = kst_h_read(log);
	cr_assert_not_null(text);
	cr_expect_eq(started, 0, "not started with only %s:\n%s", caps, text);
	cr_expect(strstr(text, "maps pinned under") != NULL,
		  "no BPF export with only %s:\n%s", caps, text);
	cr_expect(!strstr(text, " err: ") && !strstr(text, " crit: "),
		  "errors with only %s:\n%s", caps, text);
	cr_expect_eq(rc, 0, "exit status %d after SIGTERM:\n%s", rc, text);
	free(cmd);
	free(text);
	free(path);
	free(setpriv);
	free(caps);
	free(log);
}

/* ------------------------------------------------------------ man */

/* $KST_BUILD/man/<name>, built first */
static char *dist_man_page(const char *name)
{
	char *p = NULL;

	dist_make("man");
	cr_assert(asprintf(&p, "%s/man/%s", kst_test_builddir(), name) > 0);
	return p;
}

struct dist_page {
	char name[24];
};

ParameterizedTestParameters(dist, manual_page_renders_without_warnings)
{
	static struct dist_page pages[] = {{"kstapled.8"}, {"kstapled.conf.5"}};

	return cr_make_param_array(struct dist_page, pages,
				   sizeof(pages) / sizeof(pages[0]));
}

ParameterizedTest(struct dist_page *pg, dist,
		  manual_page_renders_without_warnings,
		  .timeout = DIST_TIMEOUT_S)
{
	char *page, *cmd = NULL, *out = NULL;
	int rc;

	kst_test_require(dist_have("groff") && dist_have("man"),
			 "groff or man is missing (packages groff-base, "
			 "man-db)");
	page = dist_man_page(pg->name);
	cr_assert(asprintf(&cmd, "groff -man -ww -z -Tutf8 '%s' 2>&1", page) >
		  0);
	rc = kst_h_sh(cmd, &out, DIST_TOOL_MS);
	cr_expect(rc == 0 && out[0] == '\0', "%s: exit %d\n%s", cmd, rc, out);
	free(cmd);
	free(out);
	/* as a reader gets it: warnings on stderr, the page thrown away */
	cr_assert(asprintf(&cmd,
			   "unset MAN_KEEP_FORMATTING; MANWIDTH=80 "
			   "man --warnings -l '%s' 2>&1 >/dev/null",
			   page) > 0);
	rc = kst_h_sh(cmd, &out, DIST_TOOL_MS);
	cr_expect(rc == 0 && out[0] == '\0', "%s: exit %d\n%s", cmd, rc, out);
	free(cmd);
	free(out);
	/* mandb can index it: the NAME line parses */
	if (dist_have("lexgrog")) {
		cr_assert(asprintf(&cmd, "lexgrog '%s' 2>&1", page) > 0);
		rc = kst_h_sh(cmd, &out, DIST_TOOL_MS);
		cr_expect(rc == 0 && strstr(out, " - ") != NULL,
			  "%s: exit %d\n%s", cmd, rc, out);
		free(cmd);
		free(out);
	}
	free(page);
}

/*
 * "[section] name" lines, in order, of the options in `kstapled --options
 * markdown`: a "| `[section]` |" row opens a section, "| `name` |" rows
 * follow.
 */
static char *dist_options_from_markdown(const char *md)
{
	char section[64] = "", name[64], *all = NULL, *tmp;
	const char *p = md;

	while (p && *p) {
		if (sscanf(p, "| `[%63[^]]]` |", section) == 1) {
			/* the header row: section set */
		} else if (section[0] &&
			   sscanf(p, "| `%63[^`]` |", name) == 1) {
			cr_assert(asprintf(&tmp, "%s[%s] %s\n", all ? all : "",
					   section, name) > 0);
			free(all);
			all = tmp;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return all ? all : strdup("");
}

/*
 * The same from the rendered kstapled.conf(5): inside OPTIONS, a
 * subsection heading "   [section]" opens a section and an option's tag
 * is the first word of a line indented by exactly 7 columns.
 */
static char *dist_options_from_man(const char *text)
{
	char section[64] = "", name[64], *all = NULL, *tmp;
	const char *p = strstr(text, "\nOPTIONS\n");
	bool done = false;

	cr_assert_not_null(p, "no OPTIONS section in:\n%s", text);
	for (p = p + 9; p && *p && !done;
	     p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (*p >= 'A' && *p <= 'Z')
			done = true; /* the next section */
		else if (strncmp(p, "   [", 4) == 0)
			sscanf(p + 4, "%63[^]\n]", section);
		else if (section[0] && strncmp(p, "       ", 7) == 0 &&
			 p[7] != ' ' && sscanf(p + 7, "%63s", name) == 1) {
			cr_assert(asprintf(&tmp, "%s[%s] %s\n", all ? all : "",
					   section, name) > 0);
			free(all);
			all = tmp;
		}
	}
	return all ? all : strdup("");
}

Test(dist, conf5_documents_every_option_the_parser_knows,
     .timeout = DIST_TIMEOUT_S)
{
	char *page, *cmd = NULL, *text = NULL, *md = NULL, *want, *got;
	int rc;

	kst_test_require(dist_have("man"), "man is missing (package man-db)");
	page = dist_man_page("kstapled.conf.5");
	rc = dist_kstapled("--options markdown", &md);
	cr_assert_eq(rc, 0, "kstapled --options markdown: %d\n%s", rc, md);
	/* LC_ALL=C: plain ASCII, so \- is "-" whatever groff's locale */
	cr_assert(asprintf(&cmd,
			   "unset MAN_KEEP_FORMATTING; LC_ALL=C MANWIDTH=80 "
			   "man -l '%s' 2>/dev/null",
			   page) > 0);
	rc = kst_h_sh(cmd, &text, DIST_TOOL_MS);
	cr_assert_eq(rc, 0, "%s: %d", cmd, rc);
	want = dist_options_from_markdown(md);
	got = dist_options_from_man(text);
	cr_assert(strlen(want) > 0, "no options in:\n%s", md);
	cr_expect_str_eq(
		got, want,
		"kstapled.conf(5) documents:\n%s\nthe parser knows:\n%s", got,
		want);
	free(got);
	free(want);
	free(text);
	free(md);
	free(cmd);
	free(page);
}

/* ------------------------------------------------------------ example */

/*
 * dist/kstapled.conf.example with its certificates replaced by test PKI
 * leaves (in order), state-dir by a test directory and, where this machine
 * has no kstapled user, `user` by nobody.
 */
static char *dist_example_for_tests(const char *example, const char *state)
{
	static const char *const leaves[] = {
		"localhost-ecdsa.pem", "localhost-rsa.pem", "other-ecdsa.pem"};
	char *out = strdup(""), *tmp, *line, *save = NULL;
	char *copy = strdup(example);
	size_t nleaf = 0;

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *repl = line;
		char buf[1024];

		if (strncmp(line, "cert = /etc/kstapled/", 21) == 0) {
			cr_assert(nleaf < 3, "more certs than test leaves");
			snprintf(buf, sizeof(buf), "cert = %s",
				 kst_h_pki(leaves[nleaf++]));
			repl = buf;
		} else if (strncmp(line, "state-dir =", 11) == 0) {
			snprintf(buf, sizeof(buf), "state-dir = %s", state);
			repl = buf;
		} else if (strcmp(line, "user = kstapled") == 0 &&
			   getpwnam("kstapled") == NULL) {
			repl = "user = nobody";
		}
		cr_assert(line[0] == '#' ||
				  strstr(repl, "/etc/kstapled") == NULL,
			  "the test does not know how to replace: %s", line);
		cr_assert(asprintf(&tmp, "%s%s\n", out, repl) > 0);
		free(out);
		out = tmp;
	}
	cr_assert(nleaf > 0, "the example has no cert line");
	free(copy);
	return out;
}

Test(dist, example_configuration_checks_with_the_test_pki,
     .timeout = DIST_TIMEOUT_S)
{
	char *src = NULL, *example, *conf, *out = NULL;
	char *state = dist_sub(kst_h_dir(), "state");
	char *path = dist_sub(kst_h_dir(), "kstapled.conf"), *args = NULL;
	int rc;

	cr_assert(asprintf(&src, "%s/dist/kstapled.conf.example",
			   kst_test_srcdir()) > 0);
	example = kst_h_read(src);
	cr_assert_not_null(example, "%s", src);
	cr_assert_eq(mkdir(state, 0750), 0);
	conf = dist_example_for_tests(example, state);
	cr_assert_eq(kst_h_write(path, conf, 0640), 0);
	cr_assert(asprintf(&args, "-t -c '%s'", path) > 0);
	rc = dist_kstapled(args, &out);
	cr_expect_eq(rc, 0, "kstapled -t on the example: exit %d\n%s\n%s", rc,
		     out, conf);
	cr_expect(strstr(out, "configuration OK") != NULL, "%s", out);
	free(out);
	free(args);
	free(conf);
	free(example);
	free(src);
	free(path);
	free(state);
}

/* ------------------------------------------------------------ README */

/* `pkg-config --variable=VAR systemd` (malloc'd), or NULL. */
static char *dist_systemd_var(const char *var)
{
	char cmd[128], *out = NULL;

	snprintf(cmd, sizeof(cmd), "pkg-config --variable=%s systemd", var);
	if (kst_h_sh(cmd, &out, DIST_TOOL_MS) != 0 || out[0] != '/') {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/* The first ```sh block of README.md after the heading (malloc'd). */
static char *dist_readme_block(const char *heading)
{
	char *path = NULL, *readme, *p, *end, *block;

	cr_assert(asprintf(&path, "%s/README.md", kst_test_srcdir()) > 0);
	readme = kst_h_read(path);
	cr_assert_not_null(readme, "%s", path);
	p = heading ? strstr(readme, heading) : readme;
	cr_assert_not_null(p, "no '%s' in README.md", heading);
	p = strstr(p, "```sh\n");
	cr_assert_not_null(p);
	p += strlen("```sh\n");
	end = strstr(p, "```");
	cr_assert_not_null(end);
	block = strndup(p, (size_t)(end - p));
	free(readme);
	free(path);
	return block;
}

/*
 * `make install` with no PREFIX is the layout the README's next steps
 * use: /usr/sbin, /etc/kstapled, and systemd's own directories for the
 * units, sysusers.d and tmpfiles.d (as systemd.pc names them).
 */
Test(dist, default_install_is_the_layout_the_readme_uses,
     .timeout = DIST_TIMEOUT_S)
{
	static const char *const vars[][2] = {
		{"systemdsystemunitdir", "kstapled.service"},
		{"systemdsystemunitdir", "kstapled.socket"},
		{"sysusersdir", "kstapled.conf"},
		{"tmpfilesdir", "kstapled.conf"},
	};
	char *dest = dist_sub(kst_h_dir(), "default"), *args = NULL;
	char *block = dist_readme_block("## Install"), *path = NULL;
	char *unit;
	struct stat st;

	cr_assert(asprintf(&args, "install DESTDIR='%s'", dest) > 0);
	dist_make(args);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		char *dir = dist_systemd_var(vars[i][0]);

		kst_test_require(dir != NULL,
				 "no systemd.pc (package systemd)");
		cr_assert(asprintf(&path, "%s%s/%s", dest, dir, vars[i][1]) >
			  0);
		cr_expect_eq(stat(path, &st), 0, "%s (%s) not installed", path,
			     vars[i][0]);
		free(path);
		free(dir);
	}
	/* what the README runs next */
	cr_expect(strstr(block, "make install ") != NULL &&
			  strstr(block, "PREFIX") == NULL,
		  "the README installs with the default:\n%s", block);
	cr_expect(strstr(block, "cd /etc/kstapled && install -m 0640 -g "
				"kstapled kstapled.conf.example "
				"kstapled.conf") != NULL,
		  "%s", block);
	cr_assert(asprintf(&path, "%s/etc/kstapled/kstapled.conf.example",
			   dest) > 0);
	cr_expect_eq(stat(path, &st), 0, "%s", path);
	free(path);
	cr_assert(asprintf(&path, "%s/usr/sbin/kstapled", dest) > 0);
	cr_expect_eq(stat(path, &st), 0, "%s", path);
	free(path);
	/* the unit runs what the README checks: /usr/sbin/kstapled -t -c
	 * /etc/kstapled/kstapled.conf */
	{
		char *dir = dist_systemd_var("systemdsystemunitdir");

		cr_assert(asprintf(&path, "%s%s/kstapled.service", dest,
				   dir ? dir : "/lib/systemd/system") > 0);
		free(dir);
	}
	unit = kst_h_read(path);
	cr_assert_not_null(unit, "%s", path);
	cr_expect(dist_has_line(unit, "ExecStartPre=/usr/sbin/kstapled -t -c "
				      "/etc/kstapled/kstapled.conf"),
		  "%s", unit);
	cr_expect(strstr(block, "kstapled -t -c /etc/kstapled/kstapled.conf") !=
			  NULL,
		  "%s", block);
	free(unit);
	free(path);
	free(block);
	free(args);
	free(dest);
}

/* The README's first commands run as root on a machine without sudo. */
Test(dist, readme_commands_need_no_sudo_as_root, .timeout = DIST_TIMEOUT_S)
{
	char *block = dist_readme_block(NULL), *cmd = NULL, *out = NULL;
	char *bin = dist_sub(kst_h_dir(), "bin");
	int rc;

	cr_expect_null(strstr(block, "sudo"), "as root, no sudo:\n%s", block);
	cr_expect(strstr(block, "./scripts/demo.sh") != NULL, "%s", block);
	cr_expect(strstr(block, "./scripts/deps.sh && make check") != NULL,
		  "%s", block);
	kst_test_require(geteuid() == 0, "needs root");
	/* a sudo that fails, first on PATH: deps.sh must not call it */
	cr_assert_eq(mkdir(bin, 0755), 0);
	cr_assert(
		asprintf(
			&cmd,
			"printf '#!/bin/sh\\necho sudo called >&2\\nexit 99\\n'"
			" > '%s/sudo' && chmod 755 '%s/sudo' && "
			"PATH='%s':$PATH '%s/scripts/deps.sh'",
			bin, bin, bin, kst_test_srcdir()) > 0);
	rc = kst_h_sh(cmd, &out, DIST_MAKE_MS);
	cr_expect_eq(rc, 0, "deps.sh as root: exit %d\n%s", rc, out);
	cr_expect_null(strstr(out, "sudo called"), "%s", out);
	free(out);
	free(cmd);
	free(bin);
	free(block);
}
