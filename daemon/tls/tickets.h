/* SPDX-License-Identifier: MIT */
/*
 * tickets.h - session-ticket key rings, one per TLS profile (tickets.c).
 *
 * A ring holds up to CFG_MAX_TICKET_KEYS_KEPT + 1 keys: the newest encrypts new tickets, all
 * of them decrypt. Keys are made in memory and rotated by the main thread on a timer, or
 * read from files (nginx's ssl_session_ticket_key format) and re-read when a file changes.
 * Rings are found by profile name so that they outlive configuration reloads.
 */
#ifndef KTLSD_TICKETS_H
#define KTLSD_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"

#define TICKET_NAME_LEN 16
#define TICKET_MAX_KEYS (CFG_MAX_TICKET_KEYS_KEPT + 1)

struct ticket_ring;

/* What tickets_show() reports of one key: never its bytes. */
struct ticket_key_info {
	char id[9];	   /* first 4 bytes of the key name, hex */
	uint64_t age_s;	   /* since it was made or read */
	bool encrypts;	   /* the newest key: encrypts new tickets */
	bool from_file;	   /* read from a ticket_key_files entry */
	unsigned aes_bits; /* 128 or 256 */
};

/* Call once before any ring exists; @n_slots: worker threads that call tickets_thread_slot(). */
int tickets_init(unsigned n_slots);
void tickets_cleanup(void);
/* The calling thread (a worker) uses per-thread copies of the rings from now on. */
void tickets_thread_slot(unsigned slot);

int tickets_ring_get(const struct cfg_profile *p, const char *cfg_path, struct ticket_ring **out,
		     char *err, size_t errlen);
void tickets_ring_put(struct ticket_ring *r);
/* The OpenSSL callbacks of a profile's SSL_CTX: ticket keys, ticket contents, 0-RTT. */
void tickets_ctx_setup(SSL_CTX *ctx);

/* Main thread, about once a second: rotate due in-memory keys, re-read changed key files. */
void tickets_tick(void);
/* A worker, on its timer: drop its copies of retired keys even when no handshake runs. */
void tickets_worker_tick(void);
/* Rotates every in-memory ring now (or only the one of profile @name); returns how many. */
unsigned tickets_rotate(const char *name);
/* Fills up to @max entries for profile @name; returns the count, -ENOENT if no such ring. */
int tickets_show(const char *name, struct ticket_key_info *out, size_t max);

/* 0-RTT anti-replay: true the first time @nonce is seen, false for a replay or when full. */
bool tickets_replay_first_use(const uint8_t nonce[16], uint64_t expires_s);

#endif
