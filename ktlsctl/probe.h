/* SPDX-License-Identifier: MIT */
/*
 * probe.h - `ktlsctl probe HOST:PORT`: a TLS server measured with OpenSSL, without
 * ktlsd. The parts:
 *   probe_cli.c     the command line into a struct probe_conf, the exit status
 *   probe_net.c     HOST:PORT, name resolution, timed non-blocking TCP connects
 *   probe_tls.c     the two client contexts and one timed TLS connection
 *   probe.c         the tries, one after the other, into a struct probe_result
 *   probe_cert.c    the summary of the server's certificate chain
 *   probe_render.c  the result as JSON, and the text made from that JSON
 */
#ifndef KTLSCTL_PROBE_H
#define KTLSCTL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <stdint.h>
#include <sys/socket.h>

#include <json-c/json.h>
#include <openssl/ssl.h>

#define PROBE_MAX_TRIES 10000
#define PROBE_MAX_EARLY (1u << 20) /* --early-data: bytes */
#define PROBE_ERR_LEN	512
/* TLS 1.3: how long to wait for a NewSessionTicket after a handshake (capped by -t) */
#define PROBE_TICKET_WAIT 1.0
/* after our close_notify: how long to wait for the server's (capped by -t) */
#define PROBE_CLOSE_WAIT 0.5

/* What to measure: the command line, checked. */
struct probe_conf {
	const char *target;	  /* HOST:PORT as typed */
	char host[256];		  /* HOST without the brackets of an IPv6 address */
	char port[6];		  /* decimal */
	const char *sni;	  /* server_name sent; NULL: none */
	const char *verify_name;  /* the name (or IP address) the certificate must have */
	const char *alpn;	  /* comma-separated list as typed; NULL: no ALPN */
	unsigned char *alpn_wire; /* the same in the wire format (malloc'd) */
	size_t alpn_len;
	int version;	    /* 0 (TLS 1.2 or 1.3), TLS1_2_VERSION or TLS1_3_VERSION */
	const char *cafile; /* NULL: the system's CA store */
	bool insecure;	    /* go on after a failed verification */
	size_t early_data;  /* bytes of 0-RTT data per try; 0: no 0-RTT test */
	unsigned int tries;
	double timeout; /* seconds, for each step */
};

/* The measured steps (rows of the table, keys of "steps" in the JSON). */
enum probe_step {
	PROBE_CONNECT,	  /* TCP connect, before the full handshake */
	PROBE_FULL,	  /* full handshake, no session offered */
	PROBE_TICKET,	  /* resumed with the session ticket of the try's full handshake */
	PROBE_SESSION_ID, /* TLS 1.2: resumed by session ID (tickets off) */
	PROBE_EARLY,	  /* TLS 1.3: resumed with 0-RTT data */
	PROBE_NSTEPS
};

/* One step over the tries. */
struct probe_series {
	bool used;		/* the step applied to at least one try */
	size_t n;		/* handshakes (or connects) timed */
	double *ms;		/* their times, in try order */
	unsigned int hits;	/* resumed (PROBE_EARLY: early data accepted) */
	unsigned int skipped;	/* tries with no session to offer */
	unsigned int not_sent;	/* PROBE_EARLY: the ticket allows less early data */
	unsigned int early_rej; /* PROBE_EARLY: early data rejected */
};

/* One certificate of the chain the server sent, leaf first. */
struct probe_cert {
	char *subject, *issuer; /* RFC 2253 */
	char key_type[32];	/* "EC", "RSA", "ED25519" ... */
	int key_bits;
	char key_group[32]; /* EC curve; "" for none */
	char signature[64]; /* "ecdsa-with-SHA256" ... */
	char not_after[32]; /* "2035-05-01T10:00:00Z" */
	long days_left;	    /* whole days from now to notAfter, negative if past */
};

/* What was measured. Texts are "" when the server did not negotiate the thing. */
struct probe_result {
	char address[64]; /* the address connected to, "[::1]:443" */
	char version[16], cipher[64], group[32], alpn[256];
	long verify_code; /* X509_V_OK or the X509_V_ERR_* of the first full handshake */
	struct probe_cert *chain;
	size_t chain_len;
	struct probe_series step[PROBE_NSTEPS];
	uint32_t max_early_data; /* the last TLS 1.3 ticket's, 0 if none seen */
};

/* probe_conn_open() failures */
enum { PROBE_ECONNECT = -1, PROBE_ETLS = -2 };

/* The functions are described where they are defined. */

/* probe_net.c: addresses, the clock, TCP */
double probe_now(void);
int probe_wait_fd(int fd, short events, double deadline);
int probe_parse_target(struct probe_conf *c, const char *target);
bool probe_is_ip(const char *host);
int probe_resolve(const struct probe_conf *c, struct addrinfo **res, char *err, size_t elen);
void probe_addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t blen);
int probe_tcp_connect(const struct sockaddr *sa, socklen_t len, double timeout, double *ms,
		      char *err, size_t elen);

/* probe_tls.c: the client contexts (@ctx may use tickets, @noticket has SSL_OP_NO_TICKET) */
struct probe_tls {
	SSL_CTX *ctx, *noticket;
};

/* One TLS connection, from probe_conn_open() to probe_conn_close(). */
struct probe_conn {
	int fd;
	SSL *ssl;
	SSL_SESSION *session; /* the first session the server gave on it (new-session callback) */
	double connect_ms, handshake_ms;
};

int probe_tls_init(struct probe_tls *t, const struct probe_conf *c, char *err, size_t elen);
void probe_tls_free(struct probe_tls *t);
int probe_conn_open(struct probe_conn *c, SSL_CTX *ctx, const struct probe_conf *conf,
		    const struct sockaddr *sa, socklen_t salen, SSL_SESSION *offer,
		    const unsigned char *early, size_t early_len, char *err, size_t elen);
SSL_SESSION *probe_conn_await_session(struct probe_conn *c, double wait);
void probe_conn_close(struct probe_conn *c, double wait);
void probe_ssl_error(char *err, size_t elen, const char *what);

/* probe_cert.c: the chain */
int probe_chain(SSL *ssl, struct probe_cert **chain, size_t *n, char *err, size_t elen);
void probe_chain_free(struct probe_cert *chain, size_t n);

/* probe.c: the tries */
const char *probe_step_key(enum probe_step s);
int probe_run(const struct probe_conf *c, struct probe_result *r, char *err, size_t elen);
void probe_result_free(struct probe_result *r);
bool probe_stats(const struct probe_series *s, double *min, double *median, double *p99);

/* probe_render.c: output */
struct json_object *probe_json(const struct probe_conf *c, const struct probe_result *r);
void probe_render_text(struct json_object *j);

#endif /* KTLSCTL_PROBE_H */
