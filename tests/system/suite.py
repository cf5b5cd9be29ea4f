"""suite.py: start a private jiesu suite for tests and benchmarks.

A private redis-server on a free port (data in a temporary directory, AOF
optional), every service on free ports through JIESU_* environment
variables, and helpers that talk to them as an outside client would: a
DEALER to intake, a SUB on the bus, and a tiny RESP client for Redis (Debian's
python3-redis is not needed). Everything started here is stopped by stop(),
even after a failure."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("JIESU_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
BIN = BUILD / "bin"
sys.path.insert(0, str(BUILD / "py"))

import zmq  # noqa: E402
from jiesu.v1 import envelope_pb2, types_pb2  # noqa: E402,F401

SERVICES = ("bus", "deadline-timer", "dispatcher", "classifier", "intake")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, every=0.05, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Resp:
    """A minimal Redis client: enough for tests (commands, replies, errors)."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError(f"bad RESP {line!r}")

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        r = self._reply()
        if isinstance(r, RedisError):
            raise r
        return r


class RedisError(Exception):
    pass


class Redis:
    """A private redis-server on a free port; restartable on the same port."""

    def __init__(self, root, aof=True):
        self.port = free_port()
        self.dir = Path(root) / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.aof = aof
        self.proc = None

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no",
                "--auto-aof-rewrite-percentage", os.environ.get("JIESU_AOF_REWRITE_PCT", "100"),
                "--logfile", str(self.dir / "redis.log")]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                c = Resp(self.port, 0.5)
                ok = c("PING") == "PONG"
                c.close()
                return ok
            except (OSError, RedisError):
                return False
        wait_for(up, 10, what="redis-server")

    def client(self):
        return Resp(self.port)

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                c = self.client()
                c.sock.sendall(b"*1\r\n$8\r\nSHUTDOWN\r\n")
                c.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Suite:
    """The services, each on free ports, with logs in a temporary directory."""

    def __init__(self, services=SERVICES, aof=True, extra_env=None, sanitize_check=True):
        self.dir = Path(tempfile.mkdtemp(prefix="jiesu-test-"))
        self.redis = Redis(self.dir, aof)
        self.ports = {k: free_port() for k in ("pub", "sub", "intake", "classifier", "dispatcher")}
        self.services = list(services)
        self.procs = {}
        self.extra_env = dict(extra_env or {})
        self.sanitize_check = sanitize_check
        self.ctx = zmq.Context()
        self.socks = []
        (self.dir / "pii.key").write_text(os.urandom(32).hex() + "\n")
        os.chmod(self.dir / "pii.key", 0o600)

    def ep(self, name):
        return f"tcp://127.0.0.1:{self.ports[name]}"

    def env(self, name):
        e = dict(os.environ)
        e.update({
            "JIESU_REDIS_PORT": str(self.redis.port),
            "JIESU_BUS_PUBLISH": self.ep("pub"),
            "JIESU_BUS_SUBSCRIBE": self.ep("sub"),
            "JIESU_BUS_FRONTEND": self.ep("pub"),
            "JIESU_BUS_BACKEND": self.ep("sub"),
            "JIESU_INTAKE_BIND": self.ep("intake"),
            "JIESU_CLASSIFIER_BIND": self.ep("classifier"),
            "JIESU_CLASSIFIER_CONNECT": self.ep("classifier"),
            "JIESU_DISPATCHER_BIND": self.ep("dispatcher"),
            "JIESU_DISPATCHER_CONNECT": self.ep("dispatcher"),
            "JIESU_PII_KEY_FILE": str(self.dir / "pii.key"),
            "JIESU_INSTANCE": name,
            "JIESU_HEARTBEAT_MS": "200",
            "JIESU_SWEEP_MS": "200",
            "JIESU_REDRIVE_MS": "2000",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=66",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        e.update(self.extra_env)
        return e

    def start(self):
        self.redis.start()
        for name in self.services:
            self.start_service(name)
        self.wait_ready()
        return self

    def start_service(self, name):
        log = open(self.dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([str(BIN / f"jiesu-{name}")], cwd=ROOT, env=self.env(name),
                                            stdout=log, stderr=log)
        log.close()

    def wait_ready(self, names=None, timeout=30):
        names = [n for n in (names or self.services) if n != "bus"]
        r = self.redis.client()
        try:
            def ready():
                for n in names:
                    p = self.procs[n]
                    if p.poll() is not None:
                        raise AssertionError(f"jiesu-{n} exited with {p.returncode}: {self.log(n)[-2000:]}")
                return all(r("EXISTS", f"jiesu:hb:{n}:{n}") == 1 for n in names)
            wait_for(ready, timeout, what="services ready")
        finally:
            r.close()

    def log(self, name):
        p = self.dir / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop_service(self, name, timeout=15):
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout)
        return p.returncode

    def kill_service(self, name):
        p = self.procs[name]
        if p.poll() is None:
            p.kill()
            p.wait(10)

    def stop(self):
        for s in self.socks:
            s.close(0)
        self.ctx.term()
        codes = {}
        for name in reversed(self.services):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name in reversed(self.services):
            p = self.procs.get(name)
            if not p:
                continue
            try:
                codes[name] = p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                codes[name] = "killed"
        self.redis.stop()
        problems = []
        if self.sanitize_check:
            for name in self.services:
                text = self.log(name)
                if "ERROR: AddressSanitizer" in text or "runtime error:" in text or "LeakSanitizer" in text:
                    problems.append(f"jiesu-{name}: sanitizer report:\n{text[-3000:]}")
        keep = os.environ.get("JIESU_KEEP_LOGS")
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return codes, problems

    # ---- clients -------------------------------------------------------------

    def dealer(self):
        d = self.ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(self.ep("intake"))
        self.socks.append(d)
        return d

    def subscriber(self, prefix=b"jiesu."):
        s = self.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.ep("sub"))
        s.setsockopt(zmq.SUBSCRIBE, prefix)
        s.setsockopt(zmq.SUBSCRIBE, b"jiesu.heartbeat.")
        self.socks.append(s)
        # a heartbeat arriving proves the subscription is in place (no slow-joiner loss)
        wait_for(lambda: s.poll(100) and s.recv_multipart(), 10, what="bus subscription")
        return s


_seq = [0]


def envelope(type="jiesu.request", **kw):
    _seq[0] += 1
    return envelope_pb2.Envelope(id=f"REQ{os.getpid()}X{_seq[0]}", source="pytest", type=type, **kw)


def submission(text, channel=types_pb2.CHANNEL_WEB, key="", contact="", title=""):
    e = envelope(type="jiesu.submission")
    e.submission.content = text
    e.submission.channel = channel
    if key:
        e.submission.idempotency_key = key
    if contact:
        e.submission.requester.contact = contact
    if title:
        e.submission.title = title
    return e


def request(dealer, env_or_bytes, timeout_ms=10000):
    """Send one request, return the decoded reply Envelope (Google's protobuf)."""
    data = env_or_bytes if isinstance(env_or_bytes, bytes) else env_or_bytes.SerializeToString()
    dealer.send(data)
    if not dealer.poll(timeout_ms):
        raise AssertionError("no reply from intake")
    r = envelope_pb2.Envelope()
    r.ParseFromString(dealer.recv())
    return r


def events(sub, want, timeout=20.0, types=None):
    """Collect decoded (type, Envelope) until want(list) is true."""
    got = []
    end = time.time() + timeout
    while time.time() < end:
        if sub.poll(100):
            topic, body = sub.recv_multipart()
            t = topic.decode()
            if t.startswith("jiesu.heartbeat."):
                continue
            e = envelope_pb2.Envelope()
            e.ParseFromString(body)
            assert e.type == t
            if types is None or t in types:
                got.append((t, e))
            if want(got):
                return got
    raise AssertionError(f"timed out; got {[(t, e.subject) for t, e in got][:20]}")
