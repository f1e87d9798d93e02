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
static const char *const log_target_names[] = { "stderr", "syslog", NULL };

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

/* A group name: its copy in *@name and its id in *@gid. */
static int config_get_group(struct cfg_ctx *ctx, const config_setting_t *s,
			    const struct cfg_key *key, char **name, uint32_t *gid)
{
	const struct group *gr;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	gr = getgrnam(v);
	if (!gr)
		return config_err(ctx, s, "%s: no group \"%s\"", key->name, v);
	*gid = (uint32_t)gr->gr_gid;
	return config_dup(ctx, name, v);
}

static int config_set_access_group(struct cfg_ctx *ctx, const config_setting_t *s,
				   const struct cfg_key *key, void *obj)
{
	struct cfg_access *a = config_field(obj, key);

	return config_get_group(ctx, s, key, &a->group, &a->gid);
}

/* `user`: the account ktlsd drops to (main.c, privdrop.c); its primary group unless `group`. */
static int config_set_run_user(struct cfg_ctx *ctx, const config_setting_t *s,
			       const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	const struct passwd *pw;
	const char *v;
	int ret = config_get_str(ctx, s, key, &v);

	if (ret)
		return ret;
	pw = getpwnam(v);
	if (!pw)
		return config_err(ctx, s, "user: no user \"%s\" (useradd --system %s)", v, v);
	cfg->run_uid = (uint32_t)pw->pw_uid;
	if (!cfg->run_group)
		cfg->run_gid = (uint32_t)pw->pw_gid;
	return config_dup(ctx, &cfg->run_user, v);
}

static int config_set_run_group(struct cfg_ctx *ctx, const config_setting_t *s,
				const struct cfg_key *key, void *obj)
{
	struct ktlsd_cfg *cfg = obj;

	return config_get_group(ctx, s, key, &cfg->run_group, &cfg->run_gid);
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

static const int access_modes[] = { 0600, 0660 };
static const char *const access_mode_names[] = { "0600", "0660", NULL };

#define U(m) .off = offsetof(struct cfg_upstream, m)
static const struct cfg_key upstream_keys[] = {
	KEY("name", STRING, U(name), .required = true,
	    .doc = "What a pool request (`ktls_pool_get()`) names. Unique among upstreams."),
	KEY("address", CUSTOM, .parse = config_set_upstream_addr, .required = true,
	    .type_doc = "`\"host:port\"`, `\"[v6]:port\"`",
	    .doc = "The server; a host name is resolved when the configuration loads."),
	KEY("sni", CUSTOM, .parse = config_set_upstream_sni, .type_doc = "string",
	    .def_doc = "the address's host part",
	    .doc = "SNI sent, and the name the server's certificate must match."),
	KEY("alpn", CUSTOM, .parse = config_set_upstream_alpn, U(alpn), .def = "",
	    .type_doc = "array of strings", .def_doc = "none",
	    .doc = "ALPN protocols offered, in preference order."),
	KEY("pool_size", INT, U(pool_size), .max = CFG_MAX_POOL_SIZE, .dflt = CFG_DEF_POOL_SIZE,
	    .doc = "Connections kept ready (handshake done, kTLS installed). `0`: every request "
		   "connects on demand."),
	KEY("max_idle", SECONDS, U(max_idle_ms), .dflt = CFG_DEF_POOL_MAX_IDLE_MS,
	    .doc = "An idle connection older than this is closed and replaced."),
	KEY("connect_timeout", SECONDS, U(connect_timeout_ms), .dflt = CFG_DEF_CONNECT_TIMEOUT_MS,
	    .doc = "Per connect. Failed refills back off from 0.25 s up to 30 s."),
	KEY("verify", BOOL, U(verify), .dflt = true,
	    .doc = "`false` keeps connections whose certificate did not verify (the result says "
		   "`verify_result`)."),
};
#undef U

const struct cfg_table config_upstream_table = { upstream_keys, ARRAY_SIZE(upstream_keys) };

static int config_parse_upstream(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_upstream *u = &ctx->cfg->upstreams[i];
	int ret;

	u->line = config_setting_source_line(g);
	ret = config_parse_group(ctx, g, &config_upstream_table, u);
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
static const struct cfg_key root_keys[] = {
	KEY("workers", INT, R(workers), .max = CFG_MAX_WORKERS,
	    .doc = "Worker threads. `0` means one per online CPU (capped at 256)."),
	KEY("user", CUSTOM, .parse = config_set_run_user, .type_doc = "user name",
	    .def_doc = "none",
	    .doc = "Started as root, ktlsd runs as this user once its listeners are bound and "
		   "its configuration, certificates and keys are loaded, keeping only "
		   "`CAP_NET_BIND_SERVICE` (and `CAP_NET_ADMIN` with a `mark`, `CAP_CHOWN` with a "
		   "socket group). A reload then reads files as this user: make certificates, "
		   "keys and ticket key files readable by its group. Read at start only."),
	KEY("group", CUSTOM, .parse = config_set_run_group, .type_doc = "group name",
	    .def_doc = "the user's primary group", .doc = "The group ktlsd runs as with `user`."),
	KEY("seccomp", BOOL, R(seccomp), .dflt = false,
	    .doc = "Each worker thread loads a system-call allow-list (libseccomp): what it does "
		   "not use, such as exec, fork or ptrace, is refused with `EPERM` (and logged by "
		   "the kernel's audit), not fatal. io_uring's operations are not system calls "
		   "and pass. Read at start only."),
	KEY("max_connections", INT, R(max_connections), .max = CFG_MAX_CONNECTIONS,
	    .doc = "Open connections at most, all listeners and the handoff socket together; "
		   "`0`: no limit but the open-file limit. At the limit the listeners stop "
		   "accepting (new clients wait in the kernel's backlog) until connections end; "
		   "counted as `accept_paused`."),
	KEY("log_level", ENUM, R(log_level), .names = level_names, .dflt = LOG_LVL_INFO,
	    .doc = "The least severe messages logged. `-v` forces `\"debug\"`."),
	KEY("log_target", ENUM, R(log_target), .names = log_target_names, .dflt = LOG_TO_STDERR,
	    .doc = "Where log lines go: `\"stderr\"` (the journal, under systemd), or "
		   "`\"syslog\"` (facility daemon, with each line's priority). Read at start only."),
	KEY("access_log", BOOL, R(access_log), .dflt = true,
	    .doc = "One `info` line per connection at its end: peer, listener, SNI, ALPN, TLS "
		   "version, cipher, resumed, path (`ktls`, `userspace`, `handshake`), duration, "
		   "bytes each way and why it ended."),
	KEY("shutdown_timeout", SECONDS, R(shutdown_timeout_ms),
	    .dflt = CFG_DEF_SHUTDOWN_TIMEOUT_MS,
	    .doc = "How long SIGTERM/SIGINT wait for open connections to finish."),
	/* Before the profiles: they check whether the cache exists. */
	KEY("session_cache_size", INT, R(session_cache_size), .max = CFG_MAX_SESSION_CACHE_SIZE,
	    .dflt = CFG_DEF_SESSION_CACHE_SIZE,
	    .doc = "Sessions held in the server-side session cache shared by all workers and "
		   "profiles (TLS 1.2 session IDs; TLS 1.3 stateful tickets). `0`: no cache. The "
		   "least recently used session goes when it is full. A reload may change the "
		   "size. See [Session resumption](#session-resumption)."),
	KEY("profiles", CUSTOM, .parse = config_set_profiles, .required = true,
	    .type_doc = "list of groups", .doc = "TLS profiles, at least one (below)."),
	KEY("listeners", CUSTOM, .parse = config_set_listeners, .required = true,
	    .type_doc = "list of groups", .doc = "Listening sockets, at least one (below)."),
	KEY("control_socket", CUSTOM, .parse = config_set_access_socket, R(control),
	    .type_doc = "absolute path", .def_doc = "none",
	    .doc = "The [control API](#control-api)'s Unix socket (its directory is created). "
		   "Absent: no control socket. `etc/ktlsd.conf` sets `\"/run/ktlsd/control.sock\"`, "
		   "where `ktlsctl` looks first. A stale socket file is replaced; one a running "
		   "process still answers is not (ktlsd refuses to start). Read at start only."),
	KEY("control_mode", ENUM, R(control.mode), .names = access_mode_names,
	    .values = access_modes, .dflt = 0600,
	    .doc = "The socket's permissions. With `\"0660\"` the members of `control_group` can "
		   "connect."),
	KEY("control_group", CUSTOM, .parse = config_set_access_group, R(control),
	    .type_doc = "group name", .def_doc = "ktlsd's own group",
	    .doc = "Group of the socket file."),
	KEY("control_allow_uids", CUSTOM, .parse = config_set_access_uids, R(control),
	    .type_doc = "array of user names or uids", .def_doc = "`[]`",
	    .doc = "Users allowed besides root and ktlsd's own uid. Checked with `SO_PEERCRED` "
		   "for every connection, whatever the file's permissions."),
	KEY("handoff_socket", CUSTOM, .parse = config_set_access_socket, R(handoff),
	    .type_doc = "absolute path", .def_doc = "none",
	    .doc = "The [handoff socket](#handoff-service-libktls) (`SOCK_SEQPACKET`), e.g. "
		   "`\"/run/ktlsd/handoff.sock\"`. Absent: no handoff service. Read at start only."),
	KEY("handoff_mode", ENUM, R(handoff.mode), .names = access_mode_names,
	    .values = access_modes, .dflt = 0600,
	    .doc = "As `control_mode`, for the handoff socket: who may hand sockets to ktlsd is "
		   "set apart from who may use the control socket."),
	KEY("handoff_group", CUSTOM, .parse = config_set_access_group, R(handoff),
	    .type_doc = "group name", .def_doc = "ktlsd's own group",
	    .doc = "As `control_group`, for the handoff socket."),
	KEY("handoff_allow_uids", CUSTOM, .parse = config_set_access_uids, R(handoff),
	    .type_doc = "array of user names or uids", .def_doc = "`[]`",
	    .doc = "As `control_allow_uids`, for the handoff socket (checked with `SO_PEERCRED`)."),
	KEY("handoff_profiles", CUSTOM, .parse = config_set_handoff_profiles,
	    .type_doc = "array of profile names", .def_doc = "all profiles",
	    .doc = "The profiles a handoff request may name."),
	KEY("metrics_listen", CUSTOM, .parse = config_set_metrics_listen,
	    .type_doc = "`\"127.0.0.1:PORT\"`", .def_doc = "none",
	    .doc = "Serve the Prometheus text at `GET /metrics` over HTTP on this loopback "
		   "address (other addresses are refused). Off by default."),
	KEY("client_ca", PATH, R(client_ca), .type_doc = "path (file or hashed directory)",
	    .def_doc = "the system store",
	    .doc = "Trust anchors for the handoff client role and the pool: the server's "
		   "certificate must chain to them. A reload that changes it empties the client "
		   "session cache."),
	KEY("client_session_cache_size", INT, R(client_cache_size),
	    .max = CFG_MAX_SESSION_CACHE_SIZE, .dflt = CFG_DEF_CLIENT_CACHE_SIZE,
	    .doc = "Keys (host, port, ALPN list, verified or not) held in the host-wide client "
		   "session cache, up to 4 sessions each; least recently used keys go first. `0`: "
		   "no client resumption."),
	KEY("client_ticket_wait", SECONDS, R(client_ticket_wait_ms),
	    .dflt = CFG_DEF_CLIENT_TICKET_WAIT_MS,
	    .doc = "TLS 1.3 client connections: how long ktlsd waits for the server's "
		   "NewSessionTickets before handing the socket over (the wait ends at the first "
		   "ticket once nothing more is queued; it runs in full only against servers that "
		   "send none)."),
	/* After handoff_socket, which it needs. */
	KEY("upstreams", CUSTOM, .parse = config_set_upstreams, .type_doc = "list of groups",
	    .def_doc = "none",
	    .doc = "Servers ktlsd keeps warm client connections to (below). Needs "
		   "`handoff_socket`."),
};
#undef R

const struct cfg_table config_root_table = { root_keys, ARRAY_SIZE(root_keys) };

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
