// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/util.h"
#include "lib/loop.h"

#define BATCH 64

struct sw_loop {
	int epfd;
	struct sw_deferred *graveyard;
	struct sw_task *tasks;
	struct sw_task *next_round;	/* sw_loop_next_round */
};

struct sw_loop *sw_loop_new(void)
{
	struct sw_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static void bury(struct sw_loop *l)
{
	while (l->graveyard) {
		struct sw_deferred *d = l->graveyard;

		l->graveyard = d->next;
		d->free(d);
	}
}

void sw_loop_free(struct sw_loop *l)
{
	if (!l)
		return;
	bury(l);
	close(l->epfd);
	free(l);
}

int sw_loop_add(struct sw_loop *l, struct sw_io *io, int fd, uint32_t events,
		void (*on_event)(struct sw_io *io, uint32_t revents))
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->on_event = on_event;
	io->dead = false;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

int sw_loop_watch(struct sw_loop *l, struct sw_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events || io->dead)
		return 0;
	io->events = events;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev))
		return -errno;
	return 0;
}

int sw_loop_forget(struct sw_loop *l, struct sw_io *io)
{
	int fd = io->fd;

	if (fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	io->fd = -1;
	io->dead = true;
	return fd;
}

void sw_loop_close(struct sw_loop *l, struct sw_io *io)
{
	int fd = sw_loop_forget(l, io);

	if (fd >= 0)
		close(fd);
}

void sw_loop_close_sole(struct sw_loop *l, struct sw_io *io)
{
	(void)l;
	/* An event of this batch still reported for it is skipped (dead). */
	io->dead = true;
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

/* Queue t on list unless it is queued already (on either list). */
static void queue(struct sw_task **list, struct sw_task *t)
{
	if (t->queued)
		return;
	t->queued = true;
	t->next = *list;
	*list = t;
}

void sw_loop_later(struct sw_loop *l, struct sw_task *t)
{
	queue(&l->tasks, t);
}

void sw_loop_next_round(struct sw_loop *l, struct sw_task *t)
{
	queue(&l->next_round, t);
}

void sw_loop_cancel(struct sw_loop *l, struct sw_task *t)
{
	struct sw_task **lists[] = { &l->tasks, &l->next_round };

	if (!t->queued)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		for (struct sw_task **p = lists[i]; *p; p = &(*p)->next)
			if (*p == t) {
				*p = t->next;
				t->queued = false;
				return;
			}
}

/* Until none is left: a task may queue others. */
static void run_tasks(struct sw_loop *l)
{
	while (l->tasks) {
		struct sw_task *t = l->tasks;

		l->tasks = t->next;
		t->queued = false;
		t->run(t);
	}
}

void sw_loop_release(struct sw_loop *l, struct sw_deferred *d)
{
	d->next = l->graveyard;
	l->graveyard = d;
}

int sw_loop_run_once(struct sw_loop *l, int timeout_ms)
{
	struct epoll_event ev[BATCH];
	int n;

	/* Queued for this round, or outside a batch (at start). */
	while (l->next_round) {
		struct sw_task *t = l->next_round;

		l->next_round = t->next;
		t->next = l->tasks;
		l->tasks = t;
	}
	run_tasks(l);
	bury(l);
	n = epoll_wait(l->epfd, ev, BATCH, l->next_round ? 0 : timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct sw_io *io = ev[i].data.ptr;

		if (!io->dead)
			io->on_event(io, ev[i].events);
	}
	run_tasks(l);
	bury(l);
	return n;
}
