// SPDX-License-Identifier: MIT
/*
 * config_print.c - the effective configuration, in the file's own syntax (`ktlsd -T`):
 * every setting of every group with the value in force, defaults included, from the same
 * schema tables that parse and document it. What it prints parses back to the same
 * configuration. The handoff socket's internal listeners are left out (the handoff
 * settings make them); listeners added at run time are in, marked by a comment.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

/* Where it goes, and the configuration listeners resolve their profile indexes in. */
struct print_ctx {
	FILE *f;
	const struct ktlsd_cfg *root;
};

static void print_group(const struct print_ctx *p, const struct cfg_table *t, const void *obj,
			int depth);

static void print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void print_key(FILE *f, int depth, const char *name)
{
	fprintf(f, "%*s%s = ", depth * 2, "", name);
}

/* name = [ "a", "b" ]; nothing when empty */
static void print_strv(FILE *f, int depth, const char *name, char *const *v, size_t n)
{
	if (!n)
		return;
	print_key(f, depth, name);
	fputs("[ ", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		print_str(f, v[i]);
	}
	fputs(" ];\n", f);
}

static void print_string(FILE *f, int depth, const char *name, const char *v)
{
	if (!v)
		return;
	print_key(f, depth, name);
	print_str(f, v);
	fputs(";\n", f);
}

/* name = [ "default", "other" ]: a listener's profiles, kept as indexes into the root. */
static void print_profile_names(const struct print_ctx *p, int depth, const char *name,
				const struct cfg_listener *l)
{
	print_key(p->f, depth, name);
	fputs("[ ", p->f);
	for (size_t i = 0; i < l->n_profiles; i++) {
		fputs(i ? ", " : "", p->f);
		print_str(p->f, p->root->profiles[l->profiles[i]].name);
	}
	fputs(" ];\n", p->f);
}

/*
 * name = ( { group }, ... ); of the @n elements of @arr (@size bytes each) that @skip (if
 * set) does not leave out, each after a comment @note gives (if any). Nothing when empty.
 */
static void print_list(const struct print_ctx *p, int depth, const char *name,
		       const struct cfg_table *t, const void *arr, size_t size, size_t n,
		       bool (*skip)(const void *elem), const char *(*note)(const void *elem))
{
	size_t total = 0, shown = 0;

	for (size_t i = 0; i < n; i++)
		total += !skip || !skip((const char *)arr + i * size);
	if (!total)
		return;
	fprintf(p->f, "%*s%s = (\n", depth * 2, "", name);
	for (size_t i = 0; i < n; i++) {
		const void *e = (const char *)arr + i * size;
		const char *c = note ? note(e) : NULL;

		if (skip && skip(e))
			continue;
		fprintf(p->f, "%*s{%s%s\n", depth * 2 + 2, "", c ? " # " : "", c ? c : "");
		print_group(p, t, e, depth + 2);
		fprintf(p->f, "%*s}%s\n", depth * 2 + 2, "", ++shown < total ? "," : "");
	}
	fprintf(p->f, "%*s);\n", depth * 2, "");
}

/* ---- the settings with their own parsers (CFG_CUSTOM rows) ---- */

static bool listener_internal(const void *elem)
{
	return ((const struct cfg_listener *)elem)->handoff;
}

static const char *listener_origin(const void *elem)
{
	return ((const struct cfg_listener *)elem)->runtime ? "added through the control API"
							    : NULL;
}

static void show_profiles(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			  int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	print_list(p, depth, key->name, &config_profile_table, cfg->profiles,
		   sizeof(*cfg->profiles), cfg->n_profiles, NULL, NULL);
}

static void show_listeners(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			   int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	print_list(p, depth, key->name, &config_listener_table, cfg->listeners,
		   sizeof(*cfg->listeners), cfg->n_listeners, listener_internal, listener_origin);
}

static void show_upstreams(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			   int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	print_list(p, depth, key->name, &config_upstream_table, cfg->upstreams,
		   sizeof(*cfg->upstreams), cfg->n_upstreams, NULL, NULL);
}

/* control_allow_uids, handoff_allow_uids: the row's field is the struct cfg_access. */
static void show_uids(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
		      int depth)
{
	const struct cfg_access *a = (const void *)((const char *)obj + key->off);

	if (!a->n_uids)
		return;
	print_key(p->f, depth, key->name);
	fputs("[ ", p->f);
	for (size_t i = 0; i < a->n_uids; i++)
		fprintf(p->f, "%s%u", i ? ", " : "", a->uids[i]);
	fputs(" ];\n", p->f);
}

/* The parser moved them into the handoff socket's listener. */
static void show_handoff_profiles(const struct print_ctx *p, const struct cfg_key *key,
				  const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	if (cfg->handoff.socket && cfg->listeners[cfg->handoff_listener].n_profiles)
		print_profile_names(p, depth, key->name, &cfg->listeners[cfg->handoff_listener]);
}

static void show_lprofiles(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			   int depth)
{
	print_profile_names(p, depth, key->name, obj);
}

static void show_certificates(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			      int depth)
{
	const struct cfg_profile *pr = obj;

	fprintf(p->f, "%*s%s = (\n", depth * 2, "", key->name);
	for (size_t i = 0; i < pr->n_certs; i++) {
		fprintf(p->f, "%*s{ cert = ", depth * 2 + 2, "");
		print_str(p->f, pr->certs[i].cert_file);
		fputs("; key = ", p->f);
		print_str(p->f, pr->certs[i].key_file);
		fprintf(p->f, "; }%s\n", i + 1 < pr->n_certs ? "," : "");
	}
	fprintf(p->f, "%*s);\n", depth * 2, "");
}

/* An upstream keeps its ALPN list comma-separated. */
static void show_upstream_alpn(const struct print_ctx *p, const struct cfg_key *key,
			       const void *obj, int depth)
{
	const struct cfg_upstream *u = obj;
	char buf[256], *save = NULL, *tok, *v[16];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", u->alpn ? u->alpn : "");
	for (tok = strtok_r(buf, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		v[n++] = tok;
	print_strv(p->f, depth, key->name, v, n);
}

/* How each CFG_CUSTOM row is shown: a string or string array at a field, or a function. */
enum show_kind { SHOW_NOTHING, SHOW_STRING, SHOW_STRV, SHOW_FN };

struct config_show {
	const struct cfg_table *table;
	const char *name;
	enum show_kind kind;
	size_t off, n_off; /* SHOW_STRING: char *; SHOW_STRV: char ** and its size_t count */
	void (*fn)(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
		   int depth);
};

/* clang-format off */
#define SHOW_S(t, n, type, m) { &(t), n, SHOW_STRING, offsetof(type, m), 0, NULL }
#define SHOW_V(t, n, type, m, c) { &(t), n, SHOW_STRV, offsetof(type, m), offsetof(type, c), NULL }
#define SHOW_F(t, n, f) { &(t), n, SHOW_FN, 0, 0, f }
/* An alias (listener `profile`) has nothing of its own to show. */
#define SHOW_NONE(t, n) { &(t), n, SHOW_NOTHING, 0, 0, NULL }
/* clang-format on */

static const struct config_show config_shows[] = {
	SHOW_F(config_root_table, "profiles", show_profiles),
	SHOW_F(config_root_table, "listeners", show_listeners),
	SHOW_F(config_root_table, "upstreams", show_upstreams),
	SHOW_S(config_root_table, "control_socket", struct ktlsd_cfg, control.socket),
	SHOW_S(config_root_table, "control_group", struct ktlsd_cfg, control.group),
	SHOW_F(config_root_table, "control_allow_uids", show_uids),
	SHOW_S(config_root_table, "handoff_socket", struct ktlsd_cfg, handoff.socket),
	SHOW_S(config_root_table, "handoff_group", struct ktlsd_cfg, handoff.group),
	SHOW_F(config_root_table, "handoff_allow_uids", show_uids),
	SHOW_F(config_root_table, "handoff_profiles", show_handoff_profiles),
	SHOW_S(config_root_table, "metrics_listen", struct ktlsd_cfg, metrics_listen),
	SHOW_S(config_root_table, "user", struct ktlsd_cfg, run_user),
	SHOW_S(config_root_table, "group", struct ktlsd_cfg, run_group),
	SHOW_V(config_profile_table, "server_names", struct cfg_profile, server_names,
	       n_server_names),
	SHOW_F(config_profile_table, "certificates", show_certificates),
	SHOW_V(config_profile_table, "ticket_key_files", struct cfg_profile, ticket_key_files,
	       n_ticket_key_files),
	SHOW_S(config_listener_table, "listen", struct cfg_listener, listen_str),
	SHOW_S(config_listener_table, "backend", struct cfg_listener, backend.str),
	SHOW_F(config_listener_table, "profiles", show_lprofiles),
	SHOW_NONE(config_listener_table, "profile"),
	SHOW_V(config_listener_table, "alpn", struct cfg_listener, alpn, n_alpn),
	SHOW_S(config_upstream_table, "address", struct cfg_upstream, address),
	/* `sni`, else the address's host: the name in force either way */
	SHOW_S(config_upstream_table, "sni", struct cfg_upstream, host),
	SHOW_F(config_upstream_table, "alpn", show_upstream_alpn),
};

static void print_custom(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			 int depth)
{
	const char *base = obj;

	for (size_t i = 0; i < ARRAY_SIZE(config_shows); i++) {
		const struct config_show *s = &config_shows[i];

		if (key < s->table->keys || key >= s->table->keys + s->table->n ||
		    strcmp(s->name, key->name) != 0)
			continue;
		switch (s->kind) {
		case SHOW_STRING:
			print_string(p->f, depth, key->name, *(char *const *)(base + s->off));
			break;
		case SHOW_STRV:
			print_strv(p->f, depth, key->name, *(char **const *)(base + s->off),
				   *(const size_t *)(base + s->n_off));
			break;
		case SHOW_FN:
			s->fn(p, key, obj, depth);
			break;
		case SHOW_NOTHING:
			break;
		}
		return;
	}
	fprintf(p->f, "%*s# %s: not shown\n", depth * 2, "", key->name);
}

/* One setting of a generic type, from its field. */
static void print_value(const struct print_ctx *p, const struct cfg_key *key, const void *obj,
			int depth)
{
	const char *field = (const char *)obj + key->off;
	uint32_t u;
	int e;

	switch (key->type) {
	case CFG_INT:
		memcpy(&u, field, sizeof(u));
		print_key(p->f, depth, key->name);
		fprintf(p->f, "%u;\n", u);
		break;
	case CFG_SECONDS:
		memcpy(&u, field, sizeof(u));
		print_key(p->f, depth, key->name);
		if (u % 1000)
			fprintf(p->f, "%u.%03u;\n", u / 1000, u % 1000);
		else
			fprintf(p->f, "%u;\n", u / 1000);
		break;
	case CFG_BOOL:
		print_key(p->f, depth, key->name);
		fprintf(p->f, "%s;\n", *(const bool *)field ? "true" : "false");
		break;
	case CFG_ENUM:
		memcpy(&e, field, sizeof(e));
		for (int i = 0; key->names[i]; i++) {
			if ((key->values ? key->values[i] : i) == e) {
				print_string(p->f, depth, key->name, key->names[i]);
				break;
			}
		}
		break;
	case CFG_STRING:
	case CFG_PATH:
		print_string(p->f, depth, key->name, *(char *const *)field);
		break;
	case CFG_CUSTOM:
		print_custom(p, key, obj, depth);
		break;
	}
}

static void print_group(const struct print_ctx *p, const struct cfg_table *t, const void *obj,
			int depth)
{
	for (size_t i = 0; i < t->n; i++)
		print_value(p, &t->keys[i], obj, depth);
}

/**
 * config_print() - write @cfg as a configuration file to @f: every setting, defaults
 * included, in the schema's order. Return: 0, or -EIO if writing failed.
 */
int config_print(const struct ktlsd_cfg *cfg, FILE *f)
{
	const struct print_ctx p = { .f = f, .root = cfg };

	fprintf(f,
		"# The effective configuration of %s (ktlsd -T): every setting, defaults "
		"included.\n",
		cfg->path);
	print_group(&p, &config_root_table, cfg, 0);
	return ferror(f) ? -EIO : 0;
}
