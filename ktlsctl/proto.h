/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the control protocol's JSON: requests and replies (proto.c).
 */
#ifndef KTLSCTL_PROTO_H
#define KTLSCTL_PROTO_H

#include <stddef.h>

#include <json-c/json.h>

/* The id ktlsctl puts in its request and expects back. */
#define CTL_REQUEST_ID 1

/*
 * proto_request() - the request line for @command with @args (NULL or an empty
 * object: no "args"). Return: a malloc'd string ending in '\n', its length in @len.
 */
char *proto_request(const char *command, struct json_object *args, size_t *len);

/*
 * proto_reply() - parse and check one reply line.
 * @sock: the socket's path, for messages
 * @root: set to the parsed reply (the caller puts it), on CTL_EXIT_OK only
 * @result: set to its "result" object (owned by @root)
 *
 * Return: CTL_EXIT_OK; CTL_EXIT_REPLY after printing "ktlsctl: CODE: MESSAGE" for an
 * error reply; CTL_EXIT_NOREPLY after saying what is wrong with a malformed one.
 */
int proto_reply(const char *line, size_t len, const char *sock, struct json_object **root,
		struct json_object **result);

#endif /* KTLSCTL_PROTO_H */
