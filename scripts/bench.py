#!/usr/bin/python3
"""bench.py [NAME ...]: start a private jiesu suite (its own redis-server with
AOF on, every service on free ports, release build) and run the benchmarks,
printing one JSON line each. `make bench` runs them all, `make bench
BENCH=name` one of: ceiling, pipeline_1000, pipeline, classifier.

The pipeline line comes last; it carries the ceiling and the ratio to it.
Counts are bounded and everything targets 127.0.0.1; the suite is stopped at
the end whatever happens."""
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

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("JIESU_BUILD", ROOT / "build"))
BIN = BUILD / "bin"
ORDERS = int(os.environ.get("JIESU_BENCH_ORDERS", "200000"))
RATE_ORDERS = int(os.environ.get("JIESU_BENCH_RATE_ORDERS", "10000"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Suite:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="jiesu-bench-"))
        self.procs = []
        self.ports = {k: free_port() for k in ("redis", "pub", "sub", "intake", "classifier", "dispatcher")}

    def ep(self, name):
        return f"tcp://127.0.0.1:{self.ports[name]}"

    def env(self):
        e = dict(os.environ)
        e.update({
            "JIESU_REDIS_PORT": str(self.ports["redis"]),
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
            "JIESU_LOG_LEVEL": "warn",
        })
        return e

    def start(self):
        (self.dir / "pii.key").write_text(os.urandom(32).hex() + "\n")
        os.chmod(self.dir / "pii.key", 0o600)
        redis = subprocess.Popen(
            ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction",
             "--daemonize", "no", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(redis)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.ports["redis"]), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        for name in ("bus", "deadline-timer", "dispatcher", "classifier", "intake"):
            log = open(self.dir / f"{name}.log", "wb")
            p = subprocess.Popen([str(BIN / f"jiesu-{name}")], cwd=ROOT, env=self.env(), stdout=log, stderr=log)
            self.procs.append(p)
        time.sleep(1.5)
        for p in self.procs:
            if p.poll() is not None:
                raise SystemExit(f"bench: a service exited at start; logs in {self.dir}")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for p in reversed(self.procs):
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(args):
    out = subprocess.run([str(BIN / "jiesu-bench")] + args, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"bench: jiesu-bench {' '.join(args)} failed ({out.returncode})")
    return json.loads(lines[-1]), lines[-1]


def main():
    wanted = [a for a in sys.argv[1:] if a] or ["classifier", "ceiling", "pipeline_1000", "pipeline"]
    known = {"classifier", "ceiling", "pipeline_1000", "pipeline"}
    for w in wanted:
        if w not in known:
            raise SystemExit(f"bench: unknown benchmark {w!r}; known: {', '.join(sorted(known))}")
    if "classifier" in wanted:
        _, line = run(["classifier"])
        print(line, flush=True)
    suite_needed = [w for w in wanted if w != "classifier"]
    if not suite_needed:
        return
    suite = Suite()
    try:
        suite.start()
        common = ["--intake", suite.ep("intake"), "--bus", suite.ep("sub"),
                  "--redis-port", str(suite.ports["redis"])]
        ceiling = 0.0
        if "ceiling" in wanted or "pipeline" in wanted:
            c, line = run(["ceiling", "--orders", str(ORDERS // 2), "--batch", "64"] + common)
            ceiling = c["orders_per_s"]
            if "ceiling" in wanted:
                print(line, flush=True)
        if "pipeline_1000" in wanted:
            _, line = run(["pipeline", "--name", "pipeline_1000", "--orders", str(RATE_ORDERS), "--rate", "1000",
                           "--connections", "4"] + common)
            print(line, flush=True)
        if "pipeline" in wanted:
            args = ["pipeline", "--orders", str(ORDERS), "--connections", "4", "--window", "2000"] + common
            if ceiling:
                args += ["--ceiling", str(ceiling)]
            _, line = run(args)
            print(line, flush=True)
    finally:
        suite.stop()


if __name__ == "__main__":
    main()
