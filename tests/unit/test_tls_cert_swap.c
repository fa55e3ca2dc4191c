// SPDX-License-Identifier: MIT
/*
 * The certificate a listener serves is the one its ClientHello callback
 * chose, whatever its context holds (issue 18): the context keeps the
 * listener's first certificate, which every connection starts with (no
 * SSL_use_cert_and_key per handshake when it is the one chosen), and a
 * connection that chooses another one holds that one only. Real
 * handshakes over a socketpair, the server side built by the daemon's
 * own code (kst_gen_build, kst_tls_new).
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

/* One listener, certificates in this order: "other-ecdsa" (other.test)
 * first, so on the context; "localhost-rsa" (localhost) second. Groups
 * without P-384, so that a client keying P-384 first gets a
 * HelloRetryRequest. */
static void setup(void)
{
	char *first = kst_test_pki_path("other-ecdsa.pem");
	char *second = kst_test_pki_path("localhost-rsa.pem");
	char sections[1024];

	snprintf(sections, sizeof(sections),
		 "[cert:first]\npem = %s\n[cert:second]\npem = %s\n"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "tls-min-version = 1.2\ngroups = X25519:P-256\n"
		 "cert = first\ncert = second\n",
		 first, second);
	free(first);
	free(second);
	kst_genfix_build(&fx, "off", false, sections);
}

static void teardown(void)
{
	kst_genfix_free(&fx);
}

struct hs {
	X509 *served;	   /* the client's view of the leaf */
	int server_certs;  /* certificates the server SSL holds after */
	int client_hellos; /* ClientHellos the server read */
};

static void count_hello(int write_p, int version, int content_type,
			const void *buf, size_t len, SSL *ssl, void *arg)
{
	(void)version;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_CLIENT_HELLO)
		(*(int *)arg)++;
}

/* A handshake to the listener with this SNI, TLS version and client
 * groups (NULL: OpenSSL's); what the client got. */
static struct hs handshake(const char *sni, int version, const char *groups)
{
	struct kst_tls_sess sess = {.peer = "test", .worker = 0};
	struct hs out = {0};
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv, *cli;
	int sv[2], a = 0, b = 0;

	cr_assert_not_null(cctx);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
		     0);
	srv = kst_tls_new(&fx.gen->listeners[0].tls, sv[0], &sess, false);
	cr_assert_not_null(srv);
	SSL_set_msg_callback(srv, count_hello);
	SSL_set_msg_callback_arg(srv, &out.client_hellos);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	if (groups != NULL)
		cr_assert_eq(SSL_CTX_set1_groups_list(cctx, groups), 1);
	cli = SSL_new(cctx);
	cr_assert_not_null(cli);
	SSL_set_fd(cli, sv[1]);
	SSL_set_connect_state(cli);
	SSL_set_tlsext_host_name(cli, sni);
	for (int i = 0; i < 100 && (a != 1 || b != 1); i++) {
		a = SSL_do_handshake(cli);
		b = SSL_do_handshake(srv);
		if (a <= 0)
			cr_assert(SSL_get_error(cli, a) == SSL_ERROR_WANT_READ,
				  "client handshake to %s fails", sni);
		if (b <= 0)
			cr_assert(SSL_get_error(srv, b) == SSL_ERROR_WANT_READ,
				  "server handshake for %s fails", sni);
	}
	cr_assert(a == 1 && b == 1, "handshake for %s completes", sni);
	out.served = SSL_get1_peer_certificate(cli);
	for (int op = SSL_CERT_SET_FIRST;
	     SSL_set_current_cert(srv, op) == 1 && out.server_certs < 16;
	     op = SSL_CERT_SET_NEXT)
		out.server_certs++;
	ERR_clear_error();
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	return out;
}

static void expect_served(struct hs h, const char *name)
{
	X509 *want = kst_test_cert(name);

	cr_assert_not_null(h.served, "the client got a certificate");
	cr_expect_eq(X509_cmp(h.served, want), 0, "served %s", name);
	cr_expect_eq(h.server_certs, 1,
		     "the connection holds the chosen certificate only "
		     "(%d held)",
		     h.server_certs);
	X509_free(h.served);
	X509_free(want);
}

TestSuite(tls_cert_swap, .init = setup, .fini = teardown);

Test(tls_cert_swap, the_context_certificate_is_served_for_its_name)
{
	expect_served(handshake("other.test", TLS1_3_VERSION, NULL),
		      "other-ecdsa");
	expect_served(handshake("other.test", TLS1_2_VERSION, NULL),
		      "other-ecdsa");
}

/* The RSA certificate is the only one for localhost: the ECDSA one of
 * the context (which OpenSSL prefers when it holds both) is not served. */
Test(tls_cert_swap, another_certificate_replaces_the_context_one)
{
	expect_served(handshake("localhost", TLS1_3_VERSION, NULL),
		      "localhost-rsa");
	expect_served(handshake("localhost", TLS1_2_VERSION, NULL),
		      "localhost-rsa");
	/* and the next connection starts from the context again */
	expect_served(handshake("other.test", TLS1_3_VERSION, NULL),
		      "other-ecdsa");
}

/* A HelloRetryRequest runs the ClientHello callback twice. */
Test(tls_cert_swap, a_second_client_hello_keeps_the_choice)
{
	struct hs h = handshake("localhost", TLS1_3_VERSION, "P-384:X25519");

	cr_expect_eq(h.client_hellos, 2, "a HelloRetryRequest happened");
	expect_served(h, "localhost-rsa");
	h = handshake("other.test", TLS1_3_VERSION, "P-384:X25519");
	cr_expect_eq(h.client_hellos, 2, "a HelloRetryRequest happened");
	expect_served(h, "other-ecdsa");
}
