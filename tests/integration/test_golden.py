"""Golden tests for herod -n: every invalid set in tests/config/invalid
prints exactly its expected error lines and exits 1; every valid set
exits 0."""

import os
import subprocess
import sys

HEROD = os.environ["HEROD"]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "config")


def main():
    passed = failed = 0
    for kind in ("valid", "invalid"):
        base = os.path.join(ROOT, kind)
        for d in sorted(os.listdir(base)):
            path = os.path.join(base, d)
            p = subprocess.run([HEROD, "-n", "-c", path],
                               capture_output=True, timeout=30)
            err = p.stderr.decode(errors="replace").splitlines()
            if kind == "valid":
                ok = p.returncode == 0 and not err
                why = "rc %d %r" % (p.returncode, err)
            else:
                with open(os.path.join(path, "expected")) as f:
                    want = [l for l in f.read().splitlines() if l]
                ok = p.returncode == 1 and err == want
                why = "rc %d\n got %r\nwant %r" % (p.returncode, err, want)
            if ok:
                passed += 1
            else:
                failed += 1
                print("FAIL %s/%s: %s" % (kind, d, why))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
