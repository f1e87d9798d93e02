/* SPDX-License-Identifier: MIT */
/*
 * runtime.h - the daemon's run-time state (main.c, runtime.c), shared with the control
 * commands (control_cmds.c).
 */
#ifndef KTLSD_RUNTIME_H
#define KTLSD_RUNTIME_H

#include "services.h"

/* ---- main.c + runtime.c: the daemon's run-time state, shared with the control API ---- */

struct ktlsd {
	const char *config_path;
	bool foreground;
	bool verbose;
	/* Serialises every change (reload, listener changes, drain) and guards the fields
	 * below; the signal loop and the control thread both take it. */
	pthread_mutex_t lock;
	struct snapshot *snap; /* the current snapshot (a reference of its own) */
	uint64_t generation;
	struct worker *workers;
	unsigned n_workers;
	struct lslots lslots;
	/* Listener changes made through the control API, replayed over the file on reloads. */
	char **ov_add; /* listener groups as text */
	char **ov_add_names;
	size_t n_ov_add;
	char **ov_remove;
	size_t n_ov_remove;
	bool draining; /* `drain`: listeners closed, still serving open connections */
	bool stopping; /* SIGTERM: draining, then exit */
	uint64_t started_ms;
	struct control *control;
	struct handoff *handoff;
};

/* runtime.c. Each returns 0 or -errno with a message in @err; they take k->lock. */
void ktlsd_log_config_warnings(const struct ktlsd_cfg *cfg);
int ktlsd_apply(struct ktlsd *k, struct ktlsd_cfg *cfg, char *err, size_t errlen);
void ktlsd_state_cleanup(struct ktlsd *k);
int ktlsd_reload(struct ktlsd *k, char *err, size_t errlen);
/* What ktlsd_listener_add() added (truncated to fit). */
struct listener_added {
	char name[128];
	char listen[128];
};

/* -EEXIST: name or address in use; -EBUSY: draining. */
int ktlsd_listener_add(struct ktlsd *k, const char *text, struct listener_added *out, char *err,
		       size_t errlen);
/* -ENOENT: no such listener; -EPERM: one of the handoff socket's. */
int ktlsd_listener_remove(struct ktlsd *k, const char *name, char *err, size_t errlen);
void ktlsd_drain(struct ktlsd *k);
/* The current snapshot, with a reference for the caller (snapshot_put() it). */
struct snapshot *ktlsd_snapshot(struct ktlsd *k);

/* privdrop.c */
int privdrop(const struct ktlsd_cfg *cfg);
/* seccomp.c */
int seccomp_worker_apply(unsigned worker_idx);

#endif
