// SPDX-License-Identifier: MIT
/* Diagnostics list; see diag.h. Allocation failures drop the message. */
#include "daemon/base/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/base/log.h"

static void diag_add(struct kst_diag *d, const char *file, int line,
		     int warning, const char *fmt, va_list ap)
{
	struct kst_diag_msg *m;
	char *text = NULL, *where;

	/* counted first: an error whose message cannot be kept (out of
	 * memory) still fails the load, and the log says one was lost */
	if (warning)
		d->warnings++;
	else
		d->errors++;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;

		m = realloc(d->msgs, cap * sizeof(*m));
		if (m == NULL)
			return;
		d->msgs = m;
		d->cap = cap;
	}
	if (vasprintf(&text, fmt, ap) < 0)
		return;
	where = strdup(file ? file : "-");
	if (where == NULL) {
		free(text);
		return;
	}
	m = &d->msgs[d->n];
	m->file = where;
	m->line = line;
	m->warning = warning;
	m->text = text;
	d->n++;
}

/* Diagnostics counted but not kept (out of memory). */
static size_t diag_lost(const struct kst_diag *d)
{
	return d->errors + d->warnings - d->n;
}

void kst_diag_init(struct kst_diag *d)
{
	memset(d, 0, sizeof(*d));
}

void kst_diag_free(struct kst_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->msgs[i].file);
		free(d->msgs[i].text);
	}
	free(d->msgs);
	memset(d, 0, sizeof(*d));
}

void kst_diag_error(struct kst_diag *d, const char *file, int line,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, file, line, 0, fmt, ap);
	va_end(ap);
}

void kst_diag_warn(struct kst_diag *d, const char *file, int line,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(d, file, line, 1, fmt, ap);
	va_end(ap);
}

static void diag_where(const struct kst_diag_msg *m, char *buf, size_t len)
{
	if (m->line > 0)
		snprintf(buf, len, "%s:%d", m->file, m->line);
	else
		snprintf(buf, len, "%s", m->file);
}

void kst_diag_print(const struct kst_diag *d, FILE *out)
{
	char where[512];

	for (size_t i = 0; i < d->n; i++) {
		diag_where(&d->msgs[i], where, sizeof(where));
		fprintf(out, "%s: %s%s\n", where,
			d->msgs[i].warning ? "warning: " : "", d->msgs[i].text);
	}
	if (diag_lost(d) > 0)
		fprintf(out,
			"%zu more errors or warnings: out of memory "
			"keeping their text\n",
			diag_lost(d));
}

void kst_diag_log(const struct kst_diag *d)
{
	char where[512];

	for (size_t i = 0; i < d->n; i++) {
		diag_where(&d->msgs[i], where, sizeof(where));
		kst_log(d->msgs[i].warning ? KST_LOG_WARN : KST_LOG_ERR,
			"%s: %s", where, d->msgs[i].text);
	}
	if (diag_lost(d) > 0)
		kst_err("%zu more errors or warnings: out of memory keeping "
			"their text",
			diag_lost(d));
}
