// SPDX-License-Identifier: MIT
/*
 * Configuration errors that say what was meant: an unknown key or section
 * gets the nearest name of the option table ("did you mean"), a key of
 * another section says where it belongs, and a directory given as the
 * configuration is one error, not a cascade. The edit distance behind the
 * suggestions is tested on its own.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config/config.h"
#include "daemon/base/parse.h"
#include "daemon/base/util.h"

#define LISTENER                                  \
	"[listener:web]\nbind = 127.0.0.1:8443\n" \
	"backend = 127.0.0.1:8080\ncert = /etc/kstapled/a.pem\n"

struct dist_case {
	char a[24], b[24];
	size_t want;
};

/* clang-format off */
static struct dist_case dist_cases[] = {
	{ "workers", "workers", 0 },     { "workres", "workers", 1 },
	{ "state_dir", "state-dir", 0 }, { "WORKERS", "workers", 0 },
	{ "worker", "workers", 1 },      { "wrkers", "workers", 1 },
	{ "stpling", "stapling", 1 },    { "listner", "listener", 1 },
	{ "ocps", "ocsp", 1 },           { "", "ocsp", 4 },
	{ "backlog", "bind", 6 },        { "kitten", "sitting", 3 },
};
/* clang-format on */

ParameterizedTestParameters(config_errors, measures_edit_distance)
{
	return cr_make_param_array(struct dist_case, dist_cases,
				   KST_ARRAY_SIZE(dist_cases));
}

ParameterizedTest(struct dist_case *c, config_errors, measures_edit_distance)
{
	cr_assert_eq(kst_parse_distance(c->a, c->b), c->want, "%s / %s", c->a,
		     c->b);
	cr_assert_eq(kst_parse_distance(c->b, c->a), c->want, "symmetric");
}

Test(config_errors, suggests_only_what_is_close)
{
	static const char *const words[] = {"global", "ocsp", "listener",
					    "cert"};

	cr_assert_str_eq(kst_parse_suggest("globl", words, 4), "global");
	cr_assert_str_eq(kst_parse_suggest("Listner", words, 4), "listener");
	cr_assert_str_eq(kst_parse_suggest("crt", words, 4), "cert");
	cr_assert_null(kst_parse_suggest("frontend", words, 4));
	cr_assert_null(kst_parse_suggest("x", words, 4));
	cr_assert_null(kst_parse_suggest("", words, 4));
}

/* The first error of text, or "" (no error). */
static void first_error(const char *text, char *msg, size_t len, int *line)
{
	struct kst_diag d;
	struct kst_config *c;

	kst_diag_init(&d);
	c = kst_config_parse_string("/etc/kstapled/k.conf", text, &d);
	snprintf(msg, len, "%s", d.n ? d.msgs[0].text : "");
	*line = d.n ? d.msgs[0].line : -1;
	kst_config_free(c);
	kst_diag_free(&d);
}

struct msg_case {
	char text[160];
	int line;
	char want[120];
};

/* clang-format off */
static struct msg_case msg_cases[] = {
	{ "[global]\nworkres = 2\n" LISTENER, 2,
	  "unknown option 'workres' in [global]; did you mean 'workers'?" },
	{ "[global]\nstate_dir = /var/lib/x\n" LISTENER, 2,
	  "did you mean 'state-dir'?" },
	{ "[ocsp]\nrefresh-margn = 5m\n" LISTENER, 2,
	  "unknown option 'refresh-margn' in [ocsp]; did you mean "
	  "'refresh-margin'?" },
	{ LISTENER "stpling = on\n", 5,
	  "unknown option 'stpling' in [listener:NAME]" },
	{ "[global]\nfetch = off\n" LISTENER, 2,
	  "unknown option 'fetch' in [global]: it belongs in [ocsp]" },
	{ "[global]\nfrobnicate = 1\n" LISTENER, 2,
	  "unknown option 'frobnicate' in [global] (kstapled --options" },
	{ "[globl]\n" LISTENER, 1,
	  "unknown section [globl]; did you mean [global]?" },
	{ "[OCSP]\n" LISTENER, 1, "did you mean [ocsp]?" },
	{ "[listner:web]\n" LISTENER, 1,
	  "unknown section [listner:web]; did you mean [listener:web]?" },
	{ "[listener]\n" LISTENER, 1,
	  "a listener section needs a name, as in [listener:NAME]" },
	{ "[cert:a b]\n" LISTENER, 1,
	  "bad section [cert:a b]: a cert name has no blank" },
	{ "[frontend:web]\n" LISTENER, 1,
	  "unknown section [frontend:web] (expected [global], [ocsp]" },
};
/* clang-format on */

ParameterizedTestParameters(config_errors, says_what_was_meant)
{
	return cr_make_param_array(struct msg_case, msg_cases,
				   KST_ARRAY_SIZE(msg_cases));
}

ParameterizedTest(struct msg_case *c, config_errors, says_what_was_meant)
{
	char msg[512];
	int line;

	first_error(c->text, msg, sizeof(msg), &line);
	cr_assert_not_null(strstr(msg, c->want), "got: '%s'\nwant: '%s'", msg,
			   c->want);
	cr_assert_eq(line, c->line, "%s", msg);
}

Test(config_errors, a_near_miss_of_another_section_names_that_section)
{
	char msg[512];
	int line;

	/* stapling is a [cert:NAME] option, nothing in a listener is close */
	first_error(LISTENER "stpling = on\n", msg, sizeof(msg), &line);
	cr_assert_str_eq(msg, "unknown option 'stpling' in [listener:NAME]; "
			      "did you mean 'stapling' (an option of "
			      "[cert:NAME])?");
}

Test(config_errors, a_directory_is_one_clear_error)
{
	char dir[] = "/tmp/kst-conf-dir-XXXXXX";
	struct kst_diag d;
	struct kst_config *c;

	cr_assert_not_null(mkdtemp(dir));
	for (int all = 0; all < 2; all++) {
		kst_diag_init(&d);
		errno = 0;
		c = all ? kst_config_parse_all(dir, &d)
			: kst_config_parse(dir, &d);
		cr_assert_null(c);
		cr_assert_eq(errno, EISDIR);
		cr_assert_eq(d.n, 1, "one message, got %zu (second: %s)", d.n,
			     d.n > 1 ? d.msgs[1].text : "");
		cr_assert_not_null(strstr(d.msgs[0].text, "is a directory"),
				   "%s", d.msgs[0].text);
		cr_assert_not_null(strstr(d.msgs[0].text, "kstapled.conf"),
				   "%s", d.msgs[0].text);
		kst_diag_free(&d);
	}
	rmdir(dir);
}
