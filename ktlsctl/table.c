// SPDX-License-Identifier: MIT
/*
 * table.c - aligned plain-text tables: every cell is kept until the widths are
 * known, then printed with two spaces between columns and no trailing blanks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "ktlsctl.h"

struct table {
	size_t ncols, nrows, cap; /* rows, header included */
	unsigned long right;
	char **cells; /* nrows * ncols */
	size_t *width;
};

/* A copy with control characters as '?' (cells come from the daemon's reply). */
static char *clean_dup(const char *s)
{
	char *d = strdup(s ? s : "-"), *c;

	if (!d)
		ctl_fatal("out of memory");
	for (c = d; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return d;
}

/* Display width: bytes, UTF-8 continuation bytes not counted. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

struct table *table_new(size_t ncols, const char *const *head, unsigned long right)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		ctl_fatal("out of memory");
	t->width = calloc(ncols, sizeof(*t->width));
	if (!t->width)
		ctl_fatal("out of memory");
	t->ncols = ncols;
	t->right = right;
	table_row(t, head);
	return t;
}

void table_row(struct table *t, const char *const *cells)
{
	size_t i, w;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = reallocarray(t->cells, cap * t->ncols, sizeof(*n));

		if (!n)
			ctl_fatal("out of memory");
		t->cells = n;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *c = clean_dup(cells[i]);

		t->cells[t->nrows * t->ncols + i] = c;
		w = text_width(c);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
}

size_t table_rows(const struct table *t)
{
	return t->nrows - 1;
}

static void print_rows(struct table *t, size_t first, int indent)
{
	size_t r, i, pad;

	for (r = first; r < t->nrows; r++) {
		char **row = &t->cells[r * t->ncols];

		printf("%*s", indent, "");
		for (i = 0; i < t->ncols; i++) {
			bool last = i + 1 == t->ncols;

			pad = t->width[i] - text_width(row[i]);
			if (t->right & (1ul << i))
				printf("%*s%s", (int)pad, "", row[i]);
			else if (last)
				fputs(row[i], stdout);
			else
				printf("%s%*s", row[i], (int)pad, "");
			if (!last)
				fputs("  ", stdout);
		}
		putchar('\n');
	}
}

static void table_free(struct table *t)
{
	size_t r;

	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	free(t->width);
	free(t);
}

void table_print(struct table *t, int indent)
{
	print_rows(t, 0, indent);
	table_free(t);
}

void table_print_body(struct table *t, int indent)
{
	print_rows(t, 1, indent);
	table_free(t);
}
