// SPDX-License-Identifier: MIT
/*
 * Per-socket kTLS state from canned inet_diag replies.
 *
 * How the canned replies are built: the layout the kernel writes for an
 * exact TCP query with INET_DIAG_INFO requested (net/ipv4/inet_diag.c
 * inet_sk_diag_fill, tcp_diag_get_aux, net/tls/tls_main.c tls_get_info):
 * nlmsghdr (type SOCK_DIAG_BY_FAMILY), struct inet_diag_msg, attributes
 * (INET_DIAG_INFO with a struct tcp_info, INET_DIAG_CONG, ...), and last
 * INET_DIAG_ULP_INFO { INET_ULP_INFO_NAME "tls", INET_ULP_INFO_TLS {
 * TLS_INFO_VERSION u16, TLS_INFO_CIPHER u16 (both only once keys are set),
 * TLS_INFO_TXCONF u16, TLS_INFO_RXCONF u16, TLS_INFO_ZC_RO_TX flag,
 * TLS_INFO_RX_NO_PAD flag } }. The kernel opens both nests without
 * NLA_F_NESTED (nla_nest_start_noflag); libnl's builder sets the flag, so
 * the table below covers the flagged form and the hand-written byte array
 * (hw_reply_bytes) the kernel's own, unflagged one.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <linux/tls.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "ktls/sockdiag.h"

/* What a canned reply carries; version/cipher 0 leave them out. */
struct canned {
	const char *ulp; /* NULL: no INET_DIAG_ULP_INFO at all */
	bool tls_nest;
	uint16_t version, cipher, txconf, rxconf;
	bool zc_ro_tx, rx_no_pad, future_attrs;
};

static struct nl_msg *diag_reply(const struct canned *c)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_msg dm = {
		.idiag_family = AF_INET,
		.idiag_state = 1, /* TCP_ESTABLISHED */
		.id.idiag_sport = htons(443),
		.id.idiag_dport = htons(50000),
		.id.idiag_src = {htonl(INADDR_LOOPBACK)},
		.id.idiag_dst = {htonl(INADDR_LOOPBACK)},
	};
	struct tcp_info ti = {.tcpi_state = 1};
	struct nlattr *ulp, *tls;

	cr_assert_not_null(m);
	cr_assert_eq(nlmsg_append(m, &dm, sizeof(dm), NLMSG_ALIGNTO), 0);
	nla_put(m, INET_DIAG_INFO, sizeof(ti), &ti);
	nla_put_string(m, INET_DIAG_CONG, "cubic");
	if (c->future_attrs)
		nla_put_u32(m, INET_DIAG_MAX + 5, 0xdead);
	if (!c->ulp)
		return m;
	ulp = nla_nest_start(m, INET_DIAG_ULP_INFO);
	nla_put_string(m, INET_ULP_INFO_NAME, c->ulp);
	if (c->tls_nest) {
		tls = nla_nest_start(m, INET_ULP_INFO_TLS);
		if (c->version)
			nla_put_u16(m, TLS_INFO_VERSION, c->version);
		if (c->cipher)
			nla_put_u16(m, TLS_INFO_CIPHER, c->cipher);
		nla_put_u16(m, TLS_INFO_TXCONF, c->txconf);
		nla_put_u16(m, TLS_INFO_RXCONF, c->rxconf);
		if (c->zc_ro_tx)
			nla_put_flag(m, TLS_INFO_ZC_RO_TX);
		if (c->rx_no_pad)
			nla_put_flag(m, TLS_INFO_RX_NO_PAD);
		/* TLS_INFO_TX_MAX_PAYLOAD_LEN and later, unknown here */
		if (c->future_attrs)
			nla_put_u16(m, TLS_INFO_MAX + 1, 16384);
		nla_nest_end(m, tls);
	}
	nla_nest_end(m, ulp);
	return m;
}

struct parse_case {
	const char *what;
	struct canned in;
	bool ulp_tls, on_device;
	enum kst_tls_conf tx, rx;
	const char *line;
};

static const struct parse_case parse_cases[] = {
	{"TLS 1.2, both directions in software",
	 {"tls", true, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256, TLS_CONF_SW,
	  TLS_CONF_SW},
	 true,
	 false,
	 KST_TLS_CONF_SW,
	 KST_TLS_CONF_SW,
	 "tls 1.2 aes-gcm-256 tx sw rx sw"},
	{"TLS 1.3 from OpenSSL 3.0: TX only",
	 {"tls", true, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, TLS_CONF_SW,
	  TLS_CONF_BASE},
	 true,
	 false,
	 KST_TLS_CONF_SW,
	 KST_TLS_CONF_BASE,
	 "tls 1.3 aes-gcm-128 tx sw rx none"},
	{"both directions on the NIC",
	 {"tls", true, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, TLS_CONF_HW,
	  TLS_CONF_HW},
	 true,
	 true,
	 KST_TLS_CONF_HW,
	 KST_TLS_CONF_HW,
	 "tls 1.2 aes-gcm-128 tx hw rx hw"},
	{"NIC runs the record layer",
	 {"tls", true, TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128,
	  TLS_CONF_HW_RECORD, TLS_CONF_HW_RECORD},
	 true,
	 true,
	 KST_TLS_CONF_HW_RECORD,
	 KST_TLS_CONF_HW_RECORD,
	 "tls 1.2 aes-gcm-128 tx hw-record rx hw-record"},
	{"TX on the NIC, RX fell back to software",
	 {"tls", true, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256, TLS_CONF_HW,
	  TLS_CONF_SW},
	 true,
	 true,
	 KST_TLS_CONF_HW,
	 KST_TLS_CONF_SW,
	 "tls 1.3 aes-gcm-256 tx hw rx sw"},
	{"ULP attached, no keys yet (BASE both ways)",
	 {"tls", true, 0, 0, TLS_CONF_BASE, TLS_CONF_BASE},
	 true,
	 false,
	 KST_TLS_CONF_BASE,
	 KST_TLS_CONF_BASE,
	 "tls tx none rx none"},
	{"no ULP at all",
	 {NULL},
	 false,
	 false,
	 KST_TLS_CONF_NONE,
	 KST_TLS_CONF_NONE,
	 "no tls ulp"},
	{"another ULP (an MPTCP subflow)",
	 {"mptcp"},
	 false,
	 false,
	 KST_TLS_CONF_NONE,
	 KST_TLS_CONF_NONE,
	 "ulp mptcp, no tls"},
	{"a conf value this code does not know",
	 {"tls", true, TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305, 9,
	  TLS_CONF_SW},
	 true,
	 false,
	 KST_TLS_CONF_NONE,
	 KST_TLS_CONF_SW,
	 "tls 1.2 chacha20-poly1305 tx n/a rx sw"},
	{"attributes from a newer kernel",
	 {"tls", true, TLS_1_3_VERSION, TLS_CIPHER_AES_CCM_128, TLS_CONF_SW,
	  TLS_CONF_SW, false, false, true},
	 true,
	 false,
	 KST_TLS_CONF_SW,
	 KST_TLS_CONF_SW,
	 "tls 1.3 aes-ccm-128 tx sw rx sw"},
};

ParameterizedTestParameters(sockdiag_parse, reads_each_socket_state)
{
	static size_t idx[sizeof(parse_cases) / sizeof(parse_cases[0])];

	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(size_t *i, sockdiag_parse, reads_each_socket_state)
{
	const struct parse_case *c = &parse_cases[*i];
	struct nl_msg *m = diag_reply(&c->in);
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct kst_sockdiag_tls t;
	char line[96];

	cr_assert_eq(kst_sockdiag_parse(h, h->nlmsg_len, &t), 0, "%s", c->what);
	cr_expect_eq(t.ulp_tls, c->ulp_tls, "%s", c->what);
	cr_expect_str_eq(t.ulp, c->in.ulp ? c->in.ulp : "", "%s", c->what);
	cr_expect_eq(t.tx, c->tx, "%s", c->what);
	cr_expect_eq(t.rx, c->rx, "%s", c->what);
	cr_expect_eq(t.version, c->ulp_tls ? c->in.version : 0, "%s", c->what);
	cr_expect_eq(t.cipher, c->ulp_tls ? c->in.cipher : 0, "%s", c->what);
	cr_expect_eq(kst_sockdiag_on_device(&t), c->on_device, "%s", c->what);
	cr_assert_eq(kst_sockdiag_format(&t, line, sizeof(line)), 0);
	cr_expect_str_eq(line, c->line, "%s", c->what);
	nlmsg_free(m);
}

Test(sockdiag_parse, reads_zero_copy_and_no_pad_flags)
{
	struct canned c = {"tls",	    true,
			   TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128,
			   TLS_CONF_SW,	    TLS_CONF_SW};
	struct kst_sockdiag_tls t;

	for (int bits = 0; bits < 4; bits++) {
		struct nl_msg *m;
		struct nlmsghdr *h;

		c.zc_ro_tx = bits & 1;
		c.rx_no_pad = bits & 2;
		m = diag_reply(&c);
		h = nlmsg_hdr(m);
		cr_assert_eq(kst_sockdiag_parse(h, h->nlmsg_len, &t), 0);
		cr_expect_eq(t.zc_ro_tx, c.zc_ro_tx);
		cr_expect_eq(t.rx_no_pad, c.rx_no_pad);
		nlmsg_free(m);
	}
}

/*
 * A reply exactly as the kernel writes it for a TLS 1.2 AES-256-GCM socket
 * with both directions on the NIC, written out by hand (x86-64, little
 * endian), with its unflagged nests:
 *   nlmsghdr: len 136, type 20 (SOCK_DIAG_BY_FAMILY), flags 0, seq 1, pid 0
 *   inet_diag_msg (72 bytes): family 2, state 1, timer 0, retrans 0;
 *     sport 443 (01 bb), dport 50000 (c3 50), src/dst 127.0.0.1 + 12 zero
 *     bytes each, if 0, cookie 0x2a; expires, rqueue, wqueue, uid, inode 0
 *   nlattr len 48 type 19 (INET_DIAG_ULP_INFO, no NLA_F_NESTED)
 *     nlattr len 8 type 1 (INET_ULP_INFO_NAME) "tls\0"
 *     nlattr len 36 type 2 (INET_ULP_INFO_TLS, no NLA_F_NESTED)
 *       len 6 type 1 (VERSION) 0x0303 + 2 pad, len 6 type 2 (CIPHER) 52
 *       + 2 pad, len 6 type 3 (TXCONF) 3 + 2 pad, len 6 type 4 (RXCONF) 3
 *       + 2 pad
 */
// clang-format off
static const unsigned char hw_reply_bytes[] = {
	/* nlmsghdr */
	0x88, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* inet_diag_msg */
	0x02, 0x01, 0x00, 0x00, 0x01, 0xbb, 0xc3, 0x50,
	0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* INET_DIAG_ULP_INFO */
	0x30, 0x00, 0x13, 0x00,
	/* INET_ULP_INFO_NAME "tls" */
	0x08, 0x00, 0x01, 0x00, 0x74, 0x6c, 0x73, 0x00,
	/* INET_ULP_INFO_TLS */
	0x24, 0x00, 0x02, 0x00, 0x06, 0x00, 0x01, 0x00,
	0x03, 0x03, 0x00, 0x00, 0x06, 0x00, 0x02, 0x00,
	0x34, 0x00, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00,
	0x03, 0x00, 0x00, 0x00, 0x06, 0x00, 0x04, 0x00,
	0x03, 0x00, 0x00, 0x00,
};
// clang-format on

Test(sockdiag_parse, reads_the_kernels_unflagged_nests)
{
	struct kst_sockdiag_tls t;
	char line[96];

	cr_assert_eq(sizeof(hw_reply_bytes), 136);
	cr_assert_eq(
		kst_sockdiag_parse(hw_reply_bytes, sizeof(hw_reply_bytes), &t),
		0);
	cr_expect(t.ulp_tls);
	cr_expect_eq(t.version, TLS_1_2_VERSION);
	cr_expect_eq(t.cipher, TLS_CIPHER_AES_GCM_256);
	cr_expect_eq(t.tx, KST_TLS_CONF_HW);
	cr_expect_eq(t.rx, KST_TLS_CONF_HW);
	cr_expect(kst_sockdiag_on_device(&t));
	cr_assert_eq(kst_sockdiag_format(&t, line, sizeof(line)), 0);
	cr_expect_str_eq(line, "tls 1.2 aes-gcm-256 tx hw rx hw");
}

Test(sockdiag_parse, rejects_a_message_longer_than_the_buffer)
{
	struct kst_sockdiag_tls t;

	cr_expect_eq(kst_sockdiag_parse(hw_reply_bytes,
					sizeof(hw_reply_bytes) - 1, &t),
		     -EBADMSG);
	cr_expect_eq(kst_sockdiag_parse(hw_reply_bytes, 8, &t), -EBADMSG);
	cr_expect_eq(kst_sockdiag_parse(NULL, 0, &t), -EBADMSG);
}

Test(sockdiag_parse, rejects_a_tls_attribute_of_the_wrong_size)
{
	unsigned char bad[sizeof(hw_reply_bytes)];
	struct kst_sockdiag_tls t;

	/* VERSION claims 5 bytes: one byte of u16 value. */
	memcpy(bad, hw_reply_bytes, sizeof(bad));
	bad[16 + 72 + 4 + 8 + 4] = 0x05;
	cr_expect_eq(kst_sockdiag_parse(bad, sizeof(bad), &t), -EBADMSG);
}

Test(sockdiag_parse, rejects_ulp_info_without_a_name)
{
	unsigned char bad[sizeof(hw_reply_bytes)];
	struct kst_sockdiag_tls t;

	/* INET_ULP_INFO_NAME becomes type 9, unknown: no name left. */
	memcpy(bad, hw_reply_bytes, sizeof(bad));
	bad[16 + 72 + 4 + 2] = 0x09;
	cr_expect_eq(kst_sockdiag_parse(bad, sizeof(bad), &t), -EBADMSG);
}

Test(sockdiag_parse, rejects_a_payload_shorter_than_inet_diag_msg)
{
	struct nlmsghdr h = {.nlmsg_len = sizeof(h) + 8,
			     .nlmsg_type = SOCK_DIAG_BY_FAMILY};
	unsigned char buf[sizeof(h) + 8] = {0};
	struct kst_sockdiag_tls t;

	memcpy(buf, &h, sizeof(h));
	cr_expect_eq(kst_sockdiag_parse(buf, sizeof(buf), &t), -EBADMSG);
}

static void put_error(unsigned char *buf, size_t len, int error)
{
	struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)),
			     .nlmsg_type = NLMSG_ERROR};
	struct nlmsgerr e = {.error = error};

	cr_assert(len >= h.nlmsg_len);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + NLMSG_HDRLEN, &e, sizeof(e));
}

Test(sockdiag_parse, passes_on_the_kernels_error)
{
	unsigned char buf[NLMSG_LENGTH(sizeof(struct nlmsgerr))];
	struct kst_sockdiag_tls t;

	put_error(buf, sizeof(buf), -ENOENT);
	cr_expect_eq(kst_sockdiag_parse(buf, sizeof(buf), &t), -ENOENT);
	put_error(buf, sizeof(buf), -EPERM);
	cr_expect_eq(kst_sockdiag_parse(buf, sizeof(buf), &t), -EPERM);
	/* An ACK is no answer to a query. */
	put_error(buf, sizeof(buf), 0);
	cr_expect_eq(kst_sockdiag_parse(buf, sizeof(buf), &t), -EBADMSG);
}

Test(sockdiag_parse, rejects_other_message_types)
{
	struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(int)),
			     .nlmsg_type = NLMSG_DONE};
	unsigned char buf[NLMSG_LENGTH(sizeof(int))] = {0};
	struct kst_sockdiag_tls t;

	memcpy(buf, &h, sizeof(h));
	cr_expect_eq(kst_sockdiag_parse(buf, sizeof(buf), &t), -EBADMSG);
}

Test(sockdiag_format, names_confs_like_ss)
{
	cr_expect_str_eq(kst_tls_conf_name(KST_TLS_CONF_BASE), "none");
	cr_expect_str_eq(kst_tls_conf_name(KST_TLS_CONF_SW), "sw");
	cr_expect_str_eq(kst_tls_conf_name(KST_TLS_CONF_HW), "hw");
	cr_expect_str_eq(kst_tls_conf_name(KST_TLS_CONF_HW_RECORD),
			 "hw-record");
	cr_expect_str_eq(kst_tls_conf_name(KST_TLS_CONF_NONE), "n/a");
}

Test(sockdiag_format, says_when_the_buffer_is_too_small)
{
	struct kst_sockdiag_tls t = {.ulp = "tls",
				     .ulp_tls = true,
				     .version = TLS_1_3_VERSION,
				     .cipher = TLS_CIPHER_AES_GCM_256,
				     .tx = KST_TLS_CONF_SW,
				     .rx = KST_TLS_CONF_SW};
	char buf[12];

	cr_expect_eq(kst_sockdiag_format(&t, buf, sizeof(buf)), -ENOSPC);
	cr_expect_str_eq(buf, "tls 1.3 aes");
	cr_expect_eq(kst_sockdiag_format(&t, buf, 0), -ENOSPC);
}
