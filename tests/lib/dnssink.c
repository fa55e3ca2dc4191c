// SPDX-License-Identifier: MIT
/*
 * The swallowing DNS server of dnssink.h: namespaces, a resolv.conf bind
 * mount, one UDP socket nobody answers from.
 */
#include "tests/lib/dnssink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/harness.h"

int kst_h_dns_sink(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(53),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char *conf = kst_h_path("resolv.conf");
	int fd, rc = kst_h_private_netns();

	if (rc < 0)
		return rc;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* one try of 10 s: a resolver that ignores our deadline is slow, not
	 * stuck, so the test still ends */
	if (kst_h_write(conf,
			"nameserver 127.0.0.1\noptions timeout:10 attempts:1\n",
			0644) < 0)
		return -EIO;
	if (mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int kst_h_dns_sink_queries(int fd)
{
	char buf[1500];
	int n = 0;

	while (n < 100000 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return errno == EAGAIN || errno == EWOULDBLOCK ? n : -1;
}
