// SPDX-License-Identifier: MIT
/*
 * kst-client: the TLS client of the tests and the benchmark, for what real
 * CLI clients cannot do precisely: choose version, ciphers, signature
 * algorithms (so ECDSA or RSA certificates), groups and ALPN; ask for a
 * staple and report it (SHA-256, serial, status, verification); send N
 * bytes of the deterministic pattern and check the echo, read a stream to
 * the end, download /bytes/N over HTTP; send a TLS 1.3 KeyUpdate mid-way;
 * end with or without close_notify; run K connections P at a time.
 *
 * Each connection is a small state machine on a non-blocking socket:
 * connect, handshake, then one pump loop that writes while there is
 * something to send and reads while something is expected, polling only
 * when neither side made progress. Every step has the --timeout as an
 * inactivity limit. Parallel connections are threads (small stacks), each
 * running connections one after another from a shared counter.
 *
 * Output: key=value lines for connection 0 (all with --print, otherwise
 * those the options ask for), then one summary line. Exit 0 when every
 * connection passed, 1 if any failed, 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "daemon/base/util.h"
#include "tests/lib/pattern.h"
#include "tests/lib/toolutil.h"

#define CL_CHUNK    (16 * 1024) /* one TLS record */
#define CL_HEAD_MAX 8192
#define CL_NONE	    UINT64_MAX

struct cl_opts {
	const char *connect, *sni, *ca, *ciphers, *suites, *sigalgs, *groups;
	unsigned char alpn[256];
	size_t alpn_len;
	int tls;	 /* 0, TLS1_2_VERSION, TLS1_3_VERSION */
	uint8_t maxfrag; /* TLSEXT_max_fragment_length_*, 0: none */
	bool status, require_staple, print, expect_echo, recv_all;
	bool key_update, ku_requested, no_close_notify, half_close;
	uint64_t send, seed, expect_recv, download;
	unsigned int conns, parallel, key_updates;
	int timeout_ms, hold_ms;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	SSL_CTX *ctx;
};

/* What one connection did; printed for connection 0. */
struct cl_conn {
	const struct cl_opts *o;
	unsigned int index;
	int fd;
	SSL *ssl;
	uint64_t deadline, start_ms, handshake_ms;
	/* sending: the pattern, or the HTTP request of --download */
	uint64_t to_send, sent;
	char request[256];
	bool ku_done, shut_sent;
	unsigned int ku_count; /* KeyUpdates sent */
	/* receiving */
	uint64_t want_rx, recvd, mismatch_at;
	bool rx_close_notify, rx_eof, rx_done;
	EVP_MD_CTX *rx_md;
	char rx_sha[65];
	char head[CL_HEAD_MAX + 1];
	size_t head_len;
	bool in_body;
	char err[256];
	/* buffers: a connection is calloc'd, one per thread at a time */
	unsigned char rbuf[CL_CHUNK], wbuf[CL_CHUNK], want[CL_CHUNK];
};

struct cl_run {
	const struct cl_opts *o;
	atomic_uint next, ok, failed;
	pthread_mutex_t out_lock;
	unsigned int errors_shown;
};

static int cl_fail(struct cl_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ helpers */

static int cl_fail(struct cl_conn *c, const char *fmt, ...)
{
	char ssl[256];
	va_list ap;
	size_t n;

	if (c->err[0] != '\0')
		return -1; /* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	ERR_error_string_n(ERR_peek_last_error(), ssl, sizeof(ssl));
	n = strlen(c->err);
	if (ERR_peek_last_error() != 0)
		snprintf(c->err + n, sizeof(c->err) - n, " (%s)", ssl);
	ERR_clear_error();
	return -1;
}

/* Wait for events until the step's deadline; -1 on timeout. */
static int cl_poll(struct cl_conn *c, short events, const char *step)
{
	struct pollfd p = {c->fd, events, 0};
	uint64_t now = kst_mono_ms();
	int r;

	if (now >= c->deadline)
		return cl_fail(c, "%s: timed out", step);
	r = poll(&p, 1, (int)(c->deadline - now));
	if (r < 0 && errno != EINTR)
		return cl_fail(c, "%s: poll: %s", step, strerror(errno));
	if (r == 0)
		return cl_fail(c, "%s: timed out", step);
	return 0;
}

static void cl_progress(struct cl_conn *c)
{
	c->deadline = kst_mono_ms() + (uint64_t)c->o->timeout_ms;
}

static int cl_connect(struct cl_conn *c)
{
	const struct cl_opts *o = c->o;
	int err = 0;
	socklen_t el = sizeof(err);

	c->fd = socket(o->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return cl_fail(c, "socket: %s", strerror(errno));
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addr_len) <
		    0 &&
	    errno != EINPROGRESS)
		return cl_fail(c, "connect: %s", strerror(errno));
	if (cl_poll(c, POLLOUT, "connect") < 0)
		return -1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		return cl_fail(c, "connect: %s", strerror(err ? err : errno));
	cl_progress(c);
	return 0;
}

/* Map an SSL result: 1 progress, 0 wait (events set), -1 error. */
static int cl_ssl_wait(struct cl_conn *c, int ret, short *events)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*events |= POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*events |= POLLOUT;
		return 0;
	default:
		return -1;
	}
}

static int cl_handshake(struct cl_conn *c)
{
	const struct cl_opts *o = c->o;
	uint64_t t0 = kst_mono_ms();

	c->ssl = SSL_new(o->ctx);
	if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd))
		return cl_fail(c, "SSL_new");
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->sni != NULL && !SSL_set_tlsext_host_name(c->ssl, o->sni))
		return cl_fail(c, "SNI %s", o->sni);
	if (o->ca != NULL && o->sni != NULL && !SSL_set1_host(c->ssl, o->sni))
		return cl_fail(c, "verify name %s", o->sni);
	if (o->status)
		SSL_set_tlsext_status_type(c->ssl, TLSEXT_STATUSTYPE_ocsp);
	for (;;) {
		short ev = 0;
		int r = SSL_connect(c->ssl);

		if (r == 1)
			break;
		if (cl_ssl_wait(c, r, &ev) < 0)
			return cl_fail(c, "handshake failed");
		if (cl_poll(c, ev, "handshake") < 0)
			return -1;
	}
	c->handshake_ms = kst_mono_ms() - t0;
	cl_progress(c);
	return 0;
}

/* ------------------------------------------------------------ payload */

static int cl_rx_check(struct cl_conn *c, const unsigned char *p, size_t n)
{
	for (size_t off = 0; off < n && c->mismatch_at == CL_NONE;
	     off += CL_CHUNK) {
		size_t m = KST_MIN(n - off, (size_t)CL_CHUNK);

		kst_pattern_fill(c->want, m, c->recvd + off, c->o->seed);
		if (memcmp(p + off, c->want, m) == 0)
			continue;
		for (size_t i = 0; i < m; i++) {
			if (p[off + i] != c->want[i]) {
				c->mismatch_at = c->recvd + off + i;
				break;
			}
		}
	}
	c->recvd += n;
	return EVP_DigestUpdate(c->rx_md, p, n) ? 0 : -1;
}

/* The HTTP response head of --download, then its body. */
static int cl_rx_http(struct cl_conn *c, const unsigned char *p, size_t n)
{
	unsigned long long cl;
	const char *h;
	char *end;
	size_t take, hl;

	if (c->in_body)
		return cl_rx_check(c, p, n);
	take = KST_MIN(n, (size_t)CL_HEAD_MAX - c->head_len);
	memcpy(c->head + c->head_len, p, take);
	c->head_len += take;
	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (end == NULL)
		return c->head_len == CL_HEAD_MAX ? cl_fail(c, "http: head")
						  : 0;
	hl = (size_t)(end - c->head) + 4;
	*end = '\0';
	if (strncmp(c->head, "HTTP/1.", 7) != 0 ||
	    strncmp(c->head + 8, " 200 ", 5) != 0)
		return cl_fail(c, "http: status %.40s", c->head);
	h = strcasestr(c->head, "\r\nContent-Length:");
	if (h == NULL || sscanf(h + 17, "%llu", &cl) != 1 ||
	    cl != c->o->download)
		return cl_fail(c, "http: want Content-Length %llu",
			       (unsigned long long)c->o->download);
	c->in_body = true;
	/* the body so far: after the head in our copy, and what did not fit */
	if (cl_rx_check(c, (const unsigned char *)c->head + hl,
			c->head_len - hl) < 0)
		return -1;
	return cl_rx_check(c, p + take, n - take);
}

static int cl_rx(struct cl_conn *c, const unsigned char *p, size_t n)
{
	if (c->o->download != CL_NONE)
		return cl_rx_http(c, p, n);
	if (c->want_rx != CL_NONE && c->recvd + n > c->want_rx)
		return cl_fail(c, "recv: %llu bytes more than expected",
			       (unsigned long long)(c->recvd + n - c->want_rx));
	return cl_rx_check(c, p, n);
}

static bool cl_rx_complete(const struct cl_conn *c)
{
	if (c->rx_close_notify || c->rx_eof)
		return true;
	if (c->o->recv_all)
		return false;
	if (c->o->download != CL_NONE)
		return c->in_body && c->recvd >= c->o->download;
	return c->want_rx == CL_NONE || c->recvd >= c->want_rx;
}

/* One SSL_read; 1 progress, 0 would block (events set), -1 error. */
static int cl_pump_read(struct cl_conn *c, short *ev)
{
	size_t n = 0;
	int r = SSL_read_ex(c->ssl, c->rbuf, sizeof(c->rbuf), &n), e;

	if (r == 1)
		return cl_rx(c, c->rbuf, n) < 0 ? -1 : 1;
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_ZERO_RETURN) {
		c->rx_close_notify = true;
		return 1;
	}
	if (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) ==
					  SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		c->rx_eof = true; /* TCP closed without close_notify */
		return 1;
	}
	if (cl_ssl_wait(c, r, ev) == 0)
		return 0;
	return cl_fail(c, "recv after %llu bytes",
		       (unsigned long long)c->recvd);
}

/* --key-update: one half-way; --key-updates K: K spread evenly. */
static void cl_maybe_key_update(struct cl_conn *c)
{
	unsigned int k = c->o->key_updates ? c->o->key_updates : 1;

	if (!c->o->key_update || c->ku_count >= k ||
	    c->sent < c->to_send / (k + 1) * (c->ku_count + 1))
		return;
	c->ku_done = true;
	c->ku_count++;
	if (!SSL_key_update(c->ssl, c->o->ku_requested
					    ? SSL_KEY_UPDATE_REQUESTED
					    : SSL_KEY_UPDATE_NOT_REQUESTED))
		cl_fail(c, "key update");
	else if (c->to_send == 0)
		SSL_do_handshake(c->ssl); /* no write to carry it: flush */
}

/* One SSL_write, or the close_notify of --half-close. */
static int cl_pump_write(struct cl_conn *c, short *ev)
{
	unsigned char *buf = c->wbuf;
	size_t n, w = 0;
	int r;

	if (c->sent == c->to_send) {
		if (!c->o->half_close || c->shut_sent)
			return 0;
		r = SSL_shutdown(c->ssl);
		if (r >= 0) {
			c->shut_sent = true;
			return 1;
		}
		return cl_ssl_wait(c, r, ev) == 0 ? 0
						  : cl_fail(c, "close_notify");
	}
	cl_maybe_key_update(c);
	n = (size_t)KST_MIN(c->to_send - c->sent, (uint64_t)CL_CHUNK);
	if (c->o->download != CL_NONE)
		memcpy(buf, c->request + c->sent, n);
	else
		kst_pattern_fill(buf, n, c->sent, c->o->seed);
	r = SSL_write_ex(c->ssl, buf, n, &w);
	if (r == 1) {
		c->sent += w;
		return 1;
	}
	if (cl_ssl_wait(c, r, ev) == 0)
		return 0;
	return cl_fail(c, "send after %llu bytes", (unsigned long long)c->sent);
}

static int cl_pump(struct cl_conn *c)
{
	while (c->err[0] == '\0') {
		short ev = 0;
		int w = 0, r = 0;

		w = cl_pump_write(c, &ev);
		if (w < 0)
			return -1;
		if (!cl_rx_complete(c) && (r = cl_pump_read(c, &ev)) < 0)
			return -1;
		if (cl_rx_complete(c) && c->sent == c->to_send &&
		    (!c->o->half_close || c->shut_sent))
			return 0;
		if (w > 0 || r > 0) {
			cl_progress(c);
			continue;
		}
		if (cl_poll(c, ev ? ev : POLLIN,
			    c->sent < c->to_send ? "send" : "recv") < 0)
			return -1;
	}
	return -1;
}

static int cl_verify_rx(struct cl_conn *c)
{
	const struct cl_opts *o = c->o;
	unsigned char md[32];
	uint64_t want = o->expect_echo		 ? o->send
			: o->download != CL_NONE ? o->download
						 : o->expect_recv;

	if (!EVP_DigestFinal_ex(c->rx_md, md, NULL))
		return cl_fail(c, "digest");
	kst_hex(c->rx_sha, md, sizeof(md));
	if (want == CL_NONE)
		return 0;
	if (c->recvd != want)
		return cl_fail(c, "recv: %llu bytes, want %llu",
			       (unsigned long long)c->recvd,
			       (unsigned long long)want);
	if (c->mismatch_at != CL_NONE)
		return cl_fail(c, "recv: byte %llu differs from the pattern",
			       (unsigned long long)c->mismatch_at);
	return 0;
}

/* --hold: stay connected, reading what comes, until time or peer close */
static void cl_hold(struct cl_conn *c)
{
	uint64_t end = kst_mono_ms() + (uint64_t)c->o->hold_ms;

	while (!c->rx_close_notify && !c->rx_eof && kst_mono_ms() < end) {
		struct pollfd p = {c->fd, POLLIN, 0};
		short ev = 0;

		if (poll(&p, 1, (int)(end - kst_mono_ms())) <= 0)
			break;
		if (cl_pump_read(c, &ev) < 0)
			break;
	}
}

/* Send close_notify (unless told not to), then close the socket. */
static void cl_close(struct cl_conn *c)
{
	if (c->ssl != NULL && !c->o->no_close_notify && !c->shut_sent &&
	    SSL_is_init_finished(c->ssl) && c->err[0] == '\0')
		SSL_shutdown(c->ssl); /* best effort, non-blocking */
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* -------------------------------------------------------------- facts */

static void cl_serial_hex(const ASN1_INTEGER *ai, char *out, size_t size)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(ai, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	snprintf(out, size, "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

static long long cl_time(const ASN1_GENERALIZEDTIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* The handshake signature as a --sigalgs entry: ECDSA+SHA256, RSA-PSS+... */
static void cl_print_sig(struct cl_conn *c, FILE *f)
{
	int type = 0, md = 0;
	const char *t;

	if (!SSL_get_peer_signature_type_nid(c->ssl, &type) ||
	    !SSL_get_peer_signature_nid(c->ssl, &md))
		return;
	t = type == EVP_PKEY_EC	       ? "ECDSA"
	    : type == EVP_PKEY_RSA_PSS ? "RSA-PSS"
	    : type == EVP_PKEY_RSA     ? "RSA"
				       : OBJ_nid2sn(type);
	fprintf(f, "peer_sig=%s+%s\n", t, md ? OBJ_nid2sn(md) : "none");
}

/* RFC 2253, as scripts/pki.sh writes leaves.txt */
static void cl_print_name(FILE *f, const char *key, const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	if (b == NULL)
		return;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(b, &p);
	fprintf(f, "%s=%.*s\n", key, (int)n, p ? p : "");
	BIO_free(b);
}

static void cl_print_peer(struct cl_conn *c, FILE *f)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;
	char serial[128];
	long vr = SSL_get_verify_result(c->ssl);

	if (peer == NULL) {
		fprintf(f, "peer_cert=none\n");
		return;
	}
	cl_print_name(f, "peer_subject", X509_get_subject_name(peer));
	cl_print_name(f, "peer_issuer", X509_get_issuer_name(peer));
	cl_serial_hex(X509_get0_serialNumber(peer), serial, sizeof(serial));
	fprintf(f, "peer_serial=%s\n", serial);
	fprintf(f, "peer_key=%s\npeer_key_bits=%d\n",
		pk == NULL				  ? "?"
		: EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC ? "EC"
		: EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA
			? "RSA"
			: OBJ_nid2sn(EVP_PKEY_get_base_id(pk)),
		pk ? EVP_PKEY_get_bits(pk) : 0);
	cl_print_sig(c, f);
	fprintf(f, "verify=%s\n",
		c->o->ca == NULL  ? "none"
		: vr == X509_V_OK ? "ok"
				  : X509_verify_cert_error_string(vr));
}

/* Verify the staple against the peer's chain and our CA file. */
static void cl_print_staple_verify(struct cl_conn *c, FILE *f,
				   OCSP_BASICRESP *bs)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);
	X509 *leaf = SSL_get0_peer_certificate(c->ssl);
	X509 *issuer = chain && sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1)
						       : NULL;
	OCSP_CERTID *id =
		leaf && issuer ? OCSP_cert_to_id(NULL, leaf, issuer) : NULL;
	int st = -1, reason;
	ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL;

	fprintf(f, "staple_matches_cert=%d\n",
		id && OCSP_resp_find_status(bs, id, &st, &reason, NULL, &tu,
					    &nu));
	fprintf(f, "staple_time_valid=%d\n",
		tu && OCSP_check_validity(tu, nu, 300, -1));
	if (c->o->ca != NULL)
		fprintf(f, "staple_verify=%s\n",
			OCSP_basic_verify(bs, chain,
					  SSL_CTX_get_cert_store(c->o->ctx),
					  0) > 0
				? "ok"
				: "fail");
	OCSP_CERTID_free(id);
	ERR_clear_error();
}

static void cl_print_staple_single(OCSP_BASICRESP *bs, FILE *f)
{
	OCSP_SINGLERESP *sr = OCSP_resp_get0(bs, 0);
	ASN1_INTEGER *serial = NULL;
	ASN1_GENERALIZEDTIME *rev, *tu = NULL, *nu = NULL;
	char hex[128];
	int reason, st;

	if (sr == NULL)
		return;
	st = OCSP_single_get0_status(sr, &reason, &rev, &tu, &nu);
	OCSP_id_get0_info(NULL, NULL, NULL, &serial,
			  (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(sr));
	cl_serial_hex(serial, hex, sizeof(hex));
	fprintf(f, "staple_serial=%s\nstaple_status=%s\n", hex,
		OCSP_cert_status_str(st));
	fprintf(f, "staple_this_update=%lld\nstaple_next_update=%lld\n",
		cl_time(tu), cl_time(nu));
}

static void cl_print_staple(struct cl_conn *c, FILE *f)
{
	const unsigned char *der = NULL, *p;
	long len = SSL_get_tlsext_status_ocsp_resp(c->ssl, &der);
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	char hex[65];

	fprintf(f, "stapled=%d\n", der != NULL && len > 0);
	if (der == NULL || len <= 0)
		return;
	kst_pattern_sha256_buf(der, (size_t)len, hex);
	fprintf(f, "staple_sha256=%s\nstaple_len=%ld\n", hex, len);
	p = der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, len);
	fprintf(f, "staple_response_status=%s\n",
		resp ? OCSP_response_status_str(OCSP_response_status(resp))
		     : "unparsable");
	bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	if (bs != NULL) {
		cl_print_staple_single(bs, f);
		cl_print_staple_verify(c, f, bs);
	}
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
}

static void cl_print_tls(struct cl_conn *c, FILE *f)
{
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	uint8_t mfl;

	SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
	fprintf(f, "version=%s\ncipher=%s\nalpn=%.*s\nsni=%s\n",
		SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), (int)alen,
		alpn ? (const char *)alpn : "", c->o->sni ? c->o->sni : "");
	fprintf(f, "handshake_ms=%llu\n", (unsigned long long)c->handshake_ms);
	mfl = SSL_SESSION_get_max_fragment_length(SSL_get_session(c->ssl));
	fprintf(f, "max_fragment_length=%d\n",
		mfl ? 256 << mfl : 0); /* 1: 512 ... 4: 4096 */
	cl_print_peer(c, f);
}

/* Facts of connection 0, as one block so threads do not interleave. */
static void cl_print(struct cl_conn *c)
{
	const struct cl_opts *o = c->o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return;
	if (c->ssl != NULL && SSL_is_init_finished(c->ssl)) {
		if (o->print)
			cl_print_tls(c, f);
		if (o->print || o->status)
			cl_print_staple(c, f);
	}
	if (o->print || o->send)
		fprintf(f, "sent=%llu\n", (unsigned long long)c->sent);
	if (o->print || o->recv_all || o->expect_echo || o->download != CL_NONE)
		fprintf(f, "recv=%llu\nrecv_sha256=%s\nclose_notify=%d\n",
			(unsigned long long)c->recvd, c->rx_sha,
			c->rx_close_notify);
	if (o->print && o->key_update)
		fprintf(f, "key_update=%d\n", c->ku_done);
	if (o->print && o->key_updates)
		fprintf(f, "key_updates=%u\n", c->ku_count);
	fclose(f);
	fwrite(buf, 1, len, stdout);
	free(buf);
}

/* -------------------------------------------------------- connections */

static int cl_conn_setup(struct cl_conn *c)
{
	const struct cl_opts *o = c->o;

	c->fd = -1;
	c->mismatch_at = CL_NONE;
	c->start_ms = kst_mono_ms();
	cl_progress(c);
	c->rx_md = EVP_MD_CTX_new();
	if (c->rx_md == NULL ||
	    !EVP_DigestInit_ex(c->rx_md, EVP_sha256(), NULL))
		return cl_fail(c, "digest");
	c->to_send = o->send;
	c->want_rx = o->expect_echo		 ? o->send
		     : o->recv_all		 ? CL_NONE
		     : o->expect_recv != CL_NONE ? o->expect_recv
						 : 0;
	if (o->download != CL_NONE) {
		snprintf(c->request, sizeof(c->request),
			 "GET /bytes/%llu HTTP/1.1\r\nHost: %s\r\n"
			 "Connection: close\r\n\r\n",
			 (unsigned long long)o->download,
			 o->sni ? o->sni : "localhost");
		c->to_send = strlen(c->request);
		c->want_rx = CL_NONE;
	}
	return 0;
}

static int cl_conn_run(struct cl_conn *c)
{
	int r = -1;

	if (cl_conn_setup(c) == 0 && cl_connect(c) == 0 &&
	    cl_handshake(c) == 0) {
		const unsigned char *staple = NULL;

		if (c->o->require_staple &&
		    SSL_get_tlsext_status_ocsp_resp(c->ssl, &staple) <= 0)
			cl_fail(c, "no staple");
		else if (cl_pump(c) == 0 && cl_verify_rx(c) == 0)
			r = 0;
	}
	if (r == 0 && c->o->hold_ms > 0)
		cl_hold(c);
	if (c->rx_sha[0] == '\0') {
		unsigned char md[32];

		if (EVP_DigestFinal_ex(c->rx_md, md, NULL))
			kst_hex(c->rx_sha, md, sizeof(md));
	}
	if (c->index == 0)
		cl_print(c);
	cl_close(c);
	EVP_MD_CTX_free(c->rx_md);
	return r;
}

static void *cl_worker(void *arg)
{
	struct cl_run *run = arg;
	unsigned int i;

	while ((i = atomic_fetch_add(&run->next, 1)) < run->o->conns) {
		struct cl_conn *c = calloc(1, sizeof(*c));

		if (c == NULL) {
			atomic_fetch_add(&run->failed, 1);
			continue;
		}
		c->o = run->o;
		c->index = i;
		if (cl_conn_run(c) == 0) {
			atomic_fetch_add(&run->ok, 1);
		} else {
			atomic_fetch_add(&run->failed, 1);
			pthread_mutex_lock(&run->out_lock);
			if (run->errors_shown++ < 10)
				fprintf(stderr, "kst-client: conn %u: %s\n", i,
					c->err);
			pthread_mutex_unlock(&run->out_lock);
		}
		free(c);
	}
	return NULL;
}

/* Runs every connection; returns how many failed. */
static unsigned int cl_run_all(const struct cl_opts *o)
{
	struct cl_run run = {.o = o, .out_lock = PTHREAD_MUTEX_INITIALIZER};
	unsigned int n = KST_MIN(o->parallel, o->conns), started = 0;
	pthread_t *th = calloc(n, sizeof(*th));
	pthread_attr_t attr;
	uint64_t t0 = kst_mono_ms();

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (unsigned int i = 0; th != NULL && i < n; i++)
		if (pthread_create(&th[i], &attr, cl_worker, &run) == 0)
			started++;
		else
			break;
	if (started == 0)
		cl_worker(&run);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_attr_destroy(&attr);
	free(th);
	printf("summary conns=%u ok=%u failed=%u threads=%u elapsed_ms=%llu\n",
	       o->conns, atomic_load(&run.ok), atomic_load(&run.failed),
	       started, (unsigned long long)(kst_mono_ms() - t0));
	fflush(stdout);
	return atomic_load(&run.failed);
}

/* ------------------------------------------------------------ options */

/*
 * Each option once: its name, how its argument is read, where it goes, and
 * its help line. getopt's table and the usage text are made from this.
 */
enum cl_kind { CL_STR, CL_FLAG, CL_SIZE, CL_SECS, CL_COUNT, CL_FN };

struct cl_optdef {
	const char *name;
	enum cl_kind kind;
	size_t off; /* into struct cl_opts */
	int (*fn)(struct cl_opts *o, const char *arg);
	const char *arg, *help;
};

static int cl_alpn(struct cl_opts *o, const char *list)
{
	size_t n = 0;

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");

		if (l == 0 || l > 255 || n + 1 + l > sizeof(o->alpn))
			return -1;
		o->alpn[n++] = (unsigned char)l;
		memcpy(o->alpn + n, p, l);
		n += l;
		p += l + (p[l] == ',');
	}
	o->alpn_len = n;
	return n ? 0 : -1;
}

static int cl_tls(struct cl_opts *o, const char *s)
{
	o->tls = strcmp(s, "1.2") == 0	 ? TLS1_2_VERSION
		 : strcmp(s, "1.3") == 0 ? TLS1_3_VERSION
					 : 0;
	return o->tls ? 0 : -1;
}

/* RFC 6066 max_fragment_length: 512, 1024, 2048 or 4096 */
static int cl_maxfrag(struct cl_opts *o, const char *s)
{
	static const char *const sizes[] = {"512", "1024", "2048", "4096"};

	for (size_t i = 0; i < KST_ARRAY_SIZE(sizes); i++)
		if (strcmp(s, sizes[i]) == 0) {
			o->maxfrag =
				(uint8_t)(TLSEXT_max_fragment_length_512 + i);
			return 0;
		}
	return -1;
}

#define CL_OPT(name, kind, field, arg, help)                                 \
	{                                                                    \
		name, kind, offsetof(struct cl_opts, field), NULL, arg, help \
	}
#define CL_OPT_FN(name, fn, arg, help)        \
	{                                     \
		name, CL_FN, 0, fn, arg, help \
	}

static const struct cl_optdef cl_optdefs[] = {
	CL_OPT("connect", CL_STR, connect, "HOST:PORT", "server (-c)"),
	CL_OPT("sni", CL_STR, sni, "NAME", "server name (none by default)"),
	CL_OPT_FN("tls", cl_tls, "1.2|1.3", "only this version"),
	CL_OPT("ciphers", CL_STR, ciphers, "LIST", "TLS 1.2 cipher list"),
	CL_OPT("ciphersuites", CL_STR, suites, "LIST", "TLS 1.3 suites"),
	CL_OPT("sigalgs", CL_STR, sigalgs, "LIST",
	       "e.g. ECDSA+SHA256 or RSA-PSS+SHA256:RSA+SHA256"),
	CL_OPT("groups", CL_STR, groups, "LIST", "key exchange groups"),
	CL_OPT_FN("alpn", cl_alpn, "a,b", "offer these protocols"),
	CL_OPT_FN("maxfraglen", cl_maxfrag, "512|1024|2048|4096",
		  "negotiate max_fragment_length"),
	CL_OPT("status", CL_FLAG, status, NULL, "ask for a staple, print it"),
	CL_OPT("require-staple", CL_FLAG, require_staple, NULL,
	       "fail without a staple"),
	CL_OPT("ca", CL_STR, ca, "FILE", "verify the chain (and --sni name)"),
	CL_OPT("print", CL_FLAG, print, NULL, "print every fact as key=value"),
	CL_OPT("send", CL_SIZE, send, "N", "send N pattern bytes (k/M/G)"),
	CL_OPT("seed", CL_SIZE, seed, "S", "pattern stream (0: default)"),
	CL_OPT("expect-echo", CL_FLAG, expect_echo, NULL,
	       "read the N bytes back, compare"),
	CL_OPT("recv-all", CL_FLAG, recv_all, NULL,
	       "read until close_notify or EOF"),
	CL_OPT("expect-recv", CL_SIZE, expect_recv, "N",
	       "read to the end, want N pattern bytes"),
	CL_OPT("download", CL_SIZE, download, "N",
	       "GET /bytes/N, check the body"),
	CL_OPT("half-close", CL_FLAG, half_close, NULL,
	       "close_notify after sending, keep reading"),
	CL_OPT("no-close-notify", CL_FLAG, no_close_notify, NULL,
	       "close TCP without close_notify"),
	CL_OPT("key-update", CL_FLAG, key_update, NULL,
	       "TLS 1.3 KeyUpdate half-way through --send"),
	CL_OPT("key-update-requested", CL_FLAG, ku_requested, NULL,
	       "... with update_requested"),
	CL_OPT("key-updates", CL_COUNT, key_updates, "K",
	       "K KeyUpdates spread through --send"),
	CL_OPT("hold", CL_SECS, hold_ms, "SECS",
	       "stay connected after the payload"),
	CL_OPT("conns", CL_COUNT, conns, "K", "run K connections (1)"),
	CL_OPT("parallel", CL_COUNT, parallel, "P", "P at a time (1)"),
	CL_OPT("timeout", CL_SECS, timeout_ms, "SECS",
	       "limit on every step (10)"),
};

static void cl_usage(FILE *f)
{
	fprintf(f, "usage: kst-client -c HOST:PORT [options]\n");
	for (size_t i = 0; i < KST_ARRAY_SIZE(cl_optdefs); i++) {
		const struct cl_optdef *d = &cl_optdefs[i];
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", d->name,
			 d->arg ? " " : "", d->arg ? d->arg : "");
		fprintf(f, "  %-26s %s\n", left, d->help);
	}
	fprintf(f, "exit: 0 ok, 1 a connection failed, 2 usage\n");
}

/* One option's argument into its field; 0 or -1 for a bad value. */
static int cl_option(struct cl_opts *o, const struct cl_optdef *d,
		     const char *a)
{
	void *field = (char *)o + d->off;
	uint64_t v;
	char *end;
	double secs;

	switch (d->kind) {
	case CL_STR:
		*(const char **)field = a;
		return 0;
	case CL_FLAG:
		*(bool *)field = true;
		return 0;
	case CL_SIZE:
		return kst_toolutil_parse_size(a, field);
	case CL_SECS:
		secs = strtod(a, &end);
		if (*end != '\0' || !(secs >= 0 && secs <= 86400))
			return -1;
		*(int *)field = (int)(secs * 1000);
		return 0;
	case CL_COUNT:
		if (kst_toolutil_parse_size(a, &v) < 0 || v == 0 || v > 100000)
			return -1;
		*(unsigned int *)field = (unsigned int)v;
		return 0;
	case CL_FN:
		return d->fn(o, a);
	}
	return -1;
}

/* Combinations that make no sense are usage errors. */
static int cl_check(struct cl_opts *o)
{
	if (o->require_staple)
		o->status = true;
	if (o->ku_requested || o->key_updates)
		o->key_update = true;
	if (o->expect_recv != CL_NONE)
		o->recv_all = true;
	if (o->connect == NULL || o->timeout_ms <= 0)
		return -1;
	if (o->download != CL_NONE &&
	    (o->send || o->expect_echo || o->recv_all))
		return -1;
	if ((o->expect_echo && o->recv_all) ||
	    (o->key_update && o->tls == TLS1_2_VERSION))
		return -1;
	return kst_toolutil_parse_addr(o->connect, &o->addr, &o->addr_len) < 0
		       ? -1
		       : 0;
}

static int cl_options(struct cl_opts *o, int argc, char **argv)
{
	struct option lo[KST_ARRAY_SIZE(cl_optdefs) + 2] = {{0}};
	size_t n = KST_ARRAY_SIZE(cl_optdefs);
	int opt, idx = -1;

	for (size_t i = 0; i < n; i++)
		lo[i] = (struct option){cl_optdefs[i].name,
					cl_optdefs[i].arg ? required_argument
							  : no_argument,
					NULL, 0};
	lo[n] = (struct option){"help", no_argument, NULL, 'h'};
	while ((opt = getopt_long(argc, argv, "c:h", lo, &idx)) != -1) {
		if (opt == 'h') {
			cl_usage(stdout);
			exit(0);
		}
		if (opt == 'c')
			idx = 0; /* "connect" */
		if (opt == '?' || idx < 0 || (size_t)idx >= n ||
		    cl_option(o, &cl_optdefs[idx], optarg) < 0)
			return -1;
		idx = -1;
	}
	return optind == argc ? cl_check(o) : -1;
}

/* ---------------------------------------------------------------- ctx */

static SSL_CTX *cl_ctx(const struct cl_opts *o)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, o->tls ? o->tls : TLS1_2_VERSION);
	if (o->tls)
		SSL_CTX_set_max_proto_version(ctx, o->tls);
	if ((o->ciphers && !SSL_CTX_set_cipher_list(ctx, o->ciphers)) ||
	    (o->suites && !SSL_CTX_set_ciphersuites(ctx, o->suites)) ||
	    (o->sigalgs && !SSL_CTX_set1_sigalgs_list(ctx, o->sigalgs)) ||
	    (o->groups && !SSL_CTX_set1_groups_list(ctx, o->groups)) ||
	    (o->alpn_len && SSL_CTX_set_alpn_protos(
				    ctx, o->alpn, (unsigned int)o->alpn_len)) ||
	    (o->maxfrag &&
	     !SSL_CTX_set_tlsext_max_fragment_length(ctx, o->maxfrag)) ||
	    (o->ca && !SSL_CTX_load_verify_locations(ctx, o->ca, NULL))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, o->ca ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	return ctx;
}

int main(int argc, char **argv)
{
	struct cl_opts o = {
		.expect_recv = CL_NONE,
		.download = CL_NONE,
		.conns = 1,
		.parallel = 1,
		.timeout_ms = 10000,
	};
	unsigned int failed;

	if (cl_options(&o, argc, argv) < 0) {
		cl_usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	o.ctx = cl_ctx(&o);
	if (o.ctx == NULL) {
		char e[256];

		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		fprintf(stderr, "kst-client: TLS settings refused: %s\n", e);
		return 2;
	}
	failed = cl_run_all(&o);
	SSL_CTX_free(o.ctx);
	return failed ? 1 : 0;
}
