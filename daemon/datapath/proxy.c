// SPDX-License-Identifier: MIT
/*
 * PROXY protocol v1 and v2 encoding (see proxy.h for the contract). The
 * two ends are first normalised into one family, because a header carries
 * a single one: the v4-in-v6 form a dual-stack socket reports is unwrapped,
 * and a mixed pair is written as IPv6. The v2 writer never writes past the
 * caller's buffer; it keeps counting so that the total length is known even
 * when the buffer is short, and -ENOSPC is decided once at the end.
 */
#include "daemon/datapath/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/tls/sni.h"

struct proxy_ep {
	int family; /* AF_INET, AF_INET6, or 0 when not IP */
	unsigned char addr[16];
	uint16_t port; /* host order */
};

struct proxy_out {
	unsigned char *buf;
	size_t len; /* capacity */
	size_t pos; /* bytes the header needs so far (may exceed len) */
};

static void proxy_ep_get(const struct sockaddr *sa, struct proxy_ep *ep);
static void proxy_ep_map6(struct proxy_ep *ep);
static int proxy_pair(const struct kst_proxy_info *pi, struct proxy_ep *src,
		      struct proxy_ep *dst);
static void proxy_put(struct proxy_out *o, const void *p, size_t n);
static void proxy_put_u8(struct proxy_out *o, unsigned int v);
static void proxy_put_u16(struct proxy_out *o, size_t v);
static void proxy_put_tlv(struct proxy_out *o, unsigned int type, const void *v,
			  size_t n);
static void proxy_put_addrs(struct proxy_out *o, int family,
			    const struct proxy_ep *src,
			    const struct proxy_ep *dst);
static void proxy_put_tlvs(struct proxy_out *o,
			   const struct kst_proxy_info *pi);

const unsigned char kst_proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

static void proxy_ep_get(const struct sockaddr *sa, struct proxy_ep *ep)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	memset(ep, 0, sizeof(*ep));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		memcpy(&in, sa, sizeof(in));
		ep->family = AF_INET;
		memcpy(ep->addr, &in.sin_addr, 4);
		ep->port = ntohs(in.sin_port);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(&in6, sa, sizeof(in6));
		ep->port = ntohs(in6.sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
			ep->family = AF_INET;
			memcpy(ep->addr, &in6.sin6_addr.s6_addr[12], 4);
		} else {
			ep->family = AF_INET6;
			memcpy(ep->addr, &in6.sin6_addr, 16);
		}
	}
}

/* IPv4 a.b.c.d as ::ffff:a.b.c.d */
static void proxy_ep_map6(struct proxy_ep *ep)
{
	if (ep->family != AF_INET)
		return;
	memmove(ep->addr + 12, ep->addr, 4);
	memset(ep->addr, 0, 10);
	ep->addr[10] = 0xff;
	ep->addr[11] = 0xff;
	ep->family = AF_INET6;
}

/* The family both ends are written in, or 0 for "unknown". */
static int proxy_pair(const struct kst_proxy_info *pi, struct proxy_ep *src,
		      struct proxy_ep *dst)
{
	proxy_ep_get(pi->src, src);
	proxy_ep_get(pi->dst, dst);
	if (src->family == 0 || dst->family == 0)
		return 0;
	if (src->family == AF_INET && dst->family == AF_INET)
		return AF_INET;
	proxy_ep_map6(src);
	proxy_ep_map6(dst);
	return AF_INET6;
}

ssize_t kst_proxy_v1(const struct kst_proxy_info *pi, char *buf, size_t len)
{
	char line[KST_PROXY_V1_MAX + 1];
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	struct proxy_ep src, dst;
	int family, n;

	if (pi == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	family = proxy_pair(pi, &src, &dst);
	if (family == 0) {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else {
		inet_ntop(family, src.addr, s, sizeof(s));
		inet_ntop(family, dst.addr, d, sizeof(d));
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
			     family == AF_INET ? "TCP4" : "TCP6", s, d,
			     (unsigned int)src.port, (unsigned int)dst.port);
	}
	/* 104 bytes at most (two full IPv6 addresses), under the limit */
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	if ((size_t)n > len)
		return -ENOSPC;
	memcpy(buf, line, (size_t)n);
	return n;
}

static void proxy_put(struct proxy_out *o, const void *p, size_t n)
{
	if (o->pos <= o->len && n <= o->len - o->pos)
		memcpy(o->buf + o->pos, p, n);
	o->pos += n;
}

static void proxy_put_u8(struct proxy_out *o, unsigned int v)
{
	unsigned char b = (unsigned char)v;

	proxy_put(o, &b, 1);
}

/* Network order; a value over 0xffff is caught by the total length check. */
static void proxy_put_u16(struct proxy_out *o, size_t v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	proxy_put(o, b, 2);
}

static void proxy_put_tlv(struct proxy_out *o, unsigned int type, const void *v,
			  size_t n)
{
	proxy_put_u8(o, type);
	proxy_put_u16(o, n);
	proxy_put(o, v, n);
}

static void proxy_put_addrs(struct proxy_out *o, int family,
			    const struct proxy_ep *src,
			    const struct proxy_ep *dst)
{
	size_t alen = family == AF_INET ? 4 : 16;

	if (family == 0)
		return;
	proxy_put(o, src->addr, alen);
	proxy_put(o, dst->addr, alen);
	proxy_put_u16(o, src->port);
	proxy_put_u16(o, dst->port);
}

static void proxy_put_tlvs(struct proxy_out *o, const struct kst_proxy_info *pi)
{
	static const unsigned char verify[4] = {0, 0, 0, 1};
	size_t vlen = pi->tls_version ? strlen(pi->tls_version) : 0;
	size_t clen = pi->cipher ? strlen(pi->cipher) : 0;
	size_t sub = (vlen ? 3 + vlen : 0) + (clen ? 3 + clen : 0);

	if (pi->alpn != NULL && pi->alpn_len > 0)
		proxy_put_tlv(o, KST_PP2_TYPE_ALPN, pi->alpn, pi->alpn_len);
	/* only a host name: an IP literal (which RFC 6066 forbids and the
	 * handshake treats as no SNI) or anything else is not an authority */
	if (pi->sni != NULL && pi->sni[0] != '\0' &&
	    kst_sni_classify(pi->sni, strlen(pi->sni)) == KST_SNI_HOSTNAME)
		proxy_put_tlv(o, KST_PP2_TYPE_AUTHORITY, pi->sni,
			      strlen(pi->sni));
	if (sub == 0)
		return;
	proxy_put_u8(o, KST_PP2_TYPE_SSL);
	proxy_put_u16(o, 1 + sizeof(verify) + sub);
	proxy_put_u8(o, KST_PP2_CLIENT_SSL);
	proxy_put(o, verify, sizeof(verify));
	if (vlen)
		proxy_put_tlv(o, KST_PP2_SUBTYPE_SSL_VERSION, pi->tls_version,
			      vlen);
	if (clen)
		proxy_put_tlv(o, KST_PP2_SUBTYPE_SSL_CIPHER, pi->cipher, clen);
}

ssize_t kst_proxy_v2(const struct kst_proxy_info *pi, unsigned char *buf,
		     size_t len)
{
	struct proxy_out o = {buf, len, 0};
	struct proxy_ep src, dst;
	unsigned char fam;
	size_t body;
	int family;

	if (pi == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	family = proxy_pair(pi, &src, &dst);
	fam = family == AF_INET	   ? KST_PP2_FAM_TCP4
	      : family == AF_INET6 ? KST_PP2_FAM_TCP6
				   : KST_PP2_FAM_UNSPEC;
	proxy_put(&o, kst_proxy_v2_sig, sizeof(kst_proxy_v2_sig));
	proxy_put_u8(&o, family ? KST_PP2_CMD_PROXY : KST_PP2_CMD_LOCAL);
	proxy_put_u8(&o, fam);
	proxy_put_u16(&o, 0); /* the length, known at the end */
	proxy_put_addrs(&o, family, &src, &dst);
	proxy_put_tlvs(&o, pi);
	body = o.pos - KST_PROXY_V2_HDR;
	if (body > 0xffff)
		return -EMSGSIZE;
	if (o.pos > len)
		return -ENOSPC;
	buf[14] = (unsigned char)(body >> 8);
	buf[15] = (unsigned char)body;
	return (ssize_t)o.pos;
}
