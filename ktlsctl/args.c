// SPDX-License-Identifier: MIT
/*
 * args.c - the "args" object of each command's request, from the command line.
 * Values are checked here as far as the protocol says what they may be, so that a
 * typo is a usage error before anything is sent.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ktlsctl.h"

static void add_string(struct json_object *args, const char *key, const char *val)
{
	json_object_object_add(args, key, json_object_new_string(val));
}

/* A decimal integer in 0..UINT64_MAX, nothing else (no sign, no spaces). */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static struct json_object *new_u64(uint64_t v)
{
	return v <= INT64_MAX ? json_object_new_int64((int64_t)v) : json_object_new_uint64(v);
}

int args_conns(const struct ctl_opts *o, struct json_object *args)
{
	if (o->listener)
		add_string(args, "listener", o->listener);
	if (o->sni)
		add_string(args, "sni", o->sni);
	if (o->path) {
		if (strcmp(o->path, "handshake") != 0 && strcmp(o->path, "ktls") != 0 &&
		    strcmp(o->path, "userspace") != 0) {
			ctl_warn("--path: '%s' is not handshake, ktls or userspace", o->path);
			return CTL_EXIT_USAGE;
		}
		add_string(args, "path", o->path);
	}
	if (o->peer)
		add_string(args, "peer", o->peer);
	if (o->min_age) {
		char *end;
		double secs;

		errno = 0;
		secs = strtod(o->min_age, &end);
		if (end == o->min_age || *end || errno || !isfinite(secs) || secs < 0) {
			ctl_warn("--min-age: '%s' is not a number of seconds", o->min_age);
			return CTL_EXIT_USAGE;
		}
		/* a duration: always sent as a floating-point number */
		json_object_object_add(args, "min_age", json_object_new_double(secs));
	}
	if (o->limit) {
		uint64_t n;

		if (!parse_u64(o->limit, &n) || n > INT64_MAX) {
			ctl_warn("--limit: '%s' is not a whole number", o->limit);
			return CTL_EXIT_USAGE;
		}
		json_object_object_add(args, "limit", new_u64(n));
	}
	return CTL_EXIT_OK;
}

int args_kill(const struct ctl_opts *o, struct json_object *args)
{
	uint64_t id;

	if (!parse_u64(o->pos[0], &id)) {
		ctl_warn("kill: '%s' is not a connection id (see the ID column of conns)",
			 o->pos[0]);
		return CTL_EXIT_USAGE;
	}
	json_object_object_add(args, "id", new_u64(id));
	return CTL_EXIT_OK;
}

int args_profile(const struct ctl_opts *o, struct json_object *args)
{
	if (o->npos > 0)
		add_string(args, "profile", o->pos[0]);
	return CTL_EXIT_OK;
}

int args_listener_add(const struct ctl_opts *o, struct json_object *args)
{
	char *text;

	if (o->npos == 1) {
		if (o->seen & OPTS_ADD) {
			ctl_warn(
				"listeners add: give either CONFIG or the --name... options, not both");
			return CTL_EXIT_USAGE;
		}
		add_string(args, "config", o->pos[0]);
		return CTL_EXIT_OK;
	}
	if (!o->name || !o->listen || !o->backend || !o->profiles) {
		ctl_warn("listeners add: CONFIG, or all of --name, --listen, --backend and "
			 "--profile, are needed");
		return CTL_EXIT_USAGE;
	}
	text = lconf_listener(o->name, o->listen, o->backend, o->profiles, o->seen & OPT_PROXY,
			      o->seen & OPT_NO_KTLS);
	if (!text)
		return CTL_EXIT_USAGE;
	add_string(args, "config", text);
	free(text);
	return CTL_EXIT_OK;
}

int args_listener_remove(const struct ctl_opts *o, struct json_object *args)
{
	add_string(args, "name", o->pos[0]);
	return CTL_EXIT_OK;
}
