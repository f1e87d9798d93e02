// SPDX-License-Identifier: MIT
/*
 * stats.c - names and summing of ktlsd's counters (stats.h).
 */
#include <stdio.h>

#include "stats.h"

#define STATS_NAME(e, name, help) [e] = (name),
#define STATS_HELP(e, name, help) [e] = (help),
static const char *const stats_names[STAT__COUNT] = { STATS_LIST(STATS_NAME) };
static const char *const stats_helps[STAT__COUNT] = { STATS_LIST(STATS_HELP) };

/** stats_name() - the counter's exposed name. */
const char *stats_name(enum stat_id i)
{
	return stats_names[i];
}

/** stats_help() - a one-line description of the counter. */
const char *stats_help(enum stat_id i)
{
	return stats_helps[i];
}

/** stats_accumulate() - add one worker's counters into @sum. */
void stats_accumulate(const struct stats *s, uint64_t *sum)
{
	for (int i = 0; i < STAT__COUNT; i++)
		sum[i] += atomic_load_explicit(&s->v[i], memory_order_relaxed);
}

/** stats_format_line() - "name=value name=value ..." of every counter. */
void stats_format_line(const uint64_t *sum, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < STAT__COUNT && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s=%llu", i ? " " : "", stats_names[i],
				 (unsigned long long)sum[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}
