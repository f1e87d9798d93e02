/* SPDX-License-Identifier: MIT */
/*
 * tlsget.c - the TLS client of bench/run.sh. Two modes:
 *
 *   tlsget HOST PORT EXPECT_BYTES [HTTP_PATH]
 *
 * Bulk: one TLS 1.3 connection (AES-256-GCM, X25519, no certificate check, no session
 * reuse) that downloads everything the server sends and discards it. With HTTP_PATH it sends
 * "GET HTTP_PATH HTTP/1.1" (Connection: close) and counts only the body; without, it sends
 * nothing and counts every byte until the server closes. Prints
 *   bytes=N secs=S version=V cipher=C
 * on stdout and exits 0 only if exactly EXPECT_BYTES arrived. Gives up after 300 s.
 *
 *   tlsget -l SECS [-v 1.2|1.3] [-m ticket|id|none] [-q] HOST PORT
 *
 * Handshake loop: for SECS seconds, one connection after the other, each a handshake and
 * nothing else, the way a returning client resumes (groups X25519 then P-256, no certificate
 * check, no SNI):
 *   ticket  (default) offer the session of the previous connection. TLS 1.3: the newest
 *           ticket received (tickets are single use): after the handshake the client reads
 *           until one NewSessionTicket has arrived (at most 1 s) and keeps that one; the
 *           client offers psk_dhe_ke only (OpenSSL's default), so every resumption also does
 *           an X25519 exchange. TLS 1.2: the session (with its ticket) of the previous
 *           connection.
 *   id      TLS 1.2 only: the client sends no SessionTicket extension (SSL_OP_NO_TICKET), so
 *           the server can only resume from its session-ID cache.
 *   none    full handshakes, no session ever offered (like openssl s_time -new).
 * Every connection ends with a close_notify from the client, then close() (-q: no
 * close_notify, the socket is just closed, as s_time does). Prints
 *   handshakes=N offered=O resumed=R no_ticket=T failed=F secs=S version=V cipher=C
 * on stdout (C: the cipher suite of the last handshake): N completed handshakes, O of them offered a session, R of those the server
 * resumed (SSL_session_reused()), T TLS 1.3 handshakes after which no ticket came within 1 s,
 * F connections that failed (the first three are logged to stderr; they are not counted in N). Exits 0 if
 * at least one handshake completed. Gives up after SECS + 60 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s HOST PORT EXPECT_BYTES [HTTP_PATH]\n"
		"       %s -l SECS [-v 1.2|1.3] [-m ticket|id|none] [-q] HOST PORT\n",
		argv0, argv0);
	return 2;
}

static int set_addr(struct sockaddr_in *sa, const char *host, const char *port)
{
	long p = strtol(port, NULL, 10);

	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)p);
	return p > 0 && p < 65536 && inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

/* ---------------------------------------------------------------- handshake loop */

/* The newest session the library handed over (a new full session, or a TLS 1.3 ticket). */
static SSL_SESSION *newest;
static unsigned long sessions_seen;

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	SSL_SESSION_free(newest);
	newest = sess; /* returning 1 keeps the reference */
	sessions_seen++;
	return 1;
}

/*
 * After a TLS 1.3 handshake: read until a NewSessionTicket has been processed. Without
 * SSL_MODE_AUTO_RETRY, SSL_read() returns after each non-application record, so each ticket
 * ends one call; SO_RCVTIMEO bounds the wait. Returns 1 if a ticket came.
 */
static int await_ticket(SSL *ssl, unsigned long seen_before)
{
	unsigned char b[256];
	int i;

	for (i = 0; i < 8 && sessions_seen == seen_before; i++) {
		int rc = SSL_read(ssl, b, sizeof(b));

		if (rc <= 0 && SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ)
			break;
	}
	ERR_clear_error();
	return sessions_seen != seen_before;
}

static int loop_main(const struct sockaddr_in *sa, double secs, int version, char mode, int quiet)
{
	unsigned long long n = 0, offered = 0, resumed = 0, no_ticket = 0, failed = 0;
	char cipher[64] = "-";
	const struct timeval rcvto = {.tv_sec = 1};
	SSL_SESSION *sess = NULL;
	double t0, t1;
	SSL_CTX *ctx;

	/*
	 * X25519 first, so that it is the key share; P-256 too, because in TLS 1.2 the client's
	 * supported_groups also names the curves it accepts for an ECDSA certificate.
	 */
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, version) ||
	    !SSL_CTX_set_max_proto_version(ctx, version) ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519:P-256"))
		return fail("SSL_CTX setup");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
	if (mode == 'i')
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (mode == 'n') {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	}

	t0 = now();
	do {
		unsigned long seen = sessions_seen;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		SSL *ssl = NULL;

		if (fd < 0)
			return fail("socket");
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
			if (failed < 3)
				fprintf(stderr, "tlsget: connect: %s\n", strerror(errno));
			goto failed;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcvto, sizeof(rcvto));
		ssl = SSL_new(ctx);
		if (!ssl || !SSL_set_fd(ssl, fd) || (sess && !SSL_set_session(ssl, sess)))
			return fail("SSL_new");
		if (SSL_connect(ssl) != 1) {
			if (failed < 3) {
				fprintf(stderr, "tlsget: handshake %llu failed%s\n", n + failed + 1,
					sess ? " (session offered)" : "");
				ERR_print_errors_fp(stderr);
			}
			goto failed;
		}
		n++;
		snprintf(cipher, sizeof(cipher), "%s", SSL_get_cipher_name(ssl));
		if (sess) {
			offered++;
			resumed += SSL_session_reused(ssl) ? 1 : 0;
		}
		if (mode != 'n') {
			if (version == TLS1_3_VERSION && !await_ticket(ssl, seen))
				no_ticket++;
			SSL_SESSION_free(sess);
			if (version == TLS1_3_VERSION) {
				/* The newest ticket: each is meant to be used once. */
				sess = newest;
				if (sess)
					SSL_SESSION_up_ref(sess);
			} else {
				/* The connection's own session, with whatever ticket it now has. */
				sess = SSL_get1_session(ssl);
			}
		}
		if (quiet)
			SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		else
			SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		continue;
failed:
		failed++;
		SSL_free(ssl);
		close(fd);
		ERR_clear_error();
		if (failed > 100 && failed > n)
			break;
	} while (now() - t0 < secs);
	t1 = now();
	printf("handshakes=%llu offered=%llu resumed=%llu no_ticket=%llu failed=%llu secs=%.3f "
	       "version=%s cipher=%s\n",
	       n, offered, resumed, no_ticket, failed, t1 - t0,
	       version == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2", cipher);
	SSL_SESSION_free(sess);
	SSL_SESSION_free(newest);
	SSL_CTX_free(ctx);
	return n > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- bulk */

static int bulk_main(const struct sockaddr_in *sa, unsigned long long expect, const char *path)
{
	static unsigned char rbuf[1 << 16];
	unsigned long long body = 0;
	char hdr[8192];
	size_t hlen = 0;
	int in_header = path != NULL, fd, rc;
	double t0, t1;
	SSL_CTX *ctx;
	SSL *ssl;

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
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
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

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {0};
	int opt, version = TLS1_3_VERSION, quiet = 0;
	double secs = 0;
	char mode = 't';

	while ((opt = getopt(argc, argv, "l:v:m:q")) != -1) {
		switch (opt) {
		case 'l':
			secs = strtod(optarg, NULL);
			if (!(secs > 0))
				return usage(argv[0]);
			break;
		case 'v':
			if (strcmp(optarg, "1.3") == 0)
				version = TLS1_3_VERSION;
			else if (strcmp(optarg, "1.2") == 0)
				version = TLS1_2_VERSION;
			else
				return usage(argv[0]);
			break;
		case 'm':
			if (strcmp(optarg, "ticket") && strcmp(optarg, "id") &&
			    strcmp(optarg, "none"))
				return usage(argv[0]);
			mode = optarg[0];
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return usage(argv[0]);
		}
	}
	argc -= optind;
	argv += optind;
	if (secs > 0) {
		if (argc != 2 || (mode == 'i' && version != TLS1_2_VERSION))
			return usage(argv[-optind]);
		if (set_addr(&sa, argv[0], argv[1]) < 0)
			return fail("HOST must be an IPv4 address, PORT a port");
		alarm((unsigned int)secs + 60);
		return loop_main(&sa, secs, version, mode, quiet);
	}
	if (argc < 3 || argc > 4)
		return usage(argv[-optind]);
	if (set_addr(&sa, argv[0], argv[1]) < 0)
		return fail("HOST must be an IPv4 address, PORT a port");
	alarm(300);
	return bulk_main(&sa, strtoull(argv[2], NULL, 10), argc > 3 ? argv[3] : NULL);
}
