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

#include "daemon/config/config.h"
#include "daemon/base/diag.h"

enum kst_key_kind {
	KST_KEY_RSA,
	KST_KEY_ECDSA,
	KST_KEY_ED25519,
	KST_KEY_OTHER,
};

struct kst_certstate;

/*
 * What the loads of one generation share, in one thread (NULL: nothing):
 * a private-key decoder made once, and the chain certificates parsed so
 * far (an intermediate named by 100,000 PEM files is parsed once).
 * Zero-initialised; kst_cert_loader_fini.
 */
struct ossl_decoder_ctx_st;
struct kst_cert_interned {
	X509 *x;
	unsigned char sha256[32]; /* of its DER */
};
struct kst_cert_loader {
	struct ossl_decoder_ctx_st *dctx;
	EVP_PKEY *out; /* where the decoder puts a key */
	/* chain certificates by DER hash, shared by every PEM naming them */
	struct kst_cert_interned *interned;
	size_t mask, n_interned;
};

/* A file as a reload compares it: where it stands, and its bytes. */
struct kst_cert_file {
	unsigned long long dev, ino;
	long long size, mtime_ns, ctime_ns;
	unsigned char sha256[32]; /* of the content */
};

struct kst_cert {
	const struct kst_cert_conf *conf; /* owned by the generation's config */
	char *name;			  /* short: section name or basename */
	X509 *leaf;
	STACK_OF(X509) * chain; /* the certificates after the leaf, in order */
	X509 *issuer;		/* get0: chain[0], or the leaf if self-issued */
	EVP_PKEY *key;
	enum kst_key_kind kind;
	int curve_nid; /* ECDSA curve */
	unsigned char sha256[32];
	char fingerprint[65]; /* lower-case hex of sha256 */
	char subject_cn[64];
	char **names; /* lower-case DNS names, "*.example.com" for wildcards */
	size_t n_names;
	time_t not_before, not_after;
	bool must_staple; /* RFC 7633 TLS feature status_request */
	bool self_issued;
	char **ocsp_urls; /* the override list, else the AIA OCSP URLs */
	size_t n_ocsp_urls;
	char *staple_path;	     /* operator's staple file */
	int policy;		     /* effective enum kst_policy */
	bool stapling;		     /* effective */
	bool fetch;		     /* effective */
	struct kst_certstate *state; /* reference */
	char *pem_path, *key_path;   /* as read (key_path: the PEM's) */
	struct kst_cert_file pem_file, key_file;
	bool reused; /* leaf, chain, key shared with the previous generation */
};

/*
 * Loads cc's PEM (and key file), checking that: the PEM holds a
 * certificate; a private key is present, matches it, and its file is
 * readable by the owner only; the leaf's issuer follows it (unless
 * self-issued) and the chain is in order. Errors go to diag with cc's
 * lines; returns -EINVAL then.
 */
int kst_cert_load(const struct kst_config *conf, const struct kst_cert_conf *cc,
		  struct kst_diag *diag, struct kst_cert **out);
/*
 * The same, for a reload: when prev (the previous generation's
 * certificate for this configuration entry, or NULL) read the same files
 * and they are unchanged (same device, inode, size, mtime and ctime, or
 * else the same bytes by SHA-256), its leaf, chain and key are shared
 * (reused is set) instead of parsed and verified again; the key file's
 * mode and owner are checked again either way.
 */
int kst_cert_load_reuse(const struct kst_config *conf,
			const struct kst_cert_conf *cc,
			const struct kst_cert *prev,
			struct kst_cert_loader *loader, struct kst_diag *diag,
			struct kst_cert **out);
void kst_cert_loader_fini(struct kst_cert_loader *l);
void kst_cert_free(struct kst_cert *c);
const char *kst_cert_kind_name(const struct kst_cert *c);

#endif
