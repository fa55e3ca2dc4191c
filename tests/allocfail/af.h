/* SPDX-License-Identifier: MIT */
/*
 * The allocation-failure sweep: a counting allocator that fails the Nth
 * allocation, and a runner that runs a scenario once per N in a forked
 * child and judges what the daemon's code did with that failure.
 *
 * What is counted (and can be failed), once armed:
 *   - the project's own calls (daemon/, ktls/, tests/lib/) to malloc,
 *     calloc, realloc, reallocarray, aligned_alloc, strdup, strndup,
 *     asprintf, vasprintf, fopen, open_memstream, nl_socket_alloc and
 *     nlmsg_alloc, through the linker's --wrap (see mk/allocfail.mk);
 *   - every OpenSSL allocation (libcrypto and libssl), through
 *     CRYPTO_set_mem_functions, installed before OpenSSL allocates.
 * Not counted: allocations inside libc itself (getaddrinfo, stdio
 * buffers of files opened by others, pthread), and inside libnl, libbpf
 * and libsystemd beyond the two libnl constructors above.
 *
 * A scenario runs in a fresh child per N: it sets up (not counted), arms
 * the counter with af_begin(), runs the path under test, disarms with
 * af_end(), checks the outcome and tears everything down. The runner then
 * compares the child's open descriptors with those it had before, runs
 * LeakSanitizer, and records whether failure N was reached at all: the
 * first N not reached is the number of allocation sites on that path.
 */
#ifndef KST_AF_H
#define KST_AF_H

#include <stdbool.h>
#include <stddef.h>

struct af_scenario {
	const char *name;
	const char *what;
	/* once, in the parent, before any child (not counted); 0 or -1 */
	int (*prepare)(void);
	/*
	 * In the child: calls af_begin() .. af_end() around the path under
	 * test, checks the outcome. 0: served or refused cleanly; -1: a
	 * wrong outcome (af_fail() said why).
	 */
	int (*run)(void);
	/* in the parent after the sweep (stop helper processes) */
	void (*cleanup)(void);
	/* run once in the parent before the sweep (see af_prepare) */
	bool warm;
};

extern const struct af_scenario af_sc_config, af_sc_ingest, af_sc_fetch,
	af_sc_reload, af_sc_conn;

/* Counting: arm (fail allocation number n, 0: none), pause around code
 * that is not under test (a test client in the same thread), disarm. */
void af_begin(void);
void af_end(void);
void af_pause(void);
void af_resume(void);
/* Whether the failure was injected, and how many were counted. */
bool af_injected(void);
long af_count(void);

/* Log lines at warn or more severe since af_begin(). */
unsigned af_logged(void);

/* Record why the outcome is wrong (shown with the failing N). */
void af_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The fixture directory (a fresh temporary directory per sweep) and the
 * test PKI ($KST_TEST_PKI). */
const char *af_dir(void);
const char *af_pki(void);
/* "<dir>/<name>" in a static ring of buffers. */
const char *af_path(const char *name);
int af_write_file(const char *path, const char *text);
/* A loopback TCP listening socket on a free port; its port in *port. */
int af_listen(unsigned short *port);

#endif
