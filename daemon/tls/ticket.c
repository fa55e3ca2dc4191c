// SPDX-License-Identifier: MIT
/*
 * Session-ticket key files, the pure part (see ticket.h): bytes in, a key
 * set or PATH:LINE errors out; the rotation rule; fingerprints. No I/O,
 * no clock, so the unit test and the fuzz target drive every branch.
 * Decoded key bytes live only in the key set (and a stack buffer that is
 * wiped on every path); no message ever quotes a key line.
 */
#include "daemon/tls/ticket.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int ticket_b64_value(unsigned char c);
static int ticket_line(const char *path, int lineno, const char *s, size_t n,
		       struct kst_ticket_keys *ks, struct kst_diag *d);

static int ticket_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kst_ticket_base64_decode(const char *s, size_t n, unsigned char *out,
			     size_t cap)
{
	size_t o = 0;

	if (n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t j = 0; j < 4; j++) {
			v[j] = ticket_b64_value((unsigned char)s[i + j]);
			if (v[j] >= 0 && pad == 0)
				continue;
			/* '=' only in the last quantum's last two places */
			if (s[i + j] != '=' || i + 4 != n || j < 2)
				return -EINVAL;
			pad++;
			v[j] = 0;
		}
		if (o + 3 - pad > cap)
			return -ENOSPC;
		/* the bits padding drops must be zero (one encoding only) */
		if ((pad == 1 && (v[2] & 0x3)) || (pad == 2 && (v[1] & 0xf)))
			return -EINVAL;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] =
				(unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	return (int)o;
}

/* One non-comment line: a key, appended to ks. */
static int ticket_line(const char *path, int lineno, const char *s, size_t n,
		       struct kst_ticket_keys *ks, struct kst_diag *d)
{
	unsigned char raw[KST_TICKET_KEY_LEN + 3];
	struct kst_ticket_key *k;
	int len = kst_ticket_base64_decode(s, n, raw, sizeof(raw));
	bool first;

	if (len == -EINVAL) {
		kst_diag_error(d, path, lineno,
			       "not a base64 key line (one line of `openssl "
			       "rand -base64 80` expected)");
		return -EINVAL;
	}
	if (len != KST_TICKET_KEY_LEN) {
		kst_diag_error(d, path, lineno,
			       "a key is %d bytes (16 name, 32 AES, 32 HMAC), "
			       "this line holds %s",
			       KST_TICKET_KEY_LEN,
			       len < 0	  ? "more"
			       : len == 0 ? "none"
					  : "fewer");
		OPENSSL_cleanse(raw, sizeof(raw));
		return -EINVAL;
	}
	if (ks->n == KST_TICKET_MAX_KEYS) {
		kst_diag_error(d, path, lineno,
			       "more than %d keys: drop the oldest (last) ones",
			       KST_TICKET_MAX_KEYS);
		OPENSSL_cleanse(raw, sizeof(raw));
		return -E2BIG;
	}
	if (kst_ticket_keys_find(ks, raw, &first) != NULL) {
		kst_diag_error(d, path, lineno,
			       "this key's name (its first 16 bytes) repeats "
			       "line %d's",
			       kst_ticket_keys_find(ks, raw, &first)->line);
		OPENSSL_cleanse(raw, sizeof(raw));
		return -EINVAL;
	}
	k = &ks->k[ks->n++];
	memcpy(k->name, raw, KST_TICKET_NAME_LEN);
	memcpy(k->aes, raw + KST_TICKET_NAME_LEN, KST_TICKET_AES_LEN);
	memcpy(k->hmac, raw + KST_TICKET_NAME_LEN + KST_TICKET_AES_LEN,
	       KST_TICKET_HMAC_LEN);
	k->line = lineno;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* The line without surrounding blanks (and CR); "" for a comment. */
static void ticket_trim(const char **s, size_t *n)
{
	while (*n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
			  (*s)[*n - 1] == '\r'))
		(*n)--;
	if (*n > 0 && **s == '#')
		*n = 0;
}

struct kst_ticket_keys *kst_ticket_keys_parse(const char *path, const void *buf,
					      size_t len, struct kst_diag *d)
{
	struct kst_ticket_keys *ks = NULL;
	const char *s = buf, *end = s + len;
	size_t errors = d->errors;
	int lineno = 0;

	if (len > KST_TICKET_MAX_FILE) {
		kst_diag_error(d, path, 0,
			       "longer than %d bytes: not a key file",
			       KST_TICKET_MAX_FILE);
		errno = EINVAL;
		return NULL;
	}
	ks = OPENSSL_zalloc(sizeof(*ks));
	if (ks == NULL) {
		kst_diag_error(d, path, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&ks->refs, 1);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *l = s;
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

		lineno++;
		s = nl ? nl + 1 : end;
		if (memchr(l, '\0', n) != NULL) {
			kst_diag_error(d, path, lineno, "NUL byte in the line");
			continue;
		}
		ticket_trim(&l, &n);
		if (n > 0 && ticket_line(path, lineno, l, n, ks, d) == -E2BIG)
			break;
	}
	if (ks->n == 0 && d->errors == errors)
		kst_diag_error(d, path, 0,
			       "no key (one line of `openssl rand -base64 80` "
			       "per key, newest first)");
	if (d->errors > errors) {
		kst_ticket_keys_put(ks);
		errno = EINVAL;
		return NULL;
	}
	return ks;
}

void kst_ticket_keys_get(struct kst_ticket_keys *ks)
{
	atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
}

void kst_ticket_keys_put(struct kst_ticket_keys *ks)
{
	if (ks == NULL ||
	    atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
		return;
	OPENSSL_clear_free(ks, sizeof(*ks));
}

const struct kst_ticket_key *
kst_ticket_keys_find(const struct kst_ticket_keys *ks,
		     const unsigned char *name, bool *first)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (CRYPTO_memcmp(ks->k[i].name, name, KST_TICKET_NAME_LEN) ==
		    0) {
			*first = i == 0;
			return &ks->k[i];
		}
	}
	*first = false;
	return NULL;
}

static bool ticket_key_equal(const struct kst_ticket_key *a,
			     const struct kst_ticket_key *b)
{
	return CRYPTO_memcmp(a->name, b->name, sizeof(a->name)) == 0 &&
	       CRYPTO_memcmp(a->aes, b->aes, sizeof(a->aes)) == 0 &&
	       CRYPTO_memcmp(a->hmac, b->hmac, sizeof(a->hmac)) == 0;
}

int kst_ticket_keys_rotation_ok(const struct kst_ticket_keys *cur,
				const struct kst_ticket_keys *next, char *why,
				size_t len)
{
	if (cur == NULL || ticket_key_equal(&cur->k[0], &next->k[0]))
		return 0;
	for (size_t i = 1; i < next->n; i++)
		if (ticket_key_equal(&cur->k[0], &next->k[i]))
			return 0;
	snprintf(why, len,
		 "the key that encrypts tickets now is not listed: rotate by "
		 "adding the new key on top and keeping it (at least 2 keys), "
		 "or replace all keys with a reload (SIGHUP)");
	return -EINVAL;
}

void kst_ticket_key_fingerprint(const struct kst_ticket_key *k, char *out,
				size_t len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char hex[KST_TICKET_FP_HEX + 1];

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, k->name, sizeof(k->name)) != 1 ||
	    EVP_DigestUpdate(c, k->aes, sizeof(k->aes)) != 1 ||
	    EVP_DigestUpdate(c, k->hmac, sizeof(k->hmac)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &mdlen) != 1) {
		snprintf(out, len, "sha256:?");
		EVP_MD_CTX_free(c);
		return;
	}
	EVP_MD_CTX_free(c);
	for (size_t i = 0; i < KST_TICKET_FP_HEX / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, len, "sha256:%s", hex);
}
