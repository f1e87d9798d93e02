/* SPDX-License-Identifier: MIT */
/*
 * control_proto.h - parsing control requests and writing replies (control_proto.c).
 * Pure: no sockets, no daemon state; the fuzz target links it alone (with json-c).
 */
#ifndef KTLSD_CONTROL_PROTO_H
#define KTLSD_CONTROL_PROTO_H

#include <stddef.h>

#include <json-c/json.h>

#include <ktlsd/control.h>

enum ctl_cmd_id {
	CTL_STATUS,
	CTL_STATS,
	CTL_METRICS,
	CTL_CONNS,
	CTL_KILL,
	CTL_RELOAD,
	CTL_TICKETS_SHOW,
	CTL_TICKETS_ROTATE,
	CTL_SESSIONS_FLUSH,
	CTL_LISTENERS_LIST,
	CTL_LISTENERS_ADD,
	CTL_LISTENERS_REMOVE,
	CTL_DRAIN,
	CTL_KERNEL,
	CTL_POOLS,
	CTL_CERTS,
	CTL__COUNT,
};

/* A request that passed every check of the protocol (fields, command, argument types). */
struct ctl_request {
	enum ctl_cmd_id cmd;
	struct json_object *args; /* an object (possibly empty); owned */
	struct json_object *id;	  /* NULL, a string or an integer; owned */
};

/* Why a request was refused: a KTLSD_CTL_E_* code and a sentence. */
struct ctl_error {
	const char *code;
	char msg[256];
};

/**
 * ctl_parse() - check one request line (without its newline).
 * @line: the bytes; need not be NUL-terminated
 * @len:  their number
 * @req:  on success the request (release with ctl_request_clear()); on failure req->id may
 *        still hold the request's id, for the error reply
 * @err:  on failure why
 * Return: 0 or -EINVAL.
 */
int ctl_parse(const char *line, size_t len, struct ctl_request *req, struct ctl_error *err);
void ctl_request_clear(struct ctl_request *req);
const char *ctl_cmd_name(enum ctl_cmd_id cmd);

/* Reply lines, NUL-terminated and ending in '\n'; caller frees. NULL if out of memory.
 * ctl_reply_ok() takes over @result. */
char *ctl_reply_ok(struct json_object *id, struct json_object *result);
char *ctl_reply_error(struct json_object *id, const char *code, const char *msg);

#endif
