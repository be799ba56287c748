"""sd_notify as a drop-in: WATCHDOG_USEC and WATCHDOG_PID in the
environment, MAINPID= (a process of the action's group only) and
RELOADING=1 (Type=notify-reload), through real herod and notifier
processes."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Fail, SERVERS, check, pid_alive, run_tests,
                     spawn_outside, wait_for)

NOTIFIER = os.path.join(SERVERS, "notifier")
SLOW = 4 if os.environ.get("HEROD_SANITIZED") == "1" else 1


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return out


def status_action(h, name):
    rc, doc, err = h.ctl("status", name)
    check(rc == 0, err)
    return doc["services"][0]["actions"][0]


def stays(cond, seconds, what):
    """cond() holds at every look for seconds (a bounded observation, not
    a synchronization)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check(cond(), what)
        time.sleep(0.05)


def test_watchdog_env(h):
    """sd_watchdog_enabled(3) in the service sees the configured watchdog:
    WATCHDOG_USEC in microseconds, WATCHDOG_PID its own pid.  A service
    that keeps its watchdog by the environment alone (as libsystemd users
    do) is not killed."""
    d = h.mkdir(os.path.join(h.tmp, "out"))
    envf = os.path.join(d, "env")
    h.service("wde", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--watchdog-ms", "env",
        "--env-file", envf],
        "ready": {"mode": "notify", "watchdog_ms": 700 * SLOW,
                  "timeout_ms": 10000},
        "restart": {"policy": "on-failure", "delay_ms": 100}}])
    h.start()
    h.wait_state("wde", "running")
    pid = h.pid("wde", "main")
    env = wait_for(lambda: open(envf).read().split(), 5, "env file")
    kv = dict(x.split("=", 1) for x in env)
    check(kv["WATCHDOG_USEC"] == str(700 * SLOW * 1000), kv)
    check(kv["WATCHDOG_PID"] == kv["pid"] == str(pid), (kv, pid))
    # three watchdog periods and more: kept alive by what the env said
    stays(lambda: h.action("wde", "main")["restart_count"] == 0 and
          h.pid("wde", "main") == pid, 3.0 * SLOW,
          "the watchdog, kept through WATCHDOG_USEC, killed nothing")
    # an action without a watchdog gets neither variable
    h.service("plain", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--env-file", envf + "2"],
        "ready": {"mode": "notify"}}])
    rc, _, err = h.ctl("reload")
    check(rc == 0, err)
    h.wait_state("plain", "running")
    env = wait_for(lambda: open(envf + "2").read().split(), 5, "env file")
    check(env[0] == "WATCHDOG_USEC=-" and env[1] == "WATCHDOG_PID=-", env)


def test_mainpid_child(h):
    """MAINPID= names a process of the action's group: status shows it,
    and its exit ends the instance (the rest of the group is stopped and
    the restart policy applies)."""
    h.service("mp", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--mainpid", "child"],
        "ready": {"mode": "notify", "timeout_ms": 10000},
        "restart": {"policy": "on-failure", "delay_ms": 100}}])
    h.start()
    h.wait_state("mp", "running")
    leader = h.pid("mp", "main")
    kids = wait_for(lambda: children(leader), 5, "the child")
    child = kids[0]
    a = wait_for(lambda: (lambda a: a if a["main_pid"] == child else
                          None)(status_action(h, "mp")), 5,
                 "main_pid in status")
    check(a["pid"] == leader, a)
    p = subprocess.run([os.environ["HEROCTL"], "-s", h.sock, "status",
                        "mp"], capture_output=True, timeout=30)
    out = p.stdout.decode()
    check(p.returncode == 0 and "main pid %d" % child in out, out)
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: h.action("mp", "main")["restart_count"] == 1, 10,
             "restart after the main process died")
    wait_for(lambda: not pid_alive(leader), 10, "old leader stopped")
    h.wait_state("mp", "running")
    check(any(e.get("event") == "state" and
              "main process %d exited" % child in e.get("reason", "")
              for e in h.events()), "reason names the main process")
    # the new instance has a main process of its own
    new = h.pid("mp", "main")
    check(new != leader)
    wait_for(lambda: status_action(h, "mp")["main_pid"] in children(new),
             5, "new main pid")


def test_mainpid_outside_ignored(h):
    """A service (the unprivileged user herod's services run as) naming a
    process outside its group as MAINPID= gets nothing: not shown, and
    that process's exit does not end the action."""
    out = spawn_outside(h, ["/bin/sleep", "1000"])
    h.service("mpx", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--mainpid", str(out.pid)],
        "ready": {"mode": "notify", "timeout_ms": 10000},
        "restart": {"policy": "on-failure", "delay_ms": 100}}])
    h.start()
    h.wait_state("mpx", "running")
    pid = h.pid("mpx", "main")
    wait_for(lambda: "MAINPID=%d is not a process of its group" % out.pid
             in h.logtext(), 5, "MAINPID refused in the log")
    check(status_action(h, "mpx")["main_pid"] == 0)
    out.kill()
    out.wait(5)
    stays(lambda: h.pid("mpx", "main") == pid and
          h.action("mpx", "main")["restart_count"] == 0, 1.0,
          "a foreign process's exit ended the action")


def test_reloading(h):
    """RELOADING=1: the service shows the action reloading until the next
    READY=1, stays running, and its watchdog is not counted meanwhile
    (the reload takes longer than the watchdog)."""
    wd = 400 * SLOW
    h.service("rl", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--watchdog-ms", str(wd),
        "--reload-ms", str(4 * wd)],
        "ready": {"mode": "notify", "watchdog_ms": wd, "timeout_ms": 10000},
        "restart": {"policy": "on-failure", "delay_ms": 100}}])
    h.start()
    h.wait_state("rl", "running")
    pid = h.pid("rl", "main")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    s = wait_for(lambda: (lambda s: s if s["reason"] == "main reloading"
                          else None)(h.svc("rl")), 5, "reloading shown")
    check(s["state"] == "running", s)
    check(status_action(h, "rl")["reason"] == "reloading")
    wait_for(lambda: h.svc("rl")["reason"] == "", 10, "reload ended")
    check(time.monotonic() - t0 >= 4 * wd / 1000.0 * 0.9,
          "reload ended before its READY=1")
    a = h.action("rl", "main")
    check(a["restart_count"] == 0 and a["pid"] == pid and
          a["state"] == "running", a)
    # the watchdog counts again after READY=1: still kept by the service
    stays(lambda: h.action("rl", "main")["restart_count"] == 0,
          3 * wd / 1000.0, "watchdog after the reload")
    check(any(e.get("event") == "state" and e.get("reason") == "reloading"
              for e in h.events()), "reloading recorded as an event")


TESTS = [test_watchdog_env, test_mainpid_child, test_mainpid_outside_ignored,
         test_reloading]

if __name__ == "__main__":
    run_tests(TESTS)
