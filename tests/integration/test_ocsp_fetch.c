// SPDX-License-Identifier: MIT
/*
 * The fetch job against real responders on loopback: kst-ocspd (the real
 * `openssl ocsp` index responder, in each of its fault modes) and, for
 * answers no responder gives on purpose, a canned HTTP server thread in
 * this process that also plays an HTTP proxy. Each case checks what an
 * operator would see: the outcome code, the HTTP status, the detail, the
 * verdict, and the body kept for the control thread (a response the ingest
 * path accepts). The control thread decides what is stapled and persisted
 * (tests/integration/test_revocation.c, test_state_dir.c); the job only
 * writes a usable response ahead beside the path it is given, for the
 * control thread to rename (or the job's free to remove).
 *
 * The request and the GET/POST plan are checked against OpenSSL's own
 * reading of them (d2i, OCSP_id_cmp, base64 decoding here), never against
 * the code under test. Every process started is stopped by PID, every
 * wait is bounded.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include "daemon/ocsp/fetch.h"
#include "daemon/ocsp/fetch_http.h"
#include "daemon/base/util.h"
#include "tests/lib/dnssink.h"
#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"
#include "tests/lib/toolproc.h"

#define WAIT_MS 10000
#define D	86400L

/* ------------------------------------------------------- test fixture */

/* What a test started, for the suite's fini (also after a failure). */
static struct {
	struct kst_h_ocspd ocspd[2];
	struct kst_tool ocspd6; /* on [::1], which the harness does not do */
} env;

static void canned_stop_all(void);

static void fetch_fini(void)
{
	canned_stop_all();
	for (int i = 0; i < 2; i++)
		kst_h_ocspd_stop(&env.ocspd[i]);
	kst_tool_release(&env.ocspd6);
}

TestSuite(fetch, .fini = fetch_fini);

static char *pki(const char *name)
{
	return (char *)kst_h_pki(name);
}

/* Lines kst-ocspd logged (one per request), or those that have word. */
static int ocspd_requests(int i, const char *word)
{
	return word == NULL ? kst_h_ocspd_requests(&env.ocspd[i])
			    : kst_h_count(env.ocspd[i].log, word);
}

static const char *url_of(int port, const char *path)
{
	static char bufs[4][512];
	static unsigned next;
	char *b = bufs[next++ % KST_ARRAY_SIZE(bufs)];

	snprintf(b, sizeof(bufs[0]), "http://127.0.0.1:%d%s", port, path);
	return b;
}

static struct kst_fetch_opts quick_opts(void)
{
	struct kst_fetch_opts o;

	kst_fetch_opts_default(&o);
	o.connect_timeout_ms = 2000;
	o.response_timeout_ms = 5000;
	return o;
}

/* A job for a PKI leaf issued by int. */
static struct kst_fetch_job *make_job(const char *leaf, const char *const *urls,
				      size_t n, const struct kst_fetch_opts *o)
{
	X509 *cert = kst_test_cert(leaf), *issuer = kst_test_cert("int");
	struct kst_fetch_job *job;

	cr_assert(cert != NULL && issuer != NULL, "test PKI: %s", leaf);
	job = kst_fetch_job_new(NULL, cert, issuer, urls, n, o);
	cr_assert_not_null(job, "%s", strerror(errno));
	X509_free(cert);
	X509_free(issuer);
	return job;
}

/* Entries in the temp dir whose name contains ".ocsp" (a state file, or
 * a temporary one): the job must write none. */
static int leftovers(void)
{
	DIR *d = opendir(kst_h_dir());
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".ocsp") != NULL)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

/* The body kept is a good response the ingest path accepts for leaf, and
 * nothing was written. */
static void expect_good_body(const struct kst_fetch_job *job, const char *leaf)
{
	X509 *cert = kst_test_cert(leaf), *issuer = kst_test_cert("int");
	struct kst_ocsp_verdict v;

	cr_assert_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	cr_assert(job->der != NULL && job->len > 0, "no body kept");
	cr_expect_eq(kst_ocsp_ingest(job->der, job->len, cert, issuer,
				     kst_now(), NULL, &v),
		     KST_OCSP_OK, "%s", v.detail);
	cr_expect_eq(v.cert_status, V_OCSP_CERTSTATUS_GOOD);
	cr_expect_eq(leftovers(), 0, "the job wrote a file");
	X509_free(cert);
	X509_free(issuer);
}

/* --------------------------------------------- canned server / proxy */

/*
 * A loopback HTTP server thread: for each connection it reads one
 * request (head, and a body by Content-Length), keeps the first head,
 * then either answers `answer` verbatim (then closes, or hangs until
 * stopped), or, as a proxy, forwards the request to 127.0.0.1:upstream
 * and relays the answer back.
 */
struct canned {
	int lfd, port, upstream;
	unsigned char answer[8192];
	size_t answer_len;
	bool hang;
	pthread_t thread;
	int stop[2]; /* pipe: readable = stop */
	pthread_mutex_t lock;
	char first_head[8192];
	int requests;
	bool running;
};

static struct canned *canned_list[2];

/* Read into buf until the head ends, then the body; bounded. */
static ssize_t canned_read_request(struct canned *c, int fd, char *buf,
				   size_t cap)
{
	uint64_t end = kst_mono_ms() + WAIT_MS;
	size_t len = 0, want = 0;
	char *h;

	while (want == 0 || len < want) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {c->stop[0], POLLIN, 0}};
		uint64_t now = kst_mono_ms();
		ssize_t n;

		if (now >= end || len == cap ||
		    poll(p, 2, (int)(end - now)) <= 0 || p[1].revents)
			return -1;
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (want == 0 && (h = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "Content-Length:");

			want = (size_t)(h - buf) + 4 +
			       (cl && cl < h ? strtoul(cl + 15, NULL, 10) : 0);
		}
	}
	return (ssize_t)len;
}

static void canned_send(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* As a proxy: the request to upstream, its answer back, bounded. */
static void canned_forward(struct canned *c, int fd, const char *req,
			   size_t len)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)c->upstream),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t end = kst_mono_ms() + WAIT_MS;
	char buf[4096];

	if (up < 0 || connect(up, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (up >= 0)
			close(up);
		return;
	}
	canned_send(up, req, len);
	for (;;) {
		struct pollfd p = {up, POLLIN, 0};
		uint64_t now = kst_mono_ms();
		ssize_t n;

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			break;
		n = recv(up, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		canned_send(fd, buf, (size_t)n);
	}
	close(up);
}

static void canned_serve(struct canned *c, int fd)
{
	size_t cap = 65536;
	char *req = malloc(cap);
	ssize_t n = req ? canned_read_request(c, fd, req, cap - 1) : -1;
	struct pollfd p = {c->stop[0], POLLIN, 0};

	pthread_mutex_lock(&c->lock);
	if (n > 0 && c->requests++ == 0)
		snprintf(c->first_head, sizeof(c->first_head), "%s", req);
	pthread_mutex_unlock(&c->lock);
	if (n > 0 && c->upstream > 0) {
		canned_forward(c, fd, req, (size_t)n);
	} else if (n > 0) {
		canned_send(fd, c->answer, c->answer_len);
		if (c->hang)
			poll(&p, 1, 30000); /* until stopped, bounded */
	}
	free(req);
}

static void *canned_main(void *arg)
{
	struct canned *c = arg;

	for (;;) {
		struct pollfd p[2] = {{c->lfd, POLLIN, 0},
				      {c->stop[0], POLLIN, 0}};
		int fd;

		if (poll(p, 2, 30000) <= 0 || p[1].revents)
			break;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		canned_serve(c, fd);
		close(fd);
	}
	return NULL;
}

static struct canned *canned_start(const void *answer, size_t len)
{
	struct canned *c = calloc(1, sizeof(*c));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	cr_assert_not_null(c);
	cr_assert_leq(len, sizeof(c->answer));
	memcpy(c->answer, answer, len);
	c->answer_len = len;
	pthread_mutex_init(&c->lock, NULL);
	c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(c->lfd >= 0 && pipe2(c->stop, O_CLOEXEC) == 0);
	cr_assert_eq(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(c->lfd, 16), 0);
	cr_assert_eq(getsockname(c->lfd, (struct sockaddr *)&a, &al), 0);
	c->port = ntohs(a.sin_port);
	for (size_t i = 0; i < KST_ARRAY_SIZE(canned_list); i++) {
		if (canned_list[i] == NULL) {
			canned_list[i] = c;
			break;
		}
	}
	return c;
}

static void canned_run(struct canned *c)
{
	cr_assert_eq(pthread_create(&c->thread, NULL, canned_main, c), 0);
	c->running = true;
}

static void canned_stop(struct canned *c)
{
	if (c->running) {
		if (write(c->stop[1], "x", 1) != 1)
			cr_log_warn("cannot stop the canned server");
		pthread_join(c->thread, NULL);
	}
	close(c->lfd);
	close(c->stop[0]);
	close(c->stop[1]);
	for (size_t i = 0; i < KST_ARRAY_SIZE(canned_list); i++)
		if (canned_list[i] == c)
			canned_list[i] = NULL;
	free(c);
}

static void canned_stop_all(void)
{
	for (size_t i = 0; i < KST_ARRAY_SIZE(canned_list); i++)
		if (canned_list[i] != NULL)
			canned_stop(canned_list[i]);
}

/* A 200 application/ocsp-response answer with body, into out. */
static size_t ocsp_answer(unsigned char *out, size_t cap,
			  const unsigned char *body, size_t len)
{
	int n = snprintf((char *)out, cap,
			 "HTTP/1.0 200 OK\r\nContent-Type: "
			 "application/ocsp-response\r\nContent-Length: "
			 "%zu\r\n\r\n",
			 len);

	cr_assert(n > 0 && (size_t)n + len <= cap);
	memcpy(out + n, body, len);
	return (size_t)n + len;
}

/* A good response for localhost-ecdsa, signed by int, valid now. */
static void mint_good(unsigned char **der, size_t *len)
{
	time_t now = kst_now();

	cr_assert_eq(kst_mint_simple("localhost-ecdsa", V_OCSP_CERTSTATUS_GOOD,
				     now - 60, now + D, "int", der, len),
		     0);
}

/* ------------------------------------------------------- the request */

Test(fetch, request_names_the_certificate_by_its_issuer)
{
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *int_ca = kst_test_cert("int");
	OCSP_CERTID *want = OCSP_cert_to_id(NULL, leaf, int_ca);
	OCSP_REQUEST *req = NULL, *back;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;

	cr_assert_eq(
		kst_fetch_request_build(leaf, int_ca, false, &req, &der, &len),
		0);
	p = der;
	back = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	cr_assert_not_null(back, "the DER parses back");
	cr_expect_eq(p, der + len, "no trailing bytes");
	cr_assert_eq(OCSP_request_onereq_count(back), 1);
	cr_expect_eq(OCSP_id_cmp(OCSP_onereq_get0_id(
					 OCSP_request_onereq_get0(back, 0)),
				 want),
		     0, "the CertID is the leaf's, as issued by int");
	cr_expect_lt(
		OCSP_REQUEST_get_ext_by_NID(back, NID_id_pkix_OCSP_Nonce, -1),
		0, "no nonce unless asked");
	OCSP_REQUEST_free(back);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	OCSP_CERTID_free(want);
	X509_free(leaf);
	X509_free(int_ca);
}

Test(fetch, request_carries_a_fresh_nonce_when_asked)
{
	X509 *leaf = kst_test_cert("localhost-rsa"),
	     *int_ca = kst_test_cert("int");
	OCSP_REQUEST *req[2] = {NULL, NULL};
	unsigned char *der[2] = {NULL, NULL};
	size_t len[2] = {0, 0};

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(kst_fetch_request_build(leaf, int_ca, true,
						     &req[i], &der[i], &len[i]),
			     0);
		cr_expect_geq(OCSP_REQUEST_get_ext_by_NID(
				      req[i], NID_id_pkix_OCSP_Nonce, -1),
			      0);
	}
	cr_expect(len[0] != len[1] || memcmp(der[0], der[1], len[0]) != 0,
		  "two requests carry different nonces");
	for (int i = 0; i < 2; i++) {
		OCSP_REQUEST_free(req[i]);
		OPENSSL_free(der[i]);
	}
	cr_expect_eq(kst_fetch_request_build(NULL, int_ca, false, &req[0],
					     &der[0], &len[0]),
		     -EINVAL);
	cr_expect(req[0] == NULL && der[0] == NULL && len[0] == 0);
	X509_free(leaf);
	X509_free(int_ca);
}

/* ----------------------------------------------------------- the plan */

/* Undo the GET encoding independently: %XX, then base64. */
static size_t decode_get(const char *enc, unsigned char *out, size_t cap)
{
	char b64[1024];
	size_t n = 0, pad = 0;
	int dl;

	for (const char *s = enc; *s != '\0' && n + 1 < sizeof(b64); s++) {
		unsigned v;

		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
			b64[n++] = (char)v;
			s += 2;
		} else {
			b64[n++] = *s;
		}
	}
	while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
		pad++;
	cr_assert_leq(n / 4 * 3, cap);
	dl = EVP_DecodeBlock(out, (unsigned char *)b64, (int)n);
	cr_assert_geq(dl, 0, "not base64: %s", enc);
	return (size_t)dl - pad;
}

static void request_der(bool nonce, unsigned char **der, size_t *len)
{
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *int_ca = kst_test_cert("int");
	OCSP_REQUEST *req = NULL;

	cr_assert_eq(
		kst_fetch_request_build(leaf, int_ca, nonce, &req, der, len),
		0);
	OCSP_REQUEST_free(req);
	X509_free(leaf);
	X509_free(int_ca);
}

Test(fetch, plan_gets_small_requests_in_the_url_path)
{
	unsigned char *der = NULL, back[512];
	size_t len = 0;
	char *path = NULL;

	request_der(false, &der, &len);
	cr_assert_eq(kst_fetch_http_plan("http://ocsp.example.test", der, len,
					 &path),
		     0);
	cr_assert_not_null(path, "GET for a %zu-byte request", len);
	cr_expect_eq(path[0], '/');
	cr_expect_null(strpbrk(path + 1, "+/="), "URL-encoded: %s", path);
	cr_expect_eq(decode_get(path + 1, back, sizeof(back)), len);
	cr_expect_eq(memcmp(back, der, len), 0, "the path holds the request");
	free(path);
	/* a path prefix is kept, with one '/' before the request */
	cr_assert_eq(
		kst_fetch_http_plan("http://h.test:8080/ocsp", der, len, &path),
		0);
	cr_assert_not_null(path);
	cr_expect_eq(strncmp(path, "/ocsp/", 6), 0, "%s", path);
	cr_expect_eq(decode_get(path + 6, back, sizeof(back)), len);
	free(path);
	cr_assert_eq(
		kst_fetch_http_plan("http://h.test/ocsp/", der, len, &path), 0);
	cr_assert_not_null(path);
	cr_expect(strncmp(path, "/ocsp/", 6) == 0 && path[6] != '/', "%s",
		  path);
	free(path);
	OPENSSL_free(der);
}

Test(fetch, plan_posts_when_the_get_url_would_reach_255_bytes)
{
	unsigned char *der = NULL;
	size_t len = 0, enc;
	char *path = NULL, url[512];
	int k;

	request_der(true, &der, &len);
	/* the encoded request's length, from a GET to the shortest URL */
	cr_assert_eq(kst_fetch_http_plan("http://h/", der, len, &path), 0);
	cr_assert_not_null(path);
	enc = strlen(path) - 1;
	free(path);
	/* "http://h/" + k x 'a' + "/" + request: 254 bytes -> GET */
	k = (int)(254 - strlen("http://h/") - 1 - enc);
	cr_assert_gt(k, 0, "a nonced request encodes to %zu bytes", enc);
	snprintf(url, sizeof(url), "http://h/%.*s", k,
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaa");
	cr_assert_eq(kst_fetch_http_plan(url, der, len, &path), 0);
	cr_expect_not_null(path, "254 bytes: GET");
	cr_expect_eq(strlen(url) + 1 + enc, 254);
	free(path);
	strcat(url, "a");
	cr_assert_eq(kst_fetch_http_plan(url, der, len, &path), 0);
	cr_expect_null(path, "255 bytes: POST");
	free(path);
	/* a query leaves no room for the request in the path */
	cr_assert_eq(kst_fetch_http_plan("http://h/ocsp?x=1", der, len, &path),
		     0);
	cr_expect_null(path);
	OPENSSL_free(der);
}

Test(fetch, plan_refuses_what_is_not_an_http_url)
{
	static const char *const bad[] = {"ftp://h/", "http://", "",
					  "http://h:99999/", "http://a b/"};
	unsigned char der[] = {0x30, 0x00};
	char *path = (char *)"unset";

	for (size_t i = 0; i < KST_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(
			kst_fetch_http_plan(bad[i], der, sizeof(der), &path),
			-EINVAL, "'%s'", bad[i]);
		cr_expect_null(path);
	}
}

Test(fetch, error_names_are_stable_short_tokens)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{KST_FETCH_OK, "ok"},
		{KST_FETCH_E_NO_URL, "no-url"},
		{KST_FETCH_E_RESOLVE, "resolve"},
		{KST_FETCH_E_CONNECT, "connect"},
		{KST_FETCH_E_TIMEOUT, "timeout"},
		{KST_FETCH_E_HTTP, "http"},
		{KST_FETCH_E_REDIRECT, "redirect"},
		{KST_FETCH_E_BODY, "body"},
		{KST_FETCH_E_TOO_LARGE, "too-large"},
		{KST_FETCH_E_NONCE, "nonce"},
		{KST_FETCH_E_VERDICT, "verdict"},
		{KST_FETCH_E_WRITE, "write"},
		{KST_FETCH_E_PROXY, "proxy"},
		{KST_FETCH_E_INTERNAL, "internal"},
		{KST_OCSP_E_REVOKED, "revoked"},
		{KST_OCSP_E_EXPIRED, "expired"},
		{63, "invalid"},
		{77, "invalid"},
		{-1, "invalid"},
	};

	cr_expect_eq(KST_FETCH_E_NO_URL, 64, "bpf/kstapled.h: 64..127");
	cr_expect_eq(KST_FETCH_E_INTERNAL, 76);
	for (size_t i = 0; i < KST_ARRAY_SIZE(names); i++) {
		cr_expect_str_eq(kst_fetch_err_name(names[i].code),
				 names[i].name, "code %d", names[i].code);
		cr_expect_lt(strlen(kst_fetch_err_name(names[i].code)), 16);
	}
}

/* ------------------------------------------- fetching from kst-ocspd */

Test(fetch, fetches_a_good_response_by_get_and_writes_nothing)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 1, &o);

	kst_fetch_run(job, 0);
	cr_assert_eq(job->err, KST_FETCH_OK, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->http_status, 200);
	cr_expect_str_eq(job->url, urls[0]);
	cr_expect_eq(job->verdict.err, KST_OCSP_OK);
	cr_expect_eq(job->verdict.cert_status, V_OCSP_CERTSTATUS_GOOD);
	cr_expect(job->started > 0 && job->finished >= job->started);
	expect_good_body(job, "localhost-ecdsa");
	cr_expect_eq(ocspd_requests(0, " GET "), 1, "one GET request");
	cr_expect(strstr(job->detail, "GET") != NULL, "%s", job->detail);
	/* a second fetch replaces the body kept */
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	expect_good_body(job, "localhost-ecdsa");
	kst_fetch_job_free(job);
}

/* Files in dir whose name has the write-ahead infix. */
static int ahead_files(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(dp, "%s", dir);
	while ((e = readdir(dp)) != NULL)
		n += strstr(e->d_name, KST_TMP_INFIX) != NULL;
	closedir(dp);
	return n;
}

Test(fetch, a_usable_response_is_written_ahead_and_removed_if_not_taken)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	const char *dir = kst_h_path("state");
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 1, &o);
	struct kst_fetch_job *rev = make_job("revoked", urls, 1, &o);
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;

	cr_assert_eq(mkdir(dir, 0750), 0);
	cr_assert_geq(asprintf(&job->persist_path, "%s/good.ocsp", dir), 0);
	cr_assert_geq(asprintf(&rev->persist_path, "%s/rev.ocsp", dir), 0);
	kst_fetch_run(job, 0);
	cr_assert_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	cr_assert_not_null(job->persist_tmp, "written ahead");
	cr_expect_eq(strncmp(job->persist_tmp, job->persist_path,
			     strlen(job->persist_path)),
		     0, "beside the path: %s", job->persist_tmp);
	cr_assert_eq(kst_test_read_file(job->persist_tmp, &buf, &len), 0);
	cr_expect(len == job->len && memcmp(buf, job->der, len) == 0,
		  "the body, byte for byte");
	free(buf);
	cr_assert_eq(stat(job->persist_tmp, &st), 0);
	cr_expect_eq(st.st_mode & 0777, KST_FETCH_PERSIST_MODE);
	cr_expect_neq(access(job->persist_path, F_OK), 0, "nothing renamed");
	/* a second run replaces its file, never adds one */
	kst_fetch_run(job, 0);
	cr_expect_eq(ahead_files(dir), 1);
	/* a revoked answer is the control thread's to judge: not written */
	kst_fetch_run(rev, 0);
	cr_expect_eq(rev->err, KST_FETCH_E_VERDICT, "%s", rev->detail);
	cr_expect_null(rev->persist_tmp);
	kst_fetch_job_free(rev);
	/* not taken by the control thread: the free removes it */
	kst_fetch_job_free(job);
	cr_expect_eq(ahead_files(dir), 0, "nothing left behind");
}

Test(fetch, posts_when_the_url_leaves_no_room_for_get)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	char path[300];
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[240] = '/';
	path[241] = '\0';
	urls[0] = url_of(port, path);
	job = make_job("localhost-rsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_assert_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	expect_good_body(job, "localhost-rsa");
	cr_expect_eq(ocspd_requests(0, " POST "), 1, "one POST request");
	cr_expect_eq(ocspd_requests(0, " GET "), 0);
	kst_fetch_job_free(job);
}

Test(fetch, a_nonce_is_echoed_by_the_openssl_responder)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	o.nonce = true;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	expect_good_body(job, "localhost-ecdsa");
	kst_fetch_job_free(job);
}

/* One fault mode of kst-ocspd and what the job must say. */
struct fault_case {
	char mode[16];
	char leaf[24];
	int err;
	int status;	 /* http_status */
	int verdict[2];	 /* E_VERDICT: verdict.err is one of these */
	char needle[40]; /* in detail */
};

// clang-format off
static struct fault_case fault_cases[] = {
	{"hang", "localhost-ecdsa", KST_FETCH_E_TIMEOUT, 0, {0, 0}, "within"},
	{"close", "localhost-ecdsa", KST_FETCH_E_HTTP, 0, {0, 0}, "closed"},
	{"http500", "localhost-ecdsa", KST_FETCH_E_HTTP, 500, {0, 0}, "500"},
	{"garbage", "localhost-ecdsa", KST_FETCH_E_BODY, 200, {0, 0}, "OCSP"},
	{"html", "localhost-ecdsa", KST_FETCH_E_BODY, 200, {0, 0}, "text/html"},
	{"redirect", "localhost-ecdsa", KST_FETCH_E_REDIRECT, 302, {0, 0},
	 "/redirected"},
	{"wrong-key", "localhost-ecdsa", KST_FETCH_E_VERDICT, 200,
	 {KST_OCSP_E_SIGNER, KST_OCSP_E_SIGNATURE}, "refused"},
	{"other-cert", "localhost-ecdsa", KST_FETCH_E_VERDICT, 200,
	 {KST_OCSP_E_NO_MATCH, KST_OCSP_E_NO_MATCH}, "no-match"},
	{"expired", "localhost-ecdsa", KST_FETCH_E_VERDICT, 200,
	 {KST_OCSP_E_EXPIRED, KST_OCSP_E_EXPIRED}, "expired"},
	{"trylater", "localhost-ecdsa", KST_FETCH_E_VERDICT, 200,
	 {KST_OCSP_E_STATUS, KST_OCSP_E_STATUS}, "status"},
	{"ok", "revoked", KST_FETCH_E_VERDICT, 200,
	 {KST_OCSP_E_REVOKED, KST_OCSP_E_REVOKED}, "revoked"},
	{"delay:300", "localhost-ecdsa", KST_FETCH_OK, 200, {0, 0}, "GET"},
};
// clang-format on

ParameterizedTestParameters(fetch, each_responder_fault_gives_its_code)
{
	return cr_make_param_array(struct fault_case, fault_cases,
				   KST_ARRAY_SIZE(fault_cases));
}

ParameterizedTest(struct fault_case *c, fetch,
		  each_responder_fault_gives_its_code)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], c->mode);
	const char *urls[] = {url_of(port, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0, ms;

	o.response_timeout_ms = 1500;
	job = make_job(c->leaf, urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	ms = kst_mono_ms() - t0;
	cr_log_info("%s: %s (HTTP %d) after %lu ms: %s", c->mode,
		    kst_fetch_err_name(job->err), job->http_status,
		    (unsigned long)ms, job->detail);
	cr_expect_eq(job->err, c->err, "%s: %s (%s)", c->mode,
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->http_status, c->status, "%s", c->mode);
	cr_expect(strstr(job->detail, c->needle) != NULL, "%s: '%s' lacks '%s'",
		  c->mode, job->detail, c->needle);
	if (c->err == KST_FETCH_E_VERDICT)
		cr_expect((int)job->verdict.err == c->verdict[0] ||
				  (int)job->verdict.err == c->verdict[1],
			  "%s: verdict %s", c->mode,
			  kst_ocsp_err_name(job->verdict.err));
	if (c->err != KST_FETCH_OK) {
		cr_expect_eq(leftovers(), 0, "%s: nothing may be written",
			     c->mode);
	}
	if (strcmp(c->mode, "hang") == 0)
		cr_expect(ms >= 1450 && ms < 1500 + 1000,
			  "hang: gave up after %lu ms", (unsigned long)ms);
	else
		cr_expect_lt(ms, 1500, "%s: took %lu ms", c->mode,
			     (unsigned long)ms);
	kst_fetch_job_free(job);
}

Test(fetch, a_revoked_answer_carries_the_revocation)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("revoked", urls, 1, &o);

	kst_fetch_run(job, 0);
	cr_assert_eq(job->err, KST_FETCH_E_VERDICT, "%s", job->detail);
	cr_expect_eq(job->verdict.err, KST_OCSP_E_REVOKED);
	cr_expect_eq(job->verdict.cert_status, V_OCSP_CERTSTATUS_REVOKED);
	cr_expect_gt(job->verdict.revoked_at, 0);
	cr_expect_lt(job->verdict.revoked_at, kst_now());
	cr_expect_eq(job->verdict.revocation_reason,
		     OCSP_REVOKED_STATUS_KEYCOMPROMISE, "index.txt says why");
	cr_expect(job->der != NULL && job->len > 0,
		  "the body is kept for the caller");
	cr_expect_eq(leftovers(), 0);
	kst_fetch_job_free(job);
}

Test(fetch, nothing_listening_is_a_connect_error)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	/* bound, never listening: the port is ours and refuses */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0;

	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	urls[0] = url_of(ntohs(a.sin_port), "/");
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_CONNECT, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, "refused") != NULL, "%s", job->detail);
	cr_expect_lt(kst_mono_ms() - t0, 1000);
	cr_expect_eq(job->http_status, 0);
	kst_fetch_job_free(job);
	close(fd);
}

Test(fetch, a_connection_that_never_completes_is_a_timeout)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0, ms;

	/* a full accept queue (backlog 0, one connection waiting): the
	 * kernel drops further SYNs, as a filtered address would */
	cr_assert(lfd >= 0 && filler >= 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 0), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	cr_assert_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
	urls[0] = url_of(ntohs(a.sin_port), "/");
	o.connect_timeout_ms = 500;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	ms = kst_mono_ms() - t0;
	cr_expect_eq(job->err, KST_FETCH_E_TIMEOUT, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, "connecting") != NULL, "%s", job->detail);
	cr_expect(ms >= 480 && ms < 1500, "gave up after %lu ms",
		  (unsigned long)ms);
	kst_fetch_job_free(job);
	close(filler);
	close(lfd);
}

Test(fetch, reaches_a_responder_at_an_ipv6_literal)
{
	struct kst_tool *t = &env.ocspd6;
	char *path = kst_tool_path("kst-ocspd"), url[64];
	const char *urls[] = {url};
	char *argv[] = {path,
			"-l",
			"[::1]:0",
			"--index",
			pki("index.txt"),
			"--ca",
			pki("int.crt"),
			"--rkey",
			pki("int.key"),
			NULL};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	int r;

	kst_test_require(kst_tool_built("kst-ocspd"),
			 "kst-ocspd is not built in $KST_BUILD/tools "
			 "(make all)");
	r = kst_tool_start(t, argv, "ready ", WAIT_MS);
	free(path);
	kst_test_require(r == 0, "no IPv6 loopback here: %d", r);
	snprintf(url, sizeof(url), "http://[::1]:%d/ocsp", t->port);
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	expect_good_body(job, "localhost-ecdsa");
	kst_fetch_job_free(job);
}

Test(fetch, an_unresolvable_name_is_a_resolve_error)
{
	const char *urls[] = {"http://nonexistent.invalid/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 1, &o);
	uint64_t t0 = kst_mono_ms();

	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_RESOLVE, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, "nonexistent.invalid") != NULL, "%s",
		  job->detail);
	/* getaddrinfo is bounded by the resolver, not by our timeouts */
	cr_expect_lt(kst_mono_ms() - t0, 10000);
	kst_fetch_job_free(job);
}

Test(fetch, tries_the_next_url_when_one_fails)
{
	int bad = kst_edge_ocspd_start(&env.ocspd[0], "http500"),
	    good = kst_edge_ocspd_start(&env.ocspd[1], "ok");
	const char *urls[] = {"http://nonexistent.invalid/", url_of(bad, "/"),
			      url_of(good, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 3, &o);

	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	cr_expect_str_eq(job->url, urls[2], "the last attempt is reported");
	cr_expect_eq(ocspd_requests(0, " 500 "), 1);
	cr_expect_eq(ocspd_requests(1, " 200 "), 1);
	expect_good_body(job, "localhost-ecdsa");
	kst_fetch_job_free(job);
}

Test(fetch, reports_the_last_url_when_all_fail)
{
	int a = kst_edge_ocspd_start(&env.ocspd[0], "http500"),
	    b = kst_edge_ocspd_start(&env.ocspd[1], "html");
	const char *urls[] = {url_of(a, "/"), url_of(b, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 2, &o);

	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_BODY, "%s", job->detail);
	cr_expect_str_eq(job->url, urls[1]);
	cr_expect_eq(job->http_status, 200);
	cr_expect_eq(ocspd_requests(0, NULL), 1);
	kst_fetch_job_free(job);
}

Test(fetch, a_revoked_answer_is_final_and_no_mirror_is_asked)
{
	int a = kst_edge_ocspd_start(&env.ocspd[0], "ok"),
	    b = kst_edge_ocspd_start(&env.ocspd[1], "ok");
	const char *urls[] = {url_of(a, "/"), url_of(b, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("revoked", urls, 2, &o);

	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_VERDICT, "%s", job->detail);
	cr_expect_eq(job->verdict.err, KST_OCSP_E_REVOKED);
	cr_expect_str_eq(job->url, urls[0]);
	cr_expect_eq(ocspd_requests(1, NULL), 0, "the second URL is unused");
	kst_fetch_job_free(job);
}

Test(fetch, a_response_over_max_size_is_too_large)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	o.max_size = 100; /* the responder's answers are several hundred */
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_TOO_LARGE, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->http_status, 200);
	cr_expect_eq(leftovers(), 0);
	kst_fetch_job_free(job);
}

Test(fetch, the_defaults_fetch_and_keep_the_body_only)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	const char *urls[] = {url_of(port, "/")};
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	struct kst_fetch_job *job =
		kst_fetch_job_new(NULL, leaf, issuer, urls, 1, NULL);

	cr_assert_not_null(job);
	cr_expect_eq(job->opts.response_timeout_ms, 10000, "the defaults");
	kst_fetch_run(job, 0);
	expect_good_body(job, "localhost-ecdsa");
	kst_fetch_job_free(job);
	X509_free(leaf);
	X509_free(issuer);
}

Test(fetch, no_usable_url_is_no_url)
{
	const char *urls[] = {"https://ocsp.example.test/", "ftp://x/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 0, &o);

	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_NO_URL);
	kst_fetch_job_free(job);
	job = make_job("localhost-ecdsa", urls, 2, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_NO_URL, "%s", job->detail);
	cr_expect_str_eq(job->url, urls[1]);
	kst_fetch_job_free(job);
}

/* ----------------------------------------------- the canned responder */

/* Raw answers no real responder gives on purpose. */
struct raw_case {
	char name[24];
	char answer[512]; /* sent verbatim, then closed (or hang) */
	bool hang;
	bool post; /* force POST with a long URL */
	int err, status;
	char needle[48];
};

// clang-format off
static struct raw_case raw_cases[] = {
	{"404", "HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\nno",
	 false, false, KST_FETCH_E_HTTP, 404, "404"},
	{"503-http11",
	 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
	 false, false, KST_FETCH_E_HTTP, 503, "503"},
	{"redirect-get",
	 "HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.test/x\r\n"
	 "Content-Length: 0\r\n\r\n",
	 false, false, KST_FETCH_E_REDIRECT, 301, "http://elsewhere.test/x"},
	{"redirect-post",
	 "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.test/y\r\n"
	 "Content-Length: 0\r\n\r\n",
	 false, true, KST_FETCH_E_REDIRECT, 302, "http://elsewhere.test/y"},
	{"not-http", "SSH-2.0-OpenSSH_9.2\r\n",
	 false, false, KST_FETCH_E_HTTP, 0, "not HTTP"},
	{"empty", "", false, false, KST_FETCH_E_HTTP, 0, "closed"},
	{"not-der",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\n"
	 "abcdefgh",
	 false, false, KST_FETCH_E_BODY, 200, "OCSP"},
	{"no-content-type", "HTTP/1.0 200 OK\r\n\r\n\x30\x03\x0a\x01\x01",
	 false, false, KST_FETCH_E_BODY, 200, "content"},
	{"truncated",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
	 "Content-Length: 100\r\n\r\n\x30\x62\x0a\x01",
	 false, false, KST_FETCH_E_BODY, 200, "ended early"},
	{"huge-length",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
	 "Content-Length: 99999999\r\n\r\n",
	 false, false, KST_FETCH_E_TOO_LARGE, 200, "65536"},
	{"huge-der",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\n"
	 "\x30\x83\x10\x01\x01\x04",
	 true, false, KST_FETCH_E_TOO_LARGE, 200, "65536"},
	{"head-then-silence",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n",
	 true, false, KST_FETCH_E_TIMEOUT, 200, "within"},
	{"body-then-silence",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
	 "Content-Length: 10\r\n\r\n\x30\x08",
	 true, false, KST_FETCH_E_TIMEOUT, 200, "within"},
	{"unparsable-ocsp",
	 "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n\r\n"
	 "\x30\x03\x02\x01\x05",
	 false, false, KST_FETCH_E_VERDICT, 200, "parse"},
};
// clang-format on

ParameterizedTestParameters(fetch, each_odd_answer_gives_its_code)
{
	return cr_make_param_array(struct raw_case, raw_cases,
				   KST_ARRAY_SIZE(raw_cases));
}

ParameterizedTest(struct raw_case *c, fetch, each_odd_answer_gives_its_code)
{
	/* the answers hold NULs only where sizeof says so: use strlen up to
	 * the first NUL, which none of them has before its end */
	struct canned *srv = canned_start(c->answer, strlen(c->answer));
	char path[300];
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0;

	if (c->post) {
		memset(path, 'p', sizeof(path));
		path[0] = '/';
		path[250] = '\0';
	} else {
		snprintf(path, sizeof(path), "/");
	}
	urls[0] = url_of(srv->port, path);
	srv->hang = c->hang;
	canned_run(srv);
	o.response_timeout_ms = 1000;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	cr_log_info("%s: %s (HTTP %d): %s", c->name,
		    kst_fetch_err_name(job->err), job->http_status,
		    job->detail);
	cr_expect_lt(kst_mono_ms() - t0, 1000 + 1000, "bounded");
	cr_expect_eq(job->err, c->err, "%s: %s: %s", c->name,
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->http_status, c->status, "%s", c->name);
	cr_expect(strstr(job->detail, c->needle) != NULL, "%s: '%s' lacks '%s'",
		  c->name, job->detail, c->needle);
	pthread_mutex_lock(&srv->lock);
	cr_expect_eq(strncmp(srv->first_head, c->post ? "POST /ppp" : "GET /",
			     c->post ? 9 : 5),
		     0, "%s: %.40s", c->name, srv->first_head);
	pthread_mutex_unlock(&srv->lock);
	cr_expect_eq(leftovers(), 0);
	kst_fetch_job_free(job);
	canned_stop(srv);
}

Test(fetch, a_nonce_that_is_not_echoed_is_refused)
{
	unsigned char *der = NULL, answer[8192];
	size_t len = 0, n;
	struct canned *srv;
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	mint_good(&der, &len); /* pre-signed: no nonce, like a CDN's copy */
	n = ocsp_answer(answer, sizeof(answer), der, len);
	srv = canned_start(answer, n);
	urls[0] = url_of(srv->port, "/");
	canned_run(srv);
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "without nonce: %s", job->detail);
	kst_fetch_job_free(job);
	o.nonce = true;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_NONCE, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->verdict.err, KST_OCSP_OK);
	cr_expect_eq(leftovers(), 0);
	kst_fetch_job_free(job);
	canned_stop(srv);
	OPENSSL_free(der);
}

/*
 * Whatever a responder sends, the job ends inside its timeout with an
 * error code, unless what arrived is still a valid
 * response: random bytes, random bytes after a valid head, a real
 * response with bytes flipped or cut short (under SAN=1 this is also a
 * memory-safety check of the HTTP and ingest paths).
 */
Test(fetch, survives_random_answers)
{
	static const char head[] = "HTTP/1.0 200 OK\r\nContent-Type: "
				   "application/ocsp-response\r\n\r\n";
	unsigned char *der = NULL;
	size_t len = 0;
	struct canned *srv = canned_start("", 0);
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	uint32_t x = 12345;

	mint_good(&der, &len);
	urls[0] = url_of(srv->port, "/");
	canned_run(srv);
	o.response_timeout_ms = 1000;
	for (int i = 0; i < 300; i++) {
		struct kst_fetch_job *job;
		size_t n = 0, k = 0;

		pthread_mutex_lock(&srv->lock);
		if (i % 3 == 1) {
			memcpy(srv->answer, head, sizeof(head) - 1);
			n = sizeof(head) - 1;
		}
		if (i % 3 == 2) {
			n = ocsp_answer(srv->answer, sizeof(srv->answer), der,
					len);
			k = n - len;
		}
		for (int j = 0; j < 1 + i % 7; j++) {
			x = x * 1664525u + 1013904223u;
			if (i % 3 == 2)
				srv->answer[k + (x >> 8) % len] ^=
					(unsigned char)(x | 1);
			else
				srv->answer[n++] = (unsigned char)(x >> 24);
		}
		if (i % 3 == 2 && i % 2 == 0)
			n -= (x >> 4) % len; /* and cut short */
		srv->answer_len = n;
		pthread_mutex_unlock(&srv->lock);
		job = make_job("localhost-ecdsa", urls, 1, &o);
		kst_fetch_run(job, 0);
		/* a flip in what the signature does not cover (the
		 * embedded signer certificate) can leave it valid */
		if (job->err == KST_FETCH_OK)
			cr_assert(i % 3 == 2 && job->der != NULL,
				  "answer %d: %s", i, job->detail);
		else
			cr_assert(job->err >= KST_FETCH_E_NO_URL &&
					  job->err <= KST_FETCH_E_INTERNAL &&
					  job->err != KST_FETCH_E_TIMEOUT &&
					  job->err != KST_FETCH_E_WRITE,
				  "answer %d: %s: %s", i,
				  kst_fetch_err_name(job->err), job->detail);
		kst_fetch_job_free(job);
	}
	canned_stop(srv);
	OPENSSL_free(der);
}

/* --------------------------------------------- the body, and only it */

/*
 * A good response framed every way a responder frames it: exactly the
 * body is handed to ingest (Content-Length bytes, or the DER object's
 * own length when there is none), whatever follows it is ignored, and
 * max_size bounds the body itself, never the bytes read after it.
 */
struct body_case {
	char name[32];
	bool length;	  /* send Content-Length */
	int length_delta; /* added to the body's real length in it */
	size_t trailer;	  /* bytes after the body: 2 is CRLF, else junk */
	bool chunked;	  /* Transfer-Encoding: chunked framing */
	bool hang;	  /* keep the connection open after the answer */
	int max_delta;	  /* max_size = body length + this; 99: default */
	int err;
	char needle[48];
};

// clang-format off
static struct body_case body_cases[] = {
	{"crlf-after-length", true, 0, 2, false, false, 99, KST_FETCH_OK, ""},
	{"junk-after-length", true, 0, 4000, false, false, 99, KST_FETCH_OK,
	 ""},
	{"junk-after-length-open", true, 0, 300, false, true, 99,
	 KST_FETCH_OK, ""},
	{"no-length-close", false, 0, 0, false, false, 99, KST_FETCH_OK, ""},
	{"no-length-crlf", false, 0, 2, false, false, 99, KST_FETCH_OK, ""},
	{"no-length-junk-open", false, 0, 4000, false, true, 99, KST_FETCH_OK,
	 ""},
	{"max-length", true, 0, 0, false, false, 0, KST_FETCH_OK, ""},
	{"max-length-junk", true, 0, 4000, false, false, 0, KST_FETCH_OK, ""},
	{"max-no-length", false, 0, 0, false, false, 0, KST_FETCH_OK, ""},
	{"max-no-length-junk", false, 0, 4000, false, false, 0, KST_FETCH_OK,
	 ""},
	{"max+1-length", true, 0, 0, false, false, -1, KST_FETCH_E_TOO_LARGE,
	 "over"},
	{"max+1-no-length", false, 0, 0, false, false, -1,
	 KST_FETCH_E_TOO_LARGE, "over"},
	{"length-over-sent", true, 10, 0, false, false, 99, KST_FETCH_E_BODY,
	 "Content-Length"},
	{"length-under-body", true, -10, 0, false, false, 99, KST_FETCH_E_BODY,
	 "Content-Length"},
	{"chunked", false, 0, 0, true, false, 99, KST_FETCH_E_BODY, "chunked"},
};
// clang-format on

ParameterizedTestParameters(fetch, takes_exactly_the_body)
{
	return cr_make_param_array(struct body_case, body_cases,
				   KST_ARRAY_SIZE(body_cases));
}

ParameterizedTest(struct body_case *c, fetch, takes_exactly_the_body)
{
	unsigned char *der = NULL, answer[8192];
	size_t len = 0, n;
	struct canned *srv;
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0;

	mint_good(&der, &len);
	n = (size_t)snprintf((char *)answer, sizeof(answer),
			     "HTTP/1.0 200 OK\r\nContent-Type: "
			     "application/ocsp-response\r\n");
	if (c->length)
		n += (size_t)snprintf((char *)answer + n, sizeof(answer) - n,
				      "Content-Length: %ld\r\n",
				      (long)len + c->length_delta);
	if (c->chunked)
		n += (size_t)snprintf((char *)answer + n, sizeof(answer) - n,
				      "Transfer-Encoding: chunked\r\n\r\n"
				      "%zx\r\n",
				      len);
	else
		n += (size_t)snprintf((char *)answer + n, sizeof(answer) - n,
				      "\r\n");
	cr_assert_lt(n + len + c->trailer + 8, sizeof(answer));
	memcpy(answer + n, der, len);
	n += len;
	if (c->chunked) {
		memcpy(answer + n, "\r\n0\r\n\r\n", 7);
		n += 7;
	}
	if (c->trailer == 2) {
		memcpy(answer + n, "\r\n", 2);
	} else {
		/* junk, and a DER SEQUENCE start to tempt a parser */
		memset(answer + n, 'J', c->trailer);
		if (c->trailer > 0)
			answer[n] = 0x30;
	}
	n += c->trailer;
	srv = canned_start(answer, n);
	srv->hang = c->hang;
	urls[0] = url_of(srv->port, "/");
	canned_run(srv);
	if (c->max_delta != 99)
		o.max_size = (size_t)((long)len + c->max_delta);
	o.response_timeout_ms = 2000;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	cr_log_info("%s: %s (HTTP %d): %s", c->name,
		    kst_fetch_err_name(job->err), job->http_status,
		    job->detail);
	cr_expect_eq(job->err, c->err, "%s: %s: %s", c->name,
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, c->needle) != NULL, "%s: '%s' lacks '%s'",
		  c->name, job->detail, c->needle);
	if (o.max_size != 0)
		cr_expect(job->der == NULL || job->len <= o.max_size,
			  "%s: %zu bytes handed on, max %zu", c->name, job->len,
			  o.max_size);
	if (c->err == KST_FETCH_OK) {
		cr_expect(job->len == len && memcmp(job->der, der, len) == 0,
			  "%s: the body is the response, %zu bytes, not %zu",
			  c->name, len, job->len);
		expect_good_body(job, "localhost-ecdsa");
		/* a complete body is not held until the peer closes */
		cr_expect_lt(kst_mono_ms() - t0, 1500, "%s", c->name);
	} else {
		cr_expect_eq(leftovers(), 0, "%s", c->name);
	}
	kst_fetch_job_free(job);
	canned_stop(srv);
	OPENSSL_free(der);
}

/* ------------------------------- the reply handling, from bytes alone */

/* The contract the fuzz target of the OCSP HTTP reply relies on. */
Test(fetch, the_body_is_the_der_object_and_nothing_after_it)
{
	unsigned char b[300];
	size_t n = 99;

	memset(b, 'J', sizeof(b));
	memcpy(b, "\x30\x03\x01\x02\x03", 5);
	cr_expect_eq(kst_fetch_http_body(b, 7, -1, 100, &n), 0);
	cr_expect_eq(n, 5, "short form: 5 bytes, the CRLF after is not");
	cr_expect_eq(kst_fetch_http_body(b, 5, 5, 5, &n), 0);
	cr_expect_eq(n, 5, "exactly max");
	cr_expect_eq(kst_fetch_http_body(b, 7, -1, 4, &n), -EMSGSIZE);
	cr_expect_eq(n, 0);
	cr_expect_eq(kst_fetch_http_body(b, 7, 6, 100, &n), -EPROTO);
	cr_expect_eq(kst_fetch_http_body(b, 0, 101, 100, &n), -EMSGSIZE,
		     "Content-Length over max, before any byte");
	cr_expect_eq(kst_fetch_http_body(b, 4, -1, 100, &n), -ENODATA);
	cr_expect_eq(kst_fetch_http_body(b, 1, -1, 100, &n), -ENODATA);
	cr_expect_eq(kst_fetch_http_body(NULL, 0, -1, 100, &n), -ENODATA);
	memcpy(b, "\x30\x81\x80", 3); /* long form, 128 content bytes */
	cr_expect_eq(kst_fetch_http_body(b, sizeof(b), -1, 1000, &n), 0);
	cr_expect_eq(n, 131);
	cr_expect_eq(kst_fetch_http_body(b, 130, -1, 1000, &n), -ENODATA);
	cr_expect_eq(kst_fetch_http_body(b, sizeof(b), -1, 130, &n), -EMSGSIZE);
	memcpy(b, "\x30\x84\xff\xff\xff\xff", 6);
	cr_expect_eq(kst_fetch_http_body(b, sizeof(b), -1, 65536, &n),
		     -EMSGSIZE, "4 GiB claimed");
	cr_expect_eq(kst_fetch_http_body((const unsigned char *)"\x30\x80", 2,
					 -1, 100, &n),
		     -EBADMSG, "indefinite length");
	cr_expect_eq(kst_fetch_http_body((const unsigned char *)"\x30\x85", 2,
					 -1, 100, &n),
		     -EBADMSG);
	cr_expect_eq(kst_fetch_http_body((const unsigned char *)"\x31\x00", 2,
					 -1, 100, &n),
		     -EBADMSG, "not a SEQUENCE");
}

Test(fetch, a_reply_from_bytes_is_handled_as_from_the_network)
{
	unsigned char *der = NULL, *req_der = NULL, answer[8192];
	size_t len = 0, req_len = 0, n;
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	OCSP_REQUEST *req = NULL;
	struct kst_fetch_http h = {.url = "http://ocsp.kst.test/",
				   .cancel_fd = -1,
				   .max_size = 65536};

	cr_assert_eq(kst_fetch_request_build(leaf, issuer, false, &req,
					     &req_der, &req_len),
		     0);
	h.req = req;
	h.der = req_der;
	h.der_len = req_len;
	mint_good(&der, &len);
	n = ocsp_answer(answer, sizeof(answer), der, len);
	memcpy(answer + n, "\r\njunk", 6);
	cr_expect_eq(kst_fetch_http_reply(&h, answer, n + 6), KST_FETCH_OK,
		     "%s", h.detail);
	cr_expect(h.body_len == len && memcmp(h.body, der, len) == 0,
		  "%zu bytes, not %zu", h.body_len, len);
	cr_expect_eq(h.http_status, 200);
	cr_expect(!h.post);
	OPENSSL_free(h.body);
	h.max_size = len - 1;
	cr_expect_eq(kst_fetch_http_reply(&h, answer, n + 6),
		     KST_FETCH_E_TOO_LARGE, "%s", h.detail);
	cr_expect_null(h.body);
	cr_expect_eq(kst_fetch_http_reply(&h, NULL, 0), KST_FETCH_E_HTTP);
	cr_expect(strstr(h.detail, "closed") != NULL, "%s", h.detail);
	h.max_size = 65536;
	cr_expect_eq(kst_fetch_http_reply(&h, answer, n / 2), KST_FETCH_E_BODY,
		     "%s", h.detail);
	cr_expect_null(h.body);
	OPENSSL_free(der);
	OPENSSL_free(req_der);
	OCSP_REQUEST_free(req);
	X509_free(leaf);
	X509_free(issuer);
}

/*
 * Mutated replies, in process (the fuzz target's path, briefly): every
 * outcome is a fetch code, a body is never over max_size and is always
 * one whole DER object at the start of what followed the head.
 */
Test(fetch, mutated_replies_from_bytes_stay_within_the_contract)
{
	unsigned char *der = NULL, *req_der = NULL, good[8192], a[8192];
	size_t len = 0, req_len = 0, n;
	X509 *leaf = kst_test_cert("localhost-ecdsa"),
	     *issuer = kst_test_cert("int");
	OCSP_REQUEST *req = NULL;
	struct kst_fetch_http h = {.url = "http://ocsp.kst.test/",
				   .cancel_fd = -1};
	uint32_t x = 777;

	cr_assert_eq(kst_fetch_request_build(leaf, issuer, false, &req,
					     &req_der, &req_len),
		     0);
	h.req = req;
	h.der = req_der;
	h.der_len = req_len;
	mint_good(&der, &len);
	n = ocsp_answer(good, sizeof(good), der, len);
	for (int i = 0; i < 2000; i++) {
		size_t m = n, body_len = 0;

		memcpy(a, good, n);
		for (int j = 0; j < 1 + i % 5; j++) {
			x = x * 1664525u + 1013904223u;
			a[(x >> 8) % n] ^= (unsigned char)(x | 1);
		}
		if (i % 3 == 0)
			m = (x >> 4) % (n + 1); /* cut short */
		if (i % 4 == 1) {
			memset(a + n, (int)(x >> 24), 100); /* junk after */
			m = n + 100;
		}
		h.max_size = i % 2 ? 65536 : len;
		kst_fetch_http_reply(&h, a, m);
		cr_assert(h.err == KST_FETCH_OK ||
				  (h.err >= KST_FETCH_E_NO_URL &&
				   h.err <= KST_FETCH_E_INTERNAL),
			  "reply %d: %d", i, h.err);
		if (h.err == KST_FETCH_OK) {
			cr_assert_leq(h.body_len, h.max_size, "reply %d", i);
			cr_assert_eq(kst_fetch_http_body(h.body, h.body_len, -1,
							 h.max_size, &body_len),
				     0, "reply %d", i);
			cr_assert_eq(body_len, h.body_len, "reply %d", i);
		} else {
			cr_assert_null(h.body, "reply %d", i);
		}
		OPENSSL_free(h.body);
	}
	OPENSSL_free(der);
	OPENSSL_free(req_der);
	OCSP_REQUEST_free(req);
	X509_free(leaf);
	X509_free(issuer);
}

/* ------------------------------------------------- resolving the name */

/*
 * Against a DNS server that swallows every query (tests/lib/dnssink.h,
 * whose resolv.conf gives the system resolver one 10 s try): resolving
 * counts against connect_timeout_ms, a cancel ends it at once, and an IP
 * literal never asks the DNS at all.
 */
Test(fetch, a_silent_resolver_fails_within_the_connect_timeout, .timeout = 60)
{
	int sink = kst_h_dns_sink();
	const char *urls[] = {"http://ocsp.silent.kst.test:8080/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0, ms;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	o.connect_timeout_ms = 500;
	o.response_timeout_ms = 20000;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	ms = kst_mono_ms() - t0;
	cr_log_info("%lu ms: %s: %s", (unsigned long)ms,
		    kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(job->err, KST_FETCH_E_RESOLVE, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, "ocsp.silent.kst.test") != NULL &&
			  strstr(job->detail, "connect-timeout") != NULL,
		  "%s", job->detail);
	/* the resolver itself would give up after 10 s */
	cr_expect_lt(ms, 5000, "gave up after %lu ms, not at 500",
		     (unsigned long)ms);
	cr_expect_gt(kst_h_dns_sink_queries(sink), 0, "the DNS was asked");
	kst_fetch_job_free(job);
	close(sink);
}

Test(fetch, a_proxy_name_the_dns_never_answers_is_a_proxy_error, .timeout = 60)
{
	int sink = kst_h_dns_sink();
	const char *urls[] = {"http://127.0.0.1:9/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	uint64_t t0, ms;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	o.http_proxy = "http://proxy.silent.kst.test:3128";
	o.connect_timeout_ms = 500;
	o.response_timeout_ms = 20000;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	ms = kst_mono_ms() - t0;
	cr_expect_eq(job->err, KST_FETCH_E_PROXY, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect(strstr(job->detail, "the proxy proxy.silent.kst.test") !=
			  NULL,
		  "%s", job->detail);
	cr_expect_lt(ms, 5000, "gave up after %lu ms, not at 500",
		     (unsigned long)ms);
	kst_fetch_job_free(job);
	close(sink);
}

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	if (write(*(int *)arg, "x", 1) != 1)
		cr_log_warn("cannot cancel");
	return NULL;
}

Test(fetch, a_cancel_ends_a_hung_resolution_at_once, .timeout = 60)
{
	int sink = kst_h_dns_sink(), p[2];
	const char *urls[] = {"http://ocsp.silent.kst.test/",
			      "http://ocsp2.silent.kst.test/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	pthread_t t;
	uint64_t t0, ms;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	o.connect_timeout_ms = 30000;
	o.response_timeout_ms = 30000;
	job = make_job("localhost-ecdsa", urls, 2, &o);
	job->cancel_fd = p[0];
	cr_assert_eq(pthread_create(&t, NULL, cancel_later, &p[1]), 0);
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	ms = kst_mono_ms() - t0;
	pthread_join(t, NULL);
	cr_log_info("%lu ms: %s", (unsigned long)ms, job->detail);
	cr_expect_str_eq(job->detail, "cancelled");
	cr_expect_str_eq(job->url, urls[0], "no further URL is tried");
	cr_expect_lt(ms, 5000, "the cancel waited %lu ms for the resolver",
		     (unsigned long)ms);
	cr_expect_gt(kst_h_dns_sink_queries(sink), 0, "it was resolving");
	kst_fetch_job_free(job);
	close(p[0]);
	close(p[1]);
	close(sink);
}

Test(fetch, an_ip_literal_is_never_looked_up)
{
	int sink = kst_h_dns_sink();
	unsigned char *der = NULL, answer[8192];
	size_t len = 0, n;
	struct canned *srv;
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	kst_test_require(sink >= 0, "needs private namespaces (root): %s",
			 strerror(-sink));
	mint_good(&der, &len);
	n = ocsp_answer(answer, sizeof(answer), der, len);
	srv = canned_start(answer, n);
	urls[0] = url_of(srv->port, "/");
	canned_run(srv);
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(kst_h_dns_sink_queries(sink), 0, "the DNS was asked");
	kst_fetch_job_free(job);
	canned_stop(srv);
	OPENSSL_free(der);
	close(sink);
}

/* ---------------------------------------------------------- the proxy */

static void proxied_fetch(bool post)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "ok");
	struct canned *proxy = canned_start("", 0);
	char path[300], want[128], proxy_url[64];
	const char *urls[1];
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	snprintf(path, sizeof(path), "/");
	if (post) {
		memset(path, 'q', sizeof(path));
		path[0] = '/';
		path[250] = '\0';
	}
	urls[0] = url_of(port, path);
	proxy->upstream = port;
	canned_run(proxy);
	snprintf(proxy_url, sizeof(proxy_url), "http://127.0.0.1:%d",
		 proxy->port);
	o.http_proxy = proxy_url;
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s", job->detail);
	expect_good_body(job, "localhost-ecdsa");
	/* the proxy saw the absolute URL, and the Host header */
	snprintf(want, sizeof(want), "%s http://127.0.0.1:%d/",
		 post ? "POST" : "GET", port);
	pthread_mutex_lock(&proxy->lock);
	cr_expect_eq(proxy->requests, 1);
	cr_expect_eq(strncmp(proxy->first_head, want, strlen(want)), 0,
		     "request line: %.80s", proxy->first_head);
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", port);
	cr_expect(strstr(proxy->first_head, want) != NULL, "%s",
		  proxy->first_head);
	pthread_mutex_unlock(&proxy->lock);
	cr_expect_eq(ocspd_requests(0, post ? " POST " : " GET "), 1);
	kst_fetch_job_free(job);
	canned_stop(proxy);
}

Test(fetch, gets_through_a_plain_http_proxy)
{
	proxied_fetch(false);
}

Test(fetch, posts_through_a_plain_http_proxy)
{
	proxied_fetch(true);
}

Test(fetch, proxy_failures_are_proxy_errors)
{
	static const char auth[] =
		"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n";
	struct canned *proxy = canned_start(auth, sizeof(auth) - 1);
	char proxy_url[64];
	const char *urls[] = {"http://ocsp.example.test/"};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;

	canned_run(proxy);
	snprintf(proxy_url, sizeof(proxy_url), "127.0.0.1:%d", proxy->port);
	o.http_proxy = proxy_url; /* the scheme may be left out */
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_PROXY, "407: %s", job->detail);
	cr_expect_eq(job->http_status, 407);
	kst_fetch_job_free(job);
	canned_stop(proxy);

	o.http_proxy = "http://nonexistent.invalid:3128";
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_PROXY, "unresolvable: %s",
		     job->detail);
	kst_fetch_job_free(job);

	o.http_proxy = "https://127.0.0.1:3128";
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_E_PROXY, "https proxy: %s",
		     job->detail);
	kst_fetch_job_free(job);
}

/* -------------------------------------------------- names and cancel */

/*
 * A name with an IPv6 and an IPv4 address, IPv6 first, where only IPv4
 * answers: OpenSSL's connect BIO goes on to the next address. The name
 * comes from a private /etc/hosts, bind-mounted in a mount namespace of
 * this test process only.
 */
Test(fetch, falls_back_to_ipv4_when_ipv6_refuses)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	const char *hosts = kst_h_path("hosts");
	FILE *f;
	char url[128];
	const char *urls[] = {url};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job;
	int port;

	kst_test_require(
		unshare(CLONE_NEWNS) == 0 &&
			mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		"needs a private mount namespace (root): %s", strerror(errno));
	f = fopen(hosts, "w");
	cr_assert_not_null(f);
	fprintf(f, "::1 dual.kst.test\n127.0.0.1 dual.kst.test\n");
	fclose(f);
	cr_assert_eq(mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL), 0, "%s",
		     strerror(errno));
	cr_assert_eq(getaddrinfo("dual.kst.test", "80", &hints, &res), 0);
	kst_test_require(res->ai_family == AF_INET6 && res->ai_next != NULL,
			 "the resolver does not put ::1 first here");
	freeaddrinfo(res);
	port = kst_edge_ocspd_start(&env.ocspd[0], "ok"); /* 127.0.0.1 only */
	snprintf(url, sizeof(url), "http://dual.kst.test:%d/", port);
	job = make_job("localhost-ecdsa", urls, 1, &o);
	kst_fetch_run(job, 0);
	cr_expect_eq(job->err, KST_FETCH_OK, "%s: %s",
		     kst_fetch_err_name(job->err), job->detail);
	cr_expect_eq(ocspd_requests(0, NULL), 1);
	kst_fetch_job_free(job);
}

Test(fetch, a_readable_cancel_fd_ends_the_job_at_once)
{
	int port = kst_edge_ocspd_start(&env.ocspd[0], "hang");
	const char *urls[] = {url_of(port, "/"), url_of(port, "/again")};
	struct kst_fetch_opts o = quick_opts();
	struct kst_fetch_job *job = make_job("localhost-ecdsa", urls, 2, &o);
	int p[2];
	uint64_t t0;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	job->cancel_fd = p[0];
	t0 = kst_mono_ms();
	kst_fetch_run(job, 0);
	cr_expect_lt(kst_mono_ms() - t0, 500);
	cr_expect_eq(job->err, KST_FETCH_E_INTERNAL, "%s", job->detail);
	cr_expect_str_eq(job->detail, "cancelled");
	cr_expect_str_eq(job->url, urls[0], "no further URL is tried");
	kst_fetch_job_free(job);
	close(p[0]);
	close(p[1]);
}
