/* SPDX-License-Identifier: MIT */
/*
 * Value syntax shared by the configuration and the command line, and the
 * line syntax of the configuration file; see parse.c. Every parser returns 0,
 * -EINVAL (syntax) or -ERANGE (overflow).
 */
#ifndef KST_PARSE_H
#define KST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A socket address as written in the file, resolved at parse time. */
struct kst_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	/* whole: any address the parser accepts fits ("[" 255-byte host
	 * "]:" 31-byte port), so the -T dump prints what was read */
	char text[300];
	int line;
};

int kst_parse_uint(const char *s, uint64_t *out);
int kst_parse_duration_ms(const char *s, int64_t *out);
int kst_parse_size(const char *s, int64_t *out);
int kst_parse_bool(const char *s, bool *out);
/* For fuzz targets: host names in addresses are refused instead of
 * looked up (no DNS query per input). Process-wide; off by default. */
void kst_parse_numeric_only(bool on);
/* "host:port", "[v6]:port", "*:port" or "unix:/path"; host names are
 * resolved (first address) when resolve is true. On error, err says why. */
int kst_parse_addr(const char *s, bool resolve, struct kst_addr *out, char *err,
		   size_t errlen);
/* "h2,http/1.1" -> wire format "\x02h2\x08http/1.1" (malloc'd; NULL, 0
 * for ""). */
int kst_parse_alpn(const char *s, unsigned char **wire, size_t *len);
/* Edit distance between two words for "did you mean": insertions,
 * deletions, substitutions and adjacent transpositions, case-insensitive,
 * '_' and '-' alike. */
size_t kst_parse_distance(const char *a, const char *b);
/* The candidate closest to word within a typo's distance (first of equals),
 * or NULL; NULL entries of cands are skipped. */
const char *kst_parse_suggest(const char *word, const char *const *cands,
			      size_t n);
/* Address as "1.2.3.4:5", "[::1]:5" or "unix:/path". */
void kst_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* A line of the configuration file, as kst_parse_line reads it. */
enum kst_line_kind {
	KST_LINE_BLANK,	      /* nothing but blanks or a comment */
	KST_LINE_SECTION,     /* "[NAME]": *a is NAME */
	KST_LINE_OPTION,      /* "KEY = VALUE": *a is KEY, *b VALUE */
	KST_LINE_BAD_SECTION, /* "[" without a closing "]" last: *a the line */
	KST_LINE_BAD,	      /* no '=': *a is the line */
};
/* Reads one line (without its newline), cutting it in place: a comment
 * starts at a '#' that begins the line or follows a blank; blanks around
 * the line, the section name, the key and the value are dropped, then one
 * pair of double quotes enclosing the value. *a and *b point into line
 * (*b only for an option). */
enum kst_line_kind kst_parse_line(char *line, char **a, char **b);

#endif
