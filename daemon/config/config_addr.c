// SPDX-License-Identifier: MIT
/*
 * config_addr.c - "host:port", "[v6]:port" and "unix:/path" addresses.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <libgen.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "config_int.h"

/**
 * config_parse_addr() - an address string into a sockaddr.
 * @s:          "a.b.c.d:port", "[v6]:port", "hostname:port" or, with @allow_unix, "unix:/path"
 * @allow_unix: whether "unix:" is acceptable
 * @ss:         the address
 * @len:        its length
 *
 * Host names go through getaddrinfo() and the first result wins. Ports are numeric, 1..65535.
 * A unix path must be absolute and fit sun_path.
 *
 * Return: 0 or -EINVAL.
 */
int config_parse_addr(const char *s, bool allow_unix, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *end, *port;
	char host[256];
	size_t hlen;
	int ret = -EINVAL;

	if (!s || !ss || !len)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss)); /* listeners compare addresses with memcmp() */
	if (!strncmp(s, "unix:", 5)) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		size_t plen = strlen(s + 5);

		if (!allow_unix || s[5] != '/' || plen >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s + 5, plen + 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		return 0;
	}
	if (s[0] == '[') {
		s++;
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		port = end + 2;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		end = strrchr(s, ':');
		/* A bare IPv6 address has more than one colon: it needs brackets. */
		if (!end || memchr(s, ':', (size_t)(end - s)))
			return -EINVAL;
		port = end + 1;
	}
	hlen = (size_t)(end - s);
	/* Digits only: getaddrinfo() would take " 80" and service names. */
	if (!hlen || hlen >= sizeof(host) || !*port || strlen(port) > 5 ||
	    strspn(port, "0123456789") != strlen(port) || !atoi(port) || atoi(port) > 65535)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, port, &hints, &res) || !res)
		goto out;
	if (res->ai_addrlen <= sizeof(*ss)) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		ret = 0;
	}
out:
	if (res)
		freeaddrinfo(res);
	return ret;
}
