// SPDX-License-Identifier: MIT
/*
 * probe_cli.c - `ktlsctl probe HOST:PORT [-n TRIES] [--sni NAME] [--alpn LIST]
 * [--tls1.2|--tls1.3] [--cafile FILE] [--insecure] [--early-data BYTES] [-t SECS]
 * [--json]`: the options checked into a struct probe_conf, the measurement run, the
 * result printed, and the exit status (0 measured, 1 the probe failed, 2 usage).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktlsctl.h"
#include "probe.h"

#define DEFAULT_TRIES 10

/* A whole number from @min to @max, digits only. */
static bool parse_count(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

/* "h2,http/1.1" in the ALPN wire format: each name after its length byte. */
static int alpn_wire(struct probe_conf *c, const char *list)
{
	size_t len = strlen(list), i, start = 0;

	if (len == 0 || len >= 65535) {
		ctl_warn("probe: --alpn: '%s' is not a list of protocol names", list);
		return -1;
	}
	c->alpn_wire = malloc(len + 1);
	if (!c->alpn_wire)
		ctl_fatal("out of memory");
	for (i = 0; i <= len; i++) {
		if (list[i] != ',' && list[i] != '\0')
			continue;
		if (i == start || i - start > 255) {
			ctl_warn("probe: --alpn: '%s' has a protocol name that is empty or longer "
				 "than 255 bytes",
				 list);
			return -1;
		}
		c->alpn_wire[start] = (unsigned char)(i - start);
		memcpy(c->alpn_wire + start + 1, list + start, i - start);
		start = i + 1;
	}
	c->alpn_len = len + 1;
	c->alpn = list;
	return 0;
}

/* Return: 0, or -1 after saying what is wrong. */
static int parse_conf(const struct ctl_opts *o, struct probe_conf *c)
{
	unsigned long n;

	c->target = o->pos[0];
	if (probe_parse_target(c, c->target) != 0)
		return -1;
	c->tries = DEFAULT_TRIES;
	if (o->tries) {
		if (!parse_count(o->tries, 1, PROBE_MAX_TRIES, &n)) {
			ctl_warn("probe: -n: '%s' is not a number of tries from 1 to %d", o->tries,
				 PROBE_MAX_TRIES);
			return -1;
		}
		c->tries = (unsigned int)n;
	}
	if (o->sni && !*o->sni) {
		ctl_warn("probe: --sni: empty name");
		return -1;
	}
	c->sni = o->sni ? o->sni : probe_is_ip(c->host) ? NULL : c->host;
	c->verify_name = c->sni ? c->sni : c->host;
	if (o->alpn && alpn_wire(c, o->alpn) != 0)
		return -1;
	if ((o->seen & OPT_TLS12) && (o->seen & OPT_TLS13)) {
		ctl_warn("probe: --tls1.2 and --tls1.3 exclude each other (neither: both allowed)");
		return -1;
	}
	c->version = o->seen & OPT_TLS12   ? TLS1_2_VERSION
		     : o->seen & OPT_TLS13 ? TLS1_3_VERSION
					   : 0;
	if (o->cafile && !*o->cafile) {
		ctl_warn("probe: --cafile: empty file name");
		return -1;
	}
	c->cafile = o->cafile;
	c->insecure = o->seen & OPT_INSECURE;
	if (o->early_data) {
		if (!parse_count(o->early_data, 0, PROBE_MAX_EARLY, &n)) {
			ctl_warn("probe: --early-data: '%s' is not a number of bytes from 0 to %u",
				 o->early_data, PROBE_MAX_EARLY);
			return -1;
		}
		if (n > 0 && c->version == TLS1_2_VERSION) {
			ctl_warn("probe: --early-data: 0-RTT needs TLS 1.3, not --tls1.2");
			return -1;
		}
		c->early_data = n;
	}
	c->timeout = o->timeout;
	return 0;
}

/**
 * cmd_probe() - `ktlsctl probe HOST:PORT`.
 * @o: the command line
 *
 * Return: CTL_EXIT_OK after printing the result, CTL_EXIT_PROBE after saying why the
 * server could not be measured, CTL_EXIT_USAGE after saying what is wrong (main.c
 * prints the usage).
 */
int cmd_probe(const struct ctl_opts *o)
{
	struct probe_conf c = { 0 };
	struct probe_result r;
	struct json_object *j;
	struct sigaction sa = { .sa_handler = SIG_IGN };
	char err[PROBE_ERR_LEN];

	if (parse_conf(o, &c) != 0) {
		free(c.alpn_wire);
		return CTL_EXIT_USAGE;
	}
	/* a server that closes while we write must not kill us: write() gets EPIPE */
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		ctl_fatal("sigaction: %s", strerror(errno));
	if (probe_run(&c, &r, err, sizeof(err)) != 0) {
		ctl_warn("probe %s: %s", c.target, err);
		probe_result_free(&r);
		free(c.alpn_wire);
		return CTL_EXIT_PROBE;
	}
	j = probe_json(&c, &r);
	if (o->json)
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		probe_render_text(j);
	json_object_put(j);
	probe_result_free(&r);
	free(c.alpn_wire);
	return CTL_EXIT_OK;
}
