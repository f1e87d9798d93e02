// SPDX-License-Identifier: MIT
/*
 * main.c - command line, start-up and shutdown order, signals, configuration reload.
 *
 * The main thread never touches a connection. After starting the workers it waits for
 * signals: SIGHUP builds a new snapshot and hands it to every worker; SIGTERM/SIGINT
 * ask every worker to drain; a second one ends the process at once.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "control_cmds.h"
#include "runtime.h"
#include "tickets.h"

#define KTLSD_TICK_S 1 /* ticket-key rotation and key-file checks */

static void usage(FILE *f)
{
	fprintf(f, "usage: ktlsd -c FILE [-f] [-t] [-T] [-v]\n"
		   "  -c, --config FILE  configuration file (default /etc/ktlsd/ktlsd.conf)\n"
		   "  -f, --foreground   stay in the foreground\n"
		   "  -t, --test         check the configuration and certificates, then exit\n"
		   "  -T, --print-config print the effective configuration (defaults included)\n"
		   "  -v, --verbose      debug logging (overrides log_level)\n"
		   "  -V, --version      print the version and exit\n"
		   "  -h, --help         this text\n");
}

/* -T: the file as ktlsd reads it, every default filled in, on stdout. */
static int ktlsd_print_config(const char *path)
{
	struct ktlsd_cfg *cfg = NULL;
	char err[1024];
	int ret;

	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	ret = config_print(cfg, stdout);
	config_free(cfg);
	if (ret < 0 || fflush(stdout) != 0) {
		log_err("writing the configuration: %s", strerror(EIO));
		return 1;
	}
	return 0;
}

/* The worker's calls up into the data and TLS layers. */
static bool ktlsd_seccomp; /* `seccomp`, read at start only */

/* A worker thread's first steps: its ticket-key slot, then its allow-list if asked for. */
static int ktlsd_worker_thread_start(unsigned idx)
{
	tickets_thread_slot(idx);
	return ktlsd_seccomp ? seccomp_worker_apply(idx) : 0;
}

static const struct worker_hooks ktlsd_worker_hooks = {
	.conn_ops = &flow_conn_ops,
	.on_accept = flow_on_accept,
	.on_thread_start = ktlsd_worker_thread_start,
	.on_tick = tickets_worker_tick,
};

/* The first load sizes what lives for the whole process. */
static int ktlsd_init_global(const struct ktlsd_cfg *cfg)
{
	ktlsd_seccomp = cfg->seccomp;
	worker_set_hooks(&ktlsd_worker_hooks);
	if (tickets_init(cfg->workers) < 0 || sesscache_init(cfg->session_cache_size) < 0) {
		log_err("out of memory for the session cache");
		return -ENOMEM;
	}
	return 0;
}

/*
 * Logs every counter, summed over the workers, on SIGUSR2 and at exit: one line of totals
 * (per-listener counters included), then one line per listener.
 */
static void ktlsd_log_stats(const struct ktlsd *k)
{
	uint64_t sum[STAT__COUNT] = { 0 }, lsum[LSTAT__COUNT] = { 0 };
	char line[2048], lline[1024];

	for (unsigned i = 0; i < k->n_workers; i++)
		stats_accumulate(&k->workers[i].stats, sum);
	for (const struct listener_stats *ls = lstats_first(); ls; ls = ls->next)
		lstats_sum(ls, lsum);
	stats_format_line(sum, line, sizeof(line));
	lstats_format_line(lsum, lline, sizeof(lline));
	log_info("stats: %s %s session_cache_entries=%zu", line, lline, sesscache_count());
	for (const struct listener_stats *ls = lstats_first(); ls; ls = ls->next) {
		memset(lsum, 0, sizeof(lsum));
		lstats_sum(ls, lsum);
		lstats_format_line(lsum, lline, sizeof(lline));
		log_info("stats listener \"%s\": %s", ls->name, lline);
	}
}

static void ktlsd_stop_workers(struct ktlsd *k)
{
	for (unsigned i = 0; i < k->n_workers; i++) {
		atomic_store(&k->workers[i].stop, true);
		worker_notify(&k->workers[i]);
	}
}

/* Waits for workers on another thread so that signals keep being served while draining. */
static void *ktlsd_joiner(void *arg)
{
	struct ktlsd *k = arg;

	for (unsigned i = 0; i < k->n_workers; i++)
		worker_join(&k->workers[i]);
	kill(getpid(), SIGUSR1); /* wakes the signal loop: all workers are done */
	return NULL;
}

/* The services' calls up into the daemon (struct handoff_env, struct control_env). */
static struct snapshot *ktlsd_snapshot_cb(void *k)
{
	return ktlsd_snapshot(k);
}

static struct json_object *ktlsd_control_run(void *k, const struct ctl_request *req,
					     struct ctl_error *err)
{
	return control_run(k, req, err);
}

static struct json_object *ktlsd_control_stats(void *k)
{
	return control_stats(k);
}

static int ktlsd_serve(struct ktlsd *k, const sigset_t *sigs)
{
	bool stopping = false;
	pthread_t joiner;
	unsigned started = 0;
	char err[1024];
	int ret = 0;

	for (; started < k->n_workers; started++) {
		ret = worker_start(&k->workers[started], started, k->snap);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		k->n_workers = started;
		goto out_workers;
	}
	k->started_ms = now_monotonic_ms();
	if (k->snap->cfg->handoff.socket) {
		const struct handoff_env henv = {
			.snapshot = ktlsd_snapshot_cb,
			.ctx = k,
			.workers = k->workers,
			.n_workers = k->n_workers,
		};

		ret = handoff_start(&henv, k->snap->cfg, &k->handoff);
		if (ret < 0)
			goto out_workers;
	}
	if (k->snap->cfg->control.socket || k->snap->cfg->metrics_listen) {
		const struct control_env cenv = {
			.run = ktlsd_control_run,
			.stats = ktlsd_control_stats,
			.ctx = k,
		};

		ret = control_start(&cenv, k->snap->cfg, &k->control);
		if (ret < 0)
			goto out_workers;
	}
	log_info("ktlsd %s ready: %zu listener(s)%s, %u worker(s), OpenSSL %s", KTLSD_VERSION,
		 config_n_tcp_listeners(k->snap->cfg),
		 k->snap->cfg->handoff.socket ? " and the handoff socket" : "", k->n_workers,
		 OpenSSL_version(OPENSSL_VERSION_STRING));
	sdnotify("READY=1\nSTATUS=serving; configuration generation %llu",
		 (unsigned long long)k->generation);

	for (;;) {
		const struct timespec tick = { .tv_sec = KTLSD_TICK_S };
		int sig = sigtimedwait(sigs, NULL, &tick);

		tickets_tick();
		if (sig < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("sigtimedwait: %s", strerror(errno));
			ret = -errno;
			break;
		}
		if (sig == SIGUSR2) {
			ktlsd_log_stats(k);
		} else if (sig == SIGHUP && !stopping) {
			ktlsd_reload(k, err, sizeof(err));
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			log_info(
				"stopping: no new connections, draining open ones for at most %u ms",
				k->snap->cfg->shutdown_timeout_ms);
			stopping = true;
			sdnotify("STOPPING=1\nSTATUS=stopping: draining open connections");
			pthread_mutex_lock(&k->lock);
			k->stopping = true;
			pthread_mutex_unlock(&k->lock);
			handoff_quiesce(k->handoff);
			ktlsd_stop_workers(k);
			if (pthread_create(&joiner, NULL, ktlsd_joiner, k) != 0) {
				ktlsd_joiner(k);
				break;
			}
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_warn("second stop signal: exiting without waiting for connections");
			control_unlink(k->control);
			handoff_unlink(k->handoff);
			exit(1);
		} else if (sig == SIGUSR1 && stopping) {
			pthread_join(joiner, NULL);
			ktlsd_log_stats(k);
			break;
		}
	}
	control_stop(k->control);
	k->control = NULL;
	handoff_stop(k->handoff);
	k->handoff = NULL;
	log_info("stopped");
	return ret;

out_workers: /* start-up failed: undo it in reverse */
	handoff_stop(k->handoff);
	k->handoff = NULL;
	ktlsd_stop_workers(k);
	for (unsigned i = 0; i < k->n_workers; i++)
		worker_join(&k->workers[i]);
	return ret;
}

/*
 * Each connection holds two sockets, and two pipes on the kernel-TLS path: raise the
 * soft limit on open files to the hard one, as a server should.
 */
static void ktlsd_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s",
				 (unsigned long long)rl.rlim_max, strerror(errno));
		else
			log_debug("open file limit raised from %llu to %llu",
				  (unsigned long long)old, (unsigned long long)rl.rlim_max);
	}
	if (rl.rlim_cur < 16384)
		log_warn("open file limit is %llu: at most about %llu kernel-TLS connections",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 6);
}

/* Everything after option parsing; returns the process exit status. */
static int ktlsd_run(struct ktlsd *k, bool test_only)
{
	struct ktlsd_cfg *cfg = NULL;
	char err[1024];
	sigset_t sigs;
	int ret = 1;

	if (config_load(k->config_path, &cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	if (!test_only) { /* -t answers on stderr, and needs no probe */
		log_set_target(cfg->log_target);
		/* Before the TLS contexts: they collect kTLS secrets only if the kernel takes them. */
		ktls_probe_kernel();
	}
	if (ktlsd_init_global(cfg) < 0) {
		config_free(cfg);
		goto out;
	}
	if (test_only) {
		struct snapshot *s = NULL;

		/* One line of result: only warnings and errors beside it (no key rotations). */
		if (!k->verbose)
			log_set_level(cfg->log_level < LOG_LVL_WARN ? cfg->log_level
								    : LOG_LVL_WARN);
		ktlsd_log_config_warnings(cfg);
		if (snapshot_create(cfg, 1, &s, err, sizeof(err)) < 0) {
			log_err("%s", err);
			goto out;
		}
		printf("%s: configuration OK (%zu profile(s), %zu listener(s)%s)\n", k->config_path,
		       s->cfg->n_profiles, config_n_tcp_listeners(s->cfg),
		       s->cfg->handoff.socket ? " and the handoff socket" : "");
		snapshot_put(s);
		ret = 0;
		goto out;
	}
	k->n_workers = cfg->workers;
	k->workers = calloc(k->n_workers, sizeof(*k->workers));
	if (!k->workers) {
		config_free(cfg);
		goto out;
	}
	for (unsigned i = 0; i < k->n_workers; i++)
		worker_init(&k->workers[i]);
	if (ktlsd_apply(k, cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	if (bio_init() < 0) {
		log_err("cannot register the BIO method");
		goto out;
	}
	if (ktls_init() < 0)
		goto out_bio;
	if (!k->foreground && daemon(0, 1) < 0) {
		log_err("daemon: %s", strerror(errno));
		goto out_bio;
	}

	/* Workers inherit this mask: only the main thread takes these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	ktlsd_raise_nofile();
	/* Before the first thread: what it keeps, they all inherit. */
	ret = privdrop(k->snap->cfg) < 0 || ktlsd_serve(k, &sigs) < 0 ? 1 : 0;
	ktls_cleanup();
out_bio:
	bio_cleanup();
out:
	for (unsigned i = 0; k->workers && i < k->n_workers; i++)
		for (size_t j = 0; j < LISTENER_SLOTS; j++) {
			int fd = atomic_exchange(&k->workers[i].pending_fd[j], -1);

			if (fd >= 0)
				close(fd); /* opened for a worker that never started */
		}
	free(k->workers);
	ktlsd_state_cleanup(k);
	snapshot_put(k->snap);
	sesscache_cleanup();
	clientcache_flush();
	tickets_cleanup();
	lstats_cleanup();
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test", no_argument, NULL, 't' },
		{ "print-config", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ktlsd k = { .config_path = "/etc/ktlsd/ktlsd.conf",
			   .lock = PTHREAD_MUTEX_INITIALIZER };
	bool test_only = false, print_config = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "c:ftTvVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			k.config_path = optarg;
			break;
		case 'f':
			k.foreground = true;
			break;
		case 't':
			test_only = true;
			break;
		case 'T':
			print_config = true;
			break;
		case 'v':
			k.verbose = true;
			break;
		case 'V':
			printf("ktlsd %s (%s)\n", KTLSD_VERSION, OpenSSL_version(OPENSSL_VERSION));
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (k.verbose)
		log_set_level(LOG_LVL_DEBUG);
	/* daemon() moves to "/": a reload must still find a relative -c path. */
	char *abs_path = realpath(k.config_path, NULL);

	if (abs_path)
		k.config_path = abs_path;

	ret = print_config ? ktlsd_print_config(k.config_path) : ktlsd_run(&k, test_only);
	free(abs_path);
	return ret;
}
