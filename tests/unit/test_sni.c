// SPDX-License-Identifier: MIT
/*
 * Certificate choice from the ClientHello: server_name parsing, what the
 * client can verify, which candidate is picked, and the name table with
 * wildcards and the default.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "daemon/tls/cert.h"
#include "daemon/tls/sni.h"

static const struct kst_sni_cand ecdsa = {KST_KEY_ECDSA, NID_X9_62_prime256v1,
					  true};
static const struct kst_sni_cand rsa = {KST_KEY_RSA, 0, true};

/* sigalgs extension body from a list of schemes */
static size_t sigalgs(unsigned char *out, const unsigned *schemes, size_t n)
{
	out[0] = (unsigned char)((2 * n) >> 8);
	out[1] = (unsigned char)(2 * n);
	for (size_t i = 0; i < n; i++) {
		out[2 + 2 * i] = (unsigned char)(schemes[i] >> 8);
		out[3 + 2 * i] = (unsigned char)schemes[i];
	}
	return 2 + 2 * n;
}

static void caps_for(struct kst_hello_caps *c, bool tls13,
		     const unsigned *schemes, size_t n)
{
	static const unsigned char v13[] = {4, 0x03, 0x04, 0x03, 0x03};
	static const unsigned char v12[] = {2, 0x03, 0x03};
	unsigned char sa[64];
	size_t len = sigalgs(sa, schemes, n);

	memset(c, 0, sizeof(*c));
	c->suite12_ecdsa = c->suite12_rsa = true;
	kst_hello_caps_parse(c, n ? sa : NULL, n ? len : 0, tls13 ? v13 : v12,
			     tls13 ? sizeof(v13) : sizeof(v12), 0x0304);
}

Test(sni, parses_the_host_name_lower_cased)
{
	static const unsigned char ext[] = {0,	 14,  0,   0,	11,  'E',
					    'x', 'a', 'm', 'p', 'l', 'e',
					    '.', 'C', 'o', 'm'};
	char name[64];

	cr_assert_eq(kst_sni_parse(ext, sizeof(ext), name, sizeof(name)), 0);
	cr_assert_str_eq(name, "example.com");
}

Test(sni, refuses_a_malformed_server_name)
{
	static const unsigned char short_list[] = {0, 20,  0,	0,
						   3, 'a', 'b', 'c'};
	static const unsigned char not_host[] = {0, 6, 1, 0, 3, 'a', 'b', 'c'};
	static const unsigned char nul[] = {0, 6, 0, 0, 3, 'a', 0, 'c'};
	char name[64];

	cr_assert_lt(kst_sni_parse(short_list, sizeof(short_list), name, 64),
		     0);
	cr_assert_lt(kst_sni_parse(not_host, sizeof(not_host), name, 64), 0);
	cr_assert_lt(kst_sni_parse(nul, sizeof(nul), name, 64), 0);
	cr_assert_lt(kst_sni_parse(not_host, 1, name, 64), 0);
}

/* ------------------------------------ host name validity (issue 12 #7) */

struct name_case {
	char name[300];
	int len; /* -1: strlen(name); else bytes (names with a NUL) */
	enum kst_sni_name want;
};

static const struct name_case name_cases[] = {
	{"example.com", -1, KST_SNI_HOSTNAME},
	{"a", -1, KST_SNI_HOSTNAME},
	{"xn--bcher-kva.example", -1, KST_SNI_HOSTNAME},
	{"3com.com", -1, KST_SNI_HOSTNAME},
	{"a-b.c-d.e", -1, KST_SNI_HOSTNAME},
	{"UPPER.Example.COM", -1, KST_SNI_HOSTNAME},
	{"1.2.3", -1, KST_SNI_HOSTNAME}, /* not an address inet_pton takes */
	/* 63-byte label: the limit */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	 -1, KST_SNI_HOSTNAME},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	 -1, KST_SNI_INVALID},
	{"192.0.2.1", -1, KST_SNI_IP_LITERAL},
	{"2001:db8::1", -1, KST_SNI_IP_LITERAL},
	{"::ffff:192.0.2.1", -1, KST_SNI_IP_LITERAL},
	{"", -1, KST_SNI_INVALID},
	{"evil\n<0>forged line", -1, KST_SNI_INVALID},
	{"a\x01.example", -1, KST_SNI_INVALID},
	{"tab\t.example", -1, KST_SNI_INVALID},
	{"del\x7f.example", -1, KST_SNI_INVALID},
	{"\xc3\xa9t\xc3\xa9.example", -1, KST_SNI_INVALID},
	{"a\0b.example", 11, KST_SNI_INVALID},
	{"example.com.", -1, KST_SNI_INVALID},
	{".example.com", -1, KST_SNI_INVALID},
	{"a..b", -1, KST_SNI_INVALID},
	{"-a.example", -1, KST_SNI_INVALID},
	{"a-.example", -1, KST_SNI_INVALID},
	{"example.com-", -1, KST_SNI_INVALID},
	{"under_score.example", -1, KST_SNI_INVALID},
	{"*.example.com", -1, KST_SNI_INVALID},
	{"a b.example", -1, KST_SNI_INVALID},
	{"[2001:db8::1]", -1, KST_SNI_INVALID},
	{"192.0.2.1:443", -1, KST_SNI_INVALID},
	{"example.com/path", -1, KST_SNI_INVALID},
	{"a\\b.example", -1, KST_SNI_INVALID},
};

ParameterizedTestParameters(sni, classifies_server_names_by_rfc6066)
{
	return cr_make_param_array(struct name_case, name_cases,
				   sizeof(name_cases) / sizeof(name_cases[0]));
}

ParameterizedTest(const struct name_case *nc, sni,
		  classifies_server_names_by_rfc6066)
{
	size_t len = nc->len < 0 ? strlen(nc->name) : (size_t)nc->len;

	cr_expect_eq(kst_sni_classify(nc->name, len), nc->want,
		     "name #%zu (%zu bytes)", (size_t)(nc - name_cases), len);
}

Test(sni, classifies_length_bounds)
{
	char name[300];

	/* 253 bytes: 63-byte labels a.b.c plus a 61-byte one */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	cr_expect_eq(kst_sni_classify(name, 253), KST_SNI_HOSTNAME);
	cr_expect_eq(kst_sni_classify(name, 254), KST_SNI_INVALID);
}

/* server_name extension with one host_name entry */
static size_t sni_ext(unsigned char *out, const char *name, size_t n)
{
	out[0] = (unsigned char)((n + 3) >> 8);
	out[1] = (unsigned char)(n + 3);
	out[2] = 0;
	out[3] = (unsigned char)(n >> 8);
	out[4] = (unsigned char)n;
	memcpy(out + 5, name, n);
	return n + 5;
}

Test(sni, refuses_a_name_that_is_not_a_host_name)
{
	static const char *const bad[] = {"evil\nline", "a\x01.example",
					  "example.com.", "under_score.test"};
	unsigned char ext[300];
	char name[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = sni_ext(ext, bad[i], strlen(bad[i]));

		cr_expect_eq(kst_sni_parse(ext, len, name, sizeof(name)),
			     -EILSEQ, "case %zu", i);
	}
}

Test(sni, treats_an_ip_literal_as_no_server_name)
{
	unsigned char ext[64];
	char name[256] = "x";
	size_t len = sni_ext(ext, "192.0.2.1", 9);

	cr_assert_eq(kst_sni_parse(ext, len, name, sizeof(name)), 0);
	cr_expect_str_eq(name, "");
}

Test(sni, refuses_bytes_after_the_host_name)
{
	unsigned char ext[64];
	char name[256];
	size_t len = sni_ext(ext, "example.com", 11);

	/* a second entry in the list: the outer length covers it */
	memcpy(ext + len, "\x00\x00\x01z", 4);
	ext[1] = (unsigned char)(ext[1] + 4);
	cr_expect_eq(kst_sni_parse(ext, len + 4, name, sizeof(name)), -EINVAL);
}

Test(sni, prefers_ecdsa_when_the_client_can_verify_it)
{
	struct kst_sni_cand c[] = {rsa, ecdsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0804, 0x0403};

	caps_for(&caps, true, s, 2);
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1);
}

Test(sni, gives_rsa_to_a_client_without_ecdsa)
{
	struct kst_sni_cand c[] = {ecdsa, rsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0804, 0x0401};

	caps_for(&caps, true, s, 2);
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1);
}

Test(sni, tls13_needs_the_curve_specific_scheme)
{
	struct kst_sni_cand p384 = {KST_KEY_ECDSA, NID_secp384r1, true};
	struct kst_sni_cand c[] = {p384, rsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0403, 0x0804};

	caps_for(&caps, true, s, 2);
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1, "P-256 scheme only");
}

Test(sni, tls13_rsa_needs_pss)
{
	struct kst_sni_cand c[] = {rsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0401};

	caps_for(&caps, true, s, 1);
	cr_assert_eq(kst_sni_pick(&caps, c, 1), -1);
}

Test(sni, tls12_without_sigalgs_means_rsa)
{
	struct kst_sni_cand c[] = {ecdsa, rsa};
	struct kst_hello_caps caps;

	caps_for(&caps, false, NULL, 0);
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1);
}

Test(sni, tls12_ecdsa_needs_an_ecdsa_suite)
{
	struct kst_sni_cand c[] = {ecdsa, rsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0403, 0x0401};

	caps_for(&caps, false, s, 2);
	caps.suite12_ecdsa = false;
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1);
}

Test(sni, skips_a_candidate_policy_does_not_allow)
{
	struct kst_sni_cand unservable = ecdsa;
	struct kst_sni_cand c[2] = {unservable, rsa};
	struct kst_hello_caps caps;
	unsigned s[] = {0x0403, 0x0804};

	c[0].servable = false;
	caps_for(&caps, true, s, 2);
	cr_assert_eq(kst_sni_pick(&caps, c, 2), 1);
	c[1].servable = false;
	cr_assert_eq(kst_sni_pick(&caps, c, 2), -1);
}

Test(sni, table_matches_exact_then_one_label_wildcards_then_default)
{
	char *a[] = {"localhost"};
	char *b[] = {"other.test", "*.wild.test"};
	char *c[] = {"localhost"};
	char *const *names[] = {a, b, c};
	size_t counts[] = {1, 2, 1};
	struct kst_sni_table t;
	const size_t *idx;
	size_t n;

	cr_assert_eq(kst_sni_table_build(&t, names, counts, 3), 0);
	idx = kst_sni_lookup(&t, "localhost", &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(idx[0], 0);
	cr_assert_eq(idx[1], 2);
	idx = kst_sni_lookup(&t, "a.wild.test", &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(idx[0], 1);
	idx = kst_sni_lookup(&t, "a.b.wild.test", &n);
	cr_assert_eq(idx[0], 0, "wildcards cover one label: default");
	idx = kst_sni_lookup(&t, "nomatch.example", &n);
	cr_assert_eq(n, 2, "default: the first cert's name group");
	idx = kst_sni_lookup(&t, NULL, &n);
	cr_assert_eq(idx[0], 0);
	kst_sni_table_free(&t);
}

/* Built by sorting (name, cert) pairs (issue 13): a name shared by many
 * certificates lists each once, in configuration order, and every other
 * name finds its own. */
Test(sni, table_of_many_certs_lists_each_once_in_configuration_order)
{
	enum { N = 3000 };
	static char own[N][32];
	static char *lists[N][3];
	static char *const *names[N];
	static size_t counts[N];
	struct kst_sni_table t;
	const size_t *idx;
	size_t n;

	for (size_t i = 0; i < N; i++) {
		snprintf(own[i], sizeof(own[i]), "c%zu.many.test", i);
		lists[i][0] = own[i];
		counts[i] = 1;
		if (i % 3 == 0) { /* every third also has "shared", twice */
			lists[i][1] = "shared.test";
			lists[i][2] = "shared.test";
			counts[i] = 3;
		}
		names[i] = lists[i];
	}
	cr_assert_eq(kst_sni_table_build(&t, names, counts, N), 0);
	idx = kst_sni_lookup(&t, "shared.test", &n);
	cr_assert_eq(n, N / 3);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(idx[k], 3 * k, "candidate %zu", k);
	for (size_t i = 0; i < N; i += 7) {
		idx = kst_sni_lookup(&t, own[i], &n);
		cr_assert_eq(n, 1);
		cr_assert_eq(idx[0], i);
	}
	idx = kst_sni_lookup(&t, "nomatch.test", &n);
	cr_assert(n == 1 && idx[0] == 0, "default: the first cert's name");
	kst_sni_table_free(&t);
}
