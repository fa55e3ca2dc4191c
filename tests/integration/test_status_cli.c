// SPDX-License-Identifier: MIT
/*
 * `kstapled status` as a monitoring script uses it, against a running
 * daemon: found through the daemon's configuration (-c), its JSON read with
 * jq (types, not just text: booleans, numbers, RFC 3339 times that parse
 * back to the epoch seconds beside them), the table within 100 columns.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/edge.h"
#include "tests/lib/harness.h"

static struct kst_edge edge;

static void fini(void)
{
	kst_edge_stop(&edge);
}

TestSuite(status_cli, .fini = fini);

/* the localhost ECDSA (a staple file beside it) and RSA certs */
static void start(void)
{
	struct kst_edge_conf c = {.ocsp = "fetch = off\n", .web_certs = true};

	cr_assert_eq(kst_h_copy(kst_h_pki("ocsp/localhost-ecdsa.der"),
				kst_h_path("localhost-ecdsa.pem.ocsp"), 0644),
		     0);
	kst_edge_pins(&edge, "status-cli");
	kst_edge_start(&edge, &c);
}

static void handshakes(int n)
{
	char *out = NULL, num[16];

	snprintf(num, sizeof(num), "%d", n);
	cr_assert_eq(kst_h_client(&out, 30000, "-c", edge.addr, "--status",
				  "--conns", num, NULL),
		     0, "%s", out);
	free(out);
}

static void require_jq(void)
{
	if (kst_h_sh("command -v jq", NULL, 5000) != 0)
		cr_skip_test("jq is not installed (scripts/deps.sh)");
}

/* `kstapled status --json -c CONF` into a file, which must not be empty
 * (jq -e is true on no input at all) */
static const char *status_json(void)
{
	const char *path = kst_h_path("status.json");
	char *cmd = NULL, *text;
	int rc;

	cr_assert(asprintf(&cmd, "'%s' status --json -c '%s' > '%s'",
			   kst_h_kstapled(), edge.d.conf, path) > 0);
	rc = kst_h_sh(cmd, NULL, 10000);
	free(cmd);
	text = kst_h_read(path);
	cr_assert(rc == 0 && text != NULL && text[0] == '{',
		  "status --json -c: exit %d:\n%s", rc, text ? text : "");
	free(text);
	return path;
}

/* `jq -e FILTER` on the saved JSON: 0 when FILTER is true */
static void expect_jq(const char *json, const char *filter)
{
	char *cmd = NULL, *out = NULL;
	int rc;

	cr_assert(asprintf(&cmd, "jq -e '%s' '%s'", filter, json) > 0);
	rc = kst_h_sh(cmd, &out, 10000);
	cr_expect_eq(rc, 0, "jq -e '%s' -> %d:\n%s", filter, rc, out);
	free(out);
	free(cmd);
}

Test(status_cli, json_has_json_types_and_rfc3339_times, .timeout = 90)
{
	const char *json;

	require_jq();
	start();
	handshakes(3);
	usleep(1300 * 1000); /* a flush */
	json = status_json();
	expect_jq(json, ".certs | length == 2");
	expect_jq(json, "[.certs[] | .must_staple | type] == [\"boolean\", "
			"\"boolean\"]");
	expect_jq(json, "(.global.tls_stat_present | type) == \"boolean\"");
	expect_jq(json, "(.certs[0].bad | type) == \"boolean\"");
	expect_jq(json,
		  "all(.certs[]; [.handshakes, .hs_resumed, .staples_served, "
		  ".tickets_issued, .tickets_refused_unknown, "
		  ".tickets_refused_expired, .keyupdate_rekeys_rx, "
		  ".keyupdate_rekeys_tx, .keyupdate_flood_closes, "
		  ".ktls_fallback.no_kernel, .ktls_fallback.other] | "
		  "all(type == \"number\"))");
	expect_jq(json, ".certs[] | select(.name == \"localhost-ecdsa.pem\") | "
			".staples_served == 3 and .state == \"fresh\"");
	/* every *_rfc3339 is the time beside it, or null where it is 0 */
	expect_jq(
		json,
		"all(.certs[] , .global; . as $o | [keys[] | "
		"select(endswith(\"_rfc3339\"))] | length > 0 and all(. as $k "
		"| ($k | rtrimstr(\"_rfc3339\")) as $t | if $o[$t] == 0 then "
		"$o[$k] == null else ($o[$k] | test(\"^[0-9]{4}-[0-9]{2}-"
		"[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$\")) and ($o[$k] | "
		"fromdateiso8601) == $o[$t] end))");
	expect_jq(json, "(.now_rfc3339 | fromdateiso8601) == .now");
	expect_jq(json, ".certs[] | select(.name == \"localhost-rsa.pem\") | "
			".next_update == 0 and .next_update_rfc3339 == null");
	expect_jq(json, ".daemon == \"running\" and .exit == 0");
	kst_edge_stop(&edge);
}
