/* SPDX-License-Identifier: MIT */
/*
 * config_int.h - what the configuration parser's files share (config/ only): the parsing
 * context, the tables of known settings and their generic handlers.
 *
 * Each kind of group (the root, a profile, a certificate, a listener, an upstream) is
 * described by a table of known settings (struct cfg_key). The same table rejects unknown
 * (misspelt) settings, reports missing required ones, applies string defaults and
 * dispatches to a typed handler. Handlers write straight into the struct being built,
 * which is always reachable from the root, so a single config_free() undoes a half-built
 * configuration. Errors are "file:line: what is wrong" in the caller's buffer; nothing
 * here prints or exits.
 */
#ifndef KTLSD_CONFIG_INT_H
#define KTLSD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

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
_Static_assert(sizeof(((struct cfg_access *)0)->mode) == 4, "mode");
_Static_assert(sizeof(((struct cfg_profile *)0)->ticket_keys_kept) == 4, "ticket_keys_kept");

struct cfg_ctx {
	const char *name; /* file name for messages */
	const char *dir;  /* absolute directory that relative paths resolve against */
	char *err;
	size_t errlen;
	struct ktlsd_cfg *cfg;
};

struct cfg_key;
typedef int cfg_handler(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			void *obj);

/*
 * What a setting holds. It picks the generic handler that parses it, how its default is
 * stored when it is absent, and how README and ktlsd.conf(5) show its type and default.
 */
enum cfg_type {
	CFG_CUSTOM,  /* its own .parse; .type_doc says what it takes */
	CFG_INT,     /* an integer in [min, max], stored in 32 bits */
	CFG_ENUM,    /* one of .names; stores .values[i] (or i) in 32 bits */
	CFG_SECONDS, /* a timeout: seconds in the file, 32-bit milliseconds in the struct */
	CFG_BOOL,    /* true or false, stored as bool */
	CFG_STRING,  /* a non-empty string, strdup()ed */
	CFG_PATH,    /* a readable file, stored absolute */
};

/*
 * One row of a group's schema: the parser, the defaults and the documentation all come
 * from it (config_parse.c, config_doc.c), so what ktlsd accepts and what its reference
 * says cannot drift apart.
 */
struct cfg_key {
	const char *name;
	enum cfg_type type;
	cfg_handler *parse;	  /* CFG_CUSTOM only */
	size_t off;		  /* target field in obj, for the generic handlers and defaults */
	long long min, max;	  /* CFG_INT's range */
	const char *const *names; /* CFG_ENUM's choices, NULL-terminated */
	const int *values;	  /* CFG_ENUM: the value stored for names[i]; NULL: i */
	long long dflt;		  /* INT, ENUM, BOOL, SECONDS (in ms): stored when absent */
	const char *def;	  /* STRING, or a CUSTOM char * at .off: copied when absent */
	bool required;
	const char *type_doc; /* the type as documented; CFG_CUSTOM must say, others derive it */
	const char *def_doc;  /* the default as documented, when it is not a plain value */
	const char *doc;      /* its meaning: one paragraph of Markdown (`code`, **bold**, links) */
};

/* clang-format off */
#define KEY(n, t, ...) { .name = n, .type = CFG_##t, __VA_ARGS__ }
/* clang-format on */

/* A group's schema. */
struct cfg_table {
	const struct cfg_key *keys;
	size_t n;
};

/* The schemas (config_root.c, config_profile.c, config_listener.c). */
extern const struct cfg_table config_root_table, config_upstream_table, config_profile_table,
	config_cert_table, config_listener_table;

void *config_alloc_list(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			size_t size, size_t *n, int *ret);
int config_count(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		 int elem);
int config_dup(struct cfg_ctx *ctx, char **dst, const char *s);
int config_dup_strings(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		       char ***v, size_t *n);
int __attribute__((format(printf, 3, 4)))
config_err(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...);
void *config_field(void *obj, const struct cfg_key *key);
int config_get_str(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		   const char **out);
int __attribute__((format(printf, 3, 4)))
config_warn(struct cfg_ctx *ctx, int line, const char *fmt, ...);
int config_nomem(struct cfg_ctx *ctx);
int config_parse_list(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		      size_t size, void **arr, size_t *n,
		      int (*parse_elem)(struct cfg_ctx *ctx, const config_setting_t *g, size_t i));
int config_parse_group(struct cfg_ctx *ctx, const config_setting_t *grp, const struct cfg_table *t,
		       void *obj);
void config_defaults(const struct cfg_table *t, void *obj);
int config_set_profiles(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			void *obj);
void config_listener_defaults(struct cfg_listener *l);
int config_parse_listener(struct cfg_ctx *ctx, const config_setting_t *g, size_t i);
int config_set_listeners(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			 void *obj);
int config_set_lprofiles(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			 void *obj);
int config_add_handoff_listener(struct cfg_ctx *ctx, const char *name, size_t *index);
void config_free_access(struct cfg_access *a);
void config_free_strv(char **v, size_t n);

#endif
