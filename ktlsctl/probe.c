// SPDX-License-Identifier: MIT
/*
 * probe.c - the measurement: tries one after the other, each with its own sessions.
 *
 * A try is a full handshake (no session offered; its TCP connect is the "connect"
 * sample), then what the negotiated version allows:
 *   TLS 1.3: the ticket of the full handshake offered once ("ticket"); with
 *            --early-data, the ticket that resumed connection got, offered once with
 *            0-RTT data ("early_data"). A ticket is awaited for PROBE_TICKET_WAIT s.
 *   TLS 1.2: the full handshake's session with its ticket ("ticket"); then one more
 *            full handshake with tickets off (not timed) whose session ID is offered
 *            with tickets off ("session_id").
 * The first try also takes the connection's facts: address, version, cipher, group,
 * ALPN, verification result and certificate chain. Any failed connection ends the
 * probe; a resumption the server declines is a miss, not a failure.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "ktlsctl.h"
#include "probe.h"

static const char *const step_keys[PROBE_NSTEPS] = { "connect", "full", "ticket", "session_id",
						     "early_data" };

/* What one probe_run() works with. */
struct run {
	const struct probe_conf *c;
	struct probe_result *r;
	struct probe_tls tls;
	struct addrinfo *addrs;
	const struct addrinfo *addr; /* the one that connected */
	unsigned char *early;	     /* --early-data bytes to send */
	double ticket_wait, close_wait;
	unsigned int try_no; /* 1-based, for messages */
	char *err;
	size_t elen;
};

/**
 * probe_step_key() - a step's key in the JSON and its name in the table.
 * @s: the step
 */
const char *probe_step_key(enum probe_step s)
{
	return s < PROBE_NSTEPS ? step_keys[s] : "?";
}

static void add_sample(struct probe_series *s, double ms)
{
	s->used = true;
	s->ms[s->n++] = ms;
}

/* @s with its own reference, or NULL. */
static SSL_SESSION *keep(SSL_SESSION *s)
{
	return s && SSL_SESSION_up_ref(s) == 1 ? s : NULL;
}

/* "try N (WHAT, ADDRESS): REASON" into the run's error. */
static void try_error(struct run *x, const char *what, const char *reason)
{
	snprintf(x->err, x->elen, "try %u (%s, %s): %s", x->try_no, what, x->r->address, reason);
}

/* Opens a connection to the chosen address; fails the probe with @what. */
static int open_conn(struct run *x, struct probe_conn *pc, SSL_CTX *ctx, SSL_SESSION *offer,
		     bool early, const char *what)
{
	char e[PROBE_ERR_LEN];

	if (probe_conn_open(pc, ctx, x->c, x->addr->ai_addr, x->addr->ai_addrlen, offer,
			    early ? x->early : NULL, x->c->early_data, e, sizeof(e)) != 0) {
		try_error(x, what, e);
		return -1;
	}
	return 0;
}

/* The first connection: each address in turn until one connects. */
static int open_first(struct run *x, struct probe_conn *pc)
{
	char e[PROBE_ERR_LEN], tried[PROBE_ERR_LEN] = "";
	const struct addrinfo *ai;
	size_t off = 0;
	int ret, n;

	for (ai = x->addrs; ai; ai = ai->ai_next) {
		probe_addr_text(ai->ai_addr, ai->ai_addrlen, x->r->address, sizeof(x->r->address));
		ret = probe_conn_open(pc, x->tls.ctx, x->c, ai->ai_addr, ai->ai_addrlen, NULL, NULL,
				      0, e, sizeof(e));
		if (ret == 0) {
			x->addr = ai;
			return 0;
		}
		if (ret != PROBE_ECONNECT) {
			try_error(x, "full handshake", e);
			return -1;
		}
		if (off < sizeof(tried)) {
			n = snprintf(tried + off, sizeof(tried) - off, "%s%s", off ? "; " : "", e);
			off += n < 0 ? 0 : (size_t)n;
		}
	}
	x->r->address[0] = '\0';
	snprintf(x->err, x->elen, "cannot connect: %s", tried);
	return -1;
}

/* Version, cipher, group, ALPN, verification and chain of the first full handshake. */
static int record_facts(struct run *x, SSL *ssl)
{
	struct probe_result *r = x->r;
	const unsigned char *alpn = NULL;
	unsigned int alen = 0;
	int nid = (int)SSL_get_negotiated_group(ssl);
	const char *g;

	snprintf(r->version, sizeof(r->version), "%s", SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(ssl));
	if (nid > 0) {
		g = SSL_group_to_name(ssl, nid);
		if (!g && !(nid & TLSEXT_nid_unknown))
			g = OBJ_nid2sn(nid);
		if (g)
			snprintf(r->group, sizeof(r->group), "%s", g);
		else
			snprintf(r->group, sizeof(r->group), "0x%04x", nid & 0xffff);
	}
	SSL_get0_alpn_selected(ssl, &alpn, &alen);
	if (alpn && alen > 0)
		snprintf(r->alpn, sizeof(r->alpn), "%.*s", (int)alen, (const char *)alpn);
	r->verify_code = SSL_get_verify_result(ssl);
	ERR_clear_error();
	if (probe_chain(ssl, &r->chain, &r->chain_len, x->err, x->elen) != 0)
		return -1;
	return 0;
}

/*
 * One resumption: @offer offered on a new connection of @ctx, timed into @step.
 * @next: if not NULL, set to the session this connection got (TLS 1.3), or NULL.
 */
static int resume(struct run *x, SSL_CTX *ctx, SSL_SESSION *offer, enum probe_step step,
		  const char *what, SSL_SESSION **next)
{
	struct probe_series *s = &x->r->step[step];
	struct probe_conn pc;

	s->used = true;
	if (next)
		*next = NULL;
	if (!offer) {
		s->skipped++;
		return 0;
	}
	if (open_conn(x, &pc, ctx, offer, false, what) != 0)
		return -1;
	add_sample(s, pc.handshake_ms);
	if (SSL_session_reused(pc.ssl))
		s->hits++;
	if (next)
		*next = keep(probe_conn_await_session(&pc, x->ticket_wait));
	probe_conn_close(&pc, x->close_wait);
	return 0;
}

/* TLS 1.3 0-RTT: --early-data bytes with @offer (a ticket not used before). */
static int early_data(struct run *x, SSL_SESSION *offer)
{
	struct probe_series *s = &x->r->step[PROBE_EARLY];
	struct probe_conn pc;
	uint32_t max;

	s->used = true;
	if (!offer) {
		s->skipped++;
		return 0;
	}
	max = SSL_SESSION_get_max_early_data(offer);
	x->r->max_early_data = max;
	if (max < x->c->early_data) {
		s->not_sent++; /* OpenSSL would refuse to send it */
		return 0;
	}
	if (open_conn(x, &pc, x->tls.ctx, offer, true, "0-RTT resumption") != 0)
		return -1;
	add_sample(s, pc.handshake_ms);
	if (SSL_get_early_data_status(pc.ssl) == SSL_EARLY_DATA_ACCEPTED)
		s->hits++;
	else
		s->early_rej++;
	probe_conn_close(&pc, x->close_wait);
	return 0;
}

static int tls13(struct run *x, SSL_SESSION *ticket)
{
	SSL_SESSION *next = NULL;
	int ret;

	ret = resume(x, x->tls.ctx, ticket, PROBE_TICKET, "ticket resumption",
		     x->c->early_data ? &next : NULL);
	if (ret == 0 && x->c->early_data)
		ret = early_data(x, next);
	SSL_SESSION_free(next);
	return ret;
}

static int tls12(struct run *x, SSL_SESSION *sess)
{
	SSL_SESSION *by_id = NULL;
	struct probe_conn pc;
	unsigned int idlen = 0;
	int ret;

	ret = resume(x, x->tls.ctx, sess && SSL_SESSION_has_ticket(sess) ? sess : NULL,
		     PROBE_TICKET, "ticket resumption", NULL);
	if (ret != 0)
		return ret;
	/* a session without a ticket, to be resumed by its ID alone */
	if (open_conn(x, &pc, x->tls.noticket, NULL, false, "full handshake, tickets off") != 0)
		return -1;
	if (SSL_version(pc.ssl) == TLS1_2_VERSION && pc.session &&
	    SSL_SESSION_get_id(pc.session, &idlen) && idlen > 0)
		by_id = keep(pc.session);
	probe_conn_close(&pc, x->close_wait);
	ret = resume(x, x->tls.noticket, by_id, PROBE_SESSION_ID, "session-ID resumption", NULL);
	SSL_SESSION_free(by_id);
	return ret;
}

static int one_try(struct run *x)
{
	struct probe_result *r = x->r;
	SSL_SESSION *sess;
	struct probe_conn pc;
	int ret, version;

	if (x->try_no == 1)
		ret = open_first(x, &pc);
	else
		ret = open_conn(x, &pc, x->tls.ctx, NULL, false, "full handshake");
	if (ret != 0)
		return -1;
	add_sample(&r->step[PROBE_CONNECT], pc.connect_ms);
	add_sample(&r->step[PROBE_FULL], pc.handshake_ms);
	if (x->try_no == 1 && record_facts(x, pc.ssl) != 0) {
		probe_conn_close(&pc, 0);
		return -1;
	}
	version = SSL_version(pc.ssl);
	if (version == TLS1_3_VERSION)
		sess = keep(probe_conn_await_session(&pc, x->ticket_wait));
	else
		sess = keep(pc.session);
	probe_conn_close(&pc, x->close_wait);
	ret = version == TLS1_3_VERSION ? tls13(x, sess) : tls12(x, sess);
	SSL_SESSION_free(sess);
	return ret;
}

/* The 0-RTT data: a line that says what it is, repeated, cut at @n bytes. */
static unsigned char *early_bytes(size_t n)
{
	static const char line[] = "ktlsctl probe 0-RTT data\n";
	unsigned char *b = malloc(n);
	size_t i;

	if (!b)
		ctl_fatal("out of memory");
	for (i = 0; i < n; i++)
		b[i] = (unsigned char)line[i % (sizeof(line) - 1)];
	return b;
}

/**
 * probe_run() - measure the server: @c->tries tries, one after the other.
 * @c:    what to measure
 * @r:    the result (overwritten); probe_result_free() it in any case
 * @err:  why the probe failed
 * @elen: its size
 *
 * Return: 0, or -1 with @err set: name resolution, a connection or a handshake
 * failed (a declined resumption is a miss, not a failure).
 */
int probe_run(const struct probe_conf *c, struct probe_result *r, char *err, size_t elen)
{
	struct run x = { .c = c, .r = r, .err = err, .elen = elen };
	int i, ret = -1;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < PROBE_NSTEPS; i++) {
		r->step[i].ms = calloc(c->tries, sizeof(double));
		if (!r->step[i].ms)
			ctl_fatal("out of memory");
	}
	x.ticket_wait = c->timeout < PROBE_TICKET_WAIT ? c->timeout : PROBE_TICKET_WAIT;
	x.close_wait = c->timeout < PROBE_CLOSE_WAIT ? c->timeout : PROBE_CLOSE_WAIT;
	if (c->early_data)
		x.early = early_bytes(c->early_data);
	if (probe_resolve(c, &x.addrs, err, elen) != 0)
		goto out;
	if (probe_tls_init(&x.tls, c, err, elen) != 0)
		goto out;
	for (x.try_no = 1; x.try_no <= c->tries; x.try_no++)
		if (one_try(&x) != 0)
			goto out;
	ret = 0;
out:
	probe_tls_free(&x.tls);
	if (x.addrs)
		freeaddrinfo(x.addrs);
	free(x.early);
	return ret;
}

/**
 * probe_result_free() - free what probe_run() allocated in @r.
 * @r: the result
 */
void probe_result_free(struct probe_result *r)
{
	int i;

	for (i = 0; i < PROBE_NSTEPS; i++)
		free(r->step[i].ms);
	probe_chain_free(r->chain, r->chain_len);
	memset(r, 0, sizeof(*r));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/**
 * probe_stats() - minimum, median and 99th percentile of a step's times.
 * @s:      the step
 * @min:    the smallest time
 * @median: the middle one (the mean of the two middle ones for an even count)
 * @p99:    the nearest-rank 99th percentile: the ceil(0.99 n)-th smallest, which is
 *          the largest for fewer than 100 samples
 *
 * Return: false if the step has no times (nothing set).
 */
bool probe_stats(const struct probe_series *s, double *min, double *median, double *p99)
{
	double *v;
	size_t k;

	if (s->n == 0)
		return false;
	v = malloc(s->n * sizeof(*v));
	if (!v)
		ctl_fatal("out of memory");
	memcpy(v, s->ms, s->n * sizeof(*v));
	qsort(v, s->n, sizeof(*v), cmp_double);
	*min = v[0];
	*median = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
	k = (99 * s->n + 99) / 100; /* nearest rank: ceil(0.99 n) */
	*p99 = v[k - 1];
	free(v);
	return true;
}
