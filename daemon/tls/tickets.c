// SPDX-License-Identifier: MIT
/*
 * tickets.c - session-ticket key rings and the OpenSSL ticket callbacks.
 *
 * Concurrency. A ring's keys change rarely (a rotation, a changed key file) and are read on
 * every ticket. The main thread changes the master copy under the ring's mutex and bumps
 * its version. Each worker thread reads its own copy of the ring (one slot per worker)
 * and refreshes that copy, under the mutex, only when the version moved: the handshake
 * path does one atomic load and no locked instruction, so the workers never serialise on
 * a ticket. Threads without a slot read the master copy under the mutex.
 *
 * Key material lives only in these copies; a retired key is wiped in the master at once
 * and in each worker's copy at its next refresh (at the latest its next 250 ms tick).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tls.h"
#include "tickets.h"
#include "tickets_ring.h"

static struct {
	pthread_mutex_t lock; /* the list of rings */
	struct ticket_ring *rings;
	unsigned n_slots;
	EVP_CIPHER *aes128_cbc, *aes256_cbc; /* fetched once, not per ticket */
	uint8_t instance[8];		     /* tells this process's tickets apart */
} tickets = { .lock = PTHREAD_MUTEX_INITIALIZER };

static __thread int tickets_slot = -1;

/**
 * tickets_init() - fetch the ticket ciphers and pick this process's instance id.
 * @n_slots: the number of worker threads
 * Return: 0 or -ENOMEM (logged).
 */
int tickets_init(unsigned n_slots)
{
	tickets.n_slots = n_slots;
	tickets.aes128_cbc = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	tickets.aes256_cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	if (!tickets.aes128_cbc || !tickets.aes256_cbc ||
	    RAND_bytes(tickets.instance, sizeof(tickets.instance)) != 1) {
		log_ssl(LOG_LVL_ERR, "session tickets: cannot fetch AES-CBC");
		tickets_cleanup();
		return -ENOMEM;
	}
	return 0;
}

/** tickets_cleanup() - release the ciphers (rings are released by their last put). */
void tickets_cleanup(void)
{
	EVP_CIPHER_free(tickets.aes128_cbc);
	EVP_CIPHER_free(tickets.aes256_cbc);
	tickets.aes128_cbc = tickets.aes256_cbc = NULL;
}

/** tickets_thread_slot() - the calling worker thread reads the rings through copy @slot. */
void tickets_thread_slot(unsigned slot)
{
	tickets_slot = slot < tickets.n_slots ? (int)slot : -1;
}

/* ---- the master copy (ring->lock held) ---- */

static int tickets_new_key(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_priv_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_priv_bytes(k->hmac, sizeof(k->hmac)) != 1) {
		log_ssl(LOG_LVL_ERR, "session tickets: no random bytes for a key");
		return -EIO;
	}
	k->aes_len = 32;
	k->hmac_len = 32;
	k->from_file = false;
	k->born_s = tickets_now_s();
	return 0;
}

/* Shifts a new key in front; the oldest beyond @kept is wiped. */
static int tickets_rotate_locked(struct ticket_ring *r)
{
	struct ticket_keyset *m = &r->master;
	struct ticket_key fresh;
	char id[9];
	unsigned keep = r->kept + 1;

	if (tickets_new_key(&fresh) < 0)
		return -EIO;
	if (m->n >= keep)
		m->n = keep - 1;
	memmove(&m->keys[1], &m->keys[0], m->n * sizeof(m->keys[0]));
	m->keys[0] = fresh;
	m->n++;
	OPENSSL_cleanse(&m->keys[m->n], (TICKET_MAX_KEYS - m->n) * sizeof(m->keys[0]));
	OPENSSL_cleanse(&fresh, sizeof(fresh));
	m->version = atomic_load(&r->version) + 1;
	atomic_store_explicit(&r->version, m->version, memory_order_release);
	r->next_rotation_s = tickets_now_s() + r->rotation_s;
	tickets_key_id(&m->keys[0], id);
	log_info("profile \"%s\": ticket key %s now encrypts, %u key(s) accepted", r->profile, id,
		 m->n);
	return 0;
}

/* Applies @p's ticket settings to @r; on failure @r keeps what it had. */
static int tickets_configure(struct ticket_ring *r, const struct cfg_profile *p, char *err,
			     size_t errlen)
{
	bool was_files = r->files != NULL;

	r->rotation_s = p->ticket_rotation_s;
	r->kept = p->ticket_keys_kept;
	if (p->n_ticket_key_files)
		return tickets_use_files(r, p, err, errlen);
	tickets_free_files(r);
	if (was_files || !r->master.n) {
		/* Keys from files are not rotated in memory: start afresh. */
		r->master.n = 0;
		return tickets_rotate_locked(r);
	}
	/* Fewer keys kept than before: the surplus goes now. */
	if (r->master.n > r->kept + 1) {
		r->master.n = r->kept + 1;
		OPENSSL_cleanse(&r->master.keys[r->master.n],
				(TICKET_MAX_KEYS - r->master.n) * sizeof(r->master.keys[0]));
		r->master.version = atomic_load(&r->version) + 1;
		atomic_store_explicit(&r->version, r->master.version, memory_order_release);
	}
	if (r->next_rotation_s > tickets_now_s() + r->rotation_s)
		r->next_rotation_s = tickets_now_s() + r->rotation_s;
	return 0;
}

/**
 * tickets_ring_get() - the ticket-key ring of profile @p, made or updated from its settings.
 * @p:        the profile (its name finds an existing ring: keys survive reloads)
 * @cfg_path: the configuration file, for messages
 * @out:      a reference for the caller (tickets_ring_put()); NULL on failure
 * @err:      on failure "file:line: what is wrong"
 *
 * Return: 0, -ENOMEM, or -EINVAL/-errno when a key file cannot be read.
 */
int tickets_ring_get(const struct cfg_profile *p, const char *cfg_path, struct ticket_ring **out,
		     char *err, size_t errlen)
{
	struct ticket_ring *r;
	char why[512] = "";
	bool fresh = false;
	int ret;

	*out = NULL;
	pthread_mutex_lock(&tickets.lock);
	for (r = tickets.rings; r && strcmp(r->profile, p->name) != 0; r = r->next)
		continue;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (r)
			r->views = calloc(tickets.n_slots ? tickets.n_slots : 1, sizeof(*r->views));
		if (!r || !r->views || !(r->profile = strdup(p->name))) {
			if (r)
				free(r->views);
			free(r);
			pthread_mutex_unlock(&tickets.lock);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		pthread_mutex_init(&r->lock, NULL);
		fresh = true;
	}
	pthread_mutex_lock(&r->lock);
	ret = tickets_configure(r, p, why, sizeof(why));
	pthread_mutex_unlock(&r->lock);
	if (ret < 0) {
		snprintf(err, errlen, "%s:%d: profile \"%s\": %s", cfg_path,
			 p->ticket_key_files_line ? p->ticket_key_files_line : p->line, p->name,
			 why);
		if (fresh) {
			pthread_mutex_destroy(&r->lock);
			free(r->profile);
			free(r->views);
			free(r);
		}
		pthread_mutex_unlock(&tickets.lock);
		return ret;
	}
	if (fresh) {
		r->next = tickets.rings;
		tickets.rings = r;
	}
	r->refs++;
	pthread_mutex_unlock(&tickets.lock);
	*out = r;
	return 0;
}

/** tickets_ring_put() - drop a reference; the last one wipes the keys and frees the ring. */
void tickets_ring_put(struct ticket_ring *r)
{
	struct ticket_ring **pp;

	if (!r)
		return;
	pthread_mutex_lock(&tickets.lock);
	if (--r->refs) {
		pthread_mutex_unlock(&tickets.lock);
		return;
	}
	for (pp = &tickets.rings; *pp != r; pp = &(*pp)->next)
		continue;
	*pp = r->next;
	pthread_mutex_unlock(&tickets.lock);
	OPENSSL_cleanse(&r->master, sizeof(r->master));
	OPENSSL_cleanse(r->views, (tickets.n_slots ? tickets.n_slots : 1) * sizeof(*r->views));
	tickets_free_files(r);
	pthread_mutex_destroy(&r->lock);
	free(r->views);
	free(r->profile);
	free(r);
}

/* ---- timers, control ---- */

/** tickets_tick() - rotate due in-memory rings, re-read changed key files. */
void tickets_tick(void)
{
	uint64_t now = tickets_now_s();

	pthread_mutex_lock(&tickets.lock);
	for (struct ticket_ring *r = tickets.rings; r; r = r->next) {
		pthread_mutex_lock(&r->lock);
		if (r->files)
			tickets_check_files(r);
		else if (now >= r->next_rotation_s)
			tickets_rotate_locked(r);
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_unlock(&tickets.lock);
}

/**
 * tickets_rotate() - rotate now.
 * @name: a profile name, or NULL for every profile
 * Return: the number of rings rotated (rings with key files are left alone).
 */
unsigned tickets_rotate(const char *name)
{
	unsigned n = 0;

	pthread_mutex_lock(&tickets.lock);
	for (struct ticket_ring *r = tickets.rings; r; r = r->next) {
		if (name && strcmp(name, r->profile) != 0)
			continue;
		pthread_mutex_lock(&r->lock);
		if (!r->files && tickets_rotate_locked(r) == 0)
			n++;
		pthread_mutex_unlock(&r->lock);
	}
	pthread_mutex_unlock(&tickets.lock);
	return n;
}

/** tickets_show() - key ids and ages of profile @name's ring; never key bytes. */
int tickets_show(const char *name, struct ticket_key_info *out, size_t max)
{
	uint64_t now = tickets_now_s();
	int n = -ENOENT;

	pthread_mutex_lock(&tickets.lock);
	for (struct ticket_ring *r = tickets.rings; r; r = r->next) {
		if (strcmp(name, r->profile) != 0)
			continue;
		pthread_mutex_lock(&r->lock);
		n = 0;
		for (unsigned i = 0; i < r->master.n && (size_t)n < max; i++, n++) {
			const struct ticket_key *k = &r->master.keys[i];

			tickets_key_id(k, out[n].id);
			out[n].age_s = now - k->born_s;
			out[n].encrypts = i == 0;
			out[n].from_file = k->from_file;
			out[n].aes_bits = k->aes_len * 8u;
		}
		pthread_mutex_unlock(&r->lock);
		break;
	}
	pthread_mutex_unlock(&tickets.lock);
	return n;
}

/* ---- the reading side: workers ---- */

/* This thread's current copy of @r's keys, or NULL (then use the master, locked). */
static const struct ticket_keyset *tickets_view(struct ticket_ring *r)
{
	struct ticket_keyset *v;

	if (tickets_slot < 0)
		return NULL;
	v = &r->views[tickets_slot];
	if (atomic_load_explicit(&r->version, memory_order_acquire) != v->version) {
		pthread_mutex_lock(&r->lock);
		*v = r->master; /* overwrites, and so wipes, keys retired since */
		pthread_mutex_unlock(&r->lock);
	}
	return v;
}

/** tickets_worker_tick() - refresh this worker's copies so retired keys leave its memory. */
void tickets_worker_tick(void)
{
	if (tickets_slot < 0)
		return;
	pthread_mutex_lock(&tickets.lock);
	for (struct ticket_ring *r = tickets.rings; r; r = r->next)
		tickets_view(r);
	pthread_mutex_unlock(&tickets.lock);
}

static int tickets_set_keys(const struct ticket_key *k, unsigned char *iv, EVP_CIPHER_CTX *cctx,
			    EVP_MAC_CTX *hctx, int enc)
{
	const EVP_CIPHER *cipher = k->aes_len == 32 ? tickets.aes256_cbc : tickets.aes128_cbc;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, k->hmac_len),
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};

	if (!EVP_CipherInit_ex2(cctx, cipher, k->aes, iv, enc, NULL) ||
	    !EVP_MAC_CTX_set_params(hctx, params))
		return -1;
	return 0;
}

static struct ticket_ring *tickets_ring_of(SSL *ssl)
{
	const struct hs_info *hs = SSL_get_app_data(ssl);

	return hs ? hs->snap->profiles[hs->profile].ring : NULL;
}

/*
 * OpenSSL's ticket-key callback: with @enc, pick the newest key and a random IV; without,
 * find the ticket's key by name. Returns 1 (use), 2 (use, and issue a fresh ticket: the
 * key is no longer the newest), 0 (unknown key: full handshake) or -1 (error).
 */
static int tickets_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx,
			  EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_ring *r = tickets_ring_of(ssl);
	struct hs_info *hs = SSL_get_app_data(ssl);
	const struct ticket_keyset *set;
	int ret = 0;

	if (!r)
		return -1;
	set = tickets_view(r);
	if (!set) {
		pthread_mutex_lock(&r->lock);
		set = &r->master;
	}
	if (enc) {
		if (!set->n || RAND_bytes(iv, EVP_CIPHER_get_iv_length(tickets.aes256_cbc)) != 1) {
			ret = -1;
		} else {
			memcpy(name, set->keys[0].name, TICKET_NAME_LEN);
			ret = tickets_set_keys(&set->keys[0], iv, cctx, hctx, 1) < 0 ? -1 : 1;
		}
	} else {
		unsigned i;

		for (i = 0; i < set->n && memcmp(name, set->keys[i].name, TICKET_NAME_LEN) != 0;
		     i++)
			continue;
		if (i == set->n)
			hs->miss = RESUME_MISS_UNKNOWN_KEY;
		else if (tickets_set_keys(&set->keys[i], iv, cctx, hctx, 0) < 0)
			ret = -1;
		else
			ret = i == 0 ? 1 : 2;
	}
	if (set == &r->master)
		pthread_mutex_unlock(&r->lock);
	if (ret < 0)
		log_ssl(LOG_LVL_ERR, "conn %llu: session ticket keys",
			(unsigned long long)hs->conn_id);
	return ret;
}

/*
 * Called as each ticket is made, on the session it will carry. The profile picked by SNI
 * sets its lifetime (OpenSSL would take the listener's first profile's); a listener with
 * 0-RTT stamps it with a unique nonce, which the anti-replay check consumes once.
 */
static int tickets_gen_cb(SSL *ssl, void *arg)
{
	const struct hs_info *hs = SSL_get_app_data(ssl);
	SSL_SESSION *sess = SSL_get0_session(ssl);
	uint8_t nonce[16];

	(void)arg;
	if (!hs || !sess)
		return 1;
	SSL_SESSION_set_timeout(sess,
				(long)hs->snap->profiles[hs->profile].cfg->session_lifetime_s);
	if (!hs->lcfg->early_data)
		return 1;
	memcpy(nonce, tickets.instance, sizeof(tickets.instance));
	if (RAND_bytes(nonce + 8, 8) != 1 || !SSL_SESSION_set1_ticket_appdata(sess, nonce, 16)) {
		log_ssl(LOG_LVL_ERR, "conn %llu: ticket nonce", (unsigned long long)hs->conn_id);
		return 0;
	}
	return 1;
}

/* Called once a ticket was (or failed to be) decrypted: sorts out why it does not resume. */
static SSL_TICKET_RETURN tickets_dec_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
					size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	struct hs_info *hs = SSL_get_app_data(ssl);

	(void)keyname;
	(void)keyname_len;
	(void)arg;
	switch (status) {
	case SSL_TICKET_SUCCESS:
	case SSL_TICKET_SUCCESS_RENEW:
		if (hs && sess &&
		    (uint64_t)time(NULL) >= (uint64_t)SSL_SESSION_get_time(sess) +
						    (uint64_t)SSL_SESSION_get_timeout(sess)) {
			hs->miss = RESUME_MISS_EXPIRED;
			return SSL_TICKET_RETURN_IGNORE_RENEW;
		}
		/* TLS 1.3 tickets are single use: a resumption gets a fresh one (OpenSSL sends
		 * at most one after a resumption), unless tls13_tickets is 0. */
		return status == SSL_TICKET_SUCCESS && (SSL_version(ssl) != TLS1_3_VERSION ||
							!SSL_get_num_tickets(ssl))
			       ? SSL_TICKET_RETURN_USE
			       : SSL_TICKET_RETURN_USE_RENEW;
	case SSL_TICKET_NO_DECRYPT:
		/* The key callback said "unknown key"; anything else is a bad ticket. */
		if (hs && hs->miss == RESUME_MISS_NONE)
			hs->miss = RESUME_MISS_BAD_TICKET;
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	case SSL_TICKET_EMPTY:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	case SSL_TICKET_NONE:
	case SSL_TICKET_FATAL_ERR_MALLOC:
	case SSL_TICKET_FATAL_ERR_OTHER:
	default:
		return SSL_TICKET_RETURN_IGNORE;
	}
}

/*
 * Decides whether early data OpenSSL found acceptable is accepted: only tickets this
 * process issued (their nonce starts with our instance id), and each of them once.
 */
static int tickets_allow_early_data_cb(SSL *ssl, void *arg)
{
	struct hs_info *hs = SSL_get_app_data(ssl);
	SSL_SESSION *sess = SSL_get0_session(ssl);
	void *data = NULL;
	size_t len = 0;

	(void)arg;
	if (!hs || !sess || !SSL_SESSION_get0_ticket_appdata(sess, &data, &len) || len != 16 ||
	    memcmp(data, tickets.instance, sizeof(tickets.instance)) != 0)
		return 0;
	if (!tickets_replay_first_use(data, (uint64_t)SSL_SESSION_get_time(sess) +
						    (uint64_t)SSL_SESSION_get_timeout(sess))) {
		/* Counted now: a replayed ClientHello never completes its handshake. */
		hs->early_replayed = true;
		lstats_inc(hs->snap->lstats[hs->lcfg - hs->snap->cfg->listeners], hs->worker,
			   LSTAT_EARLY_REPLAYED);
		return 0;
	}
	return 1;
}

/** tickets_ctx_setup() - install the ticket and 0-RTT callbacks on a profile's context. */
void tickets_ctx_setup(SSL_CTX *ctx)
{
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tickets_key_cb);
	SSL_CTX_set_session_ticket_cb(ctx, tickets_gen_cb, tickets_dec_cb, NULL);
	SSL_CTX_set_allow_early_data_cb(ctx, tickets_allow_early_data_cb, NULL);
}
