// SPDX-License-Identifier: MIT
/*
 * Errors an operator meets in the first hour, as the real binary reports
 * them: a PEM whose first certificate is the CA ("the leaf must come
 * first"), a PEM-armoured staple (how to convert it to DER, from -t and
 * from the running daemon, which names the staple file it rejects), and a
 * directory given as the configuration (one error), and a bpf-pin-dir
 * that is not on bpffs (-t warns: the daemon would have no metrics).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

/* A copy of the DER staple of leaf, PEM-armoured as some tools write it. */
static void write_pem_staple(const char *leaf_der, const char *to)
{
	char *cmd = NULL;

	cr_assert(
		asprintf(&cmd,
			 "{ echo '-----BEGIN OCSP RESPONSE-----'; base64 -w64 "
			 "'%s'; echo '-----END OCSP RESPONSE-----'; } > '%s'",
			 kst_h_pki(leaf_der), to) > 0);
	cr_assert_eq(kst_h_sh(cmd, NULL, 5000), 0);
	free(cmd);
}

static const char *conf_with(const char *cert_line)
{
	char *text = NULL;
	const char *path = kst_h_path("k.conf");

	cr_assert(asprintf(&text,
			   "[global]\nallow-root = on\nbpf-pin-dir =\n"
			   "state-dir = %s\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:9\ncert = %s\n",
			   kst_h_dir(), kst_h_free_port(), cert_line) > 0);
	cr_assert_eq(kst_h_write(path, text, 0644), 0);
	free(text);
	return path;
}

static int check(const char *conf, char **out)
{
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c", (char *)conf,
			NULL};

	return kst_h_run(argv, NULL, 0, out, 20000);
}

Test(errors, a_ca_first_in_the_pem_says_the_leaf_must_come_first, .timeout = 60)
{
	const char *pem = kst_h_path("wrong-order.pem");
	char *cmd = NULL, *out = NULL;

	cr_assert(asprintf(&cmd, "cat '%s' '%s' '%s' > '%s' && chmod 600 '%s'",
			   kst_h_pki("int.crt"),
			   kst_h_pki("localhost-ecdsa.crt"),
			   kst_h_pki("localhost-ecdsa.key"), pem, pem) > 0);
	cr_assert_eq(kst_h_sh(cmd, NULL, 5000), 0);
	cr_assert_eq(check(conf_with(pem), &out), 1, "%s", out);
	cr_expect_not_null(strstr(out, "the leaf must come first"), "%s", out);
	cr_expect_not_null(strstr(out, "k.conf:10: cert "), "FILE:LINE: %s",
			   out);
	cr_expect_null(strstr(out, "does not match"), "not the key: %s", out);
	free(out);
	free(cmd);
}

Test(errors, a_pem_staple_gets_a_hint_to_convert_it_to_der, .timeout = 60)
{
	const char *leaf = kst_h_leaf("localhost-ecdsa");
	char staple[600], *out = NULL;

	snprintf(staple, sizeof(staple), "%s.ocsp", leaf);
	write_pem_staple("ocsp/localhost-ecdsa.der", staple);
	cr_assert_eq(check(conf_with(leaf), &out), 0, "a warning: %s", out);
	cr_expect_not_null(strstr(out, staple), "names the file: %s", out);
	cr_expect_not_null(strstr(out, "PEM text, not DER: convert it with "
				       "sed '/^-----/d' FILE | base64 -d > "
				       "FILE.der"),
			   "%s", out);
	free(out);
	/* and the hint is right: the converted file is a good staple */
	{
		char *cmd = NULL;

		cr_assert(asprintf(&cmd,
				   "sed '/^-----/d' '%s' | base64 -d > '%s.der'"
				   " && mv '%s.der' '%s'",
				   staple, staple, staple, staple) > 0);
		cr_assert_eq(kst_h_sh(cmd, NULL, 5000), 0);
		free(cmd);
	}
	cr_assert_eq(check(kst_h_path("k.conf"), &out), 0, "%s", out);
	cr_expect_null(strstr(out, "rejected"), "%s", out);
	free(out);
}

Test(errors, the_daemon_names_the_staple_file_it_rejects, .timeout = 90)
{
	struct kst_h_daemon d;
	const char *leaf = kst_h_leaf("localhost-ecdsa");
	char staple[600], want[700], *text = NULL;

	snprintf(staple, sizeof(staple), "%s.ocsp", leaf);
	cr_assert_eq(
		kst_h_copy(kst_h_pki("ocsp/localhost-ecdsa.der"), staple, 0644),
		0);
	cr_assert(asprintf(&text,
			   "[ocsp]\nfetch = off\n[listener:web]\n"
			   "bind = 127.0.0.1:%d\nbackend = 127.0.0.1:9\n"
			   "cert = %s\n",
			   kst_h_free_port(), leaf) > 0);
	cr_assert_eq(kst_h_daemon_start(&d, text), 0);
	write_pem_staple("ocsp/localhost-ecdsa.der", staple);
	cr_assert_eq(kst_h_daemon_reload(&d), 0);
	snprintf(want, sizeof(want),
		 "staple file %s rejected (parse): PEM text", staple);
	cr_expect_eq(kst_h_wait_log(d.log, want, 10000), 0,
		     "no '%s' in the log", want);
	cr_expect_eq(kst_h_daemon_stop(&d), 0);
	free(text);
}

Test(errors, a_directory_as_the_configuration_is_one_error, .timeout = 60)
{
	char *argv[] = {(char *)kst_h_kstapled(), "-c", (char *)kst_h_dir(),
			NULL};
	char *out = NULL;
	int lines = 0;

	cr_assert_eq(check(kst_h_dir(), &out), 1, "%s", out);
	for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_expect_eq(lines, 1, "one line:\n%s", out);
	cr_expect_not_null(strstr(out, "is a directory: give the configuration "
				       "file"),
			   "%s", out);
	free(out);
	/* starting with it: the same one error, exit 1 */
	cr_assert_eq(kst_h_run(argv, NULL, 0, &out, 20000), 1, "%s", out);
	cr_expect_not_null(strstr(out, "is a directory"), "%s", out);
	cr_expect_null(strstr(out, "no [listener"), "%s", out);
	free(out);
}

Test(errors, check_warns_of_a_pin_dir_off_bpffs, .timeout = 60)
{
	const char *leaf = kst_h_leaf("localhost-ecdsa");
	char *text = NULL, *out = NULL, want[600];
	const char *path = kst_h_path("pins.conf");

	cr_assert(asprintf(&text,
			   "[global]\nallow-root = on\nbpf-pin-dir = %s/pins\n"
			   "state-dir = %s\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:%d\n"
			   "backend = 127.0.0.1:9\ncert = %s\n",
			   kst_h_dir(), kst_h_dir(), kst_h_free_port(),
			   leaf) > 0);
	cr_assert_eq(kst_h_write(path, text, 0644), 0);
	cr_assert_eq(check(path, &out), 0, "a warning, not an error: %s", out);
	snprintf(want, sizeof(want),
		 "warning: bpf-pin-dir %s/pins: %s is not on a bpf filesystem",
		 kst_h_dir(), kst_h_dir());
	cr_expect_not_null(strstr(out, want), "%s", out);
	free(out);
	free(text);
}
