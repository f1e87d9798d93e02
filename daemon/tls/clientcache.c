// SPDX-License-Identifier: MIT
/*
 * clientcache.c - the host-wide client session cache: sessions ktlsd obtained as a TLS
 * client, keyed by (host, port, SNI, ALPN list), so that a connection any process asks for
 * resumes what another process's connection established.
 *
 * Each key holds a few sessions, newest first. A TLS 1.3 session (a ticket) is taken out
 * when used, since RFC 8446 (appendix C.4) wants tickets used once; a TLS 1.2 session stays
 * and may serve several connections, as session IDs and TLS 1.2 tickets may. Keys are
 * evicted least recently used first. All workers share it under one mutex: an entry is a
 * pointer swap, far shorter than the handshake it saves.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "tls.h"

#define CC_SESSIONS_PER_KEY 4
#define CC_BUCKETS	    1024

struct cc_entry {
	struct cc_entry *hnext;	      /* hash chain */
	struct cc_entry *prev, *next; /* LRU list, most recent at the head */
	SSL_SESSION *sess[CC_SESSIONS_PER_KEY];
	unsigned n;
	char key[];
};

static struct {
	pthread_mutex_t lock;
	struct cc_entry *bucket[CC_BUCKETS];
	struct cc_entry *head, *tail;
	size_t n_keys, max_keys;
	_Atomic uint64_t hits, misses, stored;
} cc = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* FNV-1a: keys are short and spread well enough for a chained table. */
static unsigned cc_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h % CC_BUCKETS;
}

static struct cc_entry **cc_find(const char *key)
{
	struct cc_entry **e = &cc.bucket[cc_hash(key)];

	while (*e && strcmp((*e)->key, key) != 0)
		e = &(*e)->hnext;
	return e;
}

static void cc_lru_unlink(struct cc_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		cc.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		cc.tail = e->prev;
	e->prev = e->next = NULL;
}

static void cc_lru_front(struct cc_entry *e)
{
	e->next = cc.head;
	if (cc.head)
		cc.head->prev = e;
	cc.head = e;
	if (!cc.tail)
		cc.tail = e;
}

static void cc_drop_session(struct cc_entry *e, unsigned i)
{
	SSL_SESSION_free(e->sess[i]);
	memmove(&e->sess[i], &e->sess[i + 1], (e->n - i - 1) * sizeof(SSL_SESSION *));
	e->n--;
}

static void cc_remove(struct cc_entry *e)
{
	struct cc_entry **p = cc_find(e->key);

	*p = e->hnext;
	cc_lru_unlink(e);
	while (e->n)
		cc_drop_session(e, e->n - 1);
	free(e);
	cc.n_keys--;
}

static bool cc_session_live(SSL_SESSION *s, time_t now)
{
	return SSL_SESSION_is_resumable(s) &&
	       SSL_SESSION_get_time(s) + SSL_SESSION_get_timeout(s) > now;
}

/** clientcache_configure() - set the number of keys kept (0: no cache); shrinks at once. */
void clientcache_configure(size_t max_keys)
{
	pthread_mutex_lock(&cc.lock);
	cc.max_keys = max_keys;
	while (cc.n_keys > cc.max_keys)
		cc_remove(cc.tail);
	pthread_mutex_unlock(&cc.lock);
}

/** clientcache_flush() - forget every session; returns how many keys there were. */
size_t clientcache_flush(void)
{
	size_t n;

	pthread_mutex_lock(&cc.lock);
	n = cc.n_keys;
	while (cc.tail)
		cc_remove(cc.tail);
	pthread_mutex_unlock(&cc.lock);
	return n;
}

/**
 * clientcache_take() - a session to offer for @key, or NULL. The caller owns the
 * reference. A TLS 1.3 session leaves the cache; a TLS 1.2 one stays.
 */
SSL_SESSION *clientcache_take(const char *key)
{
	time_t now = time(NULL);
	SSL_SESSION *s = NULL;
	struct cc_entry *e;

	pthread_mutex_lock(&cc.lock);
	e = *cc_find(key);
	while (e && e->n && !s) {
		if (!cc_session_live(e->sess[0], now)) {
			cc_drop_session(e, 0);
			continue;
		}
		s = e->sess[0];
		if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
			memmove(&e->sess[0], &e->sess[1], (e->n - 1) * sizeof(SSL_SESSION *));
			e->n--;
		} else {
			SSL_SESSION_up_ref(s);
		}
	}
	if (e && !e->n)
		cc_remove(e);
	else if (e) {
		cc_lru_unlink(e);
		cc_lru_front(e);
	}
	pthread_mutex_unlock(&cc.lock);
	cc.hits += s != NULL;
	cc.misses += s == NULL;
	return s;
}

/**
 * clientcache_put() - keep @sess for @key; takes over the caller's reference. A TLS 1.2
 * session replaces the key's others (one serves any number of connections).
 */
void clientcache_put(const char *key, SSL_SESSION *sess)
{
	struct cc_entry **p, *e;
	size_t len = strlen(key);

	pthread_mutex_lock(&cc.lock);
	if (!cc.max_keys)
		goto drop;
	p = cc_find(key);
	e = *p;
	if (!e) {
		if (cc.n_keys >= cc.max_keys)
			cc_remove(cc.tail);
		e = calloc(1, sizeof(*e) + len + 1);
		if (!e)
			goto drop;
		memcpy(e->key, key, len + 1);
		e->hnext = cc.bucket[cc_hash(key)];
		cc.bucket[cc_hash(key)] = e;
		cc.n_keys++;
	} else {
		cc_lru_unlink(e);
	}
	cc_lru_front(e);
	if (SSL_SESSION_get_protocol_version(sess) < TLS1_3_VERSION)
		while (e->n)
			cc_drop_session(e, e->n - 1);
	if (e->n == CC_SESSIONS_PER_KEY)
		cc_drop_session(e, e->n - 1); /* the oldest */
	memmove(&e->sess[1], &e->sess[0], e->n * sizeof(SSL_SESSION *));
	e->sess[0] = sess;
	e->n++;
	pthread_mutex_unlock(&cc.lock);
	cc.stored++;
	return;
drop:
	pthread_mutex_unlock(&cc.lock);
	SSL_SESSION_free(sess);
}

/** clientcache_stats() - keys held, sessions held, and the lifetime counters. */
void clientcache_stats(struct clientcache_stats *st)
{
	pthread_mutex_lock(&cc.lock);
	st->keys = cc.n_keys;
	st->sessions = 0;
	for (struct cc_entry *e = cc.head; e; e = e->next)
		st->sessions += e->n;
	st->max_keys = cc.max_keys;
	pthread_mutex_unlock(&cc.lock);
	st->hits = cc.hits;
	st->misses = cc.misses;
	st->stored = cc.stored;
}
