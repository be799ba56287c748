"""Restarting herod without disturbing services: adoption after SIGKILL,
SIGUSR1 and shutdown --keep-services; services that died or whose pid
was reused while herod was down; logging across restarts; workers killed
again and again; reset-failed."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (db_query, Fail, Herod, HEROCTL, SERVERS, check, demote_fn,
                     pid_alive, run_tests, spawn_outside, wait_for)

PY = "/usr/bin/python3"
NOTIFIER = os.path.join(SERVERS, "notifier")
SLEEP = ["/bin/sleep", "1000"]
WORKERS = ("herod: spawner", "herod: prober", "herod: store")


def db(h, sql, params=(), mode="ro"):
    """(rows, rowcount) of sql on STATEDIR/herod.db."""
    return db_query(h, sql, params, mode)


def mixed_services(h, n_each):
    """n_each services per readiness mode; returns their names."""
    names = []
    for i in range(n_each):
        h.service("none%d" % i, [{"name": "main", "exec": SLEEP}])
        for mode in ("file", "notify", "fd"):
            h.service("%s%d" % (mode, i), [{"name": "main", "exec": [
                NOTIFIER, "--mode", mode, "--delay-ms", "0"],
                "ready": {"mode": mode, "timeout_ms": 10000}}])
        names += ["none%d" % i] + ["%s%d" % (m, i)
                                   for m in ("file", "notify", "fd")]
    return names


def snapshot(h, names):
    """{service: [(action, pid, job_id, restart_count)]}, all running."""
    out = {}
    lst = h.list()
    for n in names:
        s = lst[n]
        check(s["state"] == "running", "%s: %r" % (n, s))
        out[n] = [(a["name"], a["pid"], a["job_id"], a["restart_count"])
                  for a in s["actions"]]
        check(all(p > 0 and pid_alive(p) for _, p, _, _ in out[n]), s)
    return out


def pids_of(snap):
    return [p for acts in snap.values() for _, p, _, _ in acts]


def wait_all_running(h, names, timeout=30):
    wait_for(lambda: all(h.state_of(n) == "running" for n in names),
             timeout, "all of %s running" % ", ".join(names))


def take_down(h, how):
    """End herod by how (kill, usr1, shutdown) and check that it and its
    workers are gone."""
    workers = h.workers()
    check(len(workers) == 4, "4 herod processes: %r" % workers)
    if how == "kill":
        h.proc.kill()
        h.proc.wait(10)
    elif how == "usr1":
        h.proc.send_signal(signal.SIGUSR1)
        h.proc.wait(20)
        check(h.proc.returncode == 0, "exit status %r" % h.proc.returncode)
    elif how == "shutdown":
        rc, doc, err = h.ctl("shutdown", "--keep-services")
        check(rc == 0 and doc == {"shutdown": True, "keep_services": True},
              "shutdown: %d %r %s" % (rc, doc, err))
        h.proc.wait(20)
        check(h.proc.returncode == 0, "exit status %r" % h.proc.returncode)
    else:
        raise Fail("how %r" % how)
    wait_for(lambda: not any(map(pid_alive, workers.values())), 10,
             "the workers of the old herod to exit: %r" % workers)
    h.proc = None


def restart_watching(h, names, snap, limit_s=2.0):
    """Start a new herod and poll list from the start until every one of
    names is running; none may be shown failed or stopped meanwhile and
    every pid must be the one in snap.  Returns the wall time (ms) of the
    start."""
    bad = []
    t_wall = int(time.time() * 1000)
    t0 = time.monotonic()
    h.start(wait=False)

    def all_running():
        rc, doc, err = h.ctl("list", timeout=10)
        if rc != 0:
            return False
        svcs = {s["name"]: s for s in doc["services"]}
        for n in names:
            s = svcs.get(n)
            if s is None:
                bad.append((n, "missing"))
            elif s["state"] in ("failed", "stopped"):
                bad.append((n, s["state"], s["reason"]))
        return all(svcs.get(n, {}).get("state") == "running" for n in names)
    wait_for(all_running, 15, "all services running again", interval=0.005)
    dt = time.monotonic() - t0
    check(not bad, "shown failed/stopped after the restart: %r" % bad[:10])
    check(dt < limit_s, "all running only after %.2fs" % dt)
    after = snapshot(h, names)
    check(after == snap, "pids/jobs changed: %r" %
          {n: (snap[n], after[n]) for n in names if snap[n] != after[n]})
    return t_wall


def stays_running(h, names, snap, seconds=1.0):
    """For seconds, list keeps showing every one running, pids unchanged."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check(snapshot(h, names) == snap, "changed after the restart")


def no_spawn_exit_since(h, names, t_wall):
    ev = [e for e in h.events() if e.get("ts", 0) >= t_wall and
          e.get("event") in ("spawn", "exit") and e.get("service") in names]
    check(not ev, "spawn/exit events after the restart: %r" % ev[:5])


def adopt_cycle(h, how):
    names = mixed_services(h, 5)
    check(len(names) == 20, names)
    h.start()
    wait_all_running(h, names)
    snap = snapshot(h, names)
    take_down(h, how)
    check(all(map(pid_alive, pids_of(snap))), "services survive herod")
    t_wall = restart_watching(h, names, snap)
    stays_running(h, names, snap)
    no_spawn_exit_since(h, names, t_wall)


def test_adopt_after_sigkill(h):
    adopt_cycle(h, "kill")


def test_adopt_after_sigusr1(h):
    adopt_cycle(h, "usr1")


def test_adopt_after_shutdown_keep_services(h):
    adopt_cycle(h, "shutdown")


def test_dead_while_down_restarted(h):
    names = ["a", "b", "c"]
    for n in names:
        h.service(n, [{"name": "main", "exec": SLEEP}])
    h.start()
    wait_all_running(h, names)
    snap = snapshot(h, names)
    take_down(h, "kill")
    _, bpid, bjob, brc = snap["b"][0]
    os.kill(bpid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(bpid), 5, "b gone")
    h.start()
    s = wait_for(lambda: h.state_of("b") == "running" and
                 h.pid("b", "main") not in (0, bpid) and h.svc("b"), 10,
                 "b restarted")
    a = s["actions"][0]
    check(a["job_id"] == bjob, "same job: %r vs %d" % (a, bjob))
    check(a["restart_count"] == brc + 1, "restart_count + 1: %r" % a)
    others = {n: snap[n] for n in ("a", "c")}
    check(snapshot(h, ["a", "c"]) == others, "a and c untouched")


def test_reused_pid_not_adopted(h):
    names = ["victim", "other"]
    for n in names:
        h.service(n, [{"name": "main", "exec": SLEEP}])
    h.start()
    wait_all_running(h, names)
    snap = snapshot(h, names)
    vpid = snap["victim"][0][1]
    take_down(h, "usr1")
    os.kill(vpid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(vpid), 5, "victim gone")
    # an unrelated process now has "the" pid: its start time differs
    bystander = spawn_outside(h, SLEEP)
    rows, n = db(h, "UPDATE jobs SET pid = ? WHERE service = 'victim'"
                 " AND pid = ?", [bystander.pid, vpid], mode="rw")
    check(n == 1, "one job row of victim with pid %d (%d)" % (vpid, n))
    h.start()
    s = wait_for(lambda: h.state_of("victim") == "running" and
                 h.pid("victim", "main") not in (0, vpid, bystander.pid)
                 and h.svc("victim"), 10, "victim restarted")
    check(bystander.poll() is None and pid_alive(bystander.pid),
          "the unrelated process is alive")
    check(snapshot(h, ["other"]) == {"other": snap["other"]},
          "other adopted")
    stays_running(h, ["victim"], snapshot(h, ["victim"]), 0.5)
    check(pid_alive(bystander.pid), "the unrelated process is still alive")


def test_logging_across_restarts(h):
    h.service("ticker", [{"name": "main", "exec": [
        "/bin/sh", "-c", "i=0; while :; do echo \"line $i\"; "
        "i=$((i+1)); sleep 0.01; done"]}])
    h.start()
    h.wait_state("ticker", "running")
    pid = h.pid("ticker", "main")

    def last_line():
        p = subprocess.run([HEROCTL, "-s", h.sock, "-j", "logs", "ticker",
                            "-n", "20"], capture_output=True, timeout=30)
        rows = [json.loads(l) for l in p.stdout.decode().splitlines()
                if l.strip()]
        rows = [r for r in rows if r["stream"] == "stdout"]
        return rows and (int(rows[-1]["line"].split()[1]), rows[-1]["ts"])
    wait_for(lambda: last_line() and last_line()[0] > 10, 10, "lines")
    for how in ("kill", "usr1", "shutdown"):
        before = last_line()[0]
        take_down(h, how)
        check(pid_alive(pid), "ticker survives (%s)" % how)
        h.start()
        t_up = int(time.time() * 1000)
        wait_for(lambda: last_line()[0] > before + 20 and
                 last_line()[1] > t_up, 10,
                 "lines written after the new herod (%s) started" % how)
        check(h.pid("ticker", "main") == pid and
              h.state_of("ticker") == "running", "ticker untouched")


def test_workers_killed_repeatedly(h):
    names = ["s1", "s2", "file0", "notify0", "fd0"]
    h.service("s1", [{"name": "main", "exec": SLEEP}])
    h.service("s2", [{"name": "x", "exec": SLEEP},
                     {"name": "y", "exec": [
                         "/bin/sh", "-c", "while :; do echo hi; "
                         "sleep 0.05; done"]}])
    for mode in ("file", "notify", "fd"):
        h.service("%s0" % mode, [{"name": "main", "exec": [
            NOTIFIER, "--mode", mode, "--delay-ms", "0"],
            "ready": {"mode": mode, "timeout_ms": 10000}}])
    h.start()
    wait_all_running(h, names)
    snap = snapshot(h, names)
    # a worker that keeps dying comes back after 0, 1, 2, 4 s
    # (herod(8)): killed again as soon as it is there
    for title in WORKERS:
        for i in range(4):
            old = wait_for(lambda: h.workers().get(title),
                           5 + (1 << i), "%s present" % title)
            os.kill(old, signal.SIGKILL)
            wait_for(lambda: h.workers().get(title, old) != old,
                     5 + (1 << i), "%s replaced (kill %d)" % (title, i + 1))
    wait_for(lambda: h.ctl("list")[0] == 0, 10, "heroctl list answers")
    wait_all_running(h, names, 15)
    check(snapshot(h, names) == snap, "services untouched")
    check(all(map(pid_alive, pids_of(snap))))
    res, _ = db(h, "PRAGMA integrity_check")
    check(res == [["ok"]], "integrity_check: %r" % res)
    # everything still works: events from the store, a stop by the spawner
    check(h.events(), "events answer")
    rc, _, err = h.ctl("stop", "s1")
    check(rc == 0, "stop s1: %s" % err)
    wait_for(lambda: not pid_alive(snap["s1"][0][1]), 5, "s1 stopped")


def test_reset_failed(h):
    flag = os.path.join(h.tmp, "fixed")
    h.service("broken", [{"name": "main", "exec": [
        "/bin/sh", "-c", "[ -e %s ] && exec sleep 1000; exit 1" % flag],
        "restart": {"policy": "never"}}])
    h.service("limping", [{"name": "slow", "exec": SLEEP,
                           "restart": {"delay_ms": 30000}},
                          {"name": "fine", "exec": SLEEP}])
    good = ["ok1", "ok2", "ok3"]
    for n in good:
        h.service(n, [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("broken", "failed")
    wait_all_running(h, good + ["limping"])
    os.kill(h.pid("limping", "slow"), signal.SIGKILL)
    h.wait_state("limping", "degraded", 5)
    snap = snapshot(h, good)
    open(flag, "w").close()
    rc, doc, err = h.ctl("reset-failed")
    check(rc == 0, "reset-failed: %d %s" % (rc, err))
    check(sorted(doc["restarted"]) == ["broken", "limping"],
          "restarted: %r" % doc)
    left = {e["name"]: e["state"] for e in doc["left_alone"]}
    check(left == {n: "running" for n in good}, "left_alone: %r" % doc)
    wait_all_running(h, good + ["broken", "limping"], 15)
    check(snapshot(h, good) == snap, "the running ones untouched")
    check(h.pid("limping", "slow") > 0)
    # idempotent: everything runs, nothing more is restarted
    allsnap = snapshot(h, good + ["broken", "limping"])
    rc, doc, err = h.ctl("reset-failed")
    check(rc == 0, "reset-failed again: %d %s" % (rc, err))
    check(doc["restarted"] == [], "restarted again: %r" % doc)
    check(sorted(e["name"] for e in doc["left_alone"]) ==
          sorted(good + ["broken", "limping"]), "left_alone: %r" % doc)
    stays_running(h, good + ["broken", "limping"], allsnap, 0.5)


TESTS = [test_adopt_after_sigkill, test_adopt_after_sigusr1,
         test_adopt_after_shutdown_keep_services,
         test_dead_while_down_restarted, test_reused_pid_not_adopted,
         test_logging_across_restarts, test_workers_killed_repeatedly,
         test_reset_failed]

if __name__ == "__main__":
    run_tests(TESTS)
