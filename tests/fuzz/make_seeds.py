#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/ (run from anywhere).

The seeds are small valid and almost-valid inputs of each harness's
format; libFuzzer mutates them.  Files already there are rewritten,
others are left alone.
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- config: the service files of tests/config, and sets of them ---
cfg = os.path.join(TOP, "tests", "config")
for kind in ("valid", "invalid"):
    for case in sorted(os.listdir(os.path.join(cfg, kind))):
        cdir = os.path.join(cfg, kind, case)
        for fn in sorted(os.listdir(cdir)):
            if fn.endswith(".json") and os.path.isfile(os.path.join(cdir, fn)):
                with open(os.path.join(cdir, fn), "rb") as f:
                    put("config", "%s-%s-%s" % (kind, case, fn), f.read())
SEP = "\n\f\n"
put("config", "set-cycle", SEP.join([
    '{"name":"a","after":["b"],"actions":[{"name":"x","exec":["/bin/true"]}]}',
    '{"name":"b","after":["a"],"actions":[{"name":"x","exec":["/bin/true"]}]}',
]))
put("config", "set-claims", SEP.join([
    '{"name":"a","actions":[{"name":"x","exec":["/bin/a"],'
    '"sockets":["/tmp/s.sock"],"tcp_ports":[80]}]}',
    '{"name":"b","actions":[{"name":"y","exec":["/bin/b"],'
    '"sockets":["/tmp/s.sock"],"tcp_ports":[80,81]}]}',
    '{"name":"c","after":["zz"],"actions":[{"name":"z",'
    '"exec":["$HERO_SOCKET_DIR/${HERO_SERVICE}.${HERO_ACTION}"]}]}',
]))


# --- msg: [limit][ctl u8][len u16][bytes]... ---
def hdr(mtype, length, peerid=0, pid=0, flags=0):
    return struct.pack("=IIIiI", mtype, length, peerid, pid, flags)


def chunks(limit, parts):
    out = bytes([limit])
    for ctl, b in parts:
        out += bytes([ctl]) + struct.pack("<H", len(b)) + b
    return out


m1 = hdr(40, 5, 1, 100) + b"hello"
m2 = hdr(41, 0)
put("msg", "two-messages", chunks(4, [(0, m1 + m2)]))
put("msg", "split", chunks(4, [(0, m1[:3]), (0, m1[3:22]), (0, m1[22:])]))
put("msg", "with-fd", chunks(4, [(1, hdr(26, 4, flags=1) + b"abcd"),
                                 (0, m2)]))
put("msg", "fd-unclaimed", chunks(4, [(1, m2), (0, m2)]))
put("msg", "too-long", chunks(1, [(0, hdr(1, 17) + b"x" * 17)]))
put("msg", "bad-flags", chunks(5, [(0, hdr(1, 0, flags=2))]))
put("msg", "big", chunks(6, [(0, hdr(2, 3000) + b"y" * 3000)]))

# --- http: one response each ---
HTTP = {
    "ok-clen": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    "http10": "HTTP/1.0 301 Moved\nLocation: /x\n\nbody",
    "no-body": "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    "both-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "keepalive10": "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                   "Content-Length: 0\r\n\r\n",
    "bad-status": "HTTP/1.1 20x OK\r\n\r\n",
    "chunk-body": "a\r\n0123456789\r\n0\r\n\r\n",
}
for k, v in HTTP.items():
    put("http", k, v)

# --- json_depth: documents, with comments ---
JSON = {
    "object": '{"jsonrpc":"2.0","id":1,"result":{"a":[1,2,{"b":null}]}}',
    "comment-block": '/* [ { */ {"id":1, "result":[]} // ]]\n',
    "string-brackets": '{"s":"[[[{{{\\"]]]", "t":[[[]]]}',
    "deep": "[" * 33 + "]" * 33,
    "at-bound": "[" * 32 + "]" * 32,
}
for k, v in JSON.items():
    put("json_depth", k, v)


# --- probe: [kind][piece][id] reply ---
def probe(kind, piece, rid, reply):
    return bytes([kind, piece, rid]) + reply.encode()


put("probe", "http-ok", probe(0, 0, 0, HTTP["ok-clen"]))
put("probe", "http-keep-clen", probe(1, 7, 0, HTTP["ok-clen"]))
put("probe", "http-keep-chunked", probe(1, 3, 0, HTTP["chunked"]))
put("probe", "http-keep-trailing", probe(1, 0, 0, HTTP["ok-clen"] + "HTTP"))
put("probe", "http-500", probe(0, 0, 0, "HTTP/1.1 500 Oops\r\n\r\n"))
RPC = '{"jsonrpc":"2.0","id":9,"result":true}'
put("probe", "rpc-line", probe(2, 5, 9, RPC + "\n"))
put("probe", "rpc-line-error", probe(2, 0, 9,
                                     '{"id":9,"error":{"message":"no"}}\n'))
put("probe", "rpc-http", probe(3, 0, 9,
                               "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                               % (len(RPC), RPC)))
put("probe", "rpc-http-keep-chunked", probe(7, 11, 9,
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
    % (len(RPC), RPC)))
put("probe", "rpc-http-eof", probe(3, 0, 9, "HTTP/1.0 200 OK\r\n\r\n" + RPC))

# --- notify: one datagram each ---
NOTIFY = {
    "ready": "READY=1",
    "status": "STATUS=Loading \x1b[31mred\x1b[0m\nREADY=1\n",
    "errno": "ERRNO=2\nSTATUS=failed",
    "extend": "EXTEND_TIMEOUT_USEC=5000000",
    "watchdog": "WATCHDOG=1\nWATCHDOG=trigger\nSTOPPING=1",
    "other": "MAINPID=42\nBARRIER=1\nFDSTORE=1\nX\n=\nREADY=0",
}
for k, v in NOTIFY.items():
    put("notify", k, v)

# --- heroctl: [cmd][flags] reply (cmd: CTL_LIST + byte % 11; in lines
# mode, flags bit 1, byte 0 bit 0 picks logs (1) or events (0)) ---
CMD = {"list": 0, "status": 1, "start": 2, "reset": 5, "reload": 6,
       "logs": 7, "events": 8, "shutdown": 9, "version": 10,
       "logs1": 1, "events0": 0}  # lines mode: bit 0 of byte 0
LIST = {"services": [
    {"name": "web", "state": "running", "reason": "", "logs_dropped": 0,
     "actions": [{"name": "server", "state": "running", "pid": 4242,
                  "job_id": 7, "restart_count": 2, "uptime_ms": 192000,
                  "status": "ok", "ready": True, "kind": "process"}],
     "probes": [{"name": "health", "ok": False, "consecutive_failures": 3,
                 "last_error": "empty\x1breply"}]},
    {"name": "idle", "state": "stopped", "reason": "a\tb", "actions": [],
     "probes": []}]}


def ctl(cmd, flags, body):
    return bytes([CMD[cmd], flags]) + body.encode()


put("heroctl", "list", ctl("list", 0, json.dumps(LIST)))
put("heroctl", "status", ctl("status", 0, json.dumps(LIST)))
put("heroctl", "list-json", ctl("list", 1, json.dumps(LIST)))
put("heroctl", "results", ctl("start", 0, json.dumps({"results": [
    {"name": "web", "state": "running", "reason": ""},
    {"name": "db", "state": "failed", "reason": "exec: No such file"}]})))
put("heroctl", "reload", ctl("reload", 0, json.dumps({
    "added": ["x"], "removed": [], "changed": ["web"], "unchanged": ["z"]})))
put("heroctl", "reset", ctl("reset", 0, json.dumps({
    "restarted": ["a"], "left_alone": [{"name": "b", "state": "running"}]})))
put("heroctl", "version", ctl("version", 0,
                              '{"version":"9.9.9","protocol":1}'))
put("heroctl", "shutdown", ctl("shutdown", 0, '{}'))
put("heroctl", "logs", ctl("logs1", 2, "".join(json.dumps(x) + "\n" for x in [
    {"ts": 1700000000123, "service": "web", "action": "server",
     "job_id": 7, "restart_count": 0, "stream": "stdout",
     "line": "hello \\u00ff"},
    {"ts": 1700000001004, "action": "server", "restart_count": 1,
     "stream": "stderr", "line": "tab\there"}])))
put("heroctl", "events", ctl("events0", 2, "".join(json.dumps(x) + "\n"
                                                   for x in [
    {"ts": 1700000000000, "event": "state", "service": "web",
     "action": "server", "state": "running", "reason": ""},
    {"ts": 1700000000500, "event": "probe_failed", "service": "web",
     "probe": "health", "error": "empty reply", "consecutive": 3,
     "x": [1, {"y": None}], "t": True}]) + "nope\r\n"))
put("heroctl", "bad", ctl("list", 0, '{"services":3}'))
