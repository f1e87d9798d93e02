// SPDX-License-Identifier: MIT
/*
 * control_cmds.c - what each control command does (docs/control-api.md).
 *
 * Runs on the control thread. Configuration changes go through main.c's functions, which
 * take the daemon's lock; live connections are only ever read or closed by their own
 * worker (worker_call()); counters are read as they are, without stopping anyone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_cmds.h"
#include "ktls_probe.h"
#include "runtime.h"
#include "metrics.h"
#include "pool.h"
#include "stats_json.h"
#include "tickets.h"

static struct json_object *cmd_kernel_probe(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_object *o;

	if (!f)
		return NULL;
	ktls_probe_format_json(ktls_kernel_probe(), f);
	fclose(f);
	o = json_tokener_parse(buf);
	free(buf);
	return o;
}

static struct json_object *cmd_status(struct ktlsd *k, const struct snapshot *s)
{
	struct json_object *o = json_object_new_object(), *kt = json_object_new_object();
	const struct ktls_probe *p = ktls_kernel_probe();
	uint64_t conns = 0;
	bool draining;

	for (unsigned w = 0; w < k->n_workers; w++)
		for (int g = 0; g < GAUGE__COUNT; g++)
			conns += (uint64_t)atomic_load_explicit(&k->workers[w].stats.gauge[g],
								memory_order_relaxed);
	pthread_mutex_lock(&k->lock);
	draining = k->draining || k->stopping;
	pthread_mutex_unlock(&k->lock);
	json_object_object_add(o, "version", json_object_new_string(KTLSD_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(
		o, "uptime_seconds",
		json_object_new_double((double)(now_monotonic_ms() - k->started_ms) / 1000.0));
	json_object_object_add(o, "workers", json_object_new_int((int)k->n_workers));
	json_object_object_add(o, "config", json_object_new_string(k->config_path));
	json_object_object_add(o, "generation", json_object_new_uint64(s->generation));
	json_object_object_add(o, "draining", json_object_new_boolean(draining));
	json_object_object_add(o, "listeners",
			       json_object_new_uint64(config_n_tcp_listeners(s->cfg)));
	json_object_object_add(o, "connections", json_object_new_uint64(conns));
	json_object_object_add(kt, "available", json_object_new_boolean(ktls_kernel_usable()));
	json_object_object_add(kt, "kernel", json_object_new_string(p->kernel));
	json_object_object_add(
		kt, "reason",
		ktls_kernel_usable() ? NULL
				     : json_object_new_string(
					       p->ulp_errno == ENOENT
						       ? "the kernel has no TLS module (CONFIG_TLS)"
						       : strerror(p->ulp_errno)));
	json_object_object_add(o, "ktls", kt);
	return o;
}

static const char *const ticket_modes[] = {
	[CFG_TICKETS_STATELESS] = "stateless",
	[CFG_TICKETS_STATEFUL] = "stateful",
	[CFG_TICKETS_OFF] = "off",
};

static struct json_object *cmd_tickets_show(const struct snapshot *s, struct json_object *args,
					    struct ctl_error *err)
{
	const char *want = arg_str(args, "profile");
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct ticket_key_info keys[CFG_MAX_TICKET_KEYS_KEPT + 2];

	for (size_t i = 0; i < s->cfg->n_profiles; i++) {
		const struct cfg_profile *p = &s->cfg->profiles[i];
		struct json_object *po, *ka;
		int n;

		if (want && strcmp(want, p->name) != 0)
			continue;
		po = json_object_new_object();
		ka = json_object_new_array();
		json_object_object_add(po, "name", json_object_new_string(p->name));
		json_object_object_add(po, "tickets",
				       json_object_new_string(ticket_modes[p->tickets]));
		json_object_object_add(
			po, "source",
			json_object_new_string(p->n_ticket_key_files ? "files" : "memory"));
		json_object_object_add(po, "rotation_seconds",
				       p->n_ticket_key_files
					       ? NULL
					       : json_object_new_uint64(p->ticket_rotation_s));
		n = tickets_show(p->name, keys, sizeof(keys) / sizeof(keys[0]));
		for (int j = 0; j < n; j++) {
			struct json_object *ko = json_object_new_object();

			json_object_object_add(ko, "id", json_object_new_string(keys[j].id));
			json_object_object_add(ko, "age_seconds",
					       json_object_new_double((double)keys[j].age_s));
			json_object_object_add(ko, "encrypts",
					       json_object_new_boolean(keys[j].encrypts));
			json_object_array_add(ka, ko);
		}
		json_object_object_add(po, "keys", ka);
		json_object_array_add(arr, po);
	}
	if (want && !json_object_array_length(arr)) {
		json_object_put(arr);
		json_object_put(o);
		return cmd_fail(err, KTLSD_CTL_E_NOT_FOUND, "no profile \"%s\"", want);
	}
	json_object_object_add(o, "profiles", arr);
	return o;
}

static struct json_object *cmd_tickets_rotate(const struct snapshot *s, struct json_object *args,
					      struct ctl_error *err)
{
	const char *want = arg_str(args, "profile");
	struct json_object *o, *arr = json_object_new_array();
	struct ticket_key_info key;
	bool found = false;

	for (size_t i = 0; i < s->cfg->n_profiles; i++) {
		const struct cfg_profile *p = &s->cfg->profiles[i];
		struct json_object *ro;

		if (want && strcmp(want, p->name) != 0)
			continue;
		found = true;
		if (p->n_ticket_key_files || p->tickets == CFG_TICKETS_OFF) {
			if (!want)
				continue;
			json_object_put(arr);
			return cmd_fail(err, KTLSD_CTL_E_CONFLICT,
					p->n_ticket_key_files
						? "profile \"%s\" reads its ticket keys from "
						  "ticket_key_files: rotate the files"
						: "profile \"%s\" issues no tickets",
					p->name);
		}
		if (tickets_rotate(p->name) == 0 || tickets_show(p->name, &key, 1) < 1)
			continue;
		ro = json_object_new_object();
		json_object_object_add(ro, "name", json_object_new_string(p->name));
		json_object_object_add(ro, "id", json_object_new_string(key.id));
		json_object_array_add(arr, ro);
		log_info("profile \"%s\": ticket key %s now encrypts (rotated by the control API)",
			 p->name, key.id);
	}
	if (want && !found) {
		json_object_put(arr);
		return cmd_fail(err, KTLSD_CTL_E_NOT_FOUND, "no profile \"%s\"", want);
	}
	o = json_object_new_object();
	json_object_object_add(o, "rotated", arr);
	return o;
}

static struct json_object *cmd_listeners_list(struct ktlsd *k, const struct snapshot *s,
					      struct ctl_error *err)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t n = 0;
	struct conn_info *ci = control_collect(k, &n, err);
	bool accepting;

	if (!ci) {
		json_object_put(arr);
		json_object_put(o);
		return NULL;
	}
	pthread_mutex_lock(&k->lock);
	accepting = !k->draining && !k->stopping;
	pthread_mutex_unlock(&k->lock);
	for (size_t i = 0; i < s->cfg->n_listeners; i++) {
		const struct cfg_listener *l = &s->cfg->listeners[i];
		struct json_object *lo = json_object_new_object(), *pa = json_object_new_array();
		uint64_t conns = 0;

		for (size_t j = 0; j < n; j++)
			conns += !strcmp(ci[j].listener, l->name);
		for (size_t j = 0; j < l->n_profiles; j++)
			json_object_array_add(
				pa, json_object_new_string(s->cfg->profiles[l->profiles[j]].name));
		json_object_object_add(lo, "name", json_object_new_string(l->name));
		json_object_object_add(lo, "listen", json_object_new_string(l->listen_str));
		json_object_object_add(lo, "backend", json_object_new_string(l->backend.str));
		json_object_object_add(lo, "profiles", pa);
		json_object_object_add(lo, "connections", json_object_new_uint64(conns));
		json_object_object_add(lo, "accepting", json_object_new_boolean(accepting));
		json_object_object_add(lo, "origin",
				       json_object_new_string(l->handoff   ? "handoff"
							      : l->runtime ? "runtime"
									   : "config"));
		json_object_array_add(arr, lo);
	}
	free(ci);
	json_object_object_add(o, "listeners", arr);
	return o;
}

/* Maps main.c's -errno to the protocol's codes. */
static struct json_object *cmd_change_failed(struct ctl_error *err, int ret, const char *msg)
{
	const char *code = ret == -EEXIST || ret == -EBUSY ? KTLSD_CTL_E_CONFLICT
			   : ret == -ENOENT		   ? KTLSD_CTL_E_NOT_FOUND
							   : KTLSD_CTL_E_FAILED;

	return cmd_fail(err, code, "%s", msg);
}

static struct json_object *cmd_metrics(struct ktlsd *k, const struct snapshot *s,
				       struct ctl_error *err)
{
	struct json_object *stats = stats_json_build(k->workers, k->n_workers, k->started_ms, s),
			   *o;
	char *text = NULL;
	size_t len = 0;

	if (!stats || metrics_format(stats, &text, &len) < 0) {
		json_object_put(stats);
		return cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
	}
	json_object_put(stats);
	o = json_object_new_object();
	json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
	free(text);
	return o;
}

/** control_stats() - the `stats` object for @k's current configuration; caller puts it. */
struct json_object *control_stats(struct ktlsd *k)
{
	struct snapshot *s = ktlsd_snapshot(k);
	struct json_object *o = stats_json_build(k->workers, k->n_workers, k->started_ms, s);

	snapshot_put(s);
	return o;
}

/**
 * control_run() - execute one checked request.
 * @k:   the daemon
 * @req: the request (ctl_parse() accepted it)
 * @err: on failure the error code and message
 * Return: the result object (caller puts it), or NULL with @err set.
 */
struct json_object *control_run(struct ktlsd *k, const struct ctl_request *req,
				struct ctl_error *err)
{
	struct snapshot *s = ktlsd_snapshot(k);
	struct json_object *o = NULL;
	struct listener_added added;
	char msg[1024] = "";
	int ret;

	switch (req->cmd) {
	case CTL_STATUS:
		o = cmd_status(k, s);
		break;
	case CTL_STATS:
		o = stats_json_build(k->workers, k->n_workers, k->started_ms, s);
		if (!o)
			cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
		break;
	case CTL_METRICS:
		o = cmd_metrics(k, s, err);
		break;
	case CTL_CONNS:
		o = control_conns(k, req->args, err);
		break;
	case CTL_KILL:
		o = control_kill(k, req->args, err);
		break;
	case CTL_RELOAD:
		ret = ktlsd_reload(k, msg, sizeof(msg));
		if (ret < 0) {
			cmd_change_failed(err, ret, msg);
			break;
		}
		o = json_object_new_object();
		snapshot_put(s);
		s = ktlsd_snapshot(k);
		json_object_object_add(o, "generation", json_object_new_uint64(s->generation));
		break;
	case CTL_TICKETS_SHOW:
		o = cmd_tickets_show(s, req->args, err);
		break;
	case CTL_TICKETS_ROTATE:
		o = cmd_tickets_rotate(s, req->args, err);
		break;
	case CTL_SESSIONS_FLUSH:
		o = json_object_new_object();
		json_object_object_add(o, "flushed", json_object_new_uint64(sesscache_flush()));
		json_object_object_add(o, "client_flushed",
				       json_object_new_uint64(clientcache_flush()));
		log_info("session cache flushed by the control API");
		break;
	case CTL_LISTENERS_LIST:
		o = cmd_listeners_list(k, s, err);
		break;
	case CTL_LISTENERS_ADD:
		ret = ktlsd_listener_add(k, arg_str(req->args, "config"), &added, msg, sizeof(msg));
		if (ret < 0) {
			cmd_change_failed(err, ret, msg);
			break;
		}
		o = json_object_new_object();
		json_object_object_add(o, "added", json_object_new_string(added.name));
		json_object_object_add(o, "listen", json_object_new_string(added.listen));
		break;
	case CTL_LISTENERS_REMOVE:
		ret = ktlsd_listener_remove(k, arg_str(req->args, "name"), msg, sizeof(msg));
		if (ret < 0) {
			cmd_change_failed(err, ret, msg);
			break;
		}
		o = json_object_new_object();
		json_object_object_add(o, "removed",
				       json_object_new_string(arg_str(req->args, "name")));
		break;
	case CTL_DRAIN:
		ktlsd_drain(k);
		o = cmd_status(k, s);
		break;
	case CTL_KERNEL:
		o = cmd_kernel_probe();
		if (!o)
			cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
		break;
	case CTL_CERTS:
		o = json_object_new_object();
		json_object_object_add(o, "certificates", certs_json(s));
		break;
	case CTL_POOLS:
		o = json_object_new_object();
		json_object_object_add(o, "pools",
				       k->handoff ? pool_json(handoff_pool(k->handoff))
						  : json_object_new_array());
		break;
	default:
		cmd_fail(err, KTLSD_CTL_E_UNKNOWN, "unknown command");
		break;
	}
	snapshot_put(s);
	return o;
}
