/* SPDX-License-Identifier: MIT */
/*
 * log.h - leveled logging to stderr, one write(2) per line so lines from several worker
 * threads never interleave. Never pass key material to these functions.
 */
#ifndef KTLSD_LOG_H
#define KTLSD_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

/* Message levels, most severe first (the configuration's log_level is one). */
enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TO_STDERR = 0, LOG_TO_SYSLOG };

/* Where lines go from now on (syslog: openlog() as "ktlsd", facility daemon). */
void log_set_target(enum log_target t);

extern _Atomic int log_threshold;

void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a va_list and a prefix before the message ("conn 7: "). */
void log_vmsg(enum log_level lvl, const char *prefix, const char *fmt, va_list ap);
/* Appends the pending OpenSSL error queue (and clears it) to the message. */
void log_ssl(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes the OpenSSL error queue as text into buf and clears the queue. */
void log_ssl_errors(char *buf, size_t len);
/* A name a peer chose (SNI), safe to log and compare: see log.c. */
void log_clean_name(char *dst, size_t len, const char *src);

static inline int log_enabled(enum log_level lvl)
{
	return (int)lvl <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

#define log_err(...)  log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)

#endif
