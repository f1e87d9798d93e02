/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the `stats` object of the control API (docs/control-api.md) in the
 * Prometheus text exposition format 0.0.4, for the `metrics` command and GET /metrics.
 */
#ifndef KTLSD_METRICS_H
#define KTLSD_METRICS_H

#include <stddef.h>

struct json_object;

/* The exposition text of @stats in a malloc'd string; see metrics.c. */
int metrics_format(struct json_object *stats, char **out, size_t *out_len);

#endif
