// SPDX-License-Identifier: MIT
/*
 * kst-ktls-check: the ktls/ module against a real kTLS kernel, in one
 * process. A server (this thread) and a userspace OpenSSL client (a second
 * thread) talk over a loopback TCP pair; after each handshake the server
 * calls kst_ktls_handoff() and from then on uses only the socket: kernel
 * RX for TLS 1.3 is the module's own install, everything else OpenSSL's.
 *
 *   kst-ktls-check [-v] [-n] [-s BYTES]
 *     -s BYTES  payload per direction per case (default 262145)
 *     -n        do not check /proc/net/tls_stat deltas (only needed when
 *               other kTLS users run on the same kernel)
 *     -v        details of each case on stderr
 *
 * Cases: TLS 1.2 and 1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305:
 * handoff puts TX and RX in the kernel (read back from it); client->server
 * bytes arrive SHA-256 exact through kst_ktls_recv, read() and splice() in
 * turn; server->client through write() and splice() from a pipe; the
 * client's close_notify arrives as an alert record; ours goes out with
 * kst_ktls_send_alert and the client sees a clean close; RX rec_seq counts
 * exactly the client's records; tls_stat moves by one SW TX and one SW RX
 * and no decrypt error. TLS 1.3 again with TLS_RX_EXPECT_NO_PAD. And a
 * client KeyUpdate per TLS 1.3 suite: the bytes before it arrive intact,
 * the KeyUpdate comes back as such (kernel 6.1 cannot rekey) and the server
 * closes cleanly without a decrypt error.
 *
 * One line per case ("PASS ...", "FAIL ...: why"), then a summary. Exit 0
 * all passed, 1 a case failed, 77 this kernel has no kTLS ("SKIP ..."). It
 * needs nothing but its binary, libssl/libcrypto and /proc: the server's
 * certificate is made in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "daemon/base/util.h"
#include "ktls/crypto_info.h"
#include "ktls/ktls.h"
#include "ktls/probe.h"

enum check_kind { CHECK_TRANSFER, CHECK_NO_PAD, CHECK_KEY_UPDATE };

struct check_case {
	const char *name;
	int version;
	const char *suite;
	uint16_t cipher_type;
	enum check_kind kind;
	int key_update; /* SSL_KEY_UPDATE_* for CHECK_KEY_UPDATE */
};

static const struct check_case check_cases[] = {
	{"tls1.2 aes-128-gcm", TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256",
	 TLS_CIPHER_AES_GCM_128, CHECK_TRANSFER, 0},
	{"tls1.2 aes-256-gcm", TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384",
	 TLS_CIPHER_AES_GCM_256, CHECK_TRANSFER, 0},
	{"tls1.2 chacha20-poly1305", TLS1_2_VERSION,
	 "ECDHE-ECDSA-CHACHA20-POLY1305", TLS_CIPHER_CHACHA20_POLY1305,
	 CHECK_TRANSFER, 0},
	{"tls1.3 aes-128-gcm", TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256",
	 TLS_CIPHER_AES_GCM_128, CHECK_TRANSFER, 0},
	{"tls1.3 aes-256-gcm", TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384",
	 TLS_CIPHER_AES_GCM_256, CHECK_TRANSFER, 0},
	{"tls1.3 chacha20-poly1305", TLS1_3_VERSION,
	 "TLS_CHACHA20_POLY1305_SHA256", TLS_CIPHER_CHACHA20_POLY1305,
	 CHECK_TRANSFER, 0},
	{"tls1.3 aes-128-gcm rx-no-pad", TLS1_3_VERSION,
	 "TLS_AES_128_GCM_SHA256", TLS_CIPHER_AES_GCM_128, CHECK_NO_PAD, 0},
	{"tls1.3 aes-128-gcm key-update(requested)", TLS1_3_VERSION,
	 "TLS_AES_128_GCM_SHA256", TLS_CIPHER_AES_GCM_128, CHECK_KEY_UPDATE,
	 SSL_KEY_UPDATE_REQUESTED},
	{"tls1.3 aes-256-gcm key-update", TLS1_3_VERSION,
	 "TLS_AES_256_GCM_SHA384", TLS_CIPHER_AES_GCM_256, CHECK_KEY_UPDATE,
	 SSL_KEY_UPDATE_NOT_REQUESTED},
	{"tls1.3 chacha20-poly1305 key-update", TLS1_3_VERSION,
	 "TLS_CHACHA20_POLY1305_SHA256", TLS_CIPHER_CHACHA20_POLY1305,
	 CHECK_KEY_UPDATE, SSL_KEY_UPDATE_NOT_REQUESTED},
};

/* Client write sizes: around record boundaries, then big ones. */
static const size_t check_chunks[] = {1,     17,    255,   1024,  4096,
				      16383, 16384, 16385, 65536, 100000};

#define CHECK_RECORD  16384
#define CHECK_TIMEOUT 20 /* seconds, any single socket operation */

/* Process-wide settings and shared data (read-only once cases run). */
static struct {
	size_t size;
	bool verbose, stats;
	SSL_CTX *sctx;
	unsigned char *up, *down; /* client->server, server->client */
	unsigned char up_sha[32], down_sha[32];
} chk = {.size = 262145, .stats = true};

/* What the client thread did. */
struct client_run {
	const struct check_case *cc;
	int fd;
	size_t written, records, got;
	unsigned char sha[32];
	bool clean_close;
	char err[160];
};

/* One case on the server side. */
struct server_run {
	const struct check_case *cc;
	int fd;
	SSL *ssl;
	struct kst_ktls_result res;
	struct kst_tls_stat before;
	char err[200];
	char note[200], stats[120]; /* details for -v */
};

static int check_fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int check_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define SFAIL(sr, ...) check_fail((sr)->err, sizeof((sr)->err), __VA_ARGS__)
#define CFAIL(cr, ...) check_fail((cr)->err, sizeof((cr)->err), __VA_ARGS__)

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!chk.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *ssl_err(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* ---------------------------------------------------------------- setup */

/* A throwaway ECDSA P-256 self-signed certificate for the server. */
static int make_server_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name = x != NULL ? X509_get_subject_name(x) : NULL;
	int ok = key != NULL && name != NULL;

	ok = ok && X509_set_version(x, 2) &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"kst-ktls-check",
					-1, -1, 0) &&
	     X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
	     X509_sign(x, key, EVP_sha256()) > 0;
	chk.sctx = ok ? SSL_CTX_new(TLS_server_method()) : NULL;
	ok = chk.sctx != NULL && SSL_CTX_use_certificate(chk.sctx, x) == 1 &&
	     SSL_CTX_use_PrivateKey(chk.sctx, key) == 1 &&
	     SSL_CTX_set_ciphersuites(chk.sctx,
				      "TLS_AES_128_GCM_SHA256:"
				      "TLS_AES_256_GCM_SHA384:"
				      "TLS_CHACHA20_POLY1305_SHA256") == 1;
	if (ok) {
		/* what the daemon does: kTLS on, our keylog, no read-ahead */
		SSL_CTX_set_options(chk.sctx, SSL_OP_ENABLE_KTLS);
		SSL_CTX_set_keylog_callback(chk.sctx, kst_ktls_keylog_cb);
		SSL_CTX_set_read_ahead(chk.sctx, 0);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ok ? 0 : -1;
}

/* Deterministic payloads (xorshift64*), and their digests. */
static int make_payloads(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;

	chk.up = malloc(chk.size);
	chk.down = malloc(chk.size);
	if (chk.up == NULL || chk.down == NULL)
		return -1;
	for (size_t i = 0; i < chk.size; i++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		chk.up[i] = (unsigned char)((s * 0x2545f4914f6cdd1dull) >> 56);
		chk.down[i] = (unsigned char)(s >> 13);
	}
	return EVP_Digest(chk.up, chk.size, chk.up_sha, NULL, EVP_sha256(),
			  NULL) == 1 &&
			       EVP_Digest(chk.down, chk.size, chk.down_sha,
					  NULL, EVP_sha256(), NULL) == 1
		       ? 0
		       : -1;
}

static int set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = CHECK_TIMEOUT};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

/* A connected loopback TCP pair, blocking, with timeouts. */
static int tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int s = -1;

	if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&a, alen) == 0 &&
	    listen(l, 1) == 0 &&
	    getsockname(l, (struct sockaddr *)&a, &alen) == 0 &&
	    connect(c, (struct sockaddr *)&a, alen) == 0)
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (l >= 0)
		close(l);
	if (s < 0 || set_timeouts(c) < 0 || set_timeouts(s) < 0) {
		if (c >= 0)
			close(c);
		if (s >= 0)
			close(s);
		return -1;
	}
	*cfd = c;
	*sfd = s;
	return 0;
}

/* --------------------------------------------------------------- client */

static size_t client_chunk(size_t i, size_t left)
{
	size_t n = i < KST_ARRAY_SIZE(check_chunks) ? check_chunks[i]
						    : CHECK_RECORD;

	return n < left ? n : left;
}

/* Where a KeyUpdate case sends its KeyUpdate, and how much it sends in
 * all: the server stops reading there, so what follows must fit in the
 * socket buffers. */
static size_t check_ku_at(void)
{
	return chk.size / 2 < 65536 ? chk.size / 2 : 65536;
}

#define CHECK_KU_AFTER 1000

/* SSL_write the upload in varied chunks, counting records; a KeyUpdate
 * case sends its KeyUpdate after check_ku_at() bytes. */
static int client_send(struct client_run *cr, SSL *ssl)
{
	bool ku = cr->cc->kind == CHECK_KEY_UPDATE;
	size_t off = 0, stop = ku ? check_ku_at() : chk.size;
	size_t end = ku ? stop + CHECK_KU_AFTER : chk.size;

	for (size_t i = 0; off < end; i++) {
		size_t n = client_chunk(i, (off < stop ? stop : end) - off);

		if (SSL_write(ssl, chk.up + off, (int)n) != (int)n)
			return CFAIL(cr, "client SSL_write at %zu: %s", off,
				     ssl_err());
		off += n;
		cr->records += (n + CHECK_RECORD - 1) / CHECK_RECORD;
		if (ku && off == stop &&
		    SSL_key_update(ssl, cr->cc->key_update) != 1)
			return CFAIL(cr, "SSL_key_update: %s", ssl_err());
	}
	cr->written = off;
	return 0;
}

/* Read the server's download until its close_notify. */
static int client_receive(struct client_run *cr, SSL *ssl)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536];
	int n, ret = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		ret = CFAIL(cr, "digest");
	while (ret == 0 && (n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		if (cr->got + (size_t)n <= chk.size &&
		    memcmp(buf, chk.down + cr->got, (size_t)n) != 0)
			ret = CFAIL(cr, "client: bytes differ near %zu",
				    cr->got);
		EVP_DigestUpdate(md, buf, (size_t)n);
		cr->got += (size_t)n;
	}
	if (ret == 0 && SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
		cr->clean_close = true;
	else if (ret == 0)
		ret = CFAIL(cr,
			    "client SSL_read ended without close_notify: "
			    "%d %s",
			    SSL_get_error(ssl, n), ssl_err());
	EVP_DigestFinal_ex(md, cr->sha, NULL);
	EVP_MD_CTX_free(md);
	return ret;
}

static void *client_main(void *arg)
{
	struct client_run *cr = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	int v = cr->cc->version;

	if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, v) ||
	    !SSL_CTX_set_max_proto_version(ctx, v) ||
	    (v == TLS1_3_VERSION
		     ? SSL_CTX_set_ciphersuites(ctx, cr->cc->suite)
		     : SSL_CTX_set_cipher_list(ctx, cr->cc->suite)) != 1 ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, cr->fd) != 1) {
		CFAIL(cr, "client setup: %s", ssl_err());
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		CFAIL(cr, "client handshake: %s", ssl_err());
		goto out;
	}
	if (client_send(cr, ssl) == 0) {
		/* the first SSL_shutdown only sends close_notify */
		if (SSL_shutdown(ssl) < 0)
			CFAIL(cr, "client SSL_shutdown: %s", ssl_err());
		client_receive(cr, ssl);
	}
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* --------------------------------------------------------------- server */

enum read_method { READ_RECV, READ_READ, READ_SPLICE };

static const char *const read_names[] = {"recv", "read", "splice"};

/* Up to len upload bytes by one method; returns bytes or -1. */
static ssize_t server_read_some(struct server_run *sr, enum read_method m,
				unsigned char *buf, size_t len, int pipefd[2])
{
	uint8_t type = 23;
	ssize_t n;

	if (m == READ_RECV) {
		n = kst_ktls_recv(sr->fd, buf, len, 0, &type);
		if (n < 0)
			return SFAIL(sr, "kst_ktls_recv: %s",
				     strerror((int)-n));
		if (type != 23)
			return SFAIL(sr, "record type %u inside the upload",
				     type);
		return n;
	}
	if (m == READ_READ) {
		n = read(sr->fd, buf, len);
		return n < 0 ? SFAIL(sr, "read: %s", strerror(errno)) : n;
	}
	n = splice(sr->fd, NULL, pipefd[1], NULL, len, 0);
	if (n < 0)
		return SFAIL(sr, "splice: %s", strerror(errno));
	for (ssize_t have = 0, r; have < n; have += r) {
		r = read(pipefd[0], buf + have, (size_t)(n - have));
		if (r <= 0)
			return SFAIL(sr, "read from pipe: %s", strerror(errno));
	}
	return n;
}

/* The upload, a third per read method, compared byte for byte. */
static int server_upload(struct server_run *sr, size_t total)
{
	unsigned char *buf = malloc(65536);
	int pipefd[2] = {-1, -1};
	size_t off = 0;
	int ret = 0;

	if (buf == NULL || pipe2(pipefd, O_CLOEXEC) < 0)
		ret = SFAIL(sr, "setup: %s", strerror(errno));
	for (int m = READ_RECV; ret == 0 && m <= READ_SPLICE; m++) {
		size_t end = m == READ_SPLICE ? total : total / 3 * (m + 1);

		while (ret == 0 && off < end) {
			size_t want = KST_MIN(end - off, (size_t)65536);
			ssize_t n = server_read_some(sr, m, buf, want, pipefd);

			if (n == 0)
				ret = SFAIL(sr, "EOF after %zu bytes", off);
			else if (n > 0 && memcmp(buf, chk.up + off, (size_t)n))
				ret = SFAIL(sr, "%s: bytes differ near %zu",
					    read_names[m], off);
			else if (n < 0)
				ret = -1;
			off += n > 0 ? (size_t)n : 0;
		}
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(buf);
	return ret;
}

/* The next record must be the given kind of non-data record. */
static int server_expect(struct server_run *sr, enum kst_ktls_rec want,
			 struct kst_ktls_record *r)
{
	unsigned char buf[256];
	uint8_t type = 0;
	ssize_t n = kst_ktls_recv(sr->fd, buf, sizeof(buf), 0, &type);

	if (n < 0)
		return SFAIL(sr, "waiting for a control record: %s",
			     strerror((int)-n));
	if (kst_ktls_record_classify(type, buf, (size_t)n, r) != want)
		return SFAIL(sr,
			     "record type %u (%zd bytes, first %#x) is "
			     "not the expected kind %d",
			     type, n, n > 0 ? buf[0] : 0, want);
	return 0;
}

static int write_all(struct server_run *sr, int fd, const unsigned char *p,
		     size_t len, const char *what)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return SFAIL(sr, "%s: %s", what, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The download: first half write(), second half splice() from a pipe. */
static int server_download(struct server_run *sr)
{
	size_t half = chk.size / 2, off;
	int pipefd[2] = {-1, -1};
	int ret = write_all(sr, sr->fd, chk.down, half, "write");

	if (ret == 0 && pipe2(pipefd, O_CLOEXEC) < 0)
		ret = SFAIL(sr, "pipe: %s", strerror(errno));
	for (off = half; ret == 0 && off < chk.size;) {
		size_t n = KST_MIN(chk.size - off, (size_t)65536);

		ret = write_all(sr, pipefd[1], chk.down + off, n, "pipe");
		while (ret == 0 && n > 0) {
			ssize_t s = splice(pipefd[0], NULL, sr->fd, NULL, n, 0);

			if (s <= 0)
				ret = SFAIL(sr, "splice to socket: %s",
					    strerror(errno));
			else
				n -= (size_t)s, off += (size_t)s;
		}
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

/* What the handoff must have done for every case here. */
static int server_handoff(struct server_run *sr)
{
	struct kst_ktls_result *res = &sr->res;

	if (SSL_accept(sr->ssl) != 1)
		return SFAIL(sr, "server handshake: %s", ssl_err());
	if (kst_ktls_handoff(sr->ssl, sr->fd, true, res) != 0)
		return SFAIL(sr, "kst_ktls_handoff refused its arguments");
	if (kst_ktls_has_secret(sr->ssl))
		return SFAIL(sr, "secret still held after the handoff");
	if (!res->tx || !res->rx)
		return SFAIL(sr, "handoff: tx %s, rx %s",
			     kst_ktls_why_name(res->tx_why),
			     kst_ktls_why_name(res->rx_why));
	if (res->version != sr->cc->version ||
	    res->cipher_type != sr->cc->cipher_type)
		return SFAIL(sr, "kernel has version %#x cipher %u",
			     res->version, res->cipher_type);
	if (sr->cc->kind == CHECK_NO_PAD && kst_ktls_set_rx_no_pad(sr->fd, 1))
		return SFAIL(sr, "TLS_RX_EXPECT_NO_PAD: %s", strerror(errno));
	return 0;
}

/* Upload, close_notify in, download, close_notify out. */
static int server_transfer(struct server_run *sr, uint64_t *rx_seq)
{
	struct kst_ktls_record r;
	struct kst_ktls_info rx, tx;
	int err;

	if (server_upload(sr, chk.size) < 0 ||
	    server_expect(sr, KST_KTLS_REC_CLOSE_NOTIFY, &r) < 0)
		return -1;
	if ((err = kst_ktls_get_info(sr->fd, TLS_RX, &rx)) != 0)
		return SFAIL(sr, "TLS_RX read-back: %s", strerror(-err));
	*rx_seq = rx.rec_seq;
	if (server_download(sr) < 0)
		return -1;
	if ((err = kst_ktls_send_alert(sr->fd, 1, 0)) != 0)
		return SFAIL(sr, "close_notify: %s", strerror(-err));
	if ((err = kst_ktls_get_info(sr->fd, TLS_TX, &tx)) != 0)
		return SFAIL(sr, "TLS_TX read-back: %s", strerror(-err));
	snprintf(sr->note, sizeof(sr->note),
		 "rx records %" PRIu64 "..%" PRIu64 ", tx records %" PRIu64
		 "..%" PRIu64,
		 sr->res.rx_rec_seq, rx.rec_seq, sr->res.tx_rec_seq,
		 tx.rec_seq);
	return 0;
}

/* Data up to the KeyUpdate, the KeyUpdate itself, then a clean close. */
static int server_key_update(struct server_run *sr)
{
	struct kst_ktls_record r;
	int err;

	if (server_upload(sr, check_ku_at()) < 0 ||
	    server_expect(sr, KST_KTLS_REC_KEY_UPDATE, &r) < 0)
		return -1;
	if (r.update_requested !=
	    (sr->cc->key_update == SSL_KEY_UPDATE_REQUESTED))
		return SFAIL(sr, "KeyUpdate request_update %d",
			     r.update_requested);
	/* 6.1 can't rekey RX: stop reading; our TX keys are unchanged */
	if ((err = kst_ktls_send_alert(sr->fd, 1, 0)) != 0)
		return SFAIL(sr, "close_notify: %s", strerror(-err));
	snprintf(sr->note, sizeof(sr->note),
		 "KeyUpdate (request_update=%d) detected after %zu bytes",
		 r.update_requested, check_ku_at());
	return 0;
}

/* ---------------------------------------------------------------- cases */

/* One SW TX and one SW RX installed, both gone again, nothing failed. */
static int check_stats(struct server_run *sr)
{
	struct kst_tls_stat a;
	const struct kst_tls_stat *b = &sr->before;
	int err = kst_ktls_tls_stat_read(&a);

	if (err != 0)
		return SFAIL(sr, "/proc/net/tls_stat: %s", strerror(-err));
	if (a.tx_sw - b->tx_sw != 1 || a.rx_sw - b->rx_sw != 1)
		return SFAIL(sr,
			     "tls_stat TlsTxSw +%" PRIu64 " TlsRxSw +%" PRIu64
			     ", want +1 +1",
			     a.tx_sw - b->tx_sw, a.rx_sw - b->rx_sw);
	if (a.curr_tx_sw != b->curr_tx_sw || a.curr_rx_sw != b->curr_rx_sw)
		return SFAIL(sr,
			     "tls_stat TlsCurrTxSw %" PRIu64 "->%" PRIu64
			     " TlsCurrRxSw %" PRIu64 "->%" PRIu64
			     " after close",
			     b->curr_tx_sw, a.curr_tx_sw, b->curr_rx_sw,
			     a.curr_rx_sw);
	if (a.decrypt_error != b->decrypt_error ||
	    a.rx_no_pad_violation != b->rx_no_pad_violation)
		return SFAIL(sr,
			     "tls_stat TlsDecryptError +%" PRIu64
			     " TlsRxNoPadViolation +%" PRIu64,
			     a.decrypt_error - b->decrypt_error,
			     a.rx_no_pad_violation - b->rx_no_pad_violation);
	snprintf(sr->stats, sizeof(sr->stats),
		 "tls_stat: TlsTxSw +1 TlsRxSw +1 TlsDecryptRetry +%" PRIu64,
		 a.decrypt_retry - b->decrypt_retry);
	return 0;
}

/* What the client saw, checked once it is done. */
static int check_client(struct server_run *sr, const struct client_run *cr,
			uint64_t rx_seq)
{
	bool ku = sr->cc->kind == CHECK_KEY_UPDATE;

	if (cr->err[0] != '\0')
		return SFAIL(sr, "%s", cr->err);
	if (!cr->clean_close)
		return SFAIL(sr, "client saw no close_notify");
	if (ku && cr->got != 0)
		return SFAIL(sr, "client got %zu bytes, want none", cr->got);
	if (!ku && (cr->got != chk.size ||
		    memcmp(cr->sha, chk.down_sha, sizeof(cr->sha)) != 0))
		return SFAIL(sr, "download: %zu bytes, SHA-256 %s", cr->got,
			     cr->got == chk.size ? "differs" : "n/a");
	/* the kernel counted each client record, plus its close_notify */
	if (!ku && rx_seq - sr->res.rx_rec_seq != cr->records + 1)
		return SFAIL(sr,
			     "RX rec_seq moved %" PRIu64 ", client sent "
			     "%zu records + close_notify",
			     rx_seq - sr->res.rx_rec_seq, cr->records);
	return 0;
}

static int run_server(struct server_run *sr, uint64_t *rx_seq)
{
	sr->ssl = SSL_new(chk.sctx);
	if (sr->ssl == NULL || SSL_set_fd(sr->ssl, sr->fd) != 1)
		return SFAIL(sr, "server setup: %s", ssl_err());
	if (server_handoff(sr) < 0)
		return -1;
	if (sr->cc->kind == CHECK_KEY_UPDATE)
		return server_key_update(sr);
	return server_transfer(sr, rx_seq);
}

/* One case end to end; prints its line; 0 pass, -1 fail. */
static int run_case(const struct check_case *cc)
{
	struct server_run sr = {.cc = cc, .fd = -1};
	struct client_run cr = {.cc = cc, .fd = -1};
	uint64_t t0 = kst_mono_ms(), rx_seq = 0;
	pthread_t th;
	bool started = false;

	if (chk.stats && kst_ktls_tls_stat_read(&sr.before) != 0)
		SFAIL(&sr, "/proc/net/tls_stat unreadable before the case");
	else if (tcp_pair(&cr.fd, &sr.fd) < 0)
		SFAIL(&sr, "loopback pair: %s", strerror(errno));
	else if (pthread_create(&th, NULL, client_main, &cr) != 0)
		SFAIL(&sr, "client thread");
	else
		started = true;
	if (started && run_server(&sr, &rx_seq) < 0)
		shutdown(sr.fd, SHUT_RDWR); /* unblock the client */
	if (started)
		pthread_join(th, NULL);
	SSL_free(sr.ssl); /* never SSL_shutdown: RX is the kernel's */
	if (sr.fd >= 0)
		close(sr.fd);
	if (cr.fd >= 0)
		close(cr.fd);
	if (started && sr.err[0] == '\0' &&
	    check_client(&sr, &cr, rx_seq) == 0 && chk.stats)
		check_stats(&sr);
	if (sr.err[0] != '\0') {
		printf("FAIL %s: %s\n", cc->name, sr.err);
		return -1;
	}
	printf("PASS %s (%" PRIu64 " ms)\n", cc->name, kst_mono_ms() - t0);
	vlog("  %s", sr.note);
	if (chk.stats)
		vlog("  %s", sr.stats);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: kst-ktls-check [-v] [-n] [-s BYTES]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *reason = NULL;
	int opt, failed = 0;
	char *end;

	while ((opt = getopt(argc, argv, "vns:")) != -1) {
		if (opt == 'v') {
			chk.verbose = true;
		} else if (opt == 'n') {
			chk.stats = false;
		} else if (opt == 's') {
			chk.size = strtoul(optarg, &end, 10);
			if (*end != '\0' || chk.size < 4096 ||
			    chk.size > (1u << 30))
				return usage();
		} else {
			return usage();
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* a failed case shuts its socket down under a writing client */
	signal(SIGPIPE, SIG_IGN);
	if (!kst_ktls_probe(&reason)) {
		printf("SKIP kst-ktls-check: %s\n", reason);
		return 77;
	}
	if (kst_ktls_init() != 0 || make_server_ctx() != 0 ||
	    make_payloads() != 0) {
		printf("FAIL kst-ktls-check: setup: %s\n", ssl_err());
		return 1;
	}
	vlog("%s; %s; %zu bytes per direction", reason,
	     OpenSSL_version(OPENSSL_VERSION), chk.size);
	for (size_t i = 0; i < KST_ARRAY_SIZE(check_cases); i++)
		failed += run_case(&check_cases[i]) != 0;
	printf("kst-ktls-check: %zu passed, %d failed\n",
	       KST_ARRAY_SIZE(check_cases) - (size_t)failed, failed);
	SSL_CTX_free(chk.sctx);
	free(chk.up);
	free(chk.down);
	return failed ? 1 : 0;
}
