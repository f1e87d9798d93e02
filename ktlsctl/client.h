/* SPDX-License-Identifier: MIT */
/*
 * client.h - one request, one reply over the control socket (client.c).
 */
#ifndef KTLSCTL_CLIENT_H
#define KTLSCTL_CLIENT_H

#include <stddef.h>

/* A reply is read into memory up to this size (replies of `conns` can be many MB). */
#define CTL_MAX_REPLY (256u << 20)

/*
 * ctl_exchange() - connect to @path, send @req (@len bytes, one line ending in '\n'),
 * read one reply line.
 * @timeout: seconds for all of it
 * @reply:   set to a malloc'd, NUL-terminated copy of the line without its '\n'
 * @rlen:    its length
 *
 * Return: 0, or CTL_EXIT_NOREPLY after printing why (naming @path) on stderr.
 */
int ctl_exchange(const char *path, double timeout, const char *req, size_t len, char **reply,
		 size_t *rlen);

#endif /* KTLSCTL_CLIENT_H */
