// SPDX-License-Identifier: MIT
/*
 * unixsock.c - the Unix sockets ktlsd offers to local programs (control, handoff): made
 * with their configured mode and group, never taken over from a running process, removed
 * at exit only if still ours, and every peer's uid checked with SO_PEERCRED.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "services.h"
#include "unixsock.h"

/* A socket file whose owner still answers is a running ktlsd: never take it over. */
static int unixsock_check_stale(const char *path, int type, const char *what)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s %s exists and is not a socket", what, path);
		return -EEXIST;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (ret == 0 || errno == EPROTOTYPE) {
		log_err("%s %s is in use by a running process (another ktlsd?)", what, path);
		return -EADDRINUSE;
	}
	log_info("%s %s: removing a stale socket file", what, path);
	return unlink(path) < 0 ? -errno : 0;
}

/**
 * unixsock_open() - create, bind and listen on the socket @a describes.
 * @a:    path, mode, group and allowed uids (copied)
 * @type: SOCK_STREAM or SOCK_SEQPACKET
 * @what: the setting's name, for messages ("control_socket")
 * @us:   the result; unixsock_close() undoes it
 * Return: 0 or -errno (logged).
 */
int unixsock_open(const struct cfg_access *a, int type, const char *what, struct unixsock *us)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *dir = strdup(a->socket), *slash;
	struct stat st;
	mode_t old_mask;
	int fd = -1, ret;

	memset(us, 0, sizeof(*us));
	us->fd = -1;
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("%s: mkdir %s: %s", what, dir, strerror(errno));
	}
	free(dir);
	ret = unixsock_check_stale(a->socket, type, what);
	if (ret < 0)
		return ret;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->socket);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	/* Never reachable by others, not even between bind() and chmod(). */
	old_mask = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (ret < 0)
		goto fail;
	if (a->group && chown(a->socket, (uid_t)-1, (gid_t)a->gid) < 0)
		goto fail_unlink;
	if (chmod(a->socket, a->mode) < 0 || listen(fd, 64) < 0)
		goto fail_unlink;
	us->path = strdup(a->socket);
	us->uids = calloc(a->n_uids + 1, sizeof(*us->uids));
	if (!us->path || !us->uids) {
		errno = ENOMEM;
		goto fail_unlink;
	}
	for (size_t i = 0; i < a->n_uids; i++)
		us->uids[i] = a->uids[i];
	us->n_uids = a->n_uids;
	if (lstat(a->socket, &st) == 0) {
		us->dev = st.st_dev;
		us->ino = st.st_ino;
	}
	us->fd = fd;
	log_info("%s %s (mode %04o%s%s)", what, a->socket, a->mode, a->group ? ", group " : "",
		 a->group ? a->group : "");
	return 0;
fail_unlink:
	ret = -errno;
	unlink(a->socket);
	errno = -ret;
fail:
	ret = -errno;
	log_err("%s %s: %s", what, a->socket, strerror(-ret));
	if (fd >= 0)
		close(fd);
	free(us->path);
	free(us->uids);
	memset(us, 0, sizeof(*us));
	us->fd = -1;
	return ret;
}

/**
 * unixsock_unlink() - remove the socket's file if it is still the one made here (another
 * ktlsd may have replaced it); the socket itself stays open.
 */
void unixsock_unlink(const struct unixsock *us)
{
	struct stat st;

	if (us->path && lstat(us->path, &st) == 0 && st.st_dev == us->dev && st.st_ino == us->ino)
		unlink(us->path);
}

/** unixsock_close() - close it; remove the file if it is still the one made here. */
void unixsock_close(struct unixsock *us)
{
	if (us->fd >= 0)
		close(us->fd);
	unixsock_unlink(us);
	free(us->path);
	free(us->uids);
	memset(us, 0, sizeof(*us));
	us->fd = -1;
}

/**
 * unixsock_peer_allowed() - may the peer of @fd use the socket? Root, ktlsd's own uid and
 * the configured uids may. @uid_out: the peer's uid, for messages.
 */
bool unixsock_peer_allowed(const struct unixsock *us, int fd, uid_t *uid_out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*uid_out = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*uid_out = cred.uid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	for (size_t i = 0; i < us->n_uids; i++)
		if (us->uids[i] == cred.uid)
			return true;
	return false;
}
