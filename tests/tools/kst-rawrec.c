// SPDX-License-Identifier: MIT
/*
 * kst-rawrec: a TLS client that seals its own application records, for
 * what OpenSSL never sends: zero-length application-data records. TLS
 * allows them (RFC 8446 5.1: "Zero-length fragments of Application Data
 * MAY be sent"; RFC 5246 6.2.1 likewise) and a peer may use them against
 * traffic analysis; a kTLS receiver must not take one for the end of the
 * stream.
 *
 * OpenSSL does the handshake. Then the client's write key is derived here
 * (TLS 1.3: the client application traffic secret from the keylog
 * callback; TLS 1.2: the key expansion of the master secret) and every
 * record the client sends afterwards is sealed here with its own sequence
 * numbers, ending with a close_notify alert. Reading stays OpenSSL's. The
 * tool never calls SSL_write or SSL_shutdown: OpenSSL's write state no
 * longer matches the wire.
 *
 *   kst-rawrec -c HOST:PORT [--tls 1.2|1.3] [--suite NAME] --records LIST
 *              [--timeout SECS]
 *
 * LIST: record sizes, comma-separated, 0 for an empty record; the records
 * carry the default test pattern (tests/lib/pattern.h) in order. Then the
 * tool reads until close_notify or EOF and checks that what came back is
 * the bytes sent (an echo backend). Prints sent=, records=, recv=,
 * close_notify=, version=, cipher=; exit 0 when the echo is complete and
 * exact and ended with close_notify, 1 otherwise, 2 for a usage error.
 * Supported: the AES-GCM and ChaCha20-Poly1305 suites of both versions.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "daemon/base/util.h"
#include "ktls/crypto_info.h"
#include "tests/lib/pattern.h"
#include "tests/lib/toolutil.h"

#define RR_MAX_RECORD 16384
#define RR_TAG	      16

struct rr {
	int fd, version;
	SSL *ssl;
	const EVP_CIPHER *aead;
	unsigned char key[KST_KTLS_MAX_KEY_LEN], iv[KST_KTLS_IV_LEN];
	size_t key_len;
	bool explicit_nonce; /* TLS 1.2 GCM: 4-byte salt + 8 on the wire */
	uint64_t seq;
	unsigned char secret[KST_KTLS_MAX_SECRET_LEN]; /* TLS 1.3 keylog */
	size_t secret_len;
};

static struct rr rr = {.fd = -1};

static int rr_die(const char *what)
{
	char e[256] = "";

	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	fprintf(stderr, "kst-rawrec: %s%s%s\n", what, e[0] ? ": " : "", e);
	return -1;
}

static int rr_unhex(const char *hex, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < n; i++) {
		int v = OPENSSL_hexchar2int((unsigned char)hex[i]);

		if (v < 0)
			return -1;
		out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

/* "CLIENT_TRAFFIC_SECRET_0 <client_random> <secret>" */
static void rr_keylog(const SSL *ssl, const char *line)
{
	static const char lab[] = "CLIENT_TRAFFIC_SECRET_0 ";
	const char *hex;
	size_t n;

	(void)ssl;
	if (strncmp(line, lab, sizeof(lab) - 1) != 0 ||
	    strlen(line) < sizeof(lab) - 1 + 2 * SSL3_RANDOM_SIZE + 1)
		return;
	hex = line + sizeof(lab) - 1 + 2 * SSL3_RANDOM_SIZE + 1;
	n = strlen(hex);
	if ((n == 64 || n == 96) && rr_unhex(hex, n, rr.secret) == 0)
		rr.secret_len = n / 2;
}

static const EVP_CIPHER *rr_aead(uint16_t type)
{
	switch (type) {
	case TLS_CIPHER_AES_GCM_128:
		return EVP_aes_128_gcm();
	case TLS_CIPHER_AES_GCM_256:
		return EVP_aes_256_gcm();
	case TLS_CIPHER_CHACHA20_POLY1305:
		return EVP_chacha20_poly1305();
	default:
		return NULL;
	}
}

/* TLS 1.2 key_block = PRF(master, "key expansion", server_random +
 * client_random); AEAD suites have no MAC keys (RFC 5246 6.3). */
static int rr_keys12(const struct kst_ktls_suite *s)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(rr.ssl);
	const EVP_MD *md = SSL_CIPHER_get_handshake_digest(c);
	unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
	unsigned char cr[SSL3_RANDOM_SIZE], sr[SSL3_RANDOM_SIZE], kb[128];
	size_t mlen = SSL_SESSION_get_master_key(SSL_get_session(rr.ssl),
						 master, sizeof(master));
	size_t fixed = rr.explicit_nonce ? 4 : KST_KTLS_IV_LEN;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[6];
	int r = -1;

	SSL_get_client_random(rr.ssl, cr, sizeof(cr));
	SSL_get_server_random(rr.ssl, sr, sizeof(sr));
	p[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master,
						 mlen);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
						 (char *)"key expansion", 13);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, sr,
						 sizeof(sr));
	p[4] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, cr,
						 sizeof(cr));
	p[5] = OSSL_PARAM_construct_end();
	if (md != NULL && mlen > 0 && kctx != NULL &&
	    EVP_KDF_derive(kctx, kb, 2 * (s->cipher->key_len + fixed), p) > 0) {
		/* client key, server key, client iv, server iv */
		memcpy(rr.key, kb, s->cipher->key_len);
		memcpy(rr.iv, kb + 2 * s->cipher->key_len, fixed);
		r = 0;
	}
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(kb, sizeof(kb));
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

static int rr_keys(void)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(rr.ssl);
	const struct kst_ktls_suite *s = kst_ktls_suite_find(
		(uint16_t)rr.version, SSL_CIPHER_get_id(c) & 0xffff);

	if (s == NULL || (rr.aead = rr_aead(s->cipher->type)) == NULL)
		return rr_die("suite not supported");
	rr.key_len = s->cipher->key_len;
	if (rr.version == TLS1_3_VERSION) {
		rr.seq = 0;
		if (kst_ktls_tls13_derive(s, rr.secret, rr.secret_len, rr.key,
					  rr.iv) != 0)
			return rr_die("no client traffic secret");
		return 0;
	}
	/* TLS 1.2: the Finished was record 0 under these keys */
	rr.seq = 1;
	rr.explicit_nonce = s->cipher->type != TLS_CIPHER_CHACHA20_POLY1305;
	return rr_keys12(s) == 0 ? 0 : rr_die("TLS 1.2 key expansion");
}

static void rr_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* One record of content type `type` into out; its length, or -1. */
static int rr_seal(uint8_t type, const unsigned char *data, size_t len,
		   unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[KST_KTLS_IV_LEN], aad[13], in[RR_MAX_RECORD + 1];
	unsigned char *body = out + 5;
	size_t aad_len = 5, in_len = len, body_len;
	int n = 0, r = -1;

	memcpy(nonce, rr.iv, sizeof(nonce));
	memcpy(in, data, len);
	if (rr.version == TLS1_3_VERSION) {
		in[in_len++] = type; /* TLSInnerPlaintext, no padding */
		type = 23;
	}
	body_len = in_len + RR_TAG + (rr.explicit_nonce ? 8 : 0);
	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = (unsigned char)(body_len >> 8);
	out[4] = (unsigned char)body_len;
	if (rr.explicit_nonce) { /* salt | explicit part = seq */
		rr_u64(nonce + 4, rr.seq);
		memcpy(body, nonce + 4, 8);
		body += 8;
	} else { /* iv ^ seq */
		unsigned char s[8];

		rr_u64(s, rr.seq);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= s[i];
	}
	if (rr.version == TLS1_3_VERSION) {
		memcpy(aad, out, 5);
	} else { /* seq | type | version | plaintext length */
		rr_u64(aad, rr.seq);
		aad[8] = type;
		aad[9] = 3;
		aad[10] = 3;
		aad[11] = (unsigned char)(len >> 8);
		aad[12] = (unsigned char)len;
		aad_len = 13;
	}
	if (ctx != NULL && EVP_EncryptInit_ex(ctx, rr.aead, NULL, NULL, NULL) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, rr.key, nonce) &&
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) &&
	    (in_len == 0 ||
	     EVP_EncryptUpdate(ctx, body, &n, in, (int)in_len)) &&
	    EVP_EncryptFinal_ex(ctx, body + in_len, &n) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, RR_TAG,
				body + in_len)) {
		rr.seq++;
		r = (int)(5 + body_len);
	}
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static int rr_write_all(const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(rr.fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int rr_send(uint8_t type, const unsigned char *data, size_t len)
{
	unsigned char rec[RR_MAX_RECORD + 64];
	int n = rr_seal(type, data, len, rec);

	return n > 0 && rr_write_all(rec, (size_t)n) == 0 ? 0 : -1;
}

static int rr_connect(const char *to, const char *suite, int tls, int timeout_s)
{
	struct sockaddr_storage a;
	socklen_t alen;
	struct timeval tv = {.tv_sec = timeout_s};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || kst_toolutil_parse_addr(to, &a, &alen) < 0)
		return rr_die("bad address");
	SSL_CTX_set_min_proto_version(ctx, tls);
	SSL_CTX_set_max_proto_version(ctx, tls);
	SSL_CTX_set_keylog_callback(ctx, rr_keylog);
	if (suite != NULL &&
	    !(tls == TLS1_3_VERSION ? SSL_CTX_set_ciphersuites(ctx, suite)
				    : SSL_CTX_set_cipher_list(ctx, suite)))
		return rr_die("suite");
	rr.fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (rr.fd < 0 ||
	    setsockopt(rr.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(rr.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(rr.fd, (struct sockaddr *)&a, alen) < 0)
		return rr_die("connect");
	rr.ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (rr.ssl == NULL || !SSL_set_fd(rr.ssl, rr.fd) ||
	    SSL_connect(rr.ssl) != 1)
		return rr_die("handshake");
	rr.version = SSL_version(rr.ssl);
	return 0;
}

/* Read to close_notify or EOF, checking the echo against the pattern. */
static int rr_read_echo(uint64_t *recvd, bool *close_notify, bool *exact)
{
	unsigned char buf[16384], want[16384];

	*exact = true;
	for (;;) {
		size_t n = 0;
		int r = SSL_read_ex(rr.ssl, buf, sizeof(buf), &n), e;

		if (r == 1) {
			kst_pattern_fill(want, n, *recvd, 0);
			if (memcmp(buf, want, n) != 0)
				*exact = false;
			*recvd += n;
			continue;
		}
		e = SSL_get_error(rr.ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN) {
			*close_notify = true;
			return 0;
		}
		if (e == SSL_ERROR_SYSCALL && errno == 0)
			return 0; /* EOF without close_notify */
		return rr_die("read");
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"connect", required_argument, NULL, 'c'},
		{"tls", required_argument, NULL, 't'},
		{"suite", required_argument, NULL, 's'},
		{"records", required_argument, NULL, 'r'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	const char *to = NULL, *suite = NULL, *list = NULL;
	int tls = TLS1_3_VERSION, timeout_s = 10, opt, rc = 1;
	uint64_t sent = 0, recvd = 0;
	unsigned int records = 0;
	bool cn = false, exact = false;
	unsigned char buf[RR_MAX_RECORD];

	while ((opt = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (opt == 'c')
			to = optarg;
		else if (opt == 't' && strcmp(optarg, "1.2") == 0)
			tls = TLS1_2_VERSION;
		else if (opt == 't' && strcmp(optarg, "1.3") == 0)
			tls = TLS1_3_VERSION;
		else if (opt == 's')
			suite = optarg;
		else if (opt == 'r')
			list = optarg;
		else if (opt == 'T' && atoi(optarg) > 0)
			timeout_s = atoi(optarg);
		else
			goto usage;
	}
	if (to == NULL || list == NULL || optind != argc)
		goto usage;
	if (rr_connect(to, suite, tls, timeout_s) < 0 || rr_keys() < 0)
		goto out;
	for (const char *p = list; *p != '\0'; records++) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (end == p || n > RR_MAX_RECORD || (*end && *end != ','))
			goto usage;
		kst_pattern_fill(buf, n, sent, 0);
		if (rr_send(23, buf, n) < 0) {
			rr_die("send");
			goto out;
		}
		sent += n;
		p = *end ? end + 1 : end;
	}
	if (rr_send(21, (const unsigned char *)"\1\0", 2) < 0) {
		rr_die("close_notify");
		goto out;
	}
	if (rr_read_echo(&recvd, &cn, &exact) == 0 && recvd == sent && exact &&
	    cn)
		rc = 0;
out:
	printf("version=%s\ncipher=%s\nsent=%llu\nrecords=%u\nrecv=%llu\n"
	       "exact=%d\nclose_notify=%d\n",
	       rr.ssl ? SSL_get_version(rr.ssl) : "",
	       rr.ssl ? SSL_get_cipher_name(rr.ssl) : "",
	       (unsigned long long)sent, records, (unsigned long long)recvd,
	       exact, cn);
	OPENSSL_cleanse(rr.key, sizeof(rr.key));
	OPENSSL_cleanse(rr.secret, sizeof(rr.secret));
	SSL_free(rr.ssl);
	if (rr.fd >= 0)
		close(rr.fd);
	return rc;
usage:
	fprintf(stderr, "usage: kst-rawrec -c HOST:PORT [--tls 1.2|1.3] "
			"[--suite NAME] --records N,N,... [--timeout SECS]\n");
	return 2;
}
