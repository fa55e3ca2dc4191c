// SPDX-License-Identifier: MIT
/*
 * Session-ticket key files (daemon/tls/ticket.c): what a file may hold, the
 * PATH:LINE of each refusal, the rotation rule of a reread, fingerprints;
 * and (ticket_src.c) the owner and mode checks a context's key file gets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "daemon/config/config.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/ticket.h"
#include "daemon/tls/tls.h"
#include "tests/lib/testutil.h"

/* The base64 line of an 80-byte key whose bytes are all b + i. */
static void key_line(unsigned char b, char *out)
{
	unsigned char raw[KST_TICKET_KEY_LEN];

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(b + i);
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
}

static struct kst_ticket_keys *parse(const char *text, struct kst_diag *d)
{
	kst_diag_init(d);
	return kst_ticket_keys_parse("/etc/k/tickets", text, strlen(text), d);
}

/* The first diagnostic as "FILE:LINE: text". */
static void first_msg(const struct kst_diag *d, char *out, size_t len)
{
	cr_assert_gt(d->n, 0, "a diagnostic");
	snprintf(out, len, "%s:%d: %s", d->msgs[0].file, d->msgs[0].line,
		 d->msgs[0].text);
}

Test(ticket, reads_keys_newest_first_with_their_three_parts)
{
	char a[128], b[128], text[512];
	struct kst_diag d;
	struct kst_ticket_keys *ks;
	bool first;

	key_line(1, a);
	key_line(100, b);
	snprintf(text, sizeof(text), "# rotated 2026-12-07\n%s\n\n  %s \r\n", a,
		 b);
	ks = parse(text, &d);
	cr_assert_not_null(ks);
	cr_assert_eq(d.errors, 0);
	cr_assert_eq(ks->n, 2);
	cr_expect_eq(ks->k[0].name[0], 1);
	cr_expect_eq(ks->k[0].aes[0], 1 + 16);
	cr_expect_eq(ks->k[0].hmac[31], 1 + 79);
	cr_expect_eq(ks->k[1].name[0], 100);
	cr_expect_eq(ks->k[0].line, 2);
	cr_expect_eq(ks->k[1].line, 4);
	cr_expect_not_null(kst_ticket_keys_find(ks, ks->k[1].name, &first));
	cr_expect_not(first, "the second key only decrypts");
	kst_ticket_keys_find(ks, ks->k[0].name, &first);
	cr_expect(first, "the first key encrypts");
	kst_ticket_keys_put(ks);
	kst_diag_free(&d);
}

Test(ticket, refuses_a_line_that_is_not_base64_naming_its_line)
{
	char a[128], text[512], msg[512];
	struct kst_diag d;

	key_line(1, a);
	snprintf(text, sizeof(text), "%s\nnot*base64!\n", a);
	cr_assert_null(parse(text, &d));
	first_msg(&d, msg, sizeof(msg));
	cr_expect(strncmp(msg, "/etc/k/tickets:2: not a base64", 30) == 0, "%s",
		  msg);
	kst_diag_free(&d);
}

Test(ticket, refuses_keys_of_the_wrong_length)
{
	/* 48 bytes: nginx's format, 32: too short, 81: too long */
	static const size_t lens[] = {48, 32, 81, 79, 1};
	unsigned char raw[128] = {7};
	char line[256], msg[512];
	struct kst_diag d;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		EVP_EncodeBlock((unsigned char *)line, raw, (int)lens[i]);
		cr_assert_null(parse(line, &d), "%zu bytes", lens[i]);
		first_msg(&d, msg, sizeof(msg));
		cr_expect_not_null(strstr(msg, "/etc/k/tickets:1: a key is 80 "
					       "bytes"),
				   "%s", msg);
		kst_diag_free(&d);
	}
}

Test(ticket, refuses_non_canonical_base64)
{
	unsigned char out[8];

	cr_expect_eq(kst_ticket_base64_decode("QQ==", 4, out, sizeof(out)), 1);
	cr_expect_eq(out[0], 'A');
	cr_expect_eq(kst_ticket_base64_decode("QR==", 4, out, sizeof(out)),
		     -EINVAL, "bits under the padding");
	cr_expect_eq(kst_ticket_base64_decode("Q===", 4, out, sizeof(out)),
		     -EINVAL);
	cr_expect_eq(kst_ticket_base64_decode("QQ=A", 4, out, sizeof(out)),
		     -EINVAL);
	cr_expect_eq(kst_ticket_base64_decode("QQ==QQ==", 8, out, sizeof(out)),
		     -EINVAL, "padding only at the end");
	cr_expect_eq(kst_ticket_base64_decode("QUJD", 3, out, sizeof(out)),
		     -EINVAL);
	cr_expect_eq(kst_ticket_base64_decode("QUJDRA==", 8, out, 3), -ENOSPC);
}

Test(ticket, refuses_more_keys_than_the_bound)
{
	char *text = calloc(KST_TICKET_MAX_KEYS + 2, 128), msg[512];
	struct kst_diag d;

	cr_assert_not_null(text);
	for (int i = 0; i <= KST_TICKET_MAX_KEYS; i++) {
		key_line((unsigned char)(i * 3), text + strlen(text));
		strcat(text, "\n");
	}
	cr_assert_null(parse(text, &d));
	first_msg(&d, msg, sizeof(msg));
	cr_expect_not_null(strstr(msg, "/etc/k/tickets:17: more than 16 keys"),
			   "%s", msg);
	kst_diag_free(&d);
	free(text);
}

Test(ticket, refuses_two_keys_with_one_name)
{
	char a[128], text[512], msg[512];
	struct kst_diag d;

	key_line(1, a);
	snprintf(text, sizeof(text), "%s\n%s\n", a, a);
	cr_assert_null(parse(text, &d));
	first_msg(&d, msg, sizeof(msg));
	cr_expect_not_null(strstr(msg, ":2: this key's name"), "%s", msg);
	kst_diag_free(&d);
}

Test(ticket, refuses_a_file_without_keys_or_with_a_nul)
{
	struct kst_diag d;
	char a[128];

	cr_expect_null(parse("", &d));
	cr_expect_eq(d.errors, 1);
	kst_diag_free(&d);
	cr_expect_null(parse("# only a comment\n\n", &d));
	cr_expect_eq(d.errors, 1);
	kst_diag_free(&d);
	key_line(1, a);
	kst_diag_init(&d);
	a[10] = '\0';
	cr_expect_null(kst_ticket_keys_parse("f", a, 20, &d));
	cr_expect_eq(d.msgs[0].line, 1);
	kst_diag_free(&d);
}

Test(ticket, never_quotes_a_key_in_a_message)
{
	char a[128], text[512];
	struct kst_diag d;

	key_line(1, a);
	/* a valid key, then the same key cut short */
	snprintf(text, sizeof(text), "%s\n%.100s\n", a, a);
	cr_assert_null(parse(text, &d));
	for (size_t i = 0; i < d.n; i++)
		cr_expect_null(strstr(d.msgs[i].text, "AQIDBAUG"), "%s",
			       d.msgs[i].text);
	kst_diag_free(&d);
}

Test(ticket, rotation_keeps_the_key_in_use)
{
	char a[128], b[128], c[128], text[512], why[256];
	struct kst_ticket_keys *ka, *kba, *kb, *kc, *kcb;
	struct kst_diag d;

	key_line(1, a);
	key_line(50, b);
	key_line(150, c);
	ka = parse(a, &d);
	kst_diag_free(&d);
	snprintf(text, sizeof(text), "%s\n%s\n", b, a);
	kba = parse(text, &d);
	kst_diag_free(&d);
	kb = parse(b, &d);
	kst_diag_free(&d);
	kc = parse(c, &d);
	kst_diag_free(&d);
	snprintf(text, sizeof(text), "%s\n%s\n", c, b);
	kcb = parse(text, &d);
	kst_diag_free(&d);
	cr_assert(ka && kba && kb && kc && kcb);
	cr_expect_eq(kst_ticket_keys_rotation_ok(NULL, kb, why, sizeof(why)), 0,
		     "first load: anything");
	cr_expect_eq(kst_ticket_keys_rotation_ok(ka, kba, why, sizeof(why)), 0,
		     "new key on top");
	cr_expect_eq(kst_ticket_keys_rotation_ok(kba, kb, why, sizeof(why)), 0,
		     "the oldest dropped");
	cr_expect_eq(kst_ticket_keys_rotation_ok(kba, kba, why, sizeof(why)),
		     0);
	cr_expect_eq(kst_ticket_keys_rotation_ok(ka, kb, why, sizeof(why)),
		     -EINVAL, "one key replaced by another");
	cr_expect_eq(kst_ticket_keys_rotation_ok(kba, kc, why, sizeof(why)),
		     -EINVAL);
	cr_expect_eq(kst_ticket_keys_rotation_ok(kba, kcb, why, sizeof(why)), 0,
		     "the key in use (b) is still listed");
	cr_expect_eq(kst_ticket_keys_rotation_ok(kcb, kba, why, sizeof(why)),
		     -EINVAL, "the key in use (c) is gone");
	cr_expect_eq(kst_ticket_keys_rotation_ok(kb, kcb, why, sizeof(why)), 0);
	kst_ticket_keys_put(ka);
	kst_ticket_keys_put(kba);
	kst_ticket_keys_put(kb);
	kst_ticket_keys_put(kc);
	kst_ticket_keys_put(kcb);
}

Test(ticket, fingerprints_differ_and_hide_the_key)
{
	char a[128], b[128], text[512], fa[32], fb[32];
	struct kst_ticket_keys *ks;
	struct kst_diag d;

	key_line(1, a);
	key_line(2, b);
	snprintf(text, sizeof(text), "%s\n%s\n", a, b);
	ks = parse(text, &d);
	cr_assert_not_null(ks);
	kst_ticket_key_fingerprint(&ks->k[0], fa, sizeof(fa));
	kst_ticket_key_fingerprint(&ks->k[1], fb, sizeof(fb));
	cr_expect_eq(strlen(fa), strlen("sha256:") + KST_TICKET_FP_HEX);
	cr_expect_str_neq(fa, fb);
	cr_expect_null(strstr(fa, "0102030405"));
	kst_ticket_keys_put(ks);
	kst_diag_free(&d);
}

/* ------------------------------------------ a context's key file */

static int ctx_with_file(const char *text, mode_t mode, struct kst_diag *d,
			 char *path, size_t plen)
{
	char conftext[1024];
	struct kst_config *conf;
	SSL_CTX *ctx;
	int fd, rc;

	snprintf(path, plen, "/tmp/kst-ticket-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	snprintf(conftext, sizeof(conftext),
		 "[global]\nticket-keys = %s\n[listener:a]\nbind = "
		 "127.0.0.1:1\nbackend = 127.0.0.1:2\ncert = /x/y.pem\n",
		 path);
	kst_diag_init(d);
	conf = kst_config_parse_string("/etc/kstapled.conf", conftext, d);
	cr_assert_not_null(conf);
	ctx = SSL_CTX_new(TLS_server_method());
	cr_assert_not_null(ctx);
	rc = kst_ticket_ctx_init(ctx, conf, &conf->listeners[0], d);
	cr_expect_eq(rc == 0, SSL_CTX_get_timeout(ctx) == 4 * 3600,
		     "the lifetime comes with the keys");
	SSL_CTX_free(ctx);
	kst_config_free(conf);
	unlink(path);
	return rc;
}

Test(ticket, context_takes_a_private_key_file)
{
	char a[128], path[64];
	struct kst_diag d;

	key_line(1, a);
	cr_expect_eq(ctx_with_file(a, 0600, &d, path, sizeof(path)), 0);
	cr_expect_eq(d.errors, 0);
	kst_diag_free(&d);
}

Test(ticket, context_refuses_a_group_readable_key_file)
{
	char a[128], path[64], msg[512];
	struct kst_diag d;

	key_line(1, a);
	cr_expect_eq(ctx_with_file(a, 0640, &d, path, sizeof(path)), -EINVAL);
	first_msg(&d, msg, sizeof(msg));
	cr_expect_not_null(strstr(msg, path), "%s", msg);
	cr_expect_not_null(strstr(msg, "chmod 600"), "%s", msg);
	cr_expect_eq(d.errors, 2, "the file, and the config line naming it");
	cr_expect_str_eq(d.msgs[1].file, "/etc/kstapled.conf");
	cr_expect_eq(d.msgs[1].line, 2);
	kst_diag_free(&d);
}

Test(ticket, context_refuses_a_bad_key_file_at_its_line)
{
	char a[128], text[300], path[64], msg[512];
	struct kst_diag d;

	key_line(1, a);
	snprintf(text, sizeof(text), "%s\n%.40s\n", a, a);
	cr_expect_eq(ctx_with_file(text, 0600, &d, path, sizeof(path)),
		     -EINVAL);
	first_msg(&d, msg, sizeof(msg));
	cr_expect_not_null(strstr(msg, ":2: a key is 80 bytes"), "%s", msg);
	kst_diag_free(&d);
}

/* ------------------------------------ handshakes through the callbacks */

/*
 * A server context as tls.c makes one (ticket keys from a file), a client,
 * and handshakes between them through memory BIOs, with the server's
 * counters where tls.c's callbacks find them (the connection's chosen
 * certificate, worker 0).
 */
struct hs_env {
	char keys[64];
	struct kst_config *conf;
	SSL_CTX *sctx, *cctx;
	struct kst_certstate state;
	struct kst_cs_counters counters;
	struct kst_cert cert;
	struct kst_tls_cert tc;
	struct kst_tls_sess ts;
};

static void hs_keys(struct hs_env *e, const char *text)
{
	char tmp[80];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", e->keys);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(rename(tmp, e->keys), 0);
}

static void hs_setup(struct hs_env *e, const char *keytext,
		     const char *lifetime)
{
	char conftext[512];
	struct kst_diag d;
	X509 *leaf = kst_test_cert("localhost-ecdsa");
	EVP_PKEY *key = kst_test_key("localhost-ecdsa");
	int fd;

	memset(e, 0, sizeof(*e));
	snprintf(e->keys, sizeof(e->keys), "/tmp/kst-ticket-hs-XXXXXX");
	fd = mkstemp(e->keys);
	cr_assert_geq(fd, 0);
	close(fd);
	hs_keys(e, keytext);
	snprintf(conftext, sizeof(conftext),
		 "[global]\nticket-keys = %s\nticket-lifetime = %s\n"
		 "[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
		 "cert = /x/y.pem\n",
		 e->keys, lifetime);
	kst_diag_init(&d);
	e->conf = kst_config_parse_string("/etc/kstapled.conf", conftext, &d);
	cr_assert_not_null(e->conf);
	e->sctx = SSL_CTX_new(TLS_server_method());
	cr_assert_eq(kst_ticket_ctx_init(e->sctx, e->conf,
					 &e->conf->listeners[0], &d),
		     0);
	kst_diag_free(&d);
	cr_assert_eq(SSL_CTX_use_certificate(e->sctx, leaf), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(e->sctx, key), 1);
	SSL_CTX_set_session_cache_mode(e->sctx, SSL_SESS_CACHE_OFF);
	X509_free(leaf);
	EVP_PKEY_free(key);
	e->cctx = SSL_CTX_new(TLS_client_method());
	/* no client cache: it would spend a TLS 1.3 session once used */
	SSL_CTX_set_session_cache_mode(e->cctx, SSL_SESS_CACHE_OFF);
	e->state.counters = &e->counters;
	e->cert.state = &e->state;
	e->tc.cert = &e->cert;
	e->ts.chosen = &e->tc;
}

static void hs_teardown(struct hs_env *e)
{
	SSL_CTX_free(e->sctx);
	SSL_CTX_free(e->cctx);
	kst_config_free(e->conf);
	unlink(e->keys);
}

/* Moves bytes both ways until neither side has more to do. */
static void hs_pump(SSL *c, SSL *s, BIO *cnet, BIO *snet)
{
	char buf[16384];

	for (int i = 0; i < 100; i++) {
		int moved = 0, n;

		SSL_do_handshake(c);
		SSL_do_handshake(s);
		while ((n = BIO_read(cnet, buf, sizeof(buf))) > 0) {
			BIO_write(snet, buf, n);
			moved = 1;
		}
		while ((n = BIO_read(snet, buf, sizeof(buf))) > 0) {
			BIO_write(cnet, buf, n);
			moved = 1;
		}
		/* the client reads TLS 1.3 tickets after its handshake */
		SSL_read(c, buf, sizeof(buf));
		if (!moved && SSL_is_init_finished(c) &&
		    SSL_is_init_finished(s))
			return;
	}
	cr_assert_fail("handshake did not finish");
}

/* One handshake over version v offering sess; the session the client
 * ends with (NULL if none); *reused whether it resumed. */
static SSL_SESSION *hs_one(struct hs_env *e, int v, SSL_SESSION *sess,
			   bool *reused)
{
	SSL *c = SSL_new(e->cctx), *s = SSL_new(e->sctx);
	BIO *cb, *cnet, *sb, *snet;
	SSL_SESSION *out;

	cr_assert(c && s);
	cr_assert_eq(BIO_new_bio_pair(&cb, 0, &cnet, 0), 1);
	cr_assert_eq(BIO_new_bio_pair(&sb, 0, &snet, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_min_proto_version(c, v);
	SSL_set_max_proto_version(c, v);
	SSL_set_app_data(s, &e->ts);
	if (sess != NULL)
		SSL_set_session(c, sess);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	hs_pump(c, s, cnet, snet);
	*reused = SSL_session_reused(c);
	cr_assert_eq(*reused, SSL_session_reused(s));
	out = SSL_get1_session(c);
	/* freed without close_notify, the session would turn unresumable */
	SSL_shutdown(c);
	SSL_free(c);
	SSL_free(s);
	BIO_free(cnet);
	BIO_free(snet);
	return out;
}

static const int hs_versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};

Test(ticket, counts_tickets_issued_and_resumes_with_the_file_keys)
{
	struct kst_conn_counters *c;
	struct hs_env e;
	SSL_SESSION *s1, *s2;
	char a[128];
	bool reused;

	key_line(1, a);
	hs_setup(&e, a, "1h");
	c = &e.counters.c;
	for (size_t i = 0; i < 2; i++) {
		uint64_t issued = c->tickets_issued;

		s1 = hs_one(&e, hs_versions[i], NULL, &reused);
		cr_assert_not(reused);
		cr_expect_eq(c->tickets_issued - issued, i == 0 ? 1 : 2,
			     "TLS 1.2: one ticket, 1.3: session-tickets (2)");
		cr_expect_eq(SSL_SESSION_get_ticket_lifetime_hint(s1), 3600,
			     "the ticket's lifetime is ticket-lifetime");
		s2 = hs_one(&e, hs_versions[i], s1, &reused);
		cr_expect(reused, "version %#x resumes", hs_versions[i]);
		SSL_SESSION_free(s1);
		SSL_SESSION_free(s2);
	}
	cr_expect_eq(c->tickets_refused_unknown, 0);
	cr_expect_eq(c->tickets_refused_expired, 0);
	hs_teardown(&e);
}

Test(ticket, a_reread_rotates_and_a_dropped_key_is_counted_unknown)
{
	struct kst_conn_counters *c;
	struct hs_env e;
	SSL_SESSION *old[2], *s;
	char a[128], b[128], c3[128], text[300];
	bool reused;

	key_line(1, a);
	key_line(77, b);
	hs_setup(&e, a, "1h");
	c = &e.counters.c;
	for (size_t i = 0; i < 2; i++)
		old[i] = hs_one(&e, hs_versions[i], NULL, &reused);
	snprintf(text, sizeof(text), "%s\n%s\n", b, a);
	hs_keys(&e, text);
	kst_ticket_rescan();
	for (size_t i = 0; i < 2; i++) {
		s = hs_one(&e, hs_versions[i], old[i], &reused);
		cr_expect(reused, "an old key's ticket resumes after rotation");
		SSL_SESSION_free(s);
	}
	/* a rotation that drops the key in use (b) is refused: [b, a] stay */
	key_line(150, c3);
	hs_keys(&e, c3);
	kst_ticket_rescan();
	s = hs_one(&e, TLS1_3_VERSION, old[1], &reused);
	cr_expect(reused);
	SSL_SESSION_free(s);
	cr_expect_eq(c->tickets_refused_unknown, 0);
	/* [b, a] -> [b]: a's tickets are refused, counted */
	hs_keys(&e, text);
	kst_ticket_rescan();
	snprintf(text, sizeof(text), "%s\n", b);
	hs_keys(&e, text);
	kst_ticket_rescan();
	for (size_t i = 0; i < 2; i++) {
		s = hs_one(&e, hs_versions[i], old[i], &reused);
		cr_expect_not(reused, "a dropped key's ticket: full handshake");
		SSL_SESSION_free(s);
		SSL_SESSION_free(old[i]);
	}
	cr_expect_eq(c->tickets_refused_unknown, 2);
	hs_teardown(&e);
}

Test(ticket, a_ticket_past_the_lifetime_is_refused_and_counted, .timeout = 30)
{
	struct hs_env e;
	SSL_SESSION *s1[2], *s;
	char a[128];
	bool reused;

	key_line(1, a);
	hs_setup(&e, a, "1s");
	for (size_t i = 0; i < 2; i++)
		s1[i] = hs_one(&e, hs_versions[i], NULL, &reused);
	sleep(2);
	for (size_t i = 0; i < 2; i++) {
		s = hs_one(&e, hs_versions[i], s1[i], &reused);
		cr_expect_not(reused, "version %#x: expired", hs_versions[i]);
		SSL_SESSION_free(s);
		SSL_SESSION_free(s1[i]);
	}
	cr_expect_eq(e.counters.c.tickets_refused_expired, 2);
	cr_expect_eq(e.counters.c.tickets_refused_unknown, 0);
	hs_teardown(&e);
}

Test(ticket, a_listener_overrides_or_turns_off_the_global_file)
{
	struct kst_config *conf;
	struct kst_diag d;
	int line = -1;

	kst_diag_init(&d);
	conf = kst_config_parse_string(
		"/etc/kstapled.conf",
		"[global]\nticket-keys = keys/fleet\n"
		"[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
		"cert = /x/y.pem\n"
		"[listener:b]\nbind = 127.0.0.1:3\nbackend = 127.0.0.1:2\n"
		"cert = /x/y.pem\nticket-keys =\n"
		"[listener:c]\nbind = 127.0.0.1:4\nbackend = 127.0.0.1:2\n"
		"cert = /x/y.pem\nticket-keys = /k/own\n",
		&d);
	cr_assert_not_null(conf);
	cr_expect_str_eq(kst_config_listener_ticket_keys(
				 conf, &conf->listeners[0], &line),
			 "/etc/keys/fleet",
			 "relative to the config's directory");
	cr_expect_eq(line, 2);
	cr_expect_str_eq(kst_config_listener_ticket_keys(
				 conf, &conf->listeners[1], &line),
			 "", "empty: the process's own keys");
	cr_expect_eq(line, 11);
	cr_expect_str_eq(kst_config_listener_ticket_keys(
				 conf, &conf->listeners[2], &line),
			 "/k/own");
	cr_expect_eq(line, 16);
	cr_expect_eq(conf->global.ticket_lifetime_ms, 4LL * 3600 * 1000,
		     "default lifetime: 4 h");
	kst_config_free(conf);
	kst_diag_free(&d);
}

Test(ticket, without_a_file_the_context_keeps_openssl_defaults)
{
	struct kst_config *conf;
	struct kst_diag d;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	long timeout = SSL_CTX_get_timeout(ctx);

	kst_diag_init(&d);
	conf = kst_config_parse_string(
		"/etc/kstapled.conf",
		"[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
		"cert = /x/y.pem\n",
		&d);
	cr_assert_not_null(conf);
	cr_expect_eq(kst_ticket_ctx_init(ctx, conf, &conf->listeners[0], &d),
		     0);
	cr_expect_eq(SSL_CTX_get_timeout(ctx), timeout);
	cr_expect_eq(d.n, 0);
	SSL_CTX_free(ctx);
	kst_config_free(conf);
	kst_diag_free(&d);
}
