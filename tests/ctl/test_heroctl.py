#!/usr/bin/env python3
"""
heroctl against a fake herod.

The fake speaks common/msg.h framing (20-byte header: u32 type, u32 len,
u32 peerid, i32 pid, u32 flags, host byte order) on a unix socket, records
the CTL_M_REQUEST it gets (struct ctl_request of common/ctl.h, then the
NUL-terminated names) and answers with a scripted list of messages.

usage: test_heroctl.py /path/to/heroctl
Prints "N passed, M failed" last; exits non-zero if anything failed.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# bounds are for a normal build; an ASan heroctl is several times slower
TIMEOUT = 10 * (4 if os.environ.get("HEROD_SANITIZED") == "1" else 1)

HDR = struct.Struct("=IIIiI")
MSG_HDR_LEN = 20
NAME_BUF = 72
# struct ctl_request: version cmd flags timeout_s lines restart action[72]
# nnames pad -> 104 bytes; action at offset 24, nnames at 96.
REQ = struct.Struct("=IIIIIi%dsII" % NAME_BUF)
END = struct.Struct("=Ii1024s")
assert HDR.size == MSG_HDR_LEN
assert REQ.size == 104
assert END.size == 1032

CTL_M_REQUEST, CTL_M_DATA, CTL_M_END = 1000, 1001, 1002
CMDS = {
    "list": 1, "status": 2, "start": 3, "stop": 4, "restart": 5,
    "reset-failed": 6, "reload": 7, "logs": 8, "events": 9,
    "shutdown": 10, "version": 11,
}
CTLF_NOWAIT, CTLF_FORCE, CTLF_FOLLOW, CTLF_KEEP = 1, 2, 4, 8
CTL_VERSION = 1

HEROCTL = None
TMP = None


def msg(mtype, payload=b"", flags=0):
    return HDR.pack(mtype, len(payload), 0, 0, flags) + payload


def data(b):
    if isinstance(b, str):
        b = b.encode()
    return msg(CTL_M_DATA, b)


def end(code=0, text=""):
    return msg(CTL_M_END, END.pack(CTL_VERSION, code, text.encode()))


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError("short read")
        buf += chunk
    return buf


def decode_request(hdr, payload):
    mtype, length, _peerid, _pid, flags = hdr
    (version, cmd, rflags, timeout_s, lines, restart, action, nnames,
     _pad) = REQ.unpack(payload[:REQ.size])
    names = payload[REQ.size:].split(b"\0")
    if names and names[-1] == b"":
        names.pop()
    return {
        "type": mtype, "hdrflags": flags, "len": length,
        "version": version, "cmd": cmd, "flags": rflags,
        "timeout_s": timeout_s, "lines": lines, "restart": restart,
        "action": action.split(b"\0")[0].decode(), "nnames": nnames,
        "names": [n.decode() for n in names],
        "names_raw": payload[REQ.size:],
    }


class FakeHerod:
    """One connection: read the request, play the script, close."""

    def __init__(self, path, script, hold=False, delay=0.0):
        self.path = path
        self.script = script
        self.hold = hold
        self.delay = delay
        self.request = None
        self.error = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        if os.path.exists(path):
            os.unlink(path)
        self.sock.bind(path)
        self.sock.listen(4)
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn = None
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(TIMEOUT)
            hdr = HDR.unpack(recv_exact(conn, MSG_HDR_LEN))
            payload = recv_exact(conn, hdr[1])
            self.request = decode_request(hdr, payload)
            for item in self.script:
                if isinstance(item, (int, float)):
                    time.sleep(item)
                    continue
                conn.sendall(item)
                if self.delay:
                    time.sleep(self.delay)
            if self.hold:
                self.release.wait(TIMEOUT)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            if conn is not None:
                conn.close()

    def close(self):
        self.release.set()
        self.thread.join(TIMEOUT)
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def sockpath(name="herod.sock"):
    return os.path.join(TMP, name)


def run(args, script=None, env=None, hold=False, delay=0.0, path=None,
        use_s=True):
    """Run heroctl; returns (rc, stdout bytes, stderr str, request)."""
    path = path or sockpath()
    fake = FakeHerod(path, script, hold, delay) if script is not None \
        else None
    try:
        argv = [HEROCTL] + (["-s", path] if use_s else []) + args
        e = dict(os.environ)
        e.pop("HEROD_SOCK", None)
        e["TZ"] = "UTC"
        if env:
            e.update(env)
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, env=e)
    finally:
        if fake:
            fake.close()
    req = fake.request if fake else None
    return p.returncode, p.stdout, p.stderr.decode(errors="replace"), req


def chunks(b, sizes):
    """Split bytes b into CTL_M_DATA messages of the given sizes."""
    out = []
    i = 0
    k = 0
    while i < len(b):
        n = sizes[k % len(sizes)]
        out.append(data(b[i:i + n]))
        i += n
        k += 1
    return out


# ---------------------------------------------------------------- tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def req_of(args, **kw):
    rc, out, err, req = run(args, script=[end(0)], **kw)
    check(rc == 0, "%s: rc %d, stderr %r" % (args, rc, err))
    check(req is not None, "%s: no request" % args)
    check(req["type"] == CTL_M_REQUEST, "message type")
    check(req["hdrflags"] == 0, "header flags")
    check(req["version"] == CTL_VERSION, "version")
    check(req["nnames"] == len(req["names"]), "nnames")
    return req


@test
def parse_list():
    r = req_of(["list"])
    check(r["cmd"] == CMDS["list"] and r["flags"] == 0, r)
    check(r["names"] == [] and r["restart"] == -1, r)
    check(r["timeout_s"] == 0 and r["lines"] == 0 and r["action"] == "", r)
    check(r["len"] == REQ.size, "payload length %d" % r["len"])


@test
def parse_status_names():
    r = req_of(["status", "web", "db.main", "a_b-c"])
    check(r["cmd"] == CMDS["status"], r)
    check(r["names"] == ["web", "db.main", "a_b-c"], r)
    check(r["names_raw"] == b"web\0db.main\0a_b-c\0", r)


@test
def parse_start_options_any_order():
    r = req_of(["start", "--no-wait", "a", "--timeout", "30", "b"])
    check(r["cmd"] == CMDS["start"], r)
    check(r["flags"] == CTLF_NOWAIT and r["timeout_s"] == 30, r)
    check(r["names"] == ["a", "b"], r)
    r = req_of(["start", "a", "--timeout=7"])
    check(r["timeout_s"] == 7 and r["flags"] == 0, r)


@test
def parse_stop_restart():
    r = req_of(["stop", "x", "--no-wait"])
    check(r["cmd"] == CMDS["stop"] and r["flags"] == CTLF_NOWAIT, r)
    r = req_of(["restart", "x", "y"])
    check(r["cmd"] == CMDS["restart"] and r["names"] == ["x", "y"], r)


@test
def parse_reset_failed():
    r = req_of(["reset-failed"])
    check(r["cmd"] == CMDS["reset-failed"] and r["names"] == [], r)
    r = req_of(["reset-failed", "--force", "a"])
    check(r["flags"] == CTLF_FORCE and r["names"] == ["a"], r)


@test
def parse_logs():
    r = req_of(["logs", "web", "-a", "server", "-n", "50", "-f", "-r", "2"])
    check(r["cmd"] == CMDS["logs"] and r["names"] == ["web"], r)
    check(r["flags"] == CTLF_FOLLOW and r["lines"] == 50, r)
    check(r["restart"] == 2 and r["action"] == "server", r)
    r = req_of(["logs", "-n5", "web"])
    check(r["lines"] == 5 and r["restart"] == -1 and r["flags"] == 0, r)
    check(r["action"] == "", r)


@test
def parse_events_shutdown_reload_version():
    r = req_of(["events", "-f", "-n", "10"])
    check(r["cmd"] == CMDS["events"], r)
    check(r["flags"] == CTLF_FOLLOW and r["lines"] == 10, r)
    r = req_of(["shutdown", "--keep-services"])
    check(r["cmd"] == CMDS["shutdown"] and r["flags"] == CTLF_KEEP, r)
    r = req_of(["shutdown"])
    check(r["flags"] == 0, r)
    r = req_of(["reload"])
    check(r["cmd"] == CMDS["reload"], r)
    r = req_of(["version"])
    check(r["cmd"] == CMDS["version"], r)


@test
def parse_prefixes():
    check(req_of(["li"])["cmd"] == CMDS["list"], "li")
    check(req_of(["star", "a"])["cmd"] == CMDS["start"], "star")
    check(req_of(["stat", "a"])["cmd"] == CMDS["status"], "stat")
    check(req_of(["ve"])["cmd"] == CMDS["version"], "ve")
    check(req_of(["reset", "a"])["cmd"] == CMDS["reset-failed"], "reset")
    r = req_of(["start", "a", "--no"])
    check(r["flags"] == CTLF_NOWAIT, "--no")


@test
def usage_errors():
    bad = [
        [],
        ["frobnicate"],
        ["st", "a"],              # ambiguous: status start stop
        ["re"],                   # ambiguous
        ["list", "web"],
        ["status"],
        ["start"],
        ["logs"],
        ["logs", "a", "b"],
        ["status", "Web"],
        ["status", "-web"],
        ["status", "a/b"],
        ["status", "x" * 65],
        ["start", "a", "--force"],
        ["start", "a", "--timeout"],
        ["start", "a", "--timeout", "abc"],
        ["start", "a", "--timeout", "-3"],
        ["stop", "a", "--bogus"],
        ["logs", "a", "-n", "0"],
        ["logs", "a", "-n", "x"],
        ["logs", "a", "-r", "-2"],
        ["logs", "a", "-a", "Bad Name"],
        ["events", "-a", "x"],
        ["list", "--no-wait"],
        ["shutdown", "--keep-services=1"],
        ["reload", "x"],
        ["version", "x"],
    ]
    for args in bad:
        rc, out, err, _ = run(args, path=sockpath("none.sock"))
        check(rc == 2, "%r: rc %d (want 2), stderr %r" % (args, rc, err))
        check("usage:" in err, "%r: no usage in %r" % (args, err))
        check(out == b"", "%r: stdout %r" % (args, out))
    rc, out, err, _ = run(["-x", "list"], path=sockpath("none.sock"))
    check(rc == 2, "unknown global option: rc %d" % rc)


@test
def unreachable():
    path = sockpath("missing.sock")
    rc, out, err, _ = run(["list"], path=path)
    check(rc == 3, "rc %d" % rc)
    check("herod not reachable at %s" % path in err, err)
    # a socket file nobody listens on: connection refused
    path = sockpath("dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    rc, out, err, _ = run(["status", "web"], path=path)
    os.unlink(path)
    check(rc == 3, "refused: rc %d" % rc)
    check("herod not reachable" in err, err)
    # version still says which heroctl this is
    rc, out, err, _ = run(["version"], path=sockpath("missing.sock"))
    check(rc == 3 and out.startswith(b"heroctl "), (rc, out))


@test
def exit_codes_propagated():
    for code in (0, 1, 4, 5):
        rc, out, err, _ = run(["start", "web"],
                              script=[end(code, "msg %d" % code)])
        check(rc == code, "code %d: rc %d" % (code, rc))
        check("heroctl: msg %d" % code in err, err)
    rc, out, err, _ = run(["stop", "web"], script=[end(0, "")])
    check(rc == 0 and err == "", (rc, err))
    for code in (9, -1, 2 ** 30):
        rc, out, err, _ = run(["list"], script=[end(code)])
        check(rc == 1, "out-of-range %d: rc %d" % (code, rc))


@test
def lost_connection():
    rc, out, err, _ = run(["list"], script=[data('{"services":[]}')])
    check(rc == 1, "rc %d" % rc)
    check("connection to herod lost" in err, err)


LIST_DOC = {"services": [
    {"name": "web", "state": "running", "reason": "", "logs_dropped": 0,
     "actions": [
         {"name": "migrate", "state": "exited", "pid": 0, "job_id": 6,
          "restart_count": 0, "uptime_ms": 0, "status": ""},
         {"name": "server", "state": "running", "pid": 4242, "job_id": 7,
          "restart_count": 2, "uptime_ms": 192000, "status": "ok"},
         {"name": "worker", "state": "running", "pid": 4243, "job_id": 8,
          "restart_count": 1, "uptime_ms": 5000, "status": ""}],
     "probes": [{"name": "health", "ok": True, "consecutive_failures": 0,
                 "last_error": ""}]},
    {"name": "database-long-name", "state": "failed",
     "reason": "port 8080 held by pid 4242 (python3)", "logs_dropped": 0,
     "actions": [{"name": "db", "state": "failed", "pid": 0, "job_id": 3,
                  "restart_count": 5, "uptime_ms": 0, "status": ""}],
     "probes": []},
    {"name": "idle", "state": "stopped", "reason": "", "actions": [],
     "probes": []},
]}


@test
def json_passthrough_exact():
    doc = json.dumps(LIST_DOC, indent=1) + "\n"
    b = doc.encode()
    rc, out, err, _ = run(["-j", "list"],
                          script=chunks(b, [7, 100, 1, 3000]) + [end(0)])
    check(rc == 0, (rc, err))
    check(out == b, "stdout differs from the document")
    # -j after the command, document without a final newline
    b = json.dumps({"version": "0.1.0", "protocol": 1}).encode()
    rc, out, err, _ = run(["version", "-j"], script=[data(b), end(0)])
    check(rc == 0 and out == b + b"\n", (rc, out))


@test
def list_table():
    b = json.dumps(LIST_DOC).encode()
    rc, out, err, _ = run(["list"], script=chunks(b, [50]) + [end(0)])
    check(rc == 0, (rc, err))
    lines = out.decode().splitlines()
    check(len(lines) == 4, lines)
    hdr = lines[0]
    titles = ["NAME", "STATE", "PIDS", "UPTIME", "RESTARTS", "REASON"]
    check(hdr.split() == titles, hdr)
    starts = [hdr.index(t) for t in titles]
    want = [
        ["web", "running", "4242,4243", "3m12s", "3", ""],
        ["database-long-name", "failed", "-", "-", "5",
         "port 8080 held by pid 4242 (python3)"],
        ["idle", "stopped", "-", "-", "0", ""],
    ]
    for line, cells in zip(lines[1:], want):
        check(line == line.rstrip(), "trailing blanks: %r" % line)
        for i, (st, cell) in enumerate(zip(starts, cells)):
            if cell == "":
                continue
            check(line[st:st + len(cell)] == cell,
                  "column %s of %r: want %r" % (titles[i], line, cell))
            check(st == 0 or line[st - 1] == " ",
                  "column %s of %r not aligned" % (titles[i], line))
    # widths come from the data: NAME is as wide as the longest name
    check(starts[1] >= len("database-long-name") + 1, hdr)


@test
def status_human():
    doc = {"services": [dict(LIST_DOC["services"][0])]}
    doc["services"][0]["actions"][1]["ready"] = True
    doc["services"][0]["actions"][1]["kind"] = "process"
    doc["services"][0]["probes"][0]["ok"] = False
    doc["services"][0]["probes"][0]["consecutive_failures"] = 3
    doc["services"][0]["probes"][0]["last_error"] = "empty reply"
    rc, out, err, _ = run(["status", "web"],
                          script=[data(json.dumps(doc)), end(1)])
    check(rc == 1, rc)
    o = out.decode()
    check(o.startswith("web: running\n"), o)
    check("server" in o and "pid 4242" in o and "ready yes" in o, o)
    check("FAIL" in o and "empty reply" in o, o)


@test
def results_reload_reset_version():
    doc = {"results": [{"name": "web", "state": "running", "reason": ""},
                       {"name": "db", "state": "failed",
                        "reason": "exec: No such file"}]}
    rc, out, err, _ = run(["start", "web", "db"],
                          script=[data(json.dumps(doc)), end(1)])
    check(rc == 1, rc)
    check(out.decode() == "web: running\ndb: failed (exec: No such file)\n",
          out)
    doc = {"added": ["x"], "removed": [], "changed": ["web", "db"],
           "unchanged": ["z"]}
    rc, out, err, _ = run(["reload"], script=[data(json.dumps(doc)), end(0)])
    check(out.decode() == "added: x\nchanged: web db\nunchanged: z\n", out)
    doc = {"restarted": ["a"], "left_alone": [{"name": "b",
                                               "state": "running"}]}
    rc, out, err, _ = run(["reset-failed"],
                          script=[data(json.dumps(doc)), end(0)])
    check(out.decode() == "restarted: a\nleft alone: b (running)\n", out)
    rc, out, err, _ = run(["version"], script=[
        data('{"version":"9.9.9","protocol":1}'), end(0)])
    check(re.fullmatch(r"heroctl \S+, herod 9\.9\.9 \(protocol 1\)\n",
                       out.decode()), out)


LOG_LINES = [
    {"ts": 1700000000123, "service": "web", "action": "server", "job_id": 7,
     "restart_count": 0, "stream": "stdout", "line": "hello world"},
    {"ts": 1700000001004, "service": "web", "action": "server", "job_id": 7,
     "restart_count": 1, "stream": "stderr", "line": "tab\there \"q\" \\"},
    {"ts": 1700000002000, "service": "web", "action": "server", "job_id": 7,
     "restart_count": 1, "stream": "herod", "line": "3 lines dropped"},
]


@test
def logs_reassembled():
    text = "".join(json.dumps(l) + "\n" for l in LOG_LINES)
    # a raw byte 0xff escaped by herod as \u00ff, then a line w/o newline
    text += ('{"ts":1700000003000,"action":"server","restart_count":2,'
             '"stream":"stdout","line":"a\\u00ffb \\u00e9"}\n')
    text += ('{"ts":1700000004000,"action":"server","restart_count":2,'
             '"stream":"stdout","line":"tail"}')
    b = text.encode()
    for sizes in ([1], [3, 17], [64], [len(b)]):
        rc, out, err, _ = run(["logs", "web"],
                              script=chunks(b, sizes) + [end(0)])
        check(rc == 0, (sizes, rc, err))
        want = (b"2023-11-14 22:13:20.123 server[0] out: hello world\n"
                b"2023-11-14 22:13:21.004 server[1] err: "
                b"tab\there \"q\" \\\n"
                b"2023-11-14 22:13:22.000 server[1] herod: "
                b"3 lines dropped\n"
                b"2023-11-14 22:13:23.000 server[2] out: a\xffb \xe9\n"
                b"2023-11-14 22:13:24.000 server[2] out: tail\n")
        check(out == want, "sizes %r:\n%r\n%r" % (sizes, out, want))
        rc, out, err, _ = run(["-j", "logs", "web"],
                              script=chunks(b, sizes) + [end(0)])
        check(rc == 0, rc)
        check(out == b + b"\n", "-j sizes %r: %r" % (sizes, out))


@test
def events_human():
    lines = [
        {"ts": 1700000000000, "event": "state", "service": "web",
         "action": "server", "state": "running", "reason": ""},
        {"ts": 1700000000500, "event": "probe_failed", "service": "web",
         "probe": "health", "error": "empty reply", "consecutive": 3},
    ]
    b = "".join(json.dumps(l) + "\n" for l in lines).encode()
    rc, out, err, _ = run(["events"], script=chunks(b, [5]) + [end(0)])
    check(rc == 0, (rc, err))
    want = ('2023-11-14 22:13:20.000 state web/server state=running '
            'reason=""\n'
            '2023-11-14 22:13:20.500 probe_failed web probe=health '
            'error="empty reply" consecutive=3\n')
    check(out.decode() == want, "%r" % out)


@test
def follow_until_sigterm():
    path = sockpath()
    line = json.dumps(LOG_LINES[0]) + "\n"
    fake = FakeHerod(path, [data(line)], hold=True)
    try:
        e = dict(os.environ, TZ="UTC")
        e.pop("HEROD_SOCK", None)
        p = subprocess.Popen([HEROCTL, "-s", path, "logs", "-f", "web"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=e)
        try:
            first = p.stdout.readline()
            check(b"hello world" in first, first)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        check(rc == 0, "rc %d" % rc)
    finally:
        fake.close()
    # herod hanging up on a follower is an error
    rc, out, err, _ = run(["events", "-f"], script=[data("")])
    check(rc == 1 and "herod closed the connection" in err, (rc, err))


@test
def env_sock_honoured():
    path = sockpath("env.sock")
    rc, out, err, req = run(["list"], script=[end(0)], path=path,
                            use_s=False, env={"HEROD_SOCK": path})
    check(rc == 0 and req is not None, (rc, err))
    # -s wins over HEROD_SOCK
    rc, out, err, req = run(["list"], script=[end(0)], path=path,
                            env={"HEROD_SOCK": sockpath("nope.sock")})
    check(rc == 0 and req is not None, (rc, err))
    rc, out, err, _ = run(["list"], use_s=False,
                          env={"HEROD_SOCK": sockpath("nope.sock")})
    check(rc == 3 and sockpath("nope.sock") in err, (rc, err))


@test
def default_paths():
    if os.geteuid() == 0:
        env = {"XDG_RUNTIME_DIR": TMP}
        rc, out, err, _ = run(["list"], use_s=False, env=env)
        check("/run/herod/herod.sock" in err or rc != 3, err)
        return
    d = os.path.join(TMP, "herod")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "herod.sock")
    rc, out, err, req = run(["list"], script=[end(0)], path=path,
                            use_s=False, env={"XDG_RUNTIME_DIR": TMP})
    check(rc == 0 and req is not None, (rc, err))
    e = dict(os.environ)
    e.pop("XDG_RUNTIME_DIR", None)
    e.pop("HEROD_SOCK", None)
    p = subprocess.run([HEROCTL, "list"], capture_output=True, env=e,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    want = "/tmp/herod-%d/herod.sock" % os.geteuid()
    check(p.returncode != 3 or want in p.stderr.decode(), p.stderr)


@test
def bad_input_from_herod():
    # not JSON: printed raw with a warning, exit 1
    rc, out, err, _ = run(["list"], script=[data("{oops"), end(0)])
    check(rc == 1 and out == b"{oops\n" and "bad JSON" in err, (rc, out))
    # JSON of the wrong shape
    rc, out, err, _ = run(["list"], script=[data('{"services":3}'), end(0)])
    check(rc == 1 and "bad JSON" in err, (rc, err))
    rc, out, err, _ = run(["list"], script=[data('[1,2]'), end(0)])
    check(rc == 1, rc)
    # deep nesting must not crash
    rc, out, err, _ = run(["list"], script=[data("[" * 200000), end(0)])
    check(rc == 1, rc)
    rc, out, err, _ = run(["status", "a"],
                          script=[data('{"services":[' + "[" * 30 +
                                       "]" * 30 + ',{"actions":7}]}'),
                                  end(0)])
    check(rc == 0, (rc, err))
    # NUL byte inside the document
    rc, out, err, _ = run(["list"], script=[data(b'{"services":[]}\0x'),
                                            end(0)])
    check(rc == 1, rc)
    # bad lines in a stream: printed, warned, exit 1, later lines kept
    rc, out, err, _ = run(["events"], script=[data('nope\n[1]\n{"event":'
                                                   '"x","ts":0}\n'), end(0)])
    check(rc == 1 and b"nope" in out and b" x -" in out, (rc, out))
    # oversized header, unknown type, bad END size, fd flag without fd
    for script in ([HDR.pack(CTL_M_DATA, 1 << 30, 0, 0, 0)],
                   [msg(4242, b"x")],
                   [msg(CTL_M_END, b"\0" * 8)],
                   [msg(CTL_M_DATA, b"x", flags=1)],
                   [HDR.pack(CTL_M_DATA, 0, 0, 0, 0x80)]):
        rc, out, err, _ = run(["list"], script=script)
        check(rc == 1, "script %r: rc %d" % (script, rc))
    # message without NUL at the end and with control characters
    raw = HDR.pack(CTL_M_END, END.size, 0, 0, 0) + \
        struct.pack("=Ii", 1, 4) + b"\x1b[2J" + b"A" * 1020
    rc, out, err, _ = run(["status", "a"], script=[raw])
    check(rc == 4 and "\x1b" not in err and "A" * 1019 in err, (rc, err))


@test
def big_document():
    doc = {"services": [{"name": "s%d" % i, "state": "running",
                         "reason": "", "actions": [], "probes": []}
                        for i in range(20000)]}
    b = json.dumps(doc).encode()
    rc, out, err, _ = run(["list"], script=chunks(b, [32 * 1024]) + [end(0)])
    check(rc == 0, (rc, err))
    check(len(out.splitlines()) == 20001, len(out.splitlines()))


def run_pty(args, script):
    """Run heroctl with stdout on a pseudo-terminal (raw mode, so the
    bytes are those heroctl wrote); returns (rc, tty bytes, stderr)."""
    import pty  # noqa: F401  (the os.openpty backend)
    import select
    import tty
    path = sockpath()
    fake = FakeHerod(path, script)
    master, slave = os.openpty()
    tty.setraw(slave)
    out = b""
    try:
        e = dict(os.environ)
        e.pop("HEROD_SOCK", None)
        e["TZ"] = "UTC"
        p = subprocess.Popen([HEROCTL, "-s", path] + args,
                             stdin=subprocess.DEVNULL, stdout=slave,
                             stderr=subprocess.PIPE, env=e)
        os.close(slave)
        slave = -1
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the tty
                break
            if not chunk:
                break
            out += chunk
        err = p.stderr.read().decode(errors="replace")
        rc = p.wait(TIMEOUT)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
        fake.close()
    return rc, out, err


# what a service may print to take over a terminal: OSC title + BEL,
# clear screen, a C1 CSI as UTF-8 and as a lone byte, DEL, CR
EVIL = "\x1b]0;pwned\x07\x1b[2J\u009b31m\x7fover\rwrite"
BAD_BYTES = (b"\x1b", b"\x07", b"\xc2\x9b", b"\x9b", b"\x7f", b"\r")


@test
def tty_escapes_logs():
    line = {"ts": 1700000000123, "service": "web", "action": "server",
            "job_id": 7, "restart_count": 0, "stream": "stdout",
            "line": EVIL + "\tend"}
    # json.dumps escapes ESC, BEL, DEL, CR; the store sends C1 as UTF-8
    text = json.dumps(line, ensure_ascii=False).encode() + b"\n"
    check(b"\xc2\x9b" in text, text)
    rc, out, err = run_pty(["logs", "web"], [data(text), end(0)])
    check(rc == 0, (rc, err))
    for b in BAD_BYTES:
        check(b not in out, "raw %r reached the tty: %r" % (b, out))
    check(b"\\x1b]0;pwned\\x07\\x1b[2J\\xc2\\x9b31m\\x7fover\\x0dwrite"
          b"\tend" in out, out)
    # -j to a tty: still JSON, the same characters, escaped
    rc, out, err = run_pty(["-j", "logs", "web"], [data(text), end(0)])
    check(rc == 0, (rc, err))
    for b in BAD_BYTES:
        check(b not in out, "-j: raw %r reached the tty: %r" % (b, out))
    check(json.loads(out.decode())["line"] == EVIL + "\tend", out)
    # not a terminal: the bytes as the service wrote them
    rc, out, err, _ = run(["logs", "web"], script=[data(text), end(0)])
    check(rc == 0 and EVIL.encode() + b"\tend\n" in out, out)


@test
def tty_escapes_status_and_errors():
    doc = {"services": [dict(LIST_DOC["services"][0])]}
    doc["services"][0]["reason"] = EVIL
    doc["services"][0]["actions"][0]["status"] = EVIL
    doc["services"][0]["probes"][0]["last_error"] = EVIL
    text = json.dumps(doc, ensure_ascii=False).encode()
    for args in (["status", "web"], ["list"]):
        rc, out, err = run_pty(args, [data(text), end(0, EVIL)])
        check(rc == 0, (rc, err))
        for b in BAD_BYTES:
            check(b not in out, "%s: raw %r: %r" % (args, b, out))
            check(b.decode("latin-1") not in err or b == b"\r",
                  "%s stderr: raw %r: %r" % (args, b, err))
        check(b"\\x1b]0;pwned" in out, out)
        check("\\x1b]0;pwned" in err, err)
    # events: a value with an escape, quoted or not
    ev = {"ts": 0, "event": "x", "service": "web", "note": EVIL,
          "bare": "\x1b[2J"}
    rc, out, err = run_pty(["events"], [data(json.dumps(ev) + "\n"),
                                        end(0)])
    check(rc == 0, (rc, err))
    for b in BAD_BYTES:
        check(b not in out, "events: raw %r: %r" % (b, out))
    # bad JSON is printed as received, but not raw to a terminal
    rc, out, err = run_pty(["list"], [data("\x1b[2J{oops"), end(0)])
    check(rc == 1 and b"\x1b" not in out and b"\\x1b[2J{oops" in out,
          (rc, out))


@test
def json_comments_refused():
    # comments hide brackets from a depth count: 200000 levels to yajl
    deep = '{"services":[' + "[/*]*/" * 200000 + "]" * 200000 + "]}"
    rc, out, err, _ = run(["list"], script=chunks(deep.encode(),
                                                   [32 * 1024]) + [end(0)])
    check(rc == 1 and "bad JSON" in err, (rc, err[-300:]))
    line = '{"ts":0,"event":"x"' + ',"a":' + "[//]\n" * 100000 + \
        "]" * 100000 + "}\n"
    rc, out, err, _ = run(["events"], script=chunks(line.encode(),
                                                    [32 * 1024]) + [end(0)])
    check(rc == 1 and "bad JSON" in err, (rc, err[-300:]))
    # '/' in strings is fine
    doc = {"services": [{"name": "a/*b*/", "state": "running",
                         "reason": "http://x//y", "actions": [],
                         "probes": []}]}
    rc, out, err, _ = run(["list"], script=[data(json.dumps(doc)), end(0)])
    check(rc == 0 and b"http://x//y" in out, (rc, out, err))


def main():
    global HEROCTL, TMP
    if len(sys.argv) != 2:
        print("usage: test_heroctl.py heroctl", file=sys.stderr)
        return 2
    HEROCTL = os.path.abspath(sys.argv[1])
    if not os.access(HEROCTL, os.X_OK):
        print("not executable: %s" % HEROCTL, file=sys.stderr)
        return 2
    TMP = tempfile.mkdtemp(prefix="heroctl-test.")
    passed = failed = 0
    try:
        for t in TESTS:
            try:
                t()
                passed += 1
                print("ok   %s" % t.__name__)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc(file=sys.stdout)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
