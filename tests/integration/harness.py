"""Integration harness: runs a real herod (user mode, -d) in a temporary
directory and drives it with the real heroctl.  Every process a test
starts is killed by pid at the end; every wait is bounded."""

import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HEROD = os.environ.get("HEROD", "")
HEROCTL = os.environ.get("HEROCTL", "")
SERVERS = os.environ.get("SERVERS", "")


# Memory bounds are for a normal build; under ASan (shadow memory and
# quarantine count in RSS) they are scaled by this factor.
RSS_SCALE = 8 if os.environ.get("HEROD_SANITIZED") == "1" else 1


class Fail(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Poll cond() until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as e:  # a transient error counts as "not yet"
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise Fail("timed out after %.1fs waiting for %s (last: %r)" %
               (timeout, what, last))


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] not in "ZX"
    except (OSError, ValueError):
        return False


def proc_children_of_env(marker):
    """Pids of processes whose environment mentions marker (our tmpdir)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if marker.encode() in env:
            pids.append(int(d))
    return pids


def proc_title(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return -1


TEST_USER = "_herodtest"


_made_users = []        # users this test program made: removed at its end


def ensure_test_user(name=TEST_USER):
    """The user herod runs as (user mode) or its workers run as (system
    mode).  Made if missing, and then removed when the test program ends
    (run_tests), so a run of the suite leaves no user behind."""
    if not user_exists(name):
        make_user(name)
        _made_users.append(name)
    return name


def remove_made_users():
    """At the end of a test program: a user that cannot be removed (a
    process of it that does not die) is said, not a failure of the
    tests."""
    while _made_users:
        name = _made_users.pop()
        try:
            remove_user(name)
        except Fail as e:
            print("warning: user %s left behind: %s" % (name, e))


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def user_pids(uid):
    """Pids of the live processes (not zombies) whose real uid is uid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if proc_uid(int(d)) == uid and pid_alive(int(d)):
                    out.append(int(d))
            except (OSError, ValueError):
                pass
    return out


def make_user(name):
    """A system user with no home and no shell, made if missing (the
    attacker of a test).  useradd is retried: another test may hold the
    lock on /etc/passwd.  Returns its pwd entry."""
    if not user_exists(name):
        wait_for(lambda: subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir",
             "/nonexistent", "--shell", "/usr/sbin/nologin", name],
            timeout=30, capture_output=True).returncode == 0 or
            user_exists(name), 30, "useradd %s" % name, interval=0.2)
    return pwd.getpwnam(name)


def remove_user(name):
    """Kill the user's processes by pid, then remove the user."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return

    def gone():
        for p in user_pids(uid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        return not user_pids(uid)
    wait_for(gone, 10, "processes of %s gone" % name)
    wait_for(lambda: subprocess.run(
        ["userdel", name], timeout=30, capture_output=True).returncode == 0
        or not user_exists(name), 30, "userdel %s" % name, interval=0.2)


def demote_fn(user):
    """preexec_fn that becomes user (only when we are root)."""
    if os.geteuid() != 0 or user is None:
        return None
    pw = pwd.getpwnam(user)

    def demote():
        # a typical login session's descriptor limit, not root's
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return demote


class Herod:
    """A herod under test.  As a normal user it runs in user mode as that
    user.  As root, user mode is had by running herod as TEST_USER; with
    sysmode=True it runs as root (system mode) with TEST_USER as the
    worker user."""

    def __init__(self, tmp=None, user=None, sysmode=False):
        self.tmp = tmp or tempfile.mkdtemp(prefix="herod-test-")
        os.chmod(self.tmp, 0o755)
        self.sysmode = sysmode
        self.runas = None
        if os.geteuid() == 0:
            ensure_test_user()
            if not sysmode:
                self.runas = TEST_USER
        self.conf = os.path.join(self.tmp, "conf")
        self.state = os.path.join(self.tmp, "state")
        self.run = os.path.join(self.tmp, "run")
        self.sock = os.path.join(self.run, "herod.sock")
        self.log = os.path.join(self.tmp, "herod.log")
        self.user = user
        os.makedirs(self.conf, exist_ok=True)
        self.proc = None
        self.extra = []          # Popen of other processes tests started

    def mkdir(self, path):
        """mkdir -p, owned by the user herod runs as."""
        os.makedirs(path, exist_ok=True)
        if self.runas:
            pw = pwd.getpwnam(self.runas)
            p = path
            while p.startswith(self.tmp) and p != self.tmp:
                os.chown(p, pw.pw_uid, pw.pw_gid)
                p = os.path.dirname(p)
        return path

    # service files -------------------------------------------------
    def service(self, name, actions, **top):
        doc = {"name": name, "actions": actions}
        doc.update(top)
        with open(os.path.join(self.conf, name + ".json"), "w") as f:
            json.dump(doc, f, indent=1)

    def remove_service(self, name):
        os.unlink(os.path.join(self.conf, name + ".json"))

    # daemon --------------------------------------------------------
    def start(self, wait=True, args=()):
        argv = [HEROD, "-d", "-v", "-c", self.conf, "-s", self.state,
                "-r", self.run]
        if self.sysmode and os.geteuid() == 0:
            argv += ["-u", self.user or TEST_USER]
        argv += list(args)
        self.logf = open(self.log, "ab")
        if self.runas:
            pw = pwd.getpwnam(self.runas)
            for d, _, files in os.walk(self.tmp):
                os.chown(d, pw.pw_uid, pw.pw_gid)
                for f in files:
                    os.chown(os.path.join(d, f), pw.pw_uid, pw.pw_gid)
        env = dict(os.environ)
        env.pop("XDG_RUNTIME_DIR", None)
        self.proc = subprocess.Popen(argv, stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=demote_fn(self.runas))
        if wait:
            wait_for(lambda: self.ctl("list")[0] == 0, 15,
                     "herod to answer")
        return self.proc

    def ctl(self, *args, json_out=True, timeout=60, sock=None, user=None):
        argv = [HEROCTL, "-s", sock or self.sock]
        if json_out:
            argv.append("-j")
        argv += list(args)
        kw = {}
        if user is not None:
            pw = pwd.getpwnam(user)

            def demote():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            kw["preexec_fn"] = demote
        p = subprocess.run(argv, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, **kw)
        out = p.stdout.decode(errors="replace")
        doc = None
        if json_out and out.strip():
            try:
                doc = json.loads(out)
            except ValueError:
                doc = out
        return p.returncode, doc, p.stderr.decode(errors="replace")

    def list(self):
        rc, doc, err = self.ctl("list")
        if rc != 0:
            raise Fail("list failed: rc=%d %s" % (rc, err))
        return {s["name"]: s for s in doc["services"]}

    def svc(self, name):
        return self.list().get(name)

    def state_of(self, name):
        s = self.svc(name)
        return s and s["state"]

    def wait_state(self, name, state, timeout=15):
        return wait_for(lambda: (self.svc(name) or {}).get("state") == state
                        and self.svc(name), timeout,
                        "%s to be %s" % (name, state))

    def action(self, name, action):
        s = self.svc(name)
        for a in s["actions"]:
            if a["name"] == action:
                return a
        raise Fail("no action %s/%s" % (name, action))

    def pid(self, name, action):
        return self.action(name, action)["pid"]

    def workers(self):
        """{title: pid} of this herod's processes."""
        out = {}
        if self.proc is None:
            return out
        out["herod: parent"] = self.proc.pid
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                ppid = int(st[st.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid:
                t = proc_title(int(d))
                if t.startswith("herod: "):
                    out[t.split(" (")[0]] = int(d)
        return out

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def events(self):
        rc, _, _ = 0, None, None
        p = subprocess.run([HEROCTL, "-s", self.sock, "-j", "events",
                            "-n", "100000"], capture_output=True, timeout=30)
        return [json.loads(l) for l in p.stdout.decode().splitlines()
                if l.strip()]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill_everything(self):
        """Kill by pid whatever this test started: herod, its workers, the
        services (found by the tmpdir in their environment) and extras."""
        # extras by their Popen: a reaped pid may already be another
        # process's (pid_max can be as low as 32768)
        for p in self.extra:
            if p.poll() is None:
                p.kill()
        pids = set()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            pids.update(p for t, p in self.workers().items()
                        if t != "herod: parent")
        pids.update(proc_children_of_env(self.tmp))
        pids.discard(os.getpid())
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for p in self.extra:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        self.kill_everything()
        if os.environ.get("KEEP_TMP"):
            print("  kept", self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)


# Runs as the user herod runs as, so that no file of the database is
# ever created by root.  argv: db path, mode (ro|rw), sql, json params.
_DBQ = ("import json,sqlite3,sys\n"
        "con=sqlite3.connect('file:%s?mode=%s'%(sys.argv[1],sys.argv[2]),"
        "uri=True,timeout=10)\n"
        "cur=con.execute(sys.argv[3],json.loads(sys.argv[4]))\n"
        "rows=cur.fetchall(); con.commit()\n"
        "print(json.dumps([[c.decode(errors='replace') if isinstance(c,bytes)"
        " else c for c in r] for r in rows]+[cur.rowcount]))\n")


def db_query(h, sql, params=(), mode="ro"):
    """(rows, rowcount) of sql on STATEDIR/herod.db."""
    p = subprocess.run(["/usr/bin/python3", "-c", _DBQ,
                        os.path.join(h.state, "herod.db"), mode, sql,
                        json.dumps(list(params))],
                       capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL,
                       preexec_fn=demote_fn(h.runas))
    if p.returncode != 0:
        raise Fail("sqlite: %s" % p.stderr.decode(errors="replace"))
    out = json.loads(p.stdout)
    return out[:-1], out[-1]


def spawn_outside(h, argv, **kw):
    """A process started outside herod, as the user herod runs as (so a
    user-mode herod may stop it); killed by pid at the end of the test."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         start_new_session=True,
                         preexec_fn=demote_fn(h.runas), **kw)
    h.extra.append(p)
    return p


def run_tests(tests, needs_root=(), sysmode=()):
    """Run test functions; each gets a fresh Herod.  Prints a summary line
    'N passed, N failed' and exits non-zero on failure."""
    passed = failed = skipped = 0
    only = os.environ.get("ONLY")
    for t in tests:
        name = t.__name__
        if only and only not in name:
            continue
        if t in needs_root and os.geteuid() != 0:
            print("SKIP %s (needs root)" % name)
            skipped += 1
            continue
        h = Herod(sysmode=t in sysmode)
        t0 = time.monotonic()
        try:
            t(h)
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        except Exception as e:
            failed += 1
            print("FAIL %s (%.1fs): %s" % (name, time.monotonic() - t0, e))
            traceback.print_exc()
            try:
                print("---- herod log tail ----")
                print("\n".join(h.logtext().splitlines()[-40:]))
            except OSError:
                pass
        finally:
            h.stop()
            h.cleanup()
        sys.stdout.flush()
    remove_made_users()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)
