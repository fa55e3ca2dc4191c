// SPDX-License-Identifier: MIT
/* The edge under test, for criterion tests; see edge.h. */
#include "tests/lib/edge.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

void kst_edge_pins(struct kst_edge *e, const char *tag)
{
	snprintf(e->pins, sizeof(e->pins), "/sys/fs/bpf/kst-%s-%d", tag,
		 (int)getpid());
}

void kst_edge_backend(struct kst_edge *e, const char *mode, bool proxy)
{
	if (e->b.pid > 0)
		return;
	cr_assert_eq(kst_h_backend_start(&e->b, mode, proxy), 0,
		     "backend %s did not start", mode);
}

/* The [global] line naming the pin directory, unless c names its own. */
static const char *edge_pins_line(const struct kst_edge *e,
				  const struct kst_edge_conf *c, char *buf,
				  size_t len)
{
	if (e->pins[0] == '\0' ||
	    (c->global != NULL && strstr(c->global, "bpf-pin-dir") != NULL))
		return "";
	snprintf(buf, len, "bpf-pin-dir = %s\n", e->pins);
	return buf;
}

void kst_edge_start(struct kst_edge *e, const struct kst_edge_conf *c)
{
	char pins[160], *certs = NULL, *text = NULL;
	const char *ec = "", *rsa = "";

	kst_edge_backend(e, "echo", false);
	if (c->web_certs) {
		ec = kst_h_leaf("localhost-ecdsa");
		rsa = kst_h_leaf("localhost-rsa");
		cr_assert(ec != NULL && rsa != NULL, "test PKI leaves");
	}
	cr_assert(asprintf(&certs, "%s%s%s%s%s%s",
			   c->web_certs ? "cert = " : "", ec,
			   c->web_certs ? "\ncert = " : "", rsa,
			   c->web_certs ? "\n" : "",
			   c->listener ? c->listener : "") > 0);
	e->port = kst_h_free_port();
	cr_assert(asprintf(&text,
			   "[global]\n%s%s%s%s"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:%d\n%s%s",
			   edge_pins_line(e, c, pins, sizeof(pins)),
			   c->global ? c->global : "",
			   c->ocsp ? "[ocsp]\n" : "", c->ocsp ? c->ocsp : "",
			   e->port, e->b.port, certs,
			   c->sections ? c->sections : "") > 0);
	free(certs);
	cr_assert_eq(kst_h_daemon_start(&e->d, text), 0,
		     "kstapled did not start (its log is above)");
	free(text);
	snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d", e->port);
}

void kst_edge_stop(struct kst_edge *e)
{
	char left[512];

	if (e->d.pid > 0)
		cr_expect_eq(kst_h_daemon_stop(&e->d), 0,
			     "kstapled's exit status");
	kst_h_backend_stop(&e->b);
	if (e->pins[0] != '\0') {
		char *argv[] = {"rm", "-rf", "--", e->pins, NULL};

		kst_h_run(argv, NULL, 0, NULL, 10000);
	}
	cr_expect_eq(kst_h_pins_of(getpid(), left, sizeof(left)), 0,
		     "pin directories left in bpffs: %s", left);
}

int kst_edge_ocspd_start(struct kst_h_ocspd *o, const char *mode)
{
	kst_test_require(kst_tool_built("kst-ocspd"),
			 "kst-ocspd is not built in $KST_BUILD/tools "
			 "(make all)");
	cr_assert_eq(kst_h_ocspd_start(o, NULL, mode, 0), 0,
		     "kst-ocspd did not start (%s)", o->out);
	return o->port;
}
