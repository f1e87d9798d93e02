// SPDX-License-Identifier: MIT
/*
 * splice.c - relaying a kernel-TLS connection: no plaintext passes through userspace.
 *
 *   client (kTLS RX) --splice--> pipe --splice--> backend
 *   client (kTLS TX) <--splice-- pipe <--splice-- backend
 *
 * io_uring runs every splice on an io-wq thread, which would block on an idle socket; so
 * each read side is a POLL_ADD linked to a non-blocking SPLICE, and a write side that
 * finds the destination full waits on POLLOUT. Reads of a kTLS socket stop at any record
 * that is not application data (-EIO/-EINVAL): such a control record is then read with
 * recvmsg() and TLS_GET_RECORD_TYPE. A close_notify becomes a half-close toward the
 * backend; the backend's FIN becomes our close_notify (TLS_SET_RECORD_TYPE) and a
 * half-close toward the client.
 *
 * One table names the operations of each direction; the code is written once for both.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/tls.h>

#include "data.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define TLS_CT_ALERT	    21
#define TLS_CT_HANDSHAKE    22
#define TLS_CT_APPDATA	    23
#define TLS_ALERT_CLOSE	    0
#define TLS_HS_KEY_UPDATE   24
#define SPLICE_FLAGS	    (SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
#define TLS_MAX_RECORD_DATA 16384u
/*
 * AES-GCM: at most 2^24.5 full records per key (RFC 8446 5.5); ktlsd counts an upper bound
 * of the records it sends and ends the connection before 2^24. ChaCha20-Poly1305 has no
 * practical limit.
 */
#define KTLS_GCM_RECORD_LIMIT (1ull << 24)

static const struct splice_dir_ops {
	enum op poll_in, in, out, poll_out;
	const char *name;
} splice_ops[2] = {
	[DIR_C2B] = { OP_C2B_POLL, OP_C2B_IN, OP_C2B_OUT, OP_C2B_WAIT, "client->backend" },
	[DIR_B2C] = { OP_B2C_POLL, OP_B2C_IN, OP_B2C_OUT, OP_B2C_WAIT, "backend->client" },
};

static int splice_src(const struct conn *c, int d)
{
	return d == DIR_C2B ? c->cfd : c->bfd;
}

static int splice_dst(const struct conn *c, int d)
{
	return d == DIR_C2B ? c->bfd : c->cfd;
}

/*
 * One direction's pipe: an empty one the worker kept from a closed connection, else a new
 * one. A pipe holds 64 KiB by default; a larger buffer_size means fewer splices.
 */
static int splice_pipe_get(struct conn *c, struct splice_dir *sd)
{
	uint32_t want = c->lcfg->buffer_size > 65536 ? c->lcfg->buffer_size : 65536;
	struct worker *w = c->w;
	int sz;

	if (w->n_spare_pipes) {
		unsigned i = --w->n_spare_pipes;

		sd->pipe[0] = w->spare_pipes[i][0];
		sd->pipe[1] = w->spare_pipes[i][1];
		sd->cap = w->spare_pipe_cap[i];
		stats_inc(w, STAT_PIPES_REUSED);
	} else if (pipe2(sd->pipe, O_CLOEXEC) < 0) {
		sd->pipe[0] = sd->pipe[1] = -1;
		return -errno;
	} else {
		sd->cap = 65536; /* a new pipe's size */
	}
	if (sd->cap != want) {
		fcntl(sd->pipe[1], F_SETPIPE_SZ, (int)want);
		sz = fcntl(sd->pipe[1], F_GETPIPE_SZ);
		sd->cap = sz > 0 ? (uint32_t)sz : 65536u;
	}
	return 0;
}

/* Keeps an empty pipe for the worker's next kTLS connection; closes anything else. */
static void splice_pipe_put(struct conn *c, struct splice_dir *sd)
{
	struct worker *w = c->w;
	int queued = -1;

	if (sd->pipe[0] >= 0 && sd->pipe[1] >= 0 && w && w->n_spare_pipes < WORKER_SPARE_PIPES &&
	    ioctl(sd->pipe[0], FIONREAD, &queued) == 0 && queued == 0) {
		w->spare_pipes[w->n_spare_pipes][0] = sd->pipe[0];
		w->spare_pipes[w->n_spare_pipes][1] = sd->pipe[1];
		w->spare_pipe_cap[w->n_spare_pipes++] = sd->cap;
	} else {
		if (sd->pipe[0] >= 0)
			close(sd->pipe[0]);
		if (sd->pipe[1] >= 0)
			close(sd->pipe[1]);
	}
	sd->pipe[0] = sd->pipe[1] = -1;
}

/**
 * splice_init() - the two pipes of a connection that moved to kernel TLS.
 * Return: 0 or -errno (logged).
 */
int splice_init(struct conn *c)
{
	for (int d = 0; d < 2; d++) {
		int err = splice_pipe_get(c, &c->ktls.sd[d]);

		if (err < 0) {
			conn_log(c, LOG_LVL_WARN, "pipe2: %s", strerror(-err));
			splice_fini(c);
			return err;
		}
	}
	return 0;
}

/** splice_fini() - let go of the pipes: empty ones stay with the worker for reuse. */
void splice_fini(struct conn *c)
{
	for (int d = 0; d < 2; d++)
		splice_pipe_put(c, &c->ktls.sd[d]);
}

static struct io_uring_sqe *splice_sqe(struct conn *c, enum op op)
{
	struct io_uring_sqe *sqe = worker_get_sqe(c->w);

	if (sqe) {
		io_uring_sqe_set_data64(sqe, ud_pack(op, c->gen, c->slot));
		c->inflight |= 1u << op;
	}
	return sqe;
}

/*
 * Arms a splice from the source into the pipe. While data streams (the last splice moved
 * some), the splice goes alone and finds the next bytes already there; otherwise it is
 * linked behind a poll, so no io-wq thread waits on an idle socket.
 */
static int splice_arm_in(struct conn *c, int d)
{
	struct splice_dir *sd = &c->ktls.sd[d];
	const struct splice_dir_ops *o = &splice_ops[d];
	struct io_uring_sqe *poll, *spl;

	sd->polled = !sd->streaming;
	if (sd->polled) {
		poll = splice_sqe(c, o->poll_in);
		if (!poll)
			return -EBUSY;
		io_uring_prep_poll_add(poll, splice_src(c, d), POLLIN | POLLRDHUP);
		poll->flags |= IOSQE_IO_LINK;
	}
	spl = splice_sqe(c, o->in);
	if (!spl)
		return -EBUSY; /* the poll completes alone; the next pump re-arms */
	io_uring_prep_splice(spl, splice_src(c, d), -1, sd->pipe[1], -1, sd->cap - sd->pending,
			     sd->wait_record ? SPLICE_F_MOVE : SPLICE_FLAGS);
	return 0;
}

static int splice_arm_out(struct conn *c, int d)
{
	struct splice_dir *sd = &c->ktls.sd[d];
	struct io_uring_sqe *sqe = splice_sqe(c, splice_ops[d].out);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_splice(sqe, sd->pipe[0], -1, splice_dst(c, d), -1, sd->pending, SPLICE_FLAGS);
	return 0;
}

static int splice_arm_wait_out(struct conn *c, int d)
{
	struct io_uring_sqe *sqe = splice_sqe(c, splice_ops[d].poll_out);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, splice_dst(c, d), POLLOUT);
	return 0;
}

/**
 * splice_send_close_notify() - send a close_notify alert through kernel TLS.
 * Return: 0 or -errno.
 */
int splice_send_close_notify(struct conn *c)
{
	uint8_t alert[2] = { 1, TLS_ALERT_CLOSE }; /* level warning, close_notify */
	char cbuf[CMSG_SPACE(sizeof(uint8_t))] = { 0 };
	struct iovec iov = { .iov_base = alert, .iov_len = sizeof(alert) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(sizeof(uint8_t));
	*CMSG_DATA(cm) = TLS_CT_ALERT;
	if (sendmsg(c->cfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/*
 * Reads the non-data record that stopped a splice from the client, and acts on it. It may
 * end the connection: its caller touches @c no more.
 */
static void splice_read_control(struct conn *c)
{
	uint8_t data[TLS_MAX_RECORD_DATA + 256];
	char cbuf[CMSG_SPACE(sizeof(uint8_t))];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	uint8_t type = TLS_CT_APPDATA;
	ssize_t n;

	n = recvmsg(c->cfd, &msg, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN)
			return;
		conn_log(c, LOG_LVL_INFO, "client record: %s", strerror(errno));
		stats_inc(c->w, STAT_KTLS_RX_ERRORS);
		conn_close(c,
			   errno == EBADMSG ? "TLS record failed authentication" : "client error");
		return;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(cm);
	if (n == 0) {
		c->ktls.sd[DIR_C2B].src_eof = true;
		return;
	}
	switch (type) {
	case TLS_CT_ALERT:
		if (n >= 2 && data[1] == TLS_ALERT_CLOSE) {
			conn_log(c, LOG_LVL_DEBUG, "client sent close_notify");
			stats_inc(c->w, STAT_CLOSE_NOTIFY_RX);
			c->ktls.sd[DIR_C2B].src_eof = true;
			return;
		}
		conn_log(c, LOG_LVL_INFO, "client sent alert %u", n >= 2 ? data[1] : 0);
		stats_inc(c->w, STAT_ALERTS_RX);
		conn_close(c, "client alert");
		return;
	case TLS_CT_HANDSHAKE:
		if (data[0] == TLS_HS_KEY_UPDATE) {
			/* Kernels before 6.14 cannot take new keys: end the session cleanly. */
			conn_log(
				c, LOG_LVL_INFO,
				"client sent a TLS 1.3 KeyUpdate, which this kernel cannot follow: "
				"closing (set ktls = false on the listener to keep such clients)");
			stats_inc(c->w, STAT_KEY_UPDATE_CLOSES);
			c->ops->shutdown(c, "key update");
			return;
		}
		conn_log(c, LOG_LVL_INFO, "client sent handshake message %u after the handshake",
			 data[0]);
		c->ops->shutdown(c, "unexpected handshake message");
		return;
	case TLS_CT_APPDATA:
		/* Data read this way passes through userspace; it goes on to the backend. */
		if (buf_alloc(&c->relay.to_back, c->lcfg->buffer_size) < 0) {
			conn_close(c, "out of memory for a record read by recvmsg");
			return;
		}
		if ((size_t)n > buf_room(&c->relay.to_back)) {
			conn_close(c, "no room for a record read by recvmsg");
			return;
		}
		memcpy(buf_wptr(&c->relay.to_back), data, (size_t)n);
		c->relay.to_back.tail += (uint32_t)n;
		c->bytes_in += (uint64_t)n;
		stats_add(c->w, STAT_BYTES_USERSPACE, (uint64_t)n);
		stats_add(c->w, STAT_BYTES_FROM_CLIENTS, (uint64_t)n);
		return;
	default:
		conn_log(c, LOG_LVL_INFO, "client sent record type %u", type);
		conn_close(c, "unexpected record type");
		return;
	}
}

/* Half-closes finished directions; returns true once both are done. */
static bool splice_half_close(struct conn *c)
{
	struct splice_dir *up = &c->ktls.sd[DIR_C2B], *down = &c->ktls.sd[DIR_B2C];

	if (up->src_eof && !up->dst_shut && !up->pending && !buf_len(&c->relay.to_back) &&
	    !conn_op_pending(c, OP_C2B_OUT) && !conn_op_pending(c, OP_BSEND)) {
		if (shutdown(c->bfd, SHUT_WR) < 0 && errno != ENOTCONN)
			conn_log(c, LOG_LVL_DEBUG, "backend shutdown: %s", strerror(errno));
		up->dst_shut = true;
	}
	if (down->src_eof && !down->dst_shut && !down->pending && !conn_op_pending(c, OP_B2C_OUT)) {
		int ret = splice_send_close_notify(c);

		if (ret < 0)
			conn_log(c, LOG_LVL_DEBUG, "close_notify: %s", strerror(-ret));
		if (shutdown(c->cfd, SHUT_WR) < 0 && errno != ENOTCONN)
			conn_log(c, LOG_LVL_DEBUG, "client shutdown: %s", strerror(errno));
		down->dst_shut = true;
	}
	return up->dst_shut && down->dst_shut;
}

/**
 * splice_pump() - arm whatever a kernel-TLS connection needs next.
 * May close the connection: the caller must not touch @c afterwards.
 */
void splice_pump(struct conn *c)
{
	if (splice_half_close(c)) {
		conn_close(c, "done");
		return;
	}
	/* Plaintext OpenSSL decrypted before the switch (and a PROXY header) goes first. */
	if (buf_len(&c->relay.to_back) && c->state == CONN_RELAY && !conn_op_pending(c, OP_BSEND)) {
		struct io_uring_sqe *sqe = worker_get_sqe(c->w);

		if (!sqe) {
			conn_close(c, "submission queue unavailable");
			return;
		}
		io_uring_prep_send(sqe, c->bfd, buf_rptr(&c->relay.to_back),
				   buf_len(&c->relay.to_back), MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, ud_pack(OP_BSEND, c->gen, c->slot));
		c->inflight |= 1u << OP_BSEND;
	}
	/* A kTLS connection keeps no userspace buffer while idle: it comes back if needed. */
	if (!buf_len(&c->relay.to_back) && !conn_op_pending(c, OP_BSEND))
		buf_free(&c->relay.to_back);
	if (c->state != CONN_RELAY)
		return;
	for (int d = 0; d < 2; d++) {
		struct splice_dir *sd = &c->ktls.sd[d];
		const struct splice_dir_ops *o = &splice_ops[d];
		bool in_busy = conn_op_pending(c, o->poll_in) || conn_op_pending(c, o->in);
		bool out_busy = conn_op_pending(c, o->out) || conn_op_pending(c, o->poll_out);

		if (!sd->src_eof && !in_busy && sd->pending < sd->cap &&
		    (d == DIR_B2C || !buf_len(&c->relay.to_back)) && splice_arm_in(c, d) < 0)
			return;
		/*
		 * While the source streams, let the pipe collect several records before
		 * moving them on; as soon as the source has nothing more, flush at once.
		 */
		bool batch = sd->streaming && !sd->src_eof && sd->pending < sd->cap / 2;

		if (sd->pending && !out_busy && !batch && splice_arm_out(c, d) < 0)
			return;
	}
}

static void splice_on_in(struct conn *c, int d, int res)
{
	struct splice_dir *sd = &c->ktls.sd[d];

	if (res > 0) {
		sd->pending += (uint32_t)res;
		sd->wait_record = false;
		sd->streaming = true;
		if (d == DIR_C2B) {
			c->bytes_in += (uint64_t)res;
			stats_add(c->w, STAT_BYTES_FROM_CLIENTS, (uint64_t)res);
		} else {
			c->bytes_out += (uint64_t)res;
			stats_add(c->w, STAT_BYTES_TO_CLIENTS, (uint64_t)res);
		}
		stats_add(c->w, STAT_BYTES_SPLICED, (uint64_t)res);
		c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
		return;
	}
	switch (res) {
	case 0:
		sd->src_eof = true;
		return;
	case -ECANCELED: /* the poll before it failed or was cancelled */
		return;
	case -EAGAIN:
		/*
		 * A speculative splice found nothing: back to polling. After a poll said
		 * readable, only part of a TLS record is in: wait for the rest inside the
		 * kernel rather than spinning on POLLIN.
		 */
		if (sd->polled && d == DIR_C2B)
			sd->wait_record = true;
		sd->streaming = false;
		return;
	case -EIO:
	case -EINVAL:
		if (d == DIR_C2B) {
			splice_read_control(c);
			return;
		}
		/* fall through */
	default:
		conn_log(c, LOG_LVL_INFO, "%s splice: %s", splice_ops[d].name, strerror(-res));
		if (d == DIR_C2B && res == -EBADMSG)
			stats_inc(c->w, STAT_KTLS_RX_ERRORS);
		if (d == DIR_C2B)
			conn_close(c, res == -EBADMSG ? "TLS record failed authentication"
						      : "client error");
		else
			c->ops->shutdown(c, "backend error");
		return;
	}
}

static void splice_on_out(struct conn *c, int d, int res)
{
	struct splice_dir *sd = &c->ktls.sd[d];

	if (res > 0) {
		sd->pending -= (uint32_t)res;
		c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
		if (d == DIR_B2C) {
			/* An upper bound: one splice makes at most a record per 16 KiB + 1. */
			c->ktls.tx_records += (uint64_t)res / TLS_MAX_RECORD_DATA + 1;
			if (c->ktls.gcm && c->ktls.tx_records >= KTLS_GCM_RECORD_LIMIT) {
				conn_log(c, LOG_LVL_INFO,
					 "record limit of the key reached: closing");
				stats_inc(c->w, STAT_RECORD_LIMIT_CLOSES);
				c->ops->shutdown(c, "record limit");
			}
		}
		return;
	}
	if (res == -EAGAIN) {
		splice_arm_wait_out(c, d);
		return;
	}
	conn_log(c, LOG_LVL_INFO, "%s splice: %s", splice_ops[d].name, strerror(-res));
	if (d == DIR_C2B)
		c->ops->shutdown(c, "backend error");
	else
		conn_close(c, "client error");
}

/**
 * splice_on_cqe() - a completion of one of the splice operations.
 * Return: true if @op was one of them.
 */
bool splice_on_cqe(struct conn *c, enum op op, int res)
{
	for (int d = 0; d < 2; d++) {
		const struct splice_dir_ops *o = &splice_ops[d];

		if (op == o->poll_in || op == o->poll_out) {
			/* An error shows up in the splice that follows. */
		} else if (op == o->in) {
			splice_on_in(c, d, res);
		} else if (op == o->out) {
			splice_on_out(c, d, res);
		} else {
			continue;
		}
		/* The handlers may have ended, and freed, the connection. */
		if (!conn_gone(c) && c->state != CONN_CLOSING && c->state != CONN_FLUSHING)
			splice_pump(c);
		return true;
	}
	return false;
}
