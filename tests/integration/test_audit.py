"""The audit trail and the operator's contract: every signal herod sends
to a process and every administrative command is an event saying who
asked (uid and pid of the heroctl peer, a signal, or herod) and why;
heroctl never waits without a bound; a start whose dependencies are
stopped fails at once; -j list/status have exactly the documented keys
and -j errors are JSON too."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (HEROCTL, SERVERS, Fail, check, pid_alive, run_tests,
                     spawn_outside, wait_for)

# bounds are for a normal build; ASan is slower
SCALE = 3 if os.environ.get("HEROD_SANITIZED") == "1" else 1

PY = "/usr/bin/python3"
SLEEP = ["/bin/sleep", "1000"]
NOTIFIER = os.path.join(SERVERS, "notifier")
# ignores SIGTERM: only SIGKILL ends it
STUBBORN = [PY, "-c", "import signal,time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(1000)\n"]
TCP_HOLDER = ("import signal,socket,sys,time\n"
              "if sys.argv[2] == 'stubborn':\n"
              "  signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,"
              "socket.SO_REUSEADDR,1)\n"
              "s.bind(('127.0.0.1',int(sys.argv[1]))); s.listen(8)\n"
              "print('listening', flush=True)\n"
              "time.sleep(1000)\n")

# heroctl(8), JSON OUTPUT: the keys of list and status, exactly
SERVICE_KEYS = {"name", "description", "state", "reason", "actions",
                "probes", "logs_dropped"}
ACTION_KEYS = {"name", "kind", "state", "pid", "job_id", "restart_count",
               "uptime_ms", "ready", "status", "reason", "logs_written",
               "logs_dropped", "main_pid", "exit_status"}
PROBE_KEYS = {"name", "ok", "consecutive_failures", "last_error"}
EXIT_TIMEOUT = 6


def ctl_pid(h, *args, timeout=60):
    """heroctl -j ARGS: (rc, doc, stderr, pid of the heroctl process)."""
    p = subprocess.Popen([HEROCTL, "-s", h.sock, "-j"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    out, err = p.communicate(timeout=timeout)
    out = out.decode(errors="replace")
    doc = json.loads(out) if out.strip() else None
    return p.returncode, doc, err.decode(errors="replace"), p.pid


def text(h, *args):
    """heroctl ARGS without -j: (rc, stdout, stderr)."""
    p = subprocess.run([HEROCTL, "-s", h.sock] + list(args),
                       capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def events_of(h, kind, **match):
    return [e for e in h.events() if e.get("event") == kind and
            all(e.get(k) == v for k, v in match.items())]


def wait_event(h, kind, timeout=10, **match):
    return wait_for(lambda: events_of(h, kind, **match), timeout * SCALE,
                    "a %s event %r" % (kind, match))[-1]


def check_by_heroctl(e, pid):
    check(e.get("by") == "heroctl" and e.get("by_uid") == os.getuid() and
          e.get("by_pid") == pid, "asked by heroctl uid %d pid %d: %r" %
          (os.getuid(), pid, e))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --- 6: operator actions and kills are events ---------------------------

def test_commands_and_stop_kills(h):
    h.service("web", [{"name": "main", "exec": SLEEP}])
    h.service("idle", [{"name": "main", "exec": SLEEP}], autostart=False)
    h.start()
    h.wait_state("web", "running")
    pid = h.pid("web", "main")

    rc, doc, err, cp = ctl_pid(h, "stop", "web")
    check(rc == 0, "stop: %d %s" % (rc, err))
    e = wait_event(h, "command", command="stop")
    check(e["services"] == ["web"], e)
    check_by_heroctl(e, cp)
    k = wait_event(h, "kill", service="web", pid=pid)
    check(k["signal"] == "TERM" and k["cause"] == "stop" and
          k["why"] == "stop" and k["action"] == "main", k)
    check_by_heroctl(k, cp)

    rc, doc, err, cp = ctl_pid(h, "start", "web", "idle")
    check(rc == 0, "start: %d %s" % (rc, err))
    e = wait_event(h, "command", command="start")
    check(e["services"] == ["web", "idle"], e)
    check_by_heroctl(e, cp)

    pid = h.pid("idle", "main")
    rc, doc, err, cp = ctl_pid(h, "restart", "idle")
    check(rc == 0, "restart: %d %s" % (rc, err))
    check_by_heroctl(wait_event(h, "command", command="restart"), cp)
    k = wait_event(h, "kill", service="idle", pid=pid)
    check(k["cause"] == "stop" and k["why"] == "restart", k)
    check_by_heroctl(k, cp)

    rc, doc, err, cp = ctl_pid(h, "reset-failed", "--force", "web")
    check(rc == 0, "reset-failed: %d %s" % (rc, err))
    e = wait_event(h, "command", command="reset-failed")
    check(e.get("force") is True and e["services"] == ["web"], e)
    check_by_heroctl(e, cp)

    # reload removes idle: its process is stopped, asked by the reload
    pid = h.pid("idle", "main")
    h.remove_service("idle")
    rc, doc, err, cp = ctl_pid(h, "reload")
    check(rc == 0 and doc["removed"] == ["idle"], "reload: %d %r %s" %
          (rc, doc, err))
    check_by_heroctl(wait_event(h, "command", command="reload"), cp)
    k = wait_event(h, "kill", service="idle", pid=pid)
    check(k["why"] == "reload", k)
    check_by_heroctl(k, cp)

    # shutdown: recorded by the store, read back from the next herod
    # (of a settled instance: a shutdown within the settle window right
    # after the restart above once lost web's last job row and its kill
    # event under ASan in CI -- under investigation, see the closing
    # note of issue 13)
    pid = h.wait_state("web", "running")["actions"][0]["pid"]
    rc, doc, err, cp = ctl_pid(h, "shutdown")
    check(rc == 0, "shutdown: %d %s" % (rc, err))
    h.proc.wait(30 * SCALE)
    h.proc = None
    h.start()
    check_by_heroctl(wait_event(h, "command", command="shutdown"), cp)
    k = wait_event(h, "kill", service="web", pid=pid)
    check(k["why"] == "shutdown", k)
    check_by_heroctl(k, cp)


def test_command_with_many_names(h):
    """A command naming many services is one event that fits the store
    (at most 4 KiB): the names past the room are counted, and the store
    keeps working."""
    names = ["svc-%026d" % i for i in range(200)]
    for n in names:
        h.service(n, [{"name": "main", "exec": SLEEP}], autostart=False)
    h.start()
    store = h.workers()["herod: store"]
    rc, doc, err, cp = ctl_pid(h, "stop", *names)
    check(rc == 0, "stop: %d %s" % (rc, err))
    e = wait_event(h, "command", command="stop")
    check_by_heroctl(e, cp)
    kept = e["services"]
    check(kept == names[:len(kept)] and 0 < len(kept) < len(names) and
          e["services_omitted"] == len(names) - len(kept), e)
    check(len(json.dumps(e)) <= 4096, "event of %d bytes" % len(json.dumps(e)))
    check(h.workers().get("herod: store") == store, "the store restarted")


def test_signals_are_commands(h):
    h.service("web", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("web", "running")
    h.proc.send_signal(signal.SIGHUP)
    e = wait_event(h, "command", command="reload", by="signal")
    check(e["by_signal"] == "HUP" and "by_uid" not in e, e)

    # SIGUSR1: herod leaves, the service stays
    pid = h.pid("web", "main")
    h.proc.send_signal(signal.SIGUSR1)
    h.proc.wait(30 * SCALE)
    h.proc = None
    check(pid_alive(pid), "SIGUSR1 kept the service")
    h.start()
    e = wait_event(h, "command", command="shutdown", by_signal="USR1")
    check(e["by"] == "signal" and e.get("keep_services") is True, e)
    check(not events_of(h, "kill", pid=pid), "no kill with SIGUSR1")

    # SIGTERM: every service is stopped, asked by the signal
    h.wait_state("web", "running")
    pid = h.pid("web", "main")
    h.proc.send_signal(signal.SIGTERM)
    h.proc.wait(30 * SCALE)
    h.proc = None
    h.start()
    wait_event(h, "command", command="shutdown", by_signal="TERM")
    k = wait_event(h, "kill", service="web", pid=pid)
    check(k["by"] == "signal" and k["by_signal"] == "TERM" and
          k["signal"] == "TERM" and k["cause"] == "stop" and
          k["why"] == "SIGTERM: shutdown", k)


def test_stop_escalation(h):
    h.service("stub", [{"name": "main", "exec": STUBBORN,
                        "stop": {"timeout_ms": 300}}])
    h.start()
    h.wait_state("stub", "running")
    pid = h.pid("stub", "main")
    # the stop signal must find the handler in place
    wait_for(lambda: "ready" in json.dumps(h.ctl("logs", "stub")[1]), 10,
             "stub to ignore SIGTERM")
    rc, doc, err, cp = ctl_pid(h, "stop", "stub")
    check(rc == 0, "stop: %d %s" % (rc, err))
    k = wait_event(h, "kill", service="stub", pid=pid, signal="KILL")
    check(k["cause"] == "stop_timeout" and k["by"] == "herod" and
          "did not stop within 300 ms" in k["why"], k)
    t = wait_event(h, "kill", service="stub", pid=pid, signal="TERM")
    check_by_heroctl(t, cp)


def test_ready_timeout_kill(h):
    h.service("never", [{"name": "main", "exec": SLEEP,
                         "ready": {"mode": "file", "timeout_ms": 500},
                         "restart": {"policy": "never"}}])
    h.start(wait=False)
    wait_for(lambda: h.ctl("list")[0] == 0, 15, "herod to answer")
    k = wait_event(h, "kill", service="never", cause="ready_timeout")
    check(k["by"] == "herod" and "by_uid" not in k and
          k["signal"] == "TERM" and "not ready after 500 ms" in k["why"],
          k)


def test_watchdog_kill(h):
    h.service("wd", [{"name": "main", "exec": [
        NOTIFIER, "--mode", "notify", "--delay-ms", "0",
        "--watchdog-ms", "400", "--stop-watchdog-after-ms", "500"],
        "ready": {"mode": "notify", "watchdog_ms": 400,
                  "timeout_ms": 5000},
        "restart": {"policy": "on-failure", "delay_ms": 5000}}])
    h.start()
    h.wait_state("wd", "running")
    pid = h.pid("wd", "main")
    k = wait_event(h, "kill", service="wd", pid=pid)
    check(k["cause"] == "watchdog" and k["by"] == "herod" and
          "watchdog timeout" in k["why"], k)


def test_probe_restart_kill(h):
    flag = os.path.join(h.tmp, "healthy")
    h.service("pr", [{"name": "main", "exec": SLEEP}],
              probes=[{"name": "up", "kind": "exec",
                       "exec": ["/usr/bin/test", "-e", flag],
                       "interval_ms": 100, "timeout_ms": 2000,
                       "grace_ms": 0, "failure_threshold": 2,
                       "on_failure": "restart"}])
    open(flag, "w").close()
    h.start()
    h.wait_state("pr", "running")
    pid = h.pid("pr", "main")
    os.unlink(flag)
    k = wait_event(h, "kill", service="pr", pid=pid)
    check(k["cause"] == "probe" and k["by"] == "herod" and
          "probe up failed 2 times" in k["why"], k)


def outside(h, argv):
    p = spawn_outside(h, argv, stdout=subprocess.PIPE)
    line = p.stdout.readline()
    check(b"listening" in line, "outside process started: %r" % line)
    return p


def test_prespawn_kills(h):
    # singleton: an old instance outside herod holds the declared socket
    sockdir = h.mkdir(os.path.join(h.run, "sockets", "single"))
    sock = os.path.join(sockdir, "rpc.sock")
    unix = ("import socket,sys,time\n"
            "s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])\n"
            "s.listen(8); print('listening', flush=True)\n"
            "time.sleep(1000)\n")
    old = outside(h, [PY, "-c", unix, sock])
    h.service("single", [{"name": "main", "exec": SLEEP, "singleton": True,
                          "sockets": ["$HERO_SOCKET_DIR/rpc.sock"]}])
    # kill_others: a holder of the port that ignores SIGTERM
    port = free_port()
    holder = outside(h, [PY, "-c", TCP_HOLDER, str(port), "stubborn"])
    h.service("others", [{"name": "main", "exec": SLEEP,
                          "tcp_ports": [port], "kill_others": True,
                          "stop": {"timeout_ms": 300}}])
    h.start()
    h.wait_state("single", "running", 20)
    h.wait_state("others", "running", 20)
    k = wait_event(h, "kill", service="single", pid=old.pid)
    check(k["cause"] == "singleton" and k["by"] == "herod" and
          k["signal"] == "TERM" and sock in k["why"], k)
    t = wait_event(h, "kill", service="others", pid=holder.pid,
                   signal="TERM")
    check(t["cause"] == "kill_others" and t["by"] == "herod" and
          "port %d" % port in t["why"], t)
    k = wait_event(h, "kill", service="others", pid=holder.pid,
                   signal="KILL")
    check(k["cause"] == "prespawn_timeout" and k["by"] == "herod" and
          "did not stop within 300 ms" in k["why"], k)


# --- 9: heroctl never waits without a bound ----------------------------

class Silent:
    """A control socket that accepts, reads and never answers."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.conns = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.1)
        while not self.done.is_set():
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.done.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()
        os.unlink(self.path)


def bounded(argv, limit):
    t0 = time.monotonic()
    p = subprocess.run([HEROCTL] + argv, capture_output=True,
                       timeout=limit + 30, stdin=subprocess.DEVNULL)
    return p, time.monotonic() - t0


def test_heroctl_bound(h):
    path = os.path.join(h.tmp, "silent.sock")
    s = Silent(path)
    try:
        want = "no answer from herod at %s within %d s"
        p, dt = bounded(["-s", path, "-t", "1", "list"], 1)
        err = p.stderr.decode()
        check(p.returncode == EXIT_TIMEOUT and want % (path, 1) in err,
              "list: %d %r" % (p.returncode, err))
        check(0.9 < dt < 1 + 2 * SCALE, "list gave up after %.2fs" % dt)
        # with -j the error is JSON on stdout too
        p, dt = bounded(["-s", path, "-t", "1", "-j", "status", "x"], 1)
        doc = json.loads(p.stdout)
        check(p.returncode == EXIT_TIMEOUT and doc == {
            "error": want % (path, 1), "exit_code": EXIT_TIMEOUT},
            "status -j: %d %r" % (p.returncode, p.stdout))
        # start: herod's own --timeout is part of the bound
        p, dt = bounded(["-s", path, "-t", "1", "start", "x", "--timeout",
                         "1"], 2)
        check(p.returncode == EXIT_TIMEOUT and
              want % (path, 2) in p.stderr.decode(), p.stderr)
        check(1.9 < dt < 2 + 2 * SCALE, "start gave up after %.2fs" % dt)
        # a follow is bounded until herod's first answer
        p, dt = bounded(["-s", path, "-t", "1", "events", "-f"], 1)
        check(p.returncode == EXIT_TIMEOUT, "events -f: %d" % p.returncode)
        check(dt < 1 + 2 * SCALE, "events -f gave up after %.2fs" % dt)
    finally:
        s.close()
    # and then it is not: a real herod answers, following goes on
    h.service("web", [{"name": "main", "exec": SLEEP}])
    h.start()
    f = subprocess.Popen([HEROCTL, "-s", h.sock, "-t", str(SCALE), "events",
                          "-f"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        try:
            f.wait(SCALE + 1.5)
            raise Fail("events -f -t 1 ended: %d %r" %
                       (f.returncode, f.stderr.read()))
        except subprocess.TimeoutExpired:
            pass
    finally:
        f.send_signal(signal.SIGTERM)
        f.wait(10)
    check(f.returncode == 0, "events -f after SIGTERM: %d" % f.returncode)


# --- 13: a start whose dependencies are stopped ------------------------

def test_start_with_stopped_dependency(h):
    h.service("redis", [{"name": "main", "exec": SLEEP}], autostart=False)
    h.service("nginx", [{"name": "main", "exec": SLEEP}], after=["redis"],
              autostart=False)
    h.start()
    t0 = time.monotonic()
    rc, doc, err = h.ctl("start", "nginx", json_out=False)
    check(rc == 1 and "nginx: waits for redis, which is stopped; start it "
          "too" in err, "start nginx: %d %s" % (rc, err))
    check(time.monotonic() - t0 < 5 * SCALE, "took %.1fs" %
          (time.monotonic() - t0))
    check(h.state_of("nginx") == "stopped", "nginx was started")
    rc, doc, err = h.ctl("start", "nginx")
    check(rc == 1 and doc["exit_code"] == 1 and "redis" in doc["error"],
          "-j: %d %r" % (rc, doc))
    # both named: both start, in order
    rc, doc, err = h.ctl("start", "nginx", "redis", timeout=60)
    check(rc == 0, "start nginx redis: %d %r %s" % (rc, doc, err))
    check(h.state_of("nginx") == "running" and
          h.state_of("redis") == "running", h.list())
    # a failed dependency is named too
    h.service("bad", [{"name": "main", "exec": ["/nonexistent/x"],
                       "restart": {"policy": "never"}}], autostart=False)
    h.service("needsbad", [{"name": "main", "exec": SLEEP}],
              after=["bad"], autostart=False)
    h.ctl("reload")
    h.ctl("start", "bad")
    h.wait_state("bad", "failed")
    rc, doc, err = h.ctl("start", "needsbad", json_out=False)
    check(rc == 1 and "needsbad: waits for bad, which is failed" in err,
          "%d %s" % (rc, err))


# --- 14: outputs as documented -----------------------------------------

def check_keys(doc):
    for s in doc["services"]:
        check(set(s) == SERVICE_KEYS, "service keys %r" % sorted(s))
        for a in s["actions"]:
            check(set(a) == ACTION_KEYS, "action keys %r" % sorted(a))
        for p in s["probes"]:
            check(set(p) == PROBE_KEYS, "probe keys %r" % sorted(p))


def test_json_shapes_and_texts(h):
    h.service("web", [{"name": "main", "exec": SLEEP}],
              description="the web front",
              probes=[{"name": "slow", "kind": "exec", "exec": ["/bin/true"],
                       "interval_ms": 3600000, "grace_ms": 0}])
    h.service("slow", [{"name": "main", "exec": SLEEP,
                        "ready": {"mode": "file", "timeout_ms": 30000}}],
              autostart=False)
    h.start()
    h.wait_state("web", "running")
    rc, doc, err = h.ctl("list")
    check(rc == 0, err)
    check_keys(doc)
    a = doc["services"][1]["actions"][0]
    check(a["kind"] == "process" and a["exit_status"] is None and
          a["reason"] == "", a)
    rc, doc, err = h.ctl("status", "web")
    check(rc == 0, err)
    check_keys(doc)
    check(doc["services"][0]["description"] == "the web front", doc)
    # events as text: a command names its services (no one service: -)
    rc, out, err = text(h, "stop", "slow")
    rc, out, err = text(h, "events")
    line = [l for l in out.splitlines() if " command " in l][-1]
    check(" command - command=stop services=[\"slow\"] by=heroctl" in line,
          line)
    # the text of status shows the description
    rc, out, err = text(h, "status", "web")
    check("description: the web front" in out, out)
    check("0 consecutive failures" not in out, out)
    # errors are JSON on stdout with -j, and on stderr
    rc, doc, err = h.ctl("status", "nosuch")
    check(rc == 4 and doc == {"error": "no such service: nosuch",
                              "exit_code": 4}, "%d %r" % (rc, doc))
    check("no such service: nosuch" in err, err)
    rc, doc, err = h.ctl("start", "-t")
    check(rc == 2 and doc["exit_code"] == 2, "%d %r" % (rc, doc))
    # --no-wait says nothing of a timeout
    rc, doc, err = h.ctl("start", "slow", "--no-wait")
    check(rc == 0 and doc["results"][0]["state"] == "starting" and
          err == "", "%d %r %r" % (rc, doc, err))
    rc, doc, err = h.ctl("stop", "slow", "--no-wait")
    check(rc == 0 and "timeout" not in err and err == "",
          "%d %r %r" % (rc, doc, err))


def test_status_probe_text(h):
    """A probe not run yet, or failing inside its grace period, is not
    'FAIL, 0 consecutive failures'."""
    h.service("g", [{"name": "main", "exec": SLEEP}],
              probes=[{"name": "chk", "kind": "exec", "exec": ["/bin/false"],
                       "interval_ms": 100, "grace_ms": 600000,
                       "on_failure": "warn"}])
    h.start()
    wait_for(lambda: h.svc("g")["probes"][0]["ok"] is False, 10,
             "the probe to fail in its grace period")
    rc, out, err = text(h, "status", "g")
    check("probe chk: FAIL" in out, out)
    check("0 consecutive failures" not in out, out)


TESTS = [test_commands_and_stop_kills, test_command_with_many_names,
         test_signals_are_commands,
         test_stop_escalation, test_ready_timeout_kill, test_watchdog_kill,
         test_probe_restart_kill, test_prespawn_kills, test_heroctl_bound,
         test_start_with_stopped_dependency, test_json_shapes_and_texts,
         test_status_probe_text]

if __name__ == "__main__":
    run_tests(TESTS)
