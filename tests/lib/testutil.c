// SPDX-License-Identifier: MIT
/* Shared test helpers; see testutil.h. */
#include "tests/lib/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/pem.h>

bool kst_test_strict(void)
{
	const char *s = getenv("KST_TEST_STRICT");

	return s != NULL && strcmp(s, "1") == 0;
}

const char *kst_test_srcdir(void)
{
	const char *s = getenv("KST_SRCDIR");

	return s != NULL && *s ? s : ".";
}

const char *kst_test_builddir(void)
{
	const char *s = getenv("KST_BUILD");

	return s != NULL && *s ? s : "build";
}

/* Mint once per uid into /tmp, serialised by a lock file. */
static const char *testutil_mint_pki(void)
{
	static char dir[256];
	char cmd[1024], stamp[300];
	int lock;

	snprintf(dir, sizeof(dir), "/tmp/kst-test-pki-%u", (unsigned)getuid());
	snprintf(stamp, sizeof(stamp), "%s/.stamp", dir);
	lock = open("/tmp/kst-test-pki.lock", O_CREAT | O_RDWR | O_CLOEXEC,
		    0600);
	if (lock >= 0)
		flock(lock, LOCK_EX);
	if (access(stamp, F_OK) != 0) {
		snprintf(cmd, sizeof(cmd),
			 "rm -rf '%s' && '%s/scripts/pki.sh' -s '%s' && "
			 "touch '%s'",
			 dir, kst_test_srcdir(), dir, stamp);
		if (system(cmd) != 0)
			fprintf(stderr, "testutil: minting the PKI failed\n");
	}
	if (lock >= 0)
		close(lock);
	return dir;
}

const char *kst_test_pki(void)
{
	const char *s = getenv("KST_TEST_PKI");

	if (s != NULL && *s)
		return s;
	return testutil_mint_pki();
}

char *kst_test_pki_path(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", kst_test_pki(), name) < 0)
		return NULL;
	return p;
}

X509 *kst_test_cert(const char *name)
{
	char *path = NULL;
	X509 *x = NULL;
	FILE *f;

	if (asprintf(&path, "%s/%s.crt", kst_test_pki(), name) < 0)
		return NULL;
	f = fopen(path, "r");
	if (f != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	free(path);
	return x;
}

EVP_PKEY *kst_test_key(const char *name)
{
	char *path = NULL;
	EVP_PKEY *k = NULL;
	FILE *f;

	if (asprintf(&path, "%s/%s.key", kst_test_pki(), name) < 0)
		return NULL;
	f = fopen(path, "r");
	if (f != NULL) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	free(path);
	return k;
}

/* Reads to EOF, whatever st_size says (it is 0 for /proc files). */
int kst_test_read_file(const char *path, unsigned char **buf, size_t *len)
{
	size_t off = 0, cap = 4096;
	unsigned char *b = malloc(cap), *nb;
	int fd;

	if (b == NULL)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		free(b);
		return err;
	}
	for (;;) {
		ssize_t r;

		if (off == cap) {
			nb = realloc(b, cap *= 2);
			if (nb == NULL)
				break;
			b = nb;
		}
		r = read(fd, b + off, cap - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = off;
	return 0;
}

int kst_test_sockaddr(struct sockaddr_storage *ss, int family, const char *addr,
		      unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return inet_pton(AF_INET, addr, &in->sin_addr) == 1 ? 0
								    : -EINVAL;
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1
			       ? 0
			       : -EINVAL;
	}
	((struct sockaddr_un *)ss)->sun_family = AF_UNIX;
	snprintf(((struct sockaddr_un *)ss)->sun_path,
		 sizeof(((struct sockaddr_un *)ss)->sun_path), "%s", addr);
	return 0;
}
