/* SPDX-License-Identifier: MIT */
/*
 * One OCSP fetch: build the request for a certificate, ask its responders
 * over HTTP (OpenSSL's HTTP client) and verify the answer (kst_ocsp_ingest,
 * and the nonce when one was sent), so that a bad answer counts as a
 * failed fetch and the next URL is tried. The job decides nothing else and
 * writes no file: the control thread, sole writer of the staple store,
 * ingests the body from memory through the same path as an operator's
 * staple file (kst_staplefile_ingest_fetched) and persists it to state-dir
 * only when it became the staple served.
 *
 * A job is blocking I/O and runs on a fetcher thread (daemon/ocsp/fetcher.h),
 * never on a worker, never inside a handshake. Everything it waits for is
 * bounded in milliseconds by its own timeouts, and it gives up at once when
 * its cancel_fd becomes readable, the lookup of the responder's name
 * included (c-ares, daemon/ocsp/fetch_resolve.h). It logs nothing above debug:
 * the caller logs the outcome,
 * naming the certificate. It leaves the thread's OpenSSL error queue
 * empty (the reasons are in detail).
 *
 * HTTP, per URL attempt (RFC 6960 appendix A):
 *   - GET with the base64, then URL-encoded, request appended to the URL's
 *     path when the whole URL stays under 255 bytes and the URL has no
 *     query; POST (Content-Type application/ocsp-request) otherwise;
 *   - the responder's name is resolved at every attempt (no cached
 *     address; an IP literal is not looked up), and every address it has
 *     is tried in order until one accepts the connection (IPv6 refused or
 *     unreachable -> IPv4). An address that silently drops the connection
 *     holds the attempt until connect_timeout_ms: the next address is
 *     tried only when one fails;
 *   - connect_timeout_ms bounds the name lookup and the connection (all
 *     addresses together): a DNS server that does not answer is
 *     KST_FETCH_E_RESOLVE at that timeout; response_timeout_ms bounds
 *     the whole attempt, connection included;
 *   - HTTP/1.0 with a Host header; through http_proxy ("http://host:port")
 *     the request line carries the absolute URL;
 *   - the answer must be 200, Content-Type application/ocsp-response, a
 *     DER body of at most max_size bytes (a larger Content-Length or DER
 *     length fails before the body is read; a Content-Length that is not
 *     the DER length is KST_FETCH_E_BODY); the body is exactly the DER
 *     object, and what a responder sends after it is ignored; redirects
 *     are not followed.
 */
#ifndef KST_OCSP_FETCH_H
#define KST_OCSP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "daemon/ocsp/verdict.h"

/*
 * Stable codes, exported in the BPF map next to the ingest codes (1..63,
 * enum kst_ocsp_err); bpf/kstapled.h reserves 64..127 for these. Never
 * renumber; append only.
 */
enum kst_fetch_err {
	KST_FETCH_OK = 0,
	KST_FETCH_E_NO_URL = 64,  /* none, or none kstapled can use (https) */
	KST_FETCH_E_RESOLVE = 65, /* the responder's name did not resolve */
	KST_FETCH_E_CONNECT = 66, /* no address accepted the connection */
	KST_FETCH_E_TIMEOUT = 67, /* connect or response timeout */
	/* HTTP status not 200 (http_status), or no HTTP answer at all (0):
	 * closed, reset, not HTTP */
	KST_FETCH_E_HTTP = 68,
	KST_FETCH_E_REDIRECT = 69, /* 3xx; the Location is in detail */
	/* 200, but not an OCSP response: content type, not DER */
	KST_FETCH_E_BODY = 70,
	KST_FETCH_E_TOO_LARGE = 71, /* more than max_size bytes */
	KST_FETCH_E_NONCE = 72,	    /* nonce asked for, not echoed */
	/* parsed, but ingest refused it: see verdict.err */
	KST_FETCH_E_VERDICT = 73,
	/* no longer produced: a state-dir write that fails is the control
	 * thread's warning, not a failed fetch (the response is stapled) */
	KST_FETCH_E_WRITE = 74,
	/* the proxy: bad URL, unreachable, or it refused (407) */
	KST_FETCH_E_PROXY = 75,
	/* allocation, OpenSSL failure, cancelled by shutdown */
	KST_FETCH_E_INTERNAL = 76,
};
#define KST_FETCH_ERR_FIRST KST_FETCH_E_NO_URL
#define KST_FETCH_ERR_LAST  KST_FETCH_E_INTERNAL

/*
 * Short stable token (fits the BPF map's 16-byte name): "ok", "no-url",
 * "resolve", "connect", "timeout", "http", "redirect", "body", "too-large",
 * "nonce", "verdict", "write", "proxy", "internal"; below 64 the ingest
 * names (kst_ocsp_err_name); "invalid" for anything else.
 */
const char *kst_fetch_err_name(int code);

/* Start from kst_fetch_opts_default(): zero is not a usable ingest. */
struct kst_fetch_opts {
	long connect_timeout_ms, response_timeout_ms;
	size_t max_size;	/* 0: ingest.max_size, else the default */
	const char *http_proxy; /* NULL or "": direct */
	bool nonce;		/* send one; the response must echo it */
	struct kst_ocsp_params ingest;
};

/* 4 s connect, 10 s response (hitch's defaults), no proxy, no nonce, the
 * ingest defaults. */
void kst_fetch_opts_default(struct kst_fetch_opts *o);

/* A persisted response's mode: readable by the daemon's group, like the
 * staple files it reads. */
#define KST_FETCH_PERSIST_MODE 0640

struct kst_fetch_job {
	/* in: the job owns all of it, kst_fetch_job_free releases it */
	void *cookie; /* the caller's (certificate state); never touched */
	X509 *leaf, *issuer; /* references */
	char **urls;	     /* malloc'd strings in a malloc'd array; tried in
				order until one gives a usable answer */
	size_t n_urls;
	struct kst_fetch_opts opts; /* http_proxy: a malloc'd copy */
	int cancel_fd; /* readable = give up now (the pool's); -1: none */
	/* where the caller keeps a response it takes (state-dir), malloc'd;
	 * NULL: nowhere. A usable response is written beside it ahead, on
	 * the fetching thread (persist_tmp), so that the thread that decides
	 * only renames: 50,000 fsyncs one after another on the control
	 * thread were the cold fetch's limit (issue 13). */
	char *persist_path;
	/* out */
	int err;	  /* KST_FETCH_OK or a code; E_VERDICT: see verdict */
	int http_status;  /* of the last attempt, 0 if none */
	char url[512];	  /* the URL of the last attempt */
	char detail[256]; /* one sentence: why it failed, what was fetched */
	struct kst_ocsp_verdict verdict; /* valid only when der != NULL */
	unsigned char *der; /* the last body received (any verdict),
			       OPENSSL_malloc'd; NULL if none */
	size_t len;
	/* der written beside persist_path (kst_write_tmp, mode
	 * KST_FETCH_PERSIST_MODE, fsync'ed), for the caller to rename over
	 * it and set NULL; NULL: not written. kst_fetch_job_free removes a
	 * file still named here. */
	char *persist_tmp;
	time_t started, finished; /* wall clock */
	/* the pool's */
	struct kst_fetch_job *next;
};

/*
 * A job with copies of everything (X509 references, strings); opts NULL
 * means kst_fetch_opts_default. NULL with errno set on failure (EINVAL:
 * a NULL certificate or URL).
 */
struct kst_fetch_job *kst_fetch_job_new(void *cookie, X509 *leaf, X509 *issuer,
					const char *const *urls, size_t n_urls,
					const struct kst_fetch_opts *opts);
void kst_fetch_job_free(struct kst_fetch_job *job);

/*
 * The DER OCSP request for leaf as issued by issuer (SHA-1 CertID, which
 * every responder answers), with a random nonce when asked. *req and *der
 * (OPENSSL_malloc'd) belong to the caller. 0, or -EINVAL (a NULL
 * certificate, or OpenSSL failed, out of memory included).
 */
int kst_fetch_request_build(X509 *leaf, X509 *issuer, bool nonce,
			    OCSP_REQUEST **req, unsigned char **der,
			    size_t *len);

/*
 * How to send der to url: *get_path (malloc'd) is the path to GET (the
 * URL's path, a '/' if it lacks one, the URL-encoded base64 request) when
 * the whole GET URL is under 255 bytes and the URL has no query; NULL
 * means POST to the URL's path. 0, or -EINVAL for a URL that is not
 * http(s)://host[:port][/path], -ENOMEM.
 */
int kst_fetch_http_plan(const char *url, const unsigned char *der, size_t len,
			char **get_path);

/*
 * Run the job (blocking; every wait bounded as described above). now is
 * the time ingest checks the response against; 0 reads the wall clock
 * when the response has arrived (the pool's way). Fills the out fields.
 */
void kst_fetch_run(struct kst_fetch_job *job, time_t now);

#endif
