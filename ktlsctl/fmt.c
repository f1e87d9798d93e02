// SPDX-License-Identifier: MIT
/*
 * fmt.c - reading reply values leniently and formatting them for people.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

bool jnum(struct json_object *v, double *out)
{
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return isfinite(*out);
	}
	return false;
}

const char *jtext(struct json_object *v, char *buf, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "-";
	case json_type_string:
		return json_object_get_string(v);
	case json_type_boolean:
		return json_object_get_boolean(v) ? "true" : "false";
	case json_type_double:
		snprintf(buf, len, "%.6g", json_object_get_double(v));
		return buf;
	case json_type_int: /* exact, unsigned 64-bit values included */
	default:
		return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	}
}

const char *jyesno(struct json_object *v, char *buf, size_t len)
{
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? "yes" : "no";
	return jtext(v, buf, len);
}

const char *fmt_bytes(struct json_object *v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double b;
	int u = 0;

	if (!jnum(v, &b) || b < 0)
		return jtext(v, buf, len);
	if (b < 1024) {
		snprintf(buf, len, "%.0f", b);
		return buf;
	}
	b /= 1024;
	while (b >= 1024 && u < (int)sizeof(units) - 2) {
		b /= 1024;
		u++;
	}
	/* 9.96K would print as "10.0K": one decimal only below 9.95 */
	snprintf(buf, len, b < 9.95 ? "%.1f%c" : "%.0f%c", b, units[u]);
	return buf;
}

const char *fmt_secs(double s, char *buf, size_t len)
{
	unsigned long long t;

	if (!isfinite(s) || s < 0) {
		snprintf(buf, len, "-");
	} else if (s < 59.95) {
		snprintf(buf, len, "%.1fs", s);
	} else if (s < 3600) {
		t = (unsigned long long)s;
		snprintf(buf, len, "%llum%02llus", t / 60, t % 60);
	} else if (s < 86400) {
		t = (unsigned long long)(s / 60);
		snprintf(buf, len, "%lluh%02llum", t / 60, t % 60);
	} else if (s < 1e15) {
		t = (unsigned long long)(s / 3600);
		snprintf(buf, len, "%llud%02lluh", t / 24, t % 24);
	} else {
		snprintf(buf, len, "%.3gs", s);
	}
	return buf;
}

const char *fmt_age(struct json_object *v, char *buf, size_t len)
{
	double s;

	if (!jnum(v, &s))
		return jtext(v, buf, len);
	return fmt_secs(s, buf, len);
}

const char *fmt_ms(double ms, char *buf, size_t len)
{
	if (!isfinite(ms))
		snprintf(buf, len, "-");
	else if (ms < 9.995)
		snprintf(buf, len, "%.3f", ms);
	else if (ms < 99.95)
		snprintf(buf, len, "%.2f", ms);
	else if (ms < 999.5)
		snprintf(buf, len, "%.1f", ms);
	else
		snprintf(buf, len, "%.0f", ms);
	return buf;
}

void put_clean(const char *s, FILE *f)
{
	const unsigned char *c;

	for (c = (const unsigned char *)s; *c; c++)
		fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, f);
}

void put_kv(int width, const char *key, const char *value)
{
	int n = printf("%s:", key);

	printf("%*s", width > n ? width - n : 1, "");
	put_clean(value, stdout);
	putchar('\n');
}

const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}
