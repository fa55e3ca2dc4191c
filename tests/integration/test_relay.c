// SPDX-License-Identifier: MIT
/*
 * The relay, end to end: real daemon, real backend (kst-backend), real TLS
 * client (kst-client): payloads from 0 bytes to 64 MiB arrive byte-exact
 * (SHA-256 compared) in both directions, over many concurrent connections,
 * and each direction closes on its own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

struct fixture {
	struct kst_h_daemon d;
	struct kst_h_backend b;
	char addr[64];
};

static void start(struct fixture *f, const char *mode, const char *extra)
{
	char *conf;
	int port = kst_h_free_port();

	cr_assert_eq(kst_h_backend_start(&f->b, mode, false), 0,
		     "backend %s did not start", mode);
	conf = kst_h_conf_web(port, f->b.port, extra);
	cr_assert_eq(kst_h_daemon_start(&f->d, conf), 0);
	free(conf);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", port);
}

static void stop(struct fixture *f)
{
	cr_expect_eq(kst_h_daemon_stop(&f->d), 0, "daemon exit status");
	kst_h_backend_stop(&f->b);
}

static void echo(struct fixture *f, const char *size, const char *conns,
		 const char *par)
{
	char *out = NULL;
	int rc = kst_h_client(&out, 120000, "-c", f->addr, "--send", size,
			      "--expect-echo", "--half-close", "--conns",
			      conns, "--parallel", par, "--timeout", "20",
			      NULL);

	cr_assert_eq(rc, 0, "echo of %s x %s failed:\n%s", size, conns, out);
	free(out);
}

Test(relay, echoes_every_size_byte_exact, .timeout = 180)
{
	static const char *const sizes[] = {"0",     "1",     "100",
					    "16383", "16384", "16385",
					    "65536", "300001", "4M"};
	struct fixture f;

	start(&f, "echo", NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
		echo(&f, sizes[i], "2", "2");
	stop(&f);
}

Test(relay, echoes_64_mib_both_ways, .timeout = 240)
{
	struct fixture f;

	start(&f, "echo", NULL);
	echo(&f, "64M", "1", "1");
	stop(&f);
}

Test(relay, serves_many_concurrent_connections, .timeout = 180)
{
	struct fixture f;

	start(&f, "echo", NULL);
	echo(&f, "256k", "200", "50");
	stop(&f);
}

Test(relay, downloads_byte_exact_and_ends_with_close_notify, .timeout = 120)
{
	struct fixture f;
	char *out = NULL;

	/* the backend sends 8 MiB + 1, then closes its side */
	start(&f, "source:8388609", NULL);
	cr_assert_eq(kst_h_client(&out, 60000, "-c", f.addr, "--recv-all",
				  "--expect-recv", "8388609", "--conns", "4",
				  "--parallel", "4", NULL),
		     0, "%s", out);
	cr_assert_str_eq(kst_h_kv(out, "recv"), "8388609");
	cr_assert_str_eq(kst_h_kv(out, "close_notify"), "1",
			 "backend EOF becomes close_notify");
	free(out);
	stop(&f);
}

Test(relay, client_half_close_reaches_the_backend_and_replies_come_back,
     .timeout = 60)
{
	struct fixture f;
	char *out = NULL;

	/* the sink answers "<bytes> <sha256>" only after it sees EOF: the
	 * reply proves close_notify became a TCP half-close, and that the
	 * backend->client direction stayed open after it */
	start(&f, "sink", NULL);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", f.addr, "--send", "1M",
				  "--half-close", "--recv-all", "--print",
				  NULL),
		     0, "%s", out);
	cr_assert_str_eq(kst_h_kv(out, "close_notify"), "1");
	cr_assert_gt(atoi(kst_h_kv(out, "recv")), 64,
		     "the sink's line came back: %s", out);
	free(out);
	stop(&f);
}

Test(relay, works_with_tls12_and_tls13, .timeout = 60)
{
	static const char *const versions[] = {"1.2", "1.3"};
	struct fixture f;

	start(&f, "echo", NULL);
	for (int i = 0; i < 2; i++) {
		char *out = NULL;

		cr_assert_eq(kst_h_client(&out, 30000, "-c", f.addr, "--tls",
					  versions[i], "--send", "1M",
					  "--expect-echo", "--half-close",
					  "--print", NULL),
			     0, "%s", out);
		cr_assert(strstr(kst_h_kv(out, "version"), versions[i]) != NULL,
			  "negotiated %s", kst_h_kv(out, "version"));
		free(out);
	}
	stop(&f);
}
