#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives qmp-test-server with nothing but Python's standard library, as an
independent client: greeting, negotiation, errors, descriptors passed with
socket.send_fds() and in the style of QEMU's iotests (a lone space carrying
the fd), split and merged input, introspection. Exit 77 (skip) without
socket.send_fds (Python < 3.9)."""

import array
import json
import os
import socket
import subprocess
import sys
import tempfile

if not hasattr(socket, "send_fds"):
    print("socket.send_fds missing: skipped")
    sys.exit(77)


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        line.decode("ascii")  # output is ASCII only
        return json.loads(line)

    def send(self, text, fds=()):
        data = text.encode() if isinstance(text, str) else text
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)

    def cmd(self, name, fds=(), **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = {k.replace("_", "-"): v for k, v in args.items()}
        self.send(json.dumps(msg), fds)
        return self.line()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def error(reply):
    check("error" in reply, "expected an error, got %r" % reply)
    return reply["error"]["class"], reply["error"]["desc"]


def main():
    server_exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen([server_exe, path], stdout=subprocess.PIPE)
        try:
            check(proc.stdout.readline().strip() == b"READY", "server did not start")
            run(path, tmp)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait(timeout=10)
        check(rc == 0, "server exited with %d" % rc)
    print("ok")


def run(path, tmp):
    c = Client(path)
    idle = Client(path)  # a second monitor that stays idle
    g = c.line()
    check(g == {"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7},
                                    "package": "qmp-test-server"},
                        "capabilities": ["oob"]}}, "greeting %r" % g)
    check(error(c.cmd("query-version")) ==
          ("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'"),
          "negotiation required")
    check(c.cmd("qmp_capabilities") == {"return": {}}, "negotiation")

    r = c.cmd("query-version")
    check(r["return"]["qemu"] == {"major": 7, "minor": 2, "micro": 0}, "query-version %r" % r)

    # getfd / closefd with a descriptor sent along with the command.
    fname = os.path.join(tmp, "image0")
    with open(fname, "w") as f:
        f.write("x")
    with open(fname, "r") as f:
        check(c.cmd("getfd", fds=[f.fileno()], fdname="image0:r") == {"return": {}}, "getfd")
    check(error(c.cmd("getfd", fdname="0image0:r")) ==
          ("GenericError", "No file descriptor supplied via SCM_RIGHTS"), "getfd without fd")
    with open(fname, "r") as f:
        check(error(c.cmd("getfd", fds=[f.fileno()], fdname="0image0:r")) ==
              ("GenericError", "Parameter 'fdname' expects a name not starting with a digit"),
              "digit name")
    check(c.cmd("closefd", fdname="image0:r") == {"return": {}}, "closefd")
    check(error(c.cmd("closefd", fdname="image0:r")) ==
          ("GenericError", "File descriptor named 'image0:r' not found"), "closefd twice")

    # QEMU iotest style: the fd travels with a lone space, then the command.
    with open(fname, "r") as f:
        c.sock.sendmsg([b" "], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                 array.array("i", [f.fileno()]))])
    r = c.cmd("add-fd", fdset_id=3, opaque="image0:r")
    check(r["return"]["fdset-id"] == 3, "add-fd %r" % r)
    fd = r["return"]["fd"]
    r = c.cmd("query-fdsets")
    check(r == {"return": [{"fdset-id": 3, "fds": [{"fd": fd, "opaque": "image0:r"}]}]},
          "query-fdsets %r" % r)
    check(error(c.cmd("remove-fd", fdset_id=3, fd=999)) ==
          ("GenericError", "File descriptor named 'fdset-id:3, fd:999' not found"), "remove-fd")
    check(c.cmd("remove-fd", fdset_id=3) == {"return": {}}, "remove-fd set")
    check(c.cmd("query-fdsets") == {"return": []}, "no set left")

    # Several descriptors with one message: all arrive, unused ones closed.
    with open(fname, "r") as a, open(fname, "r") as b:
        check(c.cmd("test-fd-count", fds=[a.fileno(), b.fileno()]) == {"return": 2}, "2 fds")

    # Split and merged input.
    c.send('{"execute": "query-')
    c.send('version", "id"')
    c.send(': "split"}')
    check(c.line()["id"] == "split", "split input")
    c.send('{"execute": "query-version", "id": 1}{"execute": "query-version", "id": 2}\n')
    check((c.line()["id"], c.line()["id"]) == (1, 2), "merged input")
    c.send('{"execute": ]')
    check(error(c.line()) == ("GenericError", "JSON parse error, expecting value"), "parse error")

    # Introspection lists our command with its argument.
    schema = c.cmd("query-qmp-schema")["return"]
    by_name = {e["name"]: e for e in schema}
    getfd = by_name["getfd"]
    check(getfd["meta-type"] == "command", "getfd is a command")
    members = by_name[getfd["arg-type"]]["members"]
    check(members == [{"name": "fdname", "type": "str"}], "getfd arguments %r" % members)
    names = {e["name"] for e in c.cmd("query-commands")["return"]}
    check({"qmp_capabilities", "getfd", "add-fd", "test-quit"} <= names, "query-commands")

    idle.line()  # its greeting; it never negotiated
    idle.sock.close()
    check(c.cmd("test-quit") == {"return": {}}, "quit")
    c.sock.close()


if __name__ == "__main__":
    main()
