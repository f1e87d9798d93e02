// SPDX-License-Identifier: MIT
/*
 * pool.c - the warm connection pool: for each configured upstream, ktlsd keeps pool_size
 * client connections established (handshake done, kernel TLS installed or a relay ready)
 * and hands one out the moment an application asks (handoff op 3).
 *
 * The pool is an application of the handoff service itself: a refill is a non-blocking
 * connect() here, then an ordinary client-role job for a worker, whose reply (with the
 * descriptor) comes back over a socketpair the pool reads. So refills resume sessions
 * from the client cache like any request. Idle connections are watched with POLLIN |
 * POLLRDHUP: a server that closes (FIN, close_notify) or sends anything unasked makes the
 * connection unusable, and it is dropped, never handed out; one idle past max_idle is
 * replaced. A request that finds the pool empty gets a connection made on demand.
 * Everything runs on the handoff thread; the mutex only lets the control thread read.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services.h"
#include "pool.h"
#include "stats_json.h"

#define POOL_BACKOFF_MIN_MS  250u
#define POOL_BACKOFF_MAX_MS  30000u
#define POOL_TICK_MS	     250
#define POOL_REFILL_DELAY_MS 1

struct pool_idle {
	int fd;
	uint64_t since_ms;
	short revents;
	struct ktlsd_handoff_reply reply; /* the handshake's result, told again at hand-out */
};

/* What a connect needs to become a client job, copied so that it outlives a reload. */
struct pool_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char host[256];
	char alpn[128];
	bool verify;
	uint32_t connect_timeout_ms;
};

struct pool_counters {
	uint64_t handed_out, misses, refills, refills_resumed, refill_failures, closed_by_peer,
		expired;
};

struct pool_upstream {
	char name[64];
	char address[300];
	struct pool_target t;
	uint32_t serial; /* tells replies for this upstream from a replaced one's */
	uint32_t size, max_idle_ms;
	struct pool_idle *idle; /* @size entries, newest last */
	size_t n_idle;
	unsigned refilling; /* connects and handshakes under way for the pool */
	uint64_t retry_at_ms;
	uint32_t backoff_ms;
	char last_error[160];
	struct pool_counters n;
};

/* A connect under way: for the pool (app < 0) or for a request that found it empty. */
struct pool_connect {
	int fd;
	int app; /* a duplicate of the application's handoff connection, or -1 */
	uint64_t id;
	uint32_t timeout_ms; /* the request's handshake deadline */
	uint64_t deadline_ms;
	short revents;
	struct pool_target t;
};

struct pool {
	void (*dispatch)(void *ctx, int app, struct handoff_job *job); /* to a worker */
	void *dispatch_ctx;
	pthread_mutex_t lock;
	uint64_t generation;
	struct pool_upstream *ups;
	size_t n_ups;
	struct pool_connect *conns;
	size_t n_conns, cap_conns;
	int sp[2]; /* [0] ours: refill replies arrive; [1] the workers reply there */
	short sp_revents;
	bool refill_soon; /* a connection was handed out: refill at the next round */
	bool quiesced;	  /* ktlsd is stopping: no refills */
	uint32_t next_serial;
	uint32_t seq;
};

static void pool_close_idle(struct pool_upstream *u, size_t i)
{
	close(u->idle[i].fd);
	memmove(&u->idle[i], &u->idle[i + 1], (u->n_idle - i - 1) * sizeof(u->idle[0]));
	u->n_idle--;
}

static void pool_upstream_fini(struct pool_upstream *u)
{
	while (u->n_idle)
		pool_close_idle(u, u->n_idle - 1);
	free(u->idle);
	u->idle = NULL;
}

int pool_create(void (*dispatch)(void *ctx, int app, struct handoff_job *job), void *ctx,
		struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->dispatch = dispatch;
	p->dispatch_ctx = ctx;
	pthread_mutex_init(&p->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p->sp) < 0) {
		int err = -errno;

		free(p);
		return err;
	}
	*out = p;
	return 0;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_ups; i++)
		pool_upstream_fini(&p->ups[i]);
	for (size_t i = 0; i < p->n_conns; i++) {
		close(p->conns[i].fd);
		if (p->conns[i].app >= 0)
			close(p->conns[i].app);
	}
	free(p->ups);
	free(p->conns);
	close(p->sp[0]);
	close(p->sp[1]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void pool_target_from_cfg(struct pool_target *t, const struct cfg_upstream *cu)
{
	memset(t, 0, sizeof(*t));
	t->addr = cu->addr;
	t->addr_len = cu->addr_len;
	snprintf(t->host, sizeof(t->host), "%s", cu->host);
	snprintf(t->alpn, sizeof(t->alpn), "%s", cu->alpn);
	t->verify = cu->verify;
	t->connect_timeout_ms = cu->connect_timeout_ms;
}

/* The same server, the same handshake: its idle connections may stay. */
static bool pool_same_target(const struct pool_target *a, const struct pool_target *b)
{
	return a->addr_len == b->addr_len && !memcmp(&a->addr, &b->addr, a->addr_len) &&
	       !strcmp(a->host, b->host) && !strcmp(a->alpn, b->alpn) && a->verify == b->verify;
}

/** pool_sync() - follow the snapshot's upstreams: keep, resize, add, drop. */
bool pool_sync(struct pool *p, const struct snapshot *s)
{
	const struct ktlsd_cfg *cfg = s->cfg;
	struct pool_upstream *ups;

	if (s->generation == p->generation)
		return false;
	ups = calloc(cfg->n_upstreams ? cfg->n_upstreams : 1, sizeof(*ups));
	if (!ups) {
		log_err("pool: out of memory following the configuration");
		return false;
	}
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct cfg_upstream *cu = &cfg->upstreams[i];
		struct pool_upstream *u = &ups[i];
		struct pool_target t;

		pool_target_from_cfg(&t, cu);
		for (size_t j = 0; j < p->n_ups; j++)
			if (!strcmp(p->ups[j].name, cu->name) &&
			    pool_same_target(&p->ups[j].t, &t)) {
				*u = p->ups[j];
				p->ups[j].idle = NULL; /* moved */
				p->ups[j].n_idle = 0;
				break;
			}
		if (!u->serial) {
			snprintf(u->name, sizeof(u->name), "%s", cu->name);
			u->serial = ++p->next_serial;
		}
		snprintf(u->address, sizeof(u->address), "%s", cu->address);
		u->t = t;
		u->max_idle_ms = cu->max_idle_ms;
		while (u->n_idle > cu->pool_size)
			pool_close_idle(u, 0); /* the oldest */
		u->size = cu->pool_size;
		struct pool_idle *idle = realloc(u->idle, (u->size ? u->size : 1) * sizeof(*idle));

		if (idle)
			u->idle = idle;
		else
			u->size = (uint32_t)u->n_idle;
	}
	for (size_t j = 0; j < p->n_ups; j++)
		pool_upstream_fini(&p->ups[j]);
	free(p->ups);
	p->ups = ups;
	p->n_ups = cfg->n_upstreams;
	p->generation = s->generation;
	pthread_mutex_unlock(&p->lock);
	return p->n_ups > 0;
}

static struct pool_upstream *pool_find_serial(struct pool *p, uint32_t serial)
{
	for (size_t i = 0; i < p->n_ups; i++)
		if (p->ups[i].serial == serial)
			return &p->ups[i];
	return NULL;
}

static void pool_refill_failed(struct pool_upstream *u, const char *why)
{
	uint64_t now = now_monotonic_ms();

	u->n.refill_failures++;
	if (now < u->retry_at_ms)
		return; /* another connect of the same round: one step per round */
	u->backoff_ms = u->backoff_ms ? u->backoff_ms * 2 : POOL_BACKOFF_MIN_MS;
	if (u->backoff_ms > POOL_BACKOFF_MAX_MS)
		u->backoff_ms = POOL_BACKOFF_MAX_MS;
	u->retry_at_ms = now + u->backoff_ms;
	if (strcmp(u->last_error, why) != 0) /* once per distinct reason, not per retry */
		log_warn("pool %s: %s (retrying, at most every %u s)", u->name, why,
			 POOL_BACKOFF_MAX_MS / 1000);
	snprintf(u->last_error, sizeof(u->last_error), "%s", why);
}

/* Starts a connect; -errno if it could not even start. */
static int pool_connect_start(struct pool *p, const struct pool_target *t, int app, uint64_t id,
			      uint32_t timeout_ms)
{
	struct pool_connect *pc;
	int fd, one = 1;

	if (p->n_conns == p->cap_conns) {
		size_t cap = p->cap_conns ? p->cap_conns * 2 : 16;
		struct pool_connect *n = realloc(p->conns, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->conns = n;
		p->cap_conns = cap;
	}
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Request-response traffic: the application's first write should not wait. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("pool: TCP_NODELAY: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addr_len) < 0 &&
	    errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	pc = &p->conns[p->n_conns++];
	*pc = (struct pool_connect){ .fd = fd,
				     .app = app,
				     .id = id,
				     .timeout_ms = timeout_ms,
				     .deadline_ms = now_monotonic_ms() + t->connect_timeout_ms,
				     .t = *t };
	return 0;
}

/* The connect of conns[i] ended with @err (0: connected): on to a worker, or fail. */
static void pool_connect_done(struct pool *p, size_t i, int err)
{
	struct pool_connect pc = p->conns[i];
	struct handoff_job *job = NULL;
	char why[400];

	memmove(&p->conns[i], &p->conns[i + 1], (p->n_conns - i - 1) * sizeof(p->conns[0]));
	p->n_conns--;
	snprintf(why, sizeof(why), "connect to %s: %s", pc.t.host, strerror(err));
	if (!err && fcntl(pc.fd, F_SETFL, 0) < 0) /* handed out blocking, as connect() makes */
		err = errno;
	if (!err && !(job = calloc(1, sizeof(*job))))
		err = ENOMEM;
	if (err) {
		close(pc.fd);
		if (pc.app >= 0) {
			handoff_reply_now(pc.app, pc.id, KTLSD_HANDOFF_E_UPSTREAM, why);
			close(pc.app);
		} else {
			struct pool_upstream *u = pool_find_serial(p, (uint32_t)(pc.id >> 32));

			if (u) {
				u->refilling--;
				pool_refill_failed(u, why);
			}
		}
		return;
	}
	job->op = KTLSD_HANDOFF_CLIENT;
	job->id = pc.id;
	job->cfd = pc.fd;
	job->pooled = pc.app < 0;
	job->timeout_ms = pc.timeout_ms;
	job->flags = pc.t.verify ? 0 : KTLSD_HANDOFF_F_VERIFY_OPTIONAL;
	memcpy(job->host, pc.t.host, sizeof(job->host));
	memcpy(job->alpn, pc.t.alpn, sizeof(job->alpn));
	job->port = sockaddr_port(&pc.t.addr);
	handoff_alpn_wire(pc.t.alpn, job->alpn_wire, &job->alpn_wire_len); /* checked by config */
	p->dispatch(p->dispatch_ctx, pc.app >= 0 ? pc.app : p->sp[1], job);
	if (pc.app >= 0)
		close(pc.app); /* the job has its own duplicate */
}

/* A refill's reply (with its descriptor) from a worker. */
static void pool_take_reply(struct pool *p)
{
	struct ktlsd_handoff_reply r;
	struct pool_upstream *u;
	int fd = -1, n_fds = 0;
	ssize_t n;

	for (;;) {
		memset(&r, 0, sizeof(r));
		n = ktlsd_handoff_recv(p->sp[0], &r, sizeof(r), &fd, 1, &n_fds);
		if (n <= 0 && n != -EMSGSIZE)
			return;
		if (!n_fds)
			fd = -1;
		u = pool_find_serial(p, (uint32_t)(r.id >> 32));
		if (!u) { /* its upstream went away in a reload */
			if (fd >= 0)
				close(fd);
			continue;
		}
		u->refilling--;
		if (p->quiesced) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if ((size_t)n != sizeof(r) || r.status != KTLSD_HANDOFF_OK || fd < 0) {
			if (fd >= 0)
				close(fd);
			r.message[sizeof(r.message) - 1] = '\0';
			pool_refill_failed(u, (size_t)n == sizeof(r) ? r.message : "bad reply");
			continue;
		}
		if (u->n_idle >= u->size) {
			close(fd);
			continue;
		}
		u->idle[u->n_idle++] =
			(struct pool_idle){ .fd = fd, .since_ms = now_monotonic_ms(), .reply = r };
		u->n.refills++;
		u->n.refills_resumed += !!(r.flags & KTLSD_HANDOFF_R_RESUMED);
		u->backoff_ms = 0;
		u->last_error[0] = '\0';
	}
}

size_t pool_n_pollfds(struct pool *p)
{
	size_t n = 1 + p->n_conns;

	for (size_t i = 0; i < p->n_ups; i++)
		n += p->ups[i].n_idle;
	return n;
}

size_t pool_fill_pollfds(struct pool *p, struct pollfd *pfd)
{
	size_t n = 0;

	pfd[n++] = (struct pollfd){ .fd = p->sp[0], .events = POLLIN };
	for (size_t i = 0; i < p->n_conns; i++)
		pfd[n++] = (struct pollfd){ .fd = p->conns[i].fd, .events = POLLOUT };
	for (size_t i = 0; i < p->n_ups; i++)
		for (size_t j = 0; j < p->ups[i].n_idle; j++)
			pfd[n++] = (struct pollfd){ .fd = p->ups[i].idle[j].fd,
						    .events = POLLIN | POLLRDHUP };
	return n;
}

/* Idle connections the server closed or wrote to, or past max_idle, go. */
static void pool_check_idle(struct pool_upstream *u, uint64_t now)
{
	for (size_t j = u->n_idle; j-- > 0;) {
		if (u->idle[j].revents) {
			u->n.closed_by_peer++;
			pool_close_idle(u, j);
		} else if (now - u->idle[j].since_ms >= u->max_idle_ms) {
			u->n.expired++;
			pool_close_idle(u, j);
		}
	}
}

static void pool_refill(struct pool *p, struct pool_upstream *u, uint64_t now)
{
	while (!p->quiesced && u->n_idle + u->refilling < u->size && now >= u->retry_at_ms) {
		uint64_t id = (uint64_t)u->serial << 32 | ++p->seq;
		int ret = pool_connect_start(p, &u->t, -1, id, 0);

		if (ret < 0) {
			char why[400];

			snprintf(why, sizeof(why), "connect to %s: %s", u->address, strerror(-ret));
			pool_refill_failed(u, why);
			return;
		}
		u->refilling++;
	}
}

int pool_events(struct pool *p, const struct pollfd *pfd)
{
	uint64_t now = now_monotonic_ms();
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	/* Note every event first: handling one moves entries around. */
	p->sp_revents = pfd[n++].revents;
	for (size_t i = 0; i < p->n_conns; i++)
		p->conns[i].revents = pfd[n++].revents;
	for (size_t i = 0; i < p->n_ups; i++)
		for (size_t j = 0; j < p->ups[i].n_idle; j++)
			p->ups[i].idle[j].revents = pfd[n++].revents;
	if (p->sp_revents)
		pool_take_reply(p);
	for (size_t i = p->n_conns; i-- > 0;) {
		struct pool_connect *pc = &p->conns[i];
		int err = 0;

		if (pc->revents) {
			if (getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &err,
				       &(socklen_t){ sizeof(err) }) < 0)
				err = errno;
			pool_connect_done(p, i, err);
		} else if (now >= pc->deadline_ms) {
			pool_connect_done(p, i, ETIMEDOUT);
		}
	}
	for (size_t i = 0; i < p->n_ups; i++) {
		pool_check_idle(&p->ups[i], now);
		pool_refill(p, &p->ups[i], now);
	}
	p->refill_soon = false;
	pthread_mutex_unlock(&p->lock);
	return p->n_ups ? POOL_TICK_MS : -1;
}

/** pool_timeout() - the poll timeout after this round's requests (ms, -1 none). */
int pool_timeout(struct pool *p, int timeout)
{
	return p->refill_soon ? POOL_REFILL_DELAY_MS : timeout;
}

/* A ready connection for @req, or -1 if none is (dead ones are dropped on the way). */
static int pool_take_idle(struct pool_upstream *u, struct ktlsd_handoff_reply *r)
{
	while (u->n_idle) {
		struct pool_idle *pi = &u->idle[u->n_idle - 1]; /* the newest: likeliest alive */
		struct pollfd pf = { .fd = pi->fd, .events = POLLIN | POLLRDHUP };
		int fd = pi->fd;

		if (poll(&pf, 1, 0) != 0) {
			u->n.closed_by_peer++;
			pool_close_idle(u, u->n_idle - 1);
			continue;
		}
		*r = pi->reply;
		u->n_idle--;
		return fd;
	}
	return -1;
}

/** pool_request() - op 3: hand out a ready connection, or make one on demand. */
void pool_request(struct pool *p, int app, const struct ktlsd_handoff_req *req)
{
	struct ktlsd_handoff_reply r;
	struct pool_upstream *u = NULL;
	char msg[400];
	int fd, ret, dup_app;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n_ups && !u; i++)
		if (!strncmp(p->ups[i].name, req->upstream, sizeof(req->upstream)))
			u = &p->ups[i];
	if (!u) {
		pthread_mutex_unlock(&p->lock);
		snprintf(msg, sizeof(msg), "no upstream \"%.64s\" in the configuration",
			 req->upstream);
		handoff_reply_now(app, req->id, KTLSD_HANDOFF_E_UPSTREAM, msg);
		return;
	}
	fd = pool_take_idle(u, &r);
	if (fd >= 0) {
		r.id = req->id;
		r.flags |= KTLSD_HANDOFF_R_POOLED;
		if (handoff_send_reply(app, &r, fd) == 0)
			u->n.handed_out++;
		close(fd);
		/* Refilled a moment later: the application's wake-up comes first (a connect
		 * and two handshakes would compete with it for the CPUs). */
		p->refill_soon = true;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	u->n.misses++;
	dup_app = fcntl(app, F_DUPFD_CLOEXEC, 0);
	ret = dup_app < 0 ? -errno
			  : pool_connect_start(p, &u->t, dup_app, req->id, req->timeout_ms);
	pthread_mutex_unlock(&p->lock);
	if (ret < 0) {
		if (dup_app >= 0)
			close(dup_app);
		snprintf(msg, sizeof(msg), "connect to %s: %s", u->address, strerror(-ret));
		handoff_reply_now(app, req->id, KTLSD_HANDOFF_E_UPSTREAM, msg);
	}
}

void pool_quiesce(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->quiesced = true;
	for (size_t i = 0; i < p->n_ups; i++)
		while (p->ups[i].n_idle)
			pool_close_idle(&p->ups[i], p->ups[i].n_idle - 1);
	pthread_mutex_unlock(&p->lock);
}

/** pool_json() - the `pools` reply. */
struct json_object *pool_json(struct pool *p)
{
	struct json_object *arr = json_object_new_array();

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; arr && i < p->n_ups; i++) {
		const struct pool_upstream *u = &p->ups[i];
		struct json_object *o = json_object_new_object();
		const struct json_u64_field f[] = {
			{ "size", u->size },
			{ "idle", u->n_idle },
			{ "refilling", u->refilling },
			{ "handed_out", u->n.handed_out },
			{ "misses", u->n.misses },
			{ "refills", u->n.refills },
			{ "refills_resumed", u->n.refills_resumed },
			{ "refill_failures", u->n.refill_failures },
			{ "closed_by_peer", u->n.closed_by_peer },
			{ "expired", u->n.expired },
			{ "max_idle_ms", u->max_idle_ms },
		};

		if (!o)
			break;
		json_object_object_add(o, "name", json_object_new_string(u->name));
		json_object_object_add(o, "address", json_object_new_string(u->address));
		json_object_object_add(o, "sni", json_object_new_string(u->t.host));
		json_object_object_add(o, "alpn", json_object_new_string(u->t.alpn));
		json_object_object_add(o, "verify", json_object_new_boolean(u->t.verify));
		json_add_u64s(o, f, sizeof(f) / sizeof(f[0]));
		json_object_object_add(o, "last_error", json_object_new_string(u->last_error));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&p->lock);
	return arr;
}
