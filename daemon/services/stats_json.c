// SPDX-License-Identifier: MIT
/*
 * stats_json.c - the `stats` reply of the control API: ktlsd's counters summed over the
 * workers, the kernel's /proc/net/tls_stat, and sock_diag's view of ktlsd's client sockets
 * (docs/control-api.md). The Prometheus text (metrics.c) is made from the same object.
 */
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "diag.h"
#include "ktls_probe.h"
#include "services.h"
#include "stats_json.h"

/* Where each per-listener counter goes in the reply: "group": { "key": n }. */
static const struct {
	enum lstat_id id;
	const char *group, *key;
} lstat_layout[] = {
	{ LSTAT_HS_FULL, "handshakes", "full" },
	{ LSTAT_HS_RESUMED, "handshakes", "resumed" },
	{ LSTAT_FAIL_TIMEOUT, "handshake_failures", "timeout" },
	{ LSTAT_TIMEOUT_HELLO, "handshake_timeouts", "client_hello" },
	{ LSTAT_FAIL_CLOSED, "handshake_failures", "closed" },
	{ LSTAT_FAIL_ALERT, "handshake_failures", "alert" },
	{ LSTAT_FAIL_NO_SHARED, "handshake_failures", "no_shared_cipher" },
	{ LSTAT_FAIL_PROTOCOL, "handshake_failures", "protocol" },
	{ LSTAT_FAIL_SNI, "handshake_failures", "sni_refused" },
	{ LSTAT_FAIL_VERIFY, "handshake_failures", "verify" },
	{ LSTAT_FAIL_BACKEND, "handshake_failures", "backend_refused" },
	{ LSTAT_FAIL_INTERNAL, "handshake_failures", "internal" },
	{ LSTAT_MISS_UNKNOWN_KEY, "resume_misses", "unknown_key" },
	{ LSTAT_MISS_BAD_TICKET, "resume_misses", "bad_ticket" },
	{ LSTAT_MISS_CACHE, "resume_misses", "cache" },
	{ LSTAT_MISS_EXPIRED, "resume_misses", "expired" },
	{ LSTAT_MISS_MISMATCH, "resume_misses", "mismatch" },
	{ LSTAT_EARLY_ACCEPTED, "early_data", "accepted" },
	{ LSTAT_EARLY_REJECTED, "early_data", "rejected" },
	{ LSTAT_EARLY_REPLAYED, "early_data", "replayed" },
};
_Static_assert(sizeof(lstat_layout) / sizeof(lstat_layout[0]) == LSTAT__COUNT,
	       "every per-listener counter has its place in the stats reply");

static struct json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/** json_add_u64s() - add each of @f's @n counters to @o under its key. */
void json_add_u64s(struct json_object *o, const struct json_u64_field *f, size_t n)
{
	for (size_t i = 0; o && i < n; i++)
		json_object_object_add(o, f[i].key, json_u64(f[i].v));
}

static struct json_object *stats_json_listener(const struct listener_stats *ls)
{
	uint64_t sum[LSTAT__COUNT] = { 0 };
	struct json_object *o = json_object_new_object(), *g;

	lstats_sum(ls, sum);
	for (size_t i = 0; o && i < LSTAT__COUNT; i++) {
		if (!json_object_object_get_ex(o, lstat_layout[i].group, &g)) {
			g = json_object_new_object();
			json_object_object_add(o, lstat_layout[i].group, g);
		}
		json_object_object_add(g, lstat_layout[i].key, json_u64(sum[lstat_layout[i].id]));
	}
	return o;
}

static struct json_object *stats_json_hist(const struct worker *workers, unsigned n_workers,
					   enum hist_id h)
{
	uint64_t bucket[HIST_NBOUNDS + 1] = { 0 }, sum_ns = 0, count = 0, cum = 0;
	struct json_object *o = json_object_new_object(), *b = json_object_new_array();

	for (unsigned w = 0; w < n_workers; w++)
		stats_hist_accumulate(&workers[w].stats, h, bucket, &sum_ns, &count);
	for (unsigned i = 0; i <= HIST_NBOUNDS; i++) {
		struct json_object *pair = json_object_new_array();

		cum += bucket[i];
		json_object_array_add(pair, i < HIST_NBOUNDS
						    ? json_object_new_double(stats_hist_bound(i))
						    : json_object_new_string("+Inf"));
		json_object_array_add(pair, json_u64(cum));
		json_object_array_add(b, pair);
	}
	json_object_object_add(o, "buckets", b);
	json_object_object_add(o, "sum", json_object_new_double((double)sum_ns / 1e9));
	json_object_object_add(o, "count", json_u64(count));
	return o;
}

static struct json_object *stats_json_tls_stat(void)
{
	struct ktls_stat_entry ent[64];
	struct json_object *o;
	int n = ktls_probe_read_stat(NULL, ent, 64);

	if (n < 0)
		return NULL; /* no kTLS in this kernel: JSON null */
	o = json_object_new_object();
	for (int i = 0; i < n; i++)
		json_object_object_add(o, ent[i].name, json_u64(ent[i].value));
	return o;
}

struct sock_sum {
	const uint16_t *ports;
	size_t n_ports;
	uint64_t tcp, ulp_tls, tx_sw, rx_sw, tx_hw, rx_hw, rtt_sum, rtt_n, retrans, acked, received;
};

/* ktlsd's accepted sockets: local port a listener's, peer port not 0 (not listening). */
static int stats_json_sock_cb(const struct diag_sock *d, void *arg)
{
	struct sock_sum *s = arg;
	uint16_t lport = sockaddr_port(&d->local);
	bool ours = false;

	for (size_t i = 0; i < s->n_ports; i++)
		ours |= s->ports[i] == lport;
	if (!ours || !sockaddr_port(&d->peer))
		return 0;
	s->tcp++;
	if (d->tls) {
		s->ulp_tls++;
		s->tx_sw += d->txconf == TLS_CONF_SW;
		s->rx_sw += d->rxconf == TLS_CONF_SW;
		s->tx_hw += d->txconf == TLS_CONF_HW || d->txconf == TLS_CONF_HW_RECORD;
		s->rx_hw += d->rxconf == TLS_CONF_HW || d->rxconf == TLS_CONF_HW_RECORD;
	}
	if (d->has_tcp_info) {
		s->rtt_sum += d->rtt_us;
		s->rtt_n++;
		s->retrans += d->total_retrans;
		s->acked += d->bytes_acked;
		s->received += d->bytes_received;
	}
	return 0;
}

/* The TCP ports ktlsd listens on (without duplicates); returns how many. */
static size_t stats_json_listener_ports(const struct ktlsd_cfg *cfg, uint16_t *ports, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listeners && n < max; i++) {
		uint16_t p = sockaddr_port(&cfg->listeners[i].addr);
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= ports[j] == p;
		if (!dup && !cfg->listeners[i].handoff &&
		    cfg->listeners[i].addr.ss_family != AF_UNIX)
			ports[n++] = p;
	}
	return n;
}

static struct json_object *stats_json_sockets(const struct ktlsd_cfg *cfg)
{
	uint16_t ports[LISTENER_SLOTS];
	struct sock_sum s = { .ports = ports };
	struct json_object *o;

	s.n_ports = stats_json_listener_ports(cfg, ports, LISTENER_SLOTS);
	/* One dump of every TCP socket, filtered here: as cheap as one per port. */
	if (diag_dump_tcp(0, stats_json_sock_cb, &s) < 0)
		return NULL;
	const struct json_u64_field f[] = {
		{ "tcp", s.tcp },
		{ "ulp_tls", s.ulp_tls },
		{ "tls_tx_sw", s.tx_sw },
		{ "tls_rx_sw", s.rx_sw },
		{ "tls_tx_hw", s.tx_hw },
		{ "tls_rx_hw", s.rx_hw },
		{ "rtt_avg_us", s.rtt_n ? s.rtt_sum / s.rtt_n : 0 },
		{ "retransmits", s.retrans },
		{ "bytes_acked", s.acked },
		{ "bytes_received", s.received },
	};

	o = json_object_new_object();
	json_add_u64s(o, f, sizeof(f) / sizeof(f[0]));
	return o;
}

/* The handoff client role's session cache (clientcache.c). */
static struct json_object *stats_json_client_cache(void)
{
	struct clientcache_stats cs;
	struct json_object *o = json_object_new_object();

	clientcache_stats(&cs);
	const struct json_u64_field f[] = {
		{ "keys", cs.keys }, { "sessions", cs.sessions }, { "capacity", cs.max_keys },
		{ "hits", cs.hits }, { "misses", cs.misses },	  { "stored", cs.stored },
	};

	json_add_u64s(o, f, sizeof(f) / sizeof(f[0]));
	return o;
}

/**
 * certs_json() - every profile's certificates: subject, issuer, key, validity (Unix time)
 * and the seconds left; the `certs` reply and the expiry metric.
 */
struct json_object *certs_json(const struct snapshot *s)
{
	struct json_object *arr = json_object_new_array();
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; arr && i < s->cfg->n_profiles; i++) {
		const struct tls_profile *p = &s->profiles[i];

		for (size_t j = 0; j < p->cfg->n_certs; j++) {
			const struct tls_cert_info *ci = &p->certs[j];
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "profile", json_object_new_string(p->cfg->name));
			json_object_object_add(o, "file", json_object_new_string(ci->file));
			json_object_object_add(o, "subject", json_object_new_string(ci->subject));
			json_object_object_add(o, "issuer", json_object_new_string(ci->issuer));
			json_object_object_add(o, "key", json_object_new_string(ci->key));
			json_object_object_add(o, "not_before",
					       json_object_new_int64(ci->not_before));
			json_object_object_add(o, "not_after",
					       json_object_new_int64(ci->not_after));
			json_object_object_add(o, "expires_in_seconds",
					       json_object_new_int64(ci->not_after - now));
			json_object_array_add(arr, o);
		}
	}
	return arr;
}

/**
 * stats_json_build() - the `stats` reply object (caller puts it).
 * @k:   the daemon; its workers' counters are read without stopping them
 * @s:   the current snapshot (listener ports for sock_diag, certificates)
 * Return: the object, or NULL when out of memory.
 */
struct json_object *stats_json_build(const struct worker *workers, unsigned n_workers,
				     uint64_t started_ms, const struct snapshot *s)
{
	const struct ktlsd_cfg *cfg = s->cfg;
	uint64_t sum[STAT__COUNT] = { 0 };
	int64_t gauge[GAUGE__COUNT] = { 0 };
	struct json_object *o = json_object_new_object(), *c, *l, *h, *sc, *g;

	if (!o)
		return NULL;
	for (unsigned w = 0; w < n_workers; w++) {
		stats_accumulate(&workers[w].stats, sum);
		for (int i = 0; i < GAUGE__COUNT; i++)
			gauge[i] += atomic_load_explicit(&workers[w].stats.gauge[i],
							 memory_order_relaxed);
	}
	json_object_object_add(
		o, "uptime_seconds",
		json_object_new_double((double)(now_monotonic_ms() - started_ms) / 1000.0));
	json_object_object_add(o, "workers", json_object_new_int((int)n_workers));
	c = json_object_new_object();
	for (int i = 0; i < STAT__COUNT; i++)
		json_object_object_add(c, stats_name((enum stat_id)i), json_u64(sum[i]));
	json_object_object_add(o, "counters", c);
	g = json_object_new_object();
	for (int i = 0; i < GAUGE__COUNT; i++) /* a read racing a move may see -1 briefly */
		json_object_object_add(g, stats_gauge_name((enum path_gauge)i),
				       json_object_new_int64(gauge[i] > 0 ? gauge[i] : 0));
	json_object_object_add(o, "connections_active", g);
	l = json_object_new_object();
	for (const struct listener_stats *ls = lstats_first(); ls; ls = ls->next)
		json_object_object_add(l, ls->name, stats_json_listener(ls));
	json_object_object_add(o, "listeners", l);
	h = json_object_new_object();
	for (int i = 0; i < HIST__COUNT; i++)
		json_object_object_add(h, stats_hist_name((enum hist_id)i),
				       stats_json_hist(workers, n_workers, (enum hist_id)i));
	json_object_object_add(o, "histograms", h);
	sc = json_object_new_object();
	json_object_object_add(sc, "entries", json_u64(sesscache_count()));
	json_object_object_add(sc, "capacity", json_u64(cfg->session_cache_size));
	json_object_object_add(o, "session_cache", sc);
	json_object_object_add(o, "client_session_cache", stats_json_client_cache());
	json_object_object_add(o, "kernel_tls_stat", stats_json_tls_stat());
	json_object_object_add(o, "sockets", stats_json_sockets(cfg));
	json_object_object_add(o, "certificates", certs_json(s));
	return o;
}
