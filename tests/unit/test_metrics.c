// SPDX-License-Identifier: MIT
/*
 * test_metrics.c - unit tests for the Prometheus text of the stats object (daemon/services/metrics.c).
 *
 * The sample is the `stats` reply of docs/control-api.md, with a listener whose name holds a
 * double quote and a backslash and with kernel_tls_stat null. Prints one line per check;
 * exits 0 if all pass.
 *
 *     test_metrics --print documented|full|malformed|collisions
 * prints the text of one of the samples instead (tests/integration/metrics_format.sh feeds
 * it to a real Prometheus parser, tests/tools/promcheck.py).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "metrics.h"

/* docs/control-api.md, `stats`, with every "..." written out. */
static const char documented[] =
	"{\"uptime_seconds\": 86.2, \"workers\": 2,"
	" \"counters\": {\"connections_accepted\": 120, \"handshakes_completed\": 118,"
	"  \"handshakes_failed\": 2, \"bytes_from_clients\": 5120, \"bytes_to_clients\": 1048576,"
	"  \"brand_new\": 7, \"uring_sqes_submitted\": 18446744073709551615},"
	" \"connections_active\": {\"handshake\": 1, \"ktls\": 14, \"userspace\": 2},"
	" \"listeners\": {"
	"  \"https\": {"
	"   \"handshakes\": {\"full\": 40, \"resumed\": 78},"
	"   \"handshake_failures\": {\"timeout\": 1, \"closed\": 0, \"alert\": 0,"
	"     \"no_shared_cipher\": 1, \"protocol\": 0, \"sni_refused\": 0,"
	"     \"backend_refused\": 0, \"internal\": 0},"
	"   \"resume_misses\": {\"unknown_key\": 0, \"bad_ticket\": 0, \"cache\": 0,"
	"     \"expired\": 2, \"mismatch\": 0},"
	"   \"early_data\": {\"accepted\": 0, \"rejected\": 0, \"replayed\": 0}},"
	"  \"we\\\"ird\\\\name\": {"
	"   \"handshakes\": {\"full\": 3, \"resumed\": 0},"
	"   \"handshake_failures\": {\"timeout\": 5},"
	"   \"resume_misses\": {\"expired\": 0},"
	"   \"early_data\": {\"accepted\": 1, \"rejected\": 0, \"replayed\": 0}}},"
	" \"histograms\": {"
	"  \"handshake_duration_seconds\": {\"buckets\": [[0.0005, 3], [0.001, 40], [0.002, 60],"
	"    [0.005, 90], [0.01, 100], [0.025, 110], [0.05, 115], [0.1, 117], [0.25, 118],"
	"    [0.5, 118], [1, 118], [2.5, 118], [5, 118], [10, 118], [\"+Inf\", 121]],"
	"    \"sum\": 0.2213, \"count\": 121},"
	"  \"backend_connect_seconds\": {\"buckets\": [[0.0005, 100], [0.001, 118],"
	"    [\"+Inf\", 118]], \"sum\": 0.30000000000000004, \"count\": 118}},"
	" \"session_cache\": {\"entries\": 78, \"capacity\": 20480},"
	" \"kernel_tls_stat\": null,"
	" \"sockets\": {\"tcp\": 33, \"ulp_tls\": 14, \"tls_tx_sw\": 14, \"tls_rx_sw\": 14,"
	"  \"tls_tx_hw\": 0, \"tls_rx_hw\": 0, \"rtt_avg_us\": 52, \"retransmits\": 0,"
	"  \"bytes_acked\": 123456, \"bytes_received\": 654321}}";

/* Every part of the wrong type, or broken inside. */
static const char malformed[] =
	"{\"uptime_seconds\": \"86\", \"workers\": null,"
	" \"counters\": {\"a-b\": 1, \"a_b\": 2, \"s\": \"x\", \"o\": {}, \"b\": true, \"\": 3},"
	" \"connections_active\": [1, 2],"
	" \"listeners\": {\"x\": 5, \"y\": {\"handshakes\": [1], \"early_data\": {\"accepted\": \"1\"}},"
	"  \"z\": {\"handshake_failures\": null, \"resume_misses\": {\"expired\": 1.5}}},"
	" \"histograms\": {\"handshake_duration_seconds\": {\"buckets\": {}, \"sum\": 1},"
	"  \"backend_connect_seconds\": {\"buckets\": [7, [], [1, 2, 3], [\"x\", 1], [0.5, 2],"
	"    [null, 1]], \"count\": 3},"
	"  \"no_count\": {\"buckets\": [[1, 1]], \"sum\": 2}, \"only_inf\": {\"buckets\": [[\"+Inf\", 4]]},"
	"  \"bad\": 12},"
	" \"session_cache\": 5, \"kernel_tls_stat\": {\"TlsTxSw\": [1], \"TlsRxSw\": 2},"
	" \"sockets\": {\"tcp\": \"many\", \"rtt_avg_us\": 1e300, \"bytes_acked\": -4}}";

/* Keys that would give names already taken by other families. */
static const char collisions[] =
	"{\"workers\": 2, \"connections_active\": {\"ktls\": 1},"
	" \"counters\": {\"workers\": 5, \"connections_active\": 3, \"handshakes\": 4,"
	"  \"x_count\": 1},"
	" \"listeners\": {\"l\": {\"handshakes\": {\"full\": 1}}},"
	" \"histograms\": {\"workers\": {\"buckets\": [[\"+Inf\", 1]], \"count\": 1},"
	"  \"x\": {\"buckets\": [[\"+Inf\", 1]], \"count\": 1}}}";

static int n_checks, n_failed;

static bool __attribute__((format(printf, 2, 3))) check(bool ok, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n_checks++;
	n_failed += !ok;
	printf("%s - %s\n", ok ? "ok  " : "FAIL", line);
	return ok;
}

/* How often @needle occurs in @hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Whether @text has the whole line @line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/*
 * The exposition's shape: every "# HELP" is followed by its "# TYPE", no family twice, every
 * sample belongs to the family above it (histograms: _bucket/_sum/_count), none is empty.
 */
static bool well_formed(const char *text, const char **why)
{
	char fam[256] = "", seen[16384] = "\n", line[1024], name[256], key[272];
	const char *sfx;
	int samples = 1;

	for (const char *p = text, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl || (size_t)(nl - p) >= sizeof(line))
			return *why = "line without newline or too long", false;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sscanf(line, "# HELP %255s", name) == 1) {
			snprintf(key, sizeof(key), "\n%s\n", name);
			if (!samples || strstr(seen, key))
				return *why = "family twice or without samples", false;
			strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
			snprintf(fam, sizeof(fam), "%s", name);
			samples = 0;
			snprintf(key, sizeof(key), "# TYPE %s ", name);
			if (strncmp(nl + 1, key, strlen(key)) != 0)
				return *why = "HELP not followed by its TYPE", false;
			nl = strchr(nl + 1, '\n');
			if (!nl)
				return *why = "TYPE without newline", false;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, "{ "), line);
		sfx = name + strlen(fam);
		if (strncmp(name, fam, strlen(fam)) != 0 ||
		    (*sfx && strcmp(sfx, "_bucket") != 0 && strcmp(sfx, "_sum") != 0 &&
		     strcmp(sfx, "_count") != 0))
			return *why = "sample outside its family", false;
		samples++;
	}
	*why = samples ? "" : "last family without samples";
	return samples > 0;
}

/* Histogram @fam's buckets: bounds increasing, counts cumulative, +Inf last and == _count. */
static bool histogram_ok(const char *text, const char *fam, int *n_buckets)
{
	char pfx[256], inf[300];
	double prev_le = -1, prev_v = -1, cnt = -2;
	const char *p = text;

	*n_buckets = 0;
	snprintf(pfx, sizeof(pfx), "%s_bucket{le=\"", fam);
	while ((p = strstr(p, pfx))) {
		p += strlen(pfx);
		double le = strncmp(p, "+Inf\"", 5) == 0 ? INFINITY : strtod(p, NULL);
		double v = strtod(strchr(p, ' '), NULL);

		if (le <= prev_le || v < prev_v)
			return false;
		prev_le = le;
		prev_v = v;
		++*n_buckets;
	}
	snprintf(inf, sizeof(inf), "\n%s_count ", fam);
	if ((p = strstr(text, inf)))
		cnt = strtod(p + strlen(inf), NULL);
	return *n_buckets > 0 && prev_le > 1e308 && prev_v == cnt;
}

static char *format_json(const char *json, int *ret)
{
	struct json_object *o = json_tokener_parse(json);
	char *text = NULL;
	size_t len = 0;

	*ret = metrics_format(o, &text, &len);
	if (*ret == 0 && text && strlen(text) != len)
		*ret = -1000;
	json_object_put(o);
	return text;
}

static void test_documented(void)
{
	static const char *const families[] = {
		"ktlsd_uptime_seconds gauge",
		"ktlsd_workers gauge",
		"ktlsd_connections_accepted_total counter",
		"ktlsd_bytes_to_clients_total counter",
		"ktlsd_connections_active gauge",
		"ktlsd_handshakes_total counter",
		"ktlsd_handshake_failures_total counter",
		"ktlsd_resume_misses_total counter",
		"ktlsd_early_data_total counter",
		"ktlsd_handshake_duration_seconds histogram",
		"ktlsd_backend_connect_seconds histogram",
		"ktlsd_session_cache_entries gauge",
		"ktlsd_session_cache_capacity gauge",
		"ktlsd_sockets gauge",
		"ktlsd_socket_rtt_avg_microseconds gauge",
		"ktlsd_socket_retransmits gauge",
		"ktlsd_socket_bytes_acked gauge",
		"ktlsd_socket_bytes_received gauge",
	};
	static const char *const lines[] = {
		"ktlsd_uptime_seconds 86.2",
		"ktlsd_workers 2",
		"ktlsd_connections_accepted_total 120",
		"ktlsd_bytes_from_clients_total 5120",
		"ktlsd_uring_sqes_submitted_total 18446744073709551615",
		"ktlsd_connections_active{path=\"handshake\"} 1",
		"ktlsd_handshakes_total{listener=\"https\",type=\"resumed\"} 78",
		"ktlsd_handshakes_total{listener=\"we\\\"ird\\\\name\",type=\"full\"} 3",
		"ktlsd_handshake_failures_total{listener=\"we\\\"ird\\\\name\",reason=\"timeout\"} 5",
		"ktlsd_resume_misses_total{listener=\"https\",cause=\"expired\"} 2",
		"ktlsd_early_data_total{listener=\"we\\\"ird\\\\name\",result=\"accepted\"} 1",
		"ktlsd_handshake_duration_seconds_bucket{le=\"0.0005\"} 3",
		"ktlsd_handshake_duration_seconds_bucket{le=\"1\"} 118",
		"ktlsd_handshake_duration_seconds_bucket{le=\"+Inf\"} 121",
		"ktlsd_handshake_duration_seconds_sum 0.2213",
		"ktlsd_handshake_duration_seconds_count 121",
		"ktlsd_backend_connect_seconds_sum 0.30000000000000004",
		"ktlsd_session_cache_entries 78",
		"ktlsd_session_cache_capacity 20480",
		"ktlsd_sockets{kind=\"tcp\"} 33",
		"ktlsd_sockets{kind=\"tls_rx_hw\"} 0",
		"ktlsd_socket_rtt_avg_microseconds 52",
		"ktlsd_socket_bytes_received 654321",
		"# HELP ktlsd_connections_accepted_total client connections accepted",
		"# HELP ktlsd_brand_new_total ktlsd counter brand_new (since start, summed over the workers).",
	};
	char help[300], type[300];
	const char *why = "";
	int ret, n;
	char *text = format_json(documented, &ret);

	if (!check(ret == 0 && text, "documented sample formats (%d)", ret))
		return;
	check(well_formed(text, &why), "HELP/TYPE once per family, samples grouped (%s)", why);
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(type, sizeof(type), "# TYPE %s\n", families[i]);
		snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(families[i], " "),
			 families[i]);
		check(count(text, type) == 1 && count(text, help) == 1, "%s: one HELP, one TYPE",
		      families[i]);
	}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		check(has_line(text, lines[i]), "line: %s", lines[i]);
	check(!strstr(text, "kernel_tls_stat"), "kernel_tls_stat null: no such family");
	check(!strstr(text, "kind=\"rtt_avg_us\"") && !strstr(text, "kind=\"bytes_acked\""),
	      "ktlsd_sockets has only the socket kinds");
	check(count(text, "ktlsd_handshake_failures_total{") == 9,
	      "handshake failures: 8 reasons of https + 1 of the other listener");
	check(histogram_ok(text, "ktlsd_handshake_duration_seconds", &n) && n == 15,
	      "handshake histogram: 15 buckets, cumulative, +Inf last == _count");
	check(histogram_ok(text, "ktlsd_backend_connect_seconds", &n) && n == 3,
	      "backend connect histogram: 3 buckets, cumulative, +Inf last == _count");
	free(text);
}

/* kernel_tls_stat present, sockets null, a newline in a label value. */
static struct json_object *full_sample(void)
{
	struct json_object *o = json_tokener_parse(documented), *k = json_object_new_object();
	struct json_object *ls = NULL, *l = json_tokener_parse("{\"handshakes\": {\"full\": 1}}");

	json_object_object_add(k, "TlsCurrTxSw", json_object_new_int(14));
	json_object_object_add(k, "TlsTxSw", json_object_new_int64(90));
	json_object_object_add(o, "kernel_tls_stat", k);
	json_object_object_get_ex(o, "listeners", &ls);
	json_object_object_add(ls, "two\nlines", l);
	return o;
}

static void test_full(void)
{
	struct json_object *o = full_sample();
	const char *why = "";
	char *text = NULL;
	size_t len = 0;
	int ret = metrics_format(o, &text, &len);

	if (check(ret == 0 && text, "kernel_tls_stat present, sockets null: formats (%d)", ret)) {
		check(has_line(text, "ktlsd_kernel_tls_stat{stat=\"TlsCurrTxSw\"} 14") &&
			      has_line(text, "ktlsd_kernel_tls_stat{stat=\"TlsTxSw\"} 90"),
		      "one ktlsd_kernel_tls_stat sample per key");
		check(has_line(text,
			       "ktlsd_handshakes_total{listener=\"two\\nlines\",type=\"full\"} 1"),
		      "newline in a label value escaped");
		check(well_formed(text, &why), "well formed (%s)", why);
	}
	free(text);
	json_object_put(o);
}

static void test_malformed(void)
{
	struct json_object *arr = json_object_new_array(), *empty = json_object_new_object();
	const char *why = "";
	char dummy = 'x', *text = &dummy;
	size_t len = 9;
	int ret, n;

	check(metrics_format(NULL, &text, &len) == -EINVAL && !text && !len, "NULL stats: -EINVAL");
	check(metrics_format(arr, &text, &len) == -EINVAL && !text, "an array: -EINVAL");
	check(metrics_format(empty, NULL, &len) == -EINVAL, "NULL out: -EINVAL");
	json_object_put(arr);
	json_object_put(empty);

	text = format_json("{}", &ret);
	check(ret == 0 && text && !*text, "empty object: empty text (%d)", ret);
	free(text);

	text = format_json(malformed, &ret);
	if (!check(ret == 0 && text, "wrong types everywhere: formats (%d)", ret))
		return;
	check(well_formed(text, &why), "still well formed (%s)", why);
	check(!strstr(text, "ktlsd_uptime_seconds") && !strstr(text, "ktlsd_workers") &&
		      !strstr(text, "connections_active") && !strstr(text, "session_cache"),
	      "string, null, array and number where objects belong: skipped");
	check(count(text, "# TYPE ktlsd_a_b_total counter") == 1 &&
		      has_line(text, "ktlsd_a_b_total 1") && !has_line(text, "ktlsd_a_b_total 2"),
	      "two keys that sanitize alike: one family, the first");
	check(!strstr(text, "ktlsd__total"), "an empty counter name: skipped");
	check(has_line(text, "ktlsd_resume_misses_total{listener=\"z\",cause=\"expired\"} 1.5") &&
		      !strstr(text, "early_data_total") && !strstr(text, "ktlsd_handshakes_total"),
	      "listeners: only numbers inside objects count");
	check(!strstr(text, "ktlsd_handshake_duration_seconds"),
	      "histogram without count: left out");
	check(histogram_ok(text, "ktlsd_backend_connect_seconds", &n) && n == 2 &&
		      has_line(text, "ktlsd_backend_connect_seconds_bucket{le=\"+Inf\"} 3"),
	      "bad buckets skipped, missing +Inf bucket made from count");
	check(histogram_ok(text, "ktlsd_only_inf", &n) && has_line(text, "ktlsd_only_inf_count 4"),
	      "missing count taken from the +Inf bucket");
	check(!strstr(text, "ktlsd_bad") && !strstr(text, "ktlsd_no_count"),
	      "histograms without any count: left out");
	check(has_line(text, "ktlsd_kernel_tls_stat{stat=\"TlsRxSw\"} 2") &&
		      !strstr(text, "TlsTxSw"),
	      "kernel_tls_stat: the array value skipped");
	check(has_line(text, "ktlsd_socket_rtt_avg_microseconds 1e+300") &&
		      has_line(text, "ktlsd_socket_bytes_acked -4") &&
		      !strstr(text, "ktlsd_sockets"),
	      "sockets: doubles and negative integers kept, strings skipped");
	free(text);
}

static void test_collisions(void)
{
	const char *why = "";
	int ret;
	char *text = format_json(collisions, &ret);

	if (!check(ret == 0 && text, "clashing names: formats (%d)", ret))
		return;
	check(well_formed(text, &why), "well formed (%s)", why);
	check(has_line(text, "ktlsd_workers 2") && !strstr(text, "ktlsd_workers_") &&
		      count(text, "# TYPE ktlsd_workers ") == 1,
	      "counter and histogram \"workers\" give way to the gauge ktlsd_workers");
	check(!strstr(text, "ktlsd_connections_active_total"),
	      "counter ktlsd_connections_active_total gives way to the gauge ktlsd_connections_active");
	check(count(text, "ktlsd_handshakes_total") == 3 &&
		      has_line(text, "ktlsd_handshakes_total{listener=\"l\",type=\"full\"} 1"),
	      "counter \"handshakes\" gives way to the per-listener ktlsd_handshakes_total");
	check(has_line(text, "ktlsd_x_count_total 1") && !strstr(text, "ktlsd_x_bucket"),
	      "histogram ktlsd_x gives way to counter ktlsd_x_count_total (its _count)");
	free(text);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--print") == 0) {
		struct json_object *o =
			strcmp(argv[2], "full") == 0	     ? full_sample()
			: strcmp(argv[2], "malformed") == 0  ? json_tokener_parse(malformed)
			: strcmp(argv[2], "collisions") == 0 ? json_tokener_parse(collisions)
							     : json_tokener_parse(documented);
		char *text = NULL;
		size_t len = 0;
		int ret = metrics_format(o, &text, &len);

		if (ret == 0)
			fwrite(text, 1, len, stdout);
		free(text);
		json_object_put(o);
		return ret ? 1 : 0;
	}
	test_documented();
	test_full();
	test_malformed();
	test_collisions();
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
