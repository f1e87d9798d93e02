/* SPDX-License-Identifier: MIT */
/*
 * ktlsd/handoff.h - the handoff socket's wire protocol (docs/handoff-protocol.md).
 *
 * An application connected to ktlsd's handoff socket (AF_UNIX, SOCK_SEQPACKET) sends one
 * request packet carrying its connected TCP socket (SCM_RIGHTS, exactly one fd); ktlsd
 * performs the TLS handshake on it and answers with one reply packet, carrying on success
 * the socket to use from then on (SCM_RIGHTS, one fd): the same TCP socket with kernel TLS
 * installed, or, where the kernel cannot, one end of a socketpair that ktlsd relays
 * through userspace TLS. Several requests may be outstanding on one connection; replies
 * carry the request's id. A POOL request carries no descriptor; its reply carries a
 * connection ktlsd established (and usually had ready). All integers are in host byte order (the peers share a host).
 */
#ifndef KTLSD_HANDOFF_H
#define KTLSD_HANDOFF_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define KTLSD_HANDOFF_MAGIC   0x4b544c48u /* "KTLH" */
#define KTLSD_HANDOFF_VERSION 1
#define KTLSD_HANDOFF_SOCKET  "/run/ktlsd/handoff.sock"

enum ktlsd_handoff_op {
	KTLSD_HANDOFF_SERVER = 1, /* ktlsd is the TLS server on the socket */
	KTLSD_HANDOFF_CLIENT = 2, /* ktlsd is the TLS client (SNI + verification) */
	KTLSD_HANDOFF_POOL = 3,	  /* a ready client connection to a configured upstream */
};

/* Request flags. */
#define KTLSD_HANDOFF_F_REQUIRE_KTLS (1u << 0) /* fail rather than fall back to a relay */
/* CLIENT: finish the handshake even if the server's certificate does not verify; the
 * reply's verify_result says what failed and R_VERIFIED is clear. */
#define KTLSD_HANDOFF_F_VERIFY_OPTIONAL (1u << 1)

struct ktlsd_handoff_req {
	uint32_t magic;
	uint16_t version;
	uint16_t op; /* enum ktlsd_handoff_op */
	uint64_t id; /* chosen by the application, echoed in the reply */
	uint32_t flags;
	uint32_t timeout_ms; /* handshake deadline; 0: the daemon's default */
	union {
		char profile[64];  /* SERVER: the profile to serve; "" = the first one allowed */
		char upstream[64]; /* POOL: the configured upstream's name */
	};
	char host[256]; /* CLIENT: SNI and the name verified (a DNS name or an IP address) */
	char alpn[128]; /* ALPN protocols, comma-separated, preference order; "" none */
};

enum ktlsd_handoff_status {
	KTLSD_HANDOFF_OK = 0,
	KTLSD_HANDOFF_E_REQUEST,   /* malformed request, no fd or more than one */
	KTLSD_HANDOFF_E_SOCKET,	   /* the fd is not a connected TCP socket */
	KTLSD_HANDOFF_E_PROFILE,   /* unknown profile, or not allowed on this socket */
	KTLSD_HANDOFF_E_HANDSHAKE, /* the handshake failed (message says why) */
	KTLSD_HANDOFF_E_TIMEOUT,   /* the handshake did not finish in time */
	KTLSD_HANDOFF_E_NO_KTLS,   /* REQUIRE_KTLS and the kernel cannot */
	KTLSD_HANDOFF_E_BUSY,	   /* too many handshakes in progress */
	KTLSD_HANDOFF_E_INTERNAL,
	KTLSD_HANDOFF_E_PERMISSION, /* the peer's uid is not allowed */
	KTLSD_HANDOFF_E_VERIFY,	    /* CLIENT/POOL: the server's certificate did not verify */
	KTLSD_HANDOFF_E_UPSTREAM,   /* POOL: unknown upstream, or it cannot be reached */
	KTLSD_HANDOFF_E_DRAINING,   /* ktlsd is draining or stopping: no new handshakes */
};

/* Reply flags. */
#define KTLSD_HANDOFF_R_KTLS_TX	 (1u << 0) /* the returned fd has kernel TLS for sending */
#define KTLSD_HANDOFF_R_KTLS_RX	 (1u << 1) /* ... and for receiving */
#define KTLSD_HANDOFF_R_RELAY	 (1u << 2) /* the fd is a socketpair end relayed by ktlsd */
#define KTLSD_HANDOFF_R_RESUMED	 (1u << 3) /* the handshake resumed a session */
#define KTLSD_HANDOFF_R_VERIFIED (1u << 4) /* CLIENT: the server's certificate verified */
#define KTLSD_HANDOFF_R_POOLED	 (1u << 5) /* POOL: taken ready from the pool (not a miss) */

struct ktlsd_handoff_reply {
	uint32_t magic;
	uint16_t version;
	uint16_t status; /* enum ktlsd_handoff_status */
	uint64_t id;
	uint32_t flags;	      /* KTLSD_HANDOFF_R_* */
	uint16_t tls_version; /* 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
	uint16_t reserved;
	int32_t verify_result; /* X509_V_OK (0) or the X509_V_ERR_* code */
	uint32_t handshake_us; /* the handshake's duration inside ktlsd */
	char cipher[64];
	char group[32];
	char alpn[64];
	char sni[256];
	char peer_subject[256]; /* CLIENT: the server certificate's subject (RFC 2253) */
	char message[256];	/* why, when status is not OK */
};

/*
 * ktlsd_handoff_recv() - receive one packet of at most @len bytes into @buf, without
 * blocking, with the descriptors that came with it: up to @max into @fds (*n_fds of them;
 * more are closed). Used by both ends. Return: the packet's length (0: the peer closed),
 * -EMSGSIZE if the packet or its descriptors were truncated, or -errno.
 */
static inline ssize_t ktlsd_handoff_recv(int sock, void *buf, size_t len, int *fds, int max,
					 int *n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	*n_fds = 0;
	if (n < 0)
		return -errno;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*n_fds < max)
				fds[(*n_fds)++] = fd;
			else
				close(fd);
		}
	}
	return (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EMSGSIZE : n;
}

/*
 * ktlsd_handoff_send() - send one packet of @len bytes with descriptor @fd attached (none
 * if @fd < 0); @flags for sendmsg() (MSG_NOSIGNAL is added). Used by both ends.
 * Return: 0 or -errno.
 */
static inline int ktlsd_handoff_send(int sock, const void *buf, size_t len, int fd, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, flags | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

#endif
