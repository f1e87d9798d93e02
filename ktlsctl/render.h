/* SPDX-License-Identifier: MIT */
/*
 * render.h - the human-readable output of each command, from the reply's "result"
 * object. Renderers are lenient: a missing or null value is shown as "-".
 */
#ifndef KTLSCTL_RENDER_H
#define KTLSCTL_RENDER_H

#include <json-c/json.h>

typedef void render_fn(struct json_object *result);

/* render.c */
render_fn render_status, render_metrics, render_kill, render_reload, render_drain, render_flush;
/* render_kernel.c */
render_fn render_kernel;
/* render_pools.c */
render_fn render_pools;
/* render_certs.c */
render_fn render_certs;
/* render_stats.c */
render_fn render_stats;
/* render_conns.c */
render_fn render_conns;
/* render_tickets.c */
render_fn render_tickets, render_rotate;
/* render_listeners.c */
render_fn render_listeners, render_listener_add, render_listener_remove;

#endif /* KTLSCTL_RENDER_H */
