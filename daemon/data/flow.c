// SPDX-License-Identifier: MIT
/*
 * flow.c - what a connection does, seen from the worker: the data layer's side of the
 * core's conn_ops and of the worker's accept hook.
 *
 * The core (worker.c, conn.c) routes every completion of a connection's own operations
 * here and knows no path module; this file dispatches them by operation to the module
 * that armed it: the userspace relay and the handshake (relay.c), the backend connect
 * (backend.c) and the kernel-TLS splice relay (splice.c). It also releases what those
 * paths hold when the core frees a connection. The handoff service wraps these for its
 * connections (handoff_conn.c).
 */
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "data.h"

static void flow_on_cqe(struct conn *c, enum op op, int res)
{
	switch (op) {
	case OP_CPOLL:
		relay_on_client_poll(c, res);
		break;
	case OP_CRECV:
		relay_on_client_recv(c, res);
		break;
	case OP_CSEND:
		relay_on_client_send(c, res);
		break;
	case OP_CONNECT:
		backend_on_connect(c, res);
		break;
	case OP_BRECV:
		relay_on_backend_recv(c, res);
		break;
	case OP_BSEND:
		relay_on_backend_send(c, res);
		break;
	case OP_CPARK:
	case OP_BPARK:
		relay_on_park_poll(c, res);
		break;
	default:
		splice_on_cqe(c, op, res);
		break;
	}
}

/* From conn_free(): OpenSSL's state, the secrets, the buffers, the pipes. */
static void flow_release(struct conn *c)
{
	SSL_free(c->tls.ssl);
	c->tls.ssl = NULL;
	handshake_release(c);
	buf_free(&c->tls.io.in);
	buf_free(&c->tls.io.out);
	buf_free(&c->relay.to_back);
	buf_free(&c->relay.to_cli);
	buf_free(&c->relay.early);
	splice_fini(c);
}

const struct conn_ops flow_conn_ops = {
	.on_cqe = flow_on_cqe,
	.pump = relay_pump,
	.shutdown = relay_shutdown,
	.release = flow_release,
	.idle = relay_idle,
};

/**
 * flow_on_accept() - a connection a listener accepted: its handshake begins.
 * Owns @c: on failure it is closed.
 */
void flow_on_accept(struct conn *c)
{
	relay_start_server(c);
}
