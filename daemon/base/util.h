/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every module uses: array sizes, container_of, clocks, fd
 * flags, hex. Nothing here allocates or logs.
 */
#ifndef KST_UTIL_H
#define KST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define kst_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define kst_likely(x)	__builtin_expect(!!(x), 1)
#define kst_unlikely(x) __builtin_expect(!!(x), 0)
#define KST_MIN(a, b)	((a) < (b) ? (a) : (b))
#define KST_MAX(a, b)	((a) > (b) ? (a) : (b))
#define KST_CACHELINE	64

/* Monotonic milliseconds, for timeouts. */
static inline uint64_t kst_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wall-clock seconds, for OCSP times. */
static inline time_t kst_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void kst_hex(char *out, const unsigned char *in, size_t len);
/* O_NONBLOCK on; 0 or -errno. */
int kst_set_nonblock(int fd);
/*
 * Replace path with buf so that a reader sees the old file or the new one,
 * never half of it, and the new one survives a crash: a temporary file in
 * the same directory, written, chmod'ed, fsync'ed, renamed over path, then
 * the directory fsync'ed. 0 or -errno (nothing left behind on failure).
 */
int kst_write_atomic(const char *path, const void *buf, size_t len,
		     unsigned mode);
/* The same but the directory's fsync, which the caller owes after a batch
 * of them (kst_sync_dir_of): one per batch, not one per file. */
int kst_write_atomic_nosync(const char *path, const void *buf, size_t len,
			    unsigned mode);
/*
 * The first half of kst_write_atomic_nosync, for a writer that is not the
 * one that decides: buf in a new file beside path (path KST_TMP_INFIX and
 * six random characters), chmod'ed and fsync'ed; *tmp (malloc'd) names it,
 * for the caller to rename over path or unlink. 0 or -errno (then nothing
 * is left behind and *tmp is NULL).
 */
#define KST_TMP_INFIX ".tmp."
int kst_write_tmp(const char *path, const void *buf, size_t len, unsigned mode,
		  char **tmp);
/* fsync the directory holding path. 0 or -errno. */
int kst_sync_dir_of(const char *path);

#endif
