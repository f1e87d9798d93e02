// SPDX-License-Identifier: MIT
/*
 * diag_tcpinfo.c - reads the kernel's struct tcp_info out of an INET_DIAG_INFO attribute.
 * Kept apart from diag.c: <linux/tcp.h> (which has the byte counters) clashes with the
 * <netinet/tcp.h> that libnl's headers pull in.
 */
#include <string.h>

#include <linux/tcp.h>

#include "diag.h"

/** diag_parse_tcp_info() - copy the fields ktlsd reports; older kernels send less. */
void diag_parse_tcp_info(struct diag_sock *d, const void *data, size_t len)
{
	struct tcp_info ti;

	memset(&ti, 0, sizeof(ti));
	memcpy(&ti, data, len < sizeof(ti) ? len : sizeof(ti));
	d->rtt_us = ti.tcpi_rtt;
	d->rttvar_us = ti.tcpi_rttvar;
	d->total_retrans = ti.tcpi_total_retrans;
	d->snd_cwnd = ti.tcpi_snd_cwnd;
	d->bytes_acked = ti.tcpi_bytes_acked;
	d->bytes_received = ti.tcpi_bytes_received;
	d->has_tcp_info = true;
}
