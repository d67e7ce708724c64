// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "spillway/defaults.h"
#include "agent/agent_priv.h"
#include "agent/worker.h"
#include "datapath/lookup.h"
#include "lib/clock.h"
#include "lib/cpus.h"
#include "lib/log.h"
#include "tunnel/endpoint.h"
#include "tunnel/gateway.h"
#include "tunnel/tunnel.h"

/*
 * How long the agent waits for the workers' answers, all of them together.
 * A live worker answers within one turn of its loop; past this, one is
 * treated as stalled for this round (its last counts are used, its
 * configuration follows when it wakes). Well within the CLI's 2 s wait for
 * a reply (rpc.c).
 */
#define ANSWER_TIMEOUT_MS 500

/* What every worker runs by: shared, read-only, freed by the last holder. */
struct settings {
	int refs;			/* atomic */
	struct sw_config cfg;
	__u32 remote_ids[SW_MAX_REMOTES];
	struct sw_tls *tls;		/* a reference; NULL: no tls section */
	int endpoint_fd[2];		/* the agent's; -1: the node cannot spill */
};

struct agent_worker {
	unsigned int id, n;		/* n: workers in all */
	pthread_t thread;
	bool started;
	struct sw_loop *loop;
	struct sw_resolver *resolver;
	struct sw_datapath *dp;		/* the agent's: syscalls on its maps */
	struct sw_gateway_peers *peers;	/* the agent's: every gateway's */
	struct sw_io inbox_io, tick_io;

	/* The worker thread's own */
	struct settings *s;		/* applied */
	struct sw_tunnel *tunnel;
	struct sw_gateway *gateway;
	bool stop;

	/* Between the two threads, under lock */
	pthread_mutex_t lock;
	pthread_cond_t answered_cond;
	struct settings *next;		/* to apply (its reference) */
	bool drain, stopping;
	__u64 asked, answered;		/* round trips */
	int err;			/* of the last apply */
	char why[sizeof(((struct sw_error *)0)->msg)];
	struct agent_counts counts;

	__u64 beat_ns;			/* its last tick (atomic) */
	bool stalled;			/* the agent's thread's own */
};

/* ------------------------------------------------------------------------
 * Settings: one copy of the configuration for all the workers
 */

static void settings_put(struct settings *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	sw_config_free(&s->cfg);
	sw_tls_free(s->tls);
	free(s);
}

static struct settings *settings_of(const struct agent *a, struct sw_error *e)
{
	struct settings *s = calloc(1, sizeof(*s));

	if (!s || sw_config_copy(&s->cfg, &a->cfg)) {
		free(s);
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	s->refs = 1;
	memcpy(s->remote_ids, a->remote_ids, sizeof(s->remote_ids));
	s->tls = sw_tls_ref(a->tls);
	memcpy(s->endpoint_fd, a->endpoint_fd, sizeof(s->endpoint_fd));
	return s;
}

/* Where connections can spill: remotes, interfaces and certificates. */
static bool spills(const struct sw_config *c, const struct sw_tls *tls)
{
	return tls && c->n_remotes && c->n_interfaces;
}

/*
 * The endpoint's sockets, opened once, the first time the node can spill,
 * for every worker's tunnel to accept on (endpoint.h: one socket, not one
 * per worker).
 */
static int endpoint_open(struct agent *a, struct sw_error *e)
{
	if (a->endpoint_fd[0] >= 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		a->endpoint_fd[i] = sw_endpoint_listen(i ? 6 : 4,
						       a->cfg.tunnel_port, e);
		if (a->endpoint_fd[i] < 0) {
			int err = a->endpoint_fd[i];

			if (i)
				close(a->endpoint_fd[0]);
			a->endpoint_fd[0] = a->endpoint_fd[1] = -1;
			return err;
		}
	}
	return 0;
}

/*
 * The endpoint where the node can spill: its sockets, and their place in
 * the kernel's listener lookup (datapath/lookup.h), without which the
 * datapath spills nothing (it spills only while the endpoints map holds
 * the endpoint's listener).
 */
static int endpoint_setup(struct agent *a, struct sw_error *e)
{
	int err;

	if (!spills(&a->cfg, a->tls) || !sw_datapath_loaded(&a->dp))
		return 0;
	err = endpoint_open(a, e);
	if (err || a->dp.lookup)
		return err;
	err = sw_datapath_lookup_endpoint(&a->dp, a->endpoint_fd, e);
	if (!err)
		log_info("spill_sk_lookup attached: the kernel's listener "
			 "lookups find the endpoint for steered connections");
	return err;
}

/* ------------------------------------------------------------------------
 * On the worker's thread
 */

/* Worker 0 says what happens at info level; the others repeat it quietly. */
#define worker_log(w, ...) sw_log((w)->id ? SW_DEBUG : SW_INFO, __VA_ARGS__)

static bool gateway_moved(const struct sw_config *was,
			  const struct sw_config *now)
{
	return was->has_tunnel != now->has_tunnel ||
	       memcmp(&was->tunnel_listen, &now->tunnel_listen,
		      sizeof(now->tunnel_listen));
}

/*
 * Start, change or stop this worker's tunnel client and gateway to match s:
 * the client where connections can spill (remotes and interfaces), the
 * gateway where tunnel.listen is set.
 */
static int apply(struct agent_worker *w, struct settings *s, struct sw_error *e)
{
	const struct sw_config *c = &s->cfg;
	bool client = spills(c, s->tls) && s->endpoint_fd[0] >= 0;
	bool moved = w->s && gateway_moved(&w->s->cfg, c);
	int err = 0;

	if (!client && w->tunnel) {
		sw_tunnel_free(w->tunnel);
		w->tunnel = NULL;
	}
	if (client && !w->tunnel) {
		w->tunnel = sw_tunnel_new(w->loop, w->resolver, w->dp,
					  s->endpoint_fd,
					  SW_DEFAULT_BYPASS_MARK, e);
		if (!w->tunnel) {
			err = -EADDRINUSE;
		} else {
			if (w->id)
				sw_tunnel_quiet(w->tunnel);
			worker_log(w, "tunnel endpoint listening on port %u "
				   "(%u worker(s))", c->tunnel_port, w->n);
		}
	}
	/* (Failing, it would keep the old settings, which go below.) */
	if (w->tunnel && sw_tunnel_configure(w->tunnel, c, s->remote_ids,
					     s->tls, e)) {
		sw_tunnel_free(w->tunnel);
		w->tunnel = NULL;
		err = -ENOMEM;
	}

	if (w->gateway && (moved || !c->has_tunnel || !s->tls)) {
		sw_gateway_free(w->gateway);
		w->gateway = NULL;
	}
	if (!err && c->has_tunnel && s->tls && !w->gateway) {
		w->gateway = sw_gateway_new(w->loop, w->resolver,
					    &c->tunnel_listen, w->peers,
					    SW_DEFAULT_BYPASS_MARK, e);
		if (!w->gateway)
			err = -EADDRINUSE;
		else
			worker_log(w, "gateway listening on %s:%u (%u worker(s))",
				   c->tunnel_listen.host, c->tunnel_listen.port,
				   w->n);
	}
	if (w->gateway)
		sw_gateway_configure(w->gateway, c, s->tls, w->n);
	/* The old settings stay until nothing points at them. */
	settings_put(w->s);
	w->s = s;
	return err;
}

static void add_counters(struct sw_tunnel_counters *sum,
			 const struct sw_tunnel_counters *c)
{
	__u64 *to = (__u64 *)sum;
	const __u64 *from = (const __u64 *)c;

	for (size_t i = 0; i < sizeof(*c) / sizeof(__u64); i++)
		to[i] += from[i];
}

/* Copy this worker's counters out (under w->lock). */
static void count(struct agent_worker *w, struct agent_counts *out)
{
	const struct sw_config *c = w->s ? &w->s->cfg : NULL;
	__u64 now = sw_now_ns(), left;

	out->client = w->tunnel;
	out->gateway = w->gateway;
	memset(&out->fallback, 0, sizeof(out->fallback));
	if (w->tunnel)
		out->fallback = *sw_tunnel_fallbacks(w->tunnel);
	memset(&out->gw, 0, sizeof(out->gw));
	if (w->gateway)
		out->gw = *sw_gateway_counters(w->gateway);
	/* Spilled connections carried, as client and as gateway. */
	out->busy = sw_tunnel_busy(w->tunnel) + out->gw.streams_open;
	out->resolver = *sw_resolver_stats(w->resolver);
	out->n_remotes = 0;
	for (int i = 0; w->tunnel && c && i < c->n_remotes; i++) {
		struct agent_remote_counts *r = &out->remote[out->n_remotes];
		const struct sw_tunnel_counters *rc =
			sw_tunnel_counters(w->tunnel, c->remotes[i].name);

		if (!rc)
			continue;
		snprintf(r->name, sizeof(r->name), "%s", c->remotes[i].name);
		r->c = *rc;
		/* 0, not now, when not ejected: the agent's clock read before
		 * it asked would see a few ms of ejection left in "now". */
		left = sw_tunnel_ejected_ns(w->tunnel, r->name, now);
		r->ejected_until_ns = left ? now + left : 0;
		out->n_remotes++;
	}
}

static void on_inbox(struct sw_io *io, uint32_t events)
{
	struct agent_worker *w = (struct agent_worker *)((char *)io -
				offsetof(struct agent_worker, inbox_io));
	struct settings *next;
	struct sw_error e = {};
	bool drain;
	__u64 x, asked;
	int err = 0;

	(void)events;
	if (read(io->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		log_warn("worker %u: reading its inbox: %s", w->id,
			 strerror(errno));
	pthread_mutex_lock(&w->lock);
	next = w->next;
	w->next = NULL;
	drain = w->drain;
	w->stop = w->stopping;
	asked = w->asked;
	pthread_mutex_unlock(&w->lock);

	if (next && (err = apply(w, next, &e)))
		log_error("worker %u: the tunnel could not follow the "
			  "configuration: %s", w->id, e.msg);
	if (drain && w->gateway)
		sw_gateway_drain(w->gateway);

	pthread_mutex_lock(&w->lock);
	count(w, &w->counts);
	if (next) {
		w->err = err;
		snprintf(w->why, sizeof(w->why), "%s", e.msg);
	}
	w->answered = asked;
	pthread_cond_broadcast(&w->answered_cond);
	pthread_mutex_unlock(&w->lock);
}

static void on_tick(struct sw_io *io, uint32_t events)
{
	struct agent_worker *w = (struct agent_worker *)((char *)io -
				offsetof(struct agent_worker, tick_io));
	__u64 now = sw_now_ns(), x;

	(void)events;
	if (read(io->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		log_warn("worker %u: tick: %s", w->id, strerror(errno));
	__atomic_store_n(&w->beat_ns, now, __ATOMIC_RELAXED);
	if (w->gateway)
		sw_gateway_tick(w->gateway, now);
	pthread_mutex_lock(&w->lock);
	count(w, &w->counts);
	pthread_mutex_unlock(&w->lock);
}

static void *run(void *arg)
{
	struct agent_worker *w = arg;

	while (!w->stop) {
		int n = sw_loop_run_once(w->loop, -1);

		if (n < 0) {
			log_error("worker %u: its event loop failed: %s; it "
				  "stops ticking", w->id, strerror(-n));
			break;
		}
	}
	/* Its tunnel lives on its loop: closed here, on its thread. */
	sw_tunnel_free(w->tunnel);
	sw_gateway_free(w->gateway);
	w->tunnel = NULL;
	w->gateway = NULL;
	return NULL;
}

/* ------------------------------------------------------------------------
 * On the agent's thread
 */

unsigned int agent_workers_wanted(const struct sw_config *cfg, char *why,
				  size_t len)
{
	struct sw_cpus cpus;
	unsigned int n;
	int w;

	if (cfg->workers) {
		snprintf(why, len, "tunnel.workers");
		return cfg->workers;
	}
	sw_cpus_read(&cpus);
	n = sw_cpus_usable(&cpus);
	w = snprintf(why, len, "one per CPU the agent may use: %u in its "
		     "affinity mask", cpus.affinity);
	if (cpus.quota > 0 && w >= 0 && (size_t)w < len)
		snprintf(why + w, len - w, ", a CPU quota of %.2f (%s)",
			 cpus.quota, cpus.quota_file);
	return n > SW_WORKERS_MAX ? SW_WORKERS_MAX : n;
}

static void worker_free(struct agent_worker *w)
{
	if (!w)
		return;
	settings_put(w->s);
	settings_put(w->next);
	sw_resolver_free(w->resolver);
	if (w->inbox_io.fd >= 0)
		sw_loop_close(w->loop, &w->inbox_io);
	if (w->tick_io.fd >= 0)
		sw_loop_close(w->loop, &w->tick_io);
	sw_loop_free(w->loop);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->answered_cond);
	free(w);
}

static int add_io(struct agent_worker *w, struct sw_io *io, int fd,
		  void (*fn)(struct sw_io *, uint32_t))
{
	if (fd < 0)
		return -errno;
	if (sw_loop_add(w->loop, io, fd, EPOLLIN, fn)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return 0;
}

/* Everything but the thread, made here so that nothing races its start. */
static struct agent_worker *worker_new(struct agent *a, unsigned int id,
				       unsigned int n, struct sw_error *e)
{
	struct agent_worker *w = calloc(1, sizeof(*w));
	struct itimerspec second = { { 1, 0 }, { 1, 0 } };
	pthread_condattr_t ca;
	int err;

	if (!w) {
		sw_fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	w->id = id;
	w->n = n;
	w->dp = &a->dp;
	w->peers = a->gateway_peers;
	w->inbox_io.fd = w->tick_io.fd = -1;
	w->beat_ns = sw_now_ns();
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->answered_cond, &ca);
	pthread_condattr_destroy(&ca);
	w->loop = sw_loop_new();
	if (!w->loop) {
		sw_fail(e, -ENOMEM, "worker %u: cannot create its event loop", id);
		goto fail;
	}
	w->resolver = sw_resolver_new(w->loop, e);
	if (!w->resolver)
		goto fail;
	err = add_io(w, &w->inbox_io, eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
		     on_inbox);
	if (!err)
		err = add_io(w, &w->tick_io, timerfd_create(CLOCK_MONOTONIC,
			     TFD_NONBLOCK | TFD_CLOEXEC), on_tick);
	if (!err && timerfd_settime(w->tick_io.fd, 0, &second, NULL))
		err = -errno;
	if (err) {
		sw_fail(e, err, "worker %u: setting up its event loop: %s", id,
			strerror(-err));
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

int agent_workers_start(struct agent *a, unsigned int n, struct sw_error *e)
{
	a->workers = calloc(n, sizeof(*a->workers));
	a->gateway_peers = sw_gateway_peers_new();
	if (!a->workers || !a->gateway_peers)
		return sw_fail(e, -ENOMEM, "out of memory");
	for (unsigned int i = 0; i < n; i++) {
		struct agent_worker *w = worker_new(a, i, n, e);
		char name[16];
		int err;

		if (!w)
			return -ENOMEM;
		a->workers[a->n_workers++] = w;
		err = pthread_create(&w->thread, NULL, run, w);
		if (err)
			return sw_fail(e, -err, "cannot start worker %u's thread: "
				       "%s", i, strerror(err));
		w->started = true;
		/* ps -L, top -H and /proc/PID/task/TID/comm show which (15
		 * characters at most: i < SW_WORKERS_MAX has two digits). */
		snprintf(name, sizeof(name), "sw-worker-%u", i % 100);
		pthread_setname_np(w->thread, name);
	}
	log_info("%u tunnel worker(s) started%s", n, a->cfg.workers ? "" :
		 " (tunnel.workers not set: one per CPU this agent may run on)");
	return 0;
}

/* Ask w (under w->lock): wake it; the round trip to wait for. */
static __u64 ask(struct agent_worker *w)
{
	__u64 one = 1, round = ++w->asked;

	if (write(w->inbox_io.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("worker %u: cannot wake it: %s", w->id, strerror(errno));
	return round;
}

/* When a round of questions asked now stops waiting for answers. */
static struct timespec answers_due(void)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ANSWER_TIMEOUT_MS / 1000;
	until.tv_nsec += ANSWER_TIMEOUT_MS % 1000 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

/* Wait for w's answer to round (under w->lock); false: none in time. */
static bool wait_answer(struct agent_worker *w, __u64 round,
			const struct timespec *until)
{
	if (w->stalled)
		return w->answered >= round;
	while (w->answered < round)
		if (pthread_cond_timedwait(&w->answered_cond, &w->lock,
					   until) == ETIMEDOUT)
			return w->answered >= round;
	return true;
}

int agent_workers_apply(struct agent *a, struct sw_error *e)
{
	struct timespec until = answers_due();
	__u64 rounds[SW_WORKERS_MAX];
	struct settings *s;
	int err = endpoint_setup(a, e);

	if (err)
		return err;
	s = settings_of(a, e);
	if (!s)
		return -ENOMEM;
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];

		pthread_mutex_lock(&w->lock);
		settings_put(w->next);	/* never applied: superseded */
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
		w->next = s;
		rounds[i] = ask(w);
		pthread_mutex_unlock(&w->lock);
	}
	settings_put(s);
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];

		pthread_mutex_lock(&w->lock);
		if (!wait_answer(w, rounds[i], &until))
			log_warn("worker %u has not applied the configuration "
				 "yet (stalled?): it will when it runs again", i);
		else if (w->err && !err)
			err = sw_fail(e, w->err, "%s", w->why);
		pthread_mutex_unlock(&w->lock);
	}
	return err;
}

void agent_workers_drain(struct agent *a)
{
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];

		pthread_mutex_lock(&w->lock);
		w->drain = true;
		ask(w);
		pthread_mutex_unlock(&w->lock);
	}
}

static void add_remote(struct agent_counts *sum,
		       const struct agent_remote_counts *r, bool decides)
{
	int i;

	for (i = 0; i < sum->n_remotes; i++)
		if (!strcmp(sum->remote[i].name, r->name))
			break;
	if (i == sum->n_remotes) {
		sum->n_remotes++;
		memset(&sum->remote[i], 0, sizeof(sum->remote[i]));
		snprintf(sum->remote[i].name, sizeof(sum->remote[i].name), "%s",
			 r->name);
	}
	add_counters(&sum->remote[i].c, &r->c);
	if (decides)
		sum->remote[i].ejected_until_ns = r->ejected_until_ns;
}

static __u64 streams_ended(const struct sw_tunnel_counters *c)
{
	__u64 n = 0;

	for (int i = 0; i < SW_STREAM_N; i++)
		n += c->streams[i];
	return n;
}

static void add_worker(struct agent_counts *sum, const struct agent_counts *c,
		       bool decides, struct agent_worker_view *v)
{
	sum->busy += c->busy;
	sum->client |= c->client;
	sum->gateway |= c->gateway;
	sum->fallback.open += c->fallback.open;
	sum->fallback.served += c->fallback.served;
	sum->fallback.failed += c->fallback.failed;
	add_counters(&sum->gw, &c->gw);
	sum->resolver.cached += c->resolver.cached;
	sum->resolver.queries += c->resolver.queries;
	sum->resolver.failed += c->resolver.failed;
	v->streams = c->gw.streams_open;
	v->streams_total = streams_ended(&c->gw);
	for (int i = 0; i < c->n_remotes; i++) {
		add_remote(sum, &c->remote[i], decides);
		v->streams += c->remote[i].c.streams_open;
		v->streams_total += streams_ended(&c->remote[i].c);
	}
}

void agent_workers_count(struct agent *a, struct agent_counts *sum,
			 struct agent_worker_view *each)
{
	__u64 rounds[SW_WORKERS_MAX], now = sw_now_ns();
	struct timespec until = answers_due();

	memset(sum, 0, offsetof(struct agent_counts, remote));
	for (unsigned int i = 0; i < a->n_workers; i++) {
		pthread_mutex_lock(&a->workers[i]->lock);
		rounds[i] = ask(a->workers[i]);
		pthread_mutex_unlock(&a->workers[i]->lock);
	}
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];
		struct agent_worker_view v = { .alive = !w->stalled };
		__u64 beat = __atomic_load_n(&w->beat_ns, __ATOMIC_RELAXED);

		v.tick_age_ns = now > beat ? now - beat : 0;
		pthread_mutex_lock(&w->lock);
		wait_answer(w, rounds[i], &until);
		add_worker(sum, &w->counts, i == 0, &v);
		pthread_mutex_unlock(&w->lock);
		if (each)
			each[i] = v;
	}
}

unsigned int agent_workers_busy(struct agent *a)
{
	struct agent_counts *sum = malloc(sizeof(*sum));
	unsigned int n;

	if (!sum)
		return 1;	/* cannot tell: not idle */
	agent_workers_count(a, sum, NULL);
	n = sum->busy;
	free(sum);
	return n;
}

void agent_workers_check(struct agent *a, __u64 now)
{
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];
		__u64 beat = __atomic_load_n(&w->beat_ns, __ATOMIC_RELAXED);
		bool stalled = now > beat &&
			       now - beat > SW_WORKER_STALL_S * NS_PER_S;

		if (stalled && !w->stalled)
			log_error("worker %u has not ticked for %llu s: its "
				  "connections are stuck; /healthz fails until "
				  "it ticks again (a restart ends it)", i,
				  (unsigned long long)((now - beat) / NS_PER_S));
		else if (!stalled && w->stalled)
			log_info("worker %u ticks again", i);
		w->stalled = stalled;
	}
}

unsigned int agent_workers_stalled(const struct agent *a)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < a->n_workers; i++)
		n += a->workers[i]->stalled;
	return n;
}

void agent_workers_stop(struct agent *a)
{
	for (unsigned int i = 0; i < a->n_workers; i++) {
		struct agent_worker *w = a->workers[i];

		if (!w->started)
			continue;
		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		ask(w);
		pthread_mutex_unlock(&w->lock);
	}
	for (unsigned int i = 0; i < a->n_workers; i++) {
		if (a->workers[i]->started)
			pthread_join(a->workers[i]->thread, NULL);
		worker_free(a->workers[i]);
	}
	free(a->workers);
	a->workers = NULL;
	a->n_workers = 0;
	sw_gateway_peers_free(a->gateway_peers);	/* after every gateway */
	a->gateway_peers = NULL;
}
