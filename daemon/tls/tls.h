/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts of a listener and the callbacks that run inside handshakes.
 *
 * A listener has one SSL_CTX (base), made by tls_ctx_new, the one place
 * an SSL_CTX is created, and holding no certificate. The ClientHello
 * callback picks the certificate (SNI, what the client can verify, what
 * the staple policy allows: see sni.h) and puts its leaf, key and chain
 * on the connection (SSL_use_cert_and_key: references, no copy). The
 * status callback then staples that certificate's own response, so an
 * ECDSA and an RSA certificate for one name each staple theirs. So a
 * certificate costs its parsed leaf, key and chain, not a context.
 *
 * Both callbacks are O(1) in the number of staples, do no I/O and allocate
 * nothing but the copy OpenSSL takes ownership of (OPENSSL_malloc).
 */
#ifndef KST_TLS_H
#define KST_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "daemon/tls/cert.h"
#include "daemon/config/config.h"
#include "daemon/base/diag.h"
#include "daemon/tls/sni.h"

struct kst_tls_listener;

/* A certificate as served on one listener. */
struct kst_tls_cert {
	struct kst_cert *cert; /* borrowed from the generation */
	struct kst_tls_listener *tl;
};

struct kst_tls_listener {
	const char *name; /* the listener's */
	SSL_CTX *base;
	struct kst_tls_cert *certs;
	size_t n_certs;
	struct kst_sni_table sni;
	int min_version;
	const unsigned char *alpn;
	size_t alpn_len;
	bool ktls;			/* SSL_OP_ENABLE_KTLS is set */
	atomic_llong refused_logged_at; /* rate limit of policy refusals */
};

struct kst_proc_counters;
struct kst_hs_counters;

/* Per connection, reachable from the SSL (app data). */
struct kst_tls_sess {
	struct kst_tls_cert *chosen;
	const char *peer; /* "1.2.3.4:5678", for logs */
	unsigned worker;  /* index of the worker's counters */
	/* the worker's process-wide counters (handshakes, tickets); NULL
	 * on an SSL no worker serves */
	struct kst_proc_counters *pc;
	struct kst_hs_counters *lc; /* the listener's, or NULL */
	bool stapled;
	bool refused; /* no certificate could be served (policy) */
};

int kst_tls_init(void);
int kst_tls_listener_init(struct kst_tls_listener *tl,
			  const struct kst_config *conf,
			  const struct kst_listener_conf *lc,
			  struct kst_cert *const *certs, bool ktls,
			  struct kst_diag *diag);
void kst_tls_listener_fini(struct kst_tls_listener *tl);
/* A server SSL on fd, starting on the listener's base context. */
SSL *kst_tls_new(struct kst_tls_listener *tl, int fd, struct kst_tls_sess *sess,
		 bool read_ahead);

#endif
