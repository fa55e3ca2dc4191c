/* SPDX-License-Identifier: MIT */
/*
 * Pure description of what the kernel's TLS record layer accepts, and
 * building its crypto_info from a key, an iv and a record sequence number.
 * Two tables: the kernel ciphers (struct sizes from linux/tls.h) and the TLS
 * suites kstapled hands to them. TLS 1.3 keys are derived here from a
 * traffic secret (HKDF-Expand-Label through OpenSSL's TLS13-KDF), because
 * OpenSSL 3.0 never installs TLS 1.3 RX itself. No I/O, no sockets, no
 * logging: everything is a function of its arguments.
 *
 * Every buffer that these functions fill holds key material: callers wipe
 * it with OPENSSL_cleanse on every path.
 */
#ifndef KST_KTLS_CRYPTO_INFO_H
#define KST_KTLS_CRYPTO_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <linux/tls.h>

/* Every TLS 1.2 AEAD and TLS 1.3 suite we hand off uses a 12-byte nonce. */
#define KST_KTLS_IV_LEN	     12
#define KST_KTLS_MAX_KEY_LEN 32
/* The largest TLS 1.3 traffic secret (SHA-384). */
#define KST_KTLS_MAX_SECRET_LEN 48

/* One kernel cipher (TLS_CIPHER_*): the field sizes of its crypto_info. */
struct kst_ktls_cipher {
	uint16_t type;	    /* TLS_CIPHER_AES_GCM_128, ... */
	const char *name;   /* as `ss` prints it: "aes-gcm-128" */
	uint8_t key_len;    /* key field */
	uint8_t iv_len;	    /* iv field (the explicit part for GCM/CCM) */
	uint8_t salt_len;   /* salt field (implicit nonce prefix; 0 ChaCha) */
	socklen_t info_len; /* exact size setsockopt/getsockopt accept */
};

/* One TLS cipher suite that maps onto a kernel cipher. */
struct kst_ktls_suite {
	uint16_t version;   /* TLS1_2_VERSION (0x0303) or TLS1_3_VERSION */
	uint16_t id;	    /* IANA suite id, SSL_CIPHER_get_id() & 0xffff */
	const char *name;   /* IANA name */
	const char *digest; /* TLS 1.3 HKDF hash ("SHA256"); NULL for 1.2 */
	uint8_t secret_len; /* TLS 1.3 traffic secret size; 0 for 1.2 */
	const struct kst_ktls_cipher *cipher;
};

/* Large enough for any crypto_info this module builds or reads back. */
union kst_ktls_crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_aes_ccm_128 ccm128;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/*
 * The suite for a negotiated version and suite id, or NULL (errno
 * EPROTONOSUPPORT for a version other than 1.2/1.3, ENOENT for a suite the
 * kernel can't or kstapled won't run: CBC suites, TLS 1.3 CCM (0x1304,
 * which OpenSSL 3.0 refuses to offload even for TX)).
 */
const struct kst_ktls_suite *kst_ktls_suite_find(uint16_t tls_version,
						 uint16_t suite_id);
/* The kernel cipher for a TLS_CIPHER_* value, or NULL (errno ENOENT). */
const struct kst_ktls_cipher *kst_ktls_cipher_find(uint16_t cipher_type);

/*
 * TLS 1.3 traffic key and iv from a traffic secret (RFC 8446 7.3):
 * key = HKDF-Expand-Label(secret, "key", "", s->cipher->key_len),
 * iv = HKDF-Expand-Label(secret, "iv", "", 12), with the suite's hash.
 * secret_len must be the suite's. 0, -EINVAL (wrong suite or length) or
 * -EIO (OpenSSL failed; its error queue is left for the caller). key and iv
 * are wiped on failure.
 */
int kst_ktls_tls13_derive(const struct kst_ktls_suite *s,
			  const unsigned char *secret, size_t secret_len,
			  unsigned char *key, unsigned char *iv);

/*
 * The next TLS 1.3 application traffic secret (RFC 8446 7.2): next =
 * HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), with the
 * suite's hash; secret_len must be the suite's, next has room for it. 0,
 * -EINVAL or -EIO; next is wiped on failure.
 */
int kst_ktls_tls13_next_secret(const struct kst_ktls_suite *s,
			       const unsigned char *secret, size_t secret_len,
			       unsigned char *next);

/*
 * The crypto_info for one direction: version and cipher from the suite,
 * key (s->cipher->key_len bytes), the 12-byte iv split as the kernel wants
 * it (GCM/CCM: salt = iv[0..3], iv field = iv[4..11]; ChaCha: iv field =
 * all 12 bytes, no salt) and rec_seq big-endian. For TLS 1.2 "iv" is the
 * 4-byte implicit nonce followed by the 8-byte explicit nonce. *out_len is
 * the exact size to pass to setsockopt. 0 or -EINVAL.
 */
int kst_ktls_crypto_info_build(const struct kst_ktls_suite *s,
			       const unsigned char *key,
			       const unsigned char *iv, uint64_t rec_seq,
			       union kst_ktls_crypto_info *out,
			       socklen_t *out_len);

/*
 * The record sequence number in a full crypto_info (e.g. read back from the
 * kernel), or -EINVAL when its cipher is unknown. Reads only rec_seq.
 */
int kst_ktls_crypto_info_rec_seq(const union kst_ktls_crypto_info *ci,
				 uint64_t *rec_seq);

#endif
