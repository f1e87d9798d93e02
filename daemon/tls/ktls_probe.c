// SPDX-License-Identifier: MIT
/*
 * ktls_probe.c - probe what the running kernel's TLS offers.
 *
 * Everything runs on loopback TCP connections made here (127.0.0.1, ephemeral
 * port), with dummy all-zero keys: the kernel only has to accept the crypto
 * parameters (the splice check makes it encrypt one record; nothing is
 * decrypted). Each (version, cipher) pair uses its own connection, so one
 * refusal cannot spoil the next check. Needs no privilege when the tls module
 * is loaded (or built in); loading it needs CAP_SYS_MODULE/CAP_NET_ADMIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <linux/tls.h>
#include <liburing.h>

#include "ktls_probe.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif
/* Newer than some installed uapi headers: 5.19 and 6.0. */
#ifndef TLS_TX_ZEROCOPY_RO
#define TLS_TX_ZEROCOPY_RO 3
#endif
#ifndef TLS_RX_EXPECT_NO_PAD
#define TLS_RX_EXPECT_NO_PAD 4
#endif

#define TLS_RECORD_HDR_LEN   5
#define TLS_CT_APP_DATA	     23
#define PROBE_TIMEOUT_SEC    10 /* generous: the test VM emulates its CPU */
#define PROBE_SPLICE_PAYLOAD "ktls-probe splice\n"

/* Sizes of one struct tls12_crypto_info_* from <linux/tls.h>. */
struct ktls_cipher_desc {
	const char *name;
	int cipher_type;
	size_t key, iv, salt, rec_seq;
	size_t info_size; /* sizeof(struct tls12_crypto_info_*) */
};

#define CIPHER(nm, id, stype)                                                                      \
	{                                                                                          \
		.name = (nm), .cipher_type = TLS_CIPHER_##id, .key = TLS_CIPHER_##id##_KEY_SIZE,   \
		.iv = TLS_CIPHER_##id##_IV_SIZE, .salt = TLS_CIPHER_##id##_SALT_SIZE,              \
		.rec_seq = TLS_CIPHER_##id##_REC_SEQ_SIZE, .info_size = sizeof(struct stype),      \
	}

static const struct ktls_cipher_desc ktls_ciphers[] = {
	CIPHER("AES-128-GCM", AES_GCM_128, tls12_crypto_info_aes_gcm_128),
	CIPHER("AES-256-GCM", AES_GCM_256, tls12_crypto_info_aes_gcm_256),
	CIPHER("CHACHA20-POLY1305", CHACHA20_POLY1305, tls12_crypto_info_chacha20_poly1305),
};

#define NCIPHERS (sizeof(ktls_ciphers) / sizeof(ktls_ciphers[0]))

_Static_assert(2 * NCIPHERS == KTLS_PROBE_NCOMBOS, "one combo per version and cipher");

/* The structs are the header followed by iv, key, salt, rec_seq (no padding). */
#define CIPHER_LAYOUT_OK(id, stype)                                                                \
	_Static_assert(sizeof(struct stype) ==                                                     \
			       sizeof(struct tls_crypto_info) + TLS_CIPHER_##id##_KEY_SIZE +       \
				       TLS_CIPHER_##id##_IV_SIZE + TLS_CIPHER_##id##_SALT_SIZE +   \
				       TLS_CIPHER_##id##_REC_SEQ_SIZE,                             \
		       #stype " layout")
CIPHER_LAYOUT_OK(AES_GCM_128, tls12_crypto_info_aes_gcm_128);
CIPHER_LAYOUT_OK(AES_GCM_256, tls12_crypto_info_aes_gcm_256);
CIPHER_LAYOUT_OK(CHACHA20_POLY1305, tls12_crypto_info_chacha20_poly1305);

/* Large enough for any crypto_info above. */
union ktls_crypto_info_any {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = PROBE_TIMEOUT_SEC };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/*
 * A connected TCP pair over 127.0.0.1 with an ephemeral port; both ends are
 * ESTABLISHED when this returns 0. On failure both are -1.
 */
static int tcp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd, ret = 0;

	*cfd = -1;
	*sfd = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		ret = -errno;
		goto out;
	}
	*cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*cfd < 0) {
		ret = -errno;
		goto out;
	}
	/* A blocking connect to a listening loopback socket completes at once. */
	if (connect(*cfd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		ret = -errno;
		goto out;
	}
	*sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*sfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = set_timeouts(*cfd);
	if (!ret)
		ret = set_timeouts(*sfd);
out:
	if (ret) {
		close_fd(cfd);
		close_fd(sfd);
	}
	close(lfd);
	return ret;
}

static int attach_ulp(int fd)
{
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return -errno;
	return 0;
}

/* setsockopt(SOL_TLS, TLS_TX or TLS_RX) with an all-zero key, iv, salt, rec_seq. */
static int install_dummy_key(int fd, int dir, int version, const struct ktls_cipher_desc *c)
{
	union ktls_crypto_info_any ci;

	memset(&ci, 0, sizeof(ci));
	ci.info.version = (unsigned short)version;
	ci.info.cipher_type = (unsigned short)c->cipher_type;
	if (setsockopt(fd, SOL_TLS, dir, &ci, (socklen_t)c->info_size) < 0)
		return -errno;
	return 0;
}

static int set_int_opt(int fd, int level, int name, int val)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0)
		return -errno;
	return 0;
}

/* Read exactly @len bytes (plain TCP socket, no kTLS RX). */
static int read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

/*
 * io_uring: splice a few bytes from a pipe into @tx_fd (kTLS TX installed),
 * then check that @peer_fd (plain TCP) receives one application-data record
 * that is longer than the payload by at least a tag.
 */
static int probe_uring_splice(int tx_fd, int peer_fd)
{
	static const char payload[] = PROBE_SPLICE_PAYLOAD;
	const size_t plen = sizeof(payload) - 1;
	struct __kernel_timespec ts = { .tv_sec = PROBE_TIMEOUT_SEC };
	unsigned char hdr[TLS_RECORD_HDR_LEN], body[512];
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int pfd[2] = { -1, -1 };
	size_t rlen;
	ssize_t n;
	int ret;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	n = write(pfd[1], payload, plen);
	if (n < 0 || (size_t)n != plen) {
		ret = n < 0 ? -errno : -EIO;
		goto out_pipe;
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret < 0)
		goto out_pipe;
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		ret = -EBUSY;
		goto out_ring;
	}
	io_uring_prep_splice(sqe, pfd[0], -1, tx_fd, -1, (unsigned int)plen, 0);
	ret = io_uring_submit(&ring);
	if (ret < 0)
		goto out_ring;
	if (ret != 1) {
		ret = -EIO;
		goto out_ring;
	}
	ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	if (ret < 0) /* -ETIME: the ring's teardown cancels the request */
		goto out_ring;
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (ret < 0)
		goto out_ring;
	if ((size_t)ret != plen) {
		ret = -EIO;
		goto out_ring;
	}
	ret = read_full(peer_fd, hdr, sizeof(hdr));
	if (ret)
		goto out_ring;
	rlen = (size_t)hdr[3] << 8 | hdr[4];
	/* the kernel writes the legacy version 3.3 for TLS 1.2 and 1.3 records */
	if (hdr[0] != TLS_CT_APP_DATA || hdr[1] != 3 || hdr[2] != 3 || rlen < plen + 16 ||
	    rlen > sizeof(body)) {
		ret = -EPROTO;
		goto out_ring;
	}
	ret = read_full(peer_fd, body, rlen);
out_ring:
	io_uring_queue_exit(&ring);
out_pipe:
	close(pfd[0]);
	close(pfd[1]);
	return ret;
}

/*
 * One (version, cipher) pair on a fresh connection: TCP_ULP, TLS_TX and
 * TLS_RX on the client end. The extra checks that need a socket with keys
 * installed run on the first connection where they can.
 */
static int probe_combo(struct ktls_probe *p, struct ktls_probe_combo *co,
		       const struct ktls_cipher_desc *c)
{
	int cfd, sfd, ret;

	ret = tcp_pair(&cfd, &sfd);
	if (ret)
		return ret;
	ret = attach_ulp(cfd);
	if (ret) {
		/* the first connection worked; this one should too */
		co->tx_errno = co->rx_errno = -ret;
		ret = 0;
		goto out;
	}
	ret = install_dummy_key(cfd, TLS_TX, co->version, c);
	co->tx = !ret;
	co->tx_errno = -ret;
	ret = install_dummy_key(cfd, TLS_RX, co->version, c);
	co->rx = !ret;
	co->rx_errno = -ret;
	ret = 0;

	if (co->version == TLS_1_3_VERSION && co->rx && !p->rx_no_pad) {
		int r = set_int_opt(cfd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, 1);

		p->rx_no_pad = !r;
		p->rx_no_pad_errno = -r;
	}
	/* the peer end stays plain TCP, so it sees the record as sent */
	if (co->tx && !p->uring_splice) {
		int r = probe_uring_splice(cfd, sfd);

		p->uring_splice = !r;
		p->uring_splice_errno = -r;
	}
	if (co->tx && !p->tx_zc_ro) {
		int r = set_int_opt(cfd, SOL_TLS, TLS_TX_ZEROCOPY_RO, 1);

		p->tx_zc_ro = !r;
		p->tx_zc_ro_errno = -r;
	}
out:
	close(cfd);
	close(sfd);
	return ret;
}

/**
 * ktls_probe_run() - find out what the running kernel's TLS offers.
 * @p: filled in; all false/0 except kernel when nothing works
 *
 * Makes loopback TCP connections (127.0.0.1, ephemeral ports) and tries
 * setsockopt(TCP_ULP, "tls"), then TLS_TX and TLS_RX with dummy keys for
 * TLS 1.2/1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 (one connection
 * each), TLS_RX_EXPECT_NO_PAD, TLS_TX_ZEROCOPY_RO, an io_uring splice into a
 * kTLS TX socket, and looks for /proc/net/tls_stat. Takes a few milliseconds
 * natively. All descriptors are closed again.
 *
 * Return: 0 when the probe ran (whether or not kTLS works: see
 * ktls_probe_available()), or -errno when no loopback connection could be
 * made (e.g. -ENETUNREACH when lo is down), in which case @p is incomplete.
 */
int ktls_probe_run(struct ktls_probe *p)
{
	static const int versions[2] = { TLS_1_2_VERSION, TLS_1_3_VERSION };
	struct utsname u;
	int cfd, sfd, ret;
	size_t v, i;

	memset(p, 0, sizeof(*p));
	for (v = 0; v < 2; v++) {
		for (i = 0; i < NCIPHERS; i++) {
			struct ktls_probe_combo *co = &p->combos[v * NCIPHERS + i];

			co->name = ktls_ciphers[i].name;
			co->version = versions[v];
			co->cipher_type = ktls_ciphers[i].cipher_type;
		}
	}
	if (uname(&u) == 0) {
		size_t l = strnlen(u.release, sizeof(p->kernel) - 1);

		memcpy(p->kernel, u.release, l);
		p->kernel[l] = '\0';
	}

	ret = tcp_pair(&cfd, &sfd);
	if (ret)
		goto out;
	ret = attach_ulp(cfd);
	p->ulp = !ret;
	p->ulp_errno = -ret;
	close(cfd);
	close(sfd);
	ret = 0;
	if (!p->ulp)
		goto out; /* nothing else can work: the rest stays "not tested" */
	for (v = 0; v < 2; v++) {
		for (i = 0; i < NCIPHERS; i++) {
			ret = probe_combo(p, &p->combos[v * NCIPHERS + i], &ktls_ciphers[i]);
			if (ret)
				goto out;
		}
	}
out:
	/* after TCP_ULP: that may have loaded the module, which creates the file */
	p->tls_stat = access(KTLS_STAT_PATH, R_OK) == 0;
	return ret;
}

/**
 * ktls_probe_available() - whether ktlsd can offload TLS to this kernel.
 * @p: a result of ktls_probe_run()
 *
 * Return: true if the TLS ULP attaches and at least one cipher is accepted
 * for TX.
 */
bool ktls_probe_available(const struct ktls_probe *p)
{
	size_t i;

	if (!p->ulp)
		return false;
	for (i = 0; i < KTLS_PROBE_NCOMBOS; i++)
		if (p->combos[i].tx)
			return true;
	return false;
}

/**
 * ktls_probe_cipher_ok() - whether the kernel accepted one version and cipher.
 * @p:           a result of ktls_probe_run()
 * @version:     TLS_1_2_VERSION or TLS_1_3_VERSION
 * @cipher_type: TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256 or
 *               TLS_CIPHER_CHACHA20_POLY1305
 * @rx:          false for TLS_TX, true for TLS_RX
 *
 * Return: true if that direction was accepted; false otherwise, including
 * for pairs the probe does not cover.
 */
bool ktls_probe_cipher_ok(const struct ktls_probe *p, int version, int cipher_type, bool rx)
{
	size_t i;

	for (i = 0; i < KTLS_PROBE_NCOMBOS; i++) {
		const struct ktls_probe_combo *co = &p->combos[i];

		if (co->name && co->version == version && co->cipher_type == cipher_type)
			return rx ? co->rx : co->tx;
	}
	return false;
}
