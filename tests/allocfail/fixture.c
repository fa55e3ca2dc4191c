// SPDX-License-Identifier: MIT
/*
 * The sweep's shared fixture (see fixture.h): configuration files,
 * minted staples, a generation built outside the counted region, the
 * "is this generation whole" check, and an in-thread TLS client.
 */
#include "tests/allocfail/fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>

#include "daemon/base/diag.h"
#include "tests/allocfail/af.h"
#include "tests/lib/ocsp_mint.h"

unsigned char *af_der_old, *af_der_new;
size_t af_der_old_len, af_der_new_len;
time_t af_t0;

static int fixture_conf(const char *name, const char *text)
{
	return af_write_file(af_path(name), text);
}

/* Session-ticket keys (two, as after a rotation); a key file must be
 * private to be read. */
static int fixture_ticket_keys(void)
{
	static const char keys[] =
		"# allocfail fixture keys, newest first\n"
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
		"LS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk8=\n"
		"UFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8"
		"fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8=\n";

	if (af_write_file(af_path("tickets.keys"), keys) < 0)
		return -1;
	return chmod(af_path("tickets.keys"), 0600);
}

/* A cert-dir (b.conf) with one certificate, a link into the PKI. */
static int fixture_cert_dir(const char *pki)
{
	char target[512];

	snprintf(target, sizeof(target), "%s/no-ocsp.pem", pki);
	mkdir(af_path("certs"), 0700);
	unlink(af_path("certs/no-ocsp.pem"));
	return symlink(target, af_path("certs/no-ocsp.pem"));
}

int af_fixture(unsigned short backend_port, const char *fetch_url)
{
	const char *pki = af_pki();
	unsigned char *der = NULL;
	size_t len = 0;
	char text[4096];
	char fetch[600];

	if (af_t0 == 0) {
		af_t0 = time(NULL);
		mkdir(af_path("state"), 0700);
		if (kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				    af_t0 - 7200, af_t0 + 4 * 86400, "int",
				    &af_der_old, &af_der_old_len) < 0 ||
		    kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				    af_t0 - 3600, af_t0 + 4 * 86400, "int",
				    &af_der_new, &af_der_new_len) < 0 ||
		    kst_mint_write(af_path("ec.ocsp"), af_der_new,
				   af_der_new_len) < 0 ||
		    kst_mint_simple("localhost-rsa", V_OCSP_CERTSTATUS_GOOD,
				    af_t0 - 3600, af_t0 + 4 * 86400, "int",
				    &der, &len) < 0 ||
		    kst_mint_write(af_path("rsa.ocsp"), der, len) < 0) {
			fprintf(stderr,
				"allocfail: cannot mint staples (PKI "
				"in %s?)\n",
				pki);
			OPENSSL_free(der);
			return -1;
		}
		OPENSSL_free(der);
	}
	if (fetch_url != NULL)
		snprintf(fetch, sizeof(fetch),
			 "[ocsp]\nfetch = on\nfetch-concurrency = 1\n"
			 "connect-timeout = 2s\nresponse-timeout = 4s\n"
			 "[cert:ec]\npem = %s/localhost-ecdsa.pem\n"
			 "staple-file = %s\nocsp-url = %s\n",
			 pki, af_path("none.ocsp"), fetch_url);
	else
		snprintf(fetch, sizeof(fetch),
			 "[ocsp]\nfetch = off\n"
			 "[cert:ec]\npem = %s/localhost-ecdsa.pem\n"
			 "staple-file = %s\n",
			 pki, af_path("ec.ocsp"));
	if (fixture_ticket_keys() < 0 || fixture_cert_dir(pki) < 0)
		return -1;
	snprintf(text, sizeof(text),
		 "[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		 "workers = 1\nlog-level = notice\nticket-keys = %s\n"
		 "%s"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:%u\n"
		 "alpn = h2, http/1.1\ncert = ec\ncert = rsa\n"
		 "[cert:rsa]\npem = %s/localhost-rsa.pem\nstaple-file = %s\n"
		 "%s",
		 af_path("state"), af_path("tickets.keys"), fetch,
		 (unsigned)backend_port, pki, af_path("rsa.ocsp"),
		 fetch_url ? "fetch = off\n" : "");
	if (fixture_conf("a.conf", text) < 0)
		return -1;
	snprintf(text, sizeof(text),
		 "[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		 "workers = 1\nlog-level = notice\n"
		 "%s"
		 "[listener:a]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:%u\n"
		 "cert = ec\n"
		 "[listener:b]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:%u\n"
		 "proxy-protocol = v2\ncert = other\nticket-keys = %s\n"
		 "cert-dir = %s\n"
		 "[cert:other]\npem = %s/other-ecdsa.pem\n",
		 af_path("state"), fetch, (unsigned)backend_port,
		 (unsigned)backend_port, af_path("tickets.keys"),
		 af_path("certs"), pki);
	return fixture_conf("b.conf", text);
}

struct kst_gen *af_gen_build(const char *conf_name, struct kst_registry *reg,
			     const struct kst_gen *prev, bool open_sockets)
{
	struct kst_gen_env env = {
		.reg = reg,
		.nworkers = 1,
		.prev = prev,
		.open_sockets = open_sockets,
	};
	struct kst_diag diag;
	struct kst_config *conf;
	struct kst_gen *g = NULL;

	kst_diag_init(&diag);
	conf = kst_config_parse(af_path(conf_name), &diag);
	if (conf == NULL || kst_gen_build(conf, &env, &diag, &g) < 0) {
		kst_diag_log(&diag);
		af_fail("fixture: cannot build %s", conf_name);
		kst_config_free(conf);
		g = NULL;
	}
	kst_diag_free(&diag);
	return g;
}

bool af_gen_whole(const struct kst_gen *g, bool open_sockets)
{
	bool ok = true;

	for (size_t i = 0; i < g->n_certs; i++) {
		if (g->certs[i] == NULL || g->certs[i]->state == NULL) {
			af_fail("generation built without cert %zu", i);
			ok = false;
		}
	}
	for (size_t i = 0; i < g->n_listeners; i++) {
		const struct kst_listener *l = &g->listeners[i];

		if (l->tls.base == NULL || l->tls.n_certs != l->conf->n_certs) {
			af_fail("generation built without the TLS contexts of "
				"listener %s",
				l->conf->name);
			ok = false;
		}
		for (size_t j = 0; open_sockets && j < l->conf->n_binds; j++) {
			if (l->socks == NULL || l->socks[j] == NULL) {
				af_fail("generation built without the socket "
					"of listener %s",
					l->conf->name);
				ok = false;
			}
		}
	}
	return ok;
}

/* One step of each side; 1 when both are done, -1 on failure. */
static int handshake_step(SSL *srv, SSL *cli)
{
	int a = SSL_do_handshake(cli), b = SSL_do_handshake(srv);

	if (a == 1 && b == 1)
		return 1;
	if (a <= 0 && SSL_get_error(cli, a) != SSL_ERROR_WANT_READ &&
	    SSL_get_error(cli, a) != SSL_ERROR_WANT_WRITE)
		return -1;
	if (b <= 0 && SSL_get_error(srv, b) != SSL_ERROR_WANT_READ &&
	    SSL_get_error(srv, b) != SSL_ERROR_WANT_WRITE)
		return -1;
	return 0;
}

int af_handshake(struct kst_gen *g, size_t l, bool *stapled)
{
	struct kst_tls_sess sess = {.peer = "allocfail", .worker = 0};
	SSL_CTX *cctx = NULL;
	SSL *srv = NULL, *cli = NULL;
	const unsigned char *resp;
	int sv[2] = {-1, -1};
	int rc = -1, st = 0;

	*stapled = false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		af_fail("socketpair: %s", strerror(errno));
		return -1;
	}
	srv = kst_tls_new(&g->listeners[l].tls, sv[0], &sess, false);
	cctx = SSL_CTX_new(TLS_client_method());
	cli = cctx ? SSL_new(cctx) : NULL;
	if (srv == NULL || cli == NULL) {
		af_fail("cannot make the test SSL objects");
		goto out;
	}
	SSL_set_fd(cli, sv[1]);
	SSL_set_connect_state(cli);
	SSL_set_tlsext_host_name(cli, "localhost");
	SSL_set_tlsext_status_type(cli, TLSEXT_STATUSTYPE_ocsp);
	for (int i = 0; i < 100 && st == 0; i++)
		st = handshake_step(srv, cli);
	if (st != 1) {
		af_fail("listener %s does not complete a handshake",
			g->listeners[l].conf->name);
		goto out;
	}
	*stapled = SSL_get_tlsext_status_ocsp_resp(cli, &resp) > 0;
	rc = 0;
out:
	ERR_clear_error();
	SSL_free(srv);
	SSL_free(cli);
	SSL_CTX_free(cctx);
	close(sv[0]);
	close(sv[1]);
	return rc;
}
