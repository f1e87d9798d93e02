// SPDX-License-Identifier: MIT
/*
 * render_kernel.c - the kernel TLS probe ktlsd ran at start (the object of
 * `ktls-probe --json`, daemon/tls/ktls_probe.c), laid out like `ktls-probe`'s text.
 *
 * An "*_error" is an errno name ("ENOENT"), a number, or null; false with a null
 * error means "not tested".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "render.h"

#define KV_WIDTH 28

/* strerror() of an errno name, found by asking glibc for each number's name. */
static const char *errno_text(const char *name)
{
	int e;

	for (e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n && strcmp(n, name) == 0)
			return strerror(e);
	}
	return NULL;
}

/* "yes", "no (ENOENT: No such file or directory)", "not tested", or "-" */
static const char *yes_no(struct json_object *ok, struct json_object *err, char *buf, size_t len)
{
	char b[FMT_LEN];
	const char *text;

	if (!json_object_is_type(ok, json_type_boolean))
		return jtext(ok, buf, len);
	if (json_object_get_boolean(ok))
		return "yes";
	if (json_object_is_type(err, json_type_string)) {
		text = errno_text(json_object_get_string(err));
		if (text)
			snprintf(buf, len, "no (%s: %s)", json_object_get_string(err), text);
		else
			snprintf(buf, len, "no (%s)", json_object_get_string(err));
	} else if (json_object_is_type(err, json_type_int)) {
		int e = json_object_get_int(err);

		snprintf(buf, len, "no (errno %d: %s)", e, strerror(e));
	} else if (err && !json_object_is_type(err, json_type_null)) {
		snprintf(buf, len, "no (%s)", jtext(err, b, sizeof(b)));
	} else {
		return "not tested";
	}
	return buf;
}

static void feature(struct json_object *r, const char *label, const char *key)
{
	char ekey[64], b[160];

	snprintf(ekey, sizeof(ekey), "%s_error", key);
	put_kv(KV_WIDTH, label, yes_no(jget(r, key), jget(r, ekey), b, sizeof(b)));
}

void render_kernel(struct json_object *r)
{
	struct json_object *ciphers = jget(r, "ciphers");
	char b[FMT_LEN], tx[160], rx[160];
	size_t i, n;

	put_kv(KV_WIDTH, "kernel", jtext(jget(r, "kernel"), b, sizeof(b)));
	put_kv(KV_WIDTH, "kTLS available", jyesno(jget(r, "available"), b, sizeof(b)));
	feature(r, "TCP_ULP \"tls\"", "ulp");
	put_kv(KV_WIDTH, "/proc/net/tls_stat", jyesno(jget(r, "tls_stat"), b, sizeof(b)));
	if (json_object_is_type(ciphers, json_type_array)) {
		struct table *t;
		const char *head[] = { "VERSION", "CIPHER", "TX", "RX" };

		n = json_object_array_length(ciphers);
		t = table_new(4, head, 0);
		for (i = 0; i < n; i++) {
			struct json_object *c = json_object_array_get_idx(ciphers, i);
			char v[FMT_LEN], name[FMT_LEN];
			const char *row[4];

			row[0] = jtext(jget(c, "version"), v, sizeof(v));
			row[1] = jtext(jget(c, "cipher"), name, sizeof(name));
			row[2] = yes_no(jget(c, "tx"), jget(c, "tx_error"), tx, sizeof(tx));
			row[3] = yes_no(jget(c, "rx"), jget(c, "rx_error"), rx, sizeof(rx));
			table_row(t, row);
		}
		putchar('\n');
		table_print(t, 0);
		putchar('\n');
	} else {
		put_kv(KV_WIDTH, "ciphers", "-");
	}
	feature(r, "TLS_RX_EXPECT_NO_PAD", "rx_expect_no_pad");
	feature(r, "TLS_TX_ZEROCOPY_RO", "tx_zerocopy_ro");
	feature(r, "io_uring splice into kTLS", "uring_splice");
}
