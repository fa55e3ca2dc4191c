/* SPDX-License-Identifier: MIT */
/*
 * Small helpers the test tools (tests/tools/kst-*.c) share: sizes and
 * addresses on the command line, address printing, pid files, fd limits.
 * libc only, so the tools also run in the busybox QEMU guest.
 */
#ifndef KST_TOOLUTIL_H
#define KST_TOOLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "123", "64k", "10M", "1G" (powers of 1024); 0 or -EINVAL. */
int kst_toolutil_parse_size(const char *s, uint64_t *out);

/*
 * "127.0.0.1:8080", "[::1]:0", "localhost:443" or "unix:/path" into ss;
 * *len is the address length to pass to bind/connect. 0 or -EINVAL
 * (-ENAMETOOLONG for a unix path that does not fit).
 */
int kst_toolutil_parse_addr(const char *s, struct sockaddr_storage *ss,
			    socklen_t *len);

/* "127.0.0.1:5555", "[::1]:5555" or the unix path, into out. */
void kst_toolutil_format_addr(const struct sockaddr *sa, socklen_t len,
			      char *out, size_t size);

/* The port of an inet address (host order), or 0. */
unsigned int kst_toolutil_addr_port(const struct sockaddr *sa);

/* Write "<pid>\n" to path; 0 or -errno. */
int kst_toolutil_write_pidfile(const char *path);

/* Raise RLIMIT_NOFILE's soft limit to the hard one; returns the new soft
 * limit. */
unsigned long kst_toolutil_raise_nofile(void);

#endif
