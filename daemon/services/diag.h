/* SPDX-License-Identifier: MIT */
/*
 * diag.h - sock_diag queries (diag.c); used by ktlsd and by kmod-helpers/ktls-diag.
 */
#ifndef KTLSD_DIAG_H
#define KTLSD_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct diag_sock {
	struct sockaddr_storage local;
	struct sockaddr_storage peer;
	uint32_t inode;
	char ulp[16];	      /* "tls" with kernel TLS attached; empty otherwise */
	bool tls;	      /* the fields below are valid */
	uint16_t tls_version; /* TLS_1_2_VERSION / TLS_1_3_VERSION */
	uint16_t tls_cipher;  /* TLS_CIPHER_* */
	uint16_t txconf;      /* TLS_CONF_BASE / _SW / _HW / _HW_RECORD */
	uint16_t rxconf;
	bool has_tcp_info;
	uint32_t rtt_us;
	uint32_t rttvar_us;
	uint32_t total_retrans;
	uint32_t snd_cwnd;
	uint64_t bytes_acked;
	uint64_t bytes_received;
};

/* Returns 0 to go on; anything else stops the walk and is returned by diag_dump_tcp(). */
typedef int (*diag_cb)(const struct diag_sock *d, void *arg);

int diag_dump_tcp(uint16_t port, diag_cb cb, void *arg);
/* diag_tcpinfo.c: the kernel's struct tcp_info, which glibc's <netinet/tcp.h> lacks
 * fields of and which cannot be included next to libnl's headers. */
void diag_parse_tcp_info(struct diag_sock *d, const void *data, size_t len);
const char *diag_tls_version_name(uint16_t v);
const char *diag_tls_cipher_name(uint16_t c);
const char *diag_tls_conf_name(uint16_t conf);

#endif
