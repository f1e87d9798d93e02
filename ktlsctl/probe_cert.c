// SPDX-License-Identifier: MIT
/*
 * probe_cert.c - the certificate chain a server sent, as `probe` reports it: per
 * certificate its subject and issuer (RFC 2253), key type, size and curve, signature
 * algorithm, notAfter and the whole days left until then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "probe.h"

/* @name in RFC 2253 form, malloc'd; NULL on failure. */
static char *name_text(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *s = NULL;
	long len;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(b, &data);
		s = len > 0 && data ? strndup(data, (size_t)len) : strdup("");
	}
	BIO_free(b);
	return s;
}

static void key_info(X509 *x, struct probe_cert *pc)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *type = NULL;
	size_t glen = 0;

	snprintf(pc->key_type, sizeof(pc->key_type), "unknown");
	if (!pk)
		return;
	type = EVP_PKEY_get0_type_name(pk);
	if (!type)
		type = OBJ_nid2sn(EVP_PKEY_get_base_id(pk));
	if (type)
		snprintf(pc->key_type, sizeof(pc->key_type), "%s", type);
	pc->key_bits = EVP_PKEY_get_bits(pk);
	/* only keys on a named curve have a group: no group is not an error */
	if (EVP_PKEY_get_group_name(pk, pc->key_group, sizeof(pc->key_group), &glen) != 1)
		pc->key_group[0] = '\0';
}

static void validity(X509 *x, struct probe_cert *pc)
{
	const ASN1_TIME *na = X509_get0_notAfter(x);
	struct tm tm;
	int days = 0, secs = 0;

	snprintf(pc->not_after, sizeof(pc->not_after), "?");
	if (na && ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(pc->not_after, sizeof(pc->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* from now (NULL) to notAfter; days and seconds have the same sign */
	if (na && ASN1_TIME_diff(&days, &secs, NULL, na) == 1)
		pc->days_left = days;
}

static int summarize(X509 *x, struct probe_cert *pc)
{
	int sig = X509_get_signature_nid(x);
	const char *sn = sig != NID_undef ? OBJ_nid2ln(sig) : NULL;

	pc->subject = name_text(X509_get_subject_name(x));
	pc->issuer = name_text(X509_get_issuer_name(x));
	if (!pc->subject || !pc->issuer)
		return -1;
	key_info(x, pc);
	snprintf(pc->signature, sizeof(pc->signature), "%s", sn ? sn : "unknown");
	validity(x, pc);
	return 0;
}

/**
 * probe_chain() - the certificates the server sent, leaf first, summarized.
 * @ssl:   a client connection after a full handshake
 * @chain: set to the array (probe_chain_free() it), NULL if none
 * @n:     set to its length
 * @err:   the reason on failure
 * @elen:  its size
 *
 * Return: 0, or -1 with @err set (@chain and @n still to be freed).
 */
int probe_chain(SSL *ssl, struct probe_cert **chain, size_t *n, char *err, size_t elen)
{
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl); /* a client's has the leaf */
	int i, count = sk ? sk_X509_num(sk) : 0;

	*chain = NULL;
	*n = 0;
	if (count <= 0)
		return 0;
	*chain = calloc((size_t)count, sizeof(**chain));
	if (!*chain) {
		snprintf(err, elen, "the certificate chain: out of memory");
		return -1;
	}
	*n = (size_t)count;
	for (i = 0; i < count; i++) {
		if (summarize(sk_X509_value(sk, i), &(*chain)[i]) != 0) {
			probe_ssl_error(err, elen, "the certificate chain");
			return -1;
		}
	}
	ERR_clear_error();
	return 0;
}

/**
 * probe_chain_free() - free what probe_chain() made.
 * @chain: the array, or NULL
 * @n:     its length
 */
void probe_chain_free(struct probe_cert *chain, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(chain[i].subject);
		free(chain[i].issuer);
	}
	free(chain);
}
