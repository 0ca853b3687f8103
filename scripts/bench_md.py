"""bench_md.py — shared by the benchmark scripts: replace one section of BENCH.md.

A section starts with a line "## TITLE..." and runs to the next "## ". The
section whose heading starts with `prefix` is replaced by `section`; if
there is none, `section` is appended. Other sections are kept as they are.
"""
import os

PATH = "BENCH.md"


def write_section(prefix, section):
    text = open(PATH).read() if os.path.exists(PATH) else "# spanwatch benchmarks\n"
    start = text.find(prefix)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section.rstrip("\n") + "\n" + ("" if end < 0 else text[end:])
    else:
        text = text.rstrip() + "\n\n" + section
    open(PATH, "w").write(text)
