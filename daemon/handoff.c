// SPDX-License-Identifier: MIT
/*
 * handoff.c - the handoff socket (docs/handoff-protocol.md): applications send a connected
 * TCP socket and get it back with kernel TLS installed.
 *
 * One thread serves the SOCK_SEQPACKET socket: it accepts applications (uid checked with
 * SO_PEERCRED), receives each request with its descriptor (SCM_RIGHTS), checks both, and
 * posts a job to a worker, round robin. From there the connection is a worker's like any
 * other (handoff_conn.c), with the application in the place of the backend; the worker
 * sends the reply on its own duplicate of the application's connection. Nothing here
 * blocks on a handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ktlsd/handoff.h>

#include "ktlsd.h"
#include "unixsock.h"

#define HANDOFF_MAX_APPS 256
#define HANDOFF_MAX_FDS	 4 /* received per packet; more than one is an error */

struct handoff {
	struct ktlsd *k;
	pthread_t thread;
	struct unixsock us;
	int stop[2];
	int apps[HANDOFF_MAX_APPS]; /* connected applications, -1 free */
	unsigned next_worker;
};

/* An error reply straight from this thread (before any worker has the request). */
static void handoff_reply_now(int app_fd, uint64_t id, int status, const char *msg)
{
	struct ktlsd_handoff_reply r = {
		.magic = KTLSD_HANDOFF_MAGIC,
		.version = KTLSD_HANDOFF_VERSION,
		.status = (uint16_t)status,
		.id = id,
	};

	snprintf(r.message, sizeof(r.message), "%s", msg);
	if (send(app_fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("handoff: reply: %s", strerror(errno));
}

void handoff_job_fail(struct handoff_job *job, int status, const char *msg)
{
	handoff_reply_now(job->app_fd, job->id, status, msg);
	close(job->app_fd);
	close(job->cfd);
	free(job);
}

/* Is @fd a connected TCP socket? Writes why not into @msg. */
static bool handoff_check_socket(int fd, char *msg, size_t len)
{
	int type = 0, proto = 0, listening = 0;
	socklen_t sl = sizeof(int);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(msg, len, "the descriptor is not a socket");
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &(socklen_t){ sizeof(int) }) < 0 ||
	    proto != IPPROTO_TCP) {
		snprintf(msg, len, "the socket is not TCP");
		return false;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &(socklen_t){ sizeof(int) }) <
		    0 ||
	    listening) {
		snprintf(msg, len, "the socket is listening, not connected");
		return false;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0) {
		snprintf(msg, len, "the socket is not connected (%s)", strerror(errno));
		return false;
	}
	return true;
}

/* "h2,http/1.1" into ALPN wire format; false if an entry is empty or too long. */
static bool handoff_alpn_wire(const char *list, uint8_t *wire, uint8_t *wire_len)
{
	size_t n = 0;

	*wire_len = 0;
	while (*list) {
		const char *comma = strchr(list, ',');
		size_t len = comma ? (size_t)(comma - list) : strlen(list);

		if (!len || len > 255 || n + 1 + len > 128)
			return false;
		wire[n++] = (uint8_t)len;
		for (size_t i = 0; i < len; i++) /* length-prefixed, not NUL-terminated */
			wire[n++] = (uint8_t)list[i];
		list += len + (comma ? 1 : 0);
	}
	*wire_len = (uint8_t)n;
	return true;
}

/* The profile a request names, among the handoff socket's; -1 if none. */
static int handoff_find_profile(const struct snapshot *s, const char *name)
{
	const struct cfg_listener *l;

	if (!s->cfg->handoff.socket)
		return -1;
	l = &s->cfg->listeners[s->cfg->handoff_listener];
	for (size_t i = 0; i < l->n_profiles; i++)
		if (!name[0] || !strcmp(s->cfg->profiles[l->profiles[i]].name, name))
			return (int)l->profiles[i];
	return -1;
}

/* One request packet from an application. Returns false when the application is gone. */
static bool handoff_read_request(struct handoff *h, int app)
{
	struct ktlsd_handoff_req req;
	int fds[HANDOFF_MAX_FDS], n_fds = 0, profile;
	struct handoff_job *job;
	struct snapshot *s;
	char msg[160];
	ssize_t n;

	memset(&req, 0, sizeof(req));
	n = ktlsd_handoff_recv(app, &req, sizeof(req), fds, HANDOFF_MAX_FDS, &n_fds);
	if (n == -EAGAIN || n == -EINTR)
		return true;
	if (n == 0 || (n < 0 && n != -EMSGSIZE)) {
		for (int i = 0; i < n_fds; i++)
			close(fds[i]);
		return false;
	}
	req.profile[sizeof(req.profile) - 1] = req.host[sizeof(req.host) - 1] =
		req.alpn[sizeof(req.alpn) - 1] = '\0';
	if ((size_t)n != sizeof(req) || req.magic != KTLSD_HANDOFF_MAGIC ||
	    req.version != KTLSD_HANDOFF_VERSION || n_fds != 1) {
		if (n < 0)
			snprintf(msg, sizeof(msg), "malformed request: longer than %zu bytes",
				 sizeof(req));
		else
			snprintf(msg, sizeof(msg),
				 "malformed request: %zd bytes (want %zu), %d descriptors (want 1)",
				 n, sizeof(req), n_fds);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_REQUEST, msg);
		goto drop;
	}
	if (req.op != KTLSD_HANDOFF_SERVER) {
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_REQUEST,
				  "this ktlsd serves the server role only (op 1)");
		goto drop;
	}
	if (!handoff_check_socket(fds[0], msg, sizeof(msg))) {
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_SOCKET, msg);
		goto drop;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_INTERNAL, "out of memory");
		goto drop;
	}
	job->id = req.id;
	job->flags = req.flags;
	job->timeout_ms = req.timeout_ms;
	job->cfd = fds[0];
	if (!handoff_alpn_wire(req.alpn, job->alpn_wire, &job->alpn_wire_len)) {
		free(job);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_REQUEST, "bad ALPN list");
		goto drop;
	}
	s = ktlsd_snapshot(h->k);
	profile = handoff_find_profile(s, req.profile);
	snapshot_put(s);
	if (profile < 0) {
		free(job);
		snprintf(msg, sizeof(msg), "no profile \"%s\" on the handoff socket", req.profile);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_PROFILE, msg);
		goto drop;
	}
	job->profile = profile;
	job->app_fd = fcntl(app, F_DUPFD_CLOEXEC, 0);
	if (job->app_fd < 0) {
		free(job);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_INTERNAL, strerror(errno));
		goto drop;
	}
	handoff_post(&h->k->workers[h->next_worker++ % h->k->n_workers], job);
	return true;
drop:
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	return true;
}

static void handoff_accept(struct handoff *h)
{
	uid_t uid;
	int fd = accept4(h->us.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!unixsock_peer_allowed(&h->us, fd, &uid)) {
		log_warn("handoff: refused a connection from uid %u (not in handoff_allow_uids)",
			 (unsigned)uid);
		handoff_reply_now(fd, 0, KTLSD_HANDOFF_E_PERMISSION,
				  "this uid may not use the handoff socket");
		close(fd);
		return;
	}
	for (size_t i = 0; i < HANDOFF_MAX_APPS; i++)
		if (h->apps[i] < 0) {
			h->apps[i] = fd;
			return;
		}
	handoff_reply_now(fd, 0, KTLSD_HANDOFF_E_BUSY, "too many applications connected");
	close(fd);
}

static void *handoff_main(void *arg)
{
	struct handoff *h = arg;
	struct pollfd pfd[HANDOFF_MAX_APPS + 2];
	int *owner[HANDOFF_MAX_APPS + 2];

	for (;;) {
		nfds_t n = 0;

		pfd[n] = (struct pollfd){ .fd = h->stop[0], .events = POLLIN };
		owner[n++] = NULL;
		pfd[n] = (struct pollfd){ .fd = h->us.fd, .events = POLLIN };
		owner[n++] = NULL;
		for (size_t i = 0; i < HANDOFF_MAX_APPS; i++)
			if (h->apps[i] >= 0) {
				pfd[n] = (struct pollfd){ .fd = h->apps[i], .events = POLLIN };
				owner[n++] = &h->apps[i];
			}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("handoff: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents)
			handoff_accept(h);
		for (nfds_t i = 2; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (!(pfd[i].revents & POLLIN) || !handoff_read_request(h, *owner[i])) {
				close(*owner[i]); /* pending jobs keep their own duplicate */
				*owner[i] = -1;
			}
		}
	}
	return NULL;
}

/**
 * handoff_start() - open the handoff socket and start its thread.
 * Return: 0 or -errno (logged).
 */
int handoff_start(struct ktlsd *k, const struct ktlsd_cfg *cfg, struct handoff **out)
{
	struct handoff *h = calloc(1, sizeof(*h));
	int ret;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->k = k;
	h->us.fd = h->stop[0] = h->stop[1] = -1;
	for (size_t i = 0; i < HANDOFF_MAX_APPS; i++)
		h->apps[i] = -1;
	if (pipe2(h->stop, O_CLOEXEC) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = unixsock_open(&cfg->handoff, SOCK_SEQPACKET, "handoff_socket", &h->us);
	if (ret < 0)
		goto fail;
	ret = -pthread_create(&h->thread, NULL, handoff_main, h);
	if (ret < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	log_err("handoff socket: %s", strerror(-ret));
	handoff_stop(h);
	return ret;
}

/** handoff_stop() - stop the thread, close the socket and every application's connection. */
void handoff_stop(struct handoff *h)
{
	if (!h)
		return;
	if (h->thread) {
		if (write(h->stop[1], "x", 1) < 0)
			log_warn("handoff: stop: %s", strerror(errno));
		pthread_join(h->thread, NULL);
	}
	for (size_t i = 0; i < HANDOFF_MAX_APPS; i++)
		if (h->apps[i] >= 0)
			close(h->apps[i]);
	unixsock_close(&h->us);
	for (int i = 0; i < 2; i++)
		if (h->stop[i] >= 0)
			close(h->stop[i]);
	free(h);
}
