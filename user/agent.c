// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent: one thread, one epoll loop over signals (signalfd), the control
 * socket, the configuration's directory (inotify), a one-second tick
 * (heartbeat, flow collection, HTTP timeouts), a reload debounce timer and
 * the HTTP server.
 *
 * A configuration is applied only after all of it validated, and only after
 * everything that can be checked against the host (interfaces, settings that
 * cannot change while running) was checked: a bad reload changes nothing.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "spillway.skel.h"
#include "agent.h"
#include "config.h"
#include "control.h"
#include "datapath.h"
#include "log.h"
#include "metrics.h"
#include "report.h"
#include "request.h"
#include "route.h"
#include "rpc.h"

#define RELOAD_DEBOUNCE_MS 200

enum source { SRC_SIGNAL, SRC_CONTROL, SRC_INOTIFY, SRC_TICK, SRC_RELOAD,
	      SRC_HTTP };

struct agent {
	struct sw_agent_opts o;
	struct sw_config cfg;			/* the applied configuration */
	char *cfg_text;				/* its file's text */
	size_t cfg_len;
	__u32 remote_ids[SW_MAX_REMOTES];	/* by cfg.remotes index */
	struct sw_datapath dp;
	struct sw_http *http;
	int epfd, sigfd, ctlfd, inofd, tickfd, reloadfd, lockfd;
	int target_wd;				/* watch on the resolved file's dir */
	char config_dir[PATH_MAX];		/* the configuration path's dir */
	char target_dir[PATH_MAX];		/* the resolved file's dir */
	bool ready, stop;
	__u64 next_collect_ns, flows_scanned, reloads_ok, reloads_failed;
};

static const struct sw_steer_route steer_route = {
	.mark = SW_DEFAULT_STEER_MARK,
	.table = SW_DEFAULT_ROUTE_TABLE,
	.pref = SW_DEFAULT_RULE_PREF,
};

/* ------------------------------------------------------------------------
 * Reading and applying a configuration
 */

/*
 * Remote ids: a remote keeps the id its name has in the remotes map (so a
 * restarted agent finds the ids its flows point at); a new name takes the
 * lowest id that no name holds.
 */
static int assign_remote_ids(struct agent *a, const struct sw_config *next,
			     __u32 *ids, struct sw_error *e)
{
	static struct sw_remote map[SW_MAX_REMOTES];
	bool taken[SW_MAX_REMOTES] = { true };	/* id 0 is never used */

	for (__u32 id = 1; id < SW_MAX_REMOTES; id++)
		if (sw_remote_get(&a->dp, id, &map[id]))
			memset(&map[id], 0, sizeof(map[id]));
	for (int i = 0; i < next->n_remotes; i++) {
		ids[i] = 0;
		for (__u32 id = 1; id < SW_MAX_REMOTES && !ids[i]; id++)
			if (!strcmp(map[id].name, next->remotes[i].name))
				ids[i] = id;
		taken[ids[i]] = true;
	}
	for (int i = 0; i < next->n_remotes; i++) {
		for (__u32 id = 1; id < SW_MAX_REMOTES && !ids[i]; id++)
			if (!taken[id] && !map[id].name[0])
				ids[i] = id;
		if (!ids[i])
			return sw_fail(e, -ENOSPC, "remotes[%d]: no free remote "
				       "id (at most %u remotes)", i,
				       SW_MAX_REMOTES - 1);
		taken[ids[i]] = true;
	}
	return 0;
}

/* What can be checked against this host before anything changes. */
static int check_host(struct agent *a, const struct sw_config *next,
		      bool first, struct sw_error *e)
{
	for (int i = 0; i < next->n_interfaces; i++)
		if (!if_nametoindex(next->interfaces[i].name))
			return sw_fail(e, -ENODEV, "%s: interfaces[%d]: no "
				       "interface '%s' in this network "
				       "namespace (see 'ip link')", next->path,
				       i, next->interfaces[i].name);
	if (first)
		return 0;
	if (next->flow_capacity != a->cfg.flow_capacity ||
	    next->tunnel_port != a->cfg.tunnel_port)
		return sw_fail(e, -EINVAL, "%s: datapath.flow_capacity and "
			       "datapath.tunnel_port cannot change while the "
			       "agent runs; restart the agent to apply them",
			       next->path);
	return 0;
}

static void service_config(const struct sw_service_config_entry *s,
			   const struct sw_config *cfg, const __u32 *remote_ids,
			   struct sw_service_config *out)
{
	memset(out, 0, sizeof(*out));
	out->max_connections = s->max_connections;
	out->resume_below = s->resume_below;
	for (int k = 0; k < s->n_overflow_to; k++)
		for (int r = 0; r < cfg->n_remotes; r++)
			if (!strcmp(cfg->remotes[r].name, s->overflow_to[k]))
				out->overflow_to[k] = remote_ids[r];
}

static bool configured(const struct sw_config *cfg,
		       const struct sw_service_key *key)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (!memcmp(&cfg->services[i].key, key, sizeof(*key)))
			return true;
	return false;
}

/* Services in the map that the configuration no longer has go. */
static int remove_unconfigured(struct agent *a, const struct sw_config *next,
			       struct sw_error *e)
{
	int fd = bpf_map__fd(a->dp.skel->maps.services);
	struct sw_service_key key, prev;
	void *p = NULL;

	while (!bpf_map_get_next_key(fd, p, &key)) {
		if (!configured(next, &key)) {
			int err = sw_service_delete(&a->dp, &key, e);

			if (err)
				return err;
			continue;	/* key is gone: continue after prev */
		}
		prev = key;
		p = &prev;
	}
	return 0;
}

static bool has_interface(const struct sw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_interfaces; i++)
		if (!strcmp(cfg->interfaces[i].name, name))
			return true;
	return false;
}

/* Make the kernel match next; on success next becomes a->cfg. */
static int apply(struct agent *a, struct sw_config *next, bool first,
		 struct sw_error *e)
{
	__u32 ids[SW_MAX_REMOTES] = {};
	int err = check_host(a, next, first, e);

	if (!err)
		err = assign_remote_ids(a, next, ids, e);
	if (err)
		return err;

	/* Remotes: names first, so services can point at them. */
	for (__u32 id = 1; id < SW_MAX_REMOTES; id++) {
		struct sw_remote r;
		bool keep = false;

		for (int i = 0; i < next->n_remotes; i++)
			keep |= ids[i] == id;
		if (!keep && !sw_remote_get(&a->dp, id, &r) && r.name[0] &&
		    (err = sw_remote_set(&a->dp, id, "", false, e)))
			return err;
	}
	for (int i = 0; i < next->n_remotes; i++) {
		struct sw_remote r = {};
		bool healthy;

		/* Health is probed; until then, unknown means no overflow. */
		sw_remote_get(&a->dp, ids[i], &r);
		healthy = !first && !strcmp(r.name, next->remotes[i].name) &&
			  r.healthy;
		err = sw_remote_set(&a->dp, ids[i], next->remotes[i].name,
				    healthy, e);
		if (err)
			return err;
	}
	for (int i = 0; i < next->n_services; i++) {
		struct sw_service_config c;

		service_config(&next->services[i], next, ids, &c);
		err = sw_service_set(&a->dp, &next->services[i].key, &c, e);
		if (err)
			return sw_fail(e, err, "services[%d] (%s): %s", i,
				       next->services[i].name, e->msg);
	}
	err = remove_unconfigured(a, next, e);
	for (int i = 0; !err && i < next->n_interfaces; i++)
		err = sw_datapath_attach(&a->dp, next->interfaces[i].name,
					 next->interfaces[i].attach, e);
	for (int i = 0; !err && !first && i < a->cfg.n_interfaces; i++)
		if (!has_interface(next, a->cfg.interfaces[i].name))
			err = sw_detach(a->dp.pin_dir, a->cfg.interfaces[i].name, e);
	if (!err && next->n_interfaces)
		err = sw_steer_route_ensure(&steer_route, e);
	if (err)
		return err;

	sw_config_free(&a->cfg);
	a->cfg = *next;
	memset(next, 0, sizeof(*next));
	memcpy(a->remote_ids, ids, sizeof(ids));
	return 0;
}

static void log_applied(const struct agent *a, const char *what)
{
	log_info("%s %s: cluster %s, %d service(s), %d remote(s), %d "
		 "interface(s)", what, a->cfg.path, a->cfg.cluster,
		 a->cfg.n_services, a->cfg.n_remotes, a->cfg.n_interfaces);
}

/* Reload from the file; force: even if its text has not changed (SIGHUP). */
static void reload(struct agent *a, bool force)
{
	struct sw_config next = {};
	struct sw_error e = {};
	size_t len;
	char *text;

	if (sw_config_read(a->o.config, &text, &len, &e)) {
		a->reloads_failed++;
		log_error("reload rejected, keeping the running configuration: %s",
			  e.msg);
		return;
	}
	if (!force && a->cfg_text && len == a->cfg_len &&
	    !memcmp(text, a->cfg_text, len)) {
		free(text);
		return;
	}
	if (sw_config_parse(a->o.config, text, len, &next, &e) ||
	    apply(a, &next, false, &e)) {
		sw_config_free(&next);
		free(text);
		a->reloads_failed++;
		log_error("reload rejected, keeping the running configuration: %s",
			  e.msg);
		return;
	}
	free(a->cfg_text);
	a->cfg_text = text;
	a->cfg_len = len;
	a->reloads_ok++;
	log_applied(a, "reloaded");
}

/* ------------------------------------------------------------------------
 * The view of configuration and maps that status and metrics report
 */

static int build_view(struct agent *a, struct sw_view *v, struct sw_error *e)
{
	memset(v, 0, sizeof(*v));
	v->cfg = &a->cfg;
	v->services = calloc(a->cfg.n_services + 1, sizeof(*v->services));
	v->remotes = calloc(a->cfg.n_remotes + 1, sizeof(*v->remotes));
	if (!v->services || !v->remotes)
		return sw_fail(e, -ENOMEM, "out of memory");
	for (int i = 0; i < a->cfg.n_services; i++) {
		v->services[i].cfg = &a->cfg.services[i];
		v->services[i].in_map = !sw_service_get(&a->dp,
			&a->cfg.services[i].key, &v->services[i].live);
	}
	for (int i = 0; i < a->cfg.n_remotes; i++) {
		struct sw_remote r = {};

		v->remotes[i].cfg = &a->cfg.remotes[i];
		v->remotes[i].id = a->remote_ids[i];
		v->remotes[i].healthy = !sw_remote_get(&a->dp, a->remote_ids[i],
						       &r) && r.healthy;
	}
	v->flows_scanned = a->flows_scanned;
	v->reloads_ok = a->reloads_ok;
	v->reloads_failed = a->reloads_failed;
	v->ready = a->ready;
	return sw_stats_read(&a->dp, &v->stats, e);
}

static void free_view(struct sw_view *v)
{
	free(v->services);
	free(v->remotes);
}

/* ------------------------------------------------------------------------
 * Verbs served on the control socket
 */

static enum sw_rpc_status do_status(struct agent *a, const struct sw_request *r,
				    FILE *out)
{
	struct sw_error e = {};
	struct sw_view v;
	int err = build_view(a, &v, &e);

	if (!err)
		report_status(out, r->json, &v);
	else
		fprintf(out, "%s\n", e.msg);
	free_view(&v);
	return err ? SW_RPC_FAILED : SW_RPC_OK;
}

static enum sw_rpc_status no_such_service(struct agent *a, const char *name,
					  FILE *out)
{
	fprintf(out, "no service named '%s'; the configuration has:", name);
	for (int i = 0; i < a->cfg.n_services; i++)
		fprintf(out, " %s", a->cfg.services[i].name);
	fputc('\n', out);
	return SW_RPC_FAILED;
}

static enum sw_rpc_status do_service_set(struct agent *a,
					 const struct sw_request *r, FILE *out)
{
	const struct sw_service_config_entry *s = sw_config_service(&a->cfg,
								    r->service);
	struct sw_service_config c;
	struct sw_error e = {};

	if (!s)
		return no_such_service(a, r->service, out);
	service_config(s, &a->cfg, a->remote_ids, &c);
	c.max_connections = r->max_connections;
	c.resume_below = r->resume_below ? r->resume_below : r->max_connections;
	if (sw_service_set(&a->dp, &s->key, &c, &e)) {
		fprintf(out, "%s\n", e.msg);
		return SW_RPC_FAILED;
	}
	log_info("service %s: max_connections %u, resume_below %u (set from "
		 "the CLI; the next configuration reload restores the file's "
		 "values)", s->name, c.max_connections, c.resume_below);
	fprintf(out, "%s: max_connections %u, resume_below %u\n", s->name,
		c.max_connections, c.resume_below);
	return SW_RPC_OK;
}

static const char *service_name(const struct sw_config *cfg,
				const struct sw_service_key *key)
{
	for (int i = 0; i < cfg->n_services; i++)
		if (!memcmp(&cfg->services[i].key, key, sizeof(*key)))
			return cfg->services[i].name;
	return "";
}

static const char *remote_name(const struct agent *a, __u32 id)
{
	for (int i = 0; i < a->cfg.n_remotes; i++)
		if (a->remote_ids[i] == id)
			return a->cfg.remotes[i].name;
	return "";
}

static enum sw_rpc_status do_flows(struct agent *a, const struct sw_request *r,
				   FILE *out)
{
	const struct sw_service_config_entry *only = NULL;
	int fd = bpf_map__fd(a->dp.skel->maps.flows);
	struct sw_flow_key key, prev;
	__u64 shown = 0, matched = 0;
	struct sw_flow f;
	struct json j;
	void *p = NULL;

	if (r->service[0]) {
		only = sw_config_service(&a->cfg, r->service);
		if (!only)
			return no_such_service(a, r->service, out);
	}
	report_flows_begin(out, r->json, &j);
	for (; !bpf_map_get_next_key(fd, p, &key); prev = key, p = &prev) {
		struct sw_flow_row row = { .key = &key, .flow = &f,
					   .now_ns = sw_now_ns() };

		if (bpf_map_lookup_elem(fd, &key, &f) ||
		    (only && memcmp(&only->key, &key.svc, sizeof(key.svc))))
			continue;
		matched++;
		if (r->limit && shown == r->limit)
			continue;	/* counted, not shown */
		row.service = service_name(&a->cfg, &key.svc);
		row.remote = f.decision == SW_REMOTE ? remote_name(a, f.remote) : "";
		report_flow(out, r->json, &j, &row);
		shown++;
	}
	report_flows_end(out, r->json, &j, shown, matched);
	return SW_RPC_OK;
}

static void serve_request(struct agent *a)
{
	struct sw_rpc_request req;
	enum sw_rpc_status status;
	struct sw_request r;
	struct sw_error e = {};
	size_t len = 0;
	char *body = NULL;
	FILE *out;

	if (sw_rpc_accept(a->ctlfd, &req, &e)) {
		log_warn("control socket: %s", e.msg);
		return;
	}
	out = open_memstream(&body, &len);
	if (!out) {
		sw_rpc_reply(&req, SW_RPC_FAILED, "out of memory\n", 14);
		return;
	}
	if (sw_request_parse(req.argc, req.argv, &r, &e)) {
		fprintf(out, "%s\n", e.msg);
		status = SW_RPC_USAGE;
	} else if (r.verb == SW_VERB_STATUS) {
		status = do_status(a, &r, out);
	} else if (r.verb == SW_VERB_SERVICE_SET) {
		status = do_service_set(a, &r, out);
	} else {
		status = do_flows(a, &r, out);
	}
	fclose(out);
	sw_rpc_reply(&req, status, body, len);
	free(body);
}

/* ------------------------------------------------------------------------
 * HTTP: /metrics, /healthz, /readyz
 */

static int serve_http(void *arg, const char *url, FILE *out)
{
	struct agent *a = arg;
	struct sw_error e = {};
	struct sw_view v;
	int status = 200;

	if (!strcmp(url, "/healthz")) {
		fputs("ok\n", out);
	} else if (!strcmp(url, "/readyz")) {
		fputs(a->ready ? "ready\n" : "not ready\n", out);
		status = a->ready ? 200 : 503;
	} else if (!strcmp(url, "/metrics")) {
		if (build_view(a, &v, &e)) {
			fprintf(out, "%s\n", e.msg);
			status = 500;
		} else {
			report_metrics(out, &v);
		}
		free_view(&v);
	} else {
		fputs("not found: try /metrics, /healthz or /readyz\n", out);
		status = 404;
	}
	return status;
}

/* ------------------------------------------------------------------------
 * Timers
 */

static void heartbeat(struct agent *a)
{
	struct sw_error e = {};

	if (sw_agent_heartbeat(&a->dp, 0, &e))
		log_error("%s", e.msg);
}

static void collect(struct agent *a)
{
	struct sw_collect_params p = {
		.half_open_ns = a->cfg.half_open_timeout_ns,
		.idle_ns = a->cfg.idle_timeout_ns,
		.closed_ns = a->cfg.closed_linger_ns,
	};
	struct sw_collect_result r;
	struct sw_error e = {};

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

static void tick(struct agent *a)
{
	__u64 now = sw_now_ns(), expirations;

	if (read(a->tickfd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		log_warn("tick: %s", strerror(errno));
	heartbeat(a);
	if (now >= a->next_collect_ns) {
		collect(a);
		a->next_collect_ns = now + a->cfg.collect_interval_ns;
	}
	if (a->http)
		sw_http_run(a->http);
}

static int arm(int fd, __u64 first_ms, __u64 every_ms)
{
	struct itimerspec t = {
		.it_value = { first_ms / 1000, first_ms % 1000 * 1000000 },
		.it_interval = { every_ms / 1000, every_ms % 1000 * 1000000 },
	};

	return timerfd_settime(fd, 0, &t, NULL);
}

#define CONFIG_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | \
		       IN_ATTRIB)

/*
 * Watch the directory of the file the configuration path resolves to, as
 * well as the path's own directory: behind a Kubernetes ConfigMap's
 * symlinks (config.yaml -> ..data/config.yaml, ..data -> ..2026_11_27...)
 * the file lives elsewhere, and moves with every ..data swap.
 */
static void watch_config_target(struct agent *a)
{
	char real[PATH_MAX], *dir;

	if (!realpath(a->o.config, real))
		return;
	dir = dirname(real);
	if (!strcmp(dir, a->target_dir))
		return;
	/* (Removing a watch queues IN_IGNORED: one more harmless reload check.) */
	if (a->target_wd >= 0)
		inotify_rm_watch(a->inofd, a->target_wd);
	a->target_wd = -1;
	snprintf(a->target_dir, sizeof(a->target_dir), "%s", dir);
	if (strcmp(dir, a->config_dir))
		a->target_wd = inotify_add_watch(a->inofd, dir, CONFIG_EVENTS);
}

/* Something changed in the configuration's directory: reload soon. */
static void config_dir_changed(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(a->inofd, buf, sizeof(buf)) > 0)
		;
	watch_config_target(a);
	arm(a->reloadfd, RELOAD_DEBOUNCE_MS, 0);
}

static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading %s", a->o.config);
			reload(a, true);
		} else {
			log_info("%s: stopping; the datapath stays attached and "
				 "connections keep flowing", strsignal(si.ssi_signo));
			a->stop = true;
		}
	}
}

/* ------------------------------------------------------------------------
 * Setup and the loop
 */

static int watch(struct agent *a, int fd, enum source src, struct sw_error *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev))
		return sw_fail(e, -errno, "epoll: %s", strerror(errno));
	return 0;
}

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

static int setup_events(struct agent *a, struct sw_error *e)
{
	char dir[PATH_MAX];
	sigset_t sigs;
	int err;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s", a->o.config);

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	a->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->reloadfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	a->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->epfd < 0 || a->sigfd < 0 || a->tickfd < 0 || a->reloadfd < 0 ||
	    a->inofd < 0)
		return sw_fail(e, -errno, "setting up the event loop: %s",
			       strerror(errno));
	/* The directory: a Kubernetes ConfigMap update swaps a symlink in it. */
	if (!realpath(dirname(dir), a->config_dir))
		return sw_fail(e, -errno, "cannot resolve the directory of %s: %s",
			       a->o.config, strerror(errno));
	if (inotify_add_watch(a->inofd, a->config_dir, CONFIG_EVENTS) < 0)
		return sw_fail(e, -errno, "cannot watch %s for changes: %s",
			       a->config_dir, strerror(errno));
	watch_config_target(a);
	if (arm(a->tickfd, 1000, 1000))
		return sw_fail(e, -errno, "timerfd: %s", strerror(errno));
	err = watch(a, a->sigfd, SRC_SIGNAL, e);
	if (!err)
		err = watch(a, a->tickfd, SRC_TICK, e);
	if (!err)
		err = watch(a, a->reloadfd, SRC_RELOAD, e);
	if (!err)
		err = watch(a, a->inofd, SRC_INOTIFY, e);
	if (!err)
		err = watch(a, a->ctlfd, SRC_CONTROL, e);
	if (!err && a->http)
		err = watch(a, sw_http_fd(a->http), SRC_HTTP, e);
	return err;
}

static int start(struct agent *a, struct sw_error *e)
{
	struct sw_datapath_opts dopts;
	struct sw_config cfg = {};
	int err;

	err = sw_config_read(a->o.config, &a->cfg_text, &a->cfg_len, e);
	if (!err)
		err = sw_config_parse(a->o.config, a->cfg_text, a->cfg_len,
				      &cfg, e);
	if (err)
		return err;
	sw_datapath_opts_init(&dopts);
	dopts.pin_dir = a->o.pin_dir;
	dopts.flow_capacity = cfg.flow_capacity;
	dopts.tunnel_port = cfg.tunnel_port;
	err = sw_datapath_open(&a->dp, &dopts, e);
	if (!err)
		err = lock_pin_dir(a, e);
	if (!err)
		log_info("datapath loaded, maps %s in %s",
			 a->dp.adopted ? "adopted (flows and counters kept)" :
			 "created", a->dp.pin_dir);
	if (!err)
		err = apply(a, &cfg, true, e);
	sw_config_free(&cfg);
	if (err)
		return err;
	log_applied(a, "applied");
	heartbeat(a);
	collect(a);
	a->next_collect_ns = sw_now_ns() + a->cfg.collect_interval_ns;

	a->ctlfd = sw_rpc_listen(a->o.socket, e);
	if (a->ctlfd < 0)
		return a->ctlfd;
	if (a->cfg.has_metrics) {
		a->http = sw_http_start(&a->cfg.metrics_listen, serve_http, a, e);
		if (!a->http)
			return -EADDRINUSE;
	}
	return setup_events(a, e);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void stop(struct agent *a)
{
	sw_http_stop(a->http);
	if (a->ctlfd >= 0) {
		close(a->ctlfd);
		unlink(a->o.socket);
	}
	if (a->dp.skel)
		sw_datapath_close(&a->dp);
	sw_config_free(&a->cfg);
	free(a->cfg_text);
	close_fd(a->epfd);
	close_fd(a->sigfd);
	close_fd(a->inofd);
	close_fd(a->tickfd);
	close_fd(a->reloadfd);
	close_fd(a->lockfd);	/* releases the pin directory's lock */
}

int sw_agent_run(const struct sw_agent_opts *opts)
{
	struct agent a = { .o = *opts, .epfd = -1, .sigfd = -1, .ctlfd = -1,
			   .inofd = -1, .tickfd = -1, .reloadfd = -1,
			   .lockfd = -1, .target_wd = -1 };
	struct sw_error e = {};
	int status = 0;

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
		struct epoll_event ev[8];
		int n = epoll_wait(a.epfd, ev, 8, -1);

		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			status = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u32) {
			case SRC_SIGNAL:
				on_signal(&a);
				break;
			case SRC_CONTROL:
				serve_request(&a);
				break;
			case SRC_INOTIFY:
				config_dir_changed(&a);
				break;
			case SRC_TICK:
				tick(&a);
				break;
			case SRC_RELOAD: {
				__u64 x;

				if (read(a.reloadfd, &x, sizeof(x)) == sizeof(x))
					reload(&a, false);
				break;
			}
			case SRC_HTTP:
				sw_http_run(a.http);
				break;
			}
		}
	}
	stop(&a);
	return status;
}
