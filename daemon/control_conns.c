// SPDX-License-Identifier: MIT
/*
 * control_conns.c - the control commands about live connections: `conns` (each worker
 * lists its own, with the kernel's sock_diag view of each socket added) and `kill`.
 *
 * Runs on the control thread; a connection is only ever read or closed by its own worker,
 * which answers through worker_call() within CTL_WORKER_TIMEOUT_MS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "control_cmds.h"
#include "diag.h"
#include "runtime.h"

#define CTL_WORKER_TIMEOUT_MS 3000

/* Every live connection, from every worker; *n set. Caller frees. NULL with @err set. */
struct conn_info *control_collect(struct ktlsd *k, size_t *n, struct ctl_error *err)
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

struct json_object *control_conns(struct ktlsd *k, struct json_object *args, struct ctl_error *err)
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
	ci = control_collect(k, &n, err);
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

struct json_object *control_kill(struct ktlsd *k, struct json_object *args, struct ctl_error *err)
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
