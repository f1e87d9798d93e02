// SPDX-License-Identifier: MIT
/*
 * test_config.c - unit tests for the configuration parser (daemon/config/config.c).
 *
 * Runs in a private mkdtemp() directory holding empty dummy certificate and key files (the
 * parser only checks that they are readable). Prints one line per check; exits 0 if all pass.
 * The shipped example is found at $KTLSD_EXAMPLE_CONF, else etc/ktlsd.conf from the current
 * directory (the repository root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "config.h"

/* One-line profile and listener: whole-file tests put their variation on line 3. */
#define PROFILE                                                                                    \
	"profiles = ( { name = \"default\"; certificates = ( { cert = \"c.crt\"; key = \"c.key\"; } ); } );\n"
#define LISTENER                                                                                   \
	"listeners = ( { listen = \"127.0.0.1:8443\"; profile = \"default\"; backend = \"127.0.0.1:8080\"; } );\n"
#define CERTS "certificates = ( { cert = \"c.crt\"; key = \"c.key\"; } );"

static int n_checks, n_failed;
static char dir[PATH_MAX]; /* the temporary directory, canonical */
static char text[32768];   /* the example configuration fits */

static bool __attribute__((format(printf, 2, 3))) check(bool ok, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n_checks++;
	n_failed += !ok;
	printf("%s - %s\n", ok ? "ok  " : "FAIL", line);
	return ok;
}

static int write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(content, f);
	return fclose(f) ? -errno : 0;
}

/* Profile group on lines 1-5: certificates on line 3 and @extra on line 4; listener on 6. */
static const char *profile_text(const char *certs, const char *extra)
{
	snprintf(text, sizeof(text),
		 "profiles = ( {\n  name = \"default\";\n  %s\n  %s\n} );\n" LISTENER,
		 certs ? certs : CERTS, extra);
	return text;
}

/* Profile on line 1; listener group on lines 2-7: listen 3, profile 4, backend 5, @extra 6. */
static const char *listener_text(const char *listen, const char *profile, const char *backend,
				 const char *extra)
{
	snprintf(text, sizeof(text), PROFILE "listeners = ( {\n  %s\n  %s\n  %s\n  %s\n} );\n",
		 listen ? listen : "listen = \"127.0.0.1:8443\";",
		 profile ? profile : "profile = \"default\";",
		 backend ? backend : "backend = \"127.0.0.1:8080\";", extra);
	return text;
}

/* Writes @conf to t.conf and loads it. */
static int load(const char *conf, struct ktlsd_cfg **cfg, char *err, size_t errlen)
{
	int ret = write_file("t.conf", conf);

	return ret ? ret : config_load("t.conf", cfg, err, errlen);
}

static struct ktlsd_cfg *expect_ok(const char *what, const char *conf)
{
	struct ktlsd_cfg *cfg;
	char err[512] = "";
	int ret = load(conf, &cfg, err, sizeof(err));

	check(!ret && cfg, "%s loads (ret %d%s%s)", what, ret, *err ? ": " : "", err);
	return ret ? NULL : cfg;
}

static void expect_err(const char *what, const char *conf, const char *want)
{
	struct ktlsd_cfg *cfg = (struct ktlsd_cfg *)1;
	char err[512] = "";
	int ret = load(conf, &cfg, err, sizeof(err));

	if (!check(ret == -EINVAL && !cfg && !strcmp(err, want), "%s: %s", what, want))
		printf("       got ret %d, cfg %p, \"%s\"\n", ret, (void *)cfg, err);
	if (ret == 0)
		config_free(cfg);
}

static unsigned short port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void test_defaults(void)
{
	struct ktlsd_cfg *cfg = expect_ok("minimal file", PROFILE LISTENER);
	const struct cfg_profile *p;
	const struct cfg_listener *l;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char path[PATH_MAX + 16];

	if (!cfg)
		return;
	p = &cfg->profiles[0];
	l = &cfg->listeners[0];
	check(cfg->workers == (unsigned int)(ncpu > 256 ? 256 : ncpu), "workers 0 -> %ld CPUs",
	      ncpu);
	check(cfg->log_level == LOG_LVL_INFO, "default log_level info");
	check(cfg->shutdown_timeout_ms == CFG_DEF_SHUTDOWN_TIMEOUT_MS, "default shutdown_timeout");
	check(!strcmp(cfg->path, "t.conf"), "path kept");
	check(cfg->n_profiles == 1 && !strcmp(p->name, "default") && p->n_server_names == 0,
	      "one profile, no server names");
	snprintf(path, sizeof(path), "%s/c.crt", dir);
	check(p->n_certs == 1 && !strcmp(p->certs[0].cert_file, path),
	      "relative cert made absolute: %s", p->certs[0].cert_file);
	check(p->min_version == TLS1_2_VERSION && p->max_version == TLS1_3_VERSION,
	      "default versions 1.2..1.3");
	check(!strcmp(p->ciphers, CFG_DEF_CIPHERS) &&
		      !strcmp(p->ciphersuites, CFG_DEF_CIPHERSUITES) &&
		      !strcmp(p->groups, CFG_DEF_GROUPS),
	      "default ciphers, ciphersuites, groups");
	check(cfg->n_listeners == 1 && !strcmp(l->name, "127.0.0.1:8443") &&
		      !strcmp(l->listen_str, l->name),
	      "listener name defaults to the listen string");
	check(l->addr.ss_family == AF_INET && port_of(&l->addr) == 8443 &&
		      l->addr_len == sizeof(struct sockaddr_in),
	      "IPv4 listen address");
	check(l->n_profiles == 1 && l->profiles[0] == 0, "scalar profile = form");
	check(!l->sni_strict && !l->proxy_protocol && !l->n_alpn && !l->alpn && !l->alpn_wire,
	      "default sni_strict, proxy_protocol, alpn off");
	check(l->ktls, "kernel TLS on by default");
	check(l->backend.kind == BACKEND_TCP && port_of(&l->backend.addr) == 8080 &&
		      !strcmp(l->backend.str, "127.0.0.1:8080"),
	      "TCP backend");
	check(l->handshake_timeout_ms == CFG_DEF_HANDSHAKE_TIMEOUT_MS &&
		      l->client_hello_timeout_ms == CFG_DEF_CLIENT_HELLO_TIMEOUT_MS &&
		      l->idle_timeout_ms == CFG_DEF_IDLE_TIMEOUT_MS &&
		      l->connect_timeout_ms == CFG_DEF_CONNECT_TIMEOUT_MS,
	      "default timeouts");
	check(l->buffer_size == CFG_DEF_BUFFER_SIZE && l->backlog == CFG_DEF_BACKLOG,
	      "default buffer_size and backlog");
	check(p->line == 1 && l->line == 2, "definition lines recorded");
	config_free(cfg);
}

static void test_full(void)
{
	static const unsigned char wire[] = "\x02h2\x08http/1.1";
	const struct cfg_listener *l;
	const struct cfg_profile *p;
	struct ktlsd_cfg *cfg;
	const struct sockaddr_un *un;
	char path[PATH_MAX + 16];

	cfg = expect_ok(
		"explicit settings",
		"workers = 3; log_level = \"debug\"; shutdown_timeout = 2.5;\n"
		"profiles = (\n"
		"  { name = \"a\"; server_names = [ \"WWW.Example.COM\", \"*.example.org\" ];\n"
		"    certificates = ( { cert = \"c.crt\"; key = \"c.key\"; },\n"
		"                     { cert = \"/dev/null\"; key = \"sub/../c.key\"; } );\n"
		"    min_version = \"1.3\"; max_version = \"1.3\"; ciphers = \"ECDHE+AESGCM\";\n"
		"    ciphersuites = \"TLS_AES_256_GCM_SHA384\"; groups = \"P-384\"; },\n"
		"  { name = \"b\"; certificates = ( { cert = \"c.crt\"; key = \"c.key\"; } ); }\n"
		");\n"
		"listeners = (\n"
		"  { name = \"v6\"; listen = \"[::1]:8443\"; profiles = [ \"b\", \"a\" ];\n"
		"    sni_strict = true; alpn = [ \"h2\", \"http/1.1\" ];\n"
		"    backend = \"unix:/run/app.sock\"; proxy_protocol = true; ktls = false;\n"
		"    handshake_timeout = 0.25; idle_timeout = 86400; connect_timeout = 1L;\n"
		"    buffer_size = 4096; backlog = 65535; },\n"
		"  { listen = \"127.0.0.1:8443\"; profile = \"a\"; backend = \"[::1]:80\"; }\n"
		");\n");
	if (!cfg)
		return;
	p = &cfg->profiles[0];
	l = &cfg->listeners[0];
	check(cfg->workers == 3 && cfg->log_level == LOG_LVL_DEBUG &&
		      cfg->shutdown_timeout_ms == 2500,
	      "root settings (fractional seconds)");
	check(p->n_server_names == 2 && !strcmp(p->server_names[0], "www.example.com") &&
		      !strcmp(p->server_names[1], "*.example.org"),
	      "server_names lowercased, wildcard kept");
	snprintf(path, sizeof(path), "%s/sub/../c.key", dir);
	check(p->n_certs == 2 && !strcmp(p->certs[1].cert_file, "/dev/null") &&
		      !strcmp(p->certs[1].key_file, path),
	      "two certificates, absolute path kept");
	check(p->min_version == TLS1_3_VERSION && p->max_version == TLS1_3_VERSION,
	      "versions 1.3..1.3");
	check(!strcmp(p->ciphers, "ECDHE+AESGCM") &&
		      !strcmp(p->ciphersuites, "TLS_AES_256_GCM_SHA384") &&
		      !strcmp(p->groups, "P-384"),
	      "cipher settings");
	check(l->addr.ss_family == AF_INET6 && port_of(&l->addr) == 8443 &&
		      l->addr_len == sizeof(struct sockaddr_in6) &&
		      IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&l->addr)->sin6_addr),
	      "IPv6 listen [::1]:8443");
	check(!strcmp(l->name, "v6") && l->n_profiles == 2 && l->profiles[0] == 1 &&
		      l->profiles[1] == 0,
	      "profiles array in listener order (first is default)");
	check(l->sni_strict && l->proxy_protocol && !l->ktls, "booleans");
	check(l->n_alpn == 2 && !strcmp(l->alpn[0], "h2") && !strcmp(l->alpn[1], "http/1.1"),
	      "alpn list");
	check(l->alpn_wire_len == sizeof(wire) - 1 && !memcmp(l->alpn_wire, wire, sizeof(wire) - 1),
	      "alpn wire format \\x02h2\\x08http/1.1");
	un = (const struct sockaddr_un *)&l->backend.addr;
	check(l->backend.kind == BACKEND_UNIX && un->sun_family == AF_UNIX &&
		      !strcmp(un->sun_path, "/run/app.sock") &&
		      l->backend.addr_len == offsetof(struct sockaddr_un, sun_path) + 14,
	      "unix backend");
	check(l->handshake_timeout_ms == 250 && l->idle_timeout_ms == 86400000 &&
		      l->connect_timeout_ms == 1000,
	      "timeouts in ms (float, one day, int64)");
	check(l->buffer_size == 4096 && l->backlog == 65535, "buffer_size and backlog limits");
	l = &cfg->listeners[1];
	check(cfg->n_listeners == 2 && l->n_profiles == 1 && l->profiles[0] == 0 &&
		      l->backend.kind == BACKEND_TCP && l->backend.addr.ss_family == AF_INET6,
	      "second listener: scalar profile, IPv6 backend");
	config_free(cfg);
}

/* Creates every certificate and key the example names (relative to @exdir), empty. */
static int make_example_certs(const char *example, const char *exdir)
{
	const config_setting_t *profiles, *certs;
	const char *name;
	char path[PATH_MAX * 2], parent[PATH_MAX * 2];
	config_t lc;
	int i, j, ret = -1;

	config_init(&lc);
	if (!config_read_file(&lc, example))
		goto out;
	profiles = config_lookup(&lc, "profiles");
	for (i = 0; profiles && i < config_setting_length(profiles); i++) {
		certs = config_setting_get_member(config_setting_get_elem(profiles, i),
						  "certificates");
		for (j = 0; certs && j < 2 * config_setting_length(certs); j++) {
			if (!config_setting_lookup_string(config_setting_get_elem(certs, j / 2),
							  j % 2 ? "key" : "cert", &name))
				goto out;
			snprintf(path, sizeof(path), "%s/%s", exdir, name);
			snprintf(parent, sizeof(parent), "%s", path);
			mkdir(dirname(parent), 0755);
			if (write_file(path, ""))
				goto out;
		}
	}
	ret = 0;
out:
	config_destroy(&lc);
	return ret;
}

static void test_example(const char *example)
{
	struct ktlsd_cfg *cfg = NULL;
	const struct cfg_listener *l;
	const struct cfg_profile *p;
	char exdir[PATH_MAX + 16], path[PATH_MAX + 32], err[512] = "";
	FILE *f = fopen(example, "r");
	size_t i, n;
	int ret;

	if (!f) {
		check(false, "example %s is readable (set KTLSD_EXAMPLE_CONF)", example);
		return;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	if (!check(n < sizeof(text) - 1, "example fits the test's buffer (%zu bytes)", n))
		return;
	snprintf(exdir, sizeof(exdir), "%s/example", dir);
	snprintf(path, sizeof(path), "%s/ktlsd.conf", exdir);
	mkdir(exdir, 0755);
	if (!check(!write_file(path, text) && !make_example_certs(path, exdir),
		   "example copied with dummy certificates"))
		return;
	ret = config_load(path, &cfg, err, sizeof(err));
	if (!check(!ret && cfg, "example loads (ret %d%s%s)", ret, *err ? ": " : "", err))
		return;
	check(cfg->n_profiles >= 1 && cfg->n_listeners >= 1, "example: %zu profiles, %zu listeners",
	      cfg->n_profiles, cfg->n_listeners);
	for (i = 0, n = 0; i < cfg->n_profiles; i++)
		n += !strncmp(cfg->profiles[i].certs[0].cert_file, exdir, strlen(exdir));
	check(n == cfg->n_profiles, "example: certificates resolve against its directory");
	/* The example documents the defaults by spelling them out in its first profile/listener. */
	p = &cfg->profiles[0];
	l = &cfg->listeners[0];
	check(cfg->log_level == LOG_LVL_INFO &&
		      cfg->shutdown_timeout_ms == CFG_DEF_SHUTDOWN_TIMEOUT_MS,
	      "example: root defaults as documented");
	check(p->tickets == CFG_TICKETS_STATELESS &&
		      p->session_lifetime_s == CFG_DEF_SESSION_LIFETIME_S &&
		      p->tls13_tickets == CFG_DEF_TLS13_TICKETS && !p->psk_ke &&
		      p->ticket_rotation_s == CFG_DEF_TICKET_ROTATION_S &&
		      p->ticket_keys_kept == CFG_DEF_TICKET_KEYS_KEPT && !p->n_ticket_key_files &&
		      cfg->session_cache_size == CFG_DEF_SESSION_CACHE_SIZE,
	      "example: resumption defaults as in config.h");
	check(!l->early_data && !l->early_data_forward &&
		      l->max_early_data == CFG_DEF_MAX_EARLY_DATA,
	      "example: 0-RTT defaults as in config.h");
	check(p->min_version == TLS1_2_VERSION && p->max_version == TLS1_3_VERSION &&
		      !strcmp(p->ciphers, CFG_DEF_CIPHERS) &&
		      !strcmp(p->ciphersuites, CFG_DEF_CIPHERSUITES) &&
		      !strcmp(p->groups, CFG_DEF_GROUPS),
	      "example: profile defaults as in config.h");
	check(l->handshake_timeout_ms == CFG_DEF_HANDSHAKE_TIMEOUT_MS &&
		      l->idle_timeout_ms == CFG_DEF_IDLE_TIMEOUT_MS &&
		      l->connect_timeout_ms == CFG_DEF_CONNECT_TIMEOUT_MS &&
		      l->buffer_size == CFG_DEF_BUFFER_SIZE && l->backlog == CFG_DEF_BACKLOG &&
		      !l->sni_strict && !l->proxy_protocol,
	      "example: listener defaults as in config.h");
	config_free(cfg);
}

static void test_root_errors(void)
{
	expect_err("unknown root setting", PROFILE LISTENER "wokers = 4;\n",
		   "t.conf:3: unknown setting \"wokers\"");
	expect_err("wrong type", PROFILE LISTENER "workers = \"4\";\n",
		   "t.conf:3: workers must be an integer");
	expect_err("workers range", PROFILE LISTENER "workers = 257;\n",
		   "t.conf:3: workers must be between 0 and 256");
	expect_err("log_level value", PROFILE LISTENER "log_level = \"loud\";\n",
		   "t.conf:3: log_level must be \"error\", \"warn\", \"info\" or \"debug\"");
	expect_err("timeout zero", PROFILE LISTENER "shutdown_timeout = 0;\n",
		   "t.conf:3: shutdown_timeout must be more than 0 and at most 86400 seconds");
	expect_err("timeout negative", PROFILE LISTENER "shutdown_timeout = -1.5;\n",
		   "t.conf:3: shutdown_timeout must be more than 0 and at most 86400 seconds");
	expect_err("timeout over a day", PROFILE LISTENER "shutdown_timeout = 86401;\n",
		   "t.conf:3: shutdown_timeout must be more than 0 and at most 86400 seconds");
	expect_err("timeout type", PROFILE LISTENER "shutdown_timeout = \"30\";\n",
		   "t.conf:3: shutdown_timeout must be a number of seconds");
	expect_err("missing listeners", PROFILE, "t.conf: missing required setting \"listeners\"");
	expect_err("missing profiles", LISTENER, "t.conf: missing required setting \"profiles\"");
	expect_err("empty profiles", "profiles = ();\n" LISTENER,
		   "t.conf:1: profiles must not be empty");
	expect_err("profiles type", "profiles = \"default\";\n" LISTENER,
		   "t.conf:1: profiles must be a list of groups: ( { ... }, ... )");
	expect_err("listeners element type", PROFILE "listeners = ( \"x\" );\n",
		   "t.conf:2: listeners must be a list of groups: ( { ... }, ... )");
	expect_err("syntax error line", PROFILE LISTENER "\nworkers = ;\n",
		   "t.conf:4: syntax error");
	expect_err("duplicate setting", PROFILE LISTENER "workers = 1;\nworkers = 2;\n",
		   "t.conf:4: duplicate setting name");
}

static void test_profile_errors(void)
{
	char want[PATH_MAX + 128];

	expect_err("unknown profile setting", profile_text(NULL, "nmae = \"x\";"),
		   "t.conf:4: unknown setting \"nmae\"");
	expect_err("min_version value", profile_text(NULL, "min_version = \"1.1\";"),
		   "t.conf:4: min_version must be \"1.2\" or \"1.3\"");
	expect_err("max_version type", profile_text(NULL, "max_version = 1.3;"),
		   "t.conf:4: max_version must be a string");
	expect_err("min above max",
		   profile_text(NULL, "min_version = \"1.3\"; max_version = \"1.2\";"),
		   "t.conf:4: profile \"default\": min_version is above max_version");
	expect_err("server name", profile_text(NULL, "server_names = [ \"ok.example\", \"a b\" ];"),
		   "t.conf:4: server_names: invalid name \"a b\"");
	expect_err("server name wildcard", profile_text(NULL, "server_names = [ \"*\" ];"),
		   "t.conf:4: server_names: invalid name \"*\"");
	expect_err("server_names type", profile_text(NULL, "server_names = \"x.example\";"),
		   "t.conf:4: server_names must be an array of strings");
	expect_err("empty string", profile_text(NULL, "ciphers = \"\";"),
		   "t.conf:4: ciphers must not be empty");
	expect_err("string type", profile_text(NULL, "groups = 5;"),
		   "t.conf:4: groups must be a string");
	expect_err("missing certificates", profile_text("", ""),
		   "t.conf:1: missing required setting \"certificates\"");
	expect_err("empty certificates", profile_text("certificates = ();", ""),
		   "t.conf:3: certificates must not be empty");
	expect_err("missing key", profile_text("certificates = ( { cert = \"c.crt\"; } );", ""),
		   "t.conf:3: missing required setting \"key\"");
	expect_err("unknown certificate setting",
		   profile_text(
			   "certificates = ( { cert = \"c.crt\"; key = \"c.key\"; chain = 1; } );",
			   ""),
		   "t.conf:3: unknown setting \"chain\"");
	snprintf(want, sizeof(want),
		 "t.conf:3: key file \"%s/nope.key\": No such file or directory", dir);
	expect_err(
		"unreadable key",
		profile_text("certificates = ( { cert = \"c.crt\"; key = \"nope.key\"; } );", ""),
		want);
	expect_err("duplicate profile name",
		   "profiles = ( { name = \"a\"; " CERTS " },\n"
		   "  { name = \"a\"; " CERTS " } );\n" LISTENER,
		   "t.conf:2: duplicate profile name \"a\" (first at line 1)");
}

static void test_resumption(void)
{
	struct ktlsd_cfg *cfg;
	char want[PATH_MAX + 160];
	char key80[80] = { 0 }, key48[48] = { 0 };
	FILE *f;

	f = fopen("t80.key", "w");
	fwrite(key80, 1, sizeof(key80), f);
	fclose(f);
	f = fopen("t48.key", "w");
	fwrite(key48, 1, sizeof(key48), f);
	fclose(f);
	cfg = expect_ok("resumption settings",
			profile_text(NULL, "tickets = \"stateful\"; session_lifetime = 60; "
					   "tls13_tickets = 0; psk_ke = true; ticket_rotation = 2; "
					   "ticket_keys_kept = 16;"));
	if (cfg) {
		const struct cfg_profile *p = &cfg->profiles[0];

		check(p->tickets == CFG_TICKETS_STATEFUL && p->session_lifetime_s == 60 &&
			      p->tls13_tickets == 0 && p->psk_ke && p->ticket_rotation_s == 2 &&
			      p->ticket_keys_kept == 16,
		      "resumption settings parsed");
		config_free(cfg);
	}
	cfg = expect_ok("key files",
			profile_text(NULL, "ticket_key_files = [ \"t80.key\", \"t48.key\" ];"));
	if (cfg) {
		snprintf(want, sizeof(want), "%s/t80.key", dir);
		check(cfg->profiles[0].n_ticket_key_files == 2 &&
			      !strcmp(cfg->profiles[0].ticket_key_files[0], want),
		      "key files resolve against the configuration's directory");
		config_free(cfg);
	}
	expect_err("tickets value", profile_text(NULL, "tickets = \"maybe\";"),
		   "t.conf:4: tickets must be \"stateless\", \"stateful\" or \"off\"");
	expect_err("tls13_tickets range", profile_text(NULL, "tls13_tickets = 9;"),
		   "t.conf:4: tls13_tickets must be between 0 and 8");
	expect_err("session_lifetime range", profile_text(NULL, "session_lifetime = 0;"),
		   "t.conf:4: session_lifetime must be between 1 and 604800");
	expect_err("keys kept range", profile_text(NULL, "ticket_keys_kept = 17;"),
		   "t.conf:4: ticket_keys_kept must be between 0 and 16");
	snprintf(want, sizeof(want),
		 "t.conf:4: ticket_key_files: \"%s/c.key\" must be a file of 80 or 48 bytes "
		 "(nginx's ssl_session_ticket_key format), not 0",
		 dir);
	expect_err("key file size", profile_text(NULL, "ticket_key_files = [ \"c.key\" ];"), want);
	snprintf(want, sizeof(want),
		 "t.conf:4: ticket_key_files: \"%s/none.key\": No such file or directory", dir);
	expect_err("key file missing", profile_text(NULL, "ticket_key_files = [ \"none.key\" ];"),
		   want);
	expect_err("key files need stateless tickets",
		   profile_text(NULL, "tickets = \"off\"; ticket_key_files = [ \"t80.key\" ];"),
		   "t.conf:4: profile \"default\": ticket_key_files need tickets = \"stateless\"");
	snprintf(text, sizeof(text),
		 "session_cache_size = 0;\nprofiles = ( { name = \"default\"; " CERTS
		 "\n  tickets = \"stateful\"; } );\n" LISTENER);
	expect_err("stateful tickets need the cache", text,
		   "t.conf:3: profile \"default\": stateful tickets need the session cache "
		   "(session_cache_size > 0)");
	expect_err("early data beside the PROXY header",
		   listener_text(NULL, NULL, NULL,
				 "early_data = true; max_early_data = 65000; buffer_size = 65536;"),
		   "t.conf:6: listener \"127.0.0.1:8443\": max_early_data (65000) must be at most "
		   "buffer_size - 1024 (64512)");
	expect_err("forwarded early data needs PROXY",
		   listener_text(NULL, NULL, NULL, "early_data = true; early_data_forward = true;"),
		   "t.conf:6: listener \"127.0.0.1:8443\": early_data_forward needs proxy_protocol "
		   "= true (the backend learns from it which bytes were early data)");
	cfg = expect_ok("0-RTT settings",
			listener_text(NULL, NULL, NULL,
				      "early_data = true; max_early_data = 4096; "
				      "early_data_forward = true; proxy_protocol = true;"));
	if (cfg) {
		const struct cfg_listener *l = &cfg->listeners[0];

		check(l->early_data && l->early_data_forward && l->max_early_data == 4096,
		      "0-RTT settings parsed");
		config_free(cfg);
	}
}

static void test_listener_errors(void)
{
	const char *v = "t.conf:3: listen: invalid or unresolvable address ";
	char big[300], want[400];

	expect_err("unknown listener setting", listener_text(NULL, NULL, NULL, "bakend = 1;"),
		   "t.conf:6: unknown setting \"bakend\"");
	expect_err("unknown profile",
		   listener_text(NULL, "profiles = [ \"default\", \"nope\" ];", NULL, ""),
		   "t.conf:4: listener \"127.0.0.1:8443\": unknown profile \"nope\"");
	expect_err("unknown scalar profile",
		   listener_text(NULL, "profile = \"nope\";", NULL, "name = \"https\";"),
		   "t.conf:4: listener \"https\": unknown profile \"nope\"");
	expect_err("profile listed twice",
		   listener_text(NULL, "profiles = [ \"default\", \"default\" ];", NULL, ""),
		   "t.conf:4: listener \"127.0.0.1:8443\": profile \"default\" listed twice");
	expect_err("profile and profiles",
		   listener_text(NULL, NULL, NULL, "profiles = [ \"default\" ];"),
		   "t.conf:4: listener \"127.0.0.1:8443\": set profile or profiles, not both");
	expect_err("empty profiles", listener_text(NULL, "profiles = [];", NULL, ""),
		   "t.conf:4: profiles must not be empty");
	expect_err("missing profiles", listener_text(NULL, "", NULL, ""),
		   "t.conf:2: listener \"127.0.0.1:8443\": missing required setting \"profiles\"");
	expect_err("missing listen", listener_text("", NULL, NULL, ""),
		   "t.conf:2: missing required setting \"listen\"");
	expect_err("missing backend", listener_text(NULL, NULL, "", ""),
		   "t.conf:2: missing required setting \"backend\"");
	expect_err("bool type", listener_text(NULL, NULL, NULL, "sni_strict = 1;"),
		   "t.conf:6: sni_strict must be true or false");
	expect_err("alpn empty protocol",
		   listener_text(NULL, NULL, NULL, "alpn = [ \"h2\", \"\" ];"),
		   "t.conf:6: alpn: each protocol must be 1 to 255 bytes");
	memset(big, 'x', 256);
	big[256] = '\0';
	snprintf(want, sizeof(want), "alpn = [ \"%s\" ];", big);
	expect_err("alpn 256 bytes", listener_text(NULL, NULL, NULL, want),
		   "t.conf:6: alpn: each protocol must be 1 to 255 bytes");
	expect_err("alpn type", listener_text(NULL, NULL, NULL, "alpn = [ 1 ];"),
		   "t.conf:6: alpn must be an array of strings");
	expect_err("handshake_timeout zero",
		   listener_text(NULL, NULL, NULL, "handshake_timeout = 0;"),
		   "t.conf:6: handshake_timeout must be more than 0 and at most 86400 seconds");
	expect_err("idle_timeout over a day",
		   listener_text(NULL, NULL, NULL, "idle_timeout = 86400.5;"),
		   "t.conf:6: idle_timeout must be more than 0 and at most 86400 seconds");
	expect_err("connect_timeout type",
		   listener_text(NULL, NULL, NULL, "connect_timeout = true;"),
		   "t.conf:6: connect_timeout must be a number of seconds");
	expect_err("buffer_size range", listener_text(NULL, NULL, NULL, "buffer_size = 4095;"),
		   "t.conf:6: buffer_size must be between 4096 and 16777216");
	expect_err("backlog range", listener_text(NULL, NULL, NULL, "backlog = 0;"),
		   "t.conf:6: backlog must be between 1 and 65535");
	expect_err("backlog type", listener_text(NULL, NULL, NULL, "backlog = 1.5;"),
		   "t.conf:6: backlog must be an integer");
	expect_err("listen port 0", listener_text("listen = \"127.0.0.1:0\";", NULL, NULL, ""),
		   (snprintf(want, sizeof(want), "%s\"127.0.0.1:0\"", v), want));
	expect_err("listen unix", listener_text("listen = \"unix:/tmp/x.sock\";", NULL, NULL, ""),
		   (snprintf(want, sizeof(want), "%s\"unix:/tmp/x.sock\"", v), want));
	expect_err("listen bare IPv6", listener_text("listen = \"::1:443\";", NULL, NULL, ""),
		   (snprintf(want, sizeof(want), "%s\"::1:443\"", v), want));
	expect_err("backend relative unix",
		   listener_text(NULL, NULL, "backend = \"unix:app.sock\";", ""),
		   "t.conf:5: backend: invalid or unresolvable address \"unix:app.sock\"");
	expect_err("listen type", listener_text("listen = 8443;", NULL, NULL, ""),
		   "t.conf:3: listen must be a string");
	expect_err(
		"duplicate listener name",
		PROFILE
		"listeners = (\n"
		"  { name = \"x\"; listen = \"127.0.0.1:1\"; profile = \"default\"; backend = \"127.0.0.1:2\"; },\n"
		"  { name = \"x\"; listen = \"127.0.0.1:3\"; profile = \"default\"; backend = \"127.0.0.1:2\"; } );\n",
		"t.conf:4: duplicate listener name \"x\" (first at line 3)");
	expect_err(
		"duplicate listen address",
		PROFILE
		"listeners = (\n"
		"  { name = \"x\"; listen = \"127.0.0.1:1\"; profile = \"default\"; backend = \"127.0.0.1:2\"; },\n"
		"  { name = \"y\";\n"
		"    listen = \"127.0.0.1:1\"; profile = \"default\"; backend = \"127.0.0.1:2\"; } );\n",
		"t.conf:5: listener \"y\": address \"127.0.0.1:1\" already used at line 3");
}

static void test_files(void)
{
	struct ktlsd_cfg *cfg = (struct ktlsd_cfg *)1;
	char err[512], small[12], path[PATH_MAX + 32];
	int ret;

	ret = config_load("missing.conf", &cfg, err, sizeof(err));
	check(ret == -ENOENT && !cfg && !strcmp(err, "missing.conf: No such file or directory"),
	      "missing file: -ENOENT, \"%s\"", err);
	ret = config_load(".", &cfg, err, sizeof(err));
	check(ret == -EISDIR && !cfg && !strcmp(err, ".: Is a directory"),
	      "directory: -EISDIR, \"%s\"", err);
	ret = load(PROFILE LISTENER "wokers = 4;\n", &cfg, small, sizeof(small));
	check(ret == -EINVAL && !strcmp(small, "t.conf:3: u"), "message truncated to errlen");
	ret = load(PROFILE LISTENER "wokers = 4;\n", &cfg, NULL, 0);
	check(ret == -EINVAL && !cfg, "NULL error buffer");

	/* @include and certificates resolve against the including file's directory. */
	write_file("sub/c.crt", "");
	write_file("sub/c.key", "");
	write_file("sub/main.conf", PROFILE "@include \"listeners.inc\"\n");
	write_file("sub/listeners.inc", "# included\n" LISTENER);
	ret = config_load("sub/main.conf", &cfg, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/sub/c.crt", dir);
	check(!ret && cfg && cfg->n_listeners == 1 &&
		      !strcmp(cfg->profiles[0].certs[0].cert_file, path),
	      "@include and certificates relative to the file's directory");
	config_free(ret ? NULL : cfg);
	write_file("sub/listeners.inc",
		   "# included\nlisteners = ( { listen = \"127.0.0.1:1\"; } );\n");
	ret = config_load("sub/main.conf", &cfg, err, sizeof(err));
	check(ret == -EINVAL &&
		      !strcmp(err, "listeners.inc:2: missing required setting \"backend\""),
	      "error in an included file names that file: \"%s\"", err);

	ret = config_load_string(PROFILE LISTENER, "mem", &cfg, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/c.crt", dir);
	check(!ret && cfg && !strcmp(cfg->path, "mem") &&
		      !strcmp(cfg->profiles[0].certs[0].cert_file, path),
	      "config_load_string: relative to the current directory");
	config_free(ret ? NULL : cfg);
	ret = config_load_string(PROFILE LISTENER "wokers = 4;\n", "mem", &cfg, err, sizeof(err));
	check(ret == -EINVAL && !cfg && !strcmp(err, "mem:3: unknown setting \"wokers\""),
	      "config_load_string error names the string: \"%s\"", err);
	ret = config_load_string("a = ", "mem", &cfg, err, sizeof(err));
	check(ret == -EINVAL && !cfg && !strncmp(err, "mem:1: ", 7),
	      "config_load_string syntax error: \"%s\"", err);
}

static void test_parse_addr(void)
{
	static const char *const bad[] = {
		"",
		":80",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:+80",
		"127.0.0.1:http",
		"127.0.0.1:123456",
		"[::1]",
		"[::1]:",
		"[::1]80",
		"[127.0.0.1]:80",
		"::1:80",
		"unix:",
		"unix:rel.sock",
		"[::1:80",
	};
	struct sockaddr_storage ss;
	const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
	char longpath[200];
	socklen_t len;
	size_t i;

	check(!config_parse_addr("10.1.2.3:65535", false, &ss, &len) && ss.ss_family == AF_INET &&
		      port_of(&ss) == 65535 && len == sizeof(struct sockaddr_in) &&
		      ((const struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(0x0a010203),
	      "parse_addr 10.1.2.3:65535");
	check(!config_parse_addr("[::]:443", false, &ss, &len) && ss.ss_family == AF_INET6 &&
		      port_of(&ss) == 443 && len == sizeof(struct sockaddr_in6),
	      "parse_addr [::]:443");
	check(!config_parse_addr("localhost:80", false, &ss, &len) &&
		      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) && port_of(&ss) == 80,
	      "parse_addr localhost:80 (getaddrinfo)");
	check(!config_parse_addr("unix:/run/a.sock", true, &ss, &len) &&
		      un->sun_family == AF_UNIX && !strcmp(un->sun_path, "/run/a.sock") &&
		      len == offsetof(struct sockaddr_un, sun_path) + 12,
	      "parse_addr unix:/run/a.sock");
	check(config_parse_addr("unix:/run/a.sock", false, &ss, &len) == -EINVAL,
	      "parse_addr unix refused without allow_unix");
	memset(longpath, 'a', sizeof(longpath) - 1);
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	check(config_parse_addr(longpath, true, &ss, &len) == -EINVAL,
	      "parse_addr unix path longer than sun_path");
	longpath[5 + sizeof(un->sun_path) - 1] = '\0';
	check(!config_parse_addr(longpath, true, &ss, &len) &&
		      len == offsetof(struct sockaddr_un, sun_path) + sizeof(un->sun_path),
	      "parse_addr unix path of sun_path - 1 bytes");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(config_parse_addr(bad[i], true, &ss, &len) == -EINVAL,
		      "parse_addr rejects \"%s\"", bad[i]);
	check(config_parse_addr(NULL, true, &ss, &len) == -EINVAL, "parse_addr rejects NULL");
}

static void test_log_level_names(void)
{
	check(!strcmp(config_log_level_name(LOG_LVL_ERR), "error") &&
		      !strcmp(config_log_level_name(LOG_LVL_WARN), "warn") &&
		      !strcmp(config_log_level_name(LOG_LVL_INFO), "info") &&
		      !strcmp(config_log_level_name(LOG_LVL_DEBUG), "debug") &&
		      !strcmp(config_log_level_name((enum log_level)42), "unknown"),
	      "config_log_level_name");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The client role's settings and the pool's upstreams. */
static void test_upstreams(void)
{
#define HANDOFF "handoff_socket = \"/run/t/h.sock\";\n"
	struct ktlsd_cfg *cfg = expect_ok(
		"upstreams", PROFILE LISTENER HANDOFF
		"client_ca = \"c.crt\";\nclient_ticket_wait = 0.1;\n"
		"upstreams = ( { name = \"api\"; address = \"127.0.0.1:443\"; },\n"
		"  { name = \"b\"; address = \"[::1]:8443\"; sni = \"b.example\"; alpn = [ \"h2\", "
		"\"http/1.1\" ];\n    pool_size = 0; max_idle = 2.5; verify = false; } );\n");
	const struct cfg_upstream *u;

	if (cfg) {
		u = &cfg->upstreams[0];
		check(cfg->n_upstreams == 2, "two upstreams");
		check(!strcmp(u->host, "127.0.0.1") && !strcmp(u->alpn, "") &&
			      u->pool_size == CFG_DEF_POOL_SIZE &&
			      u->max_idle_ms == CFG_DEF_POOL_MAX_IDLE_MS && u->verify &&
			      port_of(&u->addr) == 443,
		      "upstream defaults: host from the address, no ALPN, pool 4, 60 s, verify");
		u = &cfg->upstreams[1];
		check(!strcmp(u->host, "b.example") && !strcmp(u->alpn, "h2,http/1.1") &&
			      !u->pool_size && u->max_idle_ms == 2500 && !u->verify,
		      "upstream settings: sni, alpn joined, pool 0, 2.5 s, verify off");
		check(cfg->client_ticket_wait_ms == 100 && cfg->client_ca &&
			      cfg->client_cache_size == CFG_DEF_CLIENT_CACHE_SIZE,
		      "client_ca, client_ticket_wait, default client cache size");
		check(!strcmp(cfg->listeners[cfg->handoff_client_listener].name, "handoff-client"),
		      "the client role's listener");
		config_free(cfg);
	}
	expect_err(
		"upstreams without handoff_socket",
		PROFILE LISTENER "upstreams = ( { name = \"a\"; address = \"127.0.0.1:1\"; } );\n",
		"t.conf:3: upstreams need handoff_socket: pooled connections are handed out there");
	expect_err("duplicate upstream",
		   PROFILE LISTENER HANDOFF
		   "upstreams = ( { name = \"a\"; address = \"127.0.0.1:1\"; },\n"
		   "  { name = \"a\"; address = \"127.0.0.1:2\"; } );\n",
		   "t.conf:5: duplicate upstream name \"a\" (first at line 4)");
	expect_err("upstream address",
		   PROFILE LISTENER HANDOFF
		   "upstreams = ( { name = \"a\"; address = \"nowhere\"; } );\n",
		   "t.conf:4: address: invalid address \"nowhere\" (want host:port)");
	expect_err(
		"upstream alpn comma",
		PROFILE LISTENER HANDOFF
		"upstreams = ( { name = \"a\"; address = \"127.0.0.1:1\"; alpn = [ \"a,b\" ]; } );\n",
		"t.conf:4: alpn: each protocol must be 1 to 255 bytes, without commas");
	expect_err(
		"pool_size range",
		PROFILE LISTENER HANDOFF
		"upstreams = ( { name = \"a\"; address = \"127.0.0.1:1\"; pool_size = 5000; } );\n",
		"t.conf:4: pool_size must be between 0 and 1024");
	char want[PATH_MAX + 100];

	snprintf(want, sizeof(want),
		 "t.conf:4: client_ca file \"%s/nope.pem\": No such file or directory", dir);
	expect_err("client_ca missing", PROFILE LISTENER HANDOFF "client_ca = \"nope.pem\";\n",
		   want);
#undef HANDOFF
}

int main(void)
{
	const char *env = getenv("KTLSD_EXAMPLE_CONF");
	char example[PATH_MAX] = "", tmpl[] = "/tmp/ktlsd-test-config-XXXXXX";

	/* Resolve the example before leaving the starting directory. */
	if (!realpath(env ? env : "etc/ktlsd.conf", example))
		snprintf(example, sizeof(example), "%s", env ? env : "etc/ktlsd.conf");
	if (!mkdtemp(tmpl) || chdir(tmpl) || !getcwd(dir, sizeof(dir))) {
		perror("test_config: temporary directory");
		return 1;
	}
	write_file("c.crt", "");
	write_file("c.key", "");
	mkdir("sub", 0755);

	test_defaults();
	test_full();
	test_example(example);
	test_root_errors();
	test_profile_errors();
	test_listener_errors();
	test_resumption();
	test_files();
	test_parse_addr();
	test_log_level_names();
	test_upstreams();

	if (chdir("/") || nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
		perror("test_config: cleanup");
	printf("%d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
