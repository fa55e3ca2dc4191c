// SPDX-License-Identifier: MIT
/*
 * The README's option table is the code's: `kstapled --options markdown`
 * generates it (scripts/readme-options.sh), and this test fails when the
 * two drift apart.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tests/lib/testutil.h"

Test(docs, readme_option_table_matches_the_option_table, .timeout = 30)
{
	char *argv[] = {(char *)kst_h_kstapled(), "--options", "markdown",
			NULL};
	char *table = NULL, *readme, path[512], *a, *b;

	cr_assert_eq(kst_h_run(argv, NULL, 0, &table, 10000), 0);
	snprintf(path, sizeof(path), "%s/README.md", kst_test_srcdir());
	readme = kst_h_read(path);
	cr_assert_not_null(readme, "%s", path);
	a = strstr(readme, "<!-- options:begin -->\n");
	b = a ? strstr(a, "<!-- options:end -->") : NULL;
	cr_assert(a && b, "README.md has the options markers");
	a += strlen("<!-- options:begin -->\n");
	*b = '\0';
	cr_expect_str_eq(a, table,
			 "README.md is stale: run scripts/readme-options.sh");
	free(readme);
	free(table);
}
