// SPDX-License-Identifier: MIT
/*
 * PROXY protocol decoding; see proxyparse.h. Strict where the spec is
 * (v1: one space, no leading zeroes, CRLF within 107 bytes; v2: version 2,
 * known command and family, TLVs exactly filling the length), so that the
 * tools catch an encoder that is merely close.
 */
#include "tests/lib/proxyparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/datapath/proxy.h"
#include "daemon/base/util.h"

static int pp_v1(const char *b, size_t len, struct kst_pp_hdr *h);
static int pp_v2(const unsigned char *b, size_t len, struct kst_pp_hdr *h);

/* "1.2.3.4:5" or "[::1]:5" */
static void pp_endpoint(char *out, size_t size, int af, const char *addr,
			unsigned int port)
{
	if (af == AF_INET)
		snprintf(out, size, "%s:%u", addr, port);
	else
		snprintf(out, size, "[%s]:%u", addr, port);
}

/* v1: "PROXY " proto ' ' addr ' ' addr ' ' port ' ' port "\r\n" */
static bool pp_v1_port(const char *s, size_t n, unsigned int *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*port = (unsigned int)v;
	return v <= 65535;
}

/* Split the v1 line (without CRLF) into at most 6 space-separated words. */
static int pp_v1_words(const char *line, size_t n, const char *w[6],
		       size_t wl[6])
{
	int count = 0;
	size_t i = 0;

	while (i <= n && count < 6) {
		size_t j = i;

		while (j < n && line[j] != ' ')
			j++;
		w[count] = line + i;
		wl[count++] = j - i;
		i = j + 1;
	}
	return i <= n ? -1 : count; /* -1: more than 6 words */
}

static bool pp_v1_addr(int fam, const char *s, size_t n, unsigned int port,
		       char *out, size_t size)
{
	unsigned char a[16];
	char tmp[64];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(fam, tmp, a) != 1)
		return false;
	pp_endpoint(out, size, fam, tmp, port);
	return true;
}

static int pp_v1_fields(const char *line, size_t n, struct kst_pp_hdr *h)
{
	const char *w[6];
	size_t wl[6];
	unsigned int sp, dp;
	int count = pp_v1_words(line, n, w, wl), fam;

	if (count >= 2 && wl[1] == 7 && memcmp(w[1], "UNKNOWN", 7) == 0) {
		h->local = true; /* the rest of the line is to be ignored */
		return 0;
	}
	if (count != 6 || wl[1] != 4 || memcmp(w[1], "TCP", 3) != 0 ||
	    (w[1][3] != '4' && w[1][3] != '6'))
		return -EINVAL;
	fam = w[1][3] == '4' ? AF_INET : AF_INET6;
	h->fam = fam == AF_INET ? KST_PP2_FAM_TCP4 : KST_PP2_FAM_TCP6;
	if (!pp_v1_port(w[4], wl[4], &sp) || !pp_v1_port(w[5], wl[5], &dp))
		return -EINVAL;
	if (!pp_v1_addr(fam, w[2], wl[2], sp, h->src, sizeof(h->src)) ||
	    !pp_v1_addr(fam, w[3], wl[3], dp, h->dst, sizeof(h->dst)))
		return -EINVAL;
	return 0;
}

static int pp_v1(const char *b, size_t len, struct kst_pp_hdr *h)
{
	const char *cr;
	size_t n;

	if (memcmp(b, "PROXY ", KST_MIN(len, (size_t)6)) != 0)
		return -EINVAL;
	cr = memchr(b, '\r', KST_MIN(len, (size_t)KST_PROXY_V1_MAX));
	if (cr == NULL)
		return len >= KST_PROXY_V1_MAX ? -EINVAL : 0;
	n = (size_t)(cr - b);
	if (n + 1 >= len)
		return 0;
	if (cr[1] != '\n' || memchr(b, '\n', n) != NULL || n < 6)
		return -EINVAL;
	h->version = 1;
	if (pp_v1_fields(b, n, h) < 0)
		return -EINVAL;
	h->len = n + 2;
	return (int)h->len;
}

/* CRC-32C (Castagnoli), bitwise: headers are short. Start with ~0u,
 * finish with ~c. */
static uint32_t pp_crc32c(uint32_t c, const unsigned char *p, size_t n)
{
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
	}
	return c;
}

/* The checksum covers the whole header with its own field zeroed. */
static bool pp_crc32c_ok(const unsigned char *hdr, size_t len, size_t field)
{
	static const unsigned char zero[4];
	const unsigned char *v = hdr + field;
	uint32_t c = pp_crc32c(0xffffffffu, hdr, field);

	c = pp_crc32c(c, zero, 4);
	c = ~pp_crc32c(c, v + 4, len - field - 4);
	return c == ((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
		     (uint32_t)v[2] << 8 | v[3]);
}

static bool pp_str(char *dst, size_t size, const unsigned char *v, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

static int pp_v2_ssl(const unsigned char *v, size_t n, struct kst_pp_hdr *h)
{
	size_t i = 5;

	if (n < 5)
		return -EINVAL;
	h->has_ssl = true;
	h->ssl_client = v[0];
	h->ssl_verify = (uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 |
			(uint32_t)v[3] << 8 | v[4];
	while (i < n) {
		size_t l;
		bool ok = true;

		if (n - i < 3 ||
		    (l = (size_t)v[i + 1] << 8 | v[i + 2]) > n - i - 3)
			return -EINVAL;
		if (v[i] == KST_PP2_SUBTYPE_SSL_VERSION)
			ok = pp_str(h->ssl_version, sizeof(h->ssl_version),
				    v + i + 3, l);
		else if (v[i] == KST_PP2_SUBTYPE_SSL_CIPHER)
			ok = pp_str(h->ssl_cipher, sizeof(h->ssl_cipher),
				    v + i + 3, l);
		else if (v[i] == KST_PP2_SUBTYPE_SSL_CN)
			ok = pp_str(h->ssl_cn, sizeof(h->ssl_cn), v + i + 3, l);
		if (!ok)
			return -EINVAL;
		i += 3 + l;
	}
	return 0;
}

static int pp_v2_tlv(const unsigned char *hdr, size_t at, struct kst_pp_hdr *h)
{
	const unsigned char *v = hdr + at + 3;
	size_t n = (size_t)hdr[at + 1] << 8 | hdr[at + 2];

	switch (hdr[at]) {
	case KST_PP2_TYPE_ALPN:
		h->has_alpn = true;
		h->alpn_len = n;
		return pp_str(h->alpn, sizeof(h->alpn), v, n) ? 0 : -EINVAL;
	case KST_PP2_TYPE_AUTHORITY:
		h->has_authority = true;
		return pp_str(h->authority, sizeof(h->authority), v, n)
			       ? 0
			       : -EINVAL;
	case KST_PP2_TYPE_SSL:
		return pp_v2_ssl(v, n, h);
	case KST_PP2_TYPE_CRC32C:
		if (n != 4)
			return -EINVAL;
		h->has_crc32c = true;
		h->crc32c_ok = pp_crc32c_ok(hdr, h->len, at + 3);
		return 0;
	default:
		h->other_tlvs++;
		return 0;
	}
}

static size_t pp_v2_addr_len(unsigned int fam)
{
	switch (fam >> 4) {
	case 1:
		return 12;
	case 2:
		return 36;
	case 3:
		return 216;
	default:
		return 0;
	}
}

static void pp_v2_addrs(const unsigned char *a, struct kst_pp_hdr *h)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	unsigned int alen = (h->fam >> 4) == 1 ? 4 : 16;
	int af = (h->fam >> 4) == 1 ? AF_INET : AF_INET6;

	if ((h->fam >> 4) == 3) {
		snprintf(h->src, sizeof(h->src), "%.108s", (const char *)a);
		snprintf(h->dst, sizeof(h->dst), "%.108s",
			 (const char *)a + 108);
		return;
	}
	inet_ntop(af, a, s, sizeof(s));
	inet_ntop(af, a + alen, d, sizeof(d));
	pp_endpoint(h->src, sizeof(h->src), af, s,
		    (unsigned int)(a[2 * alen] << 8 | a[2 * alen + 1]));
	pp_endpoint(h->dst, sizeof(h->dst), af, d,
		    (unsigned int)(a[2 * alen + 2] << 8 | a[2 * alen + 3]));
}

static bool pp_v2_fam_ok(unsigned int fam)
{
	static const unsigned char ok[] = {0x00, 0x11, 0x12, 0x21,
					   0x22, 0x31, 0x32};

	return memchr(ok, (int)fam, sizeof(ok)) != NULL;
}

static int pp_v2(const unsigned char *b, size_t len, struct kst_pp_hdr *h)
{
	size_t body, alen, at;

	if (memcmp(b, kst_proxy_v2_sig, KST_MIN(len, (size_t)12)) != 0)
		return -EINVAL;
	if (len >= 13 && (b[12] >> 4 != 2 || (b[12] & 15) > 1))
		return -EINVAL;
	if (len >= 14 && !pp_v2_fam_ok(b[13]))
		return -EINVAL;
	if (len < KST_PROXY_V2_HDR)
		return 0;
	body = (size_t)b[14] << 8 | b[15];
	if (len < KST_PROXY_V2_HDR + body)
		return 0;
	h->version = 2;
	h->local = (b[12] & 15) == 0;
	h->fam = b[13];
	h->len = KST_PROXY_V2_HDR + body;
	alen = pp_v2_addr_len(h->fam);
	if (body < alen)
		return -EINVAL;
	if (alen > 0)
		pp_v2_addrs(b + KST_PROXY_V2_HDR, h);
	for (at = KST_PROXY_V2_HDR + alen; at < h->len;) {
		size_t n;

		if (h->len - at < 3 ||
		    (n = (size_t)b[at + 1] << 8 | b[at + 2]) > h->len - at - 3)
			return -EINVAL;
		if (pp_v2_tlv(b, at, h) < 0)
			return -EINVAL;
		at += 3 + n;
	}
	return (int)h->len;
}

int kst_pp_parse(const void *buf, size_t len, struct kst_pp_hdr *h)
{
	const unsigned char *b = buf;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return 0;
	if (b[0] == 'P')
		return pp_v1(buf, len, h);
	if (b[0] == kst_proxy_v2_sig[0])
		return pp_v2(b, len, h);
	return -EINVAL;
}

int kst_pp_json_escape(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int w;

		if (c == '"' || c == '\\')
			w = snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			w = snprintf(out + o, size - o, "\\u%04x", c);
		else
			w = snprintf(out + o, size - o, "%c", c);
		if (w < 0 || (size_t)w >= size - o)
			return -ENOSPC;
		o += (size_t)w;
	}
	if (o >= size)
		return -ENOSPC;
	out[o] = '\0';
	return (int)o;
}

struct pp_json {
	char *out;
	size_t size, pos;
	int err;
};

static void pp_json_raw(struct pp_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pp_json_raw(struct pp_json *j, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (j->err)
		return;
	va_start(ap, fmt);
	w = vsnprintf(j->out + j->pos, j->size - j->pos, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= j->size - j->pos)
		j->err = -ENOSPC;
	else
		j->pos += (size_t)w;
}

static void pp_json_str(struct pp_json *j, const char *key, const char *s,
			size_t n)
{
	int w;

	pp_json_raw(j, ",\"%s\":\"", key);
	if (j->err)
		return;
	w = kst_pp_json_escape(s, n, j->out + j->pos, j->size - j->pos);
	if (w < 0) {
		j->err = w;
		return;
	}
	j->pos += (size_t)w;
	pp_json_raw(j, "\"");
}

static const char *pp_family_name(const struct kst_pp_hdr *h)
{
	switch (h->fam) {
	case 0x11:
		return "TCP4";
	case 0x12:
		return "UDP4";
	case 0x21:
		return "TCP6";
	case 0x22:
		return "UDP6";
	case 0x31:
		return "UNIX_STREAM";
	case 0x32:
		return "UNIX_DGRAM";
	default:
		return h->version == 1 ? "UNKNOWN" : "UNSPEC";
	}
}

int kst_pp_json(const struct kst_pp_hdr *h, char *out, size_t size)
{
	struct pp_json j = {out, size, 0, 0};
	const char *cmd =
		h->local ? (h->version == 1 ? "UNKNOWN" : "LOCAL") : "PROXY";

	pp_json_raw(&j, "{\"version\":%d", h->version);
	pp_json_str(&j, "command", cmd, strlen(cmd));
	pp_json_str(&j, "family", pp_family_name(h), strlen(pp_family_name(h)));
	if (h->src[0])
		pp_json_str(&j, "src", h->src, strlen(h->src));
	if (h->dst[0])
		pp_json_str(&j, "dst", h->dst, strlen(h->dst));
	if (h->has_alpn)
		pp_json_str(&j, "alpn", h->alpn, h->alpn_len);
	if (h->has_authority)
		pp_json_str(&j, "authority", h->authority,
			    strlen(h->authority));
	if (h->has_ssl) {
		pp_json_raw(&j, ",\"ssl_client\":%u,\"ssl_verify\":%lu",
			    h->ssl_client, (unsigned long)h->ssl_verify);
	}
	if (h->ssl_version[0])
		pp_json_str(&j, "ssl_version", h->ssl_version,
			    strlen(h->ssl_version));
	if (h->ssl_cipher[0])
		pp_json_str(&j, "ssl_cipher", h->ssl_cipher,
			    strlen(h->ssl_cipher));
	if (h->ssl_cn[0])
		pp_json_str(&j, "ssl_cn", h->ssl_cn, strlen(h->ssl_cn));
	if (h->has_crc32c)
		pp_json_str(&j, "crc32c", h->crc32c_ok ? "ok" : "bad",
			    h->crc32c_ok ? 2 : 3);
	pp_json_raw(&j, "}");
	return j.err ? j.err : (int)j.pos;
}
