// SPDX-License-Identifier: MIT
/*
 * conn.c - connection lifetime: the per-worker slab, lookup of completions, one teardown.
 *
 * A connection is freed only once no io_uring operation refers to it: conn_close() cancels
 * what is in flight and the last completion frees it. Slots are reused with a new
 * generation, so a late completion for an old occupant is recognised and dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core.h"

#define CONN_SLAB_MIN	      64
#define CONN_SPARE_RECORDS    64   /* records conn_trim() keeps beyond the live ones */
#define CONN_TRIM_INTERVAL_MS 1000 /* conn_trim() at most this often */

static atomic_uint_fast64_t conn_ids;

/** conn_next_id() - a process-wide connection id, for logs and the control API. */
static uint64_t conn_next_id(void)
{
	return atomic_fetch_add_explicit(&conn_ids, 1, memory_order_relaxed) + 1;
}

static int conn_slab_grow(struct worker *w)
{
	uint32_t n = w->n_slots ? w->n_slots * 2 : CONN_SLAB_MIN;
	struct conn **slots;
	uint32_t *free_slots, *gens;

	if (n > (1u << 31))
		return -ENOSPC;
	slots = realloc(w->slots, n * sizeof(struct conn *));
	if (!slots)
		return -ENOMEM;
	w->slots = slots;
	gens = realloc(w->slot_gens, n * sizeof(*gens));
	if (!gens)
		return -ENOMEM;
	w->slot_gens = gens;
	free_slots = realloc(w->free_slots, n * sizeof(*free_slots));
	if (!free_slots)
		return -ENOMEM;
	w->free_slots = free_slots;
	/* Hand out low slots first: push the new ones in reverse. */
	for (uint32_t i = n; i > w->n_slots; i--) {
		slots[i - 1] = NULL;
		gens[i - 1] = 0;
		free_slots[w->n_free++] = i - 1;
	}
	w->n_slots = n;
	return 0;
}

/* "address:port" of @fd's peer ("unix" for a Unix socket, "?" once the peer is gone). */
static const char *conn_peer_lookup(int fd, char *buf, size_t len)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} a = { .ss = { 0 } };
	socklen_t sl = sizeof(a);
	char host[INET6_ADDRSTRLEN] = "?";

	if (getpeername(fd, &a.sa, &sl) < 0) {
		snprintf(buf, len, "?");
	} else if (a.sa.sa_family == AF_UNIX) {
		snprintf(buf, len, "unix");
	} else if (a.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a.in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a.in6.sin6_port));
	} else {
		inet_ntop(AF_INET, &a.in4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a.in4.sin_port));
	}
	return buf;
}

/*
 * Open connections of all workers, for max_connections: in total, and per listener slot.
 * A connection counts from conn_new() to conn_free().
 */
static _Atomic uint32_t conns_open_total;
static _Atomic uint32_t conns_open_slot[LISTENER_SLOTS];

/** conn_limit_reached() - is listener @listener of @cfg at a max_connections limit? */
bool conn_limit_reached(const struct ktlsd_cfg *cfg, size_t listener)
{
	const struct cfg_listener *l = &cfg->listeners[listener];

	return (cfg->max_connections &&
		atomic_load_explicit(&conns_open_total, memory_order_relaxed) >=
			cfg->max_connections) ||
	       (l->max_connections && !l->handoff &&
		atomic_load_explicit(&conns_open_slot[l->slot], memory_order_relaxed) >=
			l->max_connections);
}

static void conn_count_open(const struct conn *c, int d)
{
	atomic_fetch_add_explicit(&conns_open_total, (uint32_t)d, memory_order_relaxed);
	if (!c->lcfg->handoff)
		atomic_fetch_add_explicit(&conns_open_slot[c->lcfg->slot], (uint32_t)d,
					  memory_order_relaxed);
}

/**
 * conn_new() - take a slot for a freshly accepted client socket.
 * @cfd:      the accepted socket; on failure the caller still owns it
 * @listener: index of the listener that accepted it
 * @ops:      what the layers above do with it (struct conn_ops)
 *
 * Return: the connection (owned by the worker; ends through conn_close()), or NULL.
 */
struct conn *conn_new(struct worker *w, int cfd, size_t listener, const struct conn_ops *ops)
{
	struct conn *c;
	uint32_t slot, gen;

	if (!w->n_free && conn_slab_grow(w) < 0)
		return NULL;
	slot = w->free_slots[w->n_free - 1];
	c = w->slots[slot];
	if (!c) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		w->slots[slot] = c;
		w->n_records++;
	}
	w->n_free--;
	gen = w->slot_gens[slot] + 1;
	memset(c, 0, sizeof(*c));
	c->gen = gen & 0xffffff;
	c->slot = slot;
	c->w = w;
	c->ops = ops;
	c->id = conn_next_id();
	c->cfd = cfd;
	c->bfd = -1;
	c->listener = listener;
	c->snap = snapshot_get(w->snap);
	c->lcfg = &c->snap->cfg->listeners[listener];
	c->app.fd = -1;
	c->state = CONN_HANDSHAKE;
	c->gauge = GAUGE_NONE;
	conn_set_gauge(c, GAUGE_HANDSHAKE);
	c->ktls.sd[0].pipe[0] = c->ktls.sd[0].pipe[1] = c->ktls.sd[1].pipe[0] =
		c->ktls.sd[1].pipe[1] = -1;
	c->started_ms = w->now_ms;
	conn_count_open(c, 1);
	/* The access line needs it at the end, when the peer may have gone (ENOTCONN); one
	 * getpeername() per connection, only when that line will be written. */
	if (c->snap->cfg->access_log && log_enabled(LOG_LVL_INFO))
		conn_peer_lookup(cfd, c->peer, sizeof(c->peer));
	c->deadline_ms = w->now_ms + c->lcfg->handshake_timeout_ms;
	/* Until the whole ClientHello is in, the shorter client_hello_timeout applies. */
	if (c->lcfg->client_hello_timeout_ms < c->lcfg->handshake_timeout_ms) {
		c->deadline_ms = w->now_ms + c->lcfg->client_hello_timeout_ms;
		c->flags |= CONN_F_HELLO_DEADLINE;
	}

	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	if (++w->n_conns > w->conns_peak)
		w->conns_peak = w->n_conns;
	return c;
}

/** conn_lookup() - the live connection a completion belongs to, or NULL if stale. */
struct conn *conn_lookup(struct worker *w, uint64_t user_data)
{
	uint32_t slot = ud_slot(user_data);
	struct conn *c;

	if (slot >= w->n_slots)
		return NULL;
	c = w->slots[slot];
	if (!c || c->w == NULL || c->gen != ud_gen(user_data))
		return NULL;
	return c;
}

/*
 * The access line (access_log): one per connection, at its end, as key=value pairs.
 * Values a client chose (the SNI) are cleaned by conn_sni_str(); "-" means none yet.
 */
static void conn_log_access(const struct conn *c)
{
	char peer[64], sni[256];

	conn_log(c, LOG_LVL_INFO,
		 "access peer=%s listener=%s sni=%s alpn=%s version=%s cipher=%s resumed=%s "
		 "path=%s duration_ms=%llu bytes_in=%llu bytes_out=%llu end=\"%s\"",
		 conn_peer_str(c, peer, sizeof(peer)), c->lcfg->name,
		 conn_sni_str(c, sni, sizeof(sni)), c->tls.alpn[0] ? c->tls.alpn : "-",
		 c->tls.version ? c->tls.version : "-", c->tls.cipher ? c->tls.cipher : "-",
		 c->tls.resumed ? "yes" : "no",
		 c->gauge >= 0 ? stats_gauge_name((enum path_gauge)c->gauge) : "-",
		 (unsigned long long)(c->w->now_ms - c->started_ms),
		 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
		 c->close_reason ? c->close_reason : "closed");
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (c->snap->cfg->access_log && log_enabled(LOG_LVL_INFO))
		conn_log_access(c);
	conn_set_gauge(c, GAUGE_NONE);
	conn_count_open(c, -1);
	c->ops->release(c);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->bfd >= 0)
		close(c->bfd);
	snapshot_put(c->snap);

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;

	/* Keep the record for the slot's next occupant (or conn_trim()); the generation
	 * survives beside the slot, and w stays NULL until then (conn_gone()). */
	uint32_t slot = c->slot;

	w->slot_gens[slot] = c->gen;
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->cfd = c->bfd = -1;
	w->free_slots[w->n_free++] = slot;
}

/** conn_op_pending() - is an operation of this kind in flight? */
bool conn_op_pending(const struct conn *c, enum op op)
{
	return c->inflight & (1u << op);
}

/**
 * conn_op_done() - note that an operation completed; frees a closing connection once its
 * last operation is back. The caller must not touch @c afterwards if it was closing.
 */
void conn_op_done(struct conn *c, enum op op)
{
	c->inflight &= ~(1u << op);
	if (op == OP_CSEND)
		c->tls.io.out_busy = false;
	if (c->state == CONN_CLOSING && !c->inflight)
		conn_free(c);
}

/**
 * conn_cancel_op() - ask the ring to cancel operation @op of @c, if it is in flight. It
 * completes with -ECANCELED, or normally if it was already done; the cancel's own
 * completion is ignored. Without room in the submission queue nothing is asked.
 */
void conn_cancel_op(struct conn *c, enum op op)
{
	struct io_uring_sqe *sqe;

	if (!conn_op_pending(c, op) || !(sqe = worker_get_sqe(c->w)))
		return;
	io_uring_prep_cancel64(sqe, ud_pack(op, c->gen, c->slot), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
}

/**
 * conn_close() - end a connection: cancel its operations, close and free it once they
 * are back. Safe to call more than once; the first reason is kept.
 */
void conn_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	c->close_reason = reason;
	/* Without room for a cancel, an operation still completes: the fds get shut below. */
	for (unsigned op = OP_CPOLL; op < OP__COUNT; op++)
		conn_cancel_op(c, op);
	/* Wakes anything the cancel could not reach (an operation already running). */
	if (c->inflight) {
		/* A handed-off socket is the application's too: never shut it down. */
		if (!(c->flags & CONN_F_HANDOFF))
			shutdown(c->cfd, SHUT_RDWR);
		if (c->bfd >= 0)
			shutdown(c->bfd, SHUT_RDWR);
		return;
	}
	conn_free(c);
}

/**
 * conn_flush_close() - send what is queued for the client (an alert or close_notify),
 * then close; bounded by a short deadline.
 */
void conn_flush_close(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSING || c->state == CONN_FLUSHING)
		return;
	c->close_reason = reason;
	if (!buf_len(&c->tls.io.out) && !conn_op_pending(c, OP_CSEND)) {
		conn_close(c, reason);
		return;
	}
	c->state = CONN_FLUSHING;
	c->deadline_ms = c->w->now_ms + 2000;
	c->ops->pump(c);
}

/** conn_set_gauge() - count the connection under path @g from now on. */
void conn_set_gauge(struct conn *c, enum path_gauge g)
{
	if (c->gauge == (int)g)
		return;
	if (c->gauge != GAUGE_NONE)
		stats_gauge_add(&c->w->stats, (enum path_gauge)c->gauge, -1);
	if (g != GAUGE_NONE)
		stats_gauge_add(&c->w->stats, g, 1);
	c->gauge = g;
}

/** conn_count_hs_failure() - one failed handshake, for @reason (LSTAT_FAIL_*). */
void conn_count_hs_failure(struct conn *c, enum lstat_id reason)
{
	stats_inc(c->w, STAT_HANDSHAKE_FAILURES);
	lstats_inc(c->snap->lstats[c->listener], c->w->idx, reason);
}

static const char *conn_timeout_reason(const struct conn *c)
{
	switch (c->state) {
	case CONN_HANDSHAKE:
		return c->flags & CONN_F_HELLO_DEADLINE ? "ClientHello timeout"
							: "handshake timeout";
	case CONN_CONNECTING:
		return "backend connect timeout";
	case CONN_FLUSHING:
		return "flush timeout";
	default:
		return "idle timeout";
	}
}

/**
 * conn_sweep() - close connections whose deadline passed; at the end of a drain, all of
 * them. Called from the worker's periodic timer.
 */
void conn_sweep(struct worker *w)
{
	bool drain_over = w->draining && w->now_ms >= w->drain_deadline_ms;
	struct conn *c = w->conns, *next;

	for (; c; c = next) {
		next = c->next; /* conn_close may free c */
		if (c->state == CONN_CLOSING)
			continue;
		const char *why;

		if (drain_over) {
			why = "shutdown timeout";
		} else if (w->now_ms >= c->deadline_ms) {
			why = conn_timeout_reason(c);
		} else {
			/* A relaying connection's deadline is its last activity + idle_timeout. */
			if (c->state == CONN_RELAY && c->ops->idle && !(c->flags & CONN_F_IDLE) &&
			    w->now_ms + c->lcfg->idle_timeout_ms >= c->deadline_ms + CONN_IDLE_MS) {
				c->flags |= CONN_F_IDLE;
				c->ops->idle(c);
			}
			continue;
		}
		conn_log(c, c->state == CONN_CONNECTING ? LOG_LVL_WARN : LOG_LVL_INFO, "%s", why);
		c->flags |= CONN_F_TIMED_OUT;
		if (c->state == CONN_HANDSHAKE && !drain_over) {
			conn_count_hs_failure(c, LSTAT_FAIL_TIMEOUT);
			if (c->flags & CONN_F_HELLO_DEADLINE)
				lstats_inc(c->snap->lstats[c->listener], w->idx,
					   LSTAT_TIMEOUT_HELLO);
		}
		/* Past the handshake the client is owed a close_notify. */
		if (c->state == CONN_RELAY || c->state == CONN_CONNECTING)
			c->ops->shutdown(c, why);
		else
			conn_close(c, why);
	}
}

/**
 * conn_trim() - after a burst of connections has closed, give its memory back: spare
 * connection records beyond a small reserve are freed (the longest unused first; the
 * slots and their generations stay), and glibc hands free heap pages back to the kernel
 * (malloc_trim(), every arena). From the worker's tick, after conn_sweep(): at most once
 * a second, and only once the live connections fell to half their peak since the last
 * trim, so a steady load never pays for it.
 */
void conn_trim(struct worker *w)
{
	uint32_t keep = w->n_conns + CONN_SPARE_RECORDS;

	if (w->now_ms - w->last_trim_ms < CONN_TRIM_INTERVAL_MS ||
	    w->conns_peak < CONN_SPARE_RECORDS || w->n_conns > w->conns_peak / 2)
		return;
	/* The bottom of the free stack holds the slots freed longest ago. */
	for (uint32_t i = 0; i < w->n_free && w->n_records > keep; i++) {
		uint32_t slot = w->free_slots[i];

		if (w->slots[slot]) {
			free(w->slots[slot]);
			w->slots[slot] = NULL;
			w->n_records--;
		}
	}
	malloc_trim(0);
	w->conns_peak = w->n_conns;
	w->last_trim_ms = w->now_ms;
}

/**
 * conn_sni_str() - the server name the client sent, safe to log (log_clean_name()); "-"
 * when there is none.
 */
const char *conn_sni_str(const struct conn *c, char *buf, size_t len)
{
	const char *src = c->tls.hs && c->tls.hs->sni[0] ? c->tls.hs->sni : "-";

	log_clean_name(buf, len, src);
	return buf;
}

/**
 * conn_peer_str() - "address:port" of the client, for messages: the one kept at accept
 * (access_log), else asked of the socket.
 */
const char *conn_peer_str(const struct conn *c, char *buf, size_t len)
{
	if (!c->peer[0])
		return conn_peer_lookup(c->cfd, buf, len);
	snprintf(buf, len, "%s", c->peer);
	return buf;
}

/** conn_log() - a log line prefixed with the connection id. */
void conn_log(const struct conn *c, enum log_level lvl, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	if (!log_enabled(lvl))
		return;
	snprintf(prefix, sizeof(prefix), "conn %llu: ", (unsigned long long)c->id);
	va_start(ap, fmt);
	log_vmsg(lvl, prefix, fmt, ap);
	va_end(ap);
}
