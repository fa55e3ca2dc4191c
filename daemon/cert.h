/* SPDX-License-Identifier: MIT */
/*
 * A certificate as served: leaf, chain, private key, the names SNI matches,
 * its key kind, and what stapling needs (issuer, OCSP URLs, Must-Staple).
 * Loaded once per generation from a [cert] configuration, with every
 * problem reported against the configuration line that names the file.
 *
 * The long-lived part (staple, fetch state, counters) is the certificate's
 * kst_certstate, shared by every generation that serves the same leaf.
 */
#ifndef KST_CERT_H
#define KST_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "daemon/config.h"
#include "daemon/diag.h"

enum kst_key_kind {
	KST_KEY_RSA,
	KST_KEY_ECDSA,
	KST_KEY_ED25519,
	KST_KEY_OTHER,
};

struct kst_certstate;

struct kst_cert {
	const struct kst_cert_conf *conf; /* owned by the generation's config */
	char *name;                       /* short: section name or basename */
	X509 *leaf;
	STACK_OF(X509) *chain; /* the certificates after the leaf, in order */
	X509 *issuer;          /* get0: chain[0], or the leaf if self-issued */
	EVP_PKEY *key;
	enum kst_key_kind kind;
	int curve_nid; /* ECDSA curve */
	unsigned char sha256[32];
	char fingerprint[65]; /* lower-case hex of sha256 */
	char subject_cn[64];
	char **names; /* lower-case DNS names, "*.example.com" for wildcards */
	size_t n_names;
	time_t not_before, not_after;
	bool must_staple;  /* RFC 7633 TLS feature status_request */
	bool self_issued;
	char **ocsp_urls;  /* the override list, else the AIA OCSP URLs */
	size_t n_ocsp_urls;
	char *staple_path; /* operator's staple file */
	int policy;        /* effective enum kst_policy */
	bool stapling;     /* effective */
	bool fetch;        /* effective */
	struct kst_certstate *state; /* reference */
};

/*
 * Loads cc's PEM (and key file), checking that: the PEM holds a
 * certificate; a private key is present, matches it, and its file is
 * readable by the owner only; the leaf's issuer follows it (unless
 * self-issued) and the chain is in order. Errors go to diag with cc's
 * lines; returns -EINVAL then.
 */
int kst_cert_load(const struct kst_config *conf,
		  const struct kst_cert_conf *cc, struct kst_diag *diag,
		  struct kst_cert **out);
void kst_cert_free(struct kst_cert *c);
const char *kst_cert_kind_name(const struct kst_cert *c);

#endif
