// SPDX-License-Identifier: MIT
/*
 * The configuration file's line syntax (kst_parse_line in daemon/base/parse.c):
 * comments, blanks, quotes, section headers and `key = value`, with what
 * an operator writes by mistake.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "daemon/base/parse.h"

/* arrays, not pointers: criterion runs each case in a new process */
struct line_case {
	char line[48];
	enum kst_line_kind kind;
	char a[24];
	char b[24]; /* unused unless kind is KST_LINE_OPTION */
};

static const struct line_case line_cases[] = {
	{"", KST_LINE_BLANK, ""},
	{"   \t ", KST_LINE_BLANK, ""},
	{"# a comment", KST_LINE_BLANK, ""},
	{"  # indented comment", KST_LINE_BLANK, ""},
	{"[global]", KST_LINE_SECTION, "global"},
	{"  [ listener:web ]  # the web", KST_LINE_SECTION, "listener:web"},
	{"[]", KST_LINE_SECTION, ""},
	{"[listener:web", KST_LINE_BAD_SECTION, "[listener:web"},
	{"[listener:web] x", KST_LINE_BAD_SECTION, "[listener:web] x"},
	{"workers = 4", KST_LINE_OPTION, "workers", "4"},
	{"\tworkers\t=\t4\t", KST_LINE_OPTION, "workers", "4"},
	{"workers=4#no comment", KST_LINE_OPTION, "workers", "4#no comment"},
	{"workers = 4 # comment", KST_LINE_OPTION, "workers", "4"},
	{"ciphers = a=b", KST_LINE_OPTION, "ciphers", "a=b"},
	{"user = \"  spaced  \"", KST_LINE_OPTION, "user", "  spaced  "},
	{"user = \"#x\"", KST_LINE_OPTION, "user", "#x"},
	{"user = \"\"", KST_LINE_OPTION, "user", ""},
	{"user = \"", KST_LINE_OPTION, "user", "\""},
	{"user = \"a\"b\"", KST_LINE_OPTION, "user", "a\"b"},
	{"user =", KST_LINE_OPTION, "user", ""},
	{"= v", KST_LINE_OPTION, "", "v"},
	{"just words", KST_LINE_BAD, "just words"},
	{"  words # and a comment", KST_LINE_BAD, "words"},
};

ParameterizedTestParameters(parse_line, reads_each_kind_of_line)
{
	return cr_make_param_array(struct line_case, line_cases,
				   sizeof(line_cases) / sizeof(line_cases[0]));
}

ParameterizedTest(const struct line_case *tc, parse_line,
		  reads_each_kind_of_line)
{
	char buf[128];
	char *a = NULL, *b = (char *)"unset";
	enum kst_line_kind kind;

	snprintf(buf, sizeof(buf), "%s", tc->line);
	kind = kst_parse_line(buf, &a, &b);
	cr_assert_eq(kind, tc->kind, "'%s': kind %d, want %d", tc->line, kind,
		     tc->kind);
	cr_expect_str_eq(a, tc->a, "'%s'", tc->line);
	if (tc->kind == KST_LINE_OPTION)
		cr_expect_str_eq(b, tc->b, "'%s'", tc->line);
	else
		cr_expect_null(b, "'%s'", tc->line);
	/* both point into the line itself */
	cr_expect(a >= buf && a <= buf + sizeof(buf));
}
