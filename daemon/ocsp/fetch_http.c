// SPDX-License-Identifier: MIT
/*
 * The HTTP side of an OCSP fetch attempt. OpenSSL does the protocol: its
 * HTTP client (OSSL_HTTP_REQ_CTX) writes the request line, headers and
 * body, and checks the status, the Content-Type, the Content-Length and
 * DER length (and that the two agree) against max_size before the body is
 * read.
 *
 * What OpenSSL 3.0 does not give, this file adds:
 *   - a bounded, cancellable name lookup (fetch_resolve.c, c-ares): the
 *     connect BIO's getaddrinfo can neither be given a deadline nor be
 *     interrupted. The responder's name is resolved at every attempt, in
 *     the connect timeout, and each address is tried in turn with a
 *     non-blocking connect (a refused or unreachable IPv6 address falls
 *     back to IPv4) until that timeout; an IP literal is never looked up;
 *   - exactly the body. OpenSSL's answer buffer holds the body and what
 *     its last read brought after it (a CRLF, junk: up to a read's
 *     worth), which ingest would refuse as trailing bytes, and which
 *     could take it over max_size: the body handed on is the DER object's
 *     own length, which OpenSSL has checked against any Content-Length
 *     (kst_fetch_http_body, a pure function of the bytes);
 *   - millisecond deadlines and cancellation. OpenSSL's own waits count
 *     whole seconds of time(), use select() (no fd above FD_SETSIZE, which
 *     a busy daemon's fds are) and cannot be interrupted. So the exchange
 *     runs on a small BIO of ours over the connected socket: every read
 *     and write first polls with the attempt's deadline and the cancel fd.
 *     To OpenSSL it is a blocking socket that fails at the deadline;
 *   - the status code and Location of an answer OpenSSL refuses. 3.0 puts
 *     "code=500" in its error data but says nothing for a redirected POST,
 *     so the BIO keeps the first bytes of the answer and both are read
 *     from there, the same way for every method and OpenSSL version.
 */
#include "daemon/ocsp/fetch_http.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/http.h>
#include <openssl/httperr.h>

#include "daemon/ocsp/fetch_resolve.h"
#include "daemon/base/log.h"
#include "daemon/ocsp/fetch.h"
#include "daemon/base/util.h"

#define HTTP_GET_MAX  255  /* RFC 6960 A.1: GET only under 255 bytes */
#define HTTP_HEAD_MAX 4096 /* kept answer bytes: status line, headers */

/* The connection as our BIO sees it. */
struct fetch_io {
	int fd, cancel_fd;
	uint64_t deadline; /* kst_mono_ms() */
	bool timed_out, cancelled, eof;
	int sys_err;
	/* kst_fetch_http_reply: the answer comes from here, not from fd,
	 * and what is written goes nowhere */
	const unsigned char *src;
	size_t src_len, src_off;
	size_t head_len;
	char head[HTTP_HEAD_MAX + 1];
};

/* A parsed http:// URL (OpenSSL's parser; brackets kept on IPv6). */
struct http_url {
	int ssl;
	char *user, *host, *port, *path, *query, *frag;
	int port_num;
};

static BIO_METHOD *io_method(void);
static int io_wait(struct fetch_io *io, int fd, short events);
static int io_read(BIO *b, char *buf, size_t len, size_t *got);
static int io_write(BIO *b, const char *buf, size_t len, size_t *put);
static long io_ctrl(BIO *b, int cmd, long num, void *ptr);
static int http_url_parse(const char *url, struct http_url *u);
static void http_url_free(struct http_url *u);
static char *http_encode(const unsigned char *der, size_t len);
static int http_fail(struct kst_fetch_http *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int http_connect(struct kst_fetch_http *h, const struct http_url *at,
			bool proxy, struct fetch_io *io);
static OSSL_HTTP_REQ_CTX *http_request(struct kst_fetch_http *h,
				       const struct http_url *u,
				       const char *path, bool proxy, BIO *bio);
static int http_send(struct kst_fetch_http *h, const struct http_url *u,
		     const char *path, bool proxy, struct fetch_io *io);
static int http_body(struct kst_fetch_http *h, BIO *resp,
		     const struct fetch_io *io);
static long head_content_length(const struct fetch_io *io);
static int http_path(struct kst_fetch_http *h, const struct http_url *u,
		     char **path);
static int http_refused(struct kst_fetch_http *h, struct fetch_io *io,
			const char *redirect, bool proxy);
static int http_refused_200(struct kst_fetch_http *h, struct fetch_io *io);
static int head_status(const struct fetch_io *io);
static void head_header(const struct fetch_io *io, const char *name, char *out,
			size_t size);

static pthread_once_t io_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *io_meth;

/* ------------------------------------------------------ the socket BIO */

static void io_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				     "kstapled fetch socket");

	if (m != NULL && BIO_meth_set_read_ex(m, io_read) &&
	    BIO_meth_set_write_ex(m, io_write) && BIO_meth_set_ctrl(m, io_ctrl))
		io_meth = m;
	else
		BIO_meth_free(m);
}

static BIO_METHOD *io_method(void)
{
	pthread_once(&io_once, io_method_init);
	return io_meth;
}

/* 0 when fd is ready for events; -1 at the deadline, on cancel, on error. */
static int io_wait(struct fetch_io *io, int fd, short events)
{
	for (;;) {
		struct pollfd p[2] = {{fd, events, 0},
				      {io->cancel_fd, POLLIN, 0}};
		uint64_t now = kst_mono_ms();
		int n;

		if (now >= io->deadline) {
			io->timed_out = true;
			return -1;
		}
		n = poll(p, io->cancel_fd >= 0 ? 2 : 1,
			 (int)KST_MIN(io->deadline - now, (uint64_t)INT_MAX));
		if (n < 0 && errno != EINTR) {
			io->sys_err = errno;
			return -1;
		}
		if (n > 0 && p[1].revents != 0) {
			io->cancelled = true;
			return -1;
		}
		if (n > 0 && p[0].revents != 0)
			return 0;
	}
}

static int io_read(BIO *b, char *buf, size_t len, size_t *got)
{
	struct fetch_io *io = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (io->src != NULL) {
		n = (ssize_t)KST_MIN(len, io->src_len - io->src_off);
		memcpy(buf, io->src + io->src_off, (size_t)n);
		io->src_off += (size_t)n;
	} else {
		do {
			if (io_wait(io, io->fd, POLLIN) < 0)
				return 0;
			n = recv(io->fd, buf, len, 0);
		} while (n < 0 && (errno == EINTR || errno == EAGAIN));
	}
	if (n <= 0) {
		io->eof = n == 0;
		io->sys_err = n < 0 ? errno : 0;
		return 0;
	}
	if (io->head_len < HTTP_HEAD_MAX) {
		size_t k = KST_MIN((size_t)n, HTTP_HEAD_MAX - io->head_len);

		memcpy(io->head + io->head_len, buf, k);
		io->head_len += k;
		io->head[io->head_len] = '\0';
	}
	*got = (size_t)n;
	return 1;
}

static int io_write(BIO *b, const char *buf, size_t len, size_t *put)
{
	struct fetch_io *io = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (io->src != NULL) {
		*put = len;
		return 1;
	}
	do {
		if (io_wait(io, io->fd, POLLOUT) < 0)
			return 0;
		n = send(io->fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && (errno == EINTR || errno == EAGAIN));
	if (n < 0) {
		io->sys_err = errno;
		return 0;
	}
	*put = (size_t)n;
	return 1;
}

static long io_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct fetch_io *io = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return io->eof;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = io->fd;
		return io->fd;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------- the plan */

static void http_url_free(struct http_url *u)
{
	OPENSSL_free(u->user);
	OPENSSL_free(u->host);
	OPENSSL_free(u->port);
	OPENSSL_free(u->path);
	OPENSSL_free(u->query);
	OPENSSL_free(u->frag);
	memset(u, 0, sizeof(*u));
}

/* 0, or -EINVAL for what is not http(s)://host[:port][/path]. */
static int http_url_parse(const char *url, struct http_url *u)
{
	memset(u, 0, sizeof(*u));
	if (url == NULL ||
	    !OSSL_HTTP_parse_url(url, &u->ssl, &u->user, &u->host, &u->port,
				 &u->port_num, &u->path, &u->query, &u->frag)) {
		ERR_clear_error();
		memset(u, 0, sizeof(*u));
		return -EINVAL;
	}
	if (u->host[0] == '\0' || u->port_num <= 0 ||
	    strpbrk(u->host, " \t\r\n/?#@") != NULL ||
	    strpbrk(u->path, " \t\r\n") != NULL) {
		http_url_free(u);
		return -EINVAL;
	}
	return 0;
}

/* base64 of der, then URL-encoded (RFC 6960 A.1). */
static char *http_encode(const unsigned char *der, size_t len)
{
	size_t b64 = len < INT_MAX / 2 ? (len + 2) / 3 * 4 : 0;
	unsigned char *tmp = b64 ? malloc(b64 + 1) : NULL;
	char *out = b64 ? malloc(b64 * 3 + 1) : NULL, *o = out;

	if (tmp == NULL || out == NULL) {
		free(tmp);
		free(out);
		errno = ENOMEM;
		return NULL;
	}
	EVP_EncodeBlock(tmp, der, (int)len);
	for (size_t i = 0; i < b64; i++) {
		if (tmp[i] == '+' || tmp[i] == '/' || tmp[i] == '=')
			o += sprintf(o, "%%%02X", tmp[i]);
		else
			*o++ = (char)tmp[i];
	}
	*o = '\0';
	free(tmp);
	return out;
}

int kst_fetch_http_plan(const char *url, const unsigned char *der, size_t len,
			char **get_path)
{
	struct http_url u;
	char *enc = NULL;
	size_t total, plen;
	int err = http_url_parse(url, &u);

	*get_path = NULL;
	if (err < 0)
		return err;
	if (u.query[0] != '\0' || u.frag[0] != '\0')
		goto out; /* no room for the request in the path: POST */
	enc = http_encode(der, len);
	if (enc == NULL) {
		err = -ENOMEM;
		goto out;
	}
	plen = strlen(u.path);
	/* the URL as given, a '/' if its path lacks one, the request */
	total = strlen(url) + (u.path[plen - 1] != '/') + strlen(enc);
	if (total < HTTP_GET_MAX &&
	    asprintf(get_path, "%s%s%s", u.path,
		     u.path[plen - 1] != '/' ? "/" : "", enc) < 0) {
		*get_path = NULL;
		err = -ENOMEM;
	}
out:
	free(enc);
	http_url_free(&u);
	return err;
}

/* ------------------------------------------------------- the exchange */

static int http_fail(struct kst_fetch_http *h, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->detail, sizeof(h->detail), fmt, ap);
	va_end(ap);
	h->err = err;
	return err;
}

/* connect() to one address within io's deadline: 0, or -1 (io says why). */
static int http_connect_one(struct fetch_io *io, const struct sockaddr *a,
			    socklen_t len)
{
	int fd = socket(a->sa_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int e = 0;
	socklen_t el = sizeof(e);

	if (fd < 0) {
		io->sys_err = errno;
		return -1;
	}
	if (connect(fd, a, len) == 0)
		goto ok;
	if (errno != EINPROGRESS) {
		io->sys_err = errno;
		goto fail;
	}
	if (io_wait(io, fd, POLLOUT) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	if (e != 0) {
		io->sys_err = e;
		goto fail;
	}
ok:
	io->fd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * Resolve at (the responder, or the proxy) and connect to its addresses
 * in turn, all within io's deadline (connect_timeout_ms): a name that
 * does not resolve in time, a cancel, end it there.
 */
static int http_connect(struct kst_fetch_http *h, const struct http_url *at,
			bool proxy, struct fetch_io *io)
{
	const char *what = proxy ? "the proxy " : "";
	int fail = proxy ? KST_FETCH_E_PROXY : KST_FETCH_E_CONNECT;
	int unresolved = proxy ? KST_FETCH_E_PROXY : KST_FETCH_E_RESOLVE;
	struct kst_fetch_addrs r;
	char why[160];
	int err = kst_fetch_resolve(at->host, at->port_num, io->deadline,
				    io->cancel_fd, &r, why, sizeof(why));

	if (err == -ECANCELED) {
		io->cancelled = true;
		return http_fail(h, KST_FETCH_E_INTERNAL, "cancelled");
	}
	if (err == -ETIMEDOUT)
		return http_fail(
			h, unresolved,
			"cannot resolve %s%s: no answer from the DNS "
			"within %ld ms (connect-timeout)",
			what, at->host,
			KST_MIN(h->connect_timeout_ms, h->response_timeout_ms));
	if (err == -ENOMEM)
		return http_fail(h, KST_FETCH_E_INTERNAL, "out of memory");
	if (err < 0)
		return http_fail(h, unresolved, "cannot resolve %s%s: %s", what,
				 at->host, why[0] ? why : strerror(-err));
	for (size_t i = 0; i < r.n; i++) {
		if (http_connect_one(io, (const struct sockaddr *)&r.addr[i],
				     r.len[i]) == 0)
			return 0;
		if (io->timed_out || io->cancelled)
			break;
	}
	if (io->cancelled)
		return http_fail(h, KST_FETCH_E_INTERNAL, "cancelled");
	if (io->timed_out)
		return http_fail(
			h, proxy ? KST_FETCH_E_PROXY : KST_FETCH_E_TIMEOUT,
			"connecting to %s%s:%s timed out", what, at->host,
			at->port);
	return http_fail(h, fail, "cannot connect to %s%s:%s: %s", what,
			 at->host, at->port, strerror(io->sys_err));
}

/* The request line, headers and (POST) body, to go out on bio. */
static OSSL_HTTP_REQ_CTX *http_request(struct kst_fetch_http *h,
				       const struct http_url *u,
				       const char *path, bool proxy, BIO *bio)
{
	OSSL_HTTP_REQ_CTX *r = OSSL_HTTP_REQ_CTX_new(bio, bio, 0);
	bool port80 = u->port_num == 80;
	char host[300];

	snprintf(host, sizeof(host), "%s%s%s", u->host, port80 ? "" : ":",
		 port80 ? "" : u->port);
	if (r == NULL ||
	    !OSSL_HTTP_REQ_CTX_set_request_line(
		    r, h->post, proxy ? u->host : NULL,
		    proxy && !port80 ? u->port : NULL, path) ||
	    !OSSL_HTTP_REQ_CTX_add1_header(r, "Host", host) ||
	    !OSSL_HTTP_REQ_CTX_add1_header(r, "User-Agent", "kstapled") ||
	    !OSSL_HTTP_REQ_CTX_set_expected(r, "application/ocsp-response", 1,
					    0, 0) ||
	    (h->post &&
	     !OSSL_HTTP_REQ_CTX_set1_req(r, "application/ocsp-request",
					 ASN1_ITEM_rptr(OCSP_REQUEST),
					 (const ASN1_VALUE *)h->req))) {
		OSSL_HTTP_REQ_CTX_free(r);
		return NULL;
	}
	OSSL_HTTP_REQ_CTX_set_max_response_length(r, h->max_size);
	return r;
}

/* Send the request over the connected io, read the answer. */
static int http_send(struct kst_fetch_http *h, const struct http_url *u,
		     const char *path, bool proxy, struct fetch_io *io)
{
	BIO_METHOD *meth = io_method();
	BIO *bio = meth ? BIO_new(meth) : NULL, *resp = NULL;
	OSSL_HTTP_REQ_CTX *rctx = NULL;
	char *redirect = NULL;

	if (bio != NULL) {
		BIO_set_data(bio, io);
		BIO_set_init(bio, 1);
		rctx = http_request(h, u, path, proxy, bio);
	}
	if (rctx == NULL) {
		http_fail(h, KST_FETCH_E_INTERNAL, "cannot build the request");
		goto out;
	}
	resp = OSSL_HTTP_exchange(rctx, &redirect);
	if (resp != NULL)
		http_body(h, resp, io);
	else
		http_refused(h, io, redirect, proxy);
out:
	BIO_free(resp);
	OPENSSL_free(redirect);
	OSSL_HTTP_REQ_CTX_free(rctx);
	BIO_free(bio);
	return h->err;
}

/* 0 and *n for a DER length at p (len bytes), or -EBADMSG, -ENODATA. */
static int der_length(const unsigned char *p, size_t len, uint64_t *n)
{
	size_t k;

	if (len < 2)
		return -ENODATA;
	if (p[0] != 0x30) /* SEQUENCE, constructed */
		return -EBADMSG;
	if (p[1] < 0x80) {
		*n = 2 + (uint64_t)p[1];
		return 0;
	}
	k = p[1] & 0x7f;
	if (k == 0 || k > 4) /* indefinite, or 4 GiB and more */
		return -EBADMSG;
	if (len < 2 + k)
		return -ENODATA;
	*n = 0;
	for (size_t i = 0; i < k; i++)
		*n = *n << 8 | p[2 + i];
	*n += 2 + k;
	return 0;
}

int kst_fetch_http_body(const unsigned char *buf, size_t len,
			long content_length, size_t max, size_t *body_len)
{
	uint64_t n = 0;
	int err;

	*body_len = 0;
	if (content_length >= 0 && (uint64_t)content_length > max)
		return -EMSGSIZE;
	err = der_length(buf, len, &n);
	if (err < 0)
		return err;
	if (n > max)
		return -EMSGSIZE;
	if (content_length >= 0 && (uint64_t)content_length != n)
		return -EPROTO;
	if (n > len)
		return -ENODATA;
	*body_len = (size_t)n;
	return 0;
}

/*
 * OpenSSL's buffer holds the body and whatever its last read brought
 * after it (up to a read's worth): hand on exactly the body.
 */
static int http_body(struct kst_fetch_http *h, BIO *resp,
		     const struct fetch_io *io)
{
	const char *p = NULL;
	long n = BIO_get_mem_data(resp, &p);
	long cl = head_content_length(io);
	size_t len = 0;
	int err;

	h->http_status = 200;
	if (n <= 0 || p == NULL)
		return http_fail(h, KST_FETCH_E_BODY, "the answer had no body");
	err = kst_fetch_http_body((const unsigned char *)p, (size_t)n, cl,
				  h->max_size, &len);
	if (err == -EMSGSIZE)
		return http_fail(h, KST_FETCH_E_TOO_LARGE,
				 "the response is over %zu bytes", h->max_size);
	if (err == -EPROTO)
		return http_fail(h, KST_FETCH_E_BODY,
				 "Content-Length %ld is not the length of "
				 "the DER response",
				 cl);
	if (err == -ENODATA)
		return http_fail(h, KST_FETCH_E_BODY, "the body ended early");
	if (err < 0)
		return http_fail(h, KST_FETCH_E_BODY,
				 "not an OCSP response: not one DER object");
	h->body = OPENSSL_memdup(p, len);
	if (h->body == NULL)
		return http_fail(h, KST_FETCH_E_INTERNAL, "out of memory");
	h->body_len = len;
	return http_fail(h, KST_FETCH_OK, "%zu bytes by %s", h->body_len,
			 h->post ? "POST" : "GET");
}

/* OpenSSL gave no body: say why, from its errors and the kept head. */
static int http_refused(struct kst_fetch_http *h, struct fetch_io *io,
			const char *redirect, bool proxy)
{
	char loc[160];
	int st = head_status(io);

	h->http_status = st;
	if (io->cancelled)
		return http_fail(h, KST_FETCH_E_INTERNAL, "cancelled");
	if (io->timed_out)
		return http_fail(h, KST_FETCH_E_TIMEOUT,
				 "no complete answer within %ld ms",
				 h->response_timeout_ms);
	if (redirect != NULL || (st >= 300 && st < 400)) {
		head_header(io, "Location", loc, sizeof(loc));
		return http_fail(h, KST_FETCH_E_REDIRECT,
				 "HTTP %d redirect to %s, not followed", st,
				 loc[0] ? loc : "(no Location)");
	}
	if (st == 407 && proxy)
		return http_fail(h, KST_FETCH_E_PROXY,
				 "the proxy wants authentication (HTTP 407)");
	if (st != 0 && st != 200)
		return http_fail(h, KST_FETCH_E_HTTP, "HTTP status %d%s", st,
				 proxy ? " (through the proxy)" : "");
	if (st == 200)
		return http_refused_200(h, io);
	ERR_clear_error();
	if (io->head_len > 0)
		return http_fail(h, KST_FETCH_E_HTTP, "the answer is not HTTP");
	return http_fail(h, KST_FETCH_E_HTTP, "%s without answering",
			 io->sys_err ? strerror(io->sys_err)
				     : "the connection was closed");
}

/* A 200 whose body OpenSSL refused: too large, or not an OCSP response. */
static int http_refused_200(struct kst_fetch_http *h, struct fetch_io *io)
{
	unsigned long e = ERR_peek_error();
	char why[160], te[32];

	kst_log_ssl_errors(why, sizeof(why));
	if (ERR_GET_LIB(e) == ERR_LIB_HTTP &&
	    ERR_GET_REASON(e) == HTTP_R_MAX_RESP_LEN_EXCEEDED)
		return http_fail(h, KST_FETCH_E_TOO_LARGE,
				 "the response is over %zu bytes: %s",
				 h->max_size, why);
	if (ERR_GET_LIB(e) == ERR_LIB_HTTP &&
	    ERR_GET_REASON(e) == HTTP_R_INCONSISTENT_CONTENT_LENGTH)
		return http_fail(h, KST_FETCH_E_BODY,
				 "the Content-Length is not the length of "
				 "the DER response: %s",
				 why);
	head_header(io, "Transfer-Encoding", te, sizeof(te));
	if (te[0] != '\0')
		return http_fail(h, KST_FETCH_E_BODY,
				 "Transfer-Encoding %s: an answer to an "
				 "HTTP/1.0 request has no chunked body: %s",
				 te, why);
	if (io->eof || io->sys_err)
		return http_fail(h, KST_FETCH_E_BODY,
				 "the body ended early: %s", why);
	return http_fail(h, KST_FETCH_E_BODY, "not an OCSP response: %s", why);
}

/* The status code of the kept status line, 0 if there is none. */
static int head_status(const struct fetch_io *io)
{
	const char *s = io->head;

	if (io->head_len < 12 || strncmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
		return 0;
	for (int i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

/* A header's value from the kept head, printable ASCII only, or "". */
static void head_header(const struct fetch_io *io, const char *name, char *out,
			size_t size)
{
	size_t nl = strlen(name), o = 0;
	const char *l = strstr(io->head, "\r\n"), *end;
	const char *hend = strstr(io->head, "\r\n\r\n"); /* then the body */

	while (l != NULL && (hend == NULL || l < hend) &&
	       strncasecmp(l + 2, name, nl) != 0)
		l = strstr(l + 2, "\r\n");
	if (l != NULL && (hend == NULL || l < hend) && l[2 + nl] == ':') {
		l += 3 + nl;
		l += strspn(l, " \t");
		end = l + strcspn(l, "\r\n");
		for (; l < end && o + 1 < size; l++)
			out[o++] = *l > ' ' && *l < 0x7f ? *l : '?';
	}
	out[o] = '\0';
}

/* The Content-Length the kept head gives, -1 if none (or unreadable:
 * OpenSSL has refused an answer with one it cannot read). */
static long head_content_length(const struct fetch_io *io)
{
	char v[32], *end;
	long n;

	head_header(io, "Content-Length", v, sizeof(v));
	if (v[0] < '0' || v[0] > '9')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno == 0 && *end == '\0' ? n : -1;
}

/* The request line's path: the plan's GET path, else the URL's for POST. */
static int http_path(struct kst_fetch_http *h, const struct http_url *u,
		     char **path)
{
	if (kst_fetch_http_plan(h->url, h->der, h->der_len, path) < 0)
		return -ENOMEM;
	h->post = *path == NULL;
	if (h->post && asprintf(path, "%s%s%s", u->path, u->query[0] ? "?" : "",
				u->query) < 0) {
		*path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The URLs and the request line's path of h: 0, or h->err. */
static int http_prepare(struct kst_fetch_http *h, struct http_url *u,
			struct http_url *px, char **path)
{
	bool proxy = h->proxy != NULL && h->proxy[0] != '\0';

	h->err = KST_FETCH_OK;
	h->http_status = 0;
	h->detail[0] = '\0';
	h->body = NULL;
	h->body_len = 0;
	memset(px, 0, sizeof(*px));
	*path = NULL;
	if (http_url_parse(h->url, u) < 0 || u->ssl)
		return http_fail(h, KST_FETCH_E_NO_URL,
				 "not an http:// URL kstapled can use");
	if (proxy && (http_url_parse(h->proxy, px) < 0 || px->ssl))
		return http_fail(h, KST_FETCH_E_PROXY, "bad proxy URL");
	if (http_path(h, u, path) < 0)
		return http_fail(h, KST_FETCH_E_INTERNAL, "out of memory");
	if (h->post && h->req == NULL)
		return http_fail(h, KST_FETCH_E_INTERNAL, "no request to POST");
	return 0;
}

int kst_fetch_http_exchange(struct kst_fetch_http *h)
{
	struct fetch_io io = {.fd = -1, .cancel_fd = h->cancel_fd};
	struct http_url u = {0}, px;
	bool proxy = h->proxy != NULL && h->proxy[0] != '\0';
	char *path = NULL;
	uint64_t t0 = kst_mono_ms();
	long conn_ms = KST_MIN(h->connect_timeout_ms, h->response_timeout_ms);

	if (http_prepare(h, &u, &px, &path) != 0)
		goto out;
	ERR_clear_error();
	/* resolving the name counts against the connect timeout */
	io.deadline = t0 + (uint64_t)KST_MAX(conn_ms, 1L);
	if (http_connect(h, proxy ? &px : &u, proxy, &io) != 0)
		goto out;
	io.deadline = t0 + (uint64_t)KST_MAX(h->response_timeout_ms, 1L);
	http_send(h, &u, path, proxy, &io);
out:
	ERR_clear_error(); /* what mattered is in h->detail */
	h->cancelled = io.cancelled;
	if (io.fd >= 0)
		close(io.fd);
	free(path);
	http_url_free(&px);
	http_url_free(&u);
	return h->err;
}

int kst_fetch_http_reply(struct kst_fetch_http *h, const unsigned char *reply,
			 size_t len)
{
	static const unsigned char none[1];
	struct fetch_io io = {.fd = -1,
			      .cancel_fd = -1,
			      .deadline = UINT64_MAX,
			      .src = reply != NULL ? reply : none,
			      .src_len = reply != NULL ? len : 0};
	struct http_url u = {0}, px;
	bool proxy = h->proxy != NULL && h->proxy[0] != '\0';
	char *path = NULL;

	if (http_prepare(h, &u, &px, &path) == 0) {
		ERR_clear_error();
		http_send(h, &u, path, proxy, &io);
	}
	ERR_clear_error();
	h->cancelled = false;
	free(path);
	http_url_free(&px);
	http_url_free(&u);
	return h->err;
}
