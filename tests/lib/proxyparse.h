/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol decoder for the test side (kst-backend -p, tests): reads
 * a v1 or v2 header (auto-detected) from the start of a buffer, strictly by
 * haproxy's proxy-protocol.txt, and turns it into a one-line JSON record.
 * Incremental: it says "need more" for a valid prefix, so a server can call
 * it after every read. The daemon only encodes (daemon/datapath/proxy.h).
 */
#ifndef KST_PROXYPARSE_H
#define KST_PROXYPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kst_pp_hdr {
	int version;	  /* 1 or 2 */
	bool local;	  /* v2 LOCAL command, or v1 UNKNOWN */
	unsigned int fam; /* v2 family/transport byte; v1: 0x11, 0x21, 0 */
	char src[128];	  /* "127.0.0.1:5555", "[::1]:5555", a unix path, "" */
	char dst[128];
	/* TLVs (v2); each string is NUL-terminated, its bytes as sent */
	bool has_alpn, has_authority, has_ssl, has_crc32c, crc32c_ok;
	char alpn[256];
	size_t alpn_len;
	char authority[256];
	unsigned int ssl_client; /* PP2_CLIENT_* bits */
	uint32_t ssl_verify;
	char ssl_version[64];
	char ssl_cipher[128];
	char ssl_cn[256];
	unsigned int other_tlvs; /* TLVs of other types, skipped */
	size_t len;		 /* bytes the header occupies */
};

/*
 * Decode the header at the start of buf. Returns its length (> 0) with *h
 * filled, 0 when buf is a valid but incomplete prefix (read more), or
 * -EINVAL when buf does not start with a valid header (including a v1 line
 * without CRLF in 107 bytes, and TLV strings longer than the fields above).
 */
int kst_pp_parse(const void *buf, size_t len, struct kst_pp_hdr *h);

/*
 * h as one JSON object without a newline, e.g. {"version":2,"command":
 * "PROXY","family":"TCP4","src":"127.0.0.1:5555","dst":"127.0.0.1:443",
 * "alpn":"h2","authority":"localhost","ssl_client":1,"ssl_verify":1,
 * "ssl_version":"TLSv1.3","ssl_cipher":"TLS_AES_128_GCM_SHA256"}; absent
 * TLVs are left out. Returns the length, or -ENOSPC.
 */
int kst_pp_json(const struct kst_pp_hdr *h, char *out, size_t size);

/* s (n bytes) as a JSON string body (no quotes): ", \ and bytes outside
 * printable ASCII escaped as \u00XX. Returns the length, or -ENOSPC. */
int kst_pp_json_escape(const char *s, size_t n, char *out, size_t size);

#endif
