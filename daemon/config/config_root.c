// SPDX-License-Identifier: MIT
/*
 * config_root.c - the root group: global settings, the control and handoff sockets
 * (struct cfg_access), the metrics endpoint, upstreams; and the table of all of them.
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

static const char *const level_names[] = { "error", "warn", "info", "debug", NULL };

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

void config_free_access(struct cfg_access *a)
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
int config_add_handoff_listener(struct cfg_ctx *ctx, const char *name, size_t *index)
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
	int ret = config_parse_list(ctx, s, key, sizeof(*cfg->upstreams), (void **)&cfg->upstreams,
				    &cfg->n_upstreams, config_parse_upstream);

	if (!ret && !cfg->handoff.socket)
		ret = config_err(ctx, s,
				 "upstreams need handoff_socket: pooled connections are handed "
				 "out there");
	return ret;
}

/* ---- entry points ---- */

#define R(m) .off = offsetof(struct ktlsd_cfg, m)
const struct cfg_key config_root_keys[] = {
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

const size_t config_n_root_keys = ARRAY_SIZE(config_root_keys);

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
