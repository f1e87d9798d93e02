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
	CTL_EXIT_PROBE = 1,   /* probe: the server could not be measured */
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
	OPT_TRIES = 1u << 12,
	OPT_ALPN = 1u << 13,
	OPT_TLS12 = 1u << 14,
	OPT_TLS13 = 1u << 15,
	OPT_CAFILE = 1u << 16,
	OPT_INSECURE = 1u << 17,
	OPT_EARLY_DATA = 1u << 18,
};
#define OPTS_CONNS (OPT_LISTENER | OPT_SNI | OPT_PATH | OPT_PEER | OPT_MIN_AGE | OPT_LIMIT)
#define OPTS_ADD   (OPT_NAME | OPT_LISTEN | OPT_BACKEND | OPT_PROFILE | OPT_PROXY | OPT_NO_KTLS)
#define OPTS_PROBE                                                                                 \
	(OPT_TRIES | OPT_SNI | OPT_ALPN | OPT_TLS12 | OPT_TLS13 | OPT_CAFILE | OPT_INSECURE |      \
	 OPT_EARLY_DATA)

/* The command line, once getopt is done with it. */
struct ctl_opts {
	const char *socket; /* -s, $KTLSD_CONTROL_SOCKET or the default */
	bool json;	    /* -j: print the reply's result as JSON */
	double timeout;	    /* -t: seconds for connect + request + reply (probe: per step) */
	unsigned int seen;  /* OPT_* given */
	/* conns filters, as typed */
	const char *listener, *sni, *path, *peer, *min_age, *limit;
	/* listeners add, the option form */
	const char *name, *listen, *backend, *profiles;
	/* probe, as typed (the flags are in seen) */
	const char *tries, *alpn, *cafile, *early_data;
	char **pos; /* positional arguments after the command's word(s) */
	int npos;
};

/*
 * Argument builders (args.c): fill the request's "args" object from the command
 * line. They return CTL_EXIT_OK, or CTL_EXIT_USAGE after saying what is wrong.
 */
typedef int args_fn(const struct ctl_opts *o, struct json_object *args);
args_fn args_conns, args_kill, args_profile, args_listener_add, args_listener_remove;

/*
 * Commands that do not talk to ktlsd: run instead of a request, they return the exit
 * status (CTL_EXIT_*).
 */
typedef int local_fn(const struct ctl_opts *o);
/* probe_cli.c: `probe HOST:PORT`, a TLS server measured with OpenSSL */
local_fn cmd_probe;

/* Listener group text for "listeners add --name ..." (lconf.c); NULL on error. */
char *lconf_listener(const char *name, const char *listen, const char *backend,
		     const char *profiles, bool proxy_protocol, bool no_ktls);

/* "ktlsctl: " + message on stderr. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Out of memory and such: message, exit CTL_EXIT_NOREPLY. */
void ctl_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* KTLSCTL_H */
