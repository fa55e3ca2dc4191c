// SPDX-License-Identifier: MIT
/*
 * kst-ulp-check: can a TCP socket on this kernel take the "tls" upper-layer
 * protocol? The kTLS guest's own smoke check, and the proof that its notls
 * boot really has no kTLS: the shell has no setsockopt(), and openssl's
 * silent fallback to userspace would hide a missing tls.ko. It attaches the
 * ULP to one end of an established loopback connection (the kernel refuses
 * it on any other state) and reads the name back.
 *
 *   kst-ulp-check
 *
 * Prints one line; exit 0 attached, 2 refused by the kernel (the errno is
 * named: ENOENT when tls.ko cannot be loaded), 1 setup error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

enum {
	ULP_CHECK_ATTACHED = 0,
	ULP_CHECK_SETUP_ERROR = 1,
	ULP_CHECK_REFUSED = 2,
};

static int ulp_check_listen(struct sockaddr_in *addr);
static int ulp_check_pair(int *client, int *server);
static int ulp_check_attach(int fd, char *name, size_t size);

/* A loopback listener on a port the kernel picks; its address in addr. */
static int ulp_check_listen(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int ulp_check_pair(int *client, int *server)
{
	struct sockaddr_in addr;
	int lfd = ulp_check_listen(&addr);
	int ret = 0;

	*client = -1;
	*server = -1;
	if (lfd < 0)
		return lfd;
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 ||
	    connect(*client, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto out;
	}
	*server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*server < 0)
		ret = -errno;
out:
	close(lfd);
	return ret;
}

/* 0 with the ULP name read back into name, or -errno from the kernel. */
static int ulp_check_attach(int fd, char *name, size_t size)
{
	socklen_t len = size - 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	memset(name, 0, size);
	if (getsockopt(fd, IPPROTO_TCP, TCP_ULP, name, &len) < 0)
		return -errno;
	return 0;
}

int main(void)
{
	char name[32];
	int client = -1, server = -1;
	int ret = ulp_check_pair(&client, &server);
	int status = ULP_CHECK_SETUP_ERROR;

	if (ret < 0) {
		fprintf(stderr, "kst-ulp-check: loopback pair: %s\n",
			strerror(-ret));
		goto out;
	}
	ret = ulp_check_attach(client, name, sizeof(name));
	if (ret < 0) {
		printf("TCP_ULP tls: refused: %s (%s)\n", strerror(-ret),
		       strerrorname_np(-ret));
		status = ULP_CHECK_REFUSED;
	} else {
		printf("TCP_ULP tls: attached (ulp \"%s\")\n", name);
		status = strcmp(name, "tls") == 0 ? ULP_CHECK_ATTACHED
						  : ULP_CHECK_SETUP_ERROR;
	}
out:
	if (server >= 0)
		close(server);
	if (client >= 0)
		close(client);
	return status;
}
