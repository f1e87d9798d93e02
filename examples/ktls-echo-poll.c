// SPDX-License-Identifier: MIT
/*
 * ktls-echo-poll - libktls's non-blocking form in an application's own poll() loop: every
 * accepted socket is handed to ktlsd at once (ktls_server_send), the loop goes on serving
 * the others, and when ktlsd answers (the handoff descriptor is readable) the result is
 * adopted (ktls_recv_result + ktls_adopt) and the connection echoes with non-blocking
 * read()/write(). Many handshakes are in flight at the same time.
 *
 *   ktls-echo-poll [-s HANDOFF_SOCKET] [-n COUNT] PORT
 *
 * Prints one line per handshake result; exits after COUNT connections have ended.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4(); builds alone: cc example.c $(pkg-config ...) */
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ktlsd/ktls.h>

#define MAX_CONNS 256

struct econn {
	int fd;	    /* -1: free slot */
	bool ready; /* handed back by ktlsd: echo on it */
	char buf[16384];
	size_t len; /* bytes read, not yet written back */
};

static struct econn conns[MAX_CONNS];

static struct econn *find(int fd)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd == fd)
			return &conns[i];
	return NULL;
}

static void drop(struct econn *c, long *ended)
{
	close(c->fd);
	c->fd = -1;
	(*ended)++;
}

/* One step of echo: write what is pending, else read more. */
static void echo_step(struct econn *c, long *ended)
{
	ssize_t n;

	if (c->len) {
		n = write(c->fd, c->buf, c->len);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			drop(c, ended);
			return;
		}
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
		return;
	}
	n = read(c->fd, c->buf, sizeof(c->buf));
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		drop(c, ended);
		return;
	}
	c->len = (size_t)n;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const char *sock = NULL;
	long count = -1, ended = 0;
	int opt, l, h, one = 1;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's') {
			sock = optarg;
		} else if (opt == 'n') {
			count = strtol(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [-s SOCKET] [-n COUNT] PORT\n", argv[0]);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s: PORT missing\n", argv[0]);
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[optind]));
	h = ktls_open(sock);
	if (h < 0) {
		fprintf(stderr, "ktls_open: %s\n", strerror(-h));
		return 1;
	}
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
		perror("listen");
		return 1;
	}
	for (size_t i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	printf("listening on 127.0.0.1:%s\n", argv[optind]);
	fflush(stdout);
	while (count < 0 || ended < count) {
		struct pollfd p[MAX_CONNS + 2];
		nfds_t n = 0;

		p[n++] = (struct pollfd){ .fd = l, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = h, .events = POLLIN };
		for (size_t i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0 && conns[i].ready)
				p[n++] = (struct pollfd){ .fd = conns[i].fd,
							  .events =
								  conns[i].len ? POLLOUT : POLLIN };
		if (poll(p, n, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents) {
			int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			struct econn *c = fd >= 0 ? find(-1) : NULL;

			/* The request carries the socket; the loop does not wait for the answer. */
			if (c && ktls_server_send(h, fd, (uint64_t)fd, NULL, NULL, 0) == 0) {
				c->fd = fd;
				c->ready = false;
				c->len = 0;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		if (p[1].revents) {
			struct ktls_result r;
			int newfd, ret = ktls_recv_result(h, &r, &newfd);
			struct econn *c = find((int)r.id);

			if (ret == -EAGAIN) {
				/* spurious */
			} else if (!c) {
				if (newfd >= 0)
					close(newfd);
			} else if (ret < 0) {
				printf("handoff failed: %s (%s)\n", strerror(-ret), r.message);
				drop(c, &ended);
			} else if (ktls_adopt(newfd, c->fd) < 0) {
				drop(c, &ended);
			} else {
				c->ready = true;
				printf("handed back: TLS 0x%04x %s ktls_tx=%d ktls_rx=%d relay=%d\n",
				       r.tls_version, r.cipher, r.ktls_tx, r.ktls_rx, r.relay);
			}
			fflush(stdout);
		}
		for (nfds_t i = 2; i < n; i++) {
			struct econn *c = p[i].revents ? find(p[i].fd) : NULL;

			if (c)
				echo_step(c, &ended);
		}
	}
	ktls_close(h);
	return 0;
}
