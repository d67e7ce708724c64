// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "agent/rpc.h"
#include "lib/util.h"
#include "cli/top.h"

#define BAR_WIDTH 20
#define NAME_MIN 7	/* "SERVICE" */
#define NAME_KEEP 24	/* names are cut to this before a column goes */
#define NAME_MAX_SHOWN 48
/* "overflowing": the columns do not change as services change state. */
#define STATE_MIN 11

/*
 * The columns right of the name, in the order they are shown. Each is its
 * width with the spaces before it. On a narrow terminal they go in
 * drop_order, least useful first: the bar repeats LOCAL against MAX, KEPT/s
 * is nonzero only while a remote is down (shown below the services), and
 * SERVICE, LOCAL and STATE always stay.
 */
enum column { COL_MAX, COL_BAR, COL_LOCAL, COL_REMOTE, COL_LOCAL_RATE,
	      COL_SPILL_RATE, COL_KEPT_RATE, COL_STATE, N_COLUMNS };

static const struct {
	const char *head;
	int width;
} columns[N_COLUMNS] = {
	[COL_MAX] = { "MAX", 1 + 7 },
	[COL_BAR] = { "LOCAL/MAX", 2 + BAR_WIDTH + 2 },
	[COL_LOCAL] = { "LOCAL", 2 + 7 },
	[COL_REMOTE] = { "REMOTE", 1 + 8 },
	[COL_LOCAL_RATE] = { "LOCAL/s", 1 + 8 },
	[COL_SPILL_RATE] = { "SPILL/s", 1 + 8 },
	[COL_KEPT_RATE] = { "KEPT/s", 1 + 8 },
	[COL_STATE] = { "STATE", 2 },	/* + STATE_MIN, or a longer state */
};

static const enum column drop_order[] = {
	COL_BAR, COL_KEPT_RATE, COL_LOCAL_RATE, COL_REMOTE, COL_MAX, COL_SPILL_RATE,
};

/* ---- reading a sample ---------------------------------------------------- */

/*
 * The whole text as one JSON value (RFC 8259: json-c's strict mode, nothing
 * after the value but white space), or NULL with e saying where and why.
 */
static json_object *parse_json(const char *text, struct sw_error *e)
{
	struct json_tokener *tok = json_tokener_new();
	size_t len = strlen(text), at;
	enum json_tokener_error err;
	json_object *root;

	if (!tok) {
		sw_fail(e, -ENOMEM, "out of memory reading the agent's status");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			       JSON_TOKENER_VALIDATE_UTF8);
	/* With its NUL: the tokener then knows the text ends there. */
	root = json_tokener_parse_ex(tok, text, len + 1);
	err = json_tokener_get_error(tok);
	/* Past the NUL when the tokener took it (the text ended early). */
	at = json_tokener_get_parse_end(tok);
	at = at < len ? at : len;
	json_tokener_free(tok);
	if (!root)
		sw_fail(e, -EINVAL, "the agent's status: JSON offset %zu (%s%.12s%s): "
			"%s", at, at < len ? "at '" : "the end", text + at,
			at < len ? "'" : "", json_tokener_error_desc(err));
	return root;
}

/* A member of a given type, or NULL (missing, another type). */
static json_object *member(json_object *o, const char *key,
			   enum json_type type)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, type) ? v : NULL;
}

static void copy_string(char *dst, size_t len, json_object *o,
			const char *key)
{
	json_object *v = member(o, key, json_type_string);

	snprintf(dst, len, "%s", v ? json_object_get_string(v) : "");
}

/* A counter or limit: a whole number, 0 when missing or of another type. */
static __u64 get_uint(json_object *o, const char *key)
{
	json_object *v = member(o, key, json_type_int);

	return v ? json_object_get_uint64(v) : 0;
}

int sw_top_sample_parse(const char *json, double at, struct sw_top_sample *s,
			struct sw_error *e)
{
	json_object *root = parse_json(json, e), *svcs, *rems, *m, *b;
	int i;

	memset(s, 0, sizeof(*s));
	if (!root)
		return -EINVAL;
	svcs = member(root, "services", json_type_array);
	rems = member(root, "remotes", json_type_array);
	if (!svcs || !rems) {
		json_object_put(root);
		return sw_fail(e, -EINVAL, "the agent's status has no services "
			       "or remotes array (another version?)");
	}
	s->at = at;
	copy_string(s->cluster, sizeof(s->cluster), root, "cluster");
	s->n_services = json_object_array_length(svcs);
	s->n_remotes = json_object_array_length(rems);
	s->services = calloc(s->n_services + 1, sizeof(*s->services));
	s->remotes = calloc(s->n_remotes + 1, sizeof(*s->remotes));
	if (!s->services || !s->remotes) {
		json_object_put(root);
		sw_top_sample_free(s);
		return sw_fail(e, -ENOMEM, "out of memory");
	}
	for (i = 0; i < s->n_services; i++) {
		struct sw_top_service *t = &s->services[i];

		m = json_object_array_get_idx(svcs, i);
		copy_string(t->name, sizeof(t->name), m, "name");
		copy_string(t->state, sizeof(t->state), m, "state");
		t->max = get_uint(m, "max_connections");
		t->resume = get_uint(m, "resume_below");
		t->local = get_uint(m, "active_local");
		t->remote = get_uint(m, "active_remote");
		t->local_total = get_uint(m, "local_total");
		t->overflowed_total = get_uint(m, "overflowed_total");
		t->unavailable_total = get_uint(m, "overflow_unavailable_total");
	}
	for (i = 0; i < s->n_remotes; i++) {
		struct sw_top_remote *r = &s->remotes[i];

		m = json_object_array_get_idx(rems, i);
		copy_string(r->name, sizeof(r->name), m, "name");
		copy_string(r->gateway, sizeof(r->gateway), m, "gateway");
		b = member(m, "healthy", json_type_boolean);
		r->healthy = b && json_object_get_boolean(b);
	}
	json_object_put(root);
	return 0;
}

void sw_top_sample_free(struct sw_top_sample *s)
{
	free(s->services);
	free(s->remotes);
	memset(s, 0, sizeof(*s));
}

/* ---- drawing a frame ------------------------------------------------------- */

static const struct sw_top_service *find_service(const struct sw_top_sample *s,
						 const char *name)
{
	for (int i = 0; s && i < s->n_services; i++)
		if (!strcmp(s->services[i].name, name))
			return &s->services[i];
	return NULL;
}

/* One line of a frame, built cell by cell. */
struct line {
	char text[1024];
	size_t len;
};

static void __attribute__((format(printf, 2, 3)))
add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(l->text + l->len, sizeof(l->text) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len = l->len + n < sizeof(l->text) ? l->len + n :
			 sizeof(l->text) - 1;
}

/*
 * Each line of text, cut at width columns (0: no limit): a terminal wraps
 * a longer line, which tears the frame. Names are ASCII (DNS names), so a
 * byte is a column.
 */
static void emit(FILE *out, const char *text, int width)
{
	for (const char *nl; *text; text = *nl ? nl + 1 : nl) {
		int len;

		nl = text + strcspn(text, "\n");
		len = nl - text;
		fprintf(out, "%.*s\n", width && len > width ? width : len, text);
	}
}

static void emit_line(FILE *out, struct line *l, int width)
{
	emit(out, l->text, width);
	l->len = 0;
	l->text[0] = '\0';
}

/* A counter's rate between two samples, "-" when unknown or it went back
 * (the service was removed and added again). */
static void rate(struct line *l, __u64 before, __u64 now, double dt, bool known)
{
	if (!known || dt <= 0 || now < before)
		add(l, " %8s", "-");
	else
		add(l, " %8.1f", (now - before) / dt);
}

static void bar(struct line *l, __u64 n, __u64 max)
{
	int fill = max ? (int)((n >= max ? max : n) * BAR_WIDTH / max) : 0;

	add(l, "  [");
	for (int i = 0; i < BAR_WIDTH; i++)
		add(l, "%c", i < fill ? '#' : '.');
	add(l, "]");
}

static void name_cell(struct line *l, const char *name, int w)
{
	if ((int)strlen(name) <= w)
		add(l, "%-*s", w, name);
	else
		add(l, "%.*s...", w - 3, name);
}

static void service_cell(struct line *l, enum column c,
			 const struct sw_top_service *s,
			 const struct sw_top_service *p, double dt)
{
	switch (c) {
	case COL_MAX:
		add(l, " %7llu", (unsigned long long)s->max);
		break;
	case COL_BAR:
		bar(l, s->local, s->max);
		break;
	case COL_LOCAL:
		add(l, "  %7llu", (unsigned long long)s->local);
		break;
	case COL_REMOTE:
		add(l, " %8llu", (unsigned long long)s->remote);
		break;
	case COL_LOCAL_RATE:
		rate(l, p ? p->local_total : 0, s->local_total, dt, p);
		break;
	case COL_SPILL_RATE:
		rate(l, p ? p->overflowed_total : 0, s->overflowed_total, dt, p);
		break;
	case COL_KEPT_RATE:
		rate(l, p ? p->unavailable_total : 0, s->unavailable_total, dt, p);
		break;
	case COL_STATE:
	case N_COLUMNS:
		add(l, "  %s", s->state);
		break;
	}
}

static void header_cell(struct line *l, enum column c)
{
	int w = columns[c].width;

	if (c == COL_BAR)
		add(l, "  %-*s", w - 2, columns[c].head);
	else if (c == COL_STATE)
		add(l, "  %s", columns[c].head);
	else
		add(l, "%*s", w, columns[c].head);
}

/*
 * The columns that fit width (0: all) and the name's width: columns go in
 * drop_order while the line would not fit with the name at NAME_KEEP; the
 * name then takes what is left, up to its length.
 */
static unsigned int fit_columns(const struct sw_top_sample *cur, int width,
				int *name_w)
{
	unsigned int shown = (1u << N_COLUMNS) - 1;
	int w = NAME_MIN, fixed = 0, state = STATE_MIN;

	for (int i = 0; i < cur->n_services; i++) {
		int len = strlen(cur->services[i].name);
		int slen = strlen(cur->services[i].state);

		w = len > w ? len : w;
		state = slen > state ? slen : state;
	}
	w = w < NAME_MAX_SHOWN ? w : NAME_MAX_SHOWN;
	for (int c = 0; c < N_COLUMNS; c++)
		fixed += columns[c].width;
	fixed += state;
	for (size_t k = 0; width && k < ARRAY_SIZE(drop_order) &&
	     fixed + (w < NAME_KEEP ? w : NAME_KEEP) > width; k++) {
		shown &= ~(1u << drop_order[k]);
		fixed -= columns[drop_order[k]].width;
	}
	if (width && w > width - fixed)
		w = width - fixed > NAME_MIN ? width - fixed : NAME_MIN;
	*name_w = w;
	return shown;
}

void sw_top_render(FILE *out, const char *title, const struct sw_top_sample *prev,
		   const struct sw_top_sample *cur, int width)
{
	double dt = prev ? cur->at - prev->at : 0;
	int w, gw = strlen("GATEWAY");
	unsigned int shown = fit_columns(cur, width, &w);
	static const char *const down = "NO: new connections stay local";
	struct line l = {};

	if (title)
		emit(out, title, width);
	fputc('\n', out);
	if (!cur->n_services) {
		emit(out, "no services (a gateway-only agent?)", width);
	} else {
		add(&l, "%-*s", w, "SERVICE");
		for (int c = 0; c < N_COLUMNS; c++)
			if (shown & (1u << c))
				header_cell(&l, c);
		emit_line(out, &l, width);
	}
	for (int i = 0; i < cur->n_services; i++) {
		const struct sw_top_service *s = &cur->services[i];
		const struct sw_top_service *p = find_service(prev, s->name);

		name_cell(&l, s->name, w);
		for (int c = 0; c < N_COLUMNS; c++)
			if (shown & (1u << c))
				service_cell(&l, c, s, p, dt);
		emit_line(out, &l, width);
	}
	if (!cur->n_remotes)
		return;
	for (int i = 0; i < cur->n_remotes; i++) {
		int len = strlen(cur->remotes[i].gateway);

		gw = len > gw ? len : gw;
	}
	fputc('\n', out);
	add(&l, "%-*s %-*s %s", w, "REMOTE", gw, "GATEWAY", "HEALTHY");
	emit_line(out, &l, width);
	for (int i = 0; i < cur->n_remotes; i++) {
		name_cell(&l, cur->remotes[i].name, w);
		add(&l, " %-*s ", gw, cur->remotes[i].gateway);
		/* Not healthy, on a narrow terminal: NO rather than a cut. */
		add(&l, "%s", cur->remotes[i].healthy ? "yes" :
		    !width || (int)(l.len + strlen(down)) <= width ? down : "NO");
		emit_line(out, &l, width);
	}
}

/* ---- the loop --------------------------------------------------------------- */

static volatile sig_atomic_t stop, resized;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int take_sample(const char *socket, struct sw_top_sample *s,
		       struct sw_error *e)
{
	char *argv[] = { "status", "--json", NULL }, *body;
	enum sw_rpc_status status;
	int err;

	if (sw_rpc_call(socket, 2, argv, &status, &body, e))
		return -EIO;
	if (status != SW_RPC_OK) {
		body[strcspn(body, "\n")] = '\0';
		err = sw_fail(e, -EIO, "the agent at %s: %s", socket, body);
	} else {
		err = sw_top_sample_parse(body, now_s(), s, e);
	}
	free(body);
	return err;
}

struct screen {
	bool tty;
	struct termios saved;
};

/* Interactive: keys without Enter or echo (Ctrl-C still a signal), the
 * alternate screen, no cursor. Undone by screen_leave. */
static void screen_enter(struct screen *sc)
{
	struct termios raw;

	if (!sc->tty || tcgetattr(STDIN_FILENO, &sc->saved)) {
		sc->tty = false;
		return;
	}
	raw = sc->saved;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	fputs("\033[?1049h\033[?25l", stdout);
}

static void screen_leave(struct screen *sc)
{
	if (!sc->tty)
		return;
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSANOW, &sc->saved);
}

/* The terminal's size; 0 x 0 when not on one (no limit). */
static void screen_size(const struct screen *sc, int *cols, int *rows)
{
	struct winsize ws;

	*cols = *rows = 0;
	if (!sc->tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws))
		return;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; (s = strchr(s, '\n')); s++)
		n++;
	return n;
}

/* Draw a frame: over the last one on a terminal, after it otherwise. */
static void draw(const struct screen *sc, const struct sw_top_opts *o,
		 const struct sw_top_sample *prev, const struct sw_top_sample *cur,
		 const char *problem)
{
	char title[1024], clock[16], *frame = NULL;
	time_t t = time(NULL);
	int cols, rows, lines, shown, n;
	size_t len = 0;
	FILE *f;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&t));
	n = snprintf(title, sizeof(title), "spillway top - cluster %s - %s - %s - "
		     "every %.1fs%s", cur->cluster, o->socket, clock,
		     o->interval_ms / 1000.0, sc->tty ? " - q quits" : "");
	if (problem && n > 0 && (size_t)n < sizeof(title))
		snprintf(title + n, sizeof(title) - n, "\n! %s (showing the last "
			 "good sample)", problem);
	f = open_memstream(&frame, &len);
	if (!f)
		return;
	screen_size(sc, &cols, &rows);
	sw_top_render(f, title, prev, cur, cols);
	fclose(f);
	if (!sc->tty) {
		printf("%s\n", frame);
	} else {
		/* Taller than the terminal: what fits, and say what does not
		 * (scrolling would tear every frame). */
		lines = count_lines(frame);
		shown = rows > 1 && lines > rows ? rows - 1 : lines;
		fputs("\033[H", stdout);
		/* Each line clears what the last frame left right of it. */
		for (char *line = frame, *nl; shown-- > 0 &&
		     (nl = strchr(line, '\n')); line = nl + 1)
			printf("%.*s\033[K\n", (int)(nl - line), line);
		if (rows > 1 && lines > rows) {
			n = snprintf(title, sizeof(title), "... %d more lines: a "
				     "taller terminal, or 'spillway status'",
				     lines - rows + 1);
			printf("%.*s\033[K", n < cols ? n : cols, title);
		}
		fputs("\033[J", stdout);
	}
	fflush(stdout);
	free(frame);
}

/* Wait until the deadline, a key or a signal; true if q was pressed. */
static bool wait_key(const struct screen *sc, double deadline)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	double left = deadline - now_s();
	char keys[32];
	ssize_t n;

	if (left <= 0)
		return false;
	if (poll(&p, sc->tty ? 1 : 0, (int)(left * 1000) + 1) != 1)
		return false;
	n = read(STDIN_FILENO, keys, sizeof(keys));
	return n > 0 && (memchr(keys, 'q', n) || memchr(keys, 'Q', n));
}

int sw_top_run(const struct sw_top_opts *o, struct sw_error *e)
{
	struct sw_top_sample prev = {}, cur = {}, next;
	struct screen sc = { .tty = !o->batch && isatty(STDIN_FILENO) &&
				     isatty(STDOUT_FILENO) };
	struct sigaction sa = { .sa_handler = on_stop }, wa = { .sa_handler = on_winch };
	bool have_prev = false, problem = false;
	unsigned long frames = 0;
	double deadline;

	if (take_sample(o->socket, &cur, e))
		return -EIO;
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &wa, NULL);
	screen_enter(&sc);
	deadline = now_s();
	while (!stop) {
		if (now_s() >= deadline) {
			if (frames) {
				problem = take_sample(o->socket, &next, e) != 0;
				if (!problem) {
					sw_top_sample_free(&prev);
					prev = cur;
					cur = next;
					have_prev = true;
				}
			}
			draw(&sc, o, have_prev ? &prev : NULL, &cur,
			     problem ? e->msg : NULL);
			if (++frames == o->iterations)
				break;
			/* Keep the beat; a slow agent makes it skip, not race. */
			deadline += o->interval_ms / 1000.0;
			if (deadline < now_s())
				deadline = now_s() + o->interval_ms / 1000.0;
		} else if (resized) {
			draw(&sc, o, have_prev ? &prev : NULL, &cur,
			     problem ? e->msg : NULL);
		}
		resized = 0;
		if (wait_key(&sc, deadline))
			break;
	}
	screen_leave(&sc);
	sw_top_sample_free(&prev);
	sw_top_sample_free(&cur);
	return 0;
}
