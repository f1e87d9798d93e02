// SPDX-License-Identifier: MIT
/*
 * client.c - connect to the control socket, send one request line, read one reply
 * line, all within one deadline.
 *
 * The socket is non-blocking and every wait is a poll() bounded by what is left of
 * the deadline, so a daemon that accepts and never answers costs the timeout and
 * no more. The reply is read until its '\n' into a buffer that doubles as needed, up
 * to CTL_MAX_REPLY. A daemon that closes the connection while we are still sending
 * (a refused peer gets one error reply and is closed) is not an error by itself:
 * its reply is read all the same.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "ktlsctl.h"

#define FIRST_BUF (64u << 10)

struct deadline {
	struct timespec end;
	double timeout;
};

static void deadline_start(struct deadline *d, double timeout)
{
	time_t whole = (time_t)timeout; /* > 0: truncation is floor() */

	clock_gettime(CLOCK_MONOTONIC, &d->end);
	d->end.tv_sec += whole;
	d->end.tv_nsec += (long)((timeout - (double)whole) * 1e9);
	if (d->end.tv_nsec >= 1000000000L) {
		d->end.tv_sec++;
		d->end.tv_nsec -= 1000000000L;
	}
	d->timeout = timeout;
}

/* Milliseconds left, rounded up; 0 once it has passed. */
static int deadline_left_ms(const struct deadline *d)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(d->end.tv_sec - now.tv_sec) * 1000 +
	     (d->end.tv_nsec - now.tv_nsec + 999999) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * Waits for @events on @fd until the deadline. Return: the revents (never 0), 0 when
 * the deadline passed, -1 with errno on a poll error.
 */
static int wait_fd(int fd, short events, const struct deadline *d)
{
	struct pollfd p = { .fd = fd, .events = events };
	int left, n;

	for (;;) {
		left = deadline_left_ms(d);
		if (left == 0)
			return 0;
		n = poll(&p, 1, left);
		if (n > 0)
			return p.revents;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int do_connect(int fd, const char *path, const struct deadline *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const struct timespec pause = { .tv_nsec = 10000000L };
	socklen_t elen = sizeof(int);
	int err = 0;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* A unix socket's listen backlog is full: try again shortly. */
			if (deadline_left_ms(d) == 0) {
				ctl_warn(
					"cannot connect to %s within %g s: its listen backlog stays full",
					path, d->timeout);
				return -1;
			}
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno == EINPROGRESS) {
			int ev = wait_fd(fd, POLLOUT, d);

			if (ev == 0) {
				ctl_warn("cannot connect to %s within %g s", path, d->timeout);
				return -1;
			}
			if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			if (!err)
				return 0;
			errno = err;
		}
		break;
	}
	err = errno;
	if (err == ENOENT || err == ECONNREFUSED)
		ctl_warn("cannot connect to %s: %s (is ktlsd running with control_socket set?)",
			 path, strerror(err));
	else if (err == EACCES || err == EPERM)
		ctl_warn("cannot connect to %s: %s (the socket's control_mode/control_group decide "
			 "who may connect)",
			 path, strerror(err));
	else
		ctl_warn("cannot connect to %s: %s", path, strerror(err));
	return -1;
}

/*
 * Sends the request. Return: 0 when it is all out or when the daemon stopped
 * reading (closed, or answered early: its reply says why), -1 after a message.
 */
static int send_all(int fd, const char *path, const char *buf, size_t len, const struct deadline *d)
{
	size_t off = 0;
	ssize_t n;
	int ev;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EAGAIN) {
			ctl_warn("cannot send the request to %s: %s", path, strerror(errno));
			return -1;
		}
		ev = wait_fd(fd, POLLOUT | POLLIN, d);
		if (ev == 0) {
			ctl_warn("%s did not take the request within %g s", path, d->timeout);
			return -1;
		}
		if (ev < 0) {
			ctl_warn("poll on %s: %s", path, strerror(errno));
			return -1;
		}
		if (!(ev & POLLOUT))
			return 0; /* something to read already: the reply */
	}
	return 0;
}

static int read_reply(int fd, const char *path, const struct deadline *d, char **reply,
		      size_t *rlen)
{
	size_t cap = FIRST_BUF, len = 0;
	char *buf = malloc(cap), *nl;
	ssize_t n;
	int ev;

	if (!buf)
		ctl_fatal("out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			char *nbuf;

			if (cap >= CTL_MAX_REPLY) {
				ctl_warn("the reply from %s is larger than %u MiB: giving up", path,
					 CTL_MAX_REPLY >> 20);
				goto fail;
			}
			cap *= 2;
			nbuf = realloc(buf, cap);
			if (!nbuf)
				ctl_fatal("out of memory (reply of more than %zu bytes)", len);
			buf = nbuf;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n > 0) {
			nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl) {
				*nl = '\0';
				*reply = buf;
				*rlen = (size_t)(nl - buf);
				return 0;
			}
			continue;
		}
		if (n == 0 || errno == ECONNRESET) {
			if (len == 0)
				ctl_warn("%s closed the connection without a reply%s", path,
					 n ? " (reset)" : "");
			else
				ctl_warn(
					"%s closed the connection in the middle of its reply (%zu bytes, "
					"no end of line)",
					path, len);
			goto fail;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			ctl_warn("cannot read the reply from %s: %s", path, strerror(errno));
			goto fail;
		}
		ev = wait_fd(fd, POLLIN, d);
		if (ev == 0) {
			if (len == 0)
				ctl_warn("no reply from %s within %g s", path, d->timeout);
			else
				ctl_warn(
					"the reply from %s is incomplete after %g s (%zu bytes so far)",
					path, d->timeout, len);
			goto fail;
		}
		if (ev < 0) {
			ctl_warn("poll on %s: %s", path, strerror(errno));
			goto fail;
		}
	}
fail:
	free(buf);
	return -1;
}

int ctl_exchange(const char *path, double timeout, const char *req, size_t len, char **reply,
		 size_t *rlen)
{
	struct sockaddr_un sa;
	struct deadline d;
	int fd, ret = CTL_EXIT_NOREPLY;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_warn("cannot connect to %s: the path is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return CTL_EXIT_NOREPLY;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_warn("socket: %s", strerror(errno));
		return CTL_EXIT_NOREPLY;
	}
	deadline_start(&d, timeout);
	if (do_connect(fd, path, &d) == 0 && send_all(fd, path, req, len, &d) == 0 &&
	    read_reply(fd, path, &d, reply, rlen) == 0)
		ret = 0;
	close(fd);
	return ret;
}
