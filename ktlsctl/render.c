// SPDX-License-Identifier: MIT
/*
 * render.c - status, metrics, and the one-sentence replies of the commands that
 * change something.
 */
#include <stdio.h>

#include "fmt.h"
#include "render.h"

#define KV_WIDTH 14

void render_status(struct json_object *r)
{
	struct json_object *ktls = jget(r, "ktls"), *draining = jget(r, "draining");
	char b[FMT_LEN], line[256];

	put_kv(KV_WIDTH, "version", jtext(jget(r, "version"), b, sizeof(b)));
	put_kv(KV_WIDTH, "pid", jtext(jget(r, "pid"), b, sizeof(b)));
	put_kv(KV_WIDTH, "uptime", fmt_age(jget(r, "uptime_seconds"), b, sizeof(b)));
	put_kv(KV_WIDTH, "workers", jtext(jget(r, "workers"), b, sizeof(b)));
	put_kv(KV_WIDTH, "config", jtext(jget(r, "config"), b, sizeof(b)));
	put_kv(KV_WIDTH, "generation", jtext(jget(r, "generation"), b, sizeof(b)));
	if (json_object_is_type(draining, json_type_boolean))
		put_kv(KV_WIDTH, "state",
		       json_object_get_boolean(draining) ? "draining" : "running");
	else
		put_kv(KV_WIDTH, "state", "-");
	put_kv(KV_WIDTH, "listeners", jtext(jget(r, "listeners"), b, sizeof(b)));
	put_kv(KV_WIDTH, "connections", jtext(jget(r, "connections"), b, sizeof(b)));
	if (!json_object_is_type(jget(ktls, "available"), json_type_boolean)) {
		put_kv(KV_WIDTH, "kernel TLS", "-");
	} else if (json_object_get_boolean(jget(ktls, "available"))) {
		snprintf(line, sizeof(line), "available on %s",
			 jtext(jget(ktls, "kernel"), b, sizeof(b)));
		put_kv(KV_WIDTH, "kernel TLS", line);
	} else {
		snprintf(line, sizeof(line), "unavailable: %s",
			 jtext(jget(ktls, "reason"), b, sizeof(b)));
		put_kv(KV_WIDTH, "kernel TLS", line);
	}
}

void render_metrics(struct json_object *r)
{
	struct json_object *text = jget(r, "text");

	/* raw: the Prometheus exposition format, as ktlsd wrote it */
	if (json_object_is_type(text, json_type_string))
		fwrite(json_object_get_string(text), 1, (size_t)json_object_get_string_len(text),
		       stdout);
	else
		puts("-");
}

/* "WORDS VALUE\n" with the value cleaned */
static void sentence(const char *before, struct json_object *v, const char *after)
{
	char b[FMT_LEN];

	fputs(before, stdout);
	put_clean(jtext(v, b, sizeof(b)), stdout);
	puts(after);
}

void render_kill(struct json_object *r)
{
	sentence("connection ", jget(r, "killed"), " closed");
}

void render_reload(struct json_object *r)
{
	sentence("reloaded: configuration generation ", jget(r, "generation"), "");
}

void render_drain(struct json_object *r)
{
	struct json_object *n = jget(r, "connections");
	char b[FMT_LEN];
	double c;

	if (jnum(n, &c))
		printf("draining: listeners closed, %s open connection%s will run to their end\n",
		       jtext(n, b, sizeof(b)), plural((long long)c));
	else
		sentence("draining: listeners closed, open connections: ", n, "");
}

void render_flush(struct json_object *r)
{
	struct json_object *n = jget(r, "flushed");
	char b[FMT_LEN];
	double c;

	if (jnum(n, &c))
		printf("flushed %s session%s\n", jtext(n, b, sizeof(b)), plural((long long)c));
	else
		sentence("flushed ", n, " sessions");
}
