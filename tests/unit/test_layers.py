#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""user/ is in layers, each including only itself and the layers below it:

    lib < datapath < config < tunnel < agent < cli

(and the shared ABI, include/spillway/, under all of them). Every project
include names its directory. Only user/datapath/ touches BPF: the skeleton
and libbpf's headers are included nowhere else (the others go through its
accessors). This reads every file under user/ and fails on an include that
points up, names no directory, is not there, or reaches BPF from outside
user/datapath/."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = ["lib", "datapath", "config", "tunnel", "agent", "cli"]
GENERATED = {"spillway.skel.h", "bench.skel.h"}   # build/, made from bpf/
BPF_ONLY_IN = "datapath"


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
    for p in problems:
        print(p)
    print(f"layers: {len(files)} files, {len(problems)} problems")
    return 1 if problems or not files else 0


if __name__ == "__main__":
    sys.exit(main())
