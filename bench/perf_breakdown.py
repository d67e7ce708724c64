#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Where an agent's CPU goes, by area, from `perf record -g` data (what
bench_spill.py --cost --perf PREFIX records).

  perf_breakdown.py FILE.data [US_PER_CONNECTION]

Each sample goes to one area, decided on its call chain:
  - the scheduler switching tasks: "context switches";
  - a system call (the handler under do_syscall_64, or the libc wrapper
    above it when the handler is inlined): "syscall NAME"; read and
    write are the TLS connection's (OpenSSL's socket BIO), recv and send
    the relayed sockets' (the relay's own calls); bpf() goes to
    "BPF syscalls" with the command's kernel function;
  - kernel code outside a system call (interrupts, softirq): "kernel, no
    syscall";
  - user code, by the library of the innermost frame: OpenSSL (TLS record
    layer), nghttp2, malloc/free ("allocation"), spillway's own code
    ("our code", or "logging" under sw_log, "DNS" under the resolver);
    libc's string functions go to whoever called them.
Then the same, summed into groups (the table in doc/benchmark.md).
With US_PER_CONNECTION (bench_spill.py's figure), each share is also shown
in microseconds per connection. One more line counts, across the areas,
the samples inside the receive path of a packet: on veth a packet sent is
received, by the peer's stack (and its answer by ours), in the sender's
own system call, so the sender's CPU pays for both ends of the wire.
Last, per system call: its time, and how much of it was spent receiving
packets inline, by kind (waking a task, TIME_WAIT, handshake, teardown,
sending the answer, other segment processing).
"""
import collections
import re
import subprocess
import sys

ALLOC = {"malloc", "free", "calloc", "realloc", "cfree", "_int_malloc", "_int_free",
         "malloc_consolidate", "unlink_chunk", "_int_realloc", "tcache_init",
         "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
         "_int_free_merge_chunk", "_int_free_create_chunk", "_int_free_maybe_consolidate",
         "__malloc_arena_thread_freeres", "sysmalloc", "systrim", "__default_morecore",
         "__brk", "brk", "sbrk", "__sbrk", "alloc_perturb", "free_perturb"}
# bpf() commands by the kernel function under the syscall
BPF_CMDS = (("bpf_prog_test_run", "prog test run"), ("map_lookup_elem", "map lookup"),
            ("map_update_elem", "map update"), ("map_delete_elem", "map delete"),
            ("map_get_next_key", "map next key"), ("bpf_map_do_batch", "map batch"),
            ("map_lookup_and_delete", "map lookup+delete"))
INLINE = "(across areas: packets received inline, veth)"
RECEIVE = {"process_backlog", "__netif_receive_skb_one_core", "__netif_receive_skb"}
# OpenSSL's socket BIO reads and writes; relays recv and send.
TLS_IO = {"read", "write"}
RELAY_IO = {"recvfrom", "sendto", "recv", "send"}


def samples(path):
    """Each sample's frames, innermost first: [(symbol, dso)]."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    for block in out.split("\n\n"):
        frames = []
        for line in block.splitlines():
            m = re.match(r"\s*[0-9a-f]+ (.*) \((.*)\)$", line)
            if m:
                frames.append((m.group(1), m.group(2).rsplit("/", 1)[-1]))
        if frames:
            yield frames


def user_area(frames):
    syms = {s for s, _ in frames}
    if any(s.startswith("sw_log") for s in syms):
        return "logging"
    for sym, dso in frames:
        if dso.startswith(("libssl", "libcrypto")):
            return "TLS (OpenSSL)"
        if dso.startswith("libnghttp2"):
            return "nghttp2"
        if sym in ALLOC:
            return "allocation (malloc/free)"
        if ".so" not in dso:     # the agent's binary, whatever its name
            if any(s.startswith(("sw_resolve", "sw_lookup", "resolve")) for s in syms):
                return "DNS"
            return "our code"
        if dso.startswith("libc"):
            continue        # memcpy, snprintf...: whoever called it
        return f"other ({dso})"
    return "libc, caller unknown (string functions, stdio, wrappers)"


def area(frames):
    syms = [s for s, _ in frames]
    if any(s in ("__schedule", "finish_task_switch.isra.0") for s in syms):
        return "context switches (blocked in epoll_wait, or preempted)"
    if "do_syscall_64" in syms:
        i = syms.index("do_syscall_64")
        return syscall_area(frames, i, syscall_name(frames, i))
    if frames[0][1] == "[kernel.kallsyms]":
        # No system call in the chain: softirq, interrupts.
        return "kernel, no syscall (irq, softirq)"
    return user_area([f for f in frames if f[1] not in ("[kernel.kallsyms]", "[unknown]")])


def syscall_name(frames, i):
    """The system call a chain entered at frames[i] (do_syscall_64): its
    handler's name below, or (handler inlined) the libc wrapper's above."""
    if i > 0:
        m = re.match(r"(?:__(?:x64|ia32)_sys_|__se_sys_|__do_sys_|ksys_)(\w+)", frames[i - 1][0])
        if m:
            return m.group(1)
    for sym, dso in frames[i + 1:]:
        if dso.startswith("libc"):
            return re.sub(r"^(?:__GI___libc_|__libc_|__GI___|__)", "", sym)
    return "unknown"


def syscall_area(frames, i, name):
    if name == "bpf":
        inner = " ".join(s for s, _ in frames[:i])
        cmd = next((c for k, c in BPF_CMDS if k in inner), "other")
        return f"BPF syscalls: {cmd}"
    if name in TLS_IO:
        return f"syscall {name} (TLS connection)"
    if name in RELAY_IO:
        return f"syscall {name.replace('from', '').replace('to', '')} (relayed sockets)"
    return f"syscall {name}"


# The areas, summed into the groups doc/benchmark.md reports.
RELAYED = {"accept4", "socket", "connect", "shutdown", "close", "getsockname",
           "getpeername", "setsockopt", "getsockopt"}


def group(a):
    name = a.split()[1] if a.startswith("syscall ") else None
    if a.endswith("(relayed sockets)") or name in RELAYED:
        return "TCP of the relayed connections (syscalls)"
    if a.endswith("(TLS connection)"):
        return "TLS connection I/O (read, write)"
    if name in ("epoll_wait", "epoll_ctl", "timerfd_settime") or a.startswith("context"):
        return "event loop (epoll, context switches)"
    if a.startswith("allocation") or name in ("brk", "mmap", "munmap"):
        return "allocation (malloc/free, brk)"
    if a.startswith(("our code", "libc")):
        return "our code (and the libc it calls)"
    return a


# Inside a packet's receive path (RECEIVE), what the time went to: the
# innermost of these frames decides.
INLINE_KINDS = (
    ("waking a task (the peer's, or ours)", ("try_to_wake_up", "__wake_up_common",
                                             "ep_poll_callback", "sock_def_wakeup")),
    ("TIME_WAIT", ("inet_twsk_", "tcp_time_wait", "tcp_timewait_state_process")),
    ("handshake (SYN, SYN-ACK, the child socket)",
     ("tcp_conn_request", "tcp_v4_syn_recv_sock", "tcp_v6_syn_recv_sock", "tcp_check_req",
      "tcp_child_process", "tcp_rcv_synsent_state_process", "tcp_create_openreq_child",
      "inet_csk_complete_hashdance", "tcp_v4_send_synack", "tcp_v6_send_synack")),
    ("teardown (FIN, the socket's end)", ("tcp_fin", "tcp_done", "inet_csk_destroy_sock",
                                          "tcp_set_state")),
    ("sending the answer (ACK, data)", ("__tcp_transmit_skb", "tcp_send_ack",
                                       "tcp_send_delayed_ack")),
)


def inline_kind(frames):
    """What a sample inside the receive path was doing (innermost first)."""
    for sym, _ in frames:
        if sym in RECEIVE:
            break
        for kind, prefixes in INLINE_KINDS:
            if sym.startswith(prefixes):
                return kind
    return "segment processing (IP, TCP, queues)"


def per_syscall(rows, total, us):
    """Each system call's share, and how much of it was a packet received
    inline, by kind."""
    calls = collections.Counter()
    inline = collections.defaultdict(collections.Counter)
    for name, kind in rows:
        calls[name] += 1
        if kind:
            inline[name][kind] += 1
    print("per system call: total, of which received inline (veth), and that by kind:")
    scale = (us / total) if us else 100 / total
    unit = " us" if us else "%"
    for name, n in calls.most_common():
        got = sum(inline[name].values())
        kinds = ", ".join(f"{k} {c * scale:.1f}" for k, c in inline[name].most_common()
                          if c * scale >= 0.05)
        print(f"  {name:16s} {n * scale:6.1f}{unit}  inline {got * scale:5.1f}"
              + (f": {kinds}" if kinds else ""))


def show(count, total, us):
    for a, n in count.most_common():
        share = n / total
        print(f"  {a:56s} {share:6.1%}" + (f" {share * us:7.1f} us" if us else ""))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    us = float(sys.argv[2]) if len(sys.argv) == 3 else None
    count = collections.Counter()
    calls = []
    for f in samples(sys.argv[1]):
        a = area(f)
        count[a] += 1
        # On veth a sent packet is received (by the peer's stack, and
        # its answer by ours) inside the sender's system call.
        received = any(s in RECEIVE for s, _ in f)
        count[INLINE] += received
        if a.startswith("syscall "):
            calls.append((a.split()[1], received and inline_kind(f)))
    total = sum(n for a, n in count.items() if a != INLINE)
    print(f"{sys.argv[1]}: {total} samples")
    show(count, total, us)
    groups = collections.Counter()
    for a, n in count.items():
        groups[group(a)] += n
    print("by group:")
    show(groups, total, us)
    per_syscall(calls, total, us)


if __name__ == "__main__":
    main()
