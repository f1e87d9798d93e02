// SPDX-License-Identifier: MIT
/*
 * render_listeners.c - `listeners list`, `listeners add`, `listeners remove`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "ktlsctl.h"
#include "render.h"

/* ["a", "b"] -> "a,b" (malloc'd) */
static char *join(struct json_object *arr)
{
	char *text = NULL, b[FMT_LEN];
	size_t i, n, len = 0;
	FILE *f;

	if (!json_object_is_type(arr, json_type_array)) {
		text = strdup(jtext(arr, b, sizeof(b)));
		if (!text)
			ctl_fatal("out of memory");
		return text;
	}
	f = open_memstream(&text, &len);
	if (!f)
		ctl_fatal("out of memory");
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "",
			jtext(json_object_array_get_idx(arr, i), b, sizeof(b)));
	if (fclose(f) != 0)
		ctl_fatal("out of memory");
	return text;
}

void render_listeners(struct json_object *r)
{
	static const char *const head[] = { "NAME",  "LISTEN",	  "BACKEND", "PROFILES",
					    "CONNS", "ACCEPTING", "ORIGIN" };
	struct json_object *ls = jget(r, "listeners");
	struct table *t;
	size_t i, n = 0;

	if (json_object_is_type(ls, json_type_array))
		n = json_object_array_length(ls);
	if (n == 0) {
		puts("no listeners");
		return;
	}
	t = table_new(7, head, 1ul << 4);
	for (i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(ls, i);
		char b[7][FMT_LEN], *profiles = join(jget(l, "profiles"));
		const char *row[7];

		row[0] = jtext(jget(l, "name"), b[0], FMT_LEN);
		row[1] = jtext(jget(l, "listen"), b[1], FMT_LEN);
		row[2] = jtext(jget(l, "backend"), b[2], FMT_LEN);
		row[3] = profiles;
		row[4] = jtext(jget(l, "connections"), b[4], FMT_LEN);
		row[5] = jyesno(jget(l, "accepting"), b[5], FMT_LEN);
		row[6] = jtext(jget(l, "origin"), b[6], FMT_LEN);
		table_row(t, row);
		free(profiles);
	}
	table_print(t, 0);
}

void render_listener_add(struct json_object *r)
{
	char b[FMT_LEN];

	fputs("listener ", stdout);
	put_clean(jtext(jget(r, "added"), b, sizeof(b)), stdout);
	fputs(" added, accepting on ", stdout);
	put_clean(jtext(jget(r, "listen"), b, sizeof(b)), stdout);
	putchar('\n');
}

void render_listener_remove(struct json_object *r)
{
	struct json_object *n = jget(r, "connections");
	char b[FMT_LEN];
	double c;

	fputs("listener ", stdout);
	put_clean(jtext(jget(r, "removed"), b, sizeof(b)), stdout);
	if (jnum(n, &c) && c == 0)
		puts(" removed; it had no open connections");
	else if (jnum(n, &c))
		printf(" removed; its %s open connection%s continue%s\n", jtext(n, b, sizeof(b)),
		       plural((long long)c), c == 1 ? "s" : "");
	else
		puts(" removed");
}
