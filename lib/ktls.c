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

int ktls_server_send(int h, int fd, uint64_t id, const char *profile, const char *alpn,
		     unsigned timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct ktlsd_handoff_req req = {
		.magic = KTLSD_HANDOFF_MAGIC,
		.version = KTLSD_HANDOFF_VERSION,
		.op = KTLSD_HANDOFF_SERVER,
		.id = id,
		.timeout_ms = timeout_ms,
	};
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *cm;

	if (ktls_copy(req.profile, sizeof(req.profile), profile) < 0 ||
	    ktls_copy(req.alpn, sizeof(req.alpn), alpn) < 0)
		return -ENAMETOOLONG;
	memset(&cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(h, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
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
	res->tls_version = r.tls_version;
	res->handshake_us = r.handshake_us;
	r.cipher[sizeof(r.cipher) - 1] = r.group[sizeof(r.group) - 1] = r.alpn[sizeof(r.alpn) - 1] =
		r.sni[sizeof(r.sni) - 1] = r.message[sizeof(r.message) - 1] = '\0';
	memcpy(res->cipher, r.cipher, sizeof(res->cipher));
	memcpy(res->group, r.group, sizeof(res->group));
	memcpy(res->alpn, r.alpn, sizeof(res->alpn));
	memcpy(res->sni, r.sni, sizeof(res->sni));
	memcpy(res->message, r.message, sizeof(res->message));
	if (r.status != KTLSD_HANDOFF_OK || *newfd < 0) {
		if (*newfd >= 0)
			close(*newfd);
		*newfd = -1;
		return -EPROTO;
	}
	return 0;
}

int ktls_adopt(int newfd, int fd)
{
	int fl = fcntl(fd, F_GETFL), nfl = fcntl(newfd, F_GETFL), err = 0;
	bool ok = fl >= 0 && nfl >= 0 &&
		  fcntl(newfd, F_SETFL, (nfl & ~O_NONBLOCK) | (fl & O_NONBLOCK)) == 0 &&
		  (newfd == fd || dup2(newfd, fd) >= 0);

	if (!ok)
		err = -errno;
	if (newfd != fd)
		close(newfd);
	return err;
}

int ktls_server(int h, int fd, const char *profile, const char *alpn, unsigned timeout_ms,
		struct ktls_result *res)
{
	static uint64_t next_id;
	uint64_t id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	int ret = ktls_server_send(h, fd, id, profile, alpn, timeout_ms), newfd;

	memset(res, 0, sizeof(*res));
	if (ret < 0)
		return ret;
	for (;;) {
		struct pollfd p = { .fd = h, .events = POLLIN };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = ktls_recv_result(h, res, &newfd);
		if (ret == -EAGAIN || ret == -EINTR)
			continue;
		if (ret == 0 && res->id != id) { /* one handoff connection per thread, please */
			close(newfd);
			return -EBADMSG;
		}
		if (ret < 0)
			return ret;
		return ktls_adopt(newfd, fd);
	}
}
