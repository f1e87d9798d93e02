/* SPDX-License-Identifier: MIT */
/*
 * ktlsd/ktls.h - libktls: hand a connected TCP socket to ktlsd for the TLS handshake and
 * get it back with kernel TLS installed (docs/handoff-protocol.md).
 *
 *	int h = ktls_open(NULL);                 // the handoff socket, once per process
 *	struct ktls_result res;
 *	int fd = accept(listener, NULL, NULL);
 *	if (ktls_server(h, fd, "default", "http/1.1", 5000, &res) == 0)
 *		// fd now carries TLS: plain read(), write(), sendfile() on it
 *
 * The client role: connect() a TCP socket yourself, and ktlsd performs the client side
 * of the handshake, verifying the server's certificate for the name given:
 *
 *	int fd = socket(AF_INET, SOCK_STREAM, 0);
 *	connect(fd, ...);
 *	if (ktls_client(h, fd, "example.com", "h2,http/1.1", 0, 5000, &res) == 0)
 *		// fd now carries TLS to a verified example.com (res.verified)
 *
 * or take a ready connection to an upstream configured in ktlsd (its warm pool):
 *
 *	int fd = ktls_pool_get(h, "backend", 5000, &res);
 *
 * After a successful call the application's descriptor number is unchanged; it refers to
 * the same TCP socket with kernel TLS (res.ktls_tx/rx), or, where the kernel cannot,
 * to a socketpair end that ktlsd relays through userspace TLS (res.relay). Either way the
 * application just reads and writes plaintext.
 *
 * Link with -lktls (pkg-config ktls). Every function returns 0 or a negative errno; a
 * refusal by ktlsd is -EPROTO with res->status and res->message saying why.
 */
#ifndef KTLSD_KTLS_H
#define KTLSD_KTLS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of ktls_client() (the protocol's KTLSD_HANDOFF_F_* bits). */
#define KTLS_REQUIRE_KTLS    (1u << 0) /* fail (status 6) rather than fall back to a relay */
#define KTLS_VERIFY_OPTIONAL (1u << 1) /* finish even if the certificate does not verify */

struct ktls_result {
	int status;	       /* enum ktlsd_handoff_status (0: OK); ktls_strstatus() */
	uint64_t id;	       /* the request's id */
	bool ktls_tx, ktls_rx; /* kernel TLS installed on the socket */
	bool relay;	       /* the descriptor is a socketpair end relayed by ktlsd */
	bool resumed;
	bool verified;	      /* client role: the server's certificate verified for the name */
	bool pooled;	      /* ktls_pool_get(): taken ready from the pool, not made on demand */
	int verify_result;    /* client role: X509_V_OK (0) or the X509_V_ERR_* code */
	unsigned tls_version; /* 0x0303, 0x0304 */
	unsigned handshake_us;
	char cipher[64];
	char group[32];
	char alpn[64];
	char sni[256];
	char peer_subject[256]; /* client role: the server certificate's subject (RFC 2253) */
	char message[256];
};

/* Connects to ktlsd's handoff socket (@path NULL: $KTLSD_HANDOFF_SOCKET, else
 * /run/ktlsd/handoff.sock). Returns the descriptor or -errno. A handle serves one run of
 * ktlsd: after a restart its calls fail with -ECONNRESET or -EPIPE; close it and open a
 * new one. */
int ktls_open(const char *path);
void ktls_close(int h);

/*
 * Blocking: ktlsd performs the server side of the handshake on @fd with @profile (NULL or
 * "": the first one allowed) and @alpn (comma-separated, NULL: none), within @timeout_ms
 * (0: ktlsd's default). On success @fd is replaced as described above and keeps its
 * O_NONBLOCK setting. On failure @fd is untouched (still the plain TCP socket).
 */
int ktls_server(int h, int fd, const char *profile, const char *alpn, unsigned timeout_ms,
		struct ktls_result *res);

/*
 * Blocking: ktlsd performs the client side of the handshake on @fd, a connected TCP
 * socket, sending @host as SNI and verifying the server's certificate for @host (a DNS
 * name or an IP address) against the system's CA store or ktlsd's configured one; @alpn
 * is offered (comma-separated, preference order; NULL: none). @flags: KTLS_REQUIRE_KTLS,
 * KTLS_VERIFY_OPTIONAL (the handshake completes whatever the verification's outcome:
 * check res->verified and res->verify_result). Otherwise a certificate that does not
 * verify is status 10, with res->message naming the X509 error. On success @fd is
 * replaced as with ktls_server() and keeps its O_NONBLOCK setting; on failure it is
 * untouched.
 */
int ktls_client(int h, int fd, const char *host, const char *alpn, unsigned flags,
		unsigned timeout_ms, struct ktls_result *res);

/*
 * Blocking: a TLS client connection to @upstream, an upstream configured in ktlsd, ready
 * for application data: taken from ktlsd's warm pool (res->pooled), or, if none is
 * ready, connected and handshaken on demand within @timeout_ms (0: ktlsd's default).
 * Returns the new descriptor (the caller's to close; blocking mode, close-on-exec) or
 * -errno; an unknown or unreachable upstream is -EPROTO with res->status 11.
 */
int ktls_pool_get(int h, const char *upstream, unsigned timeout_ms, struct ktls_result *res);

/*
 * Non-blocking form, for an application's own event loop: ktls_server_send() queues the
 * request (tagged @id) and returns at once; when @h is readable, ktls_recv_result()
 * returns one result (-EAGAIN if none yet) with *newfd the descriptor to use (-1 on
 * failure). The application then replaces its socket: ktls_adopt(newfd, fd).
 */
int ktls_server_send(int h, int fd, uint64_t id, const char *profile, const char *alpn,
		     unsigned timeout_ms);
/* The same for the client role (arguments as ktls_client()); ktls_adopt() the result. */
int ktls_client_send(int h, int fd, uint64_t id, const char *host, const char *alpn, unsigned flags,
		     unsigned timeout_ms);
/* The same for ktls_pool_get(); the result's *newfd is the connection itself, not to be
 * ktls_adopt()ed; its O_NONBLOCK setting is unspecified: set the one wanted (fcntl()). */
int ktls_pool_send(int h, uint64_t id, const char *upstream, unsigned timeout_ms);
int ktls_recv_result(int h, struct ktls_result *res, int *newfd);
/* Puts @newfd on @fd (dup3) keeping @fd's O_NONBLOCK and close-on-exec, then closes @newfd. */
int ktls_adopt(int newfd, int fd);

/* A short constant description of res->status ("ok", "bad request", ...). */
const char *ktls_strstatus(int status);

#ifdef __cplusplus
}
#endif

#endif
