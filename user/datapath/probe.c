// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "spillway/defaults.h"
#include "lib/json.h"
#include "lib/netlink.h"
#include "lib/util.h"
#include "datapath/probe.h"

static const struct sw_feature_info features[SW_FEATURE_COUNT] = {
	[SW_FEATURE_BTF] = {
		"BTF (/sys/kernel/btf/vmlinux)", "5.4", false,
		"the datapath cannot load: CO-RE relocates it against the "
		"kernel's BTF (CONFIG_DEBUG_INFO_BTF=y)" },
	[SW_FEATURE_BPFFS] = {
		"bpffs on /sys/fs/bpf", "4.4", false,
		"nothing can be pinned, so flows would not outlive the agent: "
		"it refuses to start ('mount -t bpf bpf /sys/fs/bpf')" },
	[SW_FEATURE_SYSCALL_PROG] = {
		"BPF_PROG_TYPE_SYSCALL", "5.14", false,
		"the datapath cannot load: spill_ctl changes services and "
		"expires flows atomically with the packets" },
	[SW_FEATURE_ATOMIC_FETCH] = {
		"atomics with fetch", "5.12", false,
		"the datapath cannot load: a slot is reserved with one "
		"fetch-and-add, and flow states change by compare-and-swap" },
	[SW_FEATURE_KTIME_COARSE] = {
		"bpf_ktime_get_coarse_ns", "5.11", false,
		"the datapath cannot load: flows are stamped with it" },
	[SW_FEATURE_SKC_LOOKUP] = {
		"bpf_skc_lookup_tcp (TC)", "5.2", false,
		"the datapath cannot load: steering finds the endpoint's "
		"half-open and established sockets with it" },
	[SW_FEATURE_SK_ASSIGN] = {
		"bpf_sk_assign (TC)", "5.7", false,
		"the datapath cannot load: it is how a spilled connection "
		"reaches the tunnel endpoint" },
	[SW_FEATURE_SK_LOOKUP_PROG] = {
		"BPF_PROG_TYPE_SK_LOOKUP", "5.9", false,
		"the datapath cannot load: spill_sk_lookup gives the endpoint "
		"a spilled connection's SYN that finds its port in TIME_WAIT" },
	[SW_FEATURE_CLSACT] = {
		"clsact qdisc (sch_ingress)", "4.5", false,
		"nothing can attach: load the sch_ingress and cls_bpf modules",
		true },
	[SW_FEATURE_XDP_SK_LOOKUP] = {
		"bpf_sk_lookup_tcp (XDP)", "5.2", true,
		"attach: xdp cannot load; use attach: tc" },
	[SW_FEATURE_XDP_LINK] = {
		"XDP links", "5.9", true,
		"attach: xdp cannot attach; use attach: tc", true },
	[SW_FEATURE_XDP_META] = {
		"XDP metadata (bpf_xdp_adjust_meta)", "4.15", true,
		"spill_tc_steer reads each decision from the flow table: one "
		"more lookup per packet to a service's VIP" },
};

const struct sw_feature_info *sw_feature_info(enum sw_feature f)
{
	return &features[f];
}

/* Answers, once asked: 0 not asked yet, else presence + 1. */
static unsigned char answers[SW_FEATURE_COUNT];
static char why_unknown[SW_FEATURE_COUNT][96];

const char *sw_probe_why(enum sw_feature f)
{
	return why_unknown[f];
}

static enum sw_presence unknown(enum sw_feature f, const char *why)
{
	snprintf(why_unknown[f], sizeof(why_unknown[f]), "%s", why);
	return SW_UNKNOWN;
}

/* ------------------------------------------------------------------------
 * Tiny programs, loaded and closed
 */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			    .off = (o), .imm = (i) })
#define MOV64_IMM(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define CALL(fn)	INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The verifier's words for "no such helper here", across kernel versions. */
static bool helper_refused(const char *log)
{
	return strstr(log, "invalid func ") || strstr(log, "unknown func ") ||
	       strstr(log, "cannot use helper");
}

/*
 * Load a program (of a type that wants its attach type at load: attach):
 * 1 it loaded, 0 it did not (log holds why), -1 we may not load programs at
 * all (no CAP_BPF).
 */
static int try_load(enum bpf_prog_type type, enum bpf_attach_type attach,
		    __u32 flags, const struct bpf_insn *insns, size_t n,
		    char *log, size_t log_len)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = log_len,
		    .log_level = 1, .prog_flags = flags,
		    .expected_attach_type = attach);
	int fd;

	log[0] = '\0';
	fd = bpf_prog_load(type, NULL, "GPL", insns, n, &o);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	return errno == EPERM ? -1 : 0;
}

static enum sw_presence loaded(enum sw_feature f, int r)
{
	if (r < 0)
		return unknown(f, "may not load BPF programs (needs CAP_BPF and "
			       "CAP_NET_ADMIN, or root)");
	return r ? SW_PRESENT : SW_ABSENT;
}

/*
 * A program that calls the helper. Its arguments are left unset: a kernel
 * that has the helper for this program type complains about them instead,
 * which is as good as a yes (libbpf's probe does the same, but does not know
 * the words newer kernels use for "no").
 */
static enum sw_presence probe_helper(enum sw_feature f, enum bpf_prog_type type,
				     enum bpf_func_id helper)
{
	const struct bpf_insn insns[] = {
		MOV64_IMM(BPF_REG_2, -4), CALL(helper), MOV64_IMM(BPF_REG_0, 0),
		EXIT(),
	};
	char log[4096];
	int r = try_load(type, 0, 0, insns, ARRAY_SIZE(insns), log, sizeof(log));

	if (r == 0 && !helper_refused(log))
		r = 1;
	return loaded(f, r);
}

static enum sw_presence probe_atomic_fetch(void)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0),
		MOV64_IMM(BPF_REG_1, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_1, -8,
		     BPF_ADD | BPF_FETCH),
		MOV64_IMM(BPF_REG_0, 0), EXIT(),
	};
	char log[4096];

	return loaded(SW_FEATURE_ATOMIC_FETCH,
		      try_load(BPF_PROG_TYPE_SCHED_CLS, 0, 0, insns,
			       ARRAY_SIZE(insns), log, sizeof(log)));
}

static enum sw_presence probe_syscall_prog(void)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, 0), EXIT() };
	char log[4096];

	return loaded(SW_FEATURE_SYSCALL_PROG,
		      try_load(BPF_PROG_TYPE_SYSCALL, 0, BPF_F_SLEEPABLE, insns,
			       ARRAY_SIZE(insns), log, sizeof(log)));
}

static enum sw_presence probe_sk_lookup_prog(void)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, SK_PASS), EXIT() };
	char log[4096];

	return loaded(SW_FEATURE_SK_LOOKUP_PROG,
		      try_load(BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 0, insns,
			       ARRAY_SIZE(insns), log, sizeof(log)));
}

/* ------------------------------------------------------------------------
 * Attachments, tried on lo of a scratch network namespace
 */

#define SCRATCH_CLSACT	(1 << 0)
#define SCRATCH_XDP	(1 << 1)
#define SCRATCH_FAILED	0x7f	/* the child could not make its namespace */

static int xdp_pass_program(void)
{
	const struct bpf_insn insns[] = { MOV64_IMM(BPF_REG_0, XDP_PASS), EXIT() };

	return bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", insns,
			     ARRAY_SIZE(insns), NULL);
}

/* In the child: what attaches to lo here; the exit status says. */
static int scratch_child(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = 1,	/* lo, always 1 */
		    .attach_point = BPF_TC_INGRESS);
	int found = 0, prog, link;

	if (unshare(CLONE_NEWNET))
		return SCRATCH_FAILED;
	if (!bpf_tc_hook_create(&hook))
		found |= SCRATCH_CLSACT;
	prog = xdp_pass_program();
	if (prog >= 0) {
		link = bpf_link_create(prog, 1, BPF_XDP, NULL);
		if (link >= 0)
			found |= SCRATCH_XDP;
	}
	return found;	/* the namespace goes with the process */
}

static void probe_scratch(void)
{
	int status, found;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		libbpf_set_print(NULL);	/* expected failures: quiet */
		_exit(scratch_child());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == SCRATCH_FAILED) {
		unknown(SW_FEATURE_CLSACT, "needs CAP_SYS_ADMIN for a scratch "
			"network namespace; the agent finds out when it attaches");
		unknown(SW_FEATURE_XDP_LINK, why_unknown[SW_FEATURE_CLSACT]);
		answers[SW_FEATURE_CLSACT] = SW_UNKNOWN + 1;
		answers[SW_FEATURE_XDP_LINK] = SW_UNKNOWN + 1;
		return;
	}
	found = WEXITSTATUS(status);
	answers[SW_FEATURE_CLSACT] =
		(found & SCRATCH_CLSACT ? SW_PRESENT : SW_ABSENT) + 1;
	answers[SW_FEATURE_XDP_LINK] =
		(found & SCRATCH_XDP ? SW_PRESENT : SW_ABSENT) + 1;
}

/* ------------------------------------------------------------------------ */

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static enum sw_presence ask(enum sw_feature f)
{
	switch (f) {
	case SW_FEATURE_BTF:
		return access("/sys/kernel/btf/vmlinux", R_OK) ? SW_ABSENT :
								 SW_PRESENT;
	case SW_FEATURE_BPFFS:
		return on_bpffs("/sys/fs/bpf") ? SW_PRESENT : SW_ABSENT;
	case SW_FEATURE_SYSCALL_PROG:
		return probe_syscall_prog();
	case SW_FEATURE_ATOMIC_FETCH:
		return probe_atomic_fetch();
	case SW_FEATURE_KTIME_COARSE:
		return probe_helper(f, BPF_PROG_TYPE_SCHED_CLS,
				    BPF_FUNC_ktime_get_coarse_ns);
	case SW_FEATURE_SKC_LOOKUP:
		return probe_helper(f, BPF_PROG_TYPE_SCHED_CLS,
				    BPF_FUNC_skc_lookup_tcp);
	case SW_FEATURE_SK_ASSIGN:
		return probe_helper(f, BPF_PROG_TYPE_SCHED_CLS,
				    BPF_FUNC_sk_assign);
	case SW_FEATURE_SK_LOOKUP_PROG:
		return probe_sk_lookup_prog();
	case SW_FEATURE_XDP_SK_LOOKUP:
		return probe_helper(f, BPF_PROG_TYPE_XDP,
				    BPF_FUNC_sk_lookup_tcp);
	case SW_FEATURE_XDP_META:
		return probe_helper(f, BPF_PROG_TYPE_XDP,
				    BPF_FUNC_xdp_adjust_meta);
	case SW_FEATURE_CLSACT:
	case SW_FEATURE_XDP_LINK:
		probe_scratch();
		return answers[f] - 1;
	default:
		return SW_UNKNOWN;
	}
}

enum sw_presence sw_probe(enum sw_feature f)
{
	if (!answers[f]) {
		libbpf_print_fn_t print = libbpf_set_print(NULL);

		answers[f] = ask(f) + 1;
		libbpf_set_print(print);
	}
	return answers[f] - 1;
}

/* ------------------------------------------------------------------------
 * Interfaces
 */

static void driver_of(const char *ifname, char *out, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (void *)&info };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	out[0] = '\0';
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		snprintf(out, len, "%s", info.driver);
	close(fd);
}

/*
 * Generic netlink's "netdev" family (Linux 6.3) says which XDP actions a
 * driver runs itself. The UAPI header is newer than Debian 12's, so its
 * few numbers are here.
 */
#define NETDEV_FAMILY "netdev"
#define NETDEV_CMD_DEV_GET 1
#define NETDEV_A_DEV_IFINDEX 1
#define NETDEV_A_DEV_XDP_FEATURES 3
#define NETDEV_XDP_ACT_BASIC 1

struct genl_req {
	struct nlmsghdr nh;
	struct genlmsghdr g;
	char attrs[64];
};

static void genl_header(struct genl_req *req, __u16 family, __u8 cmd)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req->nh.nlmsg_type = family;
	req->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req->g.cmd = cmd;
	req->g.version = 1;
}

static int on_family(const struct nlmsghdr *nh, void *arg)
{
	const struct rtattr *tb[CTRL_ATTR_MAX + 1];
	const struct rtattr *id;

	if (!sw_nl_parse(nh, GENL_HDRLEN, tb, CTRL_ATTR_MAX))
		return 0;
	id = tb[CTRL_ATTR_FAMILY_ID];
	if (id && RTA_PAYLOAD(id) >= sizeof(__u16))
		memcpy(arg, RTA_DATA(id), sizeof(__u16));
	return 0;
}

static int on_dev(const struct nlmsghdr *nh, void *arg)
{
	const struct rtattr *tb[NETDEV_A_DEV_XDP_FEATURES + 1];

	if (sw_nl_parse(nh, GENL_HDRLEN, tb, NETDEV_A_DEV_XDP_FEATURES) &&
	    tb[NETDEV_A_DEV_XDP_FEATURES])
		*(enum sw_presence *)arg =
			sw_nl_u64(tb[NETDEV_A_DEV_XDP_FEATURES], 0) &
					NETDEV_XDP_ACT_BASIC ?
				SW_PRESENT : SW_ABSENT;
	return 0;
}

static enum sw_presence xdp_native(int ifindex)
{
	enum sw_presence native = SW_UNKNOWN;
	struct genl_req req;
	struct sw_nl *nl = malloc(sizeof(*nl));
	__u16 family = 0;
	__u32 idx = ifindex;

	if (!nl || sw_nl_open(nl, NETLINK_GENERIC)) {
		free(nl);
		return SW_UNKNOWN;
	}
	genl_header(&req, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	sw_nl_put(&req.nh, sizeof(req), CTRL_ATTR_FAMILY_NAME, NETDEV_FAMILY,
		  sizeof(NETDEV_FAMILY));
	if (!sw_nl_talk(nl, &req.nh, on_family, &family) && family) {
		genl_header(&req, family, NETDEV_CMD_DEV_GET);
		sw_nl_put(&req.nh, sizeof(req), NETDEV_A_DEV_IFINDEX, &idx,
			  sizeof(idx));
		sw_nl_talk(nl, &req.nh, on_dev, &native);
	}
	sw_nl_close(nl);
	free(nl);
	return native;
}

/* spillway's TC programs on the interface, "ingress NAME, egress NAME". */
static void tc_attached(int ifindex, char *out, size_t len)
{
	static const struct {
		enum bpf_tc_attach_point point;
		const char *name;
	} points[] = { { BPF_TC_INGRESS, "ingress" }, { BPF_TC_EGRESS, "egress" } };
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(points); i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = points[i].point);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SW_TC_HANDLE,
			    .priority = SW_TC_PRIORITY);
		struct bpf_prog_info info = {};
		__u32 info_len = sizeof(info);
		int fd;

		if (bpf_tc_query(&hook, &opts))
			continue;
		fd = bpf_prog_get_fd_by_id(opts.prog_id);
		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &info_len))
			snprintf(info.name, sizeof(info.name), "id %u",
				 opts.prog_id);
		if (fd >= 0)
			close(fd);
		used += snprintf(out + used, used < len ? len - used : 0,
				 "%s%s %s", used ? ", " : "", points[i].name,
				 info.name);
	}
	libbpf_set_print(print);
}

static void xdp_attached(int ifindex, char *out, size_t len)
{
	static const char *const modes[] = {
		[XDP_ATTACHED_DRV] = "native", [XDP_ATTACHED_SKB] = "generic",
		[XDP_ATTACHED_HW] = "offloaded", [XDP_ATTACHED_MULTI] = "several",
	};
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	out[0] = '\0';
	if (bpf_xdp_query(ifindex, 0, &q) || q.attach_mode == XDP_ATTACHED_NONE)
		return;
	snprintf(out, len, "%s", q.attach_mode < ARRAY_SIZE(modes) &&
		 modes[q.attach_mode] ? modes[q.attach_mode] : "yes");
}

int sw_probe_interface(const char *ifname, struct sw_iface_report *r)
{
	int ifindex = if_nametoindex(ifname);

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", ifname);
	if (!ifindex) {
		r->missing = true;
		return -ENODEV;
	}
	driver_of(ifname, r->driver, sizeof(r->driver));
	r->xdp_native = xdp_native(ifindex);
	tc_attached(ifindex, r->tc, sizeof(r->tc));
	xdp_attached(ifindex, r->xdp, sizeof(r->xdp));
	return 0;
}

/* ------------------------------------------------------------------------
 * Reports
 */

static const char *needed_by(enum sw_feature f)
{
	return features[f].xdp_only ? "attach: xdp" : "every node";
}

static const char *presence_name(enum sw_presence p)
{
	return p == SW_PRESENT ? "yes" : p == SW_ABSENT ? "no" : "unknown";
}

static void kernel_release(char *buf, size_t len)
{
	struct utsname u;

	snprintf(buf, len, "%s", uname(&u) ? "?" : u.release);
}

void sw_probe_summary(char *buf, size_t len)
{
	char release[65], missing[512] = "";
	int asked = 0, present = 0;
	size_t used = 0;

	kernel_release(release, sizeof(release));
	for (int f = 0; f < SW_FEATURE_COUNT; f++) {
		enum sw_presence p;

		if (features[f].scratch)
			continue;
		asked++;
		p = sw_probe(f);
		if (p == SW_PRESENT) {
			present++;
			continue;
		}
		used += snprintf(missing + used,
				 used < sizeof(missing) ? sizeof(missing) - used : 0,
				 "; %s %s: %s", features[f].name,
				 p == SW_ABSENT ? "missing" : "not probed",
				 p == SW_ABSENT ? features[f].without : sw_probe_why(f));
	}
	snprintf(buf, len, "kernel %s: %d of %d datapath features present "
		 "('spillway check --kernel' lists them)%s", release, present,
		 asked, missing);
}

static void report_text(FILE *out, const char *release,
			const struct sw_iface_report *ifs, int n)
{
	fprintf(out, "kernel %s\n\n", release);
	fprintf(out, "%-36s %-7s %-6s %s\n", "FEATURE", "PRESENT", "SINCE",
		"NEEDED BY: WITHOUT IT");
	for (int f = 0; f < SW_FEATURE_COUNT; f++) {
		enum sw_presence p = sw_probe(f);

		fprintf(out, "%-36s %-7s %-6s %s", features[f].name,
			presence_name(p), features[f].since, needed_by(f));
		if (p == SW_ABSENT)
			fprintf(out, ": %s", features[f].without);
		else if (p == SW_UNKNOWN)
			fprintf(out, ": not probed: %s", sw_probe_why(f));
		fputc('\n', out);
	}
	if (!n)
		return;
	fprintf(out, "\n%-16s %-12s %-11s %-10s %s\n", "INTERFACE", "DRIVER",
		"XDP NATIVE", "XDP NOW", "SPILLWAY TC");
	for (int i = 0; i < n; i++) {
		if (ifs[i].missing) {
			fprintf(out, "%-16s no such interface in this network "
				"namespace\n", ifs[i].name);
			continue;
		}
		fprintf(out, "%-16s %-12s %-11s %-10s %s\n", ifs[i].name,
			ifs[i].driver[0] ? ifs[i].driver : "-",
			presence_name(ifs[i].xdp_native),
			ifs[i].xdp[0] ? ifs[i].xdp : "-",
			ifs[i].tc[0] ? ifs[i].tc : "-");
	}
	fprintf(out, "\nXDP NATIVE: the driver runs XDP itself (unknown: "
		"kernels before 6.3 do not say); otherwise attach: xdp runs "
		"generic XDP, after the kernel built the packet.\n");
}

static void report_json(FILE *out, const char *release,
			const struct sw_iface_report *ifs, int n)
{
	struct json j;

	json_init(&j, out);
	json_object(&j);
	json_field_str(&j, "kernel", release);
	json_field_array(&j, "features");
	for (int f = 0; f < SW_FEATURE_COUNT; f++) {
		json_object(&j);
		json_field_str(&j, "name", features[f].name);
		json_field_str(&j, "present", presence_name(sw_probe(f)));
		json_field_str(&j, "since", features[f].since);
		json_field_str(&j, "needed_by", needed_by(f));
		json_field_str(&j, "without", features[f].without);
		json_end(&j);
	}
	json_end(&j);
	json_field_array(&j, "interfaces");
	for (int i = 0; i < n; i++) {
		json_object(&j);
		json_field_str(&j, "name", ifs[i].name);
		json_field_bool(&j, "exists", !ifs[i].missing);
		json_field_str(&j, "driver", ifs[i].driver);
		json_field_str(&j, "xdp_native",
			       presence_name(ifs[i].xdp_native));
		json_field_str(&j, "xdp_attached", ifs[i].xdp);
		json_field_str(&j, "tc_attached", ifs[i].tc);
		json_end(&j);
	}
	json_end(&j);
	json_end(&j);
	fputc('\n', out);
}

int sw_probe_report(FILE *out, bool json, const char *const *ifnames,
		    int n_ifnames)
{
	struct sw_iface_report ifs[n_ifnames + 1];
	char release[65];
	int n = 0, missing = 0;

	kernel_release(release, sizeof(release));
	for (int i = 0; i < n_ifnames; i++)
		sw_probe_interface(ifnames[i], &ifs[n++]);
	if (json)
		report_json(out, release, ifs, n);
	else
		report_text(out, release, ifs, n);
	for (int f = 0; f < SW_FEATURE_COUNT; f++)
		missing += !features[f].xdp_only && sw_probe(f) == SW_ABSENT;
	return missing;
}
