// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tests of the event loop's deferred work (user/lib/loop.c): tasks queued with
 * sw_loop_later run after the batch that queued them; tasks queued with
 * sw_loop_next_round wait for the next round, which does not block; a
 * cancelled task never runs, whichever list it was on; a descriptor closed
 * alone leaves epoll with its close. Real epoll, real pipes.
 */
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "datapath/control.h"
#include "harness.h"
#include "lib/clock.h"
#include "lib/loop.h"
#include "spillway/defaults.h"

struct probe {
	struct sw_task task;
	struct sw_io io;
	struct sw_loop *loop;
	int runs;		/* times task ran */
	int events;		/* times io had an event */
	int requeue;		/* task queues itself for the next round this often */
	int order;		/* run counter value when it last ran */
};

static int clock_tick;

static struct probe *of_task(struct sw_task *t)
{
	return (struct probe *)((char *)t - offsetof(struct probe, task));
}

static void run_probe(struct sw_task *t)
{
	struct probe *p = of_task(t);

	p->runs++;
	p->order = ++clock_tick;
	if (p->requeue-- > 0)
		sw_loop_next_round(p->loop, &p->task);
}

static void on_readable(struct sw_io *io, uint32_t revents)
{
	struct probe *p = (struct probe *)((char *)io - offsetof(struct probe, io));
	char c;

	(void)revents;
	p->events++;
	p->order = ++clock_tick;
	CHECK_EQ(read(io->fd, &c, 1), 1);
}

static struct sw_loop *new_loop(void)
{
	struct sw_loop *l = sw_loop_new();

	CHECK(l != NULL);
	return l;
}

/* A task queued from an event handler runs after the batch, once. */
static void test_later(const void *arg)
{
	struct sw_loop *l = new_loop();
	struct probe p = { .task.run = run_probe, .loop = l };

	(void)arg;
	sw_loop_later(l, &p.task);
	sw_loop_later(l, &p.task);	/* queued twice: runs once */
	CHECK_EQ(sw_loop_run_once(l, 0), 0);
	CHECK_EQ(p.runs, 1);
	CHECK_EQ(sw_loop_run_once(l, 0), 0);
	CHECK_EQ(p.runs, 1);
	sw_loop_free(l);
}

/*
 * Next round: not in the round that queued it, and that round's wait does
 * not block (a task with a 10 s timeout still returns at once).
 */
static void test_next_round(const void *arg)
{
	struct sw_loop *l = new_loop();
	struct probe p = { .task.run = run_probe, .loop = l, .requeue = 3 };
	uint64_t t0;

	(void)arg;
	sw_loop_next_round(l, &p.task);
	t0 = sw_now_ns();
	for (int round = 1; round <= 3; round++) {
		CHECK_EQ(sw_loop_run_once(l, 10000), 0);
		CHECK_EQ(p.runs, round);
	}
	/* Three rounds of 10 s waits, each with the task queued again: none waited. */
	CHECK(sw_now_ns() - t0 < 5 * NS_PER_S, "a round with work queued blocked");
	sw_loop_free(l);
}

/* A ready descriptor is served before a task requeued for the next round. */
static void test_next_round_is_fair(const void *arg)
{
	struct sw_loop *l = new_loop();
	struct probe task = { .task.run = run_probe, .loop = l, .requeue = 100 };
	struct probe reader = { .loop = l };
	int fds[2];

	(void)arg;
	CHECK_EQ(pipe(fds), 0);
	CHECK_EQ(sw_loop_add(l, &reader.io, fds[0], EPOLLIN, on_readable), 0);
	sw_loop_next_round(l, &task.task);
	CHECK_EQ(sw_loop_run_once(l, 0), 0);	/* the task runs, requeues */
	CHECK_EQ(write(fds[1], "x", 1), 1);
	CHECK_EQ(sw_loop_run_once(l, 0), 1);	/* task, then the pipe */
	CHECK_EQ(reader.events, 1);
	CHECK_EQ(task.runs, 2);
	CHECK(reader.order > task.order, "the requeued task kept the pipe waiting");
	task.requeue = 0;
	sw_loop_close(l, &reader.io);
	close(fds[1]);
	sw_loop_free(l);
}

/* Cancelled, on either list: never runs, and the other tasks still do. */
static void test_cancel(const void *arg)
{
	struct sw_loop *l = new_loop();
	struct probe a = { .task.run = run_probe, .loop = l };
	struct probe b = { .task.run = run_probe, .loop = l };
	struct probe c = { .task.run = run_probe, .loop = l };

	(void)arg;
	sw_loop_next_round(l, &a.task);
	sw_loop_next_round(l, &b.task);
	sw_loop_later(l, &c.task);
	sw_loop_cancel(l, &b.task);
	sw_loop_cancel(l, &b.task);	/* not queued any more: no-op */
	CHECK_EQ(sw_loop_run_once(l, 0), 0);
	CHECK_EQ(a.runs, 1);
	CHECK_EQ(b.runs, 0);
	CHECK_EQ(c.runs, 1);
	/* Cancelled from the later list too, and can be queued again. */
	sw_loop_later(l, &a.task);
	sw_loop_cancel(l, &a.task);
	sw_loop_next_round(l, &b.task);
	CHECK_EQ(sw_loop_run_once(l, 0), 0);
	CHECK_EQ(a.runs, 1);
	CHECK_EQ(b.runs, 1);
	sw_loop_free(l);
}

/* Closed alone (sw_loop_close_sole): the close takes it out of epoll. */
static void test_close_sole(const void *arg)
{
	struct sw_loop *l = new_loop();
	struct probe reader = { .loop = l };
	int fds[2];

	(void)arg;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	CHECK_EQ(sw_loop_add(l, &reader.io, fds[0], EPOLLIN, on_readable), 0);
	CHECK_EQ(write(fds[1], "x", 1), 1);
	CHECK_EQ(sw_loop_run_once(l, 0), 1);
	sw_loop_close_sole(l, &reader.io);
	CHECK_EQ(reader.io.fd, -1);
	CHECK_EQ(send(fds[1], "y", 1, MSG_NOSIGNAL), -1);	/* the peer is gone */
	CHECK_EQ(sw_loop_run_once(l, 0), 0);	/* and nothing is watched */
	CHECK_EQ(reader.events, 1);
	close(fds[1]);
	sw_loop_free(l);
}

static const struct test_case cases[] = {
	{ "later-runs-once-per-batch", test_later, NULL },
	{ "next-round-does-not-block", test_next_round, NULL },
	{ "next-round-lets-events-in-first", test_next_round_is_fair, NULL },
	{ "cancel", test_cancel, NULL },
	{ "close-sole-leaves-epoll", test_close_sole, NULL },
	{ 0 },
};

int main(int argc, char **argv)
{
	struct test_suite s = { .name = "loop", .cases = cases };

	return test_main(&s, argc, argv);
}
