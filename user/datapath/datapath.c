// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/abi.h"
#include "spillway/defaults.h"
#include "spillway.skel.h"
#include "lib/util.h"
#include "datapath/datapath.h"
#include "datapath/probe.h"
#include "datapath/upgrade.h"

#define LINKS_DIR "links"

/* A libbpf call whose failure is expected and handled: no warning printed. */
#define QUIETLY(call)                                                        \
	({                                                                   \
		libbpf_print_fn_t _print = libbpf_set_print(NULL);           \
		int _ret = (call);                                           \
		libbpf_set_print(_print);                                    \
		_ret;                                                        \
	})

static bool libbpf_verbose;

/*
 * libbpf's messages during one load, kept so that a failure can be told in
 * one line (the program and the verifier's reason) instead of a verifier
 * log of hundreds of lines; the whole of it goes to stderr with --debug.
 */
static struct {
	char *buf;
	size_t len, cap;
	bool on;
} captured;

static void capture(const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		return;
	if (captured.len + n + 1 > captured.cap) {
		size_t cap = (captured.len + n + 1) * 2;
		char *buf = realloc(captured.buf, cap);

		if (!buf)
			return;
		captured.buf = buf;
		captured.cap = cap;
	}
	vsnprintf(captured.buf + captured.len, n + 1, fmt, ap);
	captured.len += n;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	if (captured.on) {
		capture(fmt, ap);
		return 0;
	}
	return vfprintf(stderr, fmt, ap);
}

void sw_libbpf_log_init(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_log);
}

static void capture_start(void)
{
	captured.len = 0;
	captured.on = true;
}

/* Stop capturing; show what was kept, or drop it. */
static void capture_stop(bool show)
{
	captured.on = false;
	if (show && captured.len)
		fwrite(captured.buf, 1, captured.len, stderr);
	free(captured.buf);
	memset(&captured, 0, sizeof(captured));
}

/* Where the line of text that holds p starts. */
static const char *line_start(const char *text, const char *p)
{
	while (p > text && p[-1] != '\n')
		p--;
	return p;
}

/* The line of text that holds p, copied into out. */
static void line_at(const char *text, const char *p, char *out, size_t len)
{
	const char *start = line_start(text, p), *end = strchr(p, '\n');

	if (!end)
		end = p + strlen(p);
	snprintf(out, len, "%.*s", (int)(end - start), start);
}

/*
 * The verifier's reason in a program's load log: its last line that is not
 * one of the summary lines the verifier adds after it.
 */
static void verifier_reason(const char *log, char *out, size_t len)
{
	static const char *const summary[] = {
		"processed ", "verification time", "stack depth", "-- END",
		"Validating", "libbpf:",
	};
	const char *end = strstr(log, "-- END PROG LOAD LOG --");
	const char *p;

	out[0] = '\0';
	if (!end)
		return;
	for (p = end; p > log;) {
		const char *start = line_start(log, p - 1);
		bool skip = false;

		for (size_t i = 0; i < ARRAY_SIZE(summary); i++)
			skip |= !strncmp(start, summary[i], strlen(summary[i]));
		if (!skip && p - start > 1) {
			snprintf(out, len, "%.*s", (int)(p - 1 - start), start);
			return;
		}
		p = start;
	}
}

/*
 * Why a load failed, from libbpf's messages: the program the verifier
 * refused and its reason, or the pinned map that does not match (the one
 * case where 'spillway down' is the fix), or libbpf's last word.
 */
static int load_failed(int err, const char *dir, struct sw_error *e)
{
	const char *log = captured.buf ? captured.buf : "";
	char prog[64] = "", reason[256], line[512];
	const char *p;

	p = strstr(log, "couldn't reuse pinned map at '");
	if (p) {
		line_at(log, p, line, sizeof(line));
		return sw_fail(e, err, "loading the datapath into the kernel "
			       "failed: %s; the maps pinned in %s were made by "
			       "another build: run 'spillway down --pin-dir %s' "
			       "(tracked flows are lost), or use another "
			       "--pin-dir", line, dir, dir);
	}
	p = strstr(log, "BPF program load failed");
	if (p) {
		/* libbpf: prog 'NAME': BPF program load failed: ... */
		for (const char *q = log; (q = strstr(q, "prog '")) && q < p; q++)
			sscanf(q, "prog '%63[^']'", prog);
		verifier_reason(p, reason, sizeof(reason));
		return sw_fail(e, err, "loading the datapath into the kernel "
			       "failed: the kernel refused program %s: %s "
			       "(%s; the whole verifier log: run with --debug, "
			       "and 'spillway check --kernel' lists what this "
			       "kernel offers)", prog[0] ? prog : "?",
			       reason[0] ? reason : "no reason given",
			       strerror(-err));
	}
	p = log + strlen(log);
	while (p > log && p[-1] == '\n')
		p--;
	line_at(log, p > log ? p - 1 : log, line, sizeof(line));
	return sw_fail(e, err, "loading the datapath into the kernel failed: "
		       "%s%s%s", strerror(-err), line[0] ? "; libbpf: " : "",
		       line);
}

/*
 * Load an opened skeleton (which also maps its .bss, so that skel->bss is
 * the kernel's), with libbpf's messages held back for the error.
 */
static int load_skeleton(struct spillway_bpf *skel, const char *dir,
			 struct sw_error *e)
{
	int err;

	capture_start();
	err = spillway_bpf__load(skel);
	if (err)
		err = load_failed(err, dir, e);
	/* A failure is told in e; its whole log with --debug. */
	capture_stop(!err || libbpf_verbose);
	return err;
}

const char *sw_handoff_name(enum sw_handoff h)
{
	switch (h) {
	case SW_HANDOFF_METADATA:
		return "metadata";
	case SW_HANDOFF_FLOW_TABLE:
		return "flow-table";
	default:
		return "auto";
	}
}

void sw_datapath_opts_init(struct sw_datapath_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pin_dir = SW_DEFAULT_PIN_DIR;
	o->steer_mark = SW_DEFAULT_STEER_MARK;
	o->bypass_mark = SW_DEFAULT_BYPASS_MARK;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static int not_bpffs(struct sw_error *e, const char *dir)
{
	return sw_fail(e, -ENOTSUP,
		       "pin directory %s is not on a BPF filesystem: mount one "
		       "with 'mount -t bpf bpf /sys/fs/bpf'; if spillway was "
		       "started with 'ip netns exec', start it with "
		       "'nsenter --net=/run/netns/NAME' instead ('ip netns exec' "
		       "remounts /sys and hides the host's bpffs)", dir);
}

/*
 * Create dir (one level) on bpffs, or check the existing one is there;
 * *created: this call made it.
 */
static int make_pin_dir(const char *dir, bool *created, struct sw_error *e)
{
	char parent[PATH_MAX];
	char *slash;

	if (exists(dir))
		return on_bpffs(dir) ? 0 : not_bpffs(e, dir);
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	if (!on_bpffs(parent))
		return not_bpffs(e, dir);
	if (mkdir(dir, 0700)) {
		if (errno != EEXIST)
			return sw_fail(e, -errno, "cannot create pin directory "
				       "%s: %s", dir, strerror(errno));
		return 0;
	}
	*created = true;
	return 0;
}

void sw_pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		buf[0] = '\0';
}

static int pin_dir_ok(const char *dir, struct sw_error *e)
{
	if (strlen(dir) >= SW_PIN_DIR_MAX || dir[0] != '/')
		return sw_fail(e, -EINVAL,
			       "pin directory '%s' must be an absolute path "
			       "shorter than %d characters", dir, SW_PIN_DIR_MAX);
	return 0;
}

static int open_pinned(const char *path, struct sw_error *e)
{
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return sw_fail(e, -errno, "cannot open pinned map %s: %s", path,
			       strerror(errno));
	return fd;
}

/*
 * The layout version of the maps pinned in dir (0: none pinned). Maps of
 * this build's version are adopted, maps of a version user/upgrade.c knows
 * are upgraded, any other is refused; a directory with our map names but no
 * version was not made by us.
 */
static int check_layout(const char *dir, __u32 *version, struct sw_error *e)
{
	struct sw_layout lay = {};
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err;

	*version = 0;
	sw_pin_path(path, sizeof(path), dir, "layout");
	if (!exists(path)) {
		sw_pin_path(path, sizeof(path), dir, "services");
		if (exists(path))
			return sw_fail(e, -EEXIST,
				       "%s holds spillway maps without a layout "
				       "version; remove them with 'spillway down "
				       "--pin-dir %s' (tracked flows are lost)",
				       dir, dir);
		return 0;
	}
	fd = open_pinned(path, e);
	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &zero, &lay);
	close(fd);
	if (err)
		return sw_fail(e, -errno, "cannot read %s: %s", path,
			       strerror(errno));
	if (lay.version != SW_LAYOUT_VERSION && !sw_upgrade_known(lay.version))
		return sw_fail(e, -EPROTO,
			       "maps pinned in %s have layout version %u, this "
			       "spillway uses version %u and cannot upgrade "
			       "from it: stop the other version and run "
			       "'spillway down --pin-dir %s' (tracked flows are "
			       "lost), or use another --pin-dir", dir,
			       lay.version, SW_LAYOUT_VERSION, dir);
	*version = lay.version;
	return 0;
}

/* The flow table keeps the capacity it was created with. */
static int choose_flow_capacity(const char *dir, __u32 wanted, __u32 *out,
				struct sw_error *e)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	*out = wanted ? wanted : SW_DEFAULT_FLOW_CAPACITY;
	sw_pin_path(path, sizeof(path), dir, "flows");
	if (!exists(path))
		return 0;
	fd = open_pinned(path, e);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return sw_fail(e, -errno, "cannot inspect %s: %s", path,
			       strerror(errno));
	if (wanted && wanted != info.max_entries)
		return sw_fail(e, -EINVAL,
			       "flow capacity %u was asked for, but the flow "
			       "table pinned at %s holds %u: keep %u, or run "
			       "'spillway down --pin-dir %s' first (tracked "
			       "flows are lost)", wanted, path,
			       info.max_entries, info.max_entries, dir);
	*out = info.max_entries;
	return 0;
}

static int write_layout(struct sw_datapath *dp, struct sw_error *e)
{
	struct sw_layout lay = { .version = SW_LAYOUT_VERSION };
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.layout), &zero,
				&lay, BPF_ANY))
		return sw_fail(e, -errno, "cannot write the layout version: %s",
			       strerror(errno));
	return 0;
}

/* Load-time settings (bpf/config.h), the same in every object loaded. */
static void set_rodata(struct spillway_bpf *skel,
		       const struct sw_datapath_opts *o)
{
	skel->rodata->steer_mark = o->steer_mark;
	skel->rodata->bypass_mark = o->bypass_mark;
}

/* XDP mode's two programs; every other program is the core's. */
static bool is_xdp_mode_program(const struct spillway_bpf *skel,
				const struct bpf_program *prog)
{
	return prog == skel->progs.spill_xdp ||
	       prog == skel->progs.spill_tc_steer;
}

/* Load only the core's programs, or only XDP mode's. */
static void choose_programs(struct spillway_bpf *skel, bool xdp_mode)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, is_xdp_mode_program(skel, prog) ==
						xdp_mode);
}

/* Check what is pinned in dir, then load (and pin) the datapath there. */
static int load(struct sw_datapath *dp, const struct sw_datapath_opts *o,
		const char *dir, struct sw_error *e)
{
	__u32 capacity, version;
	int err;

	err = check_layout(dir, &version, e);
	if (!err)
		err = choose_flow_capacity(dir, o->flow_capacity, &capacity, e);
	if (err)
		return err;
	dp->adopted = version != 0;

	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = dir);
	dp->skel = spillway_bpf__open_opts(&open_opts);
	if (!dp->skel)
		return sw_fail(e, -errno, "cannot open the BPF object: %s",
			       strerror(errno));
	bpf_map__set_max_entries(dp->skel->maps.flows, capacity);
	set_rodata(dp->skel, o);
	choose_programs(dp->skel, false);
	if (version && version != SW_LAYOUT_VERSION) {
		err = sw_upgrade_begin(dp, version, &dp->upgrade, e);
		if (err) {
			sw_datapath_close(dp);
			return err;
		}
	}

	err = load_skeleton(dp->skel, dir, e);
	if (err) {
		sw_datapath_close(dp);
		return err;
	}
	/* An upgrade writes the new version when it is done. */
	err = dp->upgrade ? sw_upgrade_copy(dp->upgrade, dp, e) :
			    write_layout(dp, e);
	if (err)
		sw_datapath_close(dp);
	return err;
}

/*
 * A second instance of the object for XDP mode's programs. It shares the
 * core's maps by file descriptor, not by pin: while an upgrade is under way
 * the core's services map is not the one pinned yet.
 */
static int share_maps(struct spillway_bpf *from, struct spillway_bpf *to,
		      struct sw_error *e)
{
	struct bpf_map *m;
	int err;

	bpf_object__for_each_map(m, to->obj) {
		struct bpf_map *src;

		if (bpf_map__is_internal(m))
			continue;	/* .rodata, .bss: the instance's own */
		src = bpf_object__find_map_by_name(from->obj, bpf_map__name(m));
		err = src ? bpf_map__set_pin_path(m, NULL) : -ENOENT;
		if (!err)
			err = bpf_map__reuse_fd(m, bpf_map__fd(src));
		if (err)
			return sw_fail(e, err, "cannot share map %s with XDP "
				       "mode's programs: %s", bpf_map__name(m),
				       strerror(-err));
	}
	return 0;
}

static enum sw_handoff resolve_handoff(enum sw_handoff wanted)
{
	if (wanted != SW_HANDOFF_AUTO)
		return wanted;
	return sw_probe(SW_FEATURE_XDP_META) == SW_PRESENT ?
		       SW_HANDOFF_METADATA : SW_HANDOFF_FLOW_TABLE;
}

int sw_datapath_load_xdp(struct sw_datapath *dp, struct sw_error *e)
{
	enum sw_handoff handoff = resolve_handoff(dp->opts.handoff);
	struct spillway_bpf *x;
	int err;

	if (dp->xdp)
		return 0;
	x = spillway_bpf__open();
	if (!x)
		return sw_fail(e, -errno, "cannot open the BPF object: %s",
			       strerror(errno));
	set_rodata(x, &dp->opts);
	x->rodata->xdp_meta = handoff == SW_HANDOFF_METADATA;
	choose_programs(x, true);
	err = share_maps(dp->skel, x, e);
	if (!err)
		err = load_skeleton(x, dp->pin_dir, e);
	if (err) {
		spillway_bpf__destroy(x);
		return sw_prefix(e, err, "XDP mode (attach: xdp): ");
	}
	x->bss->node_ports = dp->skel->bss->node_ports;
	dp->xdp = x;
	dp->handoff = handoff;
	return 0;
}

void sw_datapath_node_ports(struct sw_datapath *dp, bool on)
{
	dp->skel->bss->node_ports = on;
	if (dp->xdp)
		dp->xdp->bss->node_ports = on;
}

bool sw_datapath_meta_refused(const struct sw_datapath *dp)
{
	return dp->xdp && dp->xdp->bss->xdp_meta_refused;
}

int sw_datapath_finish_upgrade(struct sw_datapath *dp, struct sw_error *e)
{
	int err;

	if (!dp->upgrade)
		return 0;
	err = sw_upgrade_finish(dp->upgrade, dp, e);
	if (!err)
		err = write_layout(dp, e);
	if (!err) {
		sw_upgrade_free(dp->upgrade);
		dp->upgrade = NULL;
	}
	return err;
}

int sw_datapath_open(struct sw_datapath *dp, const struct sw_datapath_opts *o,
		     struct sw_error *e)
{
	const char *dir = o->pin_dir ? o->pin_dir : SW_DEFAULT_PIN_DIR;
	bool created = false;
	int err;

	memset(dp, 0, sizeof(*dp));
	err = pin_dir_ok(dir, e);
	if (err)
		return err;
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", dir);
	dp->opts = *o;
	dp->opts.pin_dir = dp->pin_dir;
	err = make_pin_dir(dir, &created, e);
	if (!err)
		err = load(dp, o, dir, e);
	/* A failed load pins nothing: leave no directory this call made. */
	if (err && created)
		rmdir(dir);
	return err;
}

void sw_datapath_close(struct sw_datapath *dp)
{
	bpf_link__destroy(dp->lookup);
	dp->lookup = NULL;
	spillway_bpf__destroy(dp->xdp);
	dp->xdp = NULL;
	spillway_bpf__destroy(dp->skel);
	dp->skel = NULL;
	sw_upgrade_free(dp->upgrade);
	dp->upgrade = NULL;
}

static int ifindex_of(const char *ifname, struct sw_error *e)
{
	unsigned int ifindex = if_nametoindex(ifname);

	if (!ifindex)
		return sw_fail(e, -ENODEV,
			       "no interface '%s' in this network namespace "
			       "(see 'ip link')", ifname);
	return ifindex;
}

/*
 * links/xdp-IFNAME. bpffs refuses '.' in names, which interface names may
 * hold (eth0.100); they never hold ':', so '.' -> ':' keeps names distinct.
 */
static void xdp_link_path(char *buf, size_t len, const char *dir,
			  const char *ifname)
{
	char *c;

	if (snprintf(buf, len, "%s/" LINKS_DIR "/xdp-%s", dir, ifname) >= (int)len)
		buf[0] = '\0';
	for (c = strrchr(buf, '/'); c && *c; c++)
		if (*c == '.')
			*c = ':';
}

static int tc_attach(int ifindex, const char *ifname,
		     enum bpf_tc_attach_point point, __u32 priority,
		     struct bpf_program *prog, struct sw_error *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SW_TC_HANDLE,
		    .priority = priority, .prog_fd = bpf_program__fd(prog),
		    .flags = BPF_TC_F_REPLACE);
	int err;

	err = QUIETLY(bpf_tc_hook_create(&hook));	/* EEXIST is usual */
	if (err && err != -EEXIST)
		return sw_fail(e, err, "cannot add a clsact qdisc to %s: %s",
			       ifname, strerror(-err));
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return sw_fail(e, err, "cannot attach %s to %s %s: %s",
			       bpf_program__name(prog), ifname,
			       point == BPF_TC_INGRESS ? "ingress" : "egress",
			       strerror(-err));
	return 0;
}

/* Remove our filter (by handle, priority and program name) if present. */
static int tc_detach(int ifindex, const char *ifname,
		     enum bpf_tc_attach_point point, __u32 priority,
		     struct sw_error *e)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SW_TC_HANDLE,
		    .priority = priority);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	/* Most interfaces have no clsact: nothing to remove there. */
	if (QUIETLY(bpf_tc_query(&hook, &opts)))
		return 0;
	/*
	 * An ID gives a file descriptor only with CAP_SYS_ADMIN, which the
	 * Kubernetes agent runs without: then the handle and priority, which
	 * are spillway's own, have to do.
	 */
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0 && errno != EPERM)
		return 0;
	if (fd >= 0) {
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (err || strncmp(info.name, "spill_", 6))
			return 0;
	}
	opts.prog_id = 0;
	opts.prog_fd = 0;
	opts.flags = 0;
	err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT)
		return sw_fail(e, err, "cannot detach %s from %s: %s",
			       info.name[0] ? info.name : "spillway's filter",
			       ifname, strerror(-err));
	return 0;
}

static int xdp_unpin(const char *path, struct sw_error *e);

static int xdp_attach(struct sw_datapath *dp, int ifindex, const char *ifname,
		      struct sw_error *e)
{
	struct bpf_program *prog = dp->xdp->progs.spill_xdp;
	char dir[PATH_MAX], path[PATH_MAX];
	struct bpf_link *link;
	int err;

	xdp_link_path(path, sizeof(path), dp->pin_dir, ifname);
	link = exists(path) ? bpf_link__open(path) : NULL;
	if (link) {
		/* Our link from an earlier run: swap the program in place. */
		err = bpf_link__update_program(link, prog);
		bpf_link__destroy(link);
		/*
		 * -ENOLINK: that interface was deleted (a pod's veth) and this
		 * is another of the same name: a fresh link replaces the pin.
		 */
		if (err != -ENOLINK)
			return err ? sw_fail(e, err, "cannot update the XDP "
					     "program on %s: %s", ifname,
					     strerror(-err)) : 0;
		err = xdp_unpin(path, e);
		if (err)
			return err;
	}
	link = bpf_program__attach_xdp(prog, ifindex);
	if (!link) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			return sw_fail(e, err,
				       "%s already has an XDP program that is "
				       "not spillway's: remove it, or attach "
				       "with mode tc", ifname);
		return sw_fail(e, err, "cannot attach XDP to %s: %s", ifname,
			       strerror(-err));
	}
	sw_pin_path(dir, sizeof(dir), dp->pin_dir, LINKS_DIR);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	err = bpf_link__pin(link, path);
out:
	if (err) {
		bpf_link__destroy(link);
		return sw_fail(e, err, "cannot pin the XDP link at %s: %s", path,
			       strerror(-err));
	}
	bpf_link__destroy(link);	/* the pin keeps it attached */
	return 0;
}

/* Detach and unpin one pinned XDP link (any namespace's interface). */
static int xdp_unpin(const char *path, struct sw_error *e)
{
	struct bpf_link *link;

	if (!exists(path))
		return 0;
	link = bpf_link__open(path);
	if (!link)
		return sw_fail(e, -errno, "cannot open the pinned link %s: %s",
			       path, strerror(errno));
	bpf_link__detach(link);
	bpf_link__destroy(link);
	if (unlink(path))
		return sw_fail(e, -errno, "cannot remove %s: %s", path,
			       strerror(errno));
	return 0;
}

static int xdp_detach(const char *pin_dir, const char *ifname,
		      struct sw_error *e)
{
	char path[PATH_MAX];

	xdp_link_path(path, sizeof(path), pin_dir, ifname);
	return xdp_unpin(path, e);
}

int sw_datapath_attach(struct sw_datapath *dp, const char *ifname,
		       enum sw_attach_mode mode, struct sw_error *e)
{
	struct spillway_bpf *s = dp->skel;
	int ifindex = ifindex_of(ifname, e);
	int err;

	if (ifindex < 0)
		return ifindex;
	/* Egress first: replies are tracked before any flow can be opened. */
	err = tc_attach(ifindex, ifname, BPF_TC_EGRESS, SW_TC_PRIORITY,
			s->progs.spill_tc_out, e);
	if (err)
		return err;
	if (mode == SW_ATTACH_XDP) {
		err = sw_datapath_load_xdp(dp, e);
		/* The TC half first, so no decision is ever dropped. */
		if (!err)
			err = tc_attach(ifindex, ifname, BPF_TC_INGRESS,
					SW_TC_PRIORITY,
					dp->xdp->progs.spill_tc_steer, e);
		return err ? err : xdp_attach(dp, ifindex, ifname, e);
	}
	err = tc_attach(ifindex, ifname, BPF_TC_INGRESS, SW_TC_PRIORITY,
			s->progs.spill_tc_in, e);
	return err ? err : xdp_detach(dp->pin_dir, ifname, e);
}

int sw_datapath_attach_bridge(struct sw_datapath *dp, int ifindex,
			      struct sw_error *e)
{
	char name[IF_NAMESIZE];

	if (!if_indextoname(ifindex, name))
		return sw_fail(e, -errno, "no bridge with index %d in this "
			       "network namespace: %s", ifindex,
			       strerror(errno));
	return tc_attach(ifindex, name, BPF_TC_INGRESS, SW_TC_BRIDGE_PRIORITY,
			 dp->skel->progs.spill_tc_bridge, e);
}

int sw_detach(const char *pin_dir, const char *ifname, struct sw_error *e)
{
	unsigned int ifindex = if_nametoindex(ifname);
	int err = pin_dir_ok(pin_dir, e);

	if (!err)
		err = xdp_detach(pin_dir, ifname, e);
	if (err || !ifindex)
		return err;
	err = tc_detach(ifindex, ifname, BPF_TC_INGRESS, SW_TC_PRIORITY, e);
	return err ? err : tc_detach(ifindex, ifname, BPF_TC_EGRESS,
				     SW_TC_PRIORITY, e);
}

/*
 * Unpin every map the object defines (the names come from the object), and
 * those an unfinished upgrade left in SW_UPGRADE_DIR.
 */
static int unpin_maps(const char *dir, struct sw_error *e)
{
	struct spillway_bpf *skel = spillway_bpf__open();
	char path[PATH_MAX], up_dir[PATH_MAX];
	const char *dirs[] = { dir, up_dir };
	struct bpf_map *map;
	int err = 0;

	if (!skel)
		return sw_fail(e, -errno, "cannot open the BPF object: %s",
			       strerror(errno));
	sw_pin_path(up_dir, sizeof(up_dir), dir, SW_UPGRADE_DIR);
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		for (int i = 0; i < 2 && !err; i++) {
			sw_pin_path(path, sizeof(path), dirs[i],
				    bpf_map__name(map));
			if (unlink(path) && errno != ENOENT)
				err = sw_fail(e, -errno, "cannot remove %s: %s",
					      path, strerror(errno));
		}
	}
	spillway_bpf__destroy(skel);
	if (!err && rmdir(up_dir) && errno != ENOENT)
		err = sw_fail(e, -errno, "cannot remove %s: %s", up_dir,
			      strerror(errno));
	return err;
}

static int unpin_links(const char *pin_dir, struct sw_error *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	DIR *dh;
	int err = 0;

	sw_pin_path(dir, sizeof(dir), pin_dir, LINKS_DIR);
	dh = opendir(dir);
	if (!dh)
		return 0;
	while (!err && (d = readdir(dh))) {
		if (d->d_name[0] == '.')
			continue;
		sw_pin_path(path, sizeof(path), dir, d->d_name);
		err = xdp_unpin(path, e);
	}
	closedir(dh);
	if (!err && rmdir(dir))
		err = sw_fail(e, -errno, "cannot remove %s: %s", dir,
			      strerror(errno));
	return err;
}

int sw_down(const char *pin_dir, struct sw_error *e)
{
	struct if_nameindex *ifs, *i;
	int err = pin_dir_ok(pin_dir, e);

	if (err)
		return err;
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index && !err; i++) {
		err = tc_detach(i->if_index, i->if_name, BPF_TC_INGRESS,
				SW_TC_PRIORITY, e);
		if (!err)
			err = tc_detach(i->if_index, i->if_name, BPF_TC_EGRESS,
					SW_TC_PRIORITY, e);
		if (!err)
			err = tc_detach(i->if_index, i->if_name, BPF_TC_INGRESS,
					SW_TC_BRIDGE_PRIORITY, e);
	}
	if (ifs)
		if_freenameindex(ifs);
	if (err || !exists(pin_dir))
		return err;
	err = unpin_links(pin_dir, e);
	if (!err)
		err = unpin_maps(pin_dir, e);
	if (err)
		return err;
	if (rmdir(pin_dir))
		return sw_fail(e, -errno,
			       "cannot remove %s: %s (it holds files spillway "
			       "did not create)", pin_dir, strerror(errno));
	return 0;
}
