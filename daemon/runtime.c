// SPDX-License-Identifier: MIT
/*
 * runtime.c - the running configuration and what changes it: applying a configuration,
 * reloads, listeners added or removed through the control API, drain.
 *
 * Every change holds k->lock from reading the configuration to handing the new snapshot
 * to the workers, so a SIGHUP and a control command never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "runtime.h"

static void ktlsd_apply_log_level(const struct ktlsd *k, const struct ktlsd_cfg *cfg)
{
	log_set_level(k->verbose ? LOG_LVL_DEBUG : cfg->log_level);
}

/* Both NULL, or equal strings. */
static bool runtime_same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/** ktlsd_log_config_warnings() - what the parser found legal but suspect, one line each. */
void ktlsd_log_config_warnings(const struct ktlsd_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		log_warn("%s", cfg->warnings[i]);
}

/**
 * ktlsd_apply() - make @cfg the running configuration.
 * @k:   the daemon; k->lock held, or the workers not started yet
 * @cfg: the new configuration, taken over (freed on failure too)
 * @err: on failure why
 *
 * Builds its snapshot, gives its listeners their sockets (listeners.c) and hands the
 * snapshot to every worker. On failure the running configuration stays.
 *
 * Return: 0 or -errno.
 */
int ktlsd_apply(struct ktlsd *k, struct ktlsd_cfg *cfg, char *err, size_t errlen)
{
	struct snapshot *s = NULL;
	int ret;

	ktlsd_log_config_warnings(cfg);
	if (cfg->workers != k->n_workers && k->snap) {
		log_warn("workers = %u needs a restart; still running %u", cfg->workers,
			 k->n_workers);
		cfg->workers = k->n_workers;
	}
	ret = snapshot_create(cfg, k->generation + 1, &s, err, errlen);
	if (ret < 0) {
		config_free(cfg);
		return ret;
	}
	ret = listeners_assign(&k->lslots, s->cfg, k->workers, k->n_workers, err, errlen);
	if (ret < 0) {
		snapshot_put(s);
		return ret;
	}
	if (k->snap)
		sesscache_resize(cfg->session_cache_size);
	/* Sessions verified against other trust anchors must not resume. */
	if (k->snap && !runtime_same_str(k->snap->cfg->client_ca, cfg->client_ca))
		clientcache_flush();
	clientcache_configure(cfg->client_cache_size);
	for (unsigned i = 0; i < k->n_workers; i++) {
		struct snapshot *old;

		if (k->workers[i].notify_fd < 0)
			continue; /* not started yet: worker_start() hands it k->snap */
		old = atomic_exchange(&k->workers[i].next_snap, snapshot_get(s));
		snapshot_put(old); /* one the worker had not picked up yet */
		worker_notify(&k->workers[i]);
	}
	snapshot_put(k->snap);
	k->snap = s;
	k->generation = s->generation;
	ktlsd_apply_log_level(k, s->cfg);
	return 0;
}

static struct cfg_overlay ktlsd_overlay(const struct ktlsd *k, bool strict)
{
	return (struct cfg_overlay){ .add = (const char *const *)k->ov_add,
				     .n_add = k->n_ov_add,
				     .remove = (const char *const *)k->ov_remove,
				     .n_remove = k->n_ov_remove,
				     .strict = strict };
}

/* Forgets runtime additions the file now overrides (same name or address). */
static void ktlsd_prune_overlay(struct ktlsd *k, const struct ktlsd_cfg *cfg)
{
	size_t j = 0;

	for (size_t i = 0; i < k->n_ov_add; i++) {
		bool kept = false;

		for (size_t l = 0; l < cfg->n_listeners; l++)
			kept |= cfg->listeners[l].runtime &&
				!strcmp(cfg->listeners[l].name, k->ov_add_names[i]);
		if (kept) {
			k->ov_add[j] = k->ov_add[i];
			k->ov_add_names[j++] = k->ov_add_names[i];
		} else {
			log_info("runtime listener \"%s\" replaced by the file's",
				 k->ov_add_names[i]);
			free(k->ov_add[i]);
			free(k->ov_add_names[i]);
		}
	}
	k->n_ov_add = j;
}

int ktlsd_reload(struct ktlsd *k, char *err, size_t errlen)
{
	struct ktlsd_cfg *cfg = NULL;
	struct cfg_overlay ov;
	int ret;

	pthread_mutex_lock(&k->lock);
	log_info("reloading %s", k->config_path);
	sdnotify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		 (unsigned long long)(now_monotonic_ns() / 1000), k->config_path);
	ov = ktlsd_overlay(k, false);
	ret = config_load_overlay(k->config_path, NULL, &ov, &cfg, err, errlen);
	if (ret == 0) {
		ktlsd_prune_overlay(k, cfg);
		ret = ktlsd_apply(k, cfg, err, errlen);
	}
	if (ret < 0)
		log_err("reload failed: %s; still serving configuration generation %llu", err,
			(unsigned long long)k->generation);
	else
		log_info("reloaded: configuration generation %llu",
			 (unsigned long long)k->generation);
	sdnotify("READY=1\nSTATUS=%s; configuration generation %llu",
		 ret < 0 ? "reload failed, old configuration kept" : "serving",
		 (unsigned long long)k->generation);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* Appends @s to the string vector *v of *n entries; -ENOMEM. */
static int ktlsd_strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Appends a runtime listener (its text and name) to the overlay; -ENOMEM. */
static int ktlsd_overlay_push(struct ktlsd *k, const char *text, const char *name)
{
	char **t = realloc(k->ov_add, (k->n_ov_add + 1) * sizeof(char *));
	char **n = t ? realloc(k->ov_add_names, (k->n_ov_add + 1) * sizeof(char *)) : NULL;

	if (t)
		k->ov_add = t;
	if (!n)
		return -ENOMEM;
	k->ov_add_names = n;
	t[k->n_ov_add] = strdup(text);
	n[k->n_ov_add] = strdup(name);
	if (!t[k->n_ov_add] || !n[k->n_ov_add]) {
		free(t[k->n_ov_add]);
		free(n[k->n_ov_add]);
		return -ENOMEM;
	}
	k->n_ov_add++;
	return 0;
}

int ktlsd_listener_add(struct ktlsd *k, const char *text, struct listener_added *out, char *err,
		       size_t errlen)
{
	struct ktlsd_cfg *cfg = NULL;
	struct cfg_overlay ov;
	const struct cfg_listener *added;
	const char **add = NULL;
	int ret;

	pthread_mutex_lock(&k->lock);
	if (k->draining || k->stopping) {
		snprintf(err, errlen, "ktlsd is draining: no new listeners");
		ret = -EBUSY;
		goto out;
	}
	add = calloc(k->n_ov_add + 1, sizeof(*add));
	if (!add) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < k->n_ov_add; i++)
		add[i] = k->ov_add[i];
	add[k->n_ov_add] = text;
	ov = ktlsd_overlay(k, true);
	ov.add = add;
	ov.n_add = k->n_ov_add + 1;
	ret = config_load_overlay(k->config_path, k->snap->cfg->text, &ov, &cfg, err, errlen);
	if (ret < 0)
		goto out;
	/* The overlay's listener comes last, before the handoff socket's, appended after it. */
	added = &cfg->listeners[config_n_tcp_listeners(cfg) - 1];
	snprintf(out->name, sizeof(out->name), "%s", added->name);
	snprintf(out->listen, sizeof(out->listen), "%s", added->listen_str);
	if (ktlsd_overlay_push(k, text, added->name) < 0) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ret = ktlsd_apply(k, cfg, err, errlen);
	if (ret < 0) {
		k->n_ov_add--;
		free(k->ov_add[k->n_ov_add]);
		free(k->ov_add_names[k->n_ov_add]);
	} else {
		log_info("listener \"%s\" added through the control API; generation %llu",
			 out->name, (unsigned long long)k->generation);
	}
out:
	free(add);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* Index of runtime listener @name in the overlay, or -1. */
static ssize_t ktlsd_runtime_index(const struct ktlsd *k, const char *name)
{
	for (size_t i = 0; i < k->n_ov_add; i++)
		if (!strcmp(k->ov_add_names[i], name))
			return (ssize_t)i;
	return -1;
}

int ktlsd_listener_remove(struct ktlsd *k, const char *name, char *err, size_t errlen)
{
	struct ktlsd_cfg *cfg = NULL;
	struct cfg_overlay ov;
	char *text = NULL, *tname = NULL;
	const struct cfg_listener *l = NULL;
	ssize_t ri;
	int ret;

	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->snap->cfg->n_listeners; i++)
		if (!strcmp(k->snap->cfg->listeners[i].name, name))
			l = &k->snap->cfg->listeners[i];
	if (!l || l->handoff) {
		snprintf(err, errlen,
			 l ? "listener \"%s\" is the handoff socket's: it goes with handoff_socket"
			   : "no listener \"%s\"",
			 name);
		ret = l ? -EPERM : -ENOENT;
		goto out;
	}
	/* A runtime listener leaves the overlay; a file listener is added to its removals. */
	ri = ktlsd_runtime_index(k, name);
	if (ri >= 0) {
		text = k->ov_add[ri];
		tname = k->ov_add_names[ri];
		k->n_ov_add--;
		memmove(&k->ov_add[ri], &k->ov_add[ri + 1],
			(k->n_ov_add - (size_t)ri) * sizeof(char *));
		memmove(&k->ov_add_names[ri], &k->ov_add_names[ri + 1],
			(k->n_ov_add - (size_t)ri) * sizeof(char *));
	} else if ((ret = ktlsd_strv_push(&k->ov_remove, &k->n_ov_remove, name)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ov = ktlsd_overlay(k, false);
	ret = config_load_overlay(k->config_path, k->snap->cfg->text, &ov, &cfg, err, errlen);
	if (ret == 0)
		ret = ktlsd_apply(k, cfg, err, errlen);
	if (ret < 0 && ri >= 0) { /* put it back where it was */
		memmove(&k->ov_add[ri + 1], &k->ov_add[ri],
			(k->n_ov_add - (size_t)ri) * sizeof(char *));
		memmove(&k->ov_add_names[ri + 1], &k->ov_add_names[ri],
			(k->n_ov_add - (size_t)ri) * sizeof(char *));
		k->ov_add[ri] = text;
		k->ov_add_names[ri] = tname;
		k->n_ov_add++;
		text = tname = NULL;
	} else if (ret < 0) {
		free(k->ov_remove[--k->n_ov_remove]);
	} else {
		log_info("listener \"%s\" removed through the control API; generation %llu", name,
			 (unsigned long long)k->generation);
	}
	free(text);
	free(tname);
out:
	pthread_mutex_unlock(&k->lock);
	return ret;
}

void ktlsd_drain(struct ktlsd *k)
{
	pthread_mutex_lock(&k->lock);
	if (!k->draining) {
		log_info("draining (control API): no new connections, open ones run to their end");
		sdnotify("STATUS=draining (control API): no new connections");
		k->draining = true;
		handoff_quiesce(k->handoff);
		for (unsigned i = 0; i < k->n_workers; i++) {
			atomic_store(&k->workers[i].paused, true);
			worker_notify(&k->workers[i]);
		}
	}
	pthread_mutex_unlock(&k->lock);
}

struct snapshot *ktlsd_snapshot(struct ktlsd *k)
{
	struct snapshot *s;

	pthread_mutex_lock(&k->lock);
	s = snapshot_get(k->snap);
	pthread_mutex_unlock(&k->lock);
	return s;
}

/** ktlsd_state_cleanup() - free the runtime listener changes and the slot table (at exit). */
void ktlsd_state_cleanup(struct ktlsd *k)
{
	listeners_release(&k->lslots);
	for (size_t i = 0; i < k->n_ov_add; i++) {
		free(k->ov_add[i]);
		free(k->ov_add_names[i]);
	}
	free(k->ov_add);
	free(k->ov_add_names);
	for (size_t i = 0; i < k->n_ov_remove; i++)
		free(k->ov_remove[i]);
	free(k->ov_remove);
	k->ov_add = k->ov_add_names = k->ov_remove = NULL;
	k->n_ov_add = k->n_ov_remove = 0;
}
