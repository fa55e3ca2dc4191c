/* SPDX-License-Identifier: MIT */
/*
 * Internal to the OCSP fetcher (ocsp_fetch.c): one HTTP attempt, the
 * request sent to one responder URL and its answer taken apart into an
 * outcome code, an HTTP status and a body. What the body means is
 * ocsp_fetch.c's business (ingest, nonce, state file).
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

#endif
