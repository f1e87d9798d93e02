// SPDX-License-Identifier: MIT
/*
 * worker_req.c - requests from the control thread that a worker answers on its own thread.
 *
 * The control thread never touches a live connection (only its worker does): it posts a
 * struct worker_req in worker->req, wakes the worker through its eventfd and waits on the
 * request's semaphore. The worker copies what was asked (or kills a connection) when it
 * handles the wake-up. If the caller gives up waiting, it marks the request abandoned and
 * whichever side comes last frees it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core.h"

/** worker_init() - the state main sets up before any listener or thread exists. */
void worker_init(struct worker *w)
{
	memset(w, 0, sizeof(*w));
	w->notify_fd = -1;
	pthread_mutex_init(&w->inbox_lock, NULL);
	for (size_t i = 0; i < LISTENER_SLOTS; i++) {
		w->listeners[i].fd = -1;
		w->slot_idx[i] = -1;
		atomic_init(&w->pending_fd[i], -1);
	}
}

/** worker_req_free() - free a request and what the worker filled in. NULL is allowed. */
void worker_req_free(struct worker_req *req)
{
	if (!req)
		return;
	sem_destroy(&req->done);
	free(req->infos);
	free(req);
}

/** worker_req_finish() - complete @req with @result (on the worker); NULL is allowed. */
void worker_req_finish(struct worker_req *req, int result)
{
	if (!req)
		return;
	req->result = result;
	if (atomic_exchange(&req->state, WREQ_DONE) == WREQ_ABANDONED)
		worker_req_free(req); /* the caller stopped waiting */
	else
		sem_post(&req->done);
}

static const char *conn_state_name(enum conn_state s)
{
	switch (s) {
	case CONN_HANDSHAKE:
		return "handshake";
	case CONN_CONNECTING:
		return "connecting";
	case CONN_RELAY:
		return "relay";
	case CONN_FLUSHING:
		return "flushing";
	default:
		return "closing";
	}
}

static void worker_fill_info(const struct worker *w, const struct conn *c, struct conn_info *ci)
{
	struct stat st;

	memset(ci, 0, sizeof(*ci));
	ci->id = c->id;
	ci->worker = w->idx;
	snprintf(ci->listener, sizeof(ci->listener), "%s", c->lcfg->name);
	conn_peer_str(c, ci->peer, sizeof(ci->peer));
	snprintf(ci->sni, sizeof(ci->sni), "%s", c->tls.hs ? c->tls.hs->sni : "");
	snprintf(ci->alpn, sizeof(ci->alpn), "%s", c->tls.alpn);
	ci->version = c->tls.version;
	ci->cipher = c->tls.cipher;
	ci->state = conn_state_name(c->state);
	ci->resumed = c->tls.resumed;
	ci->path = c->gauge;
	ci->ktls = c->ktls.dirs;
	ci->bytes_in = c->bytes_in;
	ci->bytes_out = c->bytes_out;
	ci->age_ms = w->now_ms - c->started_ms;
	if (fstat(c->cfd, &st) == 0)
		ci->inode = (uint32_t)st.st_ino;
}

static int worker_list_conns(struct worker *w, struct worker_req *req)
{
	size_t n = 0;

	req->infos = calloc(w->n_conns ? w->n_conns : 1, sizeof(*req->infos));
	if (!req->infos)
		return -ENOMEM;
	for (const struct conn *c = w->conns; c && n < w->n_conns; c = c->next)
		if (c->state != CONN_CLOSING)
			worker_fill_info(w, c, &req->infos[n++]);
	req->n_infos = n;
	return 0;
}

static int worker_kill_conn(struct worker *w, uint64_t id)
{
	for (struct conn *c = w->conns; c; c = c->next) {
		if (c->id != id || c->state == CONN_CLOSING)
			continue;
		conn_log(c, LOG_LVL_INFO, "closed by the control API (kill)");
		conn_close(c, "killed by the control API");
		return 0;
	}
	return -ENOENT;
}

/** worker_answer() - run @req on this worker's thread, then complete it. */
void worker_answer(struct worker *w, struct worker_req *req)
{
	int ret;

	switch (req->kind) {
	case WREQ_CONNS:
		ret = worker_list_conns(w, req);
		break;
	case WREQ_KILL:
		ret = worker_kill_conn(w, req->id);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	worker_req_finish(req, ret);
}

int worker_call(struct worker *w, struct worker_req *req, unsigned timeout_ms)
{
	struct timespec ts;
	struct worker_req *old;

	if (atomic_load(&w->exited))
		return -ESRCH;
	atomic_init(&req->state, WREQ_POSTED);
	if (sem_init(&req->done, 0, 0) < 0)
		return -errno;
	/* One request at a time per worker: the control thread serialises its callers. */
	old = atomic_exchange(&w->req, req);
	if (old)
		worker_req_finish(old, -ECANCELED);
	worker_notify(w);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (sem_timedwait(&req->done, &ts) < 0) {
		if (errno == EINTR)
			continue;
		if (atomic_exchange(&req->state, WREQ_ABANDONED) == WREQ_DONE)
			return 0; /* answered just now */
		return -ETIMEDOUT;
	}
	return 0;
}
