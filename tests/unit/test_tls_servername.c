// SPDX-License-Identifier: MIT
/*
 * The server name a connection reports (SSL_get_servername: the SNI of
 * the PROXY header and of the close log line) is the client's, on a full
 * handshake and on a resumption alike, TLS 1.2 and 1.3; and the client is
 * told that the name was used (RFC 6066 3: the server_name extension in
 * the server's hello). Without a servername callback OpenSSL counted the
 * name as unused: a TLS 1.2 session kept no name, and its resumptions
 * reported none. Real handshakes over a socketpair, the server side built
 * by the daemon's code (kst_gen_build, kst_tls_new).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon/tls/tls.h"
#include "tests/lib/genfix.h"
#include "tests/lib/testutil.h"

static struct kst_genfix fx;

/* One listener with tickets (OpenSSL's own keys), TLS 1.2 and 1.3. */
static void setup(void)
{
	char *pem = kst_test_pki_path("localhost-ecdsa.pem");
	char sections[512];

	snprintf(sections, sizeof(sections),
		 "[cert:a]\npem = %s\n"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "tls-min-version = 1.2\nsession-tickets = 2\ncert = a\n",
		 pem);
	free(pem);
	kst_genfix_build(&fx, "off", false, sections);
}

static void teardown(void)
{
	kst_genfix_free(&fx);
}

struct seen {
	char server_sni[64]; /* what the server reports */
	bool resumed;
	bool acked; /* the client was told the name was used */
	SSL_SESSION *session;
};

/* A handshake with SNI "localhost" at this version, resuming session
 * when not NULL; closed cleanly, so that its session can resume. */
static struct seen handshake(SSL_CTX *cctx, int version, SSL_SESSION *resume)
{
	struct kst_tls_sess sess = {.peer = "test", .worker = 0};
	struct seen out = {0};
	int sv[2], a = 0, b = 0;
	const char *name;
	SSL *srv, *cli;
	char byte;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
		     0);
	srv = kst_tls_new(&fx.gen->listeners[0].tls, sv[0], &sess, false);
	cr_assert_not_null(srv);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	cli = SSL_new(cctx);
	cr_assert_not_null(cli);
	SSL_set_fd(cli, sv[1]);
	SSL_set_connect_state(cli);
	SSL_set_tlsext_host_name(cli, "localhost");
	if (resume != NULL)
		cr_assert_eq(SSL_set_session(cli, resume), 1);
	for (int i = 0; i < 100 && (a != 1 || b != 1); i++) {
		a = SSL_do_handshake(cli);
		b = SSL_do_handshake(srv);
	}
	cr_assert(a == 1 && b == 1, "handshake completes");
	/* TLS 1.3 tickets follow the handshake: the client reads them */
	cr_assert_leq(SSL_read(cli, &byte, 1), 0);
	name = SSL_get_servername(srv, TLSEXT_NAMETYPE_host_name);
	snprintf(out.server_sni, sizeof(out.server_sni), "%s",
		 name ? name : "(none)");
	out.resumed = SSL_session_reused(srv) == 1;
	/* a client keeps the name in its session when the server said
	 * it used it */
	out.acked = SSL_SESSION_get0_hostname(SSL_get0_session(cli)) != NULL;
	out.session = SSL_get1_session(cli);
	SSL_shutdown(cli);
	SSL_shutdown(srv);
	ERR_clear_error();
	SSL_free(srv);
	SSL_free(cli);
	close(sv[0]);
	close(sv[1]);
	return out;
}

static void full_then_resumed(int version)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct seen full, again;

	cr_assert_not_null(cctx);
	full = handshake(cctx, version, NULL);
	cr_expect_str_eq(full.server_sni, "localhost");
	cr_expect(full.acked, "the server acknowledged the name");
	cr_assert_not_null(full.session);
	again = handshake(cctx, version, full.session);
	cr_assert(again.resumed, "the session resumed");
	cr_expect_str_eq(again.server_sni, "localhost",
			 "a resumption reports the name (got %s)",
			 again.server_sni);
	SSL_SESSION_free(full.session);
	SSL_SESSION_free(again.session);
	SSL_CTX_free(cctx);
}

TestSuite(tls_servername, .init = setup, .fini = teardown);

Test(tls_servername, tls12_resumption_reports_the_name)
{
	full_then_resumed(TLS1_2_VERSION);
}

Test(tls_servername, tls13_resumption_reports_the_name)
{
	full_then_resumed(TLS1_3_VERSION);
}
