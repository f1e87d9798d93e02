// SPDX-License-Identifier: MIT
/*
 * metrics.c - the control API's `stats` object (docs/control-api.md) as Prometheus text
 * exposition format 0.0.4.
 *
 * One table lists the families and where each finds its numbers in the object. Anything
 * missing, null or of an unexpected type gives no sample; a family without samples is left
 * out altogether (no HELP/TYPE lines either), and a family whose names are taken already
 * (two keys that sanitize alike, a known histogram met again by the catch-all row, a
 * counter key "workers" beside the gauge ktlsd_workers) is not written, so the text always
 * parses, and the same way in every parser.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "metrics.h"
#include "metrics_text.h"
#include "stats.h"

#define METRICS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum metrics_shape {
	METRICS_SCALAR,	    /* the number at obj.key (or stats.key) */
	METRICS_MAP,	    /* per number in obj: {label="KEY"} (only keys[] if set) */
	METRICS_LISTENERS,  /* per listener L, per number K in L.obj: {listener="L",label="K"} */
	METRICS_COUNTERS,   /* per number K in obj: a counter family ktlsd_K_total */
	METRICS_HISTOGRAM,  /* the histogram obj.key */
	METRICS_HISTOGRAMS, /* per histogram K in obj: a family ktlsd_K */
	METRICS_CERTS,	    /* per object E of the array obj: {profile,file,subject} E.key */
};

struct metrics_family {
	enum metrics_shape shape;
	const char *name; /* NULL for the shapes that name families after keys */
	const char *type;
	const char *obj; /* sub-object of stats (METRICS_LISTENERS: of each listener) */
	const char *key;
	const char *label;
	const char *const *keys;
	const char *help;
};

static const char *const metrics_socket_kinds[] = { "tcp",	 "ulp_tls",   "tls_tx_sw",
						    "tls_rx_sw", "tls_tx_hw", "tls_rx_hw",
						    NULL };

/* In output order. The rows naming families after keys come last: a name clash goes to the others. */
static const struct metrics_family metrics_families[] = {
	{ METRICS_SCALAR, "ktlsd_uptime_seconds", "gauge", NULL, "uptime_seconds", NULL, NULL,
	  "Seconds since ktlsd started." },
	{ METRICS_SCALAR, "ktlsd_workers", "gauge", NULL, "workers", NULL, NULL,
	  "Worker threads." },
	{ METRICS_MAP, "ktlsd_connections_active", "gauge", "connections_active", NULL, "path",
	  NULL,
	  "Open client connections by where their records are done: handshake (handshake or hand-over running), ktls (kernel TLS TX and RX), userspace (OpenSSL in ktlsd)." },
	{ METRICS_LISTENERS, "ktlsd_handshakes_total", "counter", "handshakes", NULL, "type", NULL,
	  "TLS handshakes completed, by listener and type (full or resumed)." },
	{ METRICS_LISTENERS, "ktlsd_handshake_failures_total", "counter", "handshake_failures",
	  NULL, "reason", NULL, "TLS handshakes that failed, by listener and reason." },
	{ METRICS_LISTENERS, "ktlsd_handshake_timeouts_total", "counter", "handshake_timeouts",
	  NULL, "phase", NULL,
	  "Of the handshakes that failed by timeout, those cut in a phase with its own deadline: client_hello (client_hello_timeout)." },
	{ METRICS_LISTENERS, "ktlsd_resume_misses_total", "counter", "resume_misses", NULL, "cause",
	  NULL, "Offered sessions or tickets that did not resume, by listener and cause." },
	{ METRICS_LISTENERS, "ktlsd_early_data_total", "counter", "early_data", NULL, "result",
	  NULL,
	  "0-RTT outcomes by listener: accepted, rejected (the client resends the data) or replayed (a ticket's second use refused)." },
	{ METRICS_HISTOGRAM, "ktlsd_handshake_duration_seconds", "histogram", "histograms",
	  "handshake_duration_seconds", NULL, NULL,
	  "TLS handshake duration, from the first byte of the ClientHello to the handshake's end." },
	{ METRICS_HISTOGRAM, "ktlsd_backend_connect_seconds", "histogram", "histograms",
	  "backend_connect_seconds", NULL, NULL,
	  "Backend connect time, from connect() to the connection being established." },
	{ METRICS_SCALAR, "ktlsd_session_cache_entries", "gauge", "session_cache", "entries", NULL,
	  NULL, "Sessions in the shared session cache." },
	{ METRICS_SCALAR, "ktlsd_session_cache_capacity", "gauge", "session_cache", "capacity",
	  NULL, NULL, "Capacity of the shared session cache, in sessions." },
	{ METRICS_MAP, "ktlsd_kernel_tls_stat", "gauge", "kernel_tls_stat", NULL, "stat", NULL,
	  "The kernel's /proc/net/tls_stat as read now (TlsCurr* are current sockets, the others count since boot; the whole network namespace, not only ktlsd)." },
	{ METRICS_MAP, "ktlsd_sockets", "gauge", "sockets", NULL, "kind", metrics_socket_kinds,
	  "ktlsd's client sockets per sock_diag: all TCP, with the tls ULP, and with kernel TLS per direction in software or hardware." },
	{ METRICS_SCALAR, "ktlsd_socket_rtt_avg_microseconds", "gauge", "sockets", "rtt_avg_us",
	  NULL, NULL, "Average smoothed RTT of ktlsd's current client sockets." },
	{ METRICS_SCALAR, "ktlsd_socket_retransmits", "gauge", "sockets", "retransmits", NULL, NULL,
	  "TCP retransmits summed over ktlsd's current client sockets." },
	{ METRICS_SCALAR, "ktlsd_socket_bytes_acked", "gauge", "sockets", "bytes_acked", NULL, NULL,
	  "Bytes acked by the peers, summed over ktlsd's current client sockets." },
	{ METRICS_SCALAR, "ktlsd_socket_bytes_received", "gauge", "sockets", "bytes_received", NULL,
	  NULL, "Bytes received by TCP, summed over ktlsd's current client sockets." },
	{ METRICS_CERTS, "ktlsd_certificate_expiry_seconds", "gauge", "certificates", "not_after",
	  NULL, NULL,
	  "When each loaded certificate expires, as Unix time (minus time(): what is left), by profile, file and subject." },
	{ METRICS_COUNTERS, NULL, "counter", "counters", NULL, NULL, NULL, NULL },
	{ METRICS_HISTOGRAMS, NULL, "histogram", "histograms", NULL, NULL, NULL, NULL },
};

/*
 * @parent.@key if both are objects; NULL when missing, null or of another type. (Only objects
 * may be iterated: json-c asserts it.)
 */
static struct json_object *metrics_get_object(struct json_object *parent, const char *key)
{
	struct json_object *o = NULL;

	if (!json_object_is_type(parent, json_type_object) ||
	    !json_object_object_get_ex(parent, key, &o) ||
	    !json_object_is_type(o, json_type_object))
		return NULL;
	return o;
}

/* A sample per number in @o, labelled @f->label="KEY" (after listener="@listener" if set). */
static int metrics_emit_map(struct metrics_text *c, const struct metrics_family *f,
			    struct json_object *o, const char *listener)
{
	int n = 0;

	for (struct json_object_iterator it = json_object_iter_begin(o),
					 end = json_object_iter_end(o);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		bool wanted = !f->keys;

		for (int i = 0; f->keys && f->keys[i]; i++)
			wanted |= strcmp(f->keys[i], k) == 0;
		if (wanted) {
			const char *labels[] = { "listener", listener, f->label, k, NULL };

			n += metrics_sample(c, f->name, "", listener ? labels : labels + 2,
					    json_object_iter_peek_value(&it));
		}
	}
	return n;
}

/*
 * A histogram {"buckets": [[bound, cumulative count], ..., ["+Inf", count]], "sum", "count"}.
 * The +Inf bucket goes last whatever its place; if it or count is missing the other stands
 * in for it. Return: the samples written, 0 if there is no count at all (nothing valid).
 */
static int metrics_emit_histogram(struct metrics_text *c, const char *name, struct json_object *h)
{
	struct json_object *buckets = NULL, *sum = NULL, *count = NULL, *inf = NULL;
	const char *le[] = { "le", NULL, NULL };
	char bound[40];
	int n = 0;

	if (!json_object_is_type(h, json_type_object))
		return 0;
	json_object_object_get_ex(h, "sum", &sum);
	json_object_object_get_ex(h, "count", &count);
	json_object_object_get_ex(h, "buckets", &buckets);
	for (size_t i = 0;
	     json_object_is_type(buckets, json_type_array) && i < json_object_array_length(buckets);
	     i++) {
		struct json_object *pair = json_object_array_get_idx(buckets, i);

		if (!json_object_is_type(pair, json_type_array) ||
		    json_object_array_length(pair) != 2 ||
		    !metrics_format_bound(json_object_array_get_idx(pair, 0), bound, sizeof(bound)))
			continue;
		if (strcmp(bound, "+Inf") == 0) {
			inf = json_object_array_get_idx(pair, 1);
			continue;
		}
		le[1] = bound;
		n += metrics_sample(c, name, "_bucket", le, json_object_array_get_idx(pair, 1));
	}
	if (!metrics_is_number(inf))
		inf = count;
	if (!metrics_is_number(count))
		count = inf;
	if (!metrics_is_number(count))
		return 0;
	le[1] = "+Inf";
	n += metrics_sample(c, name, "_bucket", le, inf);
	n += metrics_sample(c, name, "_sum", NULL, sum);
	n += metrics_sample(c, name, "_count", NULL, count);
	return n;
}

/* HELP of counter @key: from stats.h's lists, else a generic sentence in @buf. */
static const char *metrics_counter_help(const char *key, char *buf, size_t size)
{
	for (int i = 0; i < STAT__COUNT; i++)
		if (strcmp(stats_name((enum stat_id)i), key) == 0)
			return stats_help((enum stat_id)i);
	for (int i = 0; i < LSTAT__COUNT; i++)
		if (strcmp(lstats_name((enum lstat_id)i), key) == 0)
			return lstats_help((enum lstat_id)i);
	snprintf(buf, size, "ktlsd counter %s (since start, summed over the workers).", key);
	return buf;
}

/* One family per key of @o (counters, histograms), named and described after the key. */
static void metrics_emit_per_key(struct metrics_text *c, const struct metrics_family *f,
				 struct json_object *o)
{
	bool counter = f->shape == METRICS_COUNTERS;

	for (struct json_object_iterator it = json_object_iter_begin(o),
					 end = json_object_iter_end(o);
	     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		char name[METRICS_NAME_MAX], help[METRICS_NAME_MAX + 80];
		const char *h = help;

		if (!*k || !metrics_make_name(name, sizeof(name), k, counter ? "_total" : ""))
			continue;
		if (counter)
			h = metrics_counter_help(k, help, sizeof(help));
		else
			snprintf(help, sizeof(help), "ktlsd histogram %s.", k);
		if (metrics_begin(c, name, f->type, h))
			metrics_end(c, counter ? metrics_sample(c, name, "", NULL, v)
					       : metrics_emit_histogram(c, name, v));
	}
}

/* A sample per certificate: its @f->key, labelled with its profile, file and subject. */
static int metrics_emit_certs(struct metrics_text *c, const struct metrics_family *f,
			      struct json_object *arr)
{
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *v = NULL;
		const char *labels[] = { "profile", NULL, "file", NULL, "subject", NULL, NULL };

		for (size_t k = 0; k < 3; k++) {
			struct json_object *l = NULL;

			if (!json_object_object_get_ex(e, labels[2 * k], &l) ||
			    !json_object_is_type(l, json_type_string))
				break;
			labels[2 * k + 1] = json_object_get_string(l);
		}
		if (labels[5] && json_object_object_get_ex(e, f->key, &v))
			n += metrics_sample(c, f->name, "", labels, v);
	}
	return n;
}

static void metrics_emit(struct metrics_text *c, const struct metrics_family *f,
			 struct json_object *stats)
{
	struct json_object *o =
		f->obj && f->shape != METRICS_LISTENERS ? metrics_get_object(stats, f->obj) : stats;
	struct json_object *v = NULL;
	int n = 0;

	if (f->shape == METRICS_CERTS) { /* an array, which metrics_get_object() refuses */
		if (json_object_object_get_ex(stats, f->obj, &v) &&
		    json_object_is_type(v, json_type_array) &&
		    metrics_begin(c, f->name, f->type, f->help))
			metrics_end(c, metrics_emit_certs(c, f, v));
		return;
	}

	if (!o)
		return;
	if (f->shape == METRICS_COUNTERS || f->shape == METRICS_HISTOGRAMS) {
		metrics_emit_per_key(c, f, o);
		return;
	}
	if (!metrics_begin(c, f->name, f->type, f->help))
		return;
	switch (f->shape) {
	case METRICS_SCALAR:
		if (json_object_object_get_ex(o, f->key, &v))
			n = metrics_sample(c, f->name, "", NULL, v);
		break;
	case METRICS_MAP:
		n = metrics_emit_map(c, f, o, NULL);
		break;
	case METRICS_LISTENERS: {
		struct json_object *ls = metrics_get_object(stats, "listeners");

		if (!ls)
			break;
		for (struct json_object_iterator it = json_object_iter_begin(ls),
						 end = json_object_iter_end(ls);
		     !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			struct json_object *sub =
				metrics_get_object(json_object_iter_peek_value(&it), f->obj);

			if (sub)
				n += metrics_emit_map(c, f, sub, json_object_iter_peek_name(&it));
		}
		break;
	}
	case METRICS_HISTOGRAM:
		if (json_object_object_get_ex(o, f->key, &v))
			n = metrics_emit_histogram(c, f->name, v);
		break;
	default:
		break;
	}
	metrics_end(c, n);
}

/**
 * metrics_format() - the control API's `stats` object as Prometheus text (format 0.0.4).
 * @stats:   the object the `stats` command replies with (docs/control-api.md); read only
 * @out:     on success a malloc'd NUL-terminated text the caller frees; NULL on failure
 * @out_len: on success its length without the NUL; 0 on failure
 *
 * Every family gets its HELP and TYPE lines once, followed by all its samples. A part of
 * @stats that is missing, null or of another type than documented gives no samples (an
 * empty object gives an empty text); it is never an error.
 *
 * Return: 0, -EINVAL if @out or @out_len is NULL or @stats is not an object, -ENOMEM.
 */
int metrics_format(struct json_object *stats, char **out, size_t *out_len)
{
	struct metrics_text c;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!out || !out_len || !json_object_is_type(stats, json_type_object))
		return -EINVAL;
	metrics_start(&c);
	for (size_t i = 0; i < METRICS_ARRAY_SIZE(metrics_families); i++)
		metrics_emit(&c, &metrics_families[i], stats);
	return metrics_finish(&c, out, out_len);
}
