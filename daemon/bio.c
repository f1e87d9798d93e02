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

#include "ktlsd.h"

static BIO_METHOD *bio_method;

static int bio_tls_io_read(BIO *b, char *out, size_t len, size_t *done)
{
	struct tls_io *io = BIO_get_data(b);
	uint32_t n = buf_len(&io->in);

	BIO_clear_retry_flags(b);
	if (n == 0) {
		if (io->in_eof)
			return 0;
		BIO_set_retry_read(b);
		return 0;
	}
	if (n > len)
		n = (uint32_t)len;
	memcpy(out, buf_rptr(&io->in), n);
	buf_consume(&io->in, n);
	*done = n;
	return 1;
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
