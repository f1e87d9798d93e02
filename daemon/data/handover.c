// SPDX-License-Identifier: MIT
/*
 * handover.c - the switch from OpenSSL's records to kernel TLS, made exact.
 *
 * The kernel continues the record streams where OpenSSL stops, so at the moment the keys
 * go in, OpenSSL must have consumed exactly whole records and sent everything it wrote:
 *   1. the last handshake flight (TLS 1.3 tickets, TLS 1.2 Finished) leaves first;
 *   2. whatever the client sent after its Finished (a pipelined request, early data) is
 *      decrypted by OpenSSL and queued for the backend;
 *   3. if a record is only partly received, exactly its missing bytes are received (never
 *      more: what follows must stay in the socket for the kernel);
 *   4. ktlsd as a TLS 1.3 client first reads the server's NewSessionTickets: the kernel
 *      would hand a later one to the application's read() as an error, and the session
 *      cache wants them. It waits for the first, then for as long as more bytes are
 *      queued, at most client_ticket_wait per receive;
 *   5. then the sequence numbers counted by the BIO, the keys, and setsockopt(); the SSL
 *      object and its buffers are freed, leaving the connection its pipes.
 * Like the rest of the relay, each step arms the operations it waits for and returns.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "data.h"

/** handover_begin() - at handshake completion: decide whether to move to kernel TLS. */
void handover_begin(struct conn *c)
{
	const SSL_CIPHER *sc = SSL_get_current_cipher(c->tls.ssl);
	const struct ktls_cipher *ci = sc ? ktls_cipher_find(SSL_CIPHER_get_cipher_nid(sc)) : NULL;

	if (!c->lcfg->ktls) {
		stats_inc(c->w, STAT_KTLS_DISABLED);
	} else if (!ci || !ktls_kernel_supports(SSL_version(c->tls.ssl), ci)) {
		stats_inc(c->w, STAT_KTLS_UNSUPPORTED);
	} else {
		c->flags |= CONN_F_HANDOVER;
		c->ktls.gcm = ci->nid != NID_chacha20_poly1305;
		return;
	}
	stats_inc(c->w, STAT_PATH_USERSPACE);
	conn_set_gauge(c, GAUGE_USERSPACE);
	c->flags &= ~CONN_F_RECV_EXACT;
	/* Nothing will need the TLS 1.3 secrets any more. */
	OPENSSL_cleanse(c->tls.hs->secret, sizeof(c->tls.hs->secret));
}

/** handover_abandon() - stay on userspace records after all (handoff with pipelined data). */
void handover_abandon(struct conn *c)
{
	c->flags &= ~(CONN_F_HANDOVER | CONN_F_RECV_EXACT);
	OPENSSL_cleanse(c->tls.hs->secret, sizeof(c->tls.hs->secret));
	stats_inc(c->w, STAT_PATH_USERSPACE);
	conn_set_gauge(c, GAUGE_USERSPACE);
}

/* TLS 1.3 client: are tickets still to come (none yet, or more bytes queued)? */
static bool handover_tickets_pending(const struct conn *c)
{
	int queued = 0;

	if (!c->tls.hs->tickets)
		return true;
	if (ioctl(c->cfd, FIONREAD, &queued) < 0)
		return false;
	return queued > 0;
}

/* @why: the fallback counter to bump, or STAT__COUNT for none. */
static enum handover_result handover_stay_userspace(struct conn *c, enum stat_id why)
{
	c->flags &= ~(CONN_F_HANDOVER | CONN_F_RECV_EXACT);
	OPENSSL_cleanse(c->tls.hs->secret, sizeof(c->tls.hs->secret));
	if (why != STAT__COUNT)
		stats_inc(c->w, why);
	stats_inc(c->w, STAT_PATH_USERSPACE);
	conn_set_gauge(c, GAUGE_USERSPACE);
	return HANDOVER_USERSPACE;
}

static enum handover_result handover_install(struct conn *c)
{
	struct ktls_keys k = { 0 };
	unsigned installed = 0;
	int ret;

	/* The pipes first: without them the connection can still stay in userspace. */
	ret = splice_init(c);
	if (ret == 0)
		ret = ktls_export(c->tls.ssl, c->tls.hs, bio_seq(&c->tls.io, KTLS_TX),
				  bio_seq(&c->tls.io, KTLS_RX), &k);
	if (ret == 0)
		ret = ktls_install(c->cfd, &k, &installed);
	if (ret == 0)
		conn_log(c, LOG_LVL_DEBUG, "kernel TLS TX+RX: %s %s, tx_seq %llu, rx_seq %llu",
			 SSL_get_version(c->tls.ssl), k.cipher->name,
			 (unsigned long long)k.seq[KTLS_TX], (unsigned long long)k.seq[KTLS_RX]);
	ktls_keys_wipe(&k);
	if (ret < 0) {
		conn_log(c, installed ? LOG_LVL_ERR : LOG_LVL_INFO, "kernel TLS install: %s",
			 strerror(-ret));
		if (installed) {
			/* RX is in the kernel, TX is not: neither path can carry on. */
			conn_close(c, "kernel TLS install failed");
			return HANDOVER_CLOSED;
		}
		splice_fini(c);
		return handover_stay_userspace(c, STAT_KTLS_FAILED);
	}
	c->ktls.dirs = installed;
	c->flags &= ~CONN_F_HANDOVER;
	/* The kernel ends this connection, not OpenSSL: without this, SSL_free() would take
	 * the session for a failed one and drop it from the session cache. */
	SSL_set_shutdown(c->tls.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->tls.ssl);
	c->tls.ssl = NULL;
	buf_free(&c->tls.io.in);
	buf_free(&c->tls.io.out);
	buf_free(&c->relay.to_cli);
	stats_inc(c->w, STAT_PATH_KTLS);
	conn_set_gauge(c, GAUGE_KTLS);
	return HANDOVER_DONE;
}

/**
 * handover_step() - advance the switch; called by relay_pump() after it decrypted what
 * it could.
 *
 * Return: HANDOVER_WAIT (an operation is armed or the backend must drain to_back first),
 * HANDOVER_DONE (kernel TLS installed: relay with splice), HANDOVER_USERSPACE (stay on
 * OpenSSL records), HANDOVER_CLOSED (the connection was closed; do not touch it).
 */
enum handover_result handover_step(struct conn *c)
{
	struct tls_io *io = &c->tls.io;

	if (c->flags & (CONN_F_CLIENT_EOF | CONN_F_CLIENT_TCP_EOF))
		return handover_stay_userspace(c, STAT__COUNT); /* the client is done sending */
	if (buf_len(&io->out) || conn_op_pending(c, OP_CSEND)) {
		/* Often sent at once (relay_arm_client_send()): then no completion comes for
		 * it, and the switch goes on now. */
		relay_arm_client_send(c);
		if (buf_len(&io->out) || conn_op_pending(c, OP_CSEND))
			return HANDOVER_WAIT;
	}
	if (conn_op_pending(c, OP_CRECV))
		return HANDOVER_WAIT;
	if ((c->flags & CONN_F_TICKET_WAIT) && !buf_len(&io->in)) {
		if (handover_tickets_pending(c)) {
			c->flags |= CONN_F_RECV_EXACT;
			relay_arm_client_recv(c);
			return HANDOVER_WAIT;
		}
		c->flags &= ~CONN_F_TICKET_WAIT;
	}
	if (buf_len(&io->in)) {
		/* Whole records wait for room in to_back; a partial one gets its missing bytes. */
		c->flags |= CONN_F_RECV_EXACT;
		relay_arm_client_recv(c);
		return HANDOVER_WAIT;
	}
	if (SSL_pending(c->tls.ssl))
		return HANDOVER_WAIT;
	return handover_install(c);
}
