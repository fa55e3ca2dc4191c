// SPDX-License-Identifier: MIT
/*
 * kstapled as systemd sees it: the notify protocol (the test is the
 * service manager: it owns NOTIFY_SOCKET and records what arrives, in
 * order), socket activation through systemd-socket-activate, and the
 * privilege drop read back from /proc.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

static struct kst_h_daemon d;
static struct kst_h_backend b;
static struct kst_h_ocspd r;
static char addr[64];

/* A datagram socket standing in for systemd. */
static int notify_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Everything that arrived so far, appended to log (one message a line,
 * newlines inside a message turned into spaces). */
static void notify_drain(int fd, char *log, size_t size)
{
	char buf[1024];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ' ';
		strncat(log, buf, size - strlen(log) - 2);
		strcat(log, "\n");
	}
}

static const char *after(const char *text, const char *needle)
{
	const char *p = text ? strstr(text, needle) : NULL;

	return p ? p + strlen(needle) : NULL;
}

Test(systemd, notifies_ready_reloading_watchdog_and_stopping_in_order,
     .timeout = 90)
{
	static char log[16384];
	char *conf = NULL, *out = NULL, path[512];
	const char *p;
	int fd, port = kst_h_free_port();

	snprintf(path, sizeof(path), "%s", kst_h_path("notify.sock"));
	fd = notify_socket(path);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "3000000", 1);
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	/* the responder takes 1.5 s: READY must wait for the staple */
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "delay:1500", 1), 0);
	cr_assert(asprintf(&conf,
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = ec\n"
			   "[cert:ec]\npem = %s\nocsp-url = %s\n",
			   port, b.port, kst_h_leaf("localhost-ecdsa"),
			   r.url) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	unsetenv("NOTIFY_SOCKET");
	notify_drain(fd, log, sizeof(log));
	cr_assert(strstr(log, "READY=1") != NULL, "READY:\n%s", log);
	cr_expect(strstr(log, "staples 1/1 valid") != NULL,
		  "READY only once the staple was fetched:\n%s", log);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 20000, "-c", addr, "--status",
				  "--print", NULL),
		     0);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1",
			 "the first handshake after READY is stapled");
	free(out);
	cr_assert_eq(kst_h_daemon_reload(&d), 0);
	sleep(3); /* a few ticks: watchdog pings */
	kill(d.pid, SIGTERM);
	cr_expect_eq(kst_h_wait(d.pid, 20000), 0);
	d.pid = 0;
	notify_drain(fd, log, sizeof(log));
	p = after(log, "READY=1");
	p = after(p, "RELOADING=1 MONOTONIC_USEC=");
	cr_expect_not_null(p, "RELOADING after READY:\n%s", log);
	p = after(p, "READY=1");
	cr_expect_not_null(p, "READY again after the reload:\n%s", log);
	cr_expect_not_null(after(p, "WATCHDOG=1"), "watchdog pings:\n%s", log);
	cr_expect_not_null(after(p, "STOPPING=1"), "STOPPING last:\n%s", log);
	cr_expect_null(after(after(log, "STOPPING=1"), "READY=1"));
	kst_h_backend_stop(&b);
	kst_h_ocspd_stop(&r);
	free(conf);
	close(fd);
}

/* LISTEN sockets in /proc/net/tcp on this port */
static int listen_sockets(int port)
{
	char *text = kst_h_read("/proc/net/tcp"), want[32];
	int n = 0;

	snprintf(want, sizeof(want), ":%04X 00000000:0000 0A", port);
	for (char *p = text; p && (p = strstr(p, want)) != NULL; p++)
		n++;
	free(text);
	return n;
}

Test(systemd, serves_tls_on_the_sockets_systemd_passes, .timeout = 90)
{
	char *conf = NULL, *out = NULL, l[64], cpath[512], logp[512];
	char *argv[] = {
		"/usr/bin/systemd-socket-activate", "-l", l,	 "--fdname=web",
		(char *)kst_h_kstapled(),	    "-c", cpath, NULL};
	int port = kst_h_free_port();

	kst_test_require(access(argv[0], X_OK) == 0,
			 "systemd-socket-activate is not installed");
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "allow-root = on\nworkers = 2\nlog-level = debug\n"
			   "[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = %s\n",
			   kst_h_path("."), port, b.port,
			   kst_h_leaf("localhost-ecdsa")) > 0);
	snprintf(cpath, sizeof(cpath), "%s", kst_h_path("sa.conf"));
	snprintf(logp, sizeof(logp), "%s", kst_h_path("sa.log"));
	kst_h_write(cpath, conf, 0644);
	snprintf(l, sizeof(l), "127.0.0.1:%d", port);
	/* systemd-socket-activate binds, then execs kstapled on connect */
	d.pid = kst_h_spawn(argv, logp);
	cr_assert_eq(kst_h_wait_log(logp, "Listening on", 10000), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", addr, "--send", "100k",
				  "--expect-echo", "--half-close", NULL),
		     0, "%s", out);
	free(out);
	cr_expect_gt(kst_h_count(logp, "systemd: 1 listening sockets passed"),
		     0);
	cr_expect_eq(listen_sockets(port), 1,
		     "the passed socket, shared by both workers; none opened");
	cr_expect_eq(kst_h_stop(d.pid, SIGTERM, 20000), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

static unsigned long long proc_hex(pid_t pid, const char *key)
{
	char path[64], *text, *p;
	unsigned long long v = ~0ULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	text = kst_h_read(path);
	p = text ? strstr(text, key) : NULL;
	if (p != NULL)
		v = strtoull(p + strlen(key), NULL, 16);
	free(text);
	return v;
}

Test(systemd, drops_to_the_configured_user_without_capabilities, .timeout = 90)
{
	char *conf = NULL, *out = NULL, pins[128], *argv[8], *status = NULL;
	char state[512], uids[64];
	int port = kst_h_free_port();

	kst_test_require(geteuid() == 0, "needs root to drop privileges");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kst-privs-%d", getpid());
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\nbpf-pin-dir = %s\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = ec\n"
			   "[cert:ec]\npem = %s\nocsp-url = %s\n",
			   pins, port, b.port, kst_h_leaf("localhost-ecdsa"),
			   r.url) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	snprintf(uids, sizeof(uids), "Uid:\t65534\t65534\t65534\t65534");
	{
		char path[64], *text;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)d.pid);
		text = kst_h_read(path);
		cr_expect(text && strstr(text, uids), "runs as nobody:\n%s",
			  text);
		free(text);
	}
	/* nothing, or exactly CAP_BPF where this kernel refuses map writes
	 * through a kept fd without it (Linux < 6.5); the daemon probes */
	if (kst_h_count(d.log, "capabilities: cap_bpf=ep") == 1) {
		cr_expect_eq(proc_hex(d.pid, "CapEff:\t"), 1ULL << CAP_BPF);
		cr_expect_eq(proc_hex(d.pid, "CapPrm:\t"), 1ULL << CAP_BPF);
	} else {
		cr_expect_eq(kst_h_count(d.log, "capabilities: none"), 1);
		cr_expect_eq(proc_hex(d.pid, "CapEff:\t"), 0, "no caps");
		cr_expect_eq(proc_hex(d.pid, "CapPrm:\t"), 0, "no caps");
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 20000, "-c", addr, "--status",
				  "--print", "--send", "10", "--expect-echo",
				  NULL),
		     0, "still serves: %s", out);
	cr_expect_str_eq(kst_h_kv(out, "stapled"), "1", "fetched as nobody");
	free(out);
	snprintf(state, sizeof(state), "find %s -name '*.ocsp' -user nobody",
		 kst_h_path("state"));
	cr_expect_eq(kst_h_sh(state, &out, 10000), 0);
	cr_expect(out && strstr(out, ".ocsp"), "state-dir written as nobody");
	free(out);
	sleep(2); /* flushed by the dropped process */
	argv[0] = (char *)kst_h_kstapled();
	argv[1] = "status";
	argv[2] = "--json";
	argv[3] = "--pin-dir";
	argv[4] = pins;
	argv[5] = NULL;
	kst_h_run(argv, NULL, 0, &status, 10000);
	cr_expect(status && strstr(status, "\"handshakes\":1"),
		  "the map is updated: %s", status);
	free(status);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	kst_h_ocspd_stop(&r);
	snprintf(state, sizeof(state), "rm -rf %s", pins);
	kst_h_sh(state, NULL, 5000);
	free(conf);
}

Test(systemd, refuses_to_serve_as_root_unless_allowed, .timeout = 60)
{
	char *conf = NULL, *out = NULL, path[512];
	char *argv[] = {(char *)kst_h_kstapled(), "-c", path, NULL};

	kst_test_require(geteuid() == 0, "needs root");
	cr_assert(asprintf(&conf,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:9\ncert = %s\n",
			   kst_h_path("."), kst_h_free_port(),
			   kst_h_leaf("localhost-ecdsa")) > 0);
	snprintf(path, sizeof(path), "%s", kst_h_path("root.conf"));
	kst_h_write(path, conf, 0644);
	cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 20000), 1, "%s", out);
	cr_expect(strstr(out, "refusing to serve as root") != NULL, "%s", out);
	free(out);
	free(conf);
}

Test(systemd, logs_in_journal_format_when_stderr_is_the_journal, .timeout = 60)
{
	char *conf = NULL, *log, js[64];
	struct stat st;
	int port = kst_h_free_port();

	cr_assert(asprintf(&conf,
			   "[ocsp]\nfetch = off\n[listener:web]\n"
			   "bind = 127.0.0.1:%d\nbackend = 127.0.0.1:9\n"
			   "cert = %s\n",
			   port, kst_h_leaf("localhost-ecdsa")) > 0);
	/* JOURNAL_STREAM names the file the daemon's stderr will be */
	kst_h_write(kst_h_path("kstapled.log"), "", 0644);
	cr_assert_eq(stat(kst_h_path("kstapled.log"), &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	unsetenv("JOURNAL_STREAM");
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	log = kst_h_read(kst_h_path("kstapled.log"));
	cr_expect(log && strncmp(log, "<", 1) == 0, "priority prefix:\n%s",
		  log);
	cr_expect(log && strstr(log, "<5>started:") != NULL,
		  "notice level, no timestamp:\n%s", log);
	cr_expect(log && strstr(log, "Z notice:") == NULL, "%s", log);
	free(log);
	free(conf);
}
