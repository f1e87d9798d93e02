// SPDX-License-Identifier: MIT
/*
 * config.c - a libconfig file into a struct ktlsd_cfg.
 *
 * Each kind of group (the root, a profile, a certificate, a listener) is described by a table
 * of known settings. The same table rejects unknown (misspelt) settings, reports missing
 * required ones, applies string defaults and dispatches to a typed handler. Handlers write
 * straight into the struct being built, which is always reachable from the root, so a single
 * config_free() undoes a half-built configuration.
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

#include "config.h"

#define ARRAY_SIZE(a)	  (sizeof(a) / sizeof((a)[0]))
#define CFG_MAX_WORKERS	  256
#define CFG_MAX_TIMEOUT_S 86400 /* one day */
#define CFG_MAX_ALPN_WIRE 65535 /* the ALPN extension has a 16-bit length */

/* config_set_int() and config_set_enum() store 32 bits into each of these. */
_Static_assert(sizeof(((struct ktlsd_cfg *)0)->workers) == 4, "workers");
_Static_assert(sizeof(((struct ktlsd_cfg *)0)->log_level) == 4, "log_level");
_Static_assert(sizeof(((struct cfg_profile *)0)->min_version) == 4, "min_version");
_Static_assert(sizeof(((struct cfg_listener *)0)->buffer_size) == 4, "buffer_size");
_Static_assert(sizeof(((struct cfg_listener *)0)->backlog) == 4, "backlog");
_Static_assert(sizeof(((struct cfg_profile *)0)->tickets) == 4, "tickets");
_Static_assert(sizeof(((struct cfg_profile *)0)->ticket_keys_kept) == 4, "ticket_keys_kept");

struct cfg_ctx {
	const char *name; /* file name for messages */
	const char *dir;  /* absolute directory that relative paths resolve against */
	char *err;
	size_t errlen;
	struct ktlsd_cfg *cfg;
};

static void config_free_strv(char **v, size_t n);

struct cfg_key;
typedef int cfg_handler(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			void *obj);

struct cfg_key {
	const char *name;
	cfg_handler *parse;
	size_t off;		  /* target field in obj, for the generic handlers */
	long long min, max;	  /* config_set_int() range; min is config_set_enum()'s base */
	const char *const *names; /* config_set_enum() choices, NULL-terminated */
	const char *def;	  /* string default, applied when the setting is absent */
	bool required;
};

/* clang-format off */
#define KEY(n, fn, ...) { .name = n, .parse = fn, __VA_ARGS__ }
/* clang-format on */

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };
static const char *const version_names[] = { "1.2", "1.3", NULL };
static const char *const ticket_names[] = { "stateless", "stateful", "off", NULL };

static int __attribute__((format(printf, 3, 4)))
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

static int config_nomem(struct cfg_ctx *ctx)
{
	config_err(ctx, NULL, "out of memory");
	return -ENOMEM;
}

static void *config_field(void *obj, const struct cfg_key *key)
{
	return (char *)obj + key->off;
}

static int config_dup(struct cfg_ctx *ctx, char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst ? 0 : config_nomem(ctx);
}

static int config_get_str(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
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
static int config_count(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
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
static int config_dup_strings(struct cfg_ctx *ctx, const config_setting_t *s,
			      const struct cfg_key *key, char ***v, size_t *n)
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
static void *config_alloc_list(struct cfg_ctx *ctx, const config_setting_t *s,
			       const struct cfg_key *key, size_t size, size_t *n, int *ret)
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

static int config_parse_group(struct cfg_ctx *ctx, const config_setting_t *grp,
			      const struct cfg_key *keys, size_t n_keys, void *obj)
{
	const config_setting_t *m;
	size_t k;
	int i, ret;

	/* Unknown names first, so that a typo is not reported as a missing setting. */
	for (i = 0; (m = config_setting_get_elem(grp, (unsigned int)i)); i++) {
		for (k = 0; k < n_keys && strcmp(keys[k].name, config_setting_name(m)) != 0; k++)
			continue;
		if (k == n_keys)
			return config_err(ctx, m, "unknown setting \"%s\"", config_setting_name(m));
	}
	/* Table order, not file order: profiles must exist before listeners refer to them. */
	for (k = 0; k < n_keys; k++) {
		m = config_setting_get_member(grp, keys[k].name);
		if (m)
			ret = keys[k].parse(ctx, m, &keys[k], obj);
		else if (keys[k].def)
			ret = config_dup(ctx, config_field(obj, &keys[k]), keys[k].def);
		else if (keys[k].required)
			ret = config_err(ctx, grp, "missing required setting \"%s\"", keys[k].name);
		else
			ret = 0;
		if (ret)
			return ret;
	}
	return 0;
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

/* One of key->names; stores key->min plus its index (log levels, TLS versions). */
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
			int val = (int)key->min + i;

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

/* ---- profiles ---- */

/* An exact DNS name or "*." and one: letters, digits, '-', '_', no empty labels. */
static bool config_valid_sni(const char *n)
{
	size_t len = strlen(n);

	if (!strncmp(n, "*.", 2)) {
		n += 2;
		len -= 2;
	}
	if (!len || len > 253 || n[0] == '.' || n[len - 1] == '.' || strstr(n, ".."))
		return false;
	return strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") ==
	       len;
}

static int config_set_server_names(struct cfg_ctx *ctx, const config_setting_t *s,
				   const struct cfg_key *key, void *obj)
{
	struct cfg_profile *p = obj;
	unsigned int i;
	char *c;
	int ret = config_dup_strings(ctx, s, key, &p->server_names, &p->n_server_names);

	for (i = 0; !ret && i < p->n_server_names; i++) {
		if (!config_valid_sni(p->server_names[i]))
			return config_err(ctx, config_setting_get_elem(s, i),
					  "%s: invalid name \"%s\"", key->name, p->server_names[i]);
		/* SNI is case-insensitive: store lowercase so matching can use strcmp(). */
		for (c = p->server_names[i]; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return ret;
}

/*
 * Ticket key files in nginx's ssl_session_ticket_key format: 80 bytes (name, HMAC key,
 * AES-256 key) or 48 bytes (name, AES-128 key, HMAC key). Only the size is judged here;
 * tickets.c reads the keys, and reads them again when a file changes.
 */
static int config_set_ticket_key_files(struct cfg_ctx *ctx, const config_setting_t *s,
				       const struct cfg_key *key, void *obj)
{
	struct cfg_profile *p = obj;
	int ret = config_dup_strings(ctx, s, key, &p->ticket_key_files, &p->n_ticket_key_files);

	if (ret)
		return ret;
	if (!p->n_ticket_key_files)
		return config_err(ctx, s, "%s must not be empty", key->name);
	if (p->n_ticket_key_files > CFG_MAX_TICKET_KEY_FILES)
		return config_err(ctx, s, "%s: at most %u files", key->name,
				  CFG_MAX_TICKET_KEY_FILES);
	p->ticket_key_files_line = (int)config_setting_source_line(s);
	for (size_t i = 0; i < p->n_ticket_key_files; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		char *v = p->ticket_key_files[i];
		struct stat st;

		if (v[0] != '/') {
			if (asprintf(&p->ticket_key_files[i], "%s/%s", ctx->dir, v) < 0) {
				p->ticket_key_files[i] = v;
				return config_nomem(ctx);
			}
			free(v);
		}
		v = p->ticket_key_files[i];
		if (stat(v, &st) || access(v, R_OK))
			return config_err(ctx, e, "%s: \"%s\": %s", key->name, v, strerror(errno));
		if (!S_ISREG(st.st_mode) || (st.st_size != 48 && st.st_size != 80))
			return config_err(ctx, e,
					  "%s: \"%s\" must be a file of 80 or 48 bytes (nginx's "
					  "ssl_session_ticket_key format), not %lld",
					  key->name, v, (long long)st.st_size);
	}
	return 0;
}

static const struct cfg_key cert_keys[] = {
	KEY("cert", config_set_path, .off = offsetof(struct cfg_cert, cert_file), .required = true),
	KEY("key", config_set_path, .off = offsetof(struct cfg_cert, key_file), .required = true),
};

static int config_set_certs(struct cfg_ctx *ctx, const config_setting_t *s,
			    const struct cfg_key *key, void *obj)
{
	struct cfg_profile *p = obj;
	unsigned int i;
	int ret;

	p->certs = config_alloc_list(ctx, s, key, sizeof(*p->certs), &p->n_certs, &ret);
	for (i = 0; !ret && i < p->n_certs; i++)
		ret = config_parse_group(ctx, config_setting_get_elem(s, i), cert_keys,
					 ARRAY_SIZE(cert_keys), &p->certs[i]);
	return ret;
}

#define P(m) .off = offsetof(struct cfg_profile, m)
static const struct cfg_key profile_keys[] = {
	KEY("name", config_set_str, P(name), .required = true),
	KEY("server_names", config_set_server_names),
	KEY("certificates", config_set_certs, .required = true),
	KEY("min_version", config_set_enum, P(min_version), .names = version_names,
	    .min = TLS1_2_VERSION),
	KEY("max_version", config_set_enum, P(max_version), .names = version_names,
	    .min = TLS1_2_VERSION),
	KEY("ciphers", config_set_str, P(ciphers), .def = CFG_DEF_CIPHERS),
	KEY("ciphersuites", config_set_str, P(ciphersuites), .def = CFG_DEF_CIPHERSUITES),
	KEY("groups", config_set_str, P(groups), .def = CFG_DEF_GROUPS),
	KEY("tickets", config_set_enum, P(tickets), .names = ticket_names),
	KEY("session_lifetime", config_set_int, P(session_lifetime_s), .min = 1,
	    .max = CFG_MAX_SESSION_LIFETIME_S),
	KEY("tls13_tickets", config_set_int, P(tls13_tickets), .max = CFG_MAX_TLS13_TICKETS),
	KEY("psk_ke", config_set_bool, P(psk_ke)),
	KEY("ticket_rotation", config_set_int, P(ticket_rotation_s), .min = 1,
	    .max = CFG_MAX_SESSION_LIFETIME_S),
	KEY("ticket_keys_kept", config_set_int, P(ticket_keys_kept),
	    .max = CFG_MAX_TICKET_KEYS_KEPT),
	KEY("ticket_key_files", config_set_ticket_key_files),
};
#undef P

static int config_parse_profile(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_profile *p = &ctx->cfg->profiles[i];
	const config_setting_t *m;
	size_t j;
	int ret;

	p->line = config_setting_source_line(g);
	p->min_version = TLS1_2_VERSION;
	p->max_version = TLS1_3_VERSION;
	p->tickets = CFG_TICKETS_STATELESS;
	p->session_lifetime_s = CFG_DEF_SESSION_LIFETIME_S;
	p->tls13_tickets = CFG_DEF_TLS13_TICKETS;
	p->ticket_rotation_s = CFG_DEF_TICKET_ROTATION_S;
	p->ticket_keys_kept = CFG_DEF_TICKET_KEYS_KEPT;
	ret = config_parse_group(ctx, g, profile_keys, ARRAY_SIZE(profile_keys), p);
	if (ret)
		return ret;
	if (p->min_version > p->max_version) {
		m = config_setting_get_member(g, "max_version");
		return config_err(ctx, m ? m : g,
				  "profile \"%s\": min_version is above max_version", p->name);
	}
	if (p->tickets == CFG_TICKETS_STATEFUL && !ctx->cfg->session_cache_size) {
		m = config_setting_get_member(g, "tickets");
		return config_err(ctx, m,
				  "profile \"%s\": stateful tickets need the session cache "
				  "(session_cache_size > 0)",
				  p->name);
	}
	if (p->tickets != CFG_TICKETS_STATELESS && p->n_ticket_key_files) {
		m = config_setting_get_member(g, "ticket_key_files");
		return config_err(ctx, m,
				  "profile \"%s\": ticket_key_files need tickets = "
				  "\"stateless\"",
				  p->name);
	}
	for (j = 0; j < i; j++)
		if (!strcmp(ctx->cfg->profiles[j].name, p->name))
			return config_err(ctx, config_setting_get_member(g, "name"),
					  "duplicate profile name \"%s\" (first at line %d)",
					  p->name, ctx->cfg->profiles[j].line);
	return 0;
}

static int config_set_profiles(struct cfg_ctx *ctx, const config_setting_t *s,
			       const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	unsigned int i;
	int ret;

	cfg->profiles =
		config_alloc_list(ctx, s, key, sizeof(*cfg->profiles), &cfg->n_profiles, &ret);
	for (i = 0; !ret && i < cfg->n_profiles; i++)
		ret = config_parse_profile(ctx, config_setting_get_elem(s, i), i);
	return ret;
}

/* ---- listeners ---- */

static const char *config_lname(const struct cfg_listener *l)
{
	return l->name ? l->name : l->listen_str;
}

/* "listen" or "backend": only the backend may be a unix socket. */
static int config_set_addr(struct cfg_ctx *ctx, const config_setting_t *s,
			   const struct cfg_key *key, void *obj)
{
	struct cfg_listener *l = obj;
	bool backend = !strcmp(key->name, "backend");
	struct sockaddr_storage *ss = backend ? &l->backend.addr : &l->addr;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (config_parse_addr(v, backend, ss, backend ? &l->backend.addr_len : &l->addr_len))
		return config_err(ctx, s, "%s: invalid or unresolvable address \"%s\"", key->name,
				  v);
	if (backend)
		l->backend.kind = ss->ss_family == AF_UNIX ? BACKEND_UNIX : BACKEND_TCP;
	return config_dup(ctx, backend ? &l->backend.str : &l->listen_str, v);
}

/* "profiles" (array of names) or "profile" (one name). */
static int config_set_lprofiles(struct cfg_ctx *ctx, const config_setting_t *s,
				const struct cfg_key *key, void *obj)
{
	struct cfg_listener *l = obj;
	const struct ktlsd_cfg *cfg = ctx->cfg;
	bool scalar = !strcmp(key->name, "profile");
	const char *v;
	size_t i, j, k;
	int n;

	if (l->profiles)
		return config_err(ctx, s, "listener \"%s\": set profile or profiles, not both",
				  config_lname(l));
	n = scalar ? (config_get_str(ctx, s, key, &v) ? -EINVAL : 1)
		   : config_count(ctx, s, key, CONFIG_TYPE_STRING);
	if (n <= 0)
		return n ? n : config_err(ctx, s, "%s must not be empty", key->name);
	l->profiles = calloc((size_t)n, sizeof(*l->profiles));
	if (!l->profiles)
		return config_nomem(ctx);
	l->n_profiles = (size_t)n;
	for (i = 0; i < l->n_profiles; i++) {
		const config_setting_t *e =
			scalar ? s : config_setting_get_elem(s, (unsigned int)i);

		v = config_setting_get_string(e);
		for (k = 0; k < cfg->n_profiles && strcmp(cfg->profiles[k].name, v) != 0; k++)
			continue;
		if (k == cfg->n_profiles)
			return config_err(ctx, e, "listener \"%s\": unknown profile \"%s\"",
					  config_lname(l), v);
		for (j = 0; j < i; j++)
			if (l->profiles[j] == k)
				return config_err(ctx, e,
						  "listener \"%s\": profile \"%s\" listed twice",
						  config_lname(l), v);
		l->profiles[i] = k;
	}
	return 0;
}

static int config_set_alpn(struct cfg_ctx *ctx, const config_setting_t *s,
			   const struct cfg_key *key, void *obj)
{
	struct cfg_listener *l = obj;
	unsigned char *w;
	unsigned int i;
	int ret = config_dup_strings(ctx, s, key, &l->alpn, &l->n_alpn);

	if (ret || !l->n_alpn)
		return ret;
	w = l->alpn_wire = malloc(l->n_alpn * 256);
	if (!w)
		return config_nomem(ctx);
	/* Wire format (RFC 7301): each protocol as one length byte followed by its bytes. */
	for (i = 0; i < l->n_alpn; i++) {
		size_t len = strlen(l->alpn[i]);

		if (!len || len > 255)
			return config_err(ctx, config_setting_get_elem(s, i),
					  "%s: each protocol must be 1 to 255 bytes", key->name);
		*w++ = (unsigned char)len;
		memcpy(w, l->alpn[i], len);
		w += len;
	}
	l->alpn_wire_len = (size_t)(w - l->alpn_wire);
	if (l->alpn_wire_len > CFG_MAX_ALPN_WIRE)
		return config_err(ctx, s, "%s: list too long", key->name);
	return 0;
}

#define L(m) .off = offsetof(struct cfg_listener, m)
static const struct cfg_key listener_keys[] = {
	/* listen and name come first: later messages name the listener. */
	KEY("listen", config_set_addr, .required = true),
	KEY("name", config_set_str, L(name)),
	KEY("profiles", config_set_lprofiles),
	KEY("profile", config_set_lprofiles),
	KEY("sni_strict", config_set_bool, L(sni_strict)),
	KEY("alpn", config_set_alpn),
	KEY("backend", config_set_addr, .required = true),
	KEY("proxy_protocol", config_set_bool, L(proxy_protocol)),
	KEY("ktls", config_set_bool, L(ktls)),
	KEY("early_data", config_set_bool, L(early_data)),
	KEY("max_early_data", config_set_int, L(max_early_data), .min = 1,
	    .max = CFG_MAX_BUFFER_SIZE),
	KEY("early_data_forward", config_set_bool, L(early_data_forward)),
	KEY("handshake_timeout", config_set_timeout, L(handshake_timeout_ms)),
	KEY("idle_timeout", config_set_timeout, L(idle_timeout_ms)),
	KEY("connect_timeout", config_set_timeout, L(connect_timeout_ms)),
	KEY("buffer_size", config_set_int, L(buffer_size), .min = CFG_MIN_BUFFER_SIZE,
	    .max = CFG_MAX_BUFFER_SIZE),
	KEY("backlog", config_set_int, L(backlog), .min = 1, .max = 65535),
};
#undef L

/* Early data waits beside the PROXY header in the backend buffer: it must fit there. */
static int config_check_early_data(struct cfg_ctx *ctx, const config_setting_t *g,
				   const struct cfg_listener *l)
{
	const config_setting_t *m = config_setting_get_member(g, "max_early_data");

	if (!l->early_data)
		return 0;
	if (l->max_early_data + CFG_PROXY_HEADER_ROOM > l->buffer_size)
		return config_err(ctx, m ? m : g,
				  "listener \"%s\": max_early_data (%u) must be at most "
				  "buffer_size - %u (%u)",
				  l->name, l->max_early_data, CFG_PROXY_HEADER_ROOM,
				  l->buffer_size - CFG_PROXY_HEADER_ROOM);
	if (l->early_data_forward && !l->proxy_protocol)
		return config_err(ctx, config_setting_get_member(g, "early_data_forward"),
				  "listener \"%s\": early_data_forward needs proxy_protocol = true "
				  "(the backend learns from it which bytes were early data)",
				  l->name);
	return 0;
}

/* Every listener, the handoff socket's included, starts from these. */
static void config_listener_defaults(struct cfg_listener *l)
{
	*l = (struct cfg_listener){
		.ktls = true,
		.handshake_timeout_ms = CFG_DEF_HANDSHAKE_TIMEOUT_MS,
		.idle_timeout_ms = CFG_DEF_IDLE_TIMEOUT_MS,
		.connect_timeout_ms = CFG_DEF_CONNECT_TIMEOUT_MS,
		.buffer_size = CFG_DEF_BUFFER_SIZE,
		.max_early_data = CFG_DEF_MAX_EARLY_DATA,
		.backlog = CFG_DEF_BACKLOG,
	};
}

static int config_parse_listener(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_listener *l = &ctx->cfg->listeners[i];
	const config_setting_t *m = config_setting_get_member(g, "name");
	size_t j;
	int ret;

	config_listener_defaults(l);
	l->line = config_setting_source_line(g);
	ret = config_parse_group(ctx, g, listener_keys, ARRAY_SIZE(listener_keys), l);
	if (ret)
		return ret;
	if (!l->profiles)
		return config_err(ctx, g, "listener \"%s\": missing required setting \"profiles\"",
				  config_lname(l));
	if (!l->name && config_dup(ctx, &l->name, l->listen_str))
		return -ENOMEM;
	ret = config_check_early_data(ctx, g, l);
	if (ret)
		return ret;
	for (j = 0; j < i; j++) {
		const struct cfg_listener *o = &ctx->cfg->listeners[j];

		if (!strcmp(o->name, l->name)) {
			config_err(ctx, m ? m : g,
				   "duplicate listener name \"%s\" (first at %sline %d)", l->name,
				   o->runtime ? "<control> " : "", o->line);
			return -EEXIST;
		}
		if (o->addr_len == l->addr_len && !memcmp(&o->addr, &l->addr, l->addr_len)) {
			config_err(ctx, config_setting_get_member(g, "listen"),
				   "listener \"%s\": address \"%s\" already used at %sline %d",
				   l->name, l->listen_str, o->runtime ? "<control> " : "", o->line);
			return -EEXIST;
		}
	}
	return 0;
}

static int config_set_listeners(struct cfg_ctx *ctx, const config_setting_t *s,
				const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	unsigned int i;
	int ret;

	cfg->listeners =
		config_alloc_list(ctx, s, key, sizeof(*cfg->listeners), &cfg->n_listeners, &ret);
	for (i = 0; !ret && i < cfg->n_listeners; i++)
		ret = config_parse_listener(ctx, config_setting_get_elem(s, i), i);
	return ret == -EEXIST ? -EINVAL : ret; /* -EEXIST only tells overlays apart */
}

/* ---- Unix sockets for local programs: control and handoff (struct cfg_access) ---- */

static int config_set_access_socket(struct cfg_ctx *ctx, const config_setting_t *s,
				    const struct cfg_key *key, void *obj)
{
	struct cfg_access *a = config_field(obj, key);
	struct sockaddr_un sun;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (v[0] != '/' || strlen(v) >= sizeof(sun.sun_path))
		return config_err(ctx, s,
				  "%s: \"%s\" must be an absolute path shorter than %zu bytes",
				  key->name, v, sizeof(sun.sun_path));
	return config_dup(ctx, &a->socket, v);
}

static int config_set_access_mode(struct cfg_ctx *ctx, const config_setting_t *s,
				  const struct cfg_key *key, void *obj)
{
	struct cfg_access *a = config_field(obj, key);
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (!strcmp(v, "0600"))
		a->mode = 0600;
	else if (!strcmp(v, "0660"))
		a->mode = 0660;
	else
		return config_err(ctx, s, "%s: \"%s\" is not \"0600\" or \"0660\"", key->name, v);
	return 0;
}

static int config_set_access_group(struct cfg_ctx *ctx, const config_setting_t *s,
				   const struct cfg_key *key, void *obj)
{
	struct cfg_access *a = config_field(obj, key);
	const struct group *gr;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	gr = getgrnam(v);
	if (!gr)
		return config_err(ctx, s, "%s: no group \"%s\"", key->name, v);
	a->gid = (int)gr->gr_gid;
	return config_dup(ctx, &a->group, v);
}

/* An array of user names or numeric uids. */
static int config_set_access_uids(struct cfg_ctx *ctx, const config_setting_t *s,
				  const struct cfg_key *key, void *obj)
{
	struct cfg_access *a = config_field(obj, key);
	int n = config_setting_length(s);

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return config_err(ctx, s, "%s must be an array of user names or uids", key->name);
	a->uids = calloc((size_t)n + 1, sizeof(*a->uids));
	if (!a->uids)
		return config_nomem(ctx);
	a->n_uids = (size_t)n;
	for (size_t i = 0; i < a->n_uids; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned int)i);
		const struct passwd *pw;

		if (config_setting_type(e) == CONFIG_TYPE_INT && config_setting_get_int(e) >= 0) {
			a->uids[i] = (uint32_t)config_setting_get_int(e);
		} else if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			pw = getpwnam(config_setting_get_string(e));
			if (!pw)
				return config_err(ctx, e, "%s: no user \"%s\"", key->name,
						  config_setting_get_string(e));
			a->uids[i] = pw->pw_uid;
		} else {
			return config_err(ctx, e, "%s: expected user names or uids", key->name);
		}
	}
	return 0;
}

static void config_free_access(struct cfg_access *a)
{
	free(a->socket);
	free(a->group);
	free(a->uids);
}

/* handoff_profiles: the profiles a handoff request may name (default: all). */
static int config_set_handoff_profiles(struct cfg_ctx *ctx, const config_setting_t *s,
				       const struct cfg_key *key, void *obj)
{
	struct cfg_listener tmp = { .name = (char *)"handoff" };
	struct ktlsd_cfg *cfg = obj;
	int ret = config_set_lprofiles(ctx, s, key, &tmp);

	cfg->handoff_profiles = tmp.profiles;
	cfg->n_handoff_profiles = tmp.n_profiles;
	return ret;
}

/*
 * The handoff socket's connections run through the same machinery as a listener's, with
 * the application in the place of the backend: their settings and counters live in
 * listeners of their own that have no listening address, "handoff" for the server role
 * and "handoff-client" for the client role and the pool. Return: 0 or -ENOMEM.
 */
static int config_add_handoff_listener(struct cfg_ctx *ctx, const char *name, size_t *index)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	struct cfg_listener *arr, *l;

	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (!strcmp(cfg->listeners[i].name, name))
			return config_err(ctx, NULL,
					  "listener name \"%s\" is taken by the handoff socket",
					  name);
	arr = realloc(cfg->listeners, (cfg->n_listeners + 1) * sizeof(*arr));
	if (!arr)
		return config_nomem(ctx);
	cfg->listeners = arr;
	l = &arr[cfg->n_listeners];
	config_listener_defaults(l);
	l->handoff = true;
	l->backend.kind = BACKEND_APP;
	*index = cfg->n_listeners++;
	l->name = strdup(name);
	l->listen_str = strdup(cfg->handoff.socket);
	l->backend.str = strdup("application");
	if (cfg->handoff_profiles && index == &cfg->handoff_listener) {
		l->profiles = cfg->handoff_profiles;
		l->n_profiles = cfg->n_handoff_profiles;
		cfg->handoff_profiles = NULL;
	} else {
		l->profiles = calloc(cfg->n_profiles, sizeof(*l->profiles));
		l->n_profiles = l->profiles ? cfg->n_profiles : 0;
		for (size_t i = 0; i < l->n_profiles; i++)
			l->profiles[i] = i;
	}
	if (!l->name || !l->listen_str || !l->backend.str || !l->profiles)
		return config_nomem(ctx);
	return 0;
}

static bool config_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static int config_set_metrics_listen(struct cfg_ctx *ctx, const config_setting_t *s,
				     const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (config_parse_addr(v, false, &cfg->metrics_addr, &cfg->metrics_addr_len))
		return config_err(ctx, s, "metrics_listen: invalid address \"%s\"", v);
	/* The counters say a lot about the traffic: only local scrapers, or a proxy in front. */
	if (!config_is_loopback(&cfg->metrics_addr))
		return config_err(ctx, s, "metrics_listen: \"%s\" is not a loopback address", v);
	return config_dup(ctx, &cfg->metrics_listen, v);
}

/* ---- upstreams: servers the pool keeps client connections to (pool.c) ---- */

static int config_set_upstream_addr(struct cfg_ctx *ctx, const config_setting_t *s,
				    const struct cfg_key *key, void *obj)
{
	struct cfg_upstream *u = obj;
	const char *v, *end;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (config_parse_addr(v, false, &u->addr, &u->addr_len) < 0)
		return config_err(ctx, s, "%s: invalid address \"%s\" (want host:port)", key->name,
				  v);
	if (config_dup(ctx, &u->address, v))
		return -ENOMEM;
	/* The host part names the server (SNI, verification) unless `sni` says otherwise. */
	if (v[0] == '[') {
		v++;
		end = strchr(v, ']');
	} else {
		end = strrchr(v, ':');
	}
	u->host = strndup(v, end ? (size_t)(end - v) : strlen(v));
	return u->host ? 0 : config_nomem(ctx);
}

static int config_set_upstream_sni(struct cfg_ctx *ctx, const config_setting_t *s,
				   const struct cfg_key *key, void *obj)
{
	struct cfg_upstream *u = obj;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	if (strlen(v) > 253)
		return config_err(ctx, s, "%s: longer than 253 bytes", key->name);
	free(u->host);
	return config_dup(ctx, &u->host, v);
}

/* An array of protocols, kept comma-separated as a handoff request carries them. */
static int config_set_upstream_alpn(struct cfg_ctx *ctx, const config_setting_t *s,
				    const struct cfg_key *key, void *obj)
{
	struct cfg_upstream *u = obj;
	char **v = NULL, joined[128] = "";
	size_t n = 0, len = 0;
	int ret = config_dup_strings(ctx, s, key, &v, &n);

	for (size_t i = 0; !ret && i < n; i++) {
		size_t l = strlen(v[i]);

		if (!l || l > 255 || strchr(v[i], ','))
			ret = config_err(ctx, config_setting_get_elem(s, (unsigned int)i),
					 "%s: each protocol must be 1 to 255 bytes, without commas",
					 key->name);
		else if (len + l + 2 > sizeof(joined))
			ret = config_err(ctx, s, "%s: list too long (at most %zu bytes)", key->name,
					 sizeof(joined) - 1);
		else
			len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s",
						i ? "," : "", v[i]);
	}
	config_free_strv(v, n);
	if (ret)
		return ret;
	free(u->alpn);
	return config_dup(ctx, &u->alpn, joined);
}

#define U(m) .off = offsetof(struct cfg_upstream, m)
static const struct cfg_key upstream_keys[] = {
	KEY("name", config_set_str, U(name), .required = true),
	KEY("address", config_set_upstream_addr, .required = true),
	KEY("sni", config_set_upstream_sni),
	KEY("alpn", config_set_upstream_alpn),
	KEY("pool_size", config_set_int, U(pool_size), .max = CFG_MAX_POOL_SIZE),
	KEY("max_idle", config_set_timeout, U(max_idle_ms)),
	KEY("connect_timeout", config_set_timeout, U(connect_timeout_ms)),
	KEY("verify", config_set_bool, U(verify)),
};
#undef U

static int config_parse_upstream(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_upstream *u = &ctx->cfg->upstreams[i];
	int ret;

	u->line = config_setting_source_line(g);
	u->pool_size = CFG_DEF_POOL_SIZE;
	u->max_idle_ms = CFG_DEF_POOL_MAX_IDLE_MS;
	u->connect_timeout_ms = CFG_DEF_CONNECT_TIMEOUT_MS;
	u->verify = true;
	ret = config_parse_group(ctx, g, upstream_keys, ARRAY_SIZE(upstream_keys), u);
	if (!ret && !u->alpn)
		ret = config_dup(ctx, &u->alpn, "");
	for (size_t j = 0; !ret && j < i; j++)
		if (!strcmp(ctx->cfg->upstreams[j].name, u->name))
			ret = config_err(ctx, config_setting_get_member(g, "name"),
					 "duplicate upstream name \"%s\" (first at line %d)",
					 u->name, ctx->cfg->upstreams[j].line);
	return ret;
}

static int config_set_upstreams(struct cfg_ctx *ctx, const config_setting_t *s,
				const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	unsigned int i;
	int ret;

	cfg->upstreams =
		config_alloc_list(ctx, s, key, sizeof(*cfg->upstreams), &cfg->n_upstreams, &ret);
	for (i = 0; !ret && i < cfg->n_upstreams; i++)
		ret = config_parse_upstream(ctx, config_setting_get_elem(s, i), i);
	if (!ret && !cfg->handoff.socket)
		ret = config_err(ctx, s,
				 "upstreams need handoff_socket: pooled connections are handed "
				 "out there");
	return ret;
}

/* ---- entry points ---- */

#define R(m) .off = offsetof(struct ktlsd_cfg, m)
static const struct cfg_key root_keys[] = {
	KEY("workers", config_set_int, R(workers), .max = CFG_MAX_WORKERS),
	KEY("log_level", config_set_enum, R(log_level), .names = level_names),
	KEY("shutdown_timeout", config_set_timeout, R(shutdown_timeout_ms)),
	/* Before the profiles: they check whether the cache exists. */
	KEY("session_cache_size", config_set_int, R(session_cache_size),
	    .max = CFG_MAX_SESSION_CACHE_SIZE),
	KEY("profiles", config_set_profiles, .required = true),
	KEY("listeners", config_set_listeners, .required = true),
	KEY("control_socket", config_set_access_socket, R(control)),
	KEY("control_mode", config_set_access_mode, R(control)),
	KEY("control_group", config_set_access_group, R(control)),
	KEY("control_allow_uids", config_set_access_uids, R(control)),
	KEY("handoff_socket", config_set_access_socket, R(handoff)),
	KEY("handoff_mode", config_set_access_mode, R(handoff)),
	KEY("handoff_group", config_set_access_group, R(handoff)),
	KEY("handoff_allow_uids", config_set_access_uids, R(handoff)),
	KEY("handoff_profiles", config_set_handoff_profiles),
	KEY("metrics_listen", config_set_metrics_listen),
	KEY("client_ca", config_set_path, R(client_ca)),
	KEY("client_session_cache_size", config_set_int, R(client_cache_size),
	    .max = CFG_MAX_SESSION_CACHE_SIZE),
	KEY("client_ticket_wait", config_set_timeout, R(client_ticket_wait_ms)),
	/* After handoff_socket, which it needs. */
	KEY("upstreams", config_set_upstreams),
};
#undef R

/* ---- entry points ---- */

static void config_free_listener(struct cfg_listener *l)
{
	config_free_strv(l->alpn, l->n_alpn);
	free(l->alpn_wire);
	free(l->profiles);
	free(l->name);
	free(l->listen_str);
	free(l->backend.str);
}

/* Drops listener @i (a name removed at run time). */
static void config_drop_listener(struct ktlsd_cfg *cfg, size_t i)
{
	struct cfg_listener *l = &cfg->listeners[i];

	config_free_listener(l);
	memmove(l, l + 1, (cfg->n_listeners - i - 1) * sizeof(*l));
	cfg->n_listeners--;
}

/* Appends one listener written as a libconfig group; see struct cfg_overlay. */
static int config_add_listener(struct cfg_ctx *ctx, const char *text, bool strict)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	const config_setting_t *list, *g;
	struct cfg_ctx sub = *ctx;
	struct cfg_listener *arr;
	char *wrapped = NULL;
	config_t lc;
	int ret;

	sub.name = "<control>";
	config_init(&lc);
	if (asprintf(&wrapped, "listeners = ( %s\n);\n", text) < 0) {
		wrapped = NULL;
		ret = config_nomem(ctx);
		goto out;
	}
	if (!config_read_string(&lc, wrapped)) {
		snprintf(ctx->err, ctx->errlen, "<control>:%d: %s", config_error_line(&lc),
			 config_error_text(&lc));
		ret = -EINVAL;
		goto out;
	}
	list = config_lookup(&lc, "listeners");
	if (config_setting_length(list) != 1 ||
	    config_setting_type(g = config_setting_get_elem(list, 0)) != CONFIG_TYPE_GROUP) {
		ret = config_err(&sub, NULL, "expected exactly one listener group { ... }");
		goto out;
	}
	arr = realloc(cfg->listeners, (cfg->n_listeners + 1) * sizeof(*arr));
	if (!arr) {
		ret = config_nomem(ctx);
		goto out;
	}
	cfg->listeners = arr;
	ret = config_parse_listener(&sub, g, cfg->n_listeners);
	arr[cfg->n_listeners].runtime = true;
	cfg->n_listeners++; /* counted even half-built, so that config_free() frees it */
	if (ret == -EEXIST && !strict) {
		config_drop_listener(cfg, cfg->n_listeners - 1);
		ret = 0;
	}
out:
	free(wrapped);
	config_destroy(&lc);
	return ret;
}

static int config_apply_overlay(struct cfg_ctx *ctx, const struct cfg_overlay *ov)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	int ret = 0;

	for (size_t r = 0; r < ov->n_remove; r++)
		for (size_t i = 0; i < cfg->n_listeners; i++)
			if (!strcmp(cfg->listeners[i].name, ov->remove[r])) {
				config_drop_listener(cfg, i);
				break;
			}
	for (size_t a = 0; !ret && a < ov->n_add; a++)
		ret = config_add_listener(ctx, ov->add[a], ov->strict);
	return ret;
}

/* Parses @text; relative paths resolve against @dir. */
static int config_parse(const char *name, const char *dir, const char *text,
			const struct cfg_overlay *ov, struct ktlsd_cfg **out, char *err,
			size_t errlen)
{
	struct cfg_ctx ctx = { .name = name, .dir = dir, .err = err, .errlen = errlen };
	struct ktlsd_cfg *cfg = NULL;
	config_t lc;
	long ncpu;
	int ret;

	config_init(&lc);
	config_set_include_dir(&lc, dir);
	if (!config_read_string(&lc, text)) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: %s",
				 config_error_file(&lc) ? config_error_file(&lc) : name,
				 config_error_line(&lc), config_error_text(&lc));
		ret = -EINVAL;
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->path = strdup(name)) || !(cfg->text = strdup(text))) {
		ret = config_nomem(&ctx);
		goto out;
	}
	cfg->log_level = LOG_LVL_INFO;
	cfg->shutdown_timeout_ms = CFG_DEF_SHUTDOWN_TIMEOUT_MS;
	cfg->session_cache_size = CFG_DEF_SESSION_CACHE_SIZE;
	cfg->client_cache_size = CFG_DEF_CLIENT_CACHE_SIZE;
	cfg->client_ticket_wait_ms = CFG_DEF_CLIENT_TICKET_WAIT_MS;
	cfg->control.mode = cfg->handoff.mode = 0600;
	cfg->control.gid = cfg->handoff.gid = -1;
	ctx.cfg = cfg;
	ret = config_parse_group(&ctx, config_root_setting(&lc), root_keys, ARRAY_SIZE(root_keys),
				 cfg);
	if (!ret && ov)
		ret = config_apply_overlay(&ctx, ov);
	if (!ret && !cfg->n_listeners)
		ret = config_err(&ctx, NULL, "no listener left");
	if (ret)
		goto out;
	if (cfg->handoff.socket &&
	    ((ret = config_add_handoff_listener(&ctx, "handoff", &cfg->handoff_listener)) < 0 ||
	     (ret = config_add_handoff_listener(&ctx, "handoff-client",
						&cfg->handoff_client_listener)) < 0))
		goto out;
	if (!cfg->workers) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (ncpu > CFG_MAX_WORKERS)
			ncpu = CFG_MAX_WORKERS;
		cfg->workers = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	config_destroy(&lc);
	return ret;
}

/* The whole file into a NUL-terminated string (caller frees); -errno. */
static int config_slurp(FILE *f, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	size_t n;

	*text = NULL;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -EFBIG;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (!buf)
		return -ENOMEM;
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/**
 * config_load() - parse a configuration file.
 * @path:   file to read
 * @out:    on success the new configuration (caller frees with config_free()); NULL on failure
 * @err:    on failure "path:line: what is wrong" (line omitted when there is none)
 * @errlen: size of @err
 *
 * Relative certificate paths and @include resolve against the directory of @path.
 *
 * Return: 0, or -EINVAL (bad content) / -errno (file could not be read).
 */
int config_load(const char *path, struct ktlsd_cfg **out, char *err, size_t errlen)
{
	return config_load_overlay(path, NULL, NULL, out, err, errlen);
}

int config_load_overlay(const char *path, const char *text, const struct cfg_overlay *ov,
			struct ktlsd_cfg **out, char *err, size_t errlen)
{
	char *copy = NULL, *dir = NULL, *read = NULL;
	struct stat st;
	FILE *f = NULL;
	int ret;

	*out = NULL;
	if (!text) {
		f = fopen(path, "re");
		if (f && !fstat(fileno(f), &st) && S_ISDIR(st.st_mode))
			errno = EISDIR; /* fopen() opens a directory; only reading it fails */
		else if (f && (ret = config_slurp(f, &read)) < 0)
			errno = -ret;
		text = read;
	}
	if (text && (copy = strdup(path)))
		dir = realpath(dirname(copy), NULL);
	if (!dir) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	ret = config_parse(path, dir, text, ov, out, err, errlen);
out:
	if (f)
		fclose(f);
	free(read);
	free(copy);
	free(dir);
	return ret;
}

/**
 * config_load_string() - parse a configuration held in memory.
 * @text:   the configuration text
 * @name:   stands in for the file name in messages
 * @out:    as for config_load()
 * @err:    as for config_load()
 * @errlen: size of @err
 *
 * Relative paths resolve against the current directory. Used by the tests and the fuzz target.
 *
 * Return: 0, -EINVAL (bad content) or -errno.
 */
int config_load_string(const char *text, const char *name, struct ktlsd_cfg **out, char *err,
		       size_t errlen)
{
	char *dir = getcwd(NULL, 0);
	int ret;

	*out = NULL;
	if (!dir) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, strerror(-ret));
		return ret;
	}
	ret = config_parse(name, dir, text, NULL, out, err, errlen);
	free(dir);
	return ret;
}

static void config_free_strv(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

/**
 * config_free() - free a configuration from config_load() or config_load_string().
 * @cfg: the configuration; NULL is allowed
 */
void config_free(struct ktlsd_cfg *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_profiles; i++) {
		struct cfg_profile *p = &cfg->profiles[i];

		for (j = 0; j < p->n_certs; j++) {
			free(p->certs[j].cert_file);
			free(p->certs[j].key_file);
		}
		free(p->certs);
		config_free_strv(p->server_names, p->n_server_names);
		free(p->name);
		free(p->ciphers);
		free(p->ciphersuites);
		free(p->groups);
		config_free_strv(p->ticket_key_files, p->n_ticket_key_files);
	}
	for (i = 0; i < cfg->n_listeners; i++)
		config_free_listener(&cfg->listeners[i]);
	free(cfg->profiles);
	free(cfg->listeners);
	config_free_access(&cfg->control);
	config_free_access(&cfg->handoff);
	free(cfg->handoff_profiles);
	free(cfg->metrics_listen);
	free(cfg->client_ca);
	for (i = 0; i < cfg->n_upstreams; i++) {
		free(cfg->upstreams[i].name);
		free(cfg->upstreams[i].address);
		free(cfg->upstreams[i].host);
		free(cfg->upstreams[i].alpn);
	}
	free(cfg->upstreams);
	free(cfg->text);
	free(cfg->path);
	free(cfg);
}

/**
 * config_parse_addr() - an address string into a sockaddr.
 * @s:          "a.b.c.d:port", "[v6]:port", "hostname:port" or, with @allow_unix, "unix:/path"
 * @allow_unix: whether "unix:" is acceptable
 * @ss:         the address
 * @len:        its length
 *
 * Host names go through getaddrinfo() and the first result wins. Ports are numeric, 1..65535.
 * A unix path must be absolute and fit sun_path.
 *
 * Return: 0 or -EINVAL.
 */
int config_parse_addr(const char *s, bool allow_unix, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *end, *port;
	char host[256];
	size_t hlen;
	int ret = -EINVAL;

	if (!s || !ss || !len)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss)); /* listeners compare addresses with memcmp() */
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t plen = strlen(s + 5);

		if (!allow_unix || s[5] != '/' || plen >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s + 5, plen + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		return 0;
	}
	if (s[0] == '[') {
		s++;
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		port = end + 2;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		end = strrchr(s, ':');
		/* A bare IPv6 address has more than one colon: it needs brackets. */
		if (!end || memchr(s, ':', (size_t)(end - s)))
			return -EINVAL;
		port = end + 1;
	}
	hlen = (size_t)(end - s);
	/* Digits only: getaddrinfo() would take " 80" and service names. */
	if (!hlen || hlen >= sizeof(host) || !*port || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) || !atoi(port) || atoi(port) > 65535)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, port, &hints, &res) || !res)
		goto out;
	if (res->ai_addrlen <= sizeof(*ss)) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		ret = 0;
	}
out:
	if (res)
		freeaddrinfo(res);
	return ret;
}

/**
 * config_log_level_name() - the configuration-file name of a log level.
 * @lvl: the level
 *
 * Return: "error", "warn", "info" or "debug"; "unknown" for anything else.
 */
const char *config_log_level_name(enum log_level lvl)
{
	return (unsigned int)lvl <= LOG_LVL_DEBUG ? level_names[lvl] : "unknown";
}
