// SPDX-License-Identifier: MIT
/*
 * A verified revocation is sticky (issue 12, defect 2): once a responder
 * signed "revoked", no good response from before that revocation may be
 * stapled again, by whatever route it comes back: a SIGHUP re-reading the
 * state-dir file and the operator's file, a restart, or a responder (or a
 * man in the middle on plain HTTP) replaying the older good response. Only
 * a good response with a later thisUpdate lifts it.
 *
 * The responder is kst-ocspd serving responses minted here with chosen
 * times (mode file:PATH), so "older" and "newer" are exact: good_old
 * (thisUpdate now-2h, valid one more hour), revoked (now-1h) and good_new
 * (now-1m), both valid for a day. `kstapled status` needs bpffs; where the
 * daemon cannot export, the status checks skip (their own test), the
 * handshakes and logs are checked everywhere.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <openssl/ocsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"
#include "tests/lib/ocsp_mint.h"
#include "tests/lib/testutil.h"

#define LEAF "localhost-ecdsa"

static struct kst_h_ocspd r;
static struct kst_edge edge;

/* Mint one response for LEAF into the test directory. */
static void mint(const char *file, int status, time_t this_update,
		 time_t next_update)
{
	unsigned char *der = NULL;
	size_t len = 0;

	cr_assert_eq(kst_mint_simple(LEAF, status, this_update, next_update,
				     "int", &der, &len),
		     0);
	cr_assert_eq(kst_mint_write(kst_h_path(file), der, len), 0);
	OPENSSL_free(der);
}

static void mint_all(void)
{
	time_t now = time(NULL);

	/* past its refresh point (half-way): a start fetches at once */
	mint("good_old.der", V_OCSP_CERTSTATUS_GOOD, now - 7200, now + 3600);
	mint("revoked.der", V_OCSP_CERTSTATUS_REVOKED, now - 3600, now + 86400);
	mint("good_new.der", V_OCSP_CERTSTATUS_GOOD, now - 60, now + 86400);
}

/* The responder answers every request with this file from now on. */
static void serve(const char *file)
{
	char mode[128];

	snprintf(mode, sizeof(mode), "file:%s", kst_h_path(file));
	cr_assert_lt(strlen(mode), 64, "kst-ocspd reads 63 bytes of mode");
	kst_h_ocspd_mode(&r, mode);
}

/* The operator's staple file beside the leaf: a copy of file. */
static void operator_file(const char *file)
{
	cr_assert_eq(kst_h_copy(kst_h_path(file), kst_h_path(LEAF ".pem.ocsp"),
				0644),
		     0);
}

/* LEAF fetching from r; extra: sections or lines after its [cert:ec] */
static void start(const char *extra)
{
	struct kst_edge_conf c = {
		.ocsp = "startup-wait = 5s\nretry-min = 1s\nretry-max = 2s\n"
			"connect-timeout = 1s\nresponse-timeout = 2s\n",
		.listener = "cert = ec\n",
	};
	char *sections = NULL;

	cr_assert(asprintf(&sections, "[cert:ec]\npem = %s\nocsp-url = %s\n%s",
			   kst_h_leaf(LEAF), r.url, extra ? extra : "") > 0);
	c.sections = sections;
	kst_edge_pins(&edge, "rev");
	kst_edge_start(&edge, &c);
	free(sections);
}

static void stop_all(void)
{
	kst_edge_stop(&edge);
	kst_h_ocspd_stop(&r);
}

TestSuite(revocation, .fini = stop_all);

/* One handshake asking for a staple: 1 stapled, 0 not, -1 refused. */
static int stapled(void)
{
	char *out = NULL;
	int rc = kst_h_client(&out, 20000, "-c", edge.addr, "--status",
			      "--print", "--sni", "localhost", "--sigalgs",
			      "ECDSA+SHA256", NULL);
	int v = rc == 0 ? atoi(kst_h_kv(out, "stapled")) : -1;

	free(out);
	return v;
}

/* Whether this daemon exports its maps (bpffs mounted, root). */
static bool exporting(void)
{
	return kst_h_count(edge.d.log, "no BPF export") == 0;
}

static char *state_of_ec(void)
{
	char *json = kst_h_status_json(edge.pins);
	char *v = kst_h_json_get(json, "ec", "state");

	cr_assert_not_null(v, "no state in:\n%s", json);
	free(json);
	return v;
}

/* Only called where exporting() (the status test skips otherwise). */
static void expect_state(const char *want, const char *why)
{
	char *state = state_of_ec();

	cr_expect_str_eq(state, want, "%s", why);
	free(state);
}

/* Files in state-dir whose name ends with suffix. */
static int state_files(const char *suffix)
{
	DIR *dir = opendir(kst_h_path("state"));
	struct dirent *e;
	size_t sl = strlen(suffix);
	int n = 0;

	while (dir != NULL && (e = readdir(dir)) != NULL) {
		size_t l = strlen(e->d_name);

		n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
	}
	if (dir != NULL)
		closedir(dir);
	return n;
}

/* Wait (bounded) until the responder has answered n requests in all. */
static void wait_requests(int n, int ms)
{
	for (int waited = 0; kst_h_ocspd_requests(&r) < n && waited < ms;
	     waited += 100)
		usleep(100 * 1000);
	cr_assert_geq(kst_h_ocspd_requests(&r), n,
		      "the daemon fetched again within %d ms", ms);
}

/*
 * The daemon fetched good_old (persisted in state-dir), then, with the
 * operator's file holding good_old too, it is restarted against a
 * responder saying revoked: held revoked, with both old good files there.
 */
static void revoked_with_old_good_files(const char *extra)
{
	mint_all();
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	serve("good_old.der");
	start(extra);
	cr_assert_eq(stapled(), 1, "good_old fetched and stapled");
	cr_assert_eq(state_files(".ocsp"), 1, "good_old is in state-dir");
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	operator_file("good_old.der");
	serve("revoked.der");
	start(extra);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "says REVOKED", 15000), 0,
		     "the revocation was fetched");
}

Test(revocation, a_reload_does_not_restaple_the_old_good_files, .timeout = 90)
{
	revoked_with_old_good_files(NULL);
	cr_expect_eq(stapled(), 0, "revoked: not stapled");
	/* the responder is silent now: only the files could come back */
	kst_h_ocspd_mode(&r, "http500");
	cr_assert_eq(kst_h_daemon_reload(&edge.d), 0);
	cr_expect_eq(stapled(), 0,
		     "the state-dir and operator files from before the "
		     "revocation are not stapled after SIGHUP");
	cr_expect_gt(kst_h_count(edge.d.log, "still revoked"), 0,
		     "the log says why the files were refused");
	stop_all();
}

Test(revocation, a_restart_keeps_the_revocation_and_strict_unserved,
     .timeout = 90)
{
	char *check[] = {(char *)kst_h_kstapled(), "-t", "-c", edge.d.conf,
			 NULL};
	char *out = NULL;
	int before;

	revoked_with_old_good_files("policy = strict\n");
	cr_expect_eq(stapled(), -1, "strict: a revoked cert is not served");
	cr_expect_eq(state_files(".revoked"), 1,
		     "the revocation is recorded in state-dir");
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	/* kstapled -t reads the record too (and writes nothing) */
	cr_expect_eq(kst_h_run(check, NULL, 0, &out, 20000), 0, "%s", out);
	cr_expect(strstr(out, "is held revoked by") != NULL &&
			  strstr(out, "still revoked") != NULL,
		  "-t says the old staple file is refused and why: %s", out);
	free(out);
	kst_h_ocspd_mode(&r, "http500");
	before = kst_h_count(edge.d.log, "stapling staple file");
	start("policy = strict\n");
	cr_expect_eq(stapled(), -1,
		     "after a restart, still unserved under strict");
	cr_expect_eq(kst_h_count(edge.d.log, "stapling staple file"), before,
		     "the old operator file was not stapled at start");
	cr_expect_gt(kst_h_count(edge.d.log, "held REVOKED by"), 0,
		     "the record in state-dir was read");
	stop_all();
}

Test(revocation, a_replayed_older_good_response_is_refused, .timeout = 90)
{
	int before;

	mint_all();
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	serve("revoked.der");
	start(NULL);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "says REVOKED", 15000), 0);
	/* the next fetch (a retry, seconds away) gets the replay */
	before = kst_h_ocspd_requests(&r);
	serve("good_old.der");
	wait_requests(before + 1, 15000);
	/* then the daemon takes it one way or the other */
	for (int i = 0;
	     i < 50 && kst_h_count(edge.d.log, "still revoked") +
				       kst_h_count(edge.d.log, "stapling") ==
			       0;
	     i++)
		usleep(100 * 1000);
	cr_expect_eq(stapled(), 0, "the replayed good response is refused");
	cr_expect_gt(kst_h_count(edge.d.log, "still revoked"), 0,
		     "the refusal is logged");
	stop_all();
}

Test(revocation, a_newer_good_response_unrevokes, .timeout = 90)
{
	mint_all();
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	serve("revoked.der");
	start(NULL);
	cr_assert_eq(kst_h_wait_log(edge.d.log, "says REVOKED", 15000), 0);
	cr_expect_eq(state_files(".revoked"), 1);
	serve("good_new.der");
	cr_assert_eq(kst_h_wait_log(edge.d.log, "no longer revoked", 15000), 0,
		     "a good response newer than the revocation lifts it");
	cr_expect_eq(stapled(), 1, "stapled again");
	cr_expect_eq(state_files(".revoked"), 0, "the record is removed");
	/* and it stays lifted across a restart */
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	kst_h_ocspd_mode(&r, "http500");
	start(NULL);
	cr_expect_eq(stapled(), 1, "stapled after a restart");
	stop_all();
}

Test(revocation, deleting_the_record_by_hand_is_the_override, .timeout = 90)
{
	char cmd[512];

	revoked_with_old_good_files(NULL);
	kst_h_ocspd_mode(&r, "http500");
	cr_assert_eq(state_files(".revoked"), 1);
	snprintf(cmd, sizeof(cmd), "rm -f %s/*.revoked", kst_h_path("state"));
	cr_assert_eq(kst_h_sh(cmd, NULL, 5000), 0);
	cr_assert_eq(kst_h_daemon_reload(&edge.d), 0);
	cr_expect_gt(kst_h_count(edge.d.log, "was removed"), 0,
		     "the log says so");
	cr_expect_eq(stapled(), 1,
		     "the operator's override: the files are stapled again");
	stop_all();
}

Test(revocation, status_says_revoked_through_reload_and_restart, .timeout = 90)
{
	revoked_with_old_good_files(NULL);
	if (!exporting()) {
		stop_all();
		cr_skip_test("no BPF export here (bpffs not mounted at "
			     "/sys/fs/bpf): `kstapled status` has no map");
	}
	kst_h_ocspd_mode(&r, "http500");
	expect_state("revoked", "status says revoked");
	cr_assert_eq(kst_h_daemon_reload(&edge.d), 0);
	expect_state("revoked", "status still says revoked after SIGHUP");
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	start(NULL);
	expect_state("revoked", "status says revoked after a restart");
	serve("good_new.der");
	cr_assert_eq(kst_h_wait_log(edge.d.log, "no longer revoked", 15000), 0);
	expect_state("fresh", "status no longer says revoked");
	stop_all();
}

/* The name of the one "*.ocsp" file in state-dir, with suffix instead. */
static const char *state_sibling(const char *suffix)
{
	static char path[512];
	DIR *dir = opendir(kst_h_path("state"));
	struct dirent *e;

	path[0] = '\0';
	while (dir != NULL && (e = readdir(dir)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l == 64 + 5 && strcmp(e->d_name + 64, ".ocsp") == 0)
			snprintf(path, sizeof(path), "%s/%.64s%s",
				 kst_h_path("state"), e->d_name, suffix);
	}
	if (dir != NULL)
		closedir(dir);
	cr_assert(path[0] != '\0', "a fetched response in state-dir");
	return path;
}

Test(revocation, an_unreadable_record_fails_closed_and_is_rewritten,
     .timeout = 90)
{
	const char *rec;
	char *text;

	mint_all();
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	serve("good_old.der");
	start(NULL);
	cr_assert_eq(stapled(), 1);
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	rec = state_sibling(".revoked");
	cr_assert_eq(kst_h_write(rec, "kstapled-revocation 1\ngarbage\n", 0644),
		     0);
	kst_h_ocspd_mode(&r, "http500");
	start(NULL);
	cr_expect_eq(stapled(), 0, "a record that does not parse holds");
	cr_expect_gt(kst_h_count(edge.d.log, "not a revocation record"), 0,
		     "the log says what is wrong with it");
	text = kst_h_read(rec);
	cr_expect(text != NULL && strstr(text, "this-update ") != NULL,
		  "rewritten as a record: %s", text);
	free(text);
	stop_all();
}

/* thisUpdate of the staple a handshake gets; 0 if none */
static long long stapled_this_update(void)
{
	char *out = NULL;
	long long t = 0;

	cr_assert_eq(kst_h_client(&out, 20000, "-c", edge.addr, "--status",
				  "--print", "--sni", "localhost", "--sigalgs",
				  "ECDSA+SHA256", NULL),
		     0, "%s", out);
	if (atoi(kst_h_kv(out, "stapled")))
		t = atoll(kst_h_kv(out, "staple_this_update"));
	free(out);
	return t;
}

/* Whether the one fetched response in state-dir holds file's bytes. */
static bool state_file_is(const char *file)
{
	unsigned char *disk = NULL, *want = NULL;
	size_t dl = 0, wl = 0;
	bool same;

	cr_assert_eq(kst_test_read_file(state_sibling(".ocsp"), &disk, &dl), 0);
	cr_assert_eq(kst_test_read_file(kst_h_path(file), &want, &wl), 0);
	same = dl == wl && memcmp(disk, want, dl) == 0;
	free(disk);
	free(want);
	return same;
}

/*
 * Issue 16: a replayed older good response (plain HTTP: anyone on the
 * path, or a stale cache) is refused by the control thread, and changes
 * nothing on disk either: the state file keeps the newer response, and a
 * restart staples that one.
 */
Test(revocation, a_replayed_older_good_response_leaves_the_state_file_alone,
     .timeout = 90)
{
	time_t now = time(NULL);
	char fetched[200];

	/* both good and valid, both past their refresh point (half-way):
	 * every start fetches at once */
	mint("newer.der", V_OCSP_CERTSTATUS_GOOD, now - 3 * 3600, now + 3600);
	mint("older.der", V_OCSP_CERTSTATUS_GOOD, now - 4 * 3600, now + 3600);
	cr_assert_eq(kst_h_ocspd_start(&r, NULL, "ok", 1), 0);
	serve("newer.der");
	start(NULL);
	cr_assert_eq(stapled_this_update(), (long long)(now - 3 * 3600),
		     "the newer response is stapled");
	cr_assert(state_file_is("newer.der"), "and persisted");
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	/* the second start loads the newer one from disk, then fetches the
	 * replay; the fetch job logs its outcome before the control thread
	 * takes it */
	snprintf(fetched, sizeof(fetched), "ocsp fetch %s: ok:", r.url);
	cr_assert_eq(kst_h_count(edge.d.log, fetched), 1);
	serve("older.der");
	start(NULL);
	for (int i = 0; i < 150 && kst_h_count(edge.d.log, fetched) < 2; i++)
		usleep(100 * 1000);
	cr_assert_eq(kst_h_count(edge.d.log, fetched), 2,
		     "the replay was fetched");
	cr_expect_eq(stapled_this_update(), (long long)(now - 3 * 3600),
		     "the replay is not stapled");
	cr_expect(state_file_is("newer.der"),
		  "the state file still holds the newer response");
	cr_assert_eq(kst_h_daemon_stop(&edge.d), 0);
	/* a restart with the responder silent staples what is on disk */
	kst_h_ocspd_mode(&r, "http500");
	start(NULL);
	cr_expect_eq(stapled_this_update(), (long long)(now - 3 * 3600),
		     "after a restart, the newer response is stapled");
	stop_all();
}
