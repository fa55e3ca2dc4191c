// SPDX-License-Identifier: MIT
/*
 * I/O half of the NIC module: ethtool generic netlink requests through
 * libnl-genl-3 (string set, features get/dump, features set). Replies are
 * read by the pure parsers in nic_parse.c.
 *
 * Every request is one transaction: send, then read until the kernel's ACK
 * (a single reply), NLMSG_DONE (a dump) or an error message. Auto-ACK stays
 * on so a single-device request ends on a message of its own, and a
 * transaction matches replies by its own sequence number, so a late reply
 * to an earlier request that gave up is skipped instead of poisoning the
 * socket. The kernel answers within sendmsg() (generic netlink runs the
 * handler in the caller's context), so the receive timeout only guards
 * against the unexpected.
 *
 * libnl's error codes (-NLE_*) lose the kernel's errno, so the error
 * callback keeps the errno from the NLMSG_ERROR itself; only transport
 * failures are translated from libnl codes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "ktls/nic.h"

/* How long one read may wait for a kernel reply that is already queued. */
#define KST_NIC_RCVTIMEO_S 5
/* A dump the kernel marks interrupted is read again this often. */
#define KST_NIC_DUMP_TRIES 3

struct kst_nic {
	struct nl_sock *sk;
	int family;
	struct kst_nic_strset names;
};

/* One request and what its replies produced. */
struct nic_txn {
	uint32_t seq;
	int (*parse)(const struct nlmsghdr *nlh, void *arg);
	void *arg;
	int err;
	bool done, intr;
};

/* Devices collected from feature replies. */
struct nic_list {
	const struct kst_nic_strset *names;
	struct kst_nic_info *infos;
	size_t count, cap;
};

struct nic_refused {
	const struct kst_nic_strset *names;
	unsigned int bits;
};

static int nic_errno(int nlerr);
static struct nl_msg *nic_msg_new(struct kst_nic *n, int flags, int cmd);
static int nic_put_header(struct nl_msg *msg, const char *ifname,
			  uint32_t flags);
static int nic_transact(struct kst_nic *n, struct nl_msg *msg,
			int (*parse)(const struct nlmsghdr *, void *),
			void *arg, bool *intr);
static int nic_load_strset(struct kst_nic *n);
static int nic_features_get(struct kst_nic *n, const char *ifname,
			    struct nic_list *list, bool *intr);
static int nic_features_set(struct kst_nic *n, const char *ifname,
			    unsigned int want, unsigned int *refused);

/* libnl transport errors to errno; kernel errnos never pass here. */
static int nic_errno(int nlerr)
{
	static const struct {
		int nle, err;
	} map[] = {
		{NLE_INTR, EINTR},
		{NLE_BAD_SOCK, EBADF},
		{NLE_AGAIN, ETIMEDOUT},
		{NLE_NOMEM, ENOMEM},
		{NLE_INVAL, EINVAL},
		{NLE_MSGSIZE, EMSGSIZE},
		{NLE_OPNOTSUPP, EOPNOTSUPP},
		{NLE_AF_NOSUPPORT, EAFNOSUPPORT},
		{NLE_OBJ_NOTFOUND, ENOENT},
		{NLE_MSG_TRUNC, EMSGSIZE},
		{NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
		{NLE_NOACCESS, EACCES},
		{NLE_PERM, EPERM},
		{NLE_NODEV, ENODEV},
		{NLE_BUSY, EBUSY},
		{NLE_RANGE, ERANGE},
	};
	int nle = nlerr < 0 ? -nlerr : nlerr;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].nle == nle)
			return -map[i].err;
	return -EIO;
}

static int nic_seq_cb(struct nl_msg *msg, void *arg)
{
	struct nic_txn *txn = arg;

	return nlmsg_hdr(msg)->nlmsg_seq == txn->seq ? NL_OK : NL_SKIP;
}

static int nic_valid_cb(struct nl_msg *msg, void *arg)
{
	struct nic_txn *txn = arg;
	int err;

	/*
	 * After a bad message the rest is ignored; what the loop leaves
	 * unread carries this sequence number and a later request skips it.
	 */
	if (txn->err)
		return NL_SKIP;
	err = txn->parse(nlmsg_hdr(msg), txn->arg);
	if (err)
		txn->err = err;
	return NL_OK;
}

static int nic_done_cb(struct nl_msg *msg, void *arg)
{
	struct nic_txn *txn = arg;

	(void)msg;
	txn->done = true;
	return NL_STOP;
}

static int nic_intr_cb(struct nl_msg *msg, void *arg)
{
	struct nic_txn *txn = arg;

	(void)msg;
	txn->intr = true;
	return NL_OK;
}

static int nic_err_cb(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nic_txn *txn = arg;

	(void)who;
	txn->done = true;
	if (!txn->err)
		txn->err = e->error < 0 ? e->error : -EPROTO;
	return NL_STOP;
}

static struct nl_cb *nic_cb_new(struct nic_txn *txn)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);

	if (!cb)
		return NULL;
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, nic_seq_cb, txn);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nic_valid_cb, txn);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, nic_done_cb, txn);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, nic_done_cb, txn);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, nic_intr_cb, txn);
	nl_cb_err(cb, NL_CB_CUSTOM, nic_err_cb, txn);
	return cb;
}

/* Sends msg (consumed) and reads until the transaction ends. */
static int nic_transact(struct kst_nic *n, struct nl_msg *msg,
			int (*parse)(const struct nlmsghdr *, void *),
			void *arg, bool *intr)
{
	struct nic_txn txn = {.parse = parse, .arg = arg};
	struct nl_cb *cb = nic_cb_new(&txn);
	int r;

	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	r = nl_send_auto(n->sk, msg);
	txn.seq = nlmsg_hdr(msg)->nlmsg_seq;
	nlmsg_free(msg);
	if (r < 0)
		txn.err = nic_errno(r);
	while (!txn.err && !txn.done) {
		r = nl_recvmsgs(n->sk, cb);
		if (r < 0 && !txn.done)
			txn.err = nic_errno(r);
	}
	nl_cb_put(cb);
	if (intr)
		*intr = txn.intr;
	return txn.err;
}

static struct nl_msg *nic_msg_new(struct kst_nic *n, int flags, int cmd)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, n->family, 0, flags,
			 cmd, ETHTOOL_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * The request header: the device (none for a dump or a global string set)
 * and flags. The kernel wants the nest even without a device, and libnl
 * drops an empty nest, so the flags are always there, even when 0.
 */
static int nic_put_header(struct nl_msg *msg, const char *ifname,
			  uint32_t flags)
{
	/* Every ethtool request has its header at attribute 1. */
	struct nlattr *hdr = nla_nest_start(msg, ETHTOOL_A_FEATURES_HEADER);

	if (!hdr)
		return -EMSGSIZE;
	if (ifname && nla_put_string(msg, ETHTOOL_A_HEADER_DEV_NAME, ifname))
		return -EMSGSIZE;
	if (nla_put_u32(msg, ETHTOOL_A_HEADER_FLAGS, flags))
		return -EMSGSIZE;
	nla_nest_end(msg, hdr);
	return 0;
}

static int nic_strset_parse(const struct nlmsghdr *nlh, void *arg)
{
	return kst_nic_parse_strset(nlh, arg);
}

static int nic_load_strset(struct kst_nic *n)
{
	struct nl_msg *msg = nic_msg_new(n, 0, ETHTOOL_MSG_STRSET_GET);
	struct kst_nic_strset ns = {.index = {-1, -1, -1}};
	struct nlattr *sets, *set;
	int err;

	if (!msg)
		return -ENOMEM;
	err = nic_put_header(msg, NULL, 0);
	sets = err ? NULL : nla_nest_start(msg, ETHTOOL_A_STRSET_STRINGSETS);
	set = sets ? nla_nest_start(msg, ETHTOOL_A_STRINGSETS_STRINGSET) : NULL;
	if (!set || nla_put_u32(msg, ETHTOOL_A_STRINGSET_ID, ETH_SS_FEATURES)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, set);
	nla_nest_end(msg, sets);
	err = nic_transact(n, msg, nic_strset_parse, &ns, NULL);
	/* A bare ACK would leave the set empty: no feature has a place. */
	if (!err && !ns.count)
		err = -EPROTO;
	if (!err)
		n->names = ns;
	return err;
}

static int nic_list_add(const struct nlmsghdr *nlh, void *arg)
{
	struct nic_list *list = arg;
	struct kst_nic_info ni;
	int err = kst_nic_parse_features(nlh, list->names, &ni);

	if (err)
		return err;
	if (list->count == list->cap) {
		size_t cap = list->cap ? 2 * list->cap : 16;
		struct kst_nic_info *p =
			reallocarray(list->infos, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		list->infos = p;
		list->cap = cap;
	}
	list->infos[list->count++] = ni;
	return 0;
}

/* One device (ifname) or, with ifname NULL, a dump of all of them. */
static int nic_features_get(struct kst_nic *n, const char *ifname,
			    struct nic_list *list, bool *intr)
{
	struct nl_msg *msg = nic_msg_new(n, ifname ? 0 : NLM_F_DUMP,
					 ETHTOOL_MSG_FEATURES_GET);
	int err;

	if (!msg)
		return -ENOMEM;
	/* Compact bitsets: a reply of a few hundred bytes, not a nest per bit.
	 */
	err = nic_put_header(msg, ifname, ETHTOOL_FLAG_COMPACT_BITSETS);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return nic_transact(n, msg, nic_list_add, list, intr);
}

static int nic_refused_parse(const struct nlmsghdr *nlh, void *arg)
{
	struct nic_refused *r = arg;

	return kst_nic_parse_refused(nlh, r->names, &r->bits);
}

/* The wanted bitset as a list with a mask: only the listed bits change. */
static int nic_put_wanted(struct nl_msg *msg, unsigned int want)
{
	struct nlattr *set = nla_nest_start(msg, ETHTOOL_A_FEATURES_WANTED);
	struct nlattr *bits =
		set ? nla_nest_start(msg, ETHTOOL_A_BITSET_BITS) : NULL;

	if (!bits)
		return -EMSGSIZE;
	for (int f = 0; f < KST_NIC_NFEAT; f++) {
		struct nlattr *bit;

		if (!(want & KST_NIC_BIT(f)))
			continue;
		bit = nla_nest_start(msg, ETHTOOL_A_BITSET_BITS_BIT);
		if (!bit ||
		    nla_put_string(msg, ETHTOOL_A_BITSET_BIT_NAME,
				   kst_nic_feat_name(f)) ||
		    nla_put_flag(msg, ETHTOOL_A_BITSET_BIT_VALUE))
			return -EMSGSIZE;
		nla_nest_end(msg, bit);
	}
	nla_nest_end(msg, bits);
	nla_nest_end(msg, set);
	return 0;
}

static int nic_features_set(struct kst_nic *n, const char *ifname,
			    unsigned int want, unsigned int *refused)
{
	struct nl_msg *msg = nic_msg_new(n, 0, ETHTOOL_MSG_FEATURES_SET);
	struct nic_refused r = {.names = &n->names};
	int err;

	if (!msg)
		return -ENOMEM;
	err = nic_put_header(msg, ifname, ETHTOOL_FLAG_COMPACT_BITSETS);
	if (!err)
		err = nic_put_wanted(msg, want);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	err = nic_transact(n, msg, nic_refused_parse, &r, NULL);
	*refused = r.bits & want;
	return err;
}

int kst_nic_open(struct kst_nic **out)
{
	struct timeval tv = {.tv_sec = KST_NIC_RCVTIMEO_S};
	struct kst_nic *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return -ENOMEM;
	n->sk = nl_socket_alloc();
	if (!n->sk) {
		err = -ENOMEM;
		goto error;
	}
	err = genl_connect(n->sk);
	if (err < 0) {
		err = nic_errno(err);
		goto error;
	}
	if (setsockopt(nl_socket_get_fd(n->sk), SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) < 0) {
		err = -errno;
		goto error;
	}
	n->family = genl_ctrl_resolve(n->sk, ETHTOOL_GENL_NAME);
	if (n->family < 0) {
		/* NLE_OBJ_NOTFOUND: no such family, hence -ENOENT. */
		err = nic_errno(n->family);
		goto error;
	}
	err = nic_load_strset(n);
	if (err)
		goto error;
	*out = n;
	return 0;
error:
	kst_nic_close(n);
	return err;
}

void kst_nic_close(struct kst_nic *n)
{
	if (!n)
		return;
	nl_socket_free(n->sk);
	free(n);
}

const struct kst_nic_strset *kst_nic_get0_strset(const struct kst_nic *n)
{
	return &n->names;
}

int kst_nic_query(struct kst_nic *n, const char *ifname,
		  struct kst_nic_info *out)
{
	struct nic_list list = {.names = &n->names};
	int err;

	if (!ifname || !*ifname)
		return -EINVAL;
	/* No device can have a longer name; the kernel would say ENODEV. */
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENODEV;
	err = nic_features_get(n, ifname, &list, NULL);
	if (!err && list.count != 1)
		err = -EPROTO;
	if (!err)
		*out = list.infos[0];
	free(list.infos);
	return err;
}

int kst_nic_query_all(struct kst_nic *n, struct kst_nic_info **out,
		      size_t *count)
{
	struct nic_list list = {.names = &n->names};
	bool intr = true;
	int err = 0;

	for (int i = 0; i < KST_NIC_DUMP_TRIES && !err && intr; i++) {
		list.count = 0;
		err = nic_features_get(n, NULL, &list, &intr);
	}
	if (!err && intr)
		err = -EAGAIN;
	if (err || !list.count) {
		free(list.infos);
		list.infos = NULL;
		list.count = 0;
	}
	*out = list.infos;
	*count = list.count;
	return err;
}

int kst_nic_enable(struct kst_nic *n, const char *ifname, bool tx, bool rx,
		   struct kst_nic_info *after)
{
	unsigned int want = (tx ? KST_NIC_BIT(KST_NIC_TLS_TX) : 0) |
			    (rx ? KST_NIC_BIT(KST_NIC_TLS_RX) : 0);
	unsigned int refused = 0;
	struct kst_nic_info now;
	int err;

	if (!ifname || !*ifname)
		return -EINVAL;
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENODEV;
	if (want) {
		err = nic_features_set(n, ifname, want, &refused);
		if (err)
			return err;
	}
	/* The reply says what was refused; the re-read, what is on now. */
	err = kst_nic_query(n, ifname, &now);
	if (err)
		return err;
	if (tx && !now.tls_tx.active)
		refused |= KST_NIC_BIT(KST_NIC_TLS_TX);
	if (rx && !now.tls_rx.active)
		refused |= KST_NIC_BIT(KST_NIC_TLS_RX);
	if (after)
		*after = now;
	return refused ? -EOPNOTSUPP : 0;
}
