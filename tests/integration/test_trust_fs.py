"""Trust boundary between the root spawner and the users of services, on
the file system.  Each test performs an attack as a real unprivileged
user (created here, removed at the end) against a system-mode herod:

- a fifo or a link planted where the root spawner writes a pid file
  (the temporary name it used to use, the pid file itself, a directory
  on the way) must neither freeze the spawner nor write elsewhere;
- a unix-socket probe whose socket the service user replaced by a link
  to a root-only socket must not make herod connect to that socket;
- a non-root action must not get to plant links in a socket directory
  that a root action of the same service then follows;
- and actions get herod's fixed default PATH, not herod's own."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (HEROD, SERVERS, Fail, check, demote_fn, make_user,
                     pid_alive, remove_user, run_tests, wait_for)

ATTACKER = "_hatkB"
HTTPD = os.path.join(SERVERS, "httpd")
SLEEP = ["/bin/sleep", "1000"]
BOUND = 10      # seconds anything may take while an attack is going on


def ensure_attacker():
    return make_user(ATTACKER)


def remove_attacker():
    remove_user(ATTACKER)


def as_attacker(code, *args):
    """Run python code as the attacker; its return code."""
    r = subprocess.run(["/usr/bin/python3", "-c", code] + list(args),
                       preexec_fn=demote_fn(ATTACKER), timeout=30,
                       capture_output=True)
    if r.returncode != 0:
        raise Fail("as %s: %s" % (ATTACKER, r.stderr.decode()))
    return r


def user_dir(h, name):
    pw = pwd.getpwnam(ATTACKER)
    p = os.path.join(h.tmp, name)
    os.makedirs(p)
    os.chown(p, pw.pw_uid, pw.pw_gid)
    return p


def root_dir(h, name):
    p = os.path.join(h.tmp, name)
    os.makedirs(p)
    os.chmod(p, 0o700)
    return p


def ctl_bounded(h, *args):
    """heroctl args, which must answer within BOUND seconds."""
    try:
        return h.ctl(*args, timeout=BOUND)
    except subprocess.TimeoutExpired:
        raise Fail("heroctl %s: no answer within %ds (spawner frozen?)" %
                   (" ".join(args), BOUND))


def read(path):
    with open(path) as f:
        return f.read()


def attack_run(fn):
    def wrapper(h):
        ensure_attacker()
        try:
            fn(h)
        finally:
            h.stop()
            h.kill_everything()
            remove_attacker()
    wrapper.__name__ = fn.__name__
    return wrapper


@attack_run
def test_pidfile_fifo_does_not_freeze(h):
    ud = user_dir(h, "u")
    h.service("vic", [{"name": "m", "exec": SLEEP, "user": ATTACKER,
                       "pidfile": os.path.join(ud, "m.pid")}])
    h.service("single", [{"name": "m", "exec": SLEEP, "user": ATTACKER,
                          "singleton": True,
                          "pidfile": os.path.join(ud, "s.pid")}])
    h.service("other", [{"name": "m", "exec": SLEEP}])
    h.start()
    for s in ("vic", "single", "other"):
        h.wait_state(s, "running")
    spawner = h.workers()["herod: spawner"]
    # 1. a fifo at the temporary name the pid file was written under
    #    (PATH.tmpPID, PID the spawner's)
    as_attacker("import os,sys; os.mkfifo(sys.argv[1])",
                os.path.join(ud, "m.pid.tmp%d" % spawner))
    old = h.pid("vic", "m")
    rc, _, err = ctl_bounded(h, "restart", "vic")
    check(rc == 0, "restart vic: %s" % err)
    new = h.pid("vic", "m")
    check(new != old and pid_alive(new), "vic restarted")
    check(read(os.path.join(ud, "m.pid")) == "%d\n" % new, "pid file")
    # 2. a fifo as the pid file of a singleton, read before the spawn
    rc, _, err = ctl_bounded(h, "stop", "single")
    check(rc == 0, "stop single: %s" % err)
    check(not os.path.exists(os.path.join(ud, "s.pid")), "s.pid removed")
    as_attacker("import os,sys; os.mkfifo(sys.argv[1])",
                os.path.join(ud, "s.pid"))
    rc, _, err = ctl_bounded(h, "start", "single")
    check(rc == 0, "start single: %s" % err)
    h.wait_state("single", "running", BOUND)
    # the spawner still serves everyone
    old = h.pid("other", "m")
    rc, _, err = ctl_bounded(h, "restart", "other")
    check(rc == 0 and h.pid("other", "m") != old, "other restarted")
    check(ctl_bounded(h, "list")[0] == 0, "list answered")
    check(h.workers()["herod: spawner"] == spawner, "same spawner")


@attack_run
def test_pidfile_links_not_followed(h):
    ud = user_dir(h, "u")
    rd = root_dir(h, "rootonly")
    victim = os.path.join(rd, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    under = os.path.join(rd, "m.pid")          # same name as the pid file
    with open(under, "w") as f:
        f.write("precious too\n")
    sub = os.path.join(ud, "d")
    as_attacker("import os,sys; os.mkdir(sys.argv[1])", sub)
    h.service("vic", [{"name": "m", "exec": SLEEP, "user": ATTACKER,
                       "pidfile": os.path.join(sub, "m.pid")}])
    h.service("other", [{"name": "m", "exec": SLEEP}])
    h.start()
    h.wait_state("vic", "running")
    h.wait_state("other", "running")
    spawner = h.workers()["herod: spawner"]
    # 1. a link to a root file at the temporary name
    as_attacker("import os,sys; os.symlink(sys.argv[1], sys.argv[2])",
                victim, os.path.join(sub, "m.pid.tmp%d" % spawner))
    rc, _, err = ctl_bounded(h, "restart", "vic")
    check(rc == 0, "restart vic: %s" % err)
    check(read(victim) == "precious\n", "victim untouched")
    # 2. the pid file's directory replaced by a link to a root directory
    #    while the service is down
    rc, _, err = ctl_bounded(h, "stop", "vic")
    check(rc == 0, "stop: %s" % err)
    as_attacker("import os,sys,shutil; shutil.rmtree(sys.argv[1]); "
                "os.symlink(sys.argv[2], sys.argv[1])", sub, rd)
    rc, _, err = ctl_bounded(h, "start", "vic")
    check(rc == 0, "start vic: %s" % err)
    h.wait_state("vic", "running", BOUND)
    check(read(under) == "precious too\n",
          "root file behind the link untouched: %r" % read(under))
    check(sorted(os.listdir(rd)) == ["m.pid", "victim"],
          "nothing created in the root dir: %r" % os.listdir(rd))
    check(read(victim) == "precious\n", "victim untouched")
    old = h.pid("other", "m")
    rc, _, err = ctl_bounded(h, "restart", "other")
    check(rc == 0 and h.pid("other", "m") != old, "other restarted")


LISTENER = """
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
with open(sys.argv[2], "w") as f:
    f.write("listening\\n")
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f:
        f.write("connection\\n")
    c.close()
"""


def probe_of(h, svc, name):
    """The probe as heroctl list shows it."""
    return {p["name"]: p for p in h.svc(svc)["probes"]}[name]


@attack_run
def test_probe_socket_link_not_followed(h):
    rd = root_dir(h, "rootsock")
    rootsock = os.path.join(rd, "root.sock")
    record = os.path.join(rd, "record")
    lst = subprocess.Popen(["/usr/bin/python3", "-c", LISTENER, rootsock,
                            record], stdin=subprocess.DEVNULL,
                           start_new_session=True)
    h.extra.append(lst)
    wait_for(lambda: os.path.exists(record), BOUND, "root listener")
    # umask 077: only the service user may connect, so the prober asks
    # the spawner to connect for it
    h.service("pr", [{"name": "m", "user": ATTACKER, "umask": "077",
                      "exec": [HTTPD, "--mode", "ok",
                               "unix:$HERO_SOCKET_DIR/p.sock"]}],
              probes=[{"name": "health", "kind": "http",
                       "target": "unix:$HERO_SOCKET_DIR/p.sock",
                       "interval_ms": 200, "timeout_ms": 1000,
                       "on_failure": "warn"}])
    h.start()
    h.wait_state("pr", "running")
    wait_for(lambda: probe_of(h, "pr", "health")["ok"] is True, BOUND,
             "probe ok through the spawner")
    path = os.path.join(h.run, "sockets", "pr", "p.sock")
    check(os.stat(path).st_uid == pwd.getpwnam(ATTACKER).pw_uid,
          "socket is the service user's")
    # the service user swaps its socket for a link to root's socket
    as_attacker("import os,sys; os.symlink(sys.argv[1], sys.argv[2]+'.l');"
                " os.rename(sys.argv[2]+'.l', sys.argv[2])", rootsock, path)
    wait_for(lambda: probe_of(h, "pr", "health")["consecutive_failures"] >=
             3, BOUND, "probe failing")
    err = probe_of(h, "pr", "health")["last_error"]
    check(read(record) == "listening\n",
          "root listener was connected to: %r (probe error %r)" %
          (read(record), err))
    check(lst.poll() is None, "listener alive")


@attack_run
def test_sockdir_single_owner(h):
    pw = pwd.getpwnam(ATTACKER)
    rd = root_dir(h, "rootonly")
    victim = os.path.join(rd, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    h.service("ok", [{"name": "m", "exec": SLEEP}])
    # a non-root action and a root action both using the socket dir
    mix = {"name": "mix", "actions": [
        {"name": "u", "user": ATTACKER, "ready": {"mode": "fd", "fd": 3},
         "exec": ["/bin/sh", "-c", "ln -s %s $HERO_SOCKET_DIR/out && "
                  "echo >&3; exec sleep 1000" % victim]},
        {"name": "r", "after": ["u"],
         "exec": ["/bin/sh", "-c", "echo pwned > $HERO_SOCKET_DIR/out; "
                  "exec sleep 1000"]}]}
    h.start()
    h.wait_state("ok", "running")
    mixconf = os.path.join(h.tmp, "mixconf")
    os.makedirs(mixconf)
    with open(os.path.join(mixconf, "mix.json"), "w") as f:
        json.dump(mix, f)
    # herod -n tells
    r = subprocess.run([HEROD, "-n", "-c", mixconf], capture_output=True,
                       timeout=30)
    msg = r.stderr.decode()
    check(r.returncode != 0 and "mix.json: actions[1].user" in msg and
          "socket directory" in msg, "herod -n: rc %d %r" %
          (r.returncode, msg))
    # and so does a reload, which applies nothing
    shutil.copy(os.path.join(mixconf, "mix.json"), h.conf)
    rc, _, err = ctl_bounded(h, "reload")
    check(rc != 0 and "socket directory" in err, "reload: %d %r" %
          (rc, err))
    check("mix" not in h.list(), "mix not loaded")
    check(not os.path.exists(os.path.join(h.run, "sockets", "mix")),
          "no socket dir for mix")
    check(read(victim) == "precious\n", "victim: %r" % read(victim))
    os.unlink(os.path.join(h.conf, "mix.json"))

    # a root action that does not use the socket dir may share a service
    # with a user's that does: the dir stays the user's
    h.service("spec", [
        {"name": "srv", "user": ATTACKER,
         "exec": [HTTPD, "--mode", "ok", "unix:$HERO_SOCKET_DIR/s.sock"],
         "sockets": ["$HERO_SOCKET_DIR/s.sock"]},
        {"name": "side", "after": ["srv"], "exec": SLEEP}])
    rc, _, err = ctl_bounded(h, "reload")
    check(rc == 0, "reload: %s" % err)
    ctl_bounded(h, "start", "spec")
    h.wait_state("spec", "running")
    sd = os.path.join(h.run, "sockets", "spec")
    for i in range(2):
        st = os.lstat(sd)
        check(stat.S_ISDIR(st.st_mode) and st.st_uid == pw.pw_uid,
              "socket dir owner %d after the root action spawned" %
              st.st_uid)
        rc, _, err = ctl_bounded(h, "restart", "spec")
        check(rc == 0, "restart: %s" % err)
        h.wait_state("spec", "running")


def test_default_path(h):
    out = os.path.join(h.tmp, "path")
    h.service("p", [{"name": "m", "kind": "oneshot",
                     "exec": ["/bin/sh", "-c", "echo \"$PATH\" > " + out]}])
    env = dict(os.environ)
    os.environ["PATH"] = "/opt/herods-own/bin:" + env.get("PATH", "")
    try:
        h.start()
    finally:
        os.environ.clear()
        os.environ.update(env)
    wait_for(lambda: os.path.exists(out) and read(out).endswith("\n"),
             BOUND, "PATH written")
    check(read(out) == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
          "/sbin:/bin\n", "PATH %r" % read(out))


if __name__ == "__main__":
    tests = [test_pidfile_fifo_does_not_freeze,
             test_pidfile_links_not_followed,
             test_probe_socket_link_not_followed,
             test_sockdir_single_owner, test_default_path]
    root = tests[:4]
    run_tests(tests, needs_root=root, sysmode=root)
