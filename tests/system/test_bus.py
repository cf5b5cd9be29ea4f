"""jiesu-bus alone, spoken to with pyzmq only: it forwards PUB -> SUB with
the subscriber's prefix filter, drops for a slow subscriber instead of
blocking the others, stops with exit 0 on SIGTERM or SIGINT, and answers
--help and --version."""
import signal
import subprocess
import time

import pytest
import zmq

import jiesu_harness as h


@pytest.fixture
def bus(make_suite):
    return make_suite(["bus"], redis=False)


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.term()


def sock(ctx, kind, ep, *subs, opts=()):
    """A socket connected to ep; opts [(option, value)] are set before the
    connection (after it they would not apply to it)."""
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 0)
    for o, v in opts:
        s.setsockopt(o, v)
    for p in subs:
        s.setsockopt(zmq.SUBSCRIBE, p)
    s.connect(ep)
    return s


def sync(pub, subs, topic=b"sync."):
    """Publish probes until every SUB (subscribed to topic) got one: the
    subscriptions have crossed the bus, so nothing later is lost to a slow
    join. Drains the probes."""
    pending = set(subs)

    def all_in():
        pub.send_multipart([topic + b"probe", b""])
        for s in list(pending):
            if s.poll(50):
                pending.discard(s)
        return not pending
    h.wait_for(all_in, 10, every=0.01, what="subscriptions through the bus")
    time.sleep(0.05)
    for s in subs:
        while s.poll(50):
            s.recv_multipart()


def test_forwards_pub_to_sub_by_prefix(bus, ctx):
    pub = sock(ctx, zmq.PUB, bus.ep("pub"))
    orders = sock(ctx, zmq.SUB, bus.ep("sub"), b"jiesu.order.", b"sync.")
    clocks = sock(ctx, zmq.SUB, bus.ep("sub"), b"jiesu.clock.", b"sync.")
    everything = sock(ctx, zmq.SUB, bus.ep("sub"), b"")
    try:
        sync(pub, [orders, clocks, everything])
        sent = [(b"jiesu.order.received", b"1"), (b"jiesu.clock.warning", b"2"), (b"jiesu.order.dispatched", b"3"),
                (b"other.topic", b"4"), (b"jiesu.heartbeat.intake", b"5")]
        for m in sent:
            pub.send_multipart(list(m))

        def take(s, n):
            out = []
            while len(out) < n and s.poll(int(10000 * h.SLOW)):
                out.append(tuple(s.recv_multipart()))
            return out
        assert take(orders, 2) == [sent[0], sent[2]]
        assert take(clocks, 1) == [sent[1]]
        assert take(everything, 5) == sent  # one publisher: its order is kept
        # and nothing else arrives for the filtered ones
        assert not orders.poll(200) and not clocks.poll(200)
    finally:
        for s in (pub, orders, clocks, everything):
            s.close(0)


def test_many_frames_and_a_large_message_pass_whole(bus, ctx):
    pub = sock(ctx, zmq.PUB, bus.ep("pub"))
    sub = sock(ctx, zmq.SUB, bus.ep("sub"), b"t.", b"sync.")
    try:
        sync(pub, [sub])
        big = bytes(range(256)) * 2000  # 512 000 bytes, under max_msg_bytes
        pub.send_multipart([b"t.big", big])
        pub.send_multipart([b"t.three", b"a", b"b"])
        assert sub.poll(int(10000 * h.SLOW))
        assert sub.recv_multipart() == [b"t.big", big]
        assert sub.poll(int(10000 * h.SLOW))
        assert sub.recv_multipart() == [b"t.three", b"a", b"b"]
    finally:
        pub.close(0)
        sub.close(0)


def test_a_stalled_subscriber_does_not_block_the_others(make_suite, ctx):
    s = make_suite(["bus"], redis=False, env={"JIESU_BUS_HWM": "100"})
    pub = sock(ctx, zmq.PUB, s.ep("pub"))
    stalled = sock(ctx, zmq.SUB, s.ep("sub"), b"", opts=[(zmq.RCVHWM, 10), (zmq.RCVBUF, 4096)])
    live = sock(ctx, zmq.SUB, s.ep("sub"), b"")
    try:
        sync(pub, [stalled, live])
        # the stalled one never reads: far more than every buffer on its way
        # to it holds (128 MB against a 100-message queue, a 4 KB receive
        # buffer and a send buffer of a few MB)
        body = b"x" * 65536
        for i in range(2000):
            pub.send_multipart([b"t.flood", body])
            while live.poll(0):
                live.recv_multipart()
        # The live one may have lost some of the flood to its own queue limit
        # (PUB/SUB drops, by design); what matters is that the bus still
        # forwards to it while the stalled one stays full. A bus blocking on
        # the stalled subscriber (ZMQ_XPUB_NODROP on) never delivers a marker.
        def marker_arrives():
            pub.send_multipart([b"t.marker", b""])
            while live.poll(100):
                if live.recv_multipart()[0] == b"t.marker":
                    return True
            return False
        h.wait_for(marker_arrives, 20, every=0.05, what="a message to the live subscriber after the flood")
        assert s.running("bus")
    finally:
        for x in (pub, stalled, live):
            x.close(0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_with_exit_0_on_a_signal(make_suite, ctx, sig):
    s = make_suite(["bus"], redis=False)
    # with peers connected: a publisher, a subscriber
    pub = sock(ctx, zmq.PUB, s.ep("pub"))
    sub = sock(ctx, zmq.SUB, s.ep("sub"), b"")
    try:
        sync(pub, [sub])
        s.signal_service("bus", sig)
        code = h.reap(s.procs["bus"], 10 * h.SLOW)
        assert code == 0, s.log("bus")
        assert '"msg":"stopped"' in s.log("bus")
    finally:
        pub.close(0)
        sub.close(0)


def test_a_taken_port_fails_with_exit_1(make_suite):
    s = make_suite(["bus"], redis=False)
    other = h.spawn([h.BIN / "jiesu-bus", "--bus.frontend", s.ep("pub"), "--bus.backend", f"tcp://127.0.0.1:{h.free_port()}"],
                    s.dir / "second.log", s.env("bus"))
    assert h.reap(other, 10 * h.SLOW) == 1
    assert "Address already in use" in (s.dir / "second.log").read_text()


def test_help_version_and_bad_options():
    b = str(h.BIN / "jiesu-bus")
    env = {**h.SAN_ENV, "PATH": "/usr/bin:/bin"}
    r = subprocess.run([b, "--version"], capture_output=True, text=True, timeout=10 * h.SLOW, env=env)
    assert r.returncode == 0 and r.stdout.startswith("jiesu-bus ")
    r = subprocess.run([b, "--help"], capture_output=True, text=True, timeout=10 * h.SLOW, env=env)
    assert r.returncode == 0
    for key in ("bus.frontend", "bus.backend", "bus.hwm", "max_msg_bytes", "linger_ms", "log.level", "instance"):
        assert "--" + key in r.stdout, key
    for bad in (["--no.such.key", "1"], ["--bus.hwm", "lots"], ["--log.level", "loud"], ["stray"]):
        r = subprocess.run([b, *bad], capture_output=True, text=True, timeout=10 * h.SLOW, env=env)
        assert r.returncode == 1 and r.stderr.startswith("jiesu-bus: "), (bad, r.stderr)


def test_the_suite_publishes_through_the_bus_and_a_restarted_bus_is_rejoined(jiesu, client):
    # the pipeline's last step: dispatched (or a consultation, or the manual queue when the classifier is unsure)
    last = ("jiesu.order.dispatched", "jiesu.order.consultation", "jiesu.order.manual")

    def flow(sub, oid):
        got = sub.collect(lambda g: any(t in last and e.subject == oid for t, e in g))
        return [t for t, e in got if e.subject == oid]

    sub = client.subscribe("jiesu.order.")
    oid = client.submit_id("路灯不亮，晚上很黑", contact="13800000000")
    # publishers reach the bus on their own connections: intake's received may arrive after the classifier's event
    assert "jiesu.order.received" in flow(sub, oid)
    # the bus keeps no state: stopped and started again, the publishers and
    # subscribers reconnect by themselves
    jiesu.restart_service("bus")
    sub2 = client.subscribe("jiesu.order.")  # waits for a heartbeat: publishers are back
    oid2 = client.submit_id("楼道堆放杂物，存在消防隐患")
    assert flow(sub2, oid2)[-1] in last
    assert client.ping().pong.redis_ok
