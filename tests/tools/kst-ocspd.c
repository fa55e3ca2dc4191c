// SPDX-License-Identifier: MIT
/*
 * kst-ocspd: a loopback OCSP responder for tests, around the real index-file
 * responder of `openssl ocsp` (whose own -port binds every interface in
 * OpenSSL 3.0). It serves HTTP/1.0 and 1.1, GET (/<url-encoded base64
 * request>, under any path prefix) and POST (application/ocsp-request),
 * one request per connection, and can misbehave on purpose: the mode
 * (--mode, or the first word of --mode-file, re-read at every request)
 * is one of
 *   ok          the openssl responder's answer
 *   hang        read the request, never answer, keep the socket open
 *   close       close without answering
 *   http500     HTTP 500
 *   garbage     200 application/ocsp-response with a body that is not OCSP
 *   html        200 text/html
 *   redirect    302 to another path here
 *   wrong-key   signed by --rogue-signer/--rogue-key (not the issuer or a
 *               delegated signer of it)
 *   other-cert  a valid response about --other-cert instead
 *   expired     a signed response whose nextUpdate has passed (minted
 *               here from the request's CertID; openssl cannot backdate)
 *   trylater    OCSP responseStatus tryLater
 *   delay:MS    ok, after MS milliseconds
 *   crlf        ok, with CRLF after the body (not counted in its length)
 *   junk        ok, with 4 KiB of junk after the body
 *   no-length   ok without Content-Length; the close ends the body
 *   file:PATH   the bytes of PATH, whatever was asked (a replay: any
 *               response minted or saved earlier; PATH under 58 bytes)
 *
 * Model: the main process accepts and forks one child per connection, so a
 * hanging or slow request never blocks another. The child reads the request,
 * runs `openssl ocsp` in a grandchild with temporary files named by its pid
 * in a private directory, answers, appends one line to --log, and exits.
 * The main process reaps children (SIGCHLD through a signalfd), removes
 * what a killed child left, and on SIGTERM/SIGINT kills the children that
 * are still running, waits for them, removes the directory and exits 0.
 *
 * Log line: "<unix time.ms> <method> <path length> <status> <body bytes>
 * <mode>", status 0 when nothing was answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include "daemon/base/util.h"
#include "tests/lib/toolutil.h"

#define OD_MAX_CHILDREN 256
#define OD_HEAD_MAX	16384
#define OD_BODY_MAX	65536
#define OD_IO_MS	10000 /* reading a request, running openssl */

struct od_opts {
	const char *listen, *index, *ca, *rsigner, *rkey, *log, *mode,
		*mode_file, *rogue_signer, *rogue_key, *other_cert, *openssl,
		*pidfile;
	int ndays, nmin;
	bool verbose;
};

struct od {
	struct od_opts o;
	int lfd, sfd, log_fd;
	unsigned int port;
	char dir[256];
	pid_t children[OD_MAX_CHILDREN];
	int nchildren;
	bool stop;
};

/* One request, in the child. */
struct od_req {
	const struct od *od;
	int fd;
	char method[8];
	size_t path_len;
	unsigned char *der; /* the DER OCSP request */
	size_t der_len;
	char mode[64];
	int status;  /* answered HTTP status, 0 none */
	size_t sent; /* body bytes answered */
	bool logged;
	char files[3][300]; /* request, response, other request */
};

static void od_log(struct od_req *r);

static const char *const od_reasons[] = {
	"unspecified",	   "keyCompromise",
	"CACompromise",	   "affiliationChanged",
	"superseded",	   "cessationOfOperation",
	"certificateHold", NULL,
	"removeFromCRL",
};

/* ------------------------------------------------------------ writing */

static int od_write_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void od_reply(struct od_req *r, int status, const char *reason,
		     const char *extra, const char *type, const void *body,
		     size_t len)
{
	static char junk[4096];
	bool ok = status == 200, nolen = ok && !strcmp(r->mode, "no-length");
	char head[512], clen[64] = "", *all;
	size_t tail = 0;
	int n;

	if (!nolen)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.0 %d %s\r\nServer: kst-ocspd\r\n%s"
		     "Content-Type: %s\r\n%sConnection: close\r\n\r\n",
		     status, reason, extra ? extra : "", type, clen);

	r->status = status;
	r->sent = len;
	/* logged before the peer can see the answer: a test that got one
	 * finds its line */
	od_log(r);
	/* after the body, what a sloppy responder or proxy adds, in the
	 * same write: the client's read takes both at once */
	if (ok && strcmp(r->mode, "crlf") == 0) {
		junk[0] = '\r';
		junk[1] = '\n';
		tail = 2;
	} else if (ok && strcmp(r->mode, "junk") == 0) {
		memset(junk, 'J', sizeof(junk));
		junk[0] = 0x30; /* and what looks like a DER start */
		tail = sizeof(junk);
	}
	all = malloc((size_t)n + len + tail);
	if (all == NULL)
		return;
	memcpy(all, head, (size_t)n);
	memcpy(all + n, body, len);
	memcpy(all + (size_t)n + len, junk, tail);
	od_write_all(r->fd, all, (size_t)n + len + tail);
	free(all);
}

static void od_reply_text(struct od_req *r, int status, const char *reason,
			  const char *text)
{
	od_reply(r, status, reason, NULL, "text/plain", text, strlen(text));
}

static void od_log(struct od_req *r)
{
	struct timespec ts;
	char line[256];
	int n;

	if (r->od->log_fd < 0 || r->logged)
		return;
	r->logged = true;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%03ld %s %zu %d %zu %s\n",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000000L,
		     r->method[0] ? r->method : "-", r->path_len, r->status,
		     r->sent, r->mode[0] ? r->mode : "-");
	if (write(r->od->log_fd, line, (size_t)n) != n)
		(void)0; /* nothing better to do in a test tool */
}

/* ------------------------------------------------------------ reading */

/* Read until the head is complete, then the body; 0 or -1. */
static int od_read(int fd, char *buf, size_t cap, size_t *len,
		   size_t want_total)
{
	uint64_t end = kst_mono_ms() + OD_IO_MS;

	while (want_total ? *len < want_total
			  : memmem(buf, *len, "\r\n\r\n", 4) == NULL) {
		struct pollfd p = {fd, POLLIN, 0};
		uint64_t now = kst_mono_ms();
		ssize_t n;

		if (*len == cap || now >= end ||
		    poll(&p, 1, (int)(end - now)) <= 0)
			return -1;
		n = recv(fd, buf + *len, cap - *len, 0);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
	}
	return 0;
}

static int od_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* GET: url-decode and base64-decode s into a DER request. */
static int od_decode_b64(struct od_req *r, const char *s, size_t n)
{
	char *b64 = malloc(n + 1);
	size_t bl = 0, pad = 0;
	const unsigned char *p;
	OCSP_REQUEST *req;
	int dl;

	if (b64 == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n &&
		    (hi = od_hexval(s[i + 1])) >= 0 &&
		    (lo = od_hexval(s[i + 2])) >= 0) {
			b64[bl++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			b64[bl++] = s[i];
		}
	}
	while (pad < bl && pad < 2 && b64[bl - 1 - pad] == '=')
		pad++;
	r->der = malloc(bl / 4 * 3 + 3);
	dl = r->der && bl % 4 == 0
		     ? EVP_DecodeBlock(r->der, (unsigned char *)b64, (int)bl)
		     : -1;
	free(b64);
	if (dl < 0)
		return -1;
	r->der_len = (size_t)dl - pad;
	p = r->der;
	req = d2i_OCSP_REQUEST(NULL, &p, (long)r->der_len);
	OCSP_REQUEST_free(req);
	return req != NULL ? 0 : -1;
}

/* GET path: the request is the longest suffix after a '/' that decodes. */
static int od_decode_path(struct od_req *r, const char *path, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (path[i] != '/' || i + 1 == n)
			continue;
		if (od_decode_b64(r, path + i + 1, n - i - 1) == 0)
			return 0;
		free(r->der);
		r->der = NULL;
	}
	ERR_clear_error();
	return -1;
}

static const char *od_header(const char *head, const char *name)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l != NULL;
	     l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, name, nl) == 0 && l[2 + nl] == ':')
			return l + 3 + nl + strspn(l + 3 + nl, " \t");
	return NULL;
}

/* POST: the body after the head. 0, or the HTTP status to answer. */
static int od_read_post(struct od_req *r, char *buf, size_t len, size_t hl)
{
	const char *ct = od_header(buf, "Content-Type");
	const char *cl = od_header(buf, "Content-Length");
	unsigned long n;

	if (ct == NULL || strncasecmp(ct, "application/ocsp-request", 24) != 0)
		return 415;
	if (cl == NULL || sscanf(cl, "%lu", &n) != 1 || n > OD_BODY_MAX)
		return 411;
	r->der = malloc(n ? n : 1);
	if (r->der == NULL)
		return 500;
	memcpy(r->der, buf + hl, KST_MIN(len - hl, (size_t)n));
	r->der_len = KST_MIN(len - hl, (size_t)n);
	while (r->der_len < n) {
		size_t got = r->der_len;

		if (od_read(r->fd, (char *)r->der, n, &got, n) < 0)
			return 400;
		r->der_len = got;
	}
	return 0;
}

/* Read and decode the request: 0, or an HTTP status for the failure. */
static int od_read_request(struct od_req *r)
{
	static char buf[OD_HEAD_MAX + 1];
	size_t len = 0, hl;
	char path[OD_HEAD_MAX];
	char *end;

	if (od_read(r->fd, buf, OD_HEAD_MAX, &len, 0) < 0)
		return 408;
	buf[len] = '\0';
	end = strstr(buf, "\r\n\r\n");
	hl = (size_t)(end - buf) + 4;
	end[2] = '\0';
	if (sscanf(buf, "%7s %16383s HTTP/1.%*c", r->method, path) != 2)
		return 400;
	r->path_len = strlen(path);
	if (strcmp(r->method, "POST") == 0)
		return od_read_post(r, buf, len, hl);
	if (strcmp(r->method, "GET") != 0)
		return 405;
	return od_decode_path(r, path, r->path_len) == 0 ? 0 : 400;
}

/* --------------------------------------------------------- responding */

static int od_run_openssl(struct od_req *r, const char *req_file,
			  const char *signer, const char *key)
{
	const struct od_opts *o = &r->od->o;
	char nbuf[16];
	char *argv[] = {(char *)o->openssl,
			"ocsp",
			"-index",
			(char *)o->index,
			"-CA",
			(char *)o->ca,
			"-rsigner",
			(char *)signer,
			"-rkey",
			(char *)key,
			"-reqin",
			(char *)req_file,
			"-respout",
			r->files[1],
			o->nmin ? "-nmin" : "-ndays",
			nbuf,
			NULL};
	int status;
	pid_t pid;

	snprintf(nbuf, sizeof(nbuf), "%d", o->nmin ? o->nmin : o->ndays);
	pid = fork();
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		if (!o->verbose)
			dup2(null_fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int od_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;

	if (fd < 0)
		return -1;
	if (write(fd, p, n) != (ssize_t)n)
		err = -1;
	close(fd);
	return err;
}

/* A fresh request for --other-cert (issued by --ca), into files[2]. */
static int od_other_request(struct od_req *r)
{
	const struct od_opts *o = &r->od->o;
	X509 *cert = NULL, *ca = NULL;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	OCSP_CERTID *id = NULL;
	unsigned char *der = NULL;
	FILE *f;
	int len = -1;

	if ((f = fopen(o->other_cert, "r")) != NULL) {
		cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(o->ca, "r")) != NULL) {
		ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (req && cert && ca && (id = OCSP_cert_to_id(NULL, cert, ca)) &&
	    OCSP_request_add0_id(req, id))
		len = i2d_OCSP_REQUEST(req, &der);
	else
		OCSP_CERTID_free(id);
	if (len > 0 && od_write_file(r->files[2], der, (size_t)len) < 0)
		len = -1;
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	X509_free(cert);
	X509_free(ca);
	return len > 0 ? 0 : -1;
}

static void od_send_file(struct od_req *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	static unsigned char buf[OD_BODY_MAX];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		od_reply_text(r, 500, "Internal Server Error",
			      "the responder made no response\n");
		return;
	}
	od_reply(r, 200, "OK", NULL, "application/ocsp-response", buf,
		 (size_t)n);
}

static void od_send_der(struct od_req *r, unsigned char *der, int len)
{
	if (len <= 0)
		od_reply_text(r, 500, "Internal Server Error",
			      "could not make a response\n");
	else
		od_reply(r, 200, "OK", NULL, "application/ocsp-response", der,
			 (size_t)len);
	OPENSSL_free(der);
}

/* ok, wrong-key, other-cert: the real responder. */
static void od_respond_openssl(struct od_req *r)
{
	const struct od_opts *o = &r->od->o;
	const char *signer = o->rsigner, *key = o->rkey, *req = r->files[0];

	if (strcmp(r->mode, "wrong-key") == 0) {
		signer = o->rogue_signer;
		key = o->rogue_key;
	}
	if (signer == NULL || key == NULL ||
	    (strcmp(r->mode, "other-cert") == 0 &&
	     (o->other_cert == NULL || od_other_request(r) < 0))) {
		od_reply_text(r, 500, "Internal Server Error",
			      "mode needs options that were not given\n");
		return;
	}
	if (strcmp(r->mode, "other-cert") == 0)
		req = r->files[2];
	if (od_write_file(r->files[0], r->der, r->der_len) < 0 ||
	    od_run_openssl(r, req, signer, key) < 0) {
		od_reply_text(r, 500, "Internal Server Error",
			      "openssl ocsp failed\n");
		return;
	}
	od_send_file(r, r->files[1]);
}

/* Status of serial in the index: V good, R revoked (when, why), else
 * unknown. Fields are tab-separated: status, expiry, revocation, serial. */
static int od_index_status(const char *index, const ASN1_INTEGER *serial,
			   int *reason, ASN1_TIME *revtime)
{
	BIGNUM *want = ASN1_INTEGER_to_BN(serial, NULL), *bn = NULL;
	FILE *f = fopen(index, "r");
	char line[2048];
	int st = V_OCSP_CERTSTATUS_UNKNOWN;

	while (f != NULL && want != NULL && fgets(line, sizeof(line), f)) {
		char *fld[4], *s = line, *rev;
		int n = 0;

		while (n < 4 && (fld[n] = strsep(&s, "\t\n")) != NULL)
			n++;
		if (n < 4 || !BN_hex2bn(&bn, fld[3]) || BN_cmp(bn, want) != 0)
			continue;
		st = fld[0][0] == 'V'	? V_OCSP_CERTSTATUS_GOOD
		     : fld[0][0] == 'R' ? V_OCSP_CERTSTATUS_REVOKED
					: V_OCSP_CERTSTATUS_UNKNOWN;
		rev = strsep(&fld[2], ",");
		if (st == V_OCSP_CERTSTATUS_REVOKED &&
		    !ASN1_TIME_set_string(revtime, rev))
			st = V_OCSP_CERTSTATUS_UNKNOWN;
		for (int i = 0;
		     fld[2] != NULL && i < (int)KST_ARRAY_SIZE(od_reasons); i++)
			if (od_reasons[i] &&
			    strcasecmp(fld[2], od_reasons[i]) == 0)
				*reason = i;
		break;
	}
	if (f != NULL)
		fclose(f);
	BN_free(bn);
	BN_free(want);
	return st;
}

static EVP_PKEY *od_read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return k;
}

static X509 *od_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return x;
}

/* A response about the request's first CertID, valid two days ago to one
 * day ago, signed like the ok responses. Returns DER length or -1. */
static int od_mint_expired(struct od_req *r, unsigned char **der)
{
	const struct od_opts *o = &r->od->o;
	const unsigned char *p = r->der;
	OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)r->der_len);
	OCSP_CERTID *id =
		req && OCSP_request_onereq_count(req) > 0
			? OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0))
			: NULL;
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_RESPONSE *resp = NULL;
	ASN1_TIME *tu = X509_gmtime_adj(NULL, -2 * 86400);
	ASN1_TIME *nu = X509_gmtime_adj(NULL, -86400);
	ASN1_TIME *rev = ASN1_TIME_new();
	X509 *signer = od_read_cert(o->rsigner);
	EVP_PKEY *key = od_read_key(o->rkey);
	ASN1_INTEGER *serial = NULL;
	int len = -1, reason = OCSP_REVOKED_STATUS_NOSTATUS, st;

	if (id == NULL || bs == NULL || tu == NULL || nu == NULL ||
	    rev == NULL || signer == NULL || key == NULL)
		goto out;
	OCSP_id_get0_info(NULL, NULL, NULL, &serial, id);
	st = od_index_status(o->index, serial, &reason, rev);
	if (OCSP_basic_add1_status(bs, id, st, reason,
				   st == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL,
				   tu, nu) == NULL ||
	    OCSP_copy_nonce(bs, req) <= 0 ||
	    !OCSP_basic_sign(bs, signer, key, EVP_sha256(), NULL, 0))
		goto out;
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	if (resp != NULL)
		len = i2d_OCSP_RESPONSE(resp, der);
out:
	OCSP_RESPONSE_free(resp);
	EVP_PKEY_free(key);
	X509_free(signer);
	ASN1_TIME_free(rev);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(tu);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(req);
	return len;
}

static void od_respond_trylater(struct od_req *r)
{
	OCSP_RESPONSE *resp =
		OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
	unsigned char *der = NULL;
	int len = resp ? i2d_OCSP_RESPONSE(resp, &der) : -1;

	OCSP_RESPONSE_free(resp);
	od_send_der(r, der, len);
}

/* The mode for this request: --mode-file's first word, else --mode. */
static void od_mode(struct od_req *r)
{
	const struct od_opts *o = &r->od->o;
	FILE *f = o->mode_file ? fopen(o->mode_file, "r") : NULL;

	r->mode[0] = '\0';
	if (f != NULL) {
		if (fscanf(f, "%63s", r->mode) != 1)
			r->mode[0] = '\0';
		fclose(f);
	}
	if (r->mode[0] == '\0')
		snprintf(r->mode, sizeof(r->mode), "%s", o->mode);
}

/* Faults that do not depend on the request; true when one answered. */
static bool od_fault(struct od_req *r)
{
	static const char garbage[] = "this is not an OCSP response\n";
	static const char html[] =
		"<!DOCTYPE html><html><body>Not OCSP</body></html>\n";
	char loc[128];

	if (strcmp(r->mode, "http500") == 0) {
		od_reply_text(r, 500, "Internal Server Error", "fault\n");
	} else if (strcmp(r->mode, "garbage") == 0) {
		od_reply(r, 200, "OK", NULL, "application/ocsp-response",
			 garbage, sizeof(garbage) - 1);
	} else if (strcmp(r->mode, "html") == 0) {
		od_reply(r, 200, "OK", NULL, "text/html", html,
			 sizeof(html) - 1);
	} else if (strcmp(r->mode, "redirect") == 0) {
		snprintf(loc, sizeof(loc),
			 "Location: http://127.0.0.1:%u/redirected\r\n",
			 r->od->port);
		od_reply(r, 302, "Found", loc, "text/plain", "moved\n", 6);
	} else {
		return false;
	}
	return true;
}

static void od_respond(struct od_req *r)
{
	unsigned char *der = NULL;
	bool delay = strncmp(r->mode, "delay:", 6) == 0;
	int ms = delay ? atoi(r->mode + 6) : 0;

	if (ms > 0) {
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (delay || strcmp(r->mode, "ok") == 0 ||
	    strcmp(r->mode, "crlf") == 0 || strcmp(r->mode, "junk") == 0 ||
	    strcmp(r->mode, "no-length") == 0 ||
	    strcmp(r->mode, "wrong-key") == 0 ||
	    strcmp(r->mode, "other-cert") == 0)
		od_respond_openssl(r);
	else if (strcmp(r->mode, "expired") == 0)
		od_send_der(r, der, od_mint_expired(r, &der));
	else if (strcmp(r->mode, "trylater") == 0)
		od_respond_trylater(r);
	else if (strncmp(r->mode, "file:", 5) == 0)
		od_send_file(r, r->mode + 5);
	else
		od_reply_text(r, 500, "Internal Server Error",
			      "unknown mode\n");
}

static void od_child(const struct od *od, int fd)
{
	struct od_req r = {.od = od, .fd = fd};
	int st;

	for (int i = 0; i < 3; i++)
		snprintf(r.files[i], sizeof(r.files[i]), "%s/%ld.%s", od->dir,
			 (long)getpid(),
			 i == 0	  ? "req"
			 : i == 1 ? "resp"
				  : "other");
	st = od_read_request(&r);
	od_mode(&r);
	if (strcmp(r.mode, "hang") == 0) {
		od_log(&r);
		for (;;)
			pause(); /* until the main process kills us */
	}
	if (st == 408 || strcmp(r.mode, "close") == 0)
		; /* nothing answered */
	else if (od_fault(&r))
		;
	else if (st != 0)
		od_reply_text(&r, st, "Bad Request", "bad OCSP request\n");
	else
		od_respond(&r);
	od_log(&r); /* when nothing was answered */
	for (int i = 0; i < 3; i++)
		unlink(r.files[i]);
	free(r.der);
}

/* ------------------------------------------------------- main process */

static void od_forget(struct od *od, pid_t pid)
{
	char path[300];
	static const char *const ext[] = {"req", "resp", "other"};

	for (int i = 0; i < od->nchildren; i++) {
		if (od->children[i] == pid) {
			od->children[i] = od->children[--od->nchildren];
			break;
		}
	}
	for (size_t i = 0; i < KST_ARRAY_SIZE(ext); i++) {
		snprintf(path, sizeof(path), "%s/%ld.%s", od->dir, (long)pid,
			 ext[i]);
		unlink(path);
	}
}

static void od_reap(struct od *od)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		od_forget(od, pid);
}

static void od_accept(struct od *od)
{
	sigset_t all;
	pid_t pid;
	int fd = accept4(od->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pid = fork();
	if (pid == 0) {
		/* a hanging child must not outlive a killed responder */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		close(od->lfd);
		close(od->sfd);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		od_child(od, fd);
		close(fd);
		_exit(0);
	}
	close(fd);
	if (pid > 0)
		od->children[od->nchildren++] = pid;
}

static void od_signals(struct od *od)
{
	struct signalfd_siginfo si;

	while (read(od->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			od_reap(od);
		else
			od->stop = true;
	}
}

static void od_loop(struct od *od)
{
	while (!od->stop) {
		struct pollfd p[2] = {
			{od->sfd, POLLIN, 0},
			{od->lfd, od->nchildren < OD_MAX_CHILDREN ? POLLIN : 0,
			 0},
		};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			od_signals(od);
		if (!od->stop && (p[1].revents & POLLIN))
			od_accept(od);
	}
}

/* Kill what still runs (hang), wait for it, bounded; then clean up. */
static void od_shutdown(struct od *od)
{
	uint64_t end = kst_mono_ms() + 3000;

	close(od->lfd);
	for (int i = 0; i < od->nchildren; i++)
		kill(od->children[i], SIGTERM);
	while (od->nchildren > 0 && kst_mono_ms() < end) {
		struct timespec ts = {0, 5000000};

		od_reap(od);
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < od->nchildren; i++)
		kill(od->children[i], SIGKILL);
	while (od->nchildren > 0) {
		pid_t pid = waitpid(od->children[0], NULL, 0);

		od_forget(od, pid > 0 ? pid : od->children[0]);
	}
	rmdir(od->dir);
	if (od->o.pidfile != NULL)
		unlink(od->o.pidfile);
	if (od->log_fd >= 0)
		close(od->log_fd);
	close(od->sfd);
}

/* ------------------------------------------------------------- setup */

static int od_listen(struct od *od)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	if (kst_toolutil_parse_addr(od->o.listen, &ss, &sl) < 0 ||
	    ss.ss_family == AF_UNIX)
		return -EINVAL;
	od->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (od->lfd < 0)
		return -errno;
	setsockopt(od->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(od->lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(od->lfd, 128) < 0 ||
	    getsockname(od->lfd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	od->port = kst_toolutil_addr_port((struct sockaddr *)&ss);
	return 0;
}

static int od_setup(struct od *od)
{
	const char *tmp = getenv("TMPDIR");
	sigset_t set;
	int err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (od->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return -errno;
	if ((err = od_listen(od)) < 0)
		return err;
	snprintf(od->dir, sizeof(od->dir), "%s/kst-ocspd-XXXXXX",
		 tmp ? tmp : "/tmp");
	if (mkdtemp(od->dir) == NULL)
		return -errno;
	if (od->o.log != NULL &&
	    (od->log_fd =
		     open(od->o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0644)) < 0)
		return -errno;
	if (od->o.pidfile != NULL &&
	    (err = kst_toolutil_write_pidfile(od->o.pidfile)))
		return err;
	return 0;
}

static void od_usage(FILE *f)
{
	fprintf(f,
		"usage: kst-ocspd --index FILE --ca FILE --rkey FILE "
		"[options]\n"
		"  -l ADDR              listen (default 127.0.0.1:0)\n"
		"  --rsigner FILE       responder certificate (default --ca)\n"
		"  --ndays N | --nmin N validity of ok responses (default 1 "
		"day)\n"
		"  --log FILE           one line per request\n"
		"  --mode MODE          ok crlf junk no-length hang close "
		"http500 garbage html "
		"redirect\n"
		"                       wrong-key other-cert expired trylater "
		"delay:MS\n"
		"                       file:PATH (serve PATH's bytes)\n"
		"  --mode-file FILE     first word overrides --mode, per "
		"request\n"
		"  --rogue-signer FILE --rogue-key FILE   for wrong-key\n"
		"  --other-cert FILE    for other-cert (issued by --ca)\n"
		"  --openssl PATH       the openssl binary (default: openssl)\n"
		"  --pidfile FILE, -v (openssl's stderr)\n"
		"Prints \"ready <port>\" when listening; SIGTERM stops.\n");
}

static const struct option od_longopts[] = {
	{"index", required_argument, NULL, 'i'},
	{"ca", required_argument, NULL, 'C'},
	{"rsigner", required_argument, NULL, 's'},
	{"rkey", required_argument, NULL, 'k'},
	{"ndays", required_argument, NULL, 'd'},
	{"nmin", required_argument, NULL, 'M'},
	{"log", required_argument, NULL, 'L'},
	{"mode", required_argument, NULL, 'm'},
	{"mode-file", required_argument, NULL, 'F'},
	{"rogue-signer", required_argument, NULL, 'r'},
	{"rogue-key", required_argument, NULL, 'K'},
	{"other-cert", required_argument, NULL, 'o'},
	{"openssl", required_argument, NULL, 'O'},
	{"pidfile", required_argument, NULL, 'P'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int od_options(struct od_opts *o, int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "l:vh", od_longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'i':
			o->index = optarg;
			break;
		case 'C':
			o->ca = optarg;
			break;
		case 's':
			o->rsigner = optarg;
			break;
		case 'k':
			o->rkey = optarg;
			break;
		case 'd':
			o->ndays = atoi(optarg);
			o->nmin = 0;
			break;
		case 'M':
			o->nmin = atoi(optarg);
			o->ndays = 0;
			break;
		case 'L':
			o->log = optarg;
			break;
		case 'm':
			o->mode = optarg;
			break;
		case 'F':
			o->mode_file = optarg;
			break;
		case 'r':
			o->rogue_signer = optarg;
			break;
		case 'K':
			o->rogue_key = optarg;
			break;
		case 'o':
			o->other_cert = optarg;
			break;
		case 'O':
			o->openssl = optarg;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			od_usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (o->rsigner == NULL)
		o->rsigner = o->ca;
	if (optind != argc || !o->index || !o->ca || !o->rkey ||
	    (o->ndays <= 0 && o->nmin <= 0))
		return -1;
	return access(o->index, R_OK) || access(o->ca, R_OK) ||
			       access(o->rsigner, R_OK) || access(o->rkey, R_OK)
		       ? -1
		       : 0;
}

int main(int argc, char **argv)
{
	struct od od = {
		.o = {.listen = "127.0.0.1:0",
		      .mode = "ok",
		      .ndays = 1,
		      .openssl = "openssl"},
		.lfd = -1,
		.sfd = -1,
		.log_fd = -1,
	};
	int err;

	if (od_options(&od.o, argc, argv) < 0) {
		od_usage(stderr);
		return 2;
	}
	if ((err = od_setup(&od)) < 0) {
		fprintf(stderr, "kst-ocspd: setup: %s\n", strerror(-err));
		if (od.dir[0] != '\0')
			rmdir(od.dir);
		return 1;
	}
	printf("ready %u\n", od.port);
	fflush(stdout);
	od_loop(&od);
	od_shutdown(&od);
	return 0;
}
