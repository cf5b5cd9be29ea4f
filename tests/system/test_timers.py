"""The deadline-timer fires every clock once: after downtime, in due order and
marked late; across a kill -9 with 100,000 pending timers; across a Redis
restart from its AOF."""
import time

import pytest

from suite import Suite, envelope_pb2, wait_for

PENDING = 100_000   # timers far in the future: they must stay pending
DUE = 5_000         # timers that come due during the test


def member(i, start, due):
    # ORDER|UNIT|KIND|IDX|START|DUE|AMOUNT|LIMIT_UNIT; IDX 2 = the due moment (fractions 0.5,0.8)
    return f"T{i:025d}|unit-{i % 7}|h|2|{start}|{due}|24|3"


def arm(r, items):
    cmds = []
    for b, score, m in items:
        cmds.append(["ZADD", "jiesu:tm:{%d}" % b, score, m])
    for i in range(0, len(cmds), 5000):
        for rep in r.pipeline(cmds[i:i + 5000]):
            assert not isinstance(rep, Exception), rep


def recorded(r):
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
            if d[b"t"].startswith(b"jiesu.clock."):
                counts[d[b"o"].decode()] = counts.get(d[b"o"].decode(), 0) + 1
        last = batch[-1][0].decode()


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
    items = [(i % 16, far, member(i, now, far)) for i in range(PENDING)]
    items += [(i % 16, now + 500 + i % 3000, member(PENDING + i, now, now + 500 + i % 3000)) for i in range(DUE)]
    arm(r, items)
    want = {f"T{PENDING + i:025d}" for i in range(DUE)}
    wait_for(lambda: len(recorded(r)) >= DUE // 3, 60, what="a third fired")
    suite.kill_service("deadline-timer")   # mid-round: claims held, not acknowledged
    time.sleep(0.5)
    suite.start_service("deadline-timer")  # its claims come back when their lease ends
    counts = wait_for(lambda: (lambda c: c if want <= set(c) else None)(recorded(r)), 90, every=0.5,
                      what="every due timer recorded")
    assert set(counts) == want               # none of the far ones fired
    assert all(counts[o] == 1 for o in want)  # none recorded twice
    pending = sum(r("ZCARD", "jiesu:tm:{%d}" % b) for b in range(16))
    leased = sum(r("ZCARD", "jiesu:tl:{%d}" % b) for b in range(16))
    assert pending == PENDING and leased == 0
    r.close()


def test_after_downtime_fires_in_due_order_marked_late(suite):
    sub = suite.subscriber(b"jiesu.clock.")  # while the timer's heartbeats prove the subscription
    suite.stop_service("deadline-timer")
    r = suite.redis.client()
    now = int(time.time() * 1000)
    # came due while the timer was down: 2 minutes to 1 minute ago, shuffled across buckets
    dues = [now - 120_000 + 1000 * i for i in range(60)]
    arm(r, [((i * 5) % 16, d, member(i, d - 3600_000, d)) for i, d in enumerate(reversed(dues))])
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
    assert all(e.late for e in got)
    r.close()


def test_redis_restart_from_aof_keeps_pending_timers(suite):
    r = suite.redis.client()
    now = int(time.time() * 1000)
    due = now + 4000
    arm(r, [(i % 16, due, member(i, now, due)) for i in range(1000)])
    r.close()
    time.sleep(1.2)  # appendfsync everysec
    suite.redis.kill()
    suite.redis.start()
    r = suite.redis.client()
    counts = wait_for(lambda: (lambda c: c if len(c) >= 1000 else None)(recorded(r)), 60, every=0.5,
                      what="timers fired after the restart")
    assert len(counts) == 1000 and all(v == 1 for v in counts.values())
    r.close()


def test_a_month_in_a_second_fires_the_armed_clocks(make_suite):
    """Time is steerable (clock.offset_ms): an order dispatched now is overdue
    for the timer that lives 30 days ahead."""
    from suite import request, submission
    s = make_suite()
    sub_ctx = __import__("zmq").Context()
    try:
        d = sub_ctx.socket(__import__("zmq").DEALER)
        d.setsockopt(__import__("zmq").LINGER, 0)
        d.connect(s.ep("intake"))
        oid = request(d, submission("小区东门的下水道堵了，污水漫到路面")).submit_reply.order_id
        r = s.redis.client()
        wait_for(lambda: r("HGET", "o:{%s}" % oid, "stage") == b"4", 30, what="dispatched")
        s.extra_env["JIESU_CLOCK_OFFSET_MS"] = str(30 * 86400_000)
        s.restart_service("deadline-timer")

        def fired():
            kinds = []
            for _, f in r("XRANGE", "jiesu:events", "-", "+"):
                x = dict(zip(f[::2], f[1::2]))
                if x[b"o"].decode() == oid and x[b"t"].startswith(b"jiesu.clock."):
                    e = envelope_pb2.Envelope.FromString(x[b"e"]).clock_event
                    kinds.append((x[b"t"].decode(), e.clock, round(e.fraction, 1)))
            return len(kinds) >= 4 and kinds
        kinds = wait_for(fired, 30, every=0.3, what="the order's clocks to fire")
        handling = [k for k in kinds if k[1] == 2]
        assert [k[0] for k in handling] == ["jiesu.clock.warning", "jiesu.clock.warning", "jiesu.clock.overdue"]
        assert [k[2] for k in handling] == [0.5, 0.8, 1.0]
        assert ("jiesu.clock.overdue", 1, 1.0) in kinds  # the response clock
        r.close()
        d.close(0)
    finally:
        sub_ctx.term()


def test_sighup_reloads_the_calendar_or_keeps_the_old_one(make_suite, tmp_path):
    """A newly published year is loaded with SIGHUP; a broken file is refused and
    the calendar in use stays."""
    import shutil
    import signal
    from suite import ROOT, request, submission
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
    oid = c.submit("小区东门的下水道堵了，污水漫到路面").submit_reply.order_id
    r = s.redis.client()
    wait_for(lambda: r("HGET", "o:{%s}" % oid, "stage") == b"4", 30, what="dispatched with the old calendar")
    r.close()
