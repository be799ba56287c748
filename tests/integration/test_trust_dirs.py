"""Trust boundary of herod's directories and of its unprivileged workers:
root never follows a link the worker user planted in the state
directory; a run or state directory another user owns or can write is
refused; the prober and the store run with no capabilities, no new
privileges, a seccomp filter that kills, and Landlock where the kernel
has it."""

import ctypes
import os
import platform
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Fail, TEST_USER, check, demote_fn, make_user,
                     remove_user, run_tests, wait_for)

ATTACKER = "_hatkC1"
SECCOMP = os.environ.get("HEROD_SECCOMP") == "1"


def as_user(user, code):
    """Run python code as user; its exit status must be 0."""
    p = subprocess.run(["/usr/bin/python3", "-c", code],
                       capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL, preexec_fn=demote_fn(user))
    if p.returncode != 0:
        raise Fail("as %s: %s" % (user, p.stderr.decode(errors="replace")))


def add_user(name):
    remove_user(name)   # left by an interrupted run
    return make_user(name)


def store_pid(h):
    return h.workers().get("herod: store")


# ---- attack 1: a link in the worker-owned state directory ------------

def test_statedir_link_not_followed_by_root(h):
    """The worker user plants STATEDIR/herod.db-shm -> a root file, and
    the store is killed (restarted by root); then herod.db -> another
    root file, and herod is restarted.  Neither file changes owner."""
    victim = os.path.join(h.tmp, "victim")
    victim2 = os.path.join(h.tmp, "victim2")
    for v in (victim, victim2):
        with open(v, "w") as f:
            f.write("root's\n")
        os.chmod(v, 0o644)
    h.start()
    old = wait_for(lambda: store_pid(h), 10, "store")
    wait_for(lambda: os.path.exists(os.path.join(h.state, "herod.db")), 10,
             "database")
    shm = os.path.join(h.state, "herod.db-shm")
    as_user(TEST_USER, "import os\ntry: os.unlink(%r)\nexcept OSError: "
            "pass\nos.symlink(%r, %r)\n" % (shm, victim, shm))
    mark = len(h.logtext())
    os.kill(old, signal.SIGKILL)
    # a new store has logged: it is past where it used to chown (it
    # may not live long: the worker broke its own database)
    wait_for(lambda: os.stat(victim).st_uid != 0 or
             "store: " in h.logtext()[mark:].split(
                 "store (pid %d) killed" % old, 1)[-1], 10,
             "a new store")
    st = os.stat(victim)
    check(st.st_uid == 0 and st.st_gid == 0,
          "victim given to uid %d through the link" % st.st_uid)
    rc, _, err = h.ctl("list")
    check(rc == 0, "herod answers after the store restart: %s" % err)

    h.stop()
    db = os.path.join(h.state, "herod.db")
    as_user(TEST_USER, "import os\nos.rename(%r, %r)\nos.symlink(%r, %r)\n"
            % (db, db + ".moved", victim2, db))
    h.start(wait=False)
    wait_for(lambda: os.stat(victim2).st_uid != 0 or
             h.proc.poll() is not None or
             "started in system mode" in h.logtext(), 15, "herod")
    st = os.stat(victim2)
    check(st.st_uid == 0 and st.st_gid == 0,
          "victim2 given to uid %d through the link" % st.st_uid)
    check(os.stat(victim).st_uid == 0, "victim given away at restart")
    rc = h.proc.wait(15)
    check(rc == 1 and "herod.db is not a regular file" in h.logtext(),
          "herod with a link for a database: exit %s" % rc)
    h.proc = None


def test_statedir_root_owned_given_away(h):
    """A root-owned state directory with a root-owned database (an older
    herod) is given to the worker user; one holding anything else, or a
    database file with two links, is refused with a clear error."""
    wuid = pwd.getpwnam(TEST_USER).pw_uid
    os.makedirs(h.state, mode=0o700)
    db = os.path.join(h.state, "herod.db")
    open(db, "w").close()
    h.start()
    check(os.stat(h.state).st_uid == wuid, "state dir given away")
    check(os.stat(db).st_uid == wuid, "database given away")
    h.stop()

    os.chown(h.state, 0, 0)
    os.chown(db, 0, 0)
    os.link(db, os.path.join(h.tmp, "second-link"))
    h.start(wait=False)
    rc = h.proc.wait(15)
    check(rc == 1, "herod exit %s with a hard-linked database" % rc)
    check("not a regular file with one link" in h.logtext(), "message")
    check(os.stat(h.tmp + "/second-link").st_uid == 0, "link target kept")
    h.proc = None

    os.unlink(os.path.join(h.tmp, "second-link"))
    with open(os.path.join(h.state, "other"), "w") as f:
        f.write("x")
    h.start(wait=False)
    rc = h.proc.wait(15)
    check(rc == 1, "herod exit %s with a foreign file" % rc)
    check("holds other" in h.logtext(), "message")
    h.proc = None


# ---- attack 7: a run directory another user controls ---------------

def refused(h, args, words):
    """herod started with args exits 1 before answering, saying words."""
    before = len(h.logtext()) if os.path.exists(h.log) else 0
    h.start(wait=False, args=args)
    try:
        rc = h.proc.wait(15)
    except subprocess.TimeoutExpired:
        raise Fail("herod %s started instead of refusing" % (args,))
    h.proc = None
    text = h.logtext()[before:]
    check(rc == 1, "herod %s: exit %s, want 1: %s" % (args, rc, text))
    for w in words:
        check(w in text, "herod %s: %r not in %r" % (args, w, text))


def foreign_dirs(h, attacker, owner_uid, owner_gid):
    """Directories outside h.tmp (start() gives h.tmp to the user herod
    runs as): one owned by the attacker, one mode 0777, one below an
    attacker's directory."""
    top = tempfile.mkdtemp(prefix="herod-trust-")
    os.chmod(top, 0o755)
    foreign = os.path.join(top, "foreign")
    os.mkdir(foreign)
    os.chown(foreign, attacker.pw_uid, attacker.pw_gid)
    os.chmod(foreign, 0o777)
    open_ = os.path.join(top, "open")
    os.mkdir(open_)
    os.chown(open_, owner_uid, owner_gid)
    os.chmod(open_, 0o777)
    evil = os.path.join(top, "evil")
    os.mkdir(evil)
    os.chown(evil, attacker.pw_uid, attacker.pw_gid)
    below = os.path.join(evil, "run")
    os.mkdir(below, 0o700)
    os.chown(below, owner_uid, owner_gid)
    theirs = os.path.join(top, "theirs")
    os.mkdir(theirs, 0o700)
    os.chown(theirs, attacker.pw_uid, attacker.pw_gid)
    return top, foreign, open_, below, theirs


def test_user_mode_foreign_dirs_refused(h):
    """User mode (herod as TEST_USER): a run directory owned by another
    user, or writable by others, or below another user's directory, and
    a state directory owned by another user, are refused: herod exits 1
    with the reason and never makes its socket there."""
    attacker = add_user(ATTACKER)
    me = pwd.getpwnam(TEST_USER)
    top = None
    try:
        top, foreign, open_, below, theirs = foreign_dirs(
            h, attacker, me.pw_uid, me.pw_gid)
        refused(h, ("-r", foreign), ["run directory", foreign,
                                     "owned by uid %d" % attacker.pw_uid])
        check(not os.path.exists(os.path.join(foreign, "herod.sock")),
              "socket made in the attacker's directory")
        refused(h, ("-r", open_), ["run directory", open_,
                                   "writable by group or others"])
        refused(h, ("-r", below), ["run directory", "evil",
                                   "owned by uid %d" % attacker.pw_uid])
        refused(h, ("-s", theirs), ["state directory", theirs,
                                    "owned by uid %d" % attacker.pw_uid])
        # and the defaults work: the run directory herod makes is the
        # user's, writable by no one else
        h.start()
        st = os.stat(h.run)
        check(st.st_uid == me.pw_uid and st.st_mode & 0o022 == 0,
              "run directory mode %o" % st.st_mode)
    finally:
        h.kill_everything()
        remove_user(ATTACKER)
        if top:
            shutil.rmtree(top, ignore_errors=True)


def test_system_mode_foreign_dirs_refused(h):
    """System mode: the run directory must be root's and the state
    directory root's or the worker user's, writable by no one else."""
    attacker = add_user(ATTACKER)
    top = None
    try:
        top, foreign, open_, below, theirs = foreign_dirs(h, attacker,
                                                          0, 0)
        refused(h, ("-r", foreign), ["run directory", foreign,
                                     "owned by uid %d" % attacker.pw_uid])
        refused(h, ("-r", open_), ["run directory", open_,
                                   "writable by group or others"])
        refused(h, ("-r", below), ["run directory", "evil"])
        refused(h, ("-s", foreign), ["state directory", foreign])
        refused(h, ("-s", theirs), ["state directory", theirs,
                                    "owned by uid %d" % attacker.pw_uid])
    finally:
        h.kill_everything()
        remove_user(ATTACKER)
        if top:
            shutil.rmtree(top, ignore_errors=True)


# ---- the workers' confinement ----------------------------------------

def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # landlock_create_ruleset is 444 on every architecture
    return max(0, libc.syscall(444, None, ctypes.c_size_t(0),
                               ctypes.c_uint(1)))


def confinement(h, sysmode):
    h.start()
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10,
                 "4 herod processes")
    for t in ("herod: prober", "herod: store"):
        s = status(w[t])
        check(s["NoNewPrivs"] == "1", "%s NoNewPrivs %s" % (t, s))
        check(s["Seccomp"] == ("2" if SECCOMP else "0"),
              "%s Seccomp %s" % (t, s["Seccomp"]))
        for c in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            check(int(s[c], 16) == 0, "%s %s %s" % (t, c, s[c]))
        if sysmode:
            check(int(s["CapBnd"], 16) == 0, "%s CapBnd %s" % (
                t, s["CapBnd"]))
            check(s["Uid"].split() == [str(pwd.getpwnam(
                TEST_USER).pw_uid)] * 4, "%s Uid %s" % (t, s["Uid"]))
    log = h.logtext()
    if landlock_abi() > 0:
        # each worker tried a path it must not reach, and was refused
        check("prober: landlock ABI" in log and
              "out of reach (%s: Permission denied)" % h.state in log,
              "prober's Landlock line")
        if sysmode:
            check("store: landlock ABI" in log and "(chrooted)" in log,
                  "store's Landlock line")
        else:
            check("store: landlock ABI" in log and
                  "(%s: Permission denied)" % h.run in log,
                  "store's Landlock line")
        check("can be opened" not in log, "Landlock not in force")
    else:
        check("no Landlock in this kernel" in log, "warning")


def test_workers_confined_system(h):
    confinement(h, True)


def test_workers_confined_user(h):
    confinement(h, False)


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
        "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


def inject_syscall(pid, nr, a0=0, a1=0, a2=0):
    """Make pid (idle in a system call) run system call nr through
    ptrace.  Returns ("ret", value) after restoring it, or ("signal", n)
    if it died."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p,
                            ctypes.c_void_p]
    wall = 0x40000000

    def pt(req, addr=None, data=None):
        r = libc.ptrace(req, pid, addr, data)
        if r == -1 and ctypes.get_errno() != 0:
            raise Fail("ptrace %d: %s" % (req,
                                          os.strerror(ctypes.get_errno())))
        return r

    pt(16)                                      # PTRACE_ATTACH
    _, st = os.waitpid(pid, wall)
    check(os.WIFSTOPPED(st), "attached: %r" % st)
    saved = Regs()
    pt(12, None, ctypes.byref(saved))           # PTRACE_GETREGS
    ctypes.set_errno(0)
    word = pt(2, ctypes.c_void_p(saved.rip - 2))   # PTRACE_PEEKTEXT
    if word & 0xffff != 0x050f:                 # not after "syscall"
        pt(17)
        return None
    r = Regs.from_buffer_copy(saved)
    r.rax, r.rdi, r.rsi, r.rdx = nr, a0, a1, a2
    r.orig_rax = 2 ** 64 - 1                    # no syscall restart
    r.rip = saved.rip - 2
    pt(13, None, ctypes.byref(r))               # PTRACE_SETREGS
    pt(9)                                       # PTRACE_SINGLESTEP
    _, st = os.waitpid(pid, wall)
    if os.WIFSIGNALED(st):
        return ("signal", os.WTERMSIG(st))
    check(os.WIFSTOPPED(st), "stepped: %r" % st)
    pt(12, None, ctypes.byref(r))
    pt(13, None, ctypes.byref(saved))
    pt(17)                                      # PTRACE_DETACH
    return ("ret", ctypes.c_longlong(r.rax).value)


def test_seccomp_kills_worker(h):
    """A system call outside a worker's filter kills it (SIGSYS) and the
    parent starts a new one: the store is made to call socket(AF_INET)
    (it may have no network) through ptrace.  The same injection of an
    allowed call (getpid) into the prober returns normally, so the
    injection itself is shown to work."""
    if not SECCOMP:
        print("SKIP test_seccomp_kills_worker (no seccomp in this build)")
        return
    if platform.machine() != "x86_64":
        print("SKIP test_seccomp_kills_worker (x86_64 only)")
        return
    h.start()
    w = wait_for(lambda: len(h.workers()) == 4 and h.workers(), 10,
                 "4 herod processes")
    prober = w["herod: prober"]
    res = wait_for(lambda: inject_syscall(prober, 39), 10,
                   "prober idle in a system call")          # getpid
    check(res == ("ret", prober), "getpid in the prober: %r" % (res,))
    store = w["herod: store"]
    res = wait_for(lambda: inject_syscall(store, 41, 2, 1, 0), 10,
                   "store idle in a system call")   # socket(AF_INET, ..)
    check(res == ("signal", signal.SIGSYS),
          "socket(AF_INET) in the store: %r (want death by SIGSYS)" %
          (res,))
    wait_for(lambda: "store (pid %d) killed by signal %d" % (
        store, signal.SIGSYS) in h.logtext(), 10, "parent saw it")
    wait_for(lambda: (store_pid(h) or store) != store, 10, "new store")
    check(h.workers().get("herod: prober") == prober, "prober untouched")
    rc, _, err = h.ctl("list")
    check(rc == 0, "herod answers: %s" % err)


TESTS = [test_statedir_link_not_followed_by_root,
         test_statedir_root_owned_given_away,
         test_user_mode_foreign_dirs_refused,
         test_system_mode_foreign_dirs_refused,
         test_workers_confined_system,
         test_workers_confined_user,
         test_seccomp_kills_worker]

if __name__ == "__main__":
    ROOT = (test_statedir_link_not_followed_by_root,
            test_statedir_root_owned_given_away,
            test_user_mode_foreign_dirs_refused,
            test_system_mode_foreign_dirs_refused,
            test_workers_confined_system,
            test_seccomp_kills_worker)
    SYS = (test_statedir_link_not_followed_by_root,
           test_statedir_root_owned_given_away,
           test_system_mode_foreign_dirs_refused,
           test_workers_confined_system,
           test_seccomp_kills_worker)
    run_tests(TESTS, needs_root=ROOT, sysmode=SYS)
