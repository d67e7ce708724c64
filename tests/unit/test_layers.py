#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""user/ is in layers, each including only itself and the layers below it:

    lib < datapath < config < tunnel < agent < cli

(and the shared ABI, include/spillway/, under all of them). Every project
include names its directory. Only user/datapath/ touches BPF: the skeleton
and libbpf's headers are included nowhere else (the others go through its
accessors). This reads every file under user/ and fails on an include that
points up, names no directory, is not there, or reaches BPF from outside
user/datapath/.

Every header's guard is made from its path, so no two can clash:
user/LAYER/NAME.h is SW_LAYER_NAME_H, bpf/NAME.h SW_BPF_NAME_H,
include/spillway/NAME.h SPILLWAY_NAME_H, tests/lib/NAME.h SW_TEST_NAME_H.
It fails on a header whose #ifndef/#define do not open it with that guard,
and on any guard two headers share."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = ["lib", "datapath", "config", "tunnel", "agent", "cli"]
GENERATED = {"spillway.skel.h", "bench.skel.h"}   # build/, made from bpf/
BPF_ONLY_IN = "datapath"
# Where headers are, and how their guards begin ("SW_" + LAYER for user/).
GUARD_PREFIXES = {"user": "SW_", "bpf": "SW_BPF_",
                  "include/spillway": "SPILLWAY_", "tests/lib": "SW_TEST_"}


def expected_guard(rel):
    top = next(t for t in GUARD_PREFIXES if rel.startswith(t + "/"))
    name = rel[len(top) + 1:-len(".h")]
    return re.sub(r"[^A-Z0-9]", "_", (GUARD_PREFIXES[top] + name).upper()) + "_H"


def check_guards():
    """Problems with header guards, and how many headers were read."""
    problems, seen = [], {}
    headers = sorted(h for top in GUARD_PREFIXES
                     for h in glob.glob(f"{ROOT}/{top}/**/*.h", recursive=True))
    for path in headers:
        rel = os.path.relpath(path, ROOT)
        want = expected_guard(rel)
        lines = [l.strip() for l in open(path) if l.startswith("#")]
        got = lines[0].split()[1] if lines and lines[0].startswith("#ifndef ") \
            and len(lines[0].split()) == 2 else None
        if lines[:2] != [f"#ifndef {want}", f"#define {want}"]:
            found = " / ".join(lines[:2]) or "no preprocessor line"
            problems.append(f"{rel}: opens with {found}; expected #ifndef "
                            f"{want} / #define {want} before any other "
                            f"preprocessor line")
        if got and got in seen:
            problems.append(f"{rel}: guard {got} is also {seen[got]}'s")
        seen.setdefault(got, rel)
    return problems, len(headers)


def main():
    problems, files = [], sorted(glob.glob(f"{ROOT}/user/**/*.[ch]", recursive=True))
    for path in files:
        rel = os.path.relpath(path, ROOT)
        parts = rel.split("/")
        if len(parts) != 3 or parts[1] not in LAYERS:
            problems.append(f"{rel}: not in a layer directory ({', '.join(LAYERS)})")
            continue
        mine = LAYERS.index(parts[1])
        for n, line in enumerate(open(path), 1):
            bpf = re.match(r'#include [<"](bpf/[^">]+|[a-z]+\.skel\.h)[">]', line)
            if bpf and parts[1] != BPF_ONLY_IN:
                problems.append(f"{rel}:{n}: '{bpf.group(1)}': only user/{BPF_ONLY_IN}/ "
                                f"touches BPF (add an accessor there)")
            m = re.match(r'#include "([^"]+)"', line)
            if not m or m.group(1) in GENERATED:
                continue
            inc = m.group(1)
            top = inc.split("/")[0]
            if top == "spillway":
                continue
            if "/" not in inc or top not in LAYERS:
                problems.append(f"{rel}:{n}: '{inc}' names no layer directory")
            elif LAYERS.index(top) > mine:
                problems.append(f"{rel}:{n}: '{inc}' points up ({parts[1]} may "
                                f"include only {', '.join(LAYERS[:mine + 1])})")
            elif not os.path.exists(f"{ROOT}/user/{inc}"):
                problems.append(f"{rel}:{n}: '{inc}' does not exist")
    guard_problems, n_headers = check_guards()
    problems += guard_problems
    for p in problems:
        print(p)
    print(f"layers: {len(files)} files, {n_headers} header guards, "
          f"{len(problems)} problems")
    return 1 if problems or not files or not n_headers else 0


if __name__ == "__main__":
    sys.exit(main())
