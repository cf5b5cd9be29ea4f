"""Partner hotlines (跨城转办): two suites, A (this city) and B (the partner),
each with its own redis-server and ports, CURVE keys made with jiesuctl keygen.

An order of A in stage transferring goes to B's partner endpoint; B stores it
as a partner order named by A's key; A stores transferred with B's id. B away,
a dispatcher killed mid-transfer, keys not on the allow-list, a payload that
claims another partner: each case ends with exactly one order at B, or none.

Until the dispatcher's decision routes an order located outside the city by
itself, the test puts A's order in stage transferring with FCALL jiesu_advance,
as the dispatcher would (Order.partner_id, re-drive time now in jiesu:due:14)."""
import json
import os
import signal
import subprocess
import time

import pytest

import jiesu_harness as h
from jiesu_harness import envelope, envelope_pb2, free_port, types_pb2, wait_for, zmq

A_ID, B_ID = "cityA", "cityB"
TRANSFERRING, TRANSFERRED = types_pb2.STAGE_TRANSFERRING, types_pb2.STAGE_TRANSFERRED


def keygen(prefix):
    out = subprocess.run([str(h.BIN / "jiesuctl"), "keygen", "--out", str(prefix)], capture_output=True,
                         text=True, timeout=30 * h.SLOW)
    assert out.returncode == 0, out.stderr
    pub = out.stdout.strip()
    assert len(pub) == 40 and (prefix.parent / (prefix.name + ".pub")).read_text().strip() == pub
    assert os.stat(f"{prefix}.key").st_mode & 0o077 == 0
    return pub


class Cities:
    """Keys and files for A and B; B's partner port is chosen up front so B can start later."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.b_port = free_port()
        self.b_ep = f"tcp://127.0.0.1:{self.b_port}"
        self.b_pub = keygen(tmp / "b-intake")
        self.a_pub = keygen(tmp / "a-dispatcher")
        self.allow = tmp / "b-allow.tsv"
        self.allow.write_text(f"# B's allow-list: partner id, client key\n{A_ID}\t{self.a_pub}\n")
        (tmp / "a-peers.tsv").write_text(f"# A's partners\n{B_ID}\t{self.b_ep}\t{self.b_pub}\n")

    def a_env(self, **kw):
        e = {"JIESU_PARTNER_PEERS": str(self.tmp / "a-peers.tsv"),
             "JIESU_PARTNER_CURVE_SECRET_FILE": str(self.tmp / "a-dispatcher.key"),
             "JIESU_PARTNER_CITY_ID": A_ID,
             "JIESU_PARTNER_SWEEP_MS": "100",
             "JIESU_PARTNER_LEASE_MS": "1500",
             "JIESU_PARTNER_TIMEOUT_MS": "1000"}
        e.update(kw)
        return e

    def b_env(self):
        return {"JIESU_INTAKE_PARTNER_BIND": self.b_ep,
                "JIESU_INTAKE_CURVE_SECRET_FILE": str(self.tmp / "b-intake.key"),
                "JIESU_INTAKE_PARTNER_KEYS": str(self.allow)}


@pytest.fixture
def cities(tmp_path):
    return Cities(tmp_path)


def start_a(make_suite, cities, **kw):
    # no classifier: a submitted order stays in stage received until the test moves it
    return make_suite(["bus", "intake", "dispatcher"], env=cities.a_env(**kw))


def start_b(make_suite, cities):
    return make_suite(["bus", "intake"], env=cities.b_env())


def order_of(suite, oid):
    d = suite.redis.cmd("HGET", f"o:{{{oid}}}", "d")
    if d is None:
        return None
    o = types_pb2.Order()
    o.ParseFromString(d)
    return o


def orders_at(suite):
    return sorted(k.decode()[3:-1] for k in suite.redis.cmd("KEYS", "o:*"))


def counters(suite, name):
    hb = suite.redis.cmd("GET", f"jiesu:hb:{name}:{name}")
    return json.loads(hb)["counters"] if hb else {}


def submit_in_a(a, text="邻市的路灯坏了一排，晚上很黑", contact="13800001111"):
    c = a.client()
    oid = c.submit_id(text, contact=contact, address="邻市滨江路88号", key=f"k-{time.time_ns()}")
    wait_for(lambda: order_of(a, oid), 10, what="the order stored in A")
    return oid


def put_in_transferring(a, oid, partner=B_ID):
    """What the dispatcher does for an order located in the partner's area."""
    with a.redis.client() as r:
        stage, v, d = r("HMGET", f"o:{{{oid}}}", "stage", "v", "d")
        o = types_pb2.Order()
        o.ParseFromString(d)
        o.stage = TRANSFERRING
        o.version = int(v) + 1
        o.partner_id = partner
        o.disposition = types_pb2.DISPOSITION_PARTNER
        env = envelope(type="jiesu.order.transferring")
        env.subject = oid
        env.order.CopyFrom(o)
        now = int(time.time() * 1000)
        rep = r("FCALL", "jiesu_advance", 1, f"o:{{{oid}}}", 1000, oid, stage.decode(), v.decode(), TRANSFERRING,
                o.SerializeToString(), "jiesu.order.transferring", env.SerializeToString(), now, 0, 0, 0)
        assert rep == [[1, int(v) + 1]], rep


def wait_transferred(a, oid, timeout=30):
    return wait_for(lambda: (o := order_of(a, oid)) and o.stage == TRANSFERRED and o, timeout,
                    what=f"order {oid} transferred in A")


def check_pair(a, b, oid, partner=B_ID):
    """A's order is transferred with B's id; B has exactly that one order, a partner order from A."""
    ao = wait_transferred(a, oid)
    assert orders_at(b) == [ao.partner_order_id]
    bo = order_of(b, ao.partner_order_id)
    assert bo.channel == types_pb2.CHANNEL_PARTNER
    assert (bo.partner_id, bo.partner_order_id) == (A_ID, oid)
    assert bo.idempotency_key == f"{A_ID}:{oid}"
    assert ao.partner_id == partner
    assert partner in ao.close_reason and ao.partner_order_id in ao.close_reason
    last = ao.history[-1]
    assert last.type == "jiesu.order.transferred"
    assert last.actor.role == types_pb2.ACTOR_ROLE_PARTNER and last.actor.partner_id == partner
    return ao, bo


# ---- the path -----------------------------------------------------------------


def test_transfer_reaches_the_partner_once(make_suite, cities):
    b = start_b(make_suite, cities)
    a = start_a(make_suite, cities)
    sub = a.client().subscribe("jiesu.order.transferred")
    oid = submit_in_a(a)
    assert order_of(a, oid).requester.contact_masked == "138****1111"
    put_in_transferring(a, oid)
    ao, bo = check_pair(a, b, oid)
    assert ao.version == 3  # received, transferring, transferred
    # the text went over; the contact did not (privacy: it stays in A)
    assert bo.content == ao.content and bo.location.address == "邻市滨江路88号"
    assert bo.requester.contact_masked == "" and bo.requester.requester_key == ""
    assert bo.requester.callback_method == types_pb2.CALLBACK_METHOD_NONE
    assert b.redis.cmd("HEXISTS", f"o:{{{bo.id}}}", "c") == 0
    # the event on A's bus and in A's stream
    t, ev = sub.collect(lambda got: any(e.subject == oid for _, e in got), 20)[-1]
    assert ev.order.stage == TRANSFERRED and ev.order.partner_order_id == bo.id and ev.version == 3
    types = [dict(zip(f[::2], f[1::2]))[b"t"].decode() for _, f in a.redis.cmd("XRANGE", "jiesu:events", "-", "+")]
    assert types.count("jiesu.order.transferred") == 1
    # nothing is sent again: B keeps exactly one order
    time.sleep(2 * 1.5 * h.SLOW)
    assert orders_at(b) == [bo.id]
    assert counters(a, "dispatcher").get("partner_transferred") == 1
    assert counters(b, "intake").get("partner_orders") == 1


@pytest.mark.skipif("decide.h" not in (h.ROOT / "services/dispatcher/main.c").read_text(),
                    reason="the dispatcher does not route by location yet (services/dispatcher/decide.c unwired)")
def test_order_located_in_the_partner_area_goes_there(make_suite, cities):
    """The whole way: submitted in A, located in 白沙市 (partner bs12345 in config/dispatch/gazetteer.tsv),
    classified, decided for the partner by the dispatcher, sent, acknowledged."""
    (cities.tmp / "a-peers.tsv").write_text(f"bs12345\t{cities.b_ep}\t{cities.b_pub}\n")
    b = start_b(make_suite, cities)
    a = make_suite(["bus", "intake", "classifier", "dispatcher"], env=cities.a_env())
    oid = a.client().submit_id("白沙市沙湾区的路灯坏了一排，晚上走路很危险", contact="13800002222",
                               address="白沙市沙湾区88号")
    ao, bo = check_pair(a, b, oid, partner="bs12345")
    assert "jiesu.order.classified" in [x.type for x in ao.history]
    assert bo.requester.contact_masked == ""


def test_partner_down_then_up_gets_exactly_one(make_suite, cities):
    a = start_a(make_suite, cities)
    oid = submit_in_a(a)
    put_in_transferring(a, oid)
    # B is not there: the order waits in stage transferring and is tried again each lease
    wait_for(lambda: counters(a, "dispatcher").get("partner_not_connected", 0) >= 2, 20,
             what="two tries while B is away")
    assert order_of(a, oid).stage == TRANSFERRING
    assert "not connected to cityB" in a.log("dispatcher")
    b = start_b(make_suite, cities)
    check_pair(a, b, oid)
    time.sleep(2 * 1.5 * h.SLOW)
    assert len(orders_at(b)) == 1


def test_unknown_partner_waits_in_transferring(make_suite, cities):
    b = start_b(make_suite, cities)
    a = start_a(make_suite, cities)
    lost = submit_in_a(a)
    put_in_transferring(a, lost, partner="cityZ")
    ok = submit_in_a(a, "另一件邻市的事")
    put_in_transferring(a, ok)
    check_pair(a, b, ok)
    wait_for(lambda: counters(a, "dispatcher").get("partner_unknown", 0) >= 1, 10, what="the unknown partner counted")
    assert order_of(a, lost).stage == TRANSFERRING
    assert "partner 'cityZ' is not in partner.peers" in a.log("dispatcher")


def test_dispatcher_killed_mid_transfer_makes_one_order(make_suite, cities):
    b = start_b(make_suite, cities)
    a = start_a(make_suite, cities)
    oid = submit_in_a(a)
    # B takes the submission but cannot store it yet: A's dispatcher waits for the answer
    os.kill(b.redis.proc.pid, signal.SIGSTOP)
    try:
        put_in_transferring(a, oid)
        wait_for(lambda: f'"order":"{oid}"' in a.log("dispatcher") and "partner: sent to cityB" in a.log("dispatcher"),
                 10, what="A's dispatcher sent the order")
        time.sleep(0.3 * h.SLOW)
        a.kill_service("dispatcher")
    finally:
        os.kill(b.redis.proc.pid, signal.SIGCONT)
    # B stores it now and answers a dispatcher that is gone
    wait_for(lambda: len(orders_at(b)) == 1, 15, what="B stored the first send")
    assert order_of(a, oid).stage == TRANSFERRING
    a.start_service("dispatcher")
    ao, bo = check_pair(a, b, oid)
    time.sleep(2 * 1.5 * h.SLOW)
    assert orders_at(b) == [bo.id]


# ---- B's partner endpoint -------------------------------------------------------


def curve_dealer(ctx, cities, public=None, secret=None):
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    if public is None:
        public, secret = zmq.curve_keypair()
    d.curve_publickey, d.curve_secretkey = public, secret
    d.curve_serverkey = cities.b_pub.encode()
    d.connect(cities.b_ep)
    return d


def ask(d, env, timeout=5.0):
    d.send(env.SerializeToString() if not isinstance(env, bytes) else env)
    if not d.poll(int(timeout * h.SLOW * 1000)):
        return None
    r = envelope_pb2.Envelope()
    r.ParseFromString(d.recv())
    return r


def partner_submission(order_id, partner_id="", text="对面城市的一件事"):
    e = envelope(type="jiesu.submission")
    e.submission.channel = types_pb2.CHANNEL_PARTNER
    e.submission.content = text
    e.submission.partner_order_id = order_id
    if partner_id:
        e.submission.partner_id = partner_id
    return e


def a_keys(cities):
    return cities.a_pub.encode(), (cities.tmp / "a-dispatcher.key").read_text().strip().encode()


def test_key_not_on_the_allow_list_is_refused(make_suite, cities):
    b = start_b(make_suite, cities)
    ctx = zmq.Context()
    try:
        rogue_pub, rogue_sec = zmq.curve_keypair()
        rogue = curve_dealer(ctx, cities, rogue_pub, rogue_sec)
        assert ask(rogue, partner_submission("R-1", A_ID), timeout=3) is None  # the handshake never completes
        assert orders_at(b) == []
        wait_for(lambda: counters(b, "intake").get("partner_refused", 0) >= 1, 10, what="the refusal counted")
        assert "client key not on the allow-list" in b.log("intake")
        # the plain endpoint is no way round: it is another port, and CURVE clients cannot talk to it
        plain = ctx.socket(zmq.DEALER)
        plain.setsockopt(zmq.LINGER, 0)
        plain.connect(cities.b_ep)
        assert ask(plain, partner_submission("R-2", A_ID), timeout=2) is None
        assert orders_at(b) == []
        # added to the allow-list and reloaded (SIGHUP): let in, as partner "cityR"
        with open(cities.allow, "a") as f:
            f.write(f"cityR\t{rogue_pub.decode()}\n")
        b.signal_service("intake", signal.SIGHUP)
        wait_for(lambda: "partner allow-list reloaded: 2 key(s)" in b.log("intake"), 10, what="reload")
        rogue.close(0)
        rogue = curve_dealer(ctx, cities, rogue_pub, rogue_sec)
        r = ask(rogue, partner_submission("R-3"), timeout=10)
        assert r.WhichOneof("payload") == "submit_reply", r
        assert order_of(b, r.submit_reply.order_id).partner_id == "cityR"
        # removed again: the open connection is refused on its next message
        cities.allow.write_text(f"{A_ID}\t{cities.a_pub}\n")
        b.signal_service("intake", signal.SIGHUP)
        wait_for(lambda: "partner allow-list reloaded: 1 key(s)" in b.log("intake"), 10, what="reload")
        r = ask(rogue, partner_submission("R-4"), timeout=10)
        assert r.WhichOneof("payload") == "error" and r.error.code == "forbidden", r
        assert len(orders_at(b)) == 1
        # a broken allow-list is not loaded: the old one stays
        cities.allow.write_text("cityQ\tnot-a-key\n")
        b.signal_service("intake", signal.SIGHUP)
        wait_for(lambda: "not reloaded" in b.log("intake"), 10, what="refused reload")
        assert ":1: 'not-a-key' is not a 40-character Z85 public key" in b.log("intake")
    finally:
        ctx.destroy(0)


def test_partner_id_comes_from_the_key(make_suite, cities):
    b = start_b(make_suite, cities)
    ctx = zmq.Context()
    try:
        d = curve_dealer(ctx, cities, *a_keys(cities))
        # a payload naming another partner is refused, nothing stored
        r = ask(d, partner_submission("A-1", "cityC"), timeout=10)
        assert r.WhichOneof("payload") == "error", r
        assert r.error.code == "forbidden" and r.error.field == "submission.partner_id"
        assert "cityC" in r.error.message and A_ID in r.error.message
        assert orders_at(b) == []
        # no partner id: the key names it; no idempotency key: the partner's order id is one
        r1 = ask(d, partner_submission("A-2"), timeout=10)
        assert r1.WhichOneof("payload") == "submit_reply", r1
        o = order_of(b, r1.submit_reply.order_id)
        assert (o.channel, o.partner_id, o.partner_order_id) == (types_pb2.CHANNEL_PARTNER, A_ID, "A-2")
        r2 = ask(d, partner_submission("A-2"), timeout=10)
        assert r2.submit_reply.duplicate and r2.submit_reply.order_id == r1.submit_reply.order_id
        # its own id named is fine
        r3 = ask(d, partner_submission("A-3", A_ID), timeout=10)
        assert r3.WhichOneof("payload") == "submit_reply", r3
        # malformed: clear errors, as on the plain endpoint
        e = partner_submission("")
        r = ask(d, e, timeout=10)
        assert r.error.code == "bad_request" and r.error.field == "submission.partner_order_id", r
        e = partner_submission("A-4")
        e.submission.channel = types_pb2.CHANNEL_WEB
        r = ask(d, e, timeout=10)
        assert r.error.code == "bad_request" and r.error.field == "submission.channel", r
        r = ask(d, b"\xff\x00garbage", timeout=10)
        assert r.error.code == "bad_message", r
        p = envelope(type="jiesu.ping")
        p.ping.SetInParent()
        assert ask(d, p, timeout=10).pong.service == "intake"
        assert len(orders_at(b)) == 2
    finally:
        ctx.destroy(0)


def test_intake_refuses_a_bad_partner_setup(tmp_path, cities):
    """A configured key file that is missing, or open to others, stops intake at start with one clear line."""
    env = h.Suite(["intake"], redis=False, tmp=tmp_path / "s").env("intake")
    env.update(cities.b_env())
    env["JIESU_INTAKE_BIND"] = f"tcp://127.0.0.1:{free_port()}"
    for secret, want in ((tmp_path / "missing.key", "No such file"), (tmp_path / "open.key", "readable by others")):
        if secret.name == "open.key":
            secret.write_text((tmp_path / "b-intake.key").read_text())
            os.chmod(secret, 0o644)
        env["JIESU_INTAKE_CURVE_SECRET_FILE"] = str(secret)
        p = subprocess.run([str(h.BIN / "jiesu-intake")], env=env, cwd=str(h.ROOT), capture_output=True, text=True,
                           timeout=30 * h.SLOW)
        assert p.returncode == 1 and want in p.stderr and "intake.curve_secret_file" in p.stderr, p.stderr
