"""Foundation: processes, start/stop, restarts, exec failures, worker
crashes, authorization, configuration errors."""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Fail, Herod, HEROD, TEST_USER, check, pid_alive,
                     proc_uid, run_tests, wait_for)

SLEEP = ["/bin/sleep", "1000"]


def test_processes_and_stop(h):
    h.service("web", [{"name": "server",
                       "exec": ["/bin/sh", "-c",
                                "sleep 1000 & exec sleep 1001"]}])
    h.start()
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10,
                 "4 herod processes")
    check(set(w) == {"herod: parent", "herod: spawner", "herod: prober",
                     "herod: store"}, "titles: %r" % w)
    s = h.wait_state("web", "running")
    pid = s["actions"][0]["pid"]
    check(pid > 0 and pid_alive(pid), "pid %d alive" % pid)
    check(s["actions"][0]["state"] == "running")
    # the grandchild exists too
    kids = wait_for(lambda: [p for p in map(int, open(
        "/proc/%d/task/%d/children" % (pid, pid)).read().split())], 5,
        "grandchild")
    rc, doc, err = h.ctl("stop", "web")
    check(rc == 0, "stop rc %d %s" % (rc, err))
    check(h.state_of("web") == "stopped")
    wait_for(lambda: not pid_alive(pid) and not any(map(pid_alive, kids)),
             5, "no process of web left")


def proc_status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split()[1]
    return None


def test_workers_sandboxed(h):
    """prober and store: no-new-privs always, a seccomp filter (mode 2)
    when built with libseccomp outside sanitizer builds; the spawner is
    not filtered (it must fork and exec)."""
    h.service("s", [{"name": "main", "exec": SLEEP}])
    h.start()
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10,
                 "4 herod processes")
    want = "2" if os.environ.get("HEROD_SECCOMP") == "1" else "0"
    for t in ("herod: prober", "herod: store"):
        check(proc_status_field(w[t], "NoNewPrivs") == "1", t)
        check(proc_status_field(w[t], "Seccomp") == want,
              "%s Seccomp %s, want %s" % (
                  t, proc_status_field(w[t], "Seccomp"), want))
    check(proc_status_field(w["herod: spawner"], "Seccomp") == "0")
    h.wait_state("s", "running")


def test_crash_restart_backoff(h):
    h.service("crash", [{"name": "main", "exec": ["/bin/sh", "-c", "exit 1"],
                         "restart": {"policy": "on-failure", "delay_ms": 50,
                                     "max_delay_ms": 400,
                                     "max_restarts": 4, "window_s": 60}}])
    h.start()
    seen = []

    def progressed():
        a = h.action("crash", "main")
        if a["job_id"]:
            seen.append((a["job_id"], a["restart_count"]))
        return a["restart_count"] >= 2
    wait_for(progressed, 10, "restart_count to grow")
    s = h.wait_state("crash", "failed", 20)
    a = s["actions"][0]
    check(a["restart_count"] == 4, "restart_count stops at 4: %r" % a)
    check(len({j for j, _ in seen} | {a["job_id"]}) == 1,
          "job id stable: %r" % seen)
    check("restart limit" in s["reason"], "reason: %r" % s["reason"])
    # backoff delays grow: look at spawn events
    ev = [e for e in h.events() if e.get("event") == "spawn" and
          e.get("service") == "crash"]
    ts = [e["ts"] for e in ev]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(len(gaps) >= 4, "spawn events: %r" % ev)
    check(gaps[-1] > gaps[0], "backoff grows: %r" % gaps)


def test_policy_never(h):
    h.service("once", [{"name": "main", "exec": ["/bin/sh", "-c", "exit 3"],
                        "restart": {"policy": "never"}}])
    h.start()
    s = h.wait_state("once", "failed")
    check("status 3" in s["reason"], s["reason"])
    check(s["actions"][0]["restart_count"] == 0)


def test_exit_zero_is_stopped(h):
    h.service("done", [{"name": "main", "exec": ["/bin/true"]}])
    h.start()
    s = h.wait_state("done", "stopped")
    check(s["reason"] == "main exited with status 0", s["reason"])
    check(s["actions"][0]["state"] == "exited")


def test_missing_binary(h):
    h.service("ghost", [{"name": "main", "exec": ["/nonexistent/bin"],
                         "restart": {"policy": "always"}}])
    h.service("ok", [{"name": "main", "exec": SLEEP}])
    h.start()
    s = h.wait_state("ghost", "failed")
    check("No such file or directory" in s["reason"], s["reason"])
    check(s["actions"][0]["restart_count"] == 0)
    # the child that could not exec was reaped with the failure
    spawner = h.workers()["herod: spawner"]
    zombies = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(st[1]) == spawner and st[0] == "Z":
            zombies.append(d)
    check(not zombies, "unreaped children of the spawner: %r" % zombies)
    h.wait_state("ok", "running")
    rc, _, err = h.ctl("start", "ghost")
    check(rc == 1 and "ghost" in err, "start of ghost: %d %s" % (rc, err))


def test_worker_crash(h):
    h.service("a", [{"name": "main", "exec": SLEEP}])
    h.service("b", [{"name": "x", "exec": SLEEP},
                    {"name": "y", "exec": SLEEP}])
    h.start()
    h.wait_state("a", "running")
    h.wait_state("b", "running")
    before = {n: [a["pid"] for a in s["actions"]]
              for n, s in h.list().items()}
    for title in ("herod: prober", "herod: store", "herod: spawner"):
        old = h.workers()[title]
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: h.workers().get(title, old) != old, 5,
                 "%s restarted" % title)
        wait_for(lambda: h.ctl("list")[0] == 0, 5, "heroctl answers")
    after = {n: [a["pid"] for a in s["actions"]]
             for n, s in h.list().items()}
    check(before == after, "pids unchanged: %r -> %r" % (before, after))
    check(all(h.state_of(n) == "running" for n in ("a", "b")))
    # the new spawner still supervises: kill a service, it comes back
    p = after["a"][0]
    os.kill(p, signal.SIGKILL)
    wait_for(lambda: h.pid("a", "main") not in (0, p) and
             h.state_of("a") == "running", 10, "a restarted")
    rc, _, err = h.ctl("stop", "b")
    check(rc == 0, err)
    wait_for(lambda: not any(map(pid_alive, after["b"])), 5, "b gone")


def test_two_actions_one_killed(h):
    h.service("pair", [{"name": "one", "exec": SLEEP,
                        "restart": {"delay_ms": 1500}},
                       {"name": "two", "exec": SLEEP}])
    h.start()
    h.wait_state("pair", "running")
    p1, p2 = h.pid("pair", "one"), h.pid("pair", "two")
    os.kill(p1, signal.SIGKILL)
    s = h.wait_state("pair", "degraded", 5)
    check("one" in s["reason"], s["reason"])
    check(h.pid("pair", "two") == p2)
    s = h.wait_state("pair", "running", 10)
    check(h.pid("pair", "two") == p2 and h.pid("pair", "one") != p1)
    check(h.action("pair", "one")["restart_count"] == 1)


def test_check_config_and_reload(h):
    h.service("good", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("good", "running")
    pid = h.pid("good", "main")
    with open(os.path.join(h.conf, "bad.json"), "w") as f:
        f.write('{"name": "bad", "actions": [{"name": "m", "exec": ["/x"],'
                ' "restart": {"policy": "sometimes"}}]}')
    p = subprocess.run([HEROD, "-n", "-c", h.conf], capture_output=True,
                       timeout=10)
    check(p.returncode == 1, "herod -n rc %d" % p.returncode)
    err = p.stderr.decode()
    check("bad.json: actions[0].restart.policy" in err, err)
    h.service("good", [{"name": "main", "exec": ["/bin/sleep", "999"]}])
    rc, _, err = h.ctl("reload")
    check(rc == 1 and "bad.json" in err, "reload: %d %s" % (rc, err))
    check(h.pid("good", "main") == pid, "nothing applied")
    os.unlink(os.path.join(h.conf, "bad.json"))
    rc, doc, err = h.ctl("reload")
    check(rc == 0 and doc["changed"] == ["good"], "%d %r %s" % (rc, doc, err))
    wait_for(lambda: h.pid("good", "main") not in (0, pid) and
             h.state_of("good") == "running", 10, "good restarted")


def test_unprivileged_peer(h):
    if os.geteuid() != 0:
        # as a normal user we are the admin: check the allowed path only
        h.service("s", [{"name": "main", "exec": SLEEP}])
        h.start()
        check(h.ctl("stop", "s")[0] == 0)
        return
    h.service("s", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("s", "running")
    rc, doc, err = h.ctl("list", user="nobody")
    check(rc == 0 and doc["services"][0]["name"] == "s", "%d %s" % (rc, err))
    rc, doc, err = h.ctl("stop", "s", user="nobody")
    check(rc == 5, "stop as nobody: %d %s" % (rc, err))
    check(h.state_of("s") == "running")
    rc, _, err = h.ctl("status", "nosuch")
    check(rc == 4, "no such service: %d %s" % (rc, err))


def test_system_mode_workers(h):
    import pwd
    uid = pwd.getpwnam(TEST_USER).pw_uid
    h.service("s", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("s", "running")
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10, "4 procs")
    check(proc_uid(w["herod: prober"]) == uid, "prober uid")
    check(proc_uid(w["herod: store"]) == uid, "store uid")
    check(proc_uid(w["herod: spawner"]) == 0, "spawner root")
    check(proc_uid(h.pid("s", "main")) == 0, "service as root by default")
    os.kill(w["herod: store"], signal.SIGKILL)
    wait_for(lambda: h.workers().get("herod: store", w["herod: store"]) !=
             w["herod: store"], 5, "store back")
    check(proc_uid(h.workers()["herod: store"]) == uid)


# The context an action starts in, written down by the action itself.
REPORT = ("exec 2>&1; d=$HERO_SOCKET_DIR; "
          "{ grep -E '^(SigIgn|SigBlk|Groups):' /proc/$$/status; "
          "echo stdin: $(readlink /proc/$$/fd/0); "
          "echo cwd: $(pwd); echo umask: $(umask); "
          "echo sid: $(ps -o sid= -p $$) pid: $$; } > $d/report.tmp; "
          "mv $d/report.tmp $d/report; exec /bin/sleep 1000")


def read_report(h, service):
    path = os.path.join(h.run, "sockets", service, "report")
    wait_for(lambda: os.path.exists(path), 10, "%s report" % service)
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


def test_launch_context(h):
    """A bare name is found in the action's own PATH; the action gets a
    session, no ignored or blocked signal, /dev/null, only its fds; a
    failing chdir and a missing exec probe say why."""
    bindir = h.mkdir(os.path.join(h.tmp, "bin"))
    tool = os.path.join(bindir, "herotool")
    with open(tool, "w") as f:
        f.write("#!/bin/sh\n" + REPORT + "\n")
    os.chmod(tool, 0o755)
    h.service("ctx", [{"name": "main", "exec": ["herotool"],
                       "env": {"PATH": bindir + ":/usr/bin:/bin"},
                       "umask": "027", "workdir": h.tmp,
                       "ready": {"mode": "fd", "fd": 7,
                                 "timeout_ms": 60000}}],
              probes=[{"name": "gone", "kind": "exec",
                       "exec": ["/nonexistent/probe"],
                       "interval_ms": 60000, "on_failure": "warn"}])
    h.service("sig", [{"name": "main", "exec": ["sleep", "1000"]}])
    h.service("nodir", [{"name": "main", "exec": SLEEP,
                         "workdir": "/nonexistent/dir"}])
    h.start()
    r = read_report(h, "ctx")
    pid = h.pid("ctx", "main")
    wait_for(lambda: open("/proc/%d/cmdline" % pid, "rb").read()
             .startswith(b"/bin/sleep"), 10, "the action to exec sleep")
    # the signal state as a program exec'd directly gets it (a shell
    # changes its own mask around forks)
    spid = h.wait_state("sig", "running")["actions"][0]["pid"]
    with open("/proc/%d/status" % spid) as f:
        st = dict(l.split(":\t", 1) for l in f.read().splitlines()
                  if ":\t" in l)
    check(st["SigIgn"].strip() == "0" * 16, "ignored signals: %r" % st)
    check(st["SigBlk"].strip() == "0" * 16, "blocked signals: %r" % st)
    fds = sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))
    check(fds == [0, 1, 2, 7], "open fds: %r" % fds)
    check(r["stdin"] == "/dev/null", r["stdin"])
    check(r["cwd"] == h.tmp, r["cwd"])
    check(r["umask"] == "0027", r["umask"])
    sid, pid = r["sid"].split(" pid: ")
    check(sid.strip() == pid.strip(), "own session: %r" % r["sid"])
    s = h.wait_state("nodir", "failed")
    check("chdir" in s["reason"] and "No such file" in s["reason"],
          s["reason"])
    rc, doc, err = h.ctl("status", "ctx")
    ps = {p["name"]: p for p in doc["services"][0]["probes"]}
    check(ps["gone"]["ok"] is False and
          "exec failed: No such file" in ps["gone"]["last_error"],
          ps["gone"])


def test_system_mode_credentials(h):
    """As another user: its uid, gid and supplementary groups, HOME,
    and / when its home directory does not exist."""
    import grp
    group = "_herodtestgrp"
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(["groupadd", "--system", group], check=True,
                       timeout=30)
    try:
        credentials_as_member(h, group)
    finally:
        subprocess.run(["groupdel", group], timeout=30,
                       capture_output=True)


def credentials_as_member(h, group):
    import grp
    import pwd
    subprocess.run(["usermod", "-a", "-G", group, TEST_USER], check=True,
                   timeout=30)
    pw = pwd.getpwnam(TEST_USER)
    want = sorted(os.getgrouplist(TEST_USER, pw.pw_gid))
    check(grp.getgrnam(group).gr_gid in want, "test group set up")
    h.service("cred", [{"name": "main", "exec": ["/bin/sh", "-c", REPORT],
                        "user": TEST_USER}])
    h.start()
    r = read_report(h, "cred")
    check(sorted(int(g) for g in r["Groups"].split()) == want,
          "groups %r, want %r" % (r["Groups"], want))
    check(r["cwd"] == "/", "cwd of a user without a home: %r" % r["cwd"])
    pid = h.pid("cred", "main")
    check(proc_uid(pid) == pw.pw_uid, "uid")
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read().split(b"\0")
    check(("HOME=%s" % pw.pw_dir).encode() in env, "HOME")


TESTS = [test_processes_and_stop, test_workers_sandboxed,
         test_crash_restart_backoff,
         test_policy_never, test_exit_zero_is_stopped, test_missing_binary,
         test_worker_crash, test_two_actions_one_killed,
         test_check_config_and_reload, test_unprivileged_peer,
         test_system_mode_workers, test_launch_context,
         test_system_mode_credentials]

if __name__ == "__main__":
    run_tests(TESTS, needs_root=(test_system_mode_workers,
                                 test_system_mode_credentials),
              sysmode=(test_system_mode_workers,
                       test_system_mode_credentials))
