// SPDX-License-Identifier: MIT
/*
 * sesscache.c - the server-side session cache shared by all workers, and the 0-RTT
 * anti-replay set.
 *
 * Both are the same structure: a table of keyed entries with an expiry time, split into
 * shards by the hash of the key, each shard with its own mutex, hash chains and an LRU
 * list. A handshake locks one shard for a few hundred nanoseconds, so two workers only
 * meet when they touch the same shard (1 in SC_SHARDS) and never wait behind a global
 * lock. The session cache evicts the least recently used entry when a shard is full; the
 * anti-replay set never evicts a live entry (forgetting one would let a replay through),
 * it refuses instead, and 0-RTT falls back to a full round trip.
 *
 * Cache entries hold a reference to OpenSSL's SSL_SESSION. TLS 1.2 sessions stay until
 * they expire or are evicted; TLS 1.3 sessions exist only with stateful tickets and are
 * taken out on first use: a ticket resumes once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls.h"
#include "tickets.h"

#define SC_SHARDS  64u
#define SC_KEY_MAX 32u

struct sc_entry {
	struct sc_entry *hnext;		/* hash chain */
	struct sc_entry *lprev, *lnext; /* LRU, most recent after the shard's sentinel */
	uint64_t expires_s;		/* wall clock */
	SSL_SESSION *sess;		/* NULL in the anti-replay set */
	uint8_t key_len;
	uint8_t key[SC_KEY_MAX];
};

struct sc_shard {
	pthread_mutex_t lock;
	struct sc_entry **buckets;
	size_t n_buckets; /* a power of two */
	size_t count;
	struct sc_entry lru; /* sentinel */
} __attribute__((aligned(64)));

struct sc_table {
	struct sc_shard shards[SC_SHARDS];
	_Atomic size_t shard_cap; /* entries per shard; 0 when the table is off */
	bool evict_live;
	bool ready;
};

static struct sc_table session_cache, replay_set;

static uint64_t sc_hash(const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: keys are random bytes we made */

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return h;
}

static size_t sc_shard_cap(size_t total)
{
	return total ? (total + SC_SHARDS - 1) / SC_SHARDS : 0;
}

static int sc_table_init(struct sc_table *t, size_t total, bool evict_live)
{
	size_t cap = sc_shard_cap(total);
	size_t nb = 16;

	while (nb < cap)
		nb <<= 1;
	for (unsigned i = 0; i < SC_SHARDS; i++) {
		struct sc_shard *s = &t->shards[i];

		s->buckets = calloc(nb, sizeof(struct sc_entry *));
		if (!s->buckets)
			return -ENOMEM;
		s->n_buckets = nb;
		s->lru.lnext = s->lru.lprev = &s->lru;
		pthread_mutex_init(&s->lock, NULL);
	}
	atomic_store(&t->shard_cap, cap);
	t->evict_live = evict_live;
	t->ready = true;
	return 0;
}

static void sc_unlink(struct sc_shard *s, struct sc_entry *e, size_t bucket)
{
	struct sc_entry **pp = &s->buckets[bucket];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->lprev->lnext = e->lnext;
	e->lnext->lprev = e->lprev;
	s->count--;
}

/* Unlinks and frees @e; returns its session reference (caller frees) unless @free_sess. */
static SSL_SESSION *sc_drop(struct sc_shard *s, struct sc_entry *e, bool free_sess)
{
	SSL_SESSION *sess = e->sess;

	sc_unlink(s, e, sc_hash(e->key, e->key_len) & (s->n_buckets - 1));
	OPENSSL_cleanse(e->key, sizeof(e->key));
	free(e);
	if (free_sess) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

static struct sc_entry *sc_find(struct sc_shard *s, const uint8_t *key, size_t len, size_t b)
{
	struct sc_entry *e;

	for (e = s->buckets[b]; e; e = e->hnext)
		if (e->key_len == len && !memcmp(e->key, key, len))
			return e;
	return NULL;
}

static struct sc_shard *sc_shard_of(struct sc_table *t, const uint8_t *key, size_t len,
				    size_t *bucket)
{
	uint64_t h = sc_hash(key, len);
	struct sc_shard *s = &t->shards[(h >> 58) % SC_SHARDS];

	*bucket = h & (s->n_buckets - 1);
	return s;
}

/*
 * Makes room for one entry in @s: expired entries from the LRU end first, then (only if
 * the table may) the least recently used live one. Returns false if no room.
 */
static bool sc_make_room(struct sc_table *t, struct sc_shard *s, uint64_t now)
{
	size_t cap = atomic_load_explicit(&t->shard_cap, memory_order_relaxed);
	struct sc_entry *e, *prev;

	for (e = s->lru.lprev; s->count >= cap && e != &s->lru; e = prev) {
		prev = e->lprev;
		if (e->expires_s <= now)
			sc_drop(s, e, true);
	}
	while (s->count >= cap && t->evict_live && s->lru.lprev != &s->lru)
		sc_drop(s, s->lru.lprev, true);
	return s->count < cap;
}

/* Inserts @key -> @sess (the table takes the reference on success). -EEXIST, -ENOSPC. */
static int sc_insert(struct sc_table *t, const uint8_t *key, size_t len, SSL_SESSION *sess,
		     uint64_t expires_s)
{
	uint64_t now = (uint64_t)time(NULL);
	struct sc_entry *e, *old;
	struct sc_shard *s;
	size_t b;
	int ret = 0;

	if (!t->ready || !len || len > SC_KEY_MAX || !atomic_load(&t->shard_cap))
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, len);
	e->key_len = (uint8_t)len;
	e->sess = sess;
	e->expires_s = expires_s;
	s = sc_shard_of(t, key, len, &b);
	pthread_mutex_lock(&s->lock);
	old = sc_find(s, key, len, b);
	if (old && old->expires_s > now) {
		ret = -EEXIST;
	} else {
		if (old)
			sc_drop(s, old, true);
		if (!sc_make_room(t, s, now)) {
			ret = -ENOSPC;
		} else {
			e->hnext = s->buckets[b];
			s->buckets[b] = e;
			e->lnext = s->lru.lnext;
			e->lprev = &s->lru;
			s->lru.lnext->lprev = e;
			s->lru.lnext = e;
			s->count++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		free(e);
	return ret;
}

static void sc_table_flush(struct sc_table *t, size_t *n)
{
	for (unsigned i = 0; t->ready && i < SC_SHARDS; i++) {
		struct sc_shard *s = &t->shards[i];

		pthread_mutex_lock(&s->lock);
		while (s->lru.lnext != &s->lru) {
			sc_drop(s, s->lru.lnext, true);
			(*n)++;
		}
		pthread_mutex_unlock(&s->lock);
	}
}

static void sc_table_destroy(struct sc_table *t)
{
	size_t n = 0;

	if (!t->ready)
		return;
	sc_table_flush(t, &n);
	for (unsigned i = 0; i < SC_SHARDS; i++) {
		pthread_mutex_destroy(&t->shards[i].lock);
		free(t->shards[i].buckets);
	}
	memset(t, 0, sizeof(*t));
}

/* ---- the session cache's OpenSSL callbacks ---- */

static const struct cfg_profile *sc_profile(SSL *ssl)
{
	const struct hs_info *hs = SSL_get_app_data(ssl);

	return hs ? hs->snap->profiles[hs->profile].cfg : NULL;
}

/* A new session: TLS 1.2 with a session ID, or a TLS 1.3 stateful ticket. 1: kept. */
static int sc_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	const struct cfg_profile *p = sc_profile(ssl);
	unsigned int len = 0;
	const unsigned char *id = SSL_SESSION_get_id(sess, &len);

	if (!p || !len)
		return 0;
	/* Stateless TLS 1.3 tickets carry the session themselves: nothing to keep. */
	if (SSL_SESSION_get_protocol_version(sess) == TLS1_3_VERSION &&
	    p->tickets != CFG_TICKETS_STATEFUL)
		return 0;
	SSL_SESSION_set_timeout(sess, (long)p->session_lifetime_s);
	return sc_insert(&session_cache, id, len, sess,
			 (uint64_t)SSL_SESSION_get_time(sess) + p->session_lifetime_s) == 0;
}

static SSL_SESSION *sc_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct hs_info *hs = SSL_get_app_data(ssl);
	uint64_t now = (uint64_t)time(NULL);
	SSL_SESSION *sess = NULL;
	struct sc_entry *e;
	struct sc_shard *s;
	size_t b;

	*copy = 0; /* the reference returned is OpenSSL's */
	if (hs)
		hs->offered = true; /* a hit may still not resume: another profile's session */
	if (!session_cache.ready || len <= 0 || (size_t)len > SC_KEY_MAX)
		goto miss;
	s = sc_shard_of(&session_cache, id, (size_t)len, &b);
	pthread_mutex_lock(&s->lock);
	e = sc_find(s, id, (size_t)len, b);
	if (e && e->expires_s <= now) {
		sc_drop(s, e, true);
		pthread_mutex_unlock(&s->lock);
		if (hs)
			hs->miss = RESUME_MISS_EXPIRED;
		return NULL;
	}
	if (e && SSL_SESSION_get_protocol_version(e->sess) == TLS1_3_VERSION) {
		sess = sc_drop(s, e, false); /* single use: the cache's reference moves */
	} else if (e) {
		sess = e->sess;
		SSL_SESSION_up_ref(sess);
		/* Most recently used first. */
		e->lprev->lnext = e->lnext;
		e->lnext->lprev = e->lprev;
		e->lnext = s->lru.lnext;
		e->lprev = &s->lru;
		s->lru.lnext->lprev = e;
		s->lru.lnext = e;
	}
	pthread_mutex_unlock(&s->lock);
	if (sess)
		return sess;
miss:
	if (hs)
		hs->miss = RESUME_MISS_CACHE;
	return NULL;
}

static void sc_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
	unsigned int len = 0;
	const unsigned char *id = SSL_SESSION_get_id(sess, &len);
	struct sc_entry *e;
	struct sc_shard *s;
	size_t b;

	(void)ctx;
	if (!session_cache.ready || !len || len > SC_KEY_MAX)
		return;
	s = sc_shard_of(&session_cache, id, len, &b);
	pthread_mutex_lock(&s->lock);
	e = sc_find(s, id, len, b);
	if (e && e->sess == sess)
		sc_drop(s, e, true);
	pthread_mutex_unlock(&s->lock);
}

/* ---- entry points ---- */

/**
 * sesscache_init() - create the session cache and the anti-replay set.
 * @size: sessions the cache holds (0: no cache; the anti-replay set still exists)
 * Return: 0 or -ENOMEM.
 */
int sesscache_init(size_t size)
{
	size_t replay = size > 4096 ? size : 4096;

	if (sc_table_init(&session_cache, size, true) < 0 ||
	    sc_table_init(&replay_set, replay, false) < 0) {
		sesscache_cleanup();
		return -ENOMEM;
	}
	return 0;
}

/** sesscache_cleanup() - free every entry and both tables. */
void sesscache_cleanup(void)
{
	sc_table_destroy(&session_cache);
	sc_table_destroy(&replay_set);
}

/**
 * sesscache_resize() - a new size from a reloaded configuration; a smaller cache sheds
 * entries as new ones arrive. 0 turns the cache off for new sessions only if it started
 * with 0: the hash tables were sized at start.
 */
void sesscache_resize(size_t size)
{
	if (session_cache.ready)
		atomic_store(&session_cache.shard_cap, sc_shard_cap(size));
}

/** sesscache_flush() - drop every cached session; returns how many. */
size_t sesscache_flush(void)
{
	size_t n = 0;

	sc_table_flush(&session_cache, &n);
	return n;
}

/** sesscache_count() - sessions held now (summed shard by shard, not a snapshot). */
size_t sesscache_count(void)
{
	size_t n = 0;

	for (unsigned i = 0; session_cache.ready && i < SC_SHARDS; i++) {
		pthread_mutex_lock(&session_cache.shards[i].lock);
		n += session_cache.shards[i].count;
		pthread_mutex_unlock(&session_cache.shards[i].lock);
	}
	return n;
}

/** sesscache_ctx_setup() - route a profile context's server session cache here. */
void sesscache_ctx_setup(SSL_CTX *ctx, const struct cfg_profile *p, size_t cache_size)
{
	SSL_CTX_set_timeout(ctx, (long)p->session_lifetime_s);
	if (!cache_size) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, sc_new_cb);
	SSL_CTX_sess_set_get_cb(ctx, sc_get_cb);
	SSL_CTX_sess_set_remove_cb(ctx, sc_remove_cb);
}

/**
 * tickets_replay_first_use() - record a 0-RTT ticket nonce.
 * @nonce:     the ticket's nonce
 * @expires_s: when the ticket expires (wall clock); the record is kept until then
 * Return: true the first time, false for a replay or when the set is full of live entries.
 */
bool tickets_replay_first_use(const uint8_t nonce[16], uint64_t expires_s)
{
	return sc_insert(&replay_set, nonce, 16, NULL, expires_s) == 0;
}
