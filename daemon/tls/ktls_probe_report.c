// SPDX-License-Identifier: MIT
/*
 * ktls_probe_report.c - what ktls_probe_run() found, for people (text) and programs
 * (JSON), and the kernel's own counters from /proc/net/tls_stat. Reads only the public
 * struct ktls_probe; ktls-probe and the daemon link it beside ktls_probe.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tls.h>

#include "ktls_probe.h"

static const char *version_str(int version)
{
	switch (version) {
	case TLS_1_2_VERSION:
		return "1.2";
	case TLS_1_3_VERSION:
		return "1.3";
	default:
		return "?";
	}
}

/* "yes", "no (ENOENT: No such file or directory)", or "not tested" (no errno) */
static void print_yes_no(FILE *f, bool ok, int err)
{
	const char *name;

	if (ok) {
		fputs("yes", f);
		return;
	}
	if (!err) {
		fputs("not tested", f);
		return;
	}
	name = strerrorname_np(err);
	if (name)
		fprintf(f, "no (%s: %s)", name, strerror(err));
	else
		fprintf(f, "no (errno %d: %s)", err, strerror(err));
}

/**
 * ktls_probe_format_text() - print a probe result for people.
 * @p: a result of ktls_probe_run()
 * @f: where to print
 */
void ktls_probe_format_text(const struct ktls_probe *p, FILE *f)
{
	size_t i;

	fprintf(f, "kernel:                     %s\n", p->kernel[0] ? p->kernel : "(unknown)");
	fputs("TCP_ULP \"tls\":              ", f);
	print_yes_no(f, p->ulp, p->ulp_errno);
	fprintf(f, "\n/proc/net/tls_stat:         %s\n", p->tls_stat ? "yes" : "no");
	for (i = 0; i < KTLS_PROBE_NCOMBOS; i++) {
		const struct ktls_probe_combo *co = &p->combos[i];

		if (!co->name)
			continue;
		fprintf(f, "TLS %s %-18s TX: ", version_str(co->version), co->name);
		print_yes_no(f, co->tx, co->tx_errno);
		fputs("  RX: ", f);
		print_yes_no(f, co->rx, co->rx_errno);
		fputc('\n', f);
	}
	fputs("TLS_RX_EXPECT_NO_PAD:       ", f);
	print_yes_no(f, p->rx_no_pad, p->rx_no_pad_errno);
	fputs("\nTLS_TX_ZEROCOPY_RO:         ", f);
	print_yes_no(f, p->tx_zc_ro, p->tx_zc_ro_errno);
	fputs("\nio_uring splice into kTLS:  ", f);
	print_yes_no(f, p->uring_splice, p->uring_splice_errno);
	fprintf(f, "\nkTLS available:             %s\n", ktls_probe_available(p) ? "yes" : "no");
}

/*
 * A JSON string: quotes and backslashes escaped, and control characters and
 * bytes >= 0x7f as \u00XX, so that the output is ASCII and valid JSON even
 * for a release string that is not UTF-8.
 */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *c;

	fputc('"', f);
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static void json_errno(FILE *f, const char *key, int err)
{
	const char *name = err ? strerrorname_np(err) : NULL;

	fprintf(f, "\"%s\":", key);
	if (name)
		json_str(f, name);
	else if (err)
		fprintf(f, "%d", err);
	else
		fputs("null", f);
}

static const char *json_bool(bool b)
{
	return b ? "true" : "false";
}

/**
 * ktls_probe_format_json() - print a probe result as one JSON object.
 * @p: a result of ktls_probe_run()
 * @f: where to print
 *
 * Keys: kernel, available, ulp, ulp_error, tls_stat, ciphers (array of
 * {version, cipher, tx, tx_error, rx, rx_error}), rx_expect_no_pad(_error),
 * tx_zerocopy_ro(_error), uring_splice(_error). An *_error is the errno's name
 * ("ENOENT") or null: accepted, or not tested when the value is false. Ends
 * with a newline.
 */
void ktls_probe_format_json(const struct ktls_probe *p, FILE *f)
{
	bool first = true;
	size_t i;

	fputs("{\"kernel\":", f);
	json_str(f, p->kernel);
	fprintf(f, ",\"available\":%s,\"ulp\":%s,", json_bool(ktls_probe_available(p)),
		json_bool(p->ulp));
	json_errno(f, "ulp_error", p->ulp_errno);
	fprintf(f, ",\"tls_stat\":%s,\"ciphers\":[", json_bool(p->tls_stat));
	for (i = 0; i < KTLS_PROBE_NCOMBOS; i++) {
		const struct ktls_probe_combo *co = &p->combos[i];

		if (!co->name)
			continue;
		fprintf(f, "%s{\"version\":\"%s\",\"cipher\":", first ? "" : ",",
			version_str(co->version));
		json_str(f, co->name);
		fprintf(f, ",\"tx\":%s,", json_bool(co->tx));
		json_errno(f, "tx_error", co->tx_errno);
		fprintf(f, ",\"rx\":%s,", json_bool(co->rx));
		json_errno(f, "rx_error", co->rx_errno);
		fputc('}', f);
		first = false;
	}
	fprintf(f, "],\"rx_expect_no_pad\":%s,", json_bool(p->rx_no_pad));
	json_errno(f, "rx_expect_no_pad_error", p->rx_no_pad_errno);
	fprintf(f, ",\"tx_zerocopy_ro\":%s,", json_bool(p->tx_zc_ro));
	json_errno(f, "tx_zerocopy_ro_error", p->tx_zc_ro_errno);
	fprintf(f, ",\"uring_splice\":%s,", json_bool(p->uring_splice));
	json_errno(f, "uring_splice_error", p->uring_splice_errno);
	fputs("}\n", f);
}

/**
 * ktls_probe_read_stat() - read the kernel's kTLS counters.
 * @path: the file; NULL for /proc/net/tls_stat (of the caller's network namespace)
 * @ent:  filled with up to @max name/value pairs, in file order
 * @max:  capacity of @ent (0 is allowed, to count)
 *
 * Lines are "Name <whitespace> value"; malformed lines are skipped.
 *
 * Return: the number of counters in the file (which may exceed @max: then
 * only the first @max are stored), or -errno; -ENOENT means the tls module
 * is not loaded (or the kernel has no kTLS).
 */
int ktls_probe_read_stat(const char *path, struct ktls_stat_entry *ent, size_t max)
{
	char line[256], name[sizeof(ent->name)];
	unsigned long long val;
	size_t n = 0;
	FILE *f;
	int ret = 0;

	f = fopen(path ? path : KTLS_STAT_PATH, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* %47s: keep in sync with sizeof(ent->name) - 1 */
		if (sscanf(line, "%47s %llu", name, &val) != 2)
			continue;
		if (n < max) {
			memcpy(ent[n].name, name, sizeof(name));
			ent[n].value = val;
		}
		if (n == INT_MAX)
			break;
		n++;
	}
	if (ferror(f))
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	return ret ? ret : (int)n;
}

/**
 * ktls_stat_find() - look a counter up by name.
 * @ent:  counters from ktls_probe_read_stat()
 * @n:    how many of @ent are filled in
 * @name: e.g. "TlsTxSw"
 *
 * Return: the entry, or NULL if there is none of that name.
 */
const struct ktls_stat_entry *ktls_stat_find(const struct ktls_stat_entry *ent, size_t n,
					     const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ent[i].name, name) == 0)
			return &ent[i];
	return NULL;
}
