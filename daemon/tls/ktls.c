// SPDX-License-Identifier: MIT
/*
 * ktls.c - hand a finished handshake's keys to kernel TLS.
 *
 * OpenSSL runs the handshake over memory (bio.c), so OpenSSL's own kTLS, which needs a
 * socket BIO, never engages; ktlsd exports the keys itself, the same way for every
 * version and cipher:
 *   TLS 1.3: the application traffic secrets reach us through the keylog callback and
 *            HKDF-Expand-Label("key"/"iv") turns them into key and IV (OpenSSL's
 *            TLS13-KDF);
 *   TLS 1.2: the key block is PRF(master_secret, "key expansion", server_random +
 *            client_random) (OpenSSL's TLS1-PRF).
 * Sequence numbers come from the BIO's record counts (bio.c). One table describes the
 * kernel's crypto_info layout per cipher, and one function fills it. Key material lives on
 * the stack or in the connection only until setsockopt() took it, then it is cleansed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/tls.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#include "ktls_probe.h"
#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

#define KTLS_CIPHER(nid_, name_, type_, st_, ivc_, saltc_, keyc_, fixed12_)                        \
	{                                                                                          \
		.nid = (nid_), .name = (name_), .cipher_type = (type_),                            \
		.info_size = sizeof(struct st_), .key_len = (keyc_), .salt_len = (saltc_),         \
		.iv_len = (ivc_), .tls12_fixed_iv = (fixed12_),                                    \
		.off_key = offsetof(struct st_, key), .off_iv = offsetof(struct st_, iv),          \
		.off_salt = offsetof(struct st_, salt), .off_seq = offsetof(struct st_, rec_seq),  \
	}

static const struct ktls_cipher ktls_ciphers[] = {
	KTLS_CIPHER(NID_aes_128_gcm, "AES-128-GCM", TLS_CIPHER_AES_GCM_128,
		    tls12_crypto_info_aes_gcm_128, TLS_CIPHER_AES_GCM_128_IV_SIZE,
		    TLS_CIPHER_AES_GCM_128_SALT_SIZE, TLS_CIPHER_AES_GCM_128_KEY_SIZE, 4),
	KTLS_CIPHER(NID_aes_256_gcm, "AES-256-GCM", TLS_CIPHER_AES_GCM_256,
		    tls12_crypto_info_aes_gcm_256, TLS_CIPHER_AES_GCM_256_IV_SIZE,
		    TLS_CIPHER_AES_GCM_256_SALT_SIZE, TLS_CIPHER_AES_GCM_256_KEY_SIZE, 4),
	KTLS_CIPHER(NID_chacha20_poly1305, "CHACHA20-POLY1305", TLS_CIPHER_CHACHA20_POLY1305,
		    tls12_crypto_info_chacha20_poly1305, TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE,
		    TLS_CIPHER_CHACHA20_POLY1305_SALT_SIZE, TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE,
		    12),
};

/* The running kernel's capabilities, probed once at start-up (ktls_probe.c). */
static struct ktls_probe ktls_kernel;

/**
 * ktls_probe_kernel() - probe the running kernel once, log the result, keep it for
 * ktls_kernel_supports() and the stats. Return: true if kernel TLS is usable at all.
 */
bool ktls_probe_kernel(void)
{
	const struct ktls_probe *p = &ktls_kernel;
	char list[256] = "";
	size_t off = 0;

	ktls_probe_run(&ktls_kernel);
	if (!p->ulp) {
		log_info("kernel TLS unavailable on %s (TCP_ULP \"tls\": %s): all connections use "
			 "userspace records; kmod-helpers/ktls-load.sh explains why",
			 p->kernel, strerror(p->ulp_errno));
		return false;
	}
	for (size_t i = 0; i < KTLS_PROBE_NCOMBOS; i++) {
		const struct ktls_probe_combo *cb = &p->combos[i];
		int n = snprintf(list + off, sizeof(list) - off, "%s%s/%s%s%s", off ? " " : "",
				 cb->version == TLS1_3_VERSION ? "1.3" : "1.2", cb->name,
				 cb->tx ? "+tx" : "", cb->rx ? "+rx" : "");

		if (n < 0 || (size_t)n >= sizeof(list) - off)
			break;
		off += (size_t)n;
	}
	log_info("kernel TLS available on %s: %s; rx_no_pad %s, io_uring splice %s", p->kernel,
		 list, p->rx_no_pad ? "yes" : "no", p->uring_splice ? "yes" : "no");
	return true;
}

/** ktls_kernel_probe() - the start-up probe's result. */
const struct ktls_probe *ktls_kernel_probe(void)
{
	return &ktls_kernel;
}

/** ktls_kernel_usable() - does the running kernel take the TLS ULP at all? */
bool ktls_kernel_usable(void)
{
	return ktls_kernel.ulp;
}

/**
 * ktls_kernel_supports() - may a connection of this version and cipher move to kernel
 * TLS? Both directions must be supported: see handover.c.
 */
bool ktls_kernel_supports(int version, const struct ktls_cipher *ci)
{
	return ktls_kernel.ulp &&
	       ktls_probe_cipher_ok(&ktls_kernel, version, ci->cipher_type, false) &&
	       ktls_probe_cipher_ok(&ktls_kernel, version, ci->cipher_type, true);
}

/* Fetched once: a fetch per handshake would cost more than the derivation. */
static EVP_KDF *ktls_kdf_tls13;
static EVP_KDF *ktls_kdf_tls12;

/**
 * ktls_init() - fetch the KDF implementations; once, before workers start.
 * Return: 0 or -ENOSYS (logged).
 */
int ktls_init(void)
{
	ktls_kdf_tls13 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, NULL);
	ktls_kdf_tls12 = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL);
	if (!ktls_kdf_tls13 || !ktls_kdf_tls12) {
		log_ssl(LOG_LVL_ERR, "fetching the TLS key derivation functions");
		ktls_cleanup();
		return -ENOSYS;
	}
	return 0;
}

/** ktls_cleanup() - release what ktls_init() fetched. */
void ktls_cleanup(void)
{
	EVP_KDF_free(ktls_kdf_tls13);
	EVP_KDF_free(ktls_kdf_tls12);
	ktls_kdf_tls13 = ktls_kdf_tls12 = NULL;
}

/** ktls_cipher_find() - the table entry for an OpenSSL cipher NID, or NULL. */
const struct ktls_cipher *ktls_cipher_find(int nid)
{
	for (size_t i = 0; i < sizeof(ktls_ciphers) / sizeof(ktls_ciphers[0]); i++)
		if (ktls_ciphers[i].nid == nid)
			return &ktls_ciphers[i];
	return NULL;
}

/** ktls_cipher_at() - table entry @i, or NULL past the end (for the probe and stats). */
const struct ktls_cipher *ktls_cipher_at(size_t i)
{
	return i < sizeof(ktls_ciphers) / sizeof(ktls_ciphers[0]) ? &ktls_ciphers[i] : NULL;
}

static int ktls_hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * OpenSSL's keylog callback: "LABEL <client_random> <secret>" in hex. Only the two
 * application traffic secrets are kept, in the connection, until ktls_export() used them:
 * the server's is what a server sends with (KTLS_TX) and a client receives with.
 * Nothing is written anywhere; OpenSSL cleanses its line after the call.
 */
static void ktls_keylog_cb(const SSL *ssl, const char *line)
{
	static const struct {
		const char *label;
		size_t len;
		int dir;
	} wanted[] = {
		{ "SERVER_TRAFFIC_SECRET_0 ", 24, KTLS_TX },
		{ "CLIENT_TRAFFIC_SECRET_0 ", 24, KTLS_RX },
	};
	struct hs_info *hs = SSL_get_app_data(ssl);
	bool server = SSL_is_server(ssl);
	const char *p;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		int dir = server ? wanted[i].dir : !wanted[i].dir;

		if (strncmp(line, wanted[i].label, wanted[i].len) != 0)
			continue;
		p = strchr(line + wanted[i].len, ' ');
		if (!p)
			return;
		for (p++; p[0] && p[1] && n < sizeof(hs->secret[0]); p += 2) {
			int hi = ktls_hex_nibble(p[0]), lo = ktls_hex_nibble(p[1]);

			if (hi < 0 || lo < 0)
				break;
			hs->secret[dir][n++] = (uint8_t)(hi << 4 | lo);
		}
		hs->secret_len[dir] = (uint8_t)n;
		return;
	}
}

/**
 * ktls_ctx_setup() - make an SSL_CTX report TLS 1.3 secrets to ktls_export(). Only worth
 * it where the kernel takes kTLS: OpenSSL formats five hex lines per handshake for it.
 */
void ktls_ctx_setup(SSL_CTX *ctx)
{
	SSL_CTX_set_keylog_callback(ctx, ktls_keylog_cb);
}

/* HKDF-Expand-Label(secret, label, "", len), RFC 8446 section 7.1. */
static int ktls_expand_label(const char *md, const uint8_t *secret, size_t secret_len,
			     const char *label, uint8_t *out, size_t len)
{
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(ktls_kdf_tls13);
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, (void *)"tls13 ", 6),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label,
						  strlen(label)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, (void *)"", 0),
		OSSL_PARAM_construct_end(),
	};
	int ok = kctx && EVP_KDF_derive(kctx, out, len, params) == 1;

	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : -EIO;
}

static int ktls_export_tls13(struct hs_info *hs, const char *md, struct ktls_keys *k)
{
	for (int d = KTLS_TX; d <= KTLS_RX; d++) {
		if (!hs->secret_len[d])
			return -ENOKEY;
		if (ktls_expand_label(md, hs->secret[d], hs->secret_len[d], "key", k->key[d],
				      k->cipher->key_len) < 0 ||
		    ktls_expand_label(md, hs->secret[d], hs->secret_len[d], "iv", k->iv[d], 12) < 0)
			return -EIO;
	}
	return 0;
}

static int ktls_export_tls12(SSL *ssl, const char *md, struct ktls_keys *k)
{
	const struct ktls_cipher *ci = k->cipher;
	uint8_t master[SSL_MAX_MASTER_KEY_LENGTH], srand[SSL3_RANDOM_SIZE], crand[SSL3_RANDOM_SIZE];
	uint8_t block[2 * 32 + 2 * 12];
	size_t master_len, block_len = 2u * ci->key_len + 2u * ci->tls12_fixed_iv;
	EVP_KDF_CTX *kctx = NULL;
	int ret = -EIO;

	master_len = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof(master));
	if (!master_len || SSL_get_server_random(ssl, srand, sizeof(srand)) != sizeof(srand) ||
	    SSL_get_client_random(ssl, crand, sizeof(crand)) != sizeof(crand))
		goto out;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, master_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)"key expansion", 13),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, srand, sizeof(srand)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, crand, sizeof(crand)),
		OSSL_PARAM_construct_end(),
	};
	kctx = EVP_KDF_CTX_new(ktls_kdf_tls12);
	if (!kctx || EVP_KDF_derive(kctx, block, block_len, params) != 1)
		goto out;
	/* client_write_key, server_write_key, client_write_IV, server_write_IV */
	size_t kl = ci->key_len, ivl = ci->tls12_fixed_iv;
	int cw = SSL_is_server(ssl) ? KTLS_RX : KTLS_TX; /* where the client's keys go */

	memcpy(k->key[cw], block, kl);
	memcpy(k->key[!cw], block + kl, kl);
	memcpy(k->iv[cw], block + 2 * kl, ivl);
	memcpy(k->iv[!cw], block + 2 * kl + ivl, ivl);
	ret = 0;
out:
	EVP_KDF_CTX_free(kctx);
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(block, sizeof(block));
	return ret;
}

/**
 * ktls_export() - derive the kernel's keys for a finished handshake.
 * @ssl:    the connection's SSL, handshake complete
 * @hs:     its handshake info (TLS 1.3 secrets); the secrets are cleansed here
 * @tx_seq: records we sent under the current keys
 * @rx_seq: records the peer sent under the current keys
 * @k:      filled in; the caller wipes it with ktls_keys_wipe() on every path
 *
 * Return: 0, -EOPNOTSUPP (version or cipher the kernel path does not cover),
 *         -ENOKEY (TLS 1.3 secrets missing), -EIO (derivation failed).
 */
int ktls_export(SSL *ssl, struct hs_info *hs, uint64_t tx_seq, uint64_t rx_seq, struct ktls_keys *k)
{
	const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
	const EVP_MD *md = sc ? SSL_CIPHER_get_handshake_digest(sc) : NULL;
	int ret = -EOPNOTSUPP;

	memset(k, 0, sizeof(*k));
	k->version = SSL_version(ssl);
	k->cipher = sc ? ktls_cipher_find(SSL_CIPHER_get_cipher_nid(sc)) : NULL;
	k->seq[KTLS_TX] = tx_seq;
	k->seq[KTLS_RX] = rx_seq;
	if (!k->cipher || !md || (k->version != TLS1_2_VERSION && k->version != TLS1_3_VERSION))
		goto out;
	if (k->version == TLS1_3_VERSION)
		ret = ktls_export_tls13(hs, EVP_MD_get0_name(md), k);
	else
		ret = ktls_export_tls12(ssl, EVP_MD_get0_name(md), k);
	if (ret == -EIO)
		ERR_clear_error();
out:
	OPENSSL_cleanse(hs->secret, sizeof(hs->secret));
	memset(hs->secret_len, 0, sizeof(hs->secret_len));
	return ret;
}

/** ktls_keys_wipe() - cleanse exported keys. */
void ktls_keys_wipe(struct ktls_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static void ktls_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Fills the kernel's crypto_info for direction @d and hands it over. */
static int ktls_set_dir(int fd, const struct ktls_keys *k, int d)
{
	const struct ktls_cipher *ci = k->cipher;
	union {
		struct tls_crypto_info base;
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
	} u;
	uint8_t *p = (uint8_t *)&u;
	size_t implicit = k->version == TLS1_3_VERSION ? 12 : ci->tls12_fixed_iv;
	int ret = 0;

	memset(&u, 0, sizeof(u));
	u.base.version = (uint16_t)k->version;
	u.base.cipher_type = ci->cipher_type;
	memcpy(p + ci->off_key, k->key[d], ci->key_len);
	memcpy(p + ci->off_salt, k->iv[d], ci->salt_len);
	if (implicit == (size_t)ci->salt_len + ci->iv_len)
		memcpy(p + ci->off_iv, k->iv[d] + ci->salt_len, ci->iv_len);
	else
		ktls_put_be64(p + ci->off_iv, k->seq[d]); /* TLS 1.2 GCM explicit nonce */
	ktls_put_be64(p + ci->off_seq, k->seq[d]);
	if (setsockopt(fd, SOL_TLS, d == KTLS_TX ? TLS_TX : TLS_RX, &u, ci->info_size) < 0)
		ret = -errno;
	OPENSSL_cleanse(&u, sizeof(u));
	return ret;
}

/**
 * ktls_install() - attach the TLS ULP to an established socket and install both
 * directions, RX first.
 * @installed: out, KTLS_F_TX / KTLS_F_RX for what took effect
 *
 * If RX fails, nothing is in the kernel and the socket still carries plain TCP: the
 * caller may stay on the userspace path. Return: 0 or -errno of the step that failed.
 */
int ktls_install(int fd, const struct ktls_keys *k, unsigned *installed)
{
	int ret;

	*installed = 0;
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	ret = ktls_set_dir(fd, k, KTLS_RX);
	if (ret < 0)
		return ret;
	*installed |= KTLS_F_RX;
	ret = ktls_set_dir(fd, k, KTLS_TX);
	if (ret < 0)
		return ret;
	*installed |= KTLS_F_TX;
	return 0;
}
