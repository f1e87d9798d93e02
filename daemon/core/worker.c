// SPDX-License-Identifier: MIT
/*
 * worker.c - a worker thread: its io_uring ring, its listening sockets, its connections.
 *
 * Concurrency model. Each worker owns one ring and everything reached from it; no other
 * thread touches a worker's ring, sockets or connections, so the data path takes no locks.
 * Each worker has its own SO_REUSEPORT socket per listener, so the kernel spreads new
 * connections across workers and a connection stays on the worker that accepted it.
 * The main thread talks to a worker in exactly two ways, both through atomics followed by
 * a write to the worker's eventfd: a new configuration snapshot (next_snap) and the stop
 * request (stop). The worker reads the eventfd through its own ring.
 *
 * The loop submits and waits in one system call, then reaps completions in a batch. A
 * periodic timer sweeps connection deadlines (handshake, connect, idle, drain).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define WORKER_RING_ENTRIES 4096
#define WORKER_TICK_MS	    250

/* The layers above: set once by main before any worker starts, read-only afterwards. */
static const struct worker_hooks *worker_hooks;

/** worker_set_hooks() - register the upper layers' calls; before the first worker_start(). */
void worker_set_hooks(const struct worker_hooks *hooks)
{
	worker_hooks = hooks;
}

/*
 * Accepted sockets are non-blocking: io_uring polls them itself, and a splice from a
 * blocking socket would sleep in io-wq holding its pipe's lock (splice.c).
 */
static void worker_arm_accept(struct worker *w, size_t i)
{
	struct worker_listener *wl = &w->listeners[i];
	struct io_uring_sqe *sqe;

	if (wl->armed || wl->full || wl->fd < 0 || w->draining || w->slot_idx[i] < 0)
		return;
	sqe = worker_get_sqe(w);
	if (!sqe)
		return; /* retried on the next tick */
	if (w->multishot_accept)
		io_uring_prep_multishot_accept(sqe, wl->fd, NULL, NULL,
					       SOCK_CLOEXEC | SOCK_NONBLOCK);
	else
		io_uring_prep_accept(sqe, wl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_ACCEPT, wl->gen, (uint32_t)i));
	wl->armed = true;
}

/* Cancels slot @i's accept, if one is in flight; it completes with -ECANCELED. */
static void worker_cancel_accept(struct worker *w, size_t i)
{
	struct worker_listener *wl = &w->listeners[i];
	struct io_uring_sqe *sqe;

	if (wl->armed && (sqe = worker_get_sqe(w)) != NULL) {
		io_uring_prep_cancel64(sqe, ud_pack(OP_ACCEPT, wl->gen, (uint32_t)i), 0);
		io_uring_sqe_set_data64(sqe, ud_pack(OP_NONE, 0, 0));
	}
}

/* Slot @i stops or resumes accepting at max_connections (worker_listener.full). */
static void worker_set_full(struct worker *w, size_t i, bool full)
{
	struct worker_listener *wl = &w->listeners[i];

	if (wl->full == full)
		return;
	wl->full = full;
	if (full) {
		w->n_full++;
		stats_inc(w, STAT_ACCEPT_PAUSED);
		worker_cancel_accept(w, i);
	} else {
		w->n_full--;
		worker_arm_accept(w, i);
	}
}

/* A connection of slot @i starts: its record, then the data layer's accept hook. */
static void worker_start_conn(struct worker *w, size_t i, int fd)
{
	struct conn *c = conn_new(w, fd, (size_t)w->slot_idx[i], worker_hooks->conn_ops);

	if (!c) {
		log_err("worker %u: out of memory for a connection", w->idx);
		close(fd);
		return;
	}
	stats_inc(w, STAT_CONNS_ACCEPTED);
	worker_hooks->on_accept(c);
}

/*
 * A socket accepted at max_connections waits, untouched, for room (its client just sees
 * a slow server); only when the queue is full is it closed, and counted.
 */
static void worker_hold(struct worker *w, size_t i, int fd)
{
	if (w->n_held == WORKER_HELD_MAX) {
		close(fd);
		stats_inc(w, STAT_ACCEPT_OVER_LIMIT);
		return;
	}
	w->held[w->n_held].fd = fd;
	w->held[w->n_held].slot = (uint32_t)i;
	w->n_held++;
}

/* Drops held sockets of slot @i (closed, drained or removed), or of every slot (-1). */
static void worker_drop_held(struct worker *w, ssize_t i)
{
	unsigned k = 0;

	for (unsigned j = 0; j < w->n_held; j++) {
		if (i < 0 || w->held[j].slot == (uint32_t)i)
			close(w->held[j].fd);
		else
			w->held[k++] = w->held[j];
	}
	w->n_held = k;
}

/**
 * worker_resume_accepts() - under max_connections again (after a connection ended, here
 * or in another worker: the tick looks too): held sockets start first, oldest first; then
 * paused listeners accept again.
 */
static void worker_resume_accepts(struct worker *w)
{
	unsigned k = 0;

	for (unsigned j = 0; j < w->n_held; j++) {
		size_t i = w->held[j].slot;

		if (w->slot_idx[i] >= 0 &&
		    !conn_limit_reached(w->snap->cfg, (size_t)w->slot_idx[i]))
			worker_start_conn(w, i, w->held[j].fd);
		else
			w->held[k++] = w->held[j];
	}
	w->n_held = k;
	for (size_t i = 0; i < w->n_slots_used && w->n_full; i++)
		if (w->listeners[i].full &&
		    (w->slot_idx[i] < 0 ||
		     !conn_limit_reached(w->snap->cfg, (size_t)w->slot_idx[i])))
			worker_set_full(w, i, false);
}

/* Closes the listening socket in slot @i; its accept completes as cancelled (stale). */
static void worker_close_listener(struct worker *w, size_t i)
{
	struct worker_listener *wl = &w->listeners[i];

	if (wl->fd < 0)
		return;
	worker_cancel_accept(w, i);
	if (wl->full) {
		wl->full = false;
		w->n_full--;
	}
	worker_drop_held(w, (ssize_t)i);
	close(wl->fd);
	wl->fd = -1;
	wl->armed = false;
	wl->gen++;
}

/*
 * After a snapshot switch (and at start): take the new sockets main opened, close those
 * of listeners the snapshot no longer has, and map slots to the snapshot's listeners.
 */
static void worker_sync_listeners(struct worker *w)
{
	const struct ktlsd_cfg *cfg = w->snap->cfg;
	bool closed = w->draining || atomic_load(&w->paused);

	w->n_slots_used = 0;
	for (size_t s = 0; s < LISTENER_SLOTS; s++)
		w->slot_idx[s] = -1;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (!cfg->listeners[i].handoff)
			w->slot_idx[cfg->listeners[i].slot] = (int)i;
	for (size_t s = 0; s < LISTENER_SLOTS; s++) {
		int fd = atomic_exchange(&w->pending_fd[s], -1);

		if (fd >= 0) {
			worker_close_listener(w, s); /* a socket the slot had before */
			w->listeners[s].fd = fd;
		}
		if (w->listeners[s].fd >= 0 && (w->slot_idx[s] < 0 || closed))
			worker_close_listener(w, s);
		if (w->listeners[s].fd >= 0 || w->slot_idx[s] >= 0)
			w->n_slots_used = (unsigned)s + 1;
		worker_arm_accept(w, s);
	}
}

static void worker_arm_timer(struct worker *w)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &w->tick, 0, 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_TIMER, 0, 0));
}

static void worker_arm_notify(struct worker *w)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, w->notify_fd, &w->notify_buf, sizeof(w->notify_buf), 0);
	io_uring_sqe_set_data64(sqe, ud_pack(OP_NOTIFY, 0, 0));
}

static void worker_take_inbox(struct worker *w);

static void worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	w->drain_deadline_ms = w->now_ms + w->snap->cfg->shutdown_timeout_ms;
	/* Closing the sockets makes the kernel refuse new connections at once. */
	for (size_t i = 0; i < w->n_slots_used; i++)
		worker_close_listener(w, i);
	if (w->n_conns)
		log_info("worker %u: draining %u connection(s), at most %u ms", w->idx, w->n_conns,
			 w->snap->cfg->shutdown_timeout_ms);
}

static void worker_on_notify(struct worker *w)
{
	struct snapshot *s = atomic_exchange(&w->next_snap, NULL);
	struct worker_req *req = atomic_exchange(&w->req, NULL);

	if (s) {
		snapshot_put(w->snap);
		w->snap = s;
	}
	/* Also after `drain` (paused): every listener closes, connections go on. */
	worker_sync_listeners(w);
	if (req)
		worker_answer(w, req);
	worker_take_inbox(w);
	if (atomic_load(&w->stop))
		worker_begin_drain(w);
	else
		worker_arm_notify(w);
}

/* Jobs other threads queued for this worker (worker_post), run in arrival order. */
static void worker_take_inbox(struct worker *w)
{
	struct worker_job *job, *next, *rev = NULL;

	pthread_mutex_lock(&w->inbox_lock);
	job = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	/* The list is newest first. */
	for (; job; job = next) {
		next = job->next;
		job->next = rev;
		rev = job;
	}
	for (job = rev; job; job = next) {
		next = job->next;
		job->run(w, job);
	}
}

/**
 * worker_post() - queue @job for worker @w's thread (any other thread).
 * Return: 0, or -ESRCH when the worker has stopped: the caller still owns @job.
 */
int worker_post(struct worker *w, struct worker_job *job)
{
	if (atomic_load(&w->exited))
		return -ESRCH;
	pthread_mutex_lock(&w->inbox_lock);
	job->next = w->inbox;
	w->inbox = job;
	pthread_mutex_unlock(&w->inbox_lock);
	worker_notify(w);
	return 0;
}

static void worker_on_accept(struct worker *w, size_t i, uint32_t gen, int res, unsigned flags)
{
	struct worker_listener *wl = &w->listeners[i];

	if (gen != (wl->gen & 0xffffff)) {
		/* From a socket closed since (listener removed): nobody serves it now. */
		if (res >= 0)
			close(res);
		return;
	}
	if (!(flags & IORING_CQE_F_MORE))
		wl->armed = false;
	if (res == -EINVAL && w->multishot_accept && !wl->armed) {
		/* Kernels before 5.19 have no multishot accept: one accept per completion. */
		log_info("worker %u: multishot accept unavailable, using single accepts", w->idx);
		w->multishot_accept = false;
	} else if (res < 0) {
		if (res != -ECANCELED)
			log_warn("worker %u: accept on \"%s\": %s", w->idx,
				 w->slot_idx[i] >= 0 ? w->snap->cfg->listeners[w->slot_idx[i]].name
						     : "(removed)",
				 strerror(-res));
	} else if (w->draining || w->slot_idx[i] < 0) {
		close(res);
	} else if (conn_limit_reached(w->snap->cfg, (size_t)w->slot_idx[i])) {
		/* Accepted while the pause was on its way, or by this worker while another
		 * one filled the limit: it waits for room. */
		worker_hold(w, i, res);
		worker_set_full(w, i, true);
	} else {
		worker_start_conn(w, i, res);
		if (conn_limit_reached(w->snap->cfg, (size_t)w->slot_idx[i]))
			worker_set_full(w, i, true);
	}
	worker_arm_accept(w, i);
}

static void worker_on_conn_cqe(struct worker *w, uint64_t ud, int res)
{
	struct conn *c = conn_lookup(w, ud);
	enum op op = ud_op(ud);

	if (!c)
		return;
	if (c->state == CONN_CLOSING) {
		conn_op_done(c, op); /* frees it with the last operation */
		return;
	}
	conn_op_done(c, op);
	c->ops->on_cqe(c, op, res);
}

static void worker_handle_cqe(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);

	switch (ud_op(ud)) {
	case OP_NONE:
		return;
	case OP_ACCEPT:
		worker_on_accept(w, ud_slot(ud), ud_gen(ud), cqe->res, cqe->flags);
		return;
	case OP_TIMER:
		if (worker_hooks->on_tick)
			worker_hooks->on_tick();
		conn_sweep(w);
		conn_trim(w);
		if (w->n_full || w->n_held)
			worker_resume_accepts(w);
		for (size_t i = 0; i < w->n_slots_used; i++)
			worker_arm_accept(w, i);
		worker_arm_timer(w);
		return;
	case OP_NOTIFY:
		worker_on_notify(w);
		return;
	default:
		worker_on_conn_cqe(w, ud, cqe->res);
		return;
	}
}

static int worker_ring_init(struct worker *w)
{
	/* Newest first: one submitter and deferred task work cut wake-ups on 6.1+. */
	/* R_DISABLED: the worker thread that enables the ring becomes its single issuer. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int ret = -EINVAL;

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		ret = io_uring_queue_init(WORKER_RING_ENTRIES, &w->ring, flag_sets[i]);
		if (ret == 0)
			return 0;
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int ret;

	if (w->ring.flags & IORING_SETUP_R_DISABLED) {
		/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
		ret = (int)syscall(__NR_io_uring_register, w->ring.ring_fd,
				   IORING_REGISTER_ENABLE_RINGS, NULL, 0);
		if (ret < 0) {
			ret = -errno;
			log_err("worker %u: enabling the ring: %s", w->idx, strerror(-ret));
			w->start_err = ret;
			sem_post(&w->started);
			return NULL;
		}
	}
	if (worker_hooks->on_thread_start && (ret = worker_hooks->on_thread_start(w->idx)) < 0) {
		w->start_err = ret;
		sem_post(&w->started);
		return NULL;
	}
	sem_post(&w->started);
	w->now_ms = now_monotonic_ms();
	worker_arm_notify(w);
	worker_arm_timer(w);
	worker_sync_listeners(w);

	while (!(w->draining && w->n_conns == 0)) {
		ret = io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -ETIME && ret != -EBUSY) {
			log_err("worker %u: io_uring_submit_and_wait: %s", w->idx, strerror(-ret));
			break;
		}
		if (ret > 0)
			stats_add(w, STAT_URING_SUBMITTED, (uint64_t)ret);
		w->now_ms = now_monotonic_ms();
		seen = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe)
		{
			worker_handle_cqe(w, cqe);
			seen++;
		}
		io_uring_cq_advance(&w->ring, seen);
		/* Connections that ended in this batch may have made room (max_connections). */
		if (w->n_full || w->n_held)
			worker_resume_accepts(w);
	}
	worker_drop_held(w, -1);
	log_debug("worker %u: stopped", w->idx);
	atomic_store(&w->exited, true);
	worker_req_finish(atomic_exchange(&w->req, NULL), -ESRCH);
	worker_take_inbox(w); /* their run() refuses them: the worker has exited */
	return NULL;
}

/**
 * worker_start() - open this worker's listening sockets and ring, start its thread.
 * @snap: the current snapshot; the worker takes its own reference
 *
 * Called from the main thread with the signals blocked, so the thread inherits the mask.
 * Return: 0 or -errno (logged); on failure nothing is left open.
 */
int worker_start(struct worker *w, unsigned idx, struct snapshot *snap)
{
	int ret;

	w->idx = idx;
	w->multishot_accept = true;
	w->tick.tv_nsec = WORKER_TICK_MS * 1000000L;
	w->notify_fd = eventfd(0, EFD_CLOEXEC);
	if (w->notify_fd < 0) {
		ret = -errno;
		log_err("worker %u: eventfd: %s", idx, strerror(errno));
		goto fail;
	}
	ret = worker_ring_init(w);
	if (ret < 0) {
		log_err("worker %u: io_uring_queue_init: %s", idx, strerror(-ret));
		goto fail;
	}
	w->snap = snapshot_get(snap);
	sem_init(&w->started, 0, 0);
	ret = pthread_create(&w->thread, NULL, worker_main, w);
	if (ret) {
		log_err("worker %u: pthread_create: %s", idx, strerror(ret));
		ret = -ret;
		goto fail_ring;
	}
	while (sem_wait(&w->started) < 0 && errno == EINTR)
		;
	if (w->start_err) {
		pthread_join(w->thread, NULL);
		ret = w->start_err;
		goto fail_ring;
	}
	return 0;
fail_ring:
	sem_destroy(&w->started);
	snapshot_put(w->snap);
	w->snap = NULL;
	io_uring_queue_exit(&w->ring);
fail:
	if (w->notify_fd >= 0)
		close(w->notify_fd);
	w->notify_fd = -1;
	return ret;
}

/** worker_join() - wait for a stopping worker and free what it owned. */
void worker_join(struct worker *w)
{
	struct snapshot *pending;

	pthread_join(w->thread, NULL);
	sem_destroy(&w->started);
	io_uring_queue_exit(&w->ring);
	for (size_t i = 0; i < LISTENER_SLOTS; i++) {
		int fd = atomic_exchange(&w->pending_fd[i], -1);

		if (w->listeners[i].fd >= 0)
			close(w->listeners[i].fd);
		if (fd >= 0)
			close(fd);
	}
	close(w->notify_fd);
	for (uint32_t i = 0; i < w->n_slots; i++)
		free(w->slots[i]);
	free(w->slots);
	free(w->slot_gens);
	for (unsigned i = 0; i < w->n_spare_pipes; i++) {
		close(w->spare_pipes[i][0]);
		close(w->spare_pipes[i][1]);
	}
	free(w->free_slots);
	pending = atomic_exchange(&w->next_snap, NULL);
	snapshot_put(pending);
	snapshot_put(w->snap);
}
