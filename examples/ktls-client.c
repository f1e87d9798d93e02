// SPDX-License-Identifier: MIT
/*
 * ktls-client - libktls's client role: connects a TCP socket to HOST PORT and has ktlsd
 * perform the TLS client handshake on it (SNI and certificate verification for HOST), or
 * takes a ready connection to an upstream configured in ktlsd (-P, its warm pool); then
 * talks plaintext over the descriptor it gets back, never touching TLS itself.
 *
 *   ktls-client [-s HANDOFF_SOCKET] [-a ALPN] [-H NAME] [-k] [-K] [-n COUNT] [-r FILE]
 *               [-P UPSTREAM | HOST PORT]
 *
 * -H: the SNI and verified name instead of HOST; -k: KTLS_VERIFY_OPTIONAL; -K:
 * KTLS_REQUIRE_KTLS (-a, -H, -k and -K concern HOST PORT only; an upstream's are in
 * ktlsd's configuration). COUNT tries (default 1), each printing one result line on
 * stderr. With -r, every try writes FILE to the connection and copies what comes back to
 * stdout until the server closes; without, the last try copies stdin to the connection
 * (then half-closes it) and the connection to stdout until the server closes.
 * Exit status: 0, 1 if a try failed, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ktlsd/handoff.h> /* KTLSD_HANDOFF_SOCKET, for the error message */
#include <ktlsd/ktls.h>

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#define TLS_CT_ALERT 21
#define TLS_CT_DATA  23

struct opts {
	int h;		  /* the handoff socket */
	const char *alpn; /* NULL: none */
	const char *name; /* SNI and verified name (HOST, or -H) */
	const char *host, *port;
	const char *upstream; /* -P */
	unsigned flags;	      /* KTLS_* */
	unsigned char *req;   /* -r: the request's bytes */
	size_t req_len;
	bool have_req;
};

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s HANDOFF_SOCKET] [-a ALPN] [-H NAME] [-k] [-K] [-n COUNT] [-r FILE] "
		"[-P UPSTREAM | HOST PORT]\n",
		prog);
	return 2;
}

/* The whole of @path in a malloc()ed *buf. */
static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	size_t cap = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			unsigned char *nb = realloc(*buf, cap = cap * 2 + 4096);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			*buf = nb;
		}
		n = read(fd, *buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		*len += (size_t)n;
	}
	close(fd);
	if (err < 0) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * read() for the connection: on a kernel TLS socket, a record other than application data
 * fails a plain read() (EIO), so ask for the record type. A close_notify alert reads as
 * the end of the stream; another alert as -ECONNRESET; a late handshake record (a
 * NewSessionTicket) carries nothing for us: -EAGAIN, read again. A relayed socketpair end
 * never has any of them. Return: bytes read, 0 at the end, or -errno.
 */
static ssize_t conn_read(int fd, unsigned char *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *cm;
	unsigned char type = TLS_CT_DATA;
	ssize_t n = recvmsg(fd, &mh, 0);

	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return 0;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
		type = *CMSG_DATA(cm);
	if (type == TLS_CT_DATA)
		return n;
	if (type == TLS_CT_ALERT)
		return n >= 2 && buf[1] == 0 ? 0 : -ECONNRESET; /* 0: close_notify */
	return -EAGAIN;
}

/* Copies the connection to stdout until the server closes. */
static int copy_out(int fd)
{
	unsigned char buf[16384];
	ssize_t n;

	while ((n = conn_read(fd, buf, sizeof(buf))) > 0 || n == -EAGAIN) {
		int ret = n > 0 ? write_all(STDOUT_FILENO, buf, (size_t)n) : 0;

		if (ret < 0)
			return ret;
	}
	return (int)n;
}

/* stdin to the connection (half-closing it at stdin's end), the connection to stdout,
 * until the server closes. */
static int interact(int fd)
{
	struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	unsigned char buf[16384];

	for (;;) {
		ssize_t n;
		int ret;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno != EINTR)
				return -errno;
			ret = n > 0 ? write_all(fd, buf, (size_t)n) : 0;
			if (ret < 0)
				return ret;
			if (n == 0) {
				shutdown(fd, SHUT_WR);
				p[0].fd = -1;
			}
		}
		if (p[1].revents) {
			n = conn_read(fd, buf, sizeof(buf));
			if (n == -EAGAIN)
				continue;
			if (n <= 0)
				return (int)n;
			ret = write_all(STDOUT_FILENO, buf, (size_t)n);
			if (ret < 0)
				return ret;
		}
	}
}

/* A blocking TCP socket connected to HOST PORT, or -1 (said why on stderr). */
static int tcp_connect(const struct opts *o, long try)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1, err = 0, ret = getaddrinfo(o->host, o->port, &hints, &ai);

	if (ret != 0) {
		fprintf(stderr, "ktls-client: try %ld: failed: resolve %s %s: %s\n", try, o->host,
			o->port, gai_strerror(ret));
		return -1;
	}
	for (a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			err = errno;
			close(fd);
			fd = -1;
		} else if (fd < 0) {
			err = errno;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "ktls-client: try %ld: failed: connect %s %s: %s\n", try, o->host,
			o->port, strerror(err));
	return fd;
}

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

/* One try: a connection, its result line, then the data. Return: 0 or -1. */
static int try_once(const struct opts *o, long try, bool last)
{
	struct ktls_result r;
	int fd, ret;

	if (o->upstream) {
		fd = ret = ktls_pool_get(o->h, o->upstream, 10000, &r);
	} else {
		fd = tcp_connect(o, try);
		if (fd < 0)
			return -1;
		ret = ktls_client(o->h, fd, o->name, o->alpn, o->flags, 10000, &r);
	}
	if (ret < 0) {
		if (ret == -EPROTO)
			fprintf(stderr, "ktls-client: try %ld: failed: status %d (%s): %s\n", try,
				r.status, ktls_strstatus(r.status), r.message);
		else
			fprintf(stderr, "ktls-client: try %ld: failed: handoff: %s\n", try,
				strerror(-ret));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(stderr,
		"ktls-client: try %ld: TLS 0x%04x cipher=%s group=%s alpn=%s resumed=%d "
		"verified=%d verify_result=%d subject=%s ktls_tx=%d ktls_rx=%d relay=%d pooled=%d "
		"handshake_us=%u\n",
		try, r.tls_version, or_dash(r.cipher), or_dash(r.group), or_dash(r.alpn), r.resumed,
		r.verified, r.verify_result, or_dash(r.peer_subject), r.ktls_tx, r.ktls_rx, r.relay,
		r.pooled, r.handshake_us);
	ret = 0;
	if (o->have_req) {
		ret = write_all(fd, o->req, o->req_len);
		if (ret == 0)
			ret = copy_out(fd);
	} else if (last) {
		ret = interact(fd);
	}
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "ktls-client: try %ld: failed: data: %s\n", try, strerror(-ret));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .h = -1 };
	const char *sock = NULL, *req_path = NULL;
	long count = 1;
	bool failed = false;
	char *end;
	int opt, ret;

	while ((opt = getopt(argc, argv, "s:a:H:kKn:r:P:h")) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'a':
			o.alpn = optarg;
			break;
		case 'H':
			o.name = optarg;
			break;
		case 'k':
			o.flags |= KTLS_VERIFY_OPTIONAL;
			break;
		case 'K':
			o.flags |= KTLS_REQUIRE_KTLS;
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1)
				return usage(argv[0]);
			break;
		case 'r':
			req_path = optarg;
			break;
		case 'P':
			o.upstream = optarg;
			break;
		default:
			return usage(argv[0]);
		}
	}
	if (optind + (o.upstream ? 0 : 2) != argc)
		return usage(argv[0]);
	if (!o.upstream) {
		o.host = argv[optind];
		o.port = argv[optind + 1];
		if (!o.name)
			o.name = o.host;
	}
	if (req_path) {
		ret = read_file(req_path, &o.req, &o.req_len);
		if (ret < 0) {
			fprintf(stderr, "ktls-client: %s: %s\n", req_path, strerror(-ret));
			return 2;
		}
		o.have_req = true;
	}
	signal(SIGPIPE, SIG_IGN);
	o.h = ktls_open(sock);
	if (o.h < 0) {
		if (!sock || !*sock)
			sock = getenv("KTLSD_HANDOFF_SOCKET"); /* as ktls_open() does */
		fprintf(stderr, "ktls-client: cannot connect to ktlsd's handoff socket %s: %s\n",
			sock && *sock ? sock : KTLSD_HANDOFF_SOCKET, strerror(-o.h));
		free(o.req);
		return 1;
	}
	for (long i = 1; i <= count; i++)
		if (try_once(&o, i, i == count) < 0)
			failed = true;
	ktls_close(o.h);
	free(o.req);
	return failed ? 1 : 0;
}
