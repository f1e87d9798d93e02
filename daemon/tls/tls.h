/* SPDX-License-Identifier: MIT */
/*
 * tls.h - the TLS layer: OpenSSL profiles and SNI, the handshake driver, BIOs over a
 * connection's buffers, key export to kernel TLS, session caches (tlsprof.c,
 * handshake.c, bio.c, ktls.c, sesscache.c, client_tls.c, clientcache.c; tickets.h and
 * ktls_probe.h have their own). Grouped by file. Only this layer calls into OpenSSL's SSL
 * objects.
 */
#ifndef KTLSD_TLS_H
#define KTLSD_TLS_H

#include <openssl/ssl.h>

#include "core.h"

/* ---- tlsprof.c: one SSL_CTX per profile, bundled with the config as a snapshot ---- */

struct ticket_ring;

/* What a loaded certificate says, for `ktlsctl certs` and the expiry metric. */
struct tls_cert_info {
	const char *file; /* the configuration's cert path */
	char subject[256];
	char issuer[256];
	char key[32];	    /* "EC P-256", "RSA 2048", "ED25519" */
	int64_t not_before; /* Unix time */
	int64_t not_after;
};

struct tls_profile {
	const struct cfg_profile *cfg;
	SSL_CTX *ctx;
	struct ticket_ring *ring; /* its session-ticket keys (tickets.c); shared across reloads */
	struct tls_cert_info *certs; /* cfg->n_certs entries, in the configuration's order */
};

/* Every profile's SSL_CTX goes through ktls_ctx_setup() (ktls.c). */
int snapshot_create(struct ktlsd_cfg *cfg, uint64_t generation, struct snapshot **out, char *err,
		    size_t errlen);

SSL *tlsprof_new_ssl(const struct snapshot *s, const struct cfg_listener *l, struct hs_info *hs);
void tls_name_str(const X509_NAME *name, char *out, size_t len);

/* ---- sesscache.c: the shared server session cache and the 0-RTT anti-replay set ---- */

int sesscache_init(size_t size);
void sesscache_cleanup(void);
void sesscache_resize(size_t size);
size_t sesscache_flush(void);
size_t sesscache_count(void);
void sesscache_ctx_setup(SSL_CTX *ctx, const struct cfg_profile *p, size_t cache_size);

/* ---- client_tls.c: the handoff client role's SSL_CTX and SSLs ---- */

SSL_CTX *client_ctx_new(const struct ktlsd_cfg *cfg, char *err, size_t errlen);
/* A client SSL for hs->sni (DNS name or IP address), hs->alpn_wire, offering a cached
 * session for hs->cache_key if there is one. NULL on failure (logged). */
SSL *client_new_ssl(const struct snapshot *s, struct hs_info *hs);
void client_cache_key(struct hs_info *hs, const char *host, uint16_t port, const char *alpn);

/* ---- clientcache.c: the host-wide client session cache ---- */

struct clientcache_stats {
	size_t keys, sessions, max_keys;
	uint64_t hits, misses, stored;
};

void clientcache_configure(size_t max_keys);
size_t clientcache_flush(void);
SSL_SESSION *clientcache_take(const char *key);
void clientcache_put(const char *key, SSL_SESSION *sess);
void clientcache_stats(struct clientcache_stats *st);

/* ---- bio.c: OpenSSL BIOs over a connection's ciphertext buffers ---- */

int bio_init(void);
void bio_cleanup(void);
/* Returns a BIO reading from io->in and writing to io->out; the BIO does not own @io. */
BIO *bio_new_tls_io(struct tls_io *io);
/* Bytes still missing from io->in to complete the record at its head (0 if empty). */
uint32_t bio_in_missing(const struct tls_io *io);
void bio_mark_app_keys(struct tls_io *io, int version, bool server, uint64_t wr_before_last_step);
uint64_t bio_seq(const struct tls_io *io, int dir);

/* ---- ktls.c: exporting keys to kernel TLS ---- */

/* One row per AEAD: the layout of the kernel's struct tls12_crypto_info_* for it. */
struct ktls_cipher {
	int nid; /* OpenSSL's NID_aes_128_gcm, ... */
	const char *name;
	uint16_t cipher_type; /* TLS_CIPHER_* */
	uint16_t info_size;
	uint8_t key_len, salt_len, iv_len;
	uint8_t tls12_fixed_iv; /* implicit IV bytes from the TLS 1.2 key block */
	uint8_t off_key, off_iv, off_salt, off_seq;
};

#define KTLS_F_TX 1u
#define KTLS_F_RX 2u

struct ktls_keys {
	int version; /* TLS1_2_VERSION or TLS1_3_VERSION (the kernel uses the same values) */
	const struct ktls_cipher *cipher;
	uint8_t key[2][32]; /* [KTLS_TX], [KTLS_RX] */
	uint8_t iv[2][12];  /* implicit IV: 12 bytes, or the 4-byte salt for TLS 1.2 GCM */
	uint64_t seq[2];
};

int ktls_init(void);
void ktls_cleanup(void);
void ktls_ctx_setup(SSL_CTX *ctx);
const struct ktls_cipher *ktls_cipher_find(int nid);
const struct ktls_cipher *ktls_cipher_at(size_t i);
int ktls_export(SSL *ssl, struct hs_info *hs, uint64_t tx_seq, uint64_t rx_seq,
		struct ktls_keys *k);
void ktls_keys_wipe(struct ktls_keys *k);
int ktls_install(int fd, const struct ktls_keys *k, unsigned *installed);
/* Set once at start-up from the kernel probe: may kTLS carry this version and cipher? */
struct ktls_probe;
bool ktls_probe_kernel(void);
const struct ktls_probe *ktls_kernel_probe(void);
bool ktls_kernel_usable(void);
bool ktls_kernel_supports(int version, const struct ktls_cipher *ci);

/* ---- handshake.c: drives OpenSSL until the handshake is done ---- */

enum hs_result { HS_WANT_IO, HS_DONE, HS_FAILED, HS_EARLY_DATA };

int handshake_prepare(struct conn *c);
void handshake_release(struct conn *c);
uint32_t handshake_io_size(const struct cfg_listener *l);
int handshake_begin(struct conn *c);
/* On HS_FAILED, c->tls.fail says why. */
enum hs_result handshake_step(struct conn *c);

#endif
