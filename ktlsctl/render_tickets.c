// SPDX-License-Identifier: MIT
/*
 * render_tickets.c - `tickets show` (each profile's ticket keys, no key bytes) and
 * `tickets rotate`.
 */
#include <stdio.h>

#include "fmt.h"
#include "render.h"

static void profile(struct json_object *p)
{
	static const char *const head[] = { "KEY-ID", "AGE", "ROLE" };
	struct json_object *keys = jget(p, "keys"), *rot = jget(p, "rotation_seconds");
	char b[FMT_LEN], r[FMT_LEN];
	struct table *t;
	size_t i, n = 0;
	double secs;

	fputs("profile ", stdout);
	put_clean(jtext(jget(p, "name"), b, sizeof(b)), stdout);
	fputs(": tickets ", stdout);
	put_clean(jtext(jget(p, "tickets"), b, sizeof(b)), stdout);
	fputs(", keys from ", stdout);
	put_clean(jtext(jget(p, "source"), b, sizeof(b)), stdout);
	if (jnum(rot, &secs) && secs > 0)
		printf(", rotation every %s\n", fmt_secs(secs, r, sizeof(r)));
	else
		printf(", rotation %s\n", jnum(rot, &secs) ? "off" : "-");
	if (json_object_is_type(keys, json_type_array))
		n = json_object_array_length(keys);
	if (n == 0) {
		puts("  no keys");
		return;
	}
	t = table_new(3, head, 1ul << 1);
	for (i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i);
		struct json_object *enc = jget(k, "encrypts");
		char id[FMT_LEN], age[FMT_LEN];
		const char *row[3];

		row[0] = jtext(jget(k, "id"), id, sizeof(id));
		row[1] = fmt_age(jget(k, "age_seconds"), age, sizeof(age));
		if (json_object_is_type(enc, json_type_boolean))
			row[2] = json_object_get_boolean(enc) ? "encrypts" : "decrypts";
		else
			row[2] = "-";
		table_row(t, row);
	}
	table_print(t, 2);
}

void render_tickets(struct json_object *r)
{
	struct json_object *ps = jget(r, "profiles");
	size_t i, n = 0;

	if (json_object_is_type(ps, json_type_array))
		n = json_object_array_length(ps);
	if (n == 0)
		puts("no profiles");
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar('\n');
		profile(json_object_array_get_idx(ps, i));
	}
}

void render_rotate(struct json_object *r)
{
	struct json_object *rot = jget(r, "rotated");
	size_t i, n = 0;

	if (json_object_is_type(rot, json_type_array))
		n = json_object_array_length(rot);
	if (n == 0)
		puts("no profile has in-memory ticket keys: nothing rotated");
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(rot, i);
		char b[FMT_LEN];

		fputs("rotated ticket keys of profile ", stdout);
		put_clean(jtext(jget(p, "name"), b, sizeof(b)), stdout);
		fputs(": new encryption key ", stdout);
		put_clean(jtext(jget(p, "id"), b, sizeof(b)), stdout);
		putchar('\n');
	}
}
