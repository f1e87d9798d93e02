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

/* The root group's settings (config_root.c). */
extern const struct cfg_key config_root_keys[];
extern const size_t config_n_root_keys;

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
int config_nomem(struct cfg_ctx *ctx);
int config_parse_list(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		      size_t size, void **arr, size_t *n,
		      int (*parse_elem)(struct cfg_ctx *ctx, const config_setting_t *g, size_t i));
int config_parse_group(struct cfg_ctx *ctx, const config_setting_t *grp, const struct cfg_key *keys,
		       size_t n_keys, void *obj);
int config_set_bool(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		    void *obj);
int config_set_enum(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		    void *obj);
int config_set_int(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		   void *obj);
int config_set_path(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		    void *obj);
int config_set_str(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		   void *obj);
int config_set_timeout(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
		       void *obj);
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
