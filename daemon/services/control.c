// SPDX-License-Identifier: MIT
/*
 * control.c - the control socket (and the optional Prometheus HTTP endpoint) on a thread
 * of their own.
 *
 * One thread, one poll() loop over: the Unix control socket, the metrics TCP socket,
 * their clients and a pipe that asks the thread to stop. Clients are non-blocking; a
 * request is read up to its newline (at most KTLSD_CONTROL_MAX_REQUEST bytes), run, and
 * its reply written before the next request is read. Every client has a deadline: a
 * client that says nothing, or does not read its reply, is dropped. Nothing here can
 * delay a worker: commands read counters, take the daemon's lock for configuration
 * changes, or ask a worker through worker_call() with a timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "services.h"
#include "metrics.h"
#include "unixsock.h"

#define CTL_HTTP_MAX_REQUEST 8192

enum ctl_client_kind { CTL_CLIENT_API, CTL_CLIENT_HTTP };

struct ctl_client {
	int fd;
	enum ctl_client_kind kind;
	char *in; /* KTLSD_CONTROL_MAX_REQUEST bytes */
	size_t in_len;
	char *out; /* the reply being written */
	size_t out_len, out_off;
	bool close_after; /* once the reply is out */
	bool eof;	  /* the client finished sending: answer what is buffered, then close */
	uint64_t deadline_ms;
};

struct control {
	struct control_env env;
	pthread_t thread;
	struct unixsock api; /* the control socket (api.fd -1: none) */
	int http_fd;	     /* listening metrics socket, or -1 */
	int stop[2];	     /* pipe: the main thread writes to stop the loop */
	struct ctl_client clients[KTLSD_CONTROL_MAX_CLIENTS];
};

static int control_open_http(struct control *ctl, const struct ktlsd_cfg *cfg)
{
	int one = 1,
	    fd = socket(cfg->metrics_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&cfg->metrics_addr, cfg->metrics_addr_len) < 0 ||
	    listen(fd, 16) < 0) {
		int ret = -errno;

		log_err("metrics_listen %s: %s", cfg->metrics_listen, strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	ctl->http_fd = fd;
	log_info("Prometheus metrics on http://%s/metrics", cfg->metrics_listen);
	return 0;
}

/* ---- clients ---- */

static void control_client_close(struct ctl_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->in);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* Queues @line (taken over) as the reply; NULL (out of memory) closes the client. */
static void control_client_reply(struct ctl_client *cl, char *line, bool close_after)
{
	free(cl->out);
	cl->out = line;
	cl->out_len = line ? strlen(line) : 0;
	cl->out_off = 0;
	cl->close_after = close_after || !line;
	cl->deadline_ms = now_monotonic_ms() + KTLSD_CONTROL_TIMEOUT_MS;
}

static void control_accept(struct control *ctl, int lfd, enum ctl_client_kind kind)
{
	struct ctl_client *cl = NULL;
	uid_t uid = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < KTLSD_CONTROL_MAX_CLIENTS && !cl; i++)
		if (ctl->clients[i].fd < 0)
			cl = &ctl->clients[i];
	if (!cl) {
		static const char busy[] =
			"{\"version\":1,\"ok\":false,\"error\":{\"code\":\"busy\","
			"\"message\":\"too many control connections\"}}\n";

		if (kind == CTL_CLIENT_API && write(fd, busy, sizeof(busy) - 1) < 0)
			log_debug("control: busy reply: %s", strerror(errno));
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->kind = kind;
	cl->in = malloc(KTLSD_CONTROL_MAX_REQUEST);
	cl->deadline_ms = now_monotonic_ms() + KTLSD_CONTROL_TIMEOUT_MS;
	if (!cl->in) {
		control_client_close(cl);
		return;
	}
	if (kind == CTL_CLIENT_API && !unixsock_peer_allowed(&ctl->api, fd, &uid)) {
		char msg[96];

		log_warn("control: refused a connection from uid %u (not in control_allow_uids)",
			 (unsigned)uid);
		snprintf(msg, sizeof(msg), "uid %u may not use the control socket", (unsigned)uid);
		control_client_reply(cl, ctl_reply_error(NULL, KTLSD_CTL_E_PERMISSION, msg), true);
	}
}

static void control_handle_request(struct control *ctl, struct ctl_client *cl, size_t len)
{
	struct ctl_request req;
	struct ctl_error err = { 0 };
	struct json_object *result;
	char *line;

	if (ctl_parse(cl->in, len, &req, &err) < 0) {
		line = ctl_reply_error(req.id, err.code, err.msg);
		ctl_request_clear(&req);
		control_client_reply(cl, line, false);
		return;
	}
	log_debug("control: %s", ctl_cmd_name(req.cmd));
	result = ctl->env.run(ctl->env.ctx, &req, &err);
	line = result ? ctl_reply_ok(req.id, result)
		      : ctl_reply_error(req.id, err.code ? err.code : KTLSD_CTL_E_FAILED, err.msg);
	ctl_request_clear(&req);
	control_client_reply(cl, line, false);
}

/* GET /metrics: the Prometheus text; other paths 404, other methods 405. */
static void control_handle_http(struct control *ctl, struct ctl_client *cl)
{
	const char *status = "404 Not Found", *ctype = "text/plain; charset=utf-8";
	struct json_object *stats;
	char *body = NULL, *resp = NULL;
	size_t body_len = 0;

	if (strncmp(cl->in, "GET ", 4) != 0) {
		status = "405 Method Not Allowed";
	} else if (!strncmp(cl->in + 4, "/metrics ", 9) || !strncmp(cl->in + 4, "/metrics?", 9)) {
		stats = ctl->env.stats(ctl->env.ctx);
		if (stats && metrics_format(stats, &body, &body_len) == 0) {
			status = "200 OK";
			ctype = "text/plain; version=0.0.4; charset=utf-8";
		} else {
			status = "500 Internal Server Error";
		}
		json_object_put(stats);
	}
	if (!body && asprintf(&body, "%s\n", status) >= 0)
		body_len = strlen(body);
	if (!body || asprintf(&resp,
			      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			      "Connection: close\r\n\r\n%s",
			      status, ctype, body_len, body) < 0)
		resp = NULL;
	free(body);
	control_client_reply(cl, resp, true);
}

/* Runs the first complete request line in the buffer, if there is one. */
static bool control_client_next(struct control *ctl, struct ctl_client *cl)
{
	char *nl = memchr(cl->in, '\n', cl->in_len);

	if (!nl)
		return false;
	control_handle_request(ctl, cl, (size_t)(nl - cl->in));
	/* Bytes after the newline are the next request: keep them for later. */
	cl->in_len -= (size_t)(nl + 1 - cl->in);
	memmove(cl->in, nl + 1, cl->in_len);
	return true;
}

static void control_client_read(struct control *ctl, struct ctl_client *cl)
{
	size_t cap = cl->kind == CTL_CLIENT_API ? KTLSD_CONTROL_MAX_REQUEST : CTL_HTTP_MAX_REQUEST;
	ssize_t n = read(cl->fd, cl->in + cl->in_len, cap - cl->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cl->eof = true;
		if (cl->kind != CTL_CLIENT_API || !control_client_next(ctl, cl))
			control_client_close(cl);
		return;
	}
	cl->in_len += (size_t)n;
	if (cl->kind == CTL_CLIENT_HTTP) {
		if (memmem(cl->in, cl->in_len, "\r\n\r\n", 4) ||
		    memmem(cl->in, cl->in_len, "\n\n", 2)) {
			cl->in[cl->in_len < cap ? cl->in_len : cap - 1] = '\0';
			control_handle_http(ctl, cl);
		} else if (cl->in_len == cap) {
			control_client_close(cl);
		}
		return;
	}
	if (!control_client_next(ctl, cl) && cl->in_len == cap)
		control_client_reply(cl,
				     ctl_reply_error(NULL, KTLSD_CTL_E_TOO_LARGE,
						     "request longer than 65535 bytes"),
				     true);
}

static void control_client_write(struct control *ctl, struct ctl_client *cl)
{
	ssize_t n = write(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		control_client_close(cl);
		return;
	}
	cl->out_off += (size_t)n;
	if (cl->out_off < cl->out_len)
		return;
	free(cl->out);
	cl->out = NULL;
	if (cl->close_after) {
		control_client_close(cl);
		return;
	}
	cl->deadline_ms = now_monotonic_ms() + KTLSD_CONTROL_TIMEOUT_MS;
	/* Requests sent ahead are answered in order; after the client's EOF, then close. */
	if (!control_client_next(ctl, cl) && cl->eof)
		control_client_close(cl);
}

static void control_expire(struct ctl_client *cl, uint64_t now)
{
	if (cl->fd < 0 || now < cl->deadline_ms)
		return;
	if (cl->out || cl->kind == CTL_CLIENT_HTTP) { /* not reading its reply: drop it */
		control_client_close(cl);
		return;
	}
	control_client_reply(
		cl,
		ctl_reply_error(NULL, KTLSD_CTL_E_TIMEOUT, "no complete request within 10 seconds"),
		true);
}

static void *control_main(void *arg)
{
	struct control *ctl = arg;
	struct pollfd pfd[KTLSD_CONTROL_MAX_CLIENTS + 3];
	struct ctl_client *owner[KTLSD_CONTROL_MAX_CLIENTS + 3];

	for (;;) {
		nfds_t n = 0;
		int ret;

		pfd[n++] = (struct pollfd){ .fd = ctl->stop[0], .events = POLLIN };
		owner[0] = NULL;
		if (ctl->api.fd >= 0) {
			owner[n] = NULL;
			pfd[n++] = (struct pollfd){ .fd = ctl->api.fd, .events = POLLIN };
		}
		if (ctl->http_fd >= 0) {
			owner[n] = NULL;
			pfd[n++] = (struct pollfd){ .fd = ctl->http_fd, .events = POLLIN };
		}
		for (size_t i = 0; i < KTLSD_CONTROL_MAX_CLIENTS; i++) {
			struct ctl_client *cl = &ctl->clients[i];

			if (cl->fd < 0)
				continue;
			owner[n] = cl;
			pfd[n++] = (struct pollfd){ .fd = cl->fd,
						    .events = cl->out ? POLLOUT : POLLIN };
		}
		ret = poll(pfd, n, 1000);
		if (ret < 0 && errno != EINTR) {
			log_err("control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		for (nfds_t i = 1; ret > 0 && i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (!owner[i])
				control_accept(ctl, pfd[i].fd,
					       pfd[i].fd == ctl->api.fd ? CTL_CLIENT_API
									: CTL_CLIENT_HTTP);
			else if (owner[i]->out)
				control_client_write(ctl, owner[i]);
			else
				control_client_read(ctl, owner[i]);
		}
		for (size_t i = 0; i < KTLSD_CONTROL_MAX_CLIENTS; i++)
			control_expire(&ctl->clients[i], now_monotonic_ms());
	}
	return NULL;
}

/**
 * control_start() - open the control socket and the metrics endpoint, start their thread.
 * @k:   the daemon
 * @cfg: the configuration at start (socket path, mode, group, uids, metrics_listen); a
 *       reload does not move them
 * @out: the control state, for control_stop()
 * Return: 0 or -errno (logged).
 */
int control_start(const struct control_env *env, const struct ktlsd_cfg *cfg, struct control **out)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	int ret;

	*out = NULL;
	if (!ctl)
		return -ENOMEM;
	/* Durations and bounds print as 0.0005, not 0.00050000000000000001. */
	json_c_set_serialization_double_format("%.10g", JSON_C_OPTION_GLOBAL);
	ctl->env = *env;
	ctl->api.fd = ctl->http_fd = ctl->stop[0] = ctl->stop[1] = -1;
	for (size_t i = 0; i < KTLSD_CONTROL_MAX_CLIENTS; i++)
		ctl->clients[i].fd = -1;
	if (pipe2(ctl->stop, O_CLOEXEC) < 0) {
		ret = -errno;
		log_err("control: pipe: %s", strerror(-ret));
		goto fail;
	}
	if (cfg->control.socket &&
	    (ret = unixsock_open(&cfg->control, SOCK_STREAM, "control_socket", &ctl->api)) < 0)
		goto fail;
	if (cfg->metrics_listen && (ret = control_open_http(ctl, cfg)) < 0)
		goto fail;
	ret = pthread_create(&ctl->thread, NULL, control_main, ctl);
	if (ret) {
		log_err("control: pthread_create: %s", strerror(ret));
		ret = -ret;
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	control_stop(ctl);
	return ret;
}

/**
 * control_unlink() - remove the control socket's file, for an exit that has no time to
 * stop the thread (a second stop signal): clients then see no stale socket.
 */
void control_unlink(const struct control *ctl)
{
	if (ctl)
		unixsock_unlink(&ctl->api);
}

/** control_stop() - stop the thread, close every socket, remove the socket file. */
void control_stop(struct control *ctl)
{
	if (!ctl)
		return;
	if (ctl->thread) {
		if (write(ctl->stop[1], "x", 1) < 0)
			log_warn("control: stop: %s", strerror(errno));
		pthread_join(ctl->thread, NULL);
	}
	for (size_t i = 0; i < KTLSD_CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i].fd >= 0)
			control_client_close(&ctl->clients[i]);
	unixsock_close(&ctl->api);
	if (ctl->http_fd >= 0)
		close(ctl->http_fd);
	if (ctl->stop[0] >= 0)
		close(ctl->stop[0]);
	if (ctl->stop[1] >= 0)
		close(ctl->stop[1]);
	free(ctl);
}
