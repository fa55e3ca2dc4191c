// SPDX-License-Identifier: MIT
/*
 * Value syntax shared by the configuration and the command line: numbers,
 * durations ("500ms", "30s", "5m", "1h", "2d"; a bare number is seconds),
 * sizes ("65536", "64k", "1m"), booleans, socket addresses and ALPN lists;
 * and the line syntax of the configuration file (sections, `key = value`,
 * comments, quotes), which knows no option. Pure except for name
 * resolution in kst_parse_addr.
 */
#include "daemon/base/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "daemon/base/util.h"

struct parse_unit {
	const char *suffix;
	int64_t mult;
};

/* A non-negative decimal number followed by exactly one of the suffixes. */
static int parse_scaled(const char *s, const struct parse_unit *units, size_t n,
			int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > INT64_MAX / units[i].mult)
			return -ERANGE;
		*out = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

int kst_parse_duration_ms(const char *s, int64_t *out)
{
	/* a bare number is seconds */
	static const struct parse_unit units[] = {
		{"ms", 1},	{"s", 1000},	 {"m", 60000},
		{"h", 3600000}, {"d", 86400000}, {"", 1000},
	};

	return parse_scaled(s, units, KST_ARRAY_SIZE(units), out);
}

int kst_parse_size(const char *s, int64_t *out)
{
	static const struct parse_unit units[] = {
		{"", 1},	{"k", 1024},	{"K", 1024},	  {"KiB", 1024},
		{"m", 1 << 20}, {"M", 1 << 20}, {"MiB", 1 << 20},
	};

	return parse_scaled(s, units, KST_ARRAY_SIZE(units), out);
}

int kst_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < KST_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int kst_parse_uint(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int addr_split(const char *s, char *host, size_t hostlen, char *port,
		      size_t portlen)
{
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		hl = (size_t)(close - s - 1);
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl) != NULL)
			return -EINVAL; /* bare IPv6 needs brackets */
	}
	if (hl >= hostlen || strlen(colon + 1) >= portlen || colon[1] == '\0')
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Set once by a fuzz target before any parse; read-only afterwards. */
static bool parse_numeric_only;

void kst_parse_numeric_only(bool on)
{
	parse_numeric_only = on;
}

int kst_parse_addr(const char *s, bool resolve, struct kst_addr *out, char *err,
		   size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[256], port[32];
	uint64_t pn;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->text, sizeof(out->text), "%s", s);
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;

		if (s[5] != '/' || strlen(s + 5) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen,
				 "'%s': unix socket needs an absolute path of "
				 "at most %zu bytes",
				 s, sizeof(sun->sun_path) - 1);
			return -EINVAL;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, s + 5);
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				       strlen(sun->sun_path) + 1);
		return 0;
	}
	if (addr_split(s, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen,
			 "'%s': expected host:port, [ipv6]:port or unix:/path",
			 s);
		return -EINVAL;
	}
	if (kst_parse_uint(port, &pn) < 0 || pn > 65535) {
		snprintf(err, errlen, "'%s': bad port '%s'", s, port);
		return -EINVAL;
	}
	if (strcmp(host, "*") == 0 || host[0] == '\0')
		strcpy(host, "0.0.0.0");
	hints.ai_socktype = SOCK_STREAM;
	if (parse_numeric_only)
		resolve = false;
	hints.ai_flags = AI_NUMERICSERV | (resolve ? 0 : AI_NUMERICHOST);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "'%s': %s", s, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "h2,http/1.1" -> "\x02h2\x08http/1.1" */
int kst_parse_alpn(const char *s, unsigned char **wire, size_t *len)
{
	size_t n = strlen(s), off = 0;
	unsigned char *w;
	const char *p = s;

	*wire = NULL;
	*len = 0;
	if (n == 0)
		return 0;
	w = malloc(n + 1);
	if (w == NULL)
		return -ENOMEM;
	while (*p != '\0') {
		size_t l = strcspn(p, ",");

		while (l > 0 && isspace((unsigned char)*p)) {
			p++;
			l--;
		}
		while (l > 0 && isspace((unsigned char)p[l - 1]))
			l--;
		if (l == 0 || l > 255) {
			free(w);
			return -EINVAL;
		}
		w[off++] = (unsigned char)l;
		memcpy(w + off, p, l);
		off += l;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	*wire = w;
	*len = off;
	return 0;
}

void kst_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(buf, len, "unix:%s",
			 ((const struct sockaddr_un *)(const void *)sa)
				 ->sun_path);
		break;
	default:
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
}

/*
 * Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions), case-insensitive, '_' equal to '-': the typos people
 * make in option names ("workres", "state_dir", "stpling"). Words longer
 * than KST_PARSE_WORD_MAX are as far as their length.
 */
#define KST_PARSE_WORD_MAX 64

static int parse_same(char a, char b)
{
	a = a == '_' ? '-' : (char)tolower((unsigned char)a);
	b = b == '_' ? '-' : (char)tolower((unsigned char)b);
	return a == b;
}

size_t kst_parse_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][KST_PARSE_WORD_MAX + 1]; /* rows i-2, i-1, i */

	if (la > KST_PARSE_WORD_MAX || lb > KST_PARSE_WORD_MAX)
		return la > lb ? la : lb;
	for (size_t j = 0; j <= lb; j++)
		d[1][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[(i + 1) % 3], *up = d[i % 3],
		       *up2 = d[(i + 2) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = parse_same(a[i - 1], b[j - 1]) ? 0 : 1;
			size_t v = up[j - 1] + cost;

			if (up[j] + 1 < v)
				v = up[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && parse_same(a[i - 1], b[j - 2]) &&
			    parse_same(a[i - 2], b[j - 1]) &&
			    up2[j - 2] + 1 < v)
				v = up2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[(la + 1) % 3][lb];
}

/* Close enough to be a typo of: one edit in a short word, two from five
 * letters, three from ten, and never a whole rewrite. */
static bool parse_close(const char *word, const char *cand, size_t dist)
{
	size_t n = strlen(word) < strlen(cand) ? strlen(word) : strlen(cand);
	size_t max = n >= 10 ? 3 : n >= 5 ? 2 : 1;

	return dist <= max && dist < n;
}

const char *kst_parse_suggest(const char *word, const char *const *cands,
			      size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		size_t dist;

		if (cands[i] == NULL)
			continue;
		dist = kst_parse_distance(word, cands[i]);
		if (dist < best_d && parse_close(word, cands[i], dist)) {
			best = cands[i];
			best_d = dist;
		}
	}
	return best;
}

/* ------------------------------------------- lines of the file */

static char *parse_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Strip a comment: '#' at the start or after whitespace. */
static void parse_strip_comment(char *s)
{
	for (char *c = s; *c != '\0'; c++) {
		if (*c == '#' && (c == s || isspace((unsigned char)c[-1]))) {
			*c = '\0';
			return;
		}
	}
}

enum kst_line_kind kst_parse_line(char *line, char **a, char **b)
{
	char *s, *eq, *val;
	size_t vl;

	parse_strip_comment(line);
	s = parse_trim(line);
	*a = s;
	*b = NULL;
	if (*s == '\0')
		return KST_LINE_BLANK;
	if (*s == '[') {
		char *end = strchr(s, ']');

		if (end == NULL || parse_trim(end + 1)[0] != '\0')
			return KST_LINE_BAD_SECTION;
		*end = '\0';
		*a = parse_trim(s + 1);
		return KST_LINE_SECTION;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return KST_LINE_BAD;
	*eq = '\0';
	*a = parse_trim(s);
	val = parse_trim(eq + 1);
	vl = strlen(val);
	if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
		val[vl - 1] = '\0';
		val++;
	}
	*b = val;
	return KST_LINE_OPTION;
}
