"""The deadline-timer fires every clock once: after downtime, in due order and
marked late; across a kill -9 with 100,000 pending timers; across a Redis
restart from its AOF; never for a stale generation or a timer fired before;
and it recomputes provisional deadlines when the calendar is reloaded."""
import json
import shutil
import subprocess
import time

import pytest

from suite import BIN, ROOT, Suite, envelope_pb2, types_pb2, wait_for

PENDING = 100_000   # timers far in the future: they must stay pending
DUE = 5_000         # timers that come due during the test


def member(i, due, what="due", gen=1, epoch="0.0", unit=None, kind="h"):
    # ORDER|UNIT|KIND|WHAT|FIRE_MS|DUE_MS|GEN|EPOCH|LIMIT (common/timer.h)
    unit = f"unit-{i % 7}" if unit is None else unit
    return f"T{i:025d}|{unit}|{kind}|{what}|{due}|{due}|{gen}|{epoch}|24h"


def oid(i):
    return f"T{i:025d}"


def arm(r, items, orders=()):
    """ZADD the members; HSET an order hash for each id in orders (a timer of
    an order that does not exist records nothing)."""
    cmds = [["HSET", "o:{%s}" % o, "v", 1] for o in orders]
    for b, score, m in items:
        cmds.append(["ZADD", "jiesu:tm:{%d}" % b, score, m])
    for i in range(0, len(cmds), 5000):
        for rep in r.pipeline(cmds[i:i + 5000]):
            assert not isinstance(rep, Exception), rep


def recorded(r, prefix=b"jiesu.clock."):
    """order id -> number of clock events recorded in the stream."""
    counts, last = {}, "-"
    while True:
        batch = r("XRANGE", "jiesu:events", last, "+", "COUNT", 5000)
        if last != "-":
            batch = batch[1:]
        if not batch:
            return counts
        for _, f in batch:
            d = dict(zip(f[::2], f[1::2]))
            if d[b"t"].startswith(prefix):
                counts[d[b"o"].decode()] = counts.get(d[b"o"].decode(), 0) + 1
        last = batch[-1][0].decode()


def clock_events(r, order, prefix=b"jiesu.clock."):
    out = []
    for _, f in r("XRANGE", "jiesu:events", "-", "+"):
        x = dict(zip(f[::2], f[1::2]))
        if x[b"o"].decode() == order and x[b"t"].startswith(prefix):
            out.append((x[b"t"].decode(), envelope_pb2.Envelope.FromString(x[b"e"])))
    return out


@pytest.fixture
def suite():
    s = Suite(services=["bus", "deadline-timer"],
              extra_env={"JIESU_TIMER_LEASE_MS": "1500", "JIESU_TIMER_BATCH": "500"}).start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)


def test_kill9_with_100k_pending_fires_each_once(suite):
    r = suite.redis.client()
    now = int(time.time() * 1000)
    far = now + 30 * 86400_000
    items = [(i % 16, far, member(i, far)) for i in range(PENDING)]
    items += [(i % 16, now + 500 + i % 3000, member(PENDING + i, now + 500 + i % 3000)) for i in range(DUE)]
    want = {oid(PENDING + i) for i in range(DUE)}
    arm(r, items, orders=want)
    wait_for(lambda: len(recorded(r)) >= DUE // 3, 60, what="a third fired")
    suite.kill_service("deadline-timer")   # mid-round: claims held, not acknowledged
    time.sleep(0.5)
    suite.start_service("deadline-timer")  # its claims come back when their lease ends
    counts = wait_for(lambda: (lambda c: c if want <= set(c) else None)(recorded(r)), 90, every=0.5,
                      what="every due timer recorded")
    assert set(counts) == want               # none of the far ones fired
    assert all(counts[o] == 1 for o in want)  # none recorded twice
    pending = sum(r("ZCARD", "jiesu:tm:{%d}" % b) for b in range(16))
    wait_for(lambda: sum(r("ZCARD", "jiesu:tl:{%d}" % b) for b in range(16)) == 0, 30, what="every claim acked")
    assert pending == PENDING
    # each fired timer left its mark: a repeat of it records nothing
    assert all(r("HEXISTS", "o:{%s}" % o, "f:h|unit-%d|due|0.0" % (int(o[1:]) % 7)) for o in list(want)[:50])
    r.close()


def test_after_downtime_fires_in_due_order_marked_late(suite):
    sub = suite.subscriber(b"jiesu.clock.")  # while the timer's heartbeats prove the subscription
    suite.stop_service("deadline-timer")
    r = suite.redis.client()
    now = int(time.time() * 1000)
    # came due while the timer was down: 2 minutes to 1 minute ago, shuffled across buckets
    dues = [now - 120_000 + 1000 * i for i in range(60)]
    arm(r, [((i * 5) % 16, d, member(i, d)) for i, d in enumerate(reversed(dues))], orders=[oid(i) for i in range(60)])
    suite.start_service("deadline-timer")
    got = []
    end = time.time() + 30
    while len(got) < 60 and time.time() < end:
        if sub.poll(200):
            topic, body = sub.recv_multipart()
            if topic == b"jiesu.clock.overdue":
                got.append(envelope_pb2.Envelope.FromString(body).clock_event)
    assert len(got) == 60
    assert [e.due_ms for e in got] == sorted(dues)  # due order across buckets
    assert all(e.late and e.what == "due" and e.limit.amount == 24 and e.limit.unit == 3 for e in got)
    r.close()


def test_redis_restart_from_aof_keeps_pending_timers(suite):
    r = suite.redis.client()
    now = int(time.time() * 1000)
    due = now + 4000
    arm(r, [(i % 16, due, member(i, due)) for i in range(1000)], orders=[oid(i) for i in range(1000)])
    r.close()
    time.sleep(1.2)  # appendfsync everysec
    suite.redis.kill()
    suite.redis.start()
    r = suite.redis.client()
    counts = wait_for(lambda: (lambda c: c if len(c) >= 1000 else None)(recorded(r)), 60, every=0.5,
                      what="timers fired after the restart")
    assert len(counts) == 1000 and all(v == 1 for v in counts.values())
    r.close()


def test_stale_generation_and_fired_mark_record_nothing(suite):
    """A clock whose schedule moved (g: field) does not fire its old members;
    a timer re-armed after it fired (same what, same epoch) does not fire again;
    a new epoch (an extension) does."""
    r = suite.redis.client()
    now = int(time.time() * 1000)
    o = oid(7)
    r("HSET", "o:{%s}" % o, "v", 5, "g:h|u", 5)
    stale = member(7, now - 10, gen=3, unit="u")            # armed before the pause: gen 3
    cur = member(7, now - 5, gen=5, unit="u", what="f0.5", epoch="0")
    arm(r, [(0, now - 10, stale), (0, now - 5, cur)])
    evs = wait_for(lambda: (lambda e: e if len(e) >= 1 else None)(clock_events(r, o)), 20, what="the current one")
    time.sleep(1.0)
    evs = clock_events(r, o)
    assert [(t, e.clock_event.what) for t, e in evs] == [("jiesu.clock.warning", "f0.5")]
    assert r("HGET", "o:{%s}" % o, "f:h|u|f0.5|0") is not None
    # re-armed (e.g. the plan after a resume) with another fire time: the mark holds
    again = member(7, now + 100, gen=5, unit="u", what="f0.5", epoch="0")
    later = member(7, now + 200, gen=5, unit="u", what="due", epoch="0.1")
    arm(r, [(0, now + 100, again), (0, now + 200, later)])
    wait_for(lambda: len(clock_events(r, o)) >= 2, 20, what="the overdue of the new epoch")
    time.sleep(1.0)
    assert [e.clock_event.what for _, e in clock_events(r, o)] == ["f0.5", "due"]
    assert sum(r("ZCARD", "jiesu:tl:{%d}" % b) for b in range(16)) == 0
    r.close()


def test_a_month_in_a_second_fires_the_armed_clocks(make_suite):
    """Time is steerable (clock.offset_ms): an order dispatched now is overdue
    for the timer that lives 30 days ahead; every warning of the plan fires
    once, shares, hours before due, then overdue."""
    from suite import request, submission
    s = make_suite()
    sub_ctx = __import__("zmq").Context()
    try:
        d = sub_ctx.socket(__import__("zmq").DEALER)
        d.setsockopt(__import__("zmq").LINGER, 0)
        d.connect(s.ep("intake"))
        order = request(d, submission("小区东门的下水道堵了，污水漫到路面")).submit_reply.order_id
        r = s.redis.client()
        wait_for(lambda: r("HGET", "o:{%s}" % order, "stage") == b"4", 30, what="dispatched")
        s.extra_env["JIESU_CLOCK_OFFSET_MS"] = str(30 * 86400_000)
        s.restart_service("deadline-timer")

        def fired():
            kinds = [(t, e.clock_event.clock, e.clock_event.what) for t, e in clock_events(r, order)]
            return ("jiesu.clock.overdue", 2, "due") in kinds and ("jiesu.clock.overdue", 1, "due") in kinds and kinds
        kinds = wait_for(fired, 30, every=0.3, what="the order's clocks to fire")
        handling = [k for k in kinds if k[1] == 2]
        assert [k[2] for k in handling] == ["f0.5", "f0.8", "b4h", "due"]
        assert [k[0] for k in handling] == ["jiesu.clock.warning"] * 3 + ["jiesu.clock.overdue"]
        marks = [k.decode() for k in r("HKEYS", "o:{%s}" % order) if k.startswith(b"f:")]
        assert len(marks) == len(kinds)  # one mark per fired timer
        r.close()
        d.close(0)
    finally:
        sub_ctx.term()


def test_sighup_reloads_the_calendar_or_keeps_the_old_one(make_suite, tmp_path):
    """A newly published year is loaded with SIGHUP; a broken file is refused and
    the calendar in use stays."""
    import signal
    cal = tmp_path / "holidays"
    shutil.copytree(ROOT / "config" / "holidays", cal)
    s = make_suite(env={"JIESU_CALENDAR_DIR": str(cal)})
    for name in ("dispatcher", "deadline-timer"):
        s.signal_service(name, signal.SIGHUP)
        wait_for(lambda: "calendar reloaded" in s.log(name), 20, what=f"{name} reloading")
    (cal / "2027.json").write_text('{"year": 2027, "days": [{"name": "x", "date": "2027-02-30", "isOffDay": true}]}')
    s.signal_service("dispatcher", signal.SIGHUP)
    wait_for(lambda: "calendar reload refused" in s.log("dispatcher"), 20, what="the broken file refused")
    c = s.client()
    order = c.submit("小区东门的下水道堵了，污水漫到路面").submit_reply.order_id
    r = s.redis.client()
    wait_for(lambda: r("HGET", "o:{%s}" % order, "stage") == b"4", 30, what="dispatched with the old calendar")
    r.close()


# ---- provisional deadlines ----------------------------------------------------------

MON_2026_12_21 = 1797818400000   # 2026-12-21T10:00:00+08:00
DUE_OLD = 1799078399000          # 2027-01-04T23:59:59+08:00: 10wd counting 2027 by weekends only
DUE_NEW = 1799164799000          # 2027-01-05T23:59:59+08:00: with 1 January a holiday
NEW_2027 = {"year": 2027, "papers": [], "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": True}]}


def ctl(s, *args, timeout=30):
    cmd = [str(BIN / "jiesuctl"), "--redis.port", str(s.redis.port), "--timer.control", s.ep("timer"),
           "--timeout-ms", "15000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=s.env("jiesuctl"))


def store_provisional_order(r, order, version=3):
    """An order dispatched on 2026-12-21 with 10 working days into 2027, as the
    dispatcher stores it (clock, assignment, SADD jiesu:prov)."""
    lim = types_pb2.Limit(amount=10, unit=types_pb2.LIMIT_UNIT_WORKING_DAYS)
    o = types_pb2.Order(id=order, stage=types_pb2.STAGE_DISPATCHED, version=version)
    o.assignments.add(unit_id="u", role=1, limit=lim, due_ms=DUE_OLD, provisional=True)
    c = o.clocks.add(kind=types_pb2.CLOCK_KIND_HANDLING, unit_id="u", due_ms=DUE_OLD, original_due_ms=DUE_OLD,
                     provisional=True)
    c.events.add(kind=types_pb2.CLOCK_EVENT_START, time_ms=MON_2026_12_21, limit=lim)
    r("HSET", "o:{%s}" % order, "stage", 4, "v", version, "d", o.SerializeToString())
    r("SADD", "jiesu:prov", order)
    old = f"{order}|u|h|due|{DUE_OLD + 1}|{DUE_OLD}|{version}|0.0|10wp"
    r("ZADD", "jiesu:tm:{0}", DUE_OLD + 1, old)
    return old


@pytest.fixture
def prov_suite(tmp_path):
    cal = tmp_path / "holidays"
    shutil.copytree(ROOT / "config" / "holidays", cal)
    assert json.loads((cal / "2027.json").read_text())["days"] == []  # 2027 not published
    now = int(time.time() * 1000)
    s = Suite(services=["bus", "deadline-timer"],
              extra_env={"JIESU_CALENDAR_DIR": str(cal),
                         "JIESU_CLOCK_OFFSET_MS": str(MON_2026_12_21 + 3600_000 - now)}).start()
    s.cal = cal
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)


def test_reload_recomputes_provisional_deadlines(prov_suite):
    s = prov_suite
    r = s.redis.client()
    order = oid(4242)
    old = store_provisional_order(r, order)
    sub = s.subscriber(b"jiesu.clock.recomputed")
    (s.cal / "2027.json").write_text(json.dumps(NEW_2027))
    p = ctl(s, "calendar", "reload")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["examined"] == 1 and got["orders"] == 1 and got["clocks"] == 1 and got["conflicts"] == 0
    assert got["files"] >= 5
    evs = clock_events(r, order, b"jiesu.clock.recomputed")
    assert len(evs) == 1
    ce = evs[0][1].clock_event
    assert (ce.previous_due_ms, ce.due_ms, ce.provisional) == (DUE_OLD, DUE_NEW, False)
    assert evs[0][1].version == 4
    assert sub.poll(5000), "published on the bus"
    stored = types_pb2.Order.FromString(r("HGET", "o:{%s}" % order, "d"))
    assert stored.version == 4 and stored.clocks[0].due_ms == DUE_NEW and not stored.clocks[0].provisional
    assert stored.assignments[0].due_ms == DUE_NEW
    assert stored.history[-1].type == "jiesu.clock.recomputed"
    assert r("HMGET", "o:{%s}" % order, "v", "g:h|u") == [b"4", b"4"]
    assert r("SISMEMBER", "jiesu:prov", order) == 0            # nothing provisional any more
    plan = [m.decode() for b in range(16) for m in r("ZRANGE", "jiesu:tm:{%d}" % b, 0, -1)
            if m.decode().startswith(order)]
    new = [m for m in plan if m != old]
    assert sorted(m.split("|")[3] for m in new) == ["b4h", "due", "f0.5", "f0.8"]
    assert all(m.split("|")[6] == "4" and m.split("|")[8] == "10w" for m in new)
    assert f"{order}|u|h|due|{DUE_NEW + 1}|{DUE_NEW}|4|0.0|10w" in new
    # the old member is stale now: the timer will record nothing for it
    # a second reload: nothing left to recompute
    p = ctl(s, "calendar", "reload")
    assert p.returncode == 0 and json.loads(p.stdout)["examined"] == 0
    r.close()


def test_reload_with_a_malformed_file_is_refused_and_changes_nothing(prov_suite):
    s = prov_suite
    r = s.redis.client()
    order = oid(4343)
    store_provisional_order(r, order)
    before = r("HGETALL", "o:{%s}" % order)
    (s.cal / "2027.json").write_text('{"year": 2027, "days": [{"name": "x", "date": "2027-02-30", "isOffDay": true}]}')
    p = ctl(s, "calendar", "reload")
    assert p.returncode == 1
    assert "bad_calendar" in p.stderr and "2027-02-30" in p.stderr
    time.sleep(0.5)
    assert r("HGETALL", "o:{%s}" % order) == before
    assert clock_events(r, order, b"jiesu.clock.recomputed") == []
    assert r("SISMEMBER", "jiesu:prov", order) == 1
    # the calendar in use stays: a good file later is taken
    (s.cal / "2027.json").write_text(json.dumps(NEW_2027))
    p = ctl(s, "calendar", "reload")
    assert p.returncode == 0 and json.loads(p.stdout)["orders"] == 1
    r.close()


def test_time_control_is_refused_unless_allowed(suite):
    import zmq
    ctx = zmq.Context()
    try:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(suite.ep("timer"))
        env = envelope_pb2.Envelope(id="01JABCDEFGHJKMNPQRSTVWXYZ0", type="jiesu.timer.control", source="test",
                                    spec_version="1.0", time_ms=int(time.time() * 1000))
        env.timer_control.command = types_pb2.TIMER_COMMAND_CLOCK_OFFSET
        env.timer_control.offset_ms = 86400_000
        d.send(env.SerializeToString())
        assert d.poll(10000)
        rep = envelope_pb2.Envelope.FromString(d.recv_multipart()[-1])
        assert rep.WhichOneof("payload") == "error" and rep.error.code == "forbidden"
        d.close(0)
    finally:
        ctx.term()


def test_time_control_moves_the_clock_when_allowed():
    """With timer.allow_time_control a test jumps a week ahead over the control
    socket: a timer due in 5 days fires at once, one due in 10 days does not."""
    import zmq
    s = Suite(services=["bus", "deadline-timer"], extra_env={"JIESU_TIMER_ALLOW_TIME_CONTROL": "true"}).start()
    ctx = zmq.Context()
    try:
        r = s.redis.client()
        now = int(time.time() * 1000)
        soon, late = now + 5 * 86400_000, now + 10 * 86400_000
        arm(r, [(0, soon, member(1, soon)), (0, late, member(2, late))], orders=[oid(1), oid(2)])
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(s.ep("timer"))
        env = envelope_pb2.Envelope(id="01JABCDEFGHJKMNPQRSTVWXYZ1", type="jiesu.timer.control", source="test")
        env.timer_control.command = types_pb2.TIMER_COMMAND_CLOCK_OFFSET
        env.timer_control.offset_ms = 7 * 86400_000
        d.send(env.SerializeToString())
        assert d.poll(10000)
        rep = envelope_pb2.Envelope.FromString(d.recv_multipart()[-1])
        assert rep.WhichOneof("payload") == "timer_control_reply", rep
        assert rep.correlation_id == env.id and rep.timer_control_reply.offset_ms == 7 * 86400_000
        assert abs(rep.timer_control_reply.now_ms - (now + 7 * 86400_000)) < 60_000
        counts = wait_for(lambda: (lambda c: c if oid(1) in c else None)(recorded(r)), 20, what="the 5-day timer")
        time.sleep(0.5)
        assert set(recorded(r)) == {oid(1)}
        d.close(0)
        r.close()
    finally:
        ctx.term()
        codes, problems = s.stop()
        assert not problems, "\n".join(problems)
