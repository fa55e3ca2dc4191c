/* SPDX-License-Identifier: MIT */
/*
 * Internal to the OCSP fetcher (fetch.c): one HTTP attempt, the
 * request sent to one responder URL and its answer taken apart into an
 * outcome code, an HTTP status and a body. What the body means is
 * fetch.c's business (ingest, nonce, state file).
 */
#ifndef KST_OCSP_FETCH_HTTP_H
#define KST_OCSP_FETCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ocsp.h>

struct kst_fetch_http {
	/* in */
	const char *url;
	const char *proxy;	  /* NULL or "": direct */
	OCSP_REQUEST *req;	  /* for POST */
	const unsigned char *der; /* the same request, for GET */
	size_t der_len;
	long connect_timeout_ms, response_timeout_ms;
	size_t max_size;
	int cancel_fd; /* -1: none */
	/* out */
	int err;	     /* KST_FETCH_OK when a body was received */
	int http_status;     /* 0 when no status line was received */
	bool post;	     /* the method used */
	bool cancelled;	     /* cancel_fd fired */
	char detail[256];    /* why not, or what */
	unsigned char *body; /* OPENSSL_malloc'd, the caller frees it */
	size_t body_len;
};

/* Runs the attempt; returns h->err. */
int kst_fetch_http_exchange(struct kst_fetch_http *h);

/*
 * The body of a 200 answer out of what OpenSSL's HTTP client buffered
 * (buf, len: the bytes from the end of the headers, possibly with more
 * after the body): it is one DER object, whose own length is the body's
 * length. content_length is the answer's Content-Length, -1 when it sent
 * none. On 0, *body_len (at most max, at most len) is how many bytes of
 * buf are the body; whatever follows is the responder's and ignored.
 * -EMSGSIZE: the body (by Content-Length or by the DER length) is over
 * max bytes; -EPROTO: Content-Length and the DER length differ;
 * -EBADMSG: buf does not start with a definite-length DER SEQUENCE;
 * -ENODATA: buf ends before the object does (truncated). Pure function of
 * its arguments: no I/O, no allocation, any bytes (a fuzz entry point).
 */
int kst_fetch_http_body(const unsigned char *buf, size_t len,
			long content_length, size_t max, size_t *body_len);

/*
 * The whole answer side of an attempt, from bytes: runs h (url, der,
 * req, max_size, proxy as for kst_fetch_http_exchange; the timeouts and
 * cancel_fd are not used; req may be NULL when the plan is GET: a short
 * URL without a query) against a peer that answers reply (status line,
 * headers, body, anything after) and then closes, with no socket.
 * Fills the out fields exactly as the exchange does (h->body is the
 * caller's to OPENSSL_free); returns h->err. For tests and the fuzz
 * target of the OCSP HTTP reply handling; any bytes are valid input.
 */
int kst_fetch_http_reply(struct kst_fetch_http *h, const unsigned char *reply,
			 size_t len);

#endif
