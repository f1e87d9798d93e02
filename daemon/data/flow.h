/* SPDX-License-Identifier: MIT */
/*
 * flow.h - the data layer's implementation of the core's hooks (flow.c).
 */
#ifndef KTLSD_FLOW_H
#define KTLSD_FLOW_H

struct conn;
struct conn_ops;

/* Every connection's operations: completions by op, pump, orderly shutdown, release. */
extern const struct conn_ops flow_conn_ops;
/* The worker's accept hook: begins the handshake (owns @c). */
void flow_on_accept(struct conn *c);

#endif
