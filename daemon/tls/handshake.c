// SPDX-License-Identifier: MIT
/*
 * handshake.c - drives OpenSSL through the server handshake.
 *
 * OpenSSL never sees a socket: it reads the client's records from tls_io.in and writes its
 * own to tls_io.out (bio.c); the ring moves the bytes. This module only reports whether
 * the handshake wants more I/O, is done, or failed; it never touches the ring.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls.h"

/* The largest legal TLS 1.2 record (2^14 + 2048 + header) must fit whole: see bio.c. */
#define HS_MIN_BUF (16384u + 2048u + 5u + 1024u)

/**
 * handshake_prepare() - the connection's handshake record (struct hs_info), allocated on
 * first use: a connection that has sent nothing yet holds none.
 * Return: 0 or -ENOMEM.
 */
int handshake_prepare(struct conn *c)
{
	if (c->tls.hs)
		return 0;
	c->tls.hs = calloc(1, sizeof(*c->tls.hs));
	if (!c->tls.hs)
		return -ENOMEM;
	c->tls.hs->conn_id = c->id;
	c->tls.hs->worker = c->w->idx;
	c->tls.hs->forced_profile = -1;
	return 0;
}

/** handshake_release() - wipe the secrets and free the handshake record. */
void handshake_release(struct conn *c)
{
	if (!c->tls.hs)
		return;
	OPENSSL_cleanse(c->tls.hs->secret, sizeof(c->tls.hs->secret));
	free(c->tls.hs);
	c->tls.hs = NULL;
}

/** handshake_io_size() - the size of a connection's ciphertext buffers: a whole record fits. */
uint32_t handshake_io_size(const struct cfg_listener *l)
{
	return l->buffer_size > HS_MIN_BUF ? l->buffer_size : HS_MIN_BUF;
}

/**
 * handshake_begin() - create the connection's SSL and its ciphertext buffers.
 * Return: 0 or -ENOMEM (logged).
 */
int handshake_begin(struct conn *c)
{
	uint32_t size = handshake_io_size(c->lcfg);
	BIO *bio;

	if (handshake_prepare(c) < 0 || buf_alloc(&c->tls.io.in, size) < 0 ||
	    buf_alloc(&c->tls.io.out, size) < 0) {
		conn_log(c, LOG_LVL_ERR, "out of memory for buffers");
		return -ENOMEM;
	}
	c->tls.ssl = c->tls.hs->client ? client_new_ssl(c->snap, c->tls.hs)
				       : tlsprof_new_ssl(c->snap, c->lcfg, c->tls.hs);
	if (!c->tls.ssl)
		return -ENOMEM;
	bio = bio_new_tls_io(&c->tls.io);
	if (!bio) {
		conn_log(c, LOG_LVL_ERR, "out of memory for BIO");
		return -ENOMEM;
	}
	SSL_set_bio(c->tls.ssl, bio, bio); /* one reference, owned by the SSL */
	return 0;
}

static void handshake_log_done(const struct conn *c, bool resumed, uint32_t early)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	char early_str[48] = "";

	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	SSL_get0_alpn_selected(c->tls.ssl, &alpn, &alpn_len);
	if (early)
		snprintf(early_str, sizeof(early_str), ", early data %u bytes", early);
	if (c->tls.hs->client) {
		conn_log(c, LOG_LVL_DEBUG,
			 "client handshake done on worker %u: %s %s to \"%s\", alpn \"%.*s\"%s, "
			 "verify %ld",
			 c->w->idx, SSL_get_version(c->tls.ssl), SSL_get_cipher_name(c->tls.ssl),
			 c->tls.hs->sni, (int)alpn_len, alpn ? (const char *)alpn : "",
			 resumed ? ", resumed" : "", c->tls.hs->verify_result);
		return;
	}
	conn_log(
		c, LOG_LVL_DEBUG,
		"handshake done on worker %u: %s %s, profile \"%s\", sni \"%s\", alpn \"%.*s\"%s%s",
		c->w->idx, SSL_get_version(c->tls.ssl), SSL_get_cipher_name(c->tls.ssl),
		c->snap->profiles[c->tls.hs->profile].cfg->name, c->tls.hs->sni, (int)alpn_len,
		alpn ? (const char *)alpn : "", resumed ? ", resumed" : "", early_str);
}

/* Client role: what the reply tells about the server's certificate. */
static void handshake_note_peer(struct conn *c)
{
	X509 *peer = SSL_get0_peer_certificate(c->tls.ssl);

	c->tls.hs->verify_result = SSL_get_verify_result(c->tls.ssl);
	c->tls.hs->peer_subject[0] = '\0';
	if (peer)
		tls_name_str(X509_get_subject_name(peer), c->tls.hs->peer_subject,
			     sizeof(c->tls.hs->peer_subject));
}

/* Counts the handshake as full or resumed, why an offered session missed, and 0-RTT. */
static void handshake_account(struct conn *c)
{
	static const enum lstat_id miss_stat[] = {
		[RESUME_MISS_UNKNOWN_KEY] = LSTAT_MISS_UNKNOWN_KEY,
		[RESUME_MISS_BAD_TICKET] = LSTAT_MISS_BAD_TICKET,
		[RESUME_MISS_CACHE] = LSTAT_MISS_CACHE,
		[RESUME_MISS_EXPIRED] = LSTAT_MISS_EXPIRED,
	};
	struct listener_stats *ls = c->snap->lstats[c->listener];
	const struct hs_info *hs = c->tls.hs;
	bool resumed = SSL_session_reused(c->tls.ssl);
	bool early = SSL_get_early_data_status(c->tls.ssl) == SSL_EARLY_DATA_ACCEPTED;

	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	/* What `ktlsctl conns` shows once the SSL object is gone. */
	c->tls.resumed = resumed;
	c->tls.version = SSL_get_version(c->tls.ssl);
	c->tls.cipher = SSL_get_cipher_name(c->tls.ssl);
	{
		int nid = SSL_get_negotiated_group(c->tls.ssl);
		const char *g = nid ? SSL_group_to_name(c->tls.ssl, nid) : NULL;

		snprintf(c->tls.group, sizeof(c->tls.group), "%s", g ? g : "");
	}
	if (hs->client)
		handshake_note_peer(c);
	SSL_get0_alpn_selected(c->tls.ssl, &alpn, &alpn_len);
	if (alpn && alpn_len < sizeof(c->tls.alpn)) {
		memcpy(c->tls.alpn, alpn, alpn_len);
		c->tls.alpn[alpn_len] = '\0';
	}
	lstats_inc(ls, hs->worker, resumed ? LSTAT_HS_RESUMED : LSTAT_HS_FULL);
	if (!resumed && hs->miss != RESUME_MISS_NONE)
		lstats_inc(ls, hs->worker, miss_stat[hs->miss]);
	else if (!resumed && hs->offered)
		lstats_inc(ls, hs->worker, LSTAT_MISS_MISMATCH);
	/* early_data_replayed was counted when the replay was caught (tickets.c). */
	if (early)
		lstats_inc(ls, hs->worker, LSTAT_EARLY_ACCEPTED);
	else if (hs->early_offered && !hs->early_replayed)
		lstats_inc(ls, hs->worker, LSTAT_EARLY_REJECTED);
	handshake_log_done(c, resumed, early ? c->relay.early_bytes : 0);
}

/* What reading 0-RTT data came to. */
enum early_read {
	EARLY_IO,	/* OpenSSL wants I/O, or failed: SSL_get_error() tells */
	EARLY_FINISHED, /* no more early data: the handshake goes on */
	EARLY_FORWARD,	/* early_data_forward: send what was read now, then step again */
	EARLY_REFUSED,	/* the connection must close, for a reason of ours (logged) */
};

/*
 * Reads 0-RTT data into c->relay.early for as long as OpenSSL has some; it waits there until the
 * handshake completes (or, with early_data_forward, goes at once).
 */
static enum early_read handshake_read_early(struct conn *c)
{
	if (buf_alloc(&c->relay.early, c->lcfg->max_early_data) < 0) {
		conn_log(c, LOG_LVL_ERR, "out of memory for early data");
		return EARLY_REFUSED;
	}
	for (;;) {
		size_t n = 0;
		int r;

		if (!buf_room(&c->relay.early)) {
			conn_log(c, LOG_LVL_INFO, "early data exceeds max_early_data");
			return EARLY_REFUSED;
		}
		r = SSL_read_early_data(c->tls.ssl, buf_wptr(&c->relay.early),
					buf_room(&c->relay.early), &n);
		if (r == SSL_READ_EARLY_DATA_SUCCESS) {
			c->relay.early.tail += (uint32_t)n;
			c->relay.early_bytes += (uint32_t)n;
			c->bytes_in += n;
			stats_add(c->w, STAT_BYTES_FROM_CLIENTS, n);
			if (c->lcfg->early_data_forward)
				return EARLY_FORWARD;
			continue;
		}
		if (r == SSL_READ_EARLY_DATA_FINISH) {
			c->tls.hs->early_reading = false;
			if (!buf_len(&c->relay.early))
				buf_free(&c->relay.early);
			return EARLY_FINISHED;
		}
		return EARLY_IO;
	}
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
	/* A client cannot tell from its state which server record is the last before the
	 * server's application data (TLS 1.3 servers may send data right after their
	 * Finished): once the ServerHello is on its way, it takes records one at a time. */
	if (c->tls.hs->client)
		return SSL_get_state(c->tls.ssl) != TLS_ST_BEFORE &&
		       SSL_get_state(c->tls.ssl) != TLS_ST_CW_CLNT_HELLO;
	switch (SSL_get_state(c->tls.ssl)) {
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
 * handshake_failure_reason() - why the handshake of @c failed, as a LSTAT_FAIL_* counter,
 * from the OpenSSL error queue (peeked, not consumed) and what the callbacks noted.
 */
static enum lstat_id handshake_failure_reason(const struct conn *c)
{
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);

	if (c->tls.hs->sni_refused)
		return LSTAT_FAIL_SNI;
	if (c->tls.hs->client && c->tls.hs->verify_result != X509_V_OK)
		return LSTAT_FAIL_VERIFY;
	if (!e || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return e ? LSTAT_FAIL_INTERNAL : LSTAT_FAIL_PROTOCOL;
	/* A fatal alert from the peer is reported as SSL_AD_REASON_OFFSET + its code. */
	if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
		return LSTAT_FAIL_ALERT;
	switch (reason) {
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
	case SSL_R_NO_CIPHERS_AVAILABLE:
	case SSL_R_NO_SUITABLE_KEY_SHARE:
		return LSTAT_FAIL_NO_SHARED;
	case ERR_R_MALLOC_FAILURE:
	case ERR_R_INTERNAL_ERROR:
		return LSTAT_FAIL_INTERNAL;
	default:
		return LSTAT_FAIL_PROTOCOL;
	}
}

/**
 * handshake_step() - run OpenSSL on whatever arrived.
 *
 * Return: HS_DONE once the handshake completed (its last flight may still sit in
 * tls_io.out), HS_WANT_IO to wait for the ring, HS_EARLY_DATA when 0-RTT data in c->relay.early
 * is to be forwarded now (then call again), HS_FAILED with the reason logged and any
 * alert queued in tls_io.out.
 */
enum hs_result handshake_step(struct conn *c)
{
	enum early_read early = EARLY_FINISHED;
	uint64_t wr_before;
	int ret = 0, err;

	if (c->tls.hs->early_reading) {
		early = handshake_read_early(c);
		if (early == EARLY_REFUSED) {
			c->tls.fail = LSTAT_FAIL_PROTOCOL;
			return HS_FAILED;
		}
		if (early == EARLY_FORWARD)
			return HS_EARLY_DATA;
	}
	if (early == EARLY_FINISHED) {
		/* Only the step that completes the handshake may follow: see bio.c. */
		wr_before = c->tls.io.wr.records;
		ret = SSL_do_handshake(c->tls.ssl);
		if ((c->flags & CONN_F_HELLO_DEADLINE) && c->tls.hs->hello_seen) {
			/* The ClientHello is in: the whole handshake's deadline takes over. */
			c->flags &= ~CONN_F_HELLO_DEADLINE;
			c->deadline_ms = c->started_ms + c->lcfg->handshake_timeout_ms;
		}
		if (ret == 1) {
			bio_mark_app_keys(&c->tls.io, SSL_version(c->tls.ssl),
					  SSL_is_server(c->tls.ssl), wr_before);
			handshake_account(c);
			return HS_DONE;
		}
	}
	err = SSL_get_error(c->tls.ssl, ret);
	switch (err) {
	case SSL_ERROR_WANT_READ:
		if (handshake_final_flight(c))
			c->flags |= CONN_F_RECV_EXACT;
		if (c->tls.io.in_eof) {
			conn_log(c, LOG_LVL_INFO, "handshake failed: %s closed the connection",
				 c->tls.hs->client ? "server" : "client");
			c->tls.fail = LSTAT_FAIL_CLOSED;
			ERR_clear_error();
			return HS_FAILED;
		}
		return HS_WANT_IO;
	case SSL_ERROR_WANT_WRITE:
		return HS_WANT_IO;
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
		conn_log(c, LOG_LVL_INFO, "handshake failed: %s closed the connection",
			 c->tls.hs->client ? "server" : "client");
		c->tls.fail = LSTAT_FAIL_CLOSED;
		ERR_clear_error();
		return HS_FAILED;
	default: {
		char errs[512];
		char peer[64], sni[256];

		if (c->tls.hs->client)
			handshake_note_peer(c);
		c->tls.fail = handshake_failure_reason(c);
		log_ssl_errors(errs, sizeof(errs));
		conn_log(c, LOG_LVL_INFO, "handshake failed from %s (sni %s): %s",
			 conn_peer_str(c, peer, sizeof(peer)), conn_sni_str(c, sni, sizeof(sni)),
			 errs);
		return HS_FAILED;
	}
	}
}
