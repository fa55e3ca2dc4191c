/* SPDX-License-Identifier: MIT */
/*
 * NIC TLS offload awareness: which network devices can run the kTLS record
 * layer themselves, read through ethtool netlink (generic netlink family
 * "ethtool", kernel 5.6+) with libnl-genl-3. The kernel names its feature
 * bits only by string (ETH_SS_FEATURES); their indices move between
 * kernels, so every handle resolves "tls-hw-tx-offload",
 * "tls-hw-rx-offload" and "tls-hw-record" by name once, when it opens.
 *
 * Reading features needs no privilege; changing them needs CAP_NET_ADMIN.
 * The parsers and formatting (nic_parse.c) are pure, a netlink message in
 * and a struct out, so they are tested with canned kernel replies; nic.c
 * does the netlink I/O, nic_addr.c the address-to-interface lookup.
 *
 * A handle is one netlink socket: use it from one thread at a time.
 */
#ifndef KST_NIC_H
#define KST_NIC_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct nlmsghdr;

/* The three TLS features, in the order of their names below. */
enum kst_nic_feat {
	KST_NIC_TLS_TX = 0,	/* "tls-hw-tx-offload" */
	KST_NIC_TLS_RX = 1,	/* "tls-hw-rx-offload" */
	KST_NIC_TLS_RECORD = 2, /* "tls-hw-record" */
	KST_NIC_NFEAT = 3,
};
/* Bit for one feature in a mask: KST_NIC_BIT(KST_NIC_TLS_TX). */
#define KST_NIC_BIT(feat) (1u << (feat))

/*
 * One feature as ethtool -k shows it. available: the device may switch it
 * (in hw_features, ethtool's "available" set); active: on now; requested:
 * the administrator asked for it (wanted_features); fixed: it can never
 * change, shown by ethtool as "[fixed]" (not available, or in the
 * kernel's never-change set).
 */
struct kst_nic_feature {
	bool available, active, requested, fixed;
};

struct kst_nic_info {
	char ifname[IFNAMSIZ];
	int ifindex;
	struct kst_nic_feature tls_tx, tls_rx, tls_record;
};

/*
 * Where the three features sit in the kernel's feature bitmap (-1 when the
 * kernel does not know the name), and how many bits the bitmap has.
 */
struct kst_nic_strset {
	unsigned int count;
	int index[KST_NIC_NFEAT];
};

/* Can this device run TLS at all: any TLS feature available or on? */
bool kst_nic_any_tls(const struct kst_nic_info *ni);
/* "tls-hw-tx-offload", ...; NULL for a value out of range. */
const char *kst_nic_feat_name(enum kst_nic_feat feat);
/* The feature struct for one enum value inside ni (NULL out of range). */
const struct kst_nic_feature *
kst_nic_get0_feature(const struct kst_nic_info *ni, enum kst_nic_feat feat);

/*
 * One line for logs, ethtool's words:
 * "eth0: tls-hw-tx-offload on, tls-hw-rx-offload off [fixed],
 * tls-hw-record off [requested on]". 0, or -ENOSPC when truncated (buf
 * still holds a terminated prefix).
 */
int kst_nic_format(const struct kst_nic_info *ni, char *buf, size_t len);

/*
 * Pure parsers of one ethtool generic netlink message (nlmsghdr, genl
 * header, attributes). 0, or -EBADMSG when the message is not the expected
 * reply or is malformed.
 *
 * kst_nic_parse_strset: an ETHTOOL_MSG_STRSET_GET_REPLY carrying the
 * ETH_SS_FEATURES string set; fills names.
 */
int kst_nic_parse_strset(const struct nlmsghdr *nlh,
			 struct kst_nic_strset *names);
/*
 * kst_nic_parse_features: an ETHTOOL_MSG_FEATURES_GET_REPLY (or _NTF), with
 * bitsets in compact form (needs names: -EINVAL without) or in bit-list
 * form (carries the names itself; names may then be NULL).
 */
int kst_nic_parse_features(const struct nlmsghdr *nlh,
			   const struct kst_nic_strset *names,
			   struct kst_nic_info *out);
/*
 * kst_nic_parse_refused: an ETHTOOL_MSG_FEATURES_SET_REPLY; *refused gets
 * KST_NIC_BIT()s of the TLS features whose request the device did not
 * honour (the kernel's "wanted" difference).
 */
int kst_nic_parse_refused(const struct nlmsghdr *nlh,
			  const struct kst_nic_strset *names,
			  unsigned int *refused);

struct kst_nic;

/*
 * Open a handle: a generic netlink socket, the ethtool family resolved and
 * the feature names fetched. -ENOENT when the kernel has no ethtool netlink
 * family (kernel < 5.6 or CONFIG_ETHTOOL_NETLINK off), -EPROTONOSUPPORT
 * when it has no generic netlink at all, other -errno otherwise. Needs no
 * privilege.
 */
int kst_nic_open(struct kst_nic **out);
void kst_nic_close(struct kst_nic *n);
/* The feature-name positions this handle resolved. */
const struct kst_nic_strset *kst_nic_get0_strset(const struct kst_nic *n);

/* One device by name. -ENODEV when it does not exist (any more). */
int kst_nic_query(struct kst_nic *n, const char *ifname,
		  struct kst_nic_info *out);
/*
 * Every device of the handle's network namespace, in ifindex order, in a
 * malloc'd array the caller frees (*out is NULL when *count is 0). A dump
 * the kernel marks interrupted (devices changing meanwhile) is retried,
 * three times in all, then -EAGAIN.
 */
int kst_nic_query_all(struct kst_nic *n, struct kst_nic_info **out,
		      size_t *count);
/*
 * Ask the device to switch TLS TX and/or RX offload on, then re-read its
 * features into after (when not NULL). 0 when everything asked for is on;
 * -EOPNOTSUPP when the device refused some of it (after says what it did),
 * -EPERM without CAP_NET_ADMIN, -ENODEV, other -errno.
 */
int kst_nic_enable(struct kst_nic *n, const char *ifname, bool tx, bool rx,
		   struct kst_nic_info *after);

/*
 * Which interface carries a local address, for `kstapled -t` ("0.0.0.0:443
 * -> all interfaces", "127.0.0.1 -> lo"). A wildcard address gives "*".
 * An IPv4-mapped IPv6 address is looked up as IPv4; any other 127/8
 * address is on the loopback device. 0, -EADDRNOTAVAIL when no interface
 * has it, -EAFNOSUPPORT, -ENOSPC when len is too small.
 */
int kst_nic_ifname_for_addr(const struct sockaddr *sa, char *ifname,
			    size_t len);

#endif
