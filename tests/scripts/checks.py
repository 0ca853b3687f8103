"""checks.py — pass/fail counting for the Python test scripts (imported
from the script's own directory): check(ok, msg) prints "ok   msg" or
"FAIL msg"; finish() prints "N passed, N failed" and exits 1 on a failure."""
import sys

passed = failed = 0


def check(ok, msg):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + msg)
    if ok:
        passed += 1
    else:
        failed += 1


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
