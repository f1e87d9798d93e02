// SPDX-License-Identifier: MIT
/*
 * relay_io.c - arming the socket operations of the userspace record path: a receive or a
 * send between a connection's buffers and a socket. Used by the relay (relay.c) and by
 * the hand-over to kernel TLS (handover.c), which must read whole records only; it calls
 * nothing but the core.
 */
#include <poll.h>
#include <sys/socket.h>

#include "data.h"

#define TLS_RECORD_HEADER 5u

/**
 * relay_arm() - arm a recv of at most @len bytes (0: all the room) or a send of everything
 * in @b, as operation @op of @c.
 * Return: its SQE, or NULL if the connection had to close.
 */
struct io_uring_sqe *relay_arm(struct conn *c, enum op op, int fd, struct buf *b, bool recv,
			       uint32_t len)
{
	struct io_uring_sqe *sqe = worker_get_sqe(c->w);

	if (!sqe) {
		conn_close(c, "submission queue unavailable");
		return NULL;
	}
	if (recv)
		io_uring_prep_recv(sqe, fd, buf_wptr(b), len ? len : buf_room(b), 0);
	else
		io_uring_prep_send(sqe, fd, buf_rptr(b), buf_len(b), MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud_pack(op, c->gen, c->slot));
	c->inflight |= 1u << op;
	return sqe;
}

/** relay_arm_poll() - wait for @fd to be readable (or closed) as operation @op, no buffer. */
void relay_arm_poll(struct conn *c, enum op op, int fd)
{
	struct io_uring_sqe *sqe;

	if (conn_op_pending(c, op))
		return;
	sqe = worker_get_sqe(c->w);
	if (!sqe) {
		conn_close(c, "submission queue unavailable");
		return;
	}
	io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
	io_uring_sqe_set_data64(sqe, ud_pack(op, c->gen, c->slot));
	c->inflight |= 1u << op;
}

/*
 * A client waiting for the server's TLS 1.3 tickets (handover.c) receives with a linked
 * timeout: a server that sends none must not hold the connection for long.
 */
static void relay_arm_ticket_recv(struct conn *c, uint32_t len)
{
	struct io_uring_sqe *recv, *timeout;
	uint32_t ms = c->snap->cfg->client_ticket_wait_ms;

	/* Both entries must go in one submission: a link cannot span two. */
	if (io_uring_sq_space_left(&c->w->ring) < 2)
		io_uring_submit(&c->w->ring);
	recv = relay_arm(c, OP_CRECV, c->cfd, &c->tls.io.in, true, len);
	if (!recv || !(timeout = io_uring_get_sqe(&c->w->ring)))
		return; /* no room: the recv waits without a limit, like any other */
	c->relay.ticket_wait.tv_sec = ms / 1000;
	c->relay.ticket_wait.tv_nsec = (long long)(ms % 1000) * 1000000;
	recv->flags |= IOSQE_IO_LINK;
	io_uring_prep_link_timeout(timeout, &c->relay.ticket_wait, 0);
	io_uring_sqe_set_data64(timeout, ud_pack(OP_NONE, 0, 0));
}

/**
 * relay_arm_client_recv() - receive from the client unless done or already receiving.
 * With CONN_F_RECV_EXACT, only up to the end of the next TLS record: what follows the
 * handshake must stay in the socket for kernel TLS (see handover.c).
 */
void relay_arm_client_recv(struct conn *c)
{
	struct tls_io *io = &c->tls.io;
	uint32_t len = 0;

	if ((c->flags & (CONN_F_CLIENT_EOF | CONN_F_CLIENT_TCP_EOF)) ||
	    conn_op_pending(c, OP_CRECV) || c->state == CONN_FLUSHING)
		return;
	if (!io->in.data) {
		relay_arm_poll(c, OP_CPARK, c->cfd); /* parked (relay_park.c) */
		return;
	}
	buf_compact(&io->in);
	if (c->flags & CONN_F_RECV_EXACT) {
		len = bio_in_missing(io);
		if (!len)
			len = buf_len(&io->in) ? 0 : TLS_RECORD_HEADER;
		if (!len || len > buf_room(&io->in))
			return; /* a whole record is waiting for OpenSSL */
	}
	if (!buf_room(&io->in))
		return;
	if (c->flags & CONN_F_TICKET_WAIT) {
		relay_arm_ticket_recv(c, len);
		return;
	}
	relay_arm(c, OP_CRECV, c->cfd, &io->in, true, len);
}

/**
 * relay_arm_client_send() - send what waits in tio.out, unless a send is in flight.
 *
 * A handshake flight (or the ticket that follows it) is a few KiB into a socket buffer
 * that is empty at that point of the connection: one send() right away usually takes it
 * whole, which spares the ring a completion to wake up for. Whatever it does not take
 * (or an error, reported by the ring's own send) goes through the ring as usual.
 */
void relay_arm_client_send(struct conn *c)
{
	struct tls_io *io = &c->tls.io;
	ssize_t n;

	if (c->state == CONN_CLOSING || !buf_len(&io->out) || conn_op_pending(c, OP_CSEND))
		return;
	if (c->state == CONN_HANDSHAKE || c->state == CONN_CONNECTING) {
		n = send(c->cfd, buf_rptr(&io->out), buf_len(&io->out),
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&io->out, (uint32_t)n);
		if (!buf_len(&io->out))
			return;
	}
	relay_arm(c, OP_CSEND, c->cfd, &io->out, false, 0);
	io->out_busy = true;
}
