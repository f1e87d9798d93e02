/* SPDX-License-Identifier: MIT */
/*
 * core.h - the core layer: worker threads, their rings, listening-socket slots, and the
 * connection record with its lifetime (worker.c, worker_io.c, worker_req.c, conn.c,
 * listeners.c). Grouped by file.
 *
 * Ownership: main.c owns the configuration snapshots and the workers. A worker owns its
 * io_uring ring, its listening sockets and its connections; nothing else touches them.
 * The connection record carries the state each upper layer keeps per connection (the
 * handshake's hs_info and record counts, the splice pipes, the buffers); only the layer
 * named beside a field touches it. The core reaches those layers only through struct
 * conn_ops, struct worker_hooks, struct worker_job and struct conn_app_ops.
 */
#ifndef KTLSD_CORE_H
#define KTLSD_CORE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <liburing.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "stats.h"

/* ---- the configuration snapshot (built by tls/tlsprof.c, held here) ---- */

struct tls_profile; /* tls/tls.h */

/*
 * An immutable, reference-counted pairing of a configuration and the TLS contexts built
 * from it. A reload builds a new snapshot and hands it to every worker; connections keep
 * the snapshot they started with until they close.
 */
struct snapshot {
	atomic_uint refs;
	void (*release)(struct snapshot *s); /* frees it at the last snapshot_put() (tlsprof.c) */
	uint64_t generation;
	struct ktlsd_cfg *cfg;
	struct tls_profile *profiles;	/* cfg->n_profiles entries */
	struct listener_stats **lstats; /* cfg->n_listeners entries, found by listener name */
	SSL_CTX *client_ctx;		/* the handoff client role's (client_tls.c); NULL: none */
};

/* Why an offered session did not resume (the first cause seen wins). */
enum resume_miss {
	RESUME_MISS_NONE = 0,
	RESUME_MISS_UNKNOWN_KEY, /* the ticket's key is not (or no longer) in the ring */
	RESUME_MISS_BAD_TICKET,	 /* the ticket does not decrypt or authenticate */
	RESUME_MISS_CACHE,	 /* the session ID or stateful ticket is not in the cache */
	RESUME_MISS_EXPIRED,	 /* the session is past its lifetime */
};

enum { KTLS_TX = 0, KTLS_RX = 1 };

/*
 * What the OpenSSL callbacks of one handshake need to know; lives in the connection and
 * is reached through SSL_get_app_data().
 */
struct hs_info {
	const struct snapshot *snap;
	const struct cfg_listener *lcfg;
	size_t profile; /* index into snap->profiles, chosen by SNI */
	char sni[256];	/* empty when the client sent none */
	uint64_t conn_id;
	unsigned worker; /* index, for per-worker counters and logs */
	enum resume_miss miss;
	bool offered;	     /* the client offered a session (ticket, PSK or session ID) */
	bool early_offered;  /* the ClientHello announced 0-RTT data */
	bool early_replayed; /* refused: this ticket already carried 0-RTT data */
	bool early_reading;  /* still reading 0-RTT data (SSL_read_early_data) */
	bool sni_refused;    /* sni_strict refused the ClientHello's name (tlsprof.c) */
	bool hello_seen;     /* the whole ClientHello arrived (its callback ran) */
	int forced_profile; /* handoff: the profile the application asked for; -1: the listener's */
	uint8_t alpn_wire[129]; /* handoff: the application's ALPN list (wire format) */
	uint8_t alpn_wire_len;
	bool client;		/* handoff client role: we are the TLS client; sni is the host */
	bool verify_optional;	/* client: finish even if the certificate does not verify */
	uint8_t tickets;	/* client: sessions the server issued on this connection */
	char cache_key[400];	/* client: the session cache key (clientcache.c); "" none */
	long verify_result;	/* client: X509_V_OK or why the certificate did not verify */
	char peer_subject[256]; /* client: the server certificate's subject (RFC 2253) */
	/* TLS 1.3 application traffic secrets, [KTLS_TX] ours, [KTLS_RX] the client's;
	 * held from the keylog callback until ktls_export() cleanses them. */
	uint8_t secret[2][48];
	uint8_t secret_len[2];
};

/* snapshot_get() - one more reference to @s; returns @s. Any thread. */
static inline struct snapshot *snapshot_get(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

/* snapshot_put() - drop a reference (NULL is fine); the last one frees the snapshot. */
static inline void snapshot_put(struct snapshot *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		s->release(s);
}

/* ---- the handshake's and the record layer's per-connection state (tls/) ---- */

/* ---- bio.c: OpenSSL BIOs over a connection's ciphertext buffers ---- */

/*
 * Ciphertext moves between io_uring and OpenSSL through these two buffers, without an
 * extra memory BIO copy: OpenSSL reads records from @in and writes records to @out.
 * @in_eof makes a read of an empty @in report end of file instead of "retry".
 */
/*
 * Record boundaries seen in one direction. The kernel needs the exact record sequence
 * numbers at the switch from OpenSSL, which has no API for them: the BIO counts records
 * instead, and notes where the last ChangeCipherSpec went by (TLS 1.2 keys change there).
 */
struct tls_rec_track {
	uint64_t records;  /* whole records passed */
	uint64_t ccs_mark; /* value of @records just after the last ChangeCipherSpec */
	uint32_t left;	   /* bytes of the current record still to come; 0 at a boundary */
	uint8_t type;	   /* content type of the current record */
	uint8_t hdr_have;  /* header bytes gathered so far (output side) */
	uint8_t hdr[5];
};

struct tls_io {
	struct buf in;
	struct buf out;
	struct tls_rec_track rd; /* records handed to OpenSSL, whole records only */
	struct tls_rec_track wr; /* records OpenSSL wrote */
	uint64_t seq_base[2];	 /* record counts where the application keys began */
	bool in_eof;
	bool out_busy; /* a send from @out is in flight: append only, never compact */
};

/* ---- worker.c: one thread, one ring, its listeners and connections ---- */

enum op {
	OP_NONE = 0, /* completions to ignore (cancels) */
	OP_ACCEPT,
	OP_CPOLL, /* client: waiting for its first bytes, before anything is allocated */
	OP_CRECV,
	OP_CSEND,
	OP_CONNECT,
	OP_BRECV,
	OP_BSEND,
	OP_CPARK, /* a parked connection waits, without a buffer, for the client (relay_park.c) */
	OP_BPARK, /* ... and for the backend */
	OP_TIMER,
	OP_NOTIFY,
	/* kernel-TLS relay (splice.c), per direction: poll+splice in, splice out, wait out */
	OP_C2B_POLL,
	OP_C2B_IN,
	OP_C2B_OUT,
	OP_C2B_WAIT,
	OP_B2C_POLL,
	OP_B2C_IN,
	OP_B2C_OUT,
	OP_B2C_WAIT,
	OP_APP_HUP, /* handoff: the application's connection to the handoff socket closed */
	OP__COUNT,
};

enum { DIR_C2B = 0, DIR_B2C = 1 };

struct conn;
struct worker;

/*
 * What the layers above the worker do with a connection. The core (worker.c, conn.c)
 * knows no path module: it routes a connection's completions, its re-arming, its orderly
 * end and the release of its path resources through these, and the data layer (flow.c)
 * fills them in. Each may end the connection; the caller must not touch it afterwards.
 */
struct conn_ops {
	/* A completion of one of the connection's own operations (not accept/timer/notify). */
	void (*on_cqe)(struct conn *c, enum op op, int res);
	/* Arm whatever has work now (conn_flush_close() queued output for the client). */
	void (*pump)(struct conn *c);
	/* An orderly end past the handshake: close_notify to the client, then close. */
	void (*shutdown)(struct conn *c, const char *reason);
	/* Frees what the paths hold (SSL, pipes, the application's socket); no I/O. */
	void (*release)(struct conn *c);
	/* Optional: nothing moved for CONN_IDLE_MS; give back what returns on use (it may
	 * queue ring operations, never closes). Called once per quiet spell, from the
	 * deadline sweep. */
	void (*idle)(struct conn *c);
};

/*
 * The worker's calls upward, registered once by main before the first worker starts
 * (worker_set_hooks()). on_accept owns the new connection: it starts it or closes it.
 */
struct worker_hooks {
	const struct conn_ops *conn_ops; /* every connection's, from conn_new() */
	void (*on_accept)(struct conn *c);
	/* In the new thread, before it serves; an error stops the start (worker_start()). */
	int (*on_thread_start)(unsigned worker_idx);
	void (*on_tick)(void); /* the worker's periodic timer (every 250 ms) */
};

/*
 * Work another thread hands a worker (worker_post()); run on the worker's thread, in the
 * order posted, also while it stops (run must then refuse it). Embed it first in the
 * job's own struct.
 */
struct worker_job {
	struct worker_job *next;
	void (*run)(struct worker *w, struct worker_job *job);
};

#define LISTENER_SLOTS 256

#define WORKER_HELD_MAX 64 /* accepted sockets waiting for room under max_connections */

struct worker_listener {
	int fd;
	bool armed;   /* an accept is in flight */
	bool full;    /* max_connections reached: not accepting until connections end */
	uint32_t gen; /* bumped with each new socket: completions of an old one are stale */
};

/* ---- listeners.c: listening-socket slots (main side) ---- */

struct lslot {
	bool used;
	char *name;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint32_t keepalive_s; /* the inherited socket options it was opened with */
	uint32_t mark;
};

struct lslots {
	struct lslot slot[LISTENER_SLOTS];
};

int listeners_assign(struct lslots *ls, struct ktlsd_cfg *cfg, struct worker *workers,
		     unsigned n_workers, char *err, size_t errlen);
void listeners_release(struct lslots *ls);

/*
 * What `ktlsctl conns` shows of one connection: copied by its worker (worker_call), so the
 * control thread never touches a live connection.
 */
struct conn_info {
	uint64_t id;
	unsigned worker;
	char listener[64];
	char peer[64];
	char sni[256];
	char alpn[32];
	const char *version; /* static strings (OpenSSL's tables, conn_state_name()), or NULL */
	const char *cipher;
	const char *state;
	bool resumed;
	int path;      /* enum path_gauge */
	unsigned ktls; /* KTLS_F_TX | KTLS_F_RX */
	uint64_t bytes_in, bytes_out;
	uint64_t age_ms;
	uint32_t inode; /* the client socket's, to match sock_diag's answer */
};

enum worker_req_kind { WREQ_CONNS, WREQ_KILL };

/* A request from the control thread to one worker, answered on the worker's thread. */
struct worker_req {
	enum worker_req_kind kind;
	uint64_t id;		 /* WREQ_KILL: the connection */
	struct conn_info *infos; /* WREQ_CONNS: filled by the worker (malloc'd; caller frees) */
	size_t n_infos;
	int result;	  /* 0 or -errno (-ENOENT: no such connection) */
	atomic_int state; /* WREQ_POSTED, WREQ_DONE, WREQ_ABANDONED */
	sem_t done;
};

enum { WREQ_POSTED = 0, WREQ_DONE, WREQ_ABANDONED };

#define WORKER_SPARE_PIPES 64 /* empty splice pipes a worker keeps for reuse */

struct worker {
	unsigned idx;
	pthread_t thread;
	struct io_uring ring;
	bool multishot_accept;
	int notify_fd; /* eventfd: main thread -> worker */
	uint64_t notify_buf;
	struct __kernel_timespec tick;

	struct snapshot *snap;		      /* the current one, this worker's reference */
	_Atomic(struct snapshot *) next_snap; /* handed over by main, taken on notify */
	atomic_bool stop;		      /* drain, then exit */

	struct worker_listener listeners[LISTENER_SLOTS]; /* by slot (listeners.c) */
	int slot_idx[LISTENER_SLOTS]; /* slot -> listener index in snap->cfg, or -1 */
	unsigned n_slots_used;	      /* slots beyond this one are all unused */
	unsigned n_full;	      /* listeners[] paused at max_connections */
	/* Accepted at max_connections (before the pause took hold, or by another worker's
	 * share of the load): oldest first, started when there is room (worker.c). */
	struct {
		int fd;
		uint32_t slot;
	} held[WORKER_HELD_MAX];
	unsigned n_held;
	_Atomic int pending_fd[LISTENER_SLOTS]; /* new sockets from main, taken on notify */
	atomic_bool paused;			/* `drain`: close the listeners, keep serving */
	atomic_bool exited;
	_Atomic(struct worker_req *) req; /* from the control thread, taken on notify */
	pthread_mutex_t inbox_lock;	  /* guards inbox: jobs from other threads (worker_post) */
	struct worker_job *inbox;

	/*
	 * Connection slab: slots are reused; a generation tells stale completions apart. A
	 * free slot keeps its record for the next occupant until conn_trim() gives spare
	 * records back; the generation lives beside the slot, so it survives that.
	 */
	struct conn **slots;
	uint32_t *slot_gens;
	uint32_t n_slots;
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t n_records; /* allocated records, live or spare */
	struct conn *conns; /* list of live connections, for the timeout sweep */
	uint32_t n_conns;
	uint32_t conns_peak; /* most live connections since the last trim */
	uint64_t last_trim_ms;
	/* Empty pipes a closed kTLS connection left for the next one (data/splice.c). */
	int spare_pipes[WORKER_SPARE_PIPES][2];
	uint32_t spare_pipe_cap[WORKER_SPARE_PIPES];
	unsigned n_spare_pipes;

	uint64_t now_ms; /* CLOCK_MONOTONIC, refreshed once per batch of completions */
	uint64_t drain_deadline_ms;
	bool draining;
	struct stats stats; /* this worker's counters; it is their only writer */
	sem_t started;	    /* posted by the thread once its ring is enabled */
	int start_err;	    /* set by the thread before posting, if start-up failed */
};

/* user_data: op in the top 8 bits, the slot's generation in the next 24, the slot below. */
static inline uint64_t ud_pack(enum op op, uint32_t gen, uint32_t slot)
{
	return ((uint64_t)op << 56) | ((uint64_t)(gen & 0xffffff) << 32) | slot;
}

static inline enum op ud_op(uint64_t ud)
{
	return (enum op)(ud >> 56);
}

static inline uint32_t ud_gen(uint64_t ud)
{
	return (uint32_t)(ud >> 32) & 0xffffff;
}

static inline uint32_t ud_slot(uint64_t ud)
{
	return (uint32_t)ud;
}

void worker_set_hooks(const struct worker_hooks *hooks);
void worker_init(struct worker *w);
/* Queues @job for @w's thread. Return: 0, or -ESRCH when @w has stopped (the caller
 * still owns @job). */
int worker_post(struct worker *w, struct worker_job *job);
int worker_start(struct worker *w, unsigned idx, struct snapshot *snap);
void worker_notify(struct worker *w);
/*
 * Runs @req on worker @w's thread and waits up to @timeout_ms. Return: 0 (the answer is in
 * @req), -ETIMEDOUT (the caller must not touch or free @req: the worker frees it) or
 * -ESRCH (the worker has stopped).
 */
int worker_call(struct worker *w, struct worker_req *req, unsigned timeout_ms);
void worker_req_free(struct worker_req *req);
/* worker_req.c, on the worker's thread: */
void worker_answer(struct worker *w, struct worker_req *req);
void worker_req_finish(struct worker_req *req, int result);
void worker_join(struct worker *w);
/* Returns an SQE, submitting queued ones first if the SQ ring is full; NULL only on error. */
struct io_uring_sqe *worker_get_sqe(struct worker *w);
/* The port of an IPv4 or IPv6 address, in host order. */
static inline uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static inline void stats_inc(struct worker *w, enum stat_id i)
{
	stats_add_to(&w->stats, i, 1);
}

static inline void stats_add(struct worker *w, enum stat_id i, uint64_t n)
{
	stats_add_to(&w->stats, i, n);
}

/* ---- conn.c: connection lifetime ---- */

enum conn_state {
	CONN_HANDSHAKE,
	CONN_CONNECTING,
	CONN_RELAY,
	CONN_FLUSHING, /* sending what is queued for the client (an alert), then closing */
	CONN_CLOSING,  /* waiting for in-flight operations to complete */
};

#define CONN_F_CLIENT_EOF     (1u << 0) /* client sent close_notify or TCP FIN */
#define CONN_F_BACKEND_EOF    (1u << 1) /* backend sent FIN */
#define CONN_F_BACKEND_SHUT   (1u << 2) /* we shut down writing to the backend */
#define CONN_F_CLIENT_SHUT    (1u << 3) /* we sent close_notify and FIN to the client */
#define CONN_F_NOTIFY_QUEUED  (1u << 4) /* our close_notify is in the output buffer */
#define CONN_F_CLIENT_TCP_EOF (1u << 5) /* recv() on the client returned 0 */
#define CONN_F_HANDOVER	      (1u << 6) /* moving to kernel TLS once OpenSSL is drained */
#define CONN_F_RECV_EXACT     (1u << 7) /* receive whole TLS records, nothing past them */
#define CONN_F_EARLY_BACKEND  (1u << 8) /* backend connect started during the handshake (0-RTT) */
#define CONN_F_BACKEND_UP     (1u << 9) /* that connect completed */
#define CONN_F_HANDOFF	      (1u << 10) /* from the handoff socket: the application is the backend */
#define CONN_F_REPLIED	      (1u << 11) /* handoff: the application has its reply */
#define CONN_F_TICKET_WAIT    (1u << 12) /* client TLS 1.3: reading the server's tickets */
#define CONN_F_TIMED_OUT      (1u << 13) /* ended by a deadline (conn_sweep), drain's included */
#define CONN_F_HELLO_DEADLINE (1u << 14) /* the deadline is client_hello_timeout's */
#define CONN_F_IDLE	      (1u << 15) /* ops->idle ran; cleared by the next activity */
#define CONN_F_PARKING	      (1u << 16) /* its receives are being cancelled (relay_park.c) */
#define CONN_IDLE_MS	      250u	 /* quiet this long (a tick): ops->idle */

/* One direction of a kernel-TLS connection: bytes wait in a pipe between two splices. */
struct splice_dir {
	int pipe[2];
	uint32_t cap;	  /* pipe capacity */
	uint32_t pending; /* bytes in the pipe */
	bool src_eof;
	bool dst_shut;
	bool wait_record; /* the source had part of a record: next splice may block */
	bool streaming;	  /* the last splice in moved data: try the next without a poll */
	bool polled;	  /* the splice in flight waits behind a poll */
};

/*
 * Where a handed-off connection's outcomes go (handoff_conn.c fills it in); NULL for a
 * connection in front of a backend. The relay calls these instead of knowing the service.
 */
struct conn_app_ops {
	/* The handshake is done. Return: false if @c was closed. */
	bool (*on_handshake)(struct conn *c);
	/* Kernel TLS is installed: the socket goes back to the application. */
	void (*on_ktls)(struct conn *c);
	/* The connection stays on userspace records, relayed for the application.
	 * Return: false if @c was closed. */
	bool (*start_relay)(struct conn *c);
};

/*
 * A connection. The core owns the first block (identity, lifetime, sockets, accounting);
 * each sub-struct belongs to one module, which alone writes it: @tls to the handshake
 * (tls/handshake.c, bio.c), @relay to the userspace relay (data/relay*.c), @ktls to the
 * hand-over and the splice relay (data/handover.c, splice.c), @app to the handoff service
 * (services/handoff_conn.c).
 */
struct conn {
	struct worker *w;
	const struct conn_ops *ops;
	const struct conn_app_ops *app_ops;
	struct conn *next, *prev; /* worker's live list */
	uint32_t slot;
	uint32_t gen;
	uint64_t id;
	enum conn_state state;
	uint32_t flags;
	uint32_t inflight; /* bitmask of (1 << enum op) */

	int cfd; /* client socket */
	int bfd; /* backend socket, -1 until connecting */
	size_t listener;
	struct snapshot *snap;
	const struct cfg_listener *lcfg;

	char peer[48]; /* "address:port" of the client, kept at accept (access_log); "" */
	uint64_t started_ms;
	uint64_t deadline_ms;
	uint64_t connect_start_ns; /* at the backend connect() */
	int gauge;		   /* enum path_gauge this connection is counted in */
	uint64_t bytes_in;	   /* plaintext client -> backend */
	uint64_t bytes_out;	   /* plaintext backend -> client */
	const char *close_reason;

	struct conn_tls {
		SSL *ssl;	  /* NULL once the connection moved to kernel TLS */
		struct tls_io io; /* ciphertext from / to the client */
		struct hs_info
			*hs;	   /* what the handshake learns and decides; NULL until it begins */
		uint64_t start_ns; /* CLOCK_MONOTONIC at the first ClientHello byte; 0 before */
		enum lstat_id
			fail; /* why the handshake failed (LSTAT_FAIL_*), set with HS_FAILED */
		bool resumed;
		const char *version; /* OpenSSL's static strings, set when the handshake is done */
		const char *cipher;
		char alpn[32];
		char group[24]; /* the key exchange group, e.g. "x25519"; "" if none */
	} tls;

	struct conn_relay {
		struct buf to_back;   /* plaintext for the backend */
		struct buf to_cli;    /* plaintext from the backend, to be encrypted */
		struct buf early;     /* 0-RTT data held until the handshake completes */
		uint32_t early_bytes; /* 0-RTT plaintext accepted */
		struct __kernel_timespec
			ticket_wait; /* client: the linked timeout of a ticket recv */
	} relay;

	struct conn_ktls {
		unsigned dirs;	     /* KTLS_F_TX | KTLS_F_RX installed on cfd */
		bool gcm;	     /* AES-GCM: bound the records per key */
		uint64_t tx_records; /* upper bound of records the kernel sent for us */
		struct splice_dir sd[2];
	} ktls;

	struct conn_app {
		int fd;		 /* the application's connection (replies go there), or -1 */
		uint64_t id;	 /* the request's id */
		uint32_t flags;	 /* the request's KTLSD_HANDOFF_F_* */
		uint16_t status; /* the reply's status when set before the close; 0: none */
	} app;
};

struct conn *conn_new(struct worker *w, int cfd, size_t listener, const struct conn_ops *ops);
/* Looks a completion's connection up; NULL when the slot has moved on (stale). */
struct conn *conn_lookup(struct worker *w, uint64_t user_data);
/* Ends the connection: cancels what is in flight, closes sockets, frees once idle. */
void conn_close(struct conn *c, const char *reason);

/*
 * One convention for "this call may end the connection" (conn_close(), conn_flush_close(),
 * c->ops->shutdown() somewhere below it):
 *   - a function whose caller goes on with @c returns bool: true if @c goes on, false if it
 *     was closed and must not be touched again (an enum result has a *_CLOSED member
 *     instead, e.g. HANDOVER_CLOSED);
 *   - a void one (a completion handler, a pump) is the last thing its caller does with @c;
 *   - a caller that cannot know asks conn_gone(c).
 * Everything else returns 0 or -errno, a pointer or NULL, or a bool predicate.
 */

/*
 * conn_gone() - was @c freed by a call that may end it (conn_close(), c->ops->shutdown())?
 * With nothing in flight, conn_close() frees at once; the slot then has no worker until
 * conn_new() reuses it, which cannot happen before the current completion is handled.
 */
static inline bool conn_gone(const struct conn *c)
{
	return c->w == NULL;
}
/* Queues what is already in the client output buffer, then closes. */
void conn_flush_close(struct conn *c, const char *reason);
void conn_op_done(struct conn *c, enum op op);
bool conn_op_pending(const struct conn *c, enum op op);
bool conn_limit_reached(const struct ktlsd_cfg *cfg, size_t listener);
void conn_cancel_op(struct conn *c, enum op op);
void conn_sweep(struct worker *w);
/* After a burst: gives spare connection records and free heap memory back (worker tick). */
void conn_trim(struct worker *w);
/* Moves the connection to another "connections_active" gauge (GAUGE_NONE: none). */
void conn_set_gauge(struct conn *c, enum path_gauge g);
/* Counts a failed handshake under @reason (a LSTAT_FAIL_* counter) and in the totals. */
void conn_count_hs_failure(struct conn *c, enum lstat_id reason);
void conn_log(const struct conn *c, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *conn_peer_str(const struct conn *c, char *buf, size_t len);
const char *conn_sni_str(const struct conn *c, char *buf, size_t len);

#endif
