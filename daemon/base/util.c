// SPDX-License-Identifier: MIT
/* Helpers declared in util.h. */
#include "daemon/base/util.h"

#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void kst_hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int kst_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int util_write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kst_sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int kst_write_atomic(const char *path, const void *buf, size_t len,
		     unsigned mode)
{
	int err = kst_write_atomic_nosync(path, buf, len, mode);

	return err < 0 ? err : kst_sync_dir_of(path);
}

int kst_write_tmp(const char *path, const void *buf, size_t len, unsigned mode,
		  char **tmp_out)
{
	char *tmp = NULL;
	int fd, err;

	*tmp_out = NULL;
	if (asprintf(&tmp, "%s" KST_TMP_INFIX "XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	err = util_write_all(fd, buf, len);
	if (err == 0 && (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0))
		err = -errno;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	if (err < 0) {
		unlink(tmp);
		free(tmp);
		return err;
	}
	*tmp_out = tmp;
	return 0;
}

int kst_write_atomic_nosync(const char *path, const void *buf, size_t len,
			    unsigned mode)
{
	char *tmp;
	int err = kst_write_tmp(path, buf, len, mode, &tmp);

	if (err == 0 && rename(tmp, path) < 0) {
		err = -errno;
		unlink(tmp);
	}
	free(tmp);
	return err;
}
