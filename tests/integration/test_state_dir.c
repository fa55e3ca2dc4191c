// SPDX-License-Identifier: MIT
/*
 * state-dir as an operator meets it (issue 16): a state-dir that cannot
 * be written never keeps a fetched good response from being stapled (a
 * warning, once, and the write is tried again until it works); `kstapled
 * -t` reports a state-dir start-up could not use, with the FILE:LINE of
 * the option; a missing state-dir is created, mode 0750 whatever the
 * umask. The tests run as root, which mode bits do not stop: "cannot be
 * written" is a state-dir below a regular file.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

static struct kst_h_ocspd r;

static struct kst_edge edge;

static void stop_all(void)
{
	kst_edge_stop(&edge);
	kst_h_ocspd_stop(&r);
}

TestSuite(state_dir, .fini = stop_all);

/* Serve localhost-ecdsa fetching from the index responder, with global
 * lines (state-dir) in a [global] of their own. */
static void start(const char *global)
{
	struct kst_edge_conf c = {
		.global = global,
		.ocsp = "startup-wait = 5s\nconnect-timeout = 1s\n"
			"response-timeout = 2s\n",
		.listener = "cert = ec\n",
	};
	char *sections = NULL;

	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	cr_assert(asprintf(&sections, "[cert:ec]\npem = %s\nocsp-url = %s\n",
			   kst_h_leaf("localhost-ecdsa"), r.url) > 0);
	c.sections = sections;
	kst_edge_start(&edge, &c);
	free(sections);
}

/* What `openssl s_client -status` prints of the staple. */
static char *s_client_status(void)
{
	char *out = NULL;
	char *argv[] = {"openssl", "s_client",	  "-connect",  edge.addr,
			"-status", "-servername", "localhost", NULL};

	cr_assert_eq(kst_h_run(argv, "Q\n", 2, &out, 20000), 0, "%s", out);
	return out;
}

/* Files in dir whose name ends with ".ocsp". */
static int ocsp_files(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (dh != NULL && (e = readdir(dh)) != NULL) {
		size_t l = strlen(e->d_name);

		n += l > 5 && strcmp(e->d_name + l - 5, ".ocsp") == 0;
	}
	if (dh != NULL)
		closedir(dh);
	return n;
}

Test(state_dir, a_fetched_response_is_stapled_when_it_cannot_be_persisted,
     .timeout = 90)
{
	char global[600], cmd[1200], state[512], *out;
	const char *file = kst_h_path("a-file");

	cr_assert_eq(kst_h_write(file, "not a directory\n", 0644), 0);
	snprintf(state, sizeof(state), "%s/state", file);
	snprintf(global, sizeof(global), "state-dir = %s\n", state);
	start(global);
	out = s_client_status();
	cr_expect(strstr(out, "OCSP Response Status: successful (0x0)") !=
				  NULL &&
			  strstr(out, "Cert Status: good") != NULL,
		  "the response the responder gave is stapled:\n%s", out);
	free(out);
	cr_expect_eq(kst_h_count(edge.d.log, "failed (write)"), 0, "%s",
		     edge.d.log);
	cr_expect_gt(kst_h_count(edge.d.log, "cannot write"), 0,
		     "the log says the response is not persisted");
	/* a scan (every 5 s) tries the write again, and says nothing new */
	sleep(6);
	cr_expect_eq(kst_h_count(edge.d.log, "cannot write"), 1,
		     "warned once, not at every retry");
	/* the operator fixes it: the next retry writes the staple served */
	snprintf(cmd, sizeof(cmd), "rm -f %s && mkdir -p %s", file, state);
	cr_assert_eq(kst_h_sh(cmd, NULL, 5000), 0);
	cr_expect_eq(kst_h_wait_log(edge.d.log, "written to", 15000), 0,
		     "the write was tried again");
	cr_expect_eq(ocsp_files(state), 1, "persisted once it could be");
	stop_all();
}

/* `kstapled -t` on a configuration whose line 3 sets state-dir = dir. */
static int check(const char *dir, char **out)
{
	char *conf = NULL;
	char *argv[] = {(char *)kst_h_kstapled(), "-t", "-c",
			(char *)kst_h_path("check.conf"), NULL};
	int rc;

	cr_assert(asprintf(&conf,
			   "[global]\nallow-root = on\nstate-dir = %s\n"
			   "bpf-pin-dir =\n[ocsp]\nfetch = off\n"
			   "[listener:web]\nbind = 127.0.0.1:8443\n"
			   "backend = 127.0.0.1:8080\ncert = %s\n",
			   dir, kst_h_leaf("localhost-ecdsa")) > 0);
	kst_h_write(kst_h_path("check.conf"), conf, 0644);
	free(conf);
	rc = kst_h_run(argv, NULL, 0, out, 20000);
	return rc;
}

Test(state_dir, check_reports_a_state_dir_that_cannot_be_used, .timeout = 60)
{
	char dir[512], where[600], *out = NULL;
	const char *file = kst_h_path("a-file");

	cr_assert_eq(kst_h_write(file, "not a directory\n", 0644), 0);
	snprintf(where, sizeof(where), "%s:3: ", kst_h_path("check.conf"));
	/* below a regular file: it can be neither used nor created */
	snprintf(dir, sizeof(dir), "%s/state", file);
	cr_expect_eq(check(dir, &out), 1, "an error: %s", out);
	cr_expect(strstr(out, where) != NULL && strstr(out, dir) != NULL &&
			  strstr(out, "Not a directory") != NULL,
		  "FILE:LINE, the path and why: %s", out);
	free(out);
	/* a regular file as the state-dir */
	cr_expect_eq(check(file, &out), 1, "an error: %s", out);
	cr_expect(strstr(out, where) != NULL &&
			  strstr(out, "is not a directory") != NULL,
		  "%s", out);
	free(out);
	/* missing, in a directory that exists: created at start */
	cr_expect_eq(check(kst_h_path("to-be-made"), &out), 0,
		     "start-up creates it: a warning, not an error: %s", out);
	cr_expect(strstr(out, where) != NULL &&
			  strstr(out, "does not exist: start-up creates it") !=
				  NULL,
		  "%s", out);
	free(out);
	/* and one that is there */
	cr_expect_eq(mkdir(kst_h_path("usable"), 0750), 0);
	cr_expect_eq(check(kst_h_path("usable"), &out), 0, "%s", out);
	cr_expect(strstr(out, "state-dir") == NULL, "nothing to say: %s", out);
	free(out);
}

Test(state_dir, a_missing_state_dir_is_created_0750_whatever_the_umask,
     .timeout = 90)
{
	char global[600], state[512];
	mode_t old = umask(077);
	struct stat st;

	snprintf(state, sizeof(state), "%s", kst_h_path("made"));
	snprintf(global, sizeof(global), "state-dir = %s\n", state);
	start(global);
	umask(old);
	cr_assert_eq(lstat(state, &st), 0, "state-dir created");
	cr_expect(S_ISDIR(st.st_mode));
	cr_expect_eq(st.st_mode & 07777, 0750, "mode %04o",
		     (unsigned)(st.st_mode & 07777));
	cr_expect_eq(ocsp_files(state), 1, "the fetched staple is in it");
	stop_all();
}
