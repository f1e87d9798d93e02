// SPDX-License-Identifier: MIT
/*
 * handoff.c - the handoff benchmark's three roles (bench/handoff.sh runs them):
 *
 *   handoff inproc PORT CERT KEY  an application that does its own TLS handshakes
 *                                 (OpenSSL in its process), then writes one byte
 *   handoff ktlsd PORT SOCKET     the same application handing each socket to ktlsd
 *                                 (libktls), then writing one byte on what comes back
 *   handoff client PORT N         N connections one after the other: connect, full TLS 1.3
 *                                 handshake (no session offered), read the byte, close;
 *                                 prints the wall time of each (connect to byte) in µs
 *   handoff pool SOCKET UP N      N times: take a ready connection of upstream UP from
 *                                 ktlsd's warm pool (ktls_pool_get), close it, pause 20 ms
 *                                 for the refill; prints "POOLED µs" per take (1: from
 *                                 the pool, 0: made on demand)
 *
 * The byte tells the client that the application holds a usable TLS connection: the time
 * the client sees is what the application's peers wait, handshake and handoff included.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ktlsd/ktls.h>

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
		perror("listen");
		exit(1);
	}
	return l;
}

static int serve_inproc(int port, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int l = listen_on(port);

	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519")) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	/* Like ktlsd's default: one ticket, no session cache lookups for full handshakes. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	for (;;) {
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC), one = 1;
		SSL *ssl;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ssl = SSL_new(ctx);
		if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1)
			SSL_write(ssl, "k", 1);
		else
			ERR_clear_error();
		SSL_free(ssl);
		close(fd);
	}
}

static int serve_ktlsd(int port, const char *sock)
{
	int h = ktls_open(sock), l = listen_on(port);

	if (h < 0) {
		fprintf(stderr, "ktls_open %s: %s\n", sock, strerror(-h));
		return 1;
	}
	for (;;) {
		struct ktls_result r;
		int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC), one = 1;

		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (ktls_server(h, fd, NULL, NULL, 0, &r) == 0 && write(fd, "k", 1) != 1)
			perror("write");
		close(fd);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int run_client(int port, long n)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519"))
		return 1;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		double t0 = now_us();
		char b;
		SSL *ssl;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			perror("connect");
			return 1;
		}
		ssl = SSL_new(ctx);
		if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 ||
		    SSL_read(ssl, &b, 1) != 1) {
			fprintf(stderr, "connection %ld failed\n", i);
			ERR_print_errors_fp(stderr);
			return 1;
		}
		printf("%.1f\n", now_us() - t0);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	return 0;
}

static int run_pool(const char *sock, const char *upstream, long n, useconds_t gap_us)
{
	int h = ktls_open(sock);

	if (h < 0) {
		fprintf(stderr, "ktls_open %s: %s\n", sock, strerror(-h));
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct ktls_result r;
		double t0 = now_us();
		int fd = ktls_pool_get(h, upstream, 0, &r);
		double t1 = now_us();

		if (fd < 0) {
			fprintf(stderr, "take %ld: %s %s\n", i, strerror(-fd), r.message);
			return 1;
		}
		printf("%d %.1f\n", r.pooled, t1 - t0);
		close(fd);
		usleep(gap_us);
	}
	ktls_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "inproc"))
		return serve_inproc(atoi(argv[2]), argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "ktlsd"))
		return serve_ktlsd(atoi(argv[2]), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "client"))
		return run_client(atoi(argv[2]), strtol(argv[3], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "pool"))
		return run_pool(argv[2], argv[3], strtol(argv[4], NULL, 10),
				getenv("GAP_US") ? (useconds_t)atoi(getenv("GAP_US")) : 20000);
	fprintf(stderr,
		"usage: %s inproc PORT CERT KEY | ktlsd PORT SOCKET | client PORT N | "
		"pool SOCKET UPSTREAM N\n",
		argv[0]);
	return 2;
}
