// SPDX-License-Identifier: MIT
/*
 * handoff_proto.c - the handoff protocol's replies and its ALPN list, shared by the handoff
 * socket's thread (handoff.c), the pool (pool.c) and the workers (handoff_conn.c). Calls
 * nothing of theirs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ktlsd/handoff.h>

#include "services.h"

/**
 * handoff_send_reply() - send @r (magic and version filled in here) with @fd attached if
 * >= 0, without blocking. Return: 0 or -errno.
 */
int handoff_send_reply(int app_fd, struct ktlsd_handoff_reply *r, int fd)
{
	int ret;

	r->magic = KTLSD_HANDOFF_MAGIC;
	r->version = KTLSD_HANDOFF_VERSION;
	ret = ktlsd_handoff_send(app_fd, r, sizeof(*r), fd, MSG_DONTWAIT);
	if (ret < 0)
		log_debug("handoff: reply: %s", strerror(-ret));
	return ret;
}

/** handoff_reply_now() - an error reply without a descriptor. */
void handoff_reply_now(int app_fd, uint64_t id, int status, const char *msg)
{
	struct ktlsd_handoff_reply r = {
		.status = (uint16_t)status,
		.id = id,
	};

	snprintf(r.message, sizeof(r.message), "%s", msg);
	handoff_send_reply(app_fd, &r, -1);
}

/** handoff_job_fail() - the error reply to a job that never became a connection; frees it. */
void handoff_job_fail(struct handoff_job *job, int status, const char *msg)
{
	handoff_reply_now(job->app_fd, job->id, status, msg);
	close(job->app_fd);
	close(job->cfd);
	free(job);
}

/** handoff_alpn_wire() - "h2,http/1.1" into ALPN wire format; false if an entry is empty or too long. */
bool handoff_alpn_wire(const char *list, uint8_t *wire, uint8_t *wire_len)
{
	size_t n = 0;

	*wire_len = 0;
	while (*list) {
		const char *comma = strchr(list, ',');
		size_t len = comma ? (size_t)(comma - list) : strlen(list);

		if (!len || len > 255 || n + 1 + len > 128)
			return false;
		wire[n++] = (uint8_t)len;
		for (size_t i = 0; i < len; i++) /* length-prefixed, not NUL-terminated */
			wire[n++] = (uint8_t)list[i];
		list += len + (comma ? 1 : 0);
	}
	*wire_len = (uint8_t)n;
	return true;
}
