"""Chaos run: a bounded, seeded storm of faults against a herod with a
few dozen services, while `heroctl -j list` is sampled every 50 ms.

Faults (one at a time, from a seeded generator): SIGKILL of a service,
SIGKILL of each worker (spawner, prober, store), SIGSTOP/SIGCONT of an
http handler, removal of a handler's socket file, SIGKILL of the herod
parent and a relaunch (adoption), and operator stop/start, restart and
reload.  Every sample taken after a fault's detection bound (from
herod.service(5)'s timing, see BOUNDS) must tell the truth; the figures
(faults by kind, samples, violations, worst latency by kind) are printed
at the end and recorded in docs/BENCHMARKS.md, "Chaos run".

CHAOS_SEED (default 1) fixes the faults, their targets and the pauses;
CHAOS_SECONDS (default 60) how long faults are injected; CHAOS_SERVICES
(default 24, at least 12) how many services.  Bounds are scaled under
sanitizers (HEROD_SANITIZED=1)."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Fail, HEROCTL, SERVERS, check, pid_alive, run_tests,
                     wait_for)

NOTIFIER = os.path.join(SERVERS, "notifier")
HTTPD = os.path.join(SERVERS, "httpd")
SLOW = 3 if os.environ.get("HEROD_SANITIZED") == "1" else 1
SEED = int(os.environ.get("CHAOS_SEED", "1"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "60"))
NSERVICES = max(12, int(os.environ.get("CHAOS_SERVICES", "24")))
SAMPLE_S = 0.05

# Probe timing of the http services (herod.service(5), PROBE KEYS).
INTERVAL_MS, TIMEOUT_MS, THRESHOLD = 300, 200, 2
RESTART_MS, RESTART_MAX_MS = 200, 800

# Detection bounds in seconds: after these, every sample must be right.
BOUNDS = {
    # the spawner's SIGCHLD, M_EXITED, the parent: the dead pid goes
    "kill_service": 1.0 * SLOW,
    # a hung handler: failure_threshold x interval + timeout, plus the
    # first check's offset (one interval) and 0.5 s of slack
    "sigstop_handler": (THRESHOLD * INTERVAL_MS + TIMEOUT_MS +
                        INTERVAL_MS) / 1000.0 + 0.5 * SLOW,
    # the same bound: a check notices the missing file, the restarting
    # probe then kills the listener
    "remove_socket": (THRESHOLD * INTERVAL_MS + TIMEOUT_MS +
                      INTERVAL_MS) / 1000.0 + 0.5 * SLOW,
    # nothing may change at all when a worker dies: bound 0
    "kill_spawner": 0.0,
    "kill_prober": 0.0,
    "kill_store": 0.0,
    # the new herod: workers, the store's load, M_ADOPT of every pid
    "kill_parent": 5.0 * SLOW,
    # the same, killed just after `restart --no-wait` of a service: that
    # one is adopted while starting (or started again) and must become
    # running within the same bound plus its readiness
    "kill_parent_starting": 6.0 * SLOW,
    # operator commands: right as soon as heroctl has answered
    "op_stop_start": 0.0,
    "op_restart": 0.0,
    "op_reload": 0.0,
}
# after SIGCONT, a handler's service is running again within one
# interval + timeout (success_threshold 1) and slack
CONT_BOUND = (INTERVAL_MS + TIMEOUT_MS) / 1000.0 + 0.5 * SLOW
# everything running again (restart backoff at most max_delay_ms + 25 %
# jitter, readiness, probes)
RECOVER_BOUND = 15.0 * SLOW
KINDS = list(BOUNDS)


def services(h):
    """NSERVICES services of six kinds; returns {name: kind}."""
    kinds = ["sleep", "httpw", "httpr", "notify", "file", "fd"]
    out = {}
    restart = {"policy": "always", "delay_ms": RESTART_MS,
               "max_delay_ms": RESTART_MAX_MS}
    for i in range(NSERVICES):
        k = kinds[i % len(kinds)]
        name = "%s%02d" % (k, i)
        probes = []
        if k == "sleep":
            act = {"exec": ["/bin/sleep", "100000"],
                   "ready": {"settle_ms": 200}}
        elif k in ("httpw", "httpr"):
            act = {"exec": [HTTPD, "--mode", "ok",
                            "unix:$HERO_SOCKET_DIR/h.sock"]}
            probes = [{"name": "health", "kind": "http",
                       "target": "unix:$HERO_SOCKET_DIR/h.sock",
                       "interval_ms": INTERVAL_MS,
                       "timeout_ms": TIMEOUT_MS,
                       "failure_threshold": THRESHOLD,
                       "on_failure": "warn" if k == "httpw" else
                       "restart"}]
        elif k == "fd":
            act = {"exec": [NOTIFIER, "--mode", "fd", "--delay-ms", "50",
                            "--fd", "4"],
                   "ready": {"mode": "fd", "fd": 4}}
        else:
            act = {"exec": [NOTIFIER, "--mode", k, "--delay-ms", "50"],
                   "ready": {"mode": k}}
        act.update({"name": "main", "restart": restart})
        h.service(name, [act], probes=probes, description="chaos " + k)
        out[name] = k
    return out


def snapshot(doc):
    """{service: (state, ((action, state, pid), ...))} of a list."""
    return {s["name"]: (s["state"], tuple((a["name"], a["state"], a["pid"])
                                          for a in s["actions"]))
            for s in doc["services"]}


def pids_of(snap, name):
    return [a[2] for a in snap[name][1]]


class Rule:
    """What every sample taken inside [t_from, t_until] must show."""

    def __init__(self, kind, t_from, pred, desc):
        self.kind, self.t_from, self.pred, self.desc = kind, t_from, pred, \
            desc
        self.t_until = None


class Detect:
    """The first sample at or after t0 that shows pred: the latency."""

    def __init__(self, kind, t0, pred):
        self.kind, self.t0, self.pred = kind, t0, pred
        self.latency = None


class Sampler(threading.Thread):
    def __init__(self, h):
        super().__init__(daemon=True)
        self.h = h
        self.lock = threading.Lock()
        self.rules = []
        self.detects = []
        self.quiet = []          # [t_from, t_until]: list may not answer
        self.samples = self.unanswered = 0
        self.violations = []
        self.stopping = False

    def add_rule(self, r):
        with self.lock:
            self.rules.append(r)
        return r

    def add_detect(self, d):
        with self.lock:
            self.detects.append(d)
        return d

    def close_rules(self, t):
        with self.lock:
            for r in self.rules:
                if r.t_until is None:
                    r.t_until = t

    def sample(self):
        ts = time.monotonic()
        try:
            p = subprocess.run([HEROCTL, "-s", self.h.sock, "-j", "list"],
                               capture_output=True, timeout=10,
                               stdin=subprocess.DEVNULL)
            doc = json.loads(p.stdout) if p.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            doc = None
        te = time.monotonic()
        with self.lock:
            self.samples += 1
            if doc is None:
                self.unanswered += 1
                # a request in flight when herod went down may go
                # unanswered: the sample overlaps the quiet window
                if not any(q[0] <= te and (q[1] is None or ts <= q[1])
                           for q in self.quiet):
                    self.violations.append(
                        ("list", ts, "heroctl list did not answer"))
                return
            snap = snapshot(doc)
            for r in self.rules:
                if ts < r.t_from or (r.t_until is not None and
                                     te > r.t_until):
                    continue
                try:
                    ok = r.pred(snap)
                except (KeyError, IndexError):
                    ok = False
                if not ok:
                    self.violations.append((r.kind, ts, "%s; saw %r" %
                                            (r.desc, snap_brief(snap))))
            for d in self.detects:
                if d.latency is None and ts >= d.t0:
                    try:
                        if d.pred(snap):
                            d.latency = te - d.t0
                    except (KeyError, IndexError):
                        pass

    def run(self):
        while not self.stopping:
            t = time.monotonic()
            self.sample()
            left = SAMPLE_S - (time.monotonic() - t)
            if left > 0:
                time.sleep(left)


def snap_brief(snap):
    bad = {n: v for n, v in snap.items() if v[0] != "running"}
    return bad if bad else "all running"


def all_running(snap):
    return all(v[0] == "running" for v in snap.values())


def same_as(before):
    """Every service as in before: running, same pids."""
    def pred(snap):
        return all(snap[n][0] == "running" and
                   pids_of(snap, n) == pids_of(before, n) for n in before)
    return pred


class Chaos:
    def __init__(self, h, svcs):
        self.h = h
        self.svcs = svcs
        self.rng = random.Random(SEED)
        self.s = Sampler(h)
        self.count = {k: 0 for k in KINDS}
        self.latency = {k: [] for k in KINDS}
        self.stopped = set()     # SIGSTOPped pids, for the cleanup

    def now_snap(self):
        rc, doc, err = self.h.ctl("list", timeout=20)
        check(rc == 0, "list: %s" % err)
        return snapshot(doc)

    def quiesce(self, why):
        """All services running again within RECOVER_BOUND."""
        t0 = time.monotonic()
        try:
            snap = wait_for(lambda: (lambda s: s if all_running(s) else
                                     None)(self.now_snap()),
                            RECOVER_BOUND, "all running after " + why,
                            interval=0.05)
        except Fail as e:
            self.s.violations.append(("recover", t0, str(e)))
            snap = wait_for(lambda: (lambda s: s if all_running(s) else
                                     None)(self.now_snap()), 60,
                            "all running after " + why, interval=0.1)
        return snap

    def pick(self, kinds):
        names = sorted(n for n, k in self.svcs.items() if k in kinds)
        return self.rng.choice(names)

    def worker_pid(self, title):
        return wait_for(lambda: self.h.workers().get(title), 10 * SLOW,
                        title)

    # faults ------------------------------------------------------------
    def kill_service(self, before):
        name = self.pick(("sleep", "httpw", "httpr", "notify", "file",
                          "fd"))
        pid = pids_of(before, name)[0]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        self.s.add_rule(Rule("kill_service", t0 + BOUNDS["kill_service"],
                             lambda s: pid not in pids_of(s, name),
                             "%s: killed pid %d still shown" % (name, pid)))
        return [self.s.add_detect(Detect(
            "kill_service", t0, lambda s: pid not in pids_of(s, name)))]

    def kill_worker(self, before, which):
        title = "herod: " + which
        old = self.worker_pid(title)
        kind = "kill_" + which
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        self.s.add_rule(Rule(kind, t0, same_as(before),
                             "services changed when the %s died" % which))
        new = wait_for(lambda: (lambda p: p if p and p != old else None)(
            self.h.workers().get(title)), 10 * SLOW, "a new " + which)
        d = Detect(kind, t0, lambda s: True)
        d.latency = time.monotonic() - t0
        check(new != old)
        return [d]

    def sigstop_handler(self, before):
        name = self.pick(("httpw",))
        pid = pids_of(before, name)[0]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP)
        self.stopped.add(pid)
        b = BOUNDS["sigstop_handler"]
        r = self.s.add_rule(Rule("sigstop_handler", t0 + b,
                                 lambda s: s[name][0] == "degraded",
                                 "%s: handler stopped, not degraded" % name))
        d = self.s.add_detect(Detect("sigstop_handler", t0,
                                     lambda s: s[name][0] == "degraded"))
        # stay stopped past the bound, by a seeded margin
        time.sleep(b + self.rng.uniform(0.3, 1.0))
        t1 = time.monotonic()
        self.s.close_rules(t1)
        os.kill(pid, signal.SIGCONT)
        self.stopped.discard(pid)
        self.s.add_rule(Rule("sigstop_handler", t1 + CONT_BOUND,
                             lambda s: s[name][0] == "running" and
                             pids_of(s, name) == [pid],
                             "%s: handler continued, not running" % name))
        return [d]

    def remove_socket(self, before):
        name = self.pick(("httpr",))
        pid = pids_of(before, name)[0]
        path = os.path.join(self.h.run, "sockets", name, "h.sock")
        t0 = time.monotonic()
        os.unlink(path)

        def seen(s):
            return not (s[name][0] == "running" and
                        pids_of(s, name) == [pid])
        self.s.add_rule(Rule("remove_socket", t0 + BOUNDS["remove_socket"],
                             seen, "%s: socket gone, still running with "
                             "pid %d" % (name, pid)))
        return [self.s.add_detect(Detect("remove_socket", t0, seen))]

    def kill_parent_starting(self, before):
        name = self.pick(("httpw", "httpr", "notify", "file", "fd"))
        rc, _, err = self.h.ctl("restart", "--no-wait", name)
        if rc != 0:
            self.s.violations.append(("kill_parent_starting",
                                      time.monotonic(), "restart: " + err))
        # 0 to 100 ms into the restart
        time.sleep(self.rng.uniform(0, 0.1))
        others = {n: v for n, v in before.items() if n != name}

        def right(s):
            pid = pids_of(s, name)[0]
            return same_as(others)(s) and s[name][0] == "running" and \
                pid > 0 and pid_alive(pid)
        return self.kill_parent(before, "kill_parent_starting", right)

    def kill_parent(self, before, kind="kill_parent", right=None):
        h = self.h
        right = right or same_as(before)
        t0 = time.monotonic()
        q = [t0, None]
        with self.s.lock:
            self.s.quiet.append(q)
        workers = list(h.workers().values())
        h.proc.kill()
        h.proc.wait(10)
        wait_for(lambda: not any(pid_alive(p) for p in workers), 10 * SLOW,
                 "the workers to go with their parent")
        h.proc = None
        t1 = time.monotonic()
        h.start(wait=False)
        b = BOUNDS[kind]
        q[1] = t1 + b
        self.s.add_rule(Rule(kind, t1 + b, right,
                             "not every service adopted with its pid"))
        return [self.s.add_detect(Detect(kind, t1, right))]

    def op_stop_start(self, before):
        name = self.pick(("sleep", "httpw", "httpr", "notify", "file",
                          "fd"))
        t0 = time.monotonic()
        rc, _, err = self.h.ctl("stop", name)
        t1 = time.monotonic()
        if rc != 0:
            self.s.violations.append(("op_stop_start", t0, "stop: " + err))
        r = self.s.add_rule(Rule("op_stop_start", t1,
                                 lambda s: s[name][0] == "stopped" and
                                 pids_of(s, name) == [0],
                                 "%s: stopped, shown otherwise" % name))
        d = Detect("op_stop_start", t0, lambda s: True)
        d.latency = t1 - t0
        time.sleep(self.rng.uniform(0.1, 0.5))
        t2 = time.monotonic()
        self.s.close_rules(t2)
        rc, _, err = self.h.ctl("start", name)
        t3 = time.monotonic()
        if rc != 0:
            self.s.violations.append(("op_stop_start", t2, "start: " + err))
        self.s.add_rule(Rule("op_stop_start", t3,
                             lambda s: s[name][0] == "running" and
                             pids_of(s, name)[0] > 0,
                             "%s: started, shown otherwise" % name))
        return [d]

    def op_restart(self, before):
        name = self.pick(("sleep", "httpw", "httpr", "notify", "file",
                          "fd"))
        old = pids_of(before, name)[0]
        t0 = time.monotonic()
        rc, _, err = self.h.ctl("restart", name)
        t1 = time.monotonic()
        if rc != 0:
            self.s.violations.append(("op_restart", t0, "restart: " + err))
        self.s.add_rule(Rule("op_restart", t1,
                             lambda s: s[name][0] == "running" and
                             pids_of(s, name)[0] not in (0, old),
                             "%s: restarted, old pid %d or not running" %
                             (name, old)))
        d = Detect("op_restart", t0, lambda s: True)
        d.latency = t1 - t0
        return [d]

    def op_reload(self, before):
        name = self.pick(("sleep", "httpw", "httpr", "notify", "file",
                          "fd"))
        path = os.path.join(self.h.conf, name + ".json")
        with open(path) as f:
            doc = json.load(f)
        doc["description"] = "chaos %s, edited %d" % (
            self.svcs[name], self.rng.randrange(1 << 30))
        with open(path, "w") as f:
            json.dump(doc, f)
        t0 = time.monotonic()
        # nothing may move: from before heroctl was asked
        self.s.add_rule(Rule("op_reload", t0, same_as(before),
                             "a description edit disturbed a service"))
        rc, out, err = self.h.ctl("reload")
        t1 = time.monotonic()
        if rc != 0 or name not in (out or {}).get("updated", []):
            self.s.violations.append(("op_reload", t0, "reload: %r %s" %
                                      (out, err)))
        d = Detect("op_reload", t0, lambda s: True)
        d.latency = t1 - t0
        return [d]

    def inject(self, kind, before):
        if kind in ("kill_spawner", "kill_prober", "kill_store"):
            return self.kill_worker(before, kind[5:])
        return getattr(self, kind)(before)

    def run(self):
        # every kind at least once, in a seeded order, then at random
        order = KINDS[:]
        self.rng.shuffle(order)
        weights = {"kill_service": 4, "sigstop_handler": 2,
                   "remove_socket": 2, "kill_parent": 1,
                   "kill_parent_starting": 1, "kill_spawner": 1,
                   "kill_prober": 1, "kill_store": 1, "op_stop_start": 2,
                   "op_restart": 2, "op_reload": 1}
        pool = [k for k in KINDS for _ in range(weights[k])]
        before = self.quiesce("start")
        self.s.start()
        t_end = time.monotonic() + SECONDS
        while order or time.monotonic() < t_end:
            kind = order.pop(0) if order else self.rng.choice(pool)
            time.sleep(self.rng.uniform(0.1, 0.6))
            self.s.close_rules(time.monotonic())
            dets = self.inject(kind, before)
            self.count[kind] += 1
            before = self.quiesce(kind)
            # the bound must have passed and a few samples been taken
            # before the next fault closes this one's rules
            time.sleep(max(BOUNDS[kind], CONT_BOUND) + 4 * SAMPLE_S)
            before = self.quiesce(kind)
            for d in dets:
                if d.latency is None:
                    self.s.violations.append((kind, d.t0, "never seen"))
                else:
                    self.latency[kind].append(d.latency)
        self.s.stopping = True
        self.s.join(15)

    def report(self):
        print("chaos run: seed %d, %.0f s, %d services, sanitized %s" %
              (SEED, SECONDS, NSERVICES, SLOW > 1))
        print("  %-21s %6s %10s %12s" % ("fault", "count", "bound s",
                                         "worst s"))
        for k in KINDS:
            lat = self.latency[k]
            print("  %-21s %6d %10.2f %12s" % (
                k, self.count[k], BOUNDS[k],
                "%.3f" % max(lat) if lat else "-"))
        print("  faults %d, samples %d (unanswered while herod was down "
              "%d), violations %d" % (sum(self.count.values()),
                                      self.s.samples, self.s.unanswered,
                                      len(self.s.violations)))
        for kind, ts, what in self.s.violations[:20]:
            print("  VIOLATION %s: %s" % (kind, what))


def test_chaos(h):
    svcs = services(h)
    h.start()
    c = Chaos(h, svcs)
    try:
        c.run()
    finally:
        c.s.stopping = True
        for p in c.stopped:
            try:
                os.kill(p, signal.SIGCONT)
            except OSError:
                pass
        c.report()
    check(not c.s.violations, "%d samples of list were wrong" %
          len(c.s.violations))


if __name__ == "__main__":
    run_tests([test_chaos])
