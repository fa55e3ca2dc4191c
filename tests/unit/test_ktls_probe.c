// SPDX-License-Identifier: MIT
/*
 * The kTLS probe and the /proc/net/tls_stat parser. The parser is fed
 * canned text in the kernel's own format (tls_proc.c prints "%-32s\t%lu"):
 * 6.1's twelve counters, a newer kernel's with the TLS 1.3 rekey counters,
 * and text that must be refused. The probe is checked against an ULP attach
 * done here, so the same test holds on a kernel with and without kTLS.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ktls/probe.h"
#include "tests/lib/testutil.h"

/* Linux 6.1 (Debian bookworm): 12 counters. Values are all different. */
static const char stat_61[] = "TlsCurrTxSw                     \t2\n"
			      "TlsCurrRxSw                     \t1\n"
			      "TlsCurrTxDevice                 \t3\n"
			      "TlsCurrRxDevice                 \t4\n"
			      "TlsTxSw                         \t18\n"
			      "TlsRxSw                         \t17\n"
			      "TlsTxDevice                     \t5\n"
			      "TlsRxDevice                     \t6\n"
			      "TlsDecryptError                 \t7\n"
			      "TlsRxDeviceResync               \t8\n"
			      "TlsDecryptRetry                 \t9\n"
			      "TlsRxNoPadViolation             \t10\n";

/* A 6.14+ kernel: the same plus TLS 1.3 rekey counters. */
static const char stat_rekey[] =
	"TlsCurrTxSw                     \t0\n"
	"TlsCurrRxSw                     \t0\n"
	"TlsCurrTxDevice                 \t0\n"
	"TlsCurrRxDevice                 \t0\n"
	"TlsTxSw                         \t123456789012\n"
	"TlsRxSw                         \t42\n"
	"TlsTxDevice                     \t0\n"
	"TlsRxDevice                     \t0\n"
	"TlsDecryptError                 \t0\n"
	"TlsRxDeviceResync               \t0\n"
	"TlsDecryptRetry                 \t0\n"
	"TlsRxNoPadViolation             \t0\n"
	"TlsRxRekeyOk                    \t11\n"
	"TlsRxRekeyError                 \t12\n"
	"TlsTxRekeyOk                    \t13\n"
	"TlsTxRekeyError                 \t14\n"
	"TlsRxRekeyReceived              \t15\n";

Test(tls_stat, parses_the_61_format)
{
	struct kst_tls_stat st;

	cr_assert_eq(kst_ktls_tls_stat_parse(stat_61, &st), 0);
	cr_assert_eq(st.curr_tx_sw, 2);
	cr_assert_eq(st.curr_rx_sw, 1);
	cr_assert_eq(st.curr_tx_device, 3);
	cr_assert_eq(st.curr_rx_device, 4);
	cr_assert_eq(st.tx_sw, 18);
	cr_assert_eq(st.rx_sw, 17);
	cr_assert_eq(st.tx_device, 5);
	cr_assert_eq(st.rx_device, 6);
	cr_assert_eq(st.decrypt_error, 7);
	cr_assert_eq(st.rx_device_resync, 8);
	cr_assert_eq(st.decrypt_retry, 9);
	cr_assert_eq(st.rx_no_pad_violation, 10);
	cr_assert_not(st.has_rekey, "6.1 prints no rekey counters");
	cr_assert_eq(st.rx_rekey_ok + st.tx_rekey_ok + st.rx_rekey_received, 0);
}

Test(tls_stat, parses_rekey_counters_of_newer_kernels)
{
	struct kst_tls_stat st;

	cr_assert_eq(kst_ktls_tls_stat_parse(stat_rekey, &st), 0);
	cr_assert(st.has_rekey);
	cr_assert_eq(st.tx_sw, 123456789012ull);
	cr_assert_eq(st.rx_sw, 42);
	cr_assert_eq(st.rx_rekey_ok, 11);
	cr_assert_eq(st.rx_rekey_error, 12);
	cr_assert_eq(st.tx_rekey_ok, 13);
	cr_assert_eq(st.tx_rekey_error, 14);
	cr_assert_eq(st.rx_rekey_received, 15);
}

Test(tls_stat, ignores_counters_it_does_not_know_and_zeroes_missing_ones)
{
	static const char text[] = "TlsSomethingNew\t99\n"
				   "TlsRxSw   3\n"
				   "\n"
				   "TlsFutureCounter 7 extra words\n";
	struct kst_tls_stat st;

	memset(&st, 0xff, sizeof(st));
	cr_assert_eq(kst_ktls_tls_stat_parse(text, &st), 0);
	cr_assert_eq(st.rx_sw, 3);
	cr_assert_eq(st.tx_sw, 0);
	cr_assert_eq(st.decrypt_error, 0);
	cr_assert_not(st.has_rekey);
}

Test(tls_stat, accepts_a_last_line_without_newline_and_crlf)
{
	struct kst_tls_stat st;

	cr_assert_eq(kst_ktls_tls_stat_parse("TlsTxSw\t5\r\nTlsRxSw\t6", &st),
		     0);
	cr_assert_eq(st.tx_sw, 5);
	cr_assert_eq(st.rx_sw, 6);
}

struct bad_case {
	char what[32];
	char text[96];
};

ParameterizedTestParameters(tls_stat, refuses_text_without_valid_counters)
{
	static struct bad_case cases[] = {
		{"empty", ""},
		{"only blank lines", "\n\n  \n"},
		{"garbage", "hello world\n\x01\x02\x03\n"},
		{"known name, no value", "TlsTxSw\n"},
		{"known name, word value", "TlsTxSw\tmany\n"},
		{"known name, negative", "TlsTxSw\t-1\n"},
		{"known name, trailing junk", "TlsTxSw\t12abc\n"},
		{"known name, overflow", "TlsTxSw\t184467440737095516160\n"},
		{"prefix of a name", "TlsTx\t1\n"},
	};
	return cr_make_param_array(struct bad_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, tls_stat,
		  refuses_text_without_valid_counters)
{
	struct kst_tls_stat st;

	cr_assert_eq(kst_ktls_tls_stat_parse(c->text, &st), -EINVAL, "%s",
		     c->what);
	cr_assert_eq(st.tx_sw, 0, "%s: out is zeroed", c->what);
}

Test(tls_stat, read_matches_the_presence_of_the_proc_file)
{
	struct kst_tls_stat st;
	int err = kst_ktls_tls_stat_read(&st);

	if (access("/proc/net/tls_stat", F_OK) != 0)
		cr_assert_eq(err, -ENOENT, "no tls module: -ENOENT, got %d",
			     err);
	else
		cr_assert_eq(err, 0, "the kernel's own file parses");
}

/* An established loopback pair and a direct TCP_ULP "tls" attach. */
static int attach_tls_ulp(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int s, err;

	cr_assert(l >= 0 && c >= 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, alen), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, alen), 0);
	s = accept(l, NULL, NULL);
	cr_assert(s >= 0);
	err = setsockopt(c, IPPROTO_TCP, TCP_ULP, "tls", 4) == 0 ? 0 : -errno;
	close(s);
	close(c);
	close(l);
	return err;
}

Test(probe, agrees_with_a_direct_ulp_attach_and_says_why)
{
	const char *reason = NULL;
	bool ok = kst_ktls_probe(&reason);
	int direct = attach_tls_ulp();

	cr_assert_not_null(reason);
	cr_assert(strlen(reason) > 10, "a sentence, not \"%s\"", reason);
	if (direct != 0) {
		cr_assert_not(ok, "kernel refused the ULP yet probe says yes");
		cr_assert(strstr(reason, "no tls ULP") != NULL &&
				  strstr(reason, strerror(-direct)) != NULL,
			  "reason names the cause: %s", reason);
	} else {
		/* with the ULP there, the only other cause is the AEAD */
		cr_assert(ok || strstr(reason, "TLS_TX") != NULL, "%s", reason);
	}
}

Test(probe, caches_its_answer)
{
	const char *r1 = NULL, *r2 = NULL;
	bool a = kst_ktls_probe(&r1);
	bool b = kst_ktls_probe(&r2);
	char fresh[160];
	int run = kst_ktls_probe_run(fresh, sizeof(fresh));

	cr_assert_eq(a, b);
	cr_assert_eq(r1, r2, "the same cached sentence");
	cr_assert_eq(a, run == 0, "the uncached probe agrees");
	cr_assert_str_eq(r1, fresh);
	cr_assert(kst_ktls_probe(NULL) == a);
}

Test(probe, needs_no_reason_buffer)
{
	char fresh[160];
	int run = kst_ktls_probe_run(fresh, sizeof(fresh));

	cr_assert_eq(kst_ktls_probe_run(NULL, 0), run);
}
