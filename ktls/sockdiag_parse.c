// SPDX-License-Identifier: MIT
/*
 * Pure half of the sock_diag module: one inet_diag reply in, the socket's
 * kTLS state out, and the words logs and `kstapled status` print for it
 * (ss(8)'s). No I/O, so every state a NIC can put a socket in is tested
 * with canned replies, including the ones no machine here can produce.
 *
 * The kernel opens INET_DIAG_ULP_INFO and INET_ULP_INFO_TLS without
 * NLA_F_NESTED (nla_nest_start_noflag); libnl's parser takes both forms.
 * Attributes a newer kernel adds are ignored; a configuration value this
 * code does not know reads as KST_TLS_CONF_NONE, never as software.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "ktls/sockdiag.h"

static void sockdiag_suite(const struct kst_sockdiag_tls *t, char *buf,
			   size_t len);
static enum kst_tls_conf sockdiag_conf(const struct nlattr *attr);
static int sockdiag_parse_tls(struct nlattr *attr, struct kst_sockdiag_tls *t);
static int sockdiag_parse_ulp(struct nlattr *attr, struct kst_sockdiag_tls *t);
static int sockdiag_nlerr(const struct nlmsghdr *nlh);

static const struct nla_policy sockdiag_policy[INET_DIAG_MAX + 1] = {
	[INET_DIAG_ULP_INFO] = {.type = NLA_NESTED},
};

static const struct nla_policy sockdiag_ulp_policy[INET_ULP_INFO_MAX + 1] = {
	[INET_ULP_INFO_NAME] = {.type = NLA_STRING},
	[INET_ULP_INFO_TLS] = {.type = NLA_NESTED},
};

static const struct nla_policy sockdiag_tls_policy[TLS_INFO_MAX + 1] = {
	[TLS_INFO_VERSION] = {.type = NLA_U16},
	[TLS_INFO_CIPHER] = {.type = NLA_U16},
	[TLS_INFO_TXCONF] = {.type = NLA_U16},
	[TLS_INFO_RXCONF] = {.type = NLA_U16},
	[TLS_INFO_ZC_RO_TX] = {.type = NLA_FLAG},
	[TLS_INFO_RX_NO_PAD] = {.type = NLA_FLAG},
};

static const struct {
	uint16_t id;
	const char *name;
} sockdiag_ciphers[] = {
	{TLS_CIPHER_AES_GCM_128, "aes-gcm-128"},
	{TLS_CIPHER_AES_GCM_256, "aes-gcm-256"},
	{TLS_CIPHER_AES_CCM_128, "aes-ccm-128"},
	{TLS_CIPHER_CHACHA20_POLY1305, "chacha20-poly1305"},
	{TLS_CIPHER_SM4_GCM, "sm4-gcm"},
	{TLS_CIPHER_SM4_CCM, "sm4-ccm"},
	{TLS_CIPHER_ARIA_GCM_128, "aria-gcm-128"},
	{TLS_CIPHER_ARIA_GCM_256, "aria-gcm-256"},
};

const char *kst_tls_conf_name(enum kst_tls_conf conf)
{
	switch (conf) {
	case KST_TLS_CONF_BASE:
		return "none";
	case KST_TLS_CONF_SW:
		return "sw";
	case KST_TLS_CONF_HW:
		return "hw";
	case KST_TLS_CONF_HW_RECORD:
		return "hw-record";
	default:
		return "n/a";
	}
}

bool kst_sockdiag_on_device(const struct kst_sockdiag_tls *t)
{
	return t->tx == KST_TLS_CONF_HW || t->tx == KST_TLS_CONF_HW_RECORD ||
	       t->rx == KST_TLS_CONF_HW || t->rx == KST_TLS_CONF_HW_RECORD;
}

/* "1.2 aes-gcm-256", or "" before keys are installed (no version yet). */
static void sockdiag_suite(const struct kst_sockdiag_tls *t, char *buf,
			   size_t len)
{
	char ver[16], cipher[24];

	buf[0] = '\0';
	if (!t->version)
		return;
	/* TLS_VERSION_NUMBER: major in the high byte, minor + 1 in the low. */
	if (t->version >> 8 == 3 && (t->version & 0xff) >= 1)
		snprintf(ver, sizeof(ver), "1.%u", (t->version & 0xff) - 1u);
	else
		snprintf(ver, sizeof(ver), "0x%04x", t->version);
	snprintf(cipher, sizeof(cipher), "cipher-%u", t->cipher);
	for (size_t i = 0;
	     i < sizeof(sockdiag_ciphers) / sizeof(sockdiag_ciphers[0]); i++)
		if (sockdiag_ciphers[i].id == t->cipher)
			snprintf(cipher, sizeof(cipher), "%s",
				 sockdiag_ciphers[i].name);
	snprintf(buf, len, " %s %s", ver, cipher);
}

int kst_sockdiag_format(const struct kst_sockdiag_tls *t, char *buf, size_t len)
{
	char suite[48];
	int r;

	if (!len)
		return -ENOSPC;
	if (!t->ulp_tls) {
		r = t->ulp[0] ? snprintf(buf, len, "ulp %s, no tls", t->ulp)
			      : snprintf(buf, len, "no tls ulp");
		return r >= 0 && (size_t)r < len ? 0 : -ENOSPC;
	}
	sockdiag_suite(t, suite, sizeof(suite));
	r = snprintf(buf, len, "tls%s tx %s rx %s", suite,
		     kst_tls_conf_name(t->tx), kst_tls_conf_name(t->rx));
	return r >= 0 && (size_t)r < len ? 0 : -ENOSPC;
}

/* Values a future kernel may add read as NONE: unknown, not software. */
static enum kst_tls_conf sockdiag_conf(const struct nlattr *attr)
{
	uint16_t v = attr ? nla_get_u16((struct nlattr *)attr) : 0;

	if (v >= KST_TLS_CONF_BASE && v <= KST_TLS_CONF_HW_RECORD)
		return (enum kst_tls_conf)v;
	return KST_TLS_CONF_NONE;
}

static int sockdiag_parse_tls(struct nlattr *attr, struct kst_sockdiag_tls *t)
{
	struct nlattr *tb[TLS_INFO_MAX + 1] = {0};

	if (nla_parse_nested(tb, TLS_INFO_MAX, attr, sockdiag_tls_policy) < 0)
		return -EBADMSG;
	if (tb[TLS_INFO_VERSION])
		t->version = nla_get_u16(tb[TLS_INFO_VERSION]);
	if (tb[TLS_INFO_CIPHER])
		t->cipher = nla_get_u16(tb[TLS_INFO_CIPHER]);
	t->tx = sockdiag_conf(tb[TLS_INFO_TXCONF]);
	t->rx = sockdiag_conf(tb[TLS_INFO_RXCONF]);
	t->zc_ro_tx = tb[TLS_INFO_ZC_RO_TX];
	t->rx_no_pad = tb[TLS_INFO_RX_NO_PAD];
	return 0;
}

static int sockdiag_parse_ulp(struct nlattr *attr, struct kst_sockdiag_tls *t)
{
	struct nlattr *tb[INET_ULP_INFO_MAX + 1] = {0};

	if (nla_parse_nested(tb, INET_ULP_INFO_MAX, attr, sockdiag_ulp_policy) <
		    0 ||
	    !tb[INET_ULP_INFO_NAME])
		return -EBADMSG;
	snprintf(t->ulp, sizeof(t->ulp), "%s",
		 nla_get_string(tb[INET_ULP_INFO_NAME]));
	t->ulp_tls = !strcmp(t->ulp, "tls");
	if (!t->ulp_tls || !tb[INET_ULP_INFO_TLS])
		return 0;
	return sockdiag_parse_tls(tb[INET_ULP_INFO_TLS], t);
}

static int sockdiag_nlerr(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)))
		return -EBADMSG;
	/* An ACK (error 0) is no answer to a query. */
	return e->error < 0 ? e->error : -EBADMSG;
}

int kst_sockdiag_parse(const void *msg, size_t len,
		       struct kst_sockdiag_tls *out)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)msg;
	struct nlattr *tb[INET_DIAG_MAX + 1] = {0};
	struct kst_sockdiag_tls t = {.tx = KST_TLS_CONF_NONE};
	int err;

	if (!msg || len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
	    nlh->nlmsg_len > len)
		return -EBADMSG;
	if (nlh->nlmsg_type == NLMSG_ERROR)
		return sockdiag_nlerr(nlh);
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    !nlmsg_valid_hdr(nlh, sizeof(struct inet_diag_msg)))
		return -EBADMSG;
	if (nlmsg_parse(nlh, sizeof(struct inet_diag_msg), tb, INET_DIAG_MAX,
			sockdiag_policy) < 0)
		return -EBADMSG;
	if (tb[INET_DIAG_ULP_INFO]) {
		err = sockdiag_parse_ulp(tb[INET_DIAG_ULP_INFO], &t);
		if (err)
			return err;
	}
	*out = t;
	return 0;
}
