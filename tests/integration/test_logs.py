"""Bounded logs: ordering and completeness, floods (bounded memory,
kept + dropped = written), rotation by restarts and bytes, following,
a store killed mid-flood, admin-only reading."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (db_query, RSS_SCALE, Fail, Herod, HEROCTL, check, demote_fn,
                     pid_alive,
                     run_tests, wait_for)

PY = "/usr/bin/python3"
RSS_LIMIT = 64 * 1024 * 1024 * RSS_SCALE


def db(h, sql, params=(), mode="ro"):
    """Rows of sql on STATEDIR/herod.db."""
    return db_query(h, sql, params, mode)[0]


def integrity(h):
    return db(h, "PRAGMA integrity_check")


def logs(h, name, *args):
    """heroctl -j logs NAME ARGS as a list of objects."""
    p = subprocess.run([HEROCTL, "-s", h.sock, "-j", "logs", name] +
                       list(args), capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise Fail("logs %s: rc %d %s" % (name, p.returncode,
                                           p.stderr.decode()))
    return [json.loads(l) for l in p.stdout.decode().splitlines()
            if l.strip()]


def status_action(h, name, action="main"):
    rc, doc, err = h.ctl("status", name)
    check(isinstance(doc, dict), "status %s: %d %r %s" % (name, rc, doc,
                                                          err))
    for a in doc["services"][0]["actions"]:
        if a["name"] == action:
            return a
    raise Fail("no action %s/%s" % (name, action))


def settled_stats(h, name, action="main", want=None, timeout=30):
    """(written, dropped) once they stopped moving (and equal want's
    written when given)."""
    last = []

    def stable():
        a = status_action(h, name, action)
        cur = (a["logs_written"], a["logs_dropped"])
        last.append(cur)
        if want is not None and cur[0] != want:
            return False
        # unchanged over 4 polls spaced by more than the stats interval
        return len(last) >= 4 and len(set(last[-4:])) == 1 and cur
    return wait_for(stable, timeout, "log stats of %s to settle" % name,
                    interval=0.25)


def vmrss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def test_order_and_completeness(h):
    h.service("many", [{"name": "main", "exec": [
        PY, "-c",
        "import sys,time\n"
        "o=sys.stdout; e=sys.stderr\n"
        "for i in range(100000):\n"
        "  o.write('out %06d\\n' % i); e.write('err %06d\\n' % i)\n"
        "o.flush(); e.flush()\n"
        "time.sleep(100000)\n"]}],
        logs={"max_bytes": 256 * 1024 * 1024, "keep_restarts": 5})
    h.start()
    h.wait_state("many", "running")
    written, dropped = settled_stats(h, "many", want=200000, timeout=60)
    check(dropped == 0, "dropped %d of %d" % (dropped, written))
    rows = logs(h, "many", "-n", "300000")
    out = [r["line"] for r in rows if r["stream"] == "stdout"]
    err = [r["line"] for r in rows if r["stream"] == "stderr"]
    other = [r for r in rows if r["stream"] not in ("stdout", "stderr")]
    check(not other, "unexpected rows: %r" % other[:5])
    want_out = ["out %06d" % i for i in range(100000)]
    want_err = ["err %06d" % i for i in range(100000)]
    for got, want, what in ((out, want_out, "stdout"),
                            (err, want_err, "stderr")):
        if got != want:
            bad = next((i for i, (a, b) in enumerate(zip(got, want))
                        if a != b), min(len(got), len(want)))
            raise Fail("%s: %d lines, first difference at %d: %r vs %r" %
                       (what, len(got), bad, got[bad:bad + 3],
                        want[bad:bad + 3]))
    check(all(r["service"] == "many" and r["action"] == "main" and
              r["restart_count"] == 0 for r in rows), "row fields")
    check(len({r["job_id"] for r in rows}) == 1, "one job")
    ts = [r["ts"] for r in rows]
    check(ts == sorted(ts), "timestamps in order")


def test_flood_bounded(h):
    countf = os.path.join(h.tmp, "flood.count")
    h.service("flood", [{"name": "main", "exec": [
        PY, "-c",
        "import os,sys,time\n"
        "blk=b''.join(b'%08d flood ' % i + b'x' * 50 + b'\\n'"
        " for i in range(1000))\n"
        "n=0; t=time.monotonic()\n"
        "while time.monotonic()-t<10:\n"
        "  m=memoryview(blk)\n"
        "  while m: m=m[os.write(1,m):]\n"
        "  n+=1000\n"
        "open(sys.argv[1]+'.tmp','w').write(str(n))\n"
        "os.rename(sys.argv[1]+'.tmp',sys.argv[1])\n"
        "time.sleep(100000)\n", countf]}],
        autostart=False)
    h.service("quiet", [{"name": "main", "exec": ["/bin/sleep", "1000"]}])
    h.start()
    h.wait_state("quiet", "running")
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10,
                 "4 herod processes")
    rc, _, err = h.ctl("start", "flood")
    check(rc == 0, "start flood: %s" % err)
    peak = [0, None]
    slow = []

    def sample():
        total = sum(vmrss(p) for p in w.values())
        if total > peak[0]:
            peak[0] = total
            peak[1] = {t: vmrss(p) for t, p in w.items()}
        t0 = time.monotonic()
        rc, doc, err = h.ctl("list", timeout=10)
        dt = time.monotonic() - t0
        if rc != 0 or dt > 2.0:
            slow.append((rc, round(dt, 2), err))
        return os.path.exists(countf)
    wait_for(sample, 40, "the flood to end", interval=0.1)
    check(peak[0] < RSS_LIMIT, "herod RSS peaked at %.1f MiB: %r" %
          (peak[0] / 1048576.0, peak[1]))
    check(not slow, "list during the flood: %r" % slow[:5])
    check(all(pid_alive(p) for p in w.values()) and h.workers() == w,
          "no herod process restarted: %r -> %r" % (w, h.workers()))
    with open(countf) as f:
        n = int(f.read())
    check(n > 10000, "the writer wrote only %d lines" % n)
    written, dropped = settled_stats(h, "flood", want=n, timeout=60)
    # The store's accounting: kept + deleted by retention + dropped.
    kept = db(h, "SELECT count(*) FROM logs WHERE service = 'flood'"
              " AND stream != 0")[0][0]
    st = db(h, "SELECT written, dropped, deleted FROM log_stats"
            " WHERE service = 'flood' AND action = 'main'")
    check(len(st) == 1, "log_stats row: %r" % st)
    dbw, dbd, deleted = st[0]
    check((dbw, dbd) == (written, dropped),
          "db %r vs status %r" % ((dbw, dbd), (written, dropped)))
    check(kept + deleted + dropped == written,
          "kept %d + deleted %d + dropped %d != written %d (writer: %d)" %
          (kept, deleted, dropped, written, n))
    # what is kept fits the default max_bytes (4 MiB)
    size = db(h, "SELECT sum(length(line)) FROM logs"
              " WHERE service = 'flood'")[0][0]
    check(size <= 4 * 1024 * 1024, "kept %d bytes" % size)
    if dropped:
        marks = db(h, "SELECT count(*) FROM logs WHERE service = 'flood'"
                   " AND stream = 0")[0][0]
        check(marks > 0 or deleted > 0, "drops are marked")
    print("  flood: %d written, %d kept, %d deleted, %d dropped, "
          "peak RSS %.1f MiB" % (written, kept, deleted, dropped,
                                 peak[0] / 1048576.0))


def test_rotation_keep_restarts(h):
    h.service("crash", [{"name": "main", "exec": [
        "/bin/sh", "-c", "echo \"gen $HERO_RESTART_COUNT\"; "
        "echo \"err $HERO_RESTART_COUNT\" >&2; exit 1"],
        "restart": {"policy": "on-failure", "delay_ms": 20,
                    "max_delay_ms": 100, "max_restarts": 6,
                    "window_s": 60}}],
        logs={"max_bytes": 1048576, "keep_restarts": 2})
    h.start()
    s = h.wait_state("crash", "failed", 30)
    a = s["actions"][0]
    check(a["restart_count"] == 6, a)
    job = a["job_id"]

    def two_newest():
        rows = logs(h, "crash", "-n", "1000")
        return sorted({r["restart_count"] for r in rows}) == [5, 6] and rows
    rows = wait_for(two_newest, 10, "only generations 5 and 6")
    for r in rows:
        check(r["job_id"] == job, "job id %r" % r)
        want = "%s %d" % ("gen" if r["stream"] == "stdout" else "err",
                          r["restart_count"])
        check(r["line"] == want, "%r, wanted %r" % (r, want))
    check(len(rows) == 4, "two lines per generation: %r" % rows)
    for gen in (5, 6):
        sel = logs(h, "crash", "-r", str(gen))
        check(sorted(r["line"] for r in sel) ==
              ["err %d" % gen, "gen %d" % gen], "-r %d: %r" % (gen, sel))
        check(all(r["restart_count"] == gen for r in sel), sel)
    check(logs(h, "crash", "-r", "2") == [], "generation 2 is gone")


def test_rotation_max_bytes(h):
    h.service("big", [{"name": "main", "exec": [
        PY, "-c",
        "import sys,time\n"
        "for i in range(2000):\n"
        "  sys.stdout.write('%05d ' % i + 'y' * 94 + '\\n')\n"
        "sys.stdout.flush(); time.sleep(100000)\n"]}],
        logs={"max_bytes": 8192, "keep_restarts": 5})
    h.start()
    h.wait_state("big", "running")
    settled_stats(h, "big", want=2000)
    rows = logs(h, "big", "-n", "10000")
    size = sum(len(r["line"]) for r in rows)
    check(size <= 8192, "kept %d bytes > max_bytes 8192" % size)
    check(size >= 8192 - 200, "kept only %d bytes" % size)
    nums = [int(r["line"].split()[0]) for r in rows
            if r["stream"] == "stdout"]
    check(nums and nums[-1] == 1999, "newest line kept: %r" % nums[-3:])
    check(nums == list(range(nums[0], 2000)), "a contiguous tail")


def test_follow(h):
    h.service("tick", [{"name": "main", "exec": [
        "/bin/sh", "-c", "i=0; while :; do echo \"tick $i\"; "
        "i=$((i+1)); sleep 0.2; done"]}])
    h.start()
    h.wait_state("tick", "running")
    wait_for(lambda: logs(h, "tick", "-n", "1"), 10, "a first line")
    p = subprocess.Popen([HEROCTL, "-s", h.sock, "-j", "logs", "tick",
                          "-n", "1", "-f"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    h.extra.append(p)
    seen = []

    def reader():
        for l in p.stdout:
            try:
                seen.append(json.loads(l))
            except ValueError:
                seen.append({"bad": l})
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        wait_for(lambda: seen, 10, "the backlog line")
        first = int(seen[0]["line"].split()[1])
        # lines written at least 0.4 s after the follower got its backlog
        wait_for(lambda: any(r.get("line", "").startswith("tick ") and
                             int(r["line"].split()[1]) >= first + 3
                             for r in seen), 10, "a new line followed")
        check(p.poll() is None, "follower still running")
        nums = [int(r["line"].split()[1]) for r in seen
                if r.get("stream") == "stdout"]
        check(nums == list(range(nums[0], nums[0] + len(nums))),
              "followed lines in order, none lost: %r" % nums)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    check(p.returncode == 0, "follower exit on SIGTERM: %r" % p.returncode)


def test_store_killed_mid_flood(h):
    h.service("flood", [{"name": "main", "exec": [
        PY, "-c",
        "import os\n"
        "blk=b''.join(b'%08d flood ' % i + b'z' * 50 + b'\\n'"
        " for i in range(1000))\n"
        "while True:\n"
        "  m=memoryview(blk)\n"
        "  while m: m=m[os.write(1,m):]\n"]}],
        logs={"max_bytes": 2 * 1024 * 1024, "keep_restarts": 5})
    h.start()
    s = h.wait_state("flood", "running")
    pid = s["actions"][0]["pid"]
    wait_for(lambda: db(h, "SELECT count(*) FROM logs")[0][0] > 1000, 10,
             "the flood to be stored")
    old = h.workers()["herod: store"]
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: h.workers().get("herod: store", old) != old and
                   h.workers().get("herod: store"), 10, "store restarted")
    t_new = int(time.time() * 1000)
    res = integrity(h)
    check(res == [["ok"]], "integrity_check: %r" % res)
    wait_for(lambda: db(h, "SELECT count(*) FROM logs WHERE service ="
                        " 'flood' AND ts > ?", [t_new])[0][0] > 1000, 15,
             "logging to resume after the store restart")
    rows = logs(h, "flood", "-n", "5")
    check(rows and rows[-1]["ts"] > t_new, "heroctl logs shows new lines")
    check(h.workers().get("herod: store") == new, "store stays up")
    check(h.pid("flood", "main") == pid, "the service was not restarted")
    res = integrity(h)
    check(res == [["ok"]], "integrity_check later: %r" % res)


def test_logs_admin_only(h):
    h.service("s", [{"name": "main", "exec": [
        "/bin/sh", "-c", "echo secret; exec sleep 1000"]}])
    h.start()
    h.wait_state("s", "running")
    wait_for(lambda: logs(h, "s"), 10, "the line stored")
    if os.geteuid() != 0:
        return
    rc, doc, err = h.ctl("logs", "s", user="nobody")
    check(rc == 5, "logs as nobody: rc %d %r %s" % (rc, doc, err))
    check(not doc or "secret" not in str(doc), "no log text leaked")
    rc, doc, err = h.ctl("logs", "s", "-f", user="nobody", timeout=10)
    check(rc == 5, "logs -f as nobody: rc %d %s" % (rc, err))
    rc, doc, err = h.ctl("events", "-n", "10", user="nobody")
    check(rc == 0, "events as nobody: rc %d %s" % (rc, err))
    check(isinstance(doc, dict) or (isinstance(doc, str) and
                                    '"event"' in doc),
          "events output: %r" % doc)


TESTS = [test_order_and_completeness, test_flood_bounded,
         test_rotation_keep_restarts, test_rotation_max_bytes, test_follow,
         test_store_killed_mid_flood, test_logs_admin_only]

if __name__ == "__main__":
    run_tests(TESTS)
