#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Run test (or benchmark: make bench) programs with a prefix unique to this
# run: every pin directory and network namespace a program creates starts
# with it, so whatever it leaves behind, even when it crashes or is
# interrupted, is removed here on exit.
set -uo pipefail

cd "$(dirname "$0")/.."
tests/preflight.sh || exit 1

export SW_TEST_PREFIX="${SW_RUN_PREFIX:-swt}$$"
cleanup() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$SW_TEST_PREFIX" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf /sys/fs/bpf/"$SW_TEST_PREFIX"* /run/spillway-sandbox/"$SW_TEST_PREFIX"* 2>/dev/null
}
trap cleanup EXIT INT TERM

failed=()
for t in "$@"; do
	echo "== $t"
	read -ra cmd <<<"$t"	# a command and its arguments ("env X=1 test")
	"${cmd[@]}" || failed+=("$t")
done
echo
if [ ${#failed[@]} -ne 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all passed"
