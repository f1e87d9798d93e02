/* SPDX-License-Identifier: MIT */
/*
 * tlsget.c - the bulk client of bench/run.sh: one TLS 1.3 connection (AES-256-GCM, X25519,
 * no certificate check, no session reuse) that downloads everything the server sends and
 * discards it.
 *
 *   tlsget HOST PORT EXPECT_BYTES [HTTP_PATH]
 *
 * With HTTP_PATH it sends "GET HTTP_PATH HTTP/1.1" (Connection: close) and counts only the
 * body; without, it sends nothing and counts every byte until the server closes. Prints
 *   bytes=N secs=S version=V cipher=C
 * on stdout and exits 0 only if exactly EXPECT_BYTES arrived. Gives up after 300 s.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	fprintf(stderr, "tlsget: %s\n", what);
	ERR_print_errors_fp(stderr);
	return 1;
}

int main(int argc, char **argv)
{
	static unsigned char rbuf[1 << 16];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	unsigned long long expect, body = 0;
	const char *path = argc > 4 ? argv[4] : NULL;
	char hdr[8192];
	size_t hlen = 0;
	int in_header = path != NULL, fd, rc;
	double t0, t1;
	SSL_CTX *ctx;
	SSL *ssl;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s HOST PORT EXPECT_BYTES [HTTP_PATH]\n", argv[0]);
		return 2;
	}
	alarm(300);
	expect = strtoull(argv[3], NULL, 10);
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return fail("HOST must be an IPv4 address");

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384") ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519"))
		return fail("SSL_CTX setup");
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);

	t0 = now();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("connect");
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
		return fail("handshake");
	if (path) {
		char req[1024];
		int n = snprintf(req, sizeof(req),
				 "GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
				 path);

		if (n <= 0 || (size_t)n >= sizeof(req) || SSL_write(ssl, req, n) != n)
			return fail("request");
	}
	for (;;) {
		rc = SSL_read(ssl, rbuf, sizeof(rbuf));
		if (rc <= 0) {
			int e = SSL_get_error(ssl, rc);

			if (e == SSL_ERROR_ZERO_RETURN)
				break;
			return fail("read");
		}
		if (in_header) {
			size_t take = (size_t)rc < sizeof(hdr) - 1 - hlen ? (size_t)rc
									  : sizeof(hdr) - 1 - hlen;
			char *end;

			memcpy(hdr + hlen, rbuf, take);
			hlen += take;
			hdr[hlen] = '\0';
			end = strstr(hdr, "\r\n\r\n");
			if (!end) {
				if (hlen == sizeof(hdr) - 1)
					return fail("HTTP header too long");
				continue;
			}
			if (strncmp(hdr, "HTTP/1.1 200", 12) != 0)
				return fail("HTTP status is not 200");
			in_header = 0;
			/* Body bytes of this read: everything after the header's end. */
			body += (unsigned long long)(hlen - (size_t)(end + 4 - hdr));
			body += (unsigned long long)((size_t)rc - take);
			continue;
		}
		body += (unsigned long long)rc;
	}
	t1 = now();
	printf("bytes=%llu secs=%.3f version=%s cipher=%s\n", body, t1 - t0, SSL_get_version(ssl),
	       SSL_get_cipher_name(ssl));
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	if (body != expect) {
		fprintf(stderr, "tlsget: got %llu bytes, expected %llu\n", body, expect);
		return 1;
	}
	return 0;
}
