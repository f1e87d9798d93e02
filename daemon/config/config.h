/* SPDX-License-Identifier: MIT */
/*
 * config.h - the parsed, immutable configuration of ktlsd.
 *
 * The parser (config.c) turns a libconfig file into a struct ktlsd_cfg. It never prints and
 * never exits: every problem comes back as "file:line: what is wrong" in a caller buffer.
 * A reload parses a new struct and swaps it only if it loaded.
 */
#ifndef KTLSD_CONFIG_H
#define KTLSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

/*
 * Defaults and limits. Only the schema tables (config_root.c, config_profile.c,
 * config_listener.c) apply them, and the reference documents them from there.
 */
#define CFG_DEF_HANDSHAKE_TIMEOUT_MS	10000u
#define CFG_DEF_CLIENT_HELLO_TIMEOUT_MS 5000u
#define CFG_DEF_IDLE_TIMEOUT_MS		300000u
#define CFG_DEF_CONNECT_TIMEOUT_MS	5000u
#define CFG_DEF_SHUTDOWN_TIMEOUT_MS	30000u
#define CFG_DEF_BUFFER_SIZE		65536u
#define CFG_MIN_BUFFER_SIZE		4096u
#define CFG_MAX_BUFFER_SIZE		(16u << 20)
#define CFG_DEF_BACKLOG			1024
#define CFG_DEF_GROUPS			"X25519:P-256"
#define CFG_DEF_SESSION_CACHE_SIZE	20480u
#define CFG_MAX_SESSION_CACHE_SIZE	(16u << 20)
#define CFG_DEF_SESSION_LIFETIME_S	3600u
#define CFG_MAX_SESSION_LIFETIME_S	604800u /* RFC 8446: tickets live at most 7 days */
#define CFG_DEF_TLS13_TICKETS		1u
#define CFG_MAX_TLS13_TICKETS		8u
#define CFG_DEF_TICKET_ROTATION_S	3600u
#define CFG_DEF_TICKET_KEYS_KEPT	2u
#define CFG_MAX_TICKET_KEYS_KEPT	16u
#define CFG_MAX_TICKET_KEY_FILES	(CFG_MAX_TICKET_KEYS_KEPT + 1u)
#define CFG_DEF_MAX_EARLY_DATA		16384u
#define CFG_DEF_CLIENT_CACHE_SIZE	4096u
#define CFG_DEF_CLIENT_TICKET_WAIT_MS	250u
#define CFG_DEF_POOL_SIZE		4u
#define CFG_MAX_POOL_SIZE		1024u
#define CFG_DEF_POOL_MAX_IDLE_MS	60000u
#define CFG_MAX_CONNECTIONS		(16u << 20)
#define CFG_MAX_KEEPALIVE_S		32767u /* TCP_KEEPIDLE's limit */
#define CFG_PROXY_HEADER_ROOM		1024u  /* PROXY_V2_MAX_LEN: early data must fit beside it */
/* TLS 1.2: ECDHE with AEAD only. */
#define CFG_DEF_CIPHERS                                                                            \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define CFG_DEF_CIPHERSUITES                                                                       \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct cfg_cert {
	char *cert_file; /* PEM chain, leaf first; absolute path */
	char *key_file;	 /* PEM private key; absolute path */
};

/* How a profile issues session tickets. */
enum cfg_tickets {
	CFG_TICKETS_STATELESS = 0, /* encrypted with the profile's ticket-key ring */
	CFG_TICKETS_STATEFUL,	   /* TLS 1.3 tickets point into the session cache; single use */
	CFG_TICKETS_OFF,	   /* none: TLS 1.2 session IDs only */
};

struct cfg_profile {
	char *name;
	char **server_names; /* SNI names: exact "a.example" or wildcard "*.example" */
	size_t n_server_names;
	struct cfg_cert *certs; /* >= 1; ECDSA and RSA may stand side by side */
	size_t n_certs;
	int min_version; /* TLS1_2_VERSION or TLS1_3_VERSION */
	int max_version;
	char *ciphers;	    /* TLS 1.2 cipher list (OpenSSL syntax) */
	char *ciphersuites; /* TLS 1.3 suites */
	char *groups;	    /* key-exchange groups */
	int tickets;	    /* enum cfg_tickets */
	uint32_t session_lifetime_s;
	uint32_t tls13_tickets; /* NewSessionTickets per TLS 1.3 handshake */
	bool psk_ke;		/* allow TLS 1.3 resumption without (EC)DHE */
	uint32_t ticket_rotation_s;
	uint32_t ticket_keys_kept; /* retired keys that still decrypt */
	char **ticket_key_files;   /* absolute; [0] encrypts; NULL: keys made in memory */
	size_t n_ticket_key_files;
	int ticket_key_files_line;
	int line; /* where it was defined */
};

enum backend_kind { BACKEND_TCP, BACKEND_UNIX, BACKEND_APP /* handoff: the application */ };

struct cfg_backend {
	enum backend_kind kind;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *str; /* as written, for logs */
};

struct cfg_listener {
	char *name;
	bool runtime; /* added through the control API, not in the file */
	bool handoff; /* the handoff socket's: no listening address, the application is the backend */
	unsigned slot;	  /* listening-socket slot (listeners.c); set by main, not by the parser */
	char *listen_str; /* as written: "127.0.0.1:8443", "[::]:443" */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	size_t *profiles; /* indexes into cfg->profiles; [0] is the default for this listener */
	size_t n_profiles;
	bool sni_strict; /* refuse a ClientHello whose SNI matches no profile */
	char **alpn;	 /* protocols in server preference order */
	size_t n_alpn;
	unsigned char *alpn_wire; /* the same in wire format (length-prefixed), for OpenSSL */
	size_t alpn_wire_len;
	struct cfg_backend backend;
	bool proxy_protocol;	 /* send a PROXY protocol v2 header to the backend */
	bool ktls;		 /* hand records to kernel TLS where the kernel can (default) */
	bool early_data;	 /* accept TLS 1.3 0-RTT data */
	bool early_data_forward; /* send it to the backend before the handshake completes */
	uint32_t max_early_data; /* bytes per connection */
	uint32_t client_hello_timeout_ms; /* from accept to the whole ClientHello */
	uint32_t handshake_timeout_ms;
	uint32_t idle_timeout_ms;
	uint32_t connect_timeout_ms;
	uint32_t buffer_size; /* bytes per direction per connection */
	int backlog;
	uint32_t max_connections; /* open at once on this listener; 0: no own limit */
	uint32_t tcp_keepalive_s; /* idle seconds before keepalive probes; 0: off */
	uint32_t mark;		  /* SO_MARK of its sockets, client and backend; 0: none */
	int line;
};

/* A server ktlsd keeps warm client connections to (the pool, pool.c). */
struct cfg_upstream {
	char *name;
	char *address; /* as written: "host:port" */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *host;	      /* SNI and the name verified: `sni`, else the address's host */
	char *alpn;	      /* comma-separated, preference order; "" for none */
	uint32_t pool_size;   /* connections kept ready */
	uint32_t max_idle_ms; /* an idle connection older than this is replaced */
	uint32_t connect_timeout_ms;
	bool verify; /* false: hand out connections whose certificate did not verify */
	int line;
};

/* A Unix socket ktlsd offers to local programs, and who may use it. */
struct cfg_access {
	char *socket;  /* absolute path; NULL: no such socket */
	uint32_t mode; /* 0600 or 0660 */
	char *group;
	uint32_t gid;	/* the group's id, when @group is set */
	uint32_t *uids; /* allowed besides root and ktlsd's own uid */
	size_t n_uids;
};

struct ktlsd_cfg {
	char *path;	  /* the file it was read from */
	unsigned workers; /* 0 in the file means one per online CPU; resolved by the parser */
	uint32_t max_connections; /* open at once, all listeners and handoffs; 0: no limit */
	enum log_level log_level;
	enum log_target log_target; /* read at start only */
	bool access_log;	    /* an info line per connection at its end */
	uint32_t shutdown_timeout_ms;
	uint32_t session_cache_size; /* sessions in the shared server cache; 0: none */
	struct cfg_profile *profiles;
	size_t n_profiles;
	struct cfg_listener *listeners;
	size_t n_listeners;

	char *run_user;	 /* `user`: run as this account once the sockets are bound; NULL: stay */
	char *run_group; /* `group`; NULL: the user's primary group */
	uint32_t run_uid;
	uint32_t run_gid;
	bool seccomp; /* the workers' system-call allow-list (seccomp.c); read at start only */
	struct cfg_access control; /* the control socket (control.c) */
	struct cfg_access handoff; /* the handoff socket (handoff.c) */
	size_t handoff_listener;   /* index of its listener in @listeners (when handoff.socket) */
	size_t *handoff_profiles;  /* handoff_profiles (indexes), until that listener is made */
	size_t n_handoff_profiles;
	size_t handoff_client_listener; /* the client role's listener (counters, timeouts) */
	char *client_ca;		/* CA file or directory for the client role; NULL: system */
	uint32_t client_cache_size;	/* host-wide client session cache (keys); 0: none */
	uint32_t client_ticket_wait_ms; /* TLS 1.3: wait this long for the server's tickets */
	struct cfg_upstream *upstreams;
	size_t n_upstreams;
	char *metrics_listen; /* "127.0.0.1:9100": Prometheus text over HTTP; NULL: off */
	char **warnings;      /* "file:line: ..." for the loader to log (legal but suspect) */
	size_t n_warnings;
	struct sockaddr_storage metrics_addr;
	socklen_t metrics_addr_len;

	char *text; /* the file as read, so that `listeners add` can rebuild without re-reading */
};

/*
 * Listener changes made at run time (control API), replayed over the file's listeners
 * each time the configuration is built: @remove names are dropped, then each @add (one
 * listener group as libconfig text) is appended. With @strict, a clash is an error
 * (-EEXIST); without it (a reload), the file wins and the runtime listener is left out.
 */
struct cfg_overlay {
	const char *const *add;
	size_t n_add;
	const char *const *remove;
	size_t n_remove;
	bool strict;
};

/**
 * config_load() - parse a configuration file.
 * @path:   file to read
 * @out:    on success the new configuration (caller frees with config_free()); NULL on failure
 * @err:    on failure "path:line: what is wrong" (line omitted when there is none)
 * @errlen: size of @err
 *
 * Return: 0, or -EINVAL (bad content) / -errno (file could not be read).
 */
int config_load(const char *path, struct ktlsd_cfg **out, char *err, size_t errlen);

/**
 * config_load_overlay() - config_load() with run-time listener changes applied.
 * @path:   the configuration file (also names messages and anchors relative paths)
 * @text:   its text as last read (cfg->text), or NULL to read @path now
 * @ov:     listener changes, or NULL
 * @out, @err, @errlen: as for config_load()
 *
 * Return: 0, -EINVAL, -EEXIST (a strict overlay clashes: name or address in use) or -errno.
 */
int config_load_overlay(const char *path, const char *text, const struct cfg_overlay *ov,
			struct ktlsd_cfg **out, char *err, size_t errlen);

/**
 * config_load_string() - the same, from a string; @name stands in for the file name in
 * messages and relative paths resolve against the current directory. Used by the tests
 * and the fuzz target.
 */
int config_load_string(const char *text, const char *name, struct ktlsd_cfg **out, char *err,
		       size_t errlen);

/** config_free() - free a configuration from config_load(); NULL is allowed. */
void config_free(struct ktlsd_cfg *cfg);

/** config_parse_addr() - "host:port", "[v6]:port" or "unix:/path" into a sockaddr. */
int config_parse_addr(const char *s, bool allow_unix, struct sockaddr_storage *ss, socklen_t *len);

/* The configuration reference, written from the schema (config_doc.c). */
enum config_doc_format { CONFIG_DOC_MARKDOWN, CONFIG_DOC_MAN };

/** config_doc_write() - the settings reference as README.md or ktlsd.conf(5) shows it. */
int config_doc_write(FILE *f, enum config_doc_format fmt);

/** config_log_level_name() - "error", "warn", "info", "debug". */
const char *config_log_level_name(enum log_level lvl);

/* config_print.c: the effective configuration in the file's syntax (ktlsd -T). */
int config_print(const struct ktlsd_cfg *cfg, FILE *f);

/* Listeners that accept TCP connections: not the handoff socket's two (cfg_listener.handoff). */
static inline size_t config_n_tcp_listeners(const struct ktlsd_cfg *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listeners; i++)
		n += !cfg->listeners[i].handoff;
	return n;
}

#endif
