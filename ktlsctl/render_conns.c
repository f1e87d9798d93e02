// SPDX-License-Identifier: MIT
/*
 * render_conns.c - the `conns` reply: one line per connection, then the count.
 */
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "render.h"

enum {
	C_ID,
	C_PEER,
	C_LISTENER,
	C_SNI,
	C_ALPN,
	C_VERSION,
	C_CIPHER,
	C_RESUMED,
	C_PATH,
	C_IN,
	C_OUT,
	C_AGE,
	C_KERNEL,
	NCOLS
};

/* "tls sw/sw rtt=48us", "tcp rtt=48us retrans=2" (no kernel TLS), or "-" */
static const char *kernel_cell(struct json_object *k, char *buf, size_t len)
{
	struct json_object *ulp = jget(k, "ulp");
	char b1[FMT_LEN], b2[FMT_LEN];
	double rtt, re;
	int n;

	if (!json_object_is_type(k, json_type_object))
		return "-";
	if (!json_object_is_type(ulp, json_type_string))
		n = snprintf(buf, len, "-");
	else if (json_object_get_string_len(ulp) == 0)
		n = snprintf(buf, len, "tcp");
	else if (jget(k, "txconf") || jget(k, "rxconf"))
		n = snprintf(buf, len, "%s %s/%s", json_object_get_string(ulp),
			     jtext(jget(k, "txconf"), b1, sizeof(b1)),
			     jtext(jget(k, "rxconf"), b2, sizeof(b2)));
	else
		n = snprintf(buf, len, "%s", json_object_get_string(ulp));
	if (n > 0 && (size_t)n < len && jnum(jget(k, "rtt_us"), &rtt))
		n += snprintf(buf + n, len - (size_t)n, " rtt=%.0fus", rtt);
	if (n > 0 && (size_t)n < len && jnum(jget(k, "retransmits"), &re) && re > 0)
		snprintf(buf + n, len - (size_t)n, " retrans=%.0f", re);
	return buf;
}

void render_conns(struct json_object *r)
{
	static const char *const head[NCOLS] = { "ID",	    "PEER",   "LISTENER", "SNI",  "ALPN",
						 "VERSION", "CIPHER", "RESUMED",  "PATH", "IN",
						 "OUT",	    "AGE",    "KERNEL" };
	struct json_object *list = jget(r, "conns"), *total = jget(r, "total");
	struct json_object *trunc = jget(r, "truncated");
	struct table *t;
	size_t i, n = 0;
	char tb[FMT_LEN];

	t = table_new(NCOLS, head, 1ul << C_ID | 1ul << C_IN | 1ul << C_OUT | 1ul << C_AGE);
	if (json_object_is_type(list, json_type_array))
		n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		char b[NCOLS][FMT_LEN], kern[256];
		const char *row[NCOLS];

		row[C_ID] = jtext(jget(c, "id"), b[C_ID], FMT_LEN);
		row[C_PEER] = jtext(jget(c, "peer"), b[C_PEER], FMT_LEN);
		row[C_LISTENER] = jtext(jget(c, "listener"), b[C_LISTENER], FMT_LEN);
		row[C_SNI] = jtext(jget(c, "sni"), b[C_SNI], FMT_LEN);
		row[C_ALPN] = jtext(jget(c, "alpn"), b[C_ALPN], FMT_LEN);
		row[C_VERSION] = jtext(jget(c, "version"), b[C_VERSION], FMT_LEN);
		row[C_CIPHER] = jtext(jget(c, "cipher"), b[C_CIPHER], FMT_LEN);
		row[C_RESUMED] = jyesno(jget(c, "resumed"), b[C_RESUMED], FMT_LEN);
		row[C_PATH] = jtext(jget(c, "path"), b[C_PATH], FMT_LEN);
		row[C_IN] = fmt_bytes(jget(c, "bytes_in"), b[C_IN], FMT_LEN);
		row[C_OUT] = fmt_bytes(jget(c, "bytes_out"), b[C_OUT], FMT_LEN);
		row[C_AGE] = fmt_age(jget(c, "age_seconds"), b[C_AGE], FMT_LEN);
		row[C_KERNEL] = kernel_cell(jget(c, "kernel"), kern, sizeof(kern));
		table_row(t, row);
	}
	if (n > 0)
		table_print(t, 0);
	else
		table_print_body(t, 0);
	if (json_object_get_boolean(trunc))
		printf("%zu connection%s shown of %s (truncated: raise --limit to see more)\n", n,
		       plural((long long)n), jtext(total, tb, sizeof(tb)));
	else
		printf("%zu connection%s\n", n, plural((long long)n));
}
