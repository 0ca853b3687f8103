#!/usr/bin/python3
"""metrics_doc_check.py SRCDIR — the metrics reference cannot drift from the code.

Metric family names are collected from the C sources (every string literal
"spanwatch_..." in every source folder) and from the README's
metrics tables (first column of rows under "## Metrics"). Both sets must be
equal, and every metric DESIGN.md makes a contract (its metrics table, in
../shared/DESIGN.md when present) must be among them — or be named in the
README's "## Status" section as not built yet (the contract is written
ahead of the code: the metrics of open issues), so that a contract metric
can neither go missing silently nor be claimed while absent.
"""
import os
import re
import sys

src = sys.argv[1]
code = set()
for d in ("util", "config", "capture", "decode", "flow", "metrics", "analyze", "alerts", "app"):
    for root, _, files in os.walk(os.path.join(src, d)):
        for f in files:
            if f.endswith((".c", ".h")):
                text = open(os.path.join(root, f), encoding="utf-8").read()
                code |= set(re.findall(r'"(spanwatch_[a-z0-9_]+)"', text))
# histogram/summary suffixes written separately are not families
code = {n for n in code if not re.search(r"_(bucket|sum|count)$", n)}

readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
sec = readme[readme.index("## Metrics"):]
sec = sec[:sec.index("\n## ", 1)]
doc = set(re.findall(r"^\| (spanwatch_[a-z0-9_]+) \|", sec, re.M))

fail = 0
for n in sorted(code - doc):
    print("FAIL %s is exported by the code but not in the README's metrics reference" % n)
    fail += 1
for n in sorted(doc - code):
    print("FAIL %s is in the README's metrics reference but not in the code" % n)
    fail += 1
design = os.path.join(src, "..", "shared", "DESIGN.md")
contract = set()
if os.path.exists(design):
    contract = set(re.findall(r"^\| (spanwatch_[a-z0-9_]+) \|", open(design, encoding="utf-8").read(), re.M))
    status = readme[readme.index("## Status"):]
    status = status[:status.find("\n## ", 1)] if "\n## " in status[1:] else status
    for n in sorted(contract - code):
        if n in status:
            print("ok   %s (DESIGN.md) is not built yet, as README's Status says" % n)
        else:
            print("FAIL %s is a DESIGN.md contract metric the code does not export "
                  "(nor does README's Status list it as not built yet)" % n)
            fail += 1
print("%s %d families in code, %d in the README, %d contract metrics from DESIGN.md" %
      ("ok  " if not fail else "FAIL", len(code), len(doc), len(contract)))
print("%d passed, %d failed" % (0 if fail else 1, fail))
sys.exit(1 if fail else 0)
