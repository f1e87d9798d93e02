// SPDX-License-Identifier: MIT
/*
 * fuzz_config.c - libFuzzer target for the configuration parser (daemon/config/config.c)
 * through ktlsd's own schema, not just libconfig's syntax: any bytes as a configuration
 * file's text, loaded as `ktlsd -t` would load it, then freed. `make fuzz` builds it with
 * clang; tests/integration/fuzz_config.sh runs it for a bounded time in `make check`.
 *
 * Host names: the parser resolves them with getaddrinfo(). Here only numeric addresses and
 * "localhost" resolve (the getaddrinfo below stands in for the C library's in this
 * program), so no input can make the fuzzer send a DNS query.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (!real)
		return EAI_FAIL;
	if (hints)
		h = *hints;
	if (node && strcmp(node, "localhost") == 0)
		node = "127.0.0.1";
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ktlsd_cfg *cfg = NULL;
	char err[1024];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_string(text, "fuzz.conf", &cfg, err, sizeof(err)) == 0)
		config_free(cfg);
	free(text);
	return 0;
}
