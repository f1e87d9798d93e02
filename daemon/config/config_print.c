// SPDX-License-Identifier: MIT
/*
 * config_print.c - the effective configuration, in the file's own syntax (`ktlsd -T`):
 * every setting of every group with the value in force, defaults included, from the same
 * schema tables that parse and document it. What it prints parses back to the same
 * configuration. The handoff socket's internal listeners are left out (the handoff
 * settings make them); listeners added at run time are in, marked by a comment.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

static void print_group(FILE *f, const struct cfg_table *t, const void *obj, int depth);

/* The configuration being printed: listeners name their profiles by index into it. */
static const struct ktlsd_cfg *config_print_root;

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
		if (i)
			fputs(", ", f);
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

/* ---- the settings with their own parsers (CFG_CUSTOM rows), by table and name ---- */

static void show_profiles(FILE *f, const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	fprintf(f, "%*sprofiles = (\n", depth * 2, "");
	for (size_t i = 0; i < cfg->n_profiles; i++) {
		fprintf(f, "%*s{\n", depth * 2 + 2, "");
		print_group(f, &config_profile_table, &cfg->profiles[i], depth + 2);
		fprintf(f, "%*s}%s\n", depth * 2 + 2, "", i + 1 < cfg->n_profiles ? "," : "");
	}
	fprintf(f, "%*s);\n", depth * 2, "");
}

static void show_listeners(FILE *f, const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;
	size_t n = config_n_tcp_listeners(cfg), k = 0;

	fprintf(f, "%*slisteners = (\n", depth * 2, "");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct cfg_listener *l = &cfg->listeners[i];

		if (l->handoff)
			continue;
		fprintf(f, "%*s{%s\n", depth * 2 + 2, "",
			l->runtime ? " # added through the control API" : "");
		print_group(f, &config_listener_table, l, depth + 2);
		fprintf(f, "%*s}%s\n", depth * 2 + 2, "", ++k < n ? "," : "");
	}
	fprintf(f, "%*s);\n", depth * 2, "");
}

static void show_upstreams(FILE *f, const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	if (!cfg->n_upstreams)
		return;
	fprintf(f, "%*supstreams = (\n", depth * 2, "");
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		fprintf(f, "%*s{\n", depth * 2 + 2, "");
		print_group(f, &config_upstream_table, &cfg->upstreams[i], depth + 2);
		fprintf(f, "%*s}%s\n", depth * 2 + 2, "", i + 1 < cfg->n_upstreams ? "," : "");
	}
	fprintf(f, "%*s);\n", depth * 2, "");
}

static void show_access(FILE *f, int depth, const char *what, const struct cfg_access *a)
{
	char name[32];

	snprintf(name, sizeof(name), "%s_socket", what);
	print_string(f, depth, name, a->socket);
	snprintf(name, sizeof(name), "%s_group", what);
	print_string(f, depth, name, a->group);
	if (a->n_uids) {
		fprintf(f, "%*s%s_allow_uids = [ ", depth * 2, "", what);
		for (size_t i = 0; i < a->n_uids; i++)
			fprintf(f, "%s%u", i ? ", " : "", a->uids[i]);
		fputs(" ];\n", f);
	}
}

static void show_control(FILE *f, const void *obj, int depth)
{
	show_access(f, depth, "control", &((const struct ktlsd_cfg *)obj)->control);
}

static void show_handoff(FILE *f, const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;
	const struct cfg_listener *l =
		cfg->handoff.socket ? &cfg->listeners[cfg->handoff_listener] : NULL;

	show_access(f, depth, "handoff", &cfg->handoff);
	if (!l || !l->n_profiles)
		return;
	fprintf(f, "%*shandoff_profiles = [ ", depth * 2, "");
	for (size_t i = 0; i < l->n_profiles; i++) {
		fputs(i ? ", " : "", f);
		print_str(f, cfg->profiles[l->profiles[i]].name);
	}
	fputs(" ];\n", f);
}

static void show_metrics(FILE *f, const void *obj, int depth)
{
	print_string(f, depth, "metrics_listen", ((const struct ktlsd_cfg *)obj)->metrics_listen);
}

static void show_user(FILE *f, const void *obj, int depth)
{
	const struct ktlsd_cfg *cfg = obj;

	print_string(f, depth, "user", cfg->run_user);
	print_string(f, depth, "group", cfg->run_group);
}

static void show_server_names(FILE *f, const void *obj, int depth)
{
	const struct cfg_profile *p = obj;

	print_strv(f, depth, "server_names", p->server_names, p->n_server_names);
}

static void show_certificates(FILE *f, const void *obj, int depth)
{
	const struct cfg_profile *p = obj;

	fprintf(f, "%*scertificates = (\n", depth * 2, "");
	for (size_t i = 0; i < p->n_certs; i++) {
		fprintf(f, "%*s{ cert = ", depth * 2 + 2, "");
		print_str(f, p->certs[i].cert_file);
		fputs("; key = ", f);
		print_str(f, p->certs[i].key_file);
		fprintf(f, "; }%s\n", i + 1 < p->n_certs ? "," : "");
	}
	fprintf(f, "%*s);\n", depth * 2, "");
}

static void show_ticket_key_files(FILE *f, const void *obj, int depth)
{
	const struct cfg_profile *p = obj;

	print_strv(f, depth, "ticket_key_files", p->ticket_key_files, p->n_ticket_key_files);
}

static void show_listen(FILE *f, const void *obj, int depth)
{
	print_string(f, depth, "listen", ((const struct cfg_listener *)obj)->listen_str);
}

static void show_backend(FILE *f, const void *obj, int depth)
{
	print_string(f, depth, "backend", ((const struct cfg_listener *)obj)->backend.str);
}

static void show_lprofiles(FILE *f, const void *obj, int depth)
{
	const struct cfg_listener *l = obj;

	fprintf(f, "%*sprofiles = [ ", depth * 2, "");
	for (size_t i = 0; i < l->n_profiles; i++) {
		fputs(i ? ", " : "", f);
		print_str(f, config_print_root->profiles[l->profiles[i]].name);
	}
	fputs(" ];\n", f);
}

static void show_alpn(FILE *f, const void *obj, int depth)
{
	const struct cfg_listener *l = obj;

	print_strv(f, depth, "alpn", l->alpn, l->n_alpn);
}

static void show_upstream_address(FILE *f, const void *obj, int depth)
{
	const struct cfg_upstream *u = obj;

	print_string(f, depth, "address", u->address);
	print_string(f, depth, "sni", u->host);
}

static void show_upstream_alpn(FILE *f, const void *obj, int depth)
{
	const struct cfg_upstream *u = obj;
	char buf[256], *save = NULL, *tok;
	char *v[16];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", u->alpn ? u->alpn : "");
	for (tok = strtok_r(buf, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		v[n++] = tok;
	print_strv(f, depth, "alpn", v, n);
}

/* Prints nothing: the setting is shown with another (an alias, or a pair). */
static void show_nothing(FILE *f, const void *obj, int depth)
{
	(void)f;
	(void)obj;
	(void)depth;
}

static const struct {
	const struct cfg_table *table;
	const char *name;
	void (*show)(FILE *f, const void *obj, int depth);
} config_shows[] = {
	{ &config_root_table, "profiles", show_profiles },
	{ &config_root_table, "listeners", show_listeners },
	{ &config_root_table, "upstreams", show_upstreams },
	{ &config_root_table, "control_socket", show_control },
	{ &config_root_table, "control_group", show_nothing },
	{ &config_root_table, "control_allow_uids", show_nothing },
	{ &config_root_table, "handoff_socket", show_handoff },
	{ &config_root_table, "handoff_group", show_nothing },
	{ &config_root_table, "handoff_allow_uids", show_nothing },
	{ &config_root_table, "handoff_profiles", show_nothing },
	{ &config_root_table, "metrics_listen", show_metrics },
	{ &config_root_table, "user", show_user },
	{ &config_root_table, "group", show_nothing },
	{ &config_profile_table, "server_names", show_server_names },
	{ &config_profile_table, "certificates", show_certificates },
	{ &config_profile_table, "ticket_key_files", show_ticket_key_files },
	{ &config_listener_table, "listen", show_listen },
	{ &config_listener_table, "backend", show_backend },
	{ &config_listener_table, "profiles", show_lprofiles },
	{ &config_listener_table, "profile", show_nothing },
	{ &config_listener_table, "alpn", show_alpn },
	{ &config_upstream_table, "address", show_upstream_address },
	{ &config_upstream_table, "sni", show_nothing },
	{ &config_upstream_table, "alpn", show_upstream_alpn },
};

/* One setting of a generic type, from its field. */
static void print_value(FILE *f, const struct cfg_key *key, const void *obj, int depth)
{
	const char *field = (const char *)obj + key->off;
	uint32_t u;
	int e;

	switch (key->type) {
	case CFG_INT:
		memcpy(&u, field, sizeof(u));
		print_key(f, depth, key->name);
		fprintf(f, "%u;\n", u);
		break;
	case CFG_SECONDS:
		memcpy(&u, field, sizeof(u));
		print_key(f, depth, key->name);
		if (u % 1000)
			fprintf(f, "%u.%03u;\n", u / 1000, u % 1000);
		else
			fprintf(f, "%u;\n", u / 1000);
		break;
	case CFG_BOOL:
		print_key(f, depth, key->name);
		fprintf(f, "%s;\n", *(const bool *)field ? "true" : "false");
		break;
	case CFG_ENUM:
		memcpy(&e, field, sizeof(e));
		for (int i = 0; key->names[i]; i++) {
			if ((key->values ? key->values[i] : i) == e) {
				print_string(f, depth, key->name, key->names[i]);
				break;
			}
		}
		break;
	case CFG_STRING:
	case CFG_PATH:
		print_string(f, depth, key->name, *(char *const *)field);
		break;
	case CFG_CUSTOM:
		for (size_t i = 0; i < ARRAY_SIZE(config_shows); i++)
			if (config_shows[i].table->keys <= key &&
			    key < config_shows[i].table->keys + config_shows[i].table->n &&
			    !strcmp(config_shows[i].name, key->name)) {
				config_shows[i].show(f, obj, depth);
				return;
			}
		fprintf(f, "%*s# %s: not shown\n", depth * 2, "", key->name);
		break;
	}
}

static void print_group(FILE *f, const struct cfg_table *t, const void *obj, int depth)
{
	for (size_t i = 0; i < t->n; i++)
		print_value(f, &t->keys[i], obj, depth);
}

/**
 * config_print() - write @cfg as a configuration file to @f: every setting, defaults
 * included, in the schema's order. Return: 0, or -EIO if writing failed.
 */
int config_print(const struct ktlsd_cfg *cfg, FILE *f)
{
	config_print_root = cfg;
	fprintf(f,
		"# The effective configuration of %s (ktlsd -T): every setting, defaults "
		"included.\n",
		cfg->path);
	print_group(f, &config_root_table, cfg, 0);
	config_print_root = NULL;
	return ferror(f) ? -EIO : 0;
}
