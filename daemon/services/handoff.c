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

#include "services.h"
#include "pool.h"
#include "unixsock.h"

#define HANDOFF_MAX_APPS 256
#define HANDOFF_MAX_FDS	 4 /* received per packet; more than one is an error */

struct handoff {
	struct handoff_env env;
	pthread_t thread;
	struct unixsock us;
	int stop[2];
	int apps[HANDOFF_MAX_APPS]; /* connected applications, -1 free */
	bool draining;		    /* handoff_quiesce() came: new requests are refused */
	unsigned next_worker;
	struct pool *pool; /* the warm connection pool (pool.c) */
	struct pollfd *pfd;
	int **owner;
	size_t cap;
};

struct pool *handoff_pool(struct handoff *h)
{
	return h ? h->pool : NULL;
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

/* The server's port, for the client session cache key; 0 if it cannot be read. */
static uint16_t handoff_peer_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return 0;
	return sockaddr_port(&ss);
}

/*
 * Checks what is particular to a SERVER or CLIENT request and fills @job; on refusal
 * returns the status with @msg saying why.
 */
static int handoff_check_role(struct handoff *h, const struct ktlsd_handoff_req *req,
			      struct handoff_job *job, char *msg, size_t len)
{
	struct snapshot *s;

	if (!handoff_check_socket(job->cfd, msg, len))
		return KTLSD_HANDOFF_E_SOCKET;
	if (!handoff_alpn_wire(req->alpn, job->alpn_wire, &job->alpn_wire_len)) {
		snprintf(msg, len, "bad ALPN list");
		return KTLSD_HANDOFF_E_REQUEST;
	}
	if (req->op == KTLSD_HANDOFF_CLIENT) {
		if (!req->host[0] || strlen(req->host) > 253) {
			snprintf(msg, len, "the client role needs a host name (1 to 253 bytes)");
			return KTLSD_HANDOFF_E_REQUEST;
		}
		memcpy(job->host, req->host, sizeof(job->host));
		memcpy(job->alpn, req->alpn, sizeof(job->alpn));
		job->port = handoff_peer_port(job->cfd);
		return KTLSD_HANDOFF_OK;
	}
	s = h->env.snapshot(h->env.ctx);
	job->profile = handoff_find_profile(s, req->profile);
	snapshot_put(s);
	if (job->profile < 0) {
		snprintf(msg, len, "no profile \"%s\" on the handoff socket", req->profile);
		return KTLSD_HANDOFF_E_PROFILE;
	}
	return KTLSD_HANDOFF_OK;
}

/**
 * handoff_dispatch() - hand @job to a worker, with a duplicate of @app for the reply.
 * Takes @job over (on failure the application gets the error reply).
 */
void handoff_dispatch(struct handoff *h, int app, struct handoff_job *job)
{
	job->app_fd = fcntl(app, F_DUPFD_CLOEXEC, 0);
	if (job->app_fd < 0) {
		handoff_reply_now(app, job->id, KTLSD_HANDOFF_E_INTERNAL, strerror(errno));
		close(job->cfd);
		free(job);
		return;
	}
	handoff_post(&h->env.workers[h->next_worker++ % h->env.n_workers], job);
}

/* The pool's way to hand a job to a worker (pool_create()). */
static void handoff_dispatch_cb(void *h, int app, struct handoff_job *job)
{
	handoff_dispatch(h, app, job);
}

/* One request packet from an application. Returns false when the application is gone. */
static bool handoff_read_request(struct handoff *h, int app)
{
	struct ktlsd_handoff_req req;
	int fds[HANDOFF_MAX_FDS], n_fds = 0, status;
	struct handoff_job *job;
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
	    req.version != KTLSD_HANDOFF_VERSION ||
	    n_fds != (req.op == KTLSD_HANDOFF_POOL ? 0 : 1)) {
		if (n < 0)
			snprintf(msg, sizeof(msg), "malformed request: longer than %zu bytes",
				 sizeof(req));
		else
			snprintf(
				msg, sizeof(msg),
				"malformed request: %zd bytes (want %zu), %d descriptors (want %d)",
				n, sizeof(req), n_fds, req.op == KTLSD_HANDOFF_POOL ? 0 : 1);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_REQUEST, msg);
		goto drop;
	}
	if (h->draining) {
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_DRAINING,
				  "ktlsd is draining or stopping: no new handshakes");
		goto drop;
	}
	if (req.op == KTLSD_HANDOFF_POOL) {
		pool_request(h->pool, app, &req);
		return true;
	}
	if (req.op != KTLSD_HANDOFF_SERVER && req.op != KTLSD_HANDOFF_CLIENT) {
		snprintf(msg, sizeof(msg), "unknown op %u (1 server, 2 client, 3 pool)", req.op);
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_REQUEST, msg);
		goto drop;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		handoff_reply_now(app, req.id, KTLSD_HANDOFF_E_INTERNAL, "out of memory");
		goto drop;
	}
	job->id = req.id;
	job->op = req.op;
	job->flags = req.flags;
	job->timeout_ms = req.timeout_ms;
	job->cfd = fds[0];
	status = handoff_check_role(h, &req, job, msg, sizeof(msg));
	if (status != KTLSD_HANDOFF_OK) {
		free(job);
		handoff_reply_now(app, req.id, status, msg);
		goto drop;
	}
	handoff_dispatch(h, app, job);
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

/* Room for every descriptor of this round; false if memory ran out. */
static bool handoff_poll_room(struct handoff *h, size_t need)
{
	struct pollfd *pfd;
	int **owner;

	if (need <= h->cap)
		return true;
	pfd = realloc(h->pfd, need * sizeof(*pfd));
	if (pfd)
		h->pfd = pfd;
	owner = realloc(h->owner, need * sizeof(*owner));
	if (owner)
		h->owner = owner;
	if (!pfd || !owner)
		return false;
	h->cap = need;
	return true;
}

static void *handoff_main(void *arg)
{
	struct handoff *h = arg;
	int timeout = -1;

	for (;;) {
		struct snapshot *s = h->env.snapshot(h->env.ctx);
		size_t n = 0, n_pool;

		if (pool_sync(h->pool, s))
			timeout = 0;
		snapshot_put(s);
		if (!handoff_poll_room(h, 2 + HANDOFF_MAX_APPS + pool_n_pollfds(h->pool))) {
			log_err("handoff: out of memory");
			break;
		}
		h->pfd[n] = (struct pollfd){ .fd = h->stop[0], .events = POLLIN };
		h->owner[n++] = NULL;
		h->pfd[n] = (struct pollfd){ .fd = h->us.fd, .events = POLLIN };
		h->owner[n++] = NULL;
		n_pool = pool_fill_pollfds(h->pool, h->pfd + n);
		n += n_pool;
		for (size_t i = 0; i < HANDOFF_MAX_APPS; i++)
			if (h->apps[i] >= 0) {
				h->pfd[n] = (struct pollfd){ .fd = h->apps[i], .events = POLLIN };
				h->owner[n++] = &h->apps[i];
			}
		if (poll(h->pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_err("handoff: poll: %s", strerror(errno));
			break;
		}
		if (h->pfd[0].revents) {
			char cmd = 'x';

			if (read(h->stop[0], &cmd, 1) == 1 && cmd == 'q') {
				/* Draining or stopping: let go of the pool, take no new work. */
				if (!h->draining)
					log_info("handoff: draining: new requests are refused");
				h->draining = true;
				pool_quiesce(h->pool);
				continue;
			}
			break;
		}
		/* The pool first: its events refer to the entries it just listed. */
		timeout = pool_events(h->pool, h->pfd + 2);
		if (h->pfd[1].revents)
			handoff_accept(h);
		for (size_t i = 2 + n_pool; i < n; i++) {
			if (!h->pfd[i].revents)
				continue;
			if (!(h->pfd[i].revents & POLLIN) ||
			    !handoff_read_request(h, *h->owner[i])) {
				close(*h->owner[i]); /* pending jobs keep their own duplicate */
				*h->owner[i] = -1;
			}
		}
		timeout = pool_timeout(h->pool, timeout);
	}
	return NULL;
}

/**
 * handoff_start() - open the handoff socket and start its thread.
 * Return: 0 or -errno (logged).
 */
int handoff_start(const struct handoff_env *env, const struct ktlsd_cfg *cfg, struct handoff **out)
{
	struct handoff *h = calloc(1, sizeof(*h));
	int ret;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->env = *env;
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
	ret = pool_create(handoff_dispatch_cb, h, &h->pool);
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

/**
 * handoff_quiesce() - ktlsd drains or begins to stop: the pool closes its idle
 * connections and makes no more, so that the workers' drain does not wait for them, and
 * new requests get KTLSD_HANDOFF_E_DRAINING; handshakes under way finish.
 */
void handoff_quiesce(struct handoff *h)
{
	if (h && write(h->stop[1], "q", 1) < 0)
		log_warn("handoff: quiesce: %s", strerror(errno));
}

/** handoff_unlink() - remove the handoff socket's file (an exit with no time to stop). */
void handoff_unlink(const struct handoff *h)
{
	if (h)
		unixsock_unlink(&h->us);
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
	pool_free(h->pool);
	free(h->pfd);
	free(h->owner);
	for (int i = 0; i < 2; i++)
		if (h->stop[i] >= 0)
			close(h->stop[i]);
	free(h);
}
