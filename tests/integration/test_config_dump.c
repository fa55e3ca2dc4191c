// SPDX-License-Identifier: MIT
/*
 * `kstapled -T` as an operator uses it (issue 12, defect 8): its standard
 * output, saved to a file, is a configuration that `-t` accepts and that
 * dumps again to the same text, [cert:NAME] sections included (they used
 * to print `key =` and `staple-file =` with no value, which does not
 * parse), with the check's report kept off standard output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

/* `kstapled -T -c conf`, standard output only, into out_path. */
static int dump_to(const char *conf, const char *out_path)
{
	char cmd[1600];

	snprintf(cmd, sizeof(cmd), "'%s' -T -c '%s' > '%s' 2>/dev/null",
		 kst_h_kstapled(), conf, out_path);
	return kst_h_sh(cmd, NULL, 20000);
}

/* The dump without its first line, which names the file dumped. */
static const char *body(const char *text)
{
	const char *nl = strchr(text, '\n');

	return nl ? nl + 1 : text;
}

Test(config_dump, the_dump_reads_back_as_the_same_configuration, .timeout = 60)
{
	const char *key = kst_h_path("c.key"), *pem = kst_h_path("c.pem");
	const char *conf = kst_h_path("orig.conf");
	char *text = NULL, *d1, *d2, *out = NULL;
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c",
			 (char *)kst_h_path("dump1.conf"), NULL};

	cr_assert_eq(
		kst_h_copy(kst_h_pki("localhost-ecdsa.chain.pem"), pem, 0644),
		0);
	cr_assert_eq(kst_h_copy(kst_h_pki("localhost-ecdsa.key"), key, 0600),
		     0);
	cr_assert(asprintf(&text,
			   "[global]\nallow-root = on\nbpf-pin-dir =\n"
			   "state-dir = %s\nworkers = 2\n"
			   "[ocsp]\nfetch = off\npolicy = strict\n"
			   "[cert:c]\npem = %s\nkey = %s\nstapling = off\n"
			   "ocsp-url = http://127.0.0.1:1/\n"
			   "[listener:web]\nbind = 127.0.0.1:8443\n"
			   "bind = [::1]:8443\nbackend = 127.0.0.1:8080\n"
			   "cert = c\ncert = %s\nalpn = h2, http/1.1\n",
			   kst_h_path("state"), pem, key,
			   kst_h_leaf("other-ecdsa")) > 0);
	kst_h_write(conf, text, 0644);
	cr_assert_eq(dump_to(conf, kst_h_path("dump1.conf")), 0);
	cr_assert_eq(kst_h_run(check, NULL, 0, &out, 20000), 0,
		     "the dump does not check:\n%s", out);
	cr_assert_eq(
		dump_to(kst_h_path("dump1.conf"), kst_h_path("dump2.conf")), 0);
	d1 = kst_h_read(kst_h_path("dump1.conf"));
	d2 = kst_h_read(kst_h_path("dump2.conf"));
	cr_assert(d1 != NULL && d2 != NULL);
	cr_expect_str_eq(body(d1), body(d2));
	cr_expect(strstr(d1, "[cert:c]") != NULL, "%s", d1);
	cr_expect(strstr(d1, "configuration OK") == NULL,
		  "the report is not part of the configuration:\n%s", d1);
	free(d1);
	free(d2);
	free(out);
	free(text);
}

/*
 * Whatever the check has to say (a warning about a staple file, the NIC
 * report, "configuration OK") goes to standard error: every line of
 * standard output is a section, a `key = value` or a comment.
 */
Test(config_dump, notices_and_warnings_stay_off_standard_output, .timeout = 60)
{
	const char *conf = kst_h_path("warn.conf"), *out = kst_h_path("o.conf");
	const char *leaf = kst_h_leaf("localhost-ecdsa");
	char *text = NULL, *cmd = NULL, *err = NULL, *d = NULL, *save = NULL;
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c", (char *)out,
			 NULL};
	char staple[600];

	/* garbage where the staple should be: a warning, not an error */
	snprintf(staple, sizeof(staple), "%s.ocsp", leaf);
	kst_h_write(staple, "not DER\n", 0644);
	cr_assert(asprintf(&text,
			   "[global]\nallow-root = on\nbpf-pin-dir =\n"
			   "state-dir = %s\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:8443\n"
			   "backend = 127.0.0.1:8080\ncert = %s\n",
			   kst_h_path("state"), leaf) > 0);
	kst_h_write(conf, text, 0644);
	cr_assert(asprintf(&cmd, "'%s' -T -c '%s' > '%s' 2>'%s'",
			   kst_h_kstapled(), conf, out,
			   kst_h_path("stderr")) > 0);
	cr_assert_eq(kst_h_sh(cmd, NULL, 20000), 0);
	err = kst_h_read(kst_h_path("stderr"));
	d = kst_h_read(out);
	cr_assert(err != NULL && d != NULL);
	cr_expect(strstr(err, "warning:") != NULL, "a warning: %s", err);
	cr_expect(strstr(err, "configuration OK\n") != NULL, "%s", err);
	for (char *l = strtok_r(d, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save))
		cr_expect(l[0] == '#' || l[0] == '[' || strstr(l, " = ") ||
				  (strlen(l) > 2 &&
				   strcmp(l + strlen(l) - 2, " =") == 0),
			  "not configuration on stdout: '%s'", l);
	free(d);
	d = NULL;
	cr_expect_eq(kst_h_run(check, NULL, 0, &d, 20000), 0,
		     "-t of the dump:\n%s", d);
	free(d);
	free(err);
	free(cmd);
	free(text);
}
