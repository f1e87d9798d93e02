// SPDX-License-Identifier: MIT
/*
 * control_args.c - what the control commands' files share: reading a request's
 * arguments, and failing with an error code and message.
 */
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "control_cmds.h"

struct json_object *cmd_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

const char *arg_str(struct json_object *args, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(args, name, &v) ? json_object_get_string(v) : NULL;
}

struct json_object *json_str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}
