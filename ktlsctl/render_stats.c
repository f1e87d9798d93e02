// SPDX-License-Identifier: MIT
/*
 * render_stats.c - the `stats` reply: counters, active connections, per-listener
 * groups, histograms (count, sum, mean and approximate percentiles, in ms), session
 * cache, the kernel's tls_stat and sock_diag's view of ktlsd's sockets.
 *
 * Members are shown in the reply's order and unknown ones are shown too, so that a
 * counter added to the daemon appears without a change here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "ktlsctl.h"
#include "render.h"

/* "  name  value" lines, values aligned right; "-" for a null object. */
static void name_values(const char *title, struct json_object *o, const char *if_null)
{
	const char *head[] = { "", "" };
	struct table *t;

	if (!json_object_is_type(o, json_type_object)) {
		char b[FMT_LEN];

		printf("%s: %s\n", title, o ? jtext(o, b, sizeof(b)) : if_null);
		return;
	}
	printf("%s:\n", title);
	t = table_new(2, head, 1ul << 1);
	json_object_object_foreach(o, key, val)
	{
		char b[FMT_LEN];
		const char *row[] = { key, jtext(val, b, sizeof(b)) };

		table_row(t, row);
	}
	table_print_body(t, 2);
}

/* "full 40, resumed 78" */
static char *pairs(struct json_object *o)
{
	char *text = NULL;
	size_t len = 0;
	bool first = true;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		ctl_fatal("out of memory");
	json_object_object_foreach(o, key, val)
	{
		char b[FMT_LEN];

		fprintf(f, "%s%s %s", first ? "" : ", ", key, jtext(val, b, sizeof(b)));
		first = false;
	}
	if (fclose(f) != 0)
		ctl_fatal("out of memory");
	return text;
}

static void listeners(struct json_object *ls)
{
	if (!json_object_is_type(ls, json_type_object)) {
		char b[FMT_LEN];

		printf("listeners: %s\n", jtext(ls, b, sizeof(b)));
		return;
	}
	json_object_object_foreach(ls, name, l)
	{
		const char *head[] = { "", "" };
		struct table *t = table_new(2, head, 0);

		fputs("listener ", stdout);
		put_clean(name, stdout);
		puts(":");
		json_object_object_foreach(l, group, val)
		{
			char label[128], b[FMT_LEN], *c, *text = NULL;
			const char *row[2];

			snprintf(label, sizeof(label), "%s:", group);
			for (c = label; *c; c++)
				if (*c == '_')
					*c = ' ';
			row[0] = label;
			if (json_object_is_type(val, json_type_object))
				row[1] = text = pairs(val);
			else
				row[1] = jtext(val, b, sizeof(b));
			table_row(t, row);
			free(text);
		}
		table_print_body(t, 2);
	}
}

/* One cumulative bucket: upper bound (INFINITY for "+Inf") and count. */
struct bucket {
	double le, count;
};

static size_t read_buckets(struct json_object *arr, struct bucket **out)
{
	size_t i, n = json_object_array_length(arr), k = 0;
	struct bucket *b = calloc(n ? n : 1, sizeof(*b));

	if (!b)
		ctl_fatal("out of memory");
	for (i = 0; i < n; i++) {
		struct json_object *pair = json_object_array_get_idx(arr, i), *le, *cnt;

		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2)
			continue;
		le = json_object_array_get_idx(pair, 0);
		cnt = json_object_array_get_idx(pair, 1);
		if (!jnum(cnt, &b[k].count))
			continue;
		if (json_object_is_type(le, json_type_string) &&
		    strcmp(json_object_get_string(le), "+Inf") == 0)
			b[k].le = INFINITY;
		else if (!jnum(le, &b[k].le))
			continue;
		k++;
	}
	*out = b;
	return k;
}

/*
 * The q-quantile estimated as Prometheus' histogram_quantile() does: linear
 * interpolation inside the bucket where the rank falls (the first bucket starting
 * at 0). A rank in the +Inf bucket gives the highest finite bound and *above.
 */
static double quantile(const struct bucket *b, size_t n, double count, double q, bool *above)
{
	double rank = q * count, lo = 0, below = 0;
	size_t i;

	*above = false;
	for (i = 0; i < n; i++) {
		if (b[i].count >= rank) {
			if (isinf(b[i].le)) {
				*above = true;
				return lo;
			}
			if (b[i].count <= below)
				return b[i].le;
			return lo + (b[i].le - lo) * (rank - below) / (b[i].count - below);
		}
		lo = b[i].le;
		below = b[i].count;
	}
	return NAN;
}

static void histograms(struct json_object *hs)
{
	const char *head[] = { "NAME", "COUNT", "SUM", "MEAN", "P50", "P90", "P99" };
	static const double qs[] = { 0.5, 0.9, 0.99 };
	struct table *t;

	if (!json_object_is_type(hs, json_type_object)) {
		char b[FMT_LEN];

		printf("histograms: %s\n", jtext(hs, b, sizeof(b)));
		return;
	}
	puts("histograms (ms; percentiles approximated from the buckets):");
	t = table_new(7, head, 0x7eul);
	json_object_object_foreach(hs, name, h)
	{
		char cnt[FMT_LEN], sum[FMT_LEN], mean[FMT_LEN], p[3][FMT_LEN];
		const char *row[7] = { name, "-", "-", "-", "-", "-", "-" };
		struct bucket *b = NULL;
		double c, s;
		size_t i, nb;

		row[1] = jtext(jget(h, "count"), cnt, sizeof(cnt));
		if (jnum(jget(h, "sum"), &s))
			row[2] = fmt_ms(s * 1000, sum, sizeof(sum));
		if (jnum(jget(h, "count"), &c) && c > 0) {
			if (jnum(jget(h, "sum"), &s))
				row[3] = fmt_ms(s * 1000 / c, mean, sizeof(mean));
			if (json_object_is_type(jget(h, "buckets"), json_type_array)) {
				nb = read_buckets(jget(h, "buckets"), &b);
				for (i = 0; i < 3; i++) {
					bool above;
					double v = quantile(b, nb, c, qs[i], &above);
					char ms[FMT_LEN];

					if (isnan(v))
						continue;
					snprintf(p[i], sizeof(p[i]), "%s%s", above ? ">" : "",
						 fmt_ms(v * 1000, ms, sizeof(ms)));
					row[4 + i] = p[i];
				}
				free(b);
			}
		}
		table_row(t, row);
	}
	table_print(t, 2);
}

void render_stats(struct json_object *r)
{
	struct json_object *sc = jget(r, "session_cache");
	char b[FMT_LEN], c[FMT_LEN];

	printf("uptime: %s\n", fmt_age(jget(r, "uptime_seconds"), b, sizeof(b)));
	printf("workers: %s\n\n", jtext(jget(r, "workers"), b, sizeof(b)));
	name_values("counters", jget(r, "counters"), "-");
	name_values("connections active", jget(r, "connections_active"), "-");
	putchar('\n');
	listeners(jget(r, "listeners"));
	putchar('\n');
	histograms(jget(r, "histograms"));
	putchar('\n');
	if (json_object_is_type(sc, json_type_object))
		printf("session cache: %s entries, capacity %s\n",
		       jtext(jget(sc, "entries"), b, sizeof(b)),
		       jtext(jget(sc, "capacity"), c, sizeof(c)));
	else
		printf("session cache: %s\n", jtext(sc, b, sizeof(b)));
	putchar('\n');
	if (json_object_is_type(jget(r, "kernel_tls_stat"), json_type_object))
		name_values("kernel TLS statistics", jget(r, "kernel_tls_stat"), "-");
	else
		puts("kernel TLS statistics: none (no kTLS in this kernel)");
	name_values("sockets (sock_diag)", jget(r, "sockets"), "- (the netlink query failed)");
}
