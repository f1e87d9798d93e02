// SPDX-License-Identifier: MIT
/*
 * ktls.c - libktls, the application side of ktlsd's handoff socket (ktlsd/ktls.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <ktlsd/handoff.h>
#include <ktlsd/ktls.h>

int ktls_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int h;

	if (!path)
		path = getenv("KTLSD_HANDOFF_SOCKET");
	if (!path || !*path)
		path = KTLSD_HANDOFF_SOCKET;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	h = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (h < 0)
		return -errno;
	if (connect(h, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int err = -errno;

		close(h);
		return err;
	}
	return h;
}

void ktls_close(int h)
{
	if (h >= 0)
		close(h);
}

static int ktls_copy(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= len)
		return -ENAMETOOLONG;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

_Static_assert(KTLS_REQUIRE_KTLS == KTLSD_HANDOFF_F_REQUIRE_KTLS, "ktls.h flag");
_Static_assert(KTLS_VERIFY_OPTIONAL == KTLSD_HANDOFF_F_VERIFY_OPTIONAL, "ktls.h flag");

/* One request's contents; @name is the profile (SERVER) or the upstream (POOL). */
struct ktls_req_args {
	uint16_t op;
	unsigned flags;
	unsigned timeout_ms;
	const char *name;
	const char *host;
	const char *alpn;
	int fd; /* the socket to attach; POOL: none (-1) */
};

/* Builds the request and sends it tagged @id, with @a->fd attached unless it is POOL. */
static int ktls_send_req(int h, uint64_t id, const struct ktls_req_args *a)
{
	struct ktlsd_handoff_req req = {
		.magic = KTLSD_HANDOFF_MAGIC,
		.version = KTLSD_HANDOFF_VERSION,
		.op = a->op,
		.id = id,
		.flags = a->flags,
		.timeout_ms = a->timeout_ms,
	};
	if (ktls_copy(req.profile, sizeof(req.profile), a->name) < 0 ||
	    ktls_copy(req.host, sizeof(req.host), a->host) < 0 ||
	    ktls_copy(req.alpn, sizeof(req.alpn), a->alpn) < 0)
		return -ENAMETOOLONG;
	if (a->op != KTLSD_HANDOFF_POOL && a->fd < 0)
		return -EBADF;
	return ktlsd_handoff_send(h, &req, sizeof(req), a->op == KTLSD_HANDOFF_POOL ? -1 : a->fd,
				  0);

	return 0;
}

int ktls_server_send(int h, int fd, uint64_t id, const char *profile, const char *alpn,
		     unsigned timeout_ms)
{
	const struct ktls_req_args a = { .op = KTLSD_HANDOFF_SERVER,
					 .timeout_ms = timeout_ms,
					 .name = profile,
					 .alpn = alpn,
					 .fd = fd };

	return ktls_send_req(h, id, &a);
}

int ktls_client_send(int h, int fd, uint64_t id, const char *host, const char *alpn, unsigned flags,
		     unsigned timeout_ms)
{
	const struct ktls_req_args a = { .op = KTLSD_HANDOFF_CLIENT,
					 .flags = flags,
					 .timeout_ms = timeout_ms,
					 .host = host,
					 .alpn = alpn,
					 .fd = fd };

	return ktls_send_req(h, id, &a);
}

int ktls_pool_send(int h, uint64_t id, const char *upstream, unsigned timeout_ms)
{
	const struct ktls_req_args a = {
		.op = KTLSD_HANDOFF_POOL, .timeout_ms = timeout_ms, .name = upstream, .fd = -1
	};

	return ktls_send_req(h, id, &a);
}

int ktls_recv_result(int h, struct ktls_result *res, int *newfd)
{
	struct ktlsd_handoff_reply r;
	int n_fds;
	ssize_t n;

	*newfd = -1;
	memset(res, 0, sizeof(*res));
	memset(&r, 0, sizeof(r));
	n = ktlsd_handoff_recv(h, &r, sizeof(r), newfd, 1, &n_fds);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0 && n != -EMSGSIZE) {
		if (*newfd >= 0)
			close(*newfd);
		*newfd = -1;
		return (int)n;
	}
	if ((size_t)n != sizeof(r) || r.magic != KTLSD_HANDOFF_MAGIC ||
	    r.version != KTLSD_HANDOFF_VERSION) {
		if (*newfd >= 0)
			close(*newfd);
		*newfd = -1;
		return -EBADMSG;
	}
	res->status = r.status;
	res->id = r.id;
	res->ktls_tx = r.flags & KTLSD_HANDOFF_R_KTLS_TX;
	res->ktls_rx = r.flags & KTLSD_HANDOFF_R_KTLS_RX;
	res->relay = r.flags & KTLSD_HANDOFF_R_RELAY;
	res->resumed = r.flags & KTLSD_HANDOFF_R_RESUMED;
	res->verified = r.flags & KTLSD_HANDOFF_R_VERIFIED;
	res->pooled = r.flags & KTLSD_HANDOFF_R_POOLED;
	res->verify_result = r.verify_result;
	res->tls_version = r.tls_version;
	res->handshake_us = r.handshake_us;
	r.cipher[sizeof(r.cipher) - 1] = r.group[sizeof(r.group) - 1] = r.alpn[sizeof(r.alpn) - 1] =
		r.sni[sizeof(r.sni) - 1] = r.peer_subject[sizeof(r.peer_subject) - 1] =
			r.message[sizeof(r.message) - 1] = '\0';
	memcpy(res->cipher, r.cipher, sizeof(res->cipher));
	memcpy(res->group, r.group, sizeof(res->group));
	memcpy(res->alpn, r.alpn, sizeof(res->alpn));
	memcpy(res->sni, r.sni, sizeof(res->sni));
	memcpy(res->peer_subject, r.peer_subject, sizeof(res->peer_subject));
	memcpy(res->message, r.message, sizeof(res->message));
	if (r.status != KTLSD_HANDOFF_OK || *newfd < 0) {
		if (*newfd >= 0)
			close(*newfd);
		*newfd = -1;
		return -EPROTO;
	}
	return 0;
}

/* Sets or clears @fd's O_NONBLOCK. */
static int ktls_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int ktls_adopt(int newfd, int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	int err = fl < 0 || fdfl < 0 ? -errno : 0;

	if (!err)
		err = ktls_set_nonblock(newfd, fl & O_NONBLOCK);
	/* dup3(), not dup2(): @fd keeps its close-on-exec setting too. */
	if (!err && newfd != fd && dup3(newfd, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0)
		err = -errno;
	if (newfd != fd)
		close(newfd);
	return err;
}

static uint64_t ktls_next_id(void)
{
	static uint64_t next_id;

	return __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
}

/*
 * The blocking calls' wait: @sent is what sending request @id returned; waits for the
 * reply to @id (threads must not share @h this way: a reply to another id is -EBADMSG).
 * Return: as ktls_recv_result(), *newfd the descriptor on success.
 */
static int ktls_wait(int h, uint64_t id, int sent, struct ktls_result *res, int *newfd)
{
	memset(res, 0, sizeof(*res));
	*newfd = -1;
	if (sent < 0)
		return sent;
	for (;;) {
		struct pollfd p = { .fd = h, .events = POLLIN };
		int ret;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = ktls_recv_result(h, res, newfd);
		if (ret == -EAGAIN || ret == -EINTR)
			continue;
		if ((ret == 0 || ret == -EPROTO) && res->id != id) {
			if (*newfd >= 0)
				close(*newfd);
			*newfd = -1;
			return -EBADMSG;
		}
		return ret;
	}
}

int ktls_server(int h, int fd, const char *profile, const char *alpn, unsigned timeout_ms,
		struct ktls_result *res)
{
	uint64_t id = ktls_next_id();
	int sent = ktls_server_send(h, fd, id, profile, alpn, timeout_ms), newfd;
	int ret = ktls_wait(h, id, sent, res, &newfd);

	return ret < 0 ? ret : ktls_adopt(newfd, fd);
}

int ktls_client(int h, int fd, const char *host, const char *alpn, unsigned flags,
		unsigned timeout_ms, struct ktls_result *res)
{
	uint64_t id = ktls_next_id();
	int sent = ktls_client_send(h, fd, id, host, alpn, flags, timeout_ms), newfd;
	int ret = ktls_wait(h, id, sent, res, &newfd);

	return ret < 0 ? ret : ktls_adopt(newfd, fd);
}

int ktls_pool_get(int h, const char *upstream, unsigned timeout_ms, struct ktls_result *res)
{
	uint64_t id = ktls_next_id();
	int sent = ktls_pool_send(h, id, upstream, timeout_ms), newfd;
	int ret = ktls_wait(h, id, sent, res, &newfd);

	if (ret == 0)
		ret = ktls_set_nonblock(newfd, false);
	if (ret < 0) {
		if (newfd >= 0)
			close(newfd);
		return ret;
	}
	return newfd;
}

const char *ktls_strstatus(int status)
{
	static const char *const names[] = {
		[KTLSD_HANDOFF_OK] = "ok",
		[KTLSD_HANDOFF_E_REQUEST] = "bad request",
		[KTLSD_HANDOFF_E_SOCKET] = "not a connected TCP socket",
		[KTLSD_HANDOFF_E_PROFILE] = "unknown or disallowed profile",
		[KTLSD_HANDOFF_E_HANDSHAKE] = "handshake failed",
		[KTLSD_HANDOFF_E_TIMEOUT] = "handshake timed out",
		[KTLSD_HANDOFF_E_NO_KTLS] = "kernel TLS unavailable",
		[KTLSD_HANDOFF_E_BUSY] = "busy",
		[KTLSD_HANDOFF_E_INTERNAL] = "internal error",
		[KTLSD_HANDOFF_E_PERMISSION] = "permission denied",
		[KTLSD_HANDOFF_E_VERIFY] = "certificate verification failed",
		[KTLSD_HANDOFF_E_UPSTREAM] = "upstream unknown or unreachable",
		[KTLSD_HANDOFF_E_DRAINING] = "ktlsd is draining or stopping",
	};

	_Static_assert(sizeof(names) / sizeof(names[0]) == KTLSD_HANDOFF_E_DRAINING + 1,
		       "a name for every status");
	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "unknown status";
	return names[status];
}
