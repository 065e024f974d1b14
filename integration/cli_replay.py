#!/usr/bin/env python3
"""Replays the literal command lines that IDEs and deployment recipes give dlv, against dlv
1.20.2 and goscope side by side: the same first line (after normalising the port and the
tool's name), the same listening behaviour (a client connects and is served; `:PORT` listens
on every interface), the same error texts, and the target's streams and environment as
dlv sets them (-r, --tty, --wd, --disable-aslr, --continue), dlv's rpc log lines, and the
interactive terminal (dlv's terminal client on a pseudo-terminal).

usage: cli_replay.py GOSCOPE FIXTURE_DIR FIXTURE_SRC [--pending listener,dap] [--only REGEX]

Rows tagged with a dependency named in --pending (the shared listener of the `net` branch,
the DAP server of the `dap` branch) are run and reported but do not fail the test until the
lead removes the tag from --pending in integration/CMakeLists.txt after merging.
"""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GOSCOPE = FX = SRC = ""
TMP = ""
DLV = shutil.which("dlv") or "dlv"


# ----------------------------------------------------------------------------- helpers
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def norm(text):
    """The first line as compared: the tool's name and the port number normalised."""
    text = re.sub(r"\b(dlv|Delve|goscope|Goscope)\b", "TOOL", text)
    text = re.sub(r"(?<=:)\d{2,5}\b", "PORT", text)
    return text.rstrip()


def local_non_loopback_ipv4():
    """An address of this host that is not loopback (to check 'every interface'), or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for a in out.split():
        if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) and not a.startswith("127."):
            return a
    return None


def connect_addr(printed):
    """host, port to connect to for a printed listening address."""
    m = re.fullmatch(r"\[?(.*?)\]?:(\d+)", printed)
    host, port = m.group(1), int(m.group(2))
    if host in ("", "::", "0.0.0.0"):
        host = "127.0.0.1"
    return host, port


class RPC:
    """A minimal net/rpc/jsonrpc client (Delve's wire protocol)."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buf = b""
        self.id = 0

    def call(self, method, params):
        self.id += 1
        self.sock.sendall(json.dumps({"method": "RPCServer." + method, "params": [params],
                                      "id": self.id}).encode())
        dec = json.JSONDecoder()
        while True:
            try:
                obj, end = dec.raw_decode(self.buf.decode(errors="replace").lstrip())
                self.buf = b""
                return obj
            except ValueError:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                self.buf += chunk

    def close(self):
        self.sock.close()


def dap_initialize(host, port):
    s = socket.create_connection((host, port), timeout=30)
    body = json.dumps({"seq": 1, "type": "request", "command": "initialize",
                       "arguments": {"adapterID": "go", "clientID": "replay"}}).encode()
    s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    data = b""
    deadline = time.time() + 30
    while b"\r\n\r\n" not in data and time.time() < deadline:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < n:
        rest += s.recv(65536)
    resp = json.loads(rest[:n])
    body = json.dumps({"seq": 2, "type": "request", "command": "disconnect",
                       "arguments": {}}).encode()
    s.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(0.2)
    s.close()
    return resp


class Proc:
    """A server started with stdout/stderr (and optionally fd 3) piped."""

    def __init__(self, argv, cwd=None, fd3=False, env=None):
        self.fd3_r = None
        pass_fds = ()
        if fd3:
            r, w = os.pipe()
            os.set_inheritable(w, True)
            self.fd3_r = r

            def pre():
                os.dup2(w, 3)
            preexec = pre
            pass_fds = (w, 3)  # the child's fd 3 is the dup2 made before fds are closed
        else:
            preexec = None
        self.p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  preexec_fn=preexec, pass_fds=pass_fds, env=env)
        if fd3:
            os.close(w)
        self.closed = set()
        self.out = {self.p.stdout.fileno(): b"", self.p.stderr.fileno(): b""}
        if self.fd3_r is not None:
            self.out[self.fd3_r] = b""

    def _pump(self, timeout):
        fds = [fd for fd in self.out if fd not in self.closed]
        if not fds:
            time.sleep(timeout)
            return False
        ready, _, _ = select.select(fds, [], [], timeout)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                self.out[fd] += chunk
            else:
                self.closed.add(fd)
                return True
        return bool(ready)

    def first_line(self, fd, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            data = self.out.get(fd, b"")
            if b"\n" in data:
                return data.split(b"\n", 1)[0].decode(errors="replace")
            if fd in self.closed:
                break
            self._pump(0.2)
        data = self.out.get(fd, b"")
        return data.decode(errors="replace").split("\n", 1)[0] if data else None

    def text(self, fd):
        return self.out.get(fd, b"").decode(errors="replace")

    def finish(self, timeout=30):
        deadline = time.time() + timeout
        while self.p.poll() is None and time.time() < deadline:
            self._pump(0.2)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
            return False
        while len(self.closed) < len(self.out) and self._pump(0.1):
            pass
        return True

    def stdout_fd(self):
        return self.p.stdout.fileno()

    def stderr_fd(self):
        return self.p.stderr.fileno()


def run_quick(argv, cwd=None, env=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=env)


def readlink(path):
    try:
        return os.readlink(path)
    except OSError as e:
        return f"<{e.strerror}>"


# ----------------------------------------------------------------------------- the rows
# A row: name, argv after the tool (placeholders {BIN} {TICKER} {PID} {P} {OUT} {TMP}
# {DIR} {TTY}), what kind of server it starts, and what else to check.
def rows():
    r = []

    def add(name, args, kind="rpc", depends=None, cwd=None, check=None, fd3=False,
            first="stdout", target="basic"):
        r.append(dict(name=name, args=args, kind=kind, depends=depends, cwd=cwd, check=check,
                      fd3=fd3, first=first, target=target))

    # GoLand (Run | Debug of a Go build configuration, and Attach to Process).
    add("GoLand exec (global flags before the verb, `--` without args)",
        "--listen=127.0.0.1:{P} --headless=true --api-version=2 --check-go-version=false "
        "--only-same-user=false exec {BIN} --")
    add("GoLand exec, localhost (resolved to 127.0.0.1 in the first line)",
        "--listen=localhost:{P} --headless=true --api-version=2 --check-go-version=false "
        "--only-same-user=false exec {BIN} --", depends="listener")
    add("GoLand exec with program arguments",
        "--listen=127.0.0.1:{P} --headless=true --api-version=2 --check-go-version=false "
        "--only-same-user=false exec {BIN} -- 1 2")
    add("GoLand attach",
        "--listen=127.0.0.1:{P} --headless=true --api-version=2 --check-go-version=false "
        "--only-same-user=false attach {PID}", target="attach")
    add("global flag before the verb, --listen after the binary",
        "--headless exec {BIN} --listen=127.0.0.1:0")
    # VS Code Go, legacy adapter (debugAdapter: legacy): dlv's headless server.
    add("VS Code Go legacy exec",
        "exec {BIN} --headless=true --listen=127.0.0.1:{P} --api-version=2 --wd={DIR} -- a b",
        check="wd")
    add("VS Code Go legacy debug",
        "debug --headless=true --listen=127.0.0.1:{P} --api-version=2 --log=true "
        "--log-output=rpc --output={OUT}", cwd="{SRCBASIC}", check="rpclog")
    add("VS Code Go legacy test",
        "test --headless=true --listen=127.0.0.1:{P} --api-version=2 --output={OUT} -- "
        "-test.run TestAdd", cwd="{SRCTEST}")
    # VS Code Go, dlv-dap adapter (the default): `dap` with the line on fd 3.
    add("VS Code Go dap (--log-dest=3)",
        "dap --listen=127.0.0.1:{P} --log-dest=3", kind="dap", depends="dap", fd3=True,
        first="fd3")
    add("VS Code Go dap with logging",
        "dap --log=true --log-output=dap --listen=127.0.0.1:{P} --log-dest=3", kind="dap",
        depends="dap", fd3=True, first="fd3")
    # nvim-dap-go, vimspector, Emacs dap-mode (dap-dlv-go).
    add("nvim-dap-go", "dap -l 127.0.0.1:{P}", kind="dap", depends="dap")
    add("vimspector", "dap --listen 127.0.0.1:{P}", kind="dap", depends="dap")
    add("Emacs dap-mode", "dap --listen=127.0.0.1:{P}", kind="dap", depends="dap")
    # Docker / Kubernetes remote-debugging recipes.
    add("container: exec /app on :PORT, multiclient",
        "exec {BIN} --headless --listen=:{P} --api-version=2 --accept-multiclient",
        depends="listener", check="every_interface")
    add("container: global flags first, exec /app",
        "--listen=:{P} --headless=true --api-version=2 --accept-multiclient exec {BIN}",
        depends="listener", check="every_interface")
    add("container: debug on :PORT with --log",
        "debug --headless --listen=:{P} --api-version=2 --log", cwd="{SRCBASIC}",
        depends="listener", check="every_interface")
    add("container: 0.0.0.0 with --continue",
        "exec {TICKER} --headless --listen=0.0.0.0:{P} --api-version=2 --accept-multiclient "
        "--continue -- 100000", depends="listener", check="running")
    add("kubectl: attach on :PORT",
        "attach {PID} --headless --listen=:{P} --api-version=2 --accept-multiclient",
        depends="listener", target="attach", check="every_interface")
    # The target's streams and environment.
    add("-r stdout:FILE", "exec {BIN} --headless --listen=127.0.0.1:{P} -r stdout:{TMP}/out",
        check="stdout_file")
    add("--redirect FILE (stdin)",
        "exec {BIN} --headless --listen=127.0.0.1:{P} --redirect {TMP}/in", check="stdin_file")
    add("--tty", "exec {TICKER} --headless --accept-multiclient --listen=127.0.0.1:{P} "
        "--tty {TTY} -- 100000",
        check="tty", first="none")
    add("--disable-aslr", "exec {BIN} --headless --listen=127.0.0.1:{P} --disable-aslr",
        check="aslr")
    add("--continue --accept-multiclient",
        "exec {TICKER} --headless --listen=127.0.0.1:{P} --accept-multiclient --continue -- "
        "100000", check="running")
    add("--log-dest FILE takes the first line",
        "exec {BIN} --headless --listen=127.0.0.1:{P} --log --log-dest={TMP}/log",
        first="logfile")
    return r


ERROR_ROWS = [
    # (name, argv after the tool): the first line of stderr must be dlv's.
    ("unknown flag", "exec {BIN} --headless --foo"),
    ("unknown shorthand", "exec {BIN} --headless -x"),
    ("bad bool", "exec {BIN} --headless=maybe"),
    ("bad int", "exec {BIN} --headless --api-version=x"),
    ("missing value", "exec {BIN} --headless --listen"),
    ("unknown command", "foo"),
    ("unknown command, suggestion", "exce"),
    ("unknown flag before the verb eats the verb", "--foo exec {BIN}"),
    ("exec without a binary", "exec"),
    ("attach without a pid", "attach"),
    ("connect without an address", "connect"),
    ("core without files", "core"),
    ("test --continue (exec/debug/attach only)", "test --continue"),
    ("--continue without multiclient", "exec {BIN} --headless --continue"),
    ("--continue without --headless", "exec {BIN} --continue --accept-multiclient"),
    ("-r with --tty", "exec {BIN} --tty /dev/null -r foo --headless"),
    ("stdin redirected twice", "exec {BIN} -r stdin:a -r b --headless"),
    ("--log-output without --log", "exec {BIN} --headless --log-output=rpc"),
    ("bad --log-dest", "exec {BIN} --headless --log --log-dest=/nonexistent/x"),
    ("not a terminal", "exec {BIN}"),
    ("invalid pid", "attach abc --headless"),
    ("api version 3", "exec {BIN} --headless --api-version=3"),
    ("help of an unknown topic", "help foo"),
    ("--version (not a dlv flag)", "--bogus"),
]

HELP_ROWS = [
    "--help", "help", "exec --help", "debug --help", "test --help", "attach --help",
    "connect --help", "dap --help", "core --help", "trace --help", "version --help",
    "help exec", "help test", "help log", "help redirect", "exec -h", "version", "run",
]


def expand(args, ctx):
    out = []
    for word in args.split():
        for k, v in ctx.items():
            word = word.replace("{" + k + "}", str(v))
        out.append(word)
    return out


# ----------------------------------------------------------------------------- checks
def run_server_row(tool, row, ctx):
    """Starts one server; returns (first line, notes dict) or raises AssertionError."""
    port = free_port()
    c = dict(ctx, P=port)
    argv = [tool] + expand(row["args"], c)
    cwd = row["cwd"].format(**ctx) if row["cwd"] else None
    ticker = None
    if row["target"] == "attach":
        ticker = subprocess.Popen([os.path.join(FX, "ticker"), "100000"],
                                  stdout=subprocess.DEVNULL)
        c["PID"] = ticker.pid
        argv = [tool] + expand(row["args"], c)
    if row["check"] == "tty":
        master, slave = pty.openpty()
        c["TTY"] = os.ttyname(slave)
        argv = [tool] + expand(row["args"], c)
    for f in ("out", "log"):
        try:
            os.unlink(os.path.join(TMP, f))
        except FileNotFoundError:
            pass
    with open(os.path.join(TMP, "in"), "w") as f:
        f.write("input\n")
    proc = Proc(argv, cwd=cwd, fd3=row["fd3"])
    notes = {}
    try:
        if row["first"] == "fd3":
            line = proc.first_line(proc.fd3_r)
        elif row["first"] == "logfile":
            deadline = time.time() + 60
            line = None
            while time.time() < deadline and line is None:
                try:
                    with open(os.path.join(TMP, "log")) as f:
                        data = f.read()
                    if "\n" in data:
                        line = data.split("\n", 1)[0]
                except FileNotFoundError:
                    pass
                proc._pump(0.2)
            notes["stdout"] = proc.text(proc.stdout_fd())
        elif row["first"] == "none":
            # dlv prints no listening line with --tty (its Foreground is false): the port
            # is given, wait until it accepts.
            line = f"API server listening at: 127.0.0.1:{port}"
            deadline = time.time() + 60
            while time.time() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.3)
        else:
            line = proc.first_line(proc.stdout_fd())
        if not line or "listening at:" not in line:
            raise AssertionError(f"no listening line: {line!r}; stderr "
                                 f"{proc.text(proc.stderr_fd())[-600:]!r}")
        printed = line.split("listening at: ", 1)[1].strip()
        host, p = connect_addr(printed)
        notes["printed"] = printed
        if row["check"] == "every_interface":
            # The (only) client connects through another interface than loopback.
            other = local_non_loopback_ipv4()
            if other:
                host = other
                notes["every_interface"] = f"connected via {other}"
        if row["kind"] == "dap":
            resp = dap_initialize(host, p)
            if not resp.get("success"):
                raise AssertionError(f"DAP initialize failed: {resp}")
        else:
            cl = RPC(host, p)
            cl.call("SetApiVersion", {"APIVersion": 2})
            st = cl.call("State", {"NonBlocking": True})
            if st.get("error"):
                raise AssertionError(f"State: {st['error']}")
            pid = st["result"]["State"]["Pid"]
            chk = row["check"]
            if chk == "wd":
                notes["cwd"] = readlink(f"/proc/{pid}/cwd")
                if notes["cwd"] != ctx["DIR"]:
                    raise AssertionError(f"--wd: cwd {notes['cwd']}")
            elif chk == "aslr":
                with open(f"/proc/{pid}/personality") as f:
                    pers = int(f.read(), 16)
                notes["aslr"] = bool(pers & 0x0040000)
                if not notes["aslr"]:
                    raise AssertionError(f"personality {pers:#x}: ADDR_NO_RANDOMIZE not set")
            elif chk == "stdin_file":
                notes["fd0"] = readlink(f"/proc/{pid}/fd/0")
                if notes["fd0"] != os.path.join(TMP, "in"):
                    raise AssertionError(f"stdin is {notes['fd0']}")
            elif chk == "tty":
                notes["fd0"] = readlink(f"/proc/{pid}/fd/0")
                notes["fd1"] = readlink(f"/proc/{pid}/fd/1")
                if notes["fd0"] != c["TTY"] or notes["fd1"] != c["TTY"]:
                    raise AssertionError(f"stdio {notes['fd0']} {notes['fd1']} not {c['TTY']}")
            elif chk == "running":
                # dlv's own client sends the continue after the server started: poll.
                deadline = time.time() + 20
                while not st["result"]["State"].get("Running") and time.time() < deadline:
                    time.sleep(0.2)
                    st = cl.call("State", {"NonBlocking": True})
                notes["running"] = st["result"]["State"].get("Running")
                if not notes["running"]:
                    raise AssertionError(f"--continue: the target is not running: {st}")
                cl.call("Command", {"name": "halt"})
            elif chk == "stdout_file":
                res = cl.call("Command", {"name": "continue"})
                st2 = res.get("result") or {}
                if not (st2.get("State") or {}).get("exited") and "exited" not in str(res):
                    raise AssertionError(f"continue: {res}")
                with open(os.path.join(TMP, "out")) as f:
                    notes["stdout_file"] = f.read()
                if not notes["stdout_file"]:
                    raise AssertionError("the program's stdout did not reach the file")
                if proc.text(proc.stdout_fd()).count("\n") > 1:
                    raise AssertionError("the program's stdout reached the server's stdout")
            try:
                cl.call("Detach", {"Kill": True})
            except (ConnectionError, OSError):
                pass
            cl.close()
        if not proc.finish(30):
            raise AssertionError("the server did not exit after Detach")
        # Nothing is logged where dlv logs nothing: without --log both stay silent on stderr.
        if "--log" not in row["args"]:
            # (dlv's --continue client disconnects before its answer: dlv logs that error.)
            lines = proc.text(proc.stderr_fd()).splitlines()
            # goscope's one line beyond dlv's warning names the address actually bound: it
            # must be the listening line's address, and it is the only extra line.
            ours = [l for l in lines if l.startswith("WARNING: goscope is listening on ")]
            for l in ours:
                bound = l.split("listening on ", 1)[1].split(": anyone")[0]
                if line is None or bound not in line:
                    raise AssertionError(f"the warning names {l!r}, the server said {line!r}")
            notes["stderr"] = [l for l in lines
                               if "warning layer=rpc Listening for remote" not in l
                               and "error layer=rpc writing response:" not in l
                               and l not in ours]
        if row["check"] == "rpclog":
            err = proc.text(proc.stderr_fd())
            shapes = []
            for l in err.splitlines():
                m = re.match(r"\S+ debug layer=rpc (\(async \d+\) )?(<-|->) ([\w.*]+)[({]", l)
                if m:
                    shapes.append(f"{m.group(1) or ''}{m.group(2)} {m.group(3)}")
            notes["rpclog"] = shapes
            if len(shapes) < 6:
                raise AssertionError(f"rpc log: {err[-800:]!r}")
        return norm(line), notes
    finally:
        if proc.p.poll() is None:
            proc.p.kill()
            proc.p.wait()
        if ticker:
            ticker.kill()
            ticker.wait()
        if row["check"] == "tty":
            os.close(master)
            os.close(slave)


def interactive(tool, verb_args, cwd=None):
    """`TOOL VERB ...` on a pseudo-terminal: dlv's terminal client, break, continue, exit."""
    pid, fd = pty.fork()
    if pid == 0:
        if cwd:
            os.chdir(cwd)
        os.execvp(tool, [tool] + verb_args)
    out = b""

    def expect(pattern, timeout=60):
        nonlocal out
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, out):
                return True
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return bool(re.search(pattern, out))
                if not chunk:
                    break
                out += chunk
        return bool(re.search(pattern, out))

    ok = expect(rb"\(dlv\) ")
    if ok and "--init" not in verb_args:
        os.write(fd, b"break main.add\n")
    ok = ok and expect(rb"Breakpoint 1 set at")  # typed, or from the --init file
    if ok:
        os.write(fd, b"continue\n")
        ok = expect(rb"main\.add\(\)")
    exited = False
    if ok:
        os.write(fd, b"exit\n")
        # The terminal closes when the tool has exited (and the server and program with it).
        deadline = time.time() + 60
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if not r:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                exited = True
                break
            out += chunk
            if re.search(rb"kill the process\? \[Y/n\]", out[-200:]):
                os.write(fd, b"y\n")
    if not exited:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    ok = ok and exited and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return ok, out.decode(errors="replace")


# ----------------------------------------------------------------------------- main
def main():
    global GOSCOPE, FX, SRC, TMP
    args = sys.argv[1:]
    pending, only = set(), None
    if "--pending" in args:
        i = args.index("--pending")
        pending = set(filter(None, args[i + 1].split(",")))
        del args[i:i + 2]
    if "--only" in args:
        i = args.index("--only")
        only = re.compile(args[i + 1])
        del args[i:i + 2]
    GOSCOPE, FX, SRC = (os.path.abspath(a) for a in args[:3])
    if not shutil.which(DLV):
        print("dlv is not installed: the replay needs it")
        return 77
    TMP = tempfile.mkdtemp(prefix="cli_replay.")
    src = os.path.join(TMP, "src")
    shutil.copytree(SRC, src)
    ctx = dict(BIN=os.path.join(FX, "basic"), TICKER=os.path.join(FX, "ticker"), TMP=TMP,
               DIR=TMP, OUT=os.path.join(TMP, "built"), SRCBASIC=os.path.join(src, "basic"),
               SRCTEST=os.path.join(src, "testpkg"), PID=0, TTY="/dev/null")
    failures, waived, passed = [], [], 0

    def fail(row_name, depends, msg):
        if depends and depends in pending:
            waived.append(f"[{depends}] {row_name}: {msg}")
        else:
            failures.append(f"{row_name}: {msg}")

    def want(name):
        return only is None or only.search(name)

    for row in rows():
        if not want(row["name"]):
            continue
        results = {}
        for tool in (DLV, GOSCOPE):
            try:
                results[tool] = run_server_row(tool, row, ctx)
            except Exception as e:  # noqa: BLE001 - reported per row
                results[tool] = (None, str(e))
        d, g = results[DLV], results[GOSCOPE]
        if d[0] is None:
            failures.append(f"{row['name']}: dlv itself failed (the row is wrong): {d[1]}")
            continue
        if g[0] is None:
            fail(row["name"], row["depends"], f"goscope: {g[1]}")
            continue
        if d[0] != g[0]:
            fail(row["name"], row["depends"], f"first line {g[0]!r}, dlv {d[0]!r}")
            continue
        for key in ("stdout_file", "rpclog", "aslr", "fd0", "cwd", "running", "stderr"):
            if key in d[1] and d[1][key] != g[1].get(key):
                fail(row["name"], row["depends"],
                     f"{key}: goscope {g[1].get(key)!r}, dlv {d[1][key]!r}")
                break
        else:
            if row["first"] == "logfile" and g[1].get("stdout"):
                fail(row["name"], row["depends"], f"stdout not empty: {g[1]['stdout']!r}")
            else:
                passed += 1
                print(f"ok   {row['name']}: {g[0]}")

    for name, line in ERROR_ROWS:
        if not want(name):
            continue
        d = run_quick([DLV] + expand(line, ctx))
        g = run_quick([GOSCOPE] + expand(line, ctx))
        first = lambda r: norm((r.stderr.strip() or r.stdout.strip()).split("\n", 1)[0])
        if first(d) != first(g):
            failures.append(f"{name}: goscope {first(g)!r}, dlv {first(d)!r}")
        elif "Usage:" in d.stderr and norm(d.stderr.split("Usage:")[1].split("\n")[1]) != \
                norm(g.stderr.split("Usage:")[1].split("\n")[1] if "Usage:" in g.stderr else ""):
            failures.append(f"{name}: usage line differs: {g.stderr[:300]!r}")
        elif g.returncode == 0:
            failures.append(f"{name}: goscope exited 0")
        else:
            passed += 1
            print(f"ok   {name}: {first(g)}")

    for line in HELP_ROWS:
        if not want(line):
            continue
        d = run_quick([DLV] + line.split())
        g = run_quick([GOSCOPE] + line.split())
        dl, gl = norm(d.stdout.split("\n", 1)[0]), norm(g.stdout.split("\n", 1)[0])
        # The usage line names the same verb and arguments.
        du = re.findall(r"Usage:\n  (.*)", d.stdout)
        gu = re.findall(r"Usage:\n  (.*)", g.stdout)
        if g.returncode != 0:
            failures.append(f"{line}: goscope exited {g.returncode}: {g.stderr[:200]!r}")
        elif line not in ("--help", "help", "core --help") and dl != gl:
            failures.append(f"{line}: first line {gl!r}, dlv {dl!r}")
        elif [norm(u) for u in du] != [norm(u) for u in gu]:
            failures.append(f"{line}: usage {gu!r}, dlv {du!r}")
        else:
            passed += 1
            print(f"ok   {line}: {gl}")

    if want("interactive"):
        # The terminal client on a pseudo-terminal, as a user runs `goscope exec BIN`.
        init = os.path.join(TMP, "init")
        with open(init, "w") as f:
            f.write("break main.add\n")
        for label, verb_args, cwd in (
                ("exec", ["exec", ctx["BIN"]], None),
                ("exec --init", ["exec", ctx["BIN"], "--init", init], None),
                ("debug", ["debug", "--output", ctx["OUT"]], ctx["SRCBASIC"])):
            okd, outd = interactive(DLV, verb_args, cwd)
            okg, outg = interactive(GOSCOPE, verb_args, cwd)
            if not okd:
                failures.append(f"interactive {label}: dlv itself did not get there: "
                                f"{outd[-500:]!r}")
            elif not okg:
                failures.append(f"interactive {label}: goscope: {outg[-800:]!r}")
            else:
                passed += 1
                print(f"ok   interactive {label}: prompt, break, continue, exit")
        # No dlv on PATH: one line that says what to install.
        env = {"PATH": "/nonexistent", "HOME": os.environ.get("HOME", "/")}
        r = run_quick([GOSCOPE, "exec", ctx["BIN"], "--allow-non-terminal-interactive=true"],
                      env=env)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        if r.returncode == 0 or len(lines) != 1 or "install Delve" not in lines[0]:
            failures.append(f"no dlv on PATH: rc={r.returncode} {r.stderr!r}")
        else:
            passed += 1
            print(f"ok   no dlv on PATH: {lines[0][:80]}...")

    # `dlv connect` (and `goscope connect`, which runs it) against a goscope server.
    if want("connect"):
        port = free_port()
        srv = Proc([GOSCOPE, "exec", ctx["BIN"], "--headless", f"--listen=127.0.0.1:{port}"])
        line = srv.first_line(srv.stdout_fd())
        okc = False
        if line and "listening at" in line:
            for tool in (DLV, GOSCOPE):
                r = subprocess.run([tool, "connect", f"127.0.0.1:{port}"], input="exit\n",
                                   capture_output=True, text=True, timeout=60)
                okc = r.returncode == 0
                if not okc:
                    failures.append(f"{tool} connect: rc={r.returncode} {r.stdout[-300:]!r} "
                                    f"{r.stderr[-300:]!r}")
                break  # `exit` ends a single-client server: one client per server
        if not srv.finish(30):
            failures.append("connect: the server did not exit after the client's exit")
        elif okc:
            passed += 1
            print("ok   dlv connect to a goscope server, exit")
        port = free_port()
        srv = Proc([GOSCOPE, "exec", ctx["BIN"], "--headless", f"--listen=127.0.0.1:{port}"])
        srv.first_line(srv.stdout_fd())
        r = subprocess.run([GOSCOPE, "connect", f"127.0.0.1:{port}"], input="exit\n",
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or not srv.finish(30):
            failures.append(f"goscope connect: rc={r.returncode} {r.stderr[-300:]!r}")
        else:
            passed += 1
            print("ok   goscope connect (runs dlv connect), exit")

    shutil.rmtree(TMP, ignore_errors=True)
    for w in waived:
        print(f"PENDING {w}")
    for f in failures:
        print(f"FAIL {f}")
    print(f"{passed} rows passed, {len(failures)} failed, {len(waived)} pending on "
          f"{','.join(sorted(pending)) or 'nothing'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
