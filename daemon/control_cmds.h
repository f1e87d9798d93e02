/* SPDX-License-Identifier: MIT */
/*
 * control_cmds.h - running checked control requests (control_cmds.c, control_conns.c).
 */
#ifndef KTLSD_CONTROL_CMDS_H
#define KTLSD_CONTROL_CMDS_H

#include "control_proto.h"

struct ktlsd;

struct json_object *control_run(struct ktlsd *k, const struct ctl_request *req,
				struct ctl_error *err);
/* The `stats` object of the current configuration (caller puts it); NULL on failure. */
struct json_object *control_stats(struct ktlsd *k);

/* ---- shared by the commands' files (control_cmds.c, control_conns.c, control_args.c) ---- */

struct json_object;

struct conn_info;

/* Every live connection, from every worker; *n set. Caller frees. NULL with @err set. */
struct conn_info *control_collect(struct ktlsd *k, size_t *n, struct ctl_error *err);
/* `conns` and `kill`: asked of each connection's own worker (control_conns.c). */
struct json_object *control_conns(struct ktlsd *k, struct json_object *args, struct ctl_error *err);
struct json_object *control_kill(struct ktlsd *k, struct json_object *args, struct ctl_error *err);

/* A failed command: its error code and message go into @err. Return: NULL. */
struct json_object *cmd_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The string argument @name, or NULL. */
const char *arg_str(struct json_object *args, const char *name);
/* A JSON string, or NULL (JSON null) for NULL or "". */
struct json_object *json_str_or_null(const char *s);

#endif
