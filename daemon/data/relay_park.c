// SPDX-License-Identifier: MIT
/*
 * relay_park.c - a quiet userspace-path connection gives its buffers back.
 *
 * Relaying on userspace records takes four buffers (relay.c) and OpenSSL's two record
 * buffers. A connection that has been quiet for a tick (conn_ops.idle) with all of them
 * empty parks: its two receives are cancelled, and once both are back the buffers are
 * freed and a poll on each open socket waits for data without one (OP_CPARK, OP_BPARK).
 * The first poll to fire unparks it: the buffers come back and the relay goes on. A
 * streaming connection never parks; one idle between requests holds only its records.
 *
 * "Parked" is no flag: it is a relaying connection whose client buffer is not allocated.
 * CONN_F_PARKING only marks the cancels on their way; a receive that completes with data
 * instead of -ECANCELED wins the race (its pump clears the flag), and relaying goes on.
 */
#include <errno.h>
#include <string.h>

#include "data.h"

/* Nothing buffered anywhere and no switch under way: the buffers can go. */
static bool relay_quiet(const struct conn *c)
{
	return c->state == CONN_RELAY && c->tls.ssl && !c->ktls.dirs &&
	       !(c->flags & (CONN_F_HANDOVER | CONN_F_TICKET_WAIT | CONN_F_RECV_EXACT)) &&
	       !buf_len(&c->tls.io.in) && !buf_len(&c->tls.io.out) && !buf_len(&c->relay.to_back) &&
	       !buf_len(&c->relay.to_cli) && !buf_len(&c->relay.early) &&
	       !conn_op_pending(c, OP_CSEND) && !conn_op_pending(c, OP_BSEND) &&
	       !SSL_pending(c->tls.ssl);
}

/**
 * relay_idle() - a quiet connection (conn_ops.idle). OpenSSL's read and write record
 * buffers (about 17 KiB each) go back at once (they return with the next record;
 * SSL_free_buffers() refuses while they hold data). If the relay's own buffers are empty
 * too, its receives are cancelled: relay_park() frees the rest when they are back.
 */
void relay_idle(struct conn *c)
{
	if (!c->tls.ssl || buf_len(&c->tls.io.in) || buf_len(&c->tls.io.out) ||
	    SSL_pending(c->tls.ssl))
		return;
	SSL_free_buffers(c->tls.ssl);
	if (!relay_quiet(c) || !(conn_op_pending(c, OP_CRECV) || conn_op_pending(c, OP_BRECV)))
		return; /* busy, or parked already */
	/* Both cancels or neither: relay_park() waits for both receives to come back. */
	if (io_uring_sq_space_left(&c->w->ring) < 2)
		io_uring_submit(&c->w->ring);
	if (io_uring_sq_space_left(&c->w->ring) < 2)
		return;
	conn_cancel_op(c, OP_CRECV);
	conn_cancel_op(c, OP_BRECV);
	c->flags |= CONN_F_PARKING;
}

/**
 * relay_park() - a receive of a relaying connection came back cancelled: once both are
 * back and all is still quiet, free the buffers. If the other came back with data
 * meanwhile, its relay_pump() ended the parking (it clears CONN_F_PARKING), and this
 * direction only needs re-arming.
 * Return: true if the caller should pump now (to re-arm: polls if parked), false while
 * the other receive's cancel is still on its way.
 */
bool relay_park(struct conn *c)
{
	if ((c->flags & CONN_F_PARKING) &&
	    (conn_op_pending(c, OP_CRECV) || conn_op_pending(c, OP_BRECV)))
		return false;
	if ((c->flags & CONN_F_PARKING) && relay_quiet(c)) {
		buf_free(&c->tls.io.in);
		buf_free(&c->tls.io.out);
		buf_free(&c->relay.to_back);
		buf_free(&c->relay.to_cli);
		buf_free(&c->relay.early);
		stats_inc(c->w, STAT_RELAY_PARKED);
	}
	return true;
}

/**
 * relay_unpark() - give a parked connection its buffers back (a no-op for one that has
 * them). Return: true, or false if it had to close (out of memory).
 */
bool relay_unpark(struct conn *c)
{
	uint32_t io_size = handshake_io_size(c->lcfg), size = c->lcfg->buffer_size;

	if (buf_alloc(&c->tls.io.in, io_size) < 0 || buf_alloc(&c->tls.io.out, io_size) < 0 ||
	    buf_alloc(&c->relay.to_back, size) < 0 || buf_alloc(&c->relay.to_cli, size) < 0) {
		conn_log(c, LOG_LVL_ERR, "out of memory for relay buffers");
		conn_close(c, "out of memory");
		return false;
	}
	return true;
}
