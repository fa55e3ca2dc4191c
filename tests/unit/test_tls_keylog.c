// SPDX-License-Identifier: MIT
/*
 * The per-handshake work kTLS needs is only set up where kTLS can happen
 * (issue 18): OpenSSL's keylog callback (which formats every secret of
 * every handshake as hex text, only for kstapled to keep the TLS 1.3
 * client traffic secret for the kernel's RX key) and SSL_OP_ENABLE_KTLS
 * (a TCP_ULP attempt per connection) are on a listener's context only
 * when its `ktls` is not `off` and the start-up probe found kTLS in the
 * kernel. With `ktls = off`, or on a kernel without it, no handshake pays
 * for either.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tests/lib/genfix.h"
#include "tests/lib/testutil.h"

struct ctx_seen {
	bool keylog, ktls_opt;
};

/* Builds a generation (no sockets) from a one-listener configuration with
 * the given ktls line, on a kernel with or without kTLS; what the
 * listener's context has. */
static struct ctx_seen build(const char *ktls, bool kernel_has_ktls)
{
	char *pem = kst_test_pki_path("localhost-ecdsa.pem");
	char sections[512];
	struct kst_genfix fx;
	struct ctx_seen seen;
	SSL_CTX *ctx;

	snprintf(sections, sizeof(sections),
		 "[cert:ec]\npem = %s\n"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "cert = ec\n",
		 pem);
	free(pem);
	kst_genfix_build(&fx, ktls, kernel_has_ktls, sections);
	ctx = fx.gen->listeners[0].tls.base;
	seen.keylog = SSL_CTX_get_keylog_callback(ctx) != NULL;
	seen.ktls_opt = (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS) != 0;
	kst_genfix_free(&fx);
	return seen;
}

Test(tls_keylog, ktls_off_installs_no_keylog_and_no_ktls_option)
{
	struct ctx_seen s = build("off", true);

	cr_expect(!s.keylog, "no keylog callback with ktls = off");
	cr_expect(!s.ktls_opt, "no SSL_OP_ENABLE_KTLS with ktls = off");
}

Test(tls_keylog, a_kernel_without_ktls_gets_no_keylog_and_no_ktls_option)
{
	struct ctx_seen s = build("auto", false);

	cr_expect(!s.keylog, "no keylog callback where the probe failed");
	cr_expect(!s.ktls_opt, "no TCP_ULP attempts where the probe failed");
}

Test(tls_keylog, ktls_auto_on_a_ktls_kernel_captures_the_rx_secret)
{
	struct ctx_seen s = build("auto", true);

	cr_expect(s.keylog, "keylog callback for the TLS 1.3 RX key");
	cr_expect(s.ktls_opt, "SSL_OP_ENABLE_KTLS");
}
