// SPDX-License-Identifier: MIT
/*
 * What the control thread keeps in state-dir of what fetches brought
 * (kst_staplefile_ingest_fetched, kst_staplefile_persist; issue 16): only a
 * response that became the staple served is written; an older one (a
 * replay), or one refused while a revocation is held, leaves the file as
 * it is; a state-dir that cannot be written still staples, warns once, and
 * the write succeeds at the first retry after the cause is gone.
 * Responses are minted with chosen times; the log is read back from
 * stderr.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ocsp.h>

#include "daemon/base/util.h"
#include "daemon/control/staplefile.h"
#include "daemon/ocsp/fetch.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"

#define LEAF "localhost-ecdsa"
#define H    3600

static struct kst_registry reg;
static struct kst_certstate *cs;
static time_t now;
static int log_fd = -1, saved_stderr = -1;

static void setup(void)
{
	X509 *leaf = kst_test_cert(LEAF), *issuer = kst_test_cert("int");
	unsigned char sha[32] = {0x5e};
	char path[] = "/tmp/kst-persist-log-XXXXXX";

	cr_assert(leaf != NULL && issuer != NULL, "test PKI");
	kst_registry_init(&reg, 1);
	cs = kst_registry_get1(&reg, leaf, issuer, sha, "ec");
	cr_assert_not_null(cs);
	X509_free(leaf);
	X509_free(issuer);
	now = time(NULL);
	log_fd = mkstemp(path);
	cr_assert_geq(log_fd, 0);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	dup2(log_fd, STDERR_FILENO);
}

static void teardown(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(log_fd);
	kst_registry_put(&reg, cs);
}

TestSuite(persist, .init = setup, .fini = teardown);

/* Lines of the log so far that contain needle. */
static int logged(const char *needle)
{
	char buf[16384];
	ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
	int count = 0;

	cr_assert_geq(n, 0);
	buf[n] = '\0';
	for (char *p = buf; (p = strstr(p, needle)) != NULL; p++)
		count++;
	return count;
}

struct resp {
	unsigned char *der;
	size_t len;
	time_t this_update;
};

static struct resp mint(int status, time_t this_update)
{
	struct resp r = {NULL, 0, this_update};

	cr_assert_eq(kst_mint_simple(LEAF, status, this_update, now + 24 * H,
				     "int", &r.der, &r.len),
		     0);
	return r;
}

static enum kst_ocsp_err fetched(const struct resp *r)
{
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict v;

	kst_ocsp_params_default(&p);
	return kst_staplefile_ingest_fetched(cs, r->der, r->len, &p, now, &v,
					     NULL);
}

static bool on_disk(const char *path, const struct resp *r)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	bool same;

	if (kst_test_read_file(path, &buf, &len) < 0)
		return false;
	same = len == r->len && memcmp(buf, r->der, len) == 0;
	free(buf);
	return same;
}

static time_t served(void)
{
	return cs->cur ? cs->cur->this_update : 0;
}

Test(persist, only_the_staple_served_is_written)
{
	const char *path = kst_h_path("only.ocsp");
	struct resp newer = mint(V_OCSP_CERTSTATUS_GOOD, now - 2 * H);
	struct resp older = mint(V_OCSP_CERTSTATUS_GOOD, now - 3 * H);

	cs->ocsp.state_path = strdup(path);
	cr_assert_eq(fetched(&newer), KST_OCSP_OK);
	cr_expect(on_disk(path, &newer), "the staple served is persisted");
	cr_expect(!cs->ocsp.state_dirty);
	/* the replay: good, valid, but older than the staple held */
	cr_expect_eq(fetched(&older), KST_OCSP_OK);
	cr_expect_eq(served(), newer.this_update, "the newer one is kept");
	cr_expect(on_disk(path, &newer), "and stays on disk");
	OPENSSL_free(newer.der);
	OPENSSL_free(older.der);
}

Test(persist, a_revocation_held_keeps_older_good_responses_off_disk)
{
	const char *path = kst_h_path("rev.ocsp");
	struct resp old = mint(V_OCSP_CERTSTATUS_GOOD, now - 4 * H);
	struct resp revoked = mint(V_OCSP_CERTSTATUS_REVOKED, now - 3 * H);
	struct resp replay = mint(V_OCSP_CERTSTATUS_GOOD, now - 3 * H - 60);
	struct resp fresh = mint(V_OCSP_CERTSTATUS_GOOD, now - H);

	cs->ocsp.state_path = strdup(path);
	cr_assert_eq(fetched(&old), KST_OCSP_OK);
	cr_expect_eq(fetched(&revoked), KST_OCSP_E_REVOKED);
	cr_expect_eq(served(), 0, "revoked: nothing served");
	cr_expect_neq(fetched(&replay), KST_OCSP_OK,
		      "older than the revocation");
	cr_expect(on_disk(path, &old), "neither is written");
	cr_expect_eq(fetched(&fresh), KST_OCSP_OK, "newer than the revocation");
	cr_expect(on_disk(path, &fresh), "the staple served again is written");
	OPENSSL_free(old.der);
	OPENSSL_free(revoked.der);
	OPENSSL_free(replay.der);
	OPENSSL_free(fresh.der);
}

Test(persist, an_unwritable_state_dir_still_staples_and_warns_once)
{
	const char *dir = kst_h_path("not-a-dir");
	char path[600];
	struct resp good = mint(V_OCSP_CERTSTATUS_GOOD, now - H);

	/* root writes where modes say no: a file where the dir should be */
	cr_assert_eq(kst_h_write(dir, "file\n", 0644), 0);
	snprintf(path, sizeof(path), "%s/fp.ocsp", dir);
	cs->ocsp.state_path = strdup(path);
	cr_assert_eq(fetched(&good), KST_OCSP_OK);
	cr_expect_eq(served(), good.this_update, "stapled anyway");
	cr_expect(cs->ocsp.state_dirty, "still to be written");
	cr_expect_eq(logged("cannot write"), 1);
	cr_expect_eq(logged(path), 1, "the warning names the path");
	cr_expect_eq(logged("Not a directory"), 1, "and the reason");
	for (int i = 0; i < 3; i++)
		cr_expect_eq(kst_staplefile_persist(cs), -ENOTDIR);
	cr_expect_eq(logged("cannot write"), 1, "retries say nothing new");
	/* the operator makes the directory: the next retry writes */
	cr_assert_eq(unlink(dir), 0);
	cr_assert_eq(mkdir(dir, 0750), 0);
	cr_expect_eq(kst_staplefile_persist(cs), 0);
	cr_expect(on_disk(path, &good));
	cr_expect(!cs->ocsp.state_dirty);
	cr_expect_eq(logged("written to"), 1, "the recovery is logged");
	cr_expect_eq(kst_staplefile_persist(cs), 0, "then nothing to do");
	OPENSSL_free(good.der);
}

/* A response the fetching thread wrote ahead (kst_write_tmp), as the
 * control thread receives it with its job. */
static enum kst_ocsp_err fetched_ahead(const struct resp *r, char **tmp)
{
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict v;
	struct kst_staplefile_ahead ahead = {NULL, *tmp};
	enum kst_ocsp_err err;

	kst_ocsp_params_default(&p);
	err = kst_staplefile_ingest_fetched(cs, r->der, r->len, &p, now, &v,
					    &ahead);
	*tmp = ahead.tmp;
	return err;
}

/* Files in dir whose name contains part. */
static int files_with(const char *dir, const char *part)
{
	char cmd[700], out[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -1 '%s' | grep -c -F -- '%s'", dir,
		 part);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	if (fgets(out, sizeof(out), f) == NULL)
		out[0] = '\0';
	pclose(f);
	return atoi(out);
}

Test(persist, a_response_written_ahead_is_renamed_into_place)
{
	const char *dir = kst_h_path("ahead");
	char path[600], *tmp = NULL, *kept;
	struct resp good = mint(V_OCSP_CERTSTATUS_GOOD, now - H);
	struct resp older = mint(V_OCSP_CERTSTATUS_GOOD, now - 2 * H);
	struct stat st;

	cr_assert_eq(mkdir(dir, 0750), 0);
	snprintf(path, sizeof(path), "%s/fp.ocsp", dir);
	cs->ocsp.state_path = strdup(path);
	cr_assert_eq(kst_write_tmp(path, good.der, good.len,
				   KST_FETCH_PERSIST_MODE, &tmp),
		     0);
	cr_assert_not_null(tmp);
	cr_assert_eq(stat(tmp, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0640);
	cr_expect_eq(fetched_ahead(&good, &tmp), KST_OCSP_OK);
	cr_expect_null(tmp, "taken");
	cr_expect(on_disk(path, &good), "renamed into place");
	cr_expect_eq(files_with(dir, KST_TMP_INFIX), 0, "nothing left beside");
	cr_expect(!cs->ocsp.state_dirty);

	/* not the staple served (a replay): not taken, the file stays */
	cr_assert_eq(kst_write_tmp(path, older.der, older.len,
				   KST_FETCH_PERSIST_MODE, &tmp),
		     0);
	kept = tmp;
	cr_expect_eq(fetched_ahead(&older, &tmp), KST_OCSP_OK);
	cr_expect_eq(tmp, kept, "left for the job to remove");
	cr_expect(on_disk(path, &good), "the staple served stays on disk");
	cr_expect_eq(unlink(tmp), 0);
	free(tmp);
	OPENSSL_free(good.der);
	OPENSSL_free(older.der);
}

Test(persist, a_file_written_ahead_for_another_path_is_not_used)
{
	const char *dir = kst_h_path("moved");
	char path[600], other[600], *tmp = NULL, *kept;
	struct resp good = mint(V_OCSP_CERTSTATUS_GOOD, now - H);

	cr_assert_eq(mkdir(dir, 0750), 0);
	snprintf(path, sizeof(path), "%s/fp.ocsp", dir);
	/* state-dir changed by a reload while the fetch ran */
	snprintf(other, sizeof(other), "%s/old.ocsp", dir);
	cs->ocsp.state_path = strdup(path);
	cr_assert_eq(kst_write_tmp(other, good.der, good.len,
				   KST_FETCH_PERSIST_MODE, &tmp),
		     0);
	kept = tmp;
	cr_expect_eq(fetched_ahead(&good, &tmp), KST_OCSP_OK);
	cr_expect_eq(tmp, kept, "not taken");
	cr_expect(on_disk(path, &good), "written here instead");
	cr_expect_eq(unlink(tmp), 0);
	free(tmp);
	OPENSSL_free(good.der);
}

Test(persist, start_up_removes_what_a_killed_run_wrote_ahead)
{
	const char *dir = kst_h_path("sweep");
	char path[700];
	const char *left[] = {"a.ocsp.tmp.Ab12Cd", "b.ocsp.tmp.zzzzzz"};
	const char *kept[] = {"a.ocsp", "notes.tmp.Ab12Cd", "c.ocsp.tmp.short",
			      "d.ocsp.tmp.Ab12Cd.bak"};

	cr_assert_eq(mkdir(dir, 0750), 0);
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, left[i]);
		cr_assert_eq(kst_h_write(path, "x", 0640), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, kept[i]);
		cr_assert_eq(kst_h_write(path, "x", 0640), 0);
	}
	cr_expect_eq(kst_staplefile_sweep(dir), 2);
	cr_expect_eq(files_with(dir, ".ocsp.tmp.Ab12Cd"), 1,
		     "only the .bak one stays");
	cr_expect_eq(files_with(dir, "zzzzzz"), 0);
	cr_expect_eq(files_with(dir, "a.ocsp"), 1);
	cr_expect_eq(files_with(dir, "notes.tmp"), 1);
	cr_expect_eq(files_with(dir, "short"), 1);
	cr_expect_eq(logged("removed 2 unfinished writes"), 1);
	cr_expect_eq(kst_staplefile_sweep(dir), 0, "then none");
}

/* The fetch thread's verdict is applied, its times judged again: a
 * response good when it arrived and expired when the control thread takes
 * it is not stapled. */
Test(persist, a_fetch_verdict_is_judged_again_at_apply_time)
{
	struct resp good = mint(V_OCSP_CERTSTATUS_GOOD, now - H);
	struct kst_ocsp_params p;
	struct kst_ocsp_verdict then, v;
	struct kst_staplefile_ahead ahead = {&then, NULL};
	X509 *leaf = kst_test_cert(LEAF), *issuer = kst_test_cert("int");

	kst_ocsp_params_default(&p);
	cr_assert_eq(kst_ocsp_ingest(good.der, good.len, leaf, issuer, now, &p,
				     &then),
		     KST_OCSP_OK, "%s", then.detail);
	/* applied after its nextUpdate (now + 24 h) */
	cr_expect_eq(kst_staplefile_ingest_fetched(cs, good.der, good.len, &p,
						   now + 25 * H, &v, &ahead),
		     KST_OCSP_E_EXPIRED, "%s", v.detail);
	cr_expect_eq(served(), 0, "not stapled");
	/* in time: stapled, from the verdict given */
	cr_expect_eq(kst_staplefile_ingest_fetched(cs, good.der, good.len, &p,
						   now + H, &v, &ahead),
		     KST_OCSP_OK, "%s", v.detail);
	cr_expect_eq(served(), good.this_update);
	X509_free(leaf);
	X509_free(issuer);
	OPENSSL_free(good.der);
}
