// SPDX-License-Identifier: MIT
/*
 * ktlsctl - the command-line client of ktlsd's control socket (docs/control-api.md).
 *
 *   ktlsctl [-s SOCKET] [-j|--json] [-t SECONDS] COMMAND [ARGS...]
 *
 * main.c: the command line (getopt_long over all of it, so options may also follow
 * the command), the table of commands, and one request/reply with the result
 * printed as text (render*.c) or as JSON. `probe` sends no request: it measures a
 * TLS server itself (probe*.c).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ktlsctl.h"
#include "ktlsd/control.h"
#include "proto.h"
#include "render.h"

#define DEFAULT_TIMEOUT 10.0

struct command {
	const char *word, *sub; /* "tickets" "show"; sub NULL for one word */
	bool dflt;		/* the first word alone means this one */
	const char *wire;	/* the protocol's command string */
	unsigned int opts;	/* OPT_* allowed */
	int min_pos, max_pos;	/* positional arguments after the word(s) */
	args_fn *args;		/* NULL: no arguments */
	render_fn *render;
	local_fn *local; /* set: runs instead of a request to ktlsd */
};

static const struct command commands[] = {
	{ "status", NULL, false, "status", 0, 0, 0, NULL, render_status, NULL },
	{ "stats", NULL, false, "stats", 0, 0, 0, NULL, render_stats, NULL },
	{ "metrics", NULL, false, "metrics", 0, 0, 0, NULL, render_metrics, NULL },
	{ "kernel", NULL, false, "kernel", 0, 0, 0, NULL, render_kernel, NULL },
	{ "pools", NULL, false, "pools", 0, 0, 0, NULL, render_pools, NULL },
	{ "certs", NULL, false, "certs", 0, 0, 0, NULL, render_certs, NULL },
	{ "reload", NULL, false, "reload", 0, 0, 0, NULL, render_reload, NULL },
	{ "drain", NULL, false, "drain", 0, 0, 0, NULL, render_drain, NULL },
	{ "sessions", "flush", false, "sessions flush", 0, 0, 0, NULL, render_flush, NULL },
	{ "conns", NULL, false, "conns", OPTS_CONNS, 0, 0, args_conns, render_conns, NULL },
	{ "kill", NULL, false, "kill", 0, 1, 1, args_kill, render_kill, NULL },
	{ "tickets", "show", true, "tickets show", 0, 0, 1, args_profile, render_tickets, NULL },
	{ "tickets", "rotate", false, "tickets rotate", 0, 0, 1, args_profile, render_rotate,
	  NULL },
	{ "listeners", "list", true, "listeners list", 0, 0, 0, NULL, render_listeners, NULL },
	{ "listeners", "add", false, "listeners add", OPTS_ADD, 0, 1, args_listener_add,
	  render_listener_add, NULL },
	{ "listeners", "remove", false, "listeners remove", 0, 1, 1, args_listener_remove,
	  render_listener_remove, NULL },
	{ "probe", NULL, false, "probe", OPTS_PROBE, 1, 1, NULL, NULL, cmd_probe },
};

static const char usage_text[] =
	"usage: ktlsctl [-s SOCKET] [-j|--json] [-t SECONDS] COMMAND [ARGS...]\n"
	"\n"
	"Commands:\n"
	"  status                     daemon, configuration and kernel TLS state\n"
	"  stats                      counters, histograms, session cache, kernel TLS\n"
	"  metrics                    the same in the Prometheus text format\n"
	"  kernel                     the kernel TLS probe ktlsd ran at start\n"
	"  pools                      the warm connection pool of each upstream\n"
	"  certs                      loaded certificates: subject, key, expiry\n"
	"  conns [--listener NAME] [--sni NAME] [--path handshake|ktls|userspace]\n"
	"        [--peer TEXT] [--min-age SECS] [--limit N]\n"
	"                             open client connections\n"
	"  kill ID                    close a connection (ID from conns)\n"
	"  reload                     re-read the configuration file (like SIGHUP)\n"
	"  drain                      stop accepting; open connections run to their end\n"
	"  sessions flush             empty the session cache\n"
	"  tickets show [PROFILE]     session ticket keys (no key bytes)\n"
	"  tickets rotate [PROFILE]   new ticket encryption key\n"
	"  listeners [list]           listeners\n"
	"  listeners add CONFIG       add a listener given as a libconfig group, e.g.\n"
	"      '{ name = \"alt\"; listen = \"127.0.0.1:8443\"; backend = \"127.0.0.1:8080\"; "
	"profiles = [\"default\"]; }'\n"
	"  listeners add --name N --listen ADDR --backend ADDR --profile P[,P...]\n"
	"                [--proxy-protocol] [--no-ktls]\n"
	"  listeners remove NAME      stop accepting on a listener\n"
	"  probe HOST:PORT [-n TRIES] [--sni NAME] [--alpn P[,P...]] [--tls1.2|--tls1.3]\n"
	"        [--cafile FILE] [--insecure] [--early-data BYTES]\n"
	"                             measure a TLS server (any, not only ktlsd): connect,\n"
	"                             full and resumed handshakes, 0-RTT, certificates;\n"
	"                             -t is the timeout of each step\n"
	"  help                       this text\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET   control socket (default: $KTLSD_CONTROL_SOCKET, "
	"else " KTLSD_CONTROL_SOCKET ")\n"
	"  -j, --json            print the reply's result as JSON\n"
	"  -t, --timeout SECONDS for connecting and the reply (default 10)\n"
	"\n"
	"Exit status: 0 done, 1 ktlsd replied with an error (probe: the server could not\n"
	"be measured), 2 usage error, 3 no connection, no reply or a malformed reply.\n";

static void ctl_vwarn(const char *fmt, va_list ap)
{
	fputs("ktlsctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void ctl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vwarn(fmt, ap);
	va_end(ap);
}

void ctl_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_vwarn(fmt, ap);
	va_end(ap);
	exit(CTL_EXIT_NOREPLY);
}

static int usage_error(void)
{
	fputs(usage_text, stderr);
	return CTL_EXIT_USAGE;
}

enum {
	LO_LISTENER = 256,
	LO_SNI,
	LO_PATH,
	LO_PEER,
	LO_MIN_AGE,
	LO_LIMIT,
	LO_NAME,
	LO_LISTEN,
	LO_BACKEND,
	LO_PROFILE,
	LO_PROXY,
	LO_NO_KTLS,
	LO_TRIES,
	LO_ALPN,
	LO_TLS12,
	LO_TLS13,
	LO_CAFILE,
	LO_INSECURE,
	LO_EARLY_DATA
};

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "listener", required_argument, NULL, LO_LISTENER },
	{ "sni", required_argument, NULL, LO_SNI },
	{ "path", required_argument, NULL, LO_PATH },
	{ "peer", required_argument, NULL, LO_PEER },
	{ "min-age", required_argument, NULL, LO_MIN_AGE },
	{ "limit", required_argument, NULL, LO_LIMIT },
	{ "name", required_argument, NULL, LO_NAME },
	{ "listen", required_argument, NULL, LO_LISTEN },
	{ "backend", required_argument, NULL, LO_BACKEND },
	{ "profile", required_argument, NULL, LO_PROFILE },
	{ "proxy-protocol", no_argument, NULL, LO_PROXY },
	{ "no-ktls", no_argument, NULL, LO_NO_KTLS },
	{ "tries", required_argument, NULL, LO_TRIES },
	{ "alpn", required_argument, NULL, LO_ALPN },
	{ "tls1.2", no_argument, NULL, LO_TLS12 },
	{ "tls1.3", no_argument, NULL, LO_TLS13 },
	{ "cafile", required_argument, NULL, LO_CAFILE },
	{ "insecure", no_argument, NULL, LO_INSECURE },
	{ "early-data", required_argument, NULL, LO_EARLY_DATA },
	{ NULL, 0, NULL, 0 },
};

/* The long option's name for an OPT_* bit, for messages. */
static const char *opt_name(unsigned int bit)
{
	size_t i;

	for (i = 0; long_opts[i].name; i++)
		if (long_opts[i].val >= LO_LISTENER &&
		    1u << (long_opts[i].val - LO_LISTENER) == bit)
			return long_opts[i].name;
	return "?";
}

static bool parse_timeout(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return end != s && !*end && !errno && isfinite(*out) && *out > 0 && *out <= 86400 * 365;
}

/* Return: -1 to go on, or an exit status (help, usage error). */
static int parse_options(int argc, char **argv, struct ctl_opts *o)
{
	const char *env = getenv("KTLSD_CONTROL_SOCKET");
	int c;

	o->socket = env && *env ? env : KTLSD_CONTROL_SOCKET;
	o->timeout = DEFAULT_TIMEOUT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:jt:hn:", long_opts, NULL)) != -1) {
		if (c == 'n')
			c = LO_TRIES;
		if (c >= LO_LISTENER)
			o->seen |= 1u << (c - LO_LISTENER);
		switch (c) {
		case 's':
			if (!*optarg) {
				ctl_warn("-s: empty socket path");
				return usage_error();
			}
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 't':
			if (!parse_timeout(optarg, &o->timeout)) {
				ctl_warn("-t: '%s' is not a number of seconds above 0", optarg);
				return usage_error();
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		case LO_LISTENER:
			o->listener = optarg;
			break;
		case LO_SNI:
			o->sni = optarg;
			break;
		case LO_PATH:
			o->path = optarg;
			break;
		case LO_PEER:
			o->peer = optarg;
			break;
		case LO_MIN_AGE:
			o->min_age = optarg;
			break;
		case LO_LIMIT:
			o->limit = optarg;
			break;
		case LO_NAME:
			o->name = optarg;
			break;
		case LO_LISTEN:
			o->listen = optarg;
			break;
		case LO_BACKEND:
			o->backend = optarg;
			break;
		case LO_PROFILE:
			o->profiles = optarg;
			break;
		case LO_TRIES:
			o->tries = optarg;
			break;
		case LO_ALPN:
			o->alpn = optarg;
			break;
		case LO_CAFILE:
			o->cafile = optarg;
			break;
		case LO_EARLY_DATA:
			o->early_data = optarg;
			break;
		case LO_PROXY:
		case LO_NO_KTLS:
		case LO_TLS12:
		case LO_TLS13:
		case LO_INSECURE:
			break;
		case ':':
			ctl_warn("option '%s' needs a value", argv[optind - 1]);
			return usage_error();
		default:
			ctl_warn("unknown option '%s'", argv[optind - 1]);
			return usage_error();
		}
	}
	return -1;
}

/* Finds the command named by the first words of @words; sets *@used to their number. */
static const struct command *find_command(char **words, int n, int *used)
{
	const struct command *alone = NULL;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(c->word, words[0]) != 0)
			continue;
		if (!c->sub) {
			*used = 1;
			return c;
		}
		if (n > 1 && strcmp(c->sub, words[1]) == 0) {
			*used = 2;
			return c;
		}
		if (c->dflt)
			alone = c;
	}
	if (alone && n == 1) {
		*used = 1;
		return alone;
	}
	return NULL;
}

/* Is there a command with this first word (then the second word was wrong)? */
static bool known_word(const char *word)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].word, word) == 0)
			return true;
	return false;
}

static void print_json(struct json_object *result)
{
	puts(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int run(const struct ctl_opts *o, const struct command *cmd)
{
	struct json_object *args = json_object_new_object(), *root = NULL, *result = NULL;
	char *req = NULL, *reply = NULL;
	size_t len, rlen;
	int ret;

	if (!args)
		ctl_fatal("out of memory");
	if (cmd->args) {
		ret = cmd->args(o, args);
		if (ret != CTL_EXIT_OK) {
			json_object_put(args);
			return usage_error();
		}
	}
	req = proto_request(cmd->wire, args, &len);
	json_object_put(args);
	if (len > KTLSD_CONTROL_MAX_REQUEST) {
		ctl_warn("the request is %zu bytes, more than the %d the control socket takes", len,
			 KTLSD_CONTROL_MAX_REQUEST);
		free(req);
		return CTL_EXIT_USAGE;
	}
	ret = ctl_exchange(o->socket, o->timeout, req, len, &reply, &rlen);
	free(req);
	if (ret != 0)
		return ret;
	ret = proto_reply(reply, rlen, o->socket, &root, &result);
	free(reply);
	if (ret != CTL_EXIT_OK)
		return ret;
	if (o->json)
		print_json(result);
	else
		cmd->render(result);
	json_object_put(root);
	return CTL_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { 0 };
	const struct command *cmd;
	char **words;
	int ret, nwords, used = 0;

	ret = parse_options(argc, argv, &o);
	if (ret >= 0)
		return ret;
	words = argv + optind;
	nwords = argc - optind;
	if (nwords == 0) {
		ctl_warn("no command given");
		return usage_error();
	}
	if (strcmp(words[0], "help") == 0) {
		fputs(usage_text, stdout);
		return CTL_EXIT_OK;
	}
	cmd = find_command(words, nwords, &used);
	if (!cmd) {
		if (known_word(words[0]) && nwords > 1)
			ctl_warn("unknown command '%s %s'", words[0], words[1]);
		else if (known_word(words[0]))
			ctl_warn("'%s' needs a subcommand", words[0]);
		else
			ctl_warn("unknown command '%s'", words[0]);
		return usage_error();
	}
	o.pos = words + used;
	o.npos = nwords - used;
	if (o.seen & ~cmd->opts) {
		unsigned int bad = o.seen & ~cmd->opts;

		ctl_warn("%s: option --%s does not apply", cmd->wire, opt_name(bad & -bad));
		return usage_error();
	}
	if (o.npos < cmd->min_pos || o.npos > cmd->max_pos) {
		if (o.npos < cmd->min_pos)
			ctl_warn("%s: missing argument", cmd->wire);
		else
			ctl_warn("%s: unexpected argument '%s'", cmd->wire, o.pos[cmd->max_pos]);
		return usage_error();
	}
	if (cmd->local) {
		ret = cmd->local(&o);
		if (ret == CTL_EXIT_USAGE)
			usage_error();
	} else {
		ret = run(&o, cmd);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_warn("cannot write the output: %s", strerror(errno));
		if (ret == CTL_EXIT_OK)
			ret = CTL_EXIT_NOREPLY;
	}
	return ret;
}
