// SPDX-License-Identifier: MIT
/*
 * The load generator's client side of one connection, as a non-blocking
 * state machine: TCP connect, TLS handshake, optional HTTP request (and
 * upload), response head and body, close. Each step either advances,
 * waits for readiness (and says which in the epoll set), or ends the
 * connection with a reason that the result counts.
 *
 * The client does as little as a real client may, so that the machine's
 * CPU goes to the servers: it offers exactly one cipher suite, one group
 * and the signature algorithm of the key type under test, and it does not
 * build or verify the server's chain (the TLS layer still checks the
 * handshake signature). What it checks is what the benchmark reports: the
 * staple arrived (and equals an expected response when given), the server
 * used the key type under test, the HTTP status and the byte counts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "bench/load.h"

enum { STEP_GONE = -1, STEP_WAIT = 0, STEP_NEXT = 1 };

#define KST_LOAD_IOBUF	(64 * 1024)
#define KST_LOAD_RECORD 16384
#define KST_LOAD_NS	1000000000ull

static int load_verify_skip(X509_STORE_CTX *sctx, void *arg);
static int load_new_session(SSL *ssl, SSL_SESSION *sess);
static int load_ctx_setup(struct kst_load_engine *e);
static void load_build_request(struct kst_load_engine *e);
static int conn_want(struct kst_load_engine *e, struct kst_load_conn *c,
		     uint32_t events);
static int conn_ssl_wait(struct kst_load_engine *e, struct kst_load_conn *c,
			 int ret, enum kst_load_fail fail);
static int conn_connected(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_handshake(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_check_peer(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_send(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_upload(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_recv_head(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_parse_head(struct kst_load_engine *e, struct kst_load_conn *c,
			   size_t head_end);
static int conn_recv_body(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_complete(struct kst_load_engine *e, struct kst_load_conn *c);
static int conn_idle(struct kst_load_engine *e, struct kst_load_conn *c);
static void conn_note_error(struct kst_load_engine *e, const char *what);
static void conn_note(struct kst_load_engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *const load_fail_names[KST_LOAD_F_MAX] = {
	[KST_LOAD_OK] = "ok",
	[KST_LOAD_F_CONNECT] = "connect",
	[KST_LOAD_F_HANDSHAKE] = "handshake",
	[KST_LOAD_F_IO] = "io",
	[KST_LOAD_F_TIMEOUT] = "timeout",
	[KST_LOAD_F_HTTP] = "http",
	[KST_LOAD_F_KEYTYPE] = "keytype",
	[KST_LOAD_F_NOTSTARTED] = "not_started",
};

const char *kst_load_fail_name(enum kst_load_fail f)
{
	return f < KST_LOAD_F_MAX ? load_fail_names[f] : "?";
}

uint64_t kst_load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * KST_LOAD_NS + (uint64_t)ts.tv_nsec;
}

/* The chain is not the benchmark's subject: skip building it. */
static int load_verify_skip(X509_STORE_CTX *sctx, void *arg)
{
	(void)sctx;
	(void)arg;
	return 1;
}

/* Counts what the server handed out for resumption; keeps nothing. */
static int load_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct kst_load_conn *c = SSL_get_app_data(ssl);
	struct kst_load_engine *e = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	unsigned int idlen = 0;

	SSL_SESSION_get_id(sess, &idlen);
	if (SSL_SESSION_has_ticket(sess)) {
		e->res->tickets++;
		if (c)
			c->tickets++;
	} else if (idlen > 0) {
		e->res->session_ids++;
	}
	return 0;
}

static const char *load_default_cipher(const struct kst_load_opts *o)
{
	if (o->tls_version == TLS1_3_VERSION)
		return "TLS_AES_128_GCM_SHA256";
	return o->key == KST_LOAD_KEY_RSA ? "ECDHE-RSA-AES128-GCM-SHA256"
					  : "ECDHE-ECDSA-AES128-GCM-SHA256";
}

static int load_ctx_setup(struct kst_load_engine *e)
{
	const struct kst_load_opts *o = e->o;
	const char *cipher = o->cipher ? o->cipher : load_default_cipher(o);
	/* RSA clients list PKCS#1 too: HAProxy 2.6 picks its RSA cert by it */
	const char *sigalgs = o->key == KST_LOAD_KEY_RSA
				      ? "rsa_pss_rsae_sha256:RSA+SHA256"
				      : "ECDSA+SHA256";
	SSL_CTX *ctx = e->ctx;
	int ok;

	ok = SSL_CTX_set_min_proto_version(ctx, o->tls_version) &&
	     SSL_CTX_set_max_proto_version(ctx, o->tls_version) &&
	     SSL_CTX_set1_sigalgs_list(ctx, sigalgs) &&
	     SSL_CTX_set1_groups_list(ctx, o->groups);
	if (ok && o->tls_version == TLS1_3_VERSION)
		ok = SSL_CTX_set_ciphersuites(ctx, cipher);
	else if (ok)
		ok = SSL_CTX_set_cipher_list(ctx, cipher);
	if (!ok)
		return -EINVAL;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET |
					 SSL_OP_IGNORE_UNEXPECTED_EOF |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, load_verify_skip, NULL);
	if (o->status)
		SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
						    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, load_new_session);
	/* 5,000 held connections need not hold 5,000 pairs of buffers */
	if (o->mode == KST_LOAD_IDLE)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_app_data(ctx, e);
	return 0;
}

static void load_build_request(struct kst_load_engine *e)
{
	const struct kst_load_opts *o = e->o;
	int n = 0;

	if (o->mode == KST_LOAD_RATE)
		n = snprintf(e->request, sizeof(e->request),
			     "GET %s HTTP/1.1\r\nHost: %s\r\n"
			     "Connection: close\r\n\r\n",
			     o->path, o->sni);
	else if (o->mode == KST_LOAD_BULK && o->dir == KST_LOAD_DOWN)
		n = snprintf(e->request, sizeof(e->request),
			     "GET /bytes/%llu HTTP/1.1\r\nHost: %s\r\n"
			     "Connection: close\r\n\r\n",
			     (unsigned long long)o->bytes, o->sni);
	else if (o->mode == KST_LOAD_BULK)
		n = snprintf(
			e->request, sizeof(e->request),
			"POST /upload HTTP/1.1\r\nHost: %s\r\n"
			"Content-Type: application/octet-stream\r\n"
			"Content-Length: %llu\r\nConnection: close\r\n\r\n",
			o->sni, (unsigned long long)o->bytes);
	e->request_len = n > 0 ? (size_t)n : 0;
}

int kst_load_engine_init(struct kst_load_engine *e,
			 const struct kst_load_opts *o,
			 struct kst_load_result *res)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	e->o = o;
	e->res = res;
	e->epfd = -1;
	e->ctx = SSL_CTX_new(TLS_client_method());
	if (!e->ctx || load_ctx_setup(e) < 0)
		goto error;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0)
		goto error;
	e->iobuf_len = KST_LOAD_IOBUF;
	e->iobuf = malloc(e->iobuf_len);
	if (!e->iobuf)
		goto error;
	for (i = 0; i < e->iobuf_len; i++)
		e->iobuf[i] = (unsigned char)('a' + i % 26);
	load_build_request(e);
	return 0;
error:
	conn_note_error(e, "client setup");
	kst_load_engine_fini(e);
	return -EINVAL;
}

void kst_load_engine_fini(struct kst_load_engine *e)
{
	while (e->active)
		kst_load_conn_finish(e, e->active, KST_LOAD_F_TIMEOUT);
	SSL_CTX_free(e->ctx);
	e->ctx = NULL;
	if (e->epfd >= 0)
		close(e->epfd);
	e->epfd = -1;
	free(e->iobuf);
	e->iobuf = NULL;
}

/* Only the first failure is kept: enough to tell a broken setup apart. */
static void conn_note(struct kst_load_engine *e, const char *fmt, ...)
{
	va_list ap;

	if (!e->res || e->res->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(e->res->first_error, sizeof(e->res->first_error), fmt, ap);
	va_end(ap);
}

static void conn_note_error(struct kst_load_engine *e, const char *what)
{
	char buf[120] = "";
	unsigned long err = ERR_peek_last_error();

	if (err)
		ERR_error_string_n(err, buf, sizeof(buf));
	else if (errno)
		snprintf(buf, sizeof(buf), "%s", strerror(errno));
	ERR_clear_error();
	conn_note(e, "%s: %s", what, buf);
}

static void conn_link(struct kst_load_engine *e, struct kst_load_conn *c)
{
	c->next = e->active;
	if (e->active)
		e->active->prev = c;
	e->active = c;
	e->nactive++;
}

static void conn_unlink(struct kst_load_engine *e, struct kst_load_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		e->active = c->next;
	if (c->next)
		c->next->prev = c->prev;
	e->nactive--;
}

static int conn_socket(struct kst_load_engine *e, struct kst_load_conn *c)
{
	const struct kst_load_opts *o = e->o;
	int one = 1;

	c->fd = socket(o->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0 &&
	    errno != EINPROGRESS)
		return -errno;
	c->ssl = SSL_new(e->ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) ||
	    !SSL_set_tlsext_host_name(c->ssl, o->sni))
		return -ENOMEM;
	SSL_set_connect_state(c->ssl);
	SSL_set_app_data(c->ssl, c);
	return 0;
}

struct kst_load_conn *kst_load_conn_start(struct kst_load_engine *e,
					  uint64_t sched_ns)
{
	struct kst_load_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLOUT};
	uint64_t now = kst_load_now_ns();

	e->res->started++;
	if (!c) {
		e->res->failed[KST_LOAD_F_CONNECT]++;
		return NULL;
	}
	c->fd = -1;
	c->sched_ns = sched_ns;
	c->state = KST_LOAD_CONNECTING;
	c->events = EPOLLOUT;
	c->deadline_ns = now + (uint64_t)(e->o->timeout_s * KST_LOAD_NS);
	kst_load_lat_add(&e->res->lag, now > sched_ns ? now - sched_ns : 0);
	ev.data.ptr = c;
	conn_link(e, c);
	if (conn_socket(e, c) < 0 ||
	    epoll_ctl(e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		conn_note_error(e, "connect");
		kst_load_conn_finish(e, c, KST_LOAD_F_CONNECT);
		return NULL;
	}
	return c;
}

void kst_load_conn_finish(struct kst_load_engine *e, struct kst_load_conn *c,
			  enum kst_load_fail fail)
{
	struct kst_load_result *res = e->res;

	if (fail != KST_LOAD_OK) {
		res->failed[fail]++;
	} else if (e->o->mode != KST_LOAD_IDLE) {
		res->completed++;
		res->t_last_done_ns = c->done_ns;
		kst_load_lat_add(&res->total, c->done_ns - c->sched_ns);
		if (e->o->mode == KST_LOAD_BULK) {
			res->data_ns = c->done_ns - c->hs_ns;
			res->bytes = e->o->bytes;
		}
	}
	conn_unlink(e, c);
	if (c->ssl) {
		/* a clean end says so (close_notify); a failed one just goes */
		if (fail == KST_LOAD_OK && SSL_is_init_finished(c->ssl))
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	ERR_clear_error();
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int conn_want(struct kst_load_engine *e, struct kst_load_conn *c,
		     uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (c->events != events) {
		if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			conn_note_error(e, "epoll");
			kst_load_conn_finish(e, c, KST_LOAD_F_IO);
			return STEP_GONE;
		}
		c->events = events;
	}
	return STEP_WAIT;
}

static int conn_ssl_wait(struct kst_load_engine *e, struct kst_load_conn *c,
			 int ret, enum kst_load_fail fail)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return conn_want(e, c, EPOLLIN);
	case SSL_ERROR_WANT_WRITE:
		return conn_want(e, c, EPOLLOUT);
	default:
		conn_note_error(e, kst_load_fail_name(fail));
		kst_load_conn_finish(e, c, fail);
		return STEP_GONE;
	}
}

static int conn_connected(struct kst_load_engine *e, struct kst_load_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		errno = err;
		conn_note_error(e, "connect");
		kst_load_conn_finish(e, c, KST_LOAD_F_CONNECT);
		return STEP_GONE;
	}
	c->state = KST_LOAD_HANDSHAKE;
	return STEP_NEXT;
}

static bool conn_staple_expected(const struct kst_load_opts *o,
				 const unsigned char *p, long len)
{
	int i;

	if (o->nstaples == 0)
		return true;
	for (i = 0; i < o->nstaples; i++)
		if ((size_t)len == o->staple_len[i] &&
		    memcmp(p, o->staple[i], (size_t)len) == 0)
			return true;
	return false;
}

/* The staple and key type the client saw: what the report is about. */
static int conn_check_peer(struct kst_load_engine *e, struct kst_load_conn *c)
{
	const unsigned char *staple = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(c->ssl, &staple);
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	int want = e->o->key == KST_LOAD_KEY_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC;
	EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;

	if (staple && len > 0) {
		e->res->stapled++;
		if (!conn_staple_expected(e->o, staple, len))
			e->res->staple_mismatch++;
	}
	if (!pk || EVP_PKEY_get_base_id(pk) != want) {
		conn_note_error(e, "server used another key type");
		kst_load_conn_finish(e, c, KST_LOAD_F_KEYTYPE);
		return STEP_GONE;
	}
	return STEP_NEXT;
}

static const char *conn_sig_name(int nid)
{
	switch (nid) {
	case EVP_PKEY_EC:
		return "ECDSA";
	case EVP_PKEY_RSA_PSS:
		return "RSA-PSS";
	case EVP_PKEY_RSA:
		return "RSA-PKCS1";
	default:
		return OBJ_nid2sn(nid);
	}
}

static void conn_record_params(struct kst_load_engine *e,
			       struct kst_load_conn *c)
{
	struct kst_load_result *res = e->res;
	int group = SSL_get_negotiated_group(c->ssl), sig = NID_undef;
	const char *gname = group ? OBJ_nid2sn(group) : NULL;

	if (res->version[0])
		return;
	if (SSL_get_peer_signature_type_nid(c->ssl, &sig) && sig != NID_undef)
		snprintf(res->sigalg, sizeof(res->sigalg), "%s",
			 conn_sig_name(sig));
	snprintf(res->version, sizeof(res->version), "%s",
		 SSL_get_version(c->ssl));
	snprintf(res->cipher, sizeof(res->cipher), "%s",
		 SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)));
	snprintf(res->group, sizeof(res->group), "%s", gname ? gname : "");
}

static int conn_handshake(struct kst_load_engine *e, struct kst_load_conn *c)
{
	int ret = SSL_do_handshake(c->ssl);

	if (ret != 1)
		return conn_ssl_wait(e, c, ret, KST_LOAD_F_HANDSHAKE);
	c->hs_ns = kst_load_now_ns();
	kst_load_lat_add(&e->res->hs, c->hs_ns - c->sched_ns);
	conn_record_params(e, c);
	if (conn_check_peer(e, c) == STEP_GONE)
		return STEP_GONE;
	if (e->o->mode == KST_LOAD_IDLE) {
		e->res->completed++;
		c->deadline_ns = 0;
		c->state = KST_LOAD_IDLE_HELD;
		return conn_want(e, c, EPOLLIN);
	}
	c->state = KST_LOAD_SEND;
	return STEP_NEXT;
}

static int conn_send(struct kst_load_engine *e, struct kst_load_conn *c)
{
	size_t left = e->request_len - c->req_off;
	int ret = SSL_write(c->ssl, e->request + c->req_off, (int)left);

	if (ret <= 0)
		return conn_ssl_wait(e, c, ret, KST_LOAD_F_IO);
	c->req_off += (size_t)ret;
	if (c->req_off < e->request_len)
		return STEP_NEXT;
	if (e->o->mode == KST_LOAD_BULK && e->o->dir == KST_LOAD_UP) {
		c->up_left = e->o->bytes;
		c->state = KST_LOAD_UPLOAD;
	} else {
		c->state = KST_LOAD_RECV_HEAD;
	}
	return STEP_NEXT;
}

/* Full records; a retried SSL_write repeats the same buffer and length. */
static int conn_upload(struct kst_load_engine *e, struct kst_load_conn *c)
{
	while (c->up_left > 0) {
		int len = c->up_left < KST_LOAD_RECORD ? (int)c->up_left
						       : KST_LOAD_RECORD;
		int ret = SSL_write(c->ssl, e->iobuf, len);

		if (ret <= 0)
			return conn_ssl_wait(e, c, ret, KST_LOAD_F_IO);
		c->up_left -= (uint64_t)ret;
	}
	c->state = KST_LOAD_RECV_HEAD;
	return STEP_NEXT;
}

static bool conn_eof(struct kst_load_conn *c, int ret)
{
	return SSL_get_error(c->ssl, ret) == SSL_ERROR_ZERO_RETURN;
}

static int conn_recv_head(struct kst_load_engine *e, struct kst_load_conn *c)
{
	size_t room = sizeof(c->head) - 1 - c->head_len;
	char *end;
	int ret;

	if (room == 0) {
		conn_note_error(e, "response head too long");
		kst_load_conn_finish(e, c, KST_LOAD_F_HTTP);
		return STEP_GONE;
	}
	ret = SSL_read(c->ssl, c->head + c->head_len, (int)room);
	if (ret <= 0 && conn_eof(c, ret)) {
		conn_note(e, "closed before the response head");
		kst_load_conn_finish(e, c, KST_LOAD_F_IO);
		return STEP_GONE;
	}
	if (ret <= 0)
		return conn_ssl_wait(e, c, ret, KST_LOAD_F_IO);
	c->head_len += (size_t)ret;
	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (!end)
		return STEP_NEXT;
	return conn_parse_head(e, c, (size_t)(end - c->head) + 4);
}

/* Content-Length of the head, or -1 when it has none. */
static long long conn_content_length(const char *head)
{
	const char *p = head;

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncasecmp(p, "content-length:", 15) == 0)
			return strtoll(p + 15, NULL, 10);
	}
	return -1;
}

static void conn_take_body(struct kst_load_conn *c, const char *p, size_t n)
{
	size_t room = sizeof(c->body_start) - 1 - c->body_start_len;
	size_t take = n < room ? n : room;

	memcpy(c->body_start + c->body_start_len, p, take);
	c->body_start_len += take;
	c->body_start[c->body_start_len] = '\0';
	c->body_got += n;
	c->body_left = c->body_left > n ? c->body_left - n : 0;
}

static int conn_parse_head(struct kst_load_engine *e, struct kst_load_conn *c,
			   size_t head_end)
{
	long long clen;

	if (sscanf(c->head, "HTTP/1.%*d %d", &c->http_status) != 1) {
		conn_note_error(e, "not an HTTP response");
		kst_load_conn_finish(e, c, KST_LOAD_F_HTTP);
		return STEP_GONE;
	}
	clen = conn_content_length(c->head);
	c->body_to_eof = clen < 0;
	c->body_left = clen < 0 ? UINT64_MAX : (uint64_t)clen;
	conn_take_body(c, c->head + head_end, c->head_len - head_end);
	c->state = KST_LOAD_RECV_BODY;
	return STEP_NEXT;
}

static int conn_recv_body(struct kst_load_engine *e, struct kst_load_conn *c)
{
	while (c->body_left > 0) {
		size_t want = c->body_left < e->iobuf_len ? c->body_left
							  : e->iobuf_len;
		int ret = SSL_read(c->ssl, e->iobuf, (int)want);

		if (ret <= 0 && c->body_to_eof && conn_eof(c, ret))
			break;
		if (ret <= 0)
			return conn_ssl_wait(e, c, ret, KST_LOAD_F_IO);
		conn_take_body(c, (const char *)e->iobuf, (size_t)ret);
	}
	return conn_complete(e, c);
}

static int conn_complete(struct kst_load_engine *e, struct kst_load_conn *c)
{
	const struct kst_load_opts *o = e->o;
	bool ok = c->http_status == 200;

	c->done_ns = kst_load_now_ns();
	/* the backend answers an upload with "<bytes> <sha256>" */
	if (ok && o->mode == KST_LOAD_BULK && o->dir == KST_LOAD_UP)
		ok = strtoull(c->body_start, NULL, 10) == o->bytes;
	if (ok && o->mode == KST_LOAD_BULK && o->dir == KST_LOAD_DOWN)
		ok = c->body_got == o->bytes;
	if (!ok) {
		conn_note(e, "HTTP status %d, %llu body bytes", c->http_status,
			  (unsigned long long)c->body_got);
		kst_load_conn_finish(e, c, KST_LOAD_F_HTTP);
		return STEP_GONE;
	}
	kst_load_conn_finish(e, c, KST_LOAD_OK);
	return STEP_GONE;
}

/* A held connection only ever hears the server close it (or tickets). */
static int conn_idle(struct kst_load_engine *e, struct kst_load_conn *c)
{
	int ret = SSL_read(c->ssl, e->iobuf, (int)e->iobuf_len);
	int err;

	if (ret > 0)
		return STEP_NEXT;
	err = SSL_get_error(c->ssl, ret);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return conn_ssl_wait(e, c, ret, KST_LOAD_F_IO);
	e->res->closed_by_server++;
	kst_load_conn_finish(e, c, KST_LOAD_OK);
	return STEP_GONE;
}

void kst_load_conn_drive(struct kst_load_engine *e, struct kst_load_conn *c)
{
	int step = STEP_NEXT;

	while (step == STEP_NEXT) {
		switch (c->state) {
		case KST_LOAD_CONNECTING:
			step = conn_connected(e, c);
			break;
		case KST_LOAD_HANDSHAKE:
			step = conn_handshake(e, c);
			break;
		case KST_LOAD_SEND:
			step = conn_send(e, c);
			break;
		case KST_LOAD_UPLOAD:
			step = conn_upload(e, c);
			break;
		case KST_LOAD_RECV_HEAD:
			step = conn_recv_head(e, c);
			break;
		case KST_LOAD_RECV_BODY:
			step = conn_recv_body(e, c);
			break;
		case KST_LOAD_IDLE_HELD:
			step = conn_idle(e, c);
			break;
		default:
			step = STEP_WAIT;
		}
	}
}

void kst_load_engine_sweep(struct kst_load_engine *e, uint64_t now)
{
	struct kst_load_conn *c = e->active, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline_ns && now > c->deadline_ns) {
			conn_note(e, "timeout in state %d", (int)c->state);
			kst_load_conn_finish(e, c, KST_LOAD_F_TIMEOUT);
		}
	}
}

int kst_load_engine_poll(struct kst_load_engine *e, uint64_t timeout_ns)
{
	struct epoll_event ev[256];
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_ns / KST_LOAD_NS),
		.tv_nsec = (long)(timeout_ns % KST_LOAD_NS),
	};
	int i, n;

	n = epoll_pwait2(e->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])), &ts,
			 NULL);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++)
		kst_load_conn_drive(e, ev[i].data.ptr);
	return 0;
}
