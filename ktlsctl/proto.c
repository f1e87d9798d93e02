// SPDX-License-Identifier: MIT
/*
 * proto.c - the control protocol's JSON (docs/control-api.md): the request line
 * ktlsctl sends and the checks on the reply line it gets.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "ktlsctl.h"
#include "ktlsd/control.h"
#include "proto.h"

char *proto_request(const char *command, struct json_object *args, size_t *len)
{
	struct json_object *req = json_object_new_object();
	const char *text;
	char *line;
	size_t n;

	if (!req)
		ctl_fatal("out of memory");
	json_object_object_add(req, "version", json_object_new_int(KTLSD_CONTROL_VERSION));
	json_object_object_add(req, "command", json_object_new_string(command));
	if (args && json_object_object_length(args) > 0)
		json_object_object_add(req, "args", json_object_get(args));
	json_object_object_add(req, "id", json_object_new_int(CTL_REQUEST_ID));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		ctl_fatal("out of memory");
	n = strlen(text);
	line = malloc(n + 2);
	if (!line)
		ctl_fatal("out of memory");
	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	json_object_put(req);
	return line;
}

static int malformed(const char *sock, const char *why, const char *line, size_t len)
{
	ctl_warn("malformed reply from %s: %s", sock, why);
	if (len > 0) {
		/* the start of it, for whoever has to find out what answered */
		char head[201];
		size_t n = len < sizeof(head) - 1 ? len : sizeof(head) - 1;

		memcpy(head, line, n);
		head[n] = '\0';
		fputs("ktlsctl: the reply began: ", stderr);
		put_clean(head, stderr);
		fputs(len > n ? "...\n" : "\n", stderr);
	}
	return CTL_EXIT_NOREPLY;
}

/* An error reply: print it, return CTL_EXIT_REPLY (or NOREPLY when it is no error). */
static int error_reply(struct json_object *root, const char *sock, const char *line, size_t len)
{
	struct json_object *err = jget(root, "error");
	struct json_object *code = jget(err, "code"), *msg = jget(err, "message");

	if (!json_object_is_type(code, json_type_string))
		return malformed(sock, "\"ok\" is false but there is no error.code string", line,
				 len);
	fputs("ktlsctl: ", stderr);
	put_clean(json_object_get_string(code), stderr);
	fputs(": ", stderr);
	if (json_object_is_type(msg, json_type_string) && json_object_get_string_len(msg) > 0)
		put_clean(json_object_get_string(msg), stderr);
	else
		fputs("(no message)", stderr);
	fputc('\n', stderr);
	return CTL_EXIT_REPLY;
}

int proto_reply(const char *line, size_t len, const char *sock, struct json_object **root,
		struct json_object **result)
{
	struct json_tokener *tok;
	struct json_object *obj, *v;
	size_t end;
	int ret;

	if (len > INT_MAX)
		return malformed(sock, "too long", line, 0);
	tok = json_tokener_new();
	if (!tok)
		ctl_fatal("out of memory");
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (!obj) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		char why[128];

		snprintf(why, sizeof(why), "not JSON (%s)",
			 jerr == json_tokener_continue ? "the object does not end"
						       : json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return malformed(sock, why, line, len);
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)line[end]))
		end++;
	if (end < len) {
		json_object_put(obj);
		return malformed(sock, "text after the JSON object", line, len);
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return malformed(sock, "not a JSON object", line, len);
	}
	v = jget(obj, "version");
	if (v && (!json_object_is_type(v, json_type_int) ||
		  json_object_get_int64(v) != KTLSD_CONTROL_VERSION)) {
		json_object_put(obj);
		return malformed(sock, "protocol version is not 1", line, len);
	}
	/* Replies to requests that could not be read (bad_json, busy...) carry no id. */
	v = jget(obj, "id");
	if (v && (!json_object_is_type(v, json_type_int) ||
		  json_object_get_int64(v) != CTL_REQUEST_ID)) {
		json_object_put(obj);
		return malformed(sock, "the id is not the request's", line, len);
	}
	v = jget(obj, "ok");
	if (!json_object_is_type(v, json_type_boolean)) {
		json_object_put(obj);
		return malformed(sock, "no boolean \"ok\"", line, len);
	}
	if (!json_object_get_boolean(v)) {
		ret = error_reply(obj, sock, line, len);
		json_object_put(obj);
		return ret;
	}
	v = jget(obj, "result");
	if (!json_object_is_type(v, json_type_object)) {
		json_object_put(obj);
		return malformed(sock, "\"ok\" is true but \"result\" is not an object", line, len);
	}
	*root = obj;
	*result = v;
	return CTL_EXIT_OK;
}
