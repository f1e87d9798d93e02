/* SPDX-License-Identifier: MIT */
/*
 * stats.h - ktlsd's own counters. Each worker owns one array and is its only writer
 * (relaxed load + store, no locked instruction on the hot path); readers sum all workers.
 */
#ifndef KTLSD_STATS_H
#define KTLSD_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* X(enum name, exposed name, help text) */
#define STATS_LIST(X)                                                                              \
	X(STAT_CONNS_ACCEPTED, "connections_accepted", "client connections accepted")              \
	X(STAT_HANDSHAKES, "handshakes_completed", "TLS handshakes completed")                     \
	X(STAT_HANDSHAKE_FAILURES, "handshakes_failed", "TLS handshakes that failed")              \
	X(STAT_PATH_KTLS, "connections_ktls", "connections moved to kernel TLS (TX and RX)")       \
	X(STAT_PATH_USERSPACE, "connections_userspace",                                            \
	  "connections relayed with userspace records")                                            \
	X(STAT_KTLS_UNSUPPORTED, "ktls_fallback_unsupported",                                      \
	  "stayed in userspace: kernel lacks kTLS for the version or cipher")                      \
	X(STAT_KTLS_DISABLED, "ktls_fallback_disabled", "stayed in userspace: ktls = false")       \
	X(STAT_KTLS_FAILED, "ktls_fallback_failed",                                                \
	  "stayed in userspace: key export or install failed")                                     \
	X(STAT_BYTES_USERSPACE, "bytes_userspace",                                                 \
	  "payload bytes relayed through userspace buffers (records done by OpenSSL)")             \
	X(STAT_BYTES_SPLICED, "bytes_spliced", "payload bytes relayed by splice on kernel TLS")    \
	X(STAT_CLOSE_NOTIFY_RX, "close_notify_received",                                           \
	  "close_notify alerts from clients (kTLS)")                                               \
	X(STAT_ALERTS_RX, "alerts_received", "fatal alerts from clients (kTLS)")                   \
	X(STAT_KEY_UPDATE_CLOSES, "key_update_closes",                                             \
	  "kTLS connections closed because the client sent a KeyUpdate")                           \
	X(STAT_RECORD_LIMIT_CLOSES, "record_limit_closes",                                         \
	  "kTLS connections closed before the AEAD record limit of their key")                     \
	X(STAT_KTLS_RX_ERRORS, "ktls_rx_errors", "kTLS receive errors (bad records)")              \
	X(STAT_PIPES_REUSED, "pipes_reused",                                                       \
	  "splice pipes a kTLS connection took from its worker's spare ones, not pipe2()")         \
	X(STAT_RELAY_PARKED, "relay_parked",                                                       \
	  "times a quiet userspace-path connection gave its buffers back until data came")         \
	X(STAT_ACCEPT_PAUSED, "accept_paused",                                                     \
	  "times a listener stopped accepting at max_connections (clients wait in the backlog)")   \
	X(STAT_ACCEPT_OVER_LIMIT, "connections_over_limit",                                        \
	  "connections accepted at max_connections with 64 already waiting, closed at once")       \
	X(STAT_BACKEND_FAILURES, "backend_connect_failures", "backend connects that failed")       \
	X(STAT_BYTES_FROM_CLIENTS, "bytes_from_clients",                                           \
	  "plaintext bytes relayed from clients to backends")                                      \
	X(STAT_BYTES_TO_CLIENTS, "bytes_to_clients",                                               \
	  "plaintext bytes relayed from backends to clients")                                      \
	X(STAT_HANDOFF_REQUESTS, "handoff_requests", "sockets handed to ktlsd for a handshake")    \
	X(STAT_HANDOFF_KTLS, "handoff_ktls", "handed-off sockets returned with kernel TLS")        \
	X(STAT_HANDOFF_RELAYED, "handoff_relayed",                                                 \
	  "handed-off connections relayed through a socketpair (no kTLS for them)")                \
	X(STAT_POOL_REFILLS, "pool_handshakes",                                                    \
	  "client handshakes made to refill the warm connection pool")                             \
	X(STAT_URING_SUBMITTED, "uring_sqes_submitted", "io_uring submission entries submitted")

/* Per listener (and summed into the totals): handshakes and session resumption. */
#define LSTATS_LIST(X)                                                                             \
	X(LSTAT_HS_FULL, "handshakes_full", "handshakes that did not resume a session")            \
	X(LSTAT_HS_RESUMED, "handshakes_resumed", "handshakes that resumed a session")             \
	X(LSTAT_MISS_UNKNOWN_KEY, "resume_miss_unknown_key",                                       \
	  "offered tickets whose key is not (or no longer) in the ring")                           \
	X(LSTAT_MISS_BAD_TICKET, "resume_miss_bad_ticket",                                         \
	  "offered tickets that failed to decrypt or authenticate")                                \
	X(LSTAT_MISS_CACHE, "resume_miss_cache",                                                   \
	  "offered session IDs or stateful tickets not in the session cache")                      \
	X(LSTAT_MISS_EXPIRED, "resume_miss_expired", "offered sessions past their lifetime")       \
	X(LSTAT_MISS_MISMATCH, "resume_miss_mismatch",                                             \
	  "offered sessions refused for version, cipher or profile")                               \
	X(LSTAT_EARLY_ACCEPTED, "early_data_accepted",                                             \
	  "connections whose 0-RTT data was accepted")                                             \
	X(LSTAT_EARLY_REJECTED, "early_data_rejected",                                             \
	  "0-RTT data refused (off, not resumed, limits); the client resends it")                  \
	X(LSTAT_EARLY_REPLAYED, "early_data_replayed",                                             \
	  "0-RTT data refused because its ticket had already carried some")                        \
	X(LSTAT_FAIL_TIMEOUT, "handshake_failed_timeout",                                          \
	  "handshakes past handshake_timeout or client_hello_timeout")                             \
	X(LSTAT_TIMEOUT_HELLO, "handshake_timeouts_client_hello",                                  \
	  "of handshake_failed_timeout: no whole ClientHello within client_hello_timeout")         \
	X(LSTAT_FAIL_CLOSED, "handshake_failed_closed",                                            \
	  "handshakes the client closed or reset before finishing")                                \
	X(LSTAT_FAIL_ALERT, "handshake_failed_alert",                                              \
	  "handshakes ended by a fatal alert from the client")                                     \
	X(LSTAT_FAIL_NO_SHARED, "handshake_failed_no_shared_cipher",                               \
	  "handshakes with no common version, cipher suite, group or signature algorithm")         \
	X(LSTAT_FAIL_PROTOCOL, "handshake_failed_protocol",                                        \
	  "handshakes with malformed or unexpected messages (ALPN refusals included)")             \
	X(LSTAT_FAIL_SNI, "handshake_failed_sni_refused",                                          \
	  "handshakes refused by sni_strict: no profile for the name")                             \
	X(LSTAT_FAIL_VERIFY, "handshake_failed_verify",                                            \
	  "client role: the server's certificate did not verify")                                  \
	X(LSTAT_FAIL_BACKEND, "handshake_failed_backend_refused",                                  \
	  "completed handshakes whose backend could not be reached")                               \
	X(LSTAT_FAIL_INTERNAL, "handshake_failed_internal",                                        \
	  "handshakes failed for a reason of ktlsd's own")

#define STATS_ENUM(e, name, help) e,
enum lstat_id { LSTATS_LIST(STATS_ENUM) LSTAT__COUNT };
enum stat_id { STATS_LIST(STATS_ENUM) STAT__COUNT };
#undef STATS_ENUM

/* Open client connections by where their records are done (gauges). */
enum path_gauge { GAUGE_HANDSHAKE = 0, GAUGE_KTLS, GAUGE_USERSPACE, GAUGE__COUNT, GAUGE_NONE = -1 };

/* Latency histograms: Prometheus-style upper bounds in seconds (HIST_BOUNDS), then +Inf. */
#define HIST_NBOUNDS 14
enum hist_id { HIST_HANDSHAKE = 0, HIST_BACKEND_CONNECT, HIST__COUNT };

struct hist {
	_Atomic uint64_t bucket[HIST_NBOUNDS + 1]; /* not cumulative; [HIST_NBOUNDS] is +Inf */
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t count;
};

struct stats {
	_Atomic uint64_t v[STAT__COUNT];
	_Atomic int64_t gauge[GAUGE__COUNT];
	struct hist hist[HIST__COUNT];
};

/* Single writer: a relaxed load and store, no locked read-modify-write. */
static inline void stats_add_to_raw(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void stats_add_to(struct stats *s, enum stat_id i, uint64_t n)
{
	stats_add_to_raw(&s->v[i], n);
}

/* One listener's counters: a cache-line aligned block per worker, each its only writer. */
struct lstats {
	_Alignas(64) _Atomic uint64_t v[LSTAT__COUNT];
};

struct listener_stats {
	char *name;
	unsigned n_workers;
	struct lstats *w; /* [n_workers] */
	struct listener_stats *next;
};

static inline void lstats_inc(struct listener_stats *ls, unsigned worker, enum lstat_id i)
{
	if (ls && worker < ls->n_workers)
		stats_add_to_raw(&ls->w[worker].v[i], 1);
}

/* The block for listener @name, made on first use (blocks live until lstats_cleanup()). */
struct listener_stats *lstats_get(const char *name, unsigned n_workers);
struct listener_stats *lstats_first(void);
void lstats_cleanup(void);
void lstats_sum(const struct listener_stats *ls, uint64_t *sum);
const char *lstats_name(enum lstat_id i);
const char *lstats_help(enum lstat_id i);
/* "name=value ..." of LSTAT__COUNT values. */
void lstats_format_line(const uint64_t *sum, char *buf, size_t len);

static inline void stats_gauge_add(struct stats *s, enum path_gauge g, int64_t d)
{
	atomic_store_explicit(&s->gauge[g],
			      atomic_load_explicit(&s->gauge[g], memory_order_relaxed) + d,
			      memory_order_relaxed);
}

void stats_hist_observe(struct stats *s, enum hist_id h, uint64_t ns);
/* The upper bound of bucket @i in seconds (i < HIST_NBOUNDS). */
double stats_hist_bound(unsigned i);
const char *stats_hist_name(enum hist_id h);
const char *stats_hist_help(enum hist_id h);
/* Sums every worker's histogram @h: @bucket (HIST_NBOUNDS + 1, not cumulative), @sum_ns, @count. */
void stats_hist_accumulate(const struct stats *s, enum hist_id h, uint64_t *bucket,
			   uint64_t *sum_ns, uint64_t *count);
const char *stats_gauge_name(enum path_gauge g);
/* Finds a counter by its exposed name; STAT__COUNT if none. */
enum stat_id stats_find(const char *name);

const char *stats_name(enum stat_id i);
const char *stats_help(enum stat_id i);
/* Adds @s into @sum (plain array of STAT__COUNT). */
void stats_accumulate(const struct stats *s, uint64_t *sum);
/* One line "name=value ..." of all counters, for the log. */
void stats_format_line(const uint64_t *sum, char *buf, size_t len);

#endif
