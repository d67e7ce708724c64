#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""spillway top against a real agent: the frames it prints (batch), and as a
person uses it on a terminal (a pty): q and Ctrl-C quit and give the
terminal back, an agent that goes away is reported, not fatal.
Run one case: test_top.py NAME-PREFIX"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from netns import SPILLWAY, WAIT_S, World, run, run_cases  # noqa: E402
from test_agent import SVC4, SVC6, started  # noqa: E402


def frames(text):
    return [f for f in text.split("spillway top - ") if f]


def service_line(frame, name):
    return [l for l in frame.splitlines() if l.startswith(name)][0]


def top(w, *args):
    return subprocess.Popen([SPILLWAY, "top", "--socket", w.socket, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def read_frame(p):
    """The next batch frame: up to its last line, this world's one remote,
    and the blank line after it."""
    lines = []
    while not lines or not lines[-1].startswith("cluster2 "):
        lines.append(p.stdout.readline())
        assert lines[-1], f"top ended: {p.stderr.read()}"
    assert p.stdout.readline() == "\n"
    return "".join(lines)


# ---------------------------------------------------------------------------

def test_batch_frames_show_counts_bars_and_rates(w):
    started(w)
    for _ in range(3):
        w.dial(4)
    w.wait_counts(SVC4, 3)
    p = top(w, "--batch", "--iterations", "2", "--interval", "2")
    first = read_frame(p)
    # Rates need two samples: the first frame says it does not know yet.
    assert re.search(r"\s+5\s+\[############\.{8}\]\s+3\s+0\s+-\s+-\s+-\s+normal$",
                     service_line(first, SVC4)), first
    for _ in range(2):                       # two new connections between frames
        w.dial(4)
    out, err = p.communicate(timeout=WAIT_S)
    assert p.returncode == 0, err
    second = out
    line = service_line(second, SVC4)
    # 5 of 5: the next connection would spill, so it is overflowing now.
    m = re.search(r"\s+5\s+\[#{20}\]\s+5\s+0\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                  r"overflowing$", line)
    assert m, second
    local_rate, spill_rate, kept_rate = map(float, m.groups())
    assert 0.5 <= local_rate <= 1.0, line    # 2 in a little over 2 s
    assert spill_rate == 0 and kept_rate == 0, line
    assert re.search(rf"^{re.escape(SVC6)}\s+10\s+\[\.{{20}}\]\s+0\s+0\s+0\.0", second,
                     re.M), second
    # This world's remote has no gateway listening: top says what that means.
    assert re.search(r"^cluster2\s+192\.0\.2\.7:15008\s+NO: new connections stay local",
                     second, re.M), second
    # Not on a terminal: no screen control codes.
    assert "\x1b" not in first + second


def test_agent_going_away_is_shown_not_fatal(w):
    started(w)
    p = top(w, "--batch", "--iterations", "3", "--interval", "1")
    read_frame(p)
    w.kill_agent(signal.SIGTERM)
    second = read_frame(p)
    assert "! cannot reach the agent at" in second, second
    assert "showing the last good sample" in second, second
    assert SVC4 in second                   # the last sample stays
    w.start_agent()
    out, err = p.communicate(timeout=WAIT_S)
    assert p.returncode == 0, err
    assert "!" not in out, out              # answering again


def on_pty(w, key, rows=0, cols=200):
    """Run top on a pty (rows x cols if rows), wait for two frames, press
    key; returns what it drew and the terminal modes before, during and
    after."""
    pid, fd = pty.fork()
    if pid == 0:
        if rows:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.execv(SPILLWAY, [SPILLWAY, "top", "--socket", w.socket,
                            "--interval", "0.2"])
    before = termios.tcgetattr(fd)
    seen = b""
    deadline = time.monotonic() + WAIT_S
    while SVC4.encode() not in seen or seen.count(b"\x1b[H") < 2:
        assert time.monotonic() < deadline, seen[-2000:]
        if select.select([fd], [], [], 0.5)[0]:
            seen += os.read(fd, 65536)
    during = termios.tcgetattr(fd)
    os.write(fd, key)
    deadline = time.monotonic() + WAIT_S
    status = None
    while status is None:
        assert time.monotonic() < deadline, f"top ignored {key!r}"
        try:
            if select.select([fd], [], [], 0.2)[0]:
                seen += os.read(fd, 65536)
        except OSError:
            pass                          # the pty closed: top is gone
        done, st = os.waitpid(pid, os.WNOHANG)
        status = st if done else None
    assert os.waitstatus_to_exitcode(status) == 0, (key, status)
    after = termios.tcgetattr(fd)
    os.close(fd)
    return seen, before, during, after


def test_terminal_q_and_ctrl_c_quit_and_restore(w):
    started(w)
    for key in (b"q", b"\x03"):
        seen, before, during, after = on_pty(w, key)
        assert seen.startswith(b"\x1b[?1049h"), seen[:40]   # its own screen
        assert b"q quits" in seen
        assert not during[3] & termios.ECHO and not during[3] & termios.ICANON
        assert seen.endswith(b"\x1b[?25h\x1b[?1049l"), (key, seen[-40:])
        assert after[3] == before[3], f"{key!r}: terminal modes not restored"


def test_terminal_too_short(w):
    """More lines than rows: what fits, and a line saying what does not."""
    started(w)
    seen, *_ = on_pty(w, b"q", rows=6)
    # title, blank, header, 2 services | blank, REMOTE header, 1 remote
    assert b"... 3 more lines: a taller terminal, or 'spillway status'" in seen, seen
    assert b"192.0.2.7" not in seen, seen


def test_terminal_80_columns(w):
    """An 80-column terminal: no line wraps; the least useful columns go."""
    started(w)
    seen, *_ = on_pty(w, b"q", rows=40, cols=80)
    frame = seen.split(b"\x1b[H")[-1].decode()
    lines = re.sub(r"\x1b\[[?0-9;]*[A-Za-z]", "", frame).split("\n")
    assert all(len(l.rstrip("\r")) <= 80 for l in lines), frame
    header = [l for l in lines if l.startswith("SERVICE")][0].split()
    assert header == ["SERVICE", "MAX", "LOCAL", "REMOTE", "SPILL/s", "STATE"], header
    assert re.search(rf"^{re.escape(SVC4)}\s+5\s+0\s+0\s+\S+\s+normal", frame, re.M), frame
    assert "192.0.2.7:15008" in frame, frame


def test_usage_and_unreachable_agent(w):
    r = run([SPILLWAY, "top", "--socket", f"{w.dir}/none.sock"], check=False)
    assert r.returncode == 1 and "cannot reach the agent" in r.stderr, r
    for bad in (["--interval", "0"], ["--interval", "x"], ["--iterations", "0"],
                ["--bogus"]):
        r = run([SPILLWAY, "top", *bad], check=False)
        assert r.returncode == 2 and r.stderr.startswith("spillway top: "), (bad, r)
    assert run([SPILLWAY, "top", "--help"]).stdout.startswith("Usage: spillway top")


if __name__ == "__main__":
    sys.exit(run_cases("top-live", globals(), World,
                       lambda w: f"---- agent log:\n{w.log_text()}----"))
