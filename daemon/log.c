// SPDX-License-Identifier: MIT
/*
 * log.c - leveled logging to stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"

_Atomic int log_threshold = LOG_LVL_INFO;

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

static void log_vwrite(enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	n = snprintf(line, sizeof(line), "ktlsd[%d] %s: ", (int)getpid(), log_level_tag[lvl]);
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	if (suffix) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	}
	line[n++] = '\n';
	/* One write per line: lines from different threads do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, NULL, fmt, ap);
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
	log_vwrite(lvl, errs, fmt, ap);
	va_end(ap);
}
