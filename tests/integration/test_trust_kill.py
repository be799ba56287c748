"""Trust boundary: the root spawner never signals a process that is not
provably its action's (issue 12, attacks 2 and 3).

Each test runs herod in system mode as root and performs the attack as
a real less privileged user: a service user (_hatkA1) who rewrites its
pid file, a service whose port a root process holds, and the herod
worker user who rewrites the store's rows before a restart.  A victim
root process is started by the test; it must survive."""

import json
import os
import pwd
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (check, Fail, Herod, make_user, pid_alive, remove_user,
                     run_tests, TEST_USER, wait_for)

PY = "/usr/bin/python3"
SLEEP = ["/bin/sleep", "1000"]
ATTACKER = "_hatkA1"
TCP_SERVER = ("import socket,sys\n"
              "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,"
              "socket.SO_REUSEADDR,1)\n"
              "s.bind(('127.0.0.1',int(sys.argv[1]))); s.listen(8)\n"
              "print('listening', flush=True)\n"
              "while True: c,_=s.accept(); c.close()\n")
# argv: db path, sql, json params; run as the worker user
DBW = ("import json,sqlite3,sys\n"
       "con=sqlite3.connect('file:%s?mode=rw'%sys.argv[1],uri=True,"
       "timeout=10)\n"
       "cur=con.execute(sys.argv[2],json.loads(sys.argv[3]))\n"
       "con.commit(); print(cur.rowcount)\n")


def as_user(name):
    pw = pwd.getpwnam(name)

    def demote():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return demote


def run_as(name, argv):
    p = subprocess.run(argv, capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL, preexec_fn=as_user(name))
    if p.returncode != 0:
        raise Fail("%r as %s: %s" % (argv, name,
                                     p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


class Attacker:
    """An unprivileged user made for the test and removed after it, its
    processes killed by pid first (harness.make_user, remove_user)."""

    def __init__(self, name):
        self.name = name
        self.uid = make_user(name).pw_uid

    def remove(self):
        remove_user(self.name)


def with_attacker(fn):
    def t(h):
        a = Attacker(ATTACKER)
        try:
            fn(h, a)
        finally:
            a.remove()
    t.__name__ = fn.__name__
    return t


def victim(h, argv=SLEEP, **kw):
    """A root process outside herod, in its own session and group."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         start_new_session=True, **kw)
    h.extra.append(p)
    return p


def starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def check_victim(p, what):
    check(p.poll() is None and pid_alive(p.pid),
          "victim root pid %d killed (%s)" % (p.pid, what))


def logged(h, text, timeout=10):
    wait_for(lambda: text in h.logtext(), timeout, "log: %r" % text)


# --- attack 2: pid file and holders -----------------------------------

def pidfile_attack(h, a, xattr):
    d = os.path.join(h.tmp, "attacker")
    os.makedirs(d)
    os.chown(d, a.uid, -1)
    os.chmod(d, 0o755)
    pf = os.path.join(d, "main.pid")
    h.service("pf", [{"name": "main", "exec": SLEEP, "user": a.name,
                      "singleton": True, "pidfile": pf,
                      "restart": {"delay_ms": 4000}}])
    h.start()
    first = h.wait_state("pf", "running")["actions"][0]["pid"]
    wait_for(lambda: os.path.exists(pf), 10, "pid file written")
    v = victim(h)
    # the attacker ends its own instance; herod removes the pid file and
    # waits delay_ms before the respawn: the attacker puts its own pid
    # file in place, naming the root victim (and its start time)
    run_as(a.name, ["/bin/kill", "-KILL", str(first)])
    wait_for(lambda: not os.path.exists(pf), 10, "pid file removed")
    check(h.state_of("pf") != "running", "respawned too early")
    script = ("import os,sys\n"
              "p=sys.argv[1]; open(p+'.t','w').write(sys.argv[2]+'\\n')\n"
              "st=sys.argv[3]\n"
              "if st:\n"
              "  try: os.setxattr(p+'.t','user.herod.start',st.encode())\n"
              "  except OSError: open(p+'.start','w').write(st+'\\n')\n"
              "os.rename(p+'.t',p)\n")
    run_as(a.name, [PY, "-c", script, pf, str(v.pid),
                    str(starttime(v.pid)) if xattr else ""])
    s = wait_for(lambda: h.state_of("pf") == "running" and
                 h.pid("pf", "main") not in (0, first) and h.svc("pf"),
                 20, "pf respawned")
    new = s["actions"][0]["pid"]
    check_victim(v, "named by the attacker's pid file")
    logged(h, "pid %d is not the action's" % v.pid)
    check(pid_alive(new), "the respawned instance runs")


@with_attacker
def test_pidfile_names_root_process(h, a):
    pidfile_attack(h, a, xattr=False)


@with_attacker
def test_pidfile_with_forged_start_time(h, a):
    pidfile_attack(h, a, xattr=True)


@with_attacker
def test_pidfile_fifo_not_opened(h, a):
    """A FIFO in place of the pid file: herod must not block on it (the
    spawner would hang) nor follow a link planted there."""
    d = os.path.join(h.tmp, "attacker")
    os.makedirs(d)
    os.chown(d, a.uid, -1)
    pf = os.path.join(d, "main.pid")
    run_as(a.name, [PY, "-c", "import os,sys; os.mkfifo(sys.argv[1])", pf])
    h.service("fifo", [{"name": "main", "exec": SLEEP, "user": a.name,
                        "singleton": True, "pidfile": pf}])
    h.service("other", [{"name": "main", "exec": SLEEP}])
    h.start()
    h.wait_state("other", "running")
    logged(h, "not a regular file")
    rc, _, err = h.ctl("stop", "other")
    check(rc == 0, "the spawner still answers: %s" % err)
    h.wait_state("other", "stopped")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@with_attacker
def test_kill_others_spares_root_holder(h, a):
    """A service of _hatkA1 with kill_others on a port a root process
    holds: the spawn fails naming the holder, which is left alone."""
    port = free_port()
    v = victim(h, [PY, "-c", TCP_SERVER, str(port)], stdout=subprocess.PIPE)
    check(b"listening" in v.stdout.readline(), "victim listens")
    h.service("grab", [{"name": "main", "exec": SLEEP, "user": a.name,
                        "kill_others": True, "tcp_ports": [port],
                        "restart": {"policy": "never"}}])
    h.start()
    refused = "port %d: pid %d is not the action's" % (port, v.pid)
    wait_for(lambda: refused in h.logtext() or v.poll() is not None, 15,
             "spawn refused, or the victim killed")
    check_victim(v, "held the port of a kill_others service")
    check(h.state_of("grab") != "running", "grab runs: %r" % h.svc("grab"))


# --- attack 3: the store's rows at adoption ---------------------------

def db_as_worker(h, sql, params=()):
    out = run_as(TEST_USER, [PY, "-c", DBW,
                             os.path.join(h.state, "herod.db"), sql,
                             json.dumps(list(params))])
    return int(out.strip())


def restart_herod(h):
    h.proc.kill()
    h.proc.wait(10)
    wait_for(lambda: not h.workers() or all(
        not pid_alive(p) for t, p in h.workers().items()
        if t != "herod: parent"), 10, "workers gone")
    h.logf.close()


def adoption_attack(h, set_pid):
    h.service("adp", [{"name": "main", "exec": SLEEP}])
    h.start()
    real = h.wait_state("adp", "running")["actions"][0]["pid"]
    v = victim(h)
    restart_herod(h)
    check(pid_alive(real), "the service survived herod")
    if set_pid:
        n = db_as_worker(h, "UPDATE jobs SET pid=?, pgid=?, starttime=? "
                         "WHERE service='adp' AND pid=?",
                         (v.pid, v.pid, starttime(v.pid), real))
    else:
        n = db_as_worker(h, "UPDATE jobs SET pgid=? WHERE service='adp' "
                         "AND pid=?", (v.pid, real))
    check(n == 1, "the worker user rewrote the row (%d)" % n)
    h.start()
    s = h.wait_state("adp", "running", 20)
    now = s["actions"][0]["pid"]
    if set_pid:
        check(now != v.pid, "the victim was adopted as adp/main")
        logged(h, "recorded pid %d is not this job's" % v.pid)
    else:
        check(now == real, "the real instance adopted: %r" % s)
    rc, _, err = h.ctl("stop", "adp", "--no-wait")
    check(rc == 0, "stop: %s" % err)
    wait_for(lambda: h.state_of("adp") == "stopped" or v.poll() is not None,
             20, "adp stopped, or the victim killed")
    check_victim(v, "stopped as adp/main")
    h.wait_state("adp", "stopped", 20)
    if not set_pid:
        logged(h, "recorded process group %d, the kernel's is %d" %
               (v.pid, real))
        wait_for(lambda: not pid_alive(real), 10, "the real one stopped")


def test_adopt_forged_pgid(h):
    adoption_attack(h, set_pid=False)


def test_adopt_forged_pid(h):
    adoption_attack(h, set_pid=True)


TESTS = [test_pidfile_names_root_process, test_pidfile_with_forged_start_time,
         test_pidfile_fifo_not_opened, test_kill_others_spares_root_holder,
         test_adopt_forged_pgid, test_adopt_forged_pid]

if __name__ == "__main__":
    run_tests(TESTS, needs_root=TESTS, sysmode=TESTS)
