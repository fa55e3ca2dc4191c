// SPDX-License-Identifier: MIT
/*
 * crypto_info building and TLS 1.3 key derivation, without a kernel.
 *
 * Where the expected bytes come from:
 * - RFC 8448 section 3 (simple 1-RTT): the client and server application
 *   traffic secrets, their AES-128-GCM key/iv, and the client's first
 *   application_data record (50 bytes 00..31). The GCM tag makes that
 *   record self-checking: it only decrypts with the right key and nonce.
 * - SHA-384 (AES-256-GCM) and ChaCha20 (32-byte key) vectors, which RFC
 *   8448 lacks, were computed two independent ways that agree: Python's
 *   hmac module running RFC 5869 HKDF-Expand over a hand-built HkdfLabel,
 *   and `openssl kdf ... HKDF` in EXPAND_ONLY mode with that label as hex
 *   info. The test also recomputes them at run time through OpenSSL's
 *   "HKDF" with the hand-built label (not the TLS13-KDF the module uses).
 * - Kernel field placement is read through the linux/tls.h struct members
 *   here, never through the module's offsets.
 * - A live OpenSSL TLS 1.3 client (memory BIOs) encrypts records; they are
 *   opened the way the kernel does (nonce = salt|iv XOR rec_seq, header as
 *   AAD) with the crypto_info built from the client's keylog secret.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "ktls/crypto_info.h"
#include "tests/lib/testutil.h"

/* "9e 40 .." or "9e40.." into out; returns the byte count. */
static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = 0;

	while (*hex != '\0') {
		unsigned int b;

		if (*hex == ' ' || *hex == '\n') {
			hex++;
			continue;
		}
		cr_assert(sscanf(hex, "%2x", &b) == 1 && n < cap);
		out[n++] = (unsigned char)b;
		hex += 2;
	}
	return n;
}

/* The kernel struct fields of a crypto_info, by its cipher. */
struct fields {
	const unsigned char *iv, *key, *salt, *rec_seq;
	size_t iv_len, key_len, salt_len;
};

static struct fields fields_of(const union kst_ktls_crypto_info *ci)
{
#define F(m)                                                    \
	(struct fields)                                         \
	{                                                       \
		ci->m.iv, ci->m.key, ci->m.salt, ci->m.rec_seq, \
			sizeof(ci->m.iv), sizeof(ci->m.key),    \
			sizeof(ci->m.salt)                      \
	}
	switch (ci->info.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		return F(gcm128);
	case TLS_CIPHER_AES_GCM_256:
		return F(gcm256);
	case TLS_CIPHER_AES_CCM_128:
		return F(ccm128);
	case TLS_CIPHER_CHACHA20_POLY1305:
		return F(chacha);
	}
#undef F
	cr_assert_fail("unexpected cipher type %u", ci->info.cipher_type);
	return (struct fields){0};
}

/*
 * Open one TLS 1.3 record as the kernel would with this crypto_info and
 * record number: nonce = salt | iv, last 8 bytes XOR rec_seq + seq (both
 * big-endian), AAD = the 5-byte header. Returns the content length, sets
 * *inner to the inner content type; -1 when authentication fails.
 */
static int kernel_open(const union kst_ktls_crypto_info *ci, uint64_t seq,
		       const unsigned char *rec, size_t rec_len,
		       unsigned char *out, uint8_t *inner)
{
	struct fields f = fields_of(ci);
	const EVP_CIPHER *cipher =
		ci->info.cipher_type == TLS_CIPHER_AES_GCM_128
			? EVP_aes_128_gcm()
		: ci->info.cipher_type == TLS_CIPHER_AES_GCM_256
			? EVP_aes_256_gcm()
			: EVP_chacha20_poly1305();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[12];
	uint64_t base = 0;
	size_t ct_len = rec_len - 5 - 16;
	int n = 0, fin = 0, ok;

	memcpy(nonce, f.salt, f.salt_len);
	memcpy(nonce + f.salt_len, f.iv, f.iv_len);
	for (int i = 0; i < 8; i++)
		base = base << 8 | f.rec_seq[i];
	base += seq;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (unsigned char)(base >> (56 - 8 * i));
	ok = EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) == 1 &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, f.key, nonce) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, rec, 5) == 1 &&
	     EVP_DecryptUpdate(ctx, out, &n, rec + 5, (int)ct_len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16,
				 (void *)(rec + 5 + ct_len)) == 1 &&
	     EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return -1;
	n += fin;
	while (n > 0 && out[n - 1] == 0)
		n--;
	cr_assert(n > 0, "inner plaintext has no content type");
	*inner = out[n - 1];
	return n - 1;
}

/* HKDF-Expand-Label through OpenSSL "HKDF" with a hand-built HkdfLabel:
 * u16 length | u8 len("tls13 " label) | "tls13 " label | u8 0. */
static void expand_label_by_hand(const char *digest,
				 const unsigned char *secret, size_t secret_len,
				 const char *label, unsigned char *out,
				 size_t out_len)
{
	unsigned char info[64];
	size_t ll = 6 + strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	OSSL_PARAM p[5];

	info[n++] = (unsigned char)(out_len >> 8);
	info[n++] = (unsigned char)out_len;
	info[n++] = (unsigned char)ll;
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, strlen(label));
	n += ll;
	info[n++] = 0;
	p[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)digest, 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, secret_len);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	p[4] = OSSL_PARAM_construct_end();
	cr_assert(EVP_KDF_derive(kctx, out, out_len, p) == 1);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
}

#define RFC8448_C_AP                                      \
	"9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52" \
	"87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5"
#define RFC8448_S_AP                                      \
	"a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32" \
	"82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43"
#define SECRET_384                                                         \
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f" \
	"606162636465666768696a6b6c6d6e6f"

/* Criterion copies parameters into another process: arrays, no pointers. */
struct derive_case {
	char what[64];
	uint16_t suite;
	char secret[128], key[80], iv[32];
	bool rfc; /* published in RFC 8448 (else cross-checked, see top) */
};

ParameterizedTestParameters(crypto_info, derives_traffic_key_and_iv)
{
	static struct derive_case cases[] = {
		{"RFC 8448 client AES-128-GCM", 0x1301, RFC8448_C_AP,
		 "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9",
		 true},
		{"RFC 8448 server AES-128-GCM", 0x1301, RFC8448_S_AP,
		 "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984",
		 true},
		{"SHA-384 AES-256-GCM", 0x1302, SECRET_384,
		 "32f584230ad7bd6ea025e6e6cc16e757"
		 "358c962ebc8196f5433acae983fb668b",
		 "0e7c7d30272bc74a0c9833b2", false},
		{"ChaCha20-Poly1305 from the RFC 8448 client secret", 0x1303,
		 RFC8448_C_AP,
		 "c8afd24f48952725381a54085e8d8e38"
		 "56d8d89e3019243b30a9db54809a3732",
		 "5b78923dee08579033e523d9", false},
	};
	return cr_make_param_array(struct derive_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct derive_case *c, crypto_info,
		  derives_traffic_key_and_iv)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, c->suite);
	unsigned char secret[48], want_key[32], want_iv[12];
	unsigned char key[32], iv[12], hand_key[32], hand_iv[12];
	size_t slen = unhex(c->secret, secret, sizeof(secret));
	size_t klen = unhex(c->key, want_key, sizeof(want_key));

	cr_assert_not_null(s, "%s", c->what);
	unhex(c->iv, want_iv, sizeof(want_iv));
	cr_assert_eq(klen, s->cipher->key_len);
	cr_assert_eq(kst_ktls_tls13_derive(s, secret, slen, key, iv), 0);
	cr_assert_arr_eq(key, want_key, klen, "%s: key", c->what);
	cr_assert_arr_eq(iv, want_iv, 12, "%s: iv", c->what);
	if (!c->rfc) {
		expand_label_by_hand(s->digest, secret, slen, "key", hand_key,
				     klen);
		expand_label_by_hand(s->digest, secret, slen, "iv", hand_iv,
				     12);
		cr_assert_arr_eq(hand_key, want_key, klen);
		cr_assert_arr_eq(hand_iv, want_iv, 12);
	}
}

Test(crypto_info, derive_refuses_a_secret_of_the_wrong_hash_length)
{
	const struct kst_ktls_suite *s256 =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	const struct kst_ktls_suite *s384 =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1302);
	const struct kst_ktls_suite *tls12 =
		kst_ktls_suite_find(TLS1_2_VERSION, 0xc02b);
	unsigned char secret[48] = {1}, key[32], iv[12];

	cr_assert_eq(kst_ktls_tls13_derive(s256, secret, 48, key, iv), -EINVAL);
	cr_assert_eq(kst_ktls_tls13_derive(s384, secret, 32, key, iv), -EINVAL);
	cr_assert_eq(kst_ktls_tls13_derive(tls12, secret, 32, key, iv),
		     -EINVAL);
	cr_assert_eq(kst_ktls_tls13_derive(NULL, secret, 32, key, iv), -EINVAL);
}

/* RFC 8448 section 3, {client} send application_data record */
static const char rfc8448_client_record[] =
	"17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55"
	"cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39"
	"5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd"
	"1e 3d ea e6 3a ee bb 21 69 49 15 e4";

Test(crypto_info, crypto_info_from_rfc8448_secret_opens_its_client_record)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	unsigned char secret[32], key[16], iv[12], rec[128], pt[128];
	size_t rec_len = unhex(rfc8448_client_record, rec, sizeof(rec));
	union kst_ktls_crypto_info ci;
	socklen_t len = 0;
	uint8_t inner = 0;
	int n;

	unhex(RFC8448_C_AP, secret, sizeof(secret));
	cr_assert_eq(rec_len, 5 + 0x43);
	cr_assert_eq(kst_ktls_tls13_derive(s, secret, 32, key, iv), 0);
	cr_assert_eq(kst_ktls_crypto_info_build(s, key, iv, 0, &ci, &len), 0);
	n = kernel_open(&ci, 0, rec, rec_len, pt, &inner);
	cr_assert_eq(n, 50, "record did not authenticate or wrong length");
	cr_assert_eq(inner, 23);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(pt[i], i);
	/* the same record under another record number must not open */
	cr_assert_eq(kernel_open(&ci, 1, rec, rec_len, pt, &inner), -1);
}

struct layout_case {
	uint16_t version, suite, cipher_type;
	socklen_t len;
	size_t salt_len; /* nonce bytes that go to the salt field */
};

ParameterizedTestParameters(crypto_info, lays_out_salt_iv_key_and_rec_seq)
{
	static struct layout_case cases[] = {
		{TLS1_3_VERSION, 0x1301, TLS_CIPHER_AES_GCM_128, 40, 4},
		{TLS1_3_VERSION, 0x1302, TLS_CIPHER_AES_GCM_256, 56, 4},
		{TLS1_3_VERSION, 0x1303, TLS_CIPHER_CHACHA20_POLY1305, 56, 0},
		{TLS1_2_VERSION, 0xc02b, TLS_CIPHER_AES_GCM_128, 40, 4},
		{TLS1_2_VERSION, 0xc030, TLS_CIPHER_AES_GCM_256, 56, 4},
		{TLS1_2_VERSION, 0xcca9, TLS_CIPHER_CHACHA20_POLY1305, 56, 0},
		{TLS1_2_VERSION, 0xc0ac, TLS_CIPHER_AES_CCM_128, 40, 4},
	};
	return cr_make_param_array(struct layout_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct layout_case *c, crypto_info,
		  lays_out_salt_iv_key_and_rec_seq)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(c->version, c->suite);
	static const unsigned char seq_be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	unsigned char key[32], iv[12];
	union kst_ktls_crypto_info ci;
	socklen_t len = 0;
	struct fields f;

	cr_assert_not_null(s);
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)(0x10 + i);
	for (int i = 0; i < 12; i++)
		iv[i] = (unsigned char)(0xa0 + i);
	cr_assert_eq(kst_ktls_crypto_info_build(s, key, iv, 0x0102030405060708,
						&ci, &len),
		     0);
	cr_assert_eq(len, c->len);
	cr_assert_eq(ci.info.version, c->version);
	cr_assert_eq(ci.info.cipher_type, c->cipher_type);
	f = fields_of(&ci);
	cr_assert_eq(f.salt_len, c->salt_len);
	cr_assert_eq(f.salt_len + f.iv_len, 12);
	cr_assert_arr_eq(f.salt, iv, f.salt_len, "salt = iv[0..salt)");
	cr_assert_arr_eq(f.iv, iv + c->salt_len, f.iv_len, "iv = the rest");
	cr_assert_arr_eq(f.key, key, f.key_len);
	cr_assert_arr_eq(f.rec_seq, seq_be, 8, "rec_seq big-endian");
}

Test(crypto_info, reads_back_the_rec_seq_it_built)
{
	static const uint16_t suites[] = {0x1301, 0x1302, 0x1303};
	const uint64_t seqs[] = {0, 1, 72, 0xfffffffffffffffe};
	unsigned char key[32] = {0}, iv[12] = {0};

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		for (size_t j = 0; j < sizeof(seqs) / sizeof(seqs[0]); j++) {
			const struct kst_ktls_suite *s =
				kst_ktls_suite_find(TLS1_3_VERSION, suites[i]);
			union kst_ktls_crypto_info ci;
			socklen_t len;
			uint64_t got = 7;

			cr_assert_eq(kst_ktls_crypto_info_build(
					     s, key, iv, seqs[j], &ci, &len),
				     0);
			cr_assert_eq(kst_ktls_crypto_info_rec_seq(&ci, &got),
				     0);
			cr_assert_eq(got, seqs[j]);
		}
	}
}

Test(crypto_info, rec_seq_of_an_unknown_cipher_is_refused)
{
	union kst_ktls_crypto_info ci = {.info = {TLS1_3_VERSION, 55}};
	uint64_t seq;

	cr_assert_eq(kst_ktls_crypto_info_rec_seq(&ci, &seq), -EINVAL);
}

struct refuse_case {
	uint16_t version, suite;
	int err;
};

ParameterizedTestParameters(crypto_info, refuses_suites_it_cannot_offload)
{
	static struct refuse_case cases[] = {
		{TLS1_3_VERSION, 0x1304, ENOENT}, /* TLS_AES_128_CCM_SHA256 */
		{TLS1_3_VERSION, 0x1305, ENOENT}, /* AES_128_CCM_8 */
		{TLS1_2_VERSION, 0xc0ae, ENOENT}, /* ECDHE-ECDSA CCM_8 */
		{TLS1_2_VERSION, 0xc009, ENOENT}, /* ECDHE-ECDSA AES128-CBC */
		{TLS1_2_VERSION, 0x1301, ENOENT}, /* 1.3 suite under 1.2 */
		{TLS1_3_VERSION, 0xc02b, ENOENT}, /* 1.2 suite under 1.3 */
		{TLS1_1_VERSION, 0xc02b, EPROTONOSUPPORT},
		{0x0305, 0x1301, EPROTONOSUPPORT},
	};
	return cr_make_param_array(struct refuse_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct refuse_case *c, crypto_info,
		  refuses_suites_it_cannot_offload)
{
	errno = 0;
	cr_assert_null(kst_ktls_suite_find(c->version, c->suite),
		       "%#x/%#x accepted", c->version, c->suite);
	cr_assert_eq(errno, c->err);
}

Test(crypto_info, build_refuses_missing_arguments)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, 0x1301);
	unsigned char key[16] = {0}, iv[12] = {0};
	union kst_ktls_crypto_info ci;
	socklen_t len;

	cr_assert_eq(kst_ktls_crypto_info_build(NULL, key, iv, 0, &ci, &len),
		     -EINVAL);
	cr_assert_eq(kst_ktls_crypto_info_build(s, NULL, iv, 0, &ci, &len),
		     -EINVAL);
	cr_assert_eq(kst_ktls_crypto_info_build(s, key, iv, 0, &ci, NULL),
		     -EINVAL);
}

Test(crypto_info, cipher_table_matches_kernel_struct_sizes)
{
	cr_assert_eq(kst_ktls_cipher_find(TLS_CIPHER_AES_GCM_128)->info_len,
		     sizeof(struct tls12_crypto_info_aes_gcm_128));
	cr_assert_eq(kst_ktls_cipher_find(TLS_CIPHER_AES_GCM_256)->info_len,
		     sizeof(struct tls12_crypto_info_aes_gcm_256));
	cr_assert_eq(kst_ktls_cipher_find(TLS_CIPHER_AES_CCM_128)->info_len,
		     sizeof(struct tls12_crypto_info_aes_ccm_128));
	cr_assert_eq(
		kst_ktls_cipher_find(TLS_CIPHER_CHACHA20_POLY1305)->info_len,
		sizeof(struct tls12_crypto_info_chacha20_poly1305));
	cr_assert_null(kst_ktls_cipher_find(TLS_CIPHER_SM4_GCM));
}

/* ---- a live OpenSSL client, records opened with our crypto_info ---- */

struct keylog {
	unsigned char secret[48];
	size_t len;
};

static struct keylog client_keylog;

static void client_keylog_cb(const SSL *ssl, const char *line)
{
	const char *label = "CLIENT_TRAFFIC_SECRET_0 ";

	(void)ssl;
	if (strncmp(line, label, strlen(label)) == 0)
		client_keylog.len =
			unhex(line + strlen(label) + 65, client_keylog.secret,
			      sizeof(client_keylog.secret));
}

/* Move whatever one side wrote to the other side's read BIO. */
static void shuttle(SSL *from, SSL *to)
{
	char buf[4096];
	int n;

	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0)
		cr_assert_eq(BIO_write(SSL_get_rbio(to), buf, n), n);
}

static void memory_handshake(SSL *c, SSL *s)
{
	int cd = 0, sd = 0;

	for (int i = 0; i < 20 && !(cd == 1 && sd == 1); i++) {
		if (cd != 1)
			cd = SSL_do_handshake(c);
		shuttle(c, s);
		if (sd != 1)
			sd = SSL_do_handshake(s);
		shuttle(s, c);
	}
	cr_assert(cd == 1 && sd == 1, "handshake did not finish");
}

static SSL *memory_ssl(SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);

	cr_assert_not_null(ssl);
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	return ssl;
}

ParameterizedTestParameters(crypto_info, opens_records_of_a_live_client)
{
	static uint16_t suites[] = {0x1301, 0x1302, 0x1303};

	return cr_make_param_array(uint16_t, suites,
				   sizeof(suites) / sizeof(suites[0]));
}

ParameterizedTest(uint16_t *suite, crypto_info, opens_records_of_a_live_client)
{
	const struct kst_ktls_suite *s =
		kst_ktls_suite_find(TLS1_3_VERSION, *suite);
	static const int sizes[] = {1, 300, 16384};
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	X509 *cert = kst_test_cert("localhost-ecdsa");
	EVP_PKEY *pkey = kst_test_key("localhost-ecdsa");
	unsigned char msg[16384], rec[16384 + 256], pt[16384 + 256];
	unsigned char key[32], iv[12];
	union kst_ktls_crypto_info ci;
	socklen_t len;
	SSL *c, *sv;

	cr_assert(sctx && cctx && cert && pkey && s);
	cr_assert(SSL_CTX_use_certificate(sctx, cert) == 1 &&
		  SSL_CTX_use_PrivateKey(sctx, pkey) == 1);
	cr_assert(SSL_CTX_set_ciphersuites(cctx, s->name) == 1);
	SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
	SSL_CTX_set_keylog_callback(cctx, client_keylog_cb);
	c = memory_ssl(cctx);
	sv = memory_ssl(sctx);
	SSL_set_connect_state(c);
	SSL_set_accept_state(sv);
	memory_handshake(c, sv);
	cr_assert_eq(client_keylog.len, s->secret_len);
	cr_assert_eq(kst_ktls_tls13_derive(s, client_keylog.secret,
					   client_keylog.len, key, iv),
		     0);
	cr_assert_eq(kst_ktls_crypto_info_build(s, key, iv, 0, &ci, &len), 0);
	for (size_t r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++) {
		uint8_t inner = 0;
		int n;

		memset(msg, 'a' + (int)r, (size_t)sizes[r]);
		cr_assert_eq(SSL_write(c, msg, sizes[r]), sizes[r]);
		n = BIO_read(SSL_get_wbio(c), rec, sizeof(rec));
		cr_assert_eq(n, 5 + sizes[r] + 1 + 16, "one record per write");
		cr_assert_eq(kernel_open(&ci, r, rec, (size_t)n, pt, &inner),
			     sizes[r], "record %zu did not open", r);
		cr_assert_eq(inner, 23);
		cr_assert_arr_eq(pt, msg, (size_t)sizes[r]);
	}
	SSL_free(c);
	SSL_free(sv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(cert);
	EVP_PKEY_free(pkey);
}
