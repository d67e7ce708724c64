// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent's life: start, one event loop, reloads, stop. Every source
 * (signals, the control socket, inotify, a one-second tick, a reload
 * debounce timer, the HTTP server) is a handler on the agent's loop; the
 * tunnel runs on the workers' threads, each with its own loop (worker.h).
 *
 * A configuration is applied only after all of it validated, its
 * certificates loaded, and everything that can be checked against the host
 * checked: a bad reload changes nothing. Certificates reload on their own
 * when their files change, validated before they replace the old set; live
 * connections keep the set they started with.
 *
 * Exiting, on SIGTERM/SIGINT or by a crash, leaves the datapath attached and
 * its maps pinned: connections keep flowing, and the next agent adopts the
 * flows and counters. While no agent beats, the datapath spills nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "agent/agent_priv.h"
#include "datapath/control.h"
#include "lib/clock.h"
#include "lib/links.h"
#include "lib/log.h"
#include "lib/util.h"
#include "datapath/probe.h"
#include "agent/rpc.h"
#include "datapath/upgrade.h"

#define RELOAD_DEBOUNCE_MS 200
#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | \
		      IN_ATTRIB)

#define AGENT_OF(io, member) \
	((struct agent *)((char *)(io) - offsetof(struct agent, member)))

static void log_applied(const struct agent *a, const char *what)
{
	log_info("%s %s: cluster %s, %d service(s), %d remote(s), %d "
		 "interface(s), %d export(s)", what, a->cfg.path, a->cfg.cluster,
		 a->cfg.n_services, a->cfg.n_remotes, a->cfg.n_interfaces,
		 a->cfg.n_exports);
}

/* ------------------------------------------------------------------------
 * Certificates, the tunnel client and the gateway
 */

static struct sw_tls *load_tls(const struct sw_config *cfg, struct sw_error *e)
{
	const char *allow[cfg->n_allow_identities + 1];

	for (int i = 0; i < cfg->n_allow_identities; i++)
		allow[i] = cfg->allow_identities[i];
	return sw_tls_load(cfg->tls_dir, allow, cfg->n_allow_identities, e);
}

static bool same_tls_settings(const struct sw_config *a,
			      const struct sw_config *b)
{
	if (a->has_tls != b->has_tls || strcmp(a->tls_dir, b->tls_dir) ||
	    a->n_allow_identities != b->n_allow_identities)
		return false;
	for (int i = 0; i < a->n_allow_identities; i++)
		if (strcmp(a->allow_identities[i], b->allow_identities[i]))
			return false;
	return true;
}

static void log_certificates(const struct sw_tls *t, const char *what)
{
	char until[32];
	time_t end = sw_tls_not_after(t);
	struct tm tm;

	gmtime_r(&end, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("certificates %s: this node is %s, valid until %s", what,
		 sw_tls_identity(t), until);
}

static void swap_tls(struct agent *a, struct sw_tls *tls)
{
	struct sw_tls *old = a->tls;

	a->tls = tls;
	agent_workers_apply(a, NULL);
	sw_tls_free(old);	/* workers and live connections hold theirs */
}

static void reload_certificates(struct agent *a)
{
	struct sw_error e = {};
	struct sw_tls *t;

	if (!a->cfg.has_tls)
		return;
	t = load_tls(&a->cfg, &e);
	if (!t) {
		a->cert_reloads_failed++;
		log_error("new certificates rejected, keeping the current ones: %s",
			  e.msg);
		return;
	}
	swap_tls(a, t);
	a->cert_reloads_ok++;
	log_certificates(t, "reloaded");
}

/* ------------------------------------------------------------------------
 * Configuration reloads
 */

static void reload(struct agent *a, bool force)
{
	struct sw_config next = {};
	struct sw_tls *tls = NULL;
	struct sw_error e = {};
	unsigned int workers;
	char why[640];
	bool new_tls;
	size_t len;
	char *text;

	if (sw_config_read(a->o.config, &text, &len, &e))
		goto rejected;
	if (!force && a->cfg_text && len == a->cfg_len &&
	    !memcmp(text, a->cfg_text, len)) {
		free(text);
		return;
	}
	if (sw_config_parse(a->o.config, text, len, &next, &e))
		goto rejected;
	/* New certificate settings must load before anything changes. */
	new_tls = next.has_tls && !same_tls_settings(&next, &a->cfg);
	if (new_tls && !(tls = load_tls(&next, &e)))
		goto rejected;
	if (agent_apply(a, &next, false, &e))
		goto rejected;
	if (new_tls || !a->cfg.has_tls)
		swap_tls(a, tls);
	else
		agent_workers_apply(a, NULL);	/* each logs what it could not */
	tls = NULL;
	workers = agent_workers_wanted(&a->cfg, why, sizeof(why));
	if (workers != a->n_workers)
		log_warn("tunnel.workers: %u worker(s) now, %u from the next "
			 "start (%s; the number of workers is set at start)",
			 a->n_workers, workers, why);
	free(a->cfg_text);
	a->cfg_text = text;
	a->cfg_len = len;
	a->reloads_ok++;
	log_applied(a, "reloaded");
	return;
rejected:
	sw_tls_free(tls);
	sw_config_free(&next);
	free(text);
	a->reloads_failed++;
	log_error("reload rejected, keeping the running configuration: %s", e.msg);
}

/* ------------------------------------------------------------------------
 * Watching files: the configuration, the certificates
 */

/* Watch path's directory, and the one it resolves to when that differs. */
static int watch_file(struct agent *a, struct watched *w, const char *path,
		      struct sw_error *e)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->target_wd = -1;
	w->target_dir[0] = '\0';
	if (!realpath(dirname(copy), w->dir))
		return sw_fail(e, -errno, "cannot resolve the directory of %s: %s",
			       path, strerror(errno));
	w->dir_wd = inotify_add_watch(a->ino_io.fd, w->dir, WATCH_EVENTS);
	if (w->dir_wd < 0)
		return sw_fail(e, -errno, "cannot watch %s for changes: %s",
			       w->dir, strerror(errno));
	return 0;
}

static void rewatch_target(struct agent *a, struct watched *w)
{
	char real[PATH_MAX], *dir;

	if (!w->path[0] || !realpath(w->path, real))
		return;
	dir = dirname(real);
	if (!strcmp(dir, w->target_dir))
		return;
	/* (Removing a watch queues IN_IGNORED: one harmless extra check.) */
	if (w->target_wd >= 0)
		inotify_rm_watch(a->ino_io.fd, w->target_wd);
	w->target_wd = -1;
	snprintf(w->target_dir, sizeof(w->target_dir), "%s", dir);
	if (strcmp(dir, w->dir))
		w->target_wd = inotify_add_watch(a->ino_io.fd, dir, WATCH_EVENTS);
}

static bool watch_hit(const struct watched *w, int wd)
{
	return w->path[0] && (wd == w->dir_wd || wd == w->target_wd);
}

static int arm(int fd, __u64 first_ms, __u64 every_ms)
{
	struct itimerspec t = {
		.it_value = { first_ms / 1000, first_ms % 1000 * 1000000 },
		.it_interval = { every_ms / 1000, every_ms % 1000 * 1000000 },
	};

	return timerfd_settime(fd, 0, &t, NULL);
}

static void on_inotify(struct sw_io *io, uint32_t events)
{
	struct agent *a = AGENT_OF(io, ino_io);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)events;
	while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			a->config_watch.changed |= watch_hit(&a->config_watch, ev->wd);
			a->certs_watch.changed |= watch_hit(&a->certs_watch, ev->wd);
			p += sizeof(*ev) + ev->len;
		}
	}
	rewatch_target(a, &a->config_watch);
	rewatch_target(a, &a->certs_watch);
	arm(a->reload_io.fd, RELOAD_DEBOUNCE_MS, 0);
}

static void watch_certificates(struct agent *a)
{
	char path[PATH_MAX + 32];
	struct sw_error e = {};

	if (a->certs_watch.path[0] || !a->cfg.has_tls)
		return;
	snprintf(path, sizeof(path), "%s/cert-chain.pem", a->cfg.tls_dir);
	if (watch_file(a, &a->certs_watch, path, &e))
		log_warn("certificates will not reload on their own: %s", e.msg);
	rewatch_target(a, &a->certs_watch);
}

static void on_reload_timer(struct sw_io *io, uint32_t events)
{
	struct agent *a = AGENT_OF(io, reload_io);
	__u64 x;

	(void)events;
	if (read(io->fd, &x, sizeof(x)) != sizeof(x))
		return;
	if (a->config_watch.changed) {
		a->config_watch.changed = false;
		reload(a, false);
		watch_certificates(a);
	}
	if (a->certs_watch.changed) {
		a->certs_watch.changed = false;
		reload_certificates(a);
	}
}

/* ------------------------------------------------------------------------
 * The tick, signals, the control socket, HTTP
 */

static void collect(struct agent *a)
{
	struct sw_collect_params p = {
		.half_open_ns = a->cfg.half_open_timeout_ns,
		.idle_ns = a->cfg.idle_timeout_ns,
		.closed_ns = a->cfg.closed_linger_ns,
	};
	struct sw_collect_result r;
	struct sw_error e = {};

	if (!sw_datapath_loaded(&a->dp))
		return;
	if (sw_collect(&a->dp, &p, &r, &e)) {
		log_error("%s", e.msg);
		return;
	}
	a->flows_scanned = r.scanned;
	if (r.expired_half_open || r.expired_idle)
		log_info("collector: %" PRIu64 " flows, expired %" PRIu64
			 " half-open and %" PRIu64 " idle", (uint64_t)r.scanned,
			 (uint64_t)r.expired_half_open,
			 (uint64_t)r.expired_idle);
}

static void stop_now(struct agent *a, const char *why)
{
	unsigned int n = agent_workers_busy(a);

	if (n)
		log_warn("%s: stopping; %u spilled connection(s) end now, local "
			 "ones keep flowing (the datapath stays attached)", why, n);
	else
		log_info("%s: stopping; the datapath stays attached and "
			 "connections keep flowing", why);
	a->stop = true;
}

/*
 * SIGTERM, SIGINT. The datapath outlives the agent, but spilled connections
 * live in this process: first drain. New connections stop spilling at once
 * (the heartbeat is withdrawn: they stay local), a gateway takes no new
 * tunnels, and the agent exits when the last spilled connection ends, after
 * agent.drain_timeout at the latest, or at a second signal.
 */
static void begin_stop(struct agent *a, const char *why)
{
	struct sw_error e = {};
	char d[48];
	unsigned int n = agent_workers_busy(a);
	bool gateway = a->cfg.has_tunnel && a->tls;

	if (a->draining || !n) {
		stop_now(a, why);
		return;
	}
	a->draining = true;
	a->ready = false;
	a->drain_deadline_ns = sw_now_ns() + a->cfg.drain_timeout_ns;
	if (sw_datapath_loaded(&a->dp) &&
	    sw_agent_heartbeat_stop(&a->dp, &e))
		log_error("%s", e.msg);
	agent_workers_drain(a);
	log_info("%s: draining %u spilled connection(s): new connections stay "
		 "local%s; stopping when they end, in %s at the latest "
		 "(agent.drain_timeout), or at the next signal", why, n,
		 gateway ? " and the gateway takes no new tunnels" : "",
		 sw_duration_format(a->cfg.drain_timeout_ns, d, sizeof(d)));
}

static void drain_tick(struct agent *a, __u64 now)
{
	if (!agent_workers_busy(a)) {
		stop_now(a, "drained");
	} else if (now >= a->drain_deadline_ns) {
		stop_now(a, "drain timeout");
	}
}

static void on_tick(struct sw_io *io, uint32_t events)
{
	struct agent *a = AGENT_OF(io, tick_io);
	struct sw_error e = {};
	__u64 now = sw_now_ns(), x;

	(void)events;
	if (read(io->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		log_warn("tick: %s", strerror(errno));
	if (sw_datapath_loaded(&a->dp) && !a->draining &&
	    sw_agent_heartbeat(&a->dp, now, &e))
		log_error("%s", e.msg);
	if (now >= a->next_collect_ns) {
		collect(a);
		a->next_collect_ns = now + a->cfg.collect_interval_ns;
	}
	if (now >= a->next_resolve_ns) {
		agent_vips_resolve(a, true);
		a->next_resolve_ns = now + a->cfg.resolve_interval_ns;
	}
	agent_workers_check(a, now);
	if (a->http)
		sw_http_run(a->http);
	sw_rpc_tick(a->rpc, now);
	if (a->draining)
		drain_tick(a, now);
}

int agent_reapply(struct agent *a, struct sw_error *e)
{
	struct sw_config next = {};
	int err = sw_config_parse(a->o.config, a->cfg_text, a->cfg_len, &next,
				  e);

	if (!err)
		err = agent_apply(a, &next, false, e);
	sw_config_free(&next);
	return err ? err : agent_workers_apply(a, e);
}

static void run_vips_task(struct sw_task *t)
{
	agent_vips_resolve(AGENT_OF(t, vips_task), false);
}

static void on_signal(struct sw_io *io, uint32_t events)
{
	struct agent *a = AGENT_OF(io, sig_io);
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading %s and the certificates",
				 a->o.config);
			reload(a, true);
			reload_certificates(a);
			watch_certificates(a);
		} else {
			begin_stop(a, strsignal(si.ssi_signo));
		}
	}
}

static void on_http(struct sw_io *io, uint32_t events)
{
	(void)events;
	sw_http_run(AGENT_OF(io, http_io)->http);
}

/* ------------------------------------------------------------------------
 * Start and stop
 */

/* One agent per pin directory: a second one would fight over the maps. */
static int lock_pin_dir(struct agent *a, struct sw_error *e)
{
	a->lockfd = open(a->dp.pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->lockfd < 0)
		return sw_fail(e, -errno, "cannot open %s: %s", a->dp.pin_dir,
			       strerror(errno));
	if (flock(a->lockfd, LOCK_EX | LOCK_NB))
		return sw_fail(e, -EBUSY, "another agent is running with pin "
			       "directory %s: stop it, or give this one another "
			       "--pin-dir", a->dp.pin_dir);
	return 0;
}

static int add(struct agent *a, struct sw_io *io, int fd,
	       void (*fn)(struct sw_io *, uint32_t), struct sw_error *e)
{
	if (fd < 0)
		return sw_fail(e, -errno, "setting up the event loop: %s",
			       strerror(errno));
	if (sw_loop_add(a->loop, io, fd, EPOLLIN, fn)) {
		close(fd);
		return sw_fail(e, -errno, "epoll: %s", strerror(errno));
	}
	return 0;
}

static void on_links(struct sw_io *io, uint32_t events)
{
	(void)events;
	agent_ifaces_changed(AGENT_OF(io, links_io));
}

static int watch_links(struct agent *a, struct sw_error *e)
{
	int fd = sw_links_watch(e);

	return fd < 0 ? fd : add(a, &a->links_io, fd, on_links, e);
}

static int setup_events(struct agent *a, struct sw_error *e)
{
	sigset_t sigs;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	err = add(a, &a->sig_io, signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC),
		  on_signal, e);
	if (!err)
		err = add(a, &a->tick_io, timerfd_create(CLOCK_MONOTONIC,
			  TFD_NONBLOCK | TFD_CLOEXEC), on_tick, e);
	if (!err)
		err = add(a, &a->reload_io, timerfd_create(CLOCK_MONOTONIC,
			  TFD_NONBLOCK | TFD_CLOEXEC), on_reload_timer, e);
	if (!err)
		err = add(a, &a->ino_io, inotify_init1(IN_NONBLOCK | IN_CLOEXEC),
			  on_inotify, e);
	if (!err && arm(a->tick_io.fd, 1000, 1000))
		err = sw_fail(e, -errno, "timerfd: %s", strerror(errno));
	/* The directory: a Kubernetes ConfigMap update swaps a symlink in it. */
	if (!err)
		err = watch_file(a, &a->config_watch, a->o.config, e);
	if (err)
		return err;
	rewatch_target(a, &a->config_watch);
	watch_certificates(a);
	return 0;
}

/*
 * The datapath, the first time a configuration has interfaces: loaded,
 * adopted from the pins or upgraded. A gateway-only agent never comes here:
 * it loads no BPF, pins nothing and needs no BPF capabilities.
 */
int agent_load_datapath(struct agent *a, const struct sw_config *cfg,
			struct sw_error *e)
{
	struct sw_datapath_opts dopts;
	char summary[1024];
	int err;

	if (sw_datapath_loaded(&a->dp))
		return 0;
	sw_probe_summary(summary, sizeof(summary));
	log_info("%s", summary);
	sw_datapath_opts_init(&dopts);
	dopts.pin_dir = a->o.pin_dir;
	dopts.flow_capacity = cfg->flow_capacity;
	err = sw_datapath_open(&a->dp, &dopts, e);
	if (!err && (err = lock_pin_dir(a, e)))
		sw_datapath_close(&a->dp);
	if (err)
		return err;
	log_info("datapath loaded, maps %s in %s",
		 a->dp.upgrade ? "of an older layout found (upgrading)" :
		 a->dp.adopted ? "adopted (flows and counters kept)" : "created",
		 a->dp.pin_dir);
	return 0;
}

/* The new programs replaced the old ones on every interface: finish. */
int agent_finish_upgrade(struct agent *a, struct sw_error *e)
{
	__u32 from, services;
	int err;

	if (!a->dp.upgrade)
		return 0;
	from = sw_upgrade_from(a->dp.upgrade);
	services = sw_upgrade_services(a->dp.upgrade);
	err = sw_datapath_finish_upgrade(&a->dp, e);
	if (err)
		return sw_prefix(e, err, "upgrading the maps in %s: ",
				 a->dp.pin_dir);
	log_info("maps in %s upgraded from layout version %u to %u: %u "
		 "services and every tracked flow kept", a->dp.pin_dir, from,
		 SW_LAYOUT_VERSION, services);
	return 0;
}

/*
 * Every tunnel connection, relay and target connection holds a descriptor:
 * the soft limit (often 1024) would stop a gateway long before its
 * connection caps do. The hard limit is what the operator allowed.
 */
static void raise_open_files_limit(void)
{
	struct rlimit r;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	if (r.rlim_cur >= r.rlim_max) {
		log_info("open files limit: %ju (soft = hard)",
			 (uintmax_t)r.rlim_cur);
		return;
	}
	was = r.rlim_cur;
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r))
		log_warn("open files limit: cannot raise %ju to the hard limit "
			 "%ju: %s", (uintmax_t)was, (uintmax_t)r.rlim_max,
			 strerror(errno));
	else
		log_info("open files limit: raised from %ju to the hard limit "
			 "%ju", (uintmax_t)was, (uintmax_t)r.rlim_max);
}

static int start(struct agent *a, struct sw_error *e)
{
	struct sw_config cfg = {};
	char why[640];
	int err;

	raise_open_files_limit();
	a->loop = sw_loop_new();
	if (!a->loop)
		return sw_fail(e, -ENOMEM, "cannot create the event loop");
	a->resolver = sw_resolver_new(a->loop, e);
	if (!a->resolver)
		return -EINVAL;
	/* First, before touching anything: is another agent serving here? */
	a->rpc = sw_rpc_serve(a->loop, a->o.socket, agent_serve_request, a, e);
	if (!a->rpc)
		return -EINVAL;
	/* Before the first look at the links, so none is missed between. */
	err = watch_links(a, e);
	if (!err)
		err = sw_config_read(a->o.config, &a->cfg_text, &a->cfg_len, e);
	if (!err)
		err = sw_config_parse(a->o.config, a->cfg_text, a->cfg_len,
				      &cfg, e);
	if (!err && cfg.has_tls && !(a->tls = load_tls(&cfg, e)))
		err = -EINVAL;
	if (!err)
		err = agent_apply(a, &cfg, true, e);
	sw_config_free(&cfg);
	if (err)
		return err;
	if (!sw_datapath_loaded(&a->dp))
		log_info("no interfaces: no datapath (a gateway-only agent "
			 "loads no BPF)");
	log_applied(a, "applied");
	if (a->tls)
		log_certificates(a->tls, "loaded");
	err = setup_events(a, e);
	if (!err) {
		unsigned int n = agent_workers_wanted(&a->cfg, why, sizeof(why));

		log_info("%u tunnel worker(s): %s", n, why);
		err = agent_workers_start(a, n, e);
	}
	if (!err)
		err = agent_workers_apply(a, e);
	if (err)
		return err;
	if (sw_datapath_loaded(&a->dp))
		sw_agent_heartbeat(&a->dp, 0, e);
	collect(a);
	a->next_collect_ns = sw_now_ns() + a->cfg.collect_interval_ns;
	if (!a->cfg.has_metrics)
		return 0;
	a->http = sw_http_start(&a->cfg.metrics_listen, agent_serve_http, a, e);
	if (!a->http)
		return -EADDRINUSE;
	return add(a, &a->http_io, dup(sw_http_fd(a->http)), on_http, e);
}

/* The agent's own handlers (the control socket is closed apart). */
#define AGENT_IOS(a) { &(a)->sig_io, &(a)->ino_io, &(a)->tick_io, \
		       &(a)->reload_io, &(a)->http_io, &(a)->links_io }

static void stop(struct agent *a)
{
	struct sw_io *ios[] = AGENT_IOS(a);

	agent_workers_stop(a);
	for (int i = 0; i < 2; i++)
		if (a->endpoint_fd[i] >= 0)
			close(a->endpoint_fd[i]);
	agent_vips_free(a);		/* its lookups before the resolver */
	sw_resolver_free(a->resolver);
	sw_http_stop(a->http);
	sw_rpc_stop(a->rpc);
	for (size_t i = 0; i < ARRAY_SIZE(ios); i++)
		if (ios[i]->fd >= 0)
			sw_loop_close(a->loop, ios[i]);
	sw_loop_free(a->loop);
	sw_tls_free(a->tls);
	if (sw_datapath_loaded(&a->dp))
		sw_datapath_close(&a->dp);
	sw_config_free(&a->cfg);
	free(a->cfg_text);
	free(a->ifaces);
	if (a->lockfd >= 0)
		close(a->lockfd);	/* releases the pin directory's lock */
}

int sw_agent_run(const struct sw_agent_opts *opts)
{
	struct agent a = { .o = *opts, .lockfd = -1, .endpoint_fd = { -1, -1 },
			   .vips_task = { .run = run_vips_task } };
	struct sw_io *ios[] = AGENT_IOS(&a);
	struct sw_error e = {};
	int status = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ios); i++)
		ios[i]->fd = -1;
	a.config_watch.dir_wd = a.config_watch.target_wd = -1;
	a.certs_watch.dir_wd = a.certs_watch.target_wd = -1;
	sw_log_init(opts->log_json, opts->debug);
	if (start(&a, &e)) {
		log_error("%s", e.msg);
		stop(&a);
		return 1;
	}
	a.ready = true;
	log_info("ready: control socket %s%s%s", a.o.socket,
		 a.http ? ", metrics on " : "",
		 a.http ? a.cfg.metrics_listen.host : "");
	while (!a.stop) {
		int n = sw_loop_run_once(a.loop, -1);

		if (n < 0) {
			log_error("the event loop failed: %s", strerror(-n));
			status = 1;
			break;
		}
	}
	stop(&a);
	return status;
}
