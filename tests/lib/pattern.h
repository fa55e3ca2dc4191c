/* SPDX-License-Identifier: MIT */
/*
 * Deterministic test data shared by the tools (kst-backend, kst-client) and
 * the tests, so that any side can compute what the other should have sent.
 * A stream is named by a seed and addressed by offset, so a sender can
 * produce it in pieces and a receiver can check it without storing it:
 *   seed 0  the default pattern: a fixed pseudo-random block of 65521 bytes
 *           (a prime, so it never lines up with buffer sizes) repeated; fast
 *           enough (a memcpy) for the benchmark backend;
 *   seed n  a keyed pseudo-random stream (splitmix64 over 8-byte words).
 * Neither is cryptographic; they only have to catch lost, reordered or
 * corrupted bytes.
 */
#ifndef KST_PATTERN_H
#define KST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define KST_PATTERN_PERIOD 65521u

/* Bytes [offset, offset + len) of stream seed into buf. Thread-safe. */
void kst_pattern_fill(void *buf, size_t len, uint64_t offset, uint64_t seed);

/* Lower-case hex SHA-256 (65 bytes with the NUL) of the first len bytes of
 * stream seed; 0 or -ENOMEM. */
int kst_pattern_sha256_hex(uint64_t len, uint64_t seed, char out[65]);

/* Lower-case hex SHA-256 of a buffer; 0 or -ENOMEM. */
int kst_pattern_sha256_buf(const void *buf, size_t len, char out[65]);

#endif
