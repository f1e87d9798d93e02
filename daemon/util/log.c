// SPDX-License-Identifier: MIT
/*
 * log.c - leveled logging to stderr or syslog.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"

_Atomic int log_threshold = LOG_LVL_INFO;
static _Atomic int log_to = LOG_TO_STDERR;

static const int log_syslog_priority[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

void log_set_target(enum log_target t)
{
	if (t == LOG_TO_SYSLOG && atomic_load(&log_to) != LOG_TO_SYSLOG)
		openlog("ktlsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_to, (int)t);
}

static const char *const log_level_tag[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_threshold, (int)lvl);
}

void log_ssl_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		int n = snprintf(buf + off, len - off, "%s%s", off ? "; " : "", one);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	ERR_clear_error();
	if (!off)
		snprintf(buf, len, "no OpenSSL error recorded");
}

/**
 * log_clean_name() - @src into @dst (@len bytes; @dst may be @src) with every byte that
 * no host name has (letters, digits, '-', '.', '_', '*' pass) turned into '?'. A
 * ClientHello may put any bytes in its server name: quotes, spaces, escapes.
 */
void log_clean_name(char *dst, size_t len, const char *src)
{
	size_t i;

	if (!len)
		return;
	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = isalnum((unsigned char)src[i]) || strchr("-._*", src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

static void log_vwrite(enum log_level lvl, const char *prefix, const char *suffix, const char *fmt,
		       va_list ap)
{
	char line[2048];
	const size_t max = sizeof(line) - 1; /* room for the newline */
	size_t n = 0;
	int m;

	bool to_syslog = atomic_load(&log_to) == LOG_TO_SYSLOG;

	/* syslog adds the name and pid itself; the level stays in the text for grep. */
	if (to_syslog)
		m = snprintf(line, max, "%s: %s", log_level_tag[lvl], prefix ? prefix : "");
	else
		m = snprintf(line, max, "ktlsd[%d] %s: %s", (int)getpid(), log_level_tag[lvl],
			     prefix ? prefix : "");
	if (m < 0)
		return;
	n = (size_t)m;
	m = vsnprintf(line + n, max - n, fmt, ap);
	if (m < 0)
		return;
	n = n + (size_t)m < max ? n + (size_t)m : max - 1;
	if (suffix) {
		m = snprintf(line + n, max - n, ": %s", suffix);
		if (m > 0)
			n = n + (size_t)m < max ? n + (size_t)m : max - 1;
	}
	if (to_syslog) {
		line[n] = '\0';
		syslog(log_syslog_priority[lvl], "%s", line);
		return;
	}
	line[n++] = '\n';
	/* One write per line: lines from different threads do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_ssl(enum log_level lvl, const char *fmt, ...)
{
	char errs[1024];
	va_list ap;

	log_ssl_errors(errs, sizeof(errs));
	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, NULL, errs, fmt, ap);
	va_end(ap);
}

void log_vmsg(enum log_level lvl, const char *prefix, const char *fmt, va_list ap)
{
	if (log_enabled(lvl))
		log_vwrite(lvl, prefix, NULL, fmt, ap);
}
