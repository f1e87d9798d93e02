/* SPDX-License-Identifier: MIT */
/*
 * stats_json.h - the control API's `stats` object (stats_json.c).
 */
#ifndef KTLSD_STATS_JSON_H
#define KTLSD_STATS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct ktlsd;
struct ktlsd_cfg;

struct json_object *stats_json_build(struct ktlsd *k, const struct ktlsd_cfg *cfg);

#endif
