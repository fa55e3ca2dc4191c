/* SPDX-License-Identifier: MIT */
/*
 * Choosing the certificate for a handshake, as pure functions of what the
 * ClientHello carries, so they are tested without a handshake:
 *
 *  - the server name, parsed from the raw server_name extension;
 *  - a name table per listener: exact names, then "*.parent" wildcards
 *    (one label deep, as RFC 6125 allows); no match gives the candidates
 *    of the listener's first certificate;
 *  - among the candidates for a name (say an ECDSA and an RSA certificate),
 *    the first servable one the client can verify, ECDSA preferred (it is
 *    cheaper for both sides), otherwise in configuration order.
 */
#ifndef KST_SNI_H
#define KST_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the client can verify, from signature_algorithms, supported_versions
 * and (for TLS 1.2) its cipher suites. */
struct kst_hello_caps {
	bool tls13;	  /* TLS 1.3 will be negotiated */
	bool has_sigalgs; /* signature_algorithms was sent */
	bool ecdsa_p256, ecdsa_p384, ecdsa_p521, ecdsa_any;
	bool rsa_pss, rsa_pkcs1, ed25519;
	bool suite12_ecdsa, suite12_rsa; /* a TLS 1.2 suite for that key type */
};

/* Candidate as the picker sees it. */
struct kst_sni_cand {
	int kind; /* enum kst_key_kind */
	int curve_nid;
	bool servable; /* the staple policy allows serving it now */
};

/* Longest host name (RFC 1035 2.3.4, without the trailing dot) and label. */
#define KST_SNI_NAME_MAX  253
#define KST_SNI_LABEL_MAX 63

enum kst_sni_name {
	KST_SNI_HOSTNAME,   /* LDH labels of 1..63, dot-separated */
	KST_SNI_IP_LITERAL, /* an IPv4 or IPv6 address */
	KST_SNI_INVALID,    /* anything else */
};

/*
 * What a server name is, by RFC 6066 3: a host name is ASCII letters,
 * digits and hyphens in labels of 1 to 63 bytes that neither begin nor
 * end with a hyphen, joined by single dots, at most 253 bytes, with no
 * trailing dot. RFC 6066 forbids IP literals: they are told apart so the
 * caller can treat them as no SNI rather than refuse the client.
 */
enum kst_sni_name kst_sni_classify(const char *name, size_t len);

/*
 * Host name from a server_name extension body, lower-cased into out.
 * 0: a host name, or an IP literal (out is then "": as if no SNI);
 * -EINVAL: the extension is malformed (not exactly one host_name entry);
 * -EILSEQ: well formed, but the name is not a host name (control bytes,
 * underscores, empty labels, trailing dot, too long): the handshake is
 * refused with unrecognized_name, so no such name reaches a log line or
 * a PROXY header.
 */
int kst_sni_parse(const unsigned char *ext, size_t len, char *out,
		  size_t outlen);

/* Fill caps from extension bodies (NULL when absent); the caller sets
 * suite12_ecdsa/suite12_rsa first, from the cipher list. */
void kst_hello_caps_parse(struct kst_hello_caps *caps,
			  const unsigned char *sigalgs, size_t sigalgs_len,
			  const unsigned char *versions, size_t versions_len,
			  int max_version);

/* Index of the chosen candidate, or -1 when none is servable and
 * verifiable by this client. */
int kst_sni_pick(const struct kst_hello_caps *caps,
		 const struct kst_sni_cand *cands, size_t n);

/* Name -> candidate list (indices into the listener's certs). */
struct kst_sni_entry {
	char *name;
	size_t *certs;
	size_t n;
};

struct kst_sni_table {
	struct kst_sni_entry *entries; /* sorted by name */
	size_t n;
	size_t default_entry; /* entry of the first cert's first name */
	size_t fallback[1];   /* when the first cert has no name at all */
};

/* names[i] lists cert i's names; certs in configuration order. */
int kst_sni_table_build(struct kst_sni_table *t, char *const *const *names,
			const size_t *n_names, size_t n_certs);
void kst_sni_table_free(struct kst_sni_table *t);
/* Candidates for a name (NULL = no SNI); never returns an empty list. */
const size_t *kst_sni_lookup(const struct kst_sni_table *t, const char *name,
			     size_t *n);

struct kst_cert;
struct kst_config;
struct kst_listener_conf;
struct kst_diag;
/*
 * Warns (in d, at the line of the later cert) about certificates of one
 * listener that serve the same SNI name with the same key type (kind and,
 * for ECDSA, curve): the earlier one in configuration order is served,
 * the later only when the earlier cannot be (its staple policy). A cert
 * listed twice (a `cert =` line and a cert-dir) is one certificate, not a
 * duplicate. At most a few warnings per listener, then a count. certs[i]
 * is the loaded certificate of lc->certs[i]; t the listener's SNI table.
 */
void kst_sni_warn_dups(const struct kst_config *conf,
		       const struct kst_listener_conf *lc,
		       const struct kst_sni_table *t,
		       struct kst_cert *const *certs, struct kst_diag *d);

#endif
