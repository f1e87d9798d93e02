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

struct ktls_result {
	int status;	       /* enum ktlsd_handoff_status (0: OK) */
	uint64_t id;	       /* the request's id */
	bool ktls_tx, ktls_rx; /* kernel TLS installed on the socket */
	bool relay;	       /* the descriptor is a socketpair end relayed by ktlsd */
	bool resumed;
	unsigned tls_version; /* 0x0303, 0x0304 */
	unsigned handshake_us;
	char cipher[64];
	char group[32];
	char alpn[64];
	char sni[256];
	char message[256];
};

/* Connects to ktlsd's handoff socket (@path NULL: $KTLSD_HANDOFF_SOCKET, else
 * /run/ktlsd/handoff.sock). Returns the descriptor or -errno. */
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
 * Non-blocking form, for an application's own event loop: ktls_server_send() queues the
 * request (tagged @id) and returns at once; when @h is readable, ktls_recv_result()
 * returns one result (-EAGAIN if none yet) with *newfd the descriptor to use (-1 on
 * failure). The application then replaces its socket: ktls_adopt(newfd, fd).
 */
int ktls_server_send(int h, int fd, uint64_t id, const char *profile, const char *alpn,
		     unsigned timeout_ms);
int ktls_recv_result(int h, struct ktls_result *res, int *newfd);
/* dup2()s @newfd onto @fd keeping @fd's O_NONBLOCK, then closes @newfd. */
int ktls_adopt(int newfd, int fd);

#ifdef __cplusplus
}
#endif

#endif
