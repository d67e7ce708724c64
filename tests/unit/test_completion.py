#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`spillway completion bash` as bash uses it: sourced, it registers a
completion for spillway, and each prefix completes to the verbs, options and
values the CLI takes (the script comes from the CLI's own verb table). No
root, no agent."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPILLWAY = os.path.join(ROOT, "build", "spillway")

# words typed (the last one being completed) -> what bash offers
CASES = [
    (["s"], ["service", "status"]),
    (["--v"], ["--version"]),
    (["st"], ["status"]),
    (["status", "--"], ["--json", "--socket", "--help"]),
    (["service", ""], ["set", "--max-connections", "--resume-below", "--socket", "--help"]),
    (["agent", "--log-format", ""], ["text", "json"]),
    (["agent", "--log-format", "j"], ["json"]),
    (["check", "--interface", "l"], ["lo"]),
    (["check", "--"], ["--config", "--print", "--kernel", "--interface", "--json", "--help"]),
    (["service", "set", "x", "--max-connections", ""], []),
    (["istio", "import", "--metrics", ""], ["none"]),
    (["help", "to"], ["top"]),
    (["completion", "b"], ["bash"]),
    # run in a directory holding completion.d/ and compose.yaml
    (["istio", "import", "comp"], ["completion.d", "compose.yaml"]),   # FILE...
    (["agent", "--config", "comp"], ["completion.d", "compose.yaml"]),
    (["agent", "--pin-dir", "comp"], ["completion.d"]),   # DIR: directories only
]

SCRIPT = """
cd "$1"; shift
source <("$SPILLWAY" completion bash) || exit 1
complete -p spillway
COMP_WORDS=(spillway "$@"); COMP_CWORD=$#
_spillway
printf '%s\\n' "${COMPREPLY[@]}"
"""


def complete(words, cwd):
    r = subprocess.run(["bash", "-c", SCRIPT, "bash", cwd, *words], capture_output=True,
                       text=True, env={**os.environ, "SPILLWAY": SPILLWAY})
    assert r.returncode == 0, r.stderr
    registered, *offered = r.stdout.splitlines()
    assert registered == "complete -o filenames -F _spillway spillway", registered
    return [o for o in offered if o]


def main():
    failed = 0
    with tempfile.TemporaryDirectory() as cwd:
        os.mkdir(os.path.join(cwd, "completion.d"))
        open(os.path.join(cwd, "compose.yaml"), "w").close()
        for words, want in CASES:
            got = complete(words, cwd)
            ok = sorted(got) == sorted(want)
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} completion {' '.join(words)!r}: "
                  f"{got}{'' if ok else f', expected {want}'}")
    r = subprocess.run([SPILLWAY, "completion", "zsh"], capture_output=True, text=True)
    ok = r.returncode == 2 and r.stderr.startswith("spillway completion: expected 'bash'")
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} completion zsh: refused ({r.stderr.strip()})")
    print(f"completion: {len(CASES) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
