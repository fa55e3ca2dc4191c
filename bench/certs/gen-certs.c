// SPDX-License-Identifier: MIT
/*
 * Mints N ECDSA P-256 certificates for the scale benchmark and the scale
 * test, fast and in process (OpenSSL's C API, no CLI process per
 * certificate): one ECDSA P-256 CA, and for each leaf its own key, a
 * certificate with one DNS name, and a good OCSP response signed by the
 * CA (DER, valid for a week). Writes into OUTDIR:
 *   ca.crt           the issuer
 *   c<i>.pem         leaf, issuer and key (mode 0600), as kstapled's
 *                    `cert =` and HAProxy's crt-list take it
 *   c<i>.pem.ocsp    the staple (kstapled's default staple path, and
 *                    HAProxy's)
 *   certs.conf       `cert = OUTDIR/c<i>.pem`, one line per leaf
 *   crt-list         OUTDIR/c<i>.pem, one line per leaf (HAProxy)
 * With -u URL, each leaf names URL as its OCSP responder (authority
 * information access); with -r RESPDIR, its response goes to
 * RESPDIR/<SERIAL>.der (serial in upper-case hex, as BN_bn2hex prints it,
 * what bench/certs/ocspd.c looks up) instead of beside the PEM: the cold
 * fetch benchmark (bench/certs.sh coldfetch) starts with no staple file.
 * Leaf i is named c<i>.<DOMAIN> (default bench.test). With FIRST, only
 * leaves FIRST..N-1 are (re)minted with new keys and serials (the files
 * listing them are left alone): how the benchmark and the test change a
 * few certificates before a reload. The CA is reused when OUTDIR has one
 * (ca.crt and ca.key).
 *
 *   gen-certs [-u URL] [-r RESPDIR] OUTDIR N [FIRST [DOMAIN]]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* -u and -r */
static const char *gen_url, *gen_respdir;

static EVP_PKEY *gen_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static void gen_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *v)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, v);

	if (ext != NULL)
		X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

static X509 *gen_mint(const char *cn, EVP_PKEY *pub, X509 *issuer,
		      EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509V3_CTX ctx;
	char san[300];

	if (x == NULL || name == NULL || RAND_bytes(serial, 16) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, 16, NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	gen_ext(x, &ctx, NID_basic_constraints,
		issuer ? "CA:FALSE" : "critical,CA:TRUE");
	gen_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (issuer != NULL) {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		gen_ext(x, &ctx, NID_authority_key_identifier, "keyid");
		gen_ext(x, &ctx, NID_subject_alt_name, san);
		if (gen_url != NULL) {
			snprintf(san, sizeof(san), "OCSP;URI:%s", gen_url);
			gen_ext(x, &ctx, NID_info_access, san);
		}
	} else {
		gen_ext(x, &ctx, NID_key_usage,
			"critical,keyCertSign,cRLSign,digitalSignature");
	}
	if (X509_sign(x, ikey, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	X509_NAME_free(name);
	return x;
fail:
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return NULL;
}

/* A good response for leaf, signed by the CA itself, valid for a week. */
static int gen_ocsp(const char *path, X509 *leaf, X509 *ca, EVP_PKEY *cakey)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, ca);
	ASN1_TIME *thisupd = X509_gmtime_adj(NULL, -3600);
	ASN1_TIME *nextupd = X509_gmtime_adj(NULL, 7 * 86400L);
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL;
	int len = -1, fd = -1, rc = -1;

	if (bs == NULL || id == NULL || thisupd == NULL || nextupd == NULL ||
	    OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL,
				   thisupd, nextupd) == NULL ||
	    OCSP_basic_sign(bs, ca, cakey, EVP_sha256(), NULL, OCSP_NOCERTS) !=
		    1)
		goto out;
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (resp == NULL || (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && write(fd, der, (size_t)len) == len)
		rc = 0;
out:
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	return rc;
}

static int gen_leaf(const char *dir, long i, const char *domain, X509 *ca,
		    EVP_PKEY *cakey)
{
	char path[4096], cn[256];
	EVP_PKEY *key = gen_key();
	X509 *leaf = NULL;
	FILE *f = NULL;
	int fd, rc = -1;

	snprintf(cn, sizeof(cn), "c%ld.%s", i, domain);
	leaf = key ? gen_mint(cn, key, ca, cakey) : NULL;
	snprintf(path, sizeof(path), "%s/c%ld.pem.tmp", dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (leaf != NULL && f != NULL && PEM_write_X509(f, leaf) &&
	    PEM_write_X509(f, ca) &&
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		rc = 0;
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	else if (f == NULL && fd >= 0)
		close(fd);
	if (rc == 0) {
		char final[4096];

		snprintf(final, sizeof(final), "%s/c%ld.pem", dir, i);
		rc = rename(path, final);
		snprintf(path, sizeof(path), "%s/c%ld.pem.ocsp", dir, i);
		if (gen_respdir != NULL) {
			BIGNUM *bn = ASN1_INTEGER_to_BN(
				X509_get0_serialNumber(leaf), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;

			snprintf(path, sizeof(path), "%s/%s.der", gen_respdir,
				 hex ? hex : "?");
			rc = hex ? rc : -1;
			OPENSSL_free(hex);
			BN_free(bn);
		}
		if (rc == 0)
			rc = gen_ocsp(path, leaf, ca, cakey);
	}
	if (rc < 0)
		fprintf(stderr, "gen-certs: c%ld: failed\n", i);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}

/* The CA of a previous run, or a new one. */
static int gen_ca(const char *dir, X509 **ca, EVP_PKEY **cakey)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.key", dir);
	f = fopen(path, "re");
	if (f != NULL) {
		*cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		snprintf(path, sizeof(path), "%s/ca.crt", dir);
		f = fopen(path, "re");
		*ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
		if (f != NULL)
			fclose(f);
		return *ca && *cakey ? 0 : -1;
	}
	*cakey = gen_key();
	*ca = *cakey ? gen_mint("kstapled scale bench CA", *cakey, NULL, *cakey)
		     : NULL;
	if (*ca == NULL)
		return -1;
	f = fopen(path, "we");
	if (f == NULL ||
	    !PEM_write_PrivateKey(f, *cakey, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	f = fopen(path, "we");
	if (f == NULL || !PEM_write_X509(f, *ca) || fclose(f) != 0)
		return -1;
	return 0;
}

static int gen_lists(const char *dir, long n)
{
	char path[4096];
	FILE *conf, *crt;

	snprintf(path, sizeof(path), "%s/certs.conf", dir);
	conf = fopen(path, "we");
	snprintf(path, sizeof(path), "%s/crt-list", dir);
	crt = fopen(path, "we");
	if (conf == NULL || crt == NULL)
		return -1;
	for (long i = 0; i < n; i++) {
		fprintf(conf, "cert = %s/c%ld.pem\n", dir, i);
		fprintf(crt, "%s/c%ld.pem\n", dir, i);
	}
	return fclose(conf) == 0 && fclose(crt) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *domain;
	long n, first;
	X509 *ca = NULL;
	EVP_PKEY *cakey = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "+u:r:")) != -1) {
		if (opt == 'u')
			gen_url = optarg;
		else if (opt == 'r')
			gen_respdir = optarg;
		else
			argc = 0; /* usage */
	}
	argc -= optind;
	argv += optind - 1;
	domain = argc > 3 ? argv[4] : "bench.test";
	first = argc > 2 ? strtol(argv[3], NULL, 10) : -1;
	if (argc < 2 || argc > 4 || (n = strtol(argv[2], NULL, 10)) <= 0 ||
	    argv[1][0] != '/') {
		fprintf(stderr, "usage: gen-certs [-u URL] [-r RESPDIR] "
				"/OUTDIR N [FIRST [DOMAIN]]\n");
		return 2;
	}
	if (gen_ca(argv[1], &ca, &cakey) < 0) {
		fprintf(stderr, "gen-certs: CA in %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	for (long i = first < 0 ? 0 : first; i < n; i++)
		if (gen_leaf(argv[1], i, domain, ca, cakey) < 0)
			return 1;
	if (first < 0 && gen_lists(argv[1], n) < 0) {
		fprintf(stderr, "gen-certs: lists: %s\n", strerror(errno));
		return 1;
	}
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return 0;
}
