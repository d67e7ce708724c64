#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The documentation holds together: every relative link in README.md,
doc/*.md and deploy/README.md names a file that exists and, when it names a
heading (#anchor), a heading that file has, as GitHub spells its anchors.
README.md stays an overview: at most README_MAX_LINES lines, the references
live in doc/."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README_MAX_LINES = 250
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)   # http:, https:, mailto:


def prose(path):
    """(line number, text) of each line outside fenced code, inline code cut."""
    fenced = False
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield n, re.sub(r"`[^`]*`", "", line)


def anchors(path):
    """The anchors GitHub gives the file's headings: lower case, punctuation
    dropped, spaces to '-', a repeated one suffixed -1, -2, ..."""
    seen, out = {}, set()
    fenced = False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else re.match(r"#{1,6} +(.*?) *#* *$", line.rstrip("\n"))
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def main():
    files = [f"{ROOT}/README.md", f"{ROOT}/deploy/README.md"] + \
        sorted(glob.glob(f"{ROOT}/doc/*.md"))
    problems, links = [], 0
    for path in files:
        rel = os.path.relpath(path, ROOT)
        for n, text in prose(path):
            for target in LINK.findall(text):
                if EXTERNAL.match(target):
                    continue
                links += 1
                name, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), name)) \
                    if name else path
                if not os.path.exists(dest):
                    problems.append(f"{rel}:{n}: link to '{target}': "
                                    f"{os.path.relpath(dest, ROOT)} does not exist")
                elif anchor and (not dest.endswith(".md") or anchor not in anchors(dest)):
                    problems.append(f"{rel}:{n}: link to '{target}': "
                                    f"{os.path.relpath(dest, ROOT)} has no heading "
                                    f"with the anchor #{anchor}")
    lines = sum(1 for _ in open(f"{ROOT}/README.md", encoding="utf-8"))
    if lines > README_MAX_LINES:
        problems.append(f"README.md: {lines} lines, over {README_MAX_LINES}: keep it an "
                        f"overview and move the reference text to doc/")
    for p in problems:
        print(p)
    print(f"docs: {len(files)} files, {links} relative links, README {lines} lines, "
          f"{len(problems)} problems")
    return 1 if problems or not links else 0


if __name__ == "__main__":
    sys.exit(main())
