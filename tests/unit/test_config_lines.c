// SPDX-License-Identifier: MIT
/*
 * The option table's line column (daemon/config/config_opts.h): every option
 * whose row names a line field records there the line that set it, so the
 * loader reports a bad certificate, key, staple file, cipher list or state
 * directory at FILE:LINE; a value the parser refused records no line (the
 * field keeps its default, which the loader reports as the default).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config/config.h"
#include "daemon/config/config_opts.h"

/* text parsed like `kstapled -t` would (errors kept), from a temp file */
static struct kst_config *parse_all(const char *text, struct kst_diag *d)
{
	char path[] = "/tmp/kst-config-lines-XXXXXX";
	int fd = mkstemp(path);
	struct kst_config *c;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	kst_diag_init(d);
	c = kst_config_parse_all(path, d);
	unlink(path);
	cr_assert_not_null(c);
	return c;
}

static void *section_obj(struct kst_config *c, enum opt_section sec)
{
	switch (sec) {
	case SEC_GLOBAL:
		return &c->global;
	case SEC_OCSP:
		return &c->ocsp;
	case SEC_LISTENER:
		cr_assert_eq(c->n_listeners, 1);
		return &c->listeners[0];
	default:
		cr_assert_eq(c->n_certs, 1);
		return &c->certs[0];
	}
}

static int line_of(const void *obj, const struct kst_option *o)
{
	return *(const int *)((const char *)obj + o->line_off);
}

Test(config_lines, each_line_column_holds_the_line_that_set_its_option)
{
	static const char *const headers[SEC__MAX] = {
		[SEC_GLOBAL] = "global",
		[SEC_OCSP] = "ocsp",
		[SEC_LISTENER] = "listener:web",
		[SEC_CERT] = "cert:c",
	};
	size_t tracked = 0;

	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);
		struct kst_diag d;
		struct kst_config *c;
		char text[256];
		void *obj;

		if (o->line_off == 0)
			continue;
		tracked++;
		/* the option on line 3, after a comment line */
		snprintf(text, sizeof(text), "[%s]\n# x\n%s = x\n",
			 headers[o->sec], o->name);
		c = parse_all(text, &d);
		obj = section_obj(c, o->sec);
		cr_expect_eq(line_of(obj, o), 3, "%s: line %d", o->name,
			     line_of(obj, o));
		/* and no other line column of the section moved */
		for (size_t j = 0; j < kst_config_option_count(); j++) {
			const struct kst_option *q = kst_config_option(j);

			if (q != o && q->sec == o->sec && q->line_off != 0 &&
			    q->line_off != o->line_off)
				cr_expect_eq(line_of(obj, q), 0,
					     "%s set, %s has line %d", o->name,
					     q->name, line_of(obj, q));
		}
		kst_config_free(c);
		kst_diag_free(&d);
	}
	cr_expect_gt(tracked, 0);
}

Test(config_lines, an_option_left_unset_has_line_zero)
{
	struct kst_diag d;
	struct kst_config *c = parse_all("[cert:c]\npem = /c.pem\n", &d);

	cr_expect_eq(c->certs[0].pem_line, 2);
	cr_expect_eq(c->certs[0].key_line, 0);
	cr_expect_eq(c->certs[0].staple_line, 0);
	cr_expect_eq(c->global.state_dir_line, 0);
	kst_config_free(c);
	kst_diag_free(&d);
}

Test(config_lines, a_refused_value_records_no_line)
{
	struct kst_diag d;
	struct kst_config *c =
		parse_all("[global]\nstate-dir =\n[listener:web]\n"
			  "ciphers =\n",
			  &d);

	cr_expect_eq(d.errors, 5); /* 2 refused, no bind, backend, cert */
	cr_expect_eq(c->global.state_dir_line, 0);
	cr_expect_str_eq(c->global.state_dir, "/var/lib/kstapled");
	cr_expect_eq(c->listeners[0].ciphers_line, 0);
	kst_config_free(c);
	kst_diag_free(&d);
}
