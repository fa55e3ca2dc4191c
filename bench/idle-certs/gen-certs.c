// SPDX-License-Identifier: MIT
/*
 * Mints N ECDSA P-256 leaf certificates for benchmarks, fast and in
 * process: one self-signed issuer (ECDSA P-256) and one leaf key shared by
 * every leaf (each leaf differs in serial, subject and SAN, so each is its
 * own certificate to kstapled). Writes into OUTDIR:
 *   ca.crt             the issuer
 *   c<i>.pem           leaf, issuer and key (mode 0600: a `cert =` file)
 *   certs.conf         `cert = OUTDIR/c<i>.pem` lines, one per leaf
 * The leaves have no OCSP URL. Built and run by bench/idle-certs.sh:
 *   gen-certs OUTDIR N
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static EVP_PKEY *gen_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static X509 *mint(long serial, const char *cn, const char *san, EVP_PKEY *pub,
		  X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	if (x == NULL || name == NULL)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_key_identifier,
				  "hash");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ca) {
		ext = X509V3_EXT_conf_nid(
			NULL, &ctx, NID_authority_key_identifier, "keyid");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
					  san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	} else {
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
					  "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, ikey, EVP_sha256()) == 0)
		goto fail;
	X509_NAME_free(name);
	return x;
fail:
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

int main(int argc, char **argv)
{
	char path[4096], cn[64], san[80];
	EVP_PKEY *cakey, *key;
	FILE *f, *conf;
	X509 *ca;
	long n;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: gen-certs OUTDIR N\n");
		return 2;
	}
	cakey = gen_key();
	key = gen_key();
	ca = cakey ? mint(1, "kstapled bench CA", NULL, cakey, NULL, cakey, 1)
		   : NULL;
	if (key == NULL || ca == NULL) {
		fprintf(stderr, "gen-certs: key or CA failed\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", argv[1]);
	f = fopen(path, "we");
	if (f == NULL || !PEM_write_X509(f, ca) || fclose(f) != 0) {
		fprintf(stderr, "gen-certs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/certs.conf", argv[1]);
	conf = fopen(path, "we");
	if (conf == NULL) {
		fprintf(stderr, "gen-certs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (long i = 0; i < n; i++) {
		X509 *leaf;
		int fd;

		snprintf(cn, sizeof(cn), "c%ld.bench.test", i);
		snprintf(san, sizeof(san), "DNS:%s", cn);
		leaf = mint(1000 + i, cn, san, key, ca, cakey, 0);
		snprintf(path, sizeof(path), "%s/c%ld.pem", argv[1], i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (leaf == NULL || f == NULL || !PEM_write_X509(f, leaf) ||
		    !PEM_write_X509(f, ca) ||
		    !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
		    fclose(f) != 0) {
			fprintf(stderr, "gen-certs: %s: failed\n", path);
			return 1;
		}
		fprintf(conf, "cert = %s\n", path);
		X509_free(leaf);
	}
	if (fclose(conf) != 0)
		return 1;
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return 0;
}
