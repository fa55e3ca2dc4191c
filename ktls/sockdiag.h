/* SPDX-License-Identifier: MIT */
/*
 * Per-connection kTLS reporting through NETLINK_SOCK_DIAG: which record
 * layer a TCP socket really runs on, as the kernel sees it (software kTLS,
 * the NIC, or not at all). OpenSSL's BIO_get_ktls_send() says only that
 * kTLS was installed; a device that cannot offload a given connection
 * falls back to software silently, and only this tells the two apart.
 *
 * The kernel answers an inet_diag request for one socket (its 4-tuple and
 * SO_COOKIE) with INET_DIAG_ULP_INFO when the socket has an upper-layer
 * protocol: INET_ULP_INFO_NAME ("tls") and INET_ULP_INFO_TLS with the TLS
 * version, cipher and each direction's configuration. This needs the
 * inet_diag and tcp_diag modules, not CAP_NET_ADMIN.
 *
 * The parser and formatting (sockdiag_parse.c) are pure; sockdiag.c does
 * the I/O. A handle is one netlink socket: open one per worker thread and
 * reuse it.
 */
#ifndef KST_SOCKDIAG_H
#define KST_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* TLS_CONF_* of <linux/tls.h>, plus 0 for "no TLS ULP or unknown". */
enum kst_tls_conf {
	KST_TLS_CONF_NONE = 0,	    /* no tls ULP, or a value we don't know */
	KST_TLS_CONF_BASE = 1,	    /* tls ULP, this direction not installed */
	KST_TLS_CONF_SW = 2,	    /* kernel software crypto */
	KST_TLS_CONF_HW = 3,	    /* NIC crypto offload */
	KST_TLS_CONF_HW_RECORD = 4, /* NIC runs the whole record layer */
};

struct kst_sockdiag_tls {
	char ulp[16];	  /* the ULP's name, "" when the socket has none */
	bool ulp_tls;	  /* ulp is "tls" */
	uint16_t version; /* TLS_1_2_VERSION (0x0303), ...; 0 unknown */
	uint16_t cipher;  /* TLS_CIPHER_AES_GCM_128 (51), ...; 0 unknown */
	enum kst_tls_conf tx, rx;
	bool zc_ro_tx;	/* TLS_TX_ZEROCOPY_RO set (kernel 6.0+) */
	bool rx_no_pad; /* TLS_RX_EXPECT_NO_PAD set (kernel 6.0+) */
};

/* ss(8)'s words: "none", "sw", "hw", "hw-record"; "n/a" for NONE. */
const char *kst_tls_conf_name(enum kst_tls_conf conf);
/* Either direction on the NIC (HW or HW_RECORD). */
bool kst_sockdiag_on_device(const struct kst_sockdiag_tls *t);
/*
 * One line for logs, ss(8)'s words: "tls 1.3 aes-gcm-256 tx sw rx none",
 * "tls tx none rx none" (ULP attached, no keys yet), "ulp mptcp, no tls",
 * "no tls ulp"; 0, or -ENOSPC when truncated.
 */
int kst_sockdiag_format(const struct kst_sockdiag_tls *t, char *buf,
			size_t len);

/*
 * PURE: parse one reply message (nlmsghdr first, len bytes). 0 with out
 * filled (a socket without a ULP is ulp_tls false, tx and rx NONE); the
 * kernel's -errno when the message is an NLMSG_ERROR (-ENOENT: no such
 * socket); -EBADMSG when it is malformed or not an inet_diag reply.
 * Attributes newer than this code are ignored.
 */
int kst_sockdiag_parse(const void *msg, size_t len,
		       struct kst_sockdiag_tls *out);

struct kst_sockdiag;

/*
 * Open a handle and check that the kernel can answer: -EPROTONOSUPPORT
 * when sock_diag, inet_diag or tcp_diag is missing (modules not loaded and
 * not loadable), other -errno otherwise.
 */
int kst_sockdiag_open(struct kst_sockdiag **out);
void kst_sockdiag_close(struct kst_sockdiag *sd);

/*
 * Query a connected TCP socket by fd (getsockname/getpeername give the
 * tuple, SO_COOKIE pins the very socket). -ENOTCONN when not connected,
 * -EPROTOTYPE when not TCP, -EAFNOSUPPORT when not IPv4/IPv6, -ENOENT when
 * the kernel no longer has it, other -errno.
 */
int kst_sockdiag_query_fd(struct kst_sockdiag *sd, int fd,
			  struct kst_sockdiag_tls *out);
/*
 * Query a TCP socket by its local and peer addresses (same family; an
 * IPv4-mapped pair finds the IPv4 socket). cookie is SO_COOKIE, or 0 for
 * whatever socket has the tuple now.
 */
int kst_sockdiag_query_tuple(struct kst_sockdiag *sd,
			     const struct sockaddr *local,
			     const struct sockaddr *peer, uint64_t cookie,
			     struct kst_sockdiag_tls *out);

#endif
