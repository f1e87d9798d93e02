/* SPDX-License-Identifier: MIT */
/*
 * ktls_probe.h - what the running kernel's TLS (kTLS) offers.
 *
 * Self-contained (libc + liburing): ktlsd runs ktls_probe_run() once at
 * start-up, and the ktls-probe CLI (kmod-helpers/ktls-probe.c) wraps it.
 * Versions and cipher types use the kernel's numbers from <linux/tls.h>
 * (TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128, ...).
 */
#ifndef KTLSD_KTLS_PROBE_H
#define KTLSD_KTLS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* TLS 1.2 and 1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 */
#define KTLS_PROBE_NCOMBOS 6

/* One (version, cipher) pair: whether TLS_TX / TLS_RX was accepted. */
struct ktls_probe_combo {
	const char *name; /* cipher, e.g. "AES-128-GCM" */
	int version;	  /* TLS_1_2_VERSION or TLS_1_3_VERSION */
	int cipher_type;  /* TLS_CIPHER_* */
	bool tx, rx;
	int tx_errno, rx_errno; /* positive errno when refused; 0 if accepted or not tested */
};

/*
 * The probe's result. An *_errno is the positive errno of a refusal; false with
 * errno 0 means "not tested" (e.g. everything after a failed TCP_ULP, or
 * TLS_RX_EXPECT_NO_PAD when no TLS 1.3 RX was accepted).
 */
struct ktls_probe {
	bool ulp; /* setsockopt(TCP_ULP, "tls") on an established socket */
	int ulp_errno;
	struct ktls_probe_combo combos[KTLS_PROBE_NCOMBOS];
	bool rx_no_pad; /* TLS_RX_EXPECT_NO_PAD accepted (TLS 1.3 RX) */
	int rx_no_pad_errno;
	bool tx_zc_ro; /* TLS_TX_ZEROCOPY_RO accepted */
	int tx_zc_ro_errno;
	bool tls_stat;	   /* /proc/net/tls_stat present */
	bool uring_splice; /* io_uring splice pipe -> kTLS TX socket produced a record */
	int uring_splice_errno;
	char kernel[65]; /* uname release */
};

/* One line of /proc/net/tls_stat. */
struct ktls_stat_entry {
	char name[48];
	unsigned long long value;
};

/* Where the kernel publishes the kTLS counters (per network namespace). */
#define KTLS_STAT_PATH "/proc/net/tls_stat"

int ktls_probe_run(struct ktls_probe *p);
bool ktls_probe_available(const struct ktls_probe *p);
bool ktls_probe_cipher_ok(const struct ktls_probe *p, int version, int cipher_type, bool rx);
void ktls_probe_format_text(const struct ktls_probe *p, FILE *f);
void ktls_probe_format_json(const struct ktls_probe *p, FILE *f);
int ktls_probe_read_stat(const char *path, struct ktls_stat_entry *ent, size_t max);
const struct ktls_stat_entry *ktls_stat_find(const struct ktls_stat_entry *ent, size_t n,
					     const char *name);

#endif /* KTLSD_KTLS_PROBE_H */
