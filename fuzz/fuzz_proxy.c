// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the PROXY protocol encoder (daemon/datapath/proxy.c). The input
 * describes what a connection hands the encoder (two socket addresses of
 * any family, ALPN, SNI, TLS version and cipher strings, the caller's
 * buffer size); both versions are encoded into a buffer of exactly that
 * size (so ASan sees one byte too far) and the result is read back with
 * the test suite's independent parser (tests/lib/proxyparse.c). Asserted:
 * the header parses, is as long as the encoder said, and carries the same
 * addresses and TLVs (AUTHORITY only for an SNI that is a host name); a
 * short buffer gives -ENOSPC and a bigger one then fits.
 *
 * Input: flags u8, src family u8, src addr[16], src port u16, dst family
 * u8, dst addr[16], dst port u16, buffer size u16, then four strings
 * (ALPN, SNI, version, cipher), each a u8 length and its bytes.
 */
#include "fuzz/fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "daemon/datapath/proxy.h"
#include "daemon/base/util.h"
#include "tests/lib/proxyparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_proxy_case {
	struct sockaddr_storage src, dst;
	bool has_src, has_dst;
	char alpn[256], sni[256], version[64], cipher[128];
	size_t alpn_len;
	size_t cap;
	struct kst_proxy_info pi;
};

/* One endpoint: AF_INET, AF_INET6 (maybe v4-mapped), AF_UNIX or none. */
static bool fuzz_proxy_addr(struct kst_fuzz_in *in, struct sockaddr_storage *ss)
{
	unsigned int fam = kst_fuzz_u8(in) % 4;
	size_t n;
	const uint8_t *a = kst_fuzz_bytes(in, 16, &n);
	uint16_t port = kst_fuzz_u16(in);
	unsigned char addr[16] = {0};

	memcpy(addr, a, n);
	memset(ss, 0, sizeof(*ss));
	if (fam == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons(port);
	} else if (fam == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		if (addr[0] & 1) { /* the dual-stack form of an IPv4 peer */
			memset(&sin6->sin6_addr, 0, 10);
			sin6->sin6_addr.s6_addr[10] = 0xff;
			sin6->sin6_addr.s6_addr[11] = 0xff;
		}
		sin6->sin6_port = htons(port);
	} else if (fam == 2) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;

		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, "/run/x", 6);
	} else {
		return false;
	}
	return true;
}

static void fuzz_proxy_str(struct kst_fuzz_in *in, char *out, size_t size,
			   size_t *len)
{
	size_t want = kst_fuzz_u8(in), n;
	const uint8_t *p = kst_fuzz_bytes(in, KST_MIN(want, size - 1), &n);

	memcpy(out, p, n);
	out[n] = '\0';
	if (len != NULL)
		*len = n;
}

/* How the parser prints one endpoint of an IP pair in family af. */
static void fuzz_proxy_expect(const struct sockaddr_storage *ss, int af,
			      char *out, size_t size)
{
	unsigned char a[16] = {0};
	char text[INET6_ADDRSTRLEN];
	unsigned int port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		memcpy(af == AF_INET ? a : a + 12, &sin->sin_addr, 4);
		if (af == AF_INET6)
			a[10] = a[11] = 0xff;
		port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && af == AF_INET)
			memcpy(a, &sin6->sin6_addr.s6_addr[12], 4);
		else
			memcpy(a, &sin6->sin6_addr, 16);
		port = ntohs(sin6->sin6_port);
	}
	inet_ntop(af, a, text, sizeof(text));
	if (af == AF_INET)
		snprintf(out, size, "%s:%u", text, port);
	else
		snprintf(out, size, "[%s]:%u", text, port);
}

static bool fuzz_proxy_is_v4(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;

	return ss->ss_family == AF_INET ||
	       (ss->ss_family == AF_INET6 &&
		IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr));
}

/* The family the pair must be written in: 0 when one end is not IP. */
static int fuzz_proxy_family(const struct fuzz_proxy_case *c)
{
	bool ip_s = c->has_src && c->src.ss_family != AF_UNIX;
	bool ip_d = c->has_dst && c->dst.ss_family != AF_UNIX;

	if (!ip_s || !ip_d)
		return 0;
	return fuzz_proxy_is_v4(&c->src) && fuzz_proxy_is_v4(&c->dst)
		       ? AF_INET
		       : AF_INET6;
}

static void fuzz_proxy_check_addrs(const struct fuzz_proxy_case *c,
				   const struct kst_pp_hdr *h)
{
	int af = fuzz_proxy_family(c);
	char s[128], d[128];

	if (af == 0) {
		if (!h->local || h->fam != 0)
			kst_fuzz_fail("non-IP pair not sent as LOCAL/UNKNOWN");
		return;
	}
	fuzz_proxy_expect(&c->src, af, s, sizeof(s));
	fuzz_proxy_expect(&c->dst, af, d, sizeof(d));
	if (h->local || strcmp(h->src, s) != 0 || strcmp(h->dst, d) != 0 ||
	    h->fam != (af == AF_INET ? KST_PP2_FAM_TCP4 : KST_PP2_FAM_TCP6))
		kst_fuzz_fail("v%d addresses: sent %s -> %s, read %s -> %s "
			      "(fam %#x)",
			      h->version, s, d, h->src, h->dst, h->fam);
}

/*
 * Whether the SNI goes out as AUTHORITY: a host name by RFC 6066 (LDH
 * labels of 1..63 bytes, no hyphen at either end, joined by single dots,
 * at most 253 bytes, no trailing dot) that is not an IPv4 literal.
 * Written here again, not taken from sni.c, to check it.
 */
static bool fuzz_proxy_is_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;
	unsigned char a[16];

	if (n == 0 || n > 253 || inet_pton(AF_INET, s, a) == 1)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '-')
			return false;
		if (label == 0 && ch == '-')
			return false;
		label++;
	}
	return true;
}

static void fuzz_proxy_check_tlvs(const struct fuzz_proxy_case *c,
				  const struct kst_pp_hdr *h)
{
	bool ssl = c->version[0] != '\0' || c->cipher[0] != '\0';
	bool authority = fuzz_proxy_is_hostname(c->sni);

	if (h->has_alpn != (c->alpn_len > 0) ||
	    (c->alpn_len > 0 && (h->alpn_len != c->alpn_len ||
				 memcmp(h->alpn, c->alpn, c->alpn_len) != 0)))
		kst_fuzz_fail("ALPN TLV does not read back");
	if (h->has_authority != authority ||
	    (authority && strcmp(h->authority, c->sni) != 0))
		kst_fuzz_fail("authority TLV for SNI '%s': %s", c->sni,
			      h->has_authority ? "sent" : "not sent");
	if (h->has_ssl != ssl || strcmp(h->ssl_version, c->version) != 0 ||
	    strcmp(h->ssl_cipher, c->cipher) != 0 ||
	    (ssl && h->ssl_client != KST_PP2_CLIENT_SSL))
		kst_fuzz_fail("SSL TLV does not read back");
	if (h->has_crc32c || h->other_tlvs != 0)
		kst_fuzz_fail("TLVs nobody asked for");
}

/* Encodes with version v into a buffer of exactly cap bytes. */
static ssize_t fuzz_proxy_encode(const struct fuzz_proxy_case *c, int v,
				 size_t cap, unsigned char **out)
{
	unsigned char *buf = cap ? malloc(cap) : NULL;
	ssize_t n;

	if (cap && buf == NULL)
		abort();
	n = v == 1 ? kst_proxy_v1(&c->pi, (char *)buf, cap)
		   : kst_proxy_v2(&c->pi, buf, cap);
	*out = buf;
	return n;
}

static void fuzz_proxy_one(const struct fuzz_proxy_case *c, int v)
{
	unsigned char *buf = NULL;
	ssize_t n = fuzz_proxy_encode(c, v, c->cap, &buf);
	struct kst_pp_hdr h;
	int r;

	if (n == -ENOSPC) {
		free(buf);
		n = fuzz_proxy_encode(c, v, 70000, &buf);
		if (n >= 0 && (size_t)n <= c->cap)
			kst_fuzz_fail("v%d: -ENOSPC for %zu bytes, but %zd fit",
				      v, c->cap, n);
	}
	if (n < 0) {
		free(buf);
		if (n == -EMSGSIZE && v == 2)
			return;
		kst_fuzz_fail("v%d: encoder failed: %zd", v, n);
	}
	r = kst_pp_parse(buf, (size_t)n, &h);
	if (r != n || h.version != v)
		kst_fuzz_fail("v%d: %zd bytes written, parser says %d", v, n,
			      r);
	fuzz_proxy_check_addrs(c, &h);
	if (v == 2)
		fuzz_proxy_check_tlvs(c, &h);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kst_fuzz_in in = {data, size};
	struct fuzz_proxy_case c;
	unsigned int flags = kst_fuzz_u8(&in);

	memset(&c, 0, sizeof(c));
	c.has_src = fuzz_proxy_addr(&in, &c.src);
	c.has_dst = fuzz_proxy_addr(&in, &c.dst);
	c.cap = kst_fuzz_u16(&in);
	fuzz_proxy_str(&in, c.alpn, sizeof(c.alpn), &c.alpn_len);
	fuzz_proxy_str(&in, c.sni, sizeof(c.sni), NULL);
	fuzz_proxy_str(&in, c.version, sizeof(c.version), NULL);
	fuzz_proxy_str(&in, c.cipher, sizeof(c.cipher), NULL);
	c.pi.src = c.has_src ? (const struct sockaddr *)&c.src : NULL;
	c.pi.dst = c.has_dst ? (const struct sockaddr *)&c.dst : NULL;
	c.pi.alpn = c.alpn_len ? c.alpn : NULL;
	c.pi.alpn_len = c.alpn_len;
	c.pi.sni = (flags & 1) ? NULL : c.sni;
	c.pi.tls_version = (flags & 2) ? NULL : c.version;
	c.pi.cipher = (flags & 4) ? NULL : c.cipher;
	if (flags & 1)
		c.sni[0] = '\0';
	if (flags & 2)
		c.version[0] = '\0';
	if (flags & 4)
		c.cipher[0] = '\0';
	fuzz_proxy_one(&c, 1);
	fuzz_proxy_one(&c, 2);
	return 0;
}

int kst_fuzz_init(void)
{
	return 0;
}

static void fuzz_proxy_seed(const char *dir, const char *name, int sf,
			    const char *sa, int df, const char *da,
			    const char *sni)
{
	struct kst_fuzz_out o = {.n = 0};
	unsigned char a[16] = {0};

	kst_fuzz_put_u8(&o, 0);
	kst_fuzz_put_u8(&o, (unsigned)sf);
	inet_pton(sf == 0 ? AF_INET : AF_INET6, sa, a);
	kst_fuzz_put(&o, a, 16);
	kst_fuzz_put_u16(&o, 51000);
	kst_fuzz_put_u8(&o, (unsigned)df);
	memset(a, 0, sizeof(a));
	inet_pton(df == 0 ? AF_INET : AF_INET6, da, a);
	kst_fuzz_put(&o, a, 16);
	kst_fuzz_put_u16(&o, 443);
	kst_fuzz_put_u16(&o, 1024);
	kst_fuzz_put_u8(&o, 2);
	kst_fuzz_put(&o, "h2", 2);
	kst_fuzz_put_u8(&o, (unsigned)strlen(sni));
	kst_fuzz_put(&o, sni, strlen(sni));
	kst_fuzz_put_u8(&o, 7);
	kst_fuzz_put(&o, "TLSv1.3", 7);
	kst_fuzz_put_u8(&o, 22);
	kst_fuzz_put(&o, "TLS_AES_128_GCM_SHA256", 22);
	kst_fuzz_seed_put(dir, name, o.buf, o.n);
}

void kst_fuzz_seeds(const char *dir)
{
	fuzz_proxy_seed(dir, "v4", 0, "192.0.2.7", 0, "127.0.0.1",
			"www.example.com");
	fuzz_proxy_seed(dir, "v6", 1, "2001:db8::1", 1, "::1", "a.example");
	fuzz_proxy_seed(dir, "mixed", 0, "10.1.2.3", 1, "2001:db8::2", "");
	fuzz_proxy_seed(dir, "unix", 2, "", 0, "127.0.0.1", "x.example");
}
