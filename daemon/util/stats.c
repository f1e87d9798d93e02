// SPDX-License-Identifier: MIT
/*
 * stats.c - names and summing of ktlsd's counters (stats.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/** stats_find() - the counter called @name, or STAT__COUNT. */
enum stat_id stats_find(const char *name)
{
	for (int i = 0; i < STAT__COUNT; i++)
		if (!strcmp(stats_names[i], name))
			return (enum stat_id)i;
	return STAT__COUNT;
}

static const double hist_bounds[HIST_NBOUNDS] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
						  0.1,	  0.25,	 0.5,	1,     2.5,  5,	    10 };
static const char *const hist_names[HIST__COUNT] = {
	[HIST_HANDSHAKE] = "handshake_duration_seconds",
	[HIST_BACKEND_CONNECT] = "backend_connect_seconds",
};
static const char *const hist_helps[HIST__COUNT] = {
	[HIST_HANDSHAKE] = "server-side handshake time, first ClientHello byte to the end",
	[HIST_BACKEND_CONNECT] = "time from connect() to an established backend connection",
};
static const char *const gauge_names[GAUGE__COUNT] = {
	[GAUGE_HANDSHAKE] = "handshake",
	[GAUGE_KTLS] = "ktls",
	[GAUGE_USERSPACE] = "userspace",
};

/** stats_hist_observe() - count one duration of @ns nanoseconds (single writer). */
void stats_hist_observe(struct stats *s, enum hist_id h, uint64_t ns)
{
	struct hist *hi = &s->hist[h];
	unsigned i = 0;

	while (i < HIST_NBOUNDS && (double)ns > hist_bounds[i] * 1e9)
		i++;
	stats_add_to_raw(&hi->bucket[i], 1);
	stats_add_to_raw(&hi->sum_ns, ns);
	stats_add_to_raw(&hi->count, 1);
}

double stats_hist_bound(unsigned i)
{
	return hist_bounds[i];
}

const char *stats_hist_name(enum hist_id h)
{
	return hist_names[h];
}

const char *stats_hist_help(enum hist_id h)
{
	return hist_helps[h];
}

const char *stats_gauge_name(enum path_gauge g)
{
	return gauge_names[g];
}

/** stats_hist_accumulate() - add one worker's histogram @h into the sums. */
void stats_hist_accumulate(const struct stats *s, enum hist_id h, uint64_t *bucket,
			   uint64_t *sum_ns, uint64_t *count)
{
	const struct hist *hi = &s->hist[h];

	for (unsigned i = 0; i <= HIST_NBOUNDS; i++)
		bucket[i] += atomic_load_explicit(&hi->bucket[i], memory_order_relaxed);
	*sum_ns += atomic_load_explicit(&hi->sum_ns, memory_order_relaxed);
	*count += atomic_load_explicit(&hi->count, memory_order_relaxed);
}

/** stats_accumulate() - add one worker's counters into @sum. */
void stats_accumulate(const struct stats *s, uint64_t *sum)
{
	for (int i = 0; i < STAT__COUNT; i++)
		sum[i] += atomic_load_explicit(&s->v[i], memory_order_relaxed);
}

/* "name=value name=value ..." of @n values. */
static void stats_format_names(const char *const *names, const uint64_t *vals, int n, char *buf,
			       size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s=%llu", i ? " " : "", names[i],
				 (unsigned long long)vals[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/** stats_format_line() - "name=value name=value ..." of every counter. */
void stats_format_line(const uint64_t *sum, char *buf, size_t len)
{
	stats_format_names(stats_names, sum, STAT__COUNT, buf, len);
}

/* ---- per listener ---- */

#define LSTATS_NAME(e, name, help) [e] = (name),
#define LSTATS_HELP(e, name, help) [e] = (help),
static const char *const lstats_names[LSTAT__COUNT] = { LSTATS_LIST(LSTATS_NAME) };
static const char *const lstats_helps[LSTAT__COUNT] = { LSTATS_LIST(LSTATS_HELP) };

static pthread_mutex_t lstats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct listener_stats *lstats_list;

/** lstats_name() - a per-listener counter's exposed name. */
const char *lstats_name(enum lstat_id i)
{
	return lstats_names[i];
}

/** lstats_help() - its one-line description. */
const char *lstats_help(enum lstat_id i)
{
	return lstats_helps[i];
}

/**
 * lstats_get() - the counters of listener @name, made on first use.
 * @n_workers: the number of workers (the first call fixes it for every block)
 *
 * Blocks are kept by name for the life of the process, so counters survive reloads.
 * Return: the block, or NULL when out of memory (counting then stops for it).
 */
struct listener_stats *lstats_get(const char *name, unsigned n_workers)
{
	struct listener_stats *ls;

	pthread_mutex_lock(&lstats_lock);
	for (ls = lstats_list; ls && strcmp(ls->name, name) != 0; ls = ls->next)
		continue;
	if (!ls && (ls = calloc(1, sizeof(*ls)))) {
		ls->n_workers = lstats_list ? lstats_list->n_workers : n_workers;
		ls->name = strdup(name);
		ls->w = aligned_alloc(64, ls->n_workers * sizeof(*ls->w));
		if (!ls->name || !ls->w) {
			free(ls->name);
			free(ls->w);
			free(ls);
			ls = NULL;
		} else {
			memset(ls->w, 0, ls->n_workers * sizeof(*ls->w));
			ls->next = lstats_list;
			lstats_list = ls;
		}
	}
	pthread_mutex_unlock(&lstats_lock);
	return ls;
}

/** lstats_first() - the newest block; follow ->next (blocks are never removed while running). */
struct listener_stats *lstats_first(void)
{
	struct listener_stats *ls;

	pthread_mutex_lock(&lstats_lock);
	ls = lstats_list;
	pthread_mutex_unlock(&lstats_lock);
	return ls;
}

/** lstats_cleanup() - free every block (at exit, after the workers stopped). */
void lstats_cleanup(void)
{
	pthread_mutex_lock(&lstats_lock);
	while (lstats_list) {
		struct listener_stats *ls = lstats_list;

		lstats_list = ls->next;
		free(ls->name);
		free(ls->w);
		free(ls);
	}
	pthread_mutex_unlock(&lstats_lock);
}

/** lstats_sum() - add every worker's counters of @ls into @sum[LSTAT__COUNT]. */
void lstats_sum(const struct listener_stats *ls, uint64_t *sum)
{
	for (unsigned w = 0; w < ls->n_workers; w++)
		for (int i = 0; i < LSTAT__COUNT; i++)
			sum[i] += atomic_load_explicit(&ls->w[w].v[i], memory_order_relaxed);
}

/** lstats_format_line() - "name=value ..." of the per-listener counters. */
void lstats_format_line(const uint64_t *sum, char *buf, size_t len)
{
	stats_format_names(lstats_names, sum, LSTAT__COUNT, buf, len);
}
