// SPDX-License-Identifier: MIT
/*
 * The log an operator reads: at debug, one line per connection when it
 * closes, with the SNI, the bytes relayed each way and how long it lasted;
 * counts in singular where there is one ("1 worker, 1 listener"); and the
 * "max-connections lowered" notice once, not again at every reload.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static struct kst_h_backend b;

static char *conf_text(int port, const char *global)
{
	char *text = NULL;

	cr_assert(asprintf(&text,
			   "[global]\n%s\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\ncert = %s\n",
			   global, port, b.port,
			   kst_h_leaf("localhost-ecdsa")) > 0);
	return text;
}

Test(logs, the_close_line_has_sni_bytes_each_way_and_duration, .timeout = 90)
{
	struct kst_h_daemon d;
	int port = kst_h_free_port();
	char *text, *out = NULL, addr[64], want[256];

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	text = conf_text(port, "log-level = debug\nworkers = 1");
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", addr, "--sni",
				  "www.example.test", "--send", "12345",
				  "--expect-echo", NULL),
		     0, "%s", out);
	free(out);
	/* the echo backend sends back what it got: 12345 each way */
	snprintf(want, sizeof(want),
		 "connection closed: sni www.example.test, 12345 bytes from "
		 "the client, 12345 to it, ");
	cr_expect_eq(kst_h_wait_log(d.log, want, 10000), 0,
		     "no '%s' in the log", want);
	cr_expect_eq(kst_h_count(d.log, "started: 1 worker, 1 listener, 1 "
					"cert, "),
		     1, "singular counts");
	cr_expect_eq(kst_h_daemon_reload(&d), 0);
	cr_expect_eq(kst_h_count(d.log, "reloaded: generation 2, 1 listener, "
					"1 cert ("),
		     1);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(text);
}

/*
 * An open-files limit that cannot hold max-connections: said at start,
 * not again at each reload that finds the same. The limit is lowered in
 * this test's own process (criterion runs each test in one), and the
 * daemon inherits it.
 */
Test(logs, max_connections_lowered_is_said_once, .timeout = 90)
{
	struct kst_h_daemon d;
	struct rlimit low = {1024, 1024};
	int port = kst_h_free_port();
	char *text;

	cr_assert_eq(kst_h_backend_start(&b, "echo", false), 0);
	text = conf_text(port, "max-connections = 100000");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	cr_expect_eq(kst_h_count(d.log, "notice: max-connections 100000 "
					"lowered to "),
		     1);
	cr_expect_eq(kst_h_daemon_reload(&d), 0);
	cr_expect_eq(kst_h_daemon_reload(&d), 0);
	cr_expect_eq(kst_h_count(d.log, "notice: max-connections 100000 "
					"lowered to "),
		     1, "once, not at every reload");
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	kst_h_backend_stop(&b);
	free(text);
}
