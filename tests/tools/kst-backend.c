// SPDX-License-Identifier: MIT
/*
 * kst-backend: the plaintext backend of the tests, the demo and the
 * benchmark. Modes: echo, sink (count and hash), http (pages, downloads of
 * the deterministic pattern, POST hashing, keep-alive) and source (send N
 * pattern bytes). With -p every connection must start with a PROXY header
 * (v1 or v2), which is decoded and, with --record, appended to a file as
 * one JSON line.
 *
 * Model: one thread, one level-triggered epoll set, non-blocking sockets.
 * Reads go into one shared scratch buffer and are consumed at once; only
 * the unwritten tail of a short write is kept per connection, and while a
 * connection has output pending it is not read (backpressure: memory per
 * connection is bounded by one read, whatever the peer does). Pattern
 * output (/bytes/N, source) is generated on demand, never buffered.
 *
 * Every connection ends the same way: when its output is drained and it is
 * finished, the write side is shut down; its input is then read (and
 * dropped) until the peer's EOF, and only then closed, so that unread
 * input never turns the close into a reset that destroys the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "daemon/base/util.h"
#include "tests/lib/pattern.h"
#include "tests/lib/proxyparse.h"
#include "tests/lib/toolutil.h"

#define BE_SCRATCH    (64 * 1024)
#define BE_MAX_LISTEN 8
#define BE_HEAD_MAX   8192 /* HTTP request head */
/* HTTP input held: a head, plus at most one read that came with it */
#define BE_IN_CAP    (BE_HEAD_MAX + BE_SCRATCH)
#define BE_PROXY_MAX 4096 /* PROXY header we accept */
#define BE_READS     8	  /* reads per event, for fairness */

enum be_mode { BE_ECHO, BE_SINK, BE_HTTP, BE_SOURCE };
enum be_kind { BE_LISTENER, BE_CONN, BE_SIGNAL };

struct be_ep {
	enum be_kind kind;
	int fd;
};

struct be_listener {
	struct be_ep ep;
	char name[128];
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

struct be_conn {
	struct be_ep ep;
	struct be_conn *prev, *next; /* all open connections, for teardown */
	uint32_t events;	     /* current epoll interest */
	char peer[64];
	bool want_proxy;   /* -p and the header is not complete yet */
	char *proxy_json;  /* decoded header, for the http page */
	unsigned char *in; /* PROXY header or HTTP head being read */
	size_t in_len;
	unsigned char *out; /* tail of a short write */
	size_t out_off, out_len;
	uint64_t gen_off, gen_left; /* pattern bytes still to send */
	bool finish; /* shut down writing once output is drained */
	bool wr_shut, eof_in;
	EVP_MD_CTX *md; /* sink, http POST body */
	uint64_t count;
	/* http */
	bool in_body, keep_alive;
	uint64_t body_left;
};

struct be_counters {
	uint64_t accepted, closed, active, peak, bytes_in, bytes_out;
	uint64_t proxy_ok, proxy_bad, http_requests, errors;
};

struct be {
	enum be_mode mode;
	bool expect_proxy;
	uint64_t source_n, seed;
	const char *record_path, *pidfile;
	int record_fd, epfd;
	struct be_listener listeners[BE_MAX_LISTEN];
	int nlisten;
	struct be_ep sig;
	struct be_conn *conns;
	bool stop;
	struct be_counters n;
};

static unsigned char be_scratch[BE_SCRATCH];
/* --count-only: bodies are counted, not hashed (a benchmark's backend must
 * not be what limits an upload) */
static bool be_count_only;

static void be_conn_close(struct be *be, struct be_conn *c);
static void be_conn_update(struct be *be, struct be_conn *c);
static int be_conn_feed(struct be *be, struct be_conn *c,
			const unsigned char *p, size_t n);
static int be_conn_flush(struct be *be, struct be_conn *c);
static int be_out(struct be *be, struct be_conn *c, const void *p, size_t n);
static int be_http_feed(struct be *be, struct be_conn *c,
			const unsigned char *p, size_t n);
static int be_http_drain(struct be *be, struct be_conn *c);

static const char *const be_mode_names[] = {
	[BE_ECHO] = "echo",
	[BE_SINK] = "sink",
	[BE_HTTP] = "http",
	[BE_SOURCE] = "source",
};

/* ------------------------------------------------------------ output */

static bool be_out_pending(const struct be_conn *c)
{
	return c->out_len > c->out_off || c->gen_left > 0;
}

static ssize_t be_send(struct be *be, struct be_conn *c, const void *p,
		       size_t n)
{
	ssize_t w = send(c->ep.fd, p, n, MSG_NOSIGNAL);

	if (w > 0)
		be->n.bytes_out += (uint64_t)w;
	else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	return w < 0 ? 0 : w;
}

/* Send now what the socket takes; keep the rest. -1: connection broken. */
static int be_out(struct be *be, struct be_conn *c, const void *p, size_t n)
{
	ssize_t w = 0;
	unsigned char *nb;

	if (!be_out_pending(c)) {
		w = be_send(be, c, p, n);
		if (w < 0)
			return -1;
	}
	if ((size_t)w == n)
		return 0;
	nb = realloc(c->out, c->out_len - c->out_off + n - (size_t)w);
	if (nb == NULL)
		return -1;
	if (c->out_off > 0) {
		memmove(nb, nb + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	memcpy(nb + c->out_len, (const char *)p + w, n - (size_t)w);
	c->out = nb;
	c->out_len += n - (size_t)w;
	return 0;
}

static int be_out_str(struct be *be, struct be_conn *c, const char *s)
{
	return be_out(be, c, s, strlen(s));
}

/* Pending bytes, then generated pattern bytes; 1 when all is sent. */
static int be_conn_flush(struct be *be, struct be_conn *c)
{
	while (c->out_len > c->out_off) {
		ssize_t w = be_send(be, c, c->out + c->out_off,
				    c->out_len - c->out_off);

		if (w <= 0)
			return (int)w;
		c->out_off += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = 0;
	while (c->gen_left > 0) {
		size_t n = (size_t)KST_MIN(c->gen_left, (uint64_t)BE_SCRATCH);
		ssize_t w;

		kst_pattern_fill(be_scratch, n, c->gen_off, be->seed);
		w = be_send(be, c, be_scratch, n);
		if (w <= 0)
			return (int)w;
		c->gen_off += (uint64_t)w;
		c->gen_left -= (uint64_t)w;
	}
	return 1;
}

/* -------------------------------------------------------- connection */

static void be_conn_free(struct be_conn *c)
{
	EVP_MD_CTX_free(c->md);
	free(c->proxy_json);
	free(c->in);
	free(c->out);
	free(c);
}

static void be_conn_close(struct be *be, struct be_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		be->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	epoll_ctl(be->epfd, EPOLL_CTL_DEL, c->ep.fd, NULL);
	close(c->ep.fd);
	be->n.closed++;
	be->n.active--;
	be_conn_free(c);
}

static void be_conn_update(struct be *be, struct be_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if (be_out_pending(c))
		ev |= EPOLLOUT;
	else if (!c->eof_in)
		ev |= EPOLLIN;
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = &c->ep;
	epoll_ctl(be->epfd, EPOLL_CTL_MOD, c->ep.fd, &e);
	c->events = ev;
}

static int be_md_start(struct be_conn *c)
{
	if (c->md == NULL)
		c->md = EVP_MD_CTX_new();
	c->count = 0;
	return c->md != NULL && EVP_DigestInit_ex(c->md, EVP_sha256(), NULL)
		       ? 0
		       : -1;
}

/* "<bytes> <sha256hex>\n" of what the digest has seen ("<bytes> -" with
 * --count-only) */
static int be_md_line(struct be_conn *c, char *line, size_t size)
{
	unsigned char md[32];
	char hex[65];

	if (be_count_only) {
		snprintf(line, size, "%llu -\n", (unsigned long long)c->count);
		return 0;
	}
	if (!EVP_DigestFinal_ex(c->md, md, NULL))
		return -1;
	kst_hex(hex, md, sizeof(md));
	snprintf(line, size, "%llu %s\n", (unsigned long long)c->count, hex);
	return 0;
}

static void be_record(struct be *be, const char *json)
{
	char line[2048];
	int n;

	if (be->record_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s\n", json);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(be->record_fd, line, (size_t)n) != n)
		be->n.errors++;
}

/* -1: invalid header (connection dropped), 0: need more, >0: consumed */
static int be_proxy(struct be *be, struct be_conn *c, const unsigned char *p,
		    size_t n, size_t *used)
{
	struct kst_pp_hdr h;
	char json[1600];
	size_t take = KST_MIN(n, (size_t)BE_PROXY_MAX - c->in_len);
	int r;

	if (c->in == NULL && (c->in = malloc(BE_PROXY_MAX)) == NULL)
		return -1;
	memcpy(c->in + c->in_len, p, take);
	c->in_len += take;
	r = kst_pp_parse(c->in, c->in_len, &h);
	if (r == 0 && c->in_len == BE_PROXY_MAX)
		r = -EINVAL;
	if (r < 0) {
		be->n.proxy_bad++;
		be_record(be, "{\"error\":\"invalid PROXY header\"}");
		return -1;
	}
	if (r == 0)
		return 0;
	be->n.proxy_ok++;
	if (kst_pp_json(&h, json, sizeof(json)) < 0)
		snprintf(json, sizeof(json), "{\"error\":\"too long\"}");
	be_record(be, json);
	c->proxy_json = strdup(json);
	/* what followed the header in this read is data */
	*used = take - (c->in_len - (size_t)r);
	c->want_proxy = false;
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	return 1;
}

static int be_conn_feed(struct be *be, struct be_conn *c,
			const unsigned char *p, size_t n)
{
	size_t used = 0;

	if (c->want_proxy) {
		int r = be_proxy(be, c, p, n, &used);

		if (r <= 0)
			return r;
		p += used;
		n -= used;
	}
	if (c->wr_shut || n == 0)
		return 0; /* draining after we finished: input is dropped */
	switch (be->mode) {
	case BE_ECHO:
		return be_out(be, c, p, n);
	case BE_SINK:
		c->count += n;
		return be_count_only || EVP_DigestUpdate(c->md, p, n) ? 0 : -1;
	case BE_HTTP:
		return be_http_feed(be, c, p, n);
	case BE_SOURCE:
		c->count += n;
		return 0;
	}
	return 0;
}

static int be_conn_eof(struct be *be, struct be_conn *c)
{
	char line[128];

	c->eof_in = true;
	if (c->want_proxy) {
		be->n.proxy_bad++;
		be_record(be, "{\"error\":\"no complete PROXY header\"}");
		return -1;
	}
	if (be->mode == BE_SINK && !c->wr_shut) {
		if (be_md_line(c, line, sizeof(line)) < 0 ||
		    be_out_str(be, c, line) < 0)
			return -1;
	}
	/* http answers the complete requests it holds first (settle) */
	if (be->mode != BE_HTTP)
		c->finish = true;
	return 0;
}

static int be_conn_read(struct be *be, struct be_conn *c)
{
	for (int i = 0; i < BE_READS && !be_out_pending(c); i++) {
		ssize_t r = recv(c->ep.fd, be_scratch, sizeof(be_scratch), 0);

		if (r == 0)
			return be_conn_eof(be, c);
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		be->n.bytes_in += (uint64_t)r;
		if (be_conn_feed(be, c, be_scratch, (size_t)r) < 0)
			return -1;
		if (c->eof_in)
			break;
	}
	return 0;
}

/* After output drained: next pipelined request, or the finishing steps. */
static int be_conn_settle(struct be *be, struct be_conn *c)
{
	if (be_out_pending(c))
		return 0;
	if (be->mode == BE_HTTP && be_http_drain(be, c) < 0)
		return -1;
	if (be_out_pending(c))
		return 0;
	if (c->eof_in)
		c->finish = true; /* an incomplete request is dropped */
	if (!c->finish)
		return 0;
	if (!c->wr_shut) {
		shutdown(c->ep.fd, SHUT_WR);
		c->wr_shut = true;
	}
	return c->eof_in ? 1 : 0;
}

static void be_conn_event(struct be *be, struct be_conn *c, uint32_t ev)
{
	int r = 0;

	if ((ev & EPOLLOUT) && be_conn_flush(be, c) < 0)
		r = -1;
	if (r == 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    !be_out_pending(c))
		r = be_conn_read(be, c);
	if (r == 0 && be_out_pending(c) && be_conn_flush(be, c) < 0)
		r = -1;
	if (r == 0)
		r = be_conn_settle(be, c);
	if (r < 0 && !c->eof_in)
		be->n.errors++;
	if (r != 0 || (ev & EPOLLERR)) {
		be_conn_close(be, c);
		return;
	}
	be_conn_update(be, c);
}

static int be_conn_start(struct be *be, struct be_conn *c)
{
	if ((be->mode == BE_SINK || be->mode == BE_HTTP) && be_md_start(c) < 0)
		return -1;
	c->keep_alive = true;
	if (be->mode == BE_SOURCE) {
		c->gen_left = be->source_n;
		c->finish = true;
		return be_conn_flush(be, c) < 0 ? -1 : 0;
	}
	return 0;
}

static void be_accept(struct be *be, struct be_listener *l)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event e = {.events = EPOLLIN};
		struct be_conn *c;
		int fd = accept4(l->ep.fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				be->n.errors++;
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			be->n.errors++;
			continue;
		}
		c->ep = (struct be_ep){BE_CONN, fd};
		c->next = be->conns;
		if (be->conns != NULL)
			be->conns->prev = c;
		be->conns = c;
		c->want_proxy = be->expect_proxy;
		kst_toolutil_format_addr((struct sockaddr *)&ss, sl, c->peer,
					 sizeof(c->peer));
		e.data.ptr = &c->ep;
		c->events = EPOLLIN;
		be->n.accepted++;
		be->n.active++;
		be->n.peak = KST_MAX(be->n.peak, be->n.active);
		if (epoll_ctl(be->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ||
		    be_conn_start(be, c) < 0) {
			be->n.errors++;
			be_conn_close(be, c);
			continue;
		}
		be_conn_event(be, c, 0); /* source may be done already */
	}
}

/* -------------------------------------------------------------- http */

static int be_http_reply(struct be *be, struct be_conn *c, int status,
			 const char *reason, const char *type, uint64_t len)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %d %s\r\nServer: kst-backend\r\n"
		 "Content-Type: %s\r\nContent-Length: %llu\r\n%s\r\n",
		 status, reason, type, (unsigned long long)len,
		 c->keep_alive ? "" : "Connection: close\r\n");
	if (!c->keep_alive)
		c->finish = true;
	return be_out_str(be, c, head);
}

static int be_http_simple(struct be *be, struct be_conn *c, int status,
			  const char *reason, bool head_only, const char *body)
{
	if (be_http_reply(be, c, status, reason, "text/plain", strlen(body)) <
	    0)
		return -1;
	return head_only ? 0 : be_out_str(be, c, body);
}

static int be_http_page(struct be *be, struct be_conn *c, const char *path,
			bool head_only)
{
	char body[2048];

	snprintf(body, sizeof(body),
		 "kst-backend http\npath: %s\npeer: %s\nproxy: %s\n", path,
		 c->peer, c->proxy_json ? c->proxy_json : "none");
	return be_http_simple(be, c, 200, "OK", head_only, body);
}

/* Value of header name in the head (lines after the first), or NULL. */
static const char *be_http_header(char *head, const char *name, size_t *vl)
{
	size_t nl = strlen(name);

	for (char *l = strstr(head, "\r\n"); l != NULL && l[2] != '\r';
	     l = strstr(l + 2, "\r\n")) {
		char *v = l + 2, *end;

		if (strncasecmp(v, name, nl) != 0 || v[nl] != ':')
			continue;
		v += nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = strstr(v, "\r\n");
		*vl = (size_t)(end - v);
		while (*vl > 0 && (v[*vl - 1] == ' ' || v[*vl - 1] == '\t'))
			(*vl)--;
		return v;
	}
	return NULL;
}

static bool be_http_has(char *head, const char *name, const char *token)
{
	size_t vl;
	const char *v = be_http_header(head, name, &vl);
	size_t tl = strlen(token);

	for (size_t i = 0; v != NULL && i + tl <= vl; i++)
		if (strncasecmp(v + i, token, tl) == 0)
			return true;
	return false;
}

/* The request in head (NUL-terminated, ends with the blank line). */
/* POST or PUT: hash the body that follows (Content-Length only). */
static int be_http_post(struct be *be, struct be_conn *c, char *head)
{
	char num[24];
	size_t vl;
	const char *cl;
	uint64_t n;

	if (be_http_header(head, "Transfer-Encoding", &vl) != NULL) {
		c->keep_alive = false;
		return be_http_simple(be, c, 501, "Not Implemented", false,
				      "chunked bodies are not supported\n");
	}
	cl = be_http_header(head, "Content-Length", &vl);
	if (cl != NULL && vl < sizeof(num)) {
		memcpy(num, cl, vl);
		num[vl] = '\0';
	}
	if (cl == NULL || vl >= sizeof(num) ||
	    kst_toolutil_parse_size(num, &n) < 0) {
		c->keep_alive = false;
		return be_http_simple(be, c, 411, "Length Required", false,
				      "need a Content-Length\n");
	}
	if (be_http_has(head, "Expect", "100-continue") &&
	    be_out_str(be, c, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
		return -1;
	c->in_body = true;
	c->body_left = n;
	return be_md_start(c);
}

static int be_http_request(struct be *be, struct be_conn *c, char *head)
{
	char method[16], path[1024], version[16];
	bool get, head_only;
	uint64_t n;

	be->n.http_requests++;
	if (sscanf(head, "%15s %1023s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		c->keep_alive = false;
		return be_http_simple(be, c, 400, "Bad Request", false,
				      "bad request\n");
	}
	c->keep_alive = strcmp(version, "HTTP/1.0") == 0
				? be_http_has(head, "Connection", "keep-alive")
				: !be_http_has(head, "Connection", "close");
	head_only = strcmp(method, "HEAD") == 0;
	get = head_only || strcmp(method, "GET") == 0;
	if (get && strncmp(path, "/bytes/", 7) == 0) {
		if (kst_toolutil_parse_size(path + 7, &n) < 0)
			return be_http_simple(be, c, 400, "Bad Request",
					      head_only, "bad size\n");
		if (be_http_reply(be, c, 200, "OK", "application/octet-stream",
				  n) < 0)
			return -1;
		c->gen_off = 0;
		c->gen_left = head_only ? 0 : n;
		return 0;
	}
	if (get)
		return be_http_page(be, c, path, head_only);
	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
		return be_http_simple(be, c, 405, "Method Not Allowed", false,
				      "method not allowed\n");
	return be_http_post(be, c, head);
}

static int be_http_body_done(struct be *be, struct be_conn *c)
{
	char line[128];

	c->in_body = false;
	if (be_md_line(c, line, sizeof(line)) < 0)
		return -1;
	return be_http_simple(be, c, 200, "OK", false, line);
}

/* Body bytes from p; returns how many were used. */
static size_t be_http_body(struct be_conn *c, const unsigned char *p, size_t n)
{
	size_t take = (size_t)KST_MIN((uint64_t)n, c->body_left);

	if (!be_count_only)
		EVP_DigestUpdate(c->md, p, take);
	c->count += take;
	c->body_left -= take;
	return take;
}

/* One request from the buffered input: 1 handled, 0 incomplete, -1. */
static int be_http_process(struct be *be, struct be_conn *c)
{
	char *end;
	size_t hl, used;
	int r;

	c->in[c->in_len] = '\0';
	/* memmem: a NUL in the head must not hide its end */
	end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (end == NULL && c->in_len < BE_HEAD_MAX)
		return 0;
	if (end == NULL) {
		c->keep_alive = false;
		c->in_len = 0;
		r = be_http_simple(be, c, 431, "Header Too Large", false,
				   "request head too large\n");
		return r < 0 ? -1 : 1;
	}
	hl = (size_t)(end - (char *)c->in) + 4;
	end[2] = '\0';
	if (be_http_request(be, c, (char *)c->in) < 0)
		return -1;
	used = hl;
	if (c->in_body)
		used += be_http_body(c, c->in + hl, c->in_len - hl);
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	if (c->in_body && c->body_left == 0 && be_http_body_done(be, c) < 0)
		return -1;
	return 1;
}

/* Answer buffered requests while the replies go out at once. */
static int be_http_drain(struct be *be, struct be_conn *c)
{
	int r = 1;

	while (r > 0 && c->in_len > 0 && !c->in_body && !c->finish &&
	       !be_out_pending(c))
		r = be_http_process(be, c);
	return r < 0 ? -1 : 0;
}

static int be_http_feed(struct be *be, struct be_conn *c,
			const unsigned char *p, size_t n)
{
	if (c->in_body) {
		size_t used = be_http_body(c, p, n);

		p += used;
		n -= used;
		if (c->body_left == 0 && be_http_body_done(be, c) < 0)
			return -1;
	}
	if (n == 0)
		return be_http_drain(be, c);
	if (c->in == NULL && (c->in = malloc(BE_IN_CAP + 1)) == NULL)
		return -1;
	/* reads stop while replies are pending, so one read always fits */
	if (n > BE_IN_CAP - c->in_len)
		return -1;
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	return be_http_drain(be, c);
}

/* ------------------------------------------------------------- setup */

static int be_listen(struct be *be, const char *spec)
{
	struct be_listener *l = &be->listeners[be->nlisten];
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &l->ep};
	int one = 1, fd, err;

	if (be->nlisten == BE_MAX_LISTEN)
		return -E2BIG;
	err = kst_toolutil_parse_addr(spec, &l->addr, &l->addr_len);
	if (err < 0)
		return err;
	fd = socket(l->addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (l->addr.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&l->addr)->sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->addr, l->addr_len) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0 ||
	    epoll_ctl(be->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	l->ep = (struct be_ep){BE_LISTENER, fd};
	if (l->addr.ss_family == AF_UNIX)
		snprintf(l->name, sizeof(l->name), "%s", spec + 5);
	else
		snprintf(l->name, sizeof(l->name), "%u",
			 kst_toolutil_addr_port((struct sockaddr *)&l->addr));
	be->nlisten++;
	return 0;
}

static int be_signals(struct be *be)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &be->sig};
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	be->sig.kind = BE_SIGNAL;
	be->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (be->sig.fd < 0 ||
	    epoll_ctl(be->epfd, EPOLL_CTL_ADD, be->sig.fd, &e) < 0)
		return -errno;
	return 0;
}

static void be_usage(FILE *f)
{
	fprintf(f,
		"usage: kst-backend -l ADDR [-l ADDR...] [-m MODE] [-n N] "
		"[-p]\n"
		"                   [--record FILE] [--pidfile FILE] [--seed "
		"S]\n"
		"  -l ADDR     127.0.0.1:PORT, [::1]:PORT, unix:/path (port 0: "
		"any)\n"
		"  -m MODE     echo (default), sink, http, source\n"
		"  -n N        source: bytes to send (k/M/G suffixes)\n"
		"  -p          expect a PROXY header (v1 or v2) on each "
		"connection\n"
		"  --record F  append each decoded PROXY header to F as JSON\n"
		"  --count-only  count POST and sink bodies, do not hash them\n"
		"  --seed S    pattern stream for source and /bytes/N (0: "
		"default)\n"
		"Prints \"ready <port-or-path>...\" when listening; SIGTERM "
		"stops.\n");
}

static int be_mode_parse(const char *s)
{
	for (size_t i = 0; i < KST_ARRAY_SIZE(be_mode_names); i++)
		if (strcmp(s, be_mode_names[i]) == 0)
			return (int)i;
	return -1;
}

/* 0, or 2 for a usage error; listen specs are collected in specs. */
static int be_options(struct be *be, int argc, char **argv, const char **specs,
		      int *nspecs)
{
	static const struct option opts[] = {
		{"record", required_argument, NULL, 'R'},
		{"pidfile", required_argument, NULL, 'P'},
		{"seed", required_argument, NULL, 'S'},
		{"count-only", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int o, m;

	while ((o = getopt_long(argc, argv, "l:m:n:ph", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (*nspecs == BE_MAX_LISTEN)
				return 2;
			specs[(*nspecs)++] = optarg;
			break;
		case 'm':
			if ((m = be_mode_parse(optarg)) < 0)
				return 2;
			be->mode = (enum be_mode)m;
			break;
		case 'n':
			if (kst_toolutil_parse_size(optarg, &be->source_n) < 0)
				return 2;
			break;
		case 'p':
			be->expect_proxy = true;
			break;
		case 'R':
			be->record_path = optarg;
			break;
		case 'P':
			be->pidfile = optarg;
			break;
		case 'S':
			if (kst_toolutil_parse_size(optarg, &be->seed) < 0)
				return 2;
			break;
		case 'C':
			be_count_only = true;
			break;
		case 'h':
			be_usage(stdout);
			exit(0);
		default:
			return 2;
		}
	}
	return optind == argc && *nspecs > 0 ? 0 : 2;
}

static int be_setup(struct be *be, const char **specs, int nspecs)
{
	int err;

	kst_toolutil_raise_nofile();
	be->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (be->epfd < 0)
		return -errno;
	if ((err = be_signals(be)) < 0)
		return err;
	for (int i = 0; i < nspecs; i++) {
		if ((err = be_listen(be, specs[i])) < 0) {
			fprintf(stderr, "kst-backend: listen %s: %s\n",
				specs[i], strerror(-err));
			return err;
		}
	}
	if (be->record_path != NULL) {
		be->record_fd =
			open(be->record_path,
			     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (be->record_fd < 0)
			return -errno;
	}
	if (be->pidfile != NULL &&
	    (err = kst_toolutil_write_pidfile(be->pidfile)) < 0)
		return err;
	return 0;
}

static void be_ready(const struct be *be)
{
	printf("ready");
	for (int i = 0; i < be->nlisten; i++)
		printf(" %s", be->listeners[i].name);
	printf("\n");
	fflush(stdout);
}

static void be_loop(struct be *be)
{
	struct epoll_event ev[256];

	while (!be->stop) {
		int n = epoll_wait(be->epfd, ev, KST_ARRAY_SIZE(ev), -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct be_ep *ep = ev[i].data.ptr;

			if (ep->kind == BE_SIGNAL)
				be->stop = true;
			else if (ep->kind == BE_LISTENER)
				be_accept(be, (struct be_listener *)ep);
			else
				be_conn_event(be, (struct be_conn *)ep,
					      ev[i].events);
		}
	}
}

static void be_counters(const struct be *be)
{
	fprintf(stderr,
		"kst-backend: mode=%s accepted=%llu closed=%llu active=%llu "
		"peak=%llu bytes_in=%llu bytes_out=%llu proxy_ok=%llu "
		"proxy_bad=%llu http_requests=%llu errors=%llu\n",
		be_mode_names[be->mode], (unsigned long long)be->n.accepted,
		(unsigned long long)be->n.closed,
		(unsigned long long)be->n.active,
		(unsigned long long)be->n.peak,
		(unsigned long long)be->n.bytes_in,
		(unsigned long long)be->n.bytes_out,
		(unsigned long long)be->n.proxy_ok,
		(unsigned long long)be->n.proxy_bad,
		(unsigned long long)be->n.http_requests,
		(unsigned long long)be->n.errors);
}

static void be_teardown(struct be *be)
{
	while (be->conns != NULL)
		be_conn_close(be, be->conns);
	for (int i = 0; i < be->nlisten; i++) {
		struct be_listener *l = &be->listeners[i];

		close(l->ep.fd);
		if (l->addr.ss_family == AF_UNIX)
			unlink(((struct sockaddr_un *)&l->addr)->sun_path);
	}
	if (be->pidfile != NULL)
		unlink(be->pidfile);
	if (be->record_fd >= 0)
		close(be->record_fd);
	if (be->sig.fd >= 0)
		close(be->sig.fd);
	close(be->epfd);
}

int main(int argc, char **argv)
{
	struct be be = {.record_fd = -1, .epfd = -1, .sig.fd = -1};
	const char *specs[BE_MAX_LISTEN];
	int nspecs = 0;

	if (be_options(&be, argc, argv, specs, &nspecs) != 0) {
		be_usage(stderr);
		return 2;
	}
	if (be_setup(&be, specs, nspecs) < 0) {
		fprintf(stderr, "kst-backend: setup failed: %s\n",
			strerror(errno));
		return 1;
	}
	be_ready(&be);
	be_loop(&be);
	be_counters(&be);
	be_teardown(&be);
	return 0;
}
