/* SPDX-License-Identifier: MIT */
/*
 * tickets_ring.h - a profile's ticket-key ring, inside tls/: the master copy, the workers'
 * copies and the key files it was read from (tickets.c, tickets_files.c). Key bytes live
 * only in these structs; nothing here is for other layers.
 */
#ifndef KTLSD_TICKETS_RING_H
#define KTLSD_TICKETS_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "tickets.h"

struct ticket_key {
	uint8_t name[TICKET_NAME_LEN];
	uint8_t aes[32];
	uint8_t hmac[32];
	uint8_t aes_len; /* 16 or 32 */
	uint8_t hmac_len;
	bool from_file;
	uint64_t born_s; /* CLOCK_MONOTONIC seconds */
};

struct ticket_keyset {
	uint64_t version;
	unsigned n; /* keys[0] encrypts */
	struct ticket_key keys[TICKET_MAX_KEYS];
};

/* A key file as it was when read: a change in any of these means read it again. */
struct ticket_file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct ticket_ring {
	char *profile;
	unsigned refs; /* under tickets.lock */
	struct ticket_ring *next;

	pthread_mutex_t lock; /* master, settings and files */
	_Atomic uint64_t version;
	struct ticket_keyset master;
	uint32_t rotation_s;
	uint32_t kept;
	char **files; /* NULL: keys made in memory */
	size_t n_files;
	struct ticket_file_stamp stamp[CFG_MAX_TICKET_KEY_FILES];
	uint64_t next_rotation_s;

	struct ticket_keyset *views; /* one per worker slot */
};

/* CLOCK_MONOTONIC seconds: key ages and rotation times. */
static inline uint64_t tickets_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static inline void tickets_key_id(const struct ticket_key *k, char out[9])
{
	snprintf(out, 9, "%02x%02x%02x%02x", k->name[0], k->name[1], k->name[2], k->name[3]);
}

/* tickets_files.c: rings whose keys come from ticket_key_files (ring->lock held). */
int tickets_use_files(struct ticket_ring *r, const struct cfg_profile *p, char *err, size_t errlen);
void tickets_free_files(struct ticket_ring *r);
void tickets_check_files(struct ticket_ring *r);

#endif
