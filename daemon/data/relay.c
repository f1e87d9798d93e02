// SPDX-License-Identifier: MIT
/*
 * relay.c - moving bytes for one connection, on the userspace record path.
 *
 * Four bounded buffers per connection:
 *
 *   client --recv--> tio.in  --SSL_read-->  to_back --send--> backend
 *   client <--send-- tio.out <--SSL_write-- to_cli  <--recv-- backend
 *
 * relay_pump() is the one place that decides what happens next: it runs the record layer
 * over whatever arrived, then arms each operation that has work and is not in flight. A
 * full buffer simply leaves its producer unarmed, which is the backpressure. Every
 * completion handler updates one buffer and calls relay_pump(). A connection quiet for a
 * tick frees all four and waits with polls until data comes (relay_park.c).
 *
 * Half-close: the client's close_notify (or FIN) becomes a shutdown(SHUT_WR) toward the
 * backend once its data is delivered; the backend's FIN becomes close_notify and a
 * shutdown(SHUT_WR) toward the client. The connection ends when both directions have.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "data.h"

#define TLS_MAX_PLAIN	    16384u
#define TLS_RECORD_OVERHEAD 64u /* header, AEAD tag, TLS 1.3 type byte, with headroom */

/* Client records into to_back. Return: false if @c was closed (a TLS error). */
static bool relay_decrypt(struct conn *c)
{
	struct buf *b = &c->relay.to_back;

	if (!conn_op_pending(c, OP_BSEND))
		buf_compact(b);
	while (!(c->flags & CONN_F_CLIENT_EOF) && buf_room(b)) {
		size_t n = 0;
		int err;

		if (SSL_read_ex(c->tls.ssl, buf_wptr(b), buf_room(b), &n)) {
			b->tail += (uint32_t)n;
			c->bytes_in += n;
			stats_add(c->w, STAT_BYTES_USERSPACE, n);
			stats_add(c->w, STAT_BYTES_FROM_CLIENTS, n);
			continue;
		}
		err = SSL_get_error(c->tls.ssl, 0);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			break;
		if (err == SSL_ERROR_ZERO_RETURN) {
			/* With SSL_OP_IGNORE_UNEXPECTED_EOF a bare FIN also ends up here. */
			conn_log(c, LOG_LVL_DEBUG, "client finished sending (close_notify or FIN)");
			c->flags |= CONN_F_CLIENT_EOF;
			break;
		}
		char errs[512];

		log_ssl_errors(errs, sizeof(errs));
		conn_log(c, LOG_LVL_INFO, "TLS error from client: %s", errs);
		conn_flush_close(c, "TLS error");
		return false;
	}
	return true;
}

/* to_cli into client records. Return: false if @c was closed (a TLS error). */
static bool relay_encrypt(struct conn *c)
{
	struct buf *src = &c->relay.to_cli;
	struct buf *out = &c->tls.io.out;

	while (buf_len(src) && !(c->flags & CONN_F_NOTIFY_QUEUED)) {
		uint32_t n = buf_len(src) < TLS_MAX_PLAIN ? buf_len(src) : TLS_MAX_PLAIN;
		uint32_t room;
		size_t written = 0;

		if (!c->tls.io.out_busy)
			buf_compact(out);
		room = buf_room(out);
		/* Only whole records go to the BIO, so OpenSSL never holds a partial write. */
		if (room < TLS_RECORD_OVERHEAD + 1)
			break;
		if (n > room - TLS_RECORD_OVERHEAD)
			n = room - TLS_RECORD_OVERHEAD;
		if (SSL_write_ex(c->tls.ssl, buf_rptr(src), n, &written)) {
			buf_consume(src, (uint32_t)written);
			c->bytes_out += written;
			stats_add(c->w, STAT_BYTES_USERSPACE, written);
			stats_add(c->w, STAT_BYTES_TO_CLIENTS, written);
			continue;
		}
		if (SSL_get_error(c->tls.ssl, 0) == SSL_ERROR_WANT_WRITE)
			break;
		char errs[512];

		log_ssl_errors(errs, sizeof(errs));
		conn_log(c, LOG_LVL_ERR, "TLS write failed: %s", errs);
		conn_close(c, "TLS write error");
		return false;
	}
	if ((c->flags & CONN_F_BACKEND_EOF) && !buf_len(src) &&
	    !(c->flags & CONN_F_NOTIFY_QUEUED)) {
		/* 0 means "sent, not yet received": exactly the half-close we want. */
		SSL_shutdown(c->tls.ssl);
		ERR_clear_error();
		c->flags |= CONN_F_NOTIFY_QUEUED;
	}
	return true;
}

/* Turns finished directions into TCP half-closes; returns true when all is done. */
static bool relay_half_close(struct conn *c)
{
	if ((c->flags & CONN_F_CLIENT_EOF) && !(c->flags & CONN_F_BACKEND_SHUT) &&
	    !buf_len(&c->relay.to_back) && !conn_op_pending(c, OP_BSEND)) {
		if (shutdown(c->bfd, SHUT_WR) < 0 && errno != ENOTCONN)
			conn_log(c, LOG_LVL_DEBUG, "backend shutdown: %s", strerror(errno));
		c->flags |= CONN_F_BACKEND_SHUT;
	}
	if ((c->flags & CONN_F_NOTIFY_QUEUED) && !(c->flags & CONN_F_CLIENT_SHUT) &&
	    !buf_len(&c->tls.io.out) && !conn_op_pending(c, OP_CSEND)) {
		if (shutdown(c->cfd, SHUT_WR) < 0 && errno != ENOTCONN)
			conn_log(c, LOG_LVL_DEBUG, "client shutdown: %s", strerror(errno));
		c->flags |= CONN_F_CLIENT_SHUT;
	}
	return (c->flags & CONN_F_BACKEND_SHUT) && (c->flags & CONN_F_CLIENT_SHUT);
}

static void relay_arm_client(struct conn *c)
{
	relay_arm_client_recv(c);
	relay_arm_client_send(c);
}

static void relay_arm_backend(struct conn *c)
{
	if (!(c->flags & CONN_F_BACKEND_EOF) && !conn_op_pending(c, OP_BRECV)) {
		buf_compact(&c->relay.to_cli);
		if (!c->relay.to_cli.data)
			relay_arm_poll(c, OP_BPARK, c->bfd); /* parked (relay_park.c) */
		else if (buf_room(&c->relay.to_cli))
			relay_arm(c, OP_BRECV, c->bfd, &c->relay.to_cli, true, 0);
	}
	if (c->state == CONN_RELAY && buf_len(&c->relay.to_back) && !conn_op_pending(c, OP_BSEND))
		relay_arm(c, OP_BSEND, c->bfd, &c->relay.to_back, false, 0);
}

/**
 * relay_shutdown() - queue close_notify for the client, send what is queued, then close.
 * For connections past the handshake; the caller must not touch @c afterwards.
 */
void relay_shutdown(struct conn *c, const char *reason)
{
	if (c->ktls.dirs & KTLS_F_TX) {
		int ret = splice_send_close_notify(c);

		if (ret < 0)
			conn_log(c, LOG_LVL_DEBUG, "close_notify: %s", strerror(-ret));
		conn_close(c, reason);
		return;
	}
	if (!c->tls.io.out.data && !relay_unpark(c))
		return; /* parked, and out of memory */
	if (!(c->flags & CONN_F_NOTIFY_QUEUED)) {
		SSL_shutdown(c->tls.ssl);
		ERR_clear_error();
		c->flags |= CONN_F_NOTIFY_QUEUED;
	}
	conn_flush_close(c, reason);
}

/**
 * relay_pump() - run the record layer and arm whatever the connection needs next.
 * May close (and free) the connection: the caller must not touch @c afterwards.
 */
void relay_pump(struct conn *c)
{
	c->flags &= ~(CONN_F_IDLE | CONN_F_PARKING); /* something moved */
	switch (c->state) {
	case CONN_CLOSING:
		return;
	case CONN_FLUSHING:
		if (!buf_len(&c->tls.io.out) && !conn_op_pending(c, OP_CSEND)) {
			conn_close(c, c->close_reason);
			return;
		}
		relay_arm_client(c);
		return;
	case CONN_HANDSHAKE:
		if (!c->tls.ssl)
			return; /* still waiting for the first bytes (OP_CPOLL) */
		relay_arm_client(c);
		if ((c->flags & CONN_F_BACKEND_UP) && buf_len(&c->relay.to_back) &&
		    !conn_op_pending(c, OP_BSEND))
			relay_arm(c, OP_BSEND, c->bfd, &c->relay.to_back, false, 0);
		return;
	case CONN_CONNECTING:
	case CONN_RELAY:
		break;
	}
	if (c->ktls.dirs) {
		splice_pump(c);
		return;
	}
	if (!relay_decrypt(c))
		return;
	if (c->flags & CONN_F_HANDOVER) {
		switch (handover_step(c)) {
		case HANDOVER_DONE:
			if (c->app_ops) {
				c->app_ops->on_ktls(c);
				return;
			}
			splice_pump(c);
			return;
		case HANDOVER_WAIT:
			/* A handoff has no backend to drain to_back into yet: relay instead. */
			if (c->app_ops && c->bfd < 0 && buf_len(&c->relay.to_back)) {
				handover_abandon(c);
				if (c->app_ops->start_relay(c))
					relay_pump(c);
				return;
			}
			/* Only the backend may move meanwhile, to make room in to_back. */
			if (c->state == CONN_RELAY && buf_len(&c->relay.to_back) &&
			    !conn_op_pending(c, OP_BSEND))
				relay_arm(c, OP_BSEND, c->bfd, &c->relay.to_back, false, 0);
			return;
		case HANDOVER_CLOSED:
			return;
		case HANDOVER_USERSPACE:
			if (c->app_ops && c->bfd < 0 && !c->app_ops->start_relay(c))
				return;
			break;
		}
	}
	if (c->state == CONN_RELAY) {
		if (!relay_encrypt(c))
			return;
		if (relay_half_close(c)) {
			conn_close(c, "done");
			return;
		}
	}
	relay_arm_client(c);
	if (c->state == CONN_RELAY)
		relay_arm_backend(c);
}

/*
 * 0-RTT data in c->relay.early joins the backend buffer, behind the PROXY header (config.c keeps
 * max_early_data and the header within buffer_size). @keep: more may follow (forwarding
 * during the handshake), so the buffer stays allocated. Return: 0 or -ENOSPC (logged).
 */
static int relay_move_early(struct conn *c, bool keep)
{
	uint32_t n = buf_len(&c->relay.early);

	if (!c->relay.early.data)
		return 0;
	if (n > buf_room(&c->relay.to_back)) {
		conn_log(c, LOG_LVL_ERR, "early data does not fit the backend buffer");
		return -ENOSPC;
	}
	memcpy(buf_wptr(&c->relay.to_back), buf_rptr(&c->relay.early), n);
	c->relay.to_back.tail += n;
	if (keep)
		c->relay.early.head = c->relay.early.tail = 0;
	else
		buf_free(&c->relay.early);
	return 0;
}

/*
 * With early_data_forward, 0-RTT data goes to the backend at once: the first of it starts
 * the backend connect, behind a PROXY header that says the stream begins with early data.
 * Return: 0, or -errno (logged).
 */
static int relay_forward_early(struct conn *c)
{
	if (!(c->flags & CONN_F_EARLY_BACKEND)) {
		c->flags |= CONN_F_EARLY_BACKEND;
		if (backend_prepare(c) < 0 || backend_connect(c) < 0)
			return -EIO;
	}
	return relay_move_early(c, true);
}

/* handshake_step(), forwarding 0-RTT data as it comes when the listener says so. */
static enum hs_result relay_handshake_step(struct conn *c)
{
	enum hs_result r;

	while ((r = handshake_step(c)) == HS_EARLY_DATA) {
		if (relay_forward_early(c) < 0) {
			c->tls.fail = LSTAT_FAIL_PROTOCOL;
			return HS_FAILED;
		}
	}
	return r;
}

/* Runs the handshake over newly received bytes; true if the connection goes on. */
static bool relay_handshake(struct conn *c)
{
	switch (relay_handshake_step(c)) {
	case HS_WANT_IO:
		return true;
	case HS_DONE:
		stats_inc(c->w, STAT_HANDSHAKES);
		stats_hist_observe(&c->w->stats, HIST_HANDSHAKE,
				   now_monotonic_ns() - c->tls.start_ns);
		if (c->app_ops)
			return c->app_ops->on_handshake(c);
		if (c->flags & CONN_F_EARLY_BACKEND) {
			/* The backend has been connecting since the 0-RTT data arrived. */
			handover_begin(c);
			c->state = (c->flags & CONN_F_BACKEND_UP) ? CONN_RELAY : CONN_CONNECTING;
			c->deadline_ms = c->w->now_ms + (c->state == CONN_RELAY
								 ? c->lcfg->idle_timeout_ms
								 : c->lcfg->connect_timeout_ms);
			return true;
		}
		if (backend_prepare(c) < 0 || relay_move_early(c, false) < 0) {
			relay_shutdown(c, "out of memory");
			return false;
		}
		handover_begin(c);
		c->state = CONN_CONNECTING;
		c->deadline_ms = c->w->now_ms + c->lcfg->connect_timeout_ms;
		if (backend_connect(c) < 0) {
			relay_shutdown(c, "backend connect failed");
			return false;
		}
		return true;
	case HS_FAILED:
	default:
		conn_count_hs_failure(c, c->tls.fail);
		conn_flush_close(c, "handshake failed");
		return false;
	}
}

/**
 * relay_start_server() - a client a listener accepted: until its first bytes arrive it
 * holds nothing but its connection record. A poll waits for them unless they are there
 * already; the handshake record, the SSL and the buffers come with them
 * (relay_on_client_poll()).
 */
void relay_start_server(struct conn *c)
{
	ssize_t n = recv(c->cfd, &(char){ 0 }, 1, MSG_PEEK | MSG_DONTWAIT);

	/* The ClientHello often follows the client's last handshake ACK at once, and is in
	 * by now: then the handshake starts without a trip through the ring for a poll. */
	if (n > 0)
		relay_on_client_poll(c, POLLIN);
	else
		relay_arm_poll(c, OP_CPOLL, c->cfd);
}

/**
 * relay_on_client_poll() - the client's first bytes (or its EOF, or an error) are there:
 * the handshake begins, and what arrived is read at once, with no second trip through
 * the ring.
 */
void relay_on_client_poll(struct conn *c, int res)
{
	ssize_t n;

	if (res < 0) {
		conn_log(c, LOG_LVL_DEBUG, "client poll: %s", strerror(-res));
		conn_close(c, "client error");
		return;
	}
	/* Gone without a byte (health checks, scanners): no SSL is made just to see that. */
	if (res & (POLLHUP | POLLRDHUP | POLLERR)) {
		n = recv(c->cfd, &(char){ 0 }, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			conn_log(c, LOG_LVL_DEBUG, "client %s before sending anything",
				 n == 0 ? "closed" : "reset");
			c->tls.fail = LSTAT_FAIL_CLOSED;
			conn_count_hs_failure(c, LSTAT_FAIL_CLOSED);
			conn_close(c, n == 0 ? "client closed" : "client reset");
			return;
		}
	}
	if (handshake_begin(c) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	n = recv(c->cfd, buf_wptr(&c->tls.io.in), buf_room(&c->tls.io.in), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		relay_pump(c); /* nothing after all: the ring receives */
		return;
	}
	relay_on_client_recv(c, n < 0 ? -errno : (int)n);
}

/**
 * relay_on_park_poll() - a parked connection's socket has data (or EOF, or an error):
 * the buffers come back and the relay receives it. May close the connection.
 */
void relay_on_park_poll(struct conn *c, int res)
{
	if (res < 0) {
		conn_log(c, LOG_LVL_DEBUG, "poll: %s", strerror(-res));
		conn_close(c, "socket error");
		return;
	}
	if (relay_unpark(c))
		relay_pump(c);
}

/*
 * A receive relay_idle() cancelled to park the connection (relay_park.c); true if that is
 * what @res says. May close the connection.
 */
static bool relay_recv_parked(struct conn *c, int res)
{
	if (res != -ECANCELED || c->state != CONN_RELAY)
		return false;
	if (relay_park(c))
		relay_pump(c);
	return true;
}

/** relay_start_client() - a client-role connection speaks first: its ClientHello. */
void relay_start_client(struct conn *c)
{
	c->tls.start_ns = now_monotonic_ns();
	if (relay_handshake(c))
		relay_pump(c);
}

/** relay_on_client_recv() - @res bytes (or 0 for EOF, -errno) arrived in tio.in. */
void relay_on_client_recv(struct conn *c, int res)
{
	if (res == -ECANCELED && (c->flags & CONN_F_TICKET_WAIT)) {
		conn_log(c, LOG_LVL_DEBUG, "no (more) session tickets within client_ticket_wait");
		c->flags &= ~CONN_F_TICKET_WAIT;
		relay_pump(c);
		return;
	}
	if (relay_recv_parked(c, res))
		return;
	if (res < 0) {
		conn_log(c, LOG_LVL_DEBUG, "client recv: %s", strerror(-res));
		if (c->state == CONN_HANDSHAKE) {
			c->tls.fail = LSTAT_FAIL_CLOSED;
			conn_count_hs_failure(c, LSTAT_FAIL_CLOSED);
		}
		conn_close(c, c->tls.hs->client ? "server reset" : "client reset");
		return;
	}
	if (res == 0) {
		c->flags |= CONN_F_CLIENT_TCP_EOF;
		c->tls.io.in_eof = true;
	} else {
		c->tls.io.in.tail += (uint32_t)res;
		if (!c->tls.start_ns)
			c->tls.start_ns = now_monotonic_ns();
	}
	if (c->state == CONN_HANDSHAKE) {
		if (!relay_handshake(c))
			return;
	} else if (c->state == CONN_RELAY) {
		c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	}
	relay_pump(c);
}

/** relay_on_client_send() - @res bytes of tio.out reached the client (or -errno). */
void relay_on_client_send(struct conn *c, int res)
{
	if (res < 0) {
		conn_log(c, LOG_LVL_DEBUG, "client send: %s", strerror(-res));
		conn_close(c, "client reset");
		return;
	}
	buf_consume(&c->tls.io.out, (uint32_t)res);
	if (c->state == CONN_RELAY)
		c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	relay_pump(c);
}

/** relay_on_backend_recv() - @res bytes (0 for EOF, -errno) arrived in to_cli. */
void relay_on_backend_recv(struct conn *c, int res)
{
	if (relay_recv_parked(c, res))
		return;
	if (res < 0) {
		conn_log(c, LOG_LVL_INFO, "backend %s: recv: %s", c->lcfg->backend.str,
			 strerror(-res));
		/* Deliver what arrived, then close_notify: an orderly end for the client. */
		res = 0;
	}
	if (res == 0)
		c->flags |= CONN_F_BACKEND_EOF;
	else
		c->relay.to_cli.tail += (uint32_t)res;
	c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	relay_pump(c);
}

/** relay_on_backend_send() - @res bytes of to_back reached the backend (or -errno). */
void relay_on_backend_send(struct conn *c, int res)
{
	if (res < 0) {
		conn_log(c, LOG_LVL_INFO, "backend %s: send: %s", c->lcfg->backend.str,
			 strerror(-res));
		relay_shutdown(c, "backend reset");
		return;
	}
	buf_consume(&c->relay.to_back, (uint32_t)res);
	if (c->state == CONN_RELAY)
		c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	relay_pump(c);
}
