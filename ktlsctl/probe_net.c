// SPDX-License-Identifier: MIT
/*
 * probe_net.c - the network side of `probe`: HOST:PORT, name resolution, the
 * monotonic clock, poll() with a deadline, and timed non-blocking TCP connects.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ktlsctl.h"
#include "probe.h"

/**
 * probe_now() - the monotonic clock (CLOCK_MONOTONIC), in seconds.
 */
double probe_now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/**
 * probe_wait_fd() - poll() one descriptor until it is ready or a deadline passes.
 * @fd:       the descriptor
 * @events:   POLLIN or POLLOUT
 * @deadline: probe_now() time to give up at
 *
 * Return: 1 ready, 0 timed out, -1 poll() failed (errno set).
 */
int probe_wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		double left = deadline - probe_now();
		int ms, n;

		if (left <= 0)
			return 0;
		ms = left > 86400.0 ? 86400000 : (int)(left * 1000.0) + 1;
		n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* A port: 1 to 65535 in decimal, digits only. */
static bool parse_port(const char *s, char *out, size_t len)
{
	unsigned long v = 0;
	const char *c;

	if (!*s || strlen(s) >= len)
		return false;
	for (c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	snprintf(out, len, "%lu", v);
	return true;
}

/**
 * probe_parse_target() - split HOST:PORT or [IPV6-ADDRESS]:PORT.
 * @c:      gets host (without brackets) and port
 * @target: as typed
 *
 * The port is a number from 1 to 65535; an IPv6 address needs the brackets.
 * Return: 0, or -1 after a warning on stderr.
 */
int probe_parse_target(struct probe_conf *c, const char *target)
{
	const char *colon, *host = target;
	size_t hlen;

	if (target[0] == '[') {
		const char *close = strchr(target, ']');

		if (!close || close[1] != ':') {
			ctl_warn("probe: '%s' is not [IPV6-ADDRESS]:PORT", target);
			return -1;
		}
		host = target + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(target, ':');
		if (!colon) {
			ctl_warn("probe: '%s' has no port: give HOST:PORT", target);
			return -1;
		}
		if (memchr(target, ':', (size_t)(colon - target))) {
			ctl_warn("probe: '%s': an IPv6 address goes in brackets, [ADDRESS]:PORT",
				 target);
			return -1;
		}
		hlen = (size_t)(colon - target);
	}
	if (hlen == 0 || hlen >= sizeof(c->host)) {
		ctl_warn("probe: '%s': the host is %s", target, hlen ? "too long" : "empty");
		return -1;
	}
	memcpy(c->host, host, hlen);
	c->host[hlen] = '\0';
	if (!parse_port(colon + 1, c->port, sizeof(c->port))) {
		ctl_warn("probe: '%s': the port is not a number from 1 to 65535", target);
		return -1;
	}
	if (target[0] == '[' && !probe_is_ip(c->host)) {
		ctl_warn("probe: '%s': '%s' in brackets is not an IPv6 address", target, c->host);
		return -1;
	}
	return 0;
}

/**
 * probe_is_ip() - is @host an IPv4 or IPv6 address (possibly with a %zone), not a name?
 * @host: the host part of the target
 */
bool probe_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char plain[INET6_ADDRSTRLEN];
	const char *zone = strchr(host, '%');

	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
		return true;
	/* fe80::1%eth0: an address with a zone */
	if (!zone || (size_t)(zone - host) >= sizeof(plain))
		return false;
	memcpy(plain, host, (size_t)(zone - host));
	plain[zone - host] = '\0';
	return inet_pton(AF_INET6, plain, buf) == 1;
}

/**
 * probe_resolve() - getaddrinfo() for the target's host and port (TCP, any family).
 * @c:    the target
 * @res:  set to the list (freeaddrinfo() it)
 * @err:  the reason on failure
 * @elen: its size
 *
 * Return: 0, or -1 with @err set.
 */
int probe_resolve(const struct probe_conf *c, struct addrinfo **res, char *err, size_t elen)
{
	struct addrinfo hints = { 0 };
	int ret;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	ret = getaddrinfo(c->host, c->port, &hints, res);
	if (ret != 0) {
		snprintf(err, elen, "cannot resolve %s: %s", c->host,
			 ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return -1;
	}
	return 0;
}

/**
 * probe_addr_text() - an address as "127.0.0.1:443" or "[::1]:443" ("?" if unprintable).
 * @sa:   the address
 * @len:  its length
 * @buf:  the text
 * @blen: its size
 */
void probe_addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, blen, "?");
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, blen, "[%s]:%s", host, serv);
	else
		snprintf(buf, blen, "%s:%s", host, serv);
}

/**
 * probe_tcp_connect() - a timed non-blocking TCP connection, with TCP_NODELAY.
 * @sa:      where to
 * @len:     the length of @sa
 * @timeout: seconds to wait for the connection
 * @ms:      set to the time from connect() to the connection established
 * @err:     the reason on failure
 * @elen:    its size
 *
 * Return: the connected non-blocking socket, or -1 with @err set.
 */
int probe_tcp_connect(const struct sockaddr *sa, socklen_t len, double timeout, double *ms,
		      char *err, size_t elen)
{
	char addr[64];
	int fd, one = 1, soerr = 0, ret;
	socklen_t sl = sizeof(soerr);
	double t0;

	probe_addr_text(sa, len, addr, sizeof(addr));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		snprintf(err, elen, "socket for %s: %s", addr, strerror(errno));
		return -1;
	}
	/* handshake flights are several writes: Nagle must not hold them back */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
		snprintf(err, elen, "TCP_NODELAY: %s", strerror(errno));
		close(fd);
		return -1;
	}
	t0 = probe_now();
	if (connect(fd, sa, len) != 0) {
		if (errno != EINPROGRESS) {
			snprintf(err, elen, "connect to %s: %s", addr, strerror(errno));
			close(fd);
			return -1;
		}
		ret = probe_wait_fd(fd, POLLOUT, t0 + timeout);
		if (ret <= 0) {
			if (ret == 0)
				snprintf(err, elen, "connect to %s: no answer within %g s", addr,
					 timeout);
			else
				snprintf(err, elen, "connect to %s: poll: %s", addr,
					 strerror(errno));
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			soerr = errno;
		if (soerr != 0) {
			snprintf(err, elen, "connect to %s: %s", addr, strerror(soerr));
			close(fd);
			return -1;
		}
	}
	*ms = (probe_now() - t0) * 1000.0;
	return fd;
}
