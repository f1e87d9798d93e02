// SPDX-License-Identifier: MIT
/*
 * backend.c - connecting to a listener's backend and writing the PROXY v2 header.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "data.h"

/**
 * backend_connect() - open the backend socket and start connecting through the ring.
 *
 * The caller sets the state: CONN_CONNECTING after the handshake, or CONN_HANDSHAKE
 * still, under the handshake deadline, when 0-RTT data is forwarded at once.
 * Return: 0, or -errno (logged); the caller ends the connection.
 */
int backend_connect(struct conn *c)
{
	const struct cfg_backend *b = &c->lcfg->backend;
	struct io_uring_sqe *sqe;
	int one = 1, ret;

	/* Non-blocking: a splice from a blocking TCP socket would sleep in io-wq holding the
	 * pipe lock (splice.c); io_uring polls non-blocking sockets itself. */
	c->bfd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->bfd < 0) {
		ret = -errno;
		conn_log(c, LOG_LVL_ERR, "backend %s: socket: %s", b->str, strerror(errno));
		return ret;
	}
	if (b->kind == BACKEND_TCP &&
	    setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		conn_log(c, LOG_LVL_WARN, "backend %s: TCP_NODELAY: %s", b->str, strerror(errno));
	if (c->lcfg->mark && b->kind == BACKEND_TCP &&
	    setsockopt(c->bfd, SOL_SOCKET, SO_MARK, &c->lcfg->mark, sizeof(c->lcfg->mark)) < 0) {
		ret = -errno;
		conn_log(c, LOG_LVL_ERR, "backend %s: SO_MARK %u: %s", b->str, c->lcfg->mark,
			 strerror(errno));
		return ret;
	}
	sqe = worker_get_sqe(c->w);
	if (!sqe)
		return -EBUSY;
	c->connect_start_ns = now_monotonic_ns();
	io_uring_prep_connect(sqe, c->bfd, (const struct sockaddr *)&b->addr, b->addr_len);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_CONNECT, c->gen, c->slot));
	c->inflight |= 1u << OP_CONNECT;
	return 0;
}

static int backend_put_proxy_header(struct conn *c)
{
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	struct proxy_v2_info info;
	int n;

	if (getpeername(c->cfd, (struct sockaddr *)&src, &sl) < 0 ||
	    getsockname(c->cfd, (struct sockaddr *)&dst, &dl) < 0)
		return -errno;
	SSL_get0_alpn_selected(c->tls.ssl, &alpn, &alpn_len);
	info = (struct proxy_v2_info){
		.src = (const struct sockaddr *)&src,
		.dst = (const struct sockaddr *)&dst,
		.alpn = (const char *)alpn,
		.alpn_len = alpn_len,
		.sni = c->tls.hs->sni,
		.version = SSL_get_version(c->tls.ssl),
		.cipher = SSL_get_cipher_name(c->tls.ssl),
		.early_data = (c->flags & CONN_F_EARLY_BACKEND) != 0,
	};
	n = proxy_v2_encode(&info, buf_wptr(&c->relay.to_back), buf_room(&c->relay.to_back));
	if (n < 0)
		return n;
	c->relay.to_back.tail += (uint32_t)n;
	return 0;
}

/**
 * backend_prepare() - at handshake completion: the plaintext buffers, with the PROXY
 * header first in line for the backend (before any data the client pipelined).
 * Return: 0 or -errno (logged).
 */
int backend_prepare(struct conn *c)
{
	uint32_t size = c->lcfg->buffer_size;
	int ret;

	if (buf_alloc(&c->relay.to_back, size) < 0 || buf_alloc(&c->relay.to_cli, size) < 0) {
		conn_log(c, LOG_LVL_ERR, "out of memory for relay buffers");
		return -ENOMEM;
	}
	if (c->lcfg->proxy_protocol) {
		ret = backend_put_proxy_header(c);
		if (ret < 0) {
			conn_log(c, LOG_LVL_ERR, "PROXY v2 header: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/**
 * backend_on_connect() - the connect completed with @res (0 or -errno): start relaying,
 * or close the client cleanly.
 */
void backend_on_connect(struct conn *c, int res)
{
	if (res < 0) {
		conn_log(c, LOG_LVL_WARN, "backend %s: connect: %s", c->lcfg->backend.str,
			 strerror(-res));
		stats_inc(c->w, STAT_BACKEND_FAILURES);
		conn_count_hs_failure(c, LSTAT_FAIL_BACKEND);
		if (c->state == CONN_HANDSHAKE)
			conn_close(c, "backend connect failed");
		else
			c->ops->shutdown(c, "backend connect failed");
		return;
	}
	c->flags |= CONN_F_BACKEND_UP;
	stats_hist_observe(&c->w->stats, HIST_BACKEND_CONNECT,
			   now_monotonic_ns() - c->connect_start_ns);
	if (c->state == CONN_HANDSHAKE) {
		/* 0-RTT data flows to the backend while the handshake finishes. */
		c->ops->pump(c);
		return;
	}
	c->state = CONN_RELAY;
	c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	c->ops->pump(c);
}
