// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the OCSP HTTP reply handling (daemon/ocsp/fetch_http.c).
 * The input is what a responder (or a proxy) answers: status line,
 * headers, body and anything after; kst_fetch_http_reply() runs the
 * fetcher's exchange against it without a socket (OpenSSL's HTTP client,
 * the fetcher's BIO and its head parsing, body extraction, the error
 * mapping). The first byte picks the method (GET, or POST for a URL with
 * a query), a proxy, and a max-response-size; or (bit 7) calls the pure
 * body extractor kst_fetch_http_body() directly with a fuzzed
 * Content-Length.
 *
 * Asserted: a body is only handed on with KST_FETCH_OK and HTTP 200, is
 * one whole DER object of its own length, no larger than the limit and
 * taken from the answer; every outcome carries a detail sentence.
 */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "daemon/ocsp/fetch.h"
#include "daemon/ocsp/fetch_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static OCSP_REQUEST *fuzz_http_req;
static unsigned char *fuzz_http_der;
static size_t fuzz_http_der_len;

int kst_fuzz_init(void)
{
	EVP_PKEY *key = kst_fuzz_key("kst-fuzz http issuer");
	struct kst_fuzz_cert ca = {
		.cn = "ca", .key = key, .ca = true, .serial = 1};
	X509 *issuer = kst_fuzz_cert_new(&ca);
	struct kst_fuzz_cert lc = {.cn = "leaf",
				   .key = key,
				   .issuer = issuer,
				   .issuer_key = key,
				   .serial = 2};
	X509 *leaf = kst_fuzz_cert_new(&lc);
	OCSP_CERTID *id =
		leaf ? OCSP_cert_to_id(EVP_sha1(), leaf, issuer) : NULL;
	int n;

	fuzz_http_req = OCSP_REQUEST_new();
	if (id == NULL || fuzz_http_req == NULL ||
	    OCSP_request_add0_id(fuzz_http_req, id) == NULL)
		return -1;
	n = i2d_OCSP_REQUEST(fuzz_http_req, &fuzz_http_der);
	X509_free(leaf);
	X509_free(issuer);
	EVP_PKEY_free(key);
	if (n <= 0)
		return -1;
	fuzz_http_der_len = (size_t)n;
	return 0;
}

/* The body handed on: one DER object, exactly, taken from the answer. */
static void fuzz_http_check_body(const struct kst_fetch_http *h,
				 const uint8_t *reply, size_t len)
{
	const unsigned char *p = h->body;
	long obj_len = 0;
	int tag, cls;

	if (h->body == NULL || h->body_len == 0 || h->body_len > h->max_size)
		kst_fuzz_fail("ok with a body of %zu bytes (limit %zu)",
			      h->body_len, h->max_size);
	if (h->http_status != 200)
		kst_fuzz_fail("ok with HTTP status %d", h->http_status);
	if (ASN1_get_object(&p, &obj_len, &tag, &cls, (long)h->body_len) & 0x80)
		kst_fuzz_fail("the body is not one DER object");
	if ((size_t)(p - h->body) + (size_t)obj_len != h->body_len)
		kst_fuzz_fail("the body is %zu bytes, its DER object %zu",
			      h->body_len,
			      (size_t)(p - h->body) + (size_t)obj_len);
	if (memmem(reply, len, h->body, h->body_len) == NULL)
		kst_fuzz_fail("the body is not from the answer");
}

static void fuzz_http_pure(struct kst_fuzz_in *in)
{
	long cl = (long)(int32_t)kst_fuzz_u32(in);
	size_t max = kst_fuzz_u16(in);
	size_t len = in->n, body = 0;
	unsigned char *buf = malloc(len ? len : 1);
	int err;

	if (buf == NULL)
		abort();
	memcpy(buf, in->p, len);
	err = kst_fetch_http_body(buf, len, cl < -1 ? -1 : cl, max, &body);
	if (err == 0 && (body > len || body > max || body == 0 ||
			 (cl >= 0 && (size_t)cl != body)))
		kst_fuzz_fail("body of %zu bytes out of %zu (max %zu, "
			      "Content-Length %ld)",
			      body, len, max, cl);
	if (err != 0 && body != 0)
		kst_fuzz_fail("error %d with a body length", err);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kst_fuzz_in in = {data, size};
	unsigned int mode = kst_fuzz_u8(&in);
	struct kst_fetch_http h = {0};
	unsigned char *reply;
	size_t len;

	if (mode & 0x80) {
		fuzz_http_pure(&in);
		return 0;
	}
	h.url = (mode & 1) ? "http://ocsp.example:8080/ocsp?id=1"
			   : "http://ocsp.example/";
	h.proxy = (mode & 2) ? "http://proxy.example:3128" : NULL;
	h.req = fuzz_http_req;
	h.der = fuzz_http_der;
	h.der_len = fuzz_http_der_len;
	h.connect_timeout_ms = h.response_timeout_ms = 1000;
	h.max_size = (mode & 4) ? 64 : 65536;
	h.cancel_fd = -1;
	len = in.n;
	reply = malloc(len ? len : 1);
	if (reply == NULL)
		abort();
	memcpy(reply, in.p, len);
	kst_fetch_http_reply(&h, reply, len);
	if (getenv("KST_FUZZ_LOG") != NULL)
		fprintf(stderr, "outcome %d, HTTP %d, %zu body bytes: %s\n",
			h.err, h.http_status, h.body_len, h.detail);
	if (h.detail[0] == '\0' ||
	    strnlen(h.detail, sizeof(h.detail)) == sizeof(h.detail))
		kst_fuzz_fail("outcome %d without a detail", h.err);
	if (h.err == KST_FETCH_OK)
		fuzz_http_check_body(&h, reply, len);
	else if (h.body != NULL)
		kst_fuzz_fail("outcome %d (%s) with a body", h.err, h.detail);
	OPENSSL_free(h.body);
	free(reply);
	ERR_clear_error();
	return 0;
}

static void fuzz_http_seed(const char *dir, const char *name, unsigned mode,
			   const char *head, const void *body, size_t n,
			   const char *after)
{
	struct kst_fuzz_out o = {.n = 0};

	kst_fuzz_put_u8(&o, mode);
	kst_fuzz_put(&o, head, strlen(head));
	kst_fuzz_put(&o, body, n);
	kst_fuzz_put(&o, after, strlen(after));
	kst_fuzz_seed_put(dir, name, o.buf, o.n);
}

void kst_fuzz_seeds(const char *dir)
{
	/* OCSPResponse { responseStatus tryLater }: a short DER body */
	static const unsigned char later[] = {0x30, 0x03, 0x0a, 0x01, 0x03};
	static const char ok[] = "HTTP/1.1 200 OK\r\n"
				 "Content-Type: application/ocsp-response\r\n"
				 "Content-Length: 5\r\n\r\n";
	static const char ok_nolen[] =
		"HTTP/1.0 200 OK\r\n"
		"Content-Type: application/ocsp-response\r\n\r\n";
	struct kst_fuzz_out o = {.n = 0};

	fuzz_http_seed(dir, "ok", 0, ok, later, sizeof(later), "");
	fuzz_http_seed(dir, "ok-post-crlf-after", 1, ok, later, sizeof(later),
		       "\r\n");
	fuzz_http_seed(dir, "ok-no-length-junk", 0, ok_nolen, later,
		       sizeof(later), "junk after the body");
	fuzz_http_seed(dir, "proxy-407", 2,
		       "HTTP/1.1 407 Proxy Authentication Required\r\n"
		       "Content-Length: 0\r\n\r\n",
		       "", 0, "");
	fuzz_http_seed(dir, "redirect", 0,
		       "HTTP/1.1 302 Found\r\n"
		       "Location: http://elsewhere.example/ocsp\r\n"
		       "Content-Length: 0\r\n\r\n",
		       "", 0, "");
	fuzz_http_seed(dir, "server-error", 1,
		       "HTTP/1.1 500 Internal Server Error\r\n"
		       "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\n",
		       "oops", 4, "");
	fuzz_http_seed(dir, "too-large", 4,
		       "HTTP/1.1 200 OK\r\n"
		       "Content-Type: application/ocsp-response\r\n"
		       "Content-Length: 100000\r\n\r\n",
		       later, sizeof(later), "");
	kst_fuzz_put_u8(&o, 0x80);
	kst_fuzz_put_u32(&o, 5);
	kst_fuzz_put_u16(&o, 65535);
	kst_fuzz_put(&o, later, sizeof(later));
	kst_fuzz_put(&o, "\r\n", 2);
	kst_fuzz_seed_put(dir, "pure-body", o.buf, o.n);
}
