// SPDX-License-Identifier: MIT
/*
 * test_clientcache.c - the host-wide client session cache (daemon/tls/clientcache.c):
 * a TLS 1.3 session (a ticket) serves one connection and is gone; a TLS 1.2 session
 * serves many; keys do not mix; expired sessions are never offered; the least recently
 * used key is evicted at capacity; flush empties it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "data.h"

static int n_checks, n_failed;

static void check(int ok, const char *what)
{
	n_checks++;
	if (!ok)
		n_failed++;
	printf("%s - %s\n", ok ? "ok  " : "FAIL", what);
}

/* A resumable session of @version, valid for @timeout seconds from now. */
static SSL_SESSION *session(int version, long timeout, unsigned char id)
{
	SSL_SESSION *s = SSL_SESSION_new();
	unsigned char sid[32];

	memset(sid, id, sizeof(sid));
	if (!s || !SSL_SESSION_set_protocol_version(s, version) ||
	    !SSL_SESSION_set1_id(s, sid, sizeof(sid)) || !SSL_SESSION_set_time(s, time(NULL)) ||
	    !SSL_SESSION_set_timeout(s, timeout))
		return NULL;
	return s;
}

int main(void)
{
	struct clientcache_stats st;
	SSL_SESSION *a, *b;

	clientcache_configure(2);
	clientcache_put("h|443|h2|verified", session(TLS1_3_VERSION, 600, 1));
	a = clientcache_take("h|443|h2|verified");
	b = clientcache_take("h|443|h2|verified");
	check(a && !b, "a TLS 1.3 ticket is offered once, then gone");
	SSL_SESSION_free(a);

	clientcache_put("h|443||verified", session(TLS1_3_VERSION, 600, 2));
	clientcache_put("h|443||verified", session(TLS1_3_VERSION, 600, 3));
	a = clientcache_take("h|443||verified");
	b = clientcache_take("h|443||verified");
	check(a && b && a != b, "two tickets serve two connections");
	SSL_SESSION_free(a);
	SSL_SESSION_free(b);

	clientcache_put("h|8443||verified", session(TLS1_2_VERSION, 600, 4));
	a = clientcache_take("h|8443||verified");
	b = clientcache_take("h|8443||verified");
	check(a && a == b, "a TLS 1.2 session serves several connections");
	SSL_SESSION_free(a);
	SSL_SESSION_free(b);
	check(!clientcache_take("h|8443||lax"), "a lax request's key is another key");
	check(!clientcache_take("h|8443|h2|verified"), "another ALPN list is another key");

	clientcache_put("x|1||verified", session(TLS1_2_VERSION, 1, 5));
	SSL_SESSION *old = session(TLS1_2_VERSION, 1, 6);

	SSL_SESSION_set_time(old, time(NULL) - 10);
	clientcache_put("y|1||verified", old);
	check(!clientcache_take("y|1||verified"), "an expired session is not offered");

	clientcache_put("k1|1||verified", session(TLS1_2_VERSION, 600, 7));
	clientcache_put("k2|1||verified", session(TLS1_2_VERSION, 600, 8));
	a = clientcache_take("k1|1||verified"); /* k1 is now the most recent */
	SSL_SESSION_free(a);
	clientcache_put("k3|1||verified", session(TLS1_2_VERSION, 600, 9));
	a = clientcache_take("k2|1||verified");
	check(!a, "at capacity the least recently used key goes");
	SSL_SESSION_free(a);
	a = clientcache_take("k1|1||verified");
	check(a != NULL, "the recently used key stays");
	SSL_SESSION_free(a);
	clientcache_stats(&st);
	check(st.keys == 2 && st.max_keys == 2, "stats: keys held and capacity");
	check(clientcache_flush() == 2 && !clientcache_take("k1|1||verified"),
	      "flush forgets everything");
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
