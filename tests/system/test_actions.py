"""The whole life of an order through the real suite: dispatch paths, unit and
reviewer actions on the dispatcher's ROUTER, every clock, every refusal.

A test talks as an outside client would: a ZeroMQ DEALER sending Envelopes
with a UnitAction or ReviewDecision built with Google's protobuf, the bus for
events, Redis only to read what was stored. One scenario per path of issue 5."""
import json
import signal
import subprocess
import threading
import time

import pytest
import zmq

from jiesu_harness import BIN, SLOW, decode, envelope, wait_for
from jiesu.v1 import types_pb2 as T

WATER = "金河路梨园小区从早上开始停水，到现在水龙头不出水，家里有老人"            # util-water, 24 h
ILLEGAL_BUILD = "鼓楼大街钟楼巷23号有住户在楼顶加盖彩钢房，属于违章建筑，希望尽快处理"  # street + assist + copy
SCHOOL = "梨园小区旁边的学校门口放学时段家长车辆乱停乱放，孩子过马路很危险，希望安排人员疏导"  # lead + 2 assists
LEGACY = "兰亭苑小区的产权问题属于历史遗留，多年未解决，多个部门推诿"             # consultation


class Desk:
    """A unit's or reviewer's desk: a DEALER to the dispatcher's action ROUTER."""

    open_desks = []

    def __init__(self, suite, client=None):
        self.suite = suite
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(suite.ep("actions"))
        Desk.open_desks.append(self)

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    @classmethod
    def close_all(cls):
        while cls.open_desks:
            cls.open_desks.pop().close()

    def send(self, oid, action, role, env_id=None, **kw):
        e = envelope(type="jiesu.action")
        if env_id:
            e.id = env_id
        if action in REVIEW:
            m = e.review_decision
            m.kind = REVIEW[action]
            for u in kw.pop("to", []):
                a = m.assignments.add()
                a.unit_id = u
            if "satisfaction" in kw:
                m.rating.satisfaction = kw.pop("satisfaction")
                m.rating.resolved = kw.pop("resolved", True)
        else:
            m = e.unit_action
            m.kind = UNIT[action]
            if "limit" in kw:
                amount, unit = kw.pop("limit")
                m.new_limit.amount, m.new_limit.unit = amount, unit
        m.order_id = oid
        if role.startswith("unit:"):
            m.actor.role = T.ACTOR_ROLE_UNIT
            m.actor.unit_id = role[5:]
        else:
            m.actor.role = {"operator": T.ACTOR_ROLE_OPERATOR, "reviewer": T.ACTOR_ROLE_REVIEWER,
                            "admin": T.ACTOR_ROLE_ADMIN, "requester": T.ACTOR_ROLE_REQUESTER}[role]
        m.actor.name = "tester"
        for k, v in kw.items():
            setattr(m, k, v)
        self.sock.send(e.SerializeToString())
        return e.id

    def recv(self, want_id, timeout=10.0):
        while True:
            assert self.sock.poll(int(timeout * SLOW * 1000)), "no answer from the dispatcher"
            r = decode(self.sock.recv())
            if r.correlation_id in (want_id, ""):
                return r

    def act(self, oid, action, role, **kw):
        return self.recv(self.send(oid, action, role, **kw))

    def ok(self, oid, action, role, **kw):
        r = self.act(oid, action, role, **kw)
        assert r.WhichOneof("payload") == "action_reply", f"{action} by {role}: {r}"
        return r.action_reply

    def refused(self, oid, action, role, **kw):
        r = self.act(oid, action, role, **kw)
        assert r.WhichOneof("payload") == "error", f"{action} by {role} was applied: {r}"
        return r.error


UNIT = {"accept": T.UNIT_ACTION_ACCEPT, "contact": T.UNIT_ACTION_CONTACT, "note": T.UNIT_ACTION_NOTE,
        "return": T.UNIT_ACTION_RETURN, "extend": T.UNIT_ACTION_EXTEND, "escalate": T.UNIT_ACTION_ESCALATE,
        "report": T.UNIT_ACTION_REPORT, "complete": T.UNIT_ACTION_COMPLETE}
REVIEW = {"approve": T.REVIEW_KIND_APPROVE, "refuse": T.REVIEW_KIND_REFUSE, "assign": T.REVIEW_KIND_ASSIGN,
          "reopen": T.REVIEW_KIND_REOPEN, "close": T.REVIEW_KIND_CLOSE}


def load(r, oid):
    o = T.Order()
    o.ParseFromString(r("HGET", "o:{%s}" % oid, "d"))
    return o


def order_after_dispatch(suite, client, text, **kw):
    oid = client.submit_id(text, **kw)
    r = suite.redis.client()
    try:
        wait_for(lambda: r("HGET", "o:{%s}" % oid, "stage") not in (b"1", b"2"), 15, what="the dispatch of " + oid)
        return oid, load(r, oid)
    finally:
        r.close()


def clock(o, kind, unit):
    for c in reversed(o.clocks):
        if c.kind == kind and c.unit_id == unit:
            return c
    raise AssertionError(f"no clock {T.ClockKind.Name(kind)} of {unit}: {o.clocks}")


def kinds(c):
    return [T.ClockEventKind.Name(e.kind)[len("CLOCK_EVENT_"):].lower() for e in c.events]


def roles(o):
    return {a.unit_id: T.AssignmentRole.Name(a.role)[len("ASSIGNMENT_ROLE_"):].lower() for a in o.assignments}


# These scenarios test the dispatcher: the classifier decides every order
# itself (thresholds 0), so none waits in the manual queue for an operator.
AUTO = {"JIESU_CLASSIFIER_THRESHOLD": "0", "JIESU_CLASSIFIER_TYPE_THRESHOLD": "0"}


@pytest.fixture
def env(make_suite):
    s = make_suite(env=AUTO)
    c = s.client()
    r = s.redis.client()
    yield s, c, Desk(s, c), r
    Desk.close_all()
    r.close()


# ---- the dispatch paths ------------------------------------------------------------------------------------------

def test_direct_to_a_utility_then_the_whole_life_to_closed(env):
    s, c, desk, r = env
    sub = c.subscribe("jiesu.order.")
    oid, o = order_after_dispatch(s, c, WATER)
    assert o.stage == T.STAGE_DISPATCHED and roles(o) == {"util-water": "lead"}
    lead = "unit:util-water"
    h = clock(o, T.CLOCK_KIND_HANDLING, "util-water")
    assert h.events[0].limit.unit == T.LIMIT_UNIT_HOURS                 # a utility's clock runs day and night
    assert r("HGET", "o:{%s}" % oid, "asg") == b"util-water=L"

    assert desk.ok(oid, "accept", lead).stage == T.STAGE_ACCEPTED
    assert desk.ok(oid, "contact", lead, reason="电话联系了诉求人").stage == T.STAGE_ACCEPTED
    o = load(r, oid)
    assert kinds(clock(o, T.CLOCK_KIND_RESPONSE, "util-water")) == ["start", "stop"]
    assert o.assignments[0].accepted_ms and o.assignments[0].contacted_ms
    desk.ok(oid, "note", lead, reason="已派抢修班组")
    rep = desk.ok(oid, "complete", lead, answer="管道已抢修，下午三点恢复供水")
    assert rep.stage == T.STAGE_COMPLETION_REVIEW and rep.event_type == "jiesu.order.completion_requested"
    assert kinds(clock(load(r, oid), T.CLOCK_KIND_HANDLING, "util-water")) == ["start", "pause"]
    assert desk.ok(oid, "approve", "reviewer").stage == T.STAGE_CALLBACK
    o = load(r, oid)
    assert o.answer == "管道已抢修，下午三点恢复供水"
    assert kinds(clock(o, T.CLOCK_KIND_HANDLING, "util-water")) == ["start", "pause", "stop"]
    cb = clock(o, T.CLOCK_KIND_CALLBACK, "")
    assert kinds(cb) == ["start"] and cb.due_ms > o.history[-1].time_ms
    rep = desk.ok(oid, "close", "operator", reason="回访满意", satisfaction=5, resolved=True)
    assert rep.stage == T.STAGE_CLOSED
    o = load(r, oid)
    assert o.rating.satisfaction == 5 and o.rating.resolved and o.close_reason == "回访满意"
    assert kinds(clock(o, T.CLOCK_KIND_CALLBACK, "")) == ["start", "stop"]
    # every transition is on the bus, decodable, in order, and in the history with its actor
    want = ["jiesu.order.accepted", "jiesu.order.contacted", "jiesu.order.noted", "jiesu.order.completion_requested",
            "jiesu.order.completed", "jiesu.order.closed"]
    got = []
    deadline = time.time() + 10 * SLOW
    while len(got) < len(want) and time.time() < deadline:
        m = sub.next(0.5)
        if m and m[1].subject == oid and m[0] in want:
            got.append(m[0])
            assert m[1].order.id == oid
    assert got == want
    hist = [(e.type, T.ActorRole.Name(e.actor.role)) for e in o.history[-6:]]
    assert hist[0] == ("jiesu.order.accepted", "ACTOR_ROLE_UNIT") and hist[-1] == ("jiesu.order.closed", "ACTOR_ROLE_OPERATOR")
    # jiesuctl show explains the clocks with their events
    out = subprocess.run([str(BIN / "jiesuctl"), "--redis.port", str(s.redis.port), "show", oid], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["stage"] == "closed"
    assert any(c["kind"] == "callback" for c in shown["clocks"])


def test_street_lead_with_assist_and_district_copy(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, ILLEGAL_BUILD)
    assert roles(o) == {"cj-gulou": "lead", "city-urban": "assist", "cj-gov": "copy"}   # beijing: copy to the district
    assert o.profile == "beijing" and o.catalog_item == "cx-015"
    assert {(k.kind, k.unit_id) for k in o.clocks} == {
        (T.CLOCK_KIND_RESPONSE, "cj-gulou"), (T.CLOCK_KIND_HANDLING, "cj-gulou"), (T.CLOCK_KIND_ASSIST, "city-urban")}
    # the copy supervises: it may note, never handle
    desk.ok(oid, "note", "unit:cj-gov", reason="区政府已关注")
    e = desk.refused(oid, "accept", "unit:cj-gov")
    assert e.code == "forbidden"
    # the assist accepts without moving the order, and reports to its lead within its own limit
    assert desk.ok(oid, "accept", "unit:city-urban").stage == T.STAGE_DISPATCHED
    assert desk.ok(oid, "report", "unit:city-urban", reason="执法队已现场取证").stage == T.STAGE_DISPATCHED
    o = load(r, oid)
    assert kinds(clock(o, T.CLOCK_KIND_ASSIST, "city-urban")) == ["start", "stop"]
    assert kinds(clock(o, T.CLOCK_KIND_HANDLING, "cj-gulou")) == ["start"]
    assert desk.refused(oid, "report", "unit:city-urban", reason="again").code == "not_allowed"


def test_lead_and_two_assists_each_with_its_own_limit(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, SCHOOL)
    assert roles(o) == {"cj-jinhe": "lead", "city-traffic-police": "assist", "cj-jinhe-liyuan": "assist",
                        "cj-gov": "copy"}
    limits = {a.unit_id: (a.limit.amount, a.limit.unit) for a in o.assignments if a.role == T.ASSIGNMENT_ROLE_ASSIST}
    assert limits == {"city-traffic-police": (5, T.LIMIT_UNIT_WORKING_DAYS),
                      "cj-jinhe-liyuan": (3, T.LIMIT_UNIT_WORKING_DAYS)}
    dues = {a.unit_id: a.due_ms for a in o.assignments}
    assert dues["cj-jinhe-liyuan"] < dues["city-traffic-police"] < dues["cj-jinhe"]
    assert all(a.reports_to == "cj-jinhe" for a in o.assignments if a.role == T.ASSIGNMENT_ROLE_ASSIST)
    # a stranger unit is refused and the refusal is audited
    before = r("XLEN", "jiesu:audit")
    assert desk.refused(oid, "accept", "unit:city-water").code == "forbidden"
    assert r("XLEN", "jiesu:audit") == before + 1
    entry = r("XREVRANGE", "jiesu:audit", "+", "-", "COUNT", 1)[0][1]
    fields = dict(zip(entry[::2], entry[1::2]))
    assert fields[b"o"] == oid.encode() and fields[b"actor"] == b"unit:city-water" and fields[b"code"] == b"forbidden"
    desk.ok(oid, "report", "unit:city-traffic-police", reason="已增派警力")
    desk.ok(oid, "report", "unit:cj-jinhe-liyuan", reason="社区志愿者已到位")
    desk.ok(oid, "accept", "unit:cj-jinhe")
    assert desk.ok(oid, "complete", "unit:cj-jinhe", answer="已协调交警和社区，放学时段有人疏导").stage == \
        T.STAGE_COMPLETION_REVIEW


def test_consultation_then_assign_fixes_the_units(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, LEGACY)
    assert o.stage == T.STAGE_CONSULTATION and not o.assignments
    e = desk.refused(oid, "assign", "reviewer", to=["no-such-unit"])
    assert e.code == "bad_request" and "no-such-unit" in e.message
    rep = desk.ok(oid, "assign", "reviewer", to=["cj-qingfeng", "city-housing"], reason="会商确定")
    assert rep.stage == T.STAGE_DISPATCHED and rep.event_type == "jiesu.order.dispatched"
    o = load(r, oid)
    assert roles(o)["cj-qingfeng"] == "lead" and roles(o)["city-housing"] == "assist"
    assert all(a.fixed for a in o.assignments)
    # a unit fixed by consultation cannot return the order again (ZS art. 17)
    e = desk.refused(oid, "return", "unit:cj-qingfeng", reason="不属于我们", legal_basis="《条例》")
    assert e.code == "not_allowed" and "consultation" in e.message


# ---- returns ------------------------------------------------------------------------------------------------------

def test_return_approved_redispatches_and_counts_afresh(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, ILLEGAL_BUILD)
    first_due = o.assignments[0].due_ms
    assert desk.refused(oid, "return", "unit:cj-gulou", reason="不是我们的").code == "bad_request"   # no basis
    rep = desk.ok(oid, "return", "unit:cj-gulou", reason="属于城管执法范围", legal_basis="《青川市城市管理条例》第十二条",
                  to_unit="city-urban")
    assert rep.stage == T.STAGE_RETURN_REVIEW and rep.event_type == "jiesu.order.returned"
    o = load(r, oid)
    assert o.pending.kind == T.UNIT_ACTION_RETURN and o.pending.unit_id == "cj-gulou"
    assert kinds(clock(o, T.CLOCK_KIND_HANDLING, "cj-gulou")) == ["start", "pause"]   # review time does not count
    # the unit cannot act while its return is reviewed
    assert desk.refused(oid, "complete", "unit:cj-gulou", answer="x").code == "not_allowed"
    time.sleep(0.2)
    rep = desk.ok(oid, "approve", "reviewer", to=["city-urban"])
    assert rep.stage == T.STAGE_DISPATCHED and rep.event_type == "jiesu.order.return_approved"
    o = load(r, oid)
    assert roles(o)["city-urban"] == "lead" and "cj-gulou" not in roles(o)
    assert list(o.excluded_units) == ["cj-gulou"] and o.returns == 1 and not o.HasField("pending")
    assert kinds(clock(o, T.CLOCK_KIND_HANDLING, "cj-gulou")) == ["start", "pause", "stop"]
    fresh = clock(o, T.CLOCK_KIND_HANDLING, "city-urban")
    assert kinds(fresh) == ["start"] and fresh.events[0].time_ms == o.history[-1].time_ms   # from the new dispatch
    assert kinds(clock(o, T.CLOCK_KIND_ASSIST, "city-urban")) == ["start", "pause", "stop"]  # no longer an assist
    assert fresh.due_ms >= first_due
    # the unit whose return was approved never gets the order back
    desk.ok(oid, "return", "unit:city-urban", reason="属于街道属地管理", legal_basis="《青川市城市管理条例》第八条")
    e = desk.refused(oid, "approve", "reviewer", to=["cj-gulou"])
    assert e.code == "bad_request" and "cannot get the order again" in e.message
    assert load(r, oid).stage == T.STAGE_RETURN_REVIEW


def test_return_refused_resumes_from_first_receipt_without_review_time(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    due0 = clock(o, T.CLOCK_KIND_HANDLING, "util-water").due_ms
    desk.ok(oid, "accept", "unit:util-water")
    desk.ok(oid, "return", "unit:util-water", reason="属于小区物业的二次供水", legal_basis="《城市供水条例》第二十二条")
    paused_at = load(r, oid).history[-1].time_ms
    time.sleep(1.5)
    assert desk.refused(oid, "refuse", "reviewer").code == "bad_request"        # a refusal needs its reason
    rep = desk.ok(oid, "refuse", "reviewer", reason="主管网故障，属供水企业职责")
    assert rep.stage == T.STAGE_ACCEPTED and rep.event_type == "jiesu.order.return_refused"
    o = load(r, oid)
    h = clock(o, T.CLOCK_KIND_HANDLING, "util-water")
    assert kinds(h) == ["start", "pause", "resume"]
    review = h.events[2].time_ms - h.events[1].time_ms
    assert review >= 1400 and h.events[1].time_ms == paused_at
    # an hours clock: the due moment moved by exactly the review time, counted from the first receipt
    assert h.due_ms - due0 == review
    assert o.assignments[0].first_receipt_ms == h.events[0].time_ms


@pytest.fixture
def late_env(make_suite):
    # actions six days after the dispatch: every 1-working-day return window has closed
    s = make_suite(env=dict(AUTO, JIESU_CLOCK_OFFSET_MS=str(6 * 86400 * 1000)))
    c = s.client()
    r = s.redis.client()
    yield s, c, Desk(s, c), r
    Desk.close_all()
    r.close()


def test_a_return_after_the_window_is_refused_and_audited(late_env):
    s, c, desk, r = late_env
    oid, o = order_after_dispatch(s, c, ILLEGAL_BUILD)
    e = desk.refused(oid, "return", "unit:cj-gulou", reason="不是我们的", legal_basis="x")
    assert e.code == "window_closed" and "return window closed" in e.message
    assert load(r, oid).stage == T.STAGE_DISPATCHED
    assert r("XLEN", "jiesu:audit") == 1


# ---- extensions, completion, escalation, reopen -------------------------------------------------------------------

def test_extension_refused_then_approved(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, ILLEGAL_BUILD)
    h0 = clock(o, T.CLOCK_KIND_HANDLING, "cj-gulou")
    desk.ok(oid, "accept", "unit:cj-gulou")
    assert desk.refused(oid, "extend", "unit:cj-gulou", limit=(20, T.LIMIT_UNIT_WORKING_DAYS)).code == "bad_request"
    e = desk.refused(oid, "extend", "unit:cj-gulou", reason="需要司法鉴定", limit=(10, T.LIMIT_UNIT_WORKING_DAYS))
    assert "longer than the current" in e.message
    rep = desk.ok(oid, "extend", "unit:cj-gulou", reason="需要司法鉴定", limit=(20, T.LIMIT_UNIT_WORKING_DAYS))
    assert rep.stage == T.STAGE_EXTENSION_REVIEW
    rep = desk.ok(oid, "refuse", "reviewer", reason="可在原时限内完成")
    assert rep.stage == T.STAGE_ACCEPTED and rep.event_type == "jiesu.order.extension_refused"
    assert clock(load(r, oid), T.CLOCK_KIND_HANDLING, "cj-gulou").due_ms == h0.due_ms
    desk.ok(oid, "extend", "unit:cj-gulou", reason="涉及产权鉴定，须等待鉴定结论", limit=(20, T.LIMIT_UNIT_WORKING_DAYS))
    rep = desk.ok(oid, "approve", "reviewer")
    assert rep.stage == T.STAGE_ACCEPTED and rep.event_type == "jiesu.order.extended"
    o = load(r, oid)
    h = clock(o, T.CLOCK_KIND_HANDLING, "cj-gulou")
    assert kinds(h) == ["start", "extend"]
    assert h.due_ms > h0.due_ms and h.original_due_ms == h0.due_ms       # the original target is kept
    assert o.assignments[0].limit.amount == 20 and o.assignments[0].due_ms == h.due_ms
    # the requester is told the reason and the new limit: the event's history note says both
    assert "涉及产权鉴定" in o.history[-1].note and "due" in o.history[-1].note
    # beijing allows one extension
    e = desk.refused(oid, "extend", "unit:cj-gulou", reason="again", limit=(25, T.LIMIT_UNIT_WORKING_DAYS))
    assert e.code == "not_allowed" and "extension" in e.message


def test_completion_refused_then_approved(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    desk.ok(oid, "accept", "unit:util-water")
    assert desk.refused(oid, "complete", "unit:util-water").code == "bad_request"       # no answer
    desk.ok(oid, "complete", "unit:util-water", answer="已处理")
    rep = desk.ok(oid, "refuse", "reviewer", reason="答复未逐项回应诉求")
    assert rep.stage == T.STAGE_ACCEPTED and rep.event_type == "jiesu.order.completion_refused"
    h = clock(load(r, oid), T.CLOCK_KIND_HANDLING, "util-water")
    assert kinds(h) == ["start", "pause", "resume"]
    desk.ok(oid, "complete", "unit:util-water", answer="一、主管爆裂已修复；二、已通知物业清洗水箱；三、已回复诉求人")
    assert desk.ok(oid, "approve", "reviewer").stage == T.STAGE_CALLBACK


def test_escalation_then_coordination_names_the_units(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, ILLEGAL_BUILD)
    assert desk.refused(oid, "escalate", "unit:cj-gulou", reason="涉及多个部门").code == "bad_request"   # no level
    rep = desk.ok(oid, "escalate", "unit:cj-gulou", reason="涉及多个部门", level=T.ESCALATION_LEVEL_DISTRICT)
    assert rep.stage == T.STAGE_ESCALATED and rep.event_type == "jiesu.order.escalated"
    assert load(r, oid).escalation == T.ESCALATION_LEVEL_DISTRICT
    desk.ok(oid, "note", "unit:cj-gulou", reason="等待区里协调")
    assert desk.refused(oid, "return", "unit:cj-gulou", reason="x", legal_basis="y").code == "not_allowed"
    rep = desk.ok(oid, "assign", "reviewer", to=["city-urban", "cj-gulou"], reason="区政府协调确定")
    assert rep.stage == T.STAGE_DISPATCHED
    o = load(r, oid)
    assert roles(o)["city-urban"] == "lead" and roles(o)["cj-gulou"] == "assist" and o.assignments[0].fixed


def test_reopen_on_the_requesters_dispute(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    desk.ok(oid, "accept", "unit:util-water")
    desk.ok(oid, "complete", "unit:util-water", answer="已恢复供水")
    desk.ok(oid, "approve", "reviewer")
    desk.ok(oid, "close", "operator", reason="回访", satisfaction=1, resolved=False)
    assert desk.refused(oid, "reopen", "reviewer").code == "bad_request"                  # what is disputed?
    assert desk.refused(oid, "reopen", "operator", reason="x").code == "forbidden"
    rep = desk.ok(oid, "reopen", "reviewer", reason="诉求人反映仍然停水")
    assert rep.stage == T.STAGE_DISPATCHED and rep.event_type == "jiesu.order.reopened"
    o = load(r, oid)
    assert o.reopens == 1 and not o.answer and not o.close_reason
    assert kinds(clock(o, T.CLOCK_KIND_HANDLING, "util-water"))[-1] == "reset"    # counted afresh
    assert desk.ok(oid, "accept", "unit:util-water").stage == T.STAGE_ACCEPTED


# ---- bad input and faults -----------------------------------------------------------------------------------------

def test_bad_requests_get_one_clear_line_and_change_nothing(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    v = o.version
    assert desk.refused("01M8ZZZZZZZZZZZZZZZZZZZZZZ", "accept", "unit:util-water").code == "not_found"
    assert desk.refused("not-an-id", "accept", "unit:util-water").code == "bad_request"
    assert desk.refused(oid, "approve", "reviewer").code == "not_allowed"                 # nothing pending
    e = desk.refused(oid, "accept", "unit:util-water", expected_version=v + 5)
    assert e.code == "conflict" and "version" in e.message
    assert desk.refused(oid, "accept", "requester").code == "bad_request"
    e = desk.refused(oid, "note", "unit:util-water")                                     # empty note
    assert e.code == "bad_request"
    e = desk.refused(oid, "accept", "unit:bad id")
    assert e.code == "bad_request"
    # malformed bytes, unknown fields, a huge frame: an error each, the dispatcher goes on
    for raw in (b"\xff\xfe garbage", b"", envelope(type="x").SerializeToString() + b"\xa2\x06\x03abc",
                b"\x0a" + b"\x80" * 10):
        desk.sock.send(raw)
        assert desk.sock.poll(int(10000 * SLOW)), raw
        rep = decode(desk.sock.recv())
        assert rep.WhichOneof("payload") == "error", raw
    # broken UTF-8 in a reason: refused by name; a 2 MB frame: the connection is dropped, the dispatcher goes on
    raw = envelope(type="jiesu.action")
    raw.unit_action.order_id = oid
    raw.unit_action.kind = T.UNIT_ACTION_NOTE
    raw.unit_action.actor.role = T.ACTOR_ROLE_UNIT
    raw.unit_action.actor.unit_id = "util-water"
    raw.unit_action.reason = "断水"                  # its bytes e6 96 ad, then cut into an invalid sequence
    data = raw.SerializeToString().replace("断".encode(), b"\xff\xfe\xc3")
    desk.sock.send(data)
    assert desk.recv(raw.id).error.code == "bad_utf8"
    big = Desk(s)
    big.sock.send(b"\x0a" + b"x" * (2 * 1024 * 1024))
    assert not big.sock.poll(int(1000 * SLOW))                               # no answer to a frame over the limit
    bad = envelope(type="jiesu.action")
    bad.unit_action.order_id = oid
    bad.unit_action.kind = 99
    desk.sock.send(bad.SerializeToString())
    assert desk.recv(bad.id).error.code in ("bad_request", "bad_message")
    assert load(r, oid).version == v
    assert desk.ok(oid, "accept", "unit:util-water").version == v + 1


def test_two_reviewers_at_once_exactly_one_wins(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    desk.ok(oid, "accept", "unit:util-water")
    desk.ok(oid, "complete", "unit:util-water", answer="已恢复供水")
    v = load(r, oid).version
    other = Desk(s, c)
    a = desk.send(oid, "approve", "reviewer", expected_version=v)
    b = other.send(oid, "approve", "reviewer", expected_version=v)
    ra, rb = desk.recv(a), other.recv(b)
    kinds_ = sorted(x.WhichOneof("payload") for x in (ra, rb))
    assert kinds_ == ["action_reply", "error"], (ra, rb)
    err = ra.error if ra.WhichOneof("payload") == "error" else rb.error
    assert err.code == "conflict"
    o = load(r, oid)
    assert o.stage == T.STAGE_CALLBACK and o.version == v + 1
    assert sum(1 for h in o.history if h.type == "jiesu.order.completed") == 1


def test_a_repeated_action_id_is_answered_not_applied(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    eid = "client-action-42"
    first = desk.recv(desk.send(oid, "note", "unit:util-water", env_id=eid, reason="第一次"))
    again = desk.recv(desk.send(oid, "note", "unit:util-water", env_id=eid, reason="第一次"))
    assert first.action_reply.version == again.action_reply.version and again.action_reply.repeated
    assert sum(1 for h in load(r, oid).history if h.type == "jiesu.order.noted") == 1


def test_kill_9_mid_action_loses_nothing_and_applies_nothing_twice(env):
    s, c, desk, r = env
    orders = [order_after_dispatch(s, c, WATER)[0] for _ in range(20)]
    ids = {oid: f"note-{i}" for i, oid in enumerate(orders)}
    sent = []
    for oid in orders:
        sent.append((oid, desk.send(oid, "note", "unit:util-water", env_id=ids[oid], reason="进展")))
        if len(sent) == 10:
            s.kill_service("dispatcher")      # some applied, some not, some answers lost
    s.start_service("dispatcher")
    # the client sends every action again with the same ids, until each is answered
    for oid in orders:
        deadline = time.time() + 20 * SLOW
        while True:
            rep = desk.recv(desk.send(oid, "note", "unit:util-water", env_id=ids[oid], reason="进展"))
            if rep.WhichOneof("payload") == "action_reply" or time.time() > deadline:
                break
            assert rep.error.code == "unavailable", rep
            time.sleep(0.2)
        assert rep.WhichOneof("payload") == "action_reply", rep
    for oid in orders:
        assert sum(1 for h in load(r, oid).history if h.type == "jiesu.order.noted") == 1, oid


def test_jiesuctl_act_as_an_operator_uses_it(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, WATER)
    base = [str(BIN / "jiesuctl"), "--dispatcher", s.ep("actions"), "--redis.port", str(s.redis.port)]
    out = subprocess.run(base + ["act", oid, "accept", "--as", "unit:util-water", "--name", "zhang"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["stage"] == "accepted" and rep["event"] == "jiesu.order.accepted" and rep["repeated"] is False
    out = subprocess.run(base + ["act", oid, "approve", "--as", "reviewer"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "not allowed in stage accepted" in out.stderr
    out = subprocess.run(base + ["act", oid, "extend", "--as", "unit:util-water", "--reason", "等待配件",
                                 "--until", "2099-01-01"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "extension may add at most" in out.stderr
    out = subprocess.run(base + ["act", oid, "frobnicate", "--as", "reviewer"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1 and "unknown action" in out.stderr


# ---- the table: C and Lua agree on every (stage, action, role) -------------------------------------------------------

def test_the_redis_function_enforces_the_same_table_as_the_dispatcher(redis_server):
    rows = [json.loads(l) for l in subprocess.run([str(BIN / "jiesuctl"), "fsm"], capture_output=True, text=True,
                                                  check=True, timeout=30).stdout.splitlines()]
    assert len(rows) > 40
    from jiesu_harness import ROOT, BUILD
    lua = (ROOT / BUILD / "gen" / "functions.lua").read_text()
    r = redis_server.client()
    r("FUNCTION", "LOAD", "REPLACE", lua)
    actors = {"operator": 1, "reviewer": 2, "admin": 4, "unit:L1": 8, "unit:A1": 16, "unit:C1": 32, "system": 64,
              "unit:X9": 128}
    checked = 0
    for stage in range(1, 15):
        for act in list(range(1, 9)) + list(range(11, 16)) + list(range(21, 27)):
            for actor, rc in actors.items():
                row = next((x for x in rows if x["stage_n"] == stage and x["action_n"] == act and x["roles_n"] & rc),
                           None)
                oid = f"T{stage}x{act}x{rc}"
                r("HSET", "o:{%s}" % oid, "stage", stage, "v", 7, "d", b"", "ps", 5, "asg", "L1=L A1=A C1=C")
                nxt = 0 if row is None else (stage if row["next_n"] == -1 else 5 if row["next_n"] == -2
                                             else row["next_n"])
                res = r("FCALL", "jiesu_act", 1, "o:{%s}" % oid, 1000, 100, 60,
                        oid, "", act, actor, stage, 7, nxt, b"new", "", "jiesu.test", b"env", 0, "0", 0, 0)[0]
                if row is None:
                    any_role = any(x["stage_n"] == stage and x["action_n"] == act for x in rows)
                    want = b"forbidden" if any_role else b"not_allowed"
                    assert res[0] == 0 and res[1] == want, (stage, act, actor, res)
                else:
                    assert res[:3] == [1, 8, nxt], (stage, act, actor, res)
                    saved = r("HGET", "o:{%s}" % oid, "ps")
                    assert saved == (str(stage).encode() if row["saves_stage"] else b"5"), (stage, act, actor)
                checked += 1
    assert checked == 14 * 19 * 8
    r.close()


# ---- the clocks reach the deadline-timer -----------------------------------------------------------------------------

def clock_records(r, oid):
    """(event type, ClockEvent) of the order recorded in the stream."""
    out = []
    for _, f in r("XRANGE", "jiesu:events", "-", "+"):
        x = dict(zip(f[::2], f[1::2]))
        if x[b"o"].decode() == oid and x[b"t"].startswith(b"jiesu.clock."):
            out.append((x[b"t"].decode(), decode(x[b"e"]).clock_event))
    return out


def jump(s, ctx, offset_ms):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(s.ep("timer"))
    e = envelope(type="jiesu.timer.control")
    e.timer_control.command = T.TIMER_COMMAND_CLOCK_OFFSET
    e.timer_control.offset_ms = offset_ms
    d.send(e.SerializeToString())
    assert d.poll(int(10000 * SLOW))
    rep = decode(d.recv_multipart()[-1])
    d.close(0)
    assert rep.WhichOneof("payload") == "timer_control_reply", rep


def test_paused_and_stopped_clocks_fire_nothing_and_a_resumed_one_fires_once(make_suite):
    """Review time does not count, and the deadline-timer knows it: a return
    pauses the handling clock (its timers go stale), contact stops the response
    clock; thirty hours later nothing has fired. The refusal resumes the clock
    from the first receipt: its warnings and overdue fire, each once."""
    s = make_suite(env=dict(AUTO, JIESU_TIMER_ALLOW_TIME_CONTROL="true"))
    c = s.client()
    desk = Desk(s, c)
    r = s.redis.client()
    try:
        oid, o = order_after_dispatch(s, c, WATER)
        desk.ok(oid, "accept", "unit:util-water")
        desk.ok(oid, "contact", "unit:util-water")
        desk.ok(oid, "return", "unit:util-water", reason="属于二次供水", legal_basis="《城市供水条例》第二十二条")
        ctx = zmq.Context()
        try:
            jump(s, ctx, 30 * 3600 * 1000)
            time.sleep(3 * SLOW)       # several rounds: everything armed before the pause came due and was claimed
            assert clock_records(r, oid) == []
            assert not [k for k in r("HKEYS", "o:{%s}" % oid) if k.startswith(b"f:")]
            desk.ok(oid, "refuse", "reviewer", reason="主管网故障，属供水企业职责")
            wait_for(lambda: any(t == "jiesu.clock.overdue" for t, _ in clock_records(r, oid)), 20, what="overdue")
            time.sleep(2 * SLOW)       # and nothing more comes
            got = clock_records(r, oid)
            whats = sorted((t, e.what) for t, e in got)
            assert whats == sorted([("jiesu.clock.overdue", "due"), ("jiesu.clock.warning", "f0.5"),
                                    ("jiesu.clock.warning", "f0.8"), ("jiesu.clock.warning", "b4h")]), whats
            assert all(e.clock == T.CLOCK_KIND_HANDLING and e.unit_id == "util-water" and e.late for _, e in got)
            h = clock(load(r, oid), T.CLOCK_KIND_HANDLING, "util-water")
            assert all(e.due_ms == h.due_ms for _, e in got)      # the due moment after the review
            marks = [k for k in r("HKEYS", "o:{%s}" % oid) if k.startswith(b"f:")]
            assert len(marks) == 4
        finally:
            ctx.term()
    finally:
        Desk.close_all()
        r.close()


# ---- district coordination, and the reference data -----------------------------------------------------------------

def test_district_known_but_no_unit_the_district_government_coordinates(env):
    s, c, desk, r = env
    oid, o = order_after_dispatch(s, c, "我们是石湾区的居民，这边的事情反映了很久一直没人管，希望区里统一协调一下")
    assert o.stage == T.STAGE_DISPATCHED, o
    assert roles(o) == {"sw-gov": "coordinate"} and not o.catalog_item
    assert r("HGET", "o:{%s}" % oid, "asg") == b"sw-gov=L"        # the coordinator acts as the handling unit
    assert desk.ok(oid, "accept", "unit:sw-gov").stage == T.STAGE_ACCEPTED
    assert desk.ok(oid, "complete", "unit:sw-gov", answer="区政府已召集街道和住建部门现场协调解决").stage == \
        T.STAGE_COMPLETION_REVIEW


def copy_reference(tmp_path):
    d = tmp_path / "dispatch"
    d.mkdir()
    from jiesu_harness import ROOT
    for name in ("catalog.tsv", "gazetteer.tsv", "units.tsv"):
        (d / name).write_bytes((ROOT / "config" / "dispatch" / name).read_bytes())
    return d


def test_a_malformed_catalog_stops_the_start_and_a_bad_reload_keeps_the_old_one(make_suite, tmp_path):
    d = copy_reference(tmp_path)
    env = dict(AUTO, JIESU_DISPATCH_CATALOG=str(d / "catalog.tsv"), JIESU_DISPATCH_UNITS=str(d / "units.tsv"),
               JIESU_DISPATCH_GAZETTEER=str(d / "gazetteer.tsv"))
    s = make_suite(env=env)
    c = s.client()
    # a broken line: a unit that does not exist, a limit that is no limit
    good = (d / "catalog.tsv").read_text(encoding="utf-8")
    bad = good.replace("\tutil-water\t-\t24h\t2h\t", "\tno-such-unit\t-\tforever\t2h\t", 1)
    assert bad != good
    (d / "catalog.tsv").write_text(bad, encoding="utf-8")
    s.signal_service("dispatcher", signal.SIGHUP)
    wait_for(lambda: "reload refused" in s.log("dispatcher"), 10, what="the refusal in the log")
    assert "catalog.tsv:" in s.log("dispatcher")
    oid, o = order_after_dispatch(s, c, WATER)                     # the old catalog goes on
    assert roles(o) == {"util-water": "lead"}
    # a restart with the broken file refuses to start, saying where
    s.stop_service("dispatcher")
    p = subprocess.run([str(BIN / "jiesu-dispatcher")], env=s.env("dispatcher"), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "catalog.tsv:" in p.stderr, p.stderr
    (d / "catalog.tsv").write_text(good, encoding="utf-8")
    s.start_service("dispatcher")


@pytest.mark.parametrize("profile,escalates", [("beijing", True), ("zhongshan", False)])
def test_an_overdue_order_is_escalated_as_the_profile_says(make_suite, profile, escalates):
    # the timer and the dispatcher both run 30 hours ahead: the 24-hour clock of a water cut is overdue at once
    s = make_suite(env=dict(AUTO, JIESU_CLOCK_OFFSET_MS=str(30 * 3600 * 1000), JIESU_PROFILE=profile))
    c = s.client()
    r = s.redis.client()
    try:
        oid, o = order_after_dispatch(s, c, WATER)
        wait_for(lambda: any(t == "jiesu.clock.overdue" for t, _ in clock_records(r, oid)), 20, what="overdue")
        wait_for(lambda: r("ZCARD", "jiesu:overdue") == 0, 20, what="the overdue set swept")
        o = load(r, oid)
        if escalates:
            assert o.stage == T.STAGE_ESCALATED and o.escalation == T.ESCALATION_LEVEL_DISTRICT
            h = o.history[-1]
            assert h.type == "jiesu.order.escalated" and h.actor.role == T.ACTOR_ROLE_SYSTEM
            assert "overdue.escalate" in h.note
        else:
            assert o.stage == T.STAGE_DISPATCHED and o.escalation == T.ESCALATION_LEVEL_UNSPECIFIED
        assert sum(1 for h in o.history if h.type == "jiesu.order.escalated") == (1 if escalates else 0)
    finally:
        r.close()
