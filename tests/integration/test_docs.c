// SPDX-License-Identifier: MIT
/*
 * Documents the code keeps true. The README's option table is the code's:
 * `kstapled --options markdown` generates it (scripts/readme-options.sh),
 * and this test fails when the two drift apart. doc/threads.md, the
 * threading model, is checked against the sources: the headers it replaced
 * point at it, every function it names exists, and every thread the daemon
 * starts (each pthread_create in daemon/ and ktls/) is named in it.
 * doc/layout.md, the file map, lists every file of daemon/, and its areas'
 * order holds: a file includes only its own area and those listed before.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
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

/* ------------------------------------------------ doc/threads.md */

static char *docs_src(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", kst_test_srcdir(), rel);
	return kst_h_read(path);
}

Test(docs, thread_headers_point_at_doc_threads_md, .timeout = 30)
{
	static const char *const hdrs[] = {
		"daemon/datapath/worker.h", "daemon/control/control.h",
		"daemon/ocsp/fetcher.h",    "daemon/ocsp/certstate.h",
		"daemon/datapath/gen.h",
	};

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		char *s = docs_src(hdrs[i]);

		cr_assert_not_null(s, "%s", hdrs[i]);
		cr_expect(strstr(s, "See doc/threads.md") != NULL,
			  "%s does not point at doc/threads.md", hdrs[i]);
		free(s);
	}
}

/* Whether src defines name: a line at column 0 (kernel style) holding
 * "name(" and not ending in ';' (a prototype). */
static bool docs_defines(const char *src, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = src; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);

		if (len > 0 && l[0] != ' ' && l[0] != '\t' && l[0] != '/' &&
		    l[0] != '#' && l[len - 1] != ';') {
			for (const char *p = l; p + n < l + len; p++)
				if (memcmp(p, name, n) == 0 && p[n] == '(' &&
				    (p == l ||
				     !(p[-1] == '_' ||
				       isalnum((unsigned char)p[-1]))))
					return true;
		}
		l = end ? end + 1 : NULL;
	}
	return false;
}

/* The table rows of doc/threads.md name "`FUNCTION` in DIR/FILE.c". */
static size_t docs_thread_fns(const char *doc, char fns[][64], char files[][64],
			      size_t max)
{
	size_t k = 0;

	for (const char *p = doc; k < max && (p = strstr(p, "` in ")) != NULL;
	     p++) {
		const char *b = p, *f = p + 5, *fe = f;

		while (b > doc && b[-1] != '`')
			b--;
		while (*fe != '\0' && *fe != ' ' && *fe != '|' && *fe != '\n')
			fe++;
		if (b == doc || p - b >= 64 || fe - f >= 64 || fe - f < 3 ||
		    memcmp(fe - 2, ".c", 2) != 0)
			continue;
		snprintf(fns[k], 64, "%.*s", (int)(p - b), b);
		snprintf(files[k], 64, "%.*s", (int)(fe - f), f);
		k++;
	}
	return k;
}

Test(docs, thread_functions_in_doc_threads_md_exist, .timeout = 30)
{
	char fns[16][64], files[16][64];
	char *doc = docs_src("doc/threads.md");
	size_t n;

	cr_assert_not_null(doc, "doc/threads.md");
	n = docs_thread_fns(doc, fns, files, 16);
	cr_assert_geq(n, 3,
		      "doc/threads.md names its thread functions as "
		      "\"`function` in daemon/file.c\" (found %zu)",
		      n);
	for (size_t i = 0; i < n; i++) {
		char *src = docs_src(files[i]);

		cr_expect_not_null(src, "doc/threads.md names %s, missing",
				   files[i]);
		if (src != NULL)
			cr_expect(docs_defines(src, fns[i]),
				  "doc/threads.md: %s is not defined in %s",
				  fns[i], files[i]);
		free(src);
	}
	free(doc);
}

/* The start routine of each pthread_create call in s (its third argument),
 * by callback. */
static void docs_each_start_routine(const char *s,
				    void (*fn)(const char *name, void *arg),
				    void *arg)
{
	for (const char *p = s; (p = strstr(p, "pthread_create(")) != NULL;) {
		int depth = 0, commas = 0;
		const char *a = NULL;
		char name[64];
		size_t len = 0;

		for (p += strlen("pthread_create("); *p != '\0'; p++) {
			if (*p == '(' || *p == '[')
				depth++;
			else if ((*p == ')' || *p == ']') && depth-- == 0)
				break;
			else if (*p == ',' && depth == 0 && ++commas == 2)
				a = p + 1;
		}
		if (a == NULL)
			continue;
		while (*a == ' ' || *a == '\t' || *a == '\n')
			a++;
		while (len + 1 < sizeof(name) &&
		       (a[len] == '_' || isalnum((unsigned char)a[len])))
			len++;
		snprintf(name, sizeof(name), "%.*s", (int)len, a);
		fn(name, arg);
	}
}

struct docs_named {
	const char *doc;
	const char *file;
	unsigned seen;
};

static void docs_expect_named(const char *name, void *arg)
{
	struct docs_named *dn = arg;
	char tick[400];

	dn->seen++;
	snprintf(tick, sizeof(tick), "`%s` in %s", name, dn->file);
	cr_expect(strstr(dn->doc, tick) != NULL,
		  "%s starts threads running %s: doc/threads.md does not "
		  "name it (as \"%s\")",
		  dn->file, name, tick);
}

static void docs_each_file(const char *dir,
			   void (*fn)(const char *rel, void *arg), void *arg);

/*
 * Every source of the daemon and of ktls/ (daemon/AREA/NAME.{c,h},
 * ktls/NAME.{c,h}), by callback with its path relative to the tree.
 */
static void docs_each_source(void (*fn)(const char *rel, void *arg), void *arg)
{
	char top[512];
	struct dirent *ae;
	DIR *areas;

	snprintf(top, sizeof(top), "%s/daemon", kst_test_srcdir());
	areas = opendir(top);
	cr_assert_not_null(areas, "%s", top);
	while ((ae = readdir(areas)) != NULL) {
		char dir[300];

		if (ae->d_name[0] == '.' || ae->d_type != DT_DIR)
			continue;
		snprintf(dir, sizeof(dir), "daemon/%s", ae->d_name);
		docs_each_file(dir, fn, arg);
	}
	closedir(areas);
	docs_each_file("ktls", fn, arg);
}

static void docs_each_file(const char *dir,
			   void (*fn)(const char *rel, void *arg), void *arg)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", kst_test_srcdir(), dir);
	d = opendir(path);
	cr_assert_not_null(d, "%s", path);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char rel[600];

		if (len < 3 || de->d_name[len - 2] != '.' ||
		    (de->d_name[len - 1] != 'c' && de->d_name[len - 1] != 'h'))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, de->d_name);
		fn(rel, arg);
	}
	closedir(d);
}

static void docs_threads_of(const char *rel, void *arg)
{
	struct docs_named *dn = arg;
	char *s;

	if (rel[strlen(rel) - 1] != 'c')
		return;
	s = docs_src(rel);
	cr_assert_not_null(s, "%s", rel);
	dn->file = rel;
	docs_each_start_routine(s, docs_expect_named, dn);
	free(s);
}

Test(docs, every_thread_the_daemon_starts_is_in_doc_threads_md, .timeout = 30)
{
	struct docs_named dn = {0};
	char *doc = docs_src("doc/threads.md");

	cr_assert_not_null(doc, "doc/threads.md");
	dn.doc = doc;
	docs_each_source(docs_threads_of, &dn);
	cr_expect_geq(dn.seen, 3, "found only %u pthread_create calls",
		      dn.seen);
	free(doc);
}

/* ------------------------------------------------- doc/layout.md */

/*
 * doc/layout.md lists the areas of daemon/ as "### NAME" headings in
 * dependency order, and each file on a line "- `daemon/AREA/F.c`, `F.h`:
 * role" (names after the first are in the first one's folder).
 */
struct docs_layout {
	char *doc;
	char areas[16][32];
	size_t n_areas;
	char files[256][96];
	size_t n_files;
};

static void docs_layout_read(struct docs_layout *l)
{
	memset(l, 0, sizeof(*l));
	l->doc = docs_src("doc/layout.md");
	cr_assert_not_null(l->doc, "doc/layout.md");
	for (char *line = l->doc; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n');
		size_t len = next ? (size_t)(next - line) : strlen(line);

		if (len > 4 && strncmp(line, "### ", 4) == 0 && l->n_areas < 16)
			snprintf(l->areas[l->n_areas++], 32, "%.*s",
				 (int)(len - 4), line + 4);
		if (len > 10 && strncmp(line, "- `daemon/", 10) == 0) {
			const char *t = line, *end = line + len, *colon;
			int dir_len = -1;

			colon = memchr(line, ':', len);
			end = colon ? colon : end;
			while ((t = memchr(t, '`', (size_t)(end - t))) !=
				       NULL &&
			       l->n_files < 256) {
				const char *q = memchr(t + 1, '`',
						       (size_t)(end - t - 1));

				if (q == NULL)
					break;
				if (dir_len < 0) {
					const char *slash = q;

					while (slash > t && *slash != '/')
						slash--;
					dir_len = (int)(slash - t);
					snprintf(l->files[l->n_files++], 96,
						 "%.*s", (int)(q - t - 1),
						 t + 1);
				} else {
					snprintf(l->files[l->n_files++], 96,
						 "%.*s/%.*s", dir_len - 1,
						 line + 3, (int)(q - t - 1),
						 t + 1);
				}
				t = q + 1;
			}
		}
		line = next ? next + 1 : NULL;
	}
	cr_assert_geq(l->n_areas, 2, "no \"### AREA\" headings");
}

static int docs_area_rank(const struct docs_layout *l, const char *rel)
{
	char area[32];

	if (sscanf(rel, "daemon/%31[^/]/", area) != 1)
		return -1;
	for (size_t i = 0; i < l->n_areas; i++)
		if (strcmp(l->areas[i], area) == 0)
			return (int)i;
	return -1;
}

static void docs_layout_check(const char *rel, void *arg)
{
	const struct docs_layout *l = arg;
	int rank = docs_area_rank(l, rel);
	bool listed = false;
	char *s;

	if (strncmp(rel, "daemon/", 7) != 0)
		return; /* ktls/: make ktls-alone */
	for (size_t i = 0; i < l->n_files && !listed; i++)
		listed = strcmp(l->files[i], rel) == 0;
	cr_expect(listed, "doc/layout.md does not list %s", rel);
	cr_expect_geq(rank, 0,
		      "%s: its area has no heading in "
		      "doc/layout.md",
		      rel);
	s = docs_src(rel);
	cr_assert_not_null(s, "%s", rel);
	for (const char *p = s; (p = strstr(p, "#include \"daemon/")) != NULL;
	     p++) {
		int inc = docs_area_rank(l, p + 10);
		size_t n = strcspn(p + 10, "\"\n");

		cr_expect(inc >= 0 && inc <= rank,
			  "%s includes %.*s: an area listed after its own "
			  "in doc/layout.md (or none)",
			  rel, (int)n, p + 10);
	}
	free(s);
}

Test(docs, layout_md_lists_every_file_and_areas_include_only_earlier_ones,
     .timeout = 30)
{
	struct docs_layout *l = malloc(sizeof(*l));

	cr_assert_not_null(l);
	docs_layout_read(l);
	docs_each_source(docs_layout_check, l);
	for (size_t i = 0; i < l->n_files; i++) {
		char *s = docs_src(l->files[i]);

		cr_expect(s != NULL, "doc/layout.md lists %s: no such file",
			  l->files[i]);
		free(s);
	}
	free(l->doc);
	free(l);
}
