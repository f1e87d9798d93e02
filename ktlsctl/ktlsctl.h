/* SPDX-License-Identifier: MIT */
/*
 * ktlsctl.h - what the parts of ktlsctl share: exit statuses, the parsed command
 * line, and the argument builders of the commands (args.c).
 */
#ifndef KTLSCTL_H
#define KTLSCTL_H

#include <stdbool.h>

#include <json-c/json.h>

/* Exit statuses (see man/ktlsctl.1). */
enum {
	CTL_EXIT_OK = 0,      /* the daemon did it */
	CTL_EXIT_REPLY = 1,   /* the daemon replied with an error */
	CTL_EXIT_USAGE = 2,   /* bad command line */
	CTL_EXIT_NOREPLY = 3, /* no connection, no reply or a malformed one */
};

/* Command options, as bits of ctl_opts.seen and of a command's allowed set. */
enum {
	OPT_LISTENER = 1u << 0,
	OPT_SNI = 1u << 1,
	OPT_PATH = 1u << 2,
	OPT_PEER = 1u << 3,
	OPT_MIN_AGE = 1u << 4,
	OPT_LIMIT = 1u << 5,
	OPT_NAME = 1u << 6,
	OPT_LISTEN = 1u << 7,
	OPT_BACKEND = 1u << 8,
	OPT_PROFILE = 1u << 9,
	OPT_PROXY = 1u << 10,
	OPT_NO_KTLS = 1u << 11,
};
#define OPTS_CONNS (OPT_LISTENER | OPT_SNI | OPT_PATH | OPT_PEER | OPT_MIN_AGE | OPT_LIMIT)
#define OPTS_ADD   (OPT_NAME | OPT_LISTEN | OPT_BACKEND | OPT_PROFILE | OPT_PROXY | OPT_NO_KTLS)

/* The command line, once getopt is done with it. */
struct ctl_opts {
	const char *socket; /* -s, $KTLSD_CONTROL_SOCKET or the default */
	bool json;	    /* -j: print the reply's result as JSON */
	double timeout;	    /* -t: seconds for connect + request + reply */
	unsigned int seen;  /* OPT_* given */
	/* conns filters, as typed */
	const char *listener, *sni, *path, *peer, *min_age, *limit;
	/* listeners add, the option form */
	const char *name, *listen, *backend, *profiles;
	char **pos; /* positional arguments after the command's word(s) */
	int npos;
};

/*
 * Argument builders (args.c): fill the request's "args" object from the command
 * line. They return CTL_EXIT_OK, or CTL_EXIT_USAGE after saying what is wrong.
 */
typedef int args_fn(const struct ctl_opts *o, struct json_object *args);
args_fn args_conns, args_kill, args_profile, args_listener_add, args_listener_remove;

/* Listener group text for "listeners add --name ..." (lconf.c); NULL on error. */
char *lconf_listener(const char *name, const char *listen, const char *backend,
		     const char *profiles, bool proxy_protocol, bool no_ktls);

/* "ktlsctl: " + message on stderr. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Out of memory and such: message, exit CTL_EXIT_NOREPLY. */
void ctl_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* KTLSCTL_H */
