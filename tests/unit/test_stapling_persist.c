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

#include "daemon/control/staplefile.h"
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
	return kst_staplefile_ingest_fetched(cs, r->der, r->len, &p, now, &v);
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
