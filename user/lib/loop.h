/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's event loop: epoll, one handler per file descriptor. Objects
 * that die while handling an event are freed after the whole batch of
 * events has been handled, so a later event of the same batch never reaches
 * freed memory. Work queued with sw_loop_later runs once per batch, after
 * its events and before those frees: many events' frames for one connection
 * leave in one write. Work queued with sw_loop_next_round runs at the start
 * of the next round, after every other ready descriptor has had its turn.
 */
#ifndef SW_LIB_LOOP_H
#define SW_LIB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct sw_loop;

struct sw_io {
	int fd;
	uint32_t events;		/* EPOLLIN, EPOLLOUT... being watched */
	void (*on_event)(struct sw_io *io, uint32_t revents);
	bool dead;			/* set by sw_loop_release: ignore events */
};

/* Something to free after the current batch (see sw_loop_release). */
struct sw_deferred {
	struct sw_deferred *next;
	void (*free)(struct sw_deferred *d);
};

/* Work to run once the current batch of events has been handled. */
struct sw_task {
	struct sw_task *next;
	bool queued;
	void (*run)(struct sw_task *t);
};

struct sw_loop *sw_loop_new(void);
void sw_loop_free(struct sw_loop *l);

int sw_loop_add(struct sw_loop *l, struct sw_io *io, int fd, uint32_t events,
		void (*on_event)(struct sw_io *io, uint32_t revents));
/* Watch other events (no system call if they are the same). */
int sw_loop_watch(struct sw_loop *l, struct sw_io *io, uint32_t events);
/* Stop watching io and close its fd. */
void sw_loop_close(struct sw_loop *l, struct sw_io *io);
/*
 * The same for an fd that is the only descriptor of its socket (never
 * dup'ed, and no child process holds it): its close takes it out of epoll,
 * so one epoll_ctl fewer. A relayed connection's socket, closed once per
 * spilled connection at each end.
 */
void sw_loop_close_sole(struct sw_loop *l, struct sw_io *io);
/* Stop watching io and return its fd, open, for someone else to own. */
int sw_loop_forget(struct sw_loop *l, struct sw_io *io);
/* Free d once the current batch of events has been handled. */
void sw_loop_release(struct sw_loop *l, struct sw_deferred *d);

/* Run t after the current batch (once, however often it is queued). */
void sw_loop_later(struct sw_loop *l, struct sw_task *t);

/* Run t at the start of the next round; that round does not wait. */
void sw_loop_next_round(struct sw_loop *l, struct sw_task *t);
/* Take t off whichever list it is queued on (before freeing it). */
void sw_loop_cancel(struct sw_loop *l, struct sw_task *t);

/* Wait up to timeout_ms and handle what happened; < 0 on a loop failure. */
int sw_loop_run_once(struct sw_loop *l, int timeout_ms);

#endif /* SW_LIB_LOOP_H */
