// SPDX-License-Identifier: MIT
/*
 * tlsprof.c - TLS profiles: one SSL_CTX per configured profile, SNI and ALPN selection.
 *
 * Every profile's SSL_CTX carries the same two callbacks. The ClientHello callback picks
 * the profile by SNI among the listener's profiles and moves the SSL onto that profile's
 * context and settings; the ALPN callback uses the listener's protocol list. Both find the
 * listener through the connection's struct hs_info (SSL_get_app_data), so one profile can
 * serve several listeners with different ALPN lists.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

#include "tls.h"
#include "tickets.h"

/* Options that follow a profile's resumption settings (set on its context and, when SNI
 * moves a connection to it, on the connection). */
#define TLSPROF_SESSION_OPTS (SSL_OP_NO_TICKET | SSL_OP_ALLOW_NO_DHE_KEX)

static uint64_t tlsprof_session_opts(const struct cfg_profile *p)
{
	uint64_t o = 0;

	if (p->tickets != CFG_TICKETS_STATELESS)
		o |= SSL_OP_NO_TICKET; /* TLS 1.2: session IDs; TLS 1.3: stateful tickets */
	if (p->psk_ke)
		o |= SSL_OP_ALLOW_NO_DHE_KEX;
	return o;
}

static size_t tlsprof_num_tickets(const struct cfg_profile *p)
{
	return p->tickets == CFG_TICKETS_OFF ? 0 : p->tls13_tickets;
}

static bool tlsprof_name_matches(const char *pattern, const char *name)
{
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(name, '.');

		/* "*.example.com" covers exactly one label: a.example.com, not example.com. */
		return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, name) == 0;
}

/* Returns the index in snap->profiles of the listener's profile serving @name, or -1. */
static ssize_t tlsprof_find(const struct snapshot *s, const struct cfg_listener *l,
			    const char *name)
{
	for (size_t i = 0; i < l->n_profiles; i++) {
		const struct cfg_profile *p = &s->cfg->profiles[l->profiles[i]];

		for (size_t j = 0; j < p->n_server_names; j++)
			if (tlsprof_name_matches(p->server_names[j], name))
				return (ssize_t)l->profiles[i];
	}
	return -1;
}

/* Extracts the host_name from a server_name extension body; false if malformed. */
static bool tlsprof_parse_sni(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t list_len, name_len;

	if (len < 5)
		return false;
	list_len = ((size_t)p[0] << 8) | p[1];
	if (list_len + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name)
		return false;
	name_len = ((size_t)p[3] << 8) | p[4];
	if (name_len == 0 || name_len + 5 > len || name_len >= outlen)
		return false;
	memcpy(out, p + 5, name_len);
	out[name_len] = '\0';
	/* An embedded NUL would let "a.test\0.evil" match "a.test". */
	if (strlen(out) != name_len)
		return false;
	/* The name reaches logs and replies: what no host name has becomes '?' (it then
	 * matches no profile either). */
	log_clean_name(out, outlen, out);
	return true;
}

/*
 * Moves @ssl, made from profile @from's SSL_CTX, to profile @to's (SNI chose @to).
 * SSL_set_SSL_CTX() moves the certificates only; each protocol setting in which the two
 * profiles differ follows by hand. Parsing cipher lists is most of the cost of a switch,
 * so settings that are the same (the usual case: profiles that differ in certificates
 * only) are left alone.
 */
static int tlsprof_apply(SSL *ssl, const struct cfg_profile *from, const struct tls_profile *to)
{
	const struct cfg_profile *p = to->cfg;

	if (SSL_set_SSL_CTX(ssl, to->ctx) != to->ctx)
		return -1;
	if ((from->min_version != p->min_version &&
	     !SSL_set_min_proto_version(ssl, p->min_version)) ||
	    (from->max_version != p->max_version &&
	     !SSL_set_max_proto_version(ssl, p->max_version)) ||
	    (strcmp(from->ciphers, p->ciphers) != 0 && !SSL_set_cipher_list(ssl, p->ciphers)) ||
	    (strcmp(from->ciphersuites, p->ciphersuites) != 0 &&
	     !SSL_set_ciphersuites(ssl, p->ciphersuites)) ||
	    (strcmp(from->groups, p->groups) != 0 && !SSL_set1_groups_list(ssl, p->groups)) ||
	    !SSL_set_num_tickets(ssl, tlsprof_num_tickets(p)))
		return -1;
	SSL_clear_options(ssl, TLSPROF_SESSION_OPTS);
	SSL_set_options(ssl, tlsprof_session_opts(p));
	return 0;
}

static int tlsprof_client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct hs_info *hs = SSL_get_app_data(ssl);
	const unsigned char *ext;
	size_t ext_len;
	ssize_t found = -1;

	(void)arg;
	hs->hello_seen = true;
	/* A session is on offer (TLS 1.2 session IDs show up in the cache's get callback). */
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &ext_len) ||
	    (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &ext, &ext_len) && ext_len))
		hs->offered = true;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_early_data, &ext, &ext_len))
		hs->early_offered = true;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &ext_len)) {
		if (!tlsprof_parse_sni(ext, ext_len, hs->sni, sizeof(hs->sni))) {
			*alert = SSL_AD_DECODE_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		found = tlsprof_find(hs->snap, hs->lcfg, hs->sni);
		if (found < 0 && hs->lcfg->sni_strict) {
			log_debug("conn %llu: refused unknown server name \"%s\"",
				  (unsigned long long)hs->conn_id, hs->sni);
			hs->sni_refused = true;
			*alert = SSL_AD_UNRECOGNIZED_NAME;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	if (hs->forced_profile >= 0) /* handoff: the application chose the profile */
		found = hs->forced_profile;
	else if (found < 0)
		found = (ssize_t)hs->lcfg->profiles[0];
	if ((size_t)found != hs->profile) {
		if (tlsprof_apply(ssl, hs->snap->profiles[hs->profile].cfg,
				  &hs->snap->profiles[found]) < 0) {
			*alert = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		hs->profile = (size_t)found;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static int tlsprof_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			   const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct hs_info *hs = SSL_get_app_data(ssl);
	const struct cfg_listener *l = hs->lcfg;
	/* A handoff request's own list wins over the listener's. */
	const unsigned char *wire = hs->alpn_wire_len ? hs->alpn_wire : l->alpn_wire;
	unsigned int wire_len =
		hs->alpn_wire_len ? hs->alpn_wire_len : (unsigned int)l->alpn_wire_len;
	unsigned char *sel;

	(void)arg;
	if (!wire_len)
		return SSL_TLSEXT_ERR_NOACK;
	/* Server preference: the first of our protocols that the client also offers. */
	if (SSL_select_next_proto(&sel, outlen, wire, wire_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no_application_protocol */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* An encrypted key fails to load instead of prompting on a terminal. */
static int tlsprof_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* A PEM private key file; NULL (OpenSSL's error queue says why) if it does not load. */
static EVP_PKEY *tlsprof_read_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, tlsprof_no_passphrase, NULL) : NULL;

	BIO_free(b);
	return key;
}

/* Unix time of an ASN1_TIME; 0 if it cannot be read. */
static int64_t tlsprof_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/** tls_name_str() - @name as RFC 2253 text ("CN=a.example,O=Example") in @out. */
void tls_name_str(const X509_NAME *name, char *out, size_t len)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int n = 0;

	if (mem && X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(mem, out, (int)len - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(mem);
}

/* @x's subject, issuer, key and validity into @ci (the leaf just loaded). */
static void tlsprof_cert_info(X509 *x, const char *file, struct tls_cert_info *ci)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[32] = "";
	size_t glen = 0;
	int type = pk ? EVP_PKEY_get_base_id(pk) : NID_undef;

	ci->file = file;
	tls_name_str(X509_get_subject_name(x), ci->subject, sizeof(ci->subject));
	tls_name_str(X509_get_issuer_name(x), ci->issuer, sizeof(ci->issuer));
	if (type == EVP_PKEY_EC &&
	    EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &glen)) {
		const char *nist = EC_curve_nid2nist(OBJ_sn2nid(group)); /* "P-256" */

		snprintf(ci->key, sizeof(ci->key), "EC %s", nist ? nist : group);
	} else if (type == EVP_PKEY_RSA)
		snprintf(ci->key, sizeof(ci->key), "RSA %d", EVP_PKEY_get_bits(pk));
	else
		snprintf(ci->key, sizeof(ci->key), "%s", OBJ_nid2sn(type));
	ci->not_before = tlsprof_asn1_time(X509_get0_notBefore(x));
	ci->not_after = tlsprof_asn1_time(X509_get0_notAfter(x));
}

static int tlsprof_load_certs(SSL_CTX *ctx, const struct cfg_profile *p, struct tls_cert_info *info,
			      char *err, size_t errlen)
{
	int seen[4] = { 0 };
	size_t n_seen = 0;

	for (size_t i = 0; i < p->n_certs; i++) {
		const struct cfg_cert *cc = &p->certs[i];
		char ssl_err[512];
		EVP_PKEY *key;
		X509 *x;
		int type;

		if (SSL_CTX_use_certificate_chain_file(ctx, cc->cert_file) != 1) {
			log_ssl_errors(ssl_err, sizeof(ssl_err));
			snprintf(err, errlen, ":%d: profile \"%s\": cannot load certificate %s: %s",
				 p->line, p->name, cc->cert_file, ssl_err);
			return -EINVAL;
		}
		/* The leaf just loaded: OpenSSL files a key by its own type, so a key of another
		 * type than the certificate's must be caught here, not by check_private_key(). */
		x = SSL_CTX_get0_certificate(ctx);
		type = x ? EVP_PKEY_get_base_id(X509_get0_pubkey(x)) : 0;
		key = tlsprof_read_key(cc->key_file);
		if (!key || !x || X509_check_private_key(x, key) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, key) != 1) {
			log_ssl_errors(ssl_err, sizeof(ssl_err));
			snprintf(
				err, errlen,
				":%d: profile \"%s\": key %s (%s) does not load or match %s (%s): %s",
				p->line, p->name, cc->key_file,
				key ? OBJ_nid2sn(EVP_PKEY_get_base_id(key)) : "unreadable",
				cc->cert_file, OBJ_nid2sn(type), ssl_err);
			EVP_PKEY_free(key);
			return -EINVAL;
		}
		EVP_PKEY_free(key);
		tlsprof_cert_info(x, cc->cert_file, &info[i]);
		for (size_t j = 0; j < n_seen; j++) {
			if (seen[j] == type) {
				/* OpenSSL keeps one certificate per key type; a second replaces. */
				snprintf(err, errlen,
					 ":%d: profile \"%s\": two certificates of key type %s",
					 p->line, p->name, OBJ_nid2sn(type));
				return -EINVAL;
			}
		}
		if (n_seen < sizeof(seen) / sizeof(seen[0]))
			seen[n_seen++] = type;
	}
	return 0;
}

static SSL_CTX *tlsprof_ctx_new(const struct ktlsd_cfg *cfg, const struct cfg_profile *p,
				struct tls_cert_info *info, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char ssl_err[512];

	if (!ctx) {
		log_ssl_errors(ssl_err, sizeof(ssl_err));
		snprintf(err, errlen, "SSL_CTX_new: %s", ssl_err);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Records leave through our own buffers: partial writes keep the relay streaming. */
	/* NO_AUTO_CHAIN: the chain is what the certificate file holds, sent as it is; OpenSSL
	 * would otherwise try to build one from the certificate store in every handshake
	 * whose file has the leaf alone. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_NO_AUTO_CHAIN);
	/* OpenSSL sends two TLS 1.3 tickets by default; each costs about 60 us of CPU. */
	SSL_CTX_set_num_tickets(ctx, tlsprof_num_tickets(p));
	SSL_CTX_set_options(ctx, tlsprof_session_opts(p));
	sesscache_ctx_setup(ctx, p, cfg->session_cache_size);
	tickets_ctx_setup(ctx);
	if (!SSL_CTX_set_min_proto_version(ctx, p->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, p->max_version)) {
		snprintf(err, errlen, ":%d: profile \"%s\": unsupported TLS version range", p->line,
			 p->name);
		goto fail;
	}
	if (!SSL_CTX_set_cipher_list(ctx, p->ciphers)) {
		snprintf(err, errlen, ":%d: profile \"%s\": no usable cipher in \"%s\"", p->line,
			 p->name, p->ciphers);
		goto fail;
	}
	if (!SSL_CTX_set_ciphersuites(ctx, p->ciphersuites)) {
		snprintf(err, errlen, ":%d: profile \"%s\": bad ciphersuites \"%s\"", p->line,
			 p->name, p->ciphersuites);
		goto fail;
	}
	if (!SSL_CTX_set1_groups_list(ctx, p->groups)) {
		snprintf(err, errlen, ":%d: profile \"%s\": bad groups \"%s\"", p->line, p->name,
			 p->groups);
		goto fail;
	}
	if (SSL_CTX_set_session_id_context(
		    ctx, (const unsigned char *)p->name,
		    (unsigned int)strnlen(p->name, SSL_MAX_SID_CTX_LENGTH)) != 1) {
		snprintf(err, errlen, ":%d: profile \"%s\": session id context", p->line, p->name);
		goto fail;
	}
	if (tlsprof_load_certs(ctx, p, info, err, errlen) < 0)
		goto fail;
	if (ktls_kernel_usable())
		ktls_ctx_setup(ctx);
	SSL_CTX_set_client_hello_cb(ctx, tlsprof_client_hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, tlsprof_alpn_cb, NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* Prefixes @err (which starts with ":line:") with the config file name. */
static void tlsprof_prefix_path(const struct ktlsd_cfg *cfg, char *err, size_t errlen)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s%s", cfg->path, err);
	snprintf(err, errlen, "%s", tmp);
}

/* Frees @s with its contexts and ring references, and its configuration if @free_cfg. */
static void tlsprof_free(struct snapshot *s, bool free_cfg)
{
	for (size_t i = 0; s->profiles && i < s->cfg->n_profiles; i++) {
		SSL_CTX_free(s->profiles[i].ctx);
		tickets_ring_put(s->profiles[i].ring);
		free(s->profiles[i].certs);
	}
	SSL_CTX_free(s->client_ctx);
	free(s->profiles);
	free(s->lstats);
	if (free_cfg)
		config_free(s->cfg);
	free(s);
}

/* The last reference to a snapshot is gone (snapshot_put): contexts and configuration go. */
static void tlsprof_release(struct snapshot *s)
{
	tlsprof_free(s, true);
}

/**
 * snapshot_create() - build the TLS contexts for @cfg.
 * @cfg:        a loaded configuration; on success the snapshot owns it
 * @generation: a number that tells snapshots apart in logs
 * @out:        the snapshot with one reference for the caller; NULL on failure
 * @err:        on failure, "file:line: what is wrong"
 *
 * Return: 0 or -EINVAL; on failure @cfg still belongs to the caller.
 */
int snapshot_create(struct ktlsd_cfg *cfg, uint64_t generation, struct snapshot **out, char *err,
		    size_t errlen)
{
	struct snapshot *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->profiles = calloc(cfg->n_profiles, sizeof(*s->profiles));
	s->lstats = calloc(cfg->n_listeners, sizeof(struct listener_stats *));
	if (!s->profiles || !s->lstats)
		goto nomem;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		s->lstats[i] = lstats_get(cfg->listeners[i].name, cfg->workers);
		if (!s->lstats[i])
			goto nomem;
	}
	for (size_t i = 0; i < cfg->n_profiles; i++) {
		s->profiles[i].cfg = &cfg->profiles[i];
		s->profiles[i].certs =
			calloc(cfg->profiles[i].n_certs, sizeof(struct tls_cert_info));
		if (!s->profiles[i].certs)
			goto nomem;
		s->profiles[i].ctx =
			tlsprof_ctx_new(cfg, &cfg->profiles[i], s->profiles[i].certs, err, errlen);
		if (!s->profiles[i].ctx) {
			/* The messages above start with ":line:" or "SSL_CTX_new". */
			if (err[0] == ':')
				tlsprof_prefix_path(cfg, err, errlen);
			goto fail;
		}
		if (tickets_ring_get(&cfg->profiles[i], cfg->path, &s->profiles[i].ring, err,
				     errlen) < 0)
			goto fail;
	}
	if (cfg->handoff.socket) {
		s->client_ctx = client_ctx_new(cfg, err, errlen);
		if (!s->client_ctx)
			goto fail;
	}
	atomic_init(&s->refs, 1);
	s->release = tlsprof_release;
	s->generation = generation;
	*out = s;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	tlsprof_free(s, false); /* @cfg is still the caller's */
	return -EINVAL;
}

/**
 * tlsprof_new_ssl() - a server SSL for a new connection on listener @l.
 * @hs: the connection's handshake info; filled in here and used by the callbacks
 *
 * Return: the SSL (caller frees with SSL_free), or NULL with the error logged.
 */
SSL *tlsprof_new_ssl(const struct snapshot *s, const struct cfg_listener *l, struct hs_info *hs)
{
	SSL *ssl;

	hs->snap = s;
	hs->lcfg = l;
	hs->profile = hs->forced_profile >= 0 ? (size_t)hs->forced_profile : l->profiles[0];
	hs->sni[0] = '\0';
	hs->miss = RESUME_MISS_NONE;
	hs->offered = hs->early_offered = hs->early_replayed = false;
	hs->early_reading = l->early_data;
	ssl = SSL_new(s->profiles[hs->profile].ctx);
	if (!ssl) {
		log_ssl(LOG_LVL_ERR, "conn %llu: SSL_new", (unsigned long long)hs->conn_id);
		return NULL;
	}
	SSL_set_app_data(ssl, hs);
	SSL_set_accept_state(ssl);
	if (l->early_data) {
		/* Replays are caught by tickets.c, which keeps tickets stateless: without
		 * NO_ANTI_REPLAY OpenSSL would make every ticket a cache entry instead. */
		SSL_set_options(ssl, SSL_OP_NO_ANTI_REPLAY);
		if (!SSL_set_max_early_data(ssl, l->max_early_data) ||
		    !SSL_set_recv_max_early_data(ssl, l->max_early_data)) {
			log_ssl(LOG_LVL_ERR, "conn %llu: early data limits",
				(unsigned long long)hs->conn_id);
			SSL_free(ssl);
			return NULL;
		}
	}
	return ssl;
}
