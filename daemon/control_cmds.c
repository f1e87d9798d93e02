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
#include "diag.h"
#include "ktls_probe.h"
#include "runtime.h"
#include "metrics.h"
#include "pool.h"
#include "stats_json.h"
#include "tickets.h"

#define CTL_WORKER_TIMEOUT_MS 3000

/* A failed command: its error code and message go into the reply. */
static struct json_object *cmd_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static struct json_object *cmd_fail(struct ctl_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return NULL;
}

static const char *arg_str(struct json_object *args, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(args, name, &v) ? json_object_get_string(v) : NULL;
}

static struct json_object *json_str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

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
	json_object_object_add(o, "listeners", json_object_new_uint64(s->cfg->n_listeners));
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

/* Every live connection, from every worker; *n set. Caller frees. NULL with @err set. */
static struct conn_info *cmd_collect(struct ktlsd *k, size_t *n, struct ctl_error *err)
{
	struct conn_info *all = NULL;

	*n = 0;
	for (unsigned w = 0; w < k->n_workers; w++) {
		struct worker_req *req = calloc(1, sizeof(*req));
		struct conn_info *grown;
		int ret;

		if (!req)
			goto nomem;
		req->kind = WREQ_CONNS;
		ret = worker_call(&k->workers[w], req, CTL_WORKER_TIMEOUT_MS);
		if (ret == -ESRCH) {
			free(req);
			continue; /* a worker that finished draining has no connections */
		}
		if (ret < 0) { /* -ETIMEDOUT: the worker owns req now */
			free(all);
			cmd_fail(err, KTLSD_CTL_E_FAILED, "worker %u did not answer: %s", w,
				 strerror(-ret));
			return NULL;
		}
		if (req->result < 0) {
			worker_req_free(req);
			goto nomem;
		}
		grown = realloc(all, (*n + req->n_infos + 1) * sizeof(*all));
		if (!grown) {
			worker_req_free(req);
			goto nomem;
		}
		all = grown;
		memcpy(all + *n, req->infos, req->n_infos * sizeof(*all));
		*n += req->n_infos;
		worker_req_free(req);
	}
	if (!all)
		all = calloc(1, sizeof(*all));
	if (all)
		return all;
nomem:
	free(all);
	cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
	return NULL;
}

struct kernel_view {
	const struct conn_info *ci;
	size_t n;
	struct json_object **kernel; /* [n], filled by inode */
};

static int cmd_conns_diag_cb(const struct diag_sock *d, void *arg)
{
	struct kernel_view *kv = arg;
	struct json_object *o;

	for (size_t i = 0; i < kv->n; i++) {
		if (kv->ci[i].inode != d->inode || kv->kernel[i])
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "ulp", json_object_new_string(d->ulp));
		if (d->tls) {
			json_object_object_add(
				o, "tls_version",
				json_object_new_string(diag_tls_version_name(d->tls_version)));
			json_object_object_add(
				o, "tls_cipher",
				json_object_new_string(diag_tls_cipher_name(d->tls_cipher)));
			json_object_object_add(
				o, "txconf", json_object_new_string(diag_tls_conf_name(d->txconf)));
			json_object_object_add(
				o, "rxconf", json_object_new_string(diag_tls_conf_name(d->rxconf)));
		}
		if (d->has_tcp_info) {
			json_object_object_add(o, "rtt_us", json_object_new_uint64(d->rtt_us));
			json_object_object_add(o, "retransmits",
					       json_object_new_uint64(d->total_retrans));
			json_object_object_add(o, "bytes_acked",
					       json_object_new_uint64(d->bytes_acked));
			json_object_object_add(o, "bytes_received",
					       json_object_new_uint64(d->bytes_received));
		}
		kv->kernel[i] = o;
		break;
	}
	return 0;
}

static bool cmd_conn_matches(const struct conn_info *ci, struct json_object *args)
{
	const char *listener = arg_str(args, "listener"), *sni = arg_str(args, "sni");
	const char *path = arg_str(args, "path"), *peer = arg_str(args, "peer");
	struct json_object *v;

	if (listener && strcmp(listener, ci->listener) != 0)
		return false;
	if (sni && strcmp(sni, ci->sni) != 0)
		return false;
	if (path && strcmp(path, stats_gauge_name((enum path_gauge)ci->path)) != 0)
		return false;
	if (peer && !strstr(ci->peer, peer))
		return false;
	if (json_object_object_get_ex(args, "min_age", &v) &&
	    (double)ci->age_ms < json_object_get_double(v) * 1000.0)
		return false;
	return true;
}

static struct json_object *cmd_conn_json(const struct conn_info *ci, struct json_object *kernel)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_uint64(ci->id));
	json_object_object_add(o, "worker", json_object_new_int((int)ci->worker));
	json_object_object_add(o, "listener", json_object_new_string(ci->listener));
	json_object_object_add(o, "peer", json_object_new_string(ci->peer));
	json_object_object_add(o, "sni", json_str_or_null(ci->sni));
	json_object_object_add(o, "alpn", json_str_or_null(ci->alpn));
	json_object_object_add(o, "version", json_str_or_null(ci->version));
	json_object_object_add(o, "cipher", json_str_or_null(ci->cipher));
	json_object_object_add(o, "resumed", json_object_new_boolean(ci->resumed));
	json_object_object_add(
		o, "path",
		json_object_new_string(ci->path >= 0 ? stats_gauge_name(ci->path) : "closing"));
	json_object_object_add(o, "ktls_tx", json_object_new_boolean(ci->ktls & KTLS_F_TX));
	json_object_object_add(o, "ktls_rx", json_object_new_boolean(ci->ktls & KTLS_F_RX));
	json_object_object_add(o, "state", json_object_new_string(ci->state));
	json_object_object_add(o, "bytes_in", json_object_new_uint64(ci->bytes_in));
	json_object_object_add(o, "bytes_out", json_object_new_uint64(ci->bytes_out));
	json_object_object_add(o, "age_seconds", json_object_new_double((double)ci->age_ms / 1e3));
	json_object_object_add(o, "kernel", kernel);
	return o;
}

static struct json_object *cmd_conns(struct ktlsd *k, struct json_object *args,
				     struct ctl_error *err)
{
	struct json_object *limit_v, *o, *arr;
	struct kernel_view kv = { 0 };
	int64_t limit = 10000;
	size_t n, shown = 0, total = 0;
	struct conn_info *ci;
	bool diag_ok;

	if (json_object_object_get_ex(args, "limit", &limit_v))
		limit = json_object_get_int64(limit_v);
	if (limit < 0)
		return cmd_fail(err, KTLSD_CTL_E_BAD_REQUEST, "conns: limit must be >= 0");
	if (arg_str(args, "path") && strcmp(arg_str(args, "path"), "handshake") != 0 &&
	    strcmp(arg_str(args, "path"), "ktls") != 0 &&
	    strcmp(arg_str(args, "path"), "userspace") != 0)
		return cmd_fail(err, KTLSD_CTL_E_BAD_REQUEST,
				"conns: path must be \"handshake\", \"ktls\" or \"userspace\"");
	ci = cmd_collect(k, &n, err);
	if (!ci)
		return NULL;
	kv.ci = ci;
	kv.n = n;
	kv.kernel = calloc(n + 1, sizeof(struct json_object *));
	if (!kv.kernel) {
		free(ci);
		return cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
	}
	diag_ok = !n || diag_dump_tcp(0, cmd_conns_diag_cb, &kv) >= 0;
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		if (!cmd_conn_matches(&ci[i], args))
			continue;
		total++;
		if ((int64_t)shown >= limit)
			continue;
		json_object_array_add(arr, cmd_conn_json(&ci[i], diag_ok ? kv.kernel[i] : NULL));
		kv.kernel[i] = NULL;
		shown++;
	}
	for (size_t i = 0; i < n; i++)
		json_object_put(kv.kernel[i]);
	free(kv.kernel);
	free(ci);
	json_object_object_add(o, "conns", arr);
	json_object_object_add(o, "total", json_object_new_uint64(total));
	json_object_object_add(o, "truncated", json_object_new_boolean(total > shown));
	return o;
}

static struct json_object *cmd_kill(struct ktlsd *k, struct json_object *args,
				    struct ctl_error *err)
{
	struct json_object *v, *o;
	uint64_t id;

	json_object_object_get_ex(args, "id", &v);
	id = json_object_get_uint64(v); /* ids use all 64 bits */
	for (unsigned w = 0; w < k->n_workers; w++) {
		struct worker_req *req = calloc(1, sizeof(*req));
		int ret, result;

		if (!req)
			return cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
		req->kind = WREQ_KILL;
		req->id = id;
		ret = worker_call(&k->workers[w], req, CTL_WORKER_TIMEOUT_MS);
		if (ret == -ESRCH) {
			free(req);
			continue;
		}
		if (ret < 0)
			return cmd_fail(err, KTLSD_CTL_E_FAILED, "worker %u did not answer", w);
		result = req->result;
		worker_req_free(req);
		if (result == 0) {
			o = json_object_new_object();
			json_object_object_add(o, "killed", json_object_new_uint64(id));
			return o;
		}
	}
	return cmd_fail(err, KTLSD_CTL_E_NOT_FOUND, "no connection %llu", (unsigned long long)id);
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
	struct conn_info *ci = cmd_collect(k, &n, err);
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
				       json_object_new_string(l->runtime ? "runtime" : "config"));
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
	struct json_object *stats = stats_json_build(k->workers, k->n_workers, k->started_ms,
						     s->cfg),
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
	struct json_object *o = stats_json_build(k->workers, k->n_workers, k->started_ms, s->cfg);

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
	char msg[1024] = "", name[128];
	int ret;

	switch (req->cmd) {
	case CTL_STATUS:
		o = cmd_status(k, s);
		break;
	case CTL_STATS:
		o = stats_json_build(k->workers, k->n_workers, k->started_ms, s->cfg);
		if (!o)
			cmd_fail(err, KTLSD_CTL_E_FAILED, "out of memory");
		break;
	case CTL_METRICS:
		o = cmd_metrics(k, s, err);
		break;
	case CTL_CONNS:
		o = cmd_conns(k, req->args, err);
		break;
	case CTL_KILL:
		o = cmd_kill(k, req->args, err);
		break;
	case CTL_RELOAD:
		ret = ktlsd_reload(k, msg, sizeof(msg));
		if (ret < 0)
			return snapshot_put(s), cmd_change_failed(err, ret, msg);
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
		ret = ktlsd_listener_add(k, arg_str(req->args, "config"), name, sizeof(name), msg,
					 sizeof(msg));
		if (ret < 0) {
			cmd_change_failed(err, ret, msg);
			break;
		}
		o = json_object_new_object();
		json_object_object_add(o, "added", json_object_new_string(name));
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
