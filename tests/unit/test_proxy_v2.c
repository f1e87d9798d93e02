// SPDX-License-Identifier: MIT
/*
 * test_proxy_v2.c - unit tests for the PROXY protocol v2 encoder (daemon/proxy_v2.c),
 * checked byte by byte against the layout in haproxy's proxy-protocol.txt, section 2.2.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "data.h"

static int n_checks, n_failed;

static void check(int ok, const char *what)
{
	n_checks++;
	if (!ok)
		n_failed++;
	printf("%s - %s\n", ok ? "ok  " : "FAIL", what);
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Finds a TLV of @type in [p, end); returns its value and length, or NULL. */
static const uint8_t *find_tlv(const uint8_t *p, const uint8_t *end, uint8_t type, size_t *len)
{
	while (p + 3 <= end) {
		size_t l = get16(p + 1);

		if (p + 3 + l > end)
			return NULL;
		if (p[0] == type) {
			*len = l;
			return p + 3;
		}
		p += 3 + l;
	}
	return NULL;
}

static void test_ipv4_full(void)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(443) };
	struct proxy_v2_info info = {
		.src = (struct sockaddr *)&src,
		.dst = (struct sockaddr *)&dst,
		.alpn = "h2",
		.alpn_len = 2,
		.sni = "www.example.com",
		.version = "TLSv1.3",
		.cipher = "TLS_AES_128_GCM_SHA256",
	};
	uint8_t out[PROXY_V2_MAX_LEN];
	const uint8_t *v, *ssl, *end;
	size_t len = 0, ssl_len = 0;
	int n;

	inet_pton(AF_INET, "192.0.2.7", &src.sin_addr);
	inet_pton(AF_INET, "198.51.100.1", &dst.sin_addr);
	n = proxy_v2_encode(&info, out, sizeof(out));
	check(n > 28, "IPv4 header encodes");
	if (n <= 28)
		return;
	check(memcmp(out, sig, 12) == 0, "signature");
	check(out[12] == 0x21, "version 2, command PROXY");
	check(out[13] == 0x11, "family TCP over IPv4");
	check(get16(out + 14) == (unsigned)n - 16, "length covers addresses and TLVs");
	check(memcmp(out + 16, &src.sin_addr, 4) == 0, "source address");
	check(memcmp(out + 20, &dst.sin_addr, 4) == 0, "destination address");
	check(get16(out + 24) == 40000 && get16(out + 26) == 443, "ports in network order");

	end = out + n;
	v = find_tlv(out + 28, end, 0x01, &len);
	check(v && len == 2 && memcmp(v, "h2", 2) == 0, "ALPN TLV");
	v = find_tlv(out + 28, end, 0x02, &len);
	check(v && len == 15 && memcmp(v, "www.example.com", 15) == 0, "AUTHORITY TLV is the SNI");
	ssl = find_tlv(out + 28, end, 0x20, &ssl_len);
	check(ssl && ssl_len >= 5, "SSL TLV present");
	if (!ssl || ssl_len < 5)
		return;
	check(ssl[0] == 0x01, "SSL client flag PP2_CLIENT_SSL");
	check(ssl[1] == 0 && ssl[2] == 0 && ssl[3] == 0 && ssl[4] == 0, "verify field 0");
	v = find_tlv(ssl + 5, ssl + ssl_len, 0x21, &len);
	check(v && len == 7 && memcmp(v, "TLSv1.3", 7) == 0, "SSL VERSION sub-TLV");
	v = find_tlv(ssl + 5, ssl + ssl_len, 0x23, &len);
	check(v && len == 22 && memcmp(v, "TLS_AES_128_GCM_SHA256", 22) == 0, "SSL CIPHER sub-TLV");
}

static void test_ipv6_minimal(void)
{
	struct sockaddr_in6 src = { .sin6_family = AF_INET6, .sin6_port = htons(1) };
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_port = htons(65535) };
	struct proxy_v2_info info = { .src = (struct sockaddr *)&src,
				      .dst = (struct sockaddr *)&dst };
	uint8_t out[PROXY_V2_MAX_LEN];
	size_t len = 0;
	int n;

	inet_pton(AF_INET6, "2001:db8::1", &src.sin6_addr);
	inet_pton(AF_INET6, "::1", &dst.sin6_addr);
	n = proxy_v2_encode(&info, out, sizeof(out));
	check(n == 16 + 36 + 3 + 5, "IPv6 without ALPN/SNI: addresses and a bare SSL TLV");
	if (n < 52)
		return;
	check(out[13] == 0x21, "family TCP over IPv6");
	check(memcmp(out + 16, &src.sin6_addr, 16) == 0 &&
		      memcmp(out + 32, &dst.sin6_addr, 16) == 0,
	      "IPv6 addresses");
	check(get16(out + 48) == 1 && get16(out + 50) == 65535, "IPv6 ports");
	check(!find_tlv(out + 52, out + n, 0x01, &len) && !find_tlv(out + 52, out + n, 0x02, &len),
	      "no ALPN or AUTHORITY TLV when absent");
}

static void test_errors(void)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	struct proxy_v2_info info = { .src = (struct sockaddr *)&v4,
				      .dst = (struct sockaddr *)&v6 };
	uint8_t out[PROXY_V2_MAX_LEN];

	check(proxy_v2_encode(&info, out, sizeof(out)) == -EAFNOSUPPORT,
	      "mixed families are refused");
	info.dst = (struct sockaddr *)&v4;
	check(proxy_v2_encode(&info, out, 20) == -ENOSPC, "short buffer gives -ENOSPC");
	check(proxy_v2_encode(&info, out, 16) == -ENOSPC, "buffer of only the fixed part");
}

int main(void)
{
	test_ipv4_full();
	test_ipv6_minimal();
	test_errors();
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
