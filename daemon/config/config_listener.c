// SPDX-License-Identifier: MIT
/*
 * config_listener.c - listeners: address, profiles, ALPN, backend, early data, timeouts
 * and buffers, with their cross-setting checks.
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
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "config_int.h"

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
int config_set_lprofiles(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			 void *obj)
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
	KEY("listen", CUSTOM, .parse = config_set_addr, .required = true, .type_doc = "address",
	    .doc = "`\"ipv4:port\"`, `\"[ipv6]:port\"` or `\"hostname:port\"`. Unique among "
		   "listeners."),
	KEY("name", STRING, L(name), .def_doc = "the `listen` string",
	    .doc = "Unique among listeners; used in logs and by the control API."),
	KEY("profiles", CUSTOM, .parse = config_set_lprofiles, .type_doc = "array of strings",
	    .def_doc = "required",
	    .doc = "Names of profiles. The first is the listener's default; SNI picks among the "
		   "others."),
	KEY("profile", CUSTOM, .parse = config_set_lprofiles, .type_doc = "string",
	    .def_doc = "none",
	    .doc = "Short form of `profiles` for one profile. Set `profile` or `profiles`, not "
		   "both."),
	KEY("sni_strict", BOOL, L(sni_strict),
	    .doc = "Refuse a ClientHello whose SNI matches none of the listener's profiles, "
		   "instead of serving the default profile."),
	KEY("alpn", CUSTOM, .parse = config_set_alpn, .type_doc = "array of strings",
	    .def_doc = "none",
	    .doc = "ALPN protocols in server preference order, each 1..255 bytes."),
	KEY("backend", CUSTOM, .parse = config_set_addr, .required = true, .type_doc = "address",
	    .doc = "Where decrypted traffic goes: `\"host:port\"`, `\"[ipv6]:port\"` or "
		   "`\"unix:/absolute/path.sock\"`."),
	KEY("proxy_protocol", BOOL, L(proxy_protocol),
	    .doc = "Send a PROXY protocol v2 header to the backend."),
	KEY("ktls", BOOL, L(ktls), .dflt = true,
	    .doc = "After the handshake, hand record encryption to kernel TLS and relay with "
		   "splice, when the running kernel supports the negotiated version and cipher "
		   "both ways; otherwise the connection stays on userspace records. `false` keeps "
		   "every connection of this listener in userspace, e.g. for clients that send TLS "
		   "1.3 KeyUpdates, which kernels before 6.14 cannot follow."),
	KEY("early_data", BOOL, L(early_data),
	    .doc = "Accept TLS 1.3 0-RTT early data on resumed connections (see "
		   "[0-RTT](#0-rtt-early-data)). When off, tickets announce no early data, and "
		   "early data a client sends anyway is rejected and never delivered (whether the "
		   "client sends it again after the handshake is up to the client: OpenSSL's "
		   "`s_client` does not)."),
	KEY("max_early_data", INT, L(max_early_data), .min = 1, .max = CFG_MAX_BUFFER_SIZE,
	    .dflt = CFG_DEF_MAX_EARLY_DATA,
	    .doc = "Bytes of early data accepted per connection; at most `buffer_size` − 1024."),
	KEY("early_data_forward", BOOL, L(early_data_forward),
	    .doc = "`false`: early data is held until the handshake completes, then sent to the "
		   "backend. `true`: it goes to the backend at once, before the handshake "
		   "completes, and the PROXY v2 header carries TLV type `0xE0` with value `0x01` "
		   "to say the stream begins with (replayable) early data. Needs `proxy_protocol "
		   "= true`."),
	KEY("client_hello_timeout", SECONDS, L(client_hello_timeout_ms),
	    .dflt = CFG_DEF_CLIENT_HELLO_TIMEOUT_MS,
	    .doc = "Time from accept until the client's whole ClientHello is in: a client that "
		   "sends nothing, or part of a hello, is cut after this rather than after "
		   "`handshake_timeout`. Counted in `handshake_failed_timeout` and, apart, in "
		   "`handshake_timeouts_client_hello`. A value above `handshake_timeout` has no "
		   "effect."),
	KEY("handshake_timeout", SECONDS, L(handshake_timeout_ms),
	    .dflt = CFG_DEF_HANDSHAKE_TIMEOUT_MS,
	    .doc = "Time for the whole TLS handshake, from accept."),
	KEY("idle_timeout", SECONDS, L(idle_timeout_ms), .dflt = CFG_DEF_IDLE_TIMEOUT_MS,
	    .doc = "Time a connection may stay idle."),
	KEY("connect_timeout", SECONDS, L(connect_timeout_ms), .dflt = CFG_DEF_CONNECT_TIMEOUT_MS,
	    .doc = "Time to connect to the backend."),
	KEY("buffer_size", INT, L(buffer_size), .min = CFG_MIN_BUFFER_SIZE,
	    .max = CFG_MAX_BUFFER_SIZE, .dflt = CFG_DEF_BUFFER_SIZE,
	    .doc = "Bytes of buffer per direction per connection."),
	KEY("backlog", INT, L(backlog), .min = 1, .max = 65535, .dflt = CFG_DEF_BACKLOG,
	    .doc = "`listen(2)` backlog."),
	KEY("max_connections", INT, L(max_connections), .max = CFG_MAX_CONNECTIONS,
	    .doc = "Open connections at most on this listener (besides the global "
		   "`max_connections`); `0`: no limit of its own. At the limit it stops accepting "
		   "until one of its connections ends."),
	KEY("tcp_keepalive", INT, L(tcp_keepalive_s), .max = CFG_MAX_KEEPALIVE_S,
	    .doc = "Seconds a client connection may be idle before TCP keepalive probes start "
		   "(then every third of that, at least 1 s, 3 probes): a peer that vanished is "
		   "found and its connection closed. `0`: off."),
	KEY("mark", INT, L(mark), .max = 0xffffffffll,
	    .doc = "`SO_MARK` of the listener's client sockets and of its backend connections, "
		   "for policy routing and firewall rules; needs `CAP_NET_ADMIN`. `0`: none."),
};
#undef L

const struct cfg_table config_listener_table = { listener_keys, ARRAY_SIZE(listener_keys) };

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

/* Every listener, the handoff socket's included, starts from the schema's defaults. */
void config_listener_defaults(struct cfg_listener *l)
{
	*l = (struct cfg_listener){ 0 };
	config_defaults(&config_listener_table, l);
}

/* A server name in two of a listener's profiles: the first profile answers it, the second
 * never does. Legal (nginx says the same of two server blocks), so a warning, not an error. */
static int config_warn_shared_names(struct cfg_ctx *ctx, const struct cfg_listener *l)
{
	const struct cfg_profile *pr = ctx->cfg->profiles;
	int ret = 0;

	for (size_t a = 0; a < l->n_profiles; a++) {
		const struct cfg_profile *pa = &pr[l->profiles[a]];

		for (size_t b = a + 1; b < l->n_profiles; b++) {
			const struct cfg_profile *pb = &pr[l->profiles[b]];

			for (size_t i = 0; i < pa->n_server_names && !ret; i++)
				for (size_t j = 0; j < pb->n_server_names && !ret; j++)
					if (!strcasecmp(pa->server_names[i], pb->server_names[j]))
						ret = config_warn(
							ctx, l->line,
							"listener \"%s\": server name \"%s\" "
							"is in profiles \"%s\" and \"%s\"; "
							"\"%s\" answers it",
							l->name, pa->server_names[i], pa->name,
							pb->name, pa->name);
		}
	}
	return ret;
}

int config_parse_listener(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_listener *l = &ctx->cfg->listeners[i];
	const config_setting_t *m = config_setting_get_member(g, "name");
	size_t j;
	int ret;

	config_listener_defaults(l);
	l->line = config_setting_source_line(g);
	ret = config_parse_group(ctx, g, &config_listener_table, l);
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
	ret = config_warn_shared_names(ctx, l);
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

int config_set_listeners(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			 void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	int ret = config_parse_list(ctx, s, key, sizeof(*cfg->listeners), (void **)&cfg->listeners,
				    &cfg->n_listeners, config_parse_listener);

	return ret == -EEXIST ? -EINVAL : ret; /* -EEXIST only tells overlays apart */
}
