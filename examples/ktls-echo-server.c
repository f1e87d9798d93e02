// SPDX-License-Identifier: MIT
/*
 * ktls-echo-server - an example application of libktls: a TCP server that hands each
 * accepted socket to ktlsd for the TLS handshake, then serves it with plain read() and
 * write() (or sendfile() of a file), never touching TLS itself.
 *
 *   ktls-echo-server [-s HANDOFF_SOCKET] [-p PROFILE] [-a ALPN] [-f FILE] [-n COUNT] PORT
 *
 * Echoes what each client sends until it closes; with -f, sends FILE with sendfile() and
 * closes. Prints one line per connection: how it came back from ktlsd. Serves COUNT
 * connections (default: forever), one at a time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4(); builds alone: cc example.c $(pkg-config ...) */
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ktlsd/ktls.h>

static int serve_echo(int fd)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0)
				return -errno;
			off += w;
		}
	return n < 0 ? -errno : 0;
}

static int serve_file(int fd, const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	off_t off = 0;

	if (in < 0 || fstat(in, &st) < 0)
		return -errno;
	while (off < st.st_size) {
		ssize_t n = sendfile(fd, in, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;

			close(in);
			return err;
		}
	}
	close(in);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *profile = NULL, *alpn = NULL, *file = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	long count = -1;
	int opt, l, h, one = 1;

	while ((opt = getopt(argc, argv, "s:p:a:f:n:")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'p':
			profile = optarg;
			break;
		case 'a':
			alpn = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-s SOCKET] [-p PROFILE] [-a ALPN] [-f FILE] [-n COUNT] PORT\n",
				argv[0]);
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
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 16) < 0) {
		perror("listen");
		return 1;
	}
	printf("listening on 127.0.0.1:%s\n", argv[optind]);
	fflush(stdout);
	for (long served = 0; count < 0 || served < count; served++) {
		struct ktls_result r;
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC), ret;

		if (fd < 0) {
			perror("accept");
			continue;
		}
		ret = ktls_server(h, fd, profile, alpn, 0, &r);
		if (ret < 0) {
			printf("handoff failed: %s (status %d: %s)\n", strerror(-ret), r.status,
			       r.message);
			fflush(stdout);
			close(fd);
			continue;
		}
		printf("handed back: TLS 0x%04x %s group=%s alpn=%s sni=%s resumed=%d ktls_tx=%d "
		       "ktls_rx=%d relay=%d handshake_us=%u\n",
		       r.tls_version, r.cipher, r.group[0] ? r.group : "-",
		       r.alpn[0] ? r.alpn : "-", r.sni[0] ? r.sni : "-", r.resumed, r.ktls_tx,
		       r.ktls_rx, r.relay, r.handshake_us);
		fflush(stdout);
		ret = file ? serve_file(fd, file) : serve_echo(fd);
		if (ret < 0)
			printf("serving: %s\n", strerror(-ret));
		close(fd);
	}
	ktls_close(h);
	return 0;
}
