// SPDX-License-Identifier: MIT
/*
 * Shared by every libFuzzer target (see fuzz.h): libFuzzer's init hook,
 * which either runs the target's one-time set-up or, with KST_FUZZ_SEEDS
 * set, writes its seed corpus and exits; the input reader and seed writer;
 * deterministic Ed25519 keys and the certificates built on them.
 */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "daemon/base/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("KST_FUZZ_SEEDS");

	(void)argc;
	(void)argv;
	/* the daemon's log lines would drown libFuzzer's (KST_FUZZ_LOG=1
	 * keeps them, to see what a reproducer makes the daemon say) */
	if (getenv("KST_FUZZ_LOG") == NULL)
		kst_log_set_level(-1);
	if (kst_fuzz_init() < 0)
		kst_fuzz_fail("target set-up failed");
	if (seeds != NULL && seeds[0] != '\0') {
		if (mkdir(seeds, 0755) < 0 && errno != EEXIST)
			kst_fuzz_fail("mkdir %s: %s", seeds, strerror(errno));
		kst_fuzz_seeds(seeds);
		exit(0);
	}
	return 0;
}

void kst_fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("kst-fuzz: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	abort();
}

/* ------------------------------------------------------------ reader */

const uint8_t *kst_fuzz_bytes(struct kst_fuzz_in *in, size_t max, size_t *len)
{
	const uint8_t *p = in->p;
	size_t n = max < in->n ? max : in->n;

	in->p += n;
	in->n -= n;
	*len = n;
	return p;
}

uint8_t kst_fuzz_u8(struct kst_fuzz_in *in)
{
	size_t n;
	const uint8_t *p = kst_fuzz_bytes(in, 1, &n);

	return n == 1 ? p[0] : 0;
}

uint16_t kst_fuzz_u16(struct kst_fuzz_in *in)
{
	uint16_t lo = kst_fuzz_u8(in);

	return (uint16_t)(lo | (uint16_t)kst_fuzz_u8(in) << 8);
}

uint32_t kst_fuzz_u32(struct kst_fuzz_in *in)
{
	uint32_t lo = kst_fuzz_u16(in);

	return lo | (uint32_t)kst_fuzz_u16(in) << 16;
}

/* ------------------------------------------------------------ writer */

void kst_fuzz_put(struct kst_fuzz_out *o, const void *p, size_t n)
{
	if (n > sizeof(o->buf) - o->n)
		kst_fuzz_fail("seed larger than %zu bytes", sizeof(o->buf));
	memcpy(o->buf + o->n, p, n);
	o->n += n;
}

void kst_fuzz_put_u8(struct kst_fuzz_out *o, unsigned int v)
{
	uint8_t b = (uint8_t)v;

	kst_fuzz_put(o, &b, 1);
}

void kst_fuzz_put_u16(struct kst_fuzz_out *o, unsigned int v)
{
	kst_fuzz_put_u8(o, v & 0xff);
	kst_fuzz_put_u8(o, (v >> 8) & 0xff);
}

void kst_fuzz_put_u32(struct kst_fuzz_out *o, uint32_t v)
{
	kst_fuzz_put_u16(o, v & 0xffff);
	kst_fuzz_put_u16(o, v >> 16);
}

void kst_fuzz_seed_put(const char *dir, const char *name, const void *p,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		kst_fuzz_fail("cannot write %s", path);
}

/* ------------------------------------------------- keys, certificates */

EVP_PKEY *kst_fuzz_key(const char *label)
{
	unsigned char seed[SHA256_DIGEST_LENGTH];
	EVP_PKEY *k;

	SHA256((const unsigned char *)label, strlen(label), seed);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
					 sizeof(seed));
	OPENSSL_cleanse(seed, sizeof(seed));
	return k;
}

EVP_PKEY *kst_fuzz_key_ec(void)
{
	return EVP_EC_gen("P-256");
}

EVP_PKEY *kst_fuzz_key_rsa(void)
{
	return EVP_RSA_gen(2048);
}

static int fuzz_cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static int fuzz_cert_exts(X509 *x, X509 *issuer, const struct kst_fuzz_cert *c)
{
	int err =
		fuzz_cert_ext(x, issuer, NID_basic_constraints,
			      c->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");

	if (err == 0)
		err = fuzz_cert_ext(x, issuer, NID_key_usage,
				    c->ca ? "critical,keyCertSign,cRLSign,"
					    "digitalSignature"
					  : "critical,digitalSignature");
	if (err == 0)
		err = fuzz_cert_ext(x, issuer, NID_subject_key_identifier,
				    "hash");
	if (err == 0 && c->issuer != NULL)
		err = fuzz_cert_ext(x, issuer, NID_authority_key_identifier,
				    "keyid");
	if (err == 0 && c->ocsp_signing)
		err = fuzz_cert_ext(x, issuer, NID_ext_key_usage,
				    "OCSPSigning");
	if (err == 0 && c->san != NULL)
		err = fuzz_cert_ext(x, issuer, NID_subject_alt_name, c->san);
	return err;
}

X509 *kst_fuzz_cert_new(const struct kst_fuzz_cert *c)
{
	EVP_PKEY *ikey = c->issuer_key ? c->issuer_key : c->key;
	X509 *x = X509_new();
	X509 *issuer = c->issuer ? c->issuer : x;
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	const EVP_MD *md =
		EVP_PKEY_get_id(ikey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();

	if (x == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), c->serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)c->cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)1577836800) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)4102444800) ||
	    !X509_set_pubkey(x, c->key) || fuzz_cert_exts(x, issuer, c) < 0 ||
	    !X509_sign(x, ikey, md)) {
		X509_free(x);
		return NULL;
	}
	return x;
}
