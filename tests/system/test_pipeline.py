"""An order flows received -> classified -> dispatched through the real
services, every step stored first; bad input gets a clear error and the
services go on."""
import os
import random
import time

import pytest

from suite import Suite, envelope, events, order_in_redis, request, submission, types_pb2, envelope_pb2, BIN, wait_for

STAGE_DISPATCHED = 4


@pytest.fixture
def suite():
    s = Suite().start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)
    assert all(c == 0 for c in codes.values()), codes


def test_order_is_stored_classified_and_dispatched(suite):
    sub = suite.subscriber(b"jiesu.order.")
    d = suite.dealer()
    req = submission("小区东门的下水道堵了，污水漫到路面", contact="13800000000")
    rep = request(d, req)
    assert rep.WhichOneof("payload") == "submit_reply", rep
    assert rep.correlation_id == req.id
    oid = rep.submit_reply.order_id
    assert len(oid) == 26 and not rep.submit_reply.duplicate
    # acknowledged means stored: the hash is there now
    stage, v, o = order_in_redis(suite, oid)
    assert stage is not None and v >= 1
    got = events(sub, lambda g: any(t == "jiesu.order.dispatched" and e.subject == oid for t, e in g))
    # publishers reach the bus on their own connections: order by the order's version, not arrival
    mine = sorted(((t, e) for t, e in got if e.subject == oid), key=lambda x: x[1].version)
    types = [t for t, _ in mine]
    assert types[0] == "jiesu.order.received"
    assert "jiesu.order.classified" in types and types[-1] == "jiesu.order.dispatched"
    for t, e in mine:
        assert e.spec_version == "1.0" and e.source.startswith("jiesu-") and e.trace_id
        assert e.WhichOneof("payload") == "order"
        assert e.order.requester.contact_masked == "138****0000"
        assert b"13800000000" not in e.SerializeToString()
    disp = mine[-1][1]
    assert disp.version == 3 and disp.order.stage == STAGE_DISPATCHED
    a = disp.order.assignments[0]
    assert a.unit_id and a.role == types_pb2.ASSIGNMENT_ROLE_LEAD and a.due_ms > a.assigned_ms
    assert a.response_due_ms > a.assigned_ms
    clocks = {c.kind: c for c in disp.order.clocks}
    assert clocks[types_pb2.CLOCK_KIND_HANDLING].due_ms == a.due_ms
    assert clocks[types_pb2.CLOCK_KIND_RESPONSE].due_ms == a.response_due_ms
    start = clocks[types_pb2.CLOCK_KIND_HANDLING].events[0]
    assert start.kind == types_pb2.CLOCK_EVENT_START and start.limit.amount == a.limit.amount
    stage, v, o = wait_for(lambda: (lambda x: x if x[0] == STAGE_DISPATCHED else None)(order_in_redis(suite, oid)))
    assert v == 3 and [h.type for h in o.history] == types
    r = suite.redis.client()
    try:
        # clocks armed in the same transition, the sealed contact kept apart
        timers = sum(len(r("ZRANGE", "jiesu:tm:{%d}" % b, 0, -1)) for b in range(16))
        assert timers >= 2
        sealed = r("HGET", "o:{%s}" % oid, "c")
        assert sealed and b"13800000000" not in sealed
        entries = r("XRANGE", "jiesu:events", "-", "+")
        kinds = [dict(zip(x[1][::2], x[1][1::2]))[b"t"].decode() for x in entries
                 if dict(zip(x[1][::2], x[1][1::2]))[b"o"].decode() == oid]
        assert kinds == types
    finally:
        r.close()


def test_idempotency_key_returns_the_first_order(suite):
    d = suite.dealer()
    a = request(d, submission("路灯坏了", key="partner-42"))
    b = request(d, submission("路灯坏了", key="partner-42"))
    c = request(d, submission("路灯坏了", key="partner-43"))
    assert a.submit_reply.order_id == b.submit_reply.order_id
    assert not a.submit_reply.duplicate and b.submit_reply.duplicate
    assert c.submit_reply.order_id != a.submit_reply.order_id


def test_ping(suite):
    d = suite.dealer()
    e = envelope(type="jiesu.ping")
    e.ping.SetInParent()
    r = request(d, e)
    assert r.pong.service == "intake" and r.pong.redis_ok and r.correlation_id == e.id


def error_of(d, data):
    r = request(d, data)
    assert r.WhichOneof("payload") == "error", r
    return r.error


def test_bad_input_gets_a_clear_error_and_intake_goes_on(suite):
    d = suite.dealer()
    rng = random.Random(7)
    for _ in range(50):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        r = request(d, blob)
        assert r.WhichOneof("payload") in ("error",), r
    good = submission("路灯坏了").SerializeToString()
    assert error_of(d, good[: len(good) // 2]).code in ("bad_message", "missing_field")
    assert error_of(d, good + b"\x00\x01").code in ("unknown_field", "bad_message")  # field 0
    assert error_of(d, good + b"\x98\x06\x01").code == "unknown_field"  # field 99
    bad = submission("ok")
    bad.submission.requester.name = "x"
    raw = bad.SerializeToString().replace(b"\x01x", b"\x01\xff")
    assert error_of(d, raw).code == "bad_utf8"
    e = error_of(d, submission("   "))
    assert e.code == "bad_request" and e.field == "submission.content"
    e = error_of(d, submission("ok", channel=0))
    assert e.field == "submission.channel"
    e = error_of(d, submission("x" * 70000))
    assert e.code == "too_large"
    p = envelope(type="jiesu.score")
    p.score.subject = "u"
    assert error_of(d, p).code == "unsupported"
    # still serving
    ok = request(d, submission("公交站台顶棚坏了"))
    assert ok.WhichOneof("payload") == "submit_reply"


def test_oversized_frame_is_dropped_and_intake_goes_on(suite):
    d = suite.dealer()
    d.send(b"\x00" * (10 * 1024 * 1024))
    # libzmq drops a peer that sends over ZMQ_MAXMSGSIZE; a new connection is served
    d2 = suite.dealer()
    ok = request(d2, submission("路面塌陷"))
    assert ok.WhichOneof("payload") == "submit_reply"


def test_a_vanished_peer_never_blocks_intake(suite):
    for _ in range(5):
        d = suite.ctx.socket(__import__("zmq").DEALER)
        d.connect(suite.ep("intake"))
        for i in range(200):
            d.send(submission(f"噪音扰民 {i}").SerializeToString())
        d.close(0)  # gone before the replies
    d = suite.dealer()
    ok = request(d, submission("还能提交吗"))
    assert ok.WhichOneof("payload") == "submit_reply"


def test_every_binary_answers_help_and_version():
    import subprocess
    for name in ("bus", "intake", "classifier", "dispatcher", "deadline-timer"):
        exe = str(BIN / f"jiesu-{name}")
        h = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
        assert h.returncode == 0 and "usage:" in h.stdout
        assert name == "bus" or "redis.port" in h.stdout
        v = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        assert v.returncode == 0 and v.stdout.startswith(f"jiesu-{name} ")
        bad = subprocess.run([exe, "--no-such-key", "1"], capture_output=True, text=True, timeout=30)
        assert bad.returncode == 1 and "no-such-key" in bad.stderr


def test_dispositions_end_in_their_stage(suite):
    sub = suite.subscriber(b"jiesu.order.")
    d = suite.dealer()
    fire = request(d, submission("我家楼下的饭店着火了，浓烟很大")).submit_reply.order_id
    emoji = request(d, submission("😀😀😀！！！")).submit_reply.order_id
    legal = request(d, submission("劳动争议已申请仲裁，仲裁委已受理，公司还在拖")).submit_reply.order_id
    want = {fire: "jiesu.order.transferred", emoji: "jiesu.order.manual", legal: "jiesu.order.closed"}
    got = events(sub, lambda g: all(any(t == w and e.subject == o for t, e in g) for o, w in want.items()))
    last = {e.subject: (t, e) for t, e in got if e.subject in want and t == want[e.subject]}
    t, e = last[fire]
    assert e.order.classification.rule == "emergency-fire" and e.order.urgency == types_pb2.URGENCY_EMERGENCY
    assert e.order.stage == types_pb2.STAGE_TRANSFERRED and e.order.close_reason
    t, e = last[emoji]
    assert e.order.stage == types_pb2.STAGE_MANUAL and "Chinese" in e.order.classification.reason
    t, e = last[legal]
    assert e.order.stage == types_pb2.STAGE_CLOSED and e.order.disposition == types_pb2.DISPOSITION_LEGAL_PROCEDURE


def test_bad_messages_on_the_internal_pulls_are_counted_and_dropped(suite):
    import json
    import zmq
    for stage in ("classifier", "dispatcher"):
        p = suite.ctx.socket(zmq.PUSH)
        p.setsockopt(zmq.LINGER, 1000)
        p.connect(suite.ep(stage))
        suite.socks.append(p)
        p.send(b"\xff\x00 not an envelope")
        p.send(submission("no order inside").SerializeToString())  # an envelope without an order
        p.send_multipart([b"two", b"frames"])
    r = suite.redis.client()
    try:
        for stage in ("classifier", "dispatcher"):
            def counted():
                hb = r("GET", f"jiesu:hb:{stage}:{stage}")
                return hb and json.loads(hb)["counters"].get("messages_bad", 0) >= 3
            wait_for(counted, 20, what=f"{stage} counting bad messages")
    finally:
        r.close()
    d = suite.dealer()
    sub = suite.subscriber(b"jiesu.order.dispatched")
    oid = request(d, submission("路灯坏了，晚上很黑")).submit_reply.order_id
    events(sub, lambda g: any(e.subject == oid for _, e in g))  # both stages still work
