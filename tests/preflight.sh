#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# What the tests need from the machine, checked before they run, each with
# what to do when it is missing. A missing capability fails the run: tests
# never skip.
set -euo pipefail

fail() { echo "preflight: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "tests load BPF programs and create network namespaces: run them as root"
[ -r /sys/kernel/btf/vmlinux ] || fail "the kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y"
[ "$(nproc)" -ge 2 ] || fail "the concurrency tests need at least 2 CPUs (this machine has $(nproc))"
command -v bpftool >/dev/null || fail "bpftool is missing: run scripts/deps.sh"
command -v ip >/dev/null || fail "ip (iproute2) is missing: run scripts/deps.sh"

# bpffs: systemd mounts it on most machines; containers and minimal VMs may not.
if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
	echo "preflight: /sys/fs/bpf was not a BPF filesystem; mounting one there"
	mount -t bpf bpf /sys/fs/bpf || fail "cannot mount bpffs on /sys/fs/bpf"
fi
