// SPDX-License-Identifier: MIT
/*
 * probe_tls.c - the TLS side of `probe`: the client contexts, and one connection on a
 * non-blocking socket with a deadline for each step (handshake, optional 0-RTT data,
 * waiting for a session ticket, close_notify).
 *
 * Sessions are caught with the new-session callback (client cache mode, nothing kept
 * inside OpenSSL), so that a TLS 1.3 ticket is seen when it arrives after the
 * handshake. Every OpenSSL call is checked; failures carry the error queue's text.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "probe.h"

/**
 * probe_ssl_error() - "WHAT: error:...; error:..." from OpenSSL's error queue, emptied.
 * @err:  the text
 * @elen: its size
 * @what: what failed
 */
void probe_ssl_error(char *err, size_t elen, const char *what)
{
	unsigned long e;
	size_t off;
	int n = snprintf(err, elen, "%s", what);
	bool any = false;

	off = n < 0 ? 0 : (size_t)n;
	while ((e = ERR_get_error()) != 0) {
		char b[256];

		ERR_error_string_n(e, b, sizeof(b));
		if (off < elen) {
			n = snprintf(err + off, elen - off, "%s%s", any ? "; " : ": ", b);
			off += n < 0 ? 0 : (size_t)n;
		}
		any = true;
	}
	if (!any && off < elen)
		snprintf(err + off, elen - off, ": (no OpenSSL error reported)");
}

/* Keeps the first session the server gives on a connection (TLS 1.3 may send more). */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct probe_conn *c = SSL_get_app_data(ssl);

	if (!c || c->session)
		return 0; /* OpenSSL frees it */
	c->session = sess;
	return 1; /* the reference is ours */
}

/* The certificate must name @name: a host name, or an IP address (a zone is dropped). */
static int set_verify_name(SSL_CTX *ctx, const char *name, char *err, size_t elen)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
	char ip[64];
	int ok;

	if (probe_is_ip(name)) {
		snprintf(ip, sizeof(ip), "%.*s", (int)strcspn(name, "%"), name);
		ok = X509_VERIFY_PARAM_set1_ip_asc(param, ip);
	} else {
		ok = X509_VERIFY_PARAM_set1_host(param, name, 0);
	}
	if (ok != 1) {
		probe_ssl_error(err, elen, "setting the name to verify");
		return -1;
	}
	return 0;
}

static SSL_CTX *new_ctx(const struct probe_conf *c, bool tickets, char *err, size_t elen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char what[PROBE_ERR_LEN];

	if (!ctx) {
		probe_ssl_error(err, elen, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, c->version ? c->version : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, c->version ? c->version : TLS1_3_VERSION) != 1) {
		probe_ssl_error(err, elen, "setting the TLS versions");
		goto fail;
	}
	if (c->cafile) {
		if (SSL_CTX_load_verify_locations(ctx, c->cafile, NULL) != 1) {
			snprintf(what, sizeof(what), "--cafile %s", c->cafile);
			probe_ssl_error(err, elen, what);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		probe_ssl_error(err, elen, "the system's CA store");
		goto fail;
	}
	if (set_verify_name(ctx, c->verify_name, err, elen) != 0)
		goto fail;
	/* with SSL_VERIFY_NONE OpenSSL still verifies, and keeps the result */
	SSL_CTX_set_verify(ctx, c->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	/* SSL_CTX_set_alpn_protos() returns 0 on success */
	if (c->alpn_wire && SSL_CTX_set_alpn_protos(ctx, c->alpn_wire, (unsigned int)c->alpn_len)) {
		probe_ssl_error(err, elen, "setting the ALPN list");
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	if (!tickets)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/**
 * probe_tls_init() - the two client contexts, with tickets and without.
 * @t:    gets them
 * @c:    versions, verification (CA file or the system store, the name), ALPN
 * @err:  the reason on failure
 * @elen: its size
 *
 * Without --insecure the handshake fails on a verification error; with it, the
 * result is only kept (SSL_get_verify_result()).
 * Return: 0, or -1 with @err set and nothing to free.
 */
int probe_tls_init(struct probe_tls *t, const struct probe_conf *c, char *err, size_t elen)
{
	t->ctx = new_ctx(c, true, err, elen);
	t->noticket = t->ctx ? new_ctx(c, false, err, elen) : NULL;
	if (!t->noticket) {
		probe_tls_free(t);
		return -1;
	}
	return 0;
}

/**
 * probe_tls_free() - free both contexts (either may be NULL).
 * @t: the contexts
 */
void probe_tls_free(struct probe_tls *t)
{
	SSL_CTX_free(t->ctx);
	SSL_CTX_free(t->noticket);
	t->ctx = t->noticket = NULL;
}

/* The reason of a failed handshake whose error queue says the verification failed. */
static bool verify_failure(SSL *ssl, const struct probe_conf *conf, const char *what, char *err,
			   size_t elen)
{
	unsigned long e = ERR_peek_last_error();
	long v = SSL_get_verify_result(ssl);

	if (ERR_GET_LIB(e) != ERR_LIB_SSL || ERR_GET_REASON(e) != SSL_R_CERTIFICATE_VERIFY_FAILED ||
	    v == X509_V_OK)
		return false;
	ERR_clear_error();
	if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		snprintf(err, elen, "%s: certificate verification failed: %s (expected %s)", what,
			 X509_verify_cert_error_string(v), conf->verify_name);
	else
		snprintf(err, elen, "%s: certificate verification failed: %s", what,
			 X509_verify_cert_error_string(v));
	return true;
}

/* Waits as OpenSSL's error @e asks (WANT_READ / WANT_WRITE); 0 for any other error. */
static int probe_wait_ssl(const struct probe_conn *c, int e, double deadline)
{
	if (e == SSL_ERROR_WANT_READ)
		return probe_wait_fd(c->fd, POLLIN, deadline);
	if (e == SSL_ERROR_WANT_WRITE)
		return probe_wait_fd(c->fd, POLLOUT, deadline);
	return 0;
}

/*
 * After an SSL call on @c returned @ret (not success), with errno @saved: waits for the
 * socket as OpenSSL asks, until @deadline.
 * Return: true to call again, false with @err set.
 */
static bool ssl_again(struct probe_conn *c, const struct probe_conf *conf, int ret, int saved,
		      double deadline, const char *what, char *err, size_t elen)
{
	int e = SSL_get_error(c->ssl, ret), w;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		w = probe_wait_fd(c->fd, POLLIN, deadline);
		break;
	case SSL_ERROR_WANT_WRITE:
		w = probe_wait_fd(c->fd, POLLOUT, deadline);
		break;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(err, elen, "%s: the server closed the connection (close_notify)", what);
		return false;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error())
			probe_ssl_error(err, elen, what);
		else if (saved)
			snprintf(err, elen, "%s: %s", what, strerror(saved));
		else
			snprintf(err, elen, "%s: the server closed the connection", what);
		return false;
	case SSL_ERROR_SSL:
		if (!verify_failure(c->ssl, conf, what, err, elen))
			probe_ssl_error(err, elen, what);
		return false;
	default:
		snprintf(err, elen, "%s: SSL_get_error() %d", what, e);
		ERR_clear_error();
		return false;
	}
	if (w == 0)
		snprintf(err, elen, "%s: no progress within %g s", what, conf->timeout);
	else if (w < 0)
		snprintf(err, elen, "%s: poll: %s", what, strerror(errno));
	return w > 0;
}

/* SSL_write_early_data() of all of @buf, then the rest of the handshake. */
static int handshake(struct probe_conn *c, const struct probe_conf *conf, const unsigned char *buf,
		     size_t len, char *err, size_t elen)
{
	double deadline = probe_now() + conf->timeout;
	size_t off = 0, n;
	int ret;

	while (off < len) {
		ERR_clear_error();
		errno = 0;
		n = 0;
		ret = SSL_write_early_data(c->ssl, buf + off, len - off, &n);
		if (ret == 1) {
			off += n;
			continue;
		}
		if (!ssl_again(c, conf, ret, errno, deadline, "0-RTT data", err, elen))
			return -1;
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		ret = SSL_connect(c->ssl);
		if (ret == 1)
			return 0;
		if (!ssl_again(c, conf, ret, errno, deadline, "handshake", err, elen))
			return -1;
	}
}

/**
 * probe_conn_open() - connect, then a TLS handshake, each timed.
 * @c:         the connection (overwritten); connect_ms and handshake_ms are set
 * @ctx:       the context to use
 * @conf:      SNI and the timeout of each step
 * @sa:        the address
 * @salen:     its length
 * @offer:     the session to resume, or NULL for a full handshake
 * @early:     with @offer, 0-RTT data to send before the handshake ends, or NULL
 * @early_len: its length
 * @err:       the reason on failure
 * @elen:      its size
 *
 * The handshake time runs from the established TCP connection to SSL_connect()'s
 * success (SSL_write_early_data() included).
 * Return: 0; PROBE_ECONNECT if the TCP connection failed, PROBE_ETLS if what came
 * after did, with @err set and @c closed.
 */
int probe_conn_open(struct probe_conn *c, SSL_CTX *ctx, const struct probe_conf *conf,
		    const struct sockaddr *sa, socklen_t salen, SSL_SESSION *offer,
		    const unsigned char *early, size_t early_len, char *err, size_t elen)
{
	double t0;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ERR_clear_error();
	c->ssl = SSL_new(ctx);
	if (!c->ssl) {
		probe_ssl_error(err, elen, "SSL_new");
		return PROBE_ETLS;
	}
	if (SSL_set_app_data(c->ssl, c) != 1) {
		probe_ssl_error(err, elen, "SSL_set_app_data");
		goto fail;
	}
	if (conf->sni && SSL_set_tlsext_host_name(c->ssl, conf->sni) != 1) {
		probe_ssl_error(err, elen, "setting the server name (SNI)");
		goto fail;
	}
	if (offer && SSL_set_session(c->ssl, offer) != 1) {
		probe_ssl_error(err, elen, "SSL_set_session");
		goto fail;
	}
	c->fd = probe_tcp_connect(sa, salen, conf->timeout, &c->connect_ms, err, elen);
	if (c->fd < 0) {
		probe_conn_close(c, 0);
		return PROBE_ECONNECT;
	}
	if (SSL_set_fd(c->ssl, c->fd) != 1) {
		probe_ssl_error(err, elen, "SSL_set_fd");
		goto fail;
	}
	t0 = probe_now();
	if (handshake(c, conf, early, offer && early ? early_len : 0, err, elen) != 0)
		goto fail;
	c->handshake_ms = (probe_now() - t0) * 1000.0;
	return 0;
fail:
	/* no close_notify: the handshake did not finish */
	probe_conn_close(c, 0);
	return PROBE_ETLS;
}

/**
 * probe_conn_await_session() - read until the server gave a session.
 * @c:    an open connection
 * @wait: seconds at most
 *
 * TLS 1.3 tickets come after the handshake: this reads (dropping application data)
 * until the new-session callback got one, the server closed, or @wait passed.
 * Return: the session, still owned by @c, or NULL.
 */
SSL_SESSION *probe_conn_await_session(struct probe_conn *c, double wait)
{
	double deadline = probe_now() + wait;
	unsigned char buf[4096];

	while (!c->session) {
		int ret, e, w;

		ERR_clear_error();
		ret = SSL_read(c->ssl, buf, sizeof(buf));
		if (ret > 0 || c->session)
			continue; /* application data is not ours to keep */
		e = SSL_get_error(c->ssl, ret);
		w = probe_wait_ssl(c, e, deadline); /* 0 when closed or an error: no session */
		if (w <= 0)
			break;
	}
	ERR_clear_error();
	return c->session;
}

/* Reads (and drops) until the server's close_notify, its FIN, an error or @deadline. */
static void drain(struct probe_conn *c, double deadline)
{
	unsigned char buf[4096];

	for (;;) {
		int ret, e, w;

		ERR_clear_error();
		ret = SSL_read(c->ssl, buf, sizeof(buf));
		if (ret > 0)
			continue;
		e = SSL_get_error(c->ssl, ret);
		w = probe_wait_ssl(c, e, deadline);
		if (w <= 0)
			return;
	}
}

/**
 * probe_conn_close() - close_notify, wait for the server's, close, free.
 * @c:    the connection; all zero afterwards (fd -1)
 * @wait: seconds at most for the server's close_notify (or FIN)
 *
 * Only a connection whose handshake finished gets a close_notify. Reading until the
 * server's close_notify also takes in a late ticket, so that close() sends no reset.
 */
void probe_conn_close(struct probe_conn *c, double wait)
{
	if (c->ssl && c->fd >= 0 && SSL_is_init_finished(c->ssl)) {
		double deadline = probe_now() + wait;
		int ret, e, w;

		for (;;) {
			ERR_clear_error();
			ret = SSL_shutdown(c->ssl); /* 0: close_notify sent, 1: both ways */
			if (ret >= 0)
				break;
			e = SSL_get_error(c->ssl, ret);
			w = probe_wait_ssl(c, e, deadline);
			if (w <= 0)
				break;
		}
		/* the server's close_notify: and nothing unread makes close() send a reset */
		if (ret == 0)
			drain(c, deadline);
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	SSL_SESSION_free(c->session);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}
