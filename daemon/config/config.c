// SPDX-License-Identifier: MIT
/*
 * config.c - a libconfig file into a struct ktlsd_cfg: loading (a file, a string, a file
 * with the runtime listener overlay replayed over it) and freeing. The settings
 * themselves are in config_root.c, config_profile.c and config_listener.c.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <libgen.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>
#include <openssl/tls1.h>

#include "config_int.h"

/* ---- entry points ---- */

static void config_free_listener(struct cfg_listener *l)
{
	config_free_strv(l->alpn, l->n_alpn);
	free(l->alpn_wire);
	free(l->profiles);
	free(l->name);
	free(l->listen_str);
	free(l->backend.str);
}

/* Drops listener @i (a name removed at run time). */
static void config_drop_listener(struct ktlsd_cfg *cfg, size_t i)
{
	struct cfg_listener *l = &cfg->listeners[i];

	config_free_listener(l);
	memmove(l, l + 1, (cfg->n_listeners - i - 1) * sizeof(*l));
	cfg->n_listeners--;
}

/* Appends one listener written as a libconfig group; see struct cfg_overlay. */
static int config_add_listener(struct cfg_ctx *ctx, const char *text, bool strict)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	const config_setting_t *list, *g;
	struct cfg_ctx sub = *ctx;
	struct cfg_listener *arr;
	char *wrapped = NULL;
	config_t lc;
	int ret;

	sub.name = "<control>";
	config_init(&lc);
	if (asprintf(&wrapped, "listeners = ( %s\n);\n", text) < 0) {
		wrapped = NULL;
		ret = config_nomem(ctx);
		goto out;
	}
	if (!config_read_string(&lc, wrapped)) {
		snprintf(ctx->err, ctx->errlen, "<control>:%d: %s", config_error_line(&lc),
			 config_error_text(&lc));
		ret = -EINVAL;
		goto out;
	}
	list = config_lookup(&lc, "listeners");
	if (config_setting_length(list) != 1 ||
	    config_setting_type(g = config_setting_get_elem(list, 0)) != CONFIG_TYPE_GROUP) {
		ret = config_err(&sub, NULL, "expected exactly one listener group { ... }");
		goto out;
	}
	arr = realloc(cfg->listeners, (cfg->n_listeners + 1) * sizeof(*arr));
	if (!arr) {
		ret = config_nomem(ctx);
		goto out;
	}
	cfg->listeners = arr;
	ret = config_parse_listener(&sub, g, cfg->n_listeners);
	arr[cfg->n_listeners].runtime = true;
	cfg->n_listeners++; /* counted even half-built, so that config_free() frees it */
	if (ret == -EEXIST && !strict) {
		config_drop_listener(cfg, cfg->n_listeners - 1);
		ret = 0;
	}
out:
	free(wrapped);
	config_destroy(&lc);
	return ret;
}

static int config_apply_overlay(struct cfg_ctx *ctx, const struct cfg_overlay *ov)
{
	struct ktlsd_cfg *cfg = ctx->cfg;
	int ret = 0;

	for (size_t r = 0; r < ov->n_remove; r++)
		for (size_t i = 0; i < cfg->n_listeners; i++)
			if (!strcmp(cfg->listeners[i].name, ov->remove[r])) {
				config_drop_listener(cfg, i);
				break;
			}
	for (size_t a = 0; !ret && a < ov->n_add; a++)
		ret = config_add_listener(ctx, ov->add[a], ov->strict);
	return ret;
}

/* Parses @text; relative paths resolve against @dir. */
static int config_parse(const char *name, const char *dir, const char *text,
			const struct cfg_overlay *ov, struct ktlsd_cfg **out, char *err,
			size_t errlen)
{
	struct cfg_ctx ctx = { .name = name, .dir = dir, .err = err, .errlen = errlen };
	struct ktlsd_cfg *cfg = NULL;
	config_t lc;
	long ncpu;
	int ret;

	config_init(&lc);
	config_set_include_dir(&lc, dir);
	if (!config_read_string(&lc, text)) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: %s",
				 config_error_file(&lc) ? config_error_file(&lc) : name,
				 config_error_line(&lc), config_error_text(&lc));
		ret = -EINVAL;
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->path = strdup(name)) || !(cfg->text = strdup(text))) {
		ret = config_nomem(&ctx);
		goto out;
	}
	ctx.cfg = cfg;
	ret = config_parse_group(&ctx, config_root_setting(&lc), &config_root_table, cfg);
	if (!ret && ov)
		ret = config_apply_overlay(&ctx, ov);
	if (!ret && !cfg->n_listeners)
		ret = config_err(&ctx, NULL, "no listener left");
	if (ret)
		goto out;
	if (cfg->handoff.socket &&
	    ((ret = config_add_handoff_listener(&ctx, "handoff", &cfg->handoff_listener)) < 0 ||
	     (ret = config_add_handoff_listener(&ctx, "handoff-client",
						&cfg->handoff_client_listener)) < 0))
		goto out;
	if (!cfg->workers) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (ncpu > CFG_MAX_WORKERS)
			ncpu = CFG_MAX_WORKERS;
		cfg->workers = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	*out = cfg;
	cfg = NULL;
out:
	config_free(cfg);
	config_destroy(&lc);
	return ret;
}

/* The whole file into a NUL-terminated string (caller frees); -errno. */
static int config_slurp(FILE *f, char **text)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	size_t n;

	*text = NULL;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return -EFBIG;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (!buf)
		return -ENOMEM;
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/**
 * config_load() - parse a configuration file.
 * @path:   file to read
 * @out:    on success the new configuration (caller frees with config_free()); NULL on failure
 * @err:    on failure "path:line: what is wrong" (line omitted when there is none)
 * @errlen: size of @err
 *
 * Relative certificate paths and @include resolve against the directory of @path.
 *
 * Return: 0, or -EINVAL (bad content) / -errno (file could not be read).
 */
int config_load(const char *path, struct ktlsd_cfg **out, char *err, size_t errlen)
{
	return config_load_overlay(path, NULL, NULL, out, err, errlen);
}

int config_load_overlay(const char *path, const char *text, const struct cfg_overlay *ov,
			struct ktlsd_cfg **out, char *err, size_t errlen)
{
	char *copy = NULL, *dir = NULL, *read = NULL;
	struct stat st;
	FILE *f = NULL;
	int ret;

	*out = NULL;
	if (!text) {
		f = fopen(path, "re");
		if (f && !fstat(fileno(f), &st) && S_ISDIR(st.st_mode))
			errno = EISDIR; /* fopen() opens a directory; only reading it fails */
		else if (f && (ret = config_slurp(f, &read)) < 0)
			errno = -ret;
		text = read;
	}
	if (text && (copy = strdup(path)))
		dir = realpath(dirname(copy), NULL);
	if (!dir) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	ret = config_parse(path, dir, text, ov, out, err, errlen);
out:
	if (f)
		fclose(f);
	free(read);
	free(copy);
	free(dir);
	return ret;
}

/**
 * config_load_string() - parse a configuration held in memory.
 * @text:   the configuration text
 * @name:   stands in for the file name in messages
 * @out:    as for config_load()
 * @err:    as for config_load()
 * @errlen: size of @err
 *
 * Relative paths resolve against the current directory. Used by the tests and the fuzz target.
 *
 * Return: 0, -EINVAL (bad content) or -errno.
 */
int config_load_string(const char *text, const char *name, struct ktlsd_cfg **out, char *err,
		       size_t errlen)
{
	char *dir = getcwd(NULL, 0);
	int ret;

	*out = NULL;
	if (!dir) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", name, strerror(-ret));
		return ret;
	}
	ret = config_parse(name, dir, text, NULL, out, err, errlen);
	free(dir);
	return ret;
}

/**
 * config_free() - free a configuration from config_load() or config_load_string().
 * @cfg: the configuration; NULL is allowed
 */
void config_free(struct ktlsd_cfg *cfg)
{
	size_t i, j;

	if (!cfg)
		return;
	config_free_strv(cfg->warnings, cfg->n_warnings);
	for (i = 0; i < cfg->n_profiles; i++) {
		struct cfg_profile *p = &cfg->profiles[i];

		for (j = 0; j < p->n_certs; j++) {
			free(p->certs[j].cert_file);
			free(p->certs[j].key_file);
		}
		free(p->certs);
		config_free_strv(p->server_names, p->n_server_names);
		free(p->name);
		free(p->ciphers);
		free(p->ciphersuites);
		free(p->groups);
		config_free_strv(p->ticket_key_files, p->n_ticket_key_files);
	}
	for (i = 0; i < cfg->n_listeners; i++)
		config_free_listener(&cfg->listeners[i]);
	free(cfg->profiles);
	free(cfg->listeners);
	config_free_access(&cfg->control);
	config_free_access(&cfg->handoff);
	free(cfg->handoff_profiles);
	free(cfg->metrics_listen);
	free(cfg->client_ca);
	free(cfg->run_user);
	free(cfg->run_group);
	for (i = 0; i < cfg->n_upstreams; i++) {
		free(cfg->upstreams[i].name);
		free(cfg->upstreams[i].address);
		free(cfg->upstreams[i].host);
		free(cfg->upstreams[i].alpn);
	}
	free(cfg->upstreams);
	free(cfg->text);
	free(cfg->path);
	free(cfg);
}
