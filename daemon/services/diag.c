// SPDX-License-Identifier: MIT
/*
 * diag.c - the kernel's view of TCP sockets through sock_diag (NETLINK_SOCK_DIAG), with
 * libnl: per socket the kernel-TLS state (INET_DIAG_ULP_INFO: ULP name, TLS version,
 * cipher, TX/RX configuration) and TCP statistics (INET_DIAG_INFO: struct tcp_info). This
 * is what `ss -tie` prints as "tcp-ulp-tls version: cipher: rxconf: txconf:".
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tls.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "diag.h"

struct diag_walk {
	diag_cb cb;
	void *arg;
	uint16_t port; /* 0: every socket */
	int err;
};

static void diag_addr(struct sockaddr_storage *ss, int family, const __be32 *addr, __be16 port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		s6->sin6_port = port;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		s4->sin_port = port;
	}
}

static void diag_parse_ulp(struct diag_sock *d, struct nlattr *ulp_attr)
{
	struct nlattr *ulp[INET_ULP_INFO_MAX + 1], *tls[TLS_INFO_MAX + 1];

	if (nla_parse_nested(ulp, INET_ULP_INFO_MAX, ulp_attr, NULL) < 0)
		return;
	if (ulp[INET_ULP_INFO_NAME])
		nla_strlcpy(d->ulp, ulp[INET_ULP_INFO_NAME], sizeof(d->ulp));
	if (!ulp[INET_ULP_INFO_TLS] ||
	    nla_parse_nested(tls, TLS_INFO_MAX, ulp[INET_ULP_INFO_TLS], NULL) < 0)
		return;
	d->tls = true;
	if (tls[TLS_INFO_VERSION])
		d->tls_version = nla_get_u16(tls[TLS_INFO_VERSION]);
	if (tls[TLS_INFO_CIPHER])
		d->tls_cipher = nla_get_u16(tls[TLS_INFO_CIPHER]);
	if (tls[TLS_INFO_TXCONF])
		d->txconf = nla_get_u16(tls[TLS_INFO_TXCONF]);
	if (tls[TLS_INFO_RXCONF])
		d->rxconf = nla_get_u16(tls[TLS_INFO_RXCONF]);
}

static int diag_on_msg(struct nl_msg *msg, void *arg)
{
	struct diag_walk *walk = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	const struct inet_diag_msg *m = nlmsg_data(nlh);
	struct nlattr *tb[INET_DIAG_MAX + 1];
	struct diag_sock d = { 0 };

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(nlh) < (int)sizeof(*m))
		return NL_SKIP;
	if (walk->port && ntohs(m->id.idiag_sport) != walk->port &&
	    ntohs(m->id.idiag_dport) != walk->port)
		return NL_SKIP;
	if (nlmsg_parse(nlh, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	diag_addr(&d.local, m->idiag_family, m->id.idiag_src, m->id.idiag_sport);
	diag_addr(&d.peer, m->idiag_family, m->id.idiag_dst, m->id.idiag_dport);
	d.inode = m->idiag_inode;
	if (tb[INET_DIAG_ULP_INFO])
		diag_parse_ulp(&d, tb[INET_DIAG_ULP_INFO]);
	if (tb[INET_DIAG_INFO])
		diag_parse_tcp_info(&d, nla_data(tb[INET_DIAG_INFO]),
				    (size_t)nla_len(tb[INET_DIAG_INFO]));
	walk->err = walk->cb(&d, walk->arg);
	return walk->err ? NL_STOP : NL_OK;
}

static int diag_dump_family(struct nl_sock *sk, int family, struct diag_walk *walk)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = (uint8_t)family,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_ext = 1 << (INET_DIAG_INFO - 1),
		.idiag_states = 1 << 1, /* TCP_ESTABLISHED */
	};
	int ret;

	ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req));
	if (ret < 0)
		return -EIO;
	ret = nl_recvmsgs_default(sk);
	if (walk->err)
		return walk->err;
	return ret < 0 ? -EIO : 0;
}

/**
 * diag_dump_tcp() - call @cb for every established TCP socket (IPv4 and IPv6) whose local
 * or remote port is @port (0: all), as the kernel sees it.
 * Return: 0, the first non-zero value @cb returned, or -errno. The ULP information needs
 * CAP_NET_ADMIN: without it d->ulp stays empty.
 */
int diag_dump_tcp(uint16_t port, diag_cb cb, void *arg)
{
	struct diag_walk walk = { .cb = cb, .arg = arg, .port = port };
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = nl_connect(sk, NETLINK_SOCK_DIAG);
	if (ret < 0) {
		nl_socket_free(sk);
		return -EIO;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, diag_on_msg, &walk);
	ret = diag_dump_family(sk, AF_INET, &walk);
	if (ret == 0)
		ret = diag_dump_family(sk, AF_INET6, &walk);
	nl_socket_free(sk);
	return ret;
}

/** diag_tls_version_name() - "1.2", "1.3" or "?". */
const char *diag_tls_version_name(uint16_t v)
{
	return v == TLS_1_2_VERSION ? "1.2" : v == TLS_1_3_VERSION ? "1.3" : "?";
}

/** diag_tls_cipher_name() - the kernel's names, as ss prints them. */
const char *diag_tls_cipher_name(uint16_t c)
{
	switch (c) {
	case TLS_CIPHER_AES_GCM_128:
		return "aes-gcm-128";
	case TLS_CIPHER_AES_GCM_256:
		return "aes-gcm-256";
	case TLS_CIPHER_AES_CCM_128:
		return "aes-ccm-128";
	case TLS_CIPHER_CHACHA20_POLY1305:
		return "chacha20-poly1305";
	default:
		return "?";
	}
}

/** diag_tls_conf_name() - "base", "sw", "hw", "hw-record" or "?". */
const char *diag_tls_conf_name(uint16_t conf)
{
	static const char *const names[] = { "?", "base", "sw", "hw", "hw-record" };

	return conf < sizeof(names) / sizeof(names[0]) ? names[conf] : "?";
}
