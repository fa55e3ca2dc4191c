// SPDX-License-Identifier: MIT
/*
 * Logging to stderr. See log.h for the line format. The level is a global
 * read without a lock on every call: it is an int written only by the
 * control thread, and a stale read costs at most one line.
 */
#include "daemon/log.h"

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
	[KST_LOG_CRIT] = "crit",     [KST_LOG_ERR] = "err",
	[KST_LOG_WARN] = "warn",     [KST_LOG_NOTICE] = "notice",
	[KST_LOG_INFO] = "info",     [KST_LOG_DEBUG] = "debug",
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
	n += (size_t)snprintf(buf + n, size - n, ".%03ldZ %s: ",
			      ts.tv_nsec / 1000000, kst_log_level_name(level));
	return n;
}

static void log_emit(int level, const char *fmt, va_list ap, bool ssl)
{
	char line[2048];
	size_t n, cap = sizeof(line) - 1;
	int saved = errno;
	int r;

	n = log_prefix(line, cap, level);
	r = vsnprintf(line + n, cap - n, fmt, ap);
	n = r < 0 ? n : (size_t)r + n > cap ? cap : (size_t)r + n;
	if (ssl && n + 3 < cap) {
		char errs[1024];

		kst_log_ssl_errors(errs, sizeof(errs));
		if (errs[0] != '\0') {
			r = snprintf(line + n, cap - n, ": %s", errs);
			n = r < 0 ? n : (size_t)r + n > cap ? cap : (size_t)r + n;
		}
	}
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
