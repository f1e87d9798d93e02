// SPDX-License-Identifier: MIT
/*
 * probe_render.c - the result of `probe`: one JSON object (probe_json(); the keys are
 * documented in man/ktlsctl.1), and the text for people made from that object, so that
 * both always say the same. Times are milliseconds with three decimals (microseconds).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "fmt.h"
#include "ktlsctl.h"
#include "probe.h"

#define KV_WIDTH 14

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v) != 0)
		ctl_fatal("out of memory");
}

/* A string, or null for "". */
static struct json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static struct json_object *ms_value(double ms)
{
	char b[FMT_LEN];

	snprintf(b, sizeof(b), "%.3f", ms);
	return json_object_new_double_s(strtod(b, NULL), b);
}

static struct json_object *alpn_list(const char *list)
{
	struct json_object *a;
	const char *p = list;

	if (!list)
		return NULL;
	a = json_object_new_array();
	while (a) {
		size_t n = strcspn(p, ",");
		char *item = strndup(p, n);

		if (!item)
			ctl_fatal("out of memory");
		json_object_array_add(a, json_object_new_string(item));
		free(item);
		if (!p[n])
			break;
		p += n + 1;
	}
	return a;
}

static struct json_object *verify_json(const struct probe_conf *c, const struct probe_result *r)
{
	struct json_object *v = json_object_new_object();

	add(v, "ok", json_object_new_boolean(r->verify_code == X509_V_OK));
	add(v, "code", json_object_new_int64(r->verify_code));
	add(v, "result", json_object_new_string(X509_verify_cert_error_string(r->verify_code)));
	add(v, "name", json_object_new_string(c->verify_name));
	add(v, "ca", json_object_new_string(c->cafile ? c->cafile : "system"));
	add(v, "enforced", json_object_new_boolean(!c->insecure));
	return v;
}

static struct json_object *chain_json(const struct probe_result *r)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->chain_len; i++) {
		const struct probe_cert *pc = &r->chain[i];
		struct json_object *o = json_object_new_object();

		add(o, "subject", json_object_new_string(pc->subject));
		add(o, "issuer", json_object_new_string(pc->issuer));
		add(o, "key_type", json_object_new_string(pc->key_type));
		add(o, "key_bits", json_object_new_int(pc->key_bits));
		add(o, "key_group", str_or_null(pc->key_group));
		add(o, "signature", json_object_new_string(pc->signature));
		add(o, "not_after", json_object_new_string(pc->not_after));
		add(o, "days_left", json_object_new_int64(pc->days_left));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *step_json(const struct probe_conf *c, const struct probe_result *r,
				     enum probe_step st)
{
	const struct probe_series *s = &r->step[st];
	struct json_object *o = json_object_new_object(), *samples = json_object_new_array();
	bool resumption = st != PROBE_CONNECT && st != PROBE_FULL;
	double min, median, p99;
	size_t i;

	add(o, "n", json_object_new_int64((int64_t)s->n));
	if (probe_stats(s, &min, &median, &p99)) {
		add(o, "min_ms", ms_value(min));
		add(o, "median_ms", ms_value(median));
		add(o, "p99_ms", ms_value(p99));
	} else {
		add(o, "min_ms", NULL);
		add(o, "median_ms", NULL);
		add(o, "p99_ms", NULL);
	}
	add(o, "hits", resumption ? json_object_new_int64(s->hits) : NULL);
	if (resumption)
		add(o, "skipped", json_object_new_int64(s->skipped));
	if (st == PROBE_EARLY) {
		add(o, "bytes", json_object_new_int64((int64_t)c->early_data));
		add(o, "accepted", json_object_new_int64(s->hits));
		add(o, "rejected", json_object_new_int64(s->early_rej));
		add(o, "not_sent", json_object_new_int64(s->not_sent));
		add(o, "max_early_data", json_object_new_int64(r->max_early_data));
	}
	for (i = 0; i < s->n; i++)
		json_object_array_add(samples, ms_value(s->ms[i]));
	add(o, "samples_ms", samples);
	return o;
}

/**
 * probe_json() - the result as one JSON object (its keys are in man/ktlsctl.1).
 * @c: what was measured
 * @r: the result
 *
 * Return: a new object (json_object_put() it).
 */
struct json_object *probe_json(const struct probe_conf *c, const struct probe_result *r)
{
	struct json_object *j = json_object_new_object(), *steps;
	int st;

	if (!j)
		ctl_fatal("out of memory");
	add(j, "target", json_object_new_string(c->target));
	add(j, "host", json_object_new_string(c->host));
	add(j, "port", json_object_new_int(atoi(c->port)));
	add(j, "address", json_object_new_string(r->address));
	add(j, "sni", str_or_null(c->sni));
	add(j, "tries", json_object_new_int64(c->tries));
	add(j, "timeout_seconds", json_object_new_double(c->timeout));
	add(j, "version", str_or_null(r->version));
	add(j, "cipher", str_or_null(r->cipher));
	add(j, "group", str_or_null(r->group));
	add(j, "alpn", str_or_null(r->alpn));
	add(j, "alpn_offered", alpn_list(c->alpn));
	add(j, "verify", verify_json(c, r));
	add(j, "chain", chain_json(r));
	steps = json_object_new_object();
	for (st = 0; st < PROBE_NSTEPS; st++)
		if (r->step[st].used)
			add(steps, probe_step_key((enum probe_step)st),
			    step_json(c, r, (enum probe_step)st));
	add(j, "steps", steps);
	return j;
}

/* ------------------------------------------------------------------ text */

/* @o's string member @key, or "-". */
static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "-";
}

/* @o's number member @key, or -1 if it has none. */
static double jnumber(struct json_object *o, const char *key)
{
	double d;

	return jnum(jget(o, key), &d) ? d : -1;
}

/* A time in ms with microseconds, or "-". */
static const char *ms_cell(struct json_object *v, char *buf, size_t len)
{
	double ms;

	if (!jnum(v, &ms))
		return "-";
	snprintf(buf, len, "%.3f", ms);
	return buf;
}

/* "try" or "tries" */
static const char *tries_word(double n)
{
	return n == 1 ? "try" : "tries";
}

/* "h2", or "none" and what was offered: "none (offered h2,http/1.1)" */
static const char *alpn_text(struct json_object *j, char *buf, size_t len)
{
	struct json_object *offered = jget(j, "alpn_offered");
	size_t i, n, off;
	int w;

	if (jget(j, "alpn"))
		return jstr(j, "alpn");
	if (!json_object_is_type(offered, json_type_array))
		return "none";
	n = json_object_array_length(offered);
	w = snprintf(buf, len, "none (offered ");
	off = w < 0 ? 0 : (size_t)w;
	for (i = 0; i < n && off < len; i++) {
		w = snprintf(buf + off, len - off, "%s%s", i ? "," : "",
			     json_object_get_string(json_object_array_get_idx(offered, i)));
		off += w < 0 ? 0 : (size_t)w;
	}
	if (off < len)
		snprintf(buf + off, len - off, ")");
	return buf;
}

static void render_header(struct json_object *j)
{
	struct json_object *v = jget(j, "verify");
	char line[1024], alpn[512], sni[300];
	double code = jnumber(v, "code");

	if (jget(j, "sni"))
		snprintf(sni, sizeof(sni), "SNI %s", jstr(j, "sni"));
	else
		snprintf(sni, sizeof(sni), "no SNI");
	snprintf(line, sizeof(line), "%s (address %s, %s)", jstr(j, "target"), jstr(j, "address"),
		 sni);
	put_kv(KV_WIDTH, "target", line);
	snprintf(line, sizeof(line), "%s, cipher %s, group %s, ALPN %s", jstr(j, "version"),
		 jstr(j, "cipher"), jstr(j, "group"), alpn_text(j, alpn, sizeof(alpn)));
	put_kv(KV_WIDTH, "negotiated", line);
	snprintf(line, sizeof(line), "%s%s (name %s, CA %s)%s",
		 code == 0 ? "" : "FAILED: ", jstr(v, "result"), jstr(v, "name"), jstr(v, "ca"),
		 code != 0 ? ", measured anyway (--insecure)" : "");
	put_kv(KV_WIDTH, "verification", line);
}

static void render_chain(struct json_object *chain)
{
	size_t i, n = json_object_is_type(chain, json_type_array) ? json_object_array_length(chain)
								  : 0;

	printf("chain:        %zu certificate%s%s\n", n, plural((long long)n),
	       n ? ", leaf first" : "");
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(chain, i);
		char key[256], exp[128];
		double days = jnumber(c, "days_left");

		printf("  %zu subject   ", i);
		put_clean(jstr(c, "subject"), stdout);
		fputs("\n    issuer    ", stdout);
		put_clean(jstr(c, "issuer"), stdout);
		if (jget(c, "key_group"))
			snprintf(key, sizeof(key), "%s %.0f bits (%s), signed with %s",
				 jstr(c, "key_type"), jnumber(c, "key_bits"), jstr(c, "key_group"),
				 jstr(c, "signature"));
		else
			snprintf(key, sizeof(key), "%s %.0f bits, signed with %s",
				 jstr(c, "key_type"), jnumber(c, "key_bits"), jstr(c, "signature"));
		fputs("\n    key       ", stdout);
		put_clean(key, stdout);
		snprintf(exp, sizeof(exp), "%s (%s %.0f day%s)", jstr(c, "not_after"),
			 days < 0 ? "expired" : "in", fabs(days), plural((long long)fabs(days)));
		fputs("\n    expires   ", stdout);
		put_clean(exp, stdout);
		putchar('\n');
	}
}

/* "5/5", "4/5 accepted", "-" */
static const char *hits_cell(const char *key, struct json_object *s, char *buf, size_t len)
{
	double hits, n;

	if (!jnum(jget(s, "hits"), &hits) || !jnum(jget(s, "n"), &n))
		return "-";
	snprintf(buf, len, "%.0f/%.0f%s", hits, n, strcmp(key, "early_data") ? "" : " accepted");
	return buf;
}

/* The lines under the table: tries that could not offer what the step needs. */
static void render_notes(struct json_object *steps)
{
	json_object_object_foreach(steps, key, s)
	{
		double k;

		k = jnumber(s, "skipped");
		if (k > 0)
			printf("  %s: %.0f %s without a session to offer (the server gave none)\n",
			       key, k, tries_word(k));
		k = jnumber(s, "not_sent");
		if (k > 0)
			printf("  %s: not sent in %.0f %s: the server's tickets allow %.0f bytes of "
			       "early data, %.0f asked\n",
			       key, k, tries_word(k), jnumber(s, "max_early_data"),
			       jnumber(s, "bytes"));
		k = jnumber(s, "rejected");
		if (k > 0)
			printf("  %s: early data rejected in %.0f %s\n", key, k, tries_word(k));
	}
}

/**
 * probe_render_text() - the object of probe_json() for people, on stdout: the
 * target, what was negotiated, the verification, the chain, then a table of the steps.
 * @j: the object
 */
void probe_render_text(struct json_object *j)
{
	static const char *const head[] = { "STEP", "N", "MIN", "MEDIAN", "P99", "HITS" };
	struct json_object *steps = jget(j, "steps");
	struct table *t;

	render_header(j);
	render_chain(jget(j, "chain"));
	printf("\n%.0f %s, times in ms:\n", jnumber(j, "tries"), tries_word(jnumber(j, "tries")));
	t = table_new(6, head, 0x1e);
	json_object_object_foreach(steps, key, s)
	{
		char mn[FMT_LEN], md[FMT_LEN], p[FMT_LEN], h[FMT_LEN], n[FMT_LEN];
		const char *row[] = { key,
				      jtext(jget(s, "n"), n, sizeof(n)),
				      ms_cell(jget(s, "min_ms"), mn, sizeof(mn)),
				      ms_cell(jget(s, "median_ms"), md, sizeof(md)),
				      ms_cell(jget(s, "p99_ms"), p, sizeof(p)),
				      hits_cell(key, s, h, sizeof(h)) };

		table_row(t, row);
	}
	table_print(t, 2);
	render_notes(steps);
}
