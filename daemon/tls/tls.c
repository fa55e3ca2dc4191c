// SPDX-License-Identifier: MIT
/*
 * SSL_CTX construction for a listener, and the three callbacks that run in
 * a handshake: ClientHello (choose the certificate), status (staple its
 * response) and ALPN. See tls.h for the model.
 */
#include "daemon/tls/tls.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/tls1.h>

#include "daemon/base/log.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/ticket.h"
#include "ktls/ktls.h"

static int tls_hello_cb(SSL *ssl, int *al, void *arg);
static int tls_hello_sni(struct kst_tls_listener *tl, struct kst_tls_sess *ts,
			 const unsigned char *ext, size_t len, char *sni,
			 size_t snilen, int *al);
static int tls_servername_cb(SSL *ssl, int *al, void *arg);
static int tls_status_cb(SSL *ssl, void *arg);
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg);

/* at most this many certificates considered for one name */
#define TLS_MAX_CANDS 16

int kst_tls_init(void)
{
	return OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS, NULL) == 1
		       ? 0
		       : -ENOMEM;
}

/* Client can verify ECDSA / RSA signatures from its TLS 1.2 suites. */
static void tls_hello_suites(SSL *ssl, struct kst_hello_caps *caps)
{
	const unsigned char *ids;
	size_t len = SSL_client_hello_get0_ciphers(ssl, &ids);

	for (size_t i = 0; i + 1 < len; i += 2) {
		const SSL_CIPHER *c = SSL_CIPHER_find(ssl, ids + i);

		if (c == NULL) /* TLS 1.3 suites have auth "any" */
			continue;
		switch (SSL_CIPHER_get_auth_nid(c)) {
		case NID_auth_ecdsa:
			caps->suite12_ecdsa = true;
			break;
		case NID_auth_rsa:
			caps->suite12_rsa = true;
			break;
		default:
			break;
		}
	}
}

static void tls_hello_caps(SSL *ssl, struct kst_hello_caps *caps)
{
	const unsigned char *sig = NULL, *ver = NULL;
	size_t siglen = 0, verlen = 0;

	memset(caps, 0, sizeof(*caps));
	tls_hello_suites(ssl, caps);
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_signature_algorithms,
				       &sig, &siglen))
		sig = NULL;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions,
				       &ver, &verlen))
		ver = NULL;
	kst_hello_caps_parse(caps, sig, siglen, ver, verlen, TLS1_3_VERSION);
}

/* Policy refusals are logged at most once a second per listener. */
static void tls_log_refusal(struct kst_tls_listener *tl,
			    struct kst_tls_sess *ts, const char *sni,
			    const size_t *idx, size_t n)
{
	long long now = (long long)kst_now(), last;
	const struct kst_cert *c = tl->certs[idx[0]].cert;

	last = atomic_load_explicit(&tl->refused_logged_at,
				    memory_order_relaxed);
	if (last == now ||
	    !atomic_compare_exchange_strong(&tl->refused_logged_at, &last, now))
		return;
	kst_warn("listener %s: peer %s: refused: no certificate for '%s' may "
		 "be served (%s%s: %s)",
		 tl->name, ts->peer, sni[0] ? sni : "(no SNI)", c->name,
		 n > 1 ? " and the others for that name" : "",
		 c->policy == KST_POLICY_MUST_STAPLE
			 ? "must-staple without a valid staple"
			 : "strict policy: staple expired or revoked");
}

/*
 * The server name, or a refusal: a name that is not a host name (control
 * bytes, '_', a trailing dot, ...) gets the fatal unrecognized_name alert
 * rather than the default certificate, so it never reaches a log line, a
 * PROXY header or the backend. An IP literal counts as no SNI (see
 * kst_sni_parse). Logged at debug level only, escaped: a flood of bad
 * names must not flood the log.
 */
static int tls_hello_sni(struct kst_tls_listener *tl, struct kst_tls_sess *ts,
			 const unsigned char *ext, size_t len, char *sni,
			 size_t snilen, int *al)
{
	char esc[KST_LOG_ESC_SIZE(64)];
	int rc = kst_sni_parse(ext, len, sni, snilen);

	if (rc == 0)
		return 0;
	*al = rc == -EILSEQ ? SSL_AD_UNRECOGNIZED_NAME : SSL_AD_DECODE_ERROR;
	kst_debug("listener %s: peer %s: refused: server name '%s' is %s",
		  tl->name, ts->peer,
		  len > 5 ? kst_log_escape(esc, sizeof(esc), ext + 5, len - 5)
			  : "",
		  rc == -EILSEQ ? "not a host name (RFC 6066)"
				: "a malformed extension");
	return -EINVAL;
}

/* The certificate, its key and chain for this connection (override). */
static int tls_use_cert(SSL *ssl, const struct kst_cert *c)
{
	return SSL_use_cert_and_key(ssl, c->leaf, c->key,
				    c->self_issued ? NULL : c->chain, 1);
}

/* The same on the listener's context: every connection starts with it. */
static int tls_ctx_use_cert(SSL_CTX *ctx, const struct kst_cert *c)
{
	return SSL_CTX_use_cert_and_key(ctx, c->leaf, c->key,
					c->self_issued ? NULL : c->chain, 1);
}

/* Does the connection hold exactly this certificate, key and chain (the
 * listener's first, from its context, or one put there by an earlier
 * ClientHello of this handshake)? It holds one certificate at a time. */
static bool tls_holds_cert(SSL *ssl, const struct kst_cert *c)
{
	STACK_OF(X509) *chain = NULL;
	int n = c->self_issued || c->chain == NULL ? 0 : sk_X509_num(c->chain);

	if (SSL_get_certificate(ssl) != c->leaf ||
	    SSL_get_privatekey(ssl) != c->key ||
	    SSL_get0_chain_certs(ssl, &chain) != 1 ||
	    (chain != NULL ? sk_X509_num(chain) : 0) != n)
		return false;
	for (int i = 0; i < n; i++)
		if (sk_X509_value(chain, i) != sk_X509_value(c->chain, i))
			return false;
	return true;
}

/*
 * The chosen certificate on this connection. The context holds the
 * listener's first certificate, which SSL_new gives every connection
 * (references, no copy): choosing it costs nothing, where
 * SSL_use_cert_and_key checks the key against the certificate again
 * (about 1% of an ECDSA handshake). Another one replaces it: cleared
 * first, so that OpenSSL sees only the chosen key type.
 */
static int tls_set_cert(SSL *ssl, const struct kst_cert *c)
{
	if (tls_holds_cert(ssl, c))
		return 1;
	SSL_certs_clear(ssl);
	return tls_use_cert(ssl, c);
}

static int tls_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct kst_tls_listener *tl = arg;
	struct kst_tls_sess *ts = SSL_get_app_data(ssl);
	struct kst_sni_cand cands[TLS_MAX_CANDS];
	struct kst_hello_caps caps;
	const unsigned char *ext;
	const size_t *idx;
	char sni[256] = "";
	time_t now = kst_now();
	size_t len, n;
	int pick = -1, best;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext,
				      &len) &&
	    tls_hello_sni(tl, ts, ext, len, sni, sizeof(sni), al) < 0)
		return SSL_CLIENT_HELLO_ERROR;
	idx = kst_sni_lookup(&tl->sni, sni, &n);
	n = n > TLS_MAX_CANDS ? TLS_MAX_CANDS : n;
	tls_hello_caps(ssl, &caps);
	for (size_t i = 0; i < n; i++) {
		const struct kst_cert *c = tl->certs[idx[i]].cert;

		cands[i].kind = (int)c->kind;
		cands[i].curve_nid = c->curve_nid;
		cands[i].servable =
			!c->stapling ||
			kst_certstate_servable(c->state, c->policy, now);
		if (cands[i].servable && pick < 0)
			pick = (int)i; /* fallback: let OpenSSL say why */
	}
	if (pick < 0) {
		ts->refused = true;
		tls_log_refusal(tl, ts, sni, idx, n);
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	best = kst_sni_pick(&caps, cands, n);
	if (best >= 0)
		pick = best;
	ts->chosen = &tl->certs[idx[pick]];
	/* one context per listener: the chosen certificate goes on this
	 * connection only (references, no copy; checked at load by
	 * tls_cert_check, so it fails here only out of memory) */
	if (tls_set_cert(ssl, ts->chosen->cert) != 1) {
		ERR_clear_error();
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * The server name, accepted: the ClientHello callback refused the names
 * it does not take. Without this callback OpenSSL counts the name as not
 * used: no acknowledgement to the client (RFC 6066 3 asks for one), and
 * none kept in a TLS 1.2 session, so that SSL_get_servername said nothing
 * on its resumptions (no SNI in the PROXY header nor in the close log).
 * It also spares OpenSSL a check of the certificate's curve per
 * handshake.
 */
static int tls_servername_cb(SSL *ssl, int *al, void *arg)
{
	(void)ssl;
	(void)al;
	(void)arg;
	return SSL_TLSEXT_ERR_OK;
}

/* Called only when the client sent status_request, after the
 * ClientHello callback chose the certificate. */
static int tls_status_cb(SSL *ssl, void *arg)
{
	struct kst_tls_sess *ts = SSL_get_app_data(ssl);
	struct kst_tls_cert *tc = ts->chosen;
	struct kst_cert *c;
	struct kst_conn_counters *cnt;
	struct kst_staple *s = NULL;
	unsigned char *copy = NULL;

	(void)arg;
	if (tc == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	c = tc->cert;
	cnt = kst_certstate_counting(c->state, ts->worker);
	if (c->stapling)
		s = kst_certstate_staple_get1(c->state, kst_now());
	if (s != NULL)
		copy = OPENSSL_malloc(s->len);
	if (copy == NULL) {
		kst_staple_put(s);
		KST_COUNT(cnt->status_no_staple);
		/* must-staple; or revoked or expired since the ClientHello */
		if (c->stapling &&
		    (c->policy == KST_POLICY_MUST_STAPLE ||
		     !kst_certstate_servable(c->state, c->policy, kst_now()))) {
			ts->refused = true;
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		}
		return SSL_TLSEXT_ERR_NOACK;
	}
	memcpy(copy, s->der, s->len);
	SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)s->len);
	kst_staple_put(s);
	KST_COUNT(cnt->staples_served);
	ts->stapled = true;
	return SSL_TLSEXT_ERR_OK;
}

static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	struct kst_tls_listener *tl = arg;
	unsigned char *sel = NULL;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, tl->alpn,
				  (unsigned)tl->alpn_len, in,
				  inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int tls_ctx_error(struct kst_diag *d, const char *file, int line,
			 const char *what, const char *value)
{
	char errs[512];

	kst_log_ssl_errors(errs, sizeof(errs));
	kst_diag_error(d, file, line, "%s '%s' rejected by OpenSSL%s%s", what,
		       value, errs[0] ? ": " : "", errs);
	return -EINVAL;
}

/* The listener's context: the one place an SSL_CTX is made. */
static SSL_CTX *tls_ctx_new(struct kst_tls_listener *tl,
			    const struct kst_config *conf,
			    const struct kst_listener_conf *lc,
			    struct kst_diag *d)
{
	const char *file = conf->path;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
			SSL_OP_CIPHER_SERVER_PREFERENCE |
			SSL_OP_PRIORITIZE_CHACHA;

	if (ctx == NULL) {
		kst_log_ssl(KST_LOG_ERR, "SSL_CTX_new");
		return NULL;
	}
	if (lc->session_tickets == 0)
		opts |= SSL_OP_NO_TICKET;
	if (tl->ktls)
		opts |= SSL_OP_ENABLE_KTLS; /* TX both versions, RX for 1.2 */
	SSL_CTX_set_options(ctx, opts);
	SSL_CTX_set_min_proto_version(ctx, lc->tls_min_version);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_set_cipher_list(ctx, lc->ciphers) != 1)
		tls_ctx_error(d, file, lc->ciphers_line ?: lc->line, "ciphers",
			      lc->ciphers);
	if (SSL_CTX_set_ciphersuites(ctx, lc->ciphersuites) != 1)
		tls_ctx_error(d, file, lc->ciphersuites_line ?: lc->line,
			      "ciphersuites", lc->ciphersuites);
	if (SSL_CTX_set1_groups_list(ctx, lc->groups) != 1)
		tls_ctx_error(d, file, lc->groups_line ?: lc->line, "groups",
			      lc->groups);
	SSL_CTX_set_num_tickets(ctx, lc->session_tickets);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"kstapled",
				       8);
	/* every context the daemon makes passes here: ticket keys */
	if (kst_ticket_ctx_init(ctx, conf, lc, d) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
				      SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_NO_AUTO_CHAIN);
	if (tl->alpn_len > 0)
		SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, tl);
	/* TLS 1.3 RX is ours to install, from the client traffic secret */
	if (tl->ktls)
		SSL_CTX_set_keylog_callback(ctx, kst_ktls_keylog_cb);
	return ctx;
}

/*
 * What the handshake will do with this certificate, done once at load on
 * a scratch connection: OpenSSL's checks (key matches, security level of
 * key and chain) refuse it here rather than at a client's handshake.
 */
static int tls_cert_check(struct kst_tls_listener *tl, SSL *scratch,
			  struct kst_tls_cert *tc)
{
	struct kst_cert *c = tc->cert;

	tc->tl = tl;
	/* a reload's reused certificate passed this with the same leaf,
	 * key and chain objects: nothing in them changed */
	if (c->reused)
		return 0;
	if (tls_use_cert(scratch, c) != 1) {
		kst_log_ssl(KST_LOG_ERR, "listener %s: cert %s", tl->name,
			    c->name);
		return -EINVAL;
	}
	return 0;
}

static int tls_sni_table(struct kst_tls_listener *tl)
{
	char *const **names = calloc(tl->n_certs, sizeof(*names));
	size_t *n_names = calloc(tl->n_certs, sizeof(*n_names));
	int rc = -ENOMEM;

	if (names != NULL && n_names != NULL) {
		for (size_t i = 0; i < tl->n_certs; i++) {
			names[i] = tl->certs[i].cert->names;
			n_names[i] = tl->certs[i].cert->n_names;
		}
		rc = kst_sni_table_build(&tl->sni, names, n_names, tl->n_certs);
	}
	free((void *)names);
	free(n_names);
	return rc;
}

int kst_tls_listener_init(struct kst_tls_listener *tl,
			  const struct kst_config *conf,
			  const struct kst_listener_conf *lc,
			  struct kst_cert *const *certs, bool ktls,
			  struct kst_diag *d)
{
	size_t errors = d->errors;
	SSL *scratch;
	int rc = 0;

	memset(tl, 0, sizeof(*tl));
	tl->name = lc->name;
	tl->min_version = lc->tls_min_version;
	tl->alpn = lc->alpn_wire;
	tl->alpn_len = lc->alpn_len;
	tl->ktls = ktls;
	tl->n_certs = lc->n_certs;
	tl->certs = calloc(lc->n_certs, sizeof(*tl->certs));
	if (tl->certs == NULL || lc->n_certs == 0)
		return -ENOMEM;
	/* one context for every certificate: the ClientHello callback puts
	 * the chosen one on the connection (issue 13: a context per
	 * certificate cost ~20 KB and most of the load time each) */
	tl->base = tls_ctx_new(tl, conf, lc, d);
	scratch = tl->base ? SSL_new(tl->base) : NULL;
	if (scratch == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < lc->n_certs && rc == 0; i++) {
		tl->certs[i].cert = certs[i];
		rc = tls_cert_check(tl, scratch, &tl->certs[i]);
	}
	SSL_free(scratch);
	if (rc < 0)
		return rc;
	/* the first certificate on the context (see tls_set_cert); it
	 * passed tls_cert_check: this fails only out of memory */
	if (tls_ctx_use_cert(tl->base, certs[0]) != 1) {
		kst_log_ssl(KST_LOG_ERR, "listener %s: cert %s", tl->name,
			    certs[0]->name);
		return -ENOMEM;
	}
	SSL_CTX_set_client_hello_cb(tl->base, tls_hello_cb, tl);
	SSL_CTX_set_tlsext_servername_callback(tl->base, tls_servername_cb);
	SSL_CTX_set_tlsext_status_cb(tl->base, tls_status_cb);
	SSL_CTX_set_tlsext_status_arg(tl->base, tl);
	if (tls_sni_table(tl) < 0)
		return -ENOMEM;
	return d->errors > errors ? -EINVAL : 0;
}

void kst_tls_listener_fini(struct kst_tls_listener *tl)
{
	free(tl->certs);
	SSL_CTX_free(tl->base);
	kst_sni_table_free(&tl->sni);
	memset(tl, 0, sizeof(*tl));
}

SSL *kst_tls_new(struct kst_tls_listener *tl, int fd, struct kst_tls_sess *sess,
		 bool read_ahead)
{
	SSL *ssl = SSL_new(tl->base);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	/* the callbacks need sess: without it (out of memory), no SSL */
	if (SSL_set_app_data(ssl, sess) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	if (read_ahead) {
		SSL_set_read_ahead(ssl, 1);
		SSL_set_default_read_buffer_len(ssl, 64 * 1024);
	}
	return ssl;
}
