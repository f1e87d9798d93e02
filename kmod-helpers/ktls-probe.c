// SPDX-License-Identifier: MIT
/*
 * ktls-probe - report what the running kernel's TLS (kTLS) offers.
 *
 *   ktls-probe [--json]
 *
 * Exit status: 0 = kTLS works (the TLS ULP attaches and at least one cipher is
 * accepted for TX); 3 = kTLS is not available here (with an explanation on
 * stderr); 1 = the probe could not run (no loopback TCP connection); 2 = usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ktls_probe.h"

#define EXIT_UNAVAILABLE 3

static void usage(FILE *f)
{
	fputs("usage: ktls-probe [--json]\n"
	      "Probes kernel TLS on loopback TCP connections: TCP_ULP \"tls\", TLS_TX/TLS_RX for\n"
	      "TLS 1.2/1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, TLS_RX_EXPECT_NO_PAD,\n"
	      "TLS_TX_ZEROCOPY_RO, io_uring splice into a kTLS socket, /proc/net/tls_stat.\n"
	      "Exit: 0 kTLS works, 3 not available, 1 probe failed, 2 usage.\n",
	      f);
}

static void explain(const struct ktls_probe *p)
{
	if (!p->ulp && p->ulp_errno == ENOENT) {
		fputs("ktls-probe: kernel TLS is not available: this kernel has no CONFIG_TLS / tls "
		      "module not loaded: try kmod-helpers/ktls-load.sh (as root)\n",
		      stderr);
	} else if (!p->ulp) {
		fprintf(stderr,
			"ktls-probe: kernel TLS is not available: setsockopt(TCP_ULP, \"tls\") failed: "
			"%s\n",
			strerror(p->ulp_errno));
	} else {
		fputs("ktls-probe: kernel TLS is not usable: the TLS ULP attaches but no cipher is "
		      "accepted for TX (crypto modules gcm/chacha20poly1305 missing?)\n",
		      stderr);
	}
}

int main(int argc, char **argv)
{
	struct ktls_probe p;
	bool json = false;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ktls-probe: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	ret = ktls_probe_run(&p);
	if (ret) {
		fprintf(stderr, "ktls-probe: cannot make a loopback TCP connection: %s\n",
			strerror(-ret));
		return 1;
	}
	if (json)
		ktls_probe_format_json(&p, stdout);
	else
		ktls_probe_format_text(&p, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ktls-probe: cannot write the report: %s\n", strerror(errno));
		return 1;
	}
	if (!ktls_probe_available(&p)) {
		explain(&p);
		return EXIT_UNAVAILABLE;
	}
	return 0;
}
