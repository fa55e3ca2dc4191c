// SPDX-License-Identifier: MIT
/*
 * kst-bench-ocspd: the fast loopback OCSP responder of the cold-fetch
 * benchmark (bench/certs.sh coldfetch). The tests' kst-ocspd runs
 * `openssl ocsp` in a new process for every request, which is right for
 * faults and wrong for 50,000 requests; this one serves responses signed in
 * advance by gen-certs (-r DIR: DIR/<SERIAL>.der, SERIAL the certificate's
 * serial number in upper-case hex as BN_bn2hex prints it), looked up by the
 * serial of the request's CertID. One thread, epoll, non-blocking sockets:
 * HTTP/1.0 and 1.1, GET (/<url-encoded base64 request>) and POST
 * (application/ocsp-request), one request per connection, answered with
 * `Connection: close`. A serial without a file gets `unauthorized` (6).
 *
 * It binds 127.0.0.1:PORT only, prints "listening PORT" on stdout once it
 * accepts, appends the serial of every request to LOG (one line each,
 * written at once: LOG can be counted while it runs), and
 * on SIGTERM/SIGINT flushes LOG, prints "requests R answered A unknown U
 * bad B" and exits 0. Every connection is closed after 10 s whatever it
 * did, so nothing it holds outlives a stuck client by more than that.
 *
 *   kst-bench-ocspd PORT RESPDIR LOG
 */
#define _GNU_SOURCE /* accept4, strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#define OD_BUF	   8192
#define OD_CONNS   4096
#define OD_IDLE_MS 10000

struct od_conn {
	int fd;
	size_t in, out_len, out_off;
	unsigned char buf[OD_BUF];
	unsigned char *out;
	long long since;
};

static struct {
	const char *dir;
	FILE *log;
	unsigned long long requests, answered, unknown, bad;
	struct od_conn *conns[OD_CONNS];
} od;

static long long od_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void od_close(struct od_conn *c)
{
	od.conns[c->fd] = NULL;
	close(c->fd);
	free(c->out);
	free(c);
}

static int od_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* GET's path: url-decode, base64-decode into der; its length or -1. */
static int od_get_der(const char *path, size_t len, unsigned char *der,
		      size_t cap)
{
	char b64[OD_BUF];
	size_t n = 0;
	int out, pad = 0;

	while (len > 0 && *path == '/')
		path++, len--;
	for (size_t i = 0; i < len && n + 1 < sizeof(b64); i++) {
		if (path[i] == '%' && i + 2 < len && od_hex(path[i + 1]) >= 0 &&
		    od_hex(path[i + 2]) >= 0) {
			b64[n++] = (char)(od_hex(path[i + 1]) * 16 +
					  od_hex(path[i + 2]));
			i += 2;
		} else {
			b64[n++] = path[i];
		}
	}
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
		return -1;
	out = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
	if (out < 0)
		return -1;
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	return out - pad;
}

/* The response for DER's request, malloc'ed into *resp; its length. */
static long od_answer(const unsigned char *der, long len, unsigned char **resp)
{
	static const unsigned char unauthorized[] = {0x30, 0x03, 0x0a, 0x01,
						     0x06};
	const unsigned char *p = der;
	OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, len);
	OCSP_ONEREQ *one;
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL, path[4096];
	long n = -1;
	struct stat st;
	int fd = -1;

	*resp = NULL;
	if (req == NULL || OCSP_request_onereq_count(req) < 1 ||
	    (one = OCSP_request_onereq_get0(req, 0)) == NULL ||
	    !OCSP_id_get0_info(NULL, NULL, NULL, &serial,
			       OCSP_onereq_get0_id(one)) ||
	    (bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		od.bad++;
		goto out;
	}
	if (od.log != NULL) {
		fprintf(od.log, "%s\n", hex);
		fflush(od.log);
	}
	snprintf(path, sizeof(path), "%s/%s.der", od.dir, hex);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size < 65536 && (*resp = malloc((size_t)st.st_size)) &&
	    read(fd, *resp, (size_t)st.st_size) == st.st_size) {
		n = (long)st.st_size;
		od.answered++;
		goto out;
	}
	free(*resp);
	*resp = malloc(sizeof(unauthorized));
	if (*resp != NULL) {
		memcpy(*resp, unauthorized, sizeof(unauthorized));
		n = (long)sizeof(unauthorized);
	}
	od.unknown++;
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_free(hex);
	BN_free(bn);
	OCSP_REQUEST_free(req);
	return n;
}

/* A whole request in c->buf? Then c->out holds the HTTP answer: 1. */
static int od_parse(struct od_conn *c)
{
	unsigned char der[OD_BUF], *resp = NULL;
	char *end, *sp, *cl;
	size_t head, body = 0;
	long dlen, rlen;
	char hdr[256];
	int hl;

	c->buf[c->in < OD_BUF ? c->in : OD_BUF - 1] = '\0';
	end = strstr((char *)c->buf, "\r\n\r\n");
	if (end == NULL)
		return c->in >= OD_BUF - 1 ? -1 : 0;
	head = (size_t)(end - (char *)c->buf) + 4;
	if (strncmp((char *)c->buf, "POST ", 5) == 0) {
		cl = strcasestr((char *)c->buf, "\r\ncontent-length:");
		if (cl == NULL || cl > end)
			return -1;
		body = strtoul(cl + 17, NULL, 10);
		if (body == 0 || head + body >= OD_BUF)
			return -1;
		if (c->in < head + body)
			return 0;
		memcpy(der, c->buf + head, body);
		dlen = (long)body;
	} else if (strncmp((char *)c->buf, "GET ", 4) == 0) {
		sp = strchr((char *)c->buf + 4, ' ');
		if (sp == NULL || sp > end)
			return -1;
		dlen = od_get_der((char *)c->buf + 4,
				  (size_t)(sp - (char *)c->buf - 4), der,
				  sizeof(der));
		if (dlen <= 0)
			return -1;
	} else {
		return -1;
	}
	od.requests++;
	rlen = od_answer(der, dlen, &resp);
	if (rlen < 0)
		return -1;
	hl = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.0 200 OK\r\nContent-Type: "
		      "application/ocsp-response\r\nContent-Length: %ld\r\n"
		      "Connection: close\r\n\r\n",
		      rlen);
	c->out = malloc((size_t)hl + (size_t)rlen);
	if (c->out == NULL) {
		free(resp);
		return -1;
	}
	memcpy(c->out, hdr, (size_t)hl);
	memcpy(c->out + hl, resp, (size_t)rlen);
	c->out_len = (size_t)hl + (size_t)rlen;
	free(resp);
	return 1;
}

static void od_event(int ep, struct od_conn *c)
{
	ssize_t n = 0;
	int rc;

	if (c->out == NULL) {
		while ((n = read(c->fd, c->buf + c->in, OD_BUF - 1 - c->in)) >
		       0)
			c->in += (size_t)n;
		if (n == 0 && c->in == 0) {
			od_close(c);
			return;
		}
		rc = od_parse(c);
		if (rc < 0 || (rc == 0 && n == 0)) {
			od_close(c);
			return;
		}
		if (rc == 0)
			return;
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};

		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	while (c->out_off < c->out_len &&
	       (n = write(c->fd, c->out + c->out_off,
			  c->out_len - c->out_off)) > 0)
		c->out_off += (size_t)n;
	if (c->out_off == c->out_len ||
	    (n < 0 && errno != EAGAIN && errno != EINTR)) {
		shutdown(c->fd, SHUT_WR);
		od_close(c);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct epoll_event evs[64], ev;
	long long last_sweep = od_ms();
	int lfd, ep, sfd, one = 1;
	bool stop = false;
	sigset_t set;
	long port;

	if (argc != 4 || (port = strtol(argv[1], NULL, 10)) <= 0 ||
	    port > 65535) {
		fprintf(stderr, "usage: kst-bench-ocspd PORT RESPDIR LOG\n");
		return 2;
	}
	od.dir = argv[2];
	od.log = fopen(argv[3], "we");
	if (od.log == NULL) {
		fprintf(stderr, "kst-bench-ocspd: %s: %s\n", argv[3],
			strerror(errno));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || lfd < 0 || ep < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4096) < 0) {
		fprintf(stderr, "kst-bench-ocspd: 127.0.0.1:%ld: %s\n", port,
			strerror(errno));
		return 1;
	}
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &od};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	printf("listening %ld\n", port);
	fflush(stdout);
	while (!stop) {
		int n = epoll_wait(ep, evs, 64, 1000);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &od) {
				stop = true;
			} else if (evs[i].data.ptr == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK |
							     SOCK_CLOEXEC)) >=
				       0) {
					struct od_conn *c;

					if (fd >= OD_CONNS ||
					    (c = calloc(1, sizeof(*c))) ==
						    NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					c->since = od_ms();
					od.conns[fd] = c;
					ev = (struct epoll_event){
						.events = EPOLLIN,
						.data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
			} else {
				od_event(ep, evs[i].data.ptr);
			}
		}
		if (od_ms() - last_sweep >= 1000) {
			last_sweep = od_ms();
			for (int fd = 0; fd < OD_CONNS; fd++)
				if (od.conns[fd] != NULL &&
				    last_sweep - od.conns[fd]->since >
					    OD_IDLE_MS)
					od_close(od.conns[fd]);
		}
	}
	for (int fd = 0; fd < OD_CONNS; fd++)
		if (od.conns[fd] != NULL)
			od_close(od.conns[fd]);
	fclose(od.log);
	printf("requests %llu answered %llu unknown %llu bad %llu\n",
	       od.requests, od.answered, od.unknown, od.bad);
	return 0;
}
