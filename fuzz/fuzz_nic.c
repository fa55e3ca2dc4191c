// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the ethtool generic netlink parsers (ktls/nic_parse.c),
 * which read replies the kernel sends (a hostile or buggy driver's counts
 * included). The first input byte picks the parser (string set, features
 * with a 64-bit or a 10-bit string set, features without one, set reply);
 * the rest is one netlink message, given as libnl hands it over: a
 * complete message whose nlmsg_len is at most the bytes received.
 * Successful parses are formatted as the daemon logs them.
 */
#include "fuzz/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "ktls/nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NIC_FAMILY 0x15

struct fuzz_nic_layout {
	unsigned int nbits, tx, rx, record;
};

static const struct fuzz_nic_layout fuzz_nic_layouts[2] = {
	{64, 53, 54, 56}, /* Linux 6.x */
	{10, 3, 4, 6},
};
static struct kst_nic_strset fuzz_nic_names[2];

static const char *fuzz_nic_bit_name(const struct fuzz_nic_layout *l,
				     unsigned int i, char *buf, size_t len)
{
	if (i == l->tx)
		return "tls-hw-tx-offload";
	if (i == l->rx)
		return "tls-hw-rx-offload";
	if (i == l->record)
		return "tls-hw-record";
	snprintf(buf, len, "f%u", i);
	return buf;
}

static struct nl_msg *fuzz_nic_msg(int cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	if (m == NULL || genlmsg_put(m, 0, 7, FUZZ_NIC_FAMILY, 0, 0, cmd,
				     ETHTOOL_GENL_VERSION) == NULL)
		kst_fuzz_fail("cannot build a netlink message");
	return m;
}

static struct nl_msg *fuzz_nic_strset(const struct fuzz_nic_layout *l)
{
	struct nl_msg *m = fuzz_nic_msg(ETHTOOL_MSG_STRSET_GET_REPLY);
	struct nlattr *sets = nla_nest_start(m, ETHTOOL_A_STRSET_STRINGSETS);
	struct nlattr *set = nla_nest_start(m, ETHTOOL_A_STRINGSETS_STRINGSET);
	struct nlattr *strs;
	char buf[16];

	nla_put_u32(m, ETHTOOL_A_STRINGSET_ID, ETH_SS_FEATURES);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_COUNT, l->nbits);
	strs = nla_nest_start(m, ETHTOOL_A_STRINGSET_STRINGS);
	for (unsigned int i = 0; i < l->nbits; i++) {
		struct nlattr *s = nla_nest_start(m, ETHTOOL_A_STRINGS_STRING);

		nla_put_u32(m, ETHTOOL_A_STRING_INDEX, i);
		nla_put_string(m, ETHTOOL_A_STRING_VALUE,
			       fuzz_nic_bit_name(l, i, buf, sizeof(buf)));
		nla_nest_end(m, s);
	}
	nla_nest_end(m, strs);
	nla_nest_end(m, set);
	nla_nest_end(m, sets);
	return m;
}

static void fuzz_nic_bitset(struct nl_msg *m, int type,
			    const struct fuzz_nic_layout *l, uint64_t on,
			    bool compact, bool mask)
{
	struct nlattr *set = nla_nest_start(m, type);
	uint32_t words[2] = {(uint32_t)on, (uint32_t)(on >> 32)};
	char buf[16];

	if (!mask)
		nla_put_flag(m, ETHTOOL_A_BITSET_NOMASK);
	nla_put_u32(m, ETHTOOL_A_BITSET_SIZE, l->nbits);
	if (compact) {
		nla_put(m, ETHTOOL_A_BITSET_VALUE,
			(int)(l->nbits + 31) / 32 * 4, words);
		if (mask)
			nla_put(m, ETHTOOL_A_BITSET_MASK,
				(int)(l->nbits + 31) / 32 * 4, words);
	} else {
		struct nlattr *bits = nla_nest_start(m, ETHTOOL_A_BITSET_BITS);

		for (unsigned int i = 0; i < l->nbits; i++) {
			struct nlattr *bit;

			if (!(words[i / 32] & (1u << (i % 32))))
				continue;
			bit = nla_nest_start(m, ETHTOOL_A_BITSET_BITS_BIT);
			nla_put_u32(m, ETHTOOL_A_BITSET_BIT_INDEX, i);
			nla_put_string(
				m, ETHTOOL_A_BITSET_BIT_NAME,
				fuzz_nic_bit_name(l, i, buf, sizeof(buf)));
			if (mask)
				nla_put_flag(m, ETHTOOL_A_BITSET_BIT_VALUE);
			nla_nest_end(m, bit);
		}
		nla_nest_end(m, bits);
	}
	nla_nest_end(m, set);
}

static struct nl_msg *fuzz_nic_features(const struct fuzz_nic_layout *l,
					int cmd, bool compact,
					const struct fuzz_nic_layout *last)
{
	struct nl_msg *m = fuzz_nic_msg(cmd);
	struct nlattr *hdr = nla_nest_start(m, ETHTOOL_A_FEATURES_HEADER);
	uint64_t tls = 1ull << l->tx | 1ull << l->rx | 1ull << l->record | 1u;

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	if (cmd == ETHTOOL_MSG_FEATURES_SET_REPLY) {
		fuzz_nic_bitset(m, ETHTOOL_A_FEATURES_WANTED, l, tls, compact,
				true);
		return m;
	}
	fuzz_nic_bitset(m, ETHTOOL_A_FEATURES_HW, l, tls, compact, false);
	fuzz_nic_bitset(m, ETHTOOL_A_FEATURES_WANTED, l, 1ull << l->tx, compact,
			false);
	fuzz_nic_bitset(m, ETHTOOL_A_FEATURES_ACTIVE, l, 1u, compact, false);
	/* last: a device whose last bitset is shorter than the string set */
	fuzz_nic_bitset(m, ETHTOOL_A_FEATURES_NOCHANGE, last ? last : l,
			1ull << l->record, compact, false);
	return m;
}

int kst_fuzz_init(void)
{
	for (int i = 0; i < 2; i++) {
		struct nl_msg *m = fuzz_nic_strset(&fuzz_nic_layouts[i]);
		int err =
			kst_nic_parse_strset(nlmsg_hdr(m), &fuzz_nic_names[i]);

		nlmsg_free(m);
		if (err < 0)
			return err;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kst_nic_info ni;
	struct nlmsghdr *nlh;
	unsigned int refused, sel;
	char line[256];
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	len = size - 1;
	/* at least a header's room; the message is what was received */
	nlh = calloc(1, KST_FUZZ_MAX(len, sizeof(*nlh)));
	if (nlh == NULL)
		abort();
	memcpy(nlh, data + 1, len);
	if (nlh->nlmsg_len > len)
		nlh->nlmsg_len = (uint32_t)len;
	switch (sel % 4) {
	case 0:
		kst_nic_parse_strset(nlh, &fuzz_nic_names[0]);
		break;
	case 1:
		if (kst_nic_parse_features(nlh, &fuzz_nic_names[(sel >> 2) & 1],
					   &ni) == 0)
			kst_nic_format(&ni, line, sizeof(line));
		break;
	case 2:
		if (kst_nic_parse_features(nlh, NULL, &ni) == 0)
			kst_nic_format(&ni, line, sizeof(line));
		break;
	default:
		kst_nic_parse_refused(nlh, &fuzz_nic_names[(sel >> 2) & 1],
				      &refused);
		break;
	}
	free(nlh);
	return 0;
}

static void fuzz_nic_seed(const char *dir, const char *name, unsigned int sel,
			  struct nl_msg *m)
{
	struct nlmsghdr *h = nlmsg_hdr(m);
	struct kst_fuzz_out o = {.n = 0};

	kst_fuzz_put_u8(&o, sel);
	kst_fuzz_put(&o, h, h->nlmsg_len);
	kst_fuzz_seed_put(dir, name, o.buf, o.n);
	nlmsg_free(m);
}

void kst_fuzz_seeds(const char *dir)
{
	const struct fuzz_nic_layout *big = &fuzz_nic_layouts[0];
	const struct fuzz_nic_layout *low = &fuzz_nic_layouts[1];
	const struct fuzz_nic_layout short32 = {32, 3, 4, 6};

	fuzz_nic_seed(dir, "strset-10", 0, fuzz_nic_strset(low));
	fuzz_nic_seed(dir, "features-compact-64", 1,
		      fuzz_nic_features(big, ETHTOOL_MSG_FEATURES_GET_REPLY,
					true, NULL));
	fuzz_nic_seed(dir, "features-compact-10", 1 | 4,
		      fuzz_nic_features(low, ETHTOOL_MSG_FEATURES_GET_REPLY,
					true, NULL));
	fuzz_nic_seed(dir, "features-compact-64-short-last", 1,
		      fuzz_nic_features(big, ETHTOOL_MSG_FEATURES_GET_REPLY,
					true, &short32));
	fuzz_nic_seed(dir, "features-list-10", 2,
		      fuzz_nic_features(low, ETHTOOL_MSG_FEATURES_GET_REPLY,
					false, NULL));
	fuzz_nic_seed(dir, "set-reply-compact-64", 3,
		      fuzz_nic_features(big, ETHTOOL_MSG_FEATURES_SET_REPLY,
					true, NULL));
	fuzz_nic_seed(dir, "set-reply-list-10", 3 | 4,
		      fuzz_nic_features(low, ETHTOOL_MSG_FEATURES_SET_REPLY,
					false, NULL));
}
