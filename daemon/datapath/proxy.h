/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol headers (haproxy's proxy-protocol.txt), written to the
 * backend before the first relayed byte when a listener has
 * `proxy-protocol = v1|v2`. The encoder is pure: the caller passes the
 * connection's addresses and TLS facts and a buffer; nothing is allocated
 * and no socket is touched. A decoder exists only on the test side
 * (tests/lib/proxyparse.h).
 */
#ifndef KST_PROXY_H
#define KST_PROXY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Longest v1 line the spec allows, CRLF included (no NUL is written). */
#define KST_PROXY_V1_MAX 107
/* Fixed part of a v2 header: signature, version/command, family, length. */
#define KST_PROXY_V2_HDR 16
/* A buffer this large always holds a v2 header of one connection: two IPv6
 * endpoints, ALPN and SNI of at most 255 bytes each, version and cipher. */
#define KST_PROXY_V2_TYPICAL_MAX 1024

/* Version/command byte (high nibble version 2) and family/transport byte. */
#define KST_PP2_CMD_LOCAL  0x20
#define KST_PP2_CMD_PROXY  0x21
#define KST_PP2_FAM_UNSPEC 0x00
#define KST_PP2_FAM_TCP4   0x11
#define KST_PP2_FAM_TCP6   0x21

/* TLV types and the SSL TLV's client bits and sub-types. */
#define KST_PP2_TYPE_ALPN	    0x01
#define KST_PP2_TYPE_AUTHORITY	    0x02
#define KST_PP2_TYPE_CRC32C	    0x03
#define KST_PP2_TYPE_NOOP	    0x04
#define KST_PP2_TYPE_UNIQUE_ID	    0x05
#define KST_PP2_TYPE_SSL	    0x20
#define KST_PP2_SUBTYPE_SSL_VERSION 0x21
#define KST_PP2_SUBTYPE_SSL_CN	    0x22
#define KST_PP2_SUBTYPE_SSL_CIPHER  0x23
#define KST_PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define KST_PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define KST_PP2_TYPE_NETNS	    0x30
#define KST_PP2_CLIENT_SSL	    0x01
#define KST_PP2_CLIENT_CERT_CONN    0x02
#define KST_PP2_CLIENT_CERT_SESS    0x04

/* The 12-byte v2 signature. */
extern const unsigned char kst_proxy_v2_sig[12];

struct kst_proxy_info {
	const struct sockaddr *src; /* client address (peer of the TLS side) */
	const struct sockaddr *dst; /* our local address it connected to */
	const char *alpn;	    /* negotiated ALPN (not NUL-terminated) */
	size_t alpn_len;	    /* or NULL/0: no ALPN TLV */
	const char *sni;	    /* server name the client sent, or NULL */
	const char *tls_version;    /* "TLSv1.3" (SSL_get_version) or NULL */
	const char *cipher;	    /* "TLS_AES_128_GCM_SHA256" or NULL */
};

/*
 * Addresses: an IPv4-mapped IPv6 address counts as IPv4, so both ends
 * mapped give TCP4; one IPv4 and one IPv6 end give TCP6 with the IPv4 one
 * mapped. An end that is NULL or not IP (AF_UNIX) makes the header
 * "unknown": v1 writes "PROXY UNKNOWN\r\n", v2 the LOCAL command with the
 * UNSPEC family (the receiver uses the connection's own endpoints).
 *
 * kst_proxy_v1 ignores the TLS fields. kst_proxy_v2 appends TLVs in this
 * order, each only when given (NULL, or an empty string, omits it):
 * ALPN, AUTHORITY (= SNI, when it is a host name by RFC 6066: an IP
 * literal or a malformed name is left out), SSL { client =
 * PP2_CLIENT_SSL, verify = 1 (no client certificate verified), sub-TLVs
 * SSL_VERSION, SSL_CIPHER }; the SSL TLV is present when tls_version or
 * cipher is.
 *
 * Both return the header length written to buf, or -EINVAL (pi NULL),
 * -ENOSPC (buf shorter than the header; nothing past len is written),
 * -EMSGSIZE (v2: TLVs longer than the 16-bit length field allows).
 * Neither returns -EAFNOSUPPORT: a family they cannot carry is "unknown".
 */
ssize_t kst_proxy_v1(const struct kst_proxy_info *pi, char *buf, size_t len);
ssize_t kst_proxy_v2(const struct kst_proxy_info *pi, unsigned char *buf,
		     size_t len);

#endif
