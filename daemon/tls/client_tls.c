// SPDX-License-Identifier: MIT
/*
 * client_tls.c - ktlsd as a TLS client: the handoff client role and the warm pool.
 *
 * One SSL_CTX per snapshot. The server's certificate is verified against `client_ca` (a
 * PEM file or a hashed directory) or the system store, and against the name the
 * application asked for (SSL_set1_host, or the IP address when it asked for one). Only
 * AEAD suites are offered, so that every negotiated connection can move to kernel TLS.
 * Sessions go to the host-wide client cache (clientcache.c) as the server issues them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* OpenSSL hands us a new session (TLS 1.2: during the handshake; TLS 1.3: per ticket). */
static int client_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct hs_info *hs = SSL_get_app_data(ssl);

	if (!hs || !hs->cache_key[0] || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (hs->tickets < UINT8_MAX)
		hs->tickets++;
	clientcache_put(hs->cache_key, sess);
	return 1; /* the cache holds the reference now */
}

static int client_ctx_fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what)
{
	char errs[256];

	log_ssl_errors(errs, sizeof(errs));
	snprintf(err, errlen, "client role: %s: %s", what, errs);
	SSL_CTX_free(ctx);
	return -EINVAL;
}

/**
 * client_ctx_new() - the client SSL_CTX for @cfg. Return: it, or NULL with @err set.
 */
SSL_CTX *client_ctx_new(const struct ktlsd_cfg *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct stat st;
	int ok;

	if (!ctx) {
		client_ctx_fail(NULL, err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, CFG_DEF_CIPHERS) ||
	    !SSL_CTX_set_ciphersuites(ctx, CFG_DEF_CIPHERSUITES)) {
		client_ctx_fail(ctx, err, errlen, "cipher settings");
		return NULL;
	}
	if (!cfg->client_ca)
		ok = SSL_CTX_set_default_verify_paths(ctx);
	else if (stat(cfg->client_ca, &st) == 0 && S_ISDIR(st.st_mode))
		ok = SSL_CTX_load_verify_locations(ctx, NULL, cfg->client_ca);
	else
		ok = SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL);
	if (!ok) {
		char what[300];

		snprintf(what, sizeof(what), "client_ca \"%s\"",
			 cfg->client_ca ? cfg->client_ca : "(system store)");
		client_ctx_fail(ctx, err, errlen, what);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, client_new_session_cb);
	ktls_ctx_setup(ctx);
	return ctx;
}

/**
 * client_cache_key() - the session cache key of a client connection: the name (which is
 * also the SNI, or none for an address), the port, the ALPN list and whether the
 * certificate had to verify, so that a session from a lax request never serves a strict
 * one.
 */
void client_cache_key(struct hs_info *hs, const char *host, uint16_t port, const char *alpn)
{
	snprintf(hs->cache_key, sizeof(hs->cache_key), "%s|%u|%s|%s", host, port, alpn,
		 hs->verify_optional ? "lax" : "verified");
}

static bool client_is_ip(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/**
 * client_new_ssl() - a client SSL for a new connection to hs->sni.
 * Return: the SSL, or NULL (logged).
 */
SSL *client_new_ssl(const struct snapshot *s, struct hs_info *hs)
{
	SSL *ssl = SSL_new(s->client_ctx);
	SSL_SESSION *sess;
	bool ok;

	if (!ssl) {
		log_err("conn %llu: SSL_new (client) failed", (unsigned long long)hs->conn_id);
		return NULL;
	}
	SSL_set_app_data(ssl, hs);
	SSL_set_connect_state(ssl);
	if (client_is_ip(hs->sni))
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hs->sni) == 1;
	else
		ok = SSL_set_tlsext_host_name(ssl, hs->sni) == 1 &&
		     SSL_set1_host(ssl, hs->sni) == 1;
	/* SSL_set_alpn_protos() returns 0 on success. */
	if (ok && hs->alpn_wire_len)
		ok = SSL_set_alpn_protos(ssl, hs->alpn_wire, hs->alpn_wire_len) == 0;
	if (!ok) {
		log_err("conn %llu: client SSL setup for \"%s\" failed",
			(unsigned long long)hs->conn_id, hs->sni);
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	if (hs->verify_optional)
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL); /* still verified; the result is told */
	sess = hs->cache_key[0] ? clientcache_take(hs->cache_key) : NULL;
	if (sess) {
		hs->offered = SSL_set_session(ssl, sess) == 1;
		SSL_SESSION_free(sess);
	}
	return ssl;
}
