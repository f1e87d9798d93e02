/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a bounded byte buffer: data lives in [head, tail) of a fixed allocation.
 * Each connection direction owns one; the bound is what gives backpressure.
 */
#ifndef KTLSD_BUF_H
#define KTLSD_BUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	uint8_t *data;
	uint32_t cap;
	uint32_t head;
	uint32_t tail;
};

static inline uint32_t buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

static inline uint32_t buf_room(const struct buf *b)
{
	return b->cap - b->tail;
}

static inline uint8_t *buf_rptr(const struct buf *b)
{
	return b->data + b->head;
}

static inline uint8_t *buf_wptr(const struct buf *b)
{
	return b->data + b->tail;
}

/*
 * Moves pending bytes to the front so that the free space is contiguous. Only call it while
 * no io_uring operation reads or writes this buffer: the kernel holds raw pointers into it.
 */
static inline void buf_compact(struct buf *b)
{
	if (b->head == 0)
		return;
	if (b->head != b->tail)
		memmove(b->data, b->data + b->head, buf_len(b));
	b->tail -= b->head;
	b->head = 0;
}

/* Never rewinds on its own: a receive may be in flight into [tail, cap). */
static inline void buf_consume(struct buf *b, uint32_t n)
{
	b->head += n;
}

static inline int buf_alloc(struct buf *b, uint32_t cap)
{
	if (b->data)
		return 0;
	b->data = malloc(cap);
	if (!b->data)
		return -1;
	b->cap = cap;
	b->head = b->tail = 0;
	return 0;
}

static inline void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->cap = b->head = b->tail = 0;
}

#endif
