// SPDX-License-Identifier: MIT
/*
 * proxy_v2.c - the PROXY protocol version 2 header (haproxy.org proxy-protocol.txt, 2.2).
 *
 * The backend learns the client's address and what the TLS layer negotiated: ALPN
 * (PP2_TYPE_ALPN), SNI (PP2_TYPE_AUTHORITY) and a PP2_TYPE_SSL block with the protocol
 * version and cipher. When TLS 1.3 early data is forwarded before the handshake completes,
 * a custom TLV (PP2_TYPE_KTLSD_EARLY, value 0x01) tells the backend that the stream begins
 * with 0-RTT data, which an attacker could have replayed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "data.h"

#define PP2_VERSION_PROXY    0x21
#define PP2_FAM_TCP4	     0x11
#define PP2_FAM_TCP6	     0x21
#define PP2_TYPE_ALPN	     0x01
#define PP2_TYPE_AUTH	     0x02
#define PP2_TYPE_SSL	     0x20
#define PP2_TYPE_KTLSD_EARLY 0xE0 /* first of PP2_TYPE_MIN_CUSTOM..MAX_CUSTOM */
#define PP2_SUB_VERSION	     0x21
#define PP2_SUB_CIPHER	     0x23
#define PP2_CLIENT_SSL	     0x01

static const uint8_t pp2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

struct pp2_writer {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static int pp2_put(struct pp2_writer *w, const void *data, size_t n)
{
	if (w->len + n > w->cap)
		return -ENOSPC;
	memcpy(w->p + w->len, data, n);
	w->len += n;
	return 0;
}

static int pp2_put_tlv(struct pp2_writer *w, uint8_t type, const void *val, size_t n)
{
	uint8_t hdr[3] = { type, (uint8_t)(n >> 8), (uint8_t)n };

	if (n > 0xffff)
		return -ENOSPC;
	if (pp2_put(w, hdr, sizeof(hdr)) < 0)
		return -ENOSPC;
	return pp2_put(w, val, n);
}

static int pp2_put_addrs(struct pp2_writer *w, const struct sockaddr *src,
			 const struct sockaddr *dst)
{
	if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;

		if (pp2_put(w, &s->sin_addr, 4) || pp2_put(w, &d->sin_addr, 4) ||
		    pp2_put(w, &s->sin_port, 2) || pp2_put(w, &d->sin_port, 2))
			return -ENOSPC;
		return PP2_FAM_TCP4;
	}
	if (src->sa_family == AF_INET6 && dst->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;

		if (pp2_put(w, &s->sin6_addr, 16) || pp2_put(w, &d->sin6_addr, 16) ||
		    pp2_put(w, &s->sin6_port, 2) || pp2_put(w, &d->sin6_port, 2))
			return -ENOSPC;
		return PP2_FAM_TCP6;
	}
	return -EAFNOSUPPORT;
}

/**
 * proxy_v2_encode() - write a PROXY v2 header for a TLS-terminated TCP connection.
 * @info:   addresses and TLS details; strings may be NULL to leave their TLV out
 * @out:    destination
 * @outlen: its size; PROXY_V2_MAX_LEN always suffices
 *
 * Return: the header length, -ENOSPC, or -EAFNOSUPPORT for mixed or non-IP families.
 */
int proxy_v2_encode(const struct proxy_v2_info *info, uint8_t *out, size_t outlen)
{
	struct pp2_writer w = { .p = out, .cap = outlen };
	uint8_t ver_cmd = PP2_VERSION_PROXY;
	size_t ssl_start, body_start;
	int fam;

	if (pp2_put(&w, pp2_signature, sizeof(pp2_signature)) || pp2_put(&w, &ver_cmd, 1) ||
	    w.len + 3 > w.cap)
		return -ENOSPC;
	w.len += 3; /* family and length, filled in below */
	body_start = w.len;
	fam = pp2_put_addrs(&w, info->src, info->dst);
	if (fam < 0)
		return fam;
	out[13] = (uint8_t)fam;

	if (info->alpn && info->alpn_len &&
	    pp2_put_tlv(&w, PP2_TYPE_ALPN, info->alpn, info->alpn_len))
		return -ENOSPC;
	if (info->sni && info->sni[0] &&
	    pp2_put_tlv(&w, PP2_TYPE_AUTH, info->sni, strlen(info->sni)))
		return -ENOSPC;

	/* PP2_TYPE_SSL: client flags (1 byte), verify (4 bytes, 0 = ok), then sub-TLVs. */
	static const uint8_t ssl_head[5] = { PP2_CLIENT_SSL, 0, 0, 0, 0 };
	uint8_t tlv_hdr[3] = { PP2_TYPE_SSL, 0, 0 };

	if (pp2_put(&w, tlv_hdr, sizeof(tlv_hdr)))
		return -ENOSPC;
	ssl_start = w.len;
	if (pp2_put(&w, ssl_head, sizeof(ssl_head)))
		return -ENOSPC;
	if (info->version && pp2_put_tlv(&w, PP2_SUB_VERSION, info->version, strlen(info->version)))
		return -ENOSPC;
	if (info->cipher && pp2_put_tlv(&w, PP2_SUB_CIPHER, info->cipher, strlen(info->cipher)))
		return -ENOSPC;
	out[ssl_start - 2] = (uint8_t)((w.len - ssl_start) >> 8);
	out[ssl_start - 1] = (uint8_t)(w.len - ssl_start);
	if (info->early_data && pp2_put_tlv(&w, PP2_TYPE_KTLSD_EARLY, "\x01", 1))
		return -ENOSPC;

	if (w.len - body_start > 0xffff)
		return -ENOSPC;
	out[14] = (uint8_t)((w.len - body_start) >> 8);
	out[15] = (uint8_t)(w.len - body_start);
	return (int)w.len;
}
