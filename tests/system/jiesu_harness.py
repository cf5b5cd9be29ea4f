"""jiesu_harness: what every system test uses to run the real binaries.

- free_port(), wait_for(pred, timeout): the basics; every timeout is
  multiplied by SLOW (3 under ASan, JIESU_TIMEOUT_SCALE overrides).
- Resp: a minimal RESP2 client (python3-redis is not a dependency).
- RedisServer: a private redis-server on a free port, data in a temporary
  directory, AOF optional; stop(), kill() (SIGKILL), start() again on the
  same port.
- Suite: chosen services on free ports, configured only through JIESU_*
  environment variables; waits until each is ready (its heartbeat key, or
  for the bus its ports); stop_service() (SIGTERM, exit 0 within 10 s),
  kill_service() (SIGKILL), restart_service(); close() stops everything,
  even after a failed test, and reports sanitizer findings in the logs.
- Client: what an outside program does: submit() and ping() over a DEALER
  to intake, subscribe() to the bus and get decoded Envelopes.

Every child runs in its own session, and a child still alive when Python
exits is killed with its group: no test leaves a process behind.

JIESU_BUILD names the build (default build; `make test` uses build/asan);
the Python protobuf modules generated from proto/ are in $JIESU_BUILD/py."""
import atexit
import json
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
BUILD = Path(os.environ.get("JIESU_BUILD", "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
BIN = BUILD / "bin"
if str(BUILD / "py") not in sys.path:
    sys.path.insert(0, str(BUILD / "py"))

import zmq  # noqa: E402
from jiesu.v1 import envelope_pb2, types_pb2  # noqa: E402

SERVICES = ("bus", "deadline-timer", "dispatcher", "classifier", "intake")  # consumers first
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
SAN_ENV = {
    # a leak makes the exit status non-zero (LeakSanitizer's 23), so a test
    # asserting exit 0 catches it; reports go to the service's log
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
    "LSAN_OPTIONS": "exitcode=23",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def _slow():
    if os.environ.get("JIESU_TIMEOUT_SCALE"):
        return float(os.environ["JIESU_TIMEOUT_SCALE"])
    try:
        with open(BIN / "jiesu-bus", "rb") as f:
            return 3.0 if b"AddressSanitizer" in f.read() else 1.0
    except OSError:
        return 1.0


SLOW = _slow()

# ---- processes left behind -------------------------------------------------

_live = set()


def _reap_all():
    for p in list(_live):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
    _live.clear()


atexit.register(_reap_all)


def spawn(argv, log_path, env=None, cwd=ROOT):
    """Start argv in its own session, stdout and stderr appended to log_path."""
    with open(log_path, "ab") as log:
        p = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True)
    _live.add(p)
    return p


def reap(p, timeout):
    """Wait for p; SIGKILL its group after timeout. Returns the exit status or
    'killed'."""
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait()
        return "killed"
    finally:
        _live.discard(p)


# ---- basics ----------------------------------------------------------------


_given_ports = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A TCP port free now on 127.0.0.1, never handed out before by this
    process, and below the kernel's ephemeral range: a port the kernel picked
    (bind to 0) could be given next as the source port of some outgoing
    connection before the service binds it ("Address already in use"), and
    two picks could be the same. No fixed ports: a random one, checked."""
    import random
    hi = min(_ephemeral_low(), 65536) - 1
    lo = max(1024, hi - 12000)
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _given_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    with socket.socket() as s:  # a crowded range: the kernel's pick after all
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, every=0.05, what="condition"):
    """Poll pred() until it returns something true; return that. timeout is
    scaled by SLOW."""
    end = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout * SLOW:.1f}s waiting for {what}")
        time.sleep(every)


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), 0.5).close()
        return True
    except OSError:
        return False


# ---- Redis -----------------------------------------------------------------


class RedisError(Exception):
    pass


class Resp:
    """A minimal Redis client: r("SET", "k", b"v") returns the decoded reply
    (str for status, int, bytes, list, None) and raises RedisError for an
    error reply."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout * SLOW)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
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
        raise ValueError(f"bad RESP line {line!r}")

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def __call__(self, *args):
        self.sock.sendall(self._encode(args))
        r = self._reply()
        if isinstance(r, RedisError):
            raise r
        return r

    def pipeline(self, commands):
        """Send every command, then read every reply (errors returned, not raised)."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        return [self._reply() for _ in commands]


class RedisServer:
    """A private redis-server on a free port, data under root/redis."""

    def __init__(self, root, aof=True, port=None):
        self.port = port or free_port()
        self.dir = Path(root) / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.aof = aof
        self.proc = None
        self.log_path = self.dir / "redis.log"

    def start(self):
        args = ["redis-server", "--port", self.port, "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--maxmemory-policy", "noeviction", "--daemonize", "no", "--logfile", self.log_path]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        self.proc = spawn(args, self.dir / "redis.out")

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode}: {self.tail()}")
            try:
                with Resp(self.port, 0.5) as c:
                    return c("PING") == "PONG"
            except (OSError, RedisError):
                return False
        wait_for(up, 10, what=f"redis-server on port {self.port}")
        return self

    def tail(self, n=2000):
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def client(self):
        return Resp(self.port)

    def cmd(self, *args):
        with Resp(self.port) as c:
            return c(*args)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: what is not yet in the AOF is lost, as in a crash."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc:
            reap(self.proc, 10 * SLOW)

    def stop(self):
        if self.running():
            try:
                with Resp(self.port, 2) as c:
                    c.sock.sendall(Resp._encode(["SHUTDOWN"]))
            except OSError:
                pass
        if self.proc:
            reap(self.proc, 10 * SLOW)

    def restart(self, kill=False):
        """Stop (or kill -9) and start again on the same port and data."""
        self.kill() if kill else self.stop()
        return self.start()


# ---- the suite -------------------------------------------------------------


class Suite:
    """Chosen services, each on free ports, logs in a temporary directory.
    Use as a context manager or call close(); close() is safe to call twice."""

    ENDPOINTS = ("pub", "sub", "intake", "classifier", "dispatcher", "timer", "actions")

    def __init__(self, services=SERVICES, aof=True, env=None, redis=True, tmp=None):
        self.dir = Path(tmp) if tmp else Path(tempfile.mkdtemp(prefix="jiesu-test-"))
        self.own_dir = tmp is None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.dir, aof) if redis else None
        self.ports = {k: free_port() for k in self.ENDPOINTS}
        self.services = [s for s in SERVICES if s in services]
        unknown = set(services) - set(SERVICES)
        assert not unknown, f"unknown services {unknown}"
        self.procs = {}
        self.started_ms = {}
        self.extra_env = dict(env or {})
        self.clients = []
        self.closed = False
        key = self.dir / "pii.key"
        key.write_text(os.urandom(32).hex() + "\n")
        os.chmod(key, 0o600)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close(check=exc[0] is None)

    def ep(self, name):
        return f"tcp://127.0.0.1:{self.ports[name]}"

    def env(self, name):
        e = {k: v for k, v in os.environ.items() if not k.startswith("JIESU_")}
        e.update(SAN_ENV)
        e.update({
            "JIESU_REDIS_HOST": "127.0.0.1",
            "JIESU_REDIS_PORT": str(self.redis.port if self.redis else free_port()),
            "JIESU_BUS_PUBLISH": self.ep("pub"),
            "JIESU_BUS_SUBSCRIBE": self.ep("sub"),
            "JIESU_BUS_FRONTEND": self.ep("pub"),
            "JIESU_BUS_BACKEND": self.ep("sub"),
            "JIESU_INTAKE_BIND": self.ep("intake"),
            "JIESU_CLASSIFIER_BIND": self.ep("classifier"),
            "JIESU_CLASSIFIER_CONNECT": self.ep("classifier"),
            "JIESU_DISPATCHER_BIND": self.ep("dispatcher"),
            "JIESU_DISPATCHER_CONNECT": self.ep("dispatcher"),
            "JIESU_DISPATCHER_ACTIONS_BIND": self.ep("actions"),
            "JIESU_TIMER_CONTROL": self.ep("timer"),
            "JIESU_PII_KEY_FILE": str(self.dir / "pii.key"),
            "JIESU_INSTANCE": name,
            "JIESU_HEARTBEAT_MS": "200",
            "JIESU_SWEEP_MS": "200",
            "JIESU_REDRIVE_MS": "2000",
            # partner hotlines are off unless a test sets them up (test_partner.py): the
            # defaults would read keys from var/keys/ and bind :7015
            "JIESU_INTAKE_PARTNER_BIND": "",
            "JIESU_PARTNER_PEERS": "",
        })
        e.update(self.extra_env)
        return e

    def log_path(self, name):
        return self.dir / f"{name}.log"

    def log(self, name):
        p = self.log_path(name)
        return p.read_text(errors="replace") if p.exists() else ""

    # -- lifecycle --

    def start(self):
        if self.redis:
            self.redis.start()
        for name in self.services:
            self.start_service(name, wait=False)
        self.wait_ready()
        return self

    def start_service(self, name, wait=True, args=()):
        assert name not in self.procs or self.procs[name].poll() is not None, f"jiesu-{name} runs already"
        if name not in self.services:
            self.services.append(name)
        self.started_ms[name] = int(time.time() * 1000)
        self.procs[name] = spawn([BIN / f"jiesu-{name}", *args], self.log_path(name), self.env(name))
        if wait:
            self.wait_ready([name])

    def _ready(self, name, r):
        p = self.procs[name]
        if p.poll() is not None:
            raise AssertionError(f"jiesu-{name} exited with {p.returncode}:\n{self.log(name)[-2000:]}")
        if name == "bus":
            return port_open(self.ports["pub"]) and port_open(self.ports["sub"])
        hb = r("GET", f"jiesu:hb:{name}:{name}")
        if not hb:
            return False
        # a heartbeat left by the previous process of a restarted service does not count
        beat = json.loads(hb)
        if "pid" in beat:
            return beat["pid"] == p.pid
        return beat.get("started_ms", 0) >= self.started_ms[name] - 1000

    def wait_ready(self, names=None, timeout=30):
        names = names or [n for n in self.services if n in self.procs]
        if self.redis is None:
            names = [n for n in names if n == "bus"]
        r = self.redis.client() if self.redis else None
        try:
            wait_for(lambda: all(self._ready(n, r) for n in names), timeout, what=f"ready: {', '.join(names)}")
        finally:
            if r:
                r.close()

    def running(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def signal_service(self, name, sig):
        os.kill(self.procs[name].pid, sig)

    def stop_service(self, name, timeout=10, expect=0):
        """SIGTERM; the service must exit with expect within timeout (scaled)."""
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        code = reap(p, timeout * SLOW)
        assert code == expect, f"jiesu-{name} after SIGTERM: exit {code}\n{self.log(name)[-2000:]}"
        return code

    def kill_service(self, name):
        """SIGKILL, as a crash."""
        p = self.procs[name]
        if p.poll() is None:
            p.kill()
        reap(p, 10 * SLOW)

    def restart_service(self, name, kill=False, wait=True):
        self.kill_service(name) if kill else self.stop_service(name)
        self.start_service(name, wait=wait)

    def sanitizer_reports(self):
        out = []
        for name in self.services:
            text = self.log(name)
            if any(m in text for m in SANITIZER_MARKS):
                out.append(f"jiesu-{name}: sanitizer report in {self.log_path(name)}:\n{text[-4000:]}")
        return out

    def close(self, check=True):
        """Stop every client and service (SIGTERM in reverse order, SIGKILL
        after 15 s), then Redis. Returns (exit codes, problems); with check,
        raises AssertionError on a sanitizer report or a non-zero exit."""
        if self.closed:
            return {}, []
        self.closed = True
        for c in self.clients:
            c.close()
        codes = {}
        for name in reversed(self.services):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name in reversed(self.services):
            p = self.procs.get(name)
            if p:
                codes[name] = reap(p, 15 * SLOW)
        if self.redis:
            self.redis.stop()
        problems = self.sanitizer_reports()
        problems += [f"jiesu-{n} exited with {c}:\n{self.log(n)[-1500:]}" for n, c in codes.items() if c != 0]
        if self.own_dir and not problems and not os.environ.get("JIESU_KEEP_LOGS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if check and problems:
            raise AssertionError(f"logs kept in {self.dir}\n" + "\n".join(problems))
        return codes, problems

    def client(self):
        c = Client(self.ep("intake"), self.ep("sub"))
        self.clients.append(c)
        return c


# ---- an outside client -----------------------------------------------------

_seq = [0]


def envelope(type="jiesu.request", **kw):
    """A request Envelope with a fresh id."""
    _seq[0] += 1
    return envelope_pb2.Envelope(id=f"T{os.getpid()}X{_seq[0]}", source="pytest", type=type,
                                 spec_version="1.0", **kw)


def submission(text, channel=types_pb2.CHANNEL_WEB, key="", contact="", title="", address=""):
    e = envelope(type="jiesu.submission")
    e.submission.content = text
    e.submission.channel = channel
    if key:
        e.submission.idempotency_key = key
    if contact:
        e.submission.requester.contact = contact
    if title:
        e.submission.title = title
    if address:
        e.submission.location.address = address
    return e


def decode(data):
    e = envelope_pb2.Envelope()
    e.ParseFromString(data)
    return e


class Subscription:
    """A SUB socket on the bus backend; next() returns (topic, Envelope)."""

    def __init__(self, ctx, endpoint, prefixes):
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        for p in prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode() if isinstance(p, str) else p)
        self.sock.connect(endpoint)

    def next(self, timeout=10.0):
        """The next (topic, Envelope), or None after timeout (scaled)."""
        if not self.sock.poll(int(timeout * SLOW * 1000)):
            return None
        frames = self.sock.recv_multipart()
        assert len(frames) == 2, f"a bus message has 2 frames, got {len(frames)}"
        topic, env = frames[0].decode(), decode(frames[1])
        assert env.type == topic, (env.type, topic)
        return topic, env

    def collect(self, want, timeout=20.0, skip_heartbeats=True):
        """Events in order until want(list of (topic, Envelope)) is true."""
        got = []
        end = time.monotonic() + timeout * SLOW
        while time.monotonic() < end:
            ev = self.next(0.1 / SLOW)
            if ev is None:
                continue
            if skip_heartbeats and ev[0].startswith("jiesu.heartbeat."):
                continue
            got.append(ev)
            if want(got):
                return got
        raise AssertionError(f"timed out; got {[(t, e.subject) for t, e in got][:20]}")

    def close(self):
        self.sock.close(0)


class Client:
    """What jiesuctl does, from Python: a DEALER to intake and SUBs on the bus."""

    def __init__(self, intake_ep, bus_sub_ep):
        self.ctx = zmq.Context()
        self.intake_ep, self.bus_sub_ep = intake_ep, bus_sub_ep
        self._dealer = None
        self.subs = []

    def dealer(self):
        if self._dealer is None:
            self._dealer = self.ctx.socket(zmq.DEALER)
            self._dealer.setsockopt(zmq.LINGER, 0)
            self._dealer.connect(self.intake_ep)
        return self._dealer

    def request(self, env_or_bytes, timeout=10.0):
        """Send one request (an Envelope or raw bytes); the decoded reply,
        whose correlation_id must match."""
        d = self.dealer()
        data = env_or_bytes if isinstance(env_or_bytes, bytes) else env_or_bytes.SerializeToString()
        d.send(data)
        while True:
            if not d.poll(int(timeout * SLOW * 1000)):
                raise AssertionError("no reply from intake")
            r = decode(d.recv())
            # a reply to an earlier request that timed out is not ours
            if isinstance(env_or_bytes, bytes) or r.correlation_id == env_or_bytes.id:
                return r

    def submit(self, text, **kw):
        """Submit; returns the reply Envelope (submit_reply or error)."""
        return self.request(submission(text, **kw))

    def submit_id(self, text, **kw):
        r = self.submit(text, **kw)
        assert r.WhichOneof("payload") == "submit_reply", r
        return r.submit_reply.order_id

    def ping(self, timeout=10.0):
        e = envelope(type="jiesu.ping")
        e.ping.SetInParent()
        return self.request(e, timeout)

    def subscribe(self, *prefixes, ready=True):
        """A Subscription for prefixes (default every jiesu. event). With ready,
        waits until a heartbeat arrives through it, so the subscription is in
        place before the test acts (no slow-joiner loss); needs a running
        service that publishes heartbeats."""
        prefixes = list(prefixes or ["jiesu."])
        if ready:
            prefixes.append("jiesu.heartbeat.")
        s = Subscription(self.ctx, self.bus_sub_ep, prefixes)
        self.subs.append(s)
        if ready:
            wait_for(lambda: s.next(0.1 / SLOW) is not None, 10, what="a heartbeat through the bus")
        return s

    def close(self):
        for s in self.subs:
            s.close()
        self.subs = []
        if self._dealer is not None:
            self._dealer.close(0)
            self._dealer = None
        self.ctx.term()
