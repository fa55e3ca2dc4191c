// SPDX-License-Identifier: MIT
/*
 * What the daemon holds after setup, read back from /proc, and the files
 * it trusts (issue 12, defects 11 and 12): no_new_privs set and the
 * bounding set down to what is kept; state-dir handed to the service user
 * only when it is the directory itself, never through a symbolic link;
 * a private key file must be a regular file, private (no group or other
 * bits) and owned by root or the service user, checked on the descriptor
 * that is read. Symbolic links to a key are followed on purpose (certbot's
 * live/ directory is made of them): the file they end at is checked.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

static struct kst_h_daemon d;
static struct kst_h_backend b;

/* "Key:\t<hex or decimal>" of /proc/PID/status, ~0 when absent */
static unsigned long long proc_status(pid_t pid, const char *key, int base)
{
	char path[64], *text, *p;
	unsigned long long v = ~0ULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = kst_h_read(path);
	p = text ? strstr(text, key) : NULL;
	if (p != NULL)
		v = strtoull(p + strlen(key), NULL, base);
	free(text);
	return v;
}

Test(privs, dropped_daemon_has_no_new_privs_and_a_bounding_set_of_its_caps,
     .timeout = 60)
{
	char *conf = NULL;
	int port = kst_h_free_port();
	unsigned long long prm, bnd;

	kst_test_require(geteuid() == 0, "needs root to drop privileges");
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\n[listener:web]\n"
			   "bind = 127.0.0.1:%d\nbackend = 127.0.0.1:%d\n"
			   "cert = %s\n",
			   port, b.port, kst_h_leaf("localhost-ecdsa")) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	cr_expect_eq(proc_status(d.pid, "NoNewPrivs:\t", 10), 1,
		     "no_new_privs is set");
	prm = proc_status(d.pid, "CapPrm:\t", 16);
	bnd = proc_status(d.pid, "CapBnd:\t", 16);
	/* what is kept (nothing, or CAP_BPF on kernels that need it for
	 * map writes) is all the bounding set holds */
	cr_expect_eq(bnd, prm, "CapBnd %llx, CapPrm %llx", bnd, prm);
	cr_expect_eq(bnd & ~(1ULL << CAP_BPF), 0, "CapBnd %llx", bnd);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

/* A free port below 1024 on 127.0.0.1 (bounded search), or 0. */
static int free_low_port(void)
{
	for (int port = 1023; port > 900; port--) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr =
						 htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 &&
			 bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	return 0;
}

/* A port below 1024 keeps CAP_NET_BIND_SERVICE (for a reload that binds
 * another): in the bounding set too, and nothing else. */
Test(privs, the_bounding_set_keeps_what_a_reload_needs, .timeout = 60)
{
	char *conf = NULL;
	int port = free_low_port();
	unsigned long long prm, bnd;

	kst_test_require(geteuid() == 0, "needs root to drop privileges");
	kst_test_require(port > 0, "no free port below 1024 on 127.0.0.1");
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\n[listener:web]\n"
			   "bind = 127.0.0.1:%d\nbackend = 127.0.0.1:%d\n"
			   "cert = %s\n",
			   port, b.port, kst_h_leaf("localhost-ecdsa")) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	prm = proc_status(d.pid, "CapPrm:\t", 16);
	bnd = proc_status(d.pid, "CapBnd:\t", 16);
	cr_expect_neq(prm & (1ULL << CAP_NET_BIND_SERVICE), 0, "CapPrm %llx",
		      prm);
	cr_expect_eq(bnd, prm, "CapBnd %llx, CapPrm %llx", bnd, prm);
	cr_expect_eq(bnd & ~(1ULL << CAP_BPF | 1ULL << CAP_NET_BIND_SERVICE), 0,
		     "CapBnd %llx", bnd);
	cr_expect_eq(proc_status(d.pid, "NoNewPrivs:\t", 10), 1);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

Test(privs, a_daemon_left_as_root_still_has_no_new_privs, .timeout = 60)
{
	char *conf;
	int port = kst_h_free_port();

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, NULL); /* allow-root = on */
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	cr_expect_eq(proc_status(d.pid, "NoNewPrivs:\t", 10), 1);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

/* The link is not followed: the root-owned directory it names keeps its
 * owner; the daemon warns and serves, without persisting staples. */
Test(privs, a_state_dir_that_is_a_symlink_is_not_given_away, .timeout = 60)
{
	char *conf = NULL, target[512], link[512];
	int port = kst_h_free_port();
	struct stat st;

	kst_test_require(geteuid() == 0, "needs root to drop privileges");
	snprintf(target, sizeof(target), "%s", kst_h_path("root-owned"));
	snprintf(link, sizeof(link), "%s", kst_h_path("state-link"));
	cr_assert_eq(mkdir(target, 0755), 0);
	cr_assert_eq(chown(target, 0, 0), 0);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\nstate-dir = %s\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = %s\n",
			   link, port, b.port,
			   kst_h_leaf("localhost-ecdsa")) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	cr_assert_eq(stat(target, &st), 0);
	cr_expect_eq(st.st_uid, 0, "the link's target now belongs to uid %u",
		     (unsigned)st.st_uid);
	cr_expect_eq(st.st_gid, 0);
	cr_expect_eq(kst_h_count(d.log, "is a symbolic link"), 1,
		     "a warning names the link");
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

/* ------------------------------------------------------------ key files */

/* `kstapled -t` on a [cert:c] whose key is at key_path; the output. */
static int check_key(const char *key_path, char **out)
{
	char *conf = NULL, pem[512];
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("keys.conf"), NULL};
	int rc;

	snprintf(pem, sizeof(pem), "%s", kst_h_path("leaf.pem"));
	cr_assert_eq(
		kst_h_copy(kst_h_pki("localhost-ecdsa.chain.pem"), pem, 0644),
		0);
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\nbpf-pin-dir =\n"
			   "state-dir = %s\n[listener:web]\n"
			   "bind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
			   "cert = c\n[cert:c]\npem = %s\nkey = %s\n"
			   "stapling = off\n",
			   kst_h_path("state"), pem, key_path) > 0);
	kst_h_write(kst_h_path("keys.conf"), conf, 0644);
	free(conf);
	rc = kst_h_run(argv, NULL, 0, out, 15000);
	return rc;
}

/* A copy of the test key at name, with mode and owner. */
static const char *key_copy(const char *name, int mode, uid_t uid)
{
	const char *path = kst_h_path(name);

	cr_assert_eq(kst_h_copy(kst_h_pki("localhost-ecdsa.key"), path, mode),
		     0);
	cr_assert_eq(chmod(path, (mode_t)mode), 0);
	cr_assert_eq(chown(path, uid, 0), 0, "%s", strerror(errno));
	return path;
}

struct key_case {
	char name[32];
	int mode;
	uid_t uid;
	char needle[64]; /* "" = accepted */
};

static const struct key_case key_cases[] = {
	{"root-0600.key", 0600, 0, ""},
	{"root-0400.key", 0400, 0, ""},
	{"nobody-0600.key", 0600, 65534, ""},
	{"group-0640.key", 0640, 0, "accessible by group or others"},
	{"world-0604.key", 0604, 0, "accessible by group or others"},
	{"stranger-0600.key", 0600, 4242, "is owned by uid 4242"},
};

Test(privs, key_files_must_be_private_and_owned_by_root_or_the_service_user,
     .timeout = 120)
{
	kst_test_require(geteuid() == 0, "needs root to chown the key");
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(*key_cases); i++) {
		const struct key_case *kc = &key_cases[i];
		const char *path = key_copy(kc->name, kc->mode, kc->uid);
		char *out = NULL;
		int rc = check_key(path, &out);

		if (kc->needle[0] == '\0') {
			cr_expect_eq(rc, 0, "%s refused:\n%s", kc->name, out);
		} else {
			cr_expect_neq(rc, 0, "%s accepted:\n%s", kc->name, out);
			cr_expect(strstr(out, kc->needle) != NULL &&
					  strstr(out, path) != NULL,
				  "%s: expected '%s' naming the file:\n%s",
				  kc->name, kc->needle, out);
		}
		free(out);
	}
}

/*
 * The unit runs `kstapled -t` as root inside a bounding set without
 * CAP_DAC_OVERRIDE: the service user's 0750 state-dir must not read as
 * unwritable there (root's own access() is not the question).
 */
Test(privs,
     check_in_a_bounding_set_without_dac_override_accepts_the_users_state_dir,
     .timeout = 60)
{
	const char *state = kst_h_path("state");
	const char *key = NULL;
	char *out = NULL;
	char *argv[] = {"setpriv",
			"--bounding-set=-dac_override",
			(char *)kst_h_kstapled(),
			"-t",
			"-c",
			(char *)kst_h_path("keys.conf"),
			NULL};

	kst_test_require(geteuid() == 0, "needs root to chown the state-dir");
	kst_test_require(access("/usr/bin/setpriv", X_OK) == 0,
			 "needs setpriv (util-linux)");
	key = key_copy("root-bset.key", 0600, 0);
	cr_assert_eq(mkdir(state, 0750), 0);
	cr_assert_eq(chown(state, 65534, 65534), 0);
	free(out);
	out = NULL;
	cr_assert_eq(check_key(key, &out), 0, "plain -t: %s", out);
	free(out);
	out = NULL;
	cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 15000), 0,
		     "-t without CAP_DAC_OVERRIDE refused the state-dir:\n%s",
		     out);
	cr_expect(strstr(out, "not writable") == NULL, "%s", out);
	free(out);
}

/* Followed on purpose, and the file at its end is what is checked. */
Test(privs, a_key_behind_a_symlink_is_checked_where_it_ends, .timeout = 60)
{
	const char *good = key_copy("real-good.key", 0600, 0);
	const char *bad = key_copy("real-stranger.key", 0600, 4242);
	char link[512];
	char *out = NULL;

	kst_test_require(geteuid() == 0, "needs root to chown the key");
	snprintf(link, sizeof(link), "%s", kst_h_path("live-good.key"));
	cr_assert_eq(symlink(good, link), 0);
	cr_expect_eq(check_key(link, &out), 0, "%s", out);
	free(out);
	snprintf(link, sizeof(link), "%s", kst_h_path("live-stranger.key"));
	cr_assert_eq(symlink(bad, link), 0);
	cr_expect_neq(check_key(link, &out), 0, "%s", out);
	cr_expect(strstr(out, "is owned by uid 4242") != NULL, "%s", out);
	free(out);
}

/* A FIFO where the key should be hung the open; now refused at once. */
Test(privs, a_key_that_is_not_a_regular_file_is_refused, .timeout = 60)
{
	const char *fifo = kst_h_path("fifo.key");
	char *out = NULL;

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_expect_neq(check_key(fifo, &out), 0, "%s", out);
	cr_expect(out && strstr(out, "is not a regular file") != NULL, "%s",
		  out);
	free(out);
}

/* The certificate PEM too: a FIFO there hung `-t`, start-up and reloads. */
Test(privs, a_cert_pem_that_is_not_a_regular_file_is_refused, .timeout = 60)
{
	const char *fifo = kst_h_path("fifo.pem");
	char *conf = NULL, *out = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("fifo.conf"), NULL};

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nallow-root = on\nbpf-pin-dir =\n"
			   "state-dir = %s\n[listener:web]\n"
			   "bind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
			   "cert = %s\n",
			   kst_h_path("state"), fifo) > 0);
	kst_h_write(kst_h_path("fifo.conf"), conf, 0644);
	cr_expect_neq(kst_h_run(argv, NULL, 0, &out, 15000), 0, "%s", out);
	cr_expect(out && strstr(out, "is not a regular file") != NULL, "%s",
		  out);
	free(out);
	free(conf);
}
