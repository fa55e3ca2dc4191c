// SPDX-License-Identifier: MIT
/*
 * The test tools, proven on loopback before other tests rely on them:
 * kst-backend byte-exact in every mode with a plain TCP client, its PROXY
 * decoding fed by the daemon's encoder (and by haproxy, a real encoder);
 * kst-ocspd answering the real `openssl ocsp` client, and each fault mode;
 * kst-client against `openssl s_server` (staples, versions, ciphers, key
 * types) and, through haproxy as TLS terminator, every payload mode.
 *
 * Tools come from $KST_BUILD/tools (make builds them with `all`); a test
 * whose tool or peer program is missing skips with the reason. Every
 * process is stopped by PID, every wait is bounded.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "daemon/datapath/proxy.h"
#include "daemon/base/util.h"
#include "tests/lib/pattern.h"
#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

#define WAIT_MS 10000

/*
 * Programs a test started, by PID and log file, so that the suite's fini
 * stops them and removes the test's files even when an assertion ended
 * the test early (the struct kst_tool on its stack is gone by then).
 */
static struct {
	pid_t pid;
	char log[256];
} running[16];

static void reg_add(const struct kst_tool *t)
{
	for (size_t i = 0; i < KST_ARRAY_SIZE(running); i++) {
		if (running[i].pid == 0) {
			running[i].pid = t->pid;
			snprintf(running[i].log, sizeof(running[i].log), "%s",
				 t->log);
			return;
		}
	}
}

static void release(struct kst_tool *t)
{
	for (size_t i = 0; i < KST_ARRAY_SIZE(running); i++)
		if (running[i].pid != 0 && strcmp(running[i].log, t->log) == 0)
			running[i].pid = 0;
	kst_tool_release(t);
}

static void tools_fini(void)
{
	char cmd[128];

	for (size_t i = 0; i < KST_ARRAY_SIZE(running); i++) {
		struct kst_tool t = {.pid = running[i].pid};

		if (t.pid == 0)
			continue;
		snprintf(t.log, sizeof(t.log), "%s", running[i].log);
		kst_tool_release(&t);
		running[i].pid = 0;
	}
	/* files of this test (tmp_path), also after an early end */
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/kst-tools-%ld-*",
		 (long)getpid());
	if (system(cmd) != 0)
		cr_log_warn("could not remove the test's files");
}

TestSuite(tools, .fini = tools_fini);

/* ------------------------------------------------------------ helpers */

/* "$KST_TEST_PKI/name" in one of a few rotating static buffers */
static const char *pki(const char *name)
{
	static char bufs[16][512];
	static unsigned int next;
	char *b = bufs[next++ % KST_ARRAY_SIZE(bufs)];

	snprintf(b, sizeof(bufs[0]), "%s/%s", kst_test_pki(), name);
	return b;
}

static const char *tmp_path(const char *name)
{
	static char bufs[8][256];
	static unsigned int next;
	char *b = bufs[next++ % KST_ARRAY_SIZE(bufs)];

	snprintf(b, sizeof(bufs[0]), "/tmp/kst-tools-%ld-%s", (long)getpid(),
		 name);
	return b;
}

static bool have_program(const char *name)
{
	char *argv[] = {"sh", "-c", NULL, NULL};
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", name);
	argv[2] = cmd;
	return kst_tool_run(argv, NULL, 0, WAIT_MS, NULL) == 0;
}

static void require_tool(const char *name)
{
	kst_test_require(kst_tool_built(name),
			 "%s is not built in $KST_BUILD/tools (make all)",
			 name);
}

/*
 * Tests check what they need before they start anything: criterion runs no
 * fini after a skip, so a later skip would leave files behind.
 */
static void require_haproxy(void)
{
	kst_test_require(have_program("haproxy"),
			 "haproxy is not installed (scripts/deps.sh)");
}

/* Start a tool by name with NULL-terminated arguments; waits for ready. */
static void start_tool(struct kst_tool *t, const char *name, ...)
{
	char *argv[40];
	char *path = kst_tool_path(name);
	va_list ap;
	int n = 0, r;

	require_tool(name);
	argv[n++] = path;
	va_start(ap, name);
	while (n < 39 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	r = kst_tool_start(t, argv, "ready ", WAIT_MS);
	free(path);
	cr_assert_eq(r, 0, "%s did not start (%d): %s", name, r,
		     kst_tool_log(t));
	reg_add(t);
	cr_assert_gt(t->port, 0, "%s: ready line '%s'", name, t->ready);
}

static bool log_has(const struct kst_tool *t, const char *what)
{
	char *log = kst_tool_log(t);
	bool found = log != NULL && strstr(log, what) != NULL;

	if (!found)
		cr_log_info("log of pid %d lacks '%s':\n%s", (int)t->pid, what,
			    log ? log : "(none)");
	free(log);
	return found;
}

/* Stop it and expect a clean exit (SIGTERM handled, status 0). */
static void stop_tool(struct kst_tool *t)
{
	int r = kst_tool_stop(t, WAIT_MS);

	cr_expect_eq(r, 0, "tool exited with %d", r);
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0,
		     "connect %d: %s", port, strerror(errno));
	return fd;
}

/* 127.0.0.1:port is in LISTEN state (read from /proc/net/tcp, so that
 * probing makes no connection a proxy would pass on). */
static bool port_listening(int port)
{
	char line[256], want[32];
	FILE *f = fopen("/proc/net/tcp", "r");
	bool found = false;

	snprintf(want, sizeof(want), "0100007F:%04X 00000000:0000 0A", port);
	while (f != NULL && !found && fgets(line, sizeof(line), f))
		found = strstr(line, want) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

/* Wait until something listens on the port (programs without a ready
 * line); bounded. */
static bool wait_port(int port, int ms)
{
	uint64_t end = kst_mono_ms() + (uint64_t)ms;

	while (kst_mono_ms() < end) {
		if (port_listening(port))
			return true;
		usleep(20000);
	}
	return false;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Read until EOF (bounded by SO_RCVTIMEO); returns a malloc'd buffer. */
static char *recv_to_eof(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	for (;;) {
		ssize_t r;

		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
		r = recv(fd, buf + n, cap - n, 0);
		cr_assert_geq(r, 0, "recv: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Send n pattern bytes while reading whatever comes back, then half-close
 * and read to EOF. Returns the count received; hex gets its SHA-256.
 */
static uint64_t exchange(int fd, uint64_t n, char hex[65])
{
	static unsigned char buf[65536];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t sent = 0, got = 0, end = kst_mono_ms() + 30000;
	unsigned char d[32];
	bool shut = false;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (;;) {
		struct pollfd p = {fd, POLLIN | (shut ? 0 : POLLOUT), 0};
		ssize_t r;

		cr_assert_lt(kst_mono_ms(), end, "exchange timed out");
		if (!shut && sent == n) {
			shutdown(fd, SHUT_WR);
			shut = true;
			continue;
		}
		cr_assert_geq(poll(&p, 1, 1000), 0);
		if (p.revents & POLLOUT) {
			size_t m = (size_t)KST_MIN(n - sent,
						   (uint64_t)sizeof(buf));

			kst_pattern_fill(buf, m, sent, 0);
			r = send(fd, buf, m, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r > 0)
				sent += (uint64_t)r;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0) {
			EVP_DigestUpdate(md, buf, (size_t)r);
			got += (uint64_t)r;
		}
	}
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	kst_hex(hex, d, sizeof(d));
	return got;
}

static const char *pattern_sha(uint64_t n, uint64_t seed)
{
	static char hex[4][65];
	static unsigned int next;
	char *h = hex[next++ % 4];

	cr_assert_eq(kst_pattern_sha256_hex(n, seed, h), 0);
	return h;
}

/* ------------------------------------------------------- kst-backend */

Test(tools, backend_echo_returns_every_byte_and_keeps_the_half_close)
{
	struct kst_tool be;
	char hex[65];
	uint64_t n = 4 * 1024 * 1024 + 13;
	int fd;

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-m", "echo", NULL);
	fd = tcp_connect(be.port);
	/* the echo keeps flowing after our FIN, and ends with its own FIN */
	cr_assert_eq(exchange(fd, n, hex), n);
	cr_assert_str_eq(hex, pattern_sha(n, 0));
	close(fd);
	stop_tool(&be);
	cr_assert(log_has(&be, "accepted=1 closed=1 active=0"),
		  "kst-backend counters on exit");
	release(&be);
}

static void send_pattern(int fd, uint64_t n, uint64_t seed)
{
	static unsigned char buf[65536];

	for (uint64_t off = 0; off < n;) {
		size_t m = (size_t)KST_MIN(n - off, (uint64_t)sizeof(buf));

		kst_pattern_fill(buf, m, off, seed);
		send_all(fd, buf, m);
		off += m;
	}
}

Test(tools, backend_sink_answers_count_and_sha256_at_eof)
{
	struct kst_tool be;
	char *reply, want[128];
	uint64_t n = 1024 * 1024 + 7;
	size_t len;
	int fd;

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-m", "sink", NULL);
	fd = tcp_connect(be.port);
	send_pattern(fd, n, 0);
	shutdown(fd, SHUT_WR);
	reply = recv_to_eof(fd, &len);
	snprintf(want, sizeof(want), "%llu %s\n", (unsigned long long)n,
		 pattern_sha(n, 0));
	cr_assert_str_eq(reply, want);
	free(reply);
	close(fd);
	stop_tool(&be);
	release(&be);
}

/* One HTTP/1.1 response from a buffered reader: head and body. */
struct http_resp {
	int status;
	char head[2048];
	char *body;
	size_t body_len;
};

static size_t read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void read_response(int fd, struct http_resp *r)
{
	size_t n = 0;
	unsigned long long cl = 0;
	const char *h;

	memset(r, 0, sizeof(*r));
	/* byte by byte up to the blank line: the body must stay unread */
	while (n < sizeof(r->head) - 1 &&
	       (n < 4 || memcmp(r->head + n - 4, "\r\n\r\n", 4) != 0))
		cr_assert_eq(read_exact(fd, r->head + n++, 1), 1,
			     "response head cut short: %.*s", (int)n, r->head);
	cr_assert_eq(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1);
	h = strcasestr(r->head, "\r\nContent-Length:");
	cr_assert_not_null(h, "no Content-Length in %s", r->head);
	cl = strtoull(h + 17, NULL, 10);
	r->body = malloc(cl + 1);
	r->body_len = read_exact(fd, r->body, cl);
	r->body[r->body_len] = '\0';
	cr_assert_eq(r->body_len, cl);
}

Test(tools, backend_http_serves_page_download_and_post_on_one_connection)
{
	static const char post[] = "POST /upload HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 11\r\n\r\nhello world";
	struct kst_tool be;
	struct http_resp r;
	char sha[65], want[128], *rest;
	size_t len;
	int fd;

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-m", "http", NULL);
	fd = tcp_connect(be.port);
	/* two requests pipelined, then a POST, then Connection: close */
	send_str(fd, "GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	read_response(fd, &r);
	cr_assert_eq(r.status, 200);
	kst_pattern_sha256_buf(r.body, r.body_len, sha);
	cr_assert_str_eq(sha, pattern_sha(100000, 0));
	free(r.body);
	read_response(fd, &r);
	cr_assert_eq(r.body_len, 3);
	free(r.body);
	send_str(fd, post);
	read_response(fd, &r);
	kst_pattern_sha256_buf("hello world", 11, sha);
	snprintf(want, sizeof(want), "11 %s\n", sha);
	cr_assert_str_eq(r.body, want);
	free(r.body);
	send_str(fd,
		 "GET /some/path?q=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
	read_response(fd, &r);
	cr_assert(strstr(r.body, "path: /some/path?q=1\n") != NULL, "%s",
		  r.body);
	cr_assert(strstr(r.body, "proxy: none\n") != NULL, "%s", r.body);
	cr_assert(strcasestr(r.head, "Connection: close") != NULL);
	free(r.body);
	/* and the server closes after that response */
	rest = recv_to_eof(fd, &len);
	cr_assert_eq(len, 0, "after Connection: close: %s", rest);
	free(rest);
	close(fd);
	stop_tool(&be);
	release(&be);
}

Test(tools, backend_source_sends_n_bytes_then_reads_until_our_eof)
{
	struct kst_tool be;
	char *got, sha[65];
	size_t len;
	int fd;

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-m", "source",
		   "-n", "3M", "--seed", "9", NULL);
	fd = tcp_connect(be.port);
	got = recv_to_eof(fd, &len);
	cr_assert_eq(len, 3 * 1024 * 1024);
	kst_pattern_sha256_buf(got, len, sha);
	cr_assert_str_eq(sha, pattern_sha(len, 9));
	free(got);
	/* its write side is closed, its read side still open */
	send_all(fd, "late bytes", 10);
	shutdown(fd, SHUT_WR);
	got = recv_to_eof(fd, &len);
	cr_assert_eq(len, 0);
	free(got);
	close(fd);
	stop_tool(&be);
	cr_assert(log_has(&be, "bytes_in=10 "));
	release(&be);
}

Test(tools, backend_listens_on_a_unix_socket_and_removes_it)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct kst_tool be;
	char spec[300], hex[65];
	const char *path = tmp_path("be.sock");
	int fd;

	snprintf(spec, sizeof(spec), "unix:%s", path);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	require_tool("kst-backend");
	{
		char *argv[] = {kst_tool_path("kst-backend"), "-l", spec, NULL};

		cr_assert_eq(kst_tool_start(&be, argv, "ready ", WAIT_MS), 0);
		reg_add(&be);
		free(argv[0]);
	}
	cr_assert_str_eq(be.ready, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	cr_assert_eq(exchange(fd, 100000, hex), 100000);
	cr_assert_str_eq(hex, pattern_sha(100000, 0));
	close(fd);
	stop_tool(&be);
	cr_assert_neq(access(path, F_OK), 0, "socket file left behind");
	release(&be);
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

Test(tools, backend_listens_on_ipv6_and_ipv4_at_once)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct kst_tool be;
	unsigned int p6, p4;
	char hex[65];
	int fd;

	kst_test_require(have_ipv6_loopback(), "no IPv6 loopback here");
	start_tool(&be, "kst-backend", "-l", "[::1]:0", "-l", "127.0.0.1:0",
		   NULL);
	/* one ready line: the ports in the order of the -l options */
	cr_assert_eq(sscanf(be.ready, "%u %u", &p6, &p4), 2, "%s", be.ready);
	a.sin6_port = htons((uint16_t)p6);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(exchange(fd, 70000, hex), 70000);
	cr_assert_str_eq(hex, pattern_sha(70000, 0));
	close(fd);
	fd = tcp_connect((int)p4);
	cr_assert_eq(exchange(fd, 10, hex), 10);
	close(fd);
	stop_tool(&be);
	release(&be);
}

/* Resident memory of a process in kB, from /proc. */
static long rss_of(pid_t pid)
{
	char line[256];
	long kb = -1;
	FILE *f;

	snprintf(line, sizeof(line), "/proc/%d/status", (int)pid);
	f = fopen(line, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

Test(tools, backend_does_not_buffer_when_the_peer_stops_reading)
{
	struct kst_tool be;
	char hex[65], *rest;
	uint64_t sent = 0, idle_since = kst_mono_ms();
	unsigned char *buf = malloc(1 << 20);
	long rss_kb;
	size_t len;
	int fd;

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", NULL);
	fd = tcp_connect(be.port);
	/* write without reading until the path is full for 300 ms */
	while (kst_mono_ms() - idle_since < 300 && sent < (1ull << 30)) {
		ssize_t w;

		kst_pattern_fill(buf, 1 << 20, sent, 0);
		w = send(fd, buf, 1 << 20, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			sent += (uint64_t)w;
			idle_since = kst_mono_ms();
		} else {
			usleep(10000);
		}
	}
	free(buf);
	cr_assert_lt(sent, 256ull << 20, "%llu bytes went in: no backpressure",
		     (unsigned long long)sent);
	rss_kb = rss_of(be.pid);
	cr_assert_lt(rss_kb, 32 * 1024, "backend RSS %ld kB after %llu bytes",
		     rss_kb, (unsigned long long)sent);
	/* and nothing was lost: the rest of the echo follows */
	shutdown(fd, SHUT_WR);
	rest = recv_to_eof(fd, &len);
	cr_assert_eq(len, sent);
	kst_pattern_sha256_buf(rest, len, hex);
	cr_assert_str_eq(hex, pattern_sha(sent, 0));
	free(rest);
	close(fd);
	stop_tool(&be);
	release(&be);
}

Test(tools, backend_serves_a_thousand_connections_at_once)
{
	enum { N = 1000 };
	struct kst_tool be;
	static int fds[N];
	char msg[32], got[32];

	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", NULL);
	for (int i = 0; i < N; i++)
		fds[i] = tcp_connect(be.port);
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "conn %d\n", i);

		send_all(fds[i], msg, (size_t)n);
	}
	for (int i = 0; i < N; i++) {
		int n = snprintf(msg, sizeof(msg), "conn %d\n", i);

		cr_assert_eq(read_exact(fds[i], got, (size_t)n), (size_t)n);
		cr_assert_arr_eq(got, msg, (size_t)n);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	stop_tool(&be);
	cr_assert(log_has(&be, "peak=1000 "));
	release(&be);
}

/* ------------------------------------------------- PROXY through tools */

/* Encoder input and the JSON line kst-backend must record for it. */
struct pp_case {
	int version;
	int sfam;
	const char *saddr;
	unsigned short sport;
	int dfam;
	const char *daddr;
	unsigned short dport;
	const char *alpn, *sni, *tls, *cipher;
	const char *json;
};

static const struct pp_case pp_cases[] = {
	{1, AF_INET, "192.0.2.1", 56324, AF_INET, "198.51.100.7", 443, NULL,
	 NULL, NULL, NULL,
	 "{\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP4\","
	 "\"src\":\"192.0.2.1:56324\",\"dst\":\"198.51.100.7:443\"}"},
	{2, AF_INET, "192.0.2.1", 56324, AF_INET, "198.51.100.7", 443, "h2",
	 "localhost", "TLSv1.3", "TLS_AES_128_GCM_SHA256",
	 "{\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\","
	 "\"src\":\"192.0.2.1:56324\",\"dst\":\"198.51.100.7:443\","
	 "\"alpn\":\"h2\",\"authority\":\"localhost\",\"ssl_client\":1,"
	 "\"ssl_verify\":1,\"ssl_version\":\"TLSv1.3\","
	 "\"ssl_cipher\":\"TLS_AES_128_GCM_SHA256\"}"},
	{1, AF_INET6, "2001:db8::1", 1234, AF_INET6, "2001:db8::2", 443, NULL,
	 NULL, NULL, NULL,
	 "{\"version\":1,\"command\":\"PROXY\",\"family\":\"TCP6\","
	 "\"src\":\"[2001:db8::1]:1234\",\"dst\":\"[2001:db8::2]:443\"}"},
	{2, AF_INET6, "2001:db8::1", 1234, AF_INET6, "2001:db8::2", 443, NULL,
	 "a.test", "TLSv1.2", NULL,
	 "{\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP6\","
	 "\"src\":\"[2001:db8::1]:1234\",\"dst\":\"[2001:db8::2]:443\","
	 "\"authority\":\"a.test\",\"ssl_client\":1,\"ssl_verify\":1,"
	 "\"ssl_version\":\"TLSv1.2\"}"},
	{2, AF_INET6, "::ffff:10.1.2.3", 40000, AF_INET6, "::ffff:10.0.0.1",
	 8443, NULL, NULL, NULL, NULL,
	 "{\"version\":2,\"command\":\"PROXY\",\"family\":\"TCP4\","
	 "\"src\":\"10.1.2.3:40000\",\"dst\":\"10.0.0.1:8443\"}"},
	{1, AF_UNIX, "/run/a", 0, AF_UNIX, "/run/b", 0, NULL, NULL, NULL, NULL,
	 "{\"version\":1,\"command\":\"UNKNOWN\",\"family\":\"UNKNOWN\"}"},
	{2, AF_UNIX, "/run/a", 0, AF_UNIX, "/run/b", 0, "http/1.1", NULL, NULL,
	 NULL,
	 "{\"version\":2,\"command\":\"LOCAL\",\"family\":\"UNSPEC\","
	 "\"alpn\":\"http/1.1\"}"},
};

static ssize_t pp_encode(const struct pp_case *c, unsigned char *buf,
			 size_t len)
{
	struct sockaddr_storage s, d;
	struct kst_proxy_info pi;

	cr_assert_eq(kst_test_sockaddr(&s, c->sfam, c->saddr, c->sport), 0);
	cr_assert_eq(kst_test_sockaddr(&d, c->dfam, c->daddr, c->dport), 0);
	pi = (struct kst_proxy_info){
		.src = (struct sockaddr *)&s,
		.dst = (struct sockaddr *)&d,
		.alpn = c->alpn,
		.alpn_len = c->alpn ? strlen(c->alpn) : 0,
		.sni = c->sni,
		.tls_version = c->tls,
		.cipher = c->cipher,
	};
	return c->version == 1 ? kst_proxy_v1(&pi, (char *)buf, len)
			       : kst_proxy_v2(&pi, buf, len);
}

/* Lines of a file into a NULL-terminated array (malloc'd). */
static char **read_lines(const char *path, int *n)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char **lines = calloc(256, sizeof(*lines)), *s, *save = NULL;

	*n = 0;
	cr_assert_eq(kst_test_read_file(path, &buf, &len), 0, "%s", path);
	buf[len] = '\0';
	for (s = strtok_r((char *)buf, "\n", &save); s && *n < 255;
	     s = strtok_r(NULL, "\n", &save))
		lines[(*n)++] = strdup(s);
	free(buf);
	return lines;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

Test(tools, backend_records_every_header_the_daemon_encoder_writes)
{
	const char *rec = tmp_path("pp.json");
	struct kst_tool be;
	unsigned char hdr[KST_PROXY_V2_TYPICAL_MAX + 16];
	char got[16];
	char **lines;
	int n;

	unlink(rec);
	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-p", "--record",
		   rec, NULL);
	for (size_t i = 0; i < KST_ARRAY_SIZE(pp_cases); i++) {
		ssize_t hl = pp_encode(&pp_cases[i], hdr, sizeof(hdr) - 16);
		int fd = tcp_connect(be.port);

		cr_assert_gt(hl, 0);
		/* header and data in one segment: the data must survive */
		memcpy(hdr + hl, "data-after", 10);
		send_all(fd, hdr, (size_t)hl + 10);
		cr_assert_eq(read_exact(fd, got, 10), 10, "case %zu", i);
		cr_assert_arr_eq(got, "data-after", 10);
		close(fd);
	}
	stop_tool(&be);
	lines = read_lines(rec, &n);
	cr_assert_eq(n, (int)KST_ARRAY_SIZE(pp_cases));
	for (int i = 0; i < n; i++)
		cr_expect_str_eq(lines[i], pp_cases[i].json, "case %d", i);
	free_lines(lines, n);
	unlink(rec);
	release(&be);
}

Test(tools, backend_with_p_drops_a_connection_without_header)
{
	const char *rec = tmp_path("pp-bad.json");
	struct kst_tool be;
	char *rest, **lines;
	size_t len;
	int fd, n;

	unlink(rec);
	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-p", "--record",
		   rec, NULL);
	fd = tcp_connect(be.port);
	send_str(fd, "GET / HTTP/1.0\r\n\r\n");
	rest = recv_to_eof(fd, &len);
	cr_assert_eq(len, 0);
	free(rest);
	close(fd);
	stop_tool(&be);
	lines = read_lines(rec, &n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(lines[0], "{\"error\":\"invalid PROXY header\"}");
	free_lines(lines, n);
	unlink(rec);
	release(&be);
}

/* Run kst-client with NULL-terminated arguments; exit code, output. */
static int client(char **out, ...)
{
	char *argv[48];
	va_list ap;
	int n = 0, r;

	require_tool("kst-client");
	argv[n++] = kst_tool_path("kst-client");
	va_start(ap, out);
	while (n < 47 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	r = kst_tool_run(argv, NULL, 0, 60000, out);
	free(argv[0]);
	return r;
}

/* ------------------------------------------------------------ haproxy */

struct hap_fe {
	bool tls;	    /* terminate TLS with localhost-ecdsa.pem */
	const char *bind;   /* more bind options */
	int backend;	    /* kst-backend port */
	const char *server; /* server options */
};

struct hap {
	struct kst_tool t;
	int port[3];
	char cfg[256];
};

/* haproxy with up to three frontends, each to its backend port. */
static void hap_start(struct hap *h, const struct hap_fe *fe, int n)
{
	char *argv[] = {"haproxy", "-f", h->cfg, "-db", NULL};
	FILE *f;

	require_haproxy();
	snprintf(h->cfg, sizeof(h->cfg), "%s", tmp_path("haproxy.cfg"));
	f = fopen(h->cfg, "w");
	cr_assert_not_null(f);
	fprintf(f, "defaults\n  mode tcp\n  timeout connect 5s\n"
		   "  timeout client 30s\n  timeout server 30s\n");
	for (int i = 0; i < n; i++) {
		h->port[i] = kst_free_port();
		fprintf(f, "listen f%d\n  bind 127.0.0.1:%d", i, h->port[i]);
		if (fe[i].tls)
			fprintf(f, " ssl crt %s alpn h2,http/1.1",
				pki("localhost-ecdsa.pem"));
		fprintf(f, " %s\n  server s 127.0.0.1:%d %s\n",
			fe[i].bind ? fe[i].bind : "", fe[i].backend,
			fe[i].server ? fe[i].server : "");
	}
	fclose(f);
	cr_assert_eq(kst_tool_start(&h->t, argv, NULL, 0), 0);
	reg_add(&h->t);
	for (int i = 0; i < n; i++)
		cr_assert(wait_port(h->port[i], WAIT_MS),
			  "haproxy did not listen");
}

static void hap_stop(struct hap *h)
{
	kst_tool_stop(&h->t, WAIT_MS);
	release(&h->t);
	unlink(h->cfg);
}

Test(tools, backend_decodes_the_proxy_v2_headers_haproxy_writes)
{
	const char *rec = tmp_path("hap.json");
	char target[64], *out, **lines;
	struct kst_tool be;
	struct hap h;
	int fd, n;

	require_tool("kst-client");
	require_tool("kst-backend");
	require_haproxy();
	unlink(rec);
	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-p", "--record",
		   rec, NULL);
	{
		const struct hap_fe fe[] = {
			{true, NULL, be.port,
			 "send-proxy-v2-ssl-cn proxy-v2-options "
			 "authority,crc32c,ssl-cipher"},
			{false, NULL, be.port, "send-proxy"},
		};

		hap_start(&h, fe, 2);
	}
	snprintf(target, sizeof(target), "127.0.0.1:%d", h.port[0]);
	cr_assert_eq(client(&out, "-c", target, "--sni", "localhost", "--alpn",
			    "h2", "--tls", "1.3", "--ciphersuites",
			    "TLS_AES_128_GCM_SHA256", "--send", "100",
			    "--expect-echo", NULL),
		     0, "%s", out);
	free(out);
	fd = tcp_connect(h.port[1]);
	send_str(fd, "plain");
	cr_assert_eq(read_exact(fd, target, 5), 5);
	close(fd);
	hap_stop(&h);
	stop_tool(&be);
	lines = read_lines(rec, &n);
	cr_assert_eq(n, 2);
	cr_assert(strstr(lines[0],
			 "\"version\":2,\"command\":\"PROXY\","
			 "\"family\":\"TCP4\",\"src\":\"127.0.0.1:") &&
			  strstr(lines[0], "\"alpn\":\"h2\",\"authority\":"
					   "\"localhost\",\"ssl_client\":1") &&
			  strstr(lines[0], "\"ssl_version\":\"TLSv1.3\","
					   "\"ssl_cipher\":"
					   "\"TLS_AES_128_GCM_SHA256\","
					   "\"crc32c\":\"ok\"}"),
		  "%s", lines[0]);
	cr_assert(strstr(lines[1],
			 "{\"version\":1,\"command\":\"PROXY\","
			 "\"family\":\"TCP4\",\"src\":\"127.0.0.1:") ==
			  lines[1],
		  "%s", lines[1]);
	free_lines(lines, n);
	unlink(rec);
	release(&be);
}

/* haproxy parses what daemon/datapath/proxy.c writes, and passes the addresses
 * on */
Test(tools, haproxy_accepts_the_headers_the_daemon_encoder_writes)
{
	const char *rec = tmp_path("hap2.json");
	unsigned char hdr[KST_PROXY_V2_TYPICAL_MAX];
	struct kst_tool be;
	struct hap h;
	char got[8], **lines;
	int n;

	require_tool("kst-backend");
	require_haproxy();
	unlink(rec);
	start_tool(&be, "kst-backend", "-l", "127.0.0.1:0", "-p", "--record",
		   rec, NULL);
	{
		const struct hap_fe fe[] = {
			{false, "accept-proxy", be.port, "send-proxy-v2"},
			{false, "accept-proxy", be.port, "send-proxy-v2"},
		};

		hap_start(&h, fe, 2);
	}
	for (int i = 0; i < 4; i++) {
		const struct pp_case *c = &pp_cases[i];
		ssize_t hl = pp_encode(c, hdr, sizeof(hdr));
		int fd = tcp_connect(h.port[c->version - 1]);

		send_all(fd, hdr, (size_t)hl);
		send_str(fd, "ping");
		cr_assert_eq(read_exact(fd, got, 4), 4, "case %d", i);
		close(fd);
	}
	hap_stop(&h);
	stop_tool(&be);
	lines = read_lines(rec, &n);
	cr_assert_eq(n, 4);
	for (int i = 0; i < 4; i++) {
		char want[160];
		const char *src = strstr(pp_cases[i].json, "\"src\"");
		const char *end = strstr(src, "}");

		/* what haproxy relays: the addresses we encoded */
		snprintf(want, sizeof(want), "%.*s", (int)(end - src), src);
		want[strcspn(want, ",")] = '\0'; /* just "src":"..." */
		cr_expect(strstr(lines[i], want) != NULL,
			  "case %d: %s lacks %s", i, lines[i], want);
	}
	free_lines(lines, n);
	unlink(rec);
	release(&be);
}

/* --------------------------------------------------------- kst-client */

/* The value of "key=" in key=value output, or "" (rotating buffers). */
static const char *kv(const char *out, const char *key)
{
	static char bufs[8][256];
	static unsigned int next;
	char *b = bufs[next++ % 8], pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s=", key);
	b[0] = '\0';
	if (strncmp(out, pat + 1, strlen(pat + 1)) == 0)
		p = out + strlen(pat + 1);
	else if ((p = strstr(out, pat)) != NULL)
		p += strlen(pat);
	if (p != NULL)
		snprintf(b, sizeof(bufs[0]), "%.*s", (int)strcspn(p, "\n"), p);
	return b;
}

static const char *leaf_serial(const char *leaf)
{
	static char serial[64];
	char **lines;
	int n;

	lines = read_lines(pki("leaves.txt"), &n);
	serial[0] = '\0';
	for (int i = 0; i < n; i++)
		if (strncmp(lines[i], leaf, strlen(leaf)) == 0 &&
		    lines[i][strlen(leaf)] == '\t')
			sscanf(lines[i] + strlen(leaf) + 1, "%63[^\t]", serial);
	free_lines(lines, n);
	cr_assert_neq(serial[0], '\0', "%s not in leaves.txt", leaf);
	return serial;
}

/* s_server with the ECDSA and the RSA localhost certificates. */
static void s_server_start(struct kst_tool *t, bool staple)
{
	char acc[32];
	char *argv[] = {"openssl",
			"s_server",
			"-www",
			"-accept",
			acc,
			"-cert",
			(char *)pki("localhost-ecdsa.crt"),
			"-key",
			(char *)pki("localhost-ecdsa.key"),
			"-cert_chain",
			(char *)pki("int.crt"),
			"-dcert",
			(char *)pki("localhost-rsa.crt"),
			"-dkey",
			(char *)pki("localhost-rsa.key"),
			"-dcert_chain",
			(char *)pki("int.crt"),
			"-status_file",
			(char *)pki("ocsp/localhost-ecdsa.der"),
			NULL};

	snprintf(acc, sizeof(acc), "127.0.0.1:%d", kst_free_port());
	if (!staple)
		argv[17] = NULL; /* drop -status_file */
	cr_assert_eq(kst_tool_start(t, argv, "ACCEPT", WAIT_MS), 0,
		     "s_server did not start");
	reg_add(t);
	t->port = atoi(strrchr(acc, ':') + 1);
}

struct client_case {
	const char *args[6];
	const char *version, *cipher, *key, *sig;
	bool ecdsa;
};

static const struct client_case client_cases[] = {
	{{"--tls", "1.3", "--ciphersuites", "TLS_CHACHA20_POLY1305_SHA256",
	  "--sigalgs", "ECDSA+SHA256"},
	 "TLSv1.3",
	 "TLS_CHACHA20_POLY1305_SHA256",
	 "EC",
	 "ECDSA+SHA256",
	 true},
	{{"--tls", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256",
	  "--sigalgs", "RSA+SHA256"},
	 "TLSv1.2",
	 "ECDHE-RSA-AES128-GCM-SHA256",
	 "RSA",
	 "RSA+SHA256",
	 false},
	{{"--tls", "1.3", "--sigalgs", "RSA-PSS+SHA256", "--groups", "P-256"},
	 "TLSv1.3",
	 "TLS_AES_256_GCM_SHA384",
	 "RSA",
	 "RSA-PSS+SHA256",
	 false},
};
static int client_case_ids[] = {0, 1, 2};

ParameterizedTestParameters(tools, client_reports_what_s_server_negotiated)
{
	return cr_make_param_array(int, client_case_ids,
				   KST_ARRAY_SIZE(client_case_ids));
}

ParameterizedTest(int *id, tools, client_reports_what_s_server_negotiated)
{
	const struct client_case *c = &client_cases[*id];
	struct kst_tool ss;
	char target[32], staple_sha[65], *out = NULL;
	unsigned char *der;
	size_t len;

	require_tool("kst-client");
	s_server_start(&ss, true);
	snprintf(target, sizeof(target), "127.0.0.1:%d", ss.port);
	cr_assert_eq(client(&out, "-c", target, "--sni", "localhost", "--ca",
			    pki("root.crt"), "--status", "--print", c->args[0],
			    c->args[1], c->args[2], c->args[3], c->args[4],
			    c->args[5], NULL),
		     0, "%s", out);
	cr_expect_str_eq(kv(out, "version"), c->version);
	cr_expect_str_eq(kv(out, "cipher"), c->cipher);
	cr_expect_str_eq(kv(out, "peer_key"), c->key);
	cr_expect_str_eq(kv(out, "peer_sig"), c->sig);
	cr_expect_str_eq(
		kv(out, "peer_serial"),
		leaf_serial(c->ecdsa ? "localhost-ecdsa" : "localhost-rsa"));
	cr_expect_str_eq(kv(out, "verify"), "ok");
	/* s_server staples the ECDSA certificate's response for both */
	cr_assert_eq(
		kst_test_read_file(pki("ocsp/localhost-ecdsa.der"), &der, &len),
		0);
	kst_pattern_sha256_buf(der, len, staple_sha);
	free(der);
	cr_expect_str_eq(kv(out, "stapled"), "1");
	cr_expect_str_eq(kv(out, "staple_sha256"), staple_sha);
	cr_expect_str_eq(kv(out, "staple_serial"),
			 leaf_serial("localhost-ecdsa"));
	cr_expect_str_eq(kv(out, "staple_status"), "good");
	cr_expect_str_eq(kv(out, "staple_verify"), "ok");
	cr_expect_str_eq(kv(out, "staple_matches_cert"), c->ecdsa ? "1" : "0");
	free(out);
	kst_tool_stop(&ss, WAIT_MS);
	release(&ss);
}

Test(tools, client_says_when_no_staple_came_and_can_require_one)
{
	struct kst_tool ss;
	char target[32], *out = NULL;

	require_tool("kst-client");
	s_server_start(&ss, false);
	snprintf(target, sizeof(target), "127.0.0.1:%d", ss.port);
	cr_assert_eq(client(&out, "-c", target, "--status", NULL), 0, "%s",
		     out);
	cr_expect_str_eq(kv(out, "stapled"), "0");
	free(out);
	cr_assert_eq(client(&out, "-c", target, "--require-staple", NULL), 1,
		     "%s", out);
	cr_expect(strstr(out, "no staple") != NULL, "%s", out);
	free(out);
	/* a CA that did not sign the chain fails the handshake */
	cr_assert_eq(
		client(&out, "-c", target, "--ca", pki("rogue-ca.crt"), NULL),
		1, "%s", out);
	free(out);
	/* bad usage is 2 */
	cr_assert_eq(client(&out, "-c", target, "--tls", "1.4", NULL), 2);
	free(out);
	kst_tool_stop(&ss, WAIT_MS);
	release(&ss);
}

/* haproxy terminating TLS in front of an echo, an http and a source
 * backend: a real server for every payload mode of the client. */
struct payload_env {
	struct kst_tool echo, http, source;
	struct hap h;
	char target[3][32];
};

static void payload_start(struct payload_env *e)
{
	require_tool("kst-client");
	require_tool("kst-backend");
	require_haproxy();
	start_tool(&e->echo, "kst-backend", "-l", "127.0.0.1:0", NULL);
	start_tool(&e->http, "kst-backend", "-l", "127.0.0.1:0", "-m", "http",
		   NULL);
	start_tool(&e->source, "kst-backend", "-l", "127.0.0.1:0", "-m",
		   "source", "-n", "1M", NULL);
	{
		const struct hap_fe fe[] = {
			{true, NULL, e->echo.port, NULL},
			{true, NULL, e->http.port, NULL},
			{true, NULL, e->source.port, NULL},
		};

		hap_start(&e->h, fe, 3);
	}
	for (int i = 0; i < 3; i++)
		snprintf(e->target[i], sizeof(e->target[i]), "127.0.0.1:%d",
			 e->h.port[i]);
}

static void payload_stop(struct payload_env *e)
{
	hap_stop(&e->h);
	stop_tool(&e->echo);
	stop_tool(&e->http);
	stop_tool(&e->source);
	release(&e->echo);
	release(&e->http);
	release(&e->source);
}

Test(tools, client_checks_the_echo_across_a_requested_key_update)
{
	struct payload_env e;
	char *out = NULL;

	payload_start(&e);
	cr_assert_eq(client(&out, "-c", e.target[0], "--tls", "1.3", "--send",
			    "2M", "--expect-echo", "--key-update-requested",
			    "--print", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kv(out, "recv"), "2097152");
	cr_expect_str_eq(kv(out, "recv_sha256"), pattern_sha(2 << 20, 0));
	cr_expect_str_eq(kv(out, "key_update"), "1");
	free(out);
	payload_stop(&e);
}

Test(tools, client_half_closes_and_reads_to_the_end)
{
	struct payload_env e;
	char *out = NULL;

	payload_start(&e);
	cr_assert_eq(client(&out, "-c", e.target[0], "--send", "1M", "--seed",
			    "5", "--half-close", "--recv-all", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kv(out, "recv"), "1048576");
	cr_expect_str_eq(kv(out, "recv_sha256"), pattern_sha(1 << 20, 5));
	cr_expect_str_eq(kv(out, "close_notify"), "1");
	free(out);
	payload_stop(&e);
}

Test(tools, client_downloads_and_reads_streams_and_notices_a_short_one)
{
	struct payload_env e;
	char *out = NULL;

	payload_start(&e);
	cr_assert_eq(client(&out, "-c", e.target[1], "--download", "3M", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kv(out, "recv"), "3145728");
	free(out);
	cr_assert_eq(client(&out, "-c", e.target[2], "--expect-recv", "1M",
			    "--no-close-notify", NULL),
		     0, "%s", out);
	free(out);
	cr_assert_eq(client(&out, "-c", e.target[2], "--expect-recv", "1048577",
			    NULL),
		     1, "a stream one byte short must fail: %s", out);
	free(out);
	payload_stop(&e);
}

Test(tools, client_runs_many_connections_in_parallel)
{
	struct payload_env e;
	char *out = NULL;

	payload_start(&e);
	cr_assert_eq(client(&out, "-c", e.target[0], "--conns", "40",
			    "--parallel", "8", "--send", "64k", "--expect-echo",
			    NULL),
		     0, "%s", out);
	cr_expect(strstr(out, "summary conns=40 ok=40 failed=0 threads=8") !=
			  NULL,
		  "%s", out);
	free(out);
	payload_stop(&e);
}

/* ---------------------------------------------------------- kst-ocspd */

struct ocspd_env {
	struct kst_tool t;
	char mode_file[256], log[256], tmpdir[256];
};

static void ocspd_mode(struct ocspd_env *e, const char *mode)
{
	FILE *f = fopen(e->mode_file, "w");

	cr_assert_not_null(f);
	fprintf(f, "%s\n", mode);
	fclose(f);
}

static void ocspd_start(struct ocspd_env *e, const char *mode)
{
	require_tool("kst-ocspd");
	snprintf(e->mode_file, sizeof(e->mode_file), "%s",
		 tmp_path("ocspd.mode"));
	snprintf(e->log, sizeof(e->log), "%s", tmp_path("ocspd.log"));
	snprintf(e->tmpdir, sizeof(e->tmpdir), "%s", tmp_path("ocspd.tmp"));
	unlink(e->log);
	mkdir(e->tmpdir, 0700);
	/* its temporary files go there, so the test can see them removed */
	setenv("TMPDIR", e->tmpdir, 1);
	ocspd_mode(e, mode);
	start_tool(&e->t, "kst-ocspd", "--index", pki("index.txt"), "--ca",
		   pki("int.crt"), "--rkey", pki("int.key"), "--rogue-signer",
		   pki("rogue-signer.crt"), "--rogue-key",
		   pki("rogue-signer.key"), "--other-cert",
		   pki("other-ecdsa.crt"), "--log", e->log, "--mode-file",
		   e->mode_file, NULL);
	unsetenv("TMPDIR");
}

/* Stop it; it must exit 0 and leave no temporary file behind. */
static void ocspd_stop(struct ocspd_env *e)
{
	stop_tool(&e->t);
	release(&e->t); /* its log file is in tmpdir too */
	cr_expect_eq(rmdir(e->tmpdir), 0, "%s: %s", e->tmpdir, strerror(errno));
	unlink(e->mode_file);
	unlink(e->log);
}

/* The real client: `openssl ocsp -url ... -issuer int -cert LEAF`. */
static int ocsp_query(const struct ocspd_env *e, const char *leaf, char **out)
{
	char url[64], cert[512];
	char *argv[] = {"openssl",  "ocsp",
			"-url",	    url,
			"-issuer",  (char *)pki("int.crt"),
			"-cert",    cert,
			"-CAfile",  (char *)pki("root.crt"),
			"-timeout", "2",
			NULL};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", e->t.port);
	snprintf(cert, sizeof(cert), "%s", pki(leaf));
	return kst_tool_run(argv, NULL, 0, WAIT_MS, out);
}

static char *last_log_line(const struct ocspd_env *e, int *count)
{
	char **lines = read_lines(e->log, count), *last;

	cr_assert_gt(*count, 0, "nothing logged");
	last = strdup(lines[*count - 1]);
	free_lines(lines, *count);
	return last;
}

Test(tools, ocspd_answers_the_openssl_client_from_the_index)
{
	struct ocspd_env e;
	char *out = NULL, *last;
	int n;

	ocspd_start(&e, "ok");
	cr_assert_eq(ocsp_query(&e, "localhost-ecdsa.crt", &out), 0, "%s", out);
	cr_expect(strstr(out, "Response verify OK") != NULL, "%s", out);
	cr_expect(strstr(out, "localhost-ecdsa.crt: good") != NULL, "%s", out);
	free(out);
	cr_assert_eq(ocsp_query(&e, "revoked.crt", &out), 0, "%s", out);
	cr_expect(strstr(out, "revoked.crt: revoked") != NULL, "%s", out);
	free(out);
	last = last_log_line(&e, &n);
	cr_expect_eq(n, 2, "one log line per request");
	cr_expect(strstr(last, " POST 1 200 ") != NULL, "%s", last);
	cr_expect(strstr(last, " ok") != NULL, "%s", last);
	free(last);
	ocspd_stop(&e);
}

/* Each mode, seen by the real client, and the status it logs. */
struct fault_case {
	const char *mode;
	const char *needle; /* in the openssl output */
	int status;	    /* logged HTTP status, 0 none */
	const char *alt;    /* or this, where OpenSSL versions word it apart */
};

static const struct fault_case fault_cases[] = {
	{"hang", "Error querying OCSP responder", 0},
	{"close", "Error querying OCSP responder", 0},
	/* OpenSSL 3.0: "code=500"; 3.5: "... got http code 500 with
	 * Content-Type: text/plain" */
	{"http500", "code=500", 500, "http code 500"},
	{"garbage", "Error querying OCSP responder", 200},
	{"html", "text/html", 200},
	{"redirect", "Error querying OCSP responder", 302},
	{"wrong-key", "Response Verify Failure", 200},
	{"other-cert", "No Status found", 200},
	{"expired", "Status times invalid", 200},
	{"trylater", "Responder Error: trylater", 200},
	{"delay:400", "localhost-ecdsa.crt: good", 200},
};
static int fault_ids[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
_Static_assert(KST_ARRAY_SIZE(fault_ids) == KST_ARRAY_SIZE(fault_cases),
	       "one id per case");

ParameterizedTestParameters(tools, ocspd_misbehaves_as_its_mode_says)
{
	return cr_make_param_array(int, fault_ids, KST_ARRAY_SIZE(fault_ids));
}

ParameterizedTest(int *id, tools, ocspd_misbehaves_as_its_mode_says)
{
	const struct fault_case *c = &fault_cases[*id];
	struct ocspd_env e;
	char *out = NULL, *last, want[96];
	uint64_t t0;
	int n;

	ocspd_start(&e, c->mode);
	t0 = kst_mono_ms();
	ocsp_query(&e, "localhost-ecdsa.crt", &out);
	cr_expect(out != NULL &&
			  (strstr(out, c->needle) != NULL ||
			   (c->alt != NULL && strstr(out, c->alt) != NULL)),
		  "%s: want '%s'%s%s in: %s", c->mode, c->needle,
		  c->alt ? " or " : "", c->alt ? c->alt : "", out);
	if (strncmp(c->mode, "delay:", 6) == 0)
		cr_expect_geq(kst_mono_ms() - t0, 400);
	free(out);
	last = last_log_line(&e, &n);
	snprintf(want, sizeof(want), " POST 1 %d ", c->status);
	cr_expect(strstr(last, want) != NULL, "%s: %s", c->mode, last);
	cr_expect(strstr(last, c->mode) != NULL, "%s: %s", c->mode, last);
	free(last);
	ocspd_stop(&e);
}

/* A DER request for a PKI leaf issued by int. */
static unsigned char *ocsp_request(const char *leaf, int *len)
{
	X509 *cert = kst_test_cert(leaf), *issuer = kst_test_cert("int");
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, cert, issuer);
	unsigned char *der = NULL;

	cr_assert(cert && issuer && req && id);
	cr_assert_not_null(OCSP_request_add0_id(req, id));
	*len = i2d_OCSP_REQUEST(req, &der);
	cr_assert_gt(*len, 0);
	OCSP_REQUEST_free(req);
	X509_free(cert);
	X509_free(issuer);
	return der;
}

/* The status of the single response in a DER OCSP response body. */
static int ocsp_body_status(const char *body, size_t len)
{
	const unsigned char *p = (const unsigned char *)body;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	OCSP_SINGLERESP *sr = bs ? OCSP_resp_get0(bs, 0) : NULL;
	int st = sr ? OCSP_single_get0_status(sr, NULL, NULL, NULL, NULL) : -1;

	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return st;
}

Test(tools, ocspd_answers_get_under_any_path_prefix)
{
	struct ocspd_env e;
	struct http_resp r;
	int len, fd;
	unsigned char *der = ocsp_request("localhost-ecdsa", &len);
	char b64[1024], enc[2048], req[2600];
	size_t o = 0;

	EVP_EncodeBlock((unsigned char *)b64, der, len);
	OPENSSL_free(der);
	for (const char *s = b64; *s; s++)
		o += (size_t)(strchr("+/=", *s)
				      ? snprintf(enc + o, sizeof(enc) - o,
						 "%%%02X", *s)
				      : snprintf(enc + o, sizeof(enc) - o, "%c",
						 *s));
	ocspd_start(&e, "ok");
	/* url-encoded under a prefix, then raw base64 at the root */
	snprintf(req, sizeof(req), "GET /a/b/%s HTTP/1.1\r\nHost: x\r\n\r\n",
		 enc);
	for (int i = 0; i < 2; i++) {
		fd = tcp_connect(e.t.port);
		send_str(fd, req);
		read_response(fd, &r);
		close(fd);
		cr_assert_eq(r.status, 200, "%s", r.head);
		cr_expect(strcasestr(r.head,
				     "Content-Type: "
				     "application/ocsp-response") != NULL,
			  "%s", r.head);
		cr_expect_eq(ocsp_body_status(r.body, r.body_len),
			     V_OCSP_CERTSTATUS_GOOD);
		free(r.body);
		snprintf(req, sizeof(req), "GET /%s HTTP/1.0\r\n\r\n", b64);
	}
	ocspd_stop(&e);
}

/* A POST the way OpenSSL sends it; returns the connected socket. */
static int ocsp_post(const struct ocspd_env *e)
{
	int len, fd = tcp_connect(e->t.port);
	unsigned char *der = ocsp_request("localhost-ecdsa", &len);
	char head[256];

	snprintf(head, sizeof(head),
		 "POST / HTTP/1.0\r\nContent-Type: application/ocsp-request"
		 "\r\nContent-Length: %d\r\n\r\n",
		 len);
	send_str(fd, head);
	send_all(fd, der, (size_t)len);
	OPENSSL_free(der);
	return fd;
}

Test(tools, ocspd_http_faults_look_right_on_the_wire)
{
	struct ocspd_env e;
	struct http_resp r;
	int fd;

	ocspd_start(&e, "redirect");
	fd = ocsp_post(&e);
	read_response(fd, &r);
	close(fd);
	cr_expect_eq(r.status, 302);
	cr_expect(strstr(r.head, "\r\nLocation: http://127.0.0.1:") != NULL,
		  "%s", r.head);
	free(r.body);
	ocspd_mode(&e, "garbage");
	fd = ocsp_post(&e);
	read_response(fd, &r);
	close(fd);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(ocsp_body_status(r.body, r.body_len), -1,
		     "garbage must not parse as OCSP");
	free(r.body);
	ocspd_mode(&e, "trylater");
	fd = ocsp_post(&e);
	read_response(fd, &r);
	close(fd);
	{
		const unsigned char *p = (const unsigned char *)r.body;
		OCSP_RESPONSE *resp =
			d2i_OCSP_RESPONSE(NULL, &p, (long)r.body_len);

		cr_assert_not_null(resp);
		cr_expect_eq(OCSP_response_status(resp),
			     OCSP_RESPONSE_STATUS_TRYLATER);
		OCSP_RESPONSE_free(resp);
	}
	free(r.body);
	ocspd_stop(&e);
}

Test(tools, ocspd_hanging_request_blocks_no_other_and_stop_cleans_up)
{
	struct ocspd_env e;
	char *out = NULL, *last, buf[16];
	uint64_t end;
	int fd, n = 0;

	ocspd_start(&e, "hang");
	fd = ocsp_post(&e);
	/* wait (bounded) until the hanging child has read the request */
	for (end = kst_mono_ms() + WAIT_MS; n == 0 && kst_mono_ms() < end;) {
		struct stat st;

		if (stat(e.log, &st) == 0 && st.st_size > 0)
			free(last_log_line(&e, &n));
		else
			usleep(10000);
	}
	cr_assert_eq(n, 1, "the hanging request was not logged");
	ocspd_mode(&e, "ok");
	cr_assert_eq(ocsp_query(&e, "localhost-ecdsa.crt", &out), 0, "%s", out);
	cr_expect(strstr(out, "localhost-ecdsa.crt: good") != NULL, "%s", out);
	free(out);
	last = last_log_line(&e, &n);
	cr_expect_eq(n, 2);
	free(last);
	/* SIGTERM ends the hanging child too: its socket closes */
	ocspd_stop(&e);
	cr_expect_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
}
