// SPDX-License-Identifier: MIT
/*
 * The daemon's kernel TLS path, end to end, on whatever kernel runs it:
 * in the QEMU guest booted from Debian's kernel (make hwtest) the keys go
 * to the kernel in both directions and the data path is splice; on a
 * kernel without kTLS (this host, or the guest's notls boot) the same
 * tests check that every connection falls back to userspace, byte-exact,
 * and that `ktls = require` refuses with the reason. What was installed is
 * read from the daemon's pinned map (which it got from the kernel), from
 * /proc/net/tls_stat and from sock_diag's report in the log.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ktls/probe.h"
#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

static bool kernel_ktls;

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(ktls, .fini = fini);

static void start(const char *global, const char *listener)
{
	struct kst_edge_conf c = {
		.global = global, .web_certs = true, .listener = listener};
	const char *why = NULL;

	/* tls_stat counts per network namespace: one of our own, so tests
	 * running side by side do not count each other's sockets */
	cr_assert_eq(kst_h_private_netns(), 0, "a private netns (root)");
	kernel_ktls = kst_ktls_probe(&why);
	cr_log_info("kernel kTLS: %s", kernel_ktls ? "yes" : why);
	kst_edge_pins(&edge, "ktls");
	kst_edge_start(&edge, &c);
}

/* A number from `kstapled status --json` (the one cert, or global). */
static long long status_num(const char *key)
{
	char *json = kst_h_status_json(edge.pins);
	char *v = kst_h_json_get(json, NULL, key);
	long long n;

	cr_assert_not_null(v, "%s in status --json:\n%s", key, json);
	n = strtoll(v, NULL, 10);
	free(v);
	free(json);
	return n;
}

/* status_num once it says want: the export runs about once a second and
 * a loaded guest can be late, so read every 250 ms for up to 10 s; the
 * last value read. */
static long long status_wait(const char *key, long long want)
{
	long long n = status_num(key);

	for (int i = 0; i < 40 && n != want; i++) {
		usleep(250 * 1000);
		n = status_num(key);
	}
	return n;
}

static void tls_stat(struct kst_tls_stat *s)
{
	memset(s, 0, sizeof(*s));
	if (kst_ktls_tls_stat_read(s) < 0)
		memset(s, 0, sizeof(*s));
}

struct suite_case {
	char tls[4];
	char suite[48];
};

static const struct suite_case cases[] = {
	{"1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"},
	{"1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"},
	{"1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"},
	{"1.3", "TLS_AES_128_GCM_SHA256"},
	{"1.3", "TLS_AES_256_GCM_SHA384"},
	{"1.3", "TLS_CHACHA20_POLY1305_SHA256"},
};

ParameterizedTestParameters(ktls, every_version_and_cipher_goes_to_the_kernel)
{
	return cr_make_param_array(struct suite_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(const struct suite_case *sc, ktls,
		  every_version_and_cipher_goes_to_the_kernel, .timeout = 300)
{
	struct kst_tls_stat s0, s1;
	char *out = NULL;
	bool v13 = strcmp(sc->tls, "1.3") == 0;

	start(NULL, NULL);
	tls_stat(&s0);
	cr_assert_eq(kst_h_client(&out, 200000, "-c", edge.addr, "--tls",
				  sc->tls, v13 ? "--ciphersuites" : "--ciphers",
				  sc->suite, "--send", "300001", "--half-close",
				  "--recv-all", "--expect-recv", "300001",
				  "--conns", "2", "--print", NULL),
		     0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "cipher"), sc->suite);
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1",
			 "close_notify came back through the kernel");
	free(out);
	tls_stat(&s1);
	if (kernel_ktls) {
		cr_expect_eq(status_num("conns_ktls_tx"), 2);
		cr_expect_eq(status_num("conns_ktls_rx"), 2);
		cr_expect_eq(s1.tx_sw - s0.tx_sw, 2, "TlsTxSw +1 a connection");
		cr_expect_eq(s1.rx_sw - s0.rx_sw, 2, "TlsRxSw +1 a connection");
		cr_expect_eq(kst_h_count(edge.d.log, "kernel tls tx sw, rx sw"),
			     2, "sock_diag reports software kTLS both ways");
	} else {
		cr_expect_eq(status_num("conns_userspace"), 2);
		cr_expect_eq(status_num("conns_ktls_tx"), 0);
		cr_expect_eq(s1.tx_sw, s0.tx_sw);
	}
	kst_edge_stop(&edge);
}

Test(ktls, payloads_from_1_byte_to_16_mib_arrive_byte_exact, .timeout = 600)
{
	static const char *const sizes[] = {"1", "16385", "1M", "16M"};
	char *out = NULL;

	start(NULL, NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		cr_assert_eq(kst_h_client(&out, 500000, "-c", edge.addr,
					  "--send", sizes[i], "--expect-echo",
					  "--half-close", NULL),
			     0, "%s: %s", sizes[i], out);
		free(out);
	}
	cr_expect_eq(
		status_num(kernel_ktls ? "conns_ktls_rx" : "conns_userspace"),
		4);
	kst_edge_stop(&edge);
}

/* On a kTLS kernel that cannot rekey, a client's KeyUpdate ends the
 * connection with a clean goodbye: what came before is intact, the
 * close_notify arrives, and the close is counted once. */
static void expect_keyupdate_close(int rc, const char *out)
{
	cr_expect_neq(rc, 0, "the echo stops short: %s", out);
	cr_expect(strstr(out, "mismatch") == NULL, "no corrupted byte: %s",
		  out);
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1", "%s", out);
	cr_expect_eq(status_wait("keyupdate_closes", 1), 1);
	cr_expect_eq(status_num("keyupdate_rekeys_rx"), 0);
	cr_expect_eq(status_num("keyupdate_flood_closes"), 0);
}

/* strings by value: each test runs in a process of its own */
struct ku_case {
	char opt[32];
};

ParameterizedTestParameters(ktls, a_client_key_update_rekeys_or_closes_cleanly)
{
	static const struct ku_case kinds[] = {{"--key-update"},
					       {"--key-update-requested"}};

	return cr_make_param_array(struct ku_case, kinds, 2);
}

/*
 * A kernel that rekeys kTLS (6.14+, as the daemon's own probe says) takes
 * the client's next key, and ours when the client asks: the echo is
 * intact and the daemon's counters agree with the kernel's. One that
 * cannot (6.1, 6.12) gets a clean goodbye: with both directions in the
 * kernel nothing in userspace answers the KeyUpdate, so the close_notify
 * goes out under the key the client still expects. In userspace OpenSSL
 * rekeys.
 */
ParameterizedTest(const struct ku_case *kind, ktls,
		  a_client_key_update_rekeys_or_closes_cleanly, .timeout = 300)
{
	bool requested = strcmp(kind->opt, "--key-update-requested") == 0;
	struct kst_tls_stat s0, s1;
	char *out = NULL;
	int rc;

	start(NULL, NULL);
	tls_stat(&s0);
	rc = kst_h_client(&out, 100000, "-c", edge.addr, "--tls", "1.3",
			  "--send", "1M", kind->opt, "--expect-echo", "--print",
			  NULL);
	tls_stat(&s1);
	if (kernel_ktls && kst_ktls_rekey_probe(NULL)) {
		cr_expect_eq(rc, 0, "rekeyed in the kernel: %s", out);
		cr_expect_eq(status_wait("keyupdate_rekeys_rx", 1), 1);
		cr_expect_eq(status_num("keyupdate_closes"), 0);
		cr_expect_eq(status_num("keyupdate_rekeys_tx"), requested);
		cr_expect_eq(s1.rx_rekey_ok - s0.rx_rekey_ok, 1);
		cr_expect_eq(s1.tx_rekey_ok - s0.tx_rekey_ok, requested);
	} else if (kernel_ktls) {
		/* the daemon cannot take new RX keys on this kernel: it says
		 * goodbye; what arrived before is intact */
		expect_keyupdate_close(rc, out);
		cr_expect_eq(s1.rx_rekey_ok, s0.rx_rekey_ok);
	} else {
		cr_expect_eq(rc, 0, "userspace TLS rekeys: %s", out);
		cr_expect_eq(status_num("keyupdate_closes"), 0);
	}
	free(out);
	cr_expect(kst_h_alive(edge.d.pid));
	kst_edge_stop(&edge);
}

struct rekey_case {
	char suite[48];
	char opt[32];
};

ParameterizedTestParameters(ktls, several_key_updates_stay_byte_exact_both_ways)
{
	static const struct rekey_case rcases[] = {
		{"TLS_AES_128_GCM_SHA256", "--key-update"},
		{"TLS_AES_128_GCM_SHA256", "--key-update-requested"},
		{"TLS_AES_256_GCM_SHA384", "--key-update"},
		{"TLS_AES_256_GCM_SHA384", "--key-update-requested"},
		{"TLS_CHACHA20_POLY1305_SHA256", "--key-update"},
		{"TLS_CHACHA20_POLY1305_SHA256", "--key-update-requested"},
	};

	return cr_make_param_array(struct rekey_case, rcases,
				   sizeof(rcases) / sizeof(rcases[0]));
}

/* Five KeyUpdates spread through a 1 MiB echo, per suite, with and
 * without update_requested: every byte back intact, and the daemon's
 * rekey counters equal the kernel's (tls_stat, in this test's netns).
 * A kTLS kernel that cannot rekey ends it cleanly at the first. */
ParameterizedTest(const struct rekey_case *rc, ktls,
		  several_key_updates_stay_byte_exact_both_ways, .timeout = 300)
{
	bool requested = strcmp(rc->opt, "--key-update-requested") == 0;
	struct kst_tls_stat s0, s1;
	char *out = NULL;

	int ret;

	start(NULL, NULL);
	tls_stat(&s0);
	ret = kst_h_client(&out, 200000, "-c", edge.addr, "--tls", "1.3",
			   "--ciphersuites", rc->suite, "--send", "1M", rc->opt,
			   "--key-updates", "5", "--expect-echo", "--print",
			   NULL);
	tls_stat(&s1);
	cr_expect_str_eq(kst_h_kv(out, "cipher"), rc->suite);
	if (kernel_ktls && !kst_ktls_rekey_probe(NULL)) {
		expect_keyupdate_close(ret, out);
		free(out);
		kst_edge_stop(&edge);
		return;
	}
	cr_expect_eq(ret, 0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "key_updates"), "5", "%s", out);
	free(out);
	if (kernel_ktls) {
		cr_expect_eq(status_wait("keyupdate_rekeys_rx", 5), 5);
		cr_expect_eq(status_num("conns_ktls_rx"), 1);
		cr_expect_eq(status_num("keyupdate_rekeys_tx"),
			     requested ? 5 : 0);
		cr_expect_eq(s1.rx_rekey_ok - s0.rx_rekey_ok,
			     (uint64_t)status_num("keyupdate_rekeys_rx"));
		cr_expect_eq(s1.tx_rekey_ok - s0.tx_rekey_ok,
			     (uint64_t)status_num("keyupdate_rekeys_tx"));
		cr_expect_eq(s1.rx_rekey_received - s0.rx_rekey_received, 5);
		cr_expect_eq(s1.rx_rekey_error, s0.rx_rekey_error);
		cr_expect_eq(s1.tx_rekey_error, s0.tx_rekey_error);
	}
	cr_expect_eq(status_num("keyupdate_closes"), 0);
	cr_expect_eq(status_num("keyupdate_flood_closes"), 0);
	cr_expect(kst_h_alive(edge.d.pid));
	kst_edge_stop(&edge);
}

struct sclient_case {
	char suite[48];
};

ParameterizedTestParameters(ktls, openssl_s_client_key_updates_stay_byte_exact)
{
	static const struct sclient_case scases[] = {
		{"TLS_AES_128_GCM_SHA256"},
		{"TLS_AES_256_GCM_SHA384"},
		{"TLS_CHACHA20_POLY1305_SHA256"},
	};

	return cr_make_param_array(struct sclient_case, scases,
				   sizeof(scases) / sizeof(scases[0]));
}

/* The real CLI client: `openssl s_client` sends k, K, k, K, k (KeyUpdate
 * without and with update_requested) between chunks of an echoed
 * transfer (hwtest/guest/sclient-keyupdate.sh); every byte comes back.
 * A kTLS kernel that cannot rekey ends it cleanly at the first `k`. */
ParameterizedTest(const struct sclient_case *sc, ktls,
		  openssl_s_client_key_updates_stay_byte_exact, .timeout = 300)
{
	struct kst_tls_stat s0, s1;
	char cmd[512], *out = NULL;
	int rc;

	start(NULL, NULL);
	snprintf(cmd, sizeof(cmd),
		 "sh %s/hwtest/guest/sclient-keyupdate.sh %s %s 'k K k K k'",
		 kst_test_srcdir(), edge.addr, sc->suite);
	tls_stat(&s0);
	rc = kst_h_sh(cmd, &out, 200000);
	tls_stat(&s1);
	if (kernel_ktls && !kst_ktls_rekey_probe(NULL)) {
		/* the echo stops after the first chunk, which is intact */
		cr_expect_neq(rc, 0, "%s", out);
		long long n = status_wait("keyupdate_closes", 1);

		cr_expect(strstr(out, "32769 of") != NULL, "%s", out);
		cr_expect_eq(n, 1,
			     "keyupdate_closes %lld, the daemon logged %d "
			     "KeyUpdate closes and %d handshakes with a cert; "
			     "%s",
			     n, kst_h_count(edge.d.log, "KeyUpdate under kTLS"),
			     kst_h_count(edge.d.log, ", cert "), out);
		cr_expect_eq(s1.rx_rekey_ok, s0.rx_rekey_ok);
		free(out);
		kst_edge_stop(&edge);
		return;
	}
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	if (kernel_ktls) {
		cr_expect_eq(status_wait("keyupdate_rekeys_rx", 5), 5);
		cr_expect_eq(status_num("conns_ktls_rx"), 1);
		cr_expect_eq(status_num("keyupdate_rekeys_tx"), 2);
		cr_expect_eq(s1.rx_rekey_ok - s0.rx_rekey_ok, 5);
		cr_expect_eq(s1.tx_rekey_ok - s0.tx_rekey_ok, 2);
	}
	cr_expect_eq(status_num("keyupdate_closes"), 0);
	kst_edge_stop(&edge);
}

/* keyupdate-limit: one KeyUpdate more than it allows in a minute ends
 * the connection with a clean goodbye, counted; what came before is
 * intact. A kTLS kernel that cannot rekey closes at the first (not a
 * flood); userspace OpenSSL takes them all. */
Test(ktls, a_key_update_flood_closes_cleanly, .timeout = 300)
{
	char *out = NULL;
	int rc;

	start("keyupdate-limit = 3\n", NULL);
	rc = kst_h_client(&out, 200000, "-c", edge.addr, "--tls", "1.3",
			  "--send", "1M", "--key-updates", "8", "--expect-echo",
			  "--print", NULL);
	if (!kernel_ktls || !kst_ktls_rekey_probe(NULL)) {
		if (kernel_ktls)
			expect_keyupdate_close(rc, out);
		else
			cr_expect_eq(rc, 0, "userspace TLS rekeys: %s", out);
		free(out);
		kst_edge_stop(&edge);
		return;
	}
	cr_expect_neq(rc, 0, "the fourth KeyUpdate ends it: %s", out);
	cr_expect(strstr(out, "mismatch") == NULL, "no corrupted byte: %s",
		  out);
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1", "%s", out);
	free(out);
	cr_expect_eq(status_wait("keyupdate_flood_closes", 1), 1);
	cr_expect_eq(status_num("keyupdate_rekeys_rx"), 3);
	cr_expect_eq(status_num("keyupdate_closes"), 0);
	cr_expect_eq(kst_h_count(edge.d.log, "(keyupdate-limit): closing"), 1);
	cr_expect(kst_h_alive(edge.d.pid));
	kst_edge_stop(&edge);
}

/*
 * The AEAD record limit, lowered to 16 records by the daemon's test hook
 * (KST_TEST_RECORD_LIMIT): where the kernel rekeys, the daemon sends its
 * own KeyUpdates (asking for the client's, whose direction nears the limit
 * too) and the 2 MiB echo goes through intact; on other kTLS kernels
 * the connection is closed cleanly at the limit, as before; in userspace
 * the limit is OpenSSL's business.
 */
Test(ktls, the_record_limit_rekeys_instead_of_closing, .timeout = 300)
{
	struct kst_tls_stat s0, s1;
	char *out = NULL;
	int rc;

	cr_assert_eq(setenv("KST_TEST_RECORD_LIMIT", "16", 1), 0);
	start(NULL, NULL);
	tls_stat(&s0);
	rc = kst_h_client(&out, 200000, "-c", edge.addr, "--tls", "1.3",
			  "--ciphersuites", "TLS_AES_128_GCM_SHA256", "--send",
			  "2M", "--expect-echo", "--print", NULL);
	tls_stat(&s1);
	cr_expect(strstr(out, "mismatch") == NULL, "no corrupted byte: %s",
		  out);
	if (!kernel_ktls) {
		/* userspace: OpenSSL's own business, no limit of ours */
		cr_expect_eq(rc, 0, "%s", out);
		cr_expect_eq(
			kst_h_count(edge.d.log, "before its keys wear out"), 0);
	} else if (kst_ktls_rekey_probe(NULL)) {
		cr_expect_eq(rc, 0, "rekeyed, not closed: %s", out);
		cr_expect_geq(status_num("keyupdate_rekeys_tx"), 2);
		cr_expect_geq(status_num("keyupdate_rekeys_rx"), 1,
			      "the client answered our request");
		cr_expect_eq(s1.tx_rekey_ok - s0.tx_rekey_ok,
			     (uint64_t)status_num("keyupdate_rekeys_tx"));
		cr_expect_eq(s1.rx_rekey_ok - s0.rx_rekey_ok,
			     (uint64_t)status_num("keyupdate_rekeys_rx"));
		cr_expect_eq(
			kst_h_count(edge.d.log, "before its keys wear out"), 0);
	} else {
		cr_expect_neq(rc, 0, "closed at the limit: %s", out);
		cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1", "%s", out);
		cr_expect_eq(
			kst_h_count(edge.d.log, "before its keys wear out"), 1);
	}
	free(out);
	cr_expect(kst_h_alive(edge.d.pid));
	kst_edge_stop(&edge);
}

/*
 * `ktls = require` serves exactly the connections whose two directions are
 * in the kernel, whoever put them there. TLS 1.3 AES-CCM is not in
 * kstapled's own table: OpenSSL 3.0 keeps it in userspace, so it is
 * refused ("cipher"); OpenSSL 3.5 puts both directions in the kernel
 * itself, so it is served. The kernel's own tls_stat tells which.
 */
Test(ktls, require_refuses_what_the_kernel_cannot_take, .timeout = 300)
{
	struct kst_tls_stat s0, s1;
	bool in_kernel;
	char *out = NULL;
	int rc;

	start("ktls = require\n",
	      "ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256\n");
	if (!kernel_ktls) {
		cr_expect_neq(kst_h_client(&out, 30000, "-c", edge.addr,
					   "--send", "10", "--expect-echo",
					   NULL),
			      0, "%s", out);
		free(out);
		cr_expect_gt(kst_h_count(edge.d.log, "(no-kernel)"), 0,
			     "the log names the reason");
		kst_edge_stop(&edge);
		return;
	}
	cr_expect_eq(kst_h_client(&out, 60000, "-c", edge.addr, "--tls", "1.3",
				  "--ciphersuites", "TLS_AES_128_GCM_SHA256",
				  "--send", "10k", "--expect-echo",
				  "--half-close", NULL),
		     0, "both directions in the kernel: served: %s", out);
	free(out);
	tls_stat(&s0);
	rc = kst_h_client(&out, 60000, "-c", edge.addr, "--tls", "1.3",
			  "--ciphersuites", "TLS_AES_128_CCM_SHA256", "--send",
			  "10k", "--expect-echo", "--half-close", NULL);
	tls_stat(&s1);
	in_kernel = s1.tx_sw - s0.tx_sw == 1 && s1.rx_sw - s0.rx_sw == 1;
	if (OpenSSL_version_num() < 0x30200000L)
		cr_expect_not(in_kernel, "OpenSSL 3.0 keeps TLS 1.3 CCM out");
	if (in_kernel) {
		cr_expect_eq(rc, 0, "in the kernel by OpenSSL: served: %s",
			     out);
		cr_expect_eq(kst_h_count(edge.d.log, "refused: ktls = require"),
			     0, "not refused");
	} else {
		cr_expect_neq(rc, 0, "AES-CCM in userspace: refused: %s", out);
		cr_expect_eq(s1.rx_sw, s0.rx_sw, "no RX key of kstapled's");
		cr_expect_gt(kst_h_count(edge.d.log, "(cipher)"), 0,
			     "the log says why");
	}
	free(out);
	kst_edge_stop(&edge);
}

Test(ktls, off_keeps_every_connection_in_userspace, .timeout = 300)
{
	struct kst_tls_stat s0, s1;
	char *out = NULL;

	start("ktls = off\n", NULL);
	tls_stat(&s0);
	cr_assert_eq(kst_h_client(&out, 60000, "-c", edge.addr, "--send",
				  "100k", "--expect-echo", "--half-close",
				  "--conns", "3", NULL),
		     0, "%s", out);
	free(out);
	tls_stat(&s1);
	cr_expect_eq(status_num("conns_userspace"), 3);
	cr_expect_eq(status_num("conns_ktls_tx"), 0);
	cr_expect_eq(s1.tx_sw, s0.tx_sw, "the kernel saw no TLS socket");
	kst_edge_stop(&edge);
}

/*
 * A client that negotiates max_fragment_length: OpenSSL 3.0 then keeps TX
 * in userspace (kTLS sends 16 KiB records), for TLS 1.2 and 1.3 alike. The
 * daemon installs TLS 1.3 RX itself; it must not do it here, or SSL_read
 * parses the kernel's plaintext as TLS records. Both directions byte-exact,
 * and the data-path counters, tls_stat and the log all say userspace.
 */
Test(ktls, max_fragment_length_keeps_both_directions_in_userspace,
     .timeout = 300)
{
	static const char *const versions[] = {"1.2", "1.3"};
	struct kst_tls_stat s0, s1;
	char *out = NULL;

	start(NULL, NULL);
	tls_stat(&s0);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(kst_h_client(&out, 100000, "-c", edge.addr,
					  "--tls", versions[i], "--maxfraglen",
					  "512", "--send", "300001",
					  "--half-close", "--recv-all",
					  "--expect-recv", "300001", "--print",
					  NULL),
			     0, "TLS %s: %s", versions[i], out);
		cr_expect_str_eq(kst_h_kv(out, "max_fragment_length"), "512",
				 "%s", out);
		cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1", "%s", out);
		free(out);
	}
	tls_stat(&s1);
	cr_expect_eq(status_num("conns_userspace"), 2);
	cr_expect_eq(status_num("conns_ktls_tx"), 0);
	cr_expect_eq(status_num("conns_ktls_rx"), 0, "RX follows TX");
	cr_expect_eq(s1.tx_sw, s0.tx_sw);
	cr_expect_eq(s1.rx_sw, s0.rx_sw, "no RX installed in the kernel");
	if (kernel_ktls)
		cr_expect_eq(
			kst_h_count(edge.d.log, "kTLS tx openssl, rx openssl"),
			2, "the log says why, both directions");
	kst_edge_stop(&edge);
}

struct rec_case {
	char tls[4];
	char suite[48];
};

ParameterizedTestParameters(ktls, empty_records_are_not_the_end_of_the_stream)
{
	static const struct rec_case recs[] = {
		{"1.3", "TLS_AES_128_GCM_SHA256"},
		{"1.3", "TLS_CHACHA20_POLY1305_SHA256"},
		{"1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"},
		{"1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"},
	};

	return cr_make_param_array(struct rec_case, recs,
				   sizeof(recs) / sizeof(recs[0]));
}

/*
 * Zero-length application-data records (allowed by RFC 8446 5.1 and RFC
 * 5246 6.2.1; kst-rawrec seals them itself) between, before and after data
 * records: the daemon relays every byte and ends only at the close_notify.
 * Under kTLS RX such a record makes splice() return 0 like a TCP EOF.
 */
ParameterizedTest(const struct rec_case *rc, ktls,
		  empty_records_are_not_the_end_of_the_stream, .timeout = 300)
{
	char *argv[] = {(char *)kst_h_tool("kst-rawrec"),
			"-c",
			edge.addr,
			"--tls",
			(char *)rc->tls,
			"--suite",
			(char *)rc->suite,
			"--records",
			"0,100,0,0,16384,0,1,0,1000",
			NULL};
	char *out = NULL;

	start(NULL, NULL);
	cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 60000), 0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "sent"), "17485", "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "recv"), "17485", "every byte back");
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1");
	cr_expect_eq(kst_h_count(edge.d.log, "without close_notify"), 0,
		     "no empty record taken for a truncation");
	if (kernel_ktls)
		cr_expect_eq(status_num("conns_ktls_rx"), 1);
	free(out);
	kst_edge_stop(&edge);
}

/* Hundreds of them in a row (30 at a time: OpenSSL's userspace record
 * layer allows 32 consecutive empty records), with a byte between: the
 * kernel path consumes them without ending or stalling. */
Test(ktls, runs_of_empty_records_neither_end_nor_stall, .timeout = 300)
{
	char list[1024] = "", *out = NULL;
	char *argv[] = {(char *)kst_h_tool("kst-rawrec"),
			"-c",
			edge.addr,
			"--tls",
			"1.3",
			"--records",
			list,
			NULL};

	for (int run = 0; run < 10; run++) {
		for (int i = 0; i < 30; i++)
			strcat(list, "0,");
		strcat(list, run < 9 ? "1," : "1");
	}
	start(NULL, NULL);
	cr_expect_eq(kst_h_run(argv, NULL, 0, &out, 60000), 0, "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "records"), "310", "%s", out);
	cr_expect_str_eq(kst_h_kv(out, "recv"), "10", "every byte back");
	cr_expect_str_eq(kst_h_kv(out, "close_notify"), "1");
	free(out);
	kst_edge_stop(&edge);
}
