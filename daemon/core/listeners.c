// SPDX-License-Identifier: MIT
/*
 * listeners.c - which listening sockets exist, across reloads and runtime changes.
 *
 * A listener lives in a *slot* for as long as its name and address stay the same, so its
 * sockets (one SO_REUSEPORT socket per worker) survive reloads and keep their queues. The
 * main side (this file; the caller holds the ktlsd lock) matches a new configuration's
 * listeners to slots, opens the sockets of new ones and hands them to the workers through
 * worker->pending_fd[]; each worker then takes them, and closes the sockets of slots the
 * new snapshot no longer uses, when it switches snapshots (worker.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"

/* A slot in use for @l's address. */
static bool lslot_has_addr(const struct lslot *s, const struct cfg_listener *l)
{
	return s->used && s->addr_len == l->addr_len && !memcmp(&s->addr, &l->addr, l->addr_len);
}

/* The same name and address, and the same options on the socket (else new sockets). */
static bool lslot_matches(const struct lslot *s, const struct cfg_listener *l)
{
	return lslot_has_addr(s, l) && !strcmp(s->name, l->name) &&
	       s->keepalive_s == l->tcp_keepalive_s && s->mark == l->mark;
}

/*
 * Options accepted sockets inherit from the listening one, so they cost nothing per
 * connection: keepalive (idle, interval, count) and the mark. Return: 0 or -1 (errno).
 */
static int listener_set_inherited(int fd, const struct cfg_listener *l)
{
	int one = 1, idle = (int)l->tcp_keepalive_s, intvl = idle >= 3 ? idle / 3 : 1, cnt = 3;

	if (idle && (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
		     setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ||
		     setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
		     setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0))
		return -1;
	if (l->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &l->mark, sizeof(l->mark)) < 0)
		return -1;
	return 0;
}

/* A slot used neither before nor by an earlier listener of the new configuration. */
static int lslot_free_index(const struct lslots *ls, const bool *taken)
{
	for (int i = 0; i < LISTENER_SLOTS; i++)
		if (!ls->slot[i].used && !taken[i])
			return i;
	return -1;
}

/**
 * listener_open() - a bound, listening SO_REUSEPORT socket for @l.
 * Return: 0 with *fd_out set, or -errno (logged with the listener's name).
 */
static int listener_open(const struct cfg_listener *l, int *fd_out)
{
	int fd, one = 1, err;

	*fd_out = -1;
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	/* Accepted sockets inherit TCP_NODELAY: handshake flights leave at once. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    listener_set_inherited(fd, l) < 0)
		goto fail;
	/* "[::]:443" and "0.0.0.0:443" can then be two listeners, as with nginx. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0)
		goto fail;
	if (listen(fd, l->backlog) < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	err = -errno;
	log_err("listener \"%s\" (%s): %s", l->name, l->listen_str, strerror(errno));
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * SO_REUSEPORT would let a second ktlsd (or any process of the same user) bind the same
 * address and take half of its connections without a word. A socket bound without it
 * finds out first: EADDRINUSE if anyone listens there. Skipped when one of our own slots
 * has that address (a listener renamed by a reload).
 * Return: 0 or -EADDRINUSE (with @err set).
 */
static int listener_check_free(const struct lslots *ls, const struct cfg_listener *l, char *err,
			       size_t errlen)
{
	int fd, one = 1, ret = 0;

	for (int j = 0; j < LISTENER_SLOTS; j++)
		if (lslot_has_addr(&ls->slot[j], l))
			return 0;
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0; /* listener_open() reports it */
	if (l->addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0 && errno == EADDRINUSE) {
		snprintf(err, errlen,
			 "listener \"%s\" (%s): address in use by another process (another ktlsd?)",
			 l->name, l->listen_str);
		ret = -EADDRINUSE;
	}
	close(fd);
	return ret;
}

/**
 * listeners_assign() - give each listener of @cfg a slot, opening sockets for new ones.
 * @ls:        the slots, as the running configuration uses them
 * @cfg:       the new configuration; its listeners' ->slot fields are set
 * @workers:   where the new sockets go (pending_fd), @n_workers of them
 * @err:       on failure, which listener and why
 *
 * On success the new sockets wait in the workers' pending_fd until the workers take the
 * new snapshot, and slots the new configuration does not use are released (their sockets
 * close in each worker). On failure nothing changed and nothing is left open.
 *
 * Return: 0, -ENOSPC (no free slot) or the -errno of the socket that could not be opened.
 */
int listeners_assign(struct lslots *ls, struct ktlsd_cfg *cfg, struct worker *workers,
		     unsigned n_workers, char *err, size_t errlen)
{
	const struct cfg_listener *fresh[LISTENER_SLOTS] = { NULL }; /* slots opened now */
	bool taken[LISTENER_SLOTS] = { false };
	int *fds = calloc((size_t)LISTENER_SLOTS * n_workers, sizeof(int));
	int ret = 0;
	size_t i;

	if (!fds) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < (size_t)LISTENER_SLOTS * n_workers; i++)
		fds[i] = -1;
	for (i = 0; i < cfg->n_listeners && !ret; i++) {
		struct cfg_listener *l = &cfg->listeners[i];
		int s = -1;

		if (l->handoff)
			continue; /* the handoff socket is handoff.c's */

		for (int j = 0; j < LISTENER_SLOTS && s < 0; j++)
			if (lslot_matches(&ls->slot[j], l) && !taken[j])
				s = j;
		if (s < 0) {
			s = lslot_free_index(ls, taken);
			if (s < 0) {
				snprintf(err, errlen, "listener \"%s\": more than %d listeners",
					 l->name, LISTENER_SLOTS);
				ret = -ENOSPC;
				break;
			}
			fresh[s] = l;
			ret = listener_check_free(ls, l, err, errlen);
			for (unsigned w = 0; w < n_workers && !ret; w++) {
				ret = listener_open(l, &fds[(size_t)s * n_workers + w]);
				if (ret < 0)
					snprintf(err, errlen, "listener \"%s\" (%s): %s", l->name,
						 l->listen_str, strerror(-ret));
			}
		}
		taken[s] = true;
		l->slot = (unsigned)s;
	}
	if (ret < 0) {
		for (i = 0; i < (size_t)LISTENER_SLOTS * n_workers; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		free(fds);
		return ret;
	}
	/* Commit: the slot table follows the new configuration. */
	for (int s = 0; s < LISTENER_SLOTS; s++) {
		struct lslot *sl = &ls->slot[s];

		const struct cfg_listener *l = fresh[s];

		if (l) {
			free(sl->name);
			sl->name = strdup(l->name);
			sl->addr = l->addr;
			sl->addr_len = l->addr_len;
			sl->keepalive_s = l->tcp_keepalive_s;
			sl->mark = l->mark;
			sl->used = sl->name != NULL;
			for (unsigned w = 0; w < n_workers; w++) {
				int old = atomic_exchange(&workers[w].pending_fd[s],
							  fds[(size_t)s * n_workers + w]);

				if (old >= 0) /* handed over before and never taken */
					close(old);
			}
		} else if (!taken[s] && sl->used) {
			sl->used = false;
		}
	}
	free(fds);
	return 0;
}

/** listeners_release() - forget every slot (at exit). */
void listeners_release(struct lslots *ls)
{
	for (int s = 0; s < LISTENER_SLOTS; s++) {
		free(ls->slot[s].name);
		ls->slot[s].name = NULL;
		ls->slot[s].used = false;
	}
}
