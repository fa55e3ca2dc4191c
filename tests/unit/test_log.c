// SPDX-License-Identifier: MIT
/*
 * Log lines and peer bytes: kst_log_escape turns whatever a peer sent
 * into printable ASCII that still tells the bytes apart, and every line
 * that reaches stderr is one line, whatever its arguments held (issue 12,
 * defect 7: a server name with a newline forged log lines and journal
 * priorities).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/base/log.h"

struct esc_case {
	char in[32];
	size_t len;
	char want[96];
};

static const struct esc_case esc_cases[] = {
	{"plain.example", 13, "plain.example"},
	{"a\nb", 3, "a\\x0ab"},
	{"\r\n<0>x", 6, "\\x0d\\x0a<0>x"},
	{"\x01\x1f\x7f", 3, "\\x01\\x1f\\x7f"},
	{"a\0b", 3, "a\\x00b"},
	{"\xc3\xa9", 2, "\\xc3\\xa9"},
	{"back\\slash", 10, "back\\x5cslash"},
	{"", 0, ""},
};

ParameterizedTestParameters(log, escapes_every_byte_that_is_not_printable)
{
	return cr_make_param_array(struct esc_case, esc_cases,
				   sizeof(esc_cases) / sizeof(esc_cases[0]));
}

ParameterizedTest(const struct esc_case *ec, log,
		  escapes_every_byte_that_is_not_printable)
{
	char out[KST_LOG_ESC_SIZE(32)];

	cr_expect_str_eq(kst_log_escape(out, sizeof(out), ec->in, ec->len),
			 ec->want);
}

Test(log, escape_cuts_with_an_ellipsis_and_never_overflows)
{
	char out[12];

	kst_log_escape(out, 8, "\n\n\n\n\n", 5);
	cr_expect_str_eq(out, "\\x0a...");
	kst_log_escape(out, sizeof(out), "abcdefghijklmnop", 16);
	cr_expect_str_eq(out, "abcdefgh...");
	kst_log_escape(out, 1, "abc", 3);
	cr_expect_str_eq(out, "");
}

/* What a log call writes to stderr, read back. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/kst-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *text = calloc(1, 4096);
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0 && text != NULL);
	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, 4095, 0);
	close(fd);
	cr_assert_geq(n, 0);
	return text;
}

static void log_forgery(void)
{
	kst_log_init();
	kst_warn("peer said '%s'", "x\n<0>kstapled: forged\r\x1b[2J");
}

Test(log, a_line_stays_one_line_whatever_its_arguments)
{
	char *text = capture(log_forgery);
	char *nl = strchr(text, '\n');

	cr_assert_not_null(nl, "%s", text);
	cr_expect_eq(nl[1], '\0', "one line only: %s", text);
	cr_expect(strstr(text, "x\\x0a<0>kstapled: forged\\x0d\\x1b[2J") !=
			  NULL,
		  "%s", text);
	for (char *p = text; p < nl; p++)
		cr_expect((unsigned char)*p >= 0x20 && *p != 0x7f,
			  "control byte %#x at %zu", (unsigned char)*p,
			  (size_t)(p - text));
	free(text);
}
