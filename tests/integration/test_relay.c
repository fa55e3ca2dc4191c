// SPDX-License-Identifier: MIT
/*
 * The relay, end to end: real daemon, real backend (kst-backend), real TLS
 * client (kst-client): payloads from 0 bytes to 64 MiB arrive byte-exact
 * (SHA-256 compared) in both directions, over many concurrent connections,
 * and each direction closes on its own.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(relay, .fini = fini);

/* The backend in mode, the localhost certs, extra listener lines. */
static void start(const char *mode, const char *extra)
{
	struct kst_edge_conf c = {.web_certs = true, .listener = extra};

	kst_edge_backend(&edge, mode, false);
	kst_edge_start(&edge, &c);
}

static void echo(struct kst_edge *f, const char *size, const char *conns,
		 const char *par)
{
	char *out = NULL;
	int rc = kst_h_client(&out, 120000, "-c", f->addr, "--send", size,
			      "--expect-echo", "--half-close", "--conns", conns,
			      "--parallel", par, "--timeout", "20", NULL);

	cr_assert_eq(rc, 0, "echo of %s x %s failed:\n%s", size, conns, out);
	free(out);
}

Test(relay, echoes_every_size_byte_exact, .timeout = 180)
{
	static const char *const sizes[] = {"0",     "1",      "100",
					    "16383", "16384",  "16385",
					    "65536", "300001", "4M"};

	start("echo", NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
		echo(&edge, sizes[i], "2", "2");
	kst_edge_stop(&edge);
}

Test(relay, echoes_64_mib_both_ways, .timeout = 240)
{

	start("echo", NULL);
	echo(&edge, "64M", "1", "1");
	kst_edge_stop(&edge);
}

Test(relay, serves_many_concurrent_connections, .timeout = 180)
{

	start("echo", NULL);
	echo(&edge, "256k", "200", "50");
	kst_edge_stop(&edge);
}

Test(relay, downloads_byte_exact_and_ends_with_close_notify, .timeout = 120)
{
	char *out = NULL;

	/* the backend sends 8 MiB + 1, then closes its side */
	start("source:8388609", NULL);
	cr_assert_eq(kst_h_client(&out, 60000, "-c", edge.addr, "--recv-all",
				  "--expect-recv", "8388609", "--conns", "4",
				  "--parallel", "4", NULL),
		     0, "%s", out);
	cr_assert_str_eq(kst_h_kv(out, "recv"), "8388609");
	cr_assert_str_eq(kst_h_kv(out, "close_notify"), "1",
			 "backend EOF becomes close_notify");
	free(out);
	kst_edge_stop(&edge);
}

Test(relay, client_half_close_reaches_the_backend_and_replies_come_back,
     .timeout = 60)
{
	char *out = NULL;

	/* the sink answers "<bytes> <sha256>" only after it sees EOF: the
	 * reply proves close_notify became a TCP half-close, and that the
	 * backend->client direction stayed open after it */
	start("sink", NULL);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", edge.addr, "--send", "1M",
				  "--half-close", "--recv-all", "--print",
				  NULL),
		     0, "%s", out);
	cr_assert_str_eq(kst_h_kv(out, "close_notify"), "1");
	cr_assert_gt(atoi(kst_h_kv(out, "recv")), 64,
		     "the sink's line came back: %s", out);
	free(out);
	kst_edge_stop(&edge);
}

Test(relay, works_with_tls12_and_tls13, .timeout = 60)
{
	static const char *const versions[] = {"1.2", "1.3"};

	start("echo", NULL);
	for (int i = 0; i < 2; i++) {
		char *out = NULL;

		cr_assert_eq(kst_h_client(&out, 30000, "-c", edge.addr, "--tls",
					  versions[i], "--send", "1M",
					  "--expect-echo", "--half-close",
					  "--print", NULL),
			     0, "%s", out);
		cr_assert(strstr(kst_h_kv(out, "version"), versions[i]) != NULL,
			  "negotiated %s", kst_h_kv(out, "version"));
		free(out);
	}
	kst_edge_stop(&edge);
}

Test(relay, relays_to_a_unix_socket_backend, .timeout = 60)
{
	char *argv[] = {(char *)kst_h_tool("kst-backend"),
			"-m",
			"echo",
			"-l",
			NULL,
			NULL};
	char l[600], *conf, *out = NULL, addr[64];
	struct kst_h_daemon d;
	int port = kst_h_free_port();
	pid_t be;

	snprintf(l, sizeof(l), "unix:%s", kst_h_path("backend.sock"));
	argv[4] = l;
	be = kst_h_spawn(argv, kst_h_path("unix-backend.log"));
	cr_assert_eq(
		kst_h_wait_log(kst_h_path("unix-backend.log"), "ready", 10000),
		0);
	conf = kst_h_conf_web(port, 1, NULL);
	/* the listener's backend line, pointed at the socket */
	*strstr(conf, "backend = 127.0.0.1:1") = '#';
	{
		char *text = NULL;

		cr_assert(asprintf(&text, "%sbackend = %s\n", conf, l) > 0);
		cr_assert_eq(kst_h_daemon_start(&d, text), 0);
		free(text);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", addr, "--send", "1M",
				  "--expect-echo", "--half-close", "--conns",
				  "4", NULL),
		     0, "%s", out);
	free(out);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_stop(be, SIGTERM, 5000);
	free(conf);
}

Test(relay, the_client_keeps_sending_after_the_backend_half_closes,
     .timeout = 60)
{
	char *out = NULL, *log;

	/* the backend sends 100 kB, shuts its write side, reads to EOF:
	 * the client gets close_notify early and still sends all of its
	 * 4 MiB, which must reach the backend */
	start("source:100000", NULL);
	cr_assert_eq(kst_h_client(&out, 60000, "-c", edge.addr, "--send", "4M",
				  "--half-close", "--recv-all", "--expect-recv",
				  "100000", "--print", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1");
	cr_expect_str_eq(kst_h_kv(out, "sent"), "4194304");
	free(out);
	kst_edge_stop(&edge);
	log = kst_h_read(edge.b.log);
	cr_expect(log && strstr(log, "bytes_in=4194304"),
		  "every byte the client sent reached the backend: %s", log);
	free(log);
}

Test(relay, a_backend_that_does_not_answer_hits_connect_timeout, .timeout = 60)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct kst_h_daemon d;
	char *conf, *text = NULL, *out = NULL, addr[64];
	int lfd, filler, port = kst_h_free_port();
	struct timespec t0, t1;

	/* a listener with a full accept queue drops further SYNs */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(lfd, 0), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(filler, (struct sockaddr *)&sin, sizeof(sin)), 0);
	conf = kst_h_conf_web(port, ntohs(sin.sin_port), NULL);
	cr_assert(asprintf(&text, "[global]\nconnect-timeout = 1s\n%s", conf) >
		  0);
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_neq(kst_h_client(&out, 30000, "-c", addr, "--send", "10",
				   "--expect-echo", NULL),
		      0, "no backend, no echo: %s", out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_geq(t1.tv_sec - t0.tv_sec, 1, "closed at the timeout");
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 5);
	cr_expect_gt(kst_h_count(d.log, "Connection timed out"), 0,
		     "the log says why");
	free(out);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	close(filler);
	close(lfd);
	free(conf);
	free(text);
}
