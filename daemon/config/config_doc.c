// SPDX-License-Identifier: MIT
/*
 * Output generated from the option table: the effective configuration
 * (`kstapled -T`, in the file's own syntax, so it can be read back, each
 * value formatted from its row) and the documentation tables of the
 * README and kstapled.conf(5). Nothing here knows an option by name
 * except the list-valued listener and cert options, which the table
 * cannot format as one value.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/config.h"
#include "daemon/config/config_opts.h"
#include "daemon/base/log.h"
#include "daemon/base/util.h"

static void format_ms(int64_t ms, char *buf, size_t len);
static void format_size(int64_t v, char *buf, size_t len);
static void doc_range(const struct kst_option *o, char *buf, size_t len);
static void dump_section(const char *header, const char *section,
			 const void *obj, FILE *out);
static void dump_listener(const struct kst_config *c,
			  const struct kst_listener_conf *lc, FILE *out);
static void dump_cert(const struct kst_cert_conf *cc, FILE *out);

/* ------------------------------------------- one value, from its row */

static void format_ms(int64_t ms, char *buf, size_t len)
{
	static const struct {
		int64_t div;
		const char *unit;
	} units[] = {
		{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	for (size_t i = 0; i < KST_ARRAY_SIZE(units); i++) {
		if (ms != 0 && ms % units[i].div == 0) {
			snprintf(buf, len, "%" PRId64 "%s", ms / units[i].div,
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64 "%s", ms, ms ? "ms" : "s");
}

static void format_size(int64_t v, char *buf, size_t len)
{
	if (v != 0 && v % (1 << 20) == 0)
		snprintf(buf, len, "%" PRId64 "m", v >> 20);
	else if (v != 0 && v % 1024 == 0)
		snprintf(buf, len, "%" PRId64 "k", v >> 10);
	else
		snprintf(buf, len, "%" PRId64, v);
}

bool kst_option_is_unset(const struct kst_option *o, const void *obj)
{
	const void *f = (const char *)obj + o->off;

	return (o->type == OT_STRING || o->type == OT_PATH) &&
	       *(char *const *)f == NULL;
}

const char *kst_option_string(const struct kst_option *o, const void *obj)
{
	if (o->type != OT_STRING && o->type != OT_PATH)
		return NULL;
	return *(char *const *)((const char *)obj + o->off);
}

int kst_option_format(const struct kst_option *o, const void *obj, char *buf,
		      size_t len)
{
	const void *f = (const char *)obj + o->off;
	int v;

	buf[0] = '\0';
	switch (o->type) {
	case OT_UINT:
	case OT_PERCENT:
		if ((o->flags & OPT_AUTO) && *(const unsigned *)f == 0)
			snprintf(buf, len, "auto");
		else
			snprintf(buf, len, "%u", *(const unsigned *)f);
		return 0;
	case OT_DURATION:
		format_ms(*(const int64_t *)f, buf, len);
		return 0;
	case OT_SIZE:
		format_size(*(const int64_t *)f, buf, len);
		return 0;
	case OT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)f ? "on" : "off");
		return 0;
	case OT_ENUM:
		v = *(const int *)f;
		if (v < 0)
			snprintf(buf, len, "(inherit)");
		else if (o->flags & OPT_LOGLEVEL)
			snprintf(buf, len, "%s", kst_log_level_name(v));
		else
			snprintf(buf, len, "%s", o->choices[v]);
		return 0;
	case OT_TLSVER:
		snprintf(buf, len, "%s",
			 *(const int *)f == 0x0304 ? "1.3" : "1.2");
		return 0;
	case OT_STRING:
	case OT_PATH:
		snprintf(buf, len, "%s",
			 *(char *const *)f ? *(char *const *)f : "");
		return 0;
	default:
		return -EINVAL; /* lists: the dumper walks them itself */
	}
}

/* ------------------------------------------------------------ -T dump */

/*
 * "name = value" as the parser reads it back (kst_parse_line): it cuts a
 * comment at a '#' that starts the value or follows whitespace, trims
 * whitespace around the value and then strips one pair of enclosing double
 * quotes; so a value starting with '#', with whitespace at either end, or
 * already enclosed in quotes, is written inside a pair of quotes. (A
 * parsed value never holds a '#' after whitespace: that was a comment.)
 */
static void dump_kv(FILE *out, const char *name, const char *v)
{
	size_t n = strlen(v);
	bool quote = n > 0 && (v[0] == '#' || isspace((unsigned char)v[0]) ||
			       isspace((unsigned char)v[n - 1]) ||
			       (n >= 2 && v[0] == '"' && v[n - 1] == '"'));

	fprintf(out, quote ? "%s = \"%s\"\n" : "%s = %s\n", name, v);
}

static void dump_section(const char *header, const char *section,
			 const void *obj, FILE *out)
{
	char val[512];
	const char *sv;

	fprintf(out, "\n[%s]\n", header);
	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);

		if (strcmp(kst_option_section(o), section) != 0)
			continue;
		if (kst_option_format(o, obj, val, sizeof(val)) < 0)
			continue;
		if (kst_option_inherits(o) && strcmp(val, "(inherit)") == 0)
			fprintf(out, "# %s inherited\n", kst_option_name(o));
		else if (kst_option_is_unset(o, obj))
			fprintf(out, "# %s not set\n", kst_option_name(o));
		else if ((sv = kst_option_string(o, obj)) != NULL)
			dump_kv(out, kst_option_name(o), sv);
		else
			dump_kv(out, kst_option_name(o), val);
	}
}

static void dump_cert(const struct kst_cert_conf *cc, FILE *out)
{
	char hdr[600];

	snprintf(hdr, sizeof(hdr), "cert:%s", cc->name);
	dump_section(hdr, "cert:NAME", cc, out);
	for (size_t j = 0; j < cc->n_ocsp_urls; j++)
		dump_kv(out, "ocsp-url", cc->ocsp_urls[j]);
}

static void dump_listener(const struct kst_config *c,
			  const struct kst_listener_conf *lc, FILE *out)
{
	char hdr[300];

	snprintf(hdr, sizeof(hdr), "listener:%s", lc->name);
	dump_section(hdr, "listener:NAME", lc, out);
	for (size_t j = 0; j < lc->n_binds; j++)
		dump_kv(out, "bind", lc->binds[j].text);
	dump_kv(out, "backend", lc->backend.text);
	dump_kv(out, "alpn", lc->alpn_text ? lc->alpn_text : "");
	for (size_t j = 0, k = 0; j < lc->n_certs || k < lc->n_cert_dirs;) {
		const struct kst_cert_conf *cc;

		/* a cert-dir, where it stood, instead of the files it added */
		if (k < lc->n_cert_dirs && lc->cert_dirs[k].first <= j) {
			dump_kv(out, "cert-dir", lc->cert_dirs[k].path);
			fprintf(out, "# %zu certificates from this cert-dir\n",
				lc->cert_dirs[k].n);
			j += lc->cert_dirs[k++].n;
			continue;
		}
		cc = &c->certs[lc->certs[j++].cert];
		if (!cc->inline_cert) {
			dump_kv(out, "cert", cc->name);
			continue;
		}
		dump_kv(out, "cert", cc->pem);
		if (cc->key != NULL)
			dump_kv(out, "key", cc->key);
	}
}

void kst_config_dump(const struct kst_config *c, FILE *out)
{
	fprintf(out, "# effective configuration of %s\n", c->path);
	dump_section("global", "global", &c->global, out);
	dump_section("ocsp", "ocsp", &c->ocsp, out);
	for (size_t i = 0; i < c->n_certs; i++)
		if (!c->certs[i].inline_cert)
			dump_cert(&c->certs[i], out);
	for (size_t i = 0; i < c->n_listeners; i++)
		dump_listener(c, &c->listeners[i], out);
}

char *kst_config_dump_string(const struct kst_config *c, size_t *len)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (f == NULL)
		return NULL;
	kst_config_dump(c, f);
	if (fclose(f) != 0) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return text;
}

static void doc_range(const struct kst_option *o, char *buf, size_t len)
{
	kst_option_choices(o, buf, len);
	if (buf[0] != '\0')
		return;
	if (kst_option_min(o) != NULL)
		snprintf(buf, len, "%s .. %s", kst_option_min(o),
			 kst_option_max(o));
}

static const char *doc_default(const struct kst_option *o, char *buf,
			       size_t len)
{
	const char *d = kst_option_default(o);

	if (kst_option_inherits(o))
		return "inherited";
	if (d == NULL && kst_option_required(o))
		return kst_option_repeatable(o) ? "(required, repeatable)"
						: "(required)";
	if (d == NULL)
		return kst_option_repeatable(o) ? "(none, repeatable)"
						: "(none)";
	if (*d == '\0')
		return "(empty)";
	snprintf(buf, len, "%s", d);
	return buf;
}

void kst_config_doc(enum kst_config_doc_format fmt, FILE *out)
{
	const char *section = "";
	char range[256], def[512];

	for (size_t i = 0; i < kst_config_option_count(); i++) {
		const struct kst_option *o = kst_config_option(i);
		const char *d;

		doc_range(o, range, sizeof(range));
		d = doc_default(o, def, sizeof(def));
		if (strcmp(section, kst_option_section(o)) != 0) {
			section = kst_option_section(o);
			if (fmt == KST_CONFIG_DOC_MARKDOWN)
				fprintf(out,
					"%s| `[%s]` | type | default | range "
					"| |\n|---|---|---|---|---|\n",
					i ? "\n" : "", section);
			else
				fprintf(out, ".SS [%s]\n", section);
		}
		if (fmt == KST_CONFIG_DOC_MARKDOWN)
			fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n",
				kst_option_name(o), kst_option_type_name(o), d,
				range, kst_option_doc(o));
		else
			fprintf(out, ".TP\n.B %s\n(%s; default: %s%s%s)\n%s\n",
				kst_option_name(o), kst_option_type_name(o), d,
				range[0] ? "; " : "", range, kst_option_doc(o));
	}
}
