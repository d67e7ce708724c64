#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The demo's client: ramps long-lived connections to the service VIP from 0
past the threshold, churns some, and ramps back to 0, printing one line per
step with what the cluster1 agent reports and who answered. Run inside the
sandbox's client namespace by scripts/demo.sh; writes the series for the
plot to --data (per step: connections held, local, remote, the threshold,
the phase, connections opened and closed in the step) and the phases' time
spans to --phases. Exit status 1 if any connection failed.

Every connection reads the answering echo server's name when it opens
("cluster1" or "cluster2" in the sandbox; --local and --remote give other
names, as the pods of the simulated Kubernetes node answer) and must echo
a line when it closes: a connection that fails to open, or breaks while
held, or is answered by a name neither list has, counts as failed."""
import argparse
import json
import socket
import subprocess
import sys
import time

STEP_S = 0.5        # one step: open or close STEP connections
STEP = 2
CHURN_STEPS = 6     # close the oldest STEP and open STEP new, this many times
HOLD_STEPS = 4      # steps at the peak before and after the churn
TIMEOUT_S = 5       # bound on each connect, read and echo


class Ramp:
    def __init__(self, args):
        self.args = args
        self.held = []                      # (socket, who), oldest first
        self.opened = 0
        self.by = {"cluster1": 0, "cluster2": 0}
        # Who may answer, and which cluster that is.
        self.cluster_of = {n: c for c, names in (("cluster1", args.local),
                                                 ("cluster2", args.remote))
                           for n in names.split(",")}
        self.failed = []
        self.peak_local = 0
        self.t0 = time.monotonic()
        self.last = None                    # (t, overflowed_total)
        self.phases = []                    # [name, t_start, t_end]
        self.data = open(args.data, "w")
        self.data.write("# t_s\topen\tlocal\tremote\tmax\tphase\topened\tclosed\n")

    # -- connections ------------------------------------------------------------
    def open(self):
        self.opened += 1
        try:
            s = socket.create_connection((self.args.vip, 80), timeout=TIMEOUT_S)
            who = s.makefile("rb").readline().decode().strip()
            if who not in self.cluster_of:
                raise OSError(f"answered {who!r}")
        except OSError as e:
            self.failed.append(f"connection {self.opened}: {e}")
            return
        self.by[self.cluster_of[who]] += 1
        self.held.append((s, who))

    def close_oldest(self):
        s, who = self.held.pop(0)
        try:
            s.sendall(b"still here\n")
            got = b""
            while not got.endswith(b"\n"):
                c = s.recv(64)
                if not c:
                    raise OSError("closed by the other end")
                got += c
            if got != b"still here\n":
                raise OSError(f"echoed {got!r}")
        except OSError as e:
            self.failed.append(f"a connection served by {who} broke: {e}")
        s.close()

    # -- what the agent says -----------------------------------------------------
    def status(self):
        r = subprocess.run([self.args.spillway, "status", "--json", "--socket",
                            self.args.socket], capture_output=True, text=True,
                           timeout=TIMEOUT_S)
        if r.returncode:
            sys.exit(f"demo: spillway status failed: {r.stderr.strip()}")
        st = json.loads(r.stdout)
        return [s for s in st["services"] if s["name"] == self.args.service][0]

    def show(self, phase, opens, closes):
        s = self.status()
        t = time.monotonic() - self.t0
        spill = 0.0
        if self.last:
            spill = (s["overflowed_total"] - self.last[1]) / (t - self.last[0])
        if self.phases and self.phases[-1][0] == phase:
            self.phases[-1][2] = t
        else:
            self.phases.append([phase, self.last[0] if self.last else 0, t])
        self.last = (t, s["overflowed_total"])
        local, remote, top = s["active_local"], s["active_remote"], s["max_connections"]
        self.peak_local = max(self.peak_local, local)
        width = 2 * top                    # the bars' scale: twice the threshold
        bar = ("#" * min(local, top)).ljust(top, ".") + "|" + \
            ("%" * min(remote, width - top)).ljust(width - top)
        print(f"{t:5.1f}  {phase:<9} {len(self.held):4}  {local:5} {remote:6}"
              f"  {spill:7.1f}  {self.by['cluster1']:8} {self.by['cluster2']:8}"
              f"  {len(self.failed):6}  {bar}", flush=True)
        self.data.write(f"{t:.2f}\t{len(self.held)}\t{local}\t{remote}\t{top}"
                        f"\t{phase}\t{opens}\t{closes}\n")
        self.data.flush()
        # Whole at every step: a ramp cut short still plots what it did.
        with open(self.args.phases, "w") as f:
            f.write("# t_start\tt_end\tphase\n")
            for name, start, end in self.phases:
                f.write(f"{start:.2f}\t{end:.2f}\t{name}\n")

    def step(self, phase, opens=0, closes=0):
        closes = min(closes, len(self.held))
        for _ in range(closes):
            self.close_oldest()
        for _ in range(opens):
            self.open()
        time.sleep(STEP_S)
        self.show(phase, opens, closes)

    def run(self):
        top = self.status()["max_connections"]
        peak = 2 * top
        print(f"service {self.args.service} at {self.args.vip}:80, max_connections "
              f"{top}: ramping to {peak} connections, {STEP} every {STEP_S}s\n")
        print(" time  phase     open  local remote  spill/s  cluster1 cluster2  failed"
              "  local (#) to the threshold | remote (%)")
        self.data.write(f"0\t0\t0\t0\t{top}\tstart\t0\t0\n")
        while len(self.held) < peak:
            self.step("ramp up", opens=STEP)
        for _ in range(HOLD_STEPS):
            self.step("hold")
        for _ in range(CHURN_STEPS):
            self.step("churn", opens=STEP, closes=STEP)
        for _ in range(HOLD_STEPS):
            self.step("hold")
        while self.held:
            self.step("ramp down", closes=STEP)
        self.data.close()
        return top

    def summary(self, top):
        print(f"\n{self.opened} connections opened: {self.by['cluster1']} served by "
              f"cluster1, {self.by['cluster2']} by cluster2, {len(self.failed)} failed")
        print(f"local active peaked at {self.peak_local} (max_connections {top})")
        for f in self.failed[:10]:
            print(f"  failed: {f}")
        return 1 if self.failed or self.peak_local > top else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vip", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--spillway", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--phases", required=True)
    p.add_argument("--local", default="cluster1",
                   help="the names cluster1's servers answer with, comma-separated")
    p.add_argument("--remote", default="cluster2",
                   help="the names cluster2's servers answer with, comma-separated")
    args = p.parse_args()
    ramp = Ramp(args)
    return ramp.summary(ramp.run())


if __name__ == "__main__":
    sys.exit(main())
