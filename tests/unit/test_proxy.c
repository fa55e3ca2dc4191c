// SPDX-License-Identifier: MIT
/*
 * PROXY protocol encoder against the byte layout of haproxy's
 * proxy-protocol.txt. Expected headers are written out by hand from the
 * spec (sections 2.1 and 2.2), never produced by the code under test.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <string.h>

#include "daemon/datapath/proxy.h"
#include "daemon/base/util.h"
#include "tests/lib/testutil.h"

/* The tables follow the spec's layout, one field per line. */
/* clang-format off */
#define SIG \
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a

/* 192.0.2.1:56324 -> 198.51.100.7:443, no TLVs */
static const unsigned char v2_tcp4[] = {
	SIG, 0x21, 0x11, 0x00, 0x0c,
	192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb,
};

/* The same with ALPN h2, SNI localhost, TLSv1.3, TLS_AES_128_GCM_SHA256 */
static const unsigned char v2_tcp4_tlvs[] = {
	SIG, 0x21, 0x11, 0x00, 0x48,
	192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb,
	0x01, 0x00, 0x02, 'h', '2',
	0x02, 0x00, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
	0x20, 0x00, 0x28, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x21, 0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3',
	0x23, 0x00, 0x16, 'T', 'L', 'S', '_', 'A', 'E', 'S', '_', '1', '2',
	'8', '_', 'G', 'C', 'M', '_', 'S', 'H', 'A', '2', '5', '6',
};

/* [2001:db8::1]:1234 -> [2001:db8::2]:443, no TLVs */
static const unsigned char v2_tcp6[] = {
	SIG, 0x21, 0x21, 0x00, 0x24,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0x04, 0xd2, 0x01, 0xbb,
};

/* The same with SNI only and a TLS 1.2 cipher without a version */
static const unsigned char v2_tcp6_tlvs[] = {
	SIG, 0x21, 0x21, 0x00, 0x4c,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0x04, 0xd2, 0x01, 0xbb,
	0x02, 0x00, 0x06, 'a', '.', 't', 'e', 's', 't',
	0x20, 0x00, 0x1c, 0x01, 0x00, 0x00, 0x00, 0x01,
	0x23, 0x00, 0x14, 'E', 'C', 'D', 'H', 'E', '-', 'E', 'C', 'D', 'S',
	'A', '-', 'C', 'H', 'A', 'C', 'H', 'A', '2', '0',
};

/* ::ffff:192.0.2.1 -> ::ffff:198.51.100.7 is IPv4 on the wire */
static const unsigned char v2_mapped[] = {
	SIG, 0x21, 0x11, 0x00, 0x0c,
	192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb,
};

/* 192.0.2.1 -> 2001:db8::2: one family, so IPv6 with the v4 end mapped */
static const unsigned char v2_mixed[] = {
	SIG, 0x21, 0x21, 0x00, 0x24,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xdc, 0x04, 0x01, 0xbb,
};

/* AF_UNIX: LOCAL, UNSPEC, no addresses; the TLVs still follow */
static const unsigned char v2_unix_alpn[] = {
	SIG, 0x20, 0x00, 0x00, 0x0b,
	0x01, 0x00, 0x08, 'h', 't', 't', 'p', '/', '1', '.', '1',
};
/* clang-format on */

struct proxy_case {
	const char *what;
	int sfam;
	const char *saddr;
	unsigned short sport;
	int dfam;
	const char *daddr;
	unsigned short dport;
	const char *alpn, *sni, *version, *cipher;
	const char *v1;
	const unsigned char *v2;
	size_t v2_len;
};

#define V2(a) a, sizeof(a)

static const struct proxy_case proxy_cases[] = {
	{"tcp4", AF_INET, "192.0.2.1", 56324, AF_INET, "198.51.100.7", 443,
	 NULL, NULL, NULL, NULL,
	 "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", V2(v2_tcp4)},
	{"tcp4+tlvs", AF_INET, "192.0.2.1", 56324, AF_INET, "198.51.100.7", 443,
	 "h2", "localhost", "TLSv1.3", "TLS_AES_128_GCM_SHA256",
	 "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", V2(v2_tcp4_tlvs)},
	{"tcp6", AF_INET6, "2001:db8::1", 1234, AF_INET6, "2001:db8::2", 443,
	 NULL, NULL, NULL, NULL,
	 "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n", V2(v2_tcp6)},
	{"tcp6+tlvs", AF_INET6, "2001:db8::1", 1234, AF_INET6, "2001:db8::2",
	 443, NULL, "a.test", NULL, "ECDHE-ECDSA-CHACHA20",
	 "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n", V2(v2_tcp6_tlvs)},
	{"mapped", AF_INET6, "::ffff:192.0.2.1", 56324, AF_INET6,
	 "::ffff:198.51.100.7", 443, NULL, "", NULL, NULL,
	 "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n", V2(v2_mapped)},
	{"mixed", AF_INET, "192.0.2.1", 56324, AF_INET6, "2001:db8::2", 443,
	 NULL, NULL, NULL, NULL,
	 "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 56324 443\r\n", V2(v2_mixed)},
	{"unix", AF_UNIX, "/run/x.sock", 0, AF_UNIX, "/run/y.sock", 0,
	 "http/1.1", NULL, NULL, NULL, "PROXY UNKNOWN\r\n", V2(v2_unix_alpn)},
};

/*
 * Criterion passes parameters to a re-executed child, where pointers into
 * this image would dangle: the tests get an index into the table instead.
 */
static int proxy_case_ids[] = {0, 1, 2, 3, 4, 5, 6};
_Static_assert(KST_ARRAY_SIZE(proxy_case_ids) == KST_ARRAY_SIZE(proxy_cases),
	       "one id per case");

ParameterizedTestParameters(proxy, writes_the_spec_byte_layout)
{
	return cr_make_param_array(int, proxy_case_ids,
				   KST_ARRAY_SIZE(proxy_case_ids));
}

struct proxy_fixture {
	struct sockaddr_storage src, dst;
	struct kst_proxy_info pi;
};

static void fill(struct proxy_fixture *f, const struct proxy_case *c)
{
	cr_assert_eq(kst_test_sockaddr(&f->src, c->sfam, c->saddr, c->sport),
		     0);
	cr_assert_eq(kst_test_sockaddr(&f->dst, c->dfam, c->daddr, c->dport),
		     0);
	f->pi = (struct kst_proxy_info){
		.src = (struct sockaddr *)&f->src,
		.dst = (struct sockaddr *)&f->dst,
		.alpn = c->alpn,
		.alpn_len = c->alpn ? strlen(c->alpn) : 0,
		.sni = c->sni,
		.tls_version = c->version,
		.cipher = c->cipher,
	};
}

ParameterizedTest(int *id, proxy, writes_the_spec_byte_layout)
{
	const struct proxy_case *c = &proxy_cases[*id];
	struct proxy_fixture f;
	unsigned char b2[KST_PROXY_V2_TYPICAL_MAX];
	char b1[KST_PROXY_V1_MAX];
	ssize_t n;

	fill(&f, c);
	n = kst_proxy_v1(&f.pi, b1, sizeof(b1));
	cr_assert_eq(n, (ssize_t)strlen(c->v1), "%s: v1 length %zd", c->what,
		     n);
	cr_assert_arr_eq(b1, c->v1, strlen(c->v1), "%s: v1 %.*s", c->what,
			 (int)n, b1);

	n = kst_proxy_v2(&f.pi, b2, sizeof(b2));
	cr_assert_eq(n, (ssize_t)c->v2_len, "%s: v2 length %zd, want %zu",
		     c->what, n, c->v2_len);
	cr_assert_arr_eq(b2, c->v2, c->v2_len, "%s: v2 bytes", c->what);
	/* the length field counts exactly what follows the 16 bytes */
	cr_assert_eq((size_t)(b2[14] << 8 | b2[15]), c->v2_len - 16);
}

/* Every buffer shorter than the header fails and leaves the rest alone. */
ParameterizedTestParameters(proxy,
			    refuses_every_short_buffer_without_overrunning_it)
{
	return cr_make_param_array(int, proxy_case_ids,
				   KST_ARRAY_SIZE(proxy_case_ids));
}

ParameterizedTest(int *id, proxy,
		  refuses_every_short_buffer_without_overrunning_it)
{
	const struct proxy_case *c = &proxy_cases[*id];
	struct proxy_fixture f;
	unsigned char b[KST_PROXY_V2_TYPICAL_MAX];
	size_t len1 = strlen(c->v1);

	fill(&f, c);
	for (size_t len = 0; len < c->v2_len; len++) {
		memset(b, 0xa5, sizeof(b));
		cr_assert_eq(kst_proxy_v2(&f.pi, b, len), -ENOSPC,
			     "%s: v2 in %zu bytes", c->what, len);
		for (size_t i = len; i < sizeof(b); i++)
			cr_assert_eq(b[i], 0xa5, "%s: v2 wrote byte %zu of %zu",
				     c->what, i, len);
	}
	for (size_t len = 0; len < len1; len++) {
		memset(b, 0xa5, sizeof(b));
		cr_assert_eq(kst_proxy_v1(&f.pi, (char *)b, len), -ENOSPC,
			     "%s: v1 in %zu bytes", c->what, len);
		for (size_t i = len; i < sizeof(b); i++)
			cr_assert_eq(b[i], 0xa5, "%s: v1 wrote byte %zu",
				     c->what, i);
	}
	cr_assert_eq(kst_proxy_v2(&f.pi, b, c->v2_len), (ssize_t)c->v2_len);
	cr_assert_eq(kst_proxy_v1(&f.pi, (char *)b, len1), (ssize_t)len1);
}

Test(proxy, v1_longest_line_fits_the_spec_limit)
{
	static const char want[] =
		"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n";
	struct proxy_case c = {
		.sfam = AF_INET6,
		.saddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		.sport = 65535,
		.dfam = AF_INET6,
		.daddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		.dport = 65535,
	};
	struct proxy_fixture f;
	char b[KST_PROXY_V1_MAX];
	ssize_t n;

	fill(&f, &c);
	n = kst_proxy_v1(&f.pi, b, sizeof(b));
	cr_assert_eq(n, 104);
	cr_assert_leq(n, KST_PROXY_V1_MAX);
	cr_assert_arr_eq(b, want, (size_t)n);
}

Test(proxy, missing_addresses_are_unknown_in_both_versions)
{
	static const unsigned char want2[] = {SIG, 0x20, 0x00, 0x00, 0x00};
	struct kst_proxy_info pi = {0};
	unsigned char b[64];

	cr_assert_eq(kst_proxy_v1(&pi, (char *)b, sizeof(b)), 15);
	cr_assert_arr_eq(b, "PROXY UNKNOWN\r\n", 15);
	cr_assert_eq(kst_proxy_v2(&pi, b, sizeof(b)), 16);
	cr_assert_arr_eq(b, want2, sizeof(want2));
}

Test(proxy, v2_refuses_tlvs_longer_than_the_length_field)
{
	static char big[70000];
	struct kst_proxy_info pi = {.alpn = big, .alpn_len = sizeof(big)};
	static unsigned char b[80000];

	memset(big, 'x', sizeof(big));
	cr_assert_eq(kst_proxy_v2(&pi, b, sizeof(b)), -EMSGSIZE);
	/* the largest body the field can carry still works: 65535 - 3 */
	pi.alpn_len = 0xffff - 3;
	cr_assert_eq(kst_proxy_v2(&pi, b, sizeof(b)), 16 + 0xffff);
	cr_assert_eq(b[14], 0xff);
	cr_assert_eq(b[15], 0xff);
}

Test(proxy, rejects_a_null_info)
{
	char b[KST_PROXY_V1_MAX];

	cr_assert_eq(kst_proxy_v1(NULL, b, sizeof(b)), -EINVAL);
	cr_assert_eq(kst_proxy_v2(NULL, (unsigned char *)b, sizeof(b)),
		     -EINVAL);
}

/* Issue 12 #7: AUTHORITY carries a host name only; an IP literal (the
 * handshake treats it as no SNI) or bytes that are not a host name would
 * hand the backend whatever the client sent. */
Test(proxy, v2_leaves_out_an_authority_that_is_not_a_host_name)
{
	static const char *const bad[] = {"192.0.2.9", "2001:db8::1",
					  "a\nb.example", "x\x01y"};
	const struct proxy_case *c = &proxy_cases[1];
	struct proxy_fixture f;
	unsigned char want[KST_PROXY_V2_TYPICAL_MAX];
	unsigned char got[KST_PROXY_V2_TYPICAL_MAX];
	ssize_t nw, ng;

	fill(&f, c);
	f.pi.sni = NULL;
	nw = kst_proxy_v2(&f.pi, want, sizeof(want));
	cr_assert_gt(nw, 0);
	for (size_t i = 0; i < KST_ARRAY_SIZE(bad); i++) {
		f.pi.sni = bad[i];
		ng = kst_proxy_v2(&f.pi, got, sizeof(got));
		cr_expect_eq(ng, nw, "case %zu: %zd bytes, %zd without SNI", i,
			     ng, nw);
		cr_expect(ng == nw && memcmp(got, want, (size_t)nw) == 0,
			  "case %zu: AUTHORITY written", i);
	}
}
