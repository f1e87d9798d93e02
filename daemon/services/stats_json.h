/* SPDX-License-Identifier: MIT */
/*
 * stats_json.h - the control API's `stats` object (stats_json.c).
 */
#ifndef KTLSD_STATS_JSON_H
#define KTLSD_STATS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct worker;
struct snapshot;

struct json_object *stats_json_build(const struct worker *workers, unsigned n_workers,
				     uint64_t started_ms, const struct snapshot *s);
struct json_object *certs_json(const struct snapshot *s);

/* A table of named counters, added to an object in one go. */
struct json_u64_field {
	const char *key;
	uint64_t v;
};

void json_add_u64s(struct json_object *o, const struct json_u64_field *f, size_t n);

#endif
