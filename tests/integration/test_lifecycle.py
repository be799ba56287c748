"""Self-healing lifecycle: singletons, owned sockets and ports, stable
jobs, dependencies, reload, operator intent across restarts, orphans."""

import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Fail, Herod, HEROD, check, pid_alive, run_tests,
                     spawn_outside, wait_for)

PY = "/usr/bin/python3"
UNIX_SERVER = ("import socket,sys,os,time\n"
               "s=socket.socket(socket.AF_UNIX)\n"
               "s.bind(sys.argv[1]); s.listen(8)\n"
               "print('listening', flush=True)\n"
               "while True: c,_=s.accept(); c.close()\n")
TCP_SERVER = ("import socket,sys\n"
              "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,"
              "socket.SO_REUSEADDR,1)\n"
              "s.bind(('127.0.0.1',int(sys.argv[1]))); s.listen(8)\n"
              "print('listening', flush=True)\n"
              "while True: c,_=s.accept(); c.close()\n")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def outside(h, argv):
    """A process started outside herod, killed by the harness at the end."""
    p = spawn_outside(h, argv, stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    check(b"listening" in line, "outside process started: %r" % line)
    return p


def test_singleton_replaces_previous(h):
    sockdir = h.mkdir(os.path.join(h.run, "sockets", "single"))
    sock = os.path.join(sockdir, "rpc.sock")
    old = outside(h, [PY, "-c", UNIX_SERVER, sock])
    os.makedirs(os.path.join(h.run, "pids"), exist_ok=True)
    with open(os.path.join(h.run, "pids", "single.main.pid"), "w") as f:
        f.write("%d\n" % old.pid)
    h.service("single", [{"name": "main", "exec": [PY, "-c", UNIX_SERVER,
                                                    sock],
                          "singleton": True,
                          "sockets": ["$HERO_SOCKET_DIR/rpc.sock"]}])
    h.start()
    s = h.wait_state("single", "running", 20)
    wait_for(lambda: old.poll() is not None, 10, "old instance stopped")
    new = s["actions"][0]["pid"]
    check(new != old.pid, "new instance %r is the old pid" % new)
    if not pid_alive(new):
        _, out, _ = h.ctl("logs", "single")
        raise Fail("new instance %d died; now %r; its output: %r" %
                   (new, h.svc("single"), out))
    pf = os.path.join(h.run, "pids", "single.main.pid")
    with open(pf) as f:
        check(f.read() == "%d\n" % new, "pid file rewritten, pid alone")
    check(pidfile_start(pf) == proc_starttime(new),
          "start time kept with the pid file")
    c = socket.socket(socket.AF_UNIX)
    wait_for(lambda: c.connect(sock) is None or True, 5, "connect")


def proc_starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def pidfile_start(pf):
    """The start time herod keeps with a pid file: an extended attribute,
    or PIDFILE.start where the file system has none."""
    try:
        return int(os.getxattr(pf, "user.herod.start"))
    except OSError:
        with open(pf + ".start") as f:
            return int(f.read())


def reused_pid_left_alone(h, side):
    bystander = spawn_outside(h, ["/bin/sleep", "1000"])
    os.makedirs(os.path.join(h.run, "pids"), exist_ok=True)
    pf = os.path.join(h.run, "pids", "reuse.main.pid")
    with open(pf, "w") as f:
        f.write("%d\n" % bystander.pid)
    if side:
        with open(pf + ".start", "w") as f:
            f.write("12345\n")    # not the bystander's start time
    else:
        os.setxattr(pf, "user.herod.start", b"12345")
    h.service("reuse", [{"name": "main", "exec": ["/bin/sleep", "1000"],
                         "singleton": True}])
    h.start()
    h.wait_state("reuse", "running")
    check(bystander.poll() is None and pid_alive(bystander.pid),
          "bystander alive")
    check("left alone" in h.logtext())


def test_reused_pid_not_killed(h):
    reused_pid_left_alone(h, side=True)


def test_reused_pid_not_killed_xattr(h):
    os.makedirs(h.run, exist_ok=True)
    probe = os.path.join(h.run, "xattr-probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.herod.start", b"1")
    except OSError as e:
        print("  (no user xattrs on %s: %s; the .start file is tested)"
              % (h.run, e))
        return
    reused_pid_left_alone(h, side=False)


def test_stale_socket_removed(h):
    sockdir = h.mkdir(os.path.join(h.run, "sockets", "stale"))
    sock = os.path.join(sockdir, "rpc.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock)
    s.close()                     # the file stays, nobody listens
    h.service("stale", [{"name": "main", "exec": [PY, "-c", UNIX_SERVER,
                                                   sock],
                         "sockets": ["$HERO_SOCKET_DIR/rpc.sock"],
                         "restart": {"policy": "never"}}])
    h.start()
    h.wait_state("stale", "running")
    wait_for(lambda: "removing stale socket" in h.logtext(), 5, "log")
    c = socket.socket(socket.AF_UNIX)
    wait_for(lambda: c.connect(sock) is None or True, 5, "new one listens")


def test_port_held(h):
    port = free_port()
    foreign = outside(h, [PY, "-c", TCP_SERVER, str(port)])
    h.service("web", [{"name": "main", "exec": [PY, "-c", TCP_SERVER,
                                                 str(port)],
                       "tcp_ports": [port],
                       "restart": {"policy": "never"}}])
    h.start()
    s = h.wait_state("web", "failed", 15)
    want = "port %d held by pid %d (python3)" % (port, foreign.pid)
    check(want in s["reason"], "%r not in %r" % (want, s["reason"]))
    check(foreign.poll() is None, "foreign process untouched")
    # with kill_others the holder is stopped and the service runs
    h.service("web", [{"name": "main", "exec": [PY, "-c", TCP_SERVER,
                                                 str(port)],
                       "tcp_ports": [port], "kill_others": True}])
    rc, _, err = h.ctl("reload", json_out=False)
    check(rc == 0, err)
    rc, _, err = h.ctl("start", "web")
    check(rc == 0, "start: %s" % err)
    wait_for(lambda: foreign.poll() is not None, 10, "foreign stopped")
    h.wait_state("web", "running")


def test_dependencies(h):
    h.service("a", [{"name": "main", "exec": [
        "/bin/sh", "-c", "sleep 0.7; touch $HERO_READY_FILE; "
        "exec sleep 1000"], "ready": {"mode": "file"}}])
    h.service("b", [{"name": "main", "exec": ["/bin/sleep", "1000"]}],
              after=["a"])
    h.start()
    b = h.action("b", "main")
    check(b["state"] == "waiting" and b["pid"] == 0, b)
    h.wait_state("b", "running", 10)
    ev = [e for e in h.events() if e.get("event") == "service_state" and
          e.get("state") == "running"]
    order = [e["service"] for e in ev]
    check(order.index("a") < order.index("b"), order)
    # stop goes in reverse order
    h.stop()
    h.proc = None


def test_cycle_rejected(h):
    h.service("x", [{"name": "m", "exec": ["/bin/true"]}], after=["y"])
    h.service("y", [{"name": "m", "exec": ["/bin/true"]}], after=["x"])
    p = subprocess.run([HEROD, "-n", "-c", h.conf], capture_output=True,
                       timeout=10)
    check(p.returncode == 1 and b"cycle" in p.stderr, p.stderr)


def test_reload_keeps_unchanged(h):
    for n in ("u1", "u2", "ch"):
        h.service(n, [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    h.start()
    for n in ("u1", "u2", "ch"):
        h.wait_state(n, "running")
    pids = {n: h.pid(n, "m") for n in ("u1", "u2", "ch")}
    h.service("ch", [{"name": "m", "exec": ["/bin/sleep", "1001"]}])
    h.service("new", [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    h.remove_service("u2")
    rc, doc, err = h.ctl("reload")
    check(rc == 0, err)
    check(doc["changed"] == ["ch"] and doc["added"] == ["new"] and
          doc["removed"] == ["u2"], doc)
    h.wait_state("new", "running")
    wait_for(lambda: h.pid("ch", "m") not in (0, pids["ch"]) and
             h.state_of("ch") == "running", 10, "ch restarted")
    check(h.pid("u1", "m") == pids["u1"], "u1 untouched")
    wait_for(lambda: not pid_alive(pids["u2"]) and "u2" not in h.list(),
             10, "u2 removed")


def test_operator_stop_survives_restart(h):
    h.service("keep", [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    h.service("off", [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    h.start()
    h.wait_state("keep", "running")
    rc, _, _ = h.ctl("stop", "off")
    check(rc == 0)
    h.stop()
    h.start()
    h.wait_state("keep", "running")
    check(h.state_of("off") == "stopped", h.svc("off"))


def test_double_fork_no_survivor(h):
    marker = os.path.join(h.tmp, "daemon.pid")
    h.service("dd", [{"name": "m", "exec": [
        PY, "-c",
        "import os,time,sys\n"
        "if os.fork()==0:\n"
        "  os.setsid()\n"
        "  if os.fork()==0:\n"
        "    open(sys.argv[1],'w').write(str(os.getpid())); time.sleep(1000)\n"
        "  os._exit(0)\n"
        "time.sleep(1000)\n", marker]}])
    h.start()
    h.wait_state("dd", "running")
    dpid = int(wait_for(lambda: os.path.exists(marker) and
                        open(marker).read(), 5, "daemon pid"))
    check(pid_alive(dpid))
    main = h.pid("dd", "m")
    rc, _, err = h.ctl("stop", "dd")
    check(rc == 0, err)
    wait_for(lambda: not pid_alive(dpid) and not pid_alive(main), 10,
             "daemon and main gone")


TESTS = [test_singleton_replaces_previous, test_reused_pid_not_killed,
         test_reused_pid_not_killed_xattr,
         test_stale_socket_removed, test_port_held, test_dependencies,
         test_cycle_rejected, test_reload_keeps_unchanged,
         test_operator_stop_survives_restart, test_double_fork_no_survivor]

if __name__ == "__main__":
    run_tests(TESTS)
