/* SPDX-License-Identifier: MIT */
/*
 * Shared test helpers: the test PKI (scripts/pki.sh output), file reading,
 * and a skip that names its reason. Under KST_TEST_STRICT=1 a skip is a
 * failure, so a machine that should have a feature cannot silently lose a
 * test. This file has no criterion dependency (tools link it too); the
 * macro below expands to criterion calls in the test that uses it.
 */
#ifndef KST_TESTUTIL_H
#define KST_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * Skip the current criterion test with a reason unless cond holds; fail it
 * instead when KST_TEST_STRICT=1.
 */
#define kst_test_require(cond, ...)                          \
	do {                                                 \
		if (!(cond)) {                               \
			if (kst_test_strict())               \
				cr_assert_fail(__VA_ARGS__); \
			else                                 \
				cr_skip_test(__VA_ARGS__);   \
		}                                            \
	} while (0)

bool kst_test_strict(void);

/*
 * Directory of the test PKI: $KST_TEST_PKI (the Makefile mints it once per
 * build), else minted on first use into a temporary directory.
 */
const char *kst_test_pki(void);
/* "$KST_TEST_PKI/<name>" in a static buffer per call site is avoided:
 * returns a malloc'd string the caller frees. */
char *kst_test_pki_path(const char *name);
/* NAME.crt / NAME.key from the PKI ("localhost-ecdsa", "int", ...). */
X509 *kst_test_cert(const char *name);
EVP_PKEY *kst_test_key(const char *name);
/* Whole file into a malloc'd buffer; 0 or -errno. */
int kst_test_read_file(const char *path, unsigned char **buf, size_t *len);
/* Source tree root ($KST_SRCDIR, default "."), build dir ($KST_BUILD,
 * default "build"). */
const char *kst_test_srcdir(void);
/* An AF_INET or AF_INET6 address (text) and port, or for any other family
 * an AF_UNIX path, in *ss; 0, or -EINVAL if the text does not parse. */
int kst_test_sockaddr(struct sockaddr_storage *ss, int family, const char *addr,
		      unsigned short port);
const char *kst_test_builddir(void);

#endif
