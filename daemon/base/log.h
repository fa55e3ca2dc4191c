/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per event on stderr, with a level. When stderr is the
 * systemd journal (JOURNAL_STREAM names it), lines carry a syslog priority
 * prefix ("<4>") and no timestamp, since the journal adds its own. Every
 * line is written with a single write(2), so lines from worker threads never
 * interleave. Secrets are never passed here.
 */
#ifndef KST_LOG_H
#define KST_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* syslog priorities, so the journal prefix is the level itself */
enum kst_log_level {
	KST_LOG_CRIT = 2,
	KST_LOG_ERR = 3,
	KST_LOG_WARN = 4,
	KST_LOG_NOTICE = 5,
	KST_LOG_INFO = 6,
	KST_LOG_DEBUG = 7,
};

void kst_log_init(void);
void kst_log_set_level(int level);
int kst_log_get_level(void);
bool kst_log_enabled(int level);
/* "crit", "err", ...; -1 when name is not a level */
int kst_log_level_from_name(const char *name);
const char *kst_log_level_name(int level);

void kst_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void kst_vlog(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/*
 * Like kst_log, then appends the whole OpenSSL error queue (drained) as
 * "; <reason>; <reason>", so a failing OpenSSL call gives one line.
 */
void kst_log_ssl(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drain the OpenSSL error queue into buf as "reason; reason" (may be ""). */
void kst_log_ssl_errors(char *buf, unsigned long size);

/*
 * Bytes from a peer (SNI, ALPN, addresses or text a client or responder
 * sent) for a log line: printable ASCII is kept, every other byte and the
 * backslash itself become \xNN, so a line can neither be split nor faked
 * and the original bytes can be read back. Cut with "..." when dst is too
 * small (KST_LOG_ESC_SIZE(n) always fits n bytes). Returns dst, so it can
 * stand in a "%s" argument. Every log line also passes control bytes
 * through the same \xNN filter, as a backstop.
 */
const char *kst_log_escape(char *dst, size_t dstlen, const void *src,
			   size_t srclen);
#define KST_LOG_ESC_SIZE(n) ((n)*4 + 1)

#define kst_crit(...)	kst_log(KST_LOG_CRIT, __VA_ARGS__)
#define kst_err(...)	kst_log(KST_LOG_ERR, __VA_ARGS__)
#define kst_warn(...)	kst_log(KST_LOG_WARN, __VA_ARGS__)
#define kst_notice(...) kst_log(KST_LOG_NOTICE, __VA_ARGS__)
#define kst_info(...)	kst_log(KST_LOG_INFO, __VA_ARGS__)
#define kst_debug(...)                                       \
	do {                                                 \
		if (kst_log_enabled(KST_LOG_DEBUG))          \
			kst_log(KST_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
