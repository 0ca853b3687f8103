#!/usr/bin/python3
"""config_errors.py SPANWATCH TABLE — table-driven invalid configs: each case
must make `spanwatch --check-config` exit 2 with exactly
"spanwatch: FILE:LINE:COLUMN: message" as stated in TABLE."""
import os
import subprocess
import sys
import tempfile

spanwatch, table = sys.argv[1:3]
cases, cur = [], None
for line in open(table):
    if line.startswith("=== "):
        cur = [line[4:].rstrip("\n"), []]
        cases.append(cur)
    elif cur is not None:
        cur[1].append(line)
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for i, (want, body) in enumerate(cases):
        path = os.path.join(tmp, "case%02d.yaml" % i)
        with open(path, "w") as f:
            f.writelines(body)
        p = subprocess.run([spanwatch, "--check-config", path], capture_output=True, text=True)
        msg = p.stderr.strip()
        if p.returncode != 2 or msg != "spanwatch: %s:%s" % (path, want):
            failures += 1
            print("FAIL case %d: exit %d, got %r, want %r" % (i, p.returncode, msg, want))
        else:
            print("ok   case %d: %s" % (i, want[:90]))
print("%d cases, %d failures" % (len(cases), failures))
sys.exit(1 if failures else 0)
