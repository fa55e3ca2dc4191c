// SPDX-License-Identifier: MIT
/*
 * One OCSP fetch job (see fetch.h): the request, the URLs in order,
 * and the verification of an answer. The HTTP exchange itself is in
 * fetch_http.c; here an answer goes through kst_ocsp_ingest (the same
 * checks as for an operator's staple file), then the nonce check. The job
 * writes nothing: what becomes the staple, and what is persisted, is the
 * control thread's decision (fetchctl.c), which sees the held staple and
 * the revocation held; a job could only guess, and a replayed older
 * response written here would replace a newer file on disk.
 *
 * URLs are tried in order until one gives a good response, or a verified
 * "revoked": that is the CA's answer, and asking a mirror until one says
 * "good" would be shopping for it. Cancellation (the pool shutting down)
 * ends the job at once.
 */
#include "daemon/ocsp/fetch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "daemon/base/log.h"
#include "daemon/ocsp/fetch_http.h"
#include "daemon/base/util.h"

#define FETCH_CONNECT_MS  4000
#define FETCH_RESPONSE_MS 10000

static int fetch_copy_in(struct kst_fetch_job *job, const char *const *urls,
			 size_t n_urls, const struct kst_fetch_opts *opts);
static void fetch_reset(struct kst_fetch_job *job);
static bool fetch_attempt(struct kst_fetch_job *job, const char *url,
			  OCSP_REQUEST *req, const unsigned char *der,
			  size_t len, time_t now);
static void fetch_judge(struct kst_fetch_job *job, OCSP_REQUEST *req, bool post,
			time_t now);
static int fetch_nonce(const struct kst_fetch_job *job, OCSP_REQUEST *req);
static void fetch_set(struct kst_fetch_job *job, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static const char *const fetch_err_names[] = {
	[KST_FETCH_E_NO_URL - KST_FETCH_ERR_FIRST] = "no-url",
	[KST_FETCH_E_RESOLVE - KST_FETCH_ERR_FIRST] = "resolve",
	[KST_FETCH_E_CONNECT - KST_FETCH_ERR_FIRST] = "connect",
	[KST_FETCH_E_TIMEOUT - KST_FETCH_ERR_FIRST] = "timeout",
	[KST_FETCH_E_HTTP - KST_FETCH_ERR_FIRST] = "http",
	[KST_FETCH_E_REDIRECT - KST_FETCH_ERR_FIRST] = "redirect",
	[KST_FETCH_E_BODY - KST_FETCH_ERR_FIRST] = "body",
	[KST_FETCH_E_TOO_LARGE - KST_FETCH_ERR_FIRST] = "too-large",
	[KST_FETCH_E_NONCE - KST_FETCH_ERR_FIRST] = "nonce",
	[KST_FETCH_E_VERDICT - KST_FETCH_ERR_FIRST] = "verdict",
	[KST_FETCH_E_WRITE - KST_FETCH_ERR_FIRST] = "write",
	[KST_FETCH_E_PROXY - KST_FETCH_ERR_FIRST] = "proxy",
	[KST_FETCH_E_INTERNAL - KST_FETCH_ERR_FIRST] = "internal",
};
_Static_assert(KST_ARRAY_SIZE(fetch_err_names) ==
		       KST_FETCH_ERR_LAST - KST_FETCH_ERR_FIRST + 1,
	       "one name per fetch error");

const char *kst_fetch_err_name(int code)
{
	if (code >= 0 && code < KST_FETCH_ERR_FIRST)
		return kst_ocsp_err_name((enum kst_ocsp_err)code);
	if (code < 0 || code > KST_FETCH_ERR_LAST)
		return "invalid";
	return fetch_err_names[code - KST_FETCH_ERR_FIRST];
}

void kst_fetch_opts_default(struct kst_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = FETCH_CONNECT_MS;
	o->response_timeout_ms = FETCH_RESPONSE_MS;
	kst_ocsp_params_default(&o->ingest);
}

/* ------------------------------------------------------------ the job */

struct kst_fetch_job *kst_fetch_job_new(void *cookie, X509 *leaf, X509 *issuer,
					const char *const *urls, size_t n_urls,
					const struct kst_fetch_opts *opts)
{
	struct kst_fetch_job *job = NULL;
	int err = -EINVAL;

	if (leaf == NULL || issuer == NULL || (n_urls > 0 && urls == NULL))
		goto error;
	err = -ENOMEM;
	job = calloc(1, sizeof(*job));
	if (job == NULL)
		goto error;
	job->cookie = cookie;
	job->cancel_fd = -1;
	if (!X509_up_ref(leaf))
		goto error;
	job->leaf = leaf;
	if (!X509_up_ref(issuer))
		goto error;
	job->issuer = issuer;
	err = fetch_copy_in(job, urls, n_urls, opts);
	if (err < 0)
		goto error;
	return job;
error:
	kst_fetch_job_free(job);
	errno = -err;
	return NULL;
}

static int fetch_copy_in(struct kst_fetch_job *job, const char *const *urls,
			 size_t n_urls, const struct kst_fetch_opts *opts)
{
	if (opts != NULL)
		job->opts = *opts;
	else
		kst_fetch_opts_default(&job->opts);
	job->opts.http_proxy = NULL;
	if (opts != NULL && opts->http_proxy != NULL &&
	    (job->opts.http_proxy = strdup(opts->http_proxy)) == NULL)
		return -ENOMEM;
	job->urls = calloc(n_urls ? n_urls : 1, sizeof(*job->urls));
	if (job->urls == NULL)
		return -ENOMEM;
	for (; job->n_urls < n_urls; job->n_urls++) {
		if (urls[job->n_urls] == NULL)
			return -EINVAL;
		job->urls[job->n_urls] = strdup(urls[job->n_urls]);
		if (job->urls[job->n_urls] == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* A response written ahead that no one took: removed. */
static void fetch_drop_ahead(struct kst_fetch_job *job)
{
	if (job->persist_tmp != NULL)
		unlink(job->persist_tmp);
	free(job->persist_tmp);
	job->persist_tmp = NULL;
}

void kst_fetch_job_free(struct kst_fetch_job *job)
{
	if (job == NULL)
		return;
	for (size_t i = 0; i < job->n_urls; i++)
		free(job->urls[i]);
	free(job->urls);
	free((char *)job->opts.http_proxy);
	OPENSSL_free(job->der);
	fetch_drop_ahead(job);
	free(job->persist_path);
	X509_free(job->issuer);
	X509_free(job->leaf);
	free(job);
}

/* -------------------------------------------------------- the request */

int kst_fetch_request_build(X509 *leaf, X509 *issuer, bool nonce,
			    OCSP_REQUEST **req, unsigned char **der,
			    size_t *len)
{
	OCSP_REQUEST *r = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *d = NULL;
	int n, err = -EINVAL;

	*req = NULL;
	*der = NULL;
	*len = 0;
	if (leaf == NULL || issuer == NULL)
		return -EINVAL;
	id = OCSP_cert_to_id(NULL, leaf, issuer);
	r = OCSP_REQUEST_new();
	if (id == NULL || r == NULL || !OCSP_request_add0_id(r, id))
		goto error;
	id = NULL; /* r owns it */
	if (nonce && !OCSP_request_add1_nonce(r, NULL, -1))
		goto error;
	n = i2d_OCSP_REQUEST(r, &d);
	if (n <= 0)
		goto error;
	*req = r;
	*der = d;
	*len = (size_t)n;
	return 0;
error:
	ERR_clear_error();
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(r);
	return err;
}

/* ------------------------------------------------------------ running */

static void fetch_set(struct kst_fetch_job *job, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->detail, sizeof(job->detail), fmt, ap);
	va_end(ap);
	job->err = err;
}

static void fetch_reset(struct kst_fetch_job *job)
{
	job->err = KST_FETCH_OK;
	job->http_status = 0;
	job->detail[0] = '\0';
	memset(&job->verdict, 0, sizeof(job->verdict));
	job->verdict.response_status = -1;
	job->verdict.cert_status = -1;
	job->verdict.revocation_reason = -1;
	OPENSSL_free(job->der);
	job->der = NULL;
	job->len = 0;
}

void kst_fetch_run(struct kst_fetch_job *job, time_t now)
{
	OCSP_REQUEST *req = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	job->started = kst_now();
	job->url[0] = '\0';
	fetch_reset(job);
	fetch_drop_ahead(job); /* a run before this one's */
	if (job->n_urls == 0) {
		fetch_set(job, KST_FETCH_E_NO_URL, "no OCSP responder URL");
	} else if (kst_fetch_request_build(job->leaf, job->issuer,
					   job->opts.nonce, &req, &der,
					   &len) < 0) {
		fetch_set(job, KST_FETCH_E_INTERNAL,
			  "cannot build the OCSP request");
	} else {
		for (size_t i = 0; i < job->n_urls; i++)
			if (fetch_attempt(job, job->urls[i], req, der, len,
					  now))
				break;
	}
	OPENSSL_free(der);
	OCSP_REQUEST_free(req);
	/* a failed write ahead is the caller's to repeat, and report */
	if (job->err == KST_FETCH_OK && job->persist_path != NULL)
		(void)kst_write_tmp(job->persist_path, job->der, job->len,
				    KST_FETCH_PERSIST_MODE, &job->persist_tmp);
	job->finished = kst_now();
	kst_debug("ocsp fetch %s: %s: %s", job->url,
		  kst_fetch_err_name(job->err), job->detail);
}

/* One URL; true when no other URL should be tried. */
static bool fetch_attempt(struct kst_fetch_job *job, const char *url,
			  OCSP_REQUEST *req, const unsigned char *der,
			  size_t len, time_t now)
{
	const struct kst_fetch_opts *o = &job->opts;
	struct kst_fetch_http h = {
		.url = url,
		.proxy = o->http_proxy,
		.req = req,
		.der = der,
		.der_len = len,
		.connect_timeout_ms = o->connect_timeout_ms > 0
					      ? o->connect_timeout_ms
					      : FETCH_CONNECT_MS,
		.response_timeout_ms = o->response_timeout_ms > 0
					       ? o->response_timeout_ms
					       : FETCH_RESPONSE_MS,
		.max_size = o->max_size		 ? o->max_size
			    : o->ingest.max_size ? o->ingest.max_size
						 : KST_OCSP_DEFAULT_MAX_SIZE,
		.cancel_fd = job->cancel_fd,
	};

	fetch_reset(job);
	snprintf(job->url, sizeof(job->url), "%s", url);
	job->err = kst_fetch_http_exchange(&h);
	job->http_status = h.http_status;
	snprintf(job->detail, sizeof(job->detail), "%s", h.detail);
	job->der = h.body;
	job->len = h.body_len;
	if (job->err == KST_FETCH_OK)
		fetch_judge(job, req, h.post, now);
	return job->err == KST_FETCH_OK || h.cancelled ||
	       (job->err == KST_FETCH_E_VERDICT &&
		job->verdict.err == KST_OCSP_E_REVOKED);
}

/* A body arrived: is it a response for this certificate, with our nonce? */
static void fetch_judge(struct kst_fetch_job *job, OCSP_REQUEST *req, bool post,
			time_t now)
{
	if (now == 0)
		now = kst_now();
	if (kst_ocsp_ingest(job->der, job->len, job->leaf, job->issuer, now,
			    &job->opts.ingest, &job->verdict) != KST_OCSP_OK) {
		fetch_set(job, KST_FETCH_E_VERDICT, "refused (%s): %s",
			  kst_ocsp_err_name(job->verdict.err),
			  job->verdict.detail);
		return;
	}
	if (job->opts.nonce && fetch_nonce(job, req) != 1) {
		fetch_set(job, KST_FETCH_E_NONCE,
			  "the response does not echo the request's nonce");
		return;
	}
	fetch_set(job, KST_FETCH_OK, "%zu bytes by %s: %s", job->len,
		  post ? "POST" : "GET", job->verdict.detail);
}

/* OCSP_check_nonce() of the (already verified) response: 1 = echoed. */
static int fetch_nonce(const struct kst_fetch_job *job, OCSP_REQUEST *req)
{
	const unsigned char *p = job->der;
	OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)job->len);
	OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;
	int r = bs ? OCSP_check_nonce(req, bs) : 0;

	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
	return r;
}
