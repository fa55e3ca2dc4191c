// SPDX-License-Identifier: MIT
/*
 * `cert-dir = PATH` (daemon/config/certdir.c and its part of config.c): which
 * names a scan takes and in what order, errors and warnings with the
 * FILE:LINE of the cert-dir line and the file, the entries as cert refs
 * in place among `cert =` lines, a file listed twice loaded once, the
 * `-T` dump, loading (a PEM without a key), duplicate names by key type,
 * a rebuild after files were added and removed reusing the others, and
 * what cert-dir-watch takes for a change.
 * Each test works in its own temporary directory, removed at the end.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config/certdir.h"
#include "daemon/config/config.h"
#include "daemon/datapath/gen.h"
#include "daemon/ocsp/certstate.h"
#include "daemon/tls/tls.h"
#include "daemon/base/util.h"
#include "tests/lib/testutil.h"

static char cd_root[64];

static void cd_setup(void)
{
	snprintf(cd_root, sizeof(cd_root), "/tmp/kst-certdir.XXXXXX");
	cr_assert_not_null(mkdtemp(cd_root));
}

static void cd_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cd_root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", cd_root);
}

TestSuite(certdir, .init = cd_setup, .fini = cd_teardown);

/* cd_root/rel, in a static ring of buffers (a few alive at once) */
static const char *cd_path(const char *rel)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", cd_root, rel);
	return b;
}

static void cd_write(const char *rel, const char *text, int mode)
{
	int fd = open(cd_path(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      mode);

	cr_assert_geq(fd, 0, "%s: %s", rel, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, (mode_t)mode);
	close(fd);
}

/* A PKI file copied to rel, private (as a PEM holding a key must be). */
static void cd_pki(const char *pki_name, const char *rel)
{
	char *src = kst_test_pki_path(pki_name);
	unsigned char *buf = NULL;
	size_t len = 0;
	char *text;

	cr_assert_eq(kst_test_read_file(src, &buf, &len), 0, "%s", src);
	text = strndup((char *)buf, len);
	cd_write(rel, text, 0600);
	free(text);
	free(buf);
	free(src);
}

static void cd_mkdir(const char *rel)
{
	cr_assert_eq(mkdir(cd_path(rel), 0700), 0, "%s", rel);
}

/* k.conf in cd_root: [global]/[ocsp] for tests, then the listener body,
 * whose first line is line CD_L1 of the file */
#define CD_L1 10
static const char *cd_conf(const char *listener)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "[global]\nstate-dir = %s\nbpf-pin-dir =\nallow-root = on\n"
		 "[ocsp]\nfetch = off\n"
		 "[listener:web]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "%s",
		 cd_root, listener);
	cd_write("k.conf", text, 0644);
	return cd_path("k.conf");
}

/* The diag message containing needle, or NULL. */
static const struct kst_diag_msg *cd_msg(const struct kst_diag *d,
					 const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i].text, needle) != NULL)
			return &d->msgs[i];
	return NULL;
}

static void cd_dump_diag(const struct kst_diag *d)
{
	kst_diag_print(d, stderr);
}

/* ---------------------------------------------------------- names */

struct name_case {
	char name[32];
	bool wanted;
};

/* clang-format off */
static struct name_case name_cases[] = {
	{ "example.com.pem", true },   { "a.pem", true },
	{ "0.pem", true },             { "with space.pem", true },
	{ ".pem", false },             { ".hidden.pem", false },
	{ "pem", false },              { "a.pem.ocsp", false },
	{ "a.key", false },            { "a.crt", false },
	{ "a.PEM", false },            { "a.pem~", false },
	{ "a.pem.bak", false },        { "apem", false },
};
/* clang-format on */

ParameterizedTestParameters(certdir, takes_only_pem_names_not_dotfiles)
{
	return cr_make_param_array(struct name_case, name_cases,
				   KST_ARRAY_SIZE(name_cases));
}

ParameterizedTest(struct name_case *c, certdir,
		  takes_only_pem_names_not_dotfiles)
{
	cr_assert_eq(kst_certdir_wanted(c->name), c->wanted, "%s", c->name);
}

/* ----------------------------------------------------------- scan */

Test(certdir, scan_lists_pem_files_and_links_in_byte_order)
{
	static const char *const want[] = {"B.pem",	   "a.pem",
					   "dangling.pem", "link.pem",
					   "z10.pem",	   "z9.pem"};
	struct kst_certdir_list l;
	struct kst_diag d;

	cd_mkdir("d");
	cd_write("d/a.pem", "x", 0600);
	cd_write("d/B.pem", "x", 0600);
	cd_write("d/z9.pem", "x", 0600);
	cd_write("d/z10.pem", "x", 0600);
	cd_write("d/a.pem.ocsp", "x", 0644);
	cd_write("d/a.key", "x", 0600);
	cd_write("d/.hidden.pem", "x", 0600);
	cd_write("d/notes.txt", "x", 0644);
	cd_mkdir("d/sub.pem");
	cd_write("d/sub.pem/inner.pem", "x", 0600);
	cr_assert_eq(symlink("a.pem", cd_path("d/link.pem")), 0);
	cr_assert_eq(symlink("sub.pem", cd_path("d/dirlink.pem")), 0);
	/* a dangling link is kept: loading it says why it cannot be read */
	cr_assert_eq(symlink("gone", cd_path("d/dangling.pem")), 0);
	kst_diag_init(&d);
	cr_assert_eq(kst_certdir_scan(cd_path("d"), "k.conf", 3, &d, &l), 0);
	cr_expect_eq(d.n, 0, "no diagnostic");
	cr_assert_eq(l.n, KST_ARRAY_SIZE(want), "%zu names", l.n);
	for (size_t i = 0; i < l.n; i++)
		cr_expect_str_eq(l.names[i], want[i], "entry %zu", i);
	kst_certdir_list_free(&l);
	cr_expect_eq(l.n, 0);
	kst_diag_free(&d);
}

Test(certdir, a_missing_directory_is_an_error_at_the_cert_dir_line)
{
	struct kst_certdir_list l;
	struct kst_diag d;
	const struct kst_diag_msg *m;

	kst_diag_init(&d);
	cr_assert_eq(kst_certdir_scan(cd_path("nope"), "k.conf", 12, &d, &l),
		     -EINVAL);
	cr_assert_eq(d.errors, 1);
	m = cd_msg(&d, "cannot open: No such file or directory");
	cr_assert_not_null(m);
	cr_expect_str_eq(m->file, "k.conf");
	cr_expect_eq(m->line, 12);
	cr_expect_not_null(strstr(m->text, cd_path("nope")), "%s", m->text);
	cr_expect_eq(l.n, 0);
	kst_diag_free(&d);
}

Test(certdir, a_file_given_as_cert_dir_is_an_error)
{
	struct kst_certdir_list l;
	struct kst_diag d;

	cd_write("file.pem", "x", 0600);
	kst_diag_init(&d);
	cr_assert_eq(kst_certdir_scan(cd_path("file.pem"), "k.conf", 4, &d, &l),
		     -EINVAL);
	cr_assert_not_null(cd_msg(&d, "is not a directory"));
	cr_expect_eq(d.msgs[0].line, 4);
	kst_diag_free(&d);
}

Test(certdir, an_empty_directory_is_a_warning_not_an_error)
{
	struct kst_certdir_list l;
	struct kst_diag d;

	cd_mkdir("empty");
	cd_write("empty/only.key", "x", 0600);
	kst_diag_init(&d);
	cr_assert_eq(kst_certdir_scan(cd_path("empty"), "k.conf", 9, &d, &l),
		     0);
	cr_expect_eq(l.n, 0);
	cr_expect_eq(d.errors, 0);
	cr_assert_eq(d.warnings, 1);
	cr_expect_not_null(cd_msg(&d, "holds no *.pem file"));
	cr_expect_eq(d.msgs[0].line, 9);
	kst_diag_free(&d);
}

/* ------------------------------------------------------ the parser */

Test(certdir, entries_become_cert_refs_in_place_and_in_order)
{
	struct kst_config *c;
	struct kst_diag d;
	const struct kst_listener_conf *lc;
	char want[600];

	cd_mkdir("certs");
	cd_write("certs/b.pem", "x", 0600);
	cd_write("certs/a.pem", "x", 0600);
	cd_write("first.pem", "x", 0600);
	cd_write("last.pem", "x", 0600);
	kst_diag_init(&d);
	/* relative to the configuration's directory, like every path */
	c = kst_config_parse(cd_conf("cert = ./first.pem\n"
				     "cert-dir = certs\n" /* CD_L1 + 1 */
				     "cert = ./last.pem\n"),
			     &d);
	cd_dump_diag(&d);
	cr_assert_not_null(c);
	lc = &c->listeners[0];
	cr_assert_eq(lc->n_certs, 4);
	cr_assert_eq(lc->n_cert_dirs, 1);
	snprintf(want, sizeof(want), "%s/certs", cd_root);
	cr_expect_str_eq(lc->cert_dirs[0].path, want);
	cr_expect_eq(lc->cert_dirs[0].line, CD_L1 + 1);
	cr_expect_eq(lc->cert_dirs[0].first, 1);
	cr_expect_eq(lc->cert_dirs[0].n, 2);
	cr_expect_str_eq(c->certs[lc->certs[0].cert].pem,
			 cd_path("./first.pem"));
	cr_expect_str_eq(c->certs[lc->certs[1].cert].pem,
			 cd_path("certs/a.pem"));
	cr_expect_str_eq(c->certs[lc->certs[2].cert].pem,
			 cd_path("certs/b.pem"));
	cr_expect_str_eq(c->certs[lc->certs[3].cert].pem,
			 cd_path("./last.pem"));
	cr_expect_eq(lc->certs[1].line, CD_L1 + 1);
	cr_expect_eq(c->certs[lc->certs[2].cert].pem_line, CD_L1 + 1);
	cr_expect(c->certs[lc->certs[2].cert].inline_cert);
	kst_config_free(c);
	kst_diag_free(&d);
}

Test(certdir, a_file_named_by_cert_and_found_in_the_dir_is_one_cert)
{
	struct kst_config *c;
	struct kst_diag d;
	const struct kst_listener_conf *lc;

	cd_mkdir("certs");
	cd_write("certs/a.pem", "x", 0600);
	cd_write("certs/b.pem", "x", 0600);
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert = certs/b.pem\n"
				     "cert-dir = certs/\n"),
			     &d);
	cd_dump_diag(&d);
	cr_assert_not_null(c);
	lc = &c->listeners[0];
	cr_assert_eq(lc->n_certs, 3);
	cr_expect_eq(c->n_certs, 2, "b.pem is one certificate");
	cr_expect_eq(lc->certs[0].cert, lc->certs[2].cert);
	cr_expect_str_eq(c->certs[lc->certs[1].cert].pem,
			 cd_path("certs/a.pem"), "no doubled '/'");
	kst_config_free(c);
	kst_diag_free(&d);
}

Test(certdir, parse_errors_name_the_cert_dir_line)
{
	struct kst_config *c;
	struct kst_diag d;
	const struct kst_diag_msg *m;

	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir = missing\n"), &d);
	cr_expect_null(c);
	m = cd_msg(&d, "cert-dir ");
	cr_assert_not_null(m);
	cr_expect_str_eq(m->file, cd_path("k.conf"));
	cr_expect_eq(m->line, CD_L1);
	cr_expect_not_null(strstr(m->text, cd_path("missing")), "%s", m->text);
	cr_expect_not_null(cd_msg(&d, "listener 'web' has no cert"));
	kst_diag_free(&d);
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir =\n"), &d);
	cr_expect_null(c);
	cr_expect_not_null(cd_msg(&d, "cert-dir needs a value"));
	kst_diag_free(&d);
}

Test(certdir, an_empty_dir_warns_and_a_listener_left_without_certs_fails)
{
	struct kst_config *c;
	struct kst_diag d;

	cd_mkdir("empty");
	cd_write("one.pem", "x", 0600);
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir = empty\ncert = ./one.pem\n"),
			     &d);
	cr_assert_not_null(c, "a warning only");
	cr_expect_eq(d.warnings, 1);
	cr_expect_eq(c->listeners[0].cert_dirs[0].n, 0);
	kst_config_free(c);
	kst_diag_free(&d);
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir = empty\n"), &d);
	cr_expect_null(c);
	cr_expect_not_null(cd_msg(&d, "holds no *.pem file"));
	cr_expect_not_null(cd_msg(&d, "listener 'web' has no cert"));
	kst_diag_free(&d);
}

Test(certdir, key_cannot_follow_a_cert_dir)
{
	struct kst_config *c;
	struct kst_diag d;
	const struct kst_diag_msg *m;

	cd_mkdir("certs");
	cd_write("certs/a.pem", "x", 0600);
	kst_diag_init(&d);
	c = kst_config_parse(
		cd_conf("cert-dir = certs\nkey = /etc/kstapled/a.key\n"), &d);
	cr_expect_null(c);
	m = cd_msg(&d, "not cert-dir (line");
	cr_assert_not_null(m);
	cr_expect_eq(m->line, CD_L1 + 1);
	kst_diag_free(&d);
}

Test(certdir, dump_shows_the_cert_dir_line_and_reads_back)
{
	struct kst_config *c, *c2;
	struct kst_diag d;
	char *dump, *dump2;
	char line[600];

	cd_mkdir("certs");
	for (int i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "certs/c%d.pem", i);
		cd_write(line, "x", 0600);
	}
	cd_write("x.pem", "x", 0600);
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir = certs\ncert = ./x.pem\n"), &d);
	cr_assert_not_null(c);
	dump = kst_config_dump_string(c, NULL);
	cr_assert_not_null(dump);
	snprintf(line, sizeof(line), "\ncert-dir = %s/certs\n", cd_root);
	cr_expect_not_null(strstr(dump, line), "%s", dump);
	cr_expect_null(strstr(dump, "c0.pem"), "the files are not listed");
	cr_expect(strstr(dump, "cert-dir") < strstr(dump, "x.pem"),
		  "in the order of the file");
	c2 = kst_config_parse_string(cd_path("k2.conf"), dump, &d);
	cr_assert_not_null(c2);
	cr_expect_eq(c2->listeners[0].n_certs, 6);
	dump2 = kst_config_dump_string(c2, NULL);
	cr_expect_str_eq(strchr(dump2, '\n'), strchr(dump, '\n'));
	free(dump);
	free(dump2);
	kst_config_free(c);
	kst_config_free(c2);
	kst_diag_free(&d);
}

Test(certdir, thousands_of_entries_parse_sorted)
{
	enum { N = 3000 };
	struct kst_config *c;
	struct kst_diag d;
	const struct kst_listener_conf *lc;
	char rel[64];

	cd_mkdir("many");
	for (int i = 0; i < N; i++) {
		snprintf(rel, sizeof(rel), "many/h%05d.pem", (i * 7919) % N);
		cd_write(rel, "", 0600);
	}
	kst_diag_init(&d);
	c = kst_config_parse(cd_conf("cert-dir = many\n"), &d);
	cr_assert_not_null(c);
	lc = &c->listeners[0];
	cr_assert_eq(lc->n_certs, N);
	cr_assert_eq(c->n_certs, N);
	for (int i = 0; i < N; i++) {
		snprintf(rel, sizeof(rel), "many/h%05d.pem", i);
		cr_assert_str_eq(c->certs[lc->certs[i].cert].pem, cd_path(rel));
	}
	kst_config_free(c);
	kst_diag_free(&d);
}

/* --------------------------------------------- loading (generation) */

/* one registry for a test's generations, as the daemon has */
static struct kst_registry cd_reg;

struct cd_built {
	struct kst_gen *g;
	struct kst_diag d;
	int rc;
};

static void cd_build(struct cd_built *b, const char *listener,
		     const struct kst_gen *prev)
{
	struct kst_gen_env env = {.nworkers = 1, .open_sockets = false};
	struct kst_config *conf;

	kst_tls_init();
	if (prev == NULL)
		kst_registry_init(&cd_reg, 1);
	env.reg = &cd_reg;
	env.prev = prev;
	kst_diag_init(&b->d);
	b->g = NULL;
	conf = kst_config_parse(cd_conf(listener), &b->d);
	cr_assert_not_null(conf, "the configuration parses");
	b->rc = kst_gen_build(conf, &env, &b->d, &b->g);
	if (b->rc < 0)
		kst_config_free(conf);
}

Test(certdir, a_pem_without_a_key_is_an_error_naming_the_file)
{
	struct cd_built b;
	const struct kst_diag_msg *m;

	cd_mkdir("certs");
	cd_pki("localhost-ecdsa.pem", "certs/a.pem");
	cd_pki("other-ecdsa.crt", "certs/nokey.pem");
	cd_build(&b, "cert-dir = certs\n", NULL);
	cr_expect_lt(b.rc, 0);
	m = cd_msg(&b.d, cd_path("certs/nokey.pem"));
	cr_assert_not_null(m, "names the file");
	cr_expect_eq(m->line, CD_L1, "the cert-dir line");
	cr_expect_str_eq(m->file, cd_path("k.conf"));
	cr_expect_not_null(strstr(m->text, "no PEM private key"), "%s",
			   m->text);
	cr_expect_eq(b.d.errors, 1, "a.pem is fine");
	kst_diag_free(&b.d);
}

Test(certdir, same_name_and_key_type_twice_is_a_warning_naming_both)
{
	struct cd_built b;
	const struct kst_diag_msg *m;

	cd_mkdir("certs");
	cd_pki("localhost-ecdsa.pem", "certs/a.pem");
	cd_pki("localhost-ecdsa.pem", "certs/b.pem");
	cd_pki("localhost-rsa.pem", "certs/c.pem"); /* same name, RSA */
	cd_pki("other-ecdsa.pem", "other.pem");
	cd_build(&b, "cert = ./other.pem\ncert-dir = certs\n", NULL);
	cd_dump_diag(&b.d);
	cr_assert_eq(b.rc, 0, "a warning, not an error");
	cr_assert_eq(b.d.warnings, 1);
	m = cd_msg(&b.d, "both serve localhost with an ECDSA P-256 key");
	cr_assert_not_null(m);
	cr_expect_not_null(strstr(m->text, cd_path("certs/a.pem")));
	cr_expect_not_null(strstr(m->text, cd_path("certs/b.pem")));
	cr_expect_eq(m->line, CD_L1 + 1);
	kst_gen_destroy(b.g, &cd_reg);
	kst_diag_free(&b.d);
}

Test(certdir, many_duplicates_warn_ten_times_then_count_the_rest)
{
	struct cd_built b;
	char rel[64];

	cd_mkdir("certs");
	for (int i = 0; i < 14; i++) {
		snprintf(rel, sizeof(rel), "certs/d%02d.pem", i);
		cd_pki("localhost-ecdsa.pem", rel);
	}
	cd_build(&b, "cert-dir = certs\n", NULL);
	cr_assert_eq(b.rc, 0);
	cr_expect_eq(b.d.warnings, 11, "10 named, then one count");
	cr_expect_not_null(cd_msg(&b.d, "listener web: 3 more certificates"));
	kst_gen_destroy(b.g, &cd_reg);
	kst_diag_free(&b.d);
}

Test(certdir, duplicates_across_cert_lines_warn_the_same_way)
{
	struct cd_built b;

	cd_pki("localhost-ecdsa.pem", "a.pem");
	cd_pki("localhost-ecdsa.pem", "b.pem");
	cd_build(&b, "cert = ./a.pem\ncert = ./b.pem\n", NULL);
	cr_assert_eq(b.rc, 0);
	cr_expect_not_null(cd_msg(&b.d, "both serve localhost"));
	cr_expect_eq(b.d.msgs[0].line, CD_L1 + 1);
	kst_gen_destroy(b.g, &cd_reg);
	kst_diag_free(&b.d);
}

Test(certdir, one_file_by_cert_line_and_dir_is_no_duplicate)
{
	struct cd_built b;

	cd_mkdir("certs");
	cd_pki("localhost-ecdsa.pem", "certs/a.pem");
	cd_pki("localhost-rsa.pem", "certs/b.pem");
	cd_build(&b, "cert = certs/a.pem\ncert-dir = certs\n", NULL);
	cd_dump_diag(&b.d);
	cr_assert_eq(b.rc, 0);
	cr_expect_eq(b.d.n, 0, "no warning");
	cr_expect_eq(b.g->n_certs, 2, "loaded once");
	kst_gen_destroy(b.g, &cd_reg);
	kst_diag_free(&b.d);
}

/* A reload (a rebuild with the previous generation) lists the directory
 * again: an added file is loaded, a removed one gone, the rest reused. */
Test(certdir, a_rebuild_sees_added_and_removed_files_and_reuses_the_rest)
{
	struct cd_built b1, b2, b3;

	cd_mkdir("certs");
	cd_pki("localhost-ecdsa.pem", "certs/a.pem");
	cd_pki("localhost-rsa.pem", "certs/b.pem");
	cd_build(&b1, "cert-dir = certs\n", NULL);
	cr_assert_eq(b1.rc, 0);
	cr_assert_eq(b1.g->n_certs, 2);

	cd_pki("other-ecdsa.pem", "certs/c.pem");
	cd_build(&b2, "cert-dir = certs\n", b1.g);
	cr_assert_eq(b2.rc, 0);
	cr_expect_eq(b2.g->n_certs, 3);
	cr_expect_eq(b2.g->n_reused, 2, "a.pem and b.pem reused");
	cr_expect(!b2.g->certs[2]->reused, "c.pem is new");

	cr_assert_eq(unlink(cd_path("certs/a.pem")), 0);
	cd_build(&b3, "cert-dir = certs\n", b2.g);
	cr_assert_eq(b3.rc, 0);
	cr_expect_eq(b3.g->n_certs, 2);
	cr_expect_eq(b3.g->n_reused, 2);
	cr_expect_str_eq(b3.g->certs[0]->pem_path, cd_path("certs/b.pem"));
	cr_expect_str_eq(b3.g->listeners[0].tls.certs[0].cert->pem_path,
			 cd_path("certs/b.pem"), "b.pem is now the default");

	kst_gen_destroy(b1.g, &cd_reg);
	kst_gen_destroy(b2.g, &cd_reg);
	kst_gen_destroy(b3.g, &cd_reg);
	kst_diag_free(&b1.d);
	kst_diag_free(&b2.d);
	kst_diag_free(&b3.d);
}

/* ------------------------------------------------------- watching */

/* Every pending inotify event of fd, fed to kst_certdir_event at now. */
static void cd_feed(int fd, uint64_t now)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			kst_certdir_event(ev, now);
		}
}

static struct kst_config *cd_watch_conf(const char *watch)
{
	char text[1024];
	struct kst_config *c;
	struct kst_diag d;

	snprintf(text, sizeof(text),
		 "[global]\ncert-dir-watch = %s\n"
		 "[listener:web]\nbind = 127.0.0.1:0\nbackend = 127.0.0.1:9\n"
		 "cert = /etc/kstapled/a.pem\ncert-dir = certs\n",
		 watch);
	cd_write("w.conf", text, 0644);
	kst_diag_init(&d);
	c = kst_config_parse(cd_path("w.conf"), &d);
	kst_diag_free(&d);
	cr_assert_not_null(c);
	return c;
}

Test(certdir, watch_is_due_once_a_second_after_a_pem_changed)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct kst_config *on, *off;

	cr_assert_geq(fd, 0);
	cd_mkdir("certs");
	on = cd_watch_conf("on");
	off = cd_watch_conf("off");
	kst_certdir_watch(on, fd);

	cd_write("certs/a.pem.ocsp", "x", 0644); /* a staple: no reason */
	cd_write("certs/.tmp.pem", "x", 0600);	 /* a dotfile: none */
	cd_feed(fd, 1000);
	cr_expect(!kst_certdir_due(10000));

	cd_write("certs/a.pem", "x", 0600);
	cd_feed(fd, 1000);
	cr_expect(!kst_certdir_due(1500), "not while it may go on");
	cd_write("certs/b.pem", "x", 0600);
	cd_feed(fd, 1800);
	cr_expect(!kst_certdir_due(2500), "the last change counts");
	cr_expect(kst_certdir_due(2800));
	cr_expect(!kst_certdir_due(5000), "once");

	cr_assert_eq(unlink(cd_path("certs/a.pem")), 0);
	cd_feed(fd, 6000);
	cr_expect(kst_certdir_due(7000), "a removal too");

	kst_certdir_watch(off, fd); /* a reload turned it off */
	cd_write("certs/c.pem", "x", 0600);
	cd_feed(fd, 8000);
	cr_expect(!kst_certdir_due(20000));
	close(fd);
	kst_config_free(on);
	kst_config_free(off);
}
