// SPDX-License-Identifier: MIT
/*
 * The configuration parser: every option of the table accepted at its
 * bounds and rejected just past them, every default valid, and the errors
 * an operator makes reported with the right line.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config/config.h"

/* A minimal valid file; an option under test is inserted in its section. */
static const char *const base_listener = "[listener:web]\n"
					 "bind = 127.0.0.1:8443\n"
					 "backend = 127.0.0.1:8080\n"
					 "cert = /etc/kstapled/a.pem\n";

static char *file_with(const char *section, const char *line)
{
	char *text = NULL;

	/* the one rule between options: retry-min <= retry-max */
	if (strncmp(line, "retry-max = ", 12) == 0)
		cr_assert(asprintf(&text, "[ocsp]\nretry-min = 1s\n%s\n%s",
				   line, base_listener) > 0);
	if (text != NULL)
		return text;

	if (strcmp(section, "listener:NAME") == 0)
		cr_assert(asprintf(&text, "%s%s\n", base_listener, line) > 0);
	else if (strcmp(section, "cert:NAME") == 0)
		cr_assert(
			asprintf(&text,
				 "%s[cert:c]\npem = /etc/kstapled/c.pem\n%s\n",
				 base_listener, line) > 0);
	else
		cr_assert(asprintf(&text, "[%s]\n%s\n%s", section, line,
				   base_listener) > 0);
	return text;
}

/* Parse text; returns the number of errors, first message in msg. */
static size_t parse_errors(const char *text, char *msg, size_t len)
{
	struct kst_diag d;
	struct kst_config *c;
	size_t n;

	kst_diag_init(&d);
	c = kst_config_parse_string("/etc/kstapled/k.conf", text, &d);
	n = d.errors;
	if (msg != NULL)
		snprintf(msg, len, "%s", d.n ? d.msgs[0].text : "");
	if (n == 0)
		cr_assert_not_null(c);
	else
		cr_assert_null(c);
	kst_config_free(c);
	kst_diag_free(&d);
	return n;
}

static void expect_ok(const char *section, const char *line)
{
	char *text = file_with(section, line);
	char msg[512];

	cr_expect_eq(parse_errors(text, msg, sizeof(msg)), 0,
		     "[%s] '%s' should be accepted: %s", section, line, msg);
	free(text);
}

static void expect_bad(const char *section, const char *line)
{
	char *text = file_with(section, line);

	cr_expect_gt(parse_errors(text, NULL, 0), 0,
		     "[%s] '%s' should be rejected", section, line);
	free(text);
}

/* A value just past a bound, in the option's own syntax. */
static void past_bound(const char *type, const char *bound, int dir, char *out,
		       size_t len)
{
	int64_t v;

	if (strcmp(type, "duration") == 0) {
		cr_assert_eq(kst_parse_duration_ms(bound, &v), 0);
		snprintf(out, len, "%" PRId64 "ms", v + dir);
	} else if (strcmp(type, "size") == 0) {
		cr_assert_eq(kst_parse_size(bound, &v), 0);
		snprintf(out, len, "%" PRId64, v + dir);
	} else {
		v = strtoll(bound, NULL, 10);
		snprintf(out, len, "%" PRId64, v + dir);
	}
}

Test(config, every_default_is_within_its_bounds_and_parses)
{
	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);
		const char *def = kst_option_default(o);
		char line[1024];

		if (def == NULL || *def == '\0')
			continue;
		snprintf(line, sizeof(line), "%s = %s", kst_option_name(o),
			 def);
		expect_ok(kst_option_section(o), line);
	}
}

Test(config, every_bounded_option_accepts_its_bounds_and_rejects_past_them)
{
	size_t checked = 0;

	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);
		const char *type = kst_option_type_name(o);
		char line[256], v[64];

		if (kst_option_min(o) == NULL)
			continue;
		snprintf(line, sizeof(line), "%s = %s", kst_option_name(o),
			 kst_option_min(o));
		expect_ok(kst_option_section(o), line);
		snprintf(line, sizeof(line), "%s = %s", kst_option_name(o),
			 kst_option_max(o));
		expect_ok(kst_option_section(o), line);
		past_bound(type, kst_option_max(o), +1, v, sizeof(v));
		snprintf(line, sizeof(line), "%s = %s", kst_option_name(o), v);
		expect_bad(kst_option_section(o), line);
		past_bound(type, kst_option_min(o), -1, v, sizeof(v));
		if (v[0] != '-') {
			snprintf(line, sizeof(line), "%s = %s",
				 kst_option_name(o), v);
			expect_bad(kst_option_section(o), line);
		}
		checked++;
	}
	cr_assert_geq(checked, 15, "the table has bounded options");
}

Test(config, every_choice_option_accepts_each_choice_and_rejects_others)
{
	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);
		char choices[256], line[300], *save = NULL, *tok;

		kst_option_choices(o, choices, sizeof(choices));
		if (choices[0] == '\0')
			continue;
		for (tok = strtok_r(choices, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			snprintf(line, sizeof(line), "%s = %s",
				 kst_option_name(o), tok);
			expect_ok(kst_option_section(o), line);
		}
		snprintf(line, sizeof(line), "%s = bogus", kst_option_name(o));
		expect_bad(kst_option_section(o), line);
	}
}

Test(config, durations_sizes_and_booleans_take_their_suffixes)
{
	int64_t v;
	bool b;

	cr_assert_eq(kst_parse_duration_ms("500ms", &v), 0);
	cr_assert_eq(v, 500);
	cr_assert_eq(kst_parse_duration_ms("30s", &v), 0);
	cr_assert_eq(v, 30000);
	cr_assert_eq(kst_parse_duration_ms("5m", &v), 0);
	cr_assert_eq(v, 300000);
	cr_assert_eq(kst_parse_duration_ms("2h", &v), 0);
	cr_assert_eq(v, 7200000);
	cr_assert_eq(kst_parse_duration_ms("1d", &v), 0);
	cr_assert_eq(v, 86400000);
	cr_assert_eq(kst_parse_duration_ms("7", &v), 0);
	cr_assert_eq(v, 7000, "a bare number is seconds");
	cr_assert_neq(kst_parse_duration_ms("5 m", &v), 0);
	cr_assert_neq(kst_parse_duration_ms("-5s", &v), 0);
	cr_assert_neq(kst_parse_duration_ms("5w", &v), 0);
	cr_assert_neq(kst_parse_duration_ms("99999999999999999999d", &v), 0);
	cr_assert_eq(kst_parse_size("64k", &v), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(kst_parse_size("1m", &v), 0);
	cr_assert_eq(v, 1 << 20);
	cr_assert_neq(kst_parse_size("1g", &v), 0);
	cr_assert_eq(kst_parse_bool("yes", &b), 0);
	cr_assert(b);
	cr_assert_eq(kst_parse_bool("off", &b), 0);
	cr_assert_not(b);
	cr_assert_neq(kst_parse_bool("maybe", &b), 0);
}

Test(config, workers_auto_means_zero)
{
	struct kst_diag d;
	struct kst_config *c;
	char *text = file_with("global", "workers = auto");

	kst_diag_init(&d);
	c = kst_config_parse_string("/k.conf", text, &d);
	cr_assert_not_null(c);
	cr_assert_eq(c->global.workers, 0);
	kst_config_free(c);
	kst_diag_free(&d);
	free(text);
}

/* Errors name the line they are on. Criterion runs each test in a fresh
 * process of this binary, so parameters hold their text, not pointers. */
struct bad_case {
	char text[200];
	int line;
	char needle[48];
};

static const struct bad_case bad_cases[] = {
	{"[global]\nworkerz = 2\n", 2, "unknown option 'workerz'"},
	{"[global]\nworkers = 2\nworkers = 3\n", 3, "already set at line 2"},
	{"[global]\nworkers = many\n", 2, "not a number"},
	{"[global]\nidle-timeout = 5 parsecs\n", 2, "not a duration"},
	{"[nonsense]\n", 1, "unknown section"},
	{"workers = 2\n", 1, "outside any section"},
	{"[global\n", 1, "malformed section header"},
	{"[global]\nthis line has no equals\n", 2, "expected 'key = value'"},
	{"[listener:a]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "cert = nosuchsection\n",
	 4, "no [cert:nosuchsection] section"},
	{"[listener:a]\nbind = 127.0.0.1:99999\nbackend = 127.0.0.1:8080\n"
	 "cert = /a.pem\n",
	 2, "bad port"},
	{"[listener:a]\nbind = ::1:443\nbackend = 127.0.0.1:8080\n"
	 "cert = /a.pem\n",
	 2, "expected host:port"},
	{"[listener:a]\nbind = 127.0.0.1:8443\nbackend = unix:relative\n"
	 "cert = /a.pem\n",
	 3, "absolute path"},
	{"[listener:a]\nbind = 127.0.0.1:8443\nbind = 127.0.0.1:8443\n"
	 "backend = 127.0.0.1:8080\ncert = /a.pem\n",
	 3, "repeats line 2"},
	{"[listener:a]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "key = /a.key\ncert = /a.pem\n",
	 4, "key must follow"},
	{"[listener:a]\nbackend = 127.0.0.1:8080\ncert = /a.pem\n", 1,
	 "has no bind"},
	{"[listener:a]\nbind = 127.0.0.1:8443\ncert = /a.pem\n", 1,
	 "has no backend"},
	{"[listener:a]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n", 1,
	 "has no cert"},
	{"[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
	 "cert = /a.pem\n[listener:a]\n",
	 5, "already defined at line 1"},
	{"[cert:c]\nocsp-url = https://ocsp.example/\n", 2,
	 "only http:// responders"},
	{"[cert:c]\nstapling = on\n", 1, "has no pem"},
	{"[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
	 "cert = /a.pem\nalpn = h2,,http/1.1\n",
	 5, "alpn"},
	{"[ocsp]\nretry-min = 30m\nretry-max = 10m\n", 0,
	 "retry-min is larger"},
};

ParameterizedTestParameters(config, reports_each_error_with_its_line)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(const struct bad_case *bc, config,
		  reports_each_error_with_its_line)
{
	struct kst_diag d;
	struct kst_config *c;
	bool found = false;

	kst_diag_init(&d);
	c = kst_config_parse_string("/etc/kstapled/k.conf", bc->text, &d);
	cr_assert_null(c);
	for (size_t i = 0; i < d.n; i++)
		if (strstr(d.msgs[i].text, bc->needle) != NULL &&
		    d.msgs[i].line == bc->line)
			found = true;
	cr_assert(found, "expected line %d: ...%s... in:\n%s", bc->line,
		  bc->needle, d.n ? d.msgs[0].text : "(no error)");
	kst_diag_free(&d);
}

Test(config, reports_every_error_not_just_the_first)
{
	struct kst_diag d;
	const char *text = "[global]\nworkers = x\nktls = maybe\n"
			   "[ocsp]\npolicy = relaxed\n";

	kst_diag_init(&d);
	cr_assert_null(kst_config_parse_string("/k.conf", text, &d));
	/* three bad values and no listener */
	cr_assert_eq(d.errors, 4);
	kst_diag_free(&d);
}

Test(config, resolves_relative_paths_against_the_file_and_shares_inline_certs)
{
	const char *text =
		"[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n"
		"cert = certs/a.pem\nkey = certs/a.key\n"
		"[listener:b]\nbind = 127.0.0.1:3\nbackend = unix:/run/b.sock\n"
		"cert = certs/a.pem\ncert = named\n"
		"[cert:named]\npem = /abs/n.pem\npolicy = strict\n"
		"ocsp-url = http://127.0.0.1:9/\n";
	struct kst_diag d;
	struct kst_config *c;

	kst_diag_init(&d);
	c = kst_config_parse_string("/etc/kst/k.conf", text, &d);
	cr_assert_not_null(c, "%s", d.n ? d.msgs[0].text : "");
	cr_assert_eq(c->n_certs, 2);
	cr_assert_str_eq(c->certs[0].pem, "/etc/kst/certs/a.pem");
	cr_assert_str_eq(c->certs[0].key, "/etc/kst/certs/a.key");
	cr_assert_eq(c->listeners[1].certs[0].cert, 0, "shared inline cert");
	cr_assert_eq(c->listeners[1].certs[1].cert, 1);
	cr_assert_eq(c->certs[1].policy, KST_POLICY_STRICT);
	cr_assert_eq(c->certs[1].n_ocsp_urls, 1);
	cr_assert_eq(kst_config_cert_policy(c, &c->certs[0]),
		     KST_POLICY_LENIENT, "inherits [ocsp] policy");
	cr_assert_eq(c->listeners[1].backend.ss.ss_family, AF_UNIX);
	kst_config_free(c);
	kst_diag_free(&d);
}

Test(config, alpn_list_becomes_wire_format)
{
	unsigned char *w = NULL;
	size_t len = 0;

	cr_assert_eq(kst_parse_alpn("h2, http/1.1", &w, &len), 0);
	cr_assert_eq(len, 12);
	cr_assert_eq(memcmp(w, "\x02h2\x08http/1.1", 12), 0);
	free(w);
}

Test(config, dump_reads_back_as_the_same_configuration)
{
	const char *text =
		"[global]\nworkers = 3\nidle-timeout = 90s\n"
		"[ocsp]\npolicy = strict\nmax-response-size = 32k\n"
		"[listener:a]\nbind = 127.0.0.1:1\nbind = [::1]:1\n"
		"backend = 127.0.0.1:2\ncert = /a.pem\nkey = /a.key\n"
		"alpn = h2,http/1.1\nproxy-protocol = v2\n";
	struct kst_diag d;
	struct kst_config *c, *c2;
	char *dump = NULL, *dump2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f;

	kst_diag_init(&d);
	c = kst_config_parse_string("/k.conf", text, &d);
	cr_assert_not_null(c);
	f = open_memstream(&dump, &len);
	kst_config_dump(c, f);
	fclose(f);
	c2 = kst_config_parse_string("/k.conf", dump, &d);
	cr_assert_not_null(c2, "dump must parse: %s\n%s",
			   d.n ? d.msgs[0].text : "", dump);
	f = open_memstream(&dump2, &len2);
	kst_config_dump(c2, f);
	fclose(f);
	cr_assert_str_eq(dump, dump2);
	cr_assert(strstr(dump, "idle-timeout = 90s") != NULL);
	cr_assert(strstr(dump, "max-response-size = 32k") != NULL);
	kst_config_free(c);
	kst_config_free(c2);
	kst_diag_free(&d);
	free(dump);
	free(dump2);
}

/* ------------------------------------------- -T round trip (issue 12 #8) */

/* arrays, not pointers: criterion copies parameters into the test's
 * own process, where a pointer into this one means nothing */
struct roundtrip_case {
	char label[80];
	char text[1100];
	char expect[64]; /* a line the dump must carry, or "" */
};

static const struct roundtrip_case roundtrip_cases[] = {
	{"defaults",
	 "[listener:web]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "cert = /etc/kstapled/a.pem\n",
	 "workers = auto"},
	{"cert sections with and without key and staple-file",
	 "[cert:full]\npem = /etc/k/full.pem\nkey = /etc/k/full.key\n"
	 "staple-file = /var/k/full.der\nstapling = off\npolicy = strict\n"
	 "fetch = off\nocsp-url = http://a.example/\n"
	 "ocsp-url = http://b.example:8080/ocsp\n"
	 "[cert:bare]\npem = /etc/k/bare.pem\n"
	 "[listener:web]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "cert = full\ncert = bare\n",
	 "key = /etc/k/full.key"},
	{"every [global] and [ocsp] option away from its default",
	 "[global]\nworkers = 3\nstate-dir = state\nbpf-pin-dir =\n"
	 "ktls = off\nuser = nobody\ngroup = nogroup\nallow-root = on\n"
	 "log-level = debug\nhandshake-timeout = 1500ms\n"
	 "idle-timeout = 2h\nconnect-timeout = 100ms\ndrain-timeout = 0s\n"
	 "max-connections = 77\nbacklog = 65535\nnic-offload = eth0,eth1\n"
	 "[ocsp]\nfetch = off\npolicy = must-staple\n"
	 "max-response-size = 1m\nskew = 0s\nmax-age = 30d\n"
	 "refresh-at = 90%\nrefresh-margin = 1d\nretry-min = 1s\n"
	 "retry-max = 1d\nconnect-timeout = 2m\nresponse-timeout = 250ms\n"
	 "startup-wait = 0s\nhttp-proxy = http://proxy.example:3128\n"
	 "nonce = on\nfetch-concurrency = 256\n"
	 "[listener:web]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "cert = /etc/kstapled/a.pem\n",
	 "state-dir = /etc/kstapled/state"},
	{"listener lists, inline certs with keys, every listener option",
	 "[cert:named]\npem = /etc/k/n.pem\n"
	 "[listener:a]\nbind = 127.0.0.1:1\nbind = [::1]:1\nbind = [::]:2\n"
	 "backend = unix:/run/app.sock\nproxy-protocol = v1\n"
	 "cert = /etc/k/a.pem\nkey = /etc/k/a.key\ncert = named\n"
	 "cert = rel/b.pem\ntls-min-version = 1.3\n"
	 "ciphers = ECDHE-ECDSA-AES128-GCM-SHA256\n"
	 "ciphersuites = TLS_AES_256_GCM_SHA384\ngroups = P-384\n"
	 "alpn = h2, http/1.1\nktls = require\nsession-tickets = 0\n"
	 "[listener:b]\nbind = 127.0.0.2:3\nbackend = [::1]:4\n"
	 "proxy-protocol = v2\ncert = /etc/k/a.pem\nkey = /etc/k/a.key\n",
	 "cert = /etc/kstapled/rel/b.pem"},
	{"values the parser trims or unquotes",
	 "[global]\nuser = \"  spaced user  \"\ngroup = \"\"quoted\"\"\n"
	 "nic-offload = \"#eth0\"\n"
	 "[cert:\"q\"]\npem = \" /etc/k/lead.pem\"\n"
	 "[listener:web]\nbind = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
	 "cert = \"\"q\"\"\n",
	 "user = \"  spaced user  \""},
};

ParameterizedTestParameters(config, dump_reads_back_as_the_same_dump)
{
	return cr_make_param_array(struct roundtrip_case, roundtrip_cases,
				   sizeof(roundtrip_cases) /
					   sizeof(roundtrip_cases[0]));
}

static char *parse_and_dump(const char *text, size_t len, const char *label)
{
	struct kst_diag d;
	struct kst_config *c;
	char *dump;

	kst_diag_init(&d);
	c = kst_config_parse_buf("/etc/kstapled/k.conf", text, len, &d);
	cr_assert_not_null(c, "%s: does not parse: %s\n%s", label,
			   d.n ? d.msgs[0].text : "?", text);
	dump = kst_config_dump_string(c, NULL);
	cr_assert_not_null(dump);
	kst_config_free(c);
	kst_diag_free(&d);
	return dump;
}

ParameterizedTest(const struct roundtrip_case *rc, config,
		  dump_reads_back_as_the_same_dump)
{
	char *dump = parse_and_dump(rc->text, strlen(rc->text), rc->label);
	char *dump2 = parse_and_dump(dump, strlen(dump), rc->label);

	cr_expect_str_eq(dump, dump2, "%s", rc->label);
	if (rc->expect[0] != '\0')
		cr_expect(strstr(dump, rc->expect) != NULL,
			  "%s: no '%s' in\n%s", rc->label, rc->expect, dump);
	free(dump);
	free(dump2);
}

Test(config, dump_leaves_out_unset_cert_paths)
{
	const char *text = roundtrip_cases[1].text;
	char *dump = parse_and_dump(text, strlen(text), "bare");
	const char *bare = strstr(dump, "[cert:bare]");

	cr_assert_not_null(bare, "%s", dump);
	cr_expect(strstr(bare, "key =") == NULL, "%s", dump);
	cr_expect(strstr(bare, "staple-file =") == NULL, "%s", dump);
	cr_expect(strstr(bare, "# key not set") != NULL, "%s", dump);
	free(dump);
}

/* A NUL byte used to end the text there: what followed was dropped
 * without a word (here an invalid value on the line after it). */
Test(config, a_nul_byte_is_an_error_with_its_line)
{
	static const char text[] =
		"[listener:web]\nbind = 127.0.0.1:8443\n"
		"backend = 127.0.0.1:8080\ncert = /etc/kstapled/a.pem\n"
		"# comment\0 and more\n[global]\nworkers = none\n";
	char path[] = "/tmp/kst-config-nul-XXXXXX";
	int fd = mkstemp(path);
	struct kst_diag d;
	struct kst_config *c;
	bool nul = false, later = false;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
		     (ssize_t)sizeof(text) - 1);
	close(fd);
	kst_diag_init(&d);
	c = kst_config_parse(path, &d);
	unlink(path);
	cr_expect_null(c, "a file with a NUL byte was accepted");
	for (size_t i = 0; i < d.n; i++) {
		if (d.msgs[i].line == 5 && strstr(d.msgs[i].text, "NUL byte"))
			nul = true;
		if (d.msgs[i].line == 7 && strstr(d.msgs[i].text, "workers"))
			later = true;
	}
	cr_expect(nul, "expected k.conf:5: NUL byte: %s",
		  d.n ? d.msgs[0].text : "(no error)");
	cr_expect(later, "the lines after the NUL byte are still read");
	kst_config_free(c);
	kst_diag_free(&d);
}

/* A file fstat gives no size for (a pipe, as with -c /dev/stdin) and
 * longer than the first buffer: read whole, every line numbered. */
Test(config, a_file_of_unknown_size_is_read_whole)
{
	int fds[2];
	char path[64], line[128];
	struct kst_diag d;
	struct kst_config *c;
	size_t n = 0;

	cr_assert_eq(pipe(fds), 0);
	n += (size_t)dprintf(fds[1], "[listener:a]\nbind = 127.0.0.1:1\n"
				     "backend = 127.0.0.1:2\n");
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "cert = /etc/kst/c%d.pem\n", i);
		n += (size_t)dprintf(fds[1], "%s", line);
	}
	dprintf(fds[1], "bogus-option = 1\n");
	close(fds[1]);
	cr_assert_gt(n, 3 * 4096, "longer than the first buffer");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	kst_diag_init(&d);
	c = kst_config_parse(path, &d);
	cr_expect_null(c);
	cr_assert_eq(d.errors, 1, "only the last line is wrong");
	cr_expect_eq(d.msgs[0].line, 1004, "%s", d.msgs[0].text);
	kst_diag_free(&d);
	close(fds[0]);
}

/* An inline cert's name and pem path are one string: freed once, and
 * each of many is found (the arrays sized before the lines are read). */
Test(config, many_inline_certs_each_keep_their_path)
{
	char *text = NULL, *p;
	size_t len = 0;
	struct kst_diag d;
	struct kst_config *c;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	fprintf(f, "[listener:a]\nbind = 127.0.0.1:1\nbackend = 127.0.0.1:2\n");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "  cert = /etc/kst/c%d.pem\n", i % 2500);
	fprintf(f, "[cert:named]\npem = /abs/n.pem\n[listener:b]\n"
		   "bind = 127.0.0.1:3\nbackend = 127.0.0.1:4\ncert = named\n");
	fclose(f);
	kst_diag_init(&d);
	c = kst_config_parse_string("/etc/kst/k.conf", text, &d);
	cr_assert_not_null(c, "%s", d.n ? d.msgs[0].text : "");
	cr_assert_eq(c->n_certs, 2501, "a path listed twice is one cert");
	cr_assert_eq(c->listeners[0].n_certs, 3000);
	for (size_t i = 0; i < 2500; i++) {
		cr_assert(asprintf(&p, "/etc/kst/c%zu.pem", i) > 0);
		cr_assert_str_eq(c->certs[i].pem, p);
		cr_assert_str_eq(c->certs[i].name, p);
		free(p);
	}
	cr_assert_eq(c->listeners[0].certs[2999].cert, 499);
	cr_assert_str_eq(c->certs[2500].pem, "/abs/n.pem");
	cr_assert_str_eq(c->certs[2500].name, "named");
	kst_config_free(c);
	kst_diag_free(&d);
	free(text);
}
