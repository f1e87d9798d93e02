// SPDX-License-Identifier: MIT
/*
 * privdrop.c - running as `user` once what needs root is done.
 *
 * Called once, before the first thread: listeners are bound, certificates and keys are
 * loaded, the open-file limit is raised. libcap-ng keeps the few capabilities the rest
 * of the run needs (binding runtime listeners below 1024, SO_MARK, giving a socket its
 * group) and changes uid and gid with the supplementary groups dropped and the bounding
 * set cleared; the threads started afterwards inherit that.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cap-ng.h>

#include "runtime.h"

/*
 * The directory of a control or handoff socket, which ktlsd makes after the drop: it
 * must be the user's. Created if missing; a root-owned one (systemd's RuntimeDirectory)
 * is handed over, a world-writable sticky one (/tmp) left alone.
 */
static int privdrop_socket_dir(const char *socket, uid_t uid, gid_t gid)
{
	char *copy = socket ? strdup(socket) : NULL;
	const char *dir;
	struct stat st;
	int ret = 0;

	if (!socket)
		return 0;
	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_err("user: mkdir %s: %s", dir, strerror(errno));
	} else if (stat(dir, &st) < 0) {
		ret = -errno;
		log_err("user: %s: %s", dir, strerror(errno));
	} else if (st.st_uid != uid && !((st.st_mode & S_ISVTX) && (st.st_mode & S_IWOTH))) {
		if (chown(dir, uid, gid) < 0) {
			ret = -errno;
			log_err("user: chown %s: %s", dir, strerror(errno));
		} else {
			log_info("user: %s now belongs to uid %u", dir, (unsigned)uid);
		}
	}
	free(copy);
	return ret;
}

static bool privdrop_any_mark(const struct ktlsd_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		if (cfg->listeners[i].mark)
			return true;
	return false;
}

/**
 * privdrop() - become cfg->run_user (and run_group), if set and started as root.
 * Return: 0, or -errno (logged): ktlsd must not go on as root against its configuration.
 */
int privdrop(const struct ktlsd_cfg *cfg)
{
	uid_t uid = (uid_t)cfg->run_uid;
	gid_t gid = (gid_t)cfg->run_gid;
	bool chown_caps = cfg->control.group || cfg->handoff.group;
	bool mark_caps = privdrop_any_mark(cfg);
	int ret;

	if (!cfg->run_user)
		return 0;
	if (geteuid() != 0) {
		log_warn("user = \"%s\": not started as root (uid %u), nothing to drop",
			 cfg->run_user, (unsigned)geteuid());
		return 0;
	}
	ret = privdrop_socket_dir(cfg->control.socket, uid, gid);
	if (!ret)
		ret = privdrop_socket_dir(cfg->handoff.socket, uid, gid);
	if (ret < 0)
		return ret;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_BIND_SERVICE) < 0 ||
	    (mark_caps &&
	     capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN) < 0) ||
	    (chown_caps &&
	     capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_CHOWN) < 0)) {
		log_err("user: capng_update failed");
		return -EINVAL;
	}
	ret = capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (ret < 0) {
		log_err("user: changing to %s (uid %u, gid %u) failed (libcap-ng %d)",
			cfg->run_user, (unsigned)uid, (unsigned)gid, ret);
		return -EPERM;
	}
	log_info("running as user %s (uid %u, gid %u), capabilities kept: net_bind_service%s%s",
		 cfg->run_user, (unsigned)uid, (unsigned)gid, mark_caps ? ", net_admin" : "",
		 chown_caps ? ", chown" : "");
	return 0;
}
