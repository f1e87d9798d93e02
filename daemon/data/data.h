/* SPDX-License-Identifier: MIT */
/*
 * data.h - the data layer: what a connection does once accepted, moving bytes between
 * the client and its backend (flow.c, relay.c, relay_io.c, relay_park.c, handover.c,
 * splice.c, backend.c, proxy_v2.c). Grouped by file.
 */
#ifndef KTLSD_DATA_H
#define KTLSD_DATA_H

#include "tls.h"

/* ---- flow.c: the core's conn_ops and accept hook ---- */

/* Every connection's operations: completions by op, pump, orderly shutdown, release. */
extern const struct conn_ops flow_conn_ops;
/* The worker's accept hook: begins the handshake (owns @c). */
void flow_on_accept(struct conn *c);

/* ---- proxy_v2.c: PROXY protocol version 2 header ---- */

struct proxy_v2_info {
	const struct sockaddr *src; /* the client */
	const struct sockaddr *dst; /* the address the client connected to */
	const char *alpn;	    /* may be NULL */
	size_t alpn_len;
	const char *sni;     /* may be NULL or empty */
	const char *version; /* "TLSv1.3" */
	const char *cipher;  /* "TLS_AES_128_GCM_SHA256" */
	bool early_data;     /* 0-RTT data follows, forwarded before the handshake completed */
};

#define PROXY_V2_MAX_LEN 1024
/* Writes the header into @out; returns its length, or -ENOSPC / -EAFNOSUPPORT. */
int proxy_v2_encode(const struct proxy_v2_info *info, uint8_t *out, size_t outlen);

/* ---- handover.c: from OpenSSL records to kernel TLS ---- */

enum handover_result { HANDOVER_WAIT, HANDOVER_DONE, HANDOVER_USERSPACE, HANDOVER_CLOSED };

void handover_begin(struct conn *c);
enum handover_result handover_step(struct conn *c);
void handover_abandon(struct conn *c);

/* ---- splice.c: relaying a kernel-TLS connection ---- */

int splice_init(struct conn *c);
void splice_fini(struct conn *c);
void splice_pump(struct conn *c);
bool splice_on_cqe(struct conn *c, enum op op, int res);
int splice_send_close_notify(struct conn *c);

/* ---- backend.c: connecting to the backend, PROXY header ---- */

int backend_prepare(struct conn *c);
int backend_connect(struct conn *c);
void backend_on_connect(struct conn *c, int res);

/* ---- relay.c: moving data once the handshake is done ---- */

/* Runs the record layer and arms every operation the connection needs next. */
void relay_start_server(struct conn *c);
void relay_on_client_poll(struct conn *c, int res);
void relay_on_park_poll(struct conn *c, int res);
void relay_start_client(struct conn *c);
void relay_pump(struct conn *c);
void relay_shutdown(struct conn *c, const char *reason);
void relay_on_client_recv(struct conn *c, int res);
void relay_on_client_send(struct conn *c, int res);
void relay_on_backend_recv(struct conn *c, int res);
void relay_on_backend_send(struct conn *c, int res);
/* relay_park.c: a quiet connection gives its buffers back until data comes. */
void relay_idle(struct conn *c);
bool relay_park(struct conn *c);
bool relay_unpark(struct conn *c);
/* relay_io.c: arming the userspace path's receives, sends and buffer-less polls. */
struct io_uring_sqe *relay_arm(struct conn *c, enum op op, int fd, struct buf *b, bool recv,
			       uint32_t len);
void relay_arm_poll(struct conn *c, enum op op, int fd);
void relay_arm_client_recv(struct conn *c);
void relay_arm_client_send(struct conn *c);

#endif
