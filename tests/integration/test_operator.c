// SPDX-License-Identifier: MIT
/*
 * What an operator meets in the first hour (issue 16): one daemon per
 * address (a second kstapled on a served address is refused, naming the
 * address and the PID of the one serving it; a reload of that one keeps
 * and adds addresses), `kstapled status` on a stopped or vanished daemon,
 * and `-t` checking what the first reload would find after the privilege
 * drop.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

/* A second daemon (its own configuration, state-dir and backend) on the
 * bind lines given; runs until it exits (at most ms). Exit status. */
static int second_daemon(const char *binds, char **out, int ms)
{
	const char *ec = kst_h_leaf("localhost-ecdsa");
	char *conf = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "-c",
			(char *)kst_h_path("second.conf"), NULL};

	cr_assert(asprintf(&conf,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "allow-root = on\nworkers = 2\n"
			   "[listener:other]\n%sbackend = 127.0.0.1:9\n"
			   "cert = %s\n",
			   kst_h_dir(), binds, ec) > 0);
	kst_h_write(kst_h_path("second.conf"), conf, 0644);
	free(conf);
	return kst_h_run(argv, NULL, 0, out, ms);
}

/* A TLS handshake with whoever serves 127.0.0.1:port. */
static int handshake(const char *host, int port)
{
	char a[80], *out = NULL;
	int rc;

	snprintf(a, sizeof(a), "%s:%d", host, port);
	rc = kst_h_client(&out, 20000, "-c", a, "--sni", "localhost", NULL);
	if (rc != 0)
		fprintf(stderr, "handshake %s: %s\n", a, out ? out : "");
	free(out);
	return rc;
}

/* Connect to the address lock of 127.0.0.1:port (lsock.h); 0 when
 * accepted into its queue, -errno (EAGAIN: the queue is full). */
static int lock_connect(int port)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
			 "kstapled/bind/inet/127.0.0.1:%d", port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	cr_assert_geq(fd, 0);
	rc = connect(fd, (struct sockaddr *)&un,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				 (size_t)n)) == 0
		     ? 0
		     : -errno;
	close(fd);
	return rc;
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

Test(operator, second_daemon_on_a_served_address_is_refused, .timeout = 90)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port = kst_h_free_port();
	char *conf, *out = NULL, binds[128], want[128];
	int rc;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, NULL);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	/* look-ups leave connections queued on the lock: more than its
	 * queue holds, then the daemon drains them (once a second) */
	for (int i = 0; i < 40; i++)
		lock_connect(port);
	cr_expect_eq(lock_connect(port), -EAGAIN,
		     "the lock's queue is bounded");
	for (int i = 0; i < 100 && lock_connect(port) != 0; i++)
		usleep(100 * 1000);
	snprintf(binds, sizeof(binds), "bind = 127.0.0.1:%d\n", port);
	rc = second_daemon(binds, &out, 15000);
	cr_expect(rc != 0 && rc != -ETIMEDOUT,
		  "a second daemon on 127.0.0.1:%d started (status %d):\n%s",
		  port, rc, out);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	cr_expect(strstr(out, want) != NULL, "no address in:\n%s", out);
	snprintf(want, sizeof(want), "pid %d", (int)d.pid);
	cr_expect(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	free(out);
	/* -t says so too, without failing (a reload would be fine) */
	{
		char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c", d.conf,
				NULL};

		out = NULL;
		cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 20000), 0, "%s",
			     out);
		cr_expect(strstr(out, want) != NULL, "-t: no '%s' in:\n%s",
			  want, out);
		free(out);
	}
	/* before systemd's reload of that daemon ($MAINPID): no news */
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "MAINPID=%d '%s' -t -c '%s'",
			 (int)d.pid, kst_h_kstapled(), d.conf);
		out = NULL;
		cr_expect_eq(kst_h_sh(cmd, &out, 20000), 0, "%s", out);
		cr_expect(strstr(out, "serves this address") == NULL,
			  "-t warned about the daemon it is run to reload:\n%s",
			  out);
		free(out);
	}
	/* the first one serves alone, as before */
	cr_expect(kst_h_alive(d.pid));
	for (int i = 0; i < 6; i++)
		cr_expect_eq(handshake("127.0.0.1", port), 0);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

Test(operator, reload_keeps_and_adds_addresses_and_a_stop_frees_them,
     .timeout = 120)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port = kst_h_free_port(), port2 = kst_h_free_port();
	char *conf, *conf2, extra[64], binds[128], want[64], *out = NULL;
	int rc;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, NULL);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	/* the same configuration again: the address is kept */
	cr_expect_eq(kst_h_daemon_reload(&d), 0, "%s", kst_h_read(d.log));
	cr_expect_eq(handshake("127.0.0.1", port), 0);
	/* a second address: added, and locked like the first */
	snprintf(extra, sizeof(extra), "bind = 127.0.0.1:%d\n", port2);
	conf2 = kst_h_conf_web(port, b.port, extra);
	{
		char *full = NULL;

		cr_assert(asprintf(&full,
				   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
				   "allow-root = on\nlog-level = debug\n"
				   "workers = 2\n%s",
				   kst_h_path("state"), conf2) > 0);
		kst_h_write(d.conf, full, 0644);
		free(full);
	}
	cr_expect_eq(kst_h_daemon_reload(&d), 0, "%s", kst_h_read(d.log));
	cr_expect_eq(handshake("127.0.0.1", port), 0);
	cr_expect_eq(handshake("127.0.0.1", port2), 0);
	snprintf(binds, sizeof(binds), "bind = 127.0.0.1:%d\n", port2);
	rc = second_daemon(binds, &out, 15000);
	snprintf(want, sizeof(want), "pid %d", (int)d.pid);
	cr_expect(rc != 0 && rc != -ETIMEDOUT && strstr(out, want) != NULL,
		  "the added address was not held (status %d):\n%s", rc, out);
	free(out);
	/* after a stop, the address is free for the next daemon */
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	{
		struct kst_h_daemon d2;

		cr_expect_eq(kst_h_daemon_start(&d2, conf2), 0);
		cr_expect_eq(handshake("127.0.0.1", port2), 0);
		cr_expect_eq(kst_h_daemon_stop(&d2), 0);
	}
	kst_h_backend_stop(&b);
	free(conf);
	free(conf2);
}

Test(operator, ipv4_and_ipv6_on_one_port_are_distinct_addresses, .timeout = 90)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port = kst_h_free_port();
	char *conf, binds[128], *out = NULL;
	int rc;

	if (!have_ipv6_loopback())
		cr_skip("no IPv6 loopback here");
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, NULL);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	/* [::1]:port is another address: a second daemon may serve it; it
	 * stays up until the harness's time limit stops it */
	snprintf(binds, sizeof(binds), "bind = [::1]:%d\n", port);
	rc = second_daemon(binds, &out, 8000);
	cr_expect(strstr(out, "started: ") != NULL,
		  "a daemon on [::1]:%d was refused (status %d):\n%s", port, rc,
		  out);
	free(out);
	cr_expect_eq(handshake("127.0.0.1", port), 0);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(conf);
}

/* `kstapled status` (table, or --json) on pins; exit status, output. */
static int status(const char *pins, bool json, char **out)
{
	char *argv[] = {
		(char *)kst_h_kstapled(), "status", "--pin-dir", (char *)pins,
		json ? "--json" : NULL,	  NULL};

	return kst_h_run(argv, NULL, 0, out, 10000);
}

static void status_expect(const char *pins, int want_rc, const char *table,
			  const char *json)
{
	char *out = NULL;
	int rc = status(pins, false, &out);

	cr_expect_eq(rc, want_rc, "status exited %d, not %d:\n%s", rc, want_rc,
		     out);
	cr_expect(strstr(out, table) != NULL, "no '%s' in:\n%s", table, out);
	free(out);
	out = NULL;
	rc = status(pins, true, &out);
	cr_expect_eq(rc, want_rc, "status --json exited %d:\n%s", rc, out);
	cr_expect(strstr(out, json) != NULL, "no '%s' in:\n%s", json, out);
	free(out);
}

Test(operator, status_tells_running_stopped_and_gone_apart, .timeout = 120)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port = kst_h_free_port();
	char pins[128], extra[256], *conf, *json, cmd[200];
	char gone[64];

	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kst-operator-%d", getpid());
	snprintf(extra, sizeof(extra), "[global]\nbpf-pin-dir = %s\n", pins);
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	{
		char *web = kst_h_conf_web(port, b.port, NULL);

		cr_assert(asprintf(&conf, "%s%s[ocsp]\nfetch = off\n", extra,
				   web) > 0);
		free(web);
	}
	/* our [global] follows the harness's: its bpf-pin-dir wins */
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	if (kst_h_count(d.log, "no BPF export") > 0) {
		kst_h_daemon_stop(&d);
		kst_h_backend_stop(&b);
		cr_skip("no BPF export here (bpffs or bpf() unavailable)");
	}
	json = kst_h_status_json(pins); /* after a flush */
	free(json);
	status_expect(pins, 0, "flushed", "\"daemon\":\"running\"");

	/* a clean stop: the pins stay, marked */
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	status_expect(pins, 3, "daemon: stopped", "\"daemon\":\"stopped\"");

	/* started again over the same pins: running; then killed */
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	json = kst_h_status_json(pins);
	free(json);
	status_expect(pins, 0, "flushed", "\"daemon\":\"running\"");
	kst_h_stop(d.pid, SIGKILL, 5000);
	/* more than KST_STATUS_GONE_SECS (10) flush periods */
	usleep(12 * 1000 * 1000);
	snprintf(gone, sizeof(gone), "kstapled (pid %d) has not flushed",
		 (int)d.pid);
	status_expect(pins, 4, gone, "\"daemon\":\"gone\"");

	kst_h_backend_stop(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pins);
	kst_h_sh(cmd, NULL, 5000);
	free(conf);
}

/* `kstapled -t` on text written to check.conf; exit status, output. */
static int check(const char *text, char **out)
{
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("check.conf"), NULL};

	kst_h_write(kst_h_path("check.conf"), text, 0644);
	return kst_h_run(argv, NULL, 0, out, 20000);
}

Test(operator, check_reports_a_missing_user_or_group_at_its_line, .timeout = 60)
{
	char *web = kst_h_conf_web(kst_h_free_port(), 9, NULL), *conf = NULL;
	char *out = NULL, want[600];

	/* line 2: user; line 3: group */
	cr_assert(asprintf(&conf,
			   "[global]\nuser = kst-no-such-user\n"
			   "group = kst-no-such-group\nstate-dir = %s\n%s",
			   kst_h_dir(), web) > 0);
	cr_expect_eq(check(conf, &out), 1, "%s", out);
	snprintf(want, sizeof(want),
		 "%s:2: user 'kst-no-such-user' does not exist",
		 kst_h_path("check.conf"));
	cr_expect(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	free(out);
	free(conf);

	if (getpwnam("nobody") == NULL)
		cr_skip("no user nobody here: the group half is not run");
	cr_assert(asprintf(&conf,
			   "[global]\nuser = nobody\n"
			   "group = kst-no-such-group\nstate-dir = %s\n%s",
			   kst_h_dir(), web) > 0);
	out = NULL;
	cr_expect_eq(check(conf, &out), 1, "%s", out);
	snprintf(want, sizeof(want),
		 "%s:3: group 'kst-no-such-group' does not exist",
		 kst_h_path("check.conf"));
	cr_expect(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	free(out);
	free(conf);
	free(web);
}

Test(operator, check_reports_files_the_service_user_cannot_read, .timeout = 60)
{
	struct passwd *pw = getpwnam("nobody");
	char *web, *conf = NULL, *out = NULL, want[600];
	const char *ec, *rsa;
	int rc;

	if (geteuid() != 0 || pw == NULL)
		cr_skip("needs root and a user nobody");
	/* the way in is open to nobody; the files are root's, 0600 */
	cr_assert_eq(chmod(kst_h_dir(), 0711), 0);
	web = kst_h_conf_web(kst_h_free_port(), 9, NULL);
	ec = kst_h_leaf("localhost-ecdsa");
	rsa = kst_h_leaf("localhost-rsa");
	/* [listener:web] is line 4; its certs are lines 7 and 8 */
	cr_assert(asprintf(&conf, "[global]\nuser = nobody\nstate-dir = %s\n%s",
			   kst_h_dir(), web) > 0);
	/* a warning: start works (as root); the first reload would not */
	rc = check(conf, &out);
	cr_expect_eq(rc, 0, "%s", out);
	snprintf(want, sizeof(want),
		 "%s:7: warning: cert %s: certificate file %s is not readable "
		 "by user nobody (owner root:",
		 kst_h_path("check.conf"), ec, ec);
	cr_expect(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	cr_expect(strstr(out, "a reload (SIGHUP) reads it as nobody") != NULL,
		  "%s", out);
	snprintf(want, sizeof(want), "fix: chown nobody '%s'", rsa);
	cr_expect(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	free(out);

	/* owned by the service user: fine; a staple it cannot read warns */
	cr_assert_eq(chown(ec, pw->pw_uid, (gid_t)-1), 0);
	cr_assert_eq(chown(rsa, pw->pw_uid, (gid_t)-1), 0);
	snprintf(want, sizeof(want), "%s.ocsp", ec);
	kst_h_write(want, "not a staple", 0600);
	out = NULL;
	rc = check(conf, &out);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "staple file") != NULL &&
			  strstr(out, "is not readable by user nobody") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "certificate file") == NULL, "%s", out);
	free(out);
	free(conf);
	free(web);
}

/* Socket activation keeps working, and the passed socket is held too. */
Test(operator, a_socket_activated_daemon_holds_its_address, .timeout = 90)
{
	struct kst_h_backend b;
	char *conf = NULL, *out = NULL, l[64], cpath[512], logp[512];
	char binds[128], want[64];
	char *argv[] = {
		"/usr/bin/systemd-socket-activate", "-l", l,	 "--fdname=web",
		(char *)kst_h_kstapled(),	    "-c", cpath, NULL};
	int port = kst_h_free_port(), rc;
	pid_t pid;

	if (access(argv[0], X_OK) != 0)
		cr_skip("systemd-socket-activate is not installed");
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	cr_assert(asprintf(&conf,
			   "[global]\nstate-dir = %s\nbpf-pin-dir =\n"
			   "allow-root = on\nworkers = 2\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = %s\n",
			   kst_h_dir(), port, b.port,
			   kst_h_leaf("localhost-ecdsa")) > 0);
	snprintf(cpath, sizeof(cpath), "%s", kst_h_path("sa.conf"));
	snprintf(logp, sizeof(logp), "%s", kst_h_path("sa.log"));
	kst_h_write(cpath, conf, 0644);
	snprintf(l, sizeof(l), "127.0.0.1:%d", port);
	/* it binds, then execs kstapled (same PID) on the first connection */
	pid = kst_h_spawn(argv, logp);
	cr_assert_eq(kst_h_wait_log(logp, "Listening on", 10000), 0);
	cr_assert_eq(handshake("127.0.0.1", port), 0);
	cr_assert_eq(kst_h_wait_log(logp, "started: ", 20000), 0);
	snprintf(binds, sizeof(binds), "bind = 127.0.0.1:%d\n", port);
	rc = second_daemon(binds, &out, 15000);
	snprintf(want, sizeof(want), "kstapled (pid %d)", (int)pid);
	cr_expect(rc != 0 && rc != -ETIMEDOUT && strstr(out, want) != NULL,
		  "status %d, no '%s' in:\n%s", rc, want, out);
	free(out);
	cr_expect_eq(handshake("127.0.0.1", port), 0);
	cr_expect_eq(kst_h_stop(pid, SIGTERM, 20000), 0);
	kst_h_backend_stop(&b);
	free(conf);
}
