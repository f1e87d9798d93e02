// SPDX-License-Identifier: MIT
/*
 * control_proto.c - the control protocol's requests and replies (docs/control-api.md).
 *
 * Every command is a row of one table: its name and the arguments it takes with their JSON
 * types. A request is checked against the table completely before anything runs, so a
 * handler only ever sees arguments of the right type, and a typo is an error, not a no-op.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control_proto.h"

#define CTL_MAX_ARGS 8 /* a NULL name ends each list */

enum ctl_arg_type { ARG_STRING, ARG_INT, ARG_NUMBER };

struct ctl_arg {
	const char *name;
	enum ctl_arg_type type;
	bool required;
};

struct ctl_cmd {
	const char *name;
	struct ctl_arg args[CTL_MAX_ARGS];
};

static const struct ctl_cmd ctl_cmds[CTL__COUNT] = {
	[CTL_STATUS] = { "status", { { NULL } } },
	[CTL_STATS] = { "stats", { { NULL } } },
	[CTL_METRICS] = { "metrics", { { NULL } } },
	[CTL_CONNS] = { "conns",
			{ { "listener", ARG_STRING, false },
			  { "sni", ARG_STRING, false },
			  { "path", ARG_STRING, false },
			  { "peer", ARG_STRING, false },
			  { "min_age", ARG_NUMBER, false },
			  { "limit", ARG_INT, false } } },
	[CTL_KILL] = { "kill", { { "id", ARG_INT, true } } },
	[CTL_RELOAD] = { "reload", { { NULL } } },
	[CTL_TICKETS_SHOW] = { "tickets show", { { "profile", ARG_STRING, false } } },
	[CTL_TICKETS_ROTATE] = { "tickets rotate", { { "profile", ARG_STRING, false } } },
	[CTL_SESSIONS_FLUSH] = { "sessions flush", { { NULL } } },
	[CTL_LISTENERS_LIST] = { "listeners list", { { NULL } } },
	[CTL_LISTENERS_ADD] = { "listeners add", { { "config", ARG_STRING, true } } },
	[CTL_LISTENERS_REMOVE] = { "listeners remove", { { "name", ARG_STRING, true } } },
	[CTL_DRAIN] = { "drain", { { NULL } } },
	[CTL_KERNEL] = { "kernel", { { NULL } } },
	[CTL_POOLS] = { "pools", { { NULL } } },
	[CTL_CERTS] = { "certs", { { NULL } } },
};

static const char *const ctl_type_names[] = {
	[ARG_STRING] = "a string",
	[ARG_INT] = "an integer",
	[ARG_NUMBER] = "a number",
};

const char *ctl_cmd_name(enum ctl_cmd_id cmd)
{
	return cmd < CTL__COUNT ? ctl_cmds[cmd].name : "?";
}

static int __attribute__((format(printf, 3, 4)))
ctl_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool ctl_type_ok(struct json_object *v, enum ctl_arg_type t)
{
	switch (t) {
	case ARG_STRING:
		return json_object_is_type(v, json_type_string);
	case ARG_INT:
		return json_object_is_type(v, json_type_int);
	default:
		return json_object_is_type(v, json_type_int) ||
		       json_object_is_type(v, json_type_double);
	}
}

static int ctl_check_args(const struct ctl_cmd *c, struct json_object *args, struct ctl_error *err)
{
	const struct ctl_arg *a;

	json_object_object_foreach(args, key, val)
	{
		for (a = c->args; a->name && strcmp(a->name, key) != 0; a++)
			continue;
		if (!a->name)
			return ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST,
					"%s: unknown argument \"%.64s\"", c->name, key);
		if (!ctl_type_ok(val, a->type))
			return ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST,
					"%s: argument \"%s\" must be %s", c->name, key,
					ctl_type_names[a->type]);
	}
	for (a = c->args; a->name; a++)
		if (a->required && !json_object_object_get_ex(args, a->name, NULL))
			return ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST, "%s: missing argument \"%s\"",
					c->name, a->name);
	return 0;
}

void ctl_request_clear(struct ctl_request *req)
{
	json_object_put(req->args);
	json_object_put(req->id);
	req->args = req->id = NULL;
}

int ctl_parse(const char *line, size_t len, struct ctl_request *req, struct ctl_error *err)
{
	struct json_tokener *tok;
	struct json_object *root, *v;
	const char *name = NULL;
	size_t i;

	memset(req, 0, sizeof(*req));
	if (len >= KTLSD_CONTROL_MAX_REQUEST)
		return ctl_fail(err, KTLSD_CTL_E_TOO_LARGE, "request longer than %d bytes",
				KTLSD_CONTROL_MAX_REQUEST - 1);
	tok = json_tokener_new_ex(32);
	if (!tok)
		return ctl_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
	root = json_tokener_parse_ex(tok, line, (int)len);
	/* Exactly one value, and nothing after it but blanks. */
	if (root && json_tokener_get_error(tok) == json_tokener_success) {
		for (i = json_tokener_get_parse_end(tok); i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				break;
	} else {
		i = 0;
	}
	if (!root || json_tokener_get_error(tok) != json_tokener_success || i < len) {
		json_tokener_free(tok);
		json_object_put(root);
		return ctl_fail(err, KTLSD_CTL_E_BAD_JSON,
				"not a single JSON value (one request per line)");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return ctl_fail(err, KTLSD_CTL_E_BAD_JSON, "the request must be a JSON object");
	}
	if (json_object_object_get_ex(root, "id", &v) &&
	    (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)))
		req->id = json_object_get(v);
	json_object_object_foreach(root, key, val)
	{
		if (!strcmp(key, "version")) {
			if (!json_object_is_type(val, json_type_int))
				goto bad_version;
			if (json_object_get_int64(val) != KTLSD_CONTROL_VERSION) {
				ctl_fail(err, KTLSD_CTL_E_VERSION,
					 "protocol version %lld is not supported (this is %d)",
					 (long long)json_object_get_int64(val),
					 KTLSD_CONTROL_VERSION);
				goto out;
			}
		} else if (!strcmp(key, "command")) {
			if (!json_object_is_type(val, json_type_string)) {
				ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST,
					 "\"command\" must be a string");
				goto out;
			}
			name = json_object_get_string(val);
		} else if (!strcmp(key, "args")) {
			if (!json_object_is_type(val, json_type_object)) {
				ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST,
					 "\"args\" must be an object");
				goto out;
			}
			req->args = json_object_get(val);
		} else if (!strcmp(key, "id")) {
			if (!req->id) {
				ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST,
					 "\"id\" must be a string or an integer");
				goto out;
			}
		} else {
			ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST, "unknown field \"%.64s\"", key);
			goto out;
		}
	}
	if (!name) {
		ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST, "missing \"command\"");
		goto out;
	}
	for (i = 0; i < CTL__COUNT && strcmp(ctl_cmds[i].name, name) != 0; i++)
		continue;
	if (i == CTL__COUNT) {
		ctl_fail(err, KTLSD_CTL_E_UNKNOWN, "unknown command \"%.64s\"", name);
		goto out;
	}
	req->cmd = (enum ctl_cmd_id)i;
	if (!req->args && !(req->args = json_object_new_object())) {
		ctl_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
		goto out;
	}
	if (ctl_check_args(&ctl_cmds[i], req->args, err) < 0)
		goto out;
	json_object_put(root);
	return 0;
bad_version:
	ctl_fail(err, KTLSD_CTL_E_BAD_REQUEST, "\"version\" must be an integer");
out:
	json_object_put(req->args);
	req->args = NULL;
	json_object_put(root);
	return -EINVAL;
}

/* The reply object as one line; takes over @reply. */
static char *ctl_reply_line(struct json_object *reply)
{
	const char *s;
	char *line = NULL;

	if (!reply)
		return NULL;
	s = json_object_to_json_string_ext(reply,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	json_object_put(reply);
	return line;
}

static struct json_object *ctl_reply_head(struct json_object *id, bool ok)
{
	struct json_object *r = json_object_new_object();

	if (!r)
		return NULL;
	json_object_object_add(r, "version", json_object_new_int(KTLSD_CONTROL_VERSION));
	if (id)
		json_object_object_add(r, "id", json_object_get(id));
	json_object_object_add(r, "ok", json_object_new_boolean(ok));
	return r;
}

char *ctl_reply_ok(struct json_object *id, struct json_object *result)
{
	struct json_object *r = ctl_reply_head(id, true);

	if (!r) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(r, "result", result ? result : json_object_new_object());
	return ctl_reply_line(r);
}

char *ctl_reply_error(struct json_object *id, const char *code, const char *msg)
{
	struct json_object *r = ctl_reply_head(id, false), *e = json_object_new_object();

	if (!r || !e) {
		json_object_put(r);
		json_object_put(e);
		return NULL;
	}
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(r, "error", e);
	return ctl_reply_line(r);
}
