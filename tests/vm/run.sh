#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Run test programs under a second kernel: Debian 12's own 6.1 LTS cloud
# kernel (scripts/deps.sh unpacks it under /var/cache/spillway/kernels),
# booted with qemu under TCG (KVM hangs on these VMs). The guest's root is an
# initramfs built here: busybox for /init, dash as /bin/sh, the programs with
# every library ldd lists, the commands the tests run (ip, tc, sysctl,
# bpftool, grep),
# and the kernel's veth, sch_ingress, cls_bpf and bridge modules.
#
#   tests/vm/run.sh PROGRAM...     run each (a test binary, or a command
#                                  line in quotes) in one boot; exit 1 if
#                                  any fails or the guest does not finish
#
# Environment: SW_VM_KERNEL (a directory with boot/vmlinuz-* and
# lib/modules/; default the newest under /var/cache/spillway/kernels),
# SW_VM_TIMEOUT (seconds, default 1500), SW_TEST_PREFIX (names made in the
# guest; it is thrown away whole anyway).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
KERNELS=/var/cache/spillway/kernels
TIMEOUT=${SW_VM_TIMEOUT:-1500}

die() { echo "vm: $*" >&2; exit 1; }

[ $# -gt 0 ] || die "usage: tests/vm/run.sh PROGRAM..."
KDIR=${SW_VM_KERNEL:-$(ls -d "$KERNELS"/*/ 2>/dev/null | sort -V | tail -n 1)}
[ -n "$KDIR" ] && [ -d "$KDIR" ] ||
	die "no kernel under $KERNELS: run scripts/deps.sh (as root)"
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -n 1)
MODULES=$(ls -d "$KDIR"/lib/modules/*/ | head -n 1)
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: run scripts/deps.sh"
[ -x /bin/busybox ] || die "busybox (busybox-static) is missing: run scripts/deps.sh"

WORK=$(mktemp -d /tmp/spillway-vm.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
IMG=$WORK/root
mkdir -p "$IMG"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/modules}

# A program and every library it loads: the program at $2 (default the
# same path as here), the libraries at their paths.
copy_with_libs() {
	local f=$1 to=${2:-$1} lib
	mkdir -p "$IMG$(dirname "$to")"
	cp -L "$f" "$IMG$to"
	for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$IMG$lib" ] && continue
		mkdir -p "$IMG$(dirname "$lib")"
		cp -L "$lib" "$IMG$lib"
	done
}

cp /bin/busybox "$IMG/bin/busybox"
# The tests' system() needs a shell that runs ip, not busybox's applet.
copy_with_libs /bin/dash
ln -sf dash "$IMG/bin/sh"
for tool in ip tc sysctl bpftool grep; do
	copy_with_libs "$(command -v $tool)"
done
# The project's programs go under /opt/spillway, as they are under the
# checkout (which may be anywhere, /tmp included, which the guest mounts
# afresh), and run from there.
GUEST_ROOT=/opt/spillway
cmds=()
for prog in "$@"; do
	bin=${prog%% *}
	rel=$(realpath --relative-to="$ROOT" "$bin")
	case "$rel" in ../*) die "$bin: not under $ROOT" ;; esac
	[ -x "$ROOT/$rel" ] || die "$bin: not an executable (build first: make)"
	copy_with_libs "$ROOT/$rel" "$GUEST_ROOT/$rel"
	cmds+=("$rel${prog#"${prog%% *}"}")
done
# In load order (a module after those it depends on): the bridge for the
# bridge-CNI cases (bridge needs llc and stp; br_netfilter needs bridge).
n=10
for m in drivers/net/veth net/sched/sch_ingress net/sched/cls_bpf \
	 net/llc/llc net/802/stp net/bridge/bridge net/bridge/br_netfilter; do
	cp "$MODULES/kernel/$m.ko" "$IMG/lib/modules/$n-${m##*/}.ko"
	n=$((n + 1))
done

{
	cat <<'EOF'
#!/bin/busybox sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs tmpfs /tmp
$bb mount -t tmpfs tmpfs /run
$bb mount -t bpf bpf /sys/fs/bpf
for m in /lib/modules/*.ko; do $bb insmod "$m"; done
ip link set lo up
echo "vm: kernel $($bb uname -r)"
EOF
	echo "export SW_TEST_PREFIX=${SW_TEST_PREFIX:-swvm}"
	echo "cd $GUEST_ROOT"
	for c in "${cmds[@]}"; do
		printf 'echo "vm: == %s"\n' "$c"
		printf '%s; echo "vm: result $? %s"\n' "$c" "$c"
	done
	echo '$bb poweroff -f'
} >"$IMG/init"
chmod +x "$IMG/init"
(cd "$IMG" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.gz"

echo "vm: booting $(basename "$VMLINUZ") with $# program(s)"
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m 2048 -smp 2 \
	-nographic -no-reboot -kernel "$VMLINUZ" -initrd "$WORK/initramfs.gz" \
	-append "console=ttyS0 quiet rdinit=/init panic=-1" </dev/null |
	stdbuf -o0 tr -d '\r' | tee "$WORK/console"
qemu_rc=${PIPESTATUS[0]}
set -e

failed=0
# A command missing from the guest would make a shell test pass vacuously.
if grep -E ': (not found|No such file or directory)$' "$WORK/console"; then
	echo "vm: FAILED: a command the tests run is missing from the guest image"
	failed=1
fi
for c in "${cmds[@]}"; do
	r=$(grep -F "vm: result " "$WORK/console" | grep -F " $c" | awk '{print $3}' | tail -n 1)
	if [ "$r" != 0 ]; then
		echo "vm: FAILED (${r:-no result}): $c"
		failed=1
	fi
done
[ "$qemu_rc" -eq 0 ] || { echo "vm: qemu exited $qemu_rc (124: timed out after ${TIMEOUT}s)"; failed=1; }
exit $failed
