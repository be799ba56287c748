"""Trust boundary: the root spawner removes and reads files in directories
a service user may write (its pid file, a declared socket outside the
socket dir) without following a link the user put on the way.

Each test runs herod in system mode as root and performs the attack as
a real unprivileged user (_hatkE1, made here and removed at the end):
the user swaps a directory of its own on the path for a symlink to a
root-only directory that holds a victim of the same name.  The victim
must survive."""

import os
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Fail, check, pid_alive, run_tests, wait_for
from test_trust_kill import Attacker, as_user, run_as

ATTACKER = "_hatkE1"
PY = "/usr/bin/python3"
SLEEP = ["/bin/sleep", "1000"]
BOUND = 15      # seconds anything may take while an attack is going on
SANITIZED = os.environ.get("HEROD_SANITIZED") == "1"


def with_attacker(fn):
    def t(h):
        a = Attacker(ATTACKER)
        try:
            fn(h, a)
        finally:
            # its processes first (the flipper), then the user
            for p in h.extra:
                if p.poll() is None:
                    p.kill()
                    p.wait(10)
            h.stop()
            h.kill_everything()
            a.remove()
    t.__name__ = fn.__name__
    return t


def read(path):
    with open(path) as f:
        return f.read()


def logged(h, text, timeout=BOUND):
    wait_for(lambda: text in h.logtext(), timeout, "log: %r" % text)


def attacker_dirs(h, a):
    """TMP/u, the attacker's, holding its directory d; TMP/rootonly, a
    root directory no one else may enter, for the victims."""
    u = os.path.join(h.tmp, "u")
    os.makedirs(u)
    os.chown(u, a.uid, -1)
    os.chmod(u, 0o755)
    d = os.path.join(u, "d")
    run_as(a.name, [PY, "-c", "import os,sys; os.mkdir(sys.argv[1])", d])
    rd = os.path.join(h.tmp, "rootonly")
    os.makedirs(rd)
    os.chmod(rd, 0o700)
    return d, rd


def swap_for_link(a, d, target):
    """As the attacker: d renamed away, a link to target in its place."""
    run_as(a.name, [PY, "-c", "import os,sys; os.rename(sys.argv[1], "
                    "sys.argv[1]+'.old'); os.symlink(sys.argv[2], "
                    "sys.argv[1])", d, target])


def spawner_round_trip(h):
    """Wait until the spawner has done all it was asked before: it runs
    one request at a time, so a restart of another service answered means
    the earlier work (an exit's cleanup) is done."""
    old = h.pid("other", "m")
    rc, _, err = h.ctl("restart", "other", timeout=BOUND)
    check(rc == 0, "restart other: %s" % err)
    wait_for(lambda: h.pid("other", "m") not in (0, old), BOUND,
             "other restarted")


@with_attacker
def test_pidfile_removal_not_through_link(h, a):
    """The service runs; its user swaps the pid file's directory for a
    link to a root directory holding NAME.pid; the service is stopped:
    root's NAME.pid must stay."""
    d, rd = attacker_dirs(h, a)
    pf = os.path.join(d, "m.pid")
    victim = os.path.join(rd, "m.pid")
    side = os.path.join(rd, "m.pid.start")
    with open(victim, "w") as f:
        f.write("precious\n")
    with open(side, "w") as f:
        f.write("precious too\n")
    h.service("vic", [{"name": "m", "exec": SLEEP, "user": a.name,
                       "pidfile": pf}])
    h.service("other", [{"name": "m", "exec": SLEEP}])
    h.start()
    h.wait_state("vic", "running")
    h.wait_state("other", "running")
    wait_for(lambda: os.path.exists(pf), BOUND, "pid file written")
    swap_for_link(a, d, rd)
    rc, _, err = h.ctl("stop", "vic", timeout=BOUND)
    check(rc == 0, "stop vic: %s" % err)
    h.wait_state("vic", "stopped", BOUND)
    spawner_round_trip(h)
    check(os.path.exists(victim) and read(victim) == "precious\n",
          "root's m.pid removed through the link")
    check(os.path.exists(side) and read(side) == "precious too\n",
          "root's m.pid.start removed through the link")
    logged(h, "%s: not removed" % pf)


@with_attacker
def test_pidfile_read_not_through_link(h, a):
    """A singleton reads its pid file before a spawn: with the directory
    swapped for a link to a root directory whose NAME.pid names a root
    process, root must not read that file (nor touch the process)."""
    d, rd = attacker_dirs(h, a)
    pf = os.path.join(d, "m.pid")
    v = subprocess.Popen(SLEEP, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    h.extra.append(v)
    victim = os.path.join(rd, "m.pid")
    with open(victim, "w") as f:
        f.write("%d\n" % v.pid)
    h.service("vic", [{"name": "m", "exec": SLEEP, "user": a.name,
                       "singleton": True, "pidfile": pf}])
    h.service("other", [{"name": "m", "exec": SLEEP}])
    h.start()
    h.wait_state("vic", "running")
    rc, _, err = h.ctl("stop", "vic", timeout=BOUND)
    check(rc == 0, "stop vic: %s" % err)
    h.wait_state("vic", "stopped", BOUND)
    swap_for_link(a, d, rd)
    rc, _, err = h.ctl("start", "vic", timeout=BOUND)
    check(rc == 0, "start vic: %s" % err)
    h.wait_state("vic", "running", BOUND)
    spawner_round_trip(h)
    check("pid %d" % v.pid not in h.logtext(),
          "root read the pid file through the link: %r" %
          [l for l in h.logtext().splitlines() if "pid %d" % v.pid in l])
    logged(h, "%s: not read" % pf)
    check(v.poll() is None and pid_alive(v.pid), "root victim killed")
    check(read(victim) == "%d\n" % v.pid, "root's m.pid changed")
    check(sorted(os.listdir(rd)) == ["m.pid"],
          "files made in the root dir: %r" % os.listdir(rd))


# As the attacker: swap directory argv[1] and link argv[2] as fast as it
# can for argv[3] seconds, keeping a stale socket argv[4] in the real
# directory (its cwd follows the directory through the swaps).
FLIPPER = """
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, secs, name = sys.argv[1].encode(), sys.argv[2].encode(), \\
    float(sys.argv[3]), sys.argv[4]
os.chdir(sys.argv[1])
def stale():
    try:
        os.lstat(name)
    except FileNotFoundError:
        s = socket.socket(socket.AF_UNIX)
        s.bind(name)
        s.close()
stale()
print("flipping", flush=True)
end = time.monotonic() + secs
n = 0
while n % 256 or time.monotonic() < end:
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.exit("renameat2: %s" % os.strerror(ctypes.get_errno()))
    n += 1
    if n % 32 == 0:
        stale()
"""


@with_attacker
def test_stale_socket_not_through_link(h, a):
    """A declared socket outside the socket dir, in a directory of the
    service user, is stale and removed before each spawn.  The user
    keeps swapping that directory with a link to a root directory that
    holds a stale root socket of the same name while the service is
    restarted: the root socket must stay."""
    d, rd = attacker_dirs(h, a)
    link = d + ".l"
    run_as(a.name, [PY, "-c", "import os,sys; os.symlink(sys.argv[2], "
                    "sys.argv[1])", link, rd])
    victim = os.path.join(rd, "app.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(victim)
    s.close()
    h.service("sk", [{"name": "m", "exec": SLEEP, "user": a.name,
                      "ready": {"settle_ms": 0},
                      "sockets": [os.path.join(d, "app.sock")]}])
    h.service("other", [{"name": "m", "exec": SLEEP}])
    h.start()
    h.wait_state("sk", "running")
    secs = 20 if SANITIZED else 10
    fl = subprocess.Popen([PY, "-c", FLIPPER, d, link, str(secs),
                           "app.sock"], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, preexec_fn=as_user(a.name))
    h.extra.append(fl)
    check(fl.stdout.readline() == b"flipping\n", "flipper started")
    # restart until the flipper is done (or the victim is gone)
    restarts = 0
    end = time.monotonic() + secs - 2
    while time.monotonic() < end and os.path.lexists(victim):
        # answered once sk runs again, or failed to (a pre-spawn cleanup
        # that did not settle while the directory kept changing)
        h.ctl("restart", "sk", timeout=BOUND)
        restarts += 1
    if fl.poll() is None:
        fl.kill()               # the victim went early
    fl.wait(BOUND)
    check(fl.returncode in (0, -9), "flipper failed: rc %s" %
          fl.returncode)
    spawner_round_trip(h)
    removed = h.logtext().count("removing stale socket")
    print("  %d restarts, %d stale sockets removed" % (restarts, removed))
    check(os.path.lexists(victim) and
          stat.S_ISSOCK(os.lstat(victim).st_mode),
          "root's stale socket removed through the link "
          "(after %d restarts)" % restarts)
    check(removed > 0, "no stale socket of the user's was removed: "
          "the attack did not run")


def test_exec_probe_group_killed(h):
    """The group of an exec probe is killed when its leader exits (now
    while the leader is a zombie, before it is reaped, so the group id
    cannot be another's): a child the probe left in its group is gone."""
    out = os.path.join(h.tmp, "child")
    h.service("ep", [{"name": "m", "exec": SLEEP}],
              probes=[{"name": "bg", "kind": "exec", "interval_ms": 60000,
                       "on_failure": "warn",
                       "exec": ["/bin/sh", "-c", "/bin/sleep 1000 & "
                                "echo $! > %s.t && mv %s.t %s" %
                                (out, out, out)]}])
    h.start()
    h.wait_state("ep", "running")
    wait_for(lambda: os.path.exists(out), BOUND, "probe ran")
    child = int(read(out))
    wait_for(lambda: {p["name"]: p for p in h.svc("ep")["probes"]}["bg"]
             ["ok"] is True, BOUND, "probe ok")
    wait_for(lambda: not pid_alive(child), BOUND,
             "the probe's child %d killed with its group" % child)


TESTS = [test_pidfile_removal_not_through_link,
         test_pidfile_read_not_through_link,
         test_stale_socket_not_through_link,
         test_exec_probe_group_killed]
ROOT = TESTS[:3]

if __name__ == "__main__":
    run_tests(TESTS, needs_root=ROOT, sysmode=TESTS)
