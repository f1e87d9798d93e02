// SPDX-License-Identifier: MIT
/*
 * metrics_text.c - writing Prometheus text exposition format 0.0.4 (metrics_text.h): the
 * HELP/TYPE lines of a family, its samples with escaped label values, numbers that
 * round-trip; a family that got no sample is taken back, and one begun twice is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "metrics_text.h"

/* Appends @n bytes of @s. */
static void metrics_put(struct metrics_buf *b, const char *s, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap != b->cap) {
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends the strings of @s, up to its NULL; METRICS_PUTS() makes the array. */
static void metrics_put_strings(struct metrics_buf *b, const char *const *s)
{
	for (; *s; s++)
		metrics_put(b, *s, strlen(*s));
}

#define METRICS_PUTS(b, ...) metrics_put_strings((b), (const char *const[]){ __VA_ARGS__, NULL })

/* HELP texts escape backslash and newline; label values double quotes as well. */
static void metrics_put_escaped(struct metrics_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			metrics_put(b, "\\\\", 2);
		else if (*s == '\n')
			metrics_put(b, "\\n", 2);
		else if (*s == '"' && quote)
			metrics_put(b, "\\\"", 2);
		else
			metrics_put(b, s, 1);
	}
}

/* The shortest of %.15g..%.17g that reads back as @v (17 digits always do). */
static void metrics_format_double(double v, char *s, size_t size)
{
	if (!isfinite(v)) {
		snprintf(s, size, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, size, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
}

/** metrics_is_number() - whether @v is a JSON integer or double (NULL is not). */
bool metrics_is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* A JSON number as a sample value: integers as integers, doubles so that they round-trip. */
static void metrics_format_value(struct json_object *v, char *s, size_t size)
{
	if (json_object_is_type(v, json_type_double))
		metrics_format_double(json_object_get_double(v), s, size);
	else if (json_object_get_int64(v) < 0)
		snprintf(s, size, "%" PRId64, json_object_get_int64(v));
	else /* json-c keeps integers above INT64_MAX as uint64 */
		snprintf(s, size, "%" PRIu64, json_object_get_uint64(v));
}

/**
 * metrics_format_bound() - a bucket's upper bound, a number or a string such as "+Inf".
 * Return: false (nothing in @s) for anything else.
 */
bool metrics_format_bound(struct json_object *v, char *s, size_t size)
{
	const char *str;
	char *end;
	double d;

	if (metrics_is_number(v)) {
		metrics_format_value(v, s, size);
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return false;
	str = json_object_get_string(v);
	d = strtod(str, &end);
	if (end == str || *end != '\0')
		return false;
	metrics_format_double(d, s, size);
	return true;
}

/**
 * metrics_make_name() - "ktlsd_" @key @suffix, bytes outside [a-zA-Z0-9_:] made '_'.
 * Return: false if it does not fit in @size (the key is then skipped, not truncated).
 */
bool metrics_make_name(char *name, size_t size, const char *key, const char *suffix)
{
	int n = snprintf(name, size, "ktlsd_%s%s", key, suffix);

	if (n < 0 || (size_t)n >= size)
		return false;
	for (char *c = name; *c; c++)
		if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
		    !(*c >= '0' && *c <= '9') && *c != '_' && *c != ':')
			*c = '_';
	return true;
}

/**
 * metrics_sample() - write "NAME SUFFIX{L1="V1",...} VALUE" into the current family.
 * @labels: label name, value, name, value, ..., NULL; or NULL for none
 * Return: 1, or 0 (nothing written) if @v is not a number.
 */
int metrics_sample(struct metrics_text *c, const char *name, const char *suffix,
		   const char *const *labels, struct json_object *v)
{
	struct metrics_buf *b = &c->out;
	char value[40];

	if (!metrics_is_number(v))
		return 0;
	METRICS_PUTS(b, name, suffix);
	for (int i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		METRICS_PUTS(b, i ? "," : "{", labels[i], "=\"");
		metrics_put_escaped(b, labels[i + 1], true);
		metrics_put(b, "\"", 1);
	}
	if (labels && labels[0])
		metrics_put(b, "}", 1);
	metrics_format_value(v, value, sizeof(value));
	METRICS_PUTS(b, " ", value, "\n");
	return 1;
}

/*
 * Whether a name that family @c->name would use is taken (@take false), or takes them all.
 * A histogram uses its sample names too, and a counter X_total the family name X that
 * parsers give it, so that a counter ktlsd_x_total and a gauge ktlsd_x do not clash either.
 */
static bool metrics_names(struct metrics_text *c, bool take)
{
	static const char *const plain[] = { "", NULL };
	static const char *const hist[] = { "", "_bucket", "_sum", "_count", NULL };
	static const char *const counter[] = { "", "_total", NULL };
	const char *const *sfx = plain;
	size_t n = strlen(c->name);
	char key[METRICS_NAME_MAX + 16];
	bool taken = false;

	if (strcmp(c->type, "histogram") == 0)
		sfx = hist;
	else if (strcmp(c->type, "counter") == 0 && n > 6 && !strcmp(c->name + n - 6, "_total")) {
		sfx = counter;
		n -= 6;
	}
	for (; *sfx; sfx++) {
		snprintf(key, sizeof(key), "\n%.*s%s\n", (int)n, c->name, *sfx);
		if (take)
			metrics_put(&c->seen, key + 1, strlen(key + 1));
		else if (c->seen.p && strstr(c->seen.p, key))
			taken = true;
	}
	return taken;
}

/** metrics_begin() - HELP and TYPE of family @name; false if a name it needs is taken. */
bool metrics_begin(struct metrics_text *c, const char *name, const char *type, const char *help)
{
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->type = type;
	if (metrics_names(c, false))
		return false;
	c->mark = c->out.len;
	METRICS_PUTS(&c->out, "# HELP ", name, " ");
	metrics_put_escaped(&c->out, help, false);
	METRICS_PUTS(&c->out, "\n# TYPE ", name, " ", type, "\n");
	return true;
}

/** metrics_end() - end the family begun last; without samples, take its HELP/TYPE back. */
void metrics_end(struct metrics_text *c, int n_samples)
{
	if (n_samples > 0) {
		metrics_names(c, true);
	} else if (c->out.p) {
		c->out.len = c->mark;
		c->out.p[c->out.len] = '\0';
	}
}

/** metrics_start() - an empty text (an empty stats object still gives a string). */
void metrics_start(struct metrics_text *c)
{
	*c = (struct metrics_text){ 0 };
	METRICS_PUTS(&c->out, "");
	METRICS_PUTS(&c->seen, "\n");
}

/**
 * metrics_finish() - hand the text over and free the rest.
 * Return: 0 with the text in *@out (the caller frees it) and its length in *@out_len, or
 * -ENOMEM (nothing to free).
 */
int metrics_finish(struct metrics_text *c, char **out, size_t *out_len)
{
	free(c->seen.p);
	if (c->out.oom || c->seen.oom) {
		free(c->out.p);
		return -ENOMEM;
	}
	*out = c->out.p;
	*out_len = c->out.len;
	return 0;
}
