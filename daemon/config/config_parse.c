// SPDX-License-Identifier: MIT
/*
 * config_parse.c - the generic part of the parser: errors with file:line, a group checked
 * against its table of settings, and the typed handlers (integers, enums, timeouts,
 * booleans, strings, paths) that write the field a table row names.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <libgen.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "config_int.h"

int __attribute__((format(printf, 3, 4)))
config_err(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = ctx->name;
	unsigned int line = 0;
	va_list ap;
	int n;

	if (!ctx->err || !ctx->errlen)
		return -EINVAL;
	if (s) {
		line = config_setting_source_line(s);
		/* Settings from an @include'd file carry that file's name. */
		if (config_setting_source_file(s))
			file = config_setting_source_file(s);
	}
	if (line)
		n = snprintf(ctx->err, ctx->errlen, "%s:%u: ", file, line);
	else
		n = snprintf(ctx->err, ctx->errlen, "%s: ", file);
	if (n >= 0 && (size_t)n < ctx->errlen) {
		va_start(ap, fmt);
		vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/**
 * config_warn() - keep a "file:line: message" warning in the configuration
 * (ktlsd_cfg.warnings); the caller of config_load() logs them. Return: 0 or -ENOMEM.
 */
int __attribute__((format(printf, 3, 4)))
config_warn(struct cfg_ctx *ctx, int line, const char *fmt, ...)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	char msg[512], **w;
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%d: ", ctx->name, line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	w = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*w));
	if (!w)
		return config_nomem(ctx);
	cfg->warnings = w;
	if (!(w[cfg->n_warnings] = strdup(msg)))
		return config_nomem(ctx);
	cfg->n_warnings++;
	return 0;
}

int config_nomem(struct cfg_ctx *ctx)
{
	config_err(ctx, NULL, "out of memory");
	return -ENOMEM;
}

void *config_field(void *obj, const struct cfg_key *key)
{
	return (char *)obj + key->off;
}

int config_dup(struct cfg_ctx *ctx, char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst ? 0 : config_nomem(ctx);
}

int config_get_str(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		   const char **out)
{
	*out = "";
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return config_err(ctx, s, "%s must be a string", key->name);
	*out = config_setting_get_string(s);
	if (!**out)
		return config_err(ctx, s, "%s must not be empty", key->name);
	return 0;
}

/*
 * The length of an array or list of strings (@elem CONFIG_TYPE_STRING), or of a list of groups
 * (CONFIG_TYPE_GROUP); -EINVAL naming the expected type if @s is anything else.
 */
int config_count(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		 int elem)
{
	int i, n = config_setting_length(s), type = config_setting_type(s);
	bool ok = type == CONFIG_TYPE_LIST ||
		  (type == CONFIG_TYPE_ARRAY && elem == CONFIG_TYPE_STRING);

	for (i = 0; ok && i < n; i++)
		ok = config_setting_type(config_setting_get_elem(s, (unsigned int)i)) == elem;
	if (!ok)
		return config_err(ctx, s, "%s must be %s", key->name,
				  elem == CONFIG_TYPE_GROUP ? "a list of groups: ( { ... }, ... )"
							    : "an array of strings");
	return n;
}

/* Copies an array of strings into *v and *n. */
int config_dup_strings(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		       char ***v, size_t *n)
{
	int i, len = config_count(ctx, s, key, CONFIG_TYPE_STRING);

	if (len <= 0)
		return len;
	*v = calloc((size_t)len, sizeof(**v));
	if (!*v)
		return config_nomem(ctx);
	*n = (size_t)len;
	for (i = 0; i < len; i++)
		if (config_dup(ctx, &(*v)[i], config_setting_get_string_elem(s, (unsigned int)i)))
			return -ENOMEM;
	return 0;
}

/* A non-empty list of groups: its zeroed elements, their number in *n. NULL and *ret on error. */
void *config_alloc_list(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			size_t size, size_t *n, int *ret)
{
	int len = config_count(ctx, s, key, CONFIG_TYPE_GROUP);
	void *arr;

	if (len <= 0) {
		*ret = len ? len : config_err(ctx, s, "%s must not be empty", key->name);
		return NULL;
	}
	arr = calloc((size_t)len, size);
	*ret = arr ? 0 : config_nomem(ctx);
	*n = arr ? (size_t)len : 0;
	return arr;
}

/*
 * A non-empty list of groups into *arr (elements of @size bytes, zeroed) and *n, each group
 * parsed by @parse_elem with its index. Return: 0 or the first error.
 */
int config_parse_list(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		      size_t size, void **arr, size_t *n,
		      int (*parse_elem)(struct cfg_ctx *ctx, const config_setting_t *g, size_t i))
{
	int ret;

	*arr = config_alloc_list(ctx, s, key, size, n, &ret);
	for (size_t i = 0; !ret && i < *n; i++)
		ret = parse_elem(ctx, config_setting_get_elem(s, (unsigned int)i), i);
	return ret;
}

/* ---- generic handlers: they write the field at key->off ---- */

static int config_set_int(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			  void *obj)
{
	long long v;
	uint32_t u;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return config_err(ctx, s, "%s must be an integer", key->name);
	v = config_setting_get_int64(s);
	if (v < key->min || v > key->max)
		return config_err(ctx, s, "%s must be between %lld and %lld", key->name, key->min,
				  key->max);
	u = (uint32_t)v;
	memcpy(config_field(obj, key), &u, sizeof(u));
	return 0;
}

/* One of key->names; stores key->values[i], or the index i when there are no values. */
static int config_set_enum(struct cfg_ctx *ctx, const config_setting_t *s,
			   const struct cfg_key *key, void *obj)
{
	const char *const *n = key->names;
	char choices[128] = "";
	const char *v, *sep;
	size_t len;
	int i, ret = config_get_str(ctx, s, key, &v);

	for (i = 0; !ret && n[i]; i++) {
		if (!strcmp(v, n[i])) {
			int val = key->values ? key->values[i] : i;

			memcpy(config_field(obj, key), &val, sizeof(val));
			return 0;
		}
		/* Collects '"a", "b" or "c"' for the message. */
		sep = !i ? "" : n[i + 1] ? ", " : " or ";
		len = strlen(choices);
		snprintf(choices + len, sizeof(choices) - len, "%s\"%s\"", sep, n[i]);
	}
	return ret ? ret : config_err(ctx, s, "%s must be %s", key->name, choices);
}

static int config_set_timeout(struct cfg_ctx *ctx, const config_setting_t *s,
			      const struct cfg_key *key, void *obj)
{
	uint32_t *ms = config_field(obj, key);
	double sec;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		sec = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		sec = config_setting_get_float(s);
		break;
	default:
		return config_err(ctx, s, "%s must be a number of seconds", key->name);
	}
	if (!(sec > 0) || sec > CFG_MAX_TIMEOUT_S)
		return config_err(ctx, s, "%s must be more than 0 and at most %d seconds",
				  key->name, CFG_MAX_TIMEOUT_S);
	*ms = (uint32_t)(sec * 1000 + 0.5);
	if (!*ms) /* a positive value must not turn into "no timeout" */
		*ms = 1;
	return 0;
}

static int config_set_bool(struct cfg_ctx *ctx, const config_setting_t *s,
			   const struct cfg_key *key, void *obj)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return config_err(ctx, s, "%s must be true or false", key->name);
	*(bool *)config_field(obj, key) = config_setting_get_bool(s);
	return 0;
}

static int config_set_str(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			  void *obj)
{
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	return ret ? ret : config_dup(ctx, config_field(obj, key), v);
}

/* A readable file, relative to the configuration's directory, stored absolute. */
static int config_set_path(struct cfg_ctx *ctx, const config_setting_t *s,
			   const struct cfg_key *key, void *obj)
{
	char **dst = config_field(obj, key);
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (v[0] == '/')
		*dst = strdup(v);
	else if (asprintf(dst, "%s/%s", ctx->dir, v) < 0)
		*dst = NULL;
	if (!*dst)
		return config_nomem(ctx);
	/* Only readable here; loading (and judging) the PEM is the TLS code's job. */
	if (access(*dst, R_OK))
		return config_err(ctx, s, "%s file \"%s\": %s", key->name, *dst, strerror(errno));
	return 0;
}

/* The handler of each generic type; CFG_CUSTOM rows bring their own. */
static cfg_handler *const config_type_handler[] = {
	[CFG_INT] = config_set_int,	    [CFG_ENUM] = config_set_enum,
	[CFG_SECONDS] = config_set_timeout, [CFG_BOOL] = config_set_bool,
	[CFG_STRING] = config_set_str,	    [CFG_PATH] = config_set_path,
};

/* Stores every numeric, enum and boolean default of @t into @obj. */
void config_defaults(const struct cfg_table *t, void *obj)
{
	for (size_t k = 0; k < t->n; k++) {
		const struct cfg_key *key = &t->keys[k];
		uint32_t v = (uint32_t)key->dflt;

		if (key->type == CFG_INT || key->type == CFG_ENUM || key->type == CFG_SECONDS)
			memcpy(config_field(obj, key), &v, sizeof(v));
		else if (key->type == CFG_BOOL)
			*(bool *)config_field(obj, key) = key->dflt != 0;
	}
}

/*
 * Parses group @grp into @obj by its schema @t: unknown settings are refused, each known
 * one goes to its handler, and an absent one takes its default (or is reported missing).
 */
int config_parse_group(struct cfg_ctx *ctx, const config_setting_t *grp, const struct cfg_table *t,
		       void *obj)
{
	const struct cfg_key *key;
	const config_setting_t *m;
	size_t k;
	int i, ret;

	/* Unknown names first, so that a typo is not reported as a missing setting. */
	for (i = 0; (m = config_setting_get_elem(grp, (unsigned int)i)); i++) {
		for (k = 0; k < t->n && strcmp(t->keys[k].name, config_setting_name(m)) != 0; k++)
			continue;
		if (k == t->n)
			return config_err(ctx, m, "unknown setting \"%s\"", config_setting_name(m));
	}
	config_defaults(t, obj);
	/* Table order, not file order: profiles must exist before listeners refer to them. */
	for (k = 0; k < t->n; k++) {
		key = &t->keys[k];
		m = config_setting_get_member(grp, key->name);
		if (m)
			ret = (key->type == CFG_CUSTOM
				       ? key->parse
				       : config_type_handler[key->type])(ctx, m, key, obj);
		else if (key->def)
			ret = config_dup(ctx, config_field(obj, key), key->def);
		else if (key->required)
			ret = config_err(ctx, grp, "missing required setting \"%s\"", key->name);
		else
			ret = 0;
		if (ret)
			return ret;
	}
	return 0;
}

/* Frees an array of @n strings. */
void config_free_strv(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}
