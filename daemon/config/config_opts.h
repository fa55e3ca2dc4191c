/* SPDX-License-Identifier: MIT */
/*
 * The option table's row, shared by the files that read the rows
 * themselves: the table (config_opts.c), the parser (config.c) and the
 * value formatting of `-T` (config_doc.c). Everyone else sees a row only
 * through the kst_option_* accessors of config.h.
 *
 * A row says where its value lives in the section's struct (off) and,
 * when the loader reports problems of that value against the line that
 * set it, where that line is kept (line_off, an int; 0: not kept). The
 * parser fills both from the row, so a new option is one row.
 */
#ifndef KST_CONFIG_OPTS_H
#define KST_CONFIG_OPTS_H

#include <stddef.h>

#include "daemon/config/config.h"

enum opt_section { SEC_GLOBAL, SEC_OCSP, SEC_LISTENER, SEC_CERT, SEC__MAX };

enum opt_type {
	OT_UINT,
	OT_DURATION,
	OT_SIZE,
	OT_PERCENT,
	OT_BOOL,
	OT_ENUM,
	OT_STRING,
	OT_PATH,
	OT_TLSVER,
	OT_ALPN,
	OT_BIND,    /* repeatable listen address */
	OT_BACKEND, /* host:port or unix:/path */
	OT_CERT,    /* repeatable: a PEM path or a [cert:NAME] */
	OT_KEY,	    /* listener: key of the preceding inline cert */
	OT_CERTDIR, /* listener, repeatable: a directory of PEM files */
	OT_URL,	    /* repeatable URL */
};

#define OPT_REPEAT   0x01u /* may appear several times */
#define OPT_AUTO     0x02u /* "auto" is accepted and stored as 0 */
#define OPT_EMPTY    0x04u /* the empty value is accepted */
#define OPT_INHERIT  0x08u /* unset means: inherit from another section */
#define OPT_REQUIRED 0x10u
#define OPT_LOGLEVEL 0x20u /* a choice stored as its log.h level */

/* More rows than this fail the build (config_opts.c): the parser keeps
 * one candidate per row on the stack for "did you mean". */
#define KST_CONFIG_MAX_OPTIONS 128

struct kst_option {
	enum opt_section sec;
	const char *name;
	enum opt_type type;
	const char *def; /* NULL: no default (required, inherited, or list) */
	const char *min, *max;
	const char *const *choices;
	size_t off;	 /* the value in the section's struct */
	size_t line_off; /* int line that set it, for the loader; 0: none
			  * (offset 0 of a section's struct is never one) */
	unsigned flags;
	const char *doc;
};

/* The rows, grouped by section in file order; kst_config_option_count()
 * of them. */
extern const struct kst_option kst_config_options[];
extern const char *const kst_config_section_names[SEC__MAX];

#endif
