// SPDX-License-Identifier: MIT
/*
 * handshake.c - drives OpenSSL through the server handshake.
 *
 * OpenSSL never sees a socket: it reads the client's records from tls_io.in and writes its
 * own to tls_io.out (bio.c); the ring moves the bytes. This module only reports whether
 * the handshake wants more I/O, is done, or failed; it never touches the ring.
 */
#include <errno.h>

#include <openssl/err.h>

#include "ktlsd.h"

/* The largest legal TLS 1.2 record (2^14 + 2048 + header) must fit whole: see bio.c. */
#define HS_MIN_BUF (16384u + 2048u + 5u + 1024u)

/**
 * handshake_begin() - create the connection's SSL and its ciphertext buffers.
 * Return: 0 or -ENOMEM (logged).
 */
int handshake_begin(struct conn *c)
{
	uint32_t size = c->lcfg->buffer_size > HS_MIN_BUF ? c->lcfg->buffer_size : HS_MIN_BUF;
	BIO *bio;

	if (buf_alloc(&c->tio.in, size) < 0 || buf_alloc(&c->tio.out, size) < 0) {
		conn_log(c, LOG_LVL_ERR, "out of memory for buffers");
		return -ENOMEM;
	}
	c->ssl = tlsprof_new_ssl(c->snap, c->lcfg, &c->hs);
	if (!c->ssl)
		return -ENOMEM;
	bio = bio_new_tls_io(&c->tio);
	if (!bio) {
		conn_log(c, LOG_LVL_ERR, "out of memory for BIO");
		return -ENOMEM;
	}
	SSL_set_bio(c->ssl, bio, bio); /* one reference, owned by the SSL */
	return 0;
}

static void handshake_log_done(const struct conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	conn_log(c, LOG_LVL_DEBUG,
		 "handshake done: %s %s, profile \"%s\", sni \"%s\", alpn \"%.*s\"%s",
		 SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
		 c->snap->profiles[c->hs.profile].cfg->name, c->hs.sni, (int)alpn_len,
		 alpn ? (const char *)alpn : "", SSL_session_reused(c->ssl) ? ", resumed" : "");
}

/*
 * Once our last flight is out, the client's next records finish the handshake, and
 * whatever it sends after its Finished is best left in the socket for kernel TLS: from
 * then on the connection receives whole records only, never past them.
 */
static bool handshake_final_flight(const struct conn *c)
{
	if (!c->lcfg->ktls || !ktls_kernel_usable())
		return false;
	switch (SSL_get_state(c->ssl)) {
	case TLS_ST_SW_SRVR_DONE: /* TLS 1.2 full: ClientKeyExchange, CCS, Finished to come */
	case TLS_ST_SR_KEY_EXCH:
	case TLS_ST_SR_CHANGE:
	case TLS_ST_SW_FINISHED: /* TLS 1.2 resumed: the client's CCS and Finished to come */
	case TLS_ST_EARLY_DATA:	 /* TLS 1.3: where OpenSSL waits for the client's Finished */
		return true;
	default:
		return false;
	}
}

/**
 * handshake_step() - run OpenSSL on whatever arrived.
 *
 * Return: HS_DONE once the handshake completed (its last flight may still sit in
 * tls_io.out), HS_WANT_IO to wait for the ring, HS_FAILED with the reason logged and any
 * alert queued in tls_io.out.
 */
enum hs_result handshake_step(struct conn *c)
{
	uint64_t wr_before = c->tio.wr.records;
	int ret = SSL_do_handshake(c->ssl);
	int err;

	if (ret == 1) {
		bio_mark_app_keys(&c->tio, SSL_version(c->ssl), wr_before);
		handshake_log_done(c);
		return HS_DONE;
	}
	err = SSL_get_error(c->ssl, ret);
	switch (err) {
	case SSL_ERROR_WANT_READ:
		if (handshake_final_flight(c))
			c->flags |= CONN_F_RECV_EXACT;
		if (c->tio.in_eof) {
			conn_log(c, LOG_LVL_INFO, "handshake failed: client closed the connection");
			ERR_clear_error();
			return HS_FAILED;
		}
		return HS_WANT_IO;
	case SSL_ERROR_WANT_WRITE:
		return HS_WANT_IO;
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
		conn_log(c, LOG_LVL_INFO, "handshake failed: client closed the connection");
		ERR_clear_error();
		return HS_FAILED;
	default: {
		char errs[512];
		char peer[64];

		log_ssl_errors(errs, sizeof(errs));
		conn_log(c, LOG_LVL_INFO, "handshake failed from %s: %s",
			 conn_peer_str(c, peer, sizeof(peer)), errs);
		return HS_FAILED;
	}
	}
}
