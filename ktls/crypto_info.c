// SPDX-License-Identifier: MIT
/*
 * The cipher and suite tables, TLS 1.3 key derivation and crypto_info
 * building (see crypto_info.h). Kernel struct layouts are pinned to
 * linux/tls.h by static assertions, so a header that disagrees with what
 * this file writes stops the build instead of corrupting a connection.
 * One code path serves every cipher: the tables give the field sizes, and
 * the kernel structs share one layout (info, iv, key, salt, rec_seq).
 */
#include "ktls/crypto_info.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

static int ktls_expand_label(const char *digest, const unsigned char *secret,
			     size_t secret_len, const char *label,
			     unsigned char *out, size_t out_len);

/* rec_seq is the last field of every struct, 8 bytes for every cipher. */
#define KTLS_REC_SEQ_LEN 8

/* The kernel ABI this file writes: sizes, and one shared field order. */
#define KTLS_ASSERT_LAYOUT(st, pfx, size)                                  \
	_Static_assert(sizeof(struct st) == (size), #st " size");          \
	_Static_assert(sizeof(((struct st *)0)->iv) == pfx##_IV_SIZE,      \
		       #st " iv");                                         \
	_Static_assert(sizeof(((struct st *)0)->key) == pfx##_KEY_SIZE,    \
		       #st " key");                                        \
	_Static_assert(sizeof(((struct st *)0)->rec_seq) ==                \
				       pfx##_REC_SEQ_SIZE &&               \
			       pfx##_REC_SEQ_SIZE == KTLS_REC_SEQ_LEN,     \
		       #st " rec_seq");                                    \
	_Static_assert(pfx##_SALT_SIZE + pfx##_IV_SIZE == KST_KTLS_IV_LEN, \
		       #st " salt + iv is the 12-byte nonce");             \
	_Static_assert(offsetof(struct st, iv) == 4, #st " iv offset");    \
	_Static_assert(offsetof(struct st, key) == 4 + pfx##_IV_SIZE,      \
		       #st " key offset");                                 \
	_Static_assert(offsetof(struct st, salt) ==                        \
			       4 + pfx##_IV_SIZE + pfx##_KEY_SIZE,         \
		       #st " salt offset");                                \
	_Static_assert(offsetof(struct st, rec_seq) ==                     \
			       4 + pfx##_IV_SIZE + pfx##_KEY_SIZE +        \
				       pfx##_SALT_SIZE,                    \
		       #st " rec_seq offset");                             \
	_Static_assert(offsetof(struct st, rec_seq) + KTLS_REC_SEQ_LEN ==  \
			       (size),                                     \
		       #st " rec_seq is last")

_Static_assert(sizeof(struct tls_crypto_info) == 4, "tls_crypto_info");
KTLS_ASSERT_LAYOUT(tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128, 40);
KTLS_ASSERT_LAYOUT(tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256, 56);
KTLS_ASSERT_LAYOUT(tls12_crypto_info_aes_ccm_128, TLS_CIPHER_AES_CCM_128, 40);
KTLS_ASSERT_LAYOUT(tls12_crypto_info_chacha20_poly1305,
		   TLS_CIPHER_CHACHA20_POLY1305, 56);
_Static_assert(TLS1_2_VERSION == TLS_1_2_VERSION &&
		       TLS1_3_VERSION == TLS_1_3_VERSION,
	       "OpenSSL and kernel version numbers agree");

#define KTLS_CIPHER(t, n, pfx, st)                                    \
	{                                                             \
		.type = (t), .name = (n), .key_len = pfx##_KEY_SIZE,  \
		.iv_len = pfx##_IV_SIZE, .salt_len = pfx##_SALT_SIZE, \
		.info_len = sizeof(struct st),                        \
	}

static const struct kst_ktls_cipher kst_ktls_gcm128 =
	KTLS_CIPHER(TLS_CIPHER_AES_GCM_128, "aes-gcm-128",
		    TLS_CIPHER_AES_GCM_128, tls12_crypto_info_aes_gcm_128);
static const struct kst_ktls_cipher kst_ktls_gcm256 =
	KTLS_CIPHER(TLS_CIPHER_AES_GCM_256, "aes-gcm-256",
		    TLS_CIPHER_AES_GCM_256, tls12_crypto_info_aes_gcm_256);
static const struct kst_ktls_cipher kst_ktls_ccm128 =
	KTLS_CIPHER(TLS_CIPHER_AES_CCM_128, "aes-ccm-128",
		    TLS_CIPHER_AES_CCM_128, tls12_crypto_info_aes_ccm_128);
static const struct kst_ktls_cipher kst_ktls_chacha = KTLS_CIPHER(
	TLS_CIPHER_CHACHA20_POLY1305, "chacha20-poly1305",
	TLS_CIPHER_CHACHA20_POLY1305, tls12_crypto_info_chacha20_poly1305);
static const struct kst_ktls_cipher *const kst_ktls_ciphers[] = {
	&kst_ktls_gcm128,
	&kst_ktls_gcm256,
	&kst_ktls_ccm128,
	&kst_ktls_chacha,
};

#define KTLS_TLS13(id, n, d, len, c)                       \
	{                                                  \
		TLS1_3_VERSION, (id), (n), (d), (len), (c) \
	}
#define KTLS_TLS12(id, n, c)                            \
	{                                               \
		TLS1_2_VERSION, (id), (n), NULL, 0, (c) \
	}

/*
 * TLS 1.2: the AEAD suites OpenSSL 3.0 offloads (CCM only with the 16-byte
 * tag; CCM_8 has no kernel cipher). TLS 1.3: the three suites kstapled
 * installs RX for; TLS_AES_128_CCM_SHA256 is absent on purpose.
 */
static const struct kst_ktls_suite kst_ktls_suites[] = {
	KTLS_TLS13(0x1301, "TLS_AES_128_GCM_SHA256", "SHA256", 32,
		   &kst_ktls_gcm128),
	KTLS_TLS13(0x1302, "TLS_AES_256_GCM_SHA384", "SHA384", 48,
		   &kst_ktls_gcm256),
	KTLS_TLS13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "SHA256", 32,
		   &kst_ktls_chacha),
	KTLS_TLS12(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", &kst_ktls_gcm128),
	KTLS_TLS12(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", &kst_ktls_gcm256),
	KTLS_TLS12(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
		   &kst_ktls_gcm128),
	KTLS_TLS12(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
		   &kst_ktls_gcm256),
	KTLS_TLS12(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		   &kst_ktls_gcm128),
	KTLS_TLS12(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		   &kst_ktls_gcm256),
	KTLS_TLS12(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		   &kst_ktls_gcm128),
	KTLS_TLS12(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		   &kst_ktls_gcm256),
	KTLS_TLS12(0xc09c, "TLS_RSA_WITH_AES_128_CCM", &kst_ktls_ccm128),
	KTLS_TLS12(0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM", &kst_ktls_ccm128),
	KTLS_TLS12(0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
		   &kst_ktls_ccm128),
	KTLS_TLS12(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		   &kst_ktls_chacha),
	KTLS_TLS12(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		   &kst_ktls_chacha),
	KTLS_TLS12(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
		   &kst_ktls_chacha),
};

const struct kst_ktls_suite *kst_ktls_suite_find(uint16_t tls_version,
						 uint16_t suite_id)
{
	if (tls_version != TLS1_2_VERSION && tls_version != TLS1_3_VERSION) {
		errno = EPROTONOSUPPORT;
		return NULL;
	}
	for (size_t i = 0;
	     i < sizeof(kst_ktls_suites) / sizeof(kst_ktls_suites[0]); i++) {
		const struct kst_ktls_suite *s = &kst_ktls_suites[i];

		if (s->version == tls_version && s->id == suite_id)
			return s;
	}
	errno = ENOENT;
	return NULL;
}

const struct kst_ktls_cipher *kst_ktls_cipher_find(uint16_t cipher_type)
{
	for (size_t i = 0;
	     i < sizeof(kst_ktls_ciphers) / sizeof(kst_ktls_ciphers[0]); i++) {
		if (kst_ktls_ciphers[i]->type == cipher_type)
			return kst_ktls_ciphers[i];
	}
	errno = ENOENT;
	return NULL;
}

/* HKDF-Expand-Label(secret, label, "", out_len), RFC 8446 7.1. */
static int ktls_expand_label(const char *digest, const unsigned char *secret,
			     size_t secret_len, const char *label,
			     unsigned char *out, size_t out_len)
{
	static const char prefix[] = "tls13 ";
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest,
				       0),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY,
					(unsigned char *)secret, secret_len),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, (char *)prefix,
					sizeof(prefix) - 1),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, (char *)label,
					strlen(label)),
		OSSL_PARAM_END,
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
	EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
	int ret = -EIO;

	if (kctx != NULL && EVP_KDF_derive(kctx, out, out_len, params) == 1)
		ret = 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

int kst_ktls_tls13_derive(const struct kst_ktls_suite *s,
			  const unsigned char *secret, size_t secret_len,
			  unsigned char *key, unsigned char *iv)
{
	int err;

	if (s == NULL || s->version != TLS1_3_VERSION || secret == NULL ||
	    secret_len != s->secret_len || key == NULL || iv == NULL)
		return -EINVAL;
	err = ktls_expand_label(s->digest, secret, secret_len, "key", key,
				s->cipher->key_len);
	if (err == 0)
		err = ktls_expand_label(s->digest, secret, secret_len, "iv", iv,
					KST_KTLS_IV_LEN);
	if (err != 0) {
		OPENSSL_cleanse(key, s->cipher->key_len);
		OPENSSL_cleanse(iv, KST_KTLS_IV_LEN);
	}
	return err;
}

int kst_ktls_tls13_next_secret(const struct kst_ktls_suite *s,
			       const unsigned char *secret, size_t secret_len,
			       unsigned char *next)
{
	int err;

	if (s == NULL || s->version != TLS1_3_VERSION || secret == NULL ||
	    secret_len != s->secret_len || next == NULL)
		return -EINVAL;
	err = ktls_expand_label(s->digest, secret, secret_len, "traffic upd",
				next, secret_len);
	if (err != 0)
		OPENSSL_cleanse(next, secret_len);
	return err;
}

/*
 * Offsets of the shared field order (asserted above): the nonce prefix
 * (salt) comes from the front of the 12-byte iv and the rest goes in the iv
 * field, which for ChaCha is the whole nonce.
 */
int kst_ktls_crypto_info_build(const struct kst_ktls_suite *s,
			       const unsigned char *key,
			       const unsigned char *iv, uint64_t rec_seq,
			       union kst_ktls_crypto_info *out,
			       socklen_t *out_len)
{
	const struct kst_ktls_cipher *c = s != NULL ? s->cipher : NULL;
	unsigned char *p = (unsigned char *)out;
	size_t iv_off = sizeof(struct tls_crypto_info);
	size_t key_off = iv_off + (c != NULL ? c->iv_len : 0);
	size_t salt_off = key_off + (c != NULL ? c->key_len : 0);
	size_t seq_off = salt_off + (c != NULL ? c->salt_len : 0);
	uint64_t seq = rec_seq;

	if (c == NULL || key == NULL || iv == NULL || out == NULL ||
	    out_len == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->info.version = s->version;
	out->info.cipher_type = c->type;
	memcpy(p + iv_off, iv + c->salt_len, c->iv_len);
	memcpy(p + key_off, key, c->key_len);
	memcpy(p + salt_off, iv, c->salt_len);
	for (size_t i = KTLS_REC_SEQ_LEN; i-- > 0; seq >>= 8)
		p[seq_off + i] = (unsigned char)(seq & 0xff);
	*out_len = c->info_len;
	return 0;
}

int kst_ktls_crypto_info_rec_seq(const union kst_ktls_crypto_info *ci,
				 uint64_t *rec_seq)
{
	const struct kst_ktls_cipher *c =
		ci != NULL ? kst_ktls_cipher_find(ci->info.cipher_type) : NULL;
	const unsigned char *p = (const unsigned char *)ci;
	size_t off;
	uint64_t v = 0;

	if (c == NULL || rec_seq == NULL)
		return -EINVAL;
	off = c->info_len - KTLS_REC_SEQ_LEN;
	for (size_t i = 0; i < KTLS_REC_SEQ_LEN; i++)
		v = v << 8 | p[off + i];
	*rec_seq = v;
	return 0;
}
