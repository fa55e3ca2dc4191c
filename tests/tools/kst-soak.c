// SPDX-License-Identifier: MIT
/*
 * kst-soak: the sanitizer soak (issue 12). It starts the daemon it is given
 * (the SAN=1 build in `make soak`), kst-ocspd as its responder and two
 * kst-backend processes (echo and http) plus a backend of its own that
 * resets connections, then drives a bounded, randomized traffic mix through
 * the daemon for --seconds while a chaos thread sends SIGHUP reloads (some
 * back to back), swaps the operator's staple file for another valid
 * response, and makes the responder fail (error modes, or killed and
 * restarted on the same port).
 *
 * Transfers (each one's parameters come from the seed and its index, so a
 * run is reproduced by its seed; the interleaving is not):
 *   echo      upload N pattern bytes, read the same N back (both directions
 *             at once), byte-exact
 *   download  GET /bytes/N from kst-backend, body checked byte by byte
 *   upload    POST N bytes, kst-backend answers their SHA-256, compared
 *   rst       our backend sends some bytes, reads some, then resets (RST);
 *             what arrived must be an exact prefix
 *   burst     5-40 short connections: handshake and close_notify, handshake
 *             and RST, TCP connect and close, half a ClientHello
 * Modifiers: half-close (close_notify right after the request/upload,
 * before the answer), slow reader (small reads, sleeps, one stall), client
 * reset (SO_LINGER 0 after a random share of the bytes), KeyUpdate (a TLS
 * 1.3 echo or upload sends one, update_requested or not, at a random point
 * of its body: every byte must still arrive, except on a kTLS kernel that
 * cannot rekey, /proc/net/tls_stat without TlsRxRekeyOk, where the daemon
 * may end the transfer early with a close_notify after an exact prefix). Sizes
 * run from 0 B to --max-size, weighted near the TLS record (16 KiB), the relay
 * buffer (64 KiB less its header), the pipe (64 KiB), the relay's per-wakeup
 * budget (256 KiB: the round of a full buffer that crosses it) and
 * multiples of 64 rounds of one buffer (its round limit, the old budget).
 *
 * --chaos picks which of reloads, swaps, flaps and ticket-key rotations
 * happen (to tell a reload bug from a relay bug). The daemon shares
 * session-ticket keys from a file (ticket-keys); clients offer the last
 * ticket they got for the same protocol and cipher on every third
 * handshake, so resumed sessions carry traffic while the key file
 * rotates under them.
 *
 * Pass: every transfer that was not reset on purpose moved exactly its
 * bytes; no sanitizer report in the daemon's log; the daemon's fd count
 * back to its baseline; it still answers and exits 0 on SIGTERM. Output:
 * totals, a size histogram, and "N passed, N failed"; exit 0 or 1 (2 for a
 * usage error, 77 when something needed is missing).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "daemon/base/util.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/pattern.h"
#include "tests/lib/toolutil.h"

#define SK_BUF	     (64 * 1024)
#define SK_RECORD    16384u
#define SK_RELAY_CAP (65536u - 8u) /* KST_BUF_CAP: 64 KiB less the header */
#define SK_PIPE	     65536u
#define SK_BUDGET    (64u * SK_RELAY_CAP) /* KST_RELAY_ROUNDS full rounds */
#define SK_WAKEUP    (5u * SK_RELAY_CAP)  /* KST_RELAY_BUDGET crossed */
#define SK_IDLE_MS   30000		  /* a transfer's inactivity limit */
#define SK_RST_SEED  0x5eedu
#define SK_MAX_FAILS 32 /* failures described one by one */
#define SK_HIST	     8
#define SK_WORKERS   2 /* workers = in the configuration */
#define SK_PIPES_POOLED \
	16 /* KST_WORKER_PIPES_POOLED, daemon/datapath/worker.h */

enum sk_kind { SK_ECHO, SK_DOWNLOAD, SK_UPLOAD, SK_RST, SK_BURST, SK_NKIND };
static const char *const sk_kind_names[] = {"echo", "download", "upload", "rst",
					    "burst"};

struct sk_opts {
	const char *kstapled, *tools, *pki, *dir;
	unsigned int seconds, threads;
	uint64_t seed, max_size;
	const char
		*chaos; /* "all", "none", or a list: reload,swap,flap,rotate */
};

/* One transfer, all from its index and the run's seed. */
struct sk_xfer {
	uint64_t index, seed;
	enum sk_kind kind;
	uint64_t size;	   /* the payload: upload, download or echo size */
	uint64_t rst_up;   /* rst: bytes the backend reads before its RST */
	bool half_close;   /* close_notify before the answer */
	bool slow;	   /* slow reader */
	uint64_t reset_at; /* client RST after this many bytes moved, or 0 */
	bool tls13;
	int cipher;
	unsigned int burst; /* burst: connections */
	uint64_t ku_at;	    /* a KeyUpdate before this body byte, if ku */
	bool ku, ku_requested;
};

/* What the client saw. */
struct sk_io {
	const struct sk_xfer *x;
	SSL *ssl;
	int fd;
	/* sending: head (HTTP request), then pattern bytes */
	char head[256];
	size_t head_len, head_off;
	uint64_t body_len, body_off, body_seed;
	unsigned char *chunk;
	size_t chunk_len; /* a pending SSL_write (same bytes on retry) */
	bool shut_wanted, shut_sent;
	/* receiving */
	unsigned char *rbuf, *expect;
	char rhead[512];
	size_t rhead_len;
	bool rhead_done;
	uint64_t rx, rx_body, want_body, rx_seed;
	bool check_pattern; /* body against rx_seed */
	char reply[160];    /* upload: the backend's answer body */
	size_t reply_len;
	bool notify, eof, err, mismatch, reset_done;
	bool ku_sent, wfail; /* wfail: a write failed after our KeyUpdate */
	char why[160];
	EVP_MD_CTX *md;
};

struct sk_stats {
	atomic_ullong transfers, passed, failed, bytes_up, bytes_down;
	atomic_ullong by_kind[SK_NKIND], hist[SK_HIST];
	atomic_ullong client_resets, backend_resets, half_closes, slow_reads;
	atomic_ullong burst_conns, staples_seen, no_notify;
	atomic_ullong reloads, reload_pairs, reload_failed, swaps, flaps;
	atomic_ullong flap_kills;
	atomic_ullong resumed, resume_offers, rotations;
	atomic_ullong key_updates, ku_exact, ku_closes;
};

struct sk {
	struct sk_opts o;
	SSL_CTX *ctx;
	int port_echo, port_http, port_rst;
	int be_echo_port, be_http_port, rst_port, ocspd_port;
	pid_t daemon, be_echo, be_http, ocspd;
	char conf[512], log[512], ocspd_mode[512], ocspd_log[512];
	char tkeys[512];	 /* the ticket-keys file */
	char tkey_lines[3][128]; /* its keys, newest first */
	char staple[512], ec_pem[512], rsa_pem[512], other_pem[512];
	unsigned int conf_gen; /* reloads so far: which EC leaf */
	bool ku_may_close;     /* kTLS here, and the kernel cannot rekey */
	int rst_lfd;
	atomic_ullong next_index;
	atomic_bool stop, daemon_dead;
	uint64_t deadline_ms, t0_ms;
	struct sk_stats st;
	pthread_mutex_t lock; /* failure lines */
	unsigned int nfails;
	uint64_t swap_serial;
};

static struct sk sk;

static bool sk_alive(pid_t pid);
static bool sk_check_alive(void);

/* ----------------------------------------------------------- helpers */

static uint64_t sk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sk_sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t sk_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* A small generator per transfer (or per chaos step). */
struct sk_rng {
	uint64_t s;
};

static uint64_t sk_next(struct sk_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return sk_mix(r->s);
}

/* Uniform in [0, n); n > 0. */
static uint64_t sk_below(struct sk_rng *r, uint64_t n)
{
	return sk_next(r) % n;
}

static bool sk_chance(struct sk_rng *r, unsigned int pct)
{
	return sk_below(r, 100) < pct;
}

static void sk_fail(const struct sk_xfer *x, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x != NULL) {
		/* a crash resets every connection: let a dying daemon exit
		 * first, so that its death is the one failure reported */
		sk_sleep_ms(300);
		if (!sk_alive(sk.daemon))
			return;
	}
	pthread_mutex_lock(&sk.lock);
	if (sk.nfails++ < SK_MAX_FAILS) {
		if (x != NULL)
			printf("soak: FAIL transfer #%llu (%s, %llu B%s%s%s%s,"
			       " TLS 1.%d): %s\n",
			       (unsigned long long)x->index,
			       sk_kind_names[x->kind],
			       (unsigned long long)x->size,
			       x->half_close ? ", half-close" : "",
			       x->slow ? ", slow reader" : "",
			       x->reset_at ? ", client reset" : "",
			       x->kind == SK_BURST ? ", burst" : "",
			       x->tls13 ? 3 : 2, msg);
		else
			printf("soak: FAIL %s\n", msg);
		fflush(stdout);
	}
	pthread_mutex_unlock(&sk.lock);
}

/* ------------------------------------------------------------- sizes */

/* Sizes near the boundaries the relay has: record, buffer, pipe, budget. */
static uint64_t sk_size(struct sk_rng *r, uint64_t max)
{
	static const uint64_t base[] = {
		SK_RECORD,	    SK_RELAY_CAP,     SK_PIPE,
		2 * SK_RELAY_CAP,   2 * SK_PIPE,      4 * SK_PIPE,
		SK_BUDGET,	    2ull * SK_BUDGET, 3ull * SK_BUDGET,
		4ull * SK_BUDGET,   SK_BUDGET / 2,    2ull * SK_WAKEUP,
		SK_WAKEUP,	    1024 * 1024,      4 * 1024 * 1024,
		16ull * 1024 * 1024};
	uint64_t v, d;
	unsigned int pick = (unsigned int)sk_below(r, 100);

	if (pick < 20) {
		v = sk_below(r, 4097); /* small, 0 included */
		if (sk_chance(r, 10))
			v = 0;
	} else if (pick < 75) {
		v = base[sk_below(r, KST_ARRAY_SIZE(base))];
		switch (sk_below(r, 4)) {
		case 0:
			d = 0;
			break;
		case 1:
			d = 1;
			break;
		case 2:
			d = sk_below(r, 65);
			break;
		default:
			d = sk_below(r, 4097);
			break;
		}
		v = sk_chance(r, 50) && v >= d ? v - d : v + d;
	} else {
		/* log-uniform over 1 B .. 16 MiB */
		unsigned int bits = (unsigned int)sk_below(r, 24);

		v = (1ull << bits) + sk_below(r, 1ull << bits);
	}
	if (v > max) {
		/* keep the shape below the cap: fold into it */
		v = max > 0 ? v % (max + 1) : 0;
	}
	return v;
}

static unsigned int sk_hist_bucket(uint64_t n)
{
	if (n == 0)
		return 0;
	if (n <= 1024)
		return 1;
	if (n <= SK_RECORD)
		return 2;
	if (n <= SK_PIPE)
		return 3;
	if (n <= 1024 * 1024)
		return 4;
	if (n <= SK_BUDGET)
		return 5;
	if (n <= 2ull * SK_BUDGET)
		return 6;
	return 7;
}

static const char *const sk_hist_names[SK_HIST] = {
	"0 B",		"1 B-1 KiB",	"1-16 KiB",  "16-64 KiB",
	"64 KiB-1 MiB", "1 MiB-budget", "budget-2x", "2x-16 MiB"};

static void sk_plan(uint64_t index, struct sk_xfer *x)
{
	struct sk_rng r = {sk_mix(sk.o.seed ^ sk_mix(index))};
	unsigned int k = (unsigned int)sk_below(&r, 100);

	memset(x, 0, sizeof(*x));
	x->index = index;
	x->seed = sk_next(&r) | 1; /* 0 is the periodic pattern */
	x->kind = k < 28   ? SK_ECHO
		  : k < 52 ? SK_DOWNLOAD
		  : k < 72 ? SK_UPLOAD
		  : k < 84 ? SK_RST
			   : SK_BURST;
	x->size = sk_size(&r, sk.o.max_size);
	x->tls13 = sk_chance(&r, 50);
	x->cipher = (int)sk_below(&r, 3);
	x->half_close = sk_chance(&r, 40);
	x->slow = x->size <= 2 * 1024 * 1024 && sk_chance(&r, 10);
	if (x->kind != SK_RST && x->size > 0 && sk_chance(&r, 8))
		x->reset_at = 1 + sk_below(&r, x->size);
	if (x->kind == SK_RST)
		x->rst_up = sk_below(&r, x->size + 1);
	if (x->kind == SK_BURST) {
		x->burst = 5 + (unsigned int)sk_below(&r, 36);
		x->size = 0;
		x->half_close = x->slow = false;
		x->reset_at = 0;
	}
	/* drawn last: the fields above stay what earlier seeds gave */
	if (x->tls13 && (x->kind == SK_ECHO || x->kind == SK_UPLOAD) &&
	    x->size > 0 && sk_chance(&r, 30)) {
		x->ku = true;
		x->ku_at = sk_below(&r, x->size);
		x->ku_requested = sk_chance(&r, 50);
	}
}

/* ------------------------------------------------------------ client */

static const char *const sk_ciphers12[] = {"ECDHE-ECDSA-AES128-GCM-SHA256:"
					   "ECDHE-RSA-AES128-GCM-SHA256",
					   "ECDHE-ECDSA-AES256-GCM-SHA384:"
					   "ECDHE-RSA-AES256-GCM-SHA384",
					   "ECDHE-ECDSA-CHACHA20-POLY1305:"
					   "ECDHE-RSA-CHACHA20-POLY1305"};
static const char *const sk_suites13[] = {"TLS_AES_128_GCM_SHA256",
					  "TLS_AES_256_GCM_SHA384",
					  "TLS_CHACHA20_POLY1305_SHA256"};

static int sk_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void sk_rst_close(int fd)
{
	struct linger l = {1, 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static int sk_status_cb(SSL *ssl, void *arg)
{
	const unsigned char *p;

	(void)arg;
	if (SSL_get_tlsext_status_ocsp_resp(ssl, &p) > 0)
		atomic_fetch_add(&sk.st.staples_seen, 1);
	return 1;
}

/* The last ticket per (TLS 1.3, cipher): index 2*cipher + tls13. */
#define SK_SESS_SLOTS 16
static SSL_SESSION *sk_sess[SK_SESS_SLOTS];
static pthread_mutex_t sk_sess_mu = PTHREAD_MUTEX_INITIALIZER;
static int sk_sess_idx = -1; /* SSL ex_data: slot + 1 */

static int sk_sess_new(SSL *ssl, SSL_SESSION *sess)
{
	intptr_t slot = (intptr_t)SSL_get_ex_data(ssl, sk_sess_idx) - 1;
	SSL_SESSION *old;

	if (slot < 0 || slot >= SK_SESS_SLOTS)
		return 0;
	pthread_mutex_lock(&sk_sess_mu);
	old = sk_sess[slot];
	sk_sess[slot] = sess;
	pthread_mutex_unlock(&sk_sess_mu);
	SSL_SESSION_free(old);
	return 1; /* the reference is ours */
}

/* Offer the slot's ticket, on every third handshake of a thread. */
static void sk_sess_offer(SSL *ssl, const struct sk_xfer *x)
{
	static _Thread_local unsigned n;
	intptr_t slot = 2 * (intptr_t)x->cipher + (x->tls13 ? 1 : 0);

	if (slot >= SK_SESS_SLOTS)
		return;
	SSL_set_ex_data(ssl, sk_sess_idx, (void *)(slot + 1));
	if (++n % 3 != 0)
		return;
	pthread_mutex_lock(&sk_sess_mu);
	if (sk_sess[slot] != NULL) {
		SSL_set_session(ssl, sk_sess[slot]);
		atomic_fetch_add(&sk.st.resume_offers, 1);
	}
	pthread_mutex_unlock(&sk_sess_mu);
}

/* A blocking handshake bounded by SO_RCVTIMEO/SO_SNDTIMEO; the fd is
 * non-blocking afterwards. NULL on failure (why filled). */
static SSL *sk_handshake(int fd, const struct sk_xfer *x, char *why,
			 size_t size)
{
	struct timeval tv = {SK_IDLE_MS / 1000, 0};
	SSL *ssl = SSL_new(sk.ctx);
	int r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (ssl == NULL) {
		snprintf(why, size, "SSL_new failed");
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
	if (x->tls13) {
		SSL_set_min_proto_version(ssl, TLS1_3_VERSION);
		SSL_set_ciphersuites(ssl, sk_suites13[x->cipher]);
	} else {
		SSL_set_max_proto_version(ssl, TLS1_2_VERSION);
		SSL_set_cipher_list(ssl, sk_ciphers12[x->cipher]);
	}
	sk_sess_offer(ssl, x);
	ERR_clear_error();
	r = SSL_connect(ssl);
	if (r != 1) {
		char e[128] = "";

		ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
		snprintf(why, size, "handshake failed: %s (ssl error %d, %s)",
			 e[0] ? e : "no OpenSSL error", SSL_get_error(ssl, r),
			 strerror(errno));
		SSL_free(ssl);
		return NULL;
	}
	if (SSL_session_reused(ssl))
		atomic_fetch_add(&sk.st.resumed, 1);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return ssl;
}

static void sk_io_why(struct sk_io *io, const char *fmt, ...)
{
	va_list ap;

	if (io->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(io->why, sizeof(io->why), fmt, ap);
	va_end(ap);
}

/* Received bytes: the response head (HTTP), then the body, checked. */
static void sk_io_take(struct sk_io *io, const unsigned char *p, size_t n)
{
	io->rx += n;
	if (io->x->kind == SK_DOWNLOAD || io->x->kind == SK_UPLOAD) {
		while (!io->rhead_done && n > 0) {
			char *end;

			if (io->rhead_len + 1 >= sizeof(io->rhead)) {
				sk_io_why(io, "response head too long");
				io->mismatch = true;
				return;
			}
			io->rhead[io->rhead_len++] = (char)*p++;
			n--;
			io->rhead[io->rhead_len] = '\0';
			end = strstr(io->rhead, "\r\n\r\n");
			if (end == NULL)
				continue;
			io->rhead_done = true;
			if (strncmp(io->rhead, "HTTP/1.1 200 ", 13) != 0) {
				sk_io_why(io, "backend answered %.40s",
					  io->rhead);
				io->mismatch = true;
				return;
			}
		}
		if (!io->rhead_done || n == 0)
			return;
	}
	if (io->x->kind == SK_UPLOAD) {
		size_t take = KST_MIN(n, sizeof(io->reply) - 1 - io->reply_len);

		memcpy(io->reply + io->reply_len, p, take);
		io->reply_len += take;
		io->reply[io->reply_len] = '\0';
		io->rx_body += n;
		return;
	}
	if (io->rx_body + n > io->want_body) {
		sk_io_why(io, "%llu bytes more than the %llu expected",
			  (unsigned long long)(io->rx_body + n - io->want_body),
			  (unsigned long long)io->want_body);
		io->mismatch = true;
		n = (size_t)(io->want_body - io->rx_body);
	}
	kst_pattern_fill(io->expect, n, io->rx_body, io->rx_seed);
	if (memcmp(io->expect, p, n) != 0) {
		size_t i = 0;

		while (i < n && io->expect[i] == p[i])
			i++;
		sk_io_why(io, "corrupted byte at offset %llu",
			  (unsigned long long)io->rx_body + i);
		io->mismatch = true;
	}
	io->rx_body += n;
}

static void sk_io_key_update(struct sk_io *io)
{
	io->ku_sent = true;
	if (SSL_key_update(io->ssl, io->x->ku_requested
					    ? SSL_KEY_UPDATE_REQUESTED
					    : SSL_KEY_UPDATE_NOT_REQUESTED) ==
	    1)
		atomic_fetch_add(&sk.st.key_updates, 1);
	else {
		sk_io_why(io, "SSL_key_update refused: %s",
			  ERR_reason_error_string(ERR_get_error()));
		io->err = true;
	}
}

/* One step of sending; true if something moved. */
static bool sk_io_send(struct sk_io *io)
{
	size_t n = 0;
	int r;

	if (io->chunk_len == 0) {
		if (io->head_off < io->head_len) {
			n = io->head_len - io->head_off;
			memcpy(io->chunk, io->head + io->head_off, n);
		} else if (io->body_off < io->body_len) {
			if (io->x->ku && !io->ku_sent &&
			    io->body_off >= io->x->ku_at)
				sk_io_key_update(
					io); /* goes out before these */
			n = (size_t)KST_MIN(io->body_len - io->body_off,
					    (uint64_t)SK_RECORD);
			kst_pattern_fill(io->chunk, n, io->body_off,
					 io->body_seed);
			if (io->md != NULL)
				EVP_DigestUpdate(io->md, io->chunk, n);
		}
		io->chunk_len = n;
	}
	if (io->chunk_len > 0) {
		ERR_clear_error();
		r = SSL_write_ex(io->ssl, io->chunk, io->chunk_len, &n);
		if (r != 1) {
			int e = SSL_get_error(io->ssl, r);

			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				return false;
			if (io->ku_sent && sk.ku_may_close) {
				io->wfail = true; /* the daemon may be gone */
				return false;
			}
			sk_io_why(io, "write failed (ssl error %d)", e);
			io->err = true;
			return false;
		}
		/* partial writes are off: the chunk went whole */
		if (io->head_off < io->head_len)
			io->head_off += n;
		else
			io->body_off += n;
		io->chunk_len = 0;
		atomic_fetch_add(&sk.st.bytes_up, n);
		return true;
	}
	if (io->shut_wanted && !io->shut_sent) {
		ERR_clear_error();
		r = SSL_shutdown(io->ssl);
		if (r >= 0) {
			io->shut_sent = true;
			return true;
		}
		r = SSL_get_error(io->ssl, r);
		if (r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE) {
			sk_io_why(io, "close_notify failed (ssl error %d)", r);
			io->err = true;
		}
	}
	return false;
}

static bool sk_io_recv(struct sk_io *io)
{
	size_t n = 0, cap = io->x->slow ? 1024 + (io->rx % 3000) : SK_BUF;
	int r, e;

	if (io->notify || io->eof || io->err)
		return false;
	ERR_clear_error();
	r = SSL_read_ex(io->ssl, io->rbuf, cap, &n);
	if (r == 1) {
		sk_io_take(io, io->rbuf, n);
		atomic_fetch_add(&sk.st.bytes_down, n);
		if (io->x->slow) {
			sk_sleep_ms(1);
			/* one stall, long enough to fill every buffer */
			if (io->rx > 0 && io->rx - n < 300000 &&
			    io->rx >= 300000)
				sk_sleep_ms(400);
		}
		return true;
	}
	e = SSL_get_error(io->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return false;
	if (e == SSL_ERROR_ZERO_RETURN) {
		io->notify = true;
	} else if (e == SSL_ERROR_SYSCALL && errno == 0) {
		io->eof = true;
	} else if (ERR_GET_REASON(ERR_peek_error()) ==
		   SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		io->eof = true;
	} else {
		char s[128] = "";

		ERR_error_string_n(ERR_peek_last_error(), s, sizeof(s));
		sk_io_why(io, "read failed (ssl error %d, %s%s%s)", e,
			  strerror(errno), s[0] ? ", " : "", s);
		io->err = true;
	}
	return true;
}

static bool sk_io_sent_all(const struct sk_io *io)
{
	return io->wfail ||
	       (io->head_off == io->head_len && io->body_off == io->body_len &&
		io->chunk_len == 0);
}

/* The pump: both directions until the answer ends, a deliberate reset,
 * an error, or SK_IDLE_MS without progress. */
static void sk_io_run(struct sk_io *io)
{
	uint64_t idle_since = sk_now_ms();

	for (;;) {
		bool moved = false;
		short ev = POLLIN;
		struct pollfd p;

		if (!sk_io_sent_all(io) ||
		    (io->shut_wanted && !io->shut_sent && !io->wfail))
			moved |= sk_io_send(io);
		if (io->x->kind == SK_ECHO && !io->x->half_close &&
		    io->rx_body == io->want_body && sk_io_sent_all(io))
			io->shut_wanted = true; /* all back: now say goodbye */
		moved |= sk_io_recv(io);
		if (io->x->reset_at != 0 &&
		    io->body_off + io->rx >= io->x->reset_at) {
			io->reset_done = true;
			return;
		}
		if (io->err || io->mismatch)
			return;
		if (io->notify || io->eof) {
			/* the answer is over; whatever was unsent stays so */
			return;
		}
		if (moved) {
			idle_since = sk_now_ms();
			continue;
		}
		if (sk_now_ms() - idle_since > SK_IDLE_MS) {
			sk_io_why(io,
				  "no progress for %d s (sent %llu of "
				  "%llu, received %llu)",
				  SK_IDLE_MS / 1000,
				  (unsigned long long)io->body_off,
				  (unsigned long long)io->body_len,
				  (unsigned long long)io->rx);
			io->err = true;
			return;
		}
		if (!sk_io_sent_all(io) ||
		    (io->shut_wanted && !io->shut_sent && !io->wfail))
			ev |= POLLOUT;
		p = (struct pollfd){io->fd, ev, 0};
		poll(&p, 1, 100);
	}
}

static void sk_io_prepare(struct sk_io *io, const struct sk_xfer *x)
{
	io->x = x;
	switch (x->kind) {
	case SK_ECHO:
		io->body_len = x->size;
		io->body_seed = x->seed;
		io->want_body = x->size;
		io->rx_seed = x->seed;
		io->shut_wanted = x->half_close;
		break;
	case SK_DOWNLOAD:
		io->head_len = (size_t)snprintf(
			io->head, sizeof(io->head),
			"GET /bytes/%llu HTTP/1.1\r\nHost: soak\r\n"
			"Connection: close\r\n\r\n",
			(unsigned long long)x->size);
		io->want_body = x->size;
		io->rx_seed = 0; /* kst-backend's default stream */
		io->shut_wanted = x->half_close;
		break;
	case SK_UPLOAD:
		io->head_len = (size_t)snprintf(
			io->head, sizeof(io->head),
			"POST /soak HTTP/1.1\r\nHost: soak\r\n"
			"Content-Length: %llu\r\nConnection: close\r\n\r\n",
			(unsigned long long)x->size);
		io->body_len = x->size;
		io->body_seed = x->seed;
		io->md = EVP_MD_CTX_new();
		if (io->md != NULL)
			EVP_DigestInit_ex(io->md, EVP_sha256(), NULL);
		io->shut_wanted = x->half_close;
		break;
	case SK_RST:
		/* our backend: "<down> <up>\n", then up bytes of ours */
		io->head_len = (size_t)snprintf(io->head, sizeof(io->head),
						"%llu %llu\n",
						(unsigned long long)x->size,
						(unsigned long long)x->rst_up);
		io->body_len = x->size;
		io->body_seed = x->seed;
		io->want_body = x->size;
		io->rx_seed = SK_RST_SEED;
		break;
	default:
		break;
	}
}

static bool sk_io_ku_verdict(struct sk_io *io);
static bool sk_io_answer_ok(struct sk_io *io);

/* Verdict of one transfer that ran to its end; true if it passed. */
static bool sk_io_verdict(struct sk_io *io)
{
	const struct sk_xfer *x = io->x;

	if (io->mismatch)
		return false;
	if (io->reset_done) {
		atomic_fetch_add(&sk.st.client_resets, 1);
		return true;
	}
	if (x->kind == SK_RST) {
		/* the backend reset: a prefix, no more, is all we may ask */
		atomic_fetch_add(&sk.st.backend_resets, 1);
		return true;
	}
	if (io->err)
		return false;
	if (io->ku_sent)
		return sk_io_ku_verdict(io);
	if (!io->notify)
		atomic_fetch_add(&sk.st.no_notify, 1);
	return sk_io_answer_ok(io);
}

/* After our KeyUpdate: all of it, or (where the kernel cannot rekey) an
 * exact prefix ended by the daemon's close_notify. */
static bool sk_io_ku_verdict(struct sk_io *io)
{
	const struct sk_xfer *x = io->x;
	bool cut = x->kind == SK_UPLOAD ? !io->rhead_done
					: io->rx_body != io->want_body;

	if (!cut && !io->wfail) {
		atomic_fetch_add(&sk.st.ku_exact, 1);
		return sk_io_answer_ok(io);
	}
	if (!sk.ku_may_close) {
		sk_io_why(io,
			  "ended early after a KeyUpdate (update %srequested): "
			  "%llu of %llu bytes back, %s, though this kernel "
			  "rekeys or has no kTLS",
			  x->ku_requested ? "" : "not ",
			  (unsigned long long)io->rx_body,
			  (unsigned long long)io->want_body,
			  io->wfail ? "a write failed" : "the answer cut");
		return false;
	}
	if (!io->notify) {
		sk_io_why(io, "a KeyUpdate close without close_notify (%s)",
			  io->eof ? "EOF" : "no end seen");
		return false;
	}
	atomic_fetch_add(&sk.st.ku_closes, 1);
	return true;
}

/* The answer of a transfer that ended: complete and exact. */
static bool sk_io_answer_ok(struct sk_io *io)
{
	const struct sk_xfer *x = io->x;

	if (x->kind == SK_UPLOAD) {
		unsigned char md[32];
		char hex[65], want[100];

		if (!EVP_DigestFinal_ex(io->md, md, NULL))
			return false;
		kst_hex(hex, md, sizeof(md));
		snprintf(want, sizeof(want), "%llu %s\n",
			 (unsigned long long)x->size, hex);
		if (!io->rhead_done || strcmp(io->reply, want) != 0) {
			sk_io_why(io,
				  "backend got \"%.80s\", want %llu bytes "
				  "%.16s...",
				  io->reply, (unsigned long long)x->size, hex);
			return false;
		}
		return true;
	}
	if (io->rx_body != io->want_body ||
	    (x->kind == SK_DOWNLOAD && !io->rhead_done)) {
		sk_io_why(io, "%llu of %llu bytes arrived before the %s",
			  (unsigned long long)io->rx_body,
			  (unsigned long long)io->want_body,
			  io->notify ? "close_notify" : "EOF");
		return false;
	}
	return true;
}

static int sk_port_of(enum sk_kind k)
{
	return k == SK_ECHO  ? sk.port_echo
	       : k == SK_RST ? sk.port_rst
			     : sk.port_http;
}

static bool sk_transfer(const struct sk_xfer *x, unsigned char *bufs)
{
	struct sk_io io = {0};
	bool ok;
	int fd;

	io.rbuf = bufs;
	io.expect = bufs + SK_BUF;
	io.chunk = bufs + 2 * SK_BUF;
	sk_io_prepare(&io, x);
	fd = sk_connect(sk_port_of(x->kind));
	if (fd < 0) {
		sk_fail(x, "connect: %s", strerror(-fd));
		EVP_MD_CTX_free(io.md);
		return false;
	}
	io.fd = fd;
	io.ssl = sk_handshake(fd, x, io.why, sizeof(io.why));
	if (io.ssl == NULL) {
		sk_fail(x, "%s", io.why);
		close(fd);
		EVP_MD_CTX_free(io.md);
		return false;
	}
	sk_io_run(&io);
	ok = sk_io_verdict(&io);
	if (!ok)
		sk_fail(x, "%s", io.why[0] ? io.why : "failed");
	if (io.reset_done || x->kind == SK_RST || !ok) {
		sk_rst_close(fd);
	} else {
		if (!io.shut_sent)
			SSL_shutdown(io.ssl); /* best effort */
		close(fd);
	}
	SSL_free(io.ssl);
	EVP_MD_CTX_free(io.md);
	return ok;
}

/* Short connections, one after another. */
static bool sk_burst(const struct sk_xfer *x)
{
	struct sk_rng r = {x->seed};
	bool ok = true;

	for (unsigned int i = 0; i < x->burst; i++) {
		static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02,
						      0x00, 0x01, 0x00, 0x01};
		struct sk_xfer one = *x;
		int port = sk_port_of((enum sk_kind)sk_below(&r, 4));
		unsigned int how = (unsigned int)sk_below(&r, 10);
		char why[160];
		SSL *ssl;
		int fd = sk_connect(port);

		atomic_fetch_add(&sk.st.burst_conns, 1);
		if (fd < 0) {
			sk_fail(x, "burst connection %u: connect: %s", i,
				strerror(-fd));
			ok = false;
			break;
		}
		if (how == 0) { /* TCP only */
			close(fd);
			continue;
		}
		if (how == 1) { /* half a ClientHello, then gone */
			if (write(fd, hello, sizeof(hello)) < 0) {
				/* the daemon may have closed it: fine */
			}
			sk_rst_close(fd);
			continue;
		}
		one.tls13 = sk_chance(&r, 50);
		one.cipher = (int)sk_below(&r, 3);
		ssl = sk_handshake(fd, &one, why, sizeof(why));
		if (ssl == NULL) {
			sk_fail(x, "burst connection %u: %s", i, why);
			ok = false;
			close(fd);
			break;
		}
		if (how < 5)
			sk_rst_close(fd);
		else {
			SSL_shutdown(ssl);
			close(fd);
		}
		SSL_free(ssl);
	}
	return ok;
}

/* Warm-up: 300 kB each way on every listener, TLS 1.2 (kTLS both ways
 * where the kernel has it: the splice path and its pipes). */
static void *sk_warm(void *arg)
{
	unsigned char *bufs = malloc(3 * SK_BUF);

	(void)arg;
	for (int k = 0; bufs != NULL && k < 4; k++) {
		struct sk_xfer x = {.index = UINT64_MAX - 1,
				    .seed = 5,
				    .kind = (enum sk_kind)k,
				    .size = 300000,
				    .rst_up = 1000};

		atomic_fetch_add(&sk.st.transfers, 1);
		atomic_fetch_add(&sk.st.by_kind[x.kind], 1);
		atomic_fetch_add(&sk.st.hist[sk_hist_bucket(x.size)], 1);
		if (x.kind == SK_RST)
			atomic_fetch_add(&sk.st.backend_resets, 1);
		atomic_fetch_add(sk_transfer(&x, bufs) ? &sk.st.passed
						       : &sk.st.failed,
				 1);
	}
	free(bufs);
	return NULL;
}

static void *sk_worker(void *arg)
{
	unsigned char *bufs = malloc(3 * SK_BUF);

	(void)arg;
	if (bufs == NULL)
		return NULL;
	while (!atomic_load(&sk.stop) && sk_now_ms() < sk.deadline_ms &&
	       !atomic_load(&sk.daemon_dead)) {
		struct sk_xfer x;
		bool ok;

		sk_plan(atomic_fetch_add(&sk.next_index, 1), &x);
		ok = x.kind == SK_BURST ? sk_burst(&x) : sk_transfer(&x, bufs);
		if (!ok && !sk_check_alive())
			break; /* the daemon's death is the one failure */
		atomic_fetch_add(&sk.st.transfers, 1);
		atomic_fetch_add(&sk.st.by_kind[x.kind], 1);
		if (x.kind != SK_BURST)
			atomic_fetch_add(&sk.st.hist[sk_hist_bucket(x.size)],
					 1);
		if (x.half_close)
			atomic_fetch_add(&sk.st.half_closes, 1);
		if (x.slow)
			atomic_fetch_add(&sk.st.slow_reads, 1);
		atomic_fetch_add(ok ? &sk.st.passed : &sk.st.failed, 1);
	}
	free(bufs);
	return NULL;
}

/* ---------------------------------------------- the resetting backend */

static void *sk_rst_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct timeval tv = {20, 0};
	unsigned char *buf = malloc(SK_BUF);
	char line[64];
	size_t len = 0;
	unsigned long long down = 0, up = 0, off = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (buf == NULL)
		goto out;
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, 1);

		if (n <= 0)
			goto out;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	if (sscanf(line, "%llu %llu", &down, &up) != 2)
		goto out;
	while (off < down) {
		size_t n = (size_t)KST_MIN(down - off, (uint64_t)SK_BUF);
		ssize_t w;

		kst_pattern_fill(buf, n, off, SK_RST_SEED);
		w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			goto out;
		off += (uint64_t)w;
	}
	for (off = 0; off < up;) {
		ssize_t n = read(fd, buf,
				 (size_t)KST_MIN(up - off, (uint64_t)SK_BUF));

		if (n <= 0)
			break;
		off += (uint64_t)n;
	}
out:
	sk_rst_close(fd);
	free(buf);
	return NULL;
}

static void *sk_rst_backend(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		pthread_attr_t a;
		int fd = accept4(sk.rst_lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (atomic_load(&sk.stop))
				return NULL;
			sk_sleep_ms(10);
			continue;
		}
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&t, &a, sk_rst_conn, (void *)(intptr_t)fd))
			sk_rst_close(fd);
		pthread_attr_destroy(&a);
	}
}

static int sk_listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 256) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* ------------------------------------------------------------- peers */

static void sk_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", sk.o.dir, name);
}

/* The port on the tool's "ready ..." line (its last number). */
static int sk_wait_ready(pid_t pid, const char *log, int ms)
{
	uint64_t end = sk_now_ms() + (uint64_t)ms;

	do {
		char *text = kst_h_read(log), *p;
		int port = -1;

		if (text != NULL && (p = strstr(text, "ready ")) != NULL) {
			char *colon = strchr(p, '\n');

			if (colon != NULL) {
				*colon = '\0';
				colon = strrchr(p, ':');
				port = atoi(colon ? colon + 1 : p + 6);
			}
		}
		free(text);
		if (port > 0)
			return port;
		if (!kst_h_alive(pid))
			return -1;
		sk_sleep_ms(20);
	} while (sk_now_ms() < end);
	return -1;
}

static pid_t sk_start_ocspd(int port)
{
	char listen[64], idx[512], ca[512], key[512], log[512];
	char *argv[] = {NULL,	   "-l",	  listen,
			"--index", idx,		  "--ca",
			ca,	   "--rsigner",	  ca,
			"--rkey",  key,		  "--nmin",
			"1",	   "--mode-file", sk.ocspd_mode,
			"--log",   sk.ocspd_log,  NULL};
	char tool[512];
	pid_t pid;

	snprintf(tool, sizeof(tool), "%s/kst-ocspd", sk.o.tools);
	argv[0] = tool;
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(idx, sizeof(idx), "%s/index.txt", sk.o.pki);
	snprintf(ca, sizeof(ca), "%s/int.crt", sk.o.pki);
	snprintf(key, sizeof(key), "%s/int.key", sk.o.pki);
	sk_path(log, sizeof(log), "ocspd.out");
	unlink(log);
	pid = kst_h_spawn(argv, log);
	if (pid < 0)
		return -1;
	sk.ocspd_port = sk_wait_ready(pid, log, 10000);
	if (sk.ocspd_port < 0) {
		kst_h_stop(pid, SIGKILL, 2000);
		return -1;
	}
	return pid;
}

static pid_t sk_start_backend(const char *mode, int *port)
{
	char tool[512], log[512];
	char *argv[] = {tool, "-m", (char *)mode, "-l", "127.0.0.1:0", NULL};
	pid_t pid;

	snprintf(tool, sizeof(tool), "%s/kst-backend", sk.o.tools);
	snprintf(log, sizeof(log), "%s/backend-%s.out", sk.o.dir, mode);
	pid = kst_h_spawn(argv, log);
	if (pid < 0)
		return -1;
	*port = sk_wait_ready(pid, log, 10000);
	return *port > 0 ? pid : -1;
}

static void sk_set_mode(const char *mode)
{
	char tmp[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", sk.ocspd_mode);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "%s\n", mode);
	fclose(f);
	rename(tmp, sk.ocspd_mode);
}

/* A fresh valid response for the RSA leaf, newer than the last. */
static int sk_swap_staple(void)
{
	unsigned char *der = NULL;
	size_t len = 0;
	time_t now = time(NULL);
	int r;

	sk.swap_serial++;
	r = kst_mint_simple("localhost-rsa", V_OCSP_CERTSTATUS_GOOD,
			    now - 3600 + (time_t)sk.swap_serial,
			    now + 3 * 86400, "ocsp-signer", &der, &len);
	if (r == 0)
		r = kst_mint_write(sk.staple, der, len);
	OPENSSL_free(der);
	return r;
}

/* The configuration, written atomically (the daemon may read it at any
 * SIGHUP). Each reload swaps the EC cert for the other leaf, a renewal
 * the daemon fetches a staple for at once, responder flaps or not. */
static int sk_write_conf(void)
{
	char state[512], tmp[600];
	FILE *f;

	sk_path(state, sizeof(state), "state");
	mkdir(state, 0700);
	snprintf(tmp, sizeof(tmp), "%s.tmp", sk.conf);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -errno;
	fprintf(f,
		"# kst-soak, seed %llu\n"
		"[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		"log-level = info\nworkers = %d\ndrain-timeout = 2s\n"
		"handshake-timeout = 20s\nticket-keys = %s\n"
		"ticket-lifetime = 1h\n"
		"[ocsp]\nrefresh-at = 10\nrefresh-margin = 0s\n"
		"retry-min = 1s\nretry-max = 3s\nconnect-timeout = 1s\n"
		"response-timeout = 3s\nstartup-wait = 5s\n"
		"[listener:echo]\nbind = 127.0.0.1:%d\nbackend = "
		"127.0.0.1:%d\ncert = ec\ncert = rsa\n"
		"[listener:http]\nbind = 127.0.0.1:%d\nbackend = "
		"127.0.0.1:%d\ncert = rsa\ncert = ec\n"
		"[listener:rst]\nbind = 127.0.0.1:%d\nbackend = "
		"127.0.0.1:%d\ncert = ec\n"
		"[cert:ec]\npem = %s\nocsp-url = http://127.0.0.1:%d/\n"
		"[cert:rsa]\npem = %s\nstaple-file = %s\nfetch = off\n",
		(unsigned long long)sk.o.seed, state, SK_WORKERS, sk.tkeys,
		sk.port_echo, sk.be_echo_port, sk.port_http, sk.be_http_port,
		sk.port_rst, sk.rst_port,
		sk.conf_gen % 2 ? sk.other_pem : sk.ec_pem, sk.ocspd_port,
		sk.rsa_pem, sk.staple);
	if (fclose(f) != 0 || rename(tmp, sk.conf) < 0)
		return -errno;
	return 0;
}

/*
 * The daemon's fds, its pipes apart (*pipes): workers keep up to
 * KST_WORKER_PIPES_POOLED idle splice pipes each (daemon/datapath/worker.h), so
 * pipes are held to that bound and everything else to the baseline.
 */
static int sk_count_fds(pid_t pid, int *pipes)
{
	char path[64], target[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	*pipes = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), e->d_name, target,
				 sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		if (strncmp(target, "pipe:", 5) == 0)
			(*pipes)++;
		else
			n++;
	}
	closedir(d);
	return n;
}

/* The daemon's fds counted by kind (socket, pipe, ...); malloc'd. */
static char *sk_fd_kinds(pid_t pid)
{
	char cmd[300], *out = NULL;

	snprintf(cmd, sizeof(cmd),
		 "ls -l /proc/%d/fd | sed -n '2,999p' | awk '{print $NF}' | "
		 "sed 's/[0-9]*]$//' | sort | uniq -c",
		 (int)pid);
	kst_h_sh(cmd, &out, 5000);
	return out;
}

static int sk_start_daemon(void)
{
	char *argv[] = {(char *)sk.o.kstapled, "-c", sk.conf, NULL};
	uint64_t end;

	sk.daemon = kst_h_spawn(argv, sk.log);
	if (sk.daemon < 0)
		return -1;
	end = sk_now_ms() + 60000;
	while (sk_now_ms() < end) {
		if (kst_h_count(sk.log, "started: ") > 0)
			return 0;
		if (!sk_alive(sk.daemon))
			return -1;
		sk_sleep_ms(50);
	}
	return -1;
}

/* -------------------------------------------------------------- chaos */

/* Running (a dead one is not reaped here: its status is for the end). */
static bool sk_alive(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
		       0 &&
	       si.si_pid == 0;
}

static bool sk_check_alive(void)
{
	if (sk_alive(sk.daemon))
		return true;
	if (!atomic_exchange(&sk.daemon_dead, true))
		sk_fail(NULL, "the daemon died (see %s)", sk.log);
	return false;
}

static void sk_reload(bool pair)
{
	int before = kst_h_count(sk.log, "reloaded: ") +
		     kst_h_count(sk.log, "reload failed");
	int want = before + 1;
	uint64_t end;

	sk.conf_gen++;
	if (sk_write_conf() < 0)
		sk_fail(NULL, "cannot rewrite %s", sk.conf);

	kill(sk.daemon, SIGHUP);
	atomic_fetch_add(&sk.st.reloads, 1);
	if (pair) {
		sk_sleep_ms(5);
		kill(sk.daemon, SIGHUP);
		atomic_fetch_add(&sk.st.reloads, 1);
		atomic_fetch_add(&sk.st.reload_pairs, 1);
	}
	end = sk_now_ms() + 30000;
	while (sk_now_ms() < end && sk_check_alive()) {
		int now = kst_h_count(sk.log, "reloaded: ") +
			  kst_h_count(sk.log, "reload failed");

		if (now >= want)
			return;
		sk_sleep_ms(20);
	}
	if (sk_check_alive())
		sk_fail(NULL, "a reload did not finish within 30 s");
}

static void sk_flap(struct sk_rng *r)
{
	static const char *const modes[] = {"http500",	"close",      "garbage",
					    "trylater", "delay:2500", "hang"};

	atomic_fetch_add(&sk.st.flaps, 1);
	if (sk_chance(r, 30)) {
		int port = sk.ocspd_port;

		atomic_fetch_add(&sk.st.flap_kills, 1);
		kst_h_stop(sk.ocspd, SIGKILL, 5000);
		sk.ocspd = -1;
		sk_sleep_ms(200 + (unsigned int)sk_below(r, 2000));
		for (int i = 0; i < 20 && sk.ocspd < 0; i++) {
			sk.ocspd = sk_start_ocspd(port);
			if (sk.ocspd < 0)
				sk_sleep_ms(250);
		}
		if (sk.ocspd < 0)
			sk_fail(NULL, "kst-ocspd did not restart on port %d",
				port);
		return;
	}
	sk_set_mode(modes[sk_below(r, KST_ARRAY_SIZE(modes))]);
	sk_sleep_ms(500 + (unsigned int)sk_below(r, 2500));
	sk_set_mode("ok");
}

/* A new ticket key on top of the file, the oldest of three dropped:
 * the rotation a fleet does (the file is replaced by a rename). */
static int sk_rotate_tickets(void)
{
	unsigned char raw[80];
	char tmp[600], text[400];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memmove(sk.tkey_lines[1], sk.tkey_lines[0],
		2 * sizeof(sk.tkey_lines[0]));
	EVP_EncodeBlock((unsigned char *)sk.tkey_lines[0], raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	snprintf(text, sizeof(text), "%s\n%s%s%s%s", sk.tkey_lines[0],
		 sk.tkey_lines[1], sk.tkey_lines[1][0] ? "\n" : "",
		 sk.tkey_lines[2], sk.tkey_lines[2][0] ? "\n" : "");
	snprintf(tmp, sizeof(tmp), "%s.tmp", sk.tkeys);
	if (kst_h_write(tmp, text, 0600) < 0 || rename(tmp, sk.tkeys) < 0)
		return -1;
	return 0;
}

/* Whether --chaos lets this kind of event happen. */
static bool sk_chaos_on(const char *what)
{
	const char *c = sk.o.chaos, *p;
	size_t n = strlen(what);

	if (strcmp(c, "all") == 0)
		return true;
	for (p = strstr(c, what); p != NULL; p = strstr(p + 1, what))
		if ((p == c || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

static void *sk_chaos(void *arg)
{
	struct sk_rng r = {sk_mix(sk.o.seed ^ 0xc4a05ull)};

	(void)arg;
	while (!atomic_load(&sk.stop) && sk_now_ms() < sk.deadline_ms &&
	       sk_check_alive()) {
		unsigned int what = (unsigned int)sk_below(&r, 100);

		sk_sleep_ms(200 + (unsigned int)sk_below(&r, 1500));
		if (!sk_chaos_on(what < 50   ? "reload"
				 : what < 70 ? "swap"
				 : what < 85 ? "flap"
					     : "rotate"))
			continue;
		if (what >= 85) {
			if (sk_rotate_tickets() == 0)
				atomic_fetch_add(&sk.st.rotations, 1);
			else
				sk_fail(NULL,
					"could not rotate the ticket keys");
		} else if (what < 50) {
			sk_reload(sk_chance(&r, 25));
		} else if (what < 70) {
			if (sk_swap_staple() == 0)
				atomic_fetch_add(&sk.st.swaps, 1);
			else
				sk_fail(NULL, "could not write a staple");
		} else {
			sk_flap(&r);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------- checks */

static const char *const sk_san_marks[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
	"SUMMARY: UndefinedBehaviorSanitizer",
	"WARNING: AddressSanitizer",
	"ERROR: ThreadSanitizer"};

static int sk_san_reports(void)
{
	int n = 0;

	for (size_t i = 0; i < KST_ARRAY_SIZE(sk_san_marks); i++)
		n += kst_h_count(sk.log, sk_san_marks[i]);
	return n;
}

/* A plain 1 KiB echo: the daemon still answers. */
static bool sk_probe(unsigned char *bufs)
{
	struct sk_xfer x = {.index = UINT64_MAX,
			    .seed = 77,
			    .kind = SK_ECHO,
			    .size = 1024,
			    .tls13 = true};

	return sk_transfer(&x, bufs);
}

static int sk_setup(void)
{
	char staple_src[512];

	sk_path(sk.conf, sizeof(sk.conf), "kstapled.conf");
	sk_path(sk.log, sizeof(sk.log), "kstapled.log");
	sk_path(sk.ocspd_mode, sizeof(sk.ocspd_mode), "ocspd.mode");
	sk_path(sk.ocspd_log, sizeof(sk.ocspd_log), "ocspd.requests");
	sk_path(sk.ec_pem, sizeof(sk.ec_pem), "localhost-ecdsa.pem");
	sk_path(sk.rsa_pem, sizeof(sk.rsa_pem), "localhost-rsa.pem");
	sk_path(sk.staple, sizeof(sk.staple), "localhost-rsa.ocsp");
	snprintf(staple_src, sizeof(staple_src), "%s/localhost-ecdsa.pem",
		 sk.o.pki);
	if (kst_h_copy(staple_src, sk.ec_pem, 0600) < 0)
		return -1;
	snprintf(staple_src, sizeof(staple_src), "%s/localhost-rsa.pem",
		 sk.o.pki);
	if (kst_h_copy(staple_src, sk.rsa_pem, 0600) < 0)
		return -1;
	sk_path(sk.other_pem, sizeof(sk.other_pem), "other-ecdsa.pem");
	snprintf(staple_src, sizeof(staple_src), "%s/other-ecdsa.pem",
		 sk.o.pki);
	if (kst_h_copy(staple_src, sk.other_pem, 0600) < 0)
		return -1;
	sk_path(sk.tkeys, sizeof(sk.tkeys), "tickets.keys");
	if (sk_rotate_tickets() < 0 || sk_rotate_tickets() < 0) {
		fprintf(stderr, "soak: cannot write %s\n", sk.tkeys);
		return -1;
	}
	sk_set_mode("ok");
	if (sk_swap_staple() < 0) {
		fprintf(stderr, "soak: cannot mint a staple from %s\n",
			sk.o.pki);
		return -1;
	}
	sk.ocspd = sk_start_ocspd(0);
	if (sk.ocspd < 0) {
		fprintf(stderr, "soak: kst-ocspd did not start\n");
		return -1;
	}
	sk.be_echo = sk_start_backend("echo", &sk.be_echo_port);
	sk.be_http = sk_start_backend("http", &sk.be_http_port);
	if (sk.be_echo < 0 || sk.be_http < 0) {
		fprintf(stderr, "soak: kst-backend did not start\n");
		return -1;
	}
	sk.rst_lfd = sk_listen_any(&sk.rst_port);
	sk.port_echo = kst_h_free_port();
	sk.port_http = kst_h_free_port();
	sk.port_rst = kst_h_free_port();
	while (sk.port_http == sk.port_echo)
		sk.port_http = kst_h_free_port();
	while (sk.port_rst == sk.port_echo || sk.port_rst == sk.port_http)
		sk.port_rst = kst_h_free_port();
	if (sk.rst_lfd < 0 || sk.port_echo <= 0 || sk.port_http <= 0 ||
	    sk.port_rst <= 0 || sk_write_conf() < 0)
		return -1;
	if (sk_start_daemon() < 0) {
		char *log = kst_h_read(sk.log);

		fprintf(stderr, "soak: kstapled did not start:\n%s\n",
			log ? log : "");
		free(log);
		return -1;
	}
	return 0;
}

static SSL_CTX *sk_ctx(void)
{
	char ca[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	snprintf(ca, sizeof(ca), "%s/root.crt", sk.o.pki);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_tlsext_status_cb(ctx, sk_status_cb);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(
		ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, sk_sess_new);
	sk_sess_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return ctx;
}

static void sk_usage(FILE *f)
{
	fprintf(f,
		"usage: kst-soak --kstapled PATH --pki DIR --dir DIR "
		"[--tools DIR]\n"
		"                [--seconds N] [--seed S] [--threads N] "
		"[--max-size SIZE]\n"
		"                [--chaos all|none|reload,swap,flap,rotate]\n"
		"  --kstapled  the daemon to soak (a SAN=1 build)\n"
		"  --tools     where kst-backend and kst-ocspd are "
		"($KST_BUILD/tools)\n"
		"  --pki       the test PKI ($KST_TEST_PKI)\n"
		"  --dir       an empty work directory (logs stay there)\n"
		"  --seconds   traffic time (default $SOAK_SECONDS, else 90)\n"
		"  --seed      the run's seed (default $SOAK_SEED, else the "
		"clock)\n"
		"  --threads   concurrent clients (default 6)\n"
		"  --max-size  largest transfer (default 16M)\n"
		"  --chaos     what happens beside the traffic: reloads, "
		"staple swaps,\n"
		"              responder flaps, ticket-key rotations "
		"(default all)\n");
}

static int sk_options(int argc, char **argv)
{
	static const struct option opts[] = {
		{"kstapled", required_argument, NULL, 'k'},
		{"tools", required_argument, NULL, 't'},
		{"pki", required_argument, NULL, 'p'},
		{"dir", required_argument, NULL, 'd'},
		{"seconds", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"threads", required_argument, NULL, 'j'},
		{"max-size", required_argument, NULL, 'm'},
		{"chaos", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *env;
	int c;

	sk.o.seconds =
		(env = getenv("SOAK_SECONDS")) ? (unsigned)atoi(env) : 90;
	sk.o.seed = (env = getenv("SOAK_SEED")) ? strtoull(env, NULL, 0) : 0;
	sk.o.threads = 6;
	sk.o.max_size = 16ull * 1024 * 1024;
	sk.o.chaos = "all";
	sk.o.tools = getenv("KST_BUILD") ? NULL : ".";
	sk.o.pki = getenv("KST_TEST_PKI");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			sk.o.kstapled = optarg;
			break;
		case 't':
			sk.o.tools = optarg;
			break;
		case 'p':
			sk.o.pki = optarg;
			break;
		case 'd':
			sk.o.dir = optarg;
			break;
		case 's':
			sk.o.seconds = (unsigned int)atoi(optarg);
			break;
		case 'S':
			sk.o.seed = strtoull(optarg, NULL, 0);
			break;
		case 'j':
			sk.o.threads = (unsigned int)atoi(optarg);
			break;
		case 'm':
			if (kst_toolutil_parse_size(optarg, &sk.o.max_size) < 0)
				return 2;
			break;
		case 'c':
			sk.o.chaos = optarg;
			break;
		case 'h':
			sk_usage(stdout);
			exit(0);
		default:
			return 2;
		}
	}
	if (sk.o.tools == NULL) {
		static char t[512];

		snprintf(t, sizeof(t), "%s/tools", getenv("KST_BUILD"));
		sk.o.tools = t;
	}
	if (sk.o.kstapled == NULL || sk.o.pki == NULL || sk.o.dir == NULL ||
	    sk.o.threads == 0 || sk.o.threads > 64 || optind != argc)
		return 2;
	if (sk.o.seed == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		sk.o.seed = sk_mix((uint64_t)ts.tv_sec * 1000000007ull ^
				   (uint64_t)ts.tv_nsec ^ (uint64_t)getpid()) %
				    1000000000ull +
			    1;
	}
	return 0;
}

static void sk_report(int baseline, int after, int pipes, int san, bool alive,
		      int exit_status, unsigned int checks_failed)
{
	struct sk_stats *s = &sk.st;
	unsigned long long passed = s->passed, failed = s->failed;
	/* fds, answering, exit, sanitizers, resumption */
	unsigned int checks = 5;

	printf("soak: seed %llu (rerun: SOAK_SEED=%llu), %llu s of traffic, "
	       "%u clients\n",
	       (unsigned long long)sk.o.seed, (unsigned long long)sk.o.seed,
	       (unsigned long long)((sk_now_ms() - sk.t0_ms) / 1000),
	       sk.o.threads);
	printf("soak: transfers %llu (echo %llu, download %llu, upload %llu, "
	       "backend-reset %llu, bursts %llu of %llu short connections)\n",
	       (unsigned long long)s->transfers,
	       (unsigned long long)s->by_kind[SK_ECHO],
	       (unsigned long long)s->by_kind[SK_DOWNLOAD],
	       (unsigned long long)s->by_kind[SK_UPLOAD],
	       (unsigned long long)s->by_kind[SK_RST],
	       (unsigned long long)s->by_kind[SK_BURST],
	       (unsigned long long)s->burst_conns);
	printf("soak: bytes up %llu, down %llu (%.1f MiB in all)\n",
	       (unsigned long long)s->bytes_up,
	       (unsigned long long)s->bytes_down,
	       (double)(s->bytes_up + s->bytes_down) / (1024.0 * 1024.0));
	printf("soak: sizes:");
	for (unsigned int i = 0; i < SK_HIST; i++)
		printf(" [%s] %llu", sk_hist_names[i],
		       (unsigned long long)s->hist[i]);
	printf("\n");
	printf("soak: half-closes %llu, slow readers %llu, client resets "
	       "%llu, backend resets %llu, answers without close_notify "
	       "%llu, staples seen %llu\n",
	       (unsigned long long)s->half_closes,
	       (unsigned long long)s->slow_reads,
	       (unsigned long long)s->client_resets,
	       (unsigned long long)s->backend_resets,
	       (unsigned long long)s->no_notify,
	       (unsigned long long)s->staples_seen);
	printf("soak: reloads %llu (%llu back to back), staple swaps %llu, "
	       "responder flaps %llu (%llu kills)\n",
	       (unsigned long long)s->reloads,
	       (unsigned long long)s->reload_pairs,
	       (unsigned long long)s->swaps, (unsigned long long)s->flaps,
	       (unsigned long long)s->flap_kills);
	printf("soak: ticket-key rotations %llu, resumptions %llu of %llu "
	       "tickets offered\n",
	       (unsigned long long)s->rotations, (unsigned long long)s->resumed,
	       (unsigned long long)s->resume_offers);
	printf("soak: KeyUpdates sent %llu: %llu transfers exact, %llu "
	       "closed cleanly (%s)\n",
	       (unsigned long long)s->key_updates,
	       (unsigned long long)s->ku_exact,
	       (unsigned long long)s->ku_closes,
	       sk.ku_may_close ? "a kTLS kernel that cannot rekey: may close"
			       : "no close allowed here");
	printf("soak: daemon: %d sanitizer reports, fds %d at baseline, %d "
	       "after the load (pipes apart; %d pooled pipe fds), %s, exit %d "
	       "on SIGTERM (log: %s)\n",
	       san, baseline, after, pipes,
	       alive ? "answering" : "NOT answering", exit_status, sk.log);
	printf("%llu passed, %llu failed\n", passed + checks - checks_failed,
	       failed + checks_failed);
}

/* kTLS here, and a kernel whose tls_stat has no rekey counter (it came
 * with rekeying, 6.14): the daemon closes on a client's KeyUpdate. */
static bool sk_ktls_cannot_rekey(void)
{
	FILE *f = fopen("/proc/net/tls_stat", "re");
	char line[128];
	bool rekey = false;

	if (f == NULL)
		return false; /* no kTLS: the userspace relay rekeys */
	while (fgets(line, sizeof(line), f) != NULL)
		rekey |= strncmp(line, "TlsRxRekeyOk", 12) == 0;
	fclose(f);
	return !rekey;
}

int main(int argc, char **argv)
{
	pthread_t workers[64], chaos, rst;
	unsigned char *bufs;
	int baseline, after = -1, san, status;
	unsigned int checks_failed = 0;
	char *base_kinds;
	int pipes = 0, pipes_max = 2 * SK_WORKERS * SK_PIPES_POOLED;
	bool alive;
	uint64_t end;

	signal(SIGPIPE, SIG_IGN);
	if (sk_options(argc, argv) != 0) {
		sk_usage(stderr);
		return 2;
	}
	if (access(sk.o.kstapled, X_OK) != 0) {
		fprintf(stderr, "soak: SKIP: %s is not built\n", sk.o.kstapled);
		return 77;
	}
	setenv("KST_TEST_PKI", sk.o.pki, 1);
	sk.ku_may_close = sk_ktls_cannot_rekey();
	pthread_mutex_init(&sk.lock, NULL);
	mkdir(sk.o.dir, 0700);
	printf("soak: seed %llu, %u s, %u clients, sizes up to %llu B; work "
	       "directory %s\n",
	       (unsigned long long)sk.o.seed, sk.o.seconds, sk.o.threads,
	       (unsigned long long)sk.o.max_size, sk.o.dir);
	fflush(stdout);
	sk.ctx = sk_ctx();
	bufs = malloc(3 * SK_BUF);
	if (sk.ctx == NULL || bufs == NULL || sk_setup() < 0) {
		printf("soak: setup failed\n0 passed, 1 failed\n");
		return 1;
	}
	pthread_create(&rst, NULL, sk_rst_backend, NULL);
	pthread_detach(rst);

	/* warm-up: every client at once on each listener (the pipe pools
	 * and whatever the daemon opens once fill up), and a reload; then
	 * the baseline */
	sk.deadline_ms = UINT64_MAX;
	for (unsigned int i = 0; i < sk.o.threads; i++)
		pthread_create(&workers[i], NULL, sk_warm, NULL);
	for (unsigned int i = 0; i < sk.o.threads; i++)
		pthread_join(workers[i], NULL);
	sk_reload(false);
	sk_sleep_ms(1500);
	baseline = sk_count_fds(sk.daemon, &pipes);
	base_kinds = sk_fd_kinds(sk.daemon);

	sk.t0_ms = sk_now_ms();
	sk.deadline_ms = sk.t0_ms + (uint64_t)sk.o.seconds * 1000;
	for (unsigned int i = 0; i < sk.o.threads; i++)
		pthread_create(&workers[i], NULL, sk_worker, NULL);
	pthread_create(&chaos, NULL, sk_chaos, NULL);
	for (unsigned int i = 0; i < sk.o.threads; i++)
		pthread_join(workers[i], NULL);
	atomic_store(&sk.stop, true);
	pthread_join(chaos, NULL);
	sk_set_mode("ok");

	/* after the load: fds back to the baseline (idle ones time out,
	 * fetches end), the daemon answers, no sanitizer report */
	alive = sk_check_alive();
	if (!alive)
		checks_failed++; /* the fd count cannot be had */
	if (alive) {
		end = sk_now_ms() + 20000;
		do {
			after = sk_count_fds(sk.daemon, &pipes);
			if (after <= baseline && pipes <= pipes_max)
				break;
			sk_sleep_ms(250);
		} while (sk_now_ms() < end);
		if (after > baseline || pipes > pipes_max) {
			char *out = sk_fd_kinds(sk.daemon), cmd[200];

			sk_fail(NULL,
				"daemon fds (pipes apart): %d after the load, "
				"%d at baseline; %d pipe fds (at most %d "
				"pooled)",
				after, baseline, pipes, pipes_max);
			printf("soak: daemon fds by kind at baseline:\n%s"
			       "soak: and after the load:\n%s",
			       base_kinds ? base_kinds : "", out ? out : "");
			free(out);
			out = NULL;
			snprintf(cmd, sizeof(cmd),
				 "ss -tanp 2>/dev/null | grep 'pid=%d,' | "
				 "head -40",
				 (int)sk.daemon);
			kst_h_sh(cmd, &out, 5000);
			printf("soak: the daemon's TCP sockets:\n%s",
			       out ? out : "");
			free(out);
			checks_failed++;
		}
		alive = sk_probe(bufs);
	}
	if (!alive)
		checks_failed++;
	status = kst_h_stop(sk.daemon, SIGTERM, 30000);
	if (status != 0) {
		sk_fail(NULL, "kstapled exited %d on SIGTERM", status);
		checks_failed++;
	}
	/* tickets offered under keys the file still lists must resume */
	if (sk.st.resume_offers >= 10 && sk.st.resumed == 0) {
		sk_fail(NULL, "none of %llu offered tickets resumed",
			(unsigned long long)sk.st.resume_offers);
		checks_failed++;
	}
	san = sk_san_reports();
	if (san > 0) {
		char cmd[700], *out = NULL;

		sk_fail(NULL, "%d sanitizer reports in %s", san, sk.log);
		snprintf(cmd, sizeof(cmd),
			 "grep -n -A30 -E 'ERROR: (Address|Leak)Sanitizer|"
			 "runtime error:' '%s' | head -80",
			 sk.log);
		kst_h_sh(cmd, &out, 5000);
		printf("%s", out ? out : "");
		free(out);
		checks_failed++;
	}
	kst_h_stop(sk.be_echo, SIGTERM, 5000);
	kst_h_stop(sk.be_http, SIGTERM, 5000);
	if (sk.ocspd > 0)
		kst_h_stop(sk.ocspd, SIGTERM, 5000);
	atomic_store(&sk.stop, true);
	shutdown(sk.rst_lfd, SHUT_RDWR);
	sk_report(baseline, after, pipes, san, alive, status, checks_failed);
	free(bufs);
	free(base_kinds);
	SSL_CTX_free(sk.ctx);
	return checks_failed > 0 || sk.st.failed > 0 ? 1 : 0;
}
