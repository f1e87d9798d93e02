// SPDX-License-Identifier: MIT
/*
 * test_ktls_keys.c - the keys and record sequence numbers ktlsd hands to kernel TLS are
 * right, checked without a kTLS kernel: a real OpenSSL client and a server driven through
 * ktlsd's BIO (bio.c) complete a handshake, the client pipelines data that the server
 * partly reads, and then records from each side are decrypted with the exported key, IV
 * and sequence number, exactly as the kernel would. The client side (ktlsd as a TLS
 * client, for the handoff client role and the pool) is checked the same way after it read
 * the server's tickets. TLS 1.2 and 1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "data.h"

static int n_checks, n_failed;

static void check(int ok, const char *what, const char *suite)
{
	n_checks++;
	if (!ok)
		n_failed++;
	printf("%s - %s: %s\n", ok ? "ok  " : "FAIL", suite, what);
}

static EVP_PKEY *make_key(void)
{
	return EVP_EC_gen("P-256");
}

static X509 *make_cert(EVP_PKEY *pkey)
{
	X509 *x = X509_new();

	if (!x)
		return NULL;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, pkey, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Moves everything one side wrote into the other side's input. */
static void pump(struct tls_io *from, struct tls_io *to)
{
	uint32_t n = buf_len(&from->out);

	buf_compact(&to->in);
	if (n > buf_room(&to->in))
		n = buf_room(&to->in);
	memcpy(buf_wptr(&to->in), buf_rptr(&from->out), n);
	to->in.tail += n;
	buf_consume(&from->out, n);
	buf_compact(&from->out);
}

/* Decrypts the record at the head of @b with key/iv/seq as the kernel would. */
static int open_record(const struct ktls_keys *k, int dir, uint64_t seq, struct buf *b,
		       uint8_t *plain, size_t *plain_len)
{
	const struct ktls_cipher *ci = k->cipher;
	const uint8_t *rec = buf_rptr(b);
	size_t len = ((size_t)rec[3] << 8) | rec[4], off = 5, ct_len;
	uint8_t nonce[12], aad[13];
	size_t aad_len;
	const EVP_CIPHER *cipher = ci->nid == NID_aes_128_gcm	? EVP_aes_128_gcm()
				   : ci->nid == NID_aes_256_gcm ? EVP_aes_256_gcm()
								: EVP_chacha20_poly1305();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, fin = 0, ok;

	if (buf_len(b) < 5 + len || len < 16 + 1)
		return -1;
	if (k->version == TLS1_2_VERSION && ci->tls12_fixed_iv == 4) {
		memcpy(nonce, k->iv[dir], 4); /* salt, then the explicit nonce in the record */
		memcpy(nonce + 4, rec + 5, 8);
		off += 8;
	} else {
		memcpy(nonce, k->iv[dir], 12);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= (uint8_t)(seq >> (56 - 8 * i));
	}
	ct_len = 5 + len - off - 16;
	if (k->version == TLS1_3_VERSION) {
		memcpy(aad, rec, 5);
		aad_len = 5;
	} else {
		for (int i = 0; i < 8; i++)
			aad[i] = (uint8_t)(seq >> (56 - 8 * i));
		aad[8] = rec[0];
		aad[9] = rec[1];
		aad[10] = rec[2];
		aad[11] = (uint8_t)(ct_len >> 8);
		aad[12] = (uint8_t)ct_len;
		aad_len = 13;
	}
	ok = ctx && EVP_DecryptInit_ex(ctx, cipher, NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, k->key[dir], nonce) &&
	     EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) &&
	     EVP_DecryptUpdate(ctx, plain, &outl, rec + off, (int)ct_len) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(rec + off + ct_len)) &&
	     EVP_DecryptFinal_ex(ctx, plain + outl, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	buf_consume(b, (uint32_t)(5 + len));
	if (!ok)
		return -1;
	*plain_len = (size_t)(outl + fin);
	if (k->version == TLS1_3_VERSION) /* strip the inner content type (no padding here) */
		(*plain_len)--;
	return 0;
}

static void run_case(SSL_CTX *sctx, SSL_CTX *cctx, int version, const char *suite)
{
	struct tls_io sio = { 0 }, cio = { 0 };
	struct hs_info hs = { 0 }, chs = { 0 };
	struct ktls_keys k, ck;
	struct buf copy = { 0 };
	uint8_t plain[256];
	size_t plain_len = 0, got = 0;
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	int sdone = 0, cdone = 0;

	buf_alloc(&sio.in, 1 << 16);
	buf_alloc(&sio.out, 1 << 16);
	buf_alloc(&cio.in, 1 << 16);
	buf_alloc(&cio.out, 1 << 16);
	BIO *sb = bio_new_tls_io(&sio), *cb = bio_new_tls_io(&cio);

	SSL_set_bio(s, sb, sb); /* one reference serves both directions */
	SSL_set_bio(c, cb, cb);
	SSL_set_app_data(s, &hs);
	SSL_set_app_data(c, &chs);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	SSL_set_min_proto_version(c, version);
	SSL_set_max_proto_version(c, version);
	if (version == TLS1_3_VERSION)
		SSL_set_ciphersuites(c, suite);
	else
		SSL_set_cipher_list(c, suite);

	/* The same bookkeeping as handshake_step(). */
	for (int i = 0; i < 20 && !(sdone && cdone); i++) {
		if (!cdone) {
			uint64_t before = cio.wr.records;

			cdone = SSL_do_handshake(c) == 1;
			if (cdone)
				bio_mark_app_keys(&cio, SSL_version(c), false, before);
		}
		pump(&cio, &sio);
		if (!sdone) {
			uint64_t before = sio.wr.records;

			if (SSL_do_handshake(s) == 1) {
				bio_mark_app_keys(&sio, SSL_version(s), true, before);
				sdone = 1;
			}
		}
		pump(&sio, &cio);
	}
	check(sdone && cdone, "handshake completes", suite);
	if (!sdone || !cdone)
		goto out;
	/* Let the client read its tickets, then pipeline three records; the server reads one. */
	SSL_read_ex(c, plain, sizeof(plain), &got);
	check(ktls_export(c, &chs, bio_seq(&cio, KTLS_TX), bio_seq(&cio, KTLS_RX), &ck) == 0,
	      "client keys export", suite);
	SSL_write(c, "one", 3);
	/* The client's first record, as its kernel would have sent it at tx_seq. */
	buf_alloc(&copy, 1 << 16);
	memcpy(copy.data, buf_rptr(&cio.out), buf_len(&cio.out));
	copy.tail = buf_len(&cio.out);
	check(open_record(&ck, KTLS_TX, ck.seq[KTLS_TX], &copy, plain, &plain_len) == 0 &&
		      plain_len == 3 && memcmp(plain, "one", 3) == 0,
	      "client record opens with the client's TX key at its exported sequence", suite);
	SSL_write(c, "two", 3);
	SSL_write(c, "three", 5);
	pump(&cio, &sio);
	check(SSL_read_ex(s, plain, sizeof(plain), &got) && got == 3, "server reads one record",
	      suite);
	check(ktls_export(s, &hs, bio_seq(&sio, KTLS_TX), bio_seq(&sio, KTLS_RX), &k) == 0,
	      "keys export", suite);
	check(hs.secret_len[0] == 0 && hs.secret[1][0] == 0, "TLS 1.3 secrets cleansed", suite);
	/* The kernel would now receive "two": the client's record at rx_seq. */
	check(open_record(&k, KTLS_RX, k.seq[KTLS_RX], &sio.in, plain, &plain_len) == 0 &&
		      plain_len == 3 && memcmp(plain, "two", 3) == 0,
	      "client record opens with RX key at the exported sequence", suite);
	check(open_record(&k, KTLS_RX, k.seq[KTLS_RX] + 1, &sio.in, plain, &plain_len) == 0 &&
		      plain_len == 5 && memcmp(plain, "three", 5) == 0,
	      "and the next one at sequence + 1", suite);
	/* What the server sends next is what the kernel would send at tx_seq. */
	buf_compact(&sio.out);
	SSL_write(s, "reply", 5);
	copy.head = 0;
	memcpy(copy.data, buf_rptr(&sio.out), buf_len(&sio.out));
	copy.tail = buf_len(&sio.out);
	check(open_record(&ck, KTLS_RX, ck.seq[KTLS_RX], &copy, plain, &plain_len) == 0 &&
		      plain_len == 5 && memcmp(plain, "reply", 5) == 0,
	      "server record opens with the client's RX key after the tickets it read", suite);
	check(open_record(&k, KTLS_TX, k.seq[KTLS_TX], &sio.out, plain, &plain_len) == 0 &&
		      plain_len == 5 && memcmp(plain, "reply", 5) == 0,
	      "server record opens with TX key at the exported sequence", suite);
	ktls_keys_wipe(&k);
	ktls_keys_wipe(&ck);
out:
	buf_free(&copy);
	SSL_free(s);
	SSL_free(c);
	buf_free(&sio.in);
	buf_free(&sio.out);
	buf_free(&cio.in);
	buf_free(&cio.out);
}

int main(void)
{
	static const struct {
		int version;
		const char *suite;
	} cases[] = {
		{ TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256" },
		{ TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384" },
		{ TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256" },
		{ TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256" },
		{ TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384" },
		{ TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305" },
	};
	EVP_PKEY *pkey = make_key();
	X509 *cert = pkey ? make_cert(pkey) : NULL;
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());

	if (!cert || !sctx || !cctx || bio_init() < 0 || ktls_init() < 0 ||
	    SSL_CTX_use_certificate(sctx, cert) != 1 || SSL_CTX_use_PrivateKey(sctx, pkey) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	ktls_ctx_setup(sctx);
	ktls_ctx_setup(cctx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(sctx, cctx, cases[i].version, cases[i].suite);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	ktls_cleanup();
	bio_cleanup();
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
