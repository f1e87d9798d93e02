/* SPDX-License-Identifier: MIT */
/*
 * pool.h - the warm connection pool (pool.c), run by the handoff thread.
 */
#ifndef KTLSD_POOL_H
#define KTLSD_POOL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include <ktlsd/handoff.h>

struct handoff;
struct pool;
struct snapshot;

struct handoff_job;

/* @dispatch hands a job to a worker (handoff.c's handoff_dispatch, with @ctx). */
int pool_create(void (*dispatch)(void *ctx, int app, struct handoff_job *job), void *ctx,
		struct pool **out);
void pool_free(struct pool *p);
/* Follows the configuration's upstreams (called each round; cheap when unchanged).
 * Returns true if they changed: the pool then wants a round at once, to fill. */
bool pool_sync(struct pool *p, const struct snapshot *s);
/* How many descriptors pool_fill_pollfds() may add. */
size_t pool_n_pollfds(struct pool *p);
/* Adds the pool's descriptors to @pfd; returns how many. */
size_t pool_fill_pollfds(struct pool *p, struct pollfd *pfd);
/* Handles their events (the same @pfd, before any pool_request() of this round), then
 * expires, times out and refills. Returns the poll timeout the pool needs (ms, -1 none). */
int pool_events(struct pool *p, const struct pollfd *pfd);
/* The poll timeout once this round's requests are handled: @timeout from pool_events(),
 * or sooner if a hand-out wants a refill. */
int pool_timeout(struct pool *p, int timeout);
/* An application's op 3 request: a ready connection now, or one made on demand. */
void pool_request(struct pool *p, int app, const struct ktlsd_handoff_req *req);
/* ktlsd is stopping: close the idle connections, refill no more. */
void pool_quiesce(struct pool *p);
/* The `pools` control command's reply: one object per upstream. */
struct json_object *pool_json(struct pool *p);

#endif
