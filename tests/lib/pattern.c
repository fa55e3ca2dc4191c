// SPDX-License-Identifier: MIT
/*
 * Deterministic test streams; see pattern.h. The seed-0 block is built once
 * (pthread_once, the client runs threads) twice over, so that any window of
 * up to one period starting anywhere in the block is a single memcpy.
 */
#include "tests/lib/pattern.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon/base/util.h"

static uint64_t pattern_mix(uint64_t x);
static void pattern_init(void);

static unsigned char pattern_block[2 * KST_PATTERN_PERIOD];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

/* splitmix64's output function */
static uint64_t pattern_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void pattern_init(void)
{
	for (size_t i = 0; i < KST_PATTERN_PERIOD; i++)
		pattern_block[i] = (unsigned char)(pattern_mix(i) >> 24);
	memcpy(pattern_block + KST_PATTERN_PERIOD, pattern_block,
	       KST_PATTERN_PERIOD);
}

static void pattern_fill_periodic(unsigned char *p, size_t len, uint64_t offset)
{
	size_t at = (size_t)(offset % KST_PATTERN_PERIOD);

	pthread_once(&pattern_once, pattern_init);
	while (len > 0) {
		size_t n = KST_MIN(len, (size_t)KST_PATTERN_PERIOD);

		memcpy(p, pattern_block + at, n);
		p += n;
		len -= n;
		/* at + n is within the doubled block; wrap it into one period
		 */
		at = (at + n) % KST_PATTERN_PERIOD;
	}
}

static void pattern_fill_seeded(unsigned char *p, size_t len, uint64_t offset,
				uint64_t seed)
{
	uint64_t word = offset / 8;
	unsigned int skip = (unsigned int)(offset % 8);
	uint64_t key = pattern_mix(seed);

	while (len > 0) {
		uint64_t v = pattern_mix(key ^ (word * 0xd1b54a32d192ed03ull));

		for (unsigned int b = skip; b < 8 && len > 0; b++, len--)
			*p++ = (unsigned char)(v >> (8 * b));
		skip = 0;
		word++;
	}
}

void kst_pattern_fill(void *buf, size_t len, uint64_t offset, uint64_t seed)
{
	if (seed == 0)
		pattern_fill_periodic(buf, len, offset);
	else
		pattern_fill_seeded(buf, len, offset, seed);
}

int kst_pattern_sha256_hex(uint64_t len, uint64_t seed, char out[65])
{
	static const size_t chunk = 64 * 1024;
	unsigned char md[32];
	unsigned char *buf = OPENSSL_malloc(chunk);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint64_t off = 0;
	int err = -ENOMEM;

	if (buf == NULL || ctx == NULL ||
	    !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while (off < len) {
		size_t n = (size_t)KST_MIN((uint64_t)chunk, len - off);

		kst_pattern_fill(buf, n, off, seed);
		if (!EVP_DigestUpdate(ctx, buf, n))
			goto out;
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto out;
	kst_hex(out, md, sizeof(md));
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(buf);
	return err;
}

int kst_pattern_sha256_buf(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];

	if (!EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL))
		return -ENOMEM;
	kst_hex(out, md, sizeof(md));
	return 0;
}
