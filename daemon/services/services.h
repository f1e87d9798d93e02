/* SPDX-License-Identifier: MIT */
/*
 * services.h - the services beside the data path that the daemon starts: the handoff
 * socket (handoff.c, handoff_conn.c, handoff_proto.c) and the control socket (control.c).
 * The others have their own headers (pool.h, stats_json.h, metrics.h, diag.h, ...).
 */
#ifndef KTLSD_SERVICES_H
#define KTLSD_SERVICES_H

#include <ktlsd/handoff.h>

#include "data.h"

struct control;

/* ---- handoff.c (the handoff socket's thread) and handoff_conn.c (on the workers) ---- */

struct handoff;
struct ktlsd;

/* A validated request with its socket, on its way to a worker. */
struct handoff_job {
	struct worker_job wj; /* first: the worker runs it (handoff_post) */
	int cfd;	      /* the application's TCP socket (our copy) */
	int app_fd;	      /* a dup of the application's handoff connection, for the reply */
	uint64_t id;
	uint32_t flags;
	uint32_t timeout_ms;
	uint16_t op;	/* KTLSD_HANDOFF_SERVER or _CLIENT (the pool's are CLIENT too) */
	int profile;	/* SERVER: index into the snapshot's profiles */
	bool pooled;	/* CLIENT: made for the pool (pool.c) */
	char host[256]; /* CLIENT: SNI and verified name */
	char alpn[128]; /* CLIENT: as requested, for the session cache key */
	uint16_t port;	/* CLIENT: the server's port, for the session cache key */
	uint8_t alpn_wire[129];
	uint8_t alpn_wire_len;
};

/* What the handoff thread needs of the daemon (main.c fills it in). */
struct handoff_env {
	struct snapshot *(*snapshot)(void *ctx); /* the current one, with a reference */
	void *ctx;
	struct worker *workers; /* jobs go to these, round robin */
	unsigned n_workers;
};

int handoff_start(const struct handoff_env *env, const struct ktlsd_cfg *cfg, struct handoff **out);
void handoff_stop(struct handoff *h);
void handoff_quiesce(struct handoff *h);
void handoff_unlink(const struct handoff *h);
void handoff_post(struct worker *w, struct handoff_job *job);
void handoff_adopt(struct worker *w, struct handoff_job *job);
/* Sends the job's error reply and closes its descriptors (jobs that never became conns). */
void handoff_job_fail(struct handoff_job *job, int status, const char *msg);
/* handoff.c, for the pool too. */
void handoff_reply_now(int app_fd, uint64_t id, int status, const char *msg);
int handoff_send_reply(int app_fd, struct ktlsd_handoff_reply *r, int fd);
bool handoff_alpn_wire(const char *list, uint8_t *wire, uint8_t *wire_len);
void handoff_dispatch(struct handoff *h, int app, struct handoff_job *job);
struct pool *handoff_pool(struct handoff *h);

/* ---- control.c: the control socket's thread ---- */

struct ctl_request;
struct ctl_error;
struct json_object;

/* What the control thread serves (main.c fills it in with control_cmds.c's functions). */
struct control_env {
	/* Runs a parsed request: its result, or NULL with @err set. */
	struct json_object *(*run)(void *ctx, const struct ctl_request *req, struct ctl_error *err);
	/* The `stats` object (for GET /metrics); NULL on failure. */
	struct json_object *(*stats)(void *ctx);
	void *ctx;
};

int control_start(const struct control_env *env, const struct ktlsd_cfg *cfg, struct control **out);
void control_stop(struct control *ctl);
void control_unlink(const struct control *ctl);

/* ---- sdnotify.c: state changes for systemd (Type=notify) ---- */

void sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
