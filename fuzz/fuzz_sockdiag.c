// SPDX-License-Identifier: MIT
/*
 * Fuzz target: the sock_diag reply parser (ktls/sockdiag_parse.c), which
 * reads the kernel's inet_diag answer about a socket's kTLS state. The
 * input is one reply as received: kst_sockdiag_parse() gets the bytes and
 * their count, as sockdiag.c passes them. Successful parses are formatted
 * as `kstapled status` shows them.
 */
#include "fuzz/fuzz.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <netinet/tcp.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "ktls/sockdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int kst_fuzz_init(void)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a heap copy of exactly size bytes: ASan sees any overread */
	unsigned char *msg = malloc(size ? size : 1);
	struct kst_sockdiag_tls t;
	char line[256];

	if (msg == NULL)
		abort();
	memcpy(msg, data, size);
	if (kst_sockdiag_parse(msg, size, &t) == 0)
		kst_sockdiag_format(&t, line, sizeof(line));
	free(msg);
	return 0;
}

struct fuzz_sd_seed {
	const char *name, *ulp;
	uint16_t version, cipher, txconf, rxconf;
	bool flags;
};

static void fuzz_sd_seed(const char *dir, const struct fuzz_sd_seed *s)
{
	struct nl_msg *m = nlmsg_alloc_simple(SOCK_DIAG_BY_FAMILY, 0);
	struct inet_diag_msg dm = {
		.idiag_family = AF_INET,
		.idiag_state = 1,
		.id.idiag_sport = htons(443),
		.id.idiag_dport = htons(50000),
	};
	struct nlattr *ulp, *tls;

	if (m == NULL || nlmsg_append(m, &dm, sizeof(dm), NLMSG_ALIGNTO) < 0)
		kst_fuzz_fail("cannot build a netlink message");
	nla_put_string(m, INET_DIAG_CONG, "cubic");
	if (s->ulp != NULL) {
		ulp = nla_nest_start(m, INET_DIAG_ULP_INFO);
		nla_put_string(m, INET_ULP_INFO_NAME, s->ulp);
		tls = nla_nest_start(m, INET_ULP_INFO_TLS);
		nla_put_u16(m, TLS_INFO_VERSION, s->version);
		nla_put_u16(m, TLS_INFO_CIPHER, s->cipher);
		nla_put_u16(m, TLS_INFO_TXCONF, s->txconf);
		nla_put_u16(m, TLS_INFO_RXCONF, s->rxconf);
		if (s->flags) {
			nla_put_flag(m, TLS_INFO_ZC_RO_TX);
			nla_put_flag(m, TLS_INFO_RX_NO_PAD);
		}
		nla_nest_end(m, tls);
		nla_nest_end(m, ulp);
	}
	kst_fuzz_seed_put(dir, s->name, nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
	nlmsg_free(m);
}

void kst_fuzz_seeds(const char *dir)
{
	static const struct fuzz_sd_seed seeds[] = {
		{"plain", NULL, 0, 0, 0, 0, false},
		{"tls13-sw", "tls", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128,
		 TLS_CONF_SW, TLS_CONF_SW, false},
		{"tls12-hw", "tls", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256,
		 TLS_CONF_HW, TLS_CONF_HW_RECORD, true},
		{"other-ulp", "mptcp", 0, 0, 0, 0, false},
	};
	struct nl_msg *m = nlmsg_alloc_simple(NLMSG_ERROR, 0);
	struct nlmsgerr e = {.error = -ENOENT};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		fuzz_sd_seed(dir, &seeds[i]);
	if (m == NULL || nlmsg_append(m, &e, sizeof(e), NLMSG_ALIGNTO) < 0)
		kst_fuzz_fail("cannot build a netlink message");
	kst_fuzz_seed_put(dir, "error", nlmsg_hdr(m), nlmsg_hdr(m)->nlmsg_len);
	nlmsg_free(m);
}
