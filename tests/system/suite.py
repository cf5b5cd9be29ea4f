"""suite.py: the pipeline tests' view of the harness (jiesu_harness.py).

Adds to jiesu_harness.Suite what the pipeline, fault and CLI tests and
scripts/bench.py use: raw DEALER and SUB sockets owned by the suite, a stop()
that returns (exit codes, problems) without raising, and the request/events
helpers that decode every reply and event with Google's protobuf."""
import time

import jiesu_harness as h
from jiesu_harness import (BIN, ROOT, SERVICES, RedisError, Resp, envelope, envelope_pb2,  # noqa: F401
                           free_port, submission, types_pb2, wait_for, zmq)

Redis = h.RedisServer


class Suite(h.Suite):
    def __init__(self, services=SERVICES, aof=True, extra_env=None, sanitize_check=True):
        super().__init__(services, aof=aof, env=extra_env)
        self.sanitize_check = sanitize_check
        self.ctx = zmq.Context()
        self.socks = []

    def stop(self):
        """Stop everything; (exit codes, problems), never raising."""
        for s in self.socks:
            s.close(0)
        self.ctx.term()
        codes, problems = self.close(check=False)
        if not self.sanitize_check:
            problems = [p for p in problems if "sanitizer" not in p]
        return codes, problems

    def stop_service(self, name, timeout=15):
        return super().stop_service(name, timeout)

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
        # a heartbeat of every publishing service proves the subscription is in place and each one's PUB
        # connection to the bus is up (no slow-joiner loss, and no event published into a connection not yet made)
        want = {f"jiesu.heartbeat.{name}".encode() for name in self.services if name != "bus"}
        seen = set()

        def all_seen():
            if s.poll(100):  # what has arrived, without waiting for more: wait_for keeps the time
                for _ in range(1000):
                    try:
                        seen.add(s.recv_multipart(zmq.NOBLOCK)[0])
                    except zmq.Again:
                        break
            return want <= seen or (not want and seen)
        wait_for(all_seen, 10, what="a heartbeat of every service through the bus")
        return s


def order_in_redis(suite, oid):
    """(stage, version, Order) as Redis holds them; (None, None, empty Order) for no such order."""
    r = suite.redis.client()
    try:
        stage, v, d = r("HMGET", "o:{%s}" % oid, "stage", "v", "d")
        o = types_pb2.Order()
        if d:
            o.ParseFromString(d)
        return (int(stage) if stage else None), (int(v) if v else None), o
    finally:
        r.close()


def request(dealer, env_or_bytes, timeout_ms=10000):
    """Send one request, return the decoded reply Envelope (Google's protobuf)."""
    data = env_or_bytes if isinstance(env_or_bytes, bytes) else env_or_bytes.SerializeToString()
    dealer.send(data)
    if not dealer.poll(int(timeout_ms * h.SLOW)):
        raise AssertionError("no reply from intake")
    r = envelope_pb2.Envelope()
    r.ParseFromString(dealer.recv())
    return r


def events(sub, want, timeout=20.0, types=None):
    """Collect decoded (type, Envelope) until want(list) is true."""
    got = []
    end = time.time() + timeout * h.SLOW
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
