/* SPDX-License-Identifier: MIT */
/*
 * backend.c - the plain-TCP backend behind the proxies under test (bench/run.sh builds it).
 *
 *   backend SINK_PORT SOURCE_PORT BYTES
 *
 * Listens on 127.0.0.1 only, two ports, one thread, epoll:
 *   SINK_PORT    accepts, reads and discards until EOF, closes (the handshake runs: each
 *                proxied handshake opens one backend connection that carries no data);
 *   SOURCE_PORT  accepts, sends BYTES bytes from a static buffer, half-closes, then waits
 *                for the peer to close (the bulk runs).
 * Prints "backend ready" on stdout once both ports listen. Runs until killed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define MAXFD 65536

enum kind { K_NONE, K_LSINK, K_LSOURCE, K_SINK, K_SOURCE, K_DRAIN };

static unsigned char buf[CHUNK];
static unsigned char kinds[MAXFD];
static uint64_t left[MAXFD];
static uint64_t total_bytes;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int listen_on(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static void drop(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	kinds[fd] = K_NONE;
	close(fd);
}

static void on_accept(int ep, int lfd, enum kind k)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {0};

		if (fd < 0)
			return;
		if (fd >= MAXFD) {
			close(fd);
			continue;
		}
		kinds[fd] = (unsigned char)k;
		left[fd] = total_bytes;
		ev.events = k == K_SOURCE ? EPOLLOUT : EPOLLIN;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			drop(ep, fd);
	}
}

static void on_read(int ep, int fd)
{
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		drop(ep, fd); /* EOF or error */
		return;
	}
}

static void on_write(int ep, int fd)
{
	while (left[fd] > 0) {
		size_t want = left[fd] < CHUNK ? (size_t)left[fd] : CHUNK;
		ssize_t n = send(fd, buf, want, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			drop(ep, fd);
			return;
		}
		left[fd] -= (uint64_t)n;
	}
	/* All sent: FIN after the queued data, then wait for the peer to go away. */
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	shutdown(fd, SHUT_WR);
	kinds[fd] = K_DRAIN;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		drop(ep, fd);
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	int ep, ls, lo;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SINK_PORT SOURCE_PORT BYTES\n", argv[0]);
		return 2;
	}
	total_bytes = strtoull(argv[3], NULL, 10);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131u + 7u);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ls = listen_on(atoi(argv[1]));
	lo = listen_on(atoi(argv[2]));
	kinds[ls] = K_LSINK;
	kinds[lo] = K_LSOURCE;
	for (int i = 0; i < 2; i++) {
		int fd = i ? lo : ls;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
	}
	printf("backend ready\n");
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			switch (kinds[fd]) {
			case K_LSINK:
				on_accept(ep, fd, K_SINK);
				break;
			case K_LSOURCE:
				on_accept(ep, fd, K_SOURCE);
				break;
			case K_SINK:
			case K_DRAIN:
				on_read(ep, fd);
				break;
			case K_SOURCE:
				if (evs[i].events & (EPOLLERR | EPOLLHUP))
					drop(ep, fd);
				else
					on_write(ep, fd);
				break;
			default:
				break;
			}
		}
	}
}
