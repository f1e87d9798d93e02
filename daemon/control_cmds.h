/* SPDX-License-Identifier: MIT */
/*
 * control_cmds.h - running checked control requests (control_cmds.c).
 */
#ifndef KTLSD_CONTROL_CMDS_H
#define KTLSD_CONTROL_CMDS_H

#include "control_proto.h"

struct ktlsd;

struct json_object *control_run(struct ktlsd *k, const struct ctl_request *req,
				struct ctl_error *err);
/* The `stats` object of the current configuration (caller puts it); NULL on failure. */
struct json_object *control_stats(struct ktlsd *k);

#endif
