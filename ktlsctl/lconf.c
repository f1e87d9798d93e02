// SPDX-License-Identifier: MIT
/*
 * lconf.c - one listener written as a libconfig group, the way an element of the
 * configuration file's "listeners" list is written, for "listeners add --name ...".
 *
 * Strings are quoted the way libconfig's scanner reads them back: '"' and '\' are
 * escaped, and so are control characters (\n, \r, \t, \f, other ones as \xHH).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktlsctl.h"

static void put_string(FILE *f, const char *s)
{
	const unsigned char *c;

	fputc('"', f);
	for (c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		default:
			if (*c < 0x20 || *c == 0x7f)
				fprintf(f, "\\x%02x", *c);
			else
				fputc(*c, f);
		}
	}
	fputc('"', f);
}

static void put_setting(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s = ", key);
	put_string(f, value);
	fputs("; ", f);
}

/* "a,b" -> [ "a", "b" ]; false (after a message) for an empty name. */
static bool put_profiles(FILE *f, const char *list)
{
	const char *p = list, *comma;
	bool first = true;

	fputs("profiles = [ ", f);
	for (;;) {
		size_t n;
		char *one;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0) {
			ctl_warn("--profile: empty profile name in '%s'", list);
			return false;
		}
		one = strndup(p, n);
		if (!one)
			ctl_fatal("out of memory");
		if (!first)
			fputs(", ", f);
		put_string(f, one);
		free(one);
		first = false;
		if (!comma)
			break;
		p = comma + 1;
	}
	fputs(" ]; ", f);
	return true;
}

char *lconf_listener(const char *name, const char *listen, const char *backend,
		     const char *profiles, bool proxy_protocol, bool no_ktls)
{
	char *text = NULL;
	size_t len = 0;
	bool ok;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		ctl_fatal("out of memory");
	fputs("{ ", f);
	put_setting(f, "name", name);
	put_setting(f, "listen", listen);
	put_setting(f, "backend", backend);
	ok = put_profiles(f, profiles);
	if (proxy_protocol)
		fputs("proxy_protocol = true; ", f);
	if (no_ktls)
		fputs("ktls = false; ", f);
	fputc('}', f);
	if (fclose(f) != 0)
		ctl_fatal("out of memory");
	if (!ok) {
		free(text);
		return NULL;
	}
	return text;
}
