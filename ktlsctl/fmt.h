/* SPDX-License-Identifier: MIT */
/*
 * fmt.h - helpers of the human-readable output: reading reply values leniently,
 * numbers for people, and aligned plain-text tables (fmt.c, table.c).
 */
#ifndef KTLSCTL_FMT_H
#define KTLSCTL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/* Room for any value formatted by the functions below. */
#define FMT_LEN 64

/* @o's member @key; NULL if @o is not an object or has no such member. */
struct json_object *jget(struct json_object *o, const char *key);
/* A number (integer or floating point) as a double; false if @v is none. */
bool jnum(struct json_object *v, double *out);
/* @v as text: null or missing "-", strings as they are, numbers in decimal,
 * booleans "true"/"false", anything else as compact JSON. Owned by @v or @buf. */
const char *jtext(struct json_object *v, char *buf, size_t len);
/* A boolean as "yes"/"no"; anything else as jtext(). */
const char *jyesno(struct json_object *v, char *buf, size_t len);

/* 512, 1.5K, 1.0M, 3.2G (powers of 1024); "-" for a value that is not a number. */
const char *fmt_bytes(struct json_object *v, char *buf, size_t len);
/* Seconds as 3.2s, 5m02s, 2h01m, 3d04h; "-" for a value that is not a number. */
const char *fmt_age(struct json_object *v, char *buf, size_t len);
const char *fmt_secs(double s, char *buf, size_t len);
/* Milliseconds with 3 significant digits or so: 0.512, 12.3, 1234. */
const char *fmt_ms(double ms, char *buf, size_t len);

/* @s on @f with control characters shown as '?' (replies carry client-chosen text). */
void put_clean(const char *s, FILE *f);
/* "KEY:" padded to @width, then the value, cleaned, and a newline. */
void put_kv(int width, const char *key, const char *value);
/* "" for 1, "s" otherwise: printf("%lld connection%s", n, plural(n)). */
const char *plural(long long n);

/* An aligned table: columns separated by two spaces, no trailing blanks. */
struct table;
/* @right: bit i set = column i aligned right. */
struct table *table_new(size_t ncols, const char *const *head, unsigned long right);
/* One row of @ncols cells (copied; NULL is "-"). */
void table_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* Prints the table (header first) on stdout, each line after @indent spaces, and frees it. */
void table_print(struct table *t, int indent);
/* The same without the header line. */
void table_print_body(struct table *t, int indent);

#endif /* KTLSCTL_FMT_H */
