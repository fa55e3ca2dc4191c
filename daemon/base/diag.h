/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics collected while checking or loading a configuration, each
 * tied to FILE:LINE, so `kstapled -t` can report every error at once and a
 * refused reload can log why. Errors make a configuration unusable;
 * warnings do not.
 */
#ifndef KST_DIAG_H
#define KST_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct kst_diag_msg {
	char *file;
	int line; /* 0 = the file as a whole */
	int warning;
	char *text;
};

struct kst_diag {
	struct kst_diag_msg *msgs;
	size_t n, cap;
	size_t errors, warnings;
};

void kst_diag_init(struct kst_diag *d);
void kst_diag_free(struct kst_diag *d);
void kst_diag_error(struct kst_diag *d, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void kst_diag_warn(struct kst_diag *d, const char *file, int line,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "FILE:LINE: message" or "FILE:LINE: warning: message", one per line */
void kst_diag_print(const struct kst_diag *d, FILE *out);
/* The same lines through the log, at err / warn level. */
void kst_diag_log(const struct kst_diag *d);

#endif
