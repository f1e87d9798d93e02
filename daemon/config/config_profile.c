// SPDX-License-Identifier: MIT
/*
 * config_profile.c - profiles: names served, certificates, TLS versions and ciphers,
 * tickets and their keys.
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

static const char *const version_names[] = { "1.2", "1.3", NULL };
static const char *const ticket_names[] = { "stateless", "stateful", "off", NULL };

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
	KEY("cert", PATH, .off = offsetof(struct cfg_cert, cert_file), .required = true,
	    .doc = "PEM certificate chain: the leaf first, then its intermediates. It is sent as "
		   "it is; ktlsd completes no chain from other certificates."),
	KEY("key", PATH, .off = offsetof(struct cfg_cert, key_file), .required = true,
	    .doc = "PEM private key for that certificate."),
};

const struct cfg_table config_cert_table = { cert_keys, ARRAY_SIZE(cert_keys) };

static int config_set_certs(struct cfg_ctx *ctx, const config_setting_t *s,
			    const struct cfg_key *key, void *obj)
{
	struct cfg_profile *p = obj;
	unsigned int i;
	int ret;

	p->certs = config_alloc_list(ctx, s, key, sizeof(*p->certs), &p->n_certs, &ret);
	for (i = 0; !ret && i < p->n_certs; i++)
		ret = config_parse_group(ctx, config_setting_get_elem(s, i), &config_cert_table,
					 &p->certs[i]);
	return ret;
}

static const int version_values[] = { TLS1_2_VERSION, TLS1_3_VERSION };

#define P(m) .off = offsetof(struct cfg_profile, m)
static const struct cfg_key profile_keys[] = {
	KEY("name", STRING, P(name), .required = true, .doc = "Unique among profiles."),
	KEY("server_names", CUSTOM, .parse = config_set_server_names,
	    .type_doc = "array of strings", .def_doc = "none",
	    .doc = "Names this profile serves: exact (`\"www.example.com\"`) or a one-label "
		   "wildcard (`\"*.example.com\"`). Letters, digits, `-`, `_` and dots; at most 253 "
		   "bytes; matched case-insensitively."),
	KEY("certificates", CUSTOM, .parse = config_set_certs, .required = true,
	    .type_doc = "list of groups",
	    .doc = "At least one `{ cert = \"...\"; key = \"...\"; }` (below)."),
	KEY("min_version", ENUM, P(min_version), .names = version_names, .values = version_values,
	    .dflt = TLS1_2_VERSION, .doc = "Lowest TLS version."),
	KEY("max_version", ENUM, P(max_version), .names = version_names, .values = version_values,
	    .dflt = TLS1_3_VERSION, .doc = "Highest TLS version; not below `min_version`."),
	KEY("ciphers", STRING, P(ciphers), .def = CFG_DEF_CIPHERS,
	    .def_doc = "ECDHE with AES-GCM or ChaCha20-Poly1305 (below)",
	    .doc = "TLS 1.2 cipher list, OpenSSL syntax."),
	KEY("ciphersuites", STRING, P(ciphersuites), .def = CFG_DEF_CIPHERSUITES,
	    .doc = "TLS 1.3 cipher suites, OpenSSL syntax."),
	KEY("groups", STRING, P(groups), .def = CFG_DEF_GROUPS,
	    .doc = "Key-exchange groups in preference order."),
	KEY("tickets", ENUM, P(tickets), .names = ticket_names, .dflt = CFG_TICKETS_STATELESS,
	    .doc = "`\"stateless\"`: TLS 1.2 (RFC 5077) and TLS 1.3 tickets encrypted with the "
		   "profile's ticket-key ring. `\"stateful\"`: TLS 1.3 tickets are references into "
		   "the session cache, each usable once; TLS 1.2 resumes by session ID only (needs "
		   "`session_cache_size` > 0). `\"off\"`: no tickets; TLS 1.2 resumes by session "
		   "ID, TLS 1.3 does not resume."),
	KEY("session_lifetime", INT, P(session_lifetime_s), .min = 1,
	    .max = CFG_MAX_SESSION_LIFETIME_S, .dflt = CFG_DEF_SESSION_LIFETIME_S,
	    .type_doc = "integer seconds 1..604800",
	    .doc = "How long a session may be resumed: the ticket lifetime hint and the cache "
		   "entry lifetime."),
	KEY("tls13_tickets", INT, P(tls13_tickets), .max = CFG_MAX_TLS13_TICKETS,
	    .dflt = CFG_DEF_TLS13_TICKETS,
	    .doc = "NewSessionTicket messages after a full TLS 1.3 handshake (after a resumption "
		   "OpenSSL sends one, or none when this is 0). OpenSSL's default is 2; each costs "
		   "the server about 60 µs of CPU."),
	KEY("psk_ke", BOOL, P(psk_ke),
	    .doc = "Also allow TLS 1.3 resumption without a new (EC)DHE exchange (`psk_ke`), "
		   "when the client offers it. Faster (no key exchange), but the resumed "
		   "connection has **no forward secrecy**: whoever later obtains the ticket key "
		   "can decrypt it. By default only `psk_dhe_ke` is accepted."),
	KEY("ticket_rotation", INT, P(ticket_rotation_s), .min = 1,
	    .max = CFG_MAX_SESSION_LIFETIME_S, .dflt = CFG_DEF_TICKET_ROTATION_S,
	    .type_doc = "integer seconds 1..604800",
	    .doc = "How often a new in-memory ticket key takes over encryption."),
	KEY("ticket_keys_kept", INT, P(ticket_keys_kept), .max = CFG_MAX_TICKET_KEYS_KEPT,
	    .dflt = CFG_DEF_TICKET_KEYS_KEPT,
	    .doc = "Retired keys that still decrypt after a rotation. A key lives at most "
		   "`ticket_rotation × (ticket_keys_kept + 1)`, then it is wiped."),
	KEY("ticket_key_files", CUSTOM, .parse = config_set_ticket_key_files,
	    .type_doc = "array of paths", .def_doc = "none",
	    .doc = "Ticket keys from files instead of memory, so that tickets survive a restart "
		   "and several ktlsd instances (or nginx) can share them. nginx's "
		   "`ssl_session_ticket_key` format: each file exactly 80 bytes (16-byte name, "
		   "32-byte HMAC-SHA256 key, 32-byte AES-256-CBC key) or 48 bytes (name, AES-128 "
		   "key, HMAC key). The first file encrypts, all decrypt. No rotation in memory: "
		   "ktlsd reads the files again on SIGHUP and when one changes (checked every "
		   "second); rotate by rewriting them. Make one with `openssl rand 80 > "
		   "ticket.key` (mode 0600). At most 17 files; needs `tickets = \"stateless\"`."),
};
#undef P

const struct cfg_table config_profile_table = { profile_keys, ARRAY_SIZE(profile_keys) };

static int config_parse_profile(struct cfg_ctx *ctx, const config_setting_t *g, size_t i)
{
	struct cfg_profile *p = &ctx->cfg->profiles[i];
	const config_setting_t *m;
	size_t j;
	int ret;

	p->line = config_setting_source_line(g);
	ret = config_parse_group(ctx, g, &config_profile_table, p);
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

int config_set_profiles(struct cfg_ctx *ctx, const config_setting_t *s, const struct cfg_key *key,
			void *obj)
{
	struct ktlsd_cfg *cfg = obj;

	return config_parse_list(ctx, s, key, sizeof(*cfg->profiles), (void **)&cfg->profiles,
				 &cfg->n_profiles, config_parse_profile);
}
