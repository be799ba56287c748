"""herod as pid 1 of a container (a pid namespace): its workers stay up,
services run, orphans that the namespace hands to pid 1 are reaped, and
SIGTERM stops everything."""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (HEROD, TEST_USER, Fail, check, pid_alive, run_tests,
                     wait_for)


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    return int(st[st.rindex(")") + 2:].split()[1])


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if ppid_of(int(d)) == pid:
                    out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def nspid_to_host(nspid, herod):
    """The host pid of the process that is nspid in herod's pid
    namespace."""
    ns = os.readlink("/proc/%d/ns/pid" % herod)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/pid" % d) != ns:
                continue
            with open("/proc/%s/status" % d) as f:
                for line in f:
                    if line.startswith("NSpid:") and \
                            int(line.split()[-1]) == nspid:
                        return int(d)
        except OSError:
            pass
    return None


def start_in_namespace(h):
    argv = ["unshare", "--pid", "--fork", "--mount-proc", HEROD, "-d", "-v",
            "-c", h.conf, "-s", h.state, "-r", h.run, "-u", TEST_USER]
    h.logf = open(h.log, "ab")
    h.proc = subprocess.Popen(argv, stdout=h.logf, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    herod = wait_for(lambda: (children(h.proc.pid) or [None])[0], 10,
                     "herod, pid 1 of the namespace")
    wait_for(lambda: h.ctl("list")[0] == 0, 15, "herod to answer")
    return herod


def test_pid1(h):
    h.service("steady", [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    herod = start_in_namespace(h)
    with open("/proc/%d/status" % herod) as f:
        nspid = [l for l in f if l.startswith("NSpid:")][0].split()
    check(nspid[-1] == "1", "herod is pid 1 there: %r" % nspid)
    h.wait_state("steady", "running")
    workers = sorted(children(herod))
    # workers that took pid 1 for a dead parent died within a second
    wait_for(lambda: "services started" in h.logtext(), 10, "a start")
    check("running as pid 1" in h.logtext(), "says it is pid 1")
    # an orphan handed to pid 1 by the namespace is reaped
    out = subprocess.run(
        ["nsenter", "-t", str(herod), "-p", "-m", "--", "/bin/sh", "-c",
         "/bin/sleep 0.5 >/dev/null 2>&1 & echo $!"],
        capture_output=True, timeout=30)
    orphan_ns = int(out.stdout.decode().split()[0])
    orphan = wait_for(lambda: nspid_to_host(orphan_ns, herod), 5,
                      "the orphan in the namespace")
    check(ppid_of(orphan) == herod, "pid 1 took the orphan")
    wait_for(lambda: not os.path.exists("/proc/%d" % orphan), 10,
             "the orphan to be reaped")
    check(not [c for c in children(herod) if c not in workers and
               not pid_alive(c) and os.path.exists("/proc/%d" % c)],
          "zombies left")
    check(all(pid_alive(w) for w in workers), "workers stayed up")
    spid = nspid_to_host(h.pid("steady", "m"), herod)
    check(spid is not None and pid_alive(spid), "the service's host pid")
    # SIGTERM (or SIGPWR) to pid 1: services stopped, then it exits
    os.kill(herod, signal.SIGTERM)
    h.proc.wait(30)
    check(not pid_alive(spid), "service left running")
    h.proc = None


def test_pid1_sigpwr(h):
    h.service("steady", [{"name": "m", "exec": ["/bin/sleep", "1000"]}])
    herod = start_in_namespace(h)
    h.wait_state("steady", "running")
    spid = nspid_to_host(h.pid("steady", "m"), herod)
    check(spid is not None and pid_alive(spid), "the service's host pid")
    os.kill(herod, signal.SIGPWR)
    h.proc.wait(30)
    check(not pid_alive(spid), "service left running")
    h.proc = None


TESTS = [test_pid1, test_pid1_sigpwr]

if __name__ == "__main__":
    run_tests(TESTS, needs_root=TESTS, sysmode=TESTS)
