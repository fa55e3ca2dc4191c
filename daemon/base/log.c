// SPDX-License-Identifier: MIT
/*
 * Logging to stderr. See log.h for the line format. The level is a global
 * read without a lock on every call: it is an int written only by the
 * control thread, and a stale read costs at most one line.
 */
#include "daemon/base/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static atomic_int log_level = KST_LOG_INFO;
static bool log_journal;

static const char *const log_names[] = {
	[KST_LOG_CRIT] = "crit", [KST_LOG_ERR] = "err",
	[KST_LOG_WARN] = "warn", [KST_LOG_NOTICE] = "notice",
	[KST_LOG_INFO] = "info", [KST_LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM is "dev:ino" of the journal socket stderr is connected to */
static bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void kst_log_init(void)
{
	log_journal = log_stderr_is_journal();
}

void kst_log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int kst_log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool kst_log_enabled(int level)
{
	return level <= kst_log_get_level();
}

int kst_log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (log_names[i] != NULL && strcmp(log_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *kst_log_level_name(int level)
{
	if (level < KST_LOG_CRIT || level > KST_LOG_DEBUG)
		return "?";
	return log_names[level];
}

static size_t log_prefix(char *buf, size_t size, int level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (log_journal)
		return (size_t)snprintf(buf, size, "<%d>", level);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n,
			      ".%03ldZ %s: ", ts.tv_nsec / 1000000,
			      kst_log_level_name(level));
	return n;
}

static const char log_hex[] = "0123456789abcdef";

const char *kst_log_escape(char *dst, size_t dstlen, const void *src,
			   size_t srclen)
{
	const unsigned char *p = src;
	size_t n = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen; i++) {
		bool keep = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\';
		size_t need = keep ? 1 : 4;

		/* room for this byte, and for "..." should more follow */
		if (n + need + (i + 1 < srclen ? 3 : 0) >= dstlen) {
			if (n + 3 < dstlen) {
				memcpy(dst + n, "...", 3);
				n += 3;
			}
			break;
		}
		if (keep) {
			dst[n++] = (char)p[i];
			continue;
		}
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = log_hex[p[i] >> 4];
		dst[n++] = log_hex[p[i] & 0xf];
	}
	dst[n] = '\0';
	return dst;
}

/*
 * The last line of defence: whatever a caller formatted, no control byte
 * reaches stderr, where a newline would start a forged line (with a
 * journal priority prefix of the forger's choice). Bytes from the peer
 * are escaped by the caller with kst_log_escape; this catches the rest.
 */
static size_t log_copy_safe(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; *src != '\0' && n < cap; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch >= 0x20 && ch != 0x7f) {
			dst[n++] = (char)ch;
			continue;
		}
		if (n + 4 > cap)
			break;
		dst[n++] = '\\';
		dst[n++] = 'x';
		dst[n++] = log_hex[ch >> 4];
		dst[n++] = log_hex[ch & 0xf];
	}
	return n;
}

static void log_emit(int level, const char *fmt, va_list ap, bool ssl)
{
	char line[2048], msg[2048];
	size_t n, cap = sizeof(line) - 1;
	int saved = errno;
	size_t m = 0;
	int r;

	n = log_prefix(line, cap, level);
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	m = r < 0 ? 0 : (size_t)r >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)r;
	msg[m] = '\0';
	if (ssl && m + 3 < sizeof(msg)) {
		char errs[1024];

		kst_log_ssl_errors(errs, sizeof(errs));
		if (errs[0] != '\0')
			snprintf(msg + m, sizeof(msg) - m, ": %s", errs);
	}
	n += log_copy_safe(line + n, cap - n, msg);
	line[n++] = '\n';
	/* one write per line; a short write on stderr is not worth a retry */
	if (write(STDERR_FILENO, line, n) < 0)
		(void)0;
	errno = saved;
}

void kst_vlog(int level, const char *fmt, va_list ap)
{
	if (!kst_log_enabled(level))
		return;
	log_emit(level, fmt, ap, false);
}

void kst_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (!kst_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_emit(level, fmt, ap, false);
	va_end(ap);
}

void kst_log_ssl(int level, const char *fmt, ...)
{
	va_list ap;

	if (!kst_log_enabled(level)) {
		ERR_clear_error();
		return;
	}
	va_start(ap, fmt);
	log_emit(level, fmt, ap, true);
	va_end(ap);
}

void kst_log_ssl_errors(char *buf, unsigned long size)
{
	unsigned long e, n = 0;
	const char *data;
	int flags;

	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char tmp[64];
		int r;

		if (reason == NULL) {
			snprintf(tmp, sizeof(tmp), "error:%08lX", e);
			reason = tmp;
		}
		r = snprintf(buf + n, size - n, "%s%s%s%s", n ? "; " : "",
			     reason, (flags & ERR_TXT_STRING) ? " (" : "",
			     (flags & ERR_TXT_STRING) ? data : "");
		if (r < 0 || (unsigned long)r >= size - n)
			break;
		n += (unsigned long)r;
		if ((flags & ERR_TXT_STRING) && n + 1 < size) {
			buf[n++] = ')';
			buf[n] = '\0';
		}
	}
	ERR_clear_error();
}
