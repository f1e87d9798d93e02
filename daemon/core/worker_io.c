// SPDX-License-Identifier: MIT
/*
 * worker_io.c - the two ways the rest of the daemon reaches a worker: a submission entry
 * on its ring (only on the worker's own thread) and a wake-up through its eventfd (from
 * any thread). The bottom of the core: it calls nothing above it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/**
 * worker_get_sqe() - a free submission entry, flushing the queue to the kernel if full.
 * Return: the SQE or NULL if even a submit could not make room (logged).
 */
struct io_uring_sqe *worker_get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	int ret;

	if (sqe)
		return sqe;
	ret = io_uring_submit(&w->ring);
	if (ret < 0)
		log_err("worker %u: io_uring_submit: %s", w->idx, strerror(-ret));
	sqe = io_uring_get_sqe(&w->ring);
	if (!sqe)
		log_err("worker %u: submission queue full", w->idx);
	return sqe;
}

/** worker_notify() - wake the worker to look at next_snap and stop. */
void worker_notify(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->notify_fd, &one, sizeof(one)) != sizeof(one))
		log_err("worker %u: eventfd write: %s", w->idx, strerror(errno));
}
