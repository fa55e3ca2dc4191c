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

#include "daemon/config/config.h"
#include "daemon/base/diag.h"
#include "daemon/datapath/gen.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/tls.h"
#include "ktls/ktls.h"
#include "tests/lib/testutil.h"

struct ctx_seen {
	bool keylog, ktls_opt;
};

/* Builds a generation (no sockets) from a one-listener configuration with
 * the given ktls line, on a kernel with or without kTLS; what the
 * listener's context has. */
static struct ctx_seen build(const char *ktls, bool kernel_has_ktls)
{
	char dir[] = "/tmp/kst-keylog.XXXXXX", path[64], text[1024];
	char *pem = kst_test_pki_path("localhost-ecdsa.pem");
	struct kst_registry reg;
	struct kst_gen_env env = {.nworkers = 1,
				  .open_sockets = false,
				  .ktls_available = kernel_has_ktls};
	struct kst_config *conf;
	struct kst_gen *g = NULL;
	struct kst_diag d;
	struct ctx_seen seen;
	SSL_CTX *ctx;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.conf", dir);
	snprintf(text, sizeof(text),
		 "[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		 "ktls = %s\n[ocsp]\nfetch = off\n"
		 "[cert:ec]\npem = %s\n"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "cert = ec\n",
		 dir, ktls, pem);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	kst_tls_init();
	kst_ktls_init();
	kst_registry_init(&reg, 1);
	env.reg = &reg;
	kst_diag_init(&d);
	conf = kst_config_parse(path, &d);
	cr_assert_not_null(conf, "configuration parses");
	cr_assert_eq(kst_gen_build(conf, &env, &d, &g), 0, "generation builds");
	ctx = g->listeners[0].tls.base;
	seen.keylog = SSL_CTX_get_keylog_callback(ctx) != NULL;
	seen.ktls_opt = (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS) != 0;
	kst_gen_destroy(g, &reg);
	kst_diag_free(&d);
	unlink(path);
	rmdir(dir);
	free(pem);
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
