/* SPDX-License-Identifier: MIT */
/*
 * unixsock.h - Unix sockets for local programs (unixsock.c).
 */
#ifndef KTLSD_UNIXSOCK_H
#define KTLSD_UNIXSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct unixsock {
	int fd;	    /* listening, non-blocking; -1 when closed */
	char *path; /* removed at close if still ours: */
	dev_t dev;
	ino_t ino;
	uint32_t *uids; /* allowed besides root and ktlsd's own uid */
	size_t n_uids;
};

int unixsock_open(const struct cfg_access *a, int type, const char *what, struct unixsock *us);
void unixsock_close(struct unixsock *us);
void unixsock_unlink(const struct unixsock *us);
bool unixsock_peer_allowed(const struct unixsock *us, int fd, uid_t *uid_out);

#endif
