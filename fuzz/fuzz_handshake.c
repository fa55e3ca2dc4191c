// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the server side of a handshake, set up as a kstapled
 * listener is: the contexts come from the daemon's own construction
 * (kst_tls_listener_init over a parsed [listener] configuration), with its
 * ClientHello callback (SNI, certificate choice by key type and staple
 * policy), status callback and ALPN callback; connections from
 * kst_tls_new(). Three certificates, made once at start: an ECDSA one and
 * an RSA one that share a name (the ECDSA one with a staple), and a
 * must-staple one without a staple, so every branch of the callbacks has
 * a name that reaches it.
 *
 * The input is the client's side of the connection, in records as they
 * arrive: a sequence of chunks (u16 little-endian length, bytes); after
 * each chunk the server steps the handshake (or reads, once it is done)
 * and what it writes is dropped. Asserted: a finished handshake has a
 * certificate chosen and was not refused by policy.
 */
#include "fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "daemon/tls/cert.h"
#include "daemon/config/config.h"
#include "daemon/base/diag.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HS_NCERTS 3

static const char fuzz_hs_conf[] =
	"[cert:ec]\npem = /fuzz/ec.pem\n"
	"[cert:rsa]\npem = /fuzz/rsa.pem\n"
	"[cert:ms]\npem = /fuzz/ms.pem\npolicy = must-staple\n"
	"[listener:fuzz]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
	"cert = ec\ncert = rsa\ncert = ms\nalpn = h2, http/1.1\n";

static struct {
	struct kst_config *conf;
	struct kst_registry reg;
	X509 *ca;
	struct kst_cert certs[FUZZ_HS_NCERTS];
	struct kst_cert *certp[FUZZ_HS_NCERTS];
	struct kst_tls_listener tl;
} fh;

static char **fuzz_hs_names(const char *a, const char *b)
{
	char **n = calloc(3, sizeof(*n));

	if (n == NULL)
		abort();
	n[0] = strdup(a);
	n[1] = b ? strdup(b) : NULL;
	return n;
}

static int fuzz_hs_cert(struct kst_cert *c, size_t i, EVP_PKEY *key,
			EVP_PKEY *ca_key, const char *san, const char *n1,
			const char *n2)
{
	struct kst_fuzz_cert fc = {
		.cn = n1,
		.key = key,
		.issuer = fh.ca,
		.issuer_key = ca_key,
		.san = san,
		.serial = 100 + i,
	};

	memset(c, 0, sizeof(*c));
	c->conf = &fh.conf->certs[i];
	c->name = strdup(fh.conf->certs[i].name);
	c->leaf = kst_fuzz_cert_new(&fc);
	c->chain = sk_X509_new_null();
	if (c->leaf == NULL || c->chain == NULL || c->name == NULL ||
	    !sk_X509_push(c->chain, fh.ca) || !X509_up_ref(fh.ca))
		return -1;
	c->issuer = fh.ca;
	c->key = key;
	c->kind = EVP_PKEY_get_id(key) == EVP_PKEY_EC ? KST_KEY_ECDSA
						      : KST_KEY_RSA;
	c->curve_nid = c->kind == KST_KEY_ECDSA ? NID_X9_62_prime256v1 : 0;
	c->names = fuzz_hs_names(n1, n2);
	c->n_names = n2 ? 2 : 1;
	c->not_before = 1577836800;
	c->not_after = 4102444800;
	c->stapling = true;
	c->policy = kst_config_cert_policy(fh.conf, c->conf);
	X509_digest(c->leaf, EVP_sha256(), c->sha256, NULL);
	c->state = kst_registry_get1(&fh.reg, c->leaf, c->issuer, c->sha256,
				     c->name);
	return c->state != NULL ? 0 : -1;
}

/* A staple for the ECDSA certificate, valid by the real clock (the
 * callbacks read it): the bytes a client gets, not checked here. */
static int fuzz_hs_staple(struct kst_cert *c)
{
	static const unsigned char der[] = {0x30, 0x03, 0x0a, 0x01, 0x03};
	time_t now = time(NULL);
	struct kst_ocsp_verdict v = {
		.err = KST_OCSP_OK,
		.cert_status = 0,
		.this_update = now - 3600,
		.next_update = now + 10 * 365 * 86400L,
		.has_next_update = true,
		.produced_at = now - 3600,
	};
	struct kst_staple *s =
		kst_staple_new(der, sizeof(der), &v, KST_STAPLE_SRC_FILE, now);

	if (s == NULL)
		return -1;
	kst_certstate_staple_set0(c->state, s);
	return 0;
}

int kst_fuzz_init(void)
{
	EVP_PKEY *ca_key = kst_fuzz_key("kst-fuzz handshake ca");
	struct kst_fuzz_cert ca = {
		.cn = "fuzz ca", .key = ca_key, .ca = true, .serial = 1};
	struct kst_diag diag;
	int err = -1;

	kst_diag_init(&diag);
	if (kst_tls_init() < 0)
		goto out;
	fh.conf = kst_config_parse_string("/fuzz/kstapled.conf", fuzz_hs_conf,
					  &diag);
	fh.ca = kst_fuzz_cert_new(&ca);
	if (fh.conf == NULL || fh.ca == NULL || fh.conf->n_certs != 3)
		goto out;
	kst_registry_init(&fh.reg, 1);
	if (fuzz_hs_cert(&fh.certs[0], 0, kst_fuzz_key_ec(), ca_key,
			 "DNS:www.example.com,DNS:*.example.net",
			 "www.example.com", "*.example.net") < 0 ||
	    fuzz_hs_cert(&fh.certs[1], 1, kst_fuzz_key_rsa(), ca_key,
			 "DNS:www.example.com", "www.example.com", NULL) < 0 ||
	    fuzz_hs_cert(&fh.certs[2], 2, kst_fuzz_key_ec(), ca_key,
			 "DNS:ms.example.org", "ms.example.org", NULL) < 0 ||
	    fuzz_hs_staple(&fh.certs[0]) < 0)
		goto out;
	for (size_t i = 0; i < FUZZ_HS_NCERTS; i++)
		fh.certp[i] = &fh.certs[i];
	err = kst_tls_listener_init(&fh.tl, fh.conf, &fh.conf->listeners[0],
				    fh.certp, false, &diag);
out:
	if (err < 0)
		kst_diag_print(&diag, stderr);
	kst_diag_free(&diag);
	EVP_PKEY_free(ca_key);
	return err;
}

/* One server step after more bytes arrived; false when the connection
 * is over (fatal error, close_notify). */
static bool fuzz_hs_step(SSL *ssl, bool *done)
{
	unsigned char buf[4096];
	int r, e;

	for (int i = 0; i < 8; i++) {
		r = *done ? SSL_read(ssl, buf, sizeof(buf))
			  : SSL_do_handshake(ssl);
		if (r > 0) {
			if (!*done) {
				*done = true;
				/* the first bytes a backend would answer */
				SSL_write(ssl, "HTTP/1.1 200 OK\r\n\r\n", 19);
			}
			continue;
		}
		e = SSL_get_error(ssl, r);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kst_fuzz_in in = {data, size};
	struct kst_tls_sess sess = {.peer = "192.0.2.1:4433", .worker = 0};
	bool read_ahead = size > 0 && (data[0] & 1), done = false;
	SSL *ssl = kst_tls_new(&fh.tl, -1, &sess, read_ahead);
	BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());

	if (ssl == NULL || rbio == NULL || wbio == NULL)
		abort();
	BIO_set_mem_eof_return(rbio, -1); /* empty: "try again" */
	BIO_set_mem_eof_return(wbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	kst_fuzz_u8(&in);
	while (in.n > 0) {
		size_t want = kst_fuzz_u16(&in), n;
		const uint8_t *p = kst_fuzz_bytes(&in, want, &n);

		if (n > 0 && BIO_write(rbio, p, (int)n) != (int)n)
			abort();
		if (!fuzz_hs_step(ssl, &done))
			break;
		(void)BIO_reset(wbio);
	}
	if (done && (sess.chosen == NULL || sess.refused))
		kst_fuzz_fail("handshake finished without a certificate "
			      "(chosen %p, refused %d)",
			      (void *)sess.chosen, sess.refused);
	SSL_free(ssl);
	ERR_clear_error();
	return 0;
}

/* --------------------------------------------------------------- seeds */

struct fuzz_hs_seed {
	const char *name;
	const char *sni; /* NULL: none */
	int version;	 /* max version */
	const char *groups, *ciphers;
	bool status, alpn;
};

/* Runs a real client against the listener, keeping what it sends. */
static void fuzz_hs_seed(const char *dir, const struct fuzz_hs_seed *s)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct kst_tls_sess sess = {.peer = "seed", .worker = 0};
	SSL *srv = kst_tls_new(&fh.tl, -1, &sess, false);
	SSL *cli = cctx ? SSL_new(cctx) : NULL;
	BIO *c2s = BIO_new(BIO_s_mem()), *s2c = BIO_new(BIO_s_mem());
	struct kst_fuzz_out o = {.n = 0};

	if (srv == NULL || cli == NULL || c2s == NULL || s2c == NULL)
		kst_fuzz_fail("seed %s: set-up", s->name);
	BIO_set_mem_eof_return(c2s, -1);
	BIO_set_mem_eof_return(s2c, -1);
	BIO_up_ref(c2s);
	BIO_up_ref(s2c);
	SSL_set_bio(cli, s2c, c2s);
	SSL_set_bio(srv, c2s, s2c);
	SSL_set_max_proto_version(cli, s->version);
	if (s->sni)
		SSL_set_tlsext_host_name(cli, s->sni);
	if (s->status)
		SSL_set_tlsext_status_type(cli, TLSEXT_STATUSTYPE_ocsp);
	if (s->alpn)
		SSL_set_alpn_protos(cli, (const unsigned char *)"\x02h2", 3);
	if (s->groups)
		SSL_set1_groups_list(cli, s->groups);
	if (s->ciphers)
		SSL_set_cipher_list(cli, s->ciphers);
	SSL_set_connect_state(cli);
	kst_fuzz_put_u8(&o, 0);
	for (int round = 0; round < 6; round++) {
		char pending[16384];
		int n;

		SSL_do_handshake(cli);
		n = BIO_read(c2s, pending, sizeof(pending));
		if (n > 0) {
			kst_fuzz_put_u16(&o, (unsigned)n);
			kst_fuzz_put(&o, pending, (size_t)n);
			BIO_write(c2s, pending, n);
		}
		SSL_do_handshake(srv);
	}
	if (SSL_write(cli, "GET / HTTP/1.1\r\n\r\n", 18) > 0) {
		char pending[4096];
		int n = BIO_read(c2s, pending, sizeof(pending));

		if (n > 0) {
			kst_fuzz_put_u16(&o, (unsigned)n);
			kst_fuzz_put(&o, pending, (size_t)n);
		}
	}
	kst_fuzz_seed_put(dir, s->name, o.buf, o.n);
	fprintf(stderr, "  seed %s: %s, %s, %s%s\n", s->name,
		SSL_get_version(srv),
		SSL_is_init_finished(srv) ? "finished" : "not finished",
		sess.chosen ? sess.chosen->cert->name : "no certificate",
		sess.stapled ? ", stapled" : "");
	SSL_free(cli); /* each SSL held one reference to each BIO */
	SSL_free(srv);
	SSL_CTX_free(cctx);
}

void kst_fuzz_seeds(const char *dir)
{
	static const struct fuzz_hs_seed seeds[] = {
		{"tls13-sni-status-alpn", "www.example.com", TLS1_3_VERSION,
		 NULL, NULL, true, true},
		{"tls13-wildcard", "a.example.net", TLS1_3_VERSION, NULL, NULL,
		 true, false},
		{"tls13-hrr-p384", "www.example.com", TLS1_3_VERSION,
		 "P-521:P-384", NULL, false, false},
		{"tls12-rsa", "www.example.com", TLS1_2_VERSION, NULL,
		 "ECDHE-RSA-AES128-GCM-SHA256", true, false},
		{"tls12-no-sni", NULL, TLS1_2_VERSION, NULL, NULL, false, true},
		{"must-staple-unstapled", "ms.example.org", TLS1_3_VERSION,
		 NULL, NULL, true, false},
		{"bad-sni", "bad_name..example", TLS1_3_VERSION, NULL, NULL,
		 false, false},
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		fuzz_hs_seed(dir, &seeds[i]);
}
