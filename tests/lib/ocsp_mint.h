/* SPDX-License-Identifier: MIT */
/*
 * Mints OCSP responses (and short-lived signer certificates) for tests,
 * with every field chosen: times, statuses, CertID hash, signer, several
 * single responses, non-successful statuses. The openssl CLI cannot make
 * most of these; unit tests, the daemon's integration tests (staple files
 * with a short nextUpdate) and the loopback responder tool all use them.
 *
 * Every DER buffer these return is OPENSSL_malloc'd: free it with
 * OPENSSL_free() (so it may also be handed to OpenSSL, e.g. as a staple).
 * Functions return 0 or -errno: -EINVAL for bad arguments or a request
 * OpenSSL refuses (the reason stays on its error queue), -ENOMEM, -ENOENT
 * for a test PKI file that is missing.
 */
#ifndef KST_OCSP_MINT_H
#define KST_OCSP_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

/* One SingleResponse: the status of cert as issued by issuer. */
struct kst_mint_single {
	X509 *cert, *issuer; /* CertID of cert as issued by issuer */
	const EVP_MD *id_md; /* CertID hash; NULL = SHA-1 */
	int status;	     /* V_OCSP_CERTSTATUS_GOOD/REVOKED/UNKNOWN */
	int reason;	     /* revoked: OCSP_REVOKED_STATUS_*, -1 none */
	time_t revoked_at;   /* revoked only */
	time_t this_update;
	time_t next_update; /* 0 = absent */
};

struct kst_mint {
	int response_status; /* OCSP_RESPONSE_STATUS_*; non-successful ones
				carry no body and need nothing else */
	const struct kst_mint_single *singles;
	size_t n;	      /* 0 is allowed: a response about nothing */
	X509 *signer;	      /* responder certificate ... */
	EVP_PKEY *signer_key; /* ... and its key (OpenSSL checks they match) */
	bool include_signer;  /* put the signer certificate in the response */
	bool respid_by_key;   /* responderID byKey instead of byName */
	time_t produced_at;   /* 0 = the current time */
};

int kst_mint_ocsp(const struct kst_mint *m, unsigned char **der, size_t *len);

/*
 * From the test PKI (kst_test_cert/kst_test_key): one single response for
 * leaf_name as issued by "int", signed by signer_name ("int" is the issuer
 * itself, "ocsp-signer" a delegated signer, "ocsp-noeku", "rogue-signer",
 * "rogue-ca", ...), signer certificate included, producedAt = this_update.
 * A revoked status gets reason keyCompromise, revoked an hour before
 * this_update. next_update 0 = absent.
 */
int kst_mint_simple(const char *leaf_name, int status, time_t this_update,
		    time_t next_update, const char *signer_name,
		    unsigned char **der, size_t *len);

/*
 * Writes der to path atomically (temporary file, fsync, rename), as the
 * daemon's fetcher does, so a watcher never reads half a staple.
 */
int kst_mint_write(const char *path, const unsigned char *der, size_t len);

/*
 * Flips one bit in the middle of the signature of a DER OCSP response in
 * place: the DER still parses, the signature no longer verifies.
 */
int kst_mint_flip_signature(unsigned char *der, size_t len);

/* A certificate issued by issuer (ECDSA P-256 key, SHA-256 signature). */
struct kst_mint_cert {
	const char *cn;
	X509 *issuer;
	EVP_PKEY *issuer_key;
	time_t not_before, not_after;
	bool ocsp_signing; /* EKU id-kp-OCSPSigning: a delegated OCSP signer */
};

int kst_mint_cert(const struct kst_mint_cert *c, X509 **cert, EVP_PKEY **key);

#endif
