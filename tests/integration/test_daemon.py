"""herod as a system daemon: -V, READY=1/STATUS=/STOPPING=1 on the
NOTIFY_SOCKET of a service manager (never passed on to workers or
services), one herod per state and run directory, and where its own log
goes (syslog when detached and /dev/log is a socket, stderr otherwise)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (HEROCTL, HEROD, TEST_USER, Fail, check, demote_fn,
                     pid_alive, run_tests, wait_for)

SCALE = 4 if os.environ.get("HEROD_SANITIZED") == "1" else 1
SLEEP = ["/bin/sleep", "1000"]


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return f.read().split(b"\0")


def test_version(h):
    p = subprocess.run([HEROD, "-V"], capture_output=True, timeout=30)
    check(p.returncode == 0, "herod -V: %d %r" % (p.returncode, p.stderr))
    kv = dict(l.split(": ", 1) for l in p.stdout.decode().splitlines()[1:])
    check(p.stdout.decode().startswith("herod "), "the version first")
    for k in ("build", "prefix", "services", "state", "run", "user"):
        check(k in kv, "%s in herod -V: %r" % (k, kv))
    for k in ("prefix", "services", "state", "run"):
        check(kv[k].startswith("/"), "%s is absolute: %r" % (k, kv[k]))
    check(kv["services"].endswith("/herod/services"), kv["services"])
    # a running herod says what it uses, and how it was built
    h.start()
    rc, doc, err = h.ctl("version")
    check(rc == 0, "heroctl version: %s" % err)
    check(doc["build"] == kv["build"].split(",")[0], "build: %r" % doc)
    check(doc["confdir"] == os.path.realpath(h.conf) and
          doc["statedir"] == os.path.realpath(h.state) and
          doc["rundir"] == os.path.realpath(h.run), "paths: %r" % doc)
    check(doc["mode"] == ("system" if h.sysmode else "user"), doc["mode"])


class Manager:
    """The service manager's end of NOTIFY_SOCKET: a datagram socket
    that also learns each sender's pid (SO_PASSCRED)."""

    def __init__(self, h, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = "herod-test-notify-%d-%s" % (os.getpid(),
                                               os.path.basename(h.tmp))
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(h.tmp, "manager.sock")
            self.sock.bind(path)
            os.chmod(path, 0o777)    # herod may run as TEST_USER
            self.env = path
        self.got = []             # (pid, {key: value})

    def recv_until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for pid, kv in self.got:
                if cond(kv):
                    return pid, kv
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, 256)
            except socket.timeout:
                break
            pid = None
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(d[0:4], "little")
            kv = dict(l.split("=", 1) for l in data.decode().splitlines()
                      if "=" in l)
            self.got.append((pid, kv))
        raise Fail("timed out waiting for %s; got %r" % (what, self.got))

    def close(self):
        self.sock.close()


def notify(h, abstract):
    h.service("web", [{"name": "main", "exec": SLEEP}])
    h.service("off", [{"name": "main", "exec": SLEEP}], autostart=False)
    m = Manager(h, abstract)
    os.environ["NOTIFY_SOCKET"] = m.env
    try:
        h.start(wait=False)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        pid, kv = m.recv_until(lambda kv: kv.get("READY") == "1",
                               20 * SCALE, "READY=1")
        check(pid == h.proc.pid, "READY=1 from herod's main pid %d, not "
              "%r" % (h.proc.pid, pid))
        check(kv.get("STATUS", "").startswith("2 services"),
              "STATUS= with counts: %r" % kv)
        # READY=1 comes once the workers are up and the services started
        check(len(h.workers()) == 4, "workers up: %r" % h.workers())
        rc, doc, err = h.ctl("list")
        check(rc == 0, "list answers once READY=1 is sent: %s" % err)
        m.recv_until(lambda kv: kv.get("STATUS") ==
                     "2 services: 1 stopped, 1 running", 20 * SCALE,
                     "STATUS= with web running")
        # nothing herod starts inherits the manager's socket
        spid = h.pid("web", "main")
        for pid in [spid] + list(h.workers().values()):
            env = environ_of(pid)
            check(not any(e.startswith(b"NOTIFY_SOCKET=") and
                          m.env.encode() in e for e in env),
                  "pid %d got the manager's NOTIFY_SOCKET" % pid)
        h.stop()
        m.recv_until(lambda kv: kv.get("STOPPING") == "1", 5 * SCALE,
                     "STOPPING=1")
        check(not pid_alive(spid), "the service stopped with herod")
    finally:
        m.close()


def test_notify_path(h):
    notify(h, False)


def test_notify_abstract(h):
    notify(h, True)


def second_herod(h, detached, state=None, run=None):
    argv = [HEROD, "-c", h.conf, "-s", state or h.state, "-r", run or h.run]
    if not detached:
        argv.insert(1, "-d")
    if h.sysmode:
        argv += ["-u", TEST_USER]
    p = subprocess.run(argv, capture_output=True, timeout=30 * SCALE,
                       stdin=subprocess.DEVNULL,
                       preexec_fn=demote_fn(h.runas))
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def test_lock(h):
    h.service("web", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("web", "running")
    spid = h.pid("web", "main")
    with open(os.path.join(h.run, "herod.pid")) as f:
        check(f.read() == "%d\n" % h.proc.pid, "RUNDIR/herod.pid")
    other = h.mkdir(os.path.join(h.tmp, "other"))
    msg = "herod already running (pid %d)" % h.proc.pid
    # the same state directory with another run directory, and the other
    # way round, in the foreground and detached
    for detached in (False, True):
        for state, run in ((None, os.path.join(other, "run")),
                           (os.path.join(other, "state"), None)):
            rc, out = second_herod(h, detached, state, run)
            check(rc == 1 and msg in out, "second herod (detached %s, "
                  "state %s, run %s): %d %r" % (detached, state, run, rc,
                                                out))
    # the first one is undisturbed: its socket, pid file, service
    check(h.ctl("list")[0] == 0, "the first herod still answers")
    check(h.pid("web", "main") == spid, "its service untouched")
    with open(os.path.join(h.run, "herod.pid")) as f:
        check(f.read() == "%d\n" % h.proc.pid, "pid file kept")
    check(len(h.workers()) == 4, "one set of workers: %r" % h.workers())
    h.stop()
    check(not os.path.exists(os.path.join(h.run, "herod.pid")),
          "pid file removed at exit")
    # gone: the next one starts
    h.start()
    h.wait_state("web", "running")


# A /dev of our own for herod, in a mount namespace of its own: with or
# without a syslog socket at /dev/log (ours), whatever the host has.
NS_SCRIPT = r"""
set -e
D="$1"; shift
LOGSOCK="$1"; shift
mkdir -p "$D"
for n in null zero full random urandom; do
	touch "$D/$n"
	mount --bind "/dev/$n" "$D/$n"
done
if [ -n "$LOGSOCK" ]; then
	touch "$D/log"
	mount --bind "$LOGSOCK" "$D/log"
fi
mount --rbind "$D" /dev
exec "$@"
"""


def herod_in_ns(h, sub, logsock, detached):
    d = os.path.join(h.tmp, "dev-" + sub)
    argv = [HEROD, "-c", h.conf, "-s", h.state, "-r", h.run,
            "-u", TEST_USER]
    if not detached:
        argv.insert(1, "-d")
    errf = open(os.path.join(h.tmp, "stderr-" + sub), "wb")
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                          "/bin/sh", "-c", NS_SCRIPT, "sh", d,
                          logsock or ""] + argv,
                         stdout=errf, stderr=errf, stdin=subprocess.DEVNULL)
    return p, errf.name


def stop_detached(h):
    pidf = os.path.join(h.run, "herod.pid")
    pid = wait_for(lambda: os.path.exists(pidf) and
                   int(open(pidf).read()), 10 * SCALE, "herod.pid")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), 20 * SCALE, "herod %d gone" % pid)


def text(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def drain(s, lines):
    while True:
        try:
            d = s.recv(4096)
        except OSError:
            return
        if not d:
            return
        lines.append(d.decode(errors="replace"))


def test_log_choice(h):
    h.service("web", [{"name": "main", "exec": SLEEP}])
    # detached, no syslog socket: stderr (a file) gets the log
    p, errf = herod_in_ns(h, "a", None, True)
    check(p.wait(30 * SCALE) == 0, "detached start: %s" % text(errf))
    wait_for(lambda: "services started" in text(errf), 10 * SCALE,
             "the log on stderr")
    check("logging to standard error" in text(errf),
          "the start line says where: %s" % text(errf))
    stop_detached(h)
    # detached, /dev/log is a socket: the log goes there, not to stderr
    path = os.path.join(h.tmp, "log.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o777)        # the workers log as TEST_USER
    # a syslog daemon reads all the time (a full queue blocks syslog(3))
    lines = []
    reader = threading.Thread(target=drain, args=(s, lines), daemon=True)
    reader.start()
    try:
        p, errf = herod_in_ns(h, "b", path, True)
        check(p.wait(30 * SCALE) == 0, "detached start: %s" % text(errf))
        wait_for(lambda: any("services started" in l for l in lines),
                 15 * SCALE, "the log in syslog")
        check(any("logging to syslog" in l and "herod[" in l
                  for l in lines), "the start line in syslog: %r" % lines)
        stop_detached(h)
        check("services started" not in text(errf) and
              "logging to" not in text(errf),
              "nothing on stderr: %r" % text(errf))
        # -d: stderr, even with a syslog socket
        p, errf = herod_in_ns(h, "c", path, False)
        try:
            wait_for(lambda: "services started" in text(errf), 15 * SCALE,
                     "the log on stderr with -d")
            check("logging to standard error" in text(errf), text(errf))
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(20 * SCALE)
    finally:
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        reader.join(5)


if __name__ == "__main__":
    run_tests([test_version, test_notify_path, test_notify_abstract,
               test_lock, test_log_choice],
              needs_root=(test_log_choice,),
              sysmode=(test_notify_path, test_lock, test_log_choice))
