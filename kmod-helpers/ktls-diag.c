// SPDX-License-Identifier: MIT
/*
 * ktls-diag - list established TCP sockets with their kernel-TLS state, as the kernel
 * reports it through sock_diag (what `ss -tie` shows as tcp-ulp-tls).
 *
 *   ktls-diag [-p PORT]
 *
 * One line per socket: "LOCAL PEER ulp=tls version=1.3 cipher=aes-gcm-128 txconf=sw
 * rxconf=sw rtt_us=.. retrans=.. bytes_acked=.. bytes_received=..", or "ulp=-" without
 * a ULP. Needs CAP_NET_ADMIN for the ULP part.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
	return buf;
}

static int print_sock(const struct diag_sock *d, void *arg)
{
	char l[64], p[64];

	(void)arg;
	printf("%s %s", addr_str(&d->local, l, sizeof(l)), addr_str(&d->peer, p, sizeof(p)));
	if (d->tls)
		printf(" ulp=%s version=%s cipher=%s txconf=%s rxconf=%s", d->ulp,
		       diag_tls_version_name(d->tls_version), diag_tls_cipher_name(d->tls_cipher),
		       diag_tls_conf_name(d->txconf), diag_tls_conf_name(d->rxconf));
	else
		printf(" ulp=%s", d->ulp[0] ? d->ulp : "-");
	if (d->has_tcp_info)
		printf(" rtt_us=%u retrans=%u bytes_acked=%llu bytes_received=%llu", d->rtt_us,
		       d->total_retrans, (unsigned long long)d->bytes_acked,
		       (unsigned long long)d->bytes_received);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long port = 0;
	int opt, ret;

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		if (opt == 'p') {
			char *end;

			port = strtoul(optarg, &end, 10);
			if (*end || port > 65535) {
				fprintf(stderr, "ktls-diag: bad port \"%s\"\n", optarg);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: ktls-diag [-p PORT]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	ret = diag_dump_tcp((uint16_t)port, print_sock, NULL);
	if (ret < 0) {
		fprintf(stderr, "ktls-diag: sock_diag: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
