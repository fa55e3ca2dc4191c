// SPDX-License-Identifier: MIT
/*
 * The worker data path under the conditions that broke it (issue 12):
 * SIGHUP after SIGHUP while handshakes and transfers keep arriving (a new
 * generation freed the listen array a later event of the same epoll batch
 * still named; a reload right behind another retired the generation a
 * worker was about to take); responses that end exactly on the per-wakeup relay
 * budget after a client half-close (a closed connection left on the run-again
 * list); a flood of TCP connections that never send a ClientHello (they
 * held every connection slot for handshake-timeout); a small open-files
 * limit (max-connections was derived from 2 descriptors per connection).
 *
 * Every check is what a user sees: transfers byte-exact (kst-client
 * compares the pattern), no failed connection, the daemon alive and
 * stopping cleanly, and no sanitizer report in its log. Run against a
 * SAN=1 build (KST_BUILD=build/san) the use-after-frees are reported at
 * once; a release build crashes or corrupts memory only sometimes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/datapath/conn.h"
#include "tests/lib/harness.h"

/* Sanitizer reports and crashes the daemon's log must not hold. */
static void expect_clean_log(const char *log)
{
	static const char *const bad[] = {
		"ERROR: AddressSanitizer",
		"ERROR: LeakSanitizer",
		"runtime error:",
		"Segmentation fault",
		"SUMMARY: ",
		"double free",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(kst_h_count(log, bad[i]), 0,
			     "the daemon log has \"%s\" (see %s)", bad[i], log);
}

static void print_log_on_failure(const char *path)
{
	char *text = kst_h_read(path);

	if (text != NULL &&
	    (strstr(text, "Sanitizer") || strstr(text, "runtime error:")))
		fprintf(stderr, "---- %s\n%s\n----\n", path, text);
	free(text);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------- defect 0: reloads */

#define LOADS 3

struct load {
	char *argv[16];
	char addr[64], log[512];
	pid_t pid;
	int runs, failed_runs;
};

static void load_start(struct load *l)
{
	l->pid = kst_h_spawn(l->argv, l->log);
	cr_assert_gt(l->pid, 0);
	l->runs++;
}

/* Restart a load that finished, so the traffic never pauses; count the
 * runs that did not pass. */
static void load_keep_going(struct load *l, bool restart)
{
	int st = kst_h_wait(l->pid, 0);

	if (st == -ETIMEDOUT)
		return;
	if (st != 0)
		l->failed_runs++;
	l->pid = 0;
	if (restart)
		load_start(l);
}

Test(datapath, sighup_storm_under_handshake_and_transfer_load, .timeout = 240)
{
	struct kst_h_daemon d;
	struct kst_h_backend b;
	struct load loads[LOADS];
	int port = kst_h_free_port(), reloads = 0;
	char *conf, *text;
	long long t0;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	conf = kst_h_conf_web(port, b.port, NULL);
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	memset(loads, 0, sizeof(loads));
	for (int i = 0; i < LOADS; i++) {
		struct load *l = &loads[i];
		int n = 0;

		snprintf(l->addr, sizeof(l->addr), "127.0.0.1:%d", port);
		snprintf(l->log, sizeof(l->log), "%s",
			 kst_h_path(i == 0   ? "load-short.log"
				    : i == 1 ? "load-bulk.log"
					     : "load-halfclose.log"));
		l->argv[n++] = (char *)kst_h_tool("kst-client");
		l->argv[n++] = "-c";
		l->argv[n++] = l->addr;
		l->argv[n++] = "--expect-echo";
		l->argv[n++] = "--send";
		/* many handshakes; a few large transfers; half-closed
		 * transfers of about a relay buffer */
		l->argv[n++] = i == 0 ? "1k" : i == 1 ? "3M" : "65529";
		if (i == 2)
			l->argv[n++] = "--half-close";
		l->argv[n++] = "--conns";
		l->argv[n++] = i == 0 ? "300" : i == 1 ? "6" : "60";
		l->argv[n++] = "--parallel";
		l->argv[n++] = i == 0 ? "4" : "2";
		l->argv[n] = NULL;
		load_start(l);
	}
	usleep(300 * 1000);

	/* 20 reloads over about 10 s, the traffic never stopping; every
	 * other one right behind another (the workers may not yet have
	 * taken the generation the second one retires) */
	t0 = mono_ms();
	for (int i = 0; i < 20 && kst_h_alive(d.pid); i++) {
		if (i % 2 == 1) {
			kill(d.pid, SIGHUP);
			usleep(2 * 1000);
		}
		if (kst_h_daemon_reload(&d) == 0)
			reloads++;
		for (int j = 0; j < LOADS; j++)
			load_keep_going(&loads[j], true);
		usleep(450 * 1000);
	}
	cr_log_info("%d reloads in %lld ms", reloads, mono_ms() - t0);
	for (int j = 0; j < LOADS; j++) {
		if (loads[j].pid > 0 && kst_h_wait(loads[j].pid, 120000) != 0)
			loads[j].failed_runs++;
		loads[j].pid = 0;
	}
	print_log_on_failure(d.log);
	cr_expect(kst_h_alive(d.pid), "the daemon is alive after the reloads");
	cr_expect_eq(reloads, 20, "every reload went through");
	cr_expect_eq(kst_h_count(d.log, "reload failed"), 0);
	for (int j = 0; j < LOADS; j++) {
		text = kst_h_read(loads[j].log);
		cr_log_info("load %d: %d runs", j, loads[j].runs);
		cr_expect_eq(loads[j].failed_runs, 0,
			     "load %d: every connection, byte-exact, across "
			     "the reloads:\n%s",
			     j, text ? text : "");
		free(text);
	}
	cr_expect_eq(kst_h_daemon_stop(&d), 0, "a clean stop");
	expect_clean_log(d.log);
	kst_h_backend_stop(&b);
	free(conf);
}

/* ------------------------------- defect 1: the relay budget, half-close */

/* Bytes one pump moves downstream before it yields to other events: a
 * full buffer per round, until KST_RELAY_BUDGET is reached. A response
 * that ends in the last round of a pump closes a connection that pump has
 * just queued to run again. */
#define BUDGET                                                        \
	(((long long)KST_RELAY_BUDGET + (long long)KST_BUF_CAP - 1) / \
	 (long long)KST_BUF_CAP * (long long)KST_BUF_CAP)

Test(datapath, half_close_responses_around_the_relay_budget, .timeout = 240)
{
	enum { NSIZES = 12 };
	static const long long deltas[] = {-1, 0, 1, -(long long)KST_BUF_CAP};
	struct kst_h_backend be[NSIZES];
	struct kst_h_daemon d;
	long long sizes[NSIZES];
	char *conf = NULL, *more;
	int ports[NSIZES];

	memset(be, 0, sizeof(be));
	for (int i = 0; i < NSIZES; i++) {
		sizes[i] = BUDGET * (1 + i / 4) + deltas[i % 4];
		char mode[40];

		snprintf(mode, sizeof(mode), "source:%lld", sizes[i]);
		cr_assert_eq(kst_h_backend_start(&be[i], mode, false), 0,
			     "kst-backend %s started", mode);
		ports[i] = kst_h_free_port();
		/* kst_h_free_port may repeat itself before a bind */
		for (int j = 0; j < i; j++)
			if (ports[j] == ports[i])
				ports[i] = kst_h_free_port(), j = -1;
	}
	/* one listener per size, each with its own source backend */
	for (int i = 0; i < NSIZES; i++) {
		char *one = kst_h_conf_web(ports[i], be[i].port, NULL);

		cr_assert(one != NULL &&
			  strncmp(one, "[listener:web]", 14) == 0);
		cr_assert(asprintf(&more, "%s[listener:s%d]%s",
				   conf ? conf : "", i, one + 14) > 0);
		free(conf);
		free(one);
		conf = more;
	}
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	for (int i = 0; i < NSIZES && kst_h_alive(d.pid); i++) {
		char addr[64], want[32], *out = NULL;
		int rc;

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", ports[i]);
		snprintf(want, sizeof(want), "%lld", sizes[i]);
		/* nothing to send: close_notify at once, then read as fast
		 * as the response comes */
		rc = kst_h_client(&out, 120000, "-c", addr, "--half-close",
				  "--expect-recv", want, "--conns", "6",
				  "--parallel", "2", NULL);
		cr_expect_eq(rc, 0,
			     "response of %lld bytes after a "
			     "half-close:\n%s",
			     sizes[i], out ? out : "");
		free(out);
	}
	print_log_on_failure(d.log);
	cr_expect(kst_h_alive(d.pid), "the daemon is alive");
	cr_expect_eq(kst_h_daemon_stop(&d), 0, "a clean stop");
	expect_clean_log(d.log);
	for (int i = 0; i < NSIZES; i++)
		kst_h_backend_stop(&be[i]);
	free(conf);
}

/* ------------------------------------ defect 14: a slow-handshake flood */

/* A TCP connection that starts a TLS record and never finishes it: the
 * daemon accepts it at once (TCP_DEFER_ACCEPT sees data) and waits in the
 * handshake for the rest. */
static int idle_handshake(int port)
{
	static const unsigned char part[] = {0x16, 0x03, 0x01, 0x02, 0x00};
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "%s",
		     strerror(errno));
	cr_assert_eq(send(fd, part, sizeof(part), MSG_NOSIGNAL),
		     (ssize_t)sizeof(part));
	return fd;
}

/* Did the server close this connection (EOF or reset)? */
static bool closed_by_server(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

Test(datapath, slow_handshake_flood_leaves_room_for_real_clients,
     .timeout = 120)
{
	enum { FLOOD = 60, MAXHS = 8 };
	struct kst_h_daemon d;
	struct kst_h_backend b;
	int port = kst_h_free_port(), fds[FLOOD], closed = 0;
	char addr[64], *conf, *out = NULL;
	char *hold[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			addr,
			"--send",
			"256k",
			"--expect-echo",
			"--hold",
			"4",
			NULL};
	char *load[] = {(char *)kst_h_tool("kst-client"),
			"-c",
			addr,
			"--send",
			"16k",
			"--expect-echo",
			"--conns",
			"100",
			"--parallel",
			"2",
			"--timeout",
			"15",
			NULL};
	pid_t hp, lp;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	/* the flood alone would fill max-connections for a minute */
	conf = kst_h_conf_web(port, b.port,
			      "[global]\nmax-connections = 40\n"
			      "max-handshakes = 8\nhandshake-timeout = 60s\n");
	cr_assert_eq(kst_h_daemon_start(&d, conf), 0);
	/* an established connection, and new ones all along */
	hp = kst_h_spawn(hold, kst_h_path("hold.log"));
	cr_assert_eq(kst_h_client(&out, 20000, "-c", addr, "--send", "1k",
				  "--expect-echo", NULL),
		     0, "%s", out);
	free(out);
	out = NULL;
	for (int i = 0; i < FLOOD; i++)
		fds[i] = idle_handshake(port);
	lp = kst_h_spawn(load, kst_h_path("load.log"));
	usleep(500 * 1000);

	/* a new client gets its full handshake and relay while the flood
	 * stays connected (without the bound: a 10 s timeout, since the
	 * idle handshakes hold all 40 slots for handshake-timeout) */
	cr_expect_eq(kst_h_client(&out, 30000, "-c", addr, "--send", "64k",
				  "--expect-echo", "--timeout", "10", NULL),
		     0, "a new client during the flood:\n%s", out);
	free(out);
	cr_expect_eq(kst_h_wait(hp, 30000), 0,
		     "the established connection finished byte-exact");
	cr_expect_eq(kst_h_wait(lp, 90000), 0,
		     "new connections during the flood all passed");
	for (int i = 0; i < FLOOD; i++)
		closed += closed_by_server(fds[i]);
	cr_expect_geq(closed, FLOOD - MAXHS,
		      "at most max-handshakes idle handshakes are held "
		      "(%d of %d closed)",
		      closed, FLOOD);
	cr_expect_geq(kst_h_count(d.log, "(max-handshakes)"), 1,
		      "the operator is told");
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	print_log_on_failure(d.log);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	expect_clean_log(d.log);
	kst_h_backend_stop(&b);
	free(conf);
}
