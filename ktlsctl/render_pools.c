// SPDX-License-Identifier: MIT
/*
 * render_pools.c - `pools`: the warm connection pool of each configured upstream.
 */
#include <stdio.h>

#include "fmt.h"
#include "render.h"

void render_pools(struct json_object *r)
{
	static const char *const head[] = { "UPSTREAM",	 "ADDRESS", "SIZE",   "IDLE",
					    "REFILLING", "HANDED",  "MISSES", "REFILLS",
					    "RESUMED",	 "FAILED",  "CLOSED", "EXPIRED" };
	static const char *const keys[] = { "name",
					    "address",
					    "size",
					    "idle",
					    "refilling",
					    "handed_out",
					    "misses",
					    "refills",
					    "refills_resumed",
					    "refill_failures",
					    "closed_by_peer",
					    "expired" };
	struct json_object *ps = jget(r, "pools");
	struct table *t;
	size_t n = 0;

	if (json_object_is_type(ps, json_type_array))
		n = json_object_array_length(ps);
	if (n == 0) {
		puts("no upstreams configured");
		return;
	}
	t = table_new(12, head, 0xffcul); /* numbers right-aligned */
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ps, i);
		char b[12][FMT_LEN];
		const char *row[12];

		for (size_t k = 0; k < 12; k++)
			row[k] = jtext(jget(p, keys[k]), b[k], FMT_LEN);
		table_row(t, row);
	}
	table_print(t, 0);
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ps, i);
		const char *e = json_object_get_string(jget(p, "last_error"));

		if (e && *e) {
			char b[FMT_LEN];

			fputs("  ", stdout);
			put_clean(jtext(jget(p, "name"), b, sizeof(b)), stdout);
			fputs(": last refill error: ", stdout);
			put_clean(e, stdout);
			putchar('\n');
		}
	}
}
