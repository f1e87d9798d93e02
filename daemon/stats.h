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
	X(STAT_CONNS_ACCEPTED, "connections_accepted", "client connections accepted")             \
	X(STAT_HANDSHAKES, "handshakes_completed", "TLS handshakes completed")                     \
	X(STAT_HANDSHAKE_FAILURES, "handshakes_failed", "TLS handshakes that failed")              \
	X(STAT_PATH_KTLS, "connections_ktls", "connections moved to kernel TLS (TX and RX)")        \
	X(STAT_PATH_USERSPACE, "connections_userspace", "connections relayed with userspace records") \
	X(STAT_KTLS_UNSUPPORTED, "ktls_fallback_unsupported",                                     \
	  "stayed in userspace: kernel lacks kTLS for the version or cipher")                      \
	X(STAT_KTLS_DISABLED, "ktls_fallback_disabled", "stayed in userspace: ktls = false")      \
	X(STAT_KTLS_FAILED, "ktls_fallback_failed", "stayed in userspace: key export or install failed") \
	X(STAT_BYTES_USERSPACE, "bytes_userspace",                                                  \
	  "payload bytes relayed through userspace buffers (records done by OpenSSL)")             \
	X(STAT_BYTES_SPLICED, "bytes_spliced", "payload bytes relayed by splice on kernel TLS")    \
	X(STAT_CLOSE_NOTIFY_RX, "close_notify_received", "close_notify alerts from clients (kTLS)") \
	X(STAT_ALERTS_RX, "alerts_received", "fatal alerts from clients (kTLS)")                    \
	X(STAT_KEY_UPDATE_CLOSES, "key_update_closes",                                            \
	  "kTLS connections closed because the client sent a KeyUpdate")                          \
	X(STAT_RECORD_LIMIT_CLOSES, "record_limit_closes",                                        \
	  "kTLS connections closed before the AEAD record limit of their key")                     \
	X(STAT_KTLS_RX_ERRORS, "ktls_rx_errors", "kTLS receive errors (bad records)")              \
	X(STAT_BACKEND_FAILURES, "backend_connect_failures", "backend connects that failed")       \
	X(STAT_URING_SUBMITTED, "uring_sqes_submitted", "io_uring submission entries submitted")

#define STATS_ENUM(e, name, help) e,
enum stat_id { STATS_LIST(STATS_ENUM) STAT__COUNT };
#undef STATS_ENUM

struct stats {
	_Atomic uint64_t v[STAT__COUNT];
};

static inline void stats_add_to(struct stats *s, enum stat_id i, uint64_t n)
{
	uint64_t cur = atomic_load_explicit(&s->v[i], memory_order_relaxed);

	atomic_store_explicit(&s->v[i], cur + n, memory_order_relaxed);
}

const char *stats_name(enum stat_id i);
const char *stats_help(enum stat_id i);
/* Adds @s into @sum (plain array of STAT__COUNT). */
void stats_accumulate(const struct stats *s, uint64_t *sum);
/* One line "name=value ..." of all counters, for the log. */
void stats_format_line(const uint64_t *sum, char *buf, size_t len);

#endif
