// SPDX-License-Identifier: MIT
/*
 * bio.c - an OpenSSL BIO over a connection's own ciphertext buffers.
 *
 * io_uring receives client bytes straight into tls_io.in and sends tls_io.out; OpenSSL
 * reads and writes records there through this BIO. A memory BIO pair would add one copy
 * per direction; this does not. An empty input reports "retry" (or EOF once the client
 * closed), a full output reports "retry", which is how OpenSSL learns to wait for the ring.
 */
#include <errno.h>

#include "tls.h"

static BIO_METHOD *bio_method;

#define TLS_HDR_LEN	 5
#define TLS_TYPE_CCS	 20
#define TLS_REC_LEN(hdr) (((uint32_t)(hdr)[3] << 8) | (hdr)[4])

static void bio_track_end(struct tls_rec_track *t)
{
	t->records++;
	if (t->type == TLS_TYPE_CCS)
		t->ccs_mark = t->records;
}

/* Output side: OpenSSL writes in arbitrary pieces; follow the headers through them. */
static void bio_track_bytes(struct tls_rec_track *t, const uint8_t *p, size_t n)
{
	while (n) {
		if (t->left == 0) {
			t->hdr[t->hdr_have++] = *p++;
			n--;
			if (t->hdr_have < TLS_HDR_LEN)
				continue;
			t->hdr_have = 0;
			t->type = t->hdr[0];
			t->left = TLS_REC_LEN(t->hdr);
			if (t->left == 0)
				bio_track_end(t);
			continue;
		}
		size_t k = n < t->left ? n : t->left;

		t->left -= (uint32_t)k;
		p += k;
		n -= k;
		if (t->left == 0)
			bio_track_end(t);
	}
}

/*
 * Input side. At a record boundary OpenSSL only gets bytes once the whole record is in
 * io->in, so it never holds part of a record: at the switch to kernel TLS everything it
 * consumed is accounted for, and what is left in io->in starts on a record boundary.
 */
static int bio_tls_io_read(BIO *b, char *out, size_t len, size_t *done)
{
	struct tls_io *io = BIO_get_data(b);
	struct tls_rec_track *t = &io->rd;
	uint32_t n = buf_len(&io->in);

	BIO_clear_retry_flags(b);
	if (n == 0) {
		if (io->in_eof)
			return 0;
		BIO_set_retry_read(b);
		return 0;
	}
	if (t->left == 0) {
		const uint8_t *h = buf_rptr(&io->in);
		uint32_t need = n >= TLS_HDR_LEN ? TLS_HDR_LEN + TLS_REC_LEN(h) : TLS_HDR_LEN;

		/* A record larger than the buffer can never be whole: let OpenSSL reject it. */
		if (n < need && !io->in_eof && need <= io->in.cap) {
			BIO_set_retry_read(b);
			return 0;
		}
		t->type = h[0];
		t->left = need;
	}
	if (n > len)
		n = (uint32_t)len;
	if (n > t->left)
		n = t->left;
	memcpy(out, buf_rptr(&io->in), n);
	buf_consume(&io->in, n);
	t->left -= n;
	if (t->left == 0)
		bio_track_end(t);
	*done = n;
	return 1;
}

/**
 * bio_in_missing() - how many more bytes io->in needs before the record at its head is
 * whole: the exact amount to receive so that nothing past that record is read.
 */
uint32_t bio_in_missing(const struct tls_io *io)
{
	uint32_t n = buf_len(&io->in);
	const uint8_t *h = buf_rptr(&io->in);

	if (n == 0)
		return 0;
	if (n < TLS_HDR_LEN)
		return TLS_HDR_LEN - n;
	if (n >= TLS_HDR_LEN + TLS_REC_LEN(h))
		return 0;
	return TLS_HDR_LEN + TLS_REC_LEN(h) - n;
}

/**
 * bio_mark_app_keys() - note where the application traffic keys began, once the
 * handshake is complete.
 * @version:              the negotiated version
 * @wr_before_last_step:  io->wr.records before the SSL_do_handshake() call that finished
 *
 * TLS 1.2: both sides switch keys at their ChangeCipherSpec, so the Finished messages are
 * the first records under the new keys. TLS 1.3 server: our application keys start after
 * our Finished, which left in an earlier step (the last step only sends tickets), and the
 * client's start after its Finished, the last record the handshake read. TLS 1.3 client:
 * the last step read the server's Finished and wrote ours; both keys start right after.
 */
void bio_mark_app_keys(struct tls_io *io, int version, bool server, uint64_t wr_before_last_step)
{
	if (version == TLS1_3_VERSION) {
		io->seq_base[KTLS_TX] = server ? wr_before_last_step : io->wr.records;
		io->seq_base[KTLS_RX] = io->rd.records;
	} else {
		io->seq_base[KTLS_TX] = io->wr.ccs_mark;
		io->seq_base[KTLS_RX] = io->rd.ccs_mark;
	}
}

/** bio_seq() - the next record sequence number in direction @dir (KTLS_TX/KTLS_RX). */
uint64_t bio_seq(const struct tls_io *io, int dir)
{
	const struct tls_rec_track *t = dir == KTLS_TX ? &io->wr : &io->rd;

	return t->records - io->seq_base[dir];
}

static int bio_tls_io_write(BIO *b, const char *in, size_t len, size_t *done)
{
	struct tls_io *io = BIO_get_data(b);
	uint32_t room;

	BIO_clear_retry_flags(b);
	if (!io->out_busy)
		buf_compact(&io->out);
	room = buf_room(&io->out);
	if (room == 0) {
		BIO_set_retry_write(b);
		return 0;
	}
	if (len > room)
		len = room;
	memcpy(buf_wptr(&io->out), in, len);
	io->out.tail += (uint32_t)len;
	bio_track_bytes(&io->wr, (const uint8_t *)in, len);
	*done = len;
	return 1;
}

static long bio_tls_io_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_io *io = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* the ring sends tls_io.out; nothing is held here */
	case BIO_CTRL_PENDING:
		return (long)buf_len(&io->in);
	case BIO_CTRL_WPENDING:
		return (long)buf_len(&io->out);
	case BIO_CTRL_EOF:
		return io->in_eof && buf_len(&io->in) == 0;
	default:
		return 0;
	}
}

static int bio_tls_io_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/**
 * bio_init() - register the BIO method; once, before any worker starts.
 * Return: 0 or -ENOMEM.
 */
int bio_init(void)
{
	int type = BIO_get_new_index();

	if (type == -1)
		return -ENOMEM;
	bio_method = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "ktlsd tls_io");
	if (!bio_method)
		return -ENOMEM;
	if (!BIO_meth_set_read_ex(bio_method, bio_tls_io_read) ||
	    !BIO_meth_set_write_ex(bio_method, bio_tls_io_write) ||
	    !BIO_meth_set_ctrl(bio_method, bio_tls_io_ctrl) ||
	    !BIO_meth_set_create(bio_method, bio_tls_io_create)) {
		BIO_meth_free(bio_method);
		bio_method = NULL;
		return -ENOMEM;
	}
	return 0;
}

/** bio_cleanup() - free the BIO method; after every worker stopped. */
void bio_cleanup(void)
{
	BIO_meth_free(bio_method);
	bio_method = NULL;
}

/**
 * bio_new_tls_io() - a BIO over @io; @io must outlive the BIO.
 * Return: the BIO (caller frees, usually through SSL_set_bio), or NULL.
 */
BIO *bio_new_tls_io(struct tls_io *io)
{
	BIO *b = BIO_new(bio_method);

	if (b)
		BIO_set_data(b, io);
	return b;
}
