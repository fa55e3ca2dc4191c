// SPDX-License-Identifier: MIT
/*
 * NIC TLS offload detection from canned ethtool netlink replies.
 *
 * How the canned messages are built: with libnl's message calls
 * (genlmsg_put, nla_nest_start, nla_put_*), in the layout the kernel's
 * net/ethtool/{strset,features,bitset}.c writes and ethtool(8) reads:
 * - STRSET_GET_REPLY: STRINGSETS > STRINGSET { ID, COUNT, STRINGS >
 *   STRING { INDEX, VALUE } }.
 * - FEATURES_GET_REPLY: HEADER { DEV_INDEX, DEV_NAME }, then four bitsets
 *   HW (changeable), WANTED, ACTIVE, NOCHANGE, each with NOMASK; compact:
 *   SIZE + VALUE (u32 words, host order); list: SIZE + BITS > BIT { INDEX,
 *   NAME } for the set bits only.
 * - FEATURES_SET_REPLY: WANTED as a bitset with a mask: the requested bits
 *   that did not take effect (mask), with the requested values.
 * Feature positions: the host kernel (6.18) reports 64 feature bits with
 * tls-hw-tx-offload at 53, tls-hw-rx-offload at 54, tls-hw-record at 56
 * (read through this module's own strset request). A second layout puts
 * them at 3, 4 and 6 of 10 bits: positions must come from the string set,
 * never from constants.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "ktls/nic.h"
#include "tests/lib/testutil.h"

/* The family id is whatever the kernel assigned; parsers must not care. */
#define FAMILY 0x15

enum form { COMPACT, LIST };

struct layout {
	const char *label;
	unsigned int nbits;
	unsigned int tx, rx, record;
};

static const struct layout layouts[] = {
	{"6.18", 64, 53, 54, 56},
	{"low", 10, 3, 4, 6},
};

/* Name of bit i in a layout: the TLS names where they sit, else filler. */
static const char *bit_name(const struct layout *l, unsigned int i, char *buf,
			    size_t len)
{
	if (i == l->tx)
		return "tls-hw-tx-offload";
	if (i == l->rx)
		return "tls-hw-rx-offload";
	if (i == l->record)
		return "tls-hw-record";
	snprintf(buf, len, "feature-%u", i);
	return buf;
}

static unsigned int pos(const struct layout *l, int feat)
{
	return feat == KST_NIC_TLS_TX	? l->tx
	       : feat == KST_NIC_TLS_RX ? l->rx
					: l->record;
}

static struct nl_msg *genl_msg(int cmd)
{
	struct nl_msg *m = nlmsg_alloc();

	cr_assert_not_null(m);
	cr_assert_not_null(
		genlmsg_put(m, 0, 7, FAMILY, 0, 0, cmd, ETHTOOL_GENL_VERSION));
	return m;
}

static struct nlattr *nest(struct nl_msg *m, int type)
{
	struct nlattr *a = nla_nest_start(m, type);

	cr_assert_not_null(a);
	return a;
}

/* ETH_SS_FEATURES for a layout; skip names one feature (-1 for none). */
static struct nl_msg *strset_reply(const struct layout *l, int skip)
{
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_STRSET_GET_REPLY);
	struct nlattr *sets = nest(m, ETHTOOL_A_STRSET_STRINGSETS);
	struct nlattr *set = nest(m, ETHTOOL_A_STRINGSETS_STRINGSET);
	struct nlattr *strs;
	char buf[32];

	nla_put_u32(m, ETHTOOL_A_STRINGSET_ID, ETH_SS_FEATURES);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_COUNT, l->nbits);
	strs = nest(m, ETHTOOL_A_STRINGSET_STRINGS);
	for (unsigned int i = 0; i < l->nbits; i++) {
		struct nlattr *s = nest(m, ETHTOOL_A_STRINGS_STRING);
		const char *name = bit_name(l, i, buf, sizeof(buf));

		if (skip >= 0 && i == pos(l, skip))
			name = "renamed-by-a-future-kernel";
		nla_put_u32(m, ETHTOOL_A_STRING_INDEX, i);
		nla_put_string(m, ETHTOOL_A_STRING_VALUE, name);
		nla_nest_end(m, s);
	}
	nla_nest_end(m, strs);
	nla_nest_end(m, set);
	nla_nest_end(m, sets);
	return m;
}

static bool word_bit(const uint32_t *w, unsigned int i)
{
	return w[i / 32] & (1u << (i % 32));
}

/* A bitset without mask, in either form; names on every listed bit. */
static void put_bitset(struct nl_msg *m, int type, const struct layout *l,
		       const uint32_t *words, enum form form, bool names)
{
	struct nlattr *set = nest(m, type);
	char buf[32];

	nla_put_flag(m, ETHTOOL_A_BITSET_NOMASK);
	nla_put_u32(m, ETHTOOL_A_BITSET_SIZE, l->nbits);
	if (form == COMPACT) {
		nla_put(m, ETHTOOL_A_BITSET_VALUE, (l->nbits + 31) / 32 * 4,
			words);
	} else {
		struct nlattr *bits = nest(m, ETHTOOL_A_BITSET_BITS);

		for (unsigned int i = 0; i < l->nbits; i++) {
			struct nlattr *bit;

			if (!word_bit(words, i))
				continue;
			bit = nest(m, ETHTOOL_A_BITSET_BITS_BIT);
			nla_put_u32(m, ETHTOOL_A_BITSET_BIT_INDEX, i);
			if (names)
				nla_put_string(
					m, ETHTOOL_A_BITSET_BIT_NAME,
					bit_name(l, i, buf, sizeof(buf)));
			nla_nest_end(m, bit);
		}
		nla_nest_end(m, bits);
	}
	nla_nest_end(m, set);
}

/* Per feature (tx, rx, record): is it in hw, wanted, active, nochange. */
struct dev_bits {
	bool hw[3], wanted[3], active[3], nochange[3];
};

static void set_words(const struct layout *l, const bool on[3],
		      uint32_t words[2])
{
	/* Unrelated bits set too, as on any real device (bit 0: sg). */
	words[0] = 1u;
	words[1] = 0;
	for (int f = 0; f < 3; f++)
		if (on[f])
			words[pos(l, f) / 32] |= 1u << (pos(l, f) % 32);
}

static struct nl_msg *features_reply(const struct layout *l,
				     const struct dev_bits *d, enum form form,
				     bool names)
{
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_GET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	uint32_t w[2];

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	set_words(l, d->hw, w);
	put_bitset(m, ETHTOOL_A_FEATURES_HW, l, w, form, names);
	set_words(l, d->wanted, w);
	put_bitset(m, ETHTOOL_A_FEATURES_WANTED, l, w, form, names);
	set_words(l, d->active, w);
	put_bitset(m, ETHTOOL_A_FEATURES_ACTIVE, l, w, form, names);
	set_words(l, d->nochange, w);
	put_bitset(m, ETHTOOL_A_FEATURES_NOCHANGE, l, w, form, names);
	return m;
}

static struct kst_nic_strset names_of(const struct layout *l)
{
	struct nl_msg *m = strset_reply(l, -1);
	struct kst_nic_strset ns;

	cr_assert_eq(kst_nic_parse_strset(nlmsg_hdr(m), &ns), 0);
	nlmsg_free(m);
	return ns;
}

/* ---------------------------------------------------------- string set */

Test(nic_strset, finds_tls_feature_positions_by_name)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct kst_nic_strset ns = names_of(&layouts[i]);

		cr_expect_eq(ns.count, layouts[i].nbits);
		cr_expect_eq(ns.index[KST_NIC_TLS_TX], (int)layouts[i].tx);
		cr_expect_eq(ns.index[KST_NIC_TLS_RX], (int)layouts[i].rx);
		cr_expect_eq(ns.index[KST_NIC_TLS_RECORD],
			     (int)layouts[i].record);
	}
}

Test(nic_strset, marks_a_name_the_kernel_lacks_as_missing)
{
	struct nl_msg *m = strset_reply(&layouts[0], KST_NIC_TLS_RECORD);
	struct kst_nic_strset ns;

	cr_assert_eq(kst_nic_parse_strset(nlmsg_hdr(m), &ns), 0);
	cr_expect_eq(ns.index[KST_NIC_TLS_TX], 53);
	cr_expect_eq(ns.index[KST_NIC_TLS_RECORD], -1);
	nlmsg_free(m);
}

Test(nic_strset, skips_other_string_sets_in_the_reply)
{
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_STRSET_GET_REPLY);
	struct nlattr *sets = nest(m, ETHTOOL_A_STRSET_STRINGSETS);
	struct nlattr *set, *strs, *s;
	struct kst_nic_strset ns;

	/* A private-flags set naming a TLS feature must not count. */
	set = nest(m, ETHTOOL_A_STRINGSETS_STRINGSET);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_ID, ETH_SS_PRIV_FLAGS);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_COUNT, 1);
	strs = nest(m, ETHTOOL_A_STRINGSET_STRINGS);
	s = nest(m, ETHTOOL_A_STRINGS_STRING);
	nla_put_u32(m, ETHTOOL_A_STRING_INDEX, 0);
	nla_put_string(m, ETHTOOL_A_STRING_VALUE, "tls-hw-tx-offload");
	nla_nest_end(m, s);
	nla_nest_end(m, strs);
	nla_nest_end(m, set);
	set = nest(m, ETHTOOL_A_STRINGSETS_STRINGSET);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_ID, ETH_SS_FEATURES);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_COUNT, 40);
	strs = nest(m, ETHTOOL_A_STRINGSET_STRINGS);
	s = nest(m, ETHTOOL_A_STRINGS_STRING);
	nla_put_u32(m, ETHTOOL_A_STRING_INDEX, 33);
	nla_put_string(m, ETHTOOL_A_STRING_VALUE, "tls-hw-tx-offload");
	nla_nest_end(m, s);
	nla_nest_end(m, strs);
	nla_nest_end(m, set);
	nla_nest_end(m, sets);

	cr_assert_eq(kst_nic_parse_strset(nlmsg_hdr(m), &ns), 0);
	cr_expect_eq(ns.count, 40);
	cr_expect_eq(ns.index[KST_NIC_TLS_TX], 33);
	cr_expect_eq(ns.index[KST_NIC_TLS_RX], -1);
	nlmsg_free(m);
}

Test(nic_strset, rejects_a_reply_without_the_features_set)
{
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_STRSET_GET_REPLY);
	struct nlattr *sets = nest(m, ETHTOOL_A_STRSET_STRINGSETS);
	struct nlattr *set = nest(m, ETHTOOL_A_STRINGSETS_STRINGSET);
	struct kst_nic_strset ns = {.count = 77};

	nla_put_u32(m, ETHTOOL_A_STRINGSET_ID, ETH_SS_STATS);
	nla_put_u32(m, ETHTOOL_A_STRINGSET_COUNT, 0);
	nla_nest_end(m, set);
	nla_nest_end(m, sets);
	cr_expect_eq(kst_nic_parse_strset(nlmsg_hdr(m), &ns), -EBADMSG);
	cr_expect_eq(ns.count, 77, "output untouched on failure");
	nlmsg_free(m);
}

/* ---------------------------------------------------------- features */

/* One device state and what ethtool -k would print for it. */
struct feat_case {
	const char *what;
	struct dev_bits bits;
	struct kst_nic_feature want[3];
	bool any_tls;
	const char *line;
};

#define F(av, ac, rq, fx)      \
	{                      \
		av, ac, rq, fx \
	}
static const struct feat_case feat_cases[] = {
	{"tx offload available and on, rx available and off, no record",
	 {.hw = {1, 1, 0}, .wanted = {1, 0, 0}, .active = {1, 0, 0}},
	 {F(1, 1, 1, 0), F(1, 0, 0, 0), F(0, 0, 0, 1)},
	 true,
	 "eth9: tls-hw-tx-offload on, tls-hw-rx-offload off, "
	 "tls-hw-record off [fixed]"},
	{"nothing: a veth, a dummy, lo",
	 {{0}},
	 {F(0, 0, 0, 1), F(0, 0, 0, 1), F(0, 0, 0, 1)},
	 false,
	 "eth9: tls-hw-tx-offload off [fixed], tls-hw-rx-offload off "
	 "[fixed], tls-hw-record off [fixed]"},
	{"asked for but not on (the driver said no)",
	 {.hw = {1, 1, 0}, .wanted = {1, 1, 0}, .active = {0, 1, 0}},
	 {F(1, 0, 1, 0), F(1, 1, 1, 0), F(0, 0, 0, 1)},
	 true,
	 "eth9: tls-hw-tx-offload off [requested on], tls-hw-rx-offload on, "
	 "tls-hw-record off [fixed]"},
	{"on but switched off, not yet applied",
	 {.hw = {1, 0, 0}, .wanted = {0, 0, 0}, .active = {1, 0, 0}},
	 {F(1, 1, 0, 0), F(0, 0, 0, 1), F(0, 0, 0, 1)},
	 true,
	 "eth9: tls-hw-tx-offload on [requested off], tls-hw-rx-offload off "
	 "[fixed], tls-hw-record off [fixed]"},
	{"changeable but in the never-change set",
	 {.hw = {1, 0, 0}, .active = {1, 0, 0}, .nochange = {1, 0, 0}},
	 {F(1, 1, 0, 1), F(0, 0, 0, 1), F(0, 0, 0, 1)},
	 true,
	 "eth9: tls-hw-tx-offload on [fixed], tls-hw-rx-offload off [fixed], "
	 "tls-hw-record off [fixed]"},
	{"record layer on and fixed (not changeable)",
	 {.wanted = {0, 0, 1}, .active = {0, 0, 1}},
	 {F(0, 0, 0, 1), F(0, 0, 0, 1), F(0, 1, 1, 1)},
	 true,
	 "eth9: tls-hw-tx-offload off [fixed], tls-hw-rx-offload off "
	 "[fixed], tls-hw-record on [fixed]"},
};
#undef F

struct feat_param {
	size_t kase, layout;
	enum form form;
};

ParameterizedTestParameters(nic_features, reads_each_device_state)
{
	static struct feat_param
		p[sizeof(feat_cases) / sizeof(feat_cases[0]) * 2 * 2];
	size_t n = 0;

	for (size_t c = 0; c < sizeof(feat_cases) / sizeof(feat_cases[0]); c++)
		for (size_t l = 0; l < 2; l++)
			for (int f = COMPACT; f <= LIST; f++)
				p[n++] = (struct feat_param){c, l, f};
	return cr_make_param_array(struct feat_param, p, n);
}

ParameterizedTest(struct feat_param *p, nic_features, reads_each_device_state)
{
	const struct feat_case *c = &feat_cases[p->kase];
	const struct layout *l = &layouts[p->layout];
	struct kst_nic_strset ns = names_of(l);
	struct nl_msg *m = features_reply(l, &c->bits, p->form, true);
	struct kst_nic_info ni;
	char line[256];

	cr_assert_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), 0,
		     "%s (%s, %s)", c->what, l->label,
		     p->form == COMPACT ? "compact" : "list");
	cr_expect_str_eq(ni.ifname, "eth9");
	cr_expect_eq(ni.ifindex, 9);
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		const struct kst_nic_feature *got =
			kst_nic_get0_feature(&ni, f);

		cr_expect_eq(got->available, c->want[f].available, "%s: %s",
			     c->what, kst_nic_feat_name(f));
		cr_expect_eq(got->active, c->want[f].active, "%s: %s", c->what,
			     kst_nic_feat_name(f));
		cr_expect_eq(got->requested, c->want[f].requested, "%s: %s",
			     c->what, kst_nic_feat_name(f));
		cr_expect_eq(got->fixed, c->want[f].fixed, "%s: %s", c->what,
			     kst_nic_feat_name(f));
	}
	cr_expect_eq(kst_nic_any_tls(&ni), c->any_tls, "%s", c->what);
	cr_assert_eq(kst_nic_format(&ni, line, sizeof(line)), 0);
	cr_expect_str_eq(line, c->line);
	nlmsg_free(m);
}

Test(nic_features, reads_bit_lists_without_a_string_set)
{
	const struct feat_case *c = &feat_cases[0];
	struct nl_msg *m = features_reply(&layouts[0], &c->bits, LIST, true);
	struct kst_nic_info ni;

	cr_assert_eq(kst_nic_parse_features(nlmsg_hdr(m), NULL, &ni), 0);
	cr_expect(ni.tls_tx.active && ni.tls_tx.available);
	cr_expect(ni.tls_rx.available && !ni.tls_rx.active);
	cr_expect(ni.tls_record.fixed);
	nlmsg_free(m);
}

Test(nic_features, resolves_unnamed_list_bits_through_the_string_set)
{
	const struct feat_case *c = &feat_cases[0];
	struct kst_nic_strset ns = names_of(&layouts[1]);
	struct nl_msg *m = features_reply(&layouts[1], &c->bits, LIST, false);
	struct kst_nic_info ni;

	cr_assert_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), 0);
	cr_expect(ni.tls_tx.active);
	cr_expect(ni.tls_rx.available && !ni.tls_rx.active);
	nlmsg_free(m);
}

Test(nic_features, compact_bitsets_need_the_string_set)
{
	const struct feat_case *c = &feat_cases[0];
	struct nl_msg *m = features_reply(&layouts[0], &c->bits, COMPACT, true);
	struct kst_nic_info ni;

	cr_expect_eq(kst_nic_parse_features(nlmsg_hdr(m), NULL, &ni), -EINVAL);
	nlmsg_free(m);
}

Test(nic_features, feature_unknown_to_the_kernel_reads_as_fixed_off)
{
	const struct feat_case *c = &feat_cases[5]; /* record on */
	struct nl_msg *s = strset_reply(&layouts[0], KST_NIC_TLS_RECORD);
	struct nl_msg *m = features_reply(&layouts[0], &c->bits, COMPACT, true);
	struct kst_nic_strset ns;
	struct kst_nic_info ni;

	cr_assert_eq(kst_nic_parse_strset(nlmsg_hdr(s), &ns), 0);
	cr_assert_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), 0);
	cr_expect(!ni.tls_record.active && ni.tls_record.fixed);
	cr_expect(!kst_nic_any_tls(&ni));
	nlmsg_free(s);
	nlmsg_free(m);
}

Test(nic_features, rejects_compact_value_shorter_than_its_size)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_GET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	uint32_t one = 1;
	struct kst_nic_info ni;

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	for (int t = ETHTOOL_A_FEATURES_HW; t <= ETHTOOL_A_FEATURES_NOCHANGE;
	     t++) {
		struct nlattr *set = nest(m, t);

		/* 64 bits claimed, one word given: bit 53 would be past it */
		nla_put_flag(m, ETHTOOL_A_BITSET_NOMASK);
		nla_put_u32(m, ETHTOOL_A_BITSET_SIZE, 64);
		nla_put(m, ETHTOOL_A_BITSET_VALUE, sizeof(one), &one);
		nla_nest_end(m, set);
	}
	cr_expect_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), -EBADMSG);
	nlmsg_free(m);
}

/* Issue 12 defect 10: SIZE near 2^32 wrapped the needed byte count to 0
 * in 32-bit arithmetic, so one word of VALUE passed the check and bit 53
 * was read past the attribute. */
static const uint32_t huge_sizes[] = {0xffffffe1u, 0xffffffffu, 0xfffffff0u,
				      65u};

ParameterizedTestParameters(nic_features, rejects_a_size_larger_than_value)
{
	return cr_make_param_array(uint32_t, huge_sizes,
				   sizeof(huge_sizes) / sizeof(huge_sizes[0]));
}

ParameterizedTest(const uint32_t *size, nic_features,
		  rejects_a_size_larger_than_value)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_GET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	uint32_t one = 1;
	struct kst_nic_info ni;
	struct nlmsghdr *exact;

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	for (int t = ETHTOOL_A_FEATURES_HW; t <= ETHTOOL_A_FEATURES_NOCHANGE;
	     t++) {
		struct nlattr *set = nest(m, t);

		nla_put_flag(m, ETHTOOL_A_BITSET_NOMASK);
		nla_put_u32(m, ETHTOOL_A_BITSET_SIZE, *size);
		nla_put(m, ETHTOOL_A_BITSET_VALUE, sizeof(one), &one);
		nla_nest_end(m, set);
	}
	/* an exact-size copy: the last VALUE ends the allocation, so a read
	 * past it is a heap-buffer-overflow under SAN=1 */
	exact = malloc(nlmsg_hdr(m)->nlmsg_len);
	cr_assert_not_null(exact);
	memcpy(exact, nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
	cr_expect_eq(kst_nic_parse_features(exact, &ns, &ni), -EBADMSG,
		     "SIZE %#x with a 4-byte VALUE was accepted", *size);
	free(exact);
	nlmsg_free(m);
}

Test(nic_features, rejects_a_reply_without_device_header)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_GET_REPLY);
	uint32_t w[2] = {0};
	struct kst_nic_info ni;

	for (int t = ETHTOOL_A_FEATURES_HW; t <= ETHTOOL_A_FEATURES_NOCHANGE;
	     t++)
		put_bitset(m, t, &layouts[0], w, COMPACT, true);
	cr_expect_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), -EBADMSG);
	nlmsg_free(m);
}

Test(nic_features, rejects_a_reply_missing_a_bitset)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_GET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	uint32_t w[2] = {0};
	struct kst_nic_info ni;

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	put_bitset(m, ETHTOOL_A_FEATURES_HW, &layouts[0], w, COMPACT, true);
	put_bitset(m, ETHTOOL_A_FEATURES_ACTIVE, &layouts[0], w, COMPACT, true);
	cr_expect_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), -EBADMSG);
	nlmsg_free(m);
}

Test(nic_features, rejects_a_message_of_another_command)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = strset_reply(&layouts[0], -1);
	struct kst_nic_info ni;

	cr_expect_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), -EBADMSG);
	nlmsg_free(m);
}

Test(nic_features, accepts_a_change_notification_like_a_reply)
{
	const struct feat_case *c = &feat_cases[0];
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = features_reply(&layouts[0], &c->bits, COMPACT, true);
	struct kst_nic_info ni;

	((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(m)))->cmd =
		ETHTOOL_MSG_FEATURES_NTF;
	cr_assert_eq(kst_nic_parse_features(nlmsg_hdr(m), &ns, &ni), 0);
	cr_expect(ni.tls_tx.active);
	nlmsg_free(m);
}

/* ---------------------------------------------------------- set reply */

/* WANTED difference with a mask, compact: refused bits in mask. */
static struct nl_msg *set_reply(const struct layout *l, const bool diff[3],
				enum form form)
{
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_SET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	struct nlattr *set;
	uint32_t mask[2] = {0};

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_put_string(m, ETHTOOL_A_HEADER_DEV_NAME, "eth9");
	nla_nest_end(m, hdr);
	for (int f = 0; f < 3; f++)
		if (diff[f])
			mask[pos(l, f) / 32] |= 1u << (pos(l, f) % 32);
	set = nest(m, ETHTOOL_A_FEATURES_WANTED);
	nla_put_u32(m, ETHTOOL_A_BITSET_SIZE, l->nbits);
	if (form == COMPACT) {
		/* requested on: value equals mask */
		nla_put(m, ETHTOOL_A_BITSET_VALUE, (l->nbits + 31) / 32 * 4,
			mask);
		nla_put(m, ETHTOOL_A_BITSET_MASK, (l->nbits + 31) / 32 * 4,
			mask);
	} else {
		struct nlattr *bits = nest(m, ETHTOOL_A_BITSET_BITS);
		char buf[32];

		for (int f = 0; f < 3; f++) {
			struct nlattr *bit;

			if (!diff[f])
				continue;
			bit = nest(m, ETHTOOL_A_BITSET_BITS_BIT);
			nla_put_u32(m, ETHTOOL_A_BITSET_BIT_INDEX, pos(l, f));
			nla_put_string(
				m, ETHTOOL_A_BITSET_BIT_NAME,
				bit_name(l, pos(l, f), buf, sizeof(buf)));
			nla_put_flag(m, ETHTOOL_A_BITSET_BIT_VALUE);
			nla_nest_end(m, bit);
		}
		nla_nest_end(m, bits);
	}
	nla_nest_end(m, set);
	return m;
}

Test(nic_set, reports_what_the_device_refused)
{
	static const bool diffs[][3] = {
		{1, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 1, 0}};

	for (size_t l = 0; l < 2; l++)
		for (size_t d = 0; d < sizeof(diffs) / sizeof(diffs[0]); d++)
			for (int form = COMPACT; form <= LIST; form++) {
				struct kst_nic_strset ns =
					names_of(&layouts[l]);
				struct nl_msg *m =
					set_reply(&layouts[l], diffs[d], form);
				unsigned int want = 0, got = ~0u;

				for (int f = 0; f < 3; f++)
					want |= diffs[d][f] ? KST_NIC_BIT(f)
							    : 0;
				cr_assert_eq(kst_nic_parse_refused(nlmsg_hdr(m),
								   &ns, &got),
					     0);
				cr_expect_eq(got, want,
					     "layout %zu diff %zu "
					     "form %d",
					     l, d, form);
				nlmsg_free(m);
			}
}

Test(nic_set, reply_without_wanted_difference_refuses_nothing)
{
	struct kst_nic_strset ns = names_of(&layouts[0]);
	struct nl_msg *m = genl_msg(ETHTOOL_MSG_FEATURES_SET_REPLY);
	struct nlattr *hdr = nest(m, ETHTOOL_A_FEATURES_HEADER);
	unsigned int got = ~0u;

	nla_put_u32(m, ETHTOOL_A_HEADER_DEV_INDEX, 9);
	nla_nest_end(m, hdr);
	cr_assert_eq(kst_nic_parse_refused(nlmsg_hdr(m), &ns, &got), 0);
	cr_expect_eq(got, 0);
	nlmsg_free(m);
}

/* ---------------------------------------------------------- format */

Test(nic_format, says_when_the_buffer_is_too_small)
{
	struct kst_nic_info ni = {.ifname = "eth0"};
	char buf[16];

	memset(buf, 'x', sizeof(buf));
	cr_expect_eq(kst_nic_format(&ni, buf, sizeof(buf)), -ENOSPC);
	cr_expect_eq(buf[sizeof(buf) - 1], '\0', "still terminated");
	cr_expect_eq(strncmp(buf, "eth0: tls-hw-tx", 15), 0);
	cr_expect_eq(kst_nic_format(&ni, buf, 0), -ENOSPC);
}

Test(nic_format, fits_exactly)
{
	struct kst_nic_info ni = {.ifname = "lo"};
	char want[] = "lo: tls-hw-tx-offload off, tls-hw-rx-offload off, "
		      "tls-hw-record off";
	char buf[sizeof(want)];

	cr_assert_eq(kst_nic_format(&ni, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, want);
	cr_expect_eq(kst_nic_format(&ni, buf, sizeof(buf) - 1), -ENOSPC);
}

/* ---------------------------------------------------------- addresses */

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	s->sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, a, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

	s->sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
	return ss;
}

/* The loopback device's name, if it carries 127.0.0.1 here. */
static bool loopback_name(char *name, size_t len)
{
	struct ifaddrs *list, *i;
	bool found = false;

	if (getifaddrs(&list) < 0)
		return false;
	for (i = list; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			    htonl(INADDR_LOOPBACK)) {
			snprintf(name, len, "%s", i->ifa_name);
			found = true;
		}
	freeifaddrs(list);
	return found;
}

Test(nic_addr, wildcard_means_all_interfaces)
{
	struct sockaddr_storage a = v4("0.0.0.0"), b = v6("::");
	char name[IFNAMSIZ];

	cr_assert_eq(kst_nic_ifname_for_addr((struct sockaddr *)&a, name,
					     sizeof(name)),
		     0);
	cr_expect_str_eq(name, "*");
	cr_assert_eq(kst_nic_ifname_for_addr((struct sockaddr *)&b, name,
					     sizeof(name)),
		     0);
	cr_expect_str_eq(name, "*");
}

Test(nic_addr, loopback_addresses_are_on_the_loopback_device)
{
	static const char *const addrs[] = {"127.0.0.1", "127.0.0.53",
					    "::ffff:127.0.0.1"};
	char lo[IFNAMSIZ], name[IFNAMSIZ];

	kst_test_require(loopback_name(lo, sizeof(lo)),
			 "no interface carries 127.0.0.1 here");
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct sockaddr_storage ss =
			strchr(addrs[i], ':') ? v6(addrs[i]) : v4(addrs[i]);

		cr_assert_eq(kst_nic_ifname_for_addr((struct sockaddr *)&ss,
						     name, sizeof(name)),
			     0, "%s", addrs[i]);
		cr_expect_str_eq(name, lo, "%s", addrs[i]);
	}
}

Test(nic_addr, address_nobody_has_is_not_available)
{
	struct sockaddr_storage a = v4("192.0.2.77"), b = v6("2001:db8::77");
	char name[IFNAMSIZ];

	cr_expect_eq(kst_nic_ifname_for_addr((struct sockaddr *)&a, name,
					     sizeof(name)),
		     -EADDRNOTAVAIL);
	cr_expect_eq(kst_nic_ifname_for_addr((struct sockaddr *)&b, name,
					     sizeof(name)),
		     -EADDRNOTAVAIL);
}

Test(nic_addr, rejects_other_families_and_small_buffers)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct sockaddr_storage a = v4("0.0.0.0");
	char name[1];

	cr_expect_eq(kst_nic_ifname_for_addr((struct sockaddr *)&un, name,
					     sizeof(name)),
		     -EAFNOSUPPORT);
	cr_expect_eq(kst_nic_ifname_for_addr((struct sockaddr *)&a, name,
					     sizeof(name)),
		     -ENOSPC);
}
