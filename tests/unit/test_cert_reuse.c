// SPDX-License-Identifier: MIT
/*
 * What a reload carries over from a certificate whose files did not change
 * (daemon/tls/cert.c, kst_cert_load_reuse): the leaf is shared, and what
 * its extensions say (must-staple, the AIA responders) is taken from the
 * previous generation instead of decoded again (issue 13), unless the
 * configuration's responders changed: an `ocsp-url` added is used, and one
 * removed gives the leaf's AIA back, not the old override.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/datapath/gen.h"
#include "daemon/tls/cert.h"
#include "tests/lib/genfix.h"
#include "tests/lib/testutil.h"

#define AIA	 "http://127.0.0.1:8888/" /* the test PKI's leaves */
#define OVERRIDE "http://127.0.0.2:9/override"

static struct kst_genfix fx;
static struct kst_gen *gens[4];

static void teardown(void)
{
	for (int i = 3; i >= 1; i--)
		if (gens[i] != NULL)
			kst_gen_destroy(gens[i], &fx.reg);
	kst_genfix_free(&fx);
}

TestSuite(cert_reuse, .fini = teardown, .timeout = 30);

/* The sections with ecdsa's extra line. */
static char *sections(const char *ecdsa_extra)
{
	char *ecdsa = kst_test_pki_path("localhost-ecdsa.pem");
	char *must = kst_test_pki_path("must-staple.pem");
	char *text = NULL;

	cr_assert(asprintf(&text,
			   "[cert:ecdsa]\npem = %s\n%s\n[cert:must]\npem = %s\n"
			   "[listener:a]\nbind = 127.0.0.1:0\n"
			   "backend = 127.0.0.1:9\ncert = ecdsa\ncert = must\n",
			   ecdsa, ecdsa_extra, must) > 0);
	free(ecdsa);
	free(must);
	return text;
}

/* Generation i from the configuration with ecdsa's extra line, built on
 * generation i - 1 as a reload does. */
static struct kst_gen *build(int i, const char *ecdsa_extra)
{
	char *text = sections(ecdsa_extra);

	if (i == 0) {
		kst_genfix_build(&fx, "off", false, text);
		gens[0] = fx.gen;
	} else {
		gens[i] = kst_genfix_gen(&fx, text, gens[i - 1]);
	}
	free(text);
	cr_assert_eq(gens[i]->n_certs, 2);
	return gens[i];
}

static const struct kst_cert *cert(const struct kst_gen *g, const char *name)
{
	for (size_t i = 0; i < g->n_certs; i++)
		if (strcmp(g->certs[i]->name, name) == 0)
			return g->certs[i];
	cr_assert_fail("no cert %s", name);
	return NULL;
}

static void expect_urls(const struct kst_cert *c, const char *url,
			const struct kst_cert *prev)
{
	cr_assert_eq(c->n_ocsp_urls, 1, "cert %s: %zu responders", c->name,
		     c->n_ocsp_urls);
	cr_expect_str_eq(c->ocsp_urls[0], url, "cert %s", c->name);
	if (prev != NULL)
		cr_expect_neq(c->ocsp_urls[0], prev->ocsp_urls[0],
			      "cert %s: its own copy", c->name);
}

Test(cert_reuse, an_unchanged_leaf_keeps_what_its_extensions_say)
{
	struct kst_gen *a = build(0, ""), *b = build(1, "");

	cr_assert(cert(b, "ecdsa")->reused && cert(b, "must")->reused,
		  "unchanged files are shared, not read again");
	cr_expect_eq(cert(b, "ecdsa")->leaf, cert(a, "ecdsa")->leaf);
	cr_expect(cert(b, "must")->must_staple);
	cr_expect_eq(cert(b, "must")->policy, KST_POLICY_MUST_STAPLE);
	cr_expect_not(cert(b, "ecdsa")->must_staple);
	expect_urls(cert(a, "ecdsa"), AIA, NULL);
	expect_urls(cert(b, "ecdsa"), AIA, cert(a, "ecdsa"));
	expect_urls(cert(b, "must"), AIA, cert(a, "must"));
}

Test(cert_reuse, a_changed_ocsp_url_is_followed_both_ways)
{
	struct kst_gen *a, *b, *c, *d;

	a = build(0, "");
	b = build(1, "ocsp-url = " OVERRIDE);
	c = build(2, "ocsp-url = " OVERRIDE);
	d = build(3, "");
	cr_assert(cert(b, "ecdsa")->reused && cert(d, "ecdsa")->reused);
	expect_urls(cert(b, "ecdsa"), OVERRIDE, NULL);
	expect_urls(cert(c, "ecdsa"), OVERRIDE, cert(b, "ecdsa"));
	expect_urls(cert(d, "ecdsa"), AIA, NULL);
	expect_urls(cert(d, "must"), AIA, cert(c, "must"));
	(void)a;
}
