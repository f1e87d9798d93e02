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
void config_listener_defaults(struct cfg_listener *l)
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

int config_parse_listener(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
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

int config_set_listeners(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			 void *obj)
{
	struct ktlsd_cfg *cfg = obj;
	int ret = config_parse_list(ctx, s, key, sizeof(*cfg->listeners), (void **)&cfg->listeners,
				    &cfg->n_listeners, config_parse_listener);

	return ret == -EEXIST ? -EINVAL : ret; /* -EEXIST only tells overlays apart */
}
