// SPDX-License-Identifier: MIT
/*
 * handoff_conn.c - a handed-off socket on its worker: the handshake runs as for any
 * accepted connection (the application's profile and ALPN list instead of a listener's),
 * then the socket goes back to the application with kernel TLS installed, or, where the
 * kernel cannot take the connection, the application gets one end of a socketpair and the
 * connection stays here, relayed like a backend's. Every outcome sends exactly one reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ktlsd/handoff.h>

#include "services.h"

static bool handoff_start_relay(struct conn *c);
static bool handoff_on_handshake(struct conn *c);
static void handoff_return_ktls(struct conn *c);
static void handoff_on_app_hup(struct conn *c, int res);
static void handoff_conn_free(struct conn *c);

/* What the relay calls for a handed-off connection (struct conn_app_ops). */
static const struct conn_app_ops handoff_app_ops = {
	.on_handshake = handoff_on_handshake,
	.on_ktls = handoff_return_ktls,
	.start_relay = handoff_start_relay,
};

/* A handed-off connection's operations: the data layer's, plus the watch on the
 * application (OP_APP_HUP) and the application's last reply at release. */
static void handoff_conn_on_cqe(struct conn *c, enum op op, int res)
{
	if (op == OP_APP_HUP)
		handoff_on_app_hup(c, res);
	else
		flow_conn_ops.on_cqe(c, op, res);
}

static void handoff_conn_release(struct conn *c)
{
	handoff_conn_free(c);
	flow_conn_ops.release(c);
}

static const struct conn_ops handoff_conn_ops = {
	.on_cqe = handoff_conn_on_cqe,
	.pump = relay_pump,
	.shutdown = relay_shutdown,
	.release = handoff_conn_release,
	.idle = relay_idle,
};

static void handoff_job_run(struct worker *w, struct worker_job *wj)
{
	handoff_adopt(w, (struct handoff_job *)wj); /* wj is the job's first member */
}

/** handoff_post() - queue @job for worker @w (handoff thread); the job is then the worker's. */
void handoff_post(struct worker *w, struct handoff_job *job)
{
	job->wj.run = handoff_job_run;
	if (worker_post(w, &job->wj) < 0)
		handoff_job_fail(job, KTLSD_HANDOFF_E_DRAINING, "ktlsd is stopping");
}

/* Sends a reply, with @fd attached if >= 0. Return: 0 or -errno. */
static int handoff_send(struct conn *c, struct ktlsd_handoff_reply *r, int fd)
{
	r->id = c->app.id;
	c->flags |= CONN_F_REPLIED;
	return handoff_send_reply(c->app.fd, r, fd);
}

/* The reply's TLS fields, taken while the SSL object still exists. */
static void handoff_fill(struct conn *c, struct ktlsd_handoff_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (c->tls.version) /* the handshake is done (handshake.c noted what it chose) */
		r->tls_version = !strcmp(c->tls.version, "TLSv1.3") ? 0x0304 : 0x0303;
	snprintf(r->group, sizeof(r->group), "%s", c->tls.group);
	snprintf(r->cipher, sizeof(r->cipher), "%s", c->tls.cipher ? c->tls.cipher : "");
	snprintf(r->alpn, sizeof(r->alpn), "%s", c->tls.alpn);
	snprintf(r->sni, sizeof(r->sni), "%s", c->tls.hs->sni);
	if (c->tls.resumed)
		r->flags |= KTLSD_HANDOFF_R_RESUMED;
	if (c->tls.hs->client) {
		r->verify_result = (int32_t)c->tls.hs->verify_result;
		snprintf(r->peer_subject, sizeof(r->peer_subject), "%s", c->tls.hs->peer_subject);
		if (c->tls.version && c->tls.hs->verify_result == X509_V_OK)
			r->flags |= KTLSD_HANDOFF_R_VERIFIED;
	}
	if (c->tls.start_ns)
		r->handshake_us = (uint32_t)((now_monotonic_ns() - c->tls.start_ns) / 1000);
}

/* Stop watching the application's connection: the reply is out. */
static void handoff_unwatch(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (!conn_op_pending(c, OP_APP_HUP) || !(sqe = worker_get_sqe(c->w)))
		return;
	io_uring_prep_cancel64(sqe, ud_pack(OP_APP_HUP, c->gen, c->slot), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
}

/**
 * handoff_adopt() - start the handshake of a handed-off socket (worker thread).
 * Takes @job over.
 */
void handoff_adopt(struct worker *w, struct handoff_job *job)
{
	const struct ktlsd_cfg *cfg = w->snap->cfg;
	struct io_uring_sqe *sqe;
	struct conn *c;

	if (!cfg->handoff.socket || w->draining || atomic_load(&w->paused) ||
	    atomic_load(&w->stop) || atomic_load(&w->exited)) {
		handoff_job_fail(job, KTLSD_HANDOFF_E_DRAINING, "ktlsd is stopping or draining");
		return;
	}
	if (conn_limit_reached(cfg, cfg->handoff_listener)) {
		handoff_job_fail(job, KTLSD_HANDOFF_E_BUSY, "max_connections reached");
		return;
	}
	c = conn_new(w, job->cfd,
		     job->op == KTLSD_HANDOFF_CLIENT ? cfg->handoff_client_listener
						     : cfg->handoff_listener,
		     &handoff_conn_ops);
	if (!c) {
		handoff_job_fail(job, KTLSD_HANDOFF_E_INTERNAL, "out of memory");
		return;
	}
	stats_inc(w, job->pooled ? STAT_POOL_REFILLS : STAT_HANDOFF_REQUESTS);
	c->flags |= CONN_F_HANDOFF;
	c->app_ops = &handoff_app_ops;
	c->app.fd = job->app_fd;
	c->app.id = job->id;
	c->app.flags = job->flags;
	if (handshake_prepare(c) < 0) {
		free(job);
		conn_close(c, "out of memory");
		return;
	}
	if (job->op == KTLSD_HANDOFF_CLIENT) {
		c->tls.hs->client = true;
		c->tls.hs->verify_optional = job->flags & KTLSD_HANDOFF_F_VERIFY_OPTIONAL;
		snprintf(c->tls.hs->sni, sizeof(c->tls.hs->sni), "%s", job->host);
		client_cache_key(c->tls.hs, job->host, job->port, job->alpn);
	} else {
		c->tls.hs->forced_profile = job->profile;
	}
	memcpy(c->tls.hs->alpn_wire, job->alpn_wire, job->alpn_wire_len);
	c->tls.hs->alpn_wire_len = job->alpn_wire_len;
	/* The application's timeout (or the handshake's) applies, not client_hello_timeout. */
	c->flags &= ~CONN_F_HELLO_DEADLINE;
	c->deadline_ms =
		w->now_ms + (job->timeout_ms ? job->timeout_ms : c->lcfg->handshake_timeout_ms);
	free(job);
	if (handshake_begin(c) < 0) {
		conn_close(c, "out of memory");
		return;
	}
	/* An application that goes away cancels its handshake. */
	sqe = worker_get_sqe(w);
	if (sqe) {
		io_uring_prep_poll_add(sqe, c->app.fd, POLLRDHUP);
		io_uring_sqe_set_data64(sqe, ud_pack(OP_APP_HUP, c->gen, c->slot));
		c->inflight |= 1u << OP_APP_HUP;
	}
	if (c->tls.hs->client)
		relay_start_client(c);
	else
		relay_pump(c);
}

/**
 * handoff_start_relay() - no kernel TLS for this connection: the application gets one end
 * of a socketpair, and the connection relays between the other end and the client.
 * Return: true if the connection goes on; false if it was closed (do not touch it).
 */
static bool handoff_start_relay(struct conn *c)
{
	struct ktlsd_handoff_reply r;
	int sp[2];

	if (c->app.flags & KTLSD_HANDOFF_F_REQUIRE_KTLS) {
		c->app.status = KTLSD_HANDOFF_E_NO_KTLS;
		conn_close(c, "no kernel TLS for this connection (required)");
		return false;
	}
	/* Ours is non-blocking for the ring; the application's is made blocking below, as
	 * the TCP socket it replaces would normally be. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0 ||
	    (fcntl(sp[1], F_SETFL, 0) < 0 && (close(sp[0]), close(sp[1]), true))) {
		conn_log(c, LOG_LVL_ERR, "socketpair: %s", strerror(errno));
		conn_close(c, "internal error (socketpair)");
		return false;
	}
	handoff_fill(c, &r);
	r.flags |= KTLSD_HANDOFF_R_RELAY;
	if (handoff_send(c, &r, sp[1]) < 0) {
		close(sp[0]);
		close(sp[1]);
		conn_close(c, "the application went away");
		return false;
	}
	close(sp[1]);
	handoff_unwatch(c);
	c->bfd = sp[0];
	c->flags |= CONN_F_BACKEND_UP;
	c->state = CONN_RELAY;
	c->deadline_ms = c->w->now_ms + c->lcfg->idle_timeout_ms;
	stats_inc(c->w, STAT_HANDOFF_RELAYED);
	conn_log(c, LOG_LVL_DEBUG, "handed back as a relayed socketpair (userspace TLS)");
	return true;
}

/**
 * handoff_on_handshake() - the handshake completed: decide between kernel TLS and the
 * relay. Return: true if the connection goes on, false if it was closed.
 */
static bool handoff_on_handshake(struct conn *c)
{
	if (backend_prepare(c) < 0) {
		conn_close(c, "out of memory");
		return false;
	}
	handover_begin(c);
	if (!(c->flags & CONN_F_HANDOVER))
		return handoff_start_relay(c);
	/* relay_pump() drives the switch; handoff_return_ktls() ends it. */
	if (c->tls.hs->client && SSL_version(c->tls.ssl) == TLS1_3_VERSION &&
	    c->snap->cfg->client_ticket_wait_ms)
		c->flags |= CONN_F_TICKET_WAIT;
	c->state = CONN_RELAY;
	c->deadline_ms = c->w->now_ms + c->lcfg->handshake_timeout_ms;
	return true;
}

/** handoff_return_ktls() - kernel TLS is installed: the socket goes back; we let go. */
static void handoff_return_ktls(struct conn *c)
{
	struct ktlsd_handoff_reply r;

	handoff_fill(c, &r);
	r.flags |= (c->ktls.dirs & KTLS_F_TX ? KTLSD_HANDOFF_R_KTLS_TX : 0) |
		   (c->ktls.dirs & KTLS_F_RX ? KTLSD_HANDOFF_R_KTLS_RX : 0);
	if (handoff_send(c, &r, c->cfd) == 0)
		stats_inc(c->w, STAT_HANDOFF_KTLS);
	handoff_unwatch(c);
	/* Ours was a duplicate: closing it leaves the application's socket as it is. */
	close(c->cfd);
	c->cfd = -1;
	conn_close(c, "handed back on kernel TLS");
}

/** handoff_on_app_hup() - the application's connection closed (or the watch ended). */
static void handoff_on_app_hup(struct conn *c, int res)
{
	if (res == -ECANCELED || (c->flags & CONN_F_REPLIED))
		return;
	conn_close(c, "the application went away during the handshake");
}

/** handoff_conn_free() - the last word to the application if it had none, then let go. */
static void handoff_conn_free(struct conn *c)
{
	struct ktlsd_handoff_reply r;
	const char *why = c->close_reason ? c->close_reason : "closed";

	if (c->app.fd < 0)
		return;
	if (!(c->flags & CONN_F_REPLIED)) {
		handoff_fill(c, &r);
		if (c->app.status)
			r.status = c->app.status;
		else if (c->flags & CONN_F_TIMED_OUT)
			r.status = KTLSD_HANDOFF_E_TIMEOUT;
		else if (c->tls.fail == LSTAT_FAIL_VERIFY)
			r.status = KTLSD_HANDOFF_E_VERIFY;
		else if (c->tls.fail)
			r.status = KTLSD_HANDOFF_E_HANDSHAKE;
		else
			r.status = KTLSD_HANDOFF_E_INTERNAL;
		if (c->tls.fail == LSTAT_FAIL_VERIFY)
			snprintf(r.message, sizeof(r.message), "certificate verify failed: %s",
				 X509_verify_cert_error_string(c->tls.hs->verify_result));
		else
			snprintf(r.message, sizeof(r.message), "%s%s%s", why,
				 c->tls.fail ? ": " : "",
				 c->tls.fail ? lstats_name(c->tls.fail) : "");
		handoff_send(c, &r, -1);
	}
	close(c->app.fd);
	c->app.fd = -1;
}
