"""No acknowledged order is lost and none is dispatched twice: kill -9 of
each service in turn under load, and a Redis restart from its AOF."""
import threading
import time

import pytest

from suite import Suite, request, submission, wait_for, Resp

N_PER_ROUND = 150


# The dispatcher's decision on a classified order: one of these, once.
DECIDED = (b"jiesu.order.dispatched", b"jiesu.order.consultation", b"jiesu.order.transferring")


def dispatched_counts(suite):
    """Order id -> number of the dispatcher's decisions (DECIDED) in the stream."""
    r = suite.redis.client()
    try:
        counts = {}
        last = "-"
        while True:
            batch = r("XRANGE", "jiesu:events", last, "+", "COUNT", 5000)
            if last != "-":
                batch = batch[1:]
            if not batch:
                break
            for eid, fields in batch:
                f = dict(zip(fields[::2], fields[1::2]))
                if f[b"t"] in DECIDED:
                    o = f[b"o"].decode()
                    counts[o] = counts.get(o, 0) + 1
            last = batch[-1][0].decode()
        return counts
    finally:
        r.close()


class Loader:
    """Submits orders on its own DEALER, retrying with the same idempotency key
    until acknowledged, as a careful integrator does."""

    def __init__(self, suite, tag):
        self.suite, self.tag = suite, tag
        self.acked = {}
        self.errors = 0

    def submit(self, i, timeout_ms=3000):
        key = f"{self.tag}-{i}"
        for _ in range(40):
            d = self.suite.ctx.socket(__import__("zmq").DEALER)
            d.setsockopt(__import__("zmq").LINGER, 0)
            d.connect(self.suite.ep("intake"))
            try:
                d.send(submission(f"金河路梨园小区楼道灯不亮了，第{i}号楼", key=key).SerializeToString())
                if d.poll(timeout_ms):
                    from suite import envelope_pb2
                    r = envelope_pb2.Envelope.FromString(d.recv())
                    if r.WhichOneof("payload") == "submit_reply":
                        self.acked[key] = r.submit_reply.order_id
                        return
                    self.errors += 1
            finally:
                d.close(0)
            time.sleep(0.2)
        raise AssertionError(f"{key} never acknowledged")


@pytest.fixture
def suite():
    # the classifier decides every order itself (thresholds 0): none waits for an operator in the manual queue
    s = Suite(extra_env={"JIESU_REDIS_TIMEOUT_MS": "2000", "JIESU_CLASSIFIER_THRESHOLD": "0",
                         "JIESU_CLASSIFIER_TYPE_THRESHOLD": "0"}).start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("victim", ["intake", "classifier", "dispatcher", "deadline-timer", "bus"])
def test_kill9_under_load_loses_nothing(suite, victim):
    loader = Loader(suite, f"k9-{victim}")
    done = threading.Event()

    def run():
        for i in range(N_PER_ROUND):
            loader.submit(i)
        done.set()

    t = threading.Thread(target=run)
    t.start()
    wait_for(lambda: len(loader.acked) >= N_PER_ROUND // 3, 60, what="load running")
    suite.kill_service(victim)
    time.sleep(0.5)
    suite.start_service(victim)
    t.join(180)
    assert done.is_set()
    ids = set(loader.acked.values())
    assert len(ids) == N_PER_ROUND  # one order per idempotency key

    def all_dispatched():
        c = dispatched_counts(suite)
        return all(c.get(o, 0) >= 1 for o in ids) and c
    counts = wait_for(all_dispatched, 90, every=0.5, what="every acknowledged order dispatched")
    twice = [o for o in ids if counts[o] != 1]
    assert not twice, f"dispatched twice: {twice[:5]}"


def test_redis_restart_from_aof_loses_no_acknowledged_order(suite):
    loader = Loader(suite, "aof")
    for i in range(100):
        loader.submit(i)
    suite.redis.kill()  # kill -9: what was acknowledged reached the AOF (write(2)) before the reply
    time.sleep(0.5)
    suite.redis.start()
    for i in range(100, 150):
        loader.submit(i)
    ids = set(loader.acked.values())
    assert len(ids) == 150
    r = suite.redis.client()
    try:
        missing = [o for o in ids if r("EXISTS", "o:{%s}" % o) != 1]
    finally:
        r.close()
    assert not missing
    counts = wait_for(lambda: (lambda c: c if all(c.get(o, 0) >= 1 for o in ids) else None)(dispatched_counts(suite)),
                      90, every=0.5, what="dispatched after the restart")
    assert all(counts[o] == 1 for o in ids)


def test_sigterm_stops_every_service_cleanly(suite):
    d = suite.dealer()
    for i in range(20):
        request(d, submission(f"停车难 {i}"))
    for name in ["intake", "classifier", "dispatcher", "deadline-timer", "bus"]:
        t0 = time.time()
        assert suite.stop_service(name) == 0, suite.log(name)[-2000:]
        assert time.time() - t0 < 12


@pytest.mark.parametrize("name", ["intake", "classifier", "dispatcher", "deadline-timer"])
def test_sigterm_while_starting_exits_0(suite, name):
    """Told to stop while it is still starting, a service stops cleanly too."""
    import signal
    import subprocess
    from suite import BIN, free_port
    env = suite.env(name)
    for k in ("JIESU_INTAKE_BIND", "JIESU_CLASSIFIER_BIND", "JIESU_DISPATCHER_BIND", "JIESU_DISPATCHER_ACTIONS_BIND",
              "JIESU_TIMER_CONTROL"):
        env[k] = f"tcp://127.0.0.1:{free_port()}"  # the suite's own instances hold the usual ones
    for delay in (0.15, 0.3):  # once main runs (before it, nothing can catch a signal)
        p = subprocess.Popen([str(BIN / f"jiesu-{name}")], env=env, cwd=str(BIN.parents[2]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, (delay, err[-1500:])
