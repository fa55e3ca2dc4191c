// SPDX-License-Identifier: MIT
/*
 * Pure half of the NIC module: reads ethtool netlink replies (string set,
 * features, features-set) into kst_nic structs, and formats them for logs.
 * No I/O, so every reply shape is tested with canned messages.
 *
 * The kernel sends a feature bitset in one of two forms: compact (SIZE,
 * VALUE and, unless NOMASK, MASK as arrays of host-order u32 words), which
 * is meaningless without the string set that names the bit positions; or a
 * bit list (BITS: one nest per listed bit with INDEX, NAME and, when the
 * set has a mask, a VALUE flag). In a list without a mask, a listed bit is
 * set and an unlisted one is clear; with a mask, the listed bits are the
 * mask and VALUE says which are set. Both forms are read here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "ktls/nic.h"

/* One bitset, reduced to the three TLS features. */
struct nic_bits {
	bool on[KST_NIC_NFEAT];
	bool in_mask[KST_NIC_NFEAT];
};

static int nic_genl_attrs(const struct nlmsghdr *nlh, int cmd,
			  struct nlattr **tb, int maxtype,
			  const struct nla_policy *policy);
static int nic_feat_of_name(const char *name);
static int nic_feat_of_index(const struct kst_nic_strset *names,
			     unsigned int idx);
static int nic_bitset_get(const struct nlattr *attr,
			  const struct kst_nic_strset *names,
			  struct nic_bits *out);
static int nic_bitset_compact(struct nlattr **tb,
			      const struct kst_nic_strset *names,
			      struct nic_bits *out);
static int nic_bitset_list(struct nlattr **tb,
			   const struct kst_nic_strset *names,
			   struct nic_bits *out);
static int nic_header_get(const struct nlattr *attr, struct kst_nic_info *out);
static bool nic_word_bit(const struct nlattr *words, unsigned int idx);
static struct kst_nic_feature *nic_feature(struct kst_nic_info *ni, int feat);
static int nic_stringset_get(struct nlattr *set, struct kst_nic_strset *names);
static const char *nic_suffix(const struct kst_nic_feature *f);

static const char *const nic_feat_names[KST_NIC_NFEAT] = {
	[KST_NIC_TLS_TX] = "tls-hw-tx-offload",
	[KST_NIC_TLS_RX] = "tls-hw-rx-offload",
	[KST_NIC_TLS_RECORD] = "tls-hw-record",
};

static const struct nla_policy nic_header_policy[ETHTOOL_A_HEADER_MAX + 1] = {
	[ETHTOOL_A_HEADER_DEV_INDEX] = {.type = NLA_U32},
	[ETHTOOL_A_HEADER_DEV_NAME] = {.type = NLA_STRING, .maxlen = IFNAMSIZ},
	[ETHTOOL_A_HEADER_FLAGS] = {.type = NLA_U32},
};

static const struct nla_policy nic_feat_policy[ETHTOOL_A_FEATURES_MAX + 1] = {
	[ETHTOOL_A_FEATURES_HEADER] = {.type = NLA_NESTED},
	[ETHTOOL_A_FEATURES_HW] = {.type = NLA_NESTED},
	[ETHTOOL_A_FEATURES_WANTED] = {.type = NLA_NESTED},
	[ETHTOOL_A_FEATURES_ACTIVE] = {.type = NLA_NESTED},
	[ETHTOOL_A_FEATURES_NOCHANGE] = {.type = NLA_NESTED},
};

static const struct nla_policy nic_bitset_policy[ETHTOOL_A_BITSET_MAX + 1] = {
	[ETHTOOL_A_BITSET_NOMASK] = {.type = NLA_FLAG},
	[ETHTOOL_A_BITSET_SIZE] = {.type = NLA_U32},
	[ETHTOOL_A_BITSET_BITS] = {.type = NLA_NESTED},
	[ETHTOOL_A_BITSET_VALUE] = {.type = NLA_UNSPEC},
	[ETHTOOL_A_BITSET_MASK] = {.type = NLA_UNSPEC},
};

static const struct nla_policy nic_bit_policy[ETHTOOL_A_BITSET_BIT_MAX + 1] = {
	[ETHTOOL_A_BITSET_BIT_INDEX] = {.type = NLA_U32},
	[ETHTOOL_A_BITSET_BIT_NAME] = {.type = NLA_STRING},
	[ETHTOOL_A_BITSET_BIT_VALUE] = {.type = NLA_FLAG},
};

static const struct nla_policy nic_strset_policy[ETHTOOL_A_STRSET_MAX + 1] = {
	[ETHTOOL_A_STRSET_HEADER] = {.type = NLA_NESTED},
	[ETHTOOL_A_STRSET_STRINGSETS] = {.type = NLA_NESTED},
};

static const struct nla_policy nic_set_policy[ETHTOOL_A_STRINGSET_MAX + 1] = {
	[ETHTOOL_A_STRINGSET_ID] = {.type = NLA_U32},
	[ETHTOOL_A_STRINGSET_COUNT] = {.type = NLA_U32},
	[ETHTOOL_A_STRINGSET_STRINGS] = {.type = NLA_NESTED},
};

static const struct nla_policy nic_string_policy[ETHTOOL_A_STRING_MAX + 1] = {
	[ETHTOOL_A_STRING_INDEX] = {.type = NLA_U32},
	[ETHTOOL_A_STRING_VALUE] = {.type = NLA_STRING},
};

const char *kst_nic_feat_name(enum kst_nic_feat feat)
{
	if ((unsigned int)feat >= KST_NIC_NFEAT)
		return NULL;
	return nic_feat_names[feat];
}

static struct kst_nic_feature *nic_feature(struct kst_nic_info *ni, int feat)
{
	switch (feat) {
	case KST_NIC_TLS_TX:
		return &ni->tls_tx;
	case KST_NIC_TLS_RX:
		return &ni->tls_rx;
	case KST_NIC_TLS_RECORD:
		return &ni->tls_record;
	default:
		return NULL;
	}
}

const struct kst_nic_feature *
kst_nic_get0_feature(const struct kst_nic_info *ni, enum kst_nic_feat feat)
{
	/* The same lookup, read-only for callers. */
	return nic_feature((struct kst_nic_info *)ni, feat);
}

bool kst_nic_any_tls(const struct kst_nic_info *ni)
{
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		const struct kst_nic_feature *feat =
			kst_nic_get0_feature(ni, f);

		if (feat->available || feat->active)
			return true;
	}
	return false;
}

/* ethtool -k's suffix: "[fixed]" wins over a pending request. */
static const char *nic_suffix(const struct kst_nic_feature *f)
{
	if (f->fixed)
		return " [fixed]";
	if (f->active != f->requested)
		return f->requested ? " [requested on]" : " [requested off]";
	return "";
}

int kst_nic_format(const struct kst_nic_info *ni, char *buf, size_t len)
{
	size_t used;
	int r;

	if (!len)
		return -ENOSPC;
	r = snprintf(buf, len, "%s:", ni->ifname);
	used = r < 0 ? len : (size_t)r;
	for (int f = 0; f < KST_NIC_NFEAT && used < len; f++) {
		const struct kst_nic_feature *feat =
			kst_nic_get0_feature(ni, f);

		r = snprintf(buf + used, len - used, "%s %s %s%s", f ? "," : "",
			     nic_feat_names[f], feat->active ? "on" : "off",
			     nic_suffix(feat));
		used = r < 0 ? len : used + (size_t)r;
	}
	return used < len ? 0 : -ENOSPC;
}

/*
 * Checks that nlh is a generic netlink message with command cmd (or, for
 * a features reply, its notification twin) and parses its attributes.
 */
static int nic_genl_attrs(const struct nlmsghdr *nlh, int cmd,
			  struct nlattr **tb, int maxtype,
			  const struct nla_policy *policy)
{
	/* libnl's parsers take non-const pointers but do not write. */
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	const struct genlmsghdr *gh;

	if (!h || h->nlmsg_len < NLMSG_HDRLEN || !genlmsg_valid_hdr(h, 0))
		return -EBADMSG;
	gh = nlmsg_data(h);
	if (gh->cmd != cmd && !(cmd == ETHTOOL_MSG_FEATURES_GET_REPLY &&
				gh->cmd == ETHTOOL_MSG_FEATURES_NTF))
		return -EBADMSG;
	if (genlmsg_parse(h, 0, tb, maxtype, policy) < 0)
		return -EBADMSG;
	return 0;
}

static int nic_feat_of_name(const char *name)
{
	for (int f = 0; f < KST_NIC_NFEAT; f++)
		if (!strcmp(name, nic_feat_names[f]))
			return f;
	return -1;
}

static int nic_feat_of_index(const struct kst_nic_strset *names,
			     unsigned int idx)
{
	if (!names)
		return -1;
	for (int f = 0; f < KST_NIC_NFEAT; f++)
		if (names->index[f] >= 0 &&
		    (unsigned int)names->index[f] == idx)
			return f;
	return -1;
}

static int nic_bitset_get(const struct nlattr *attr,
			  const struct kst_nic_strset *names,
			  struct nic_bits *out)
{
	struct nlattr *tb[ETHTOOL_A_BITSET_MAX + 1] = {0};

	memset(out, 0, sizeof(*out));
	if (!attr)
		return -EBADMSG;
	if (nla_parse_nested(tb, ETHTOOL_A_BITSET_MAX, (struct nlattr *)attr,
			     nic_bitset_policy) < 0)
		return -EBADMSG;
	if (tb[ETHTOOL_A_BITSET_BITS])
		return nic_bitset_list(tb, names, out);
	/* A list with no bit listed may come without its (empty) nest. */
	if (!tb[ETHTOOL_A_BITSET_VALUE] && !tb[ETHTOOL_A_BITSET_MASK])
		return 0;
	return nic_bitset_compact(tb, names, out);
}

static bool nic_word_bit(const struct nlattr *words, unsigned int idx)
{
	uint32_t w;

	memcpy(&w, (const char *)nla_data(words) + (idx / 32) * sizeof(w),
	       sizeof(w));
	return w & (1u << (idx % 32));
}

static int nic_bitset_compact(struct nlattr **tb,
			      const struct kst_nic_strset *names,
			      struct nic_bits *out)
{
	const struct nlattr *value = tb[ETHTOOL_A_BITSET_VALUE];
	const struct nlattr *mask = tb[ETHTOOL_A_BITSET_MASK];
	bool nomask = tb[ETHTOOL_A_BITSET_NOMASK];
	uint64_t size, need;

	if (!tb[ETHTOOL_A_BITSET_SIZE] || !value || (!nomask && !mask))
		return -EBADMSG;
	/* Positions come only from the string set. */
	if (!names)
		return -EINVAL;
	/* 64-bit arithmetic: a SIZE near 2^32 must not wrap "need" to a
	 * few bytes and let the bit reads run past the attribute. */
	size = nla_get_u32(tb[ETHTOOL_A_BITSET_SIZE]);
	need = (size + 31) / 32 * 4;
	if (nla_len(value) < 0 || (uint64_t)nla_len(value) < need ||
	    (mask && (nla_len(mask) < 0 || (uint64_t)nla_len(mask) < need)))
		return -EBADMSG;
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		int idx = names->index[f];

		if (idx < 0 || (uint64_t)idx >= size)
			continue;
		out->on[f] = nic_word_bit(value, idx);
		out->in_mask[f] = nomask || nic_word_bit(mask, idx);
	}
	return 0;
}

static int nic_bitset_list(struct nlattr **tb,
			   const struct kst_nic_strset *names,
			   struct nic_bits *out)
{
	bool nomask = tb[ETHTOOL_A_BITSET_NOMASK];
	struct nlattr *bit;
	int rem;

	nla_for_each_nested(bit, tb[ETHTOOL_A_BITSET_BITS], rem)
	{
		struct nlattr *bt[ETHTOOL_A_BITSET_BIT_MAX + 1] = {0};
		int f = -1;

		if (nla_type(bit) != ETHTOOL_A_BITSET_BITS_BIT)
			continue;
		if (nla_parse_nested(bt, ETHTOOL_A_BITSET_BIT_MAX, bit,
				     nic_bit_policy) < 0)
			return -EBADMSG;
		if (!bt[ETHTOOL_A_BITSET_BIT_NAME] &&
		    !bt[ETHTOOL_A_BITSET_BIT_INDEX])
			return -EBADMSG;
		if (bt[ETHTOOL_A_BITSET_BIT_NAME])
			f = nic_feat_of_name(
				nla_get_string(bt[ETHTOOL_A_BITSET_BIT_NAME]));
		if (f < 0 && bt[ETHTOOL_A_BITSET_BIT_INDEX])
			f = nic_feat_of_index(
				names,
				nla_get_u32(bt[ETHTOOL_A_BITSET_BIT_INDEX]));
		if (f < 0)
			continue;
		out->in_mask[f] = true;
		out->on[f] = nomask || bt[ETHTOOL_A_BITSET_BIT_VALUE];
	}
	return 0;
}

static int nic_header_get(const struct nlattr *attr, struct kst_nic_info *out)
{
	struct nlattr *tb[ETHTOOL_A_HEADER_MAX + 1] = {0};

	if (!attr ||
	    nla_parse_nested(tb, ETHTOOL_A_HEADER_MAX, (struct nlattr *)attr,
			     nic_header_policy) < 0)
		return -EBADMSG;
	if (!tb[ETHTOOL_A_HEADER_DEV_INDEX] || !tb[ETHTOOL_A_HEADER_DEV_NAME])
		return -EBADMSG;
	out->ifindex = (int)nla_get_u32(tb[ETHTOOL_A_HEADER_DEV_INDEX]);
	/* The policy bounds the name to IFNAMSIZ including its NUL. */
	snprintf(out->ifname, sizeof(out->ifname), "%s",
		 nla_get_string(tb[ETHTOOL_A_HEADER_DEV_NAME]));
	return 0;
}

int kst_nic_parse_features(const struct nlmsghdr *nlh,
			   const struct kst_nic_strset *names,
			   struct kst_nic_info *out)
{
	struct nlattr *tb[ETHTOOL_A_FEATURES_MAX + 1] = {0};
	struct nic_bits hw, wanted, active, nochange;
	struct kst_nic_info ni = {0};
	int err;

	err = nic_genl_attrs(nlh, ETHTOOL_MSG_FEATURES_GET_REPLY, tb,
			     ETHTOOL_A_FEATURES_MAX, nic_feat_policy);
	if (!err)
		err = nic_header_get(tb[ETHTOOL_A_FEATURES_HEADER], &ni);
	if (!err)
		err = nic_bitset_get(tb[ETHTOOL_A_FEATURES_HW], names, &hw);
	if (!err)
		err = nic_bitset_get(tb[ETHTOOL_A_FEATURES_WANTED], names,
				     &wanted);
	if (!err)
		err = nic_bitset_get(tb[ETHTOOL_A_FEATURES_ACTIVE], names,
				     &active);
	if (!err)
		err = nic_bitset_get(tb[ETHTOOL_A_FEATURES_NOCHANGE], names,
				     &nochange);
	if (err)
		return err;
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		struct kst_nic_feature *feat = nic_feature(&ni, f);

		feat->available = hw.on[f];
		feat->active = active.on[f];
		feat->requested = wanted.on[f];
		feat->fixed = !hw.on[f] || nochange.on[f];
	}
	*out = ni;
	return 0;
}

int kst_nic_parse_refused(const struct nlmsghdr *nlh,
			  const struct kst_nic_strset *names,
			  unsigned int *refused)
{
	struct nlattr *tb[ETHTOOL_A_FEATURES_MAX + 1] = {0};
	struct nic_bits diff;
	int err;

	err = nic_genl_attrs(nlh, ETHTOOL_MSG_FEATURES_SET_REPLY, tb,
			     ETHTOOL_A_FEATURES_MAX, nic_feat_policy);
	if (err)
		return err;
	*refused = 0;
	/* Absent: nothing differs from what was asked. */
	if (!tb[ETHTOOL_A_FEATURES_WANTED])
		return 0;
	err = nic_bitset_get(tb[ETHTOOL_A_FEATURES_WANTED], names, &diff);
	if (err)
		return err;
	for (int f = 0; f < KST_NIC_NFEAT; f++)
		if (diff.in_mask[f])
			*refused |= KST_NIC_BIT(f);
	return 0;
}

static int nic_stringset_get(struct nlattr *set, struct kst_nic_strset *names)
{
	struct nlattr *tb[ETHTOOL_A_STRINGSET_MAX + 1] = {0};
	struct nlattr *str;
	int rem;

	if (nla_parse_nested(tb, ETHTOOL_A_STRINGSET_MAX, set, nic_set_policy) <
		    0 ||
	    !tb[ETHTOOL_A_STRINGSET_ID] || !tb[ETHTOOL_A_STRINGSET_COUNT])
		return -EBADMSG;
	if (nla_get_u32(tb[ETHTOOL_A_STRINGSET_ID]) != ETH_SS_FEATURES)
		return -ENOENT;
	names->count = nla_get_u32(tb[ETHTOOL_A_STRINGSET_COUNT]);
	if (!tb[ETHTOOL_A_STRINGSET_STRINGS])
		return 0;
	nla_for_each_nested(str, tb[ETHTOOL_A_STRINGSET_STRINGS], rem)
	{
		struct nlattr *st[ETHTOOL_A_STRING_MAX + 1] = {0};
		unsigned int idx;
		int f;

		if (nla_parse_nested(st, ETHTOOL_A_STRING_MAX, str,
				     nic_string_policy) < 0 ||
		    !st[ETHTOOL_A_STRING_INDEX])
			return -EBADMSG;
		idx = nla_get_u32(st[ETHTOOL_A_STRING_INDEX]);
		if (!st[ETHTOOL_A_STRING_VALUE] || idx >= names->count)
			continue;
		f = nic_feat_of_name(
			nla_get_string(st[ETHTOOL_A_STRING_VALUE]));
		if (f >= 0)
			names->index[f] = (int)idx;
	}
	return 0;
}

int kst_nic_parse_strset(const struct nlmsghdr *nlh,
			 struct kst_nic_strset *names)
{
	struct nlattr *tb[ETHTOOL_A_STRSET_MAX + 1] = {0};
	struct kst_nic_strset ns = {0};
	struct nlattr *set;
	int err, rem;

	err = nic_genl_attrs(nlh, ETHTOOL_MSG_STRSET_GET_REPLY, tb,
			     ETHTOOL_A_STRSET_MAX, nic_strset_policy);
	if (err)
		return err;
	if (!tb[ETHTOOL_A_STRSET_STRINGSETS])
		return -EBADMSG;
	err = -EBADMSG;
	nla_for_each_nested(set, tb[ETHTOOL_A_STRSET_STRINGSETS], rem)
	{
		if (nla_type(set) != ETHTOOL_A_STRINGSETS_STRINGSET)
			continue;
		for (int f = 0; f < KST_NIC_NFEAT; f++)
			ns.index[f] = -1;
		err = nic_stringset_get(set, &ns);
		if (err != -ENOENT)
			break;
	}
	/* No ETH_SS_FEATURES set in the reply is as bad as a broken one. */
	if (err)
		return -EBADMSG;
	*names = ns;
	return 0;
}
