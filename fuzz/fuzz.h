/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer targets in fuzz/ share (fuzz_common.c): a reader that
 * takes fields off the front of the fuzzer's input, deterministic keys and
 * certificates (so committed seeds stay valid from run to run), a fixed
 * "now", the seed-writing mode and a loud failure for broken invariants.
 *
 * Every target defines kst_fuzz_init() (run once, before the first input)
 * and kst_fuzz_seeds(dir) (writes its seed corpus). Running a target with
 * KST_FUZZ_SEEDS=DIR writes the seeds into DIR and exits instead of
 * fuzzing; `make fuzz-seeds` does that for every target into fuzz/corpus/.
 */
#ifndef KST_FUZZ_H
#define KST_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define KST_FUZZ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* 2026-01-01T00:00:00Z: the clock of every target. */
#define KST_FUZZ_NOW ((time_t)1767225600)

/* The target's hooks. */
int kst_fuzz_init(void);
void kst_fuzz_seeds(const char *dir);

/* Fields off the front of the input; past the end they read as zero. */
struct kst_fuzz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t kst_fuzz_u8(struct kst_fuzz_in *in);
uint16_t kst_fuzz_u16(struct kst_fuzz_in *in);
uint32_t kst_fuzz_u32(struct kst_fuzz_in *in);
/* Up to max bytes, as many as are left; *len gets the count. */
const uint8_t *kst_fuzz_bytes(struct kst_fuzz_in *in, size_t max, size_t *len);

/* A little-endian writer for seeds, mirroring the reader. */
struct kst_fuzz_out {
	uint8_t buf[8192];
	size_t n;
};

void kst_fuzz_put_u8(struct kst_fuzz_out *o, unsigned int v);
void kst_fuzz_put_u16(struct kst_fuzz_out *o, unsigned int v);
void kst_fuzz_put_u32(struct kst_fuzz_out *o, uint32_t v);
void kst_fuzz_put(struct kst_fuzz_out *o, const void *p, size_t n);

/* Writes DIR/NAME; aborts on failure (seed mode only). */
void kst_fuzz_seed_put(const char *dir, const char *name, const void *p,
		       size_t n);

/* An Ed25519 key derived from label: the same key in every run. */
EVP_PKEY *kst_fuzz_key(const char *label);
/* A fresh ECDSA P-256 or RSA-2048 key. */
EVP_PKEY *kst_fuzz_key_ec(void);
EVP_PKEY *kst_fuzz_key_rsa(void);

struct kst_fuzz_cert {
	const char *cn;
	EVP_PKEY *key;	      /* the certificate's key */
	X509 *issuer;	      /* NULL: self-signed with key */
	EVP_PKEY *issuer_key; /* NULL: key */
	bool ca;
	bool ocsp_signing; /* EKU id-kp-OCSPSigning */
	const char *san;   /* "DNS:a.example,DNS:*.b.example" or NULL */
	uint64_t serial;
};

/* Valid from 2020 to 2099; NULL on failure. */
X509 *kst_fuzz_cert_new(const struct kst_fuzz_cert *c);

/* Reports a broken invariant and aborts, so libFuzzer keeps the input. */
void kst_fuzz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
