// SPDX-License-Identifier: MIT
/*
 * render_certs.c - `certs`: every loaded certificate with its expiry.
 */
#include <stdio.h>
#include <time.h>

#include "fmt.h"
#include "ktlsctl.h"
#include "render.h"

/* A Unix time as "2027-03-01 12:00 UTC"; "-" if it is not a number. */
static const char *utc_date(struct json_object *v, char *buf, size_t len)
{
	struct tm tm;
	double d;
	time_t t;

	if (!jnum(v, &d))
		return "-";
	t = (time_t)d;
	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
		return "-";
	return buf;
}

void render_certs(struct json_object *r)
{
	static const char *const head[] = { "PROFILE",	 "SUBJECT",   "KEY",
					    "NOT AFTER", "DAYS LEFT", "FILE" };
	struct json_object *cs = jget(r, "certificates");
	struct table *t;
	size_t n = 0;

	if (json_object_is_type(cs, json_type_array))
		n = json_object_array_length(cs);
	if (n == 0) {
		puts("no certificates");
		return;
	}
	t = table_new(6, head, 1ul << 4);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		char b[6][FMT_LEN];
		const char *row[6];
		double left;

		row[0] = jtext(jget(c, "profile"), b[0], FMT_LEN);
		row[1] = jtext(jget(c, "subject"), b[1], FMT_LEN);
		row[2] = jtext(jget(c, "key"), b[2], FMT_LEN);
		row[3] = utc_date(jget(c, "not_after"), b[3], FMT_LEN);
		if (jnum(jget(c, "expires_in_seconds"), &left)) {
			/* Whole days, rounded down; an expired one shows how long ago, negative. */
			snprintf(b[4], FMT_LEN, "%lld", (long long)(left / 86400.0 - (left < 0)));
			row[4] = b[4];
		} else {
			row[4] = "-";
		}
		row[5] = jtext(jget(c, "file"), b[5], FMT_LEN);
		table_row(t, row);
	}
	table_print(t, 0);
}
