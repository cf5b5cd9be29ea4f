"""The jiesu Redis Functions library on a real redis-server: every
transition checks stage and version, a repeat is refused, claims take a
lease, a timer is recorded once."""
import pytest

from suite import Redis, RedisError, ROOT, wait_for

from jiesu_harness import BUILD

# The library as the binaries embed it: common/functions.lua with the
# transition table of common/fsm.c generated in (Makefile, scripts/fsm-gen.c).
LUA = (ROOT / BUILD / "gen" / "functions.lua").read_text()


@pytest.fixture
def r(tmp_path):
    srv = Redis(tmp_path, aof=False)
    srv.start()
    c = srv.client()
    c("FUNCTION", "LOAD", "REPLACE", LUA)
    yield c
    c.close()
    srv.stop()


def test_version_matches_the_header(r):
    h = (ROOT / "common" / "functions.h").read_text()
    want = int(h.split("#define JS_LIB_VERSION")[1].split()[0])
    assert r("FCALL_RO", "jiesu_version", 0) == want


def receive(r, *orders, now=1000, redrive=5000, window=0, maxd=12, keep=50):
    keys = ["o:{%s}" % o[0] for o in orders]
    args = [now, redrive, 100, 3600, window, maxd, keep]
    for o in orders:
        oid, idem = o[0], o[1]
        rk, sh = (o[2], o[3]) if len(o) > 2 else ("", "")
        args += [oid, idem, b"blob-" + oid.encode(), b"", "jiesu.order.received", b"env", rk, sh]
    return r("FCALL", "jiesu_receive", len(keys), *keys, *args)


def test_receive_stores_once_and_dedupes_keys(r):
    assert receive(r, ("A", "k1"), ("B", "")) == [[1, b"A"], [1, b"B"]]
    assert receive(r, ("C", "k1")) == [[2, b"A"]]          # same idempotency key: the first order
    assert receive(r, ("B", "")) == [[3, b"B"]]            # a retried batch: already there
    assert r("HMGET", "o:{A}", "stage", "v") == [b"1", b"1"]
    assert r("EXISTS", "o:{C}") == 0
    assert r("XLEN", "jiesu:events") == 2
    assert r("ZSCORE", "jiesu:due:1", "A") == b"5000"
    with pytest.raises(RedisError):
        r("FCALL", "jiesu_receive", 1, "o:{X}", 1, 2, 3, 4, "X")  # wrong arity: refused, nothing written


def test_receive_links_the_same_matter(r):
    h = "0123456789abcdef"
    near = "0123456789abcde8"   # 3 bits from h
    far = "fedcba9876543210"
    w = 10_000
    assert receive(r, ("A", "", "rk1", h), window=w, now=1000) == [[1, b"A"]]
    # same requester, a fingerprint 3 bits away: stored, linked to A (field 20 appended to the bytes)
    assert receive(r, ("B", "", "rk1", near), window=w, now=2000) == [[1, b"B", b"A", 3]]
    assert r("HGET", "o:{B}", "d") == b"blob-B" + bytes([0xA2, 0x01, 1]) + b"A"
    # a third telling links to the first: B (a duplicate) was not remembered
    assert r("ZRANGE", "sm:rk1", 0, -1) == [b"A|" + h.encode()]
    assert receive(r, ("C", "", "rk1", h), window=w, now=3000) == [[1, b"C", b"A", 0]]
    # another requester, a far text, no requester, a bad hash, or over the distance: not linked
    assert receive(r, ("D", "", "rk2", h), window=w, now=3000) == [[1, b"D"]]
    assert receive(r, ("E", "", "rk1", far), window=w, now=3000) == [[1, b"E"]]
    assert receive(r, ("F", "", "", h), window=w, now=3000) == [[1, b"F"]]
    assert receive(r, ("G", "", "rk1", "xyz"), window=w, now=3000) == [[1, b"G"]]
    assert receive(r, ("H", "", "rk1", near), window=w, now=3000, maxd=2) == [[1, b"H"]]
    # after the window A is forgotten; with the search off nothing is read or kept
    assert receive(r, ("I", "", "rk1", h), window=w, now=3000 + w + 1) == [[1, b"I"]]
    assert receive(r, ("J", "", "rk3", h), window=0, now=5000) == [[1, b"J"]]
    assert r("EXISTS", "sm:rk3") == 0
    assert 0 < r("PTTL", "sm:rk1") <= w
    # at most `keep` fingerprints per requester, the newest
    for i in range(5):
        receive(r, ("K%d" % i, "", "rk4", "%016x" % (0xFFFF << (16 * (i % 4)) if i < 4 else 1)), window=w,
                now=6000 + i, keep=3)
    assert r("ZCARD", "sm:rk4") == 3
    assert r("ZRANGE", "sm:rk4", 0, 0) == [b"K2|" + ("%016x" % (0xFFFF << 32)).encode()]


def advance(r, oid, es, ev, ns, redrive=0, timers=(), fields=(), prov=0):
    args = [100, oid, es, ev, ns, b"new", "jiesu.order.x", b"env", redrive, len(timers)]
    for b, t, m in timers:
        args += [b, t, m]
    args += [len(fields)]
    for name, value in fields:
        args += [name, value]
    args += [prov]
    return r("FCALL", "jiesu_advance", 1, "o:{%s}" % oid, *args)


def test_advance_checks_stage_and_version(r):
    receive(r, ("A", ""))
    assert advance(r, "A", 1, 1, 2, redrive=9000) == [[1, 2]]
    assert advance(r, "A", 1, 1, 2) == [[0, 2, 2]]          # a repeat: refused, nothing changed
    assert advance(r, "A", 2, 5, 4) == [[0, 2, 2]]          # stale version
    assert advance(r, "Z", 1, 1, 2) == [[-1]]               # unknown order
    assert r("ZSCORE", "jiesu:due:1", "A") is None          # left the received queue
    assert r("ZSCORE", "jiesu:due:2", "A") == b"9000"
    assert advance(r, "A", 2, 2, 4, timers=[(3, 7000, "A|u|h|0|1|2")]) == [[1, 3]]
    assert r("ZSCORE", "jiesu:tm:{3}", "A|u|h|0|1|2") == b"7000"
    assert r("HGET", "o:{A}", "d") == b"new"
    assert r("XLEN", "jiesu:events") == 3


def test_claim_takes_a_lease_and_drops_strays(r):
    receive(r, ("A", ""), ("B", ""), redrive=500)
    out = r("FCALL", "jiesu_claim", 0, 1, 1000, 10000, 10)
    assert out[0::3] == [b"A", b"B"] and out[1::3] == [b"1", b"1"]
    assert r("FCALL", "jiesu_claim", 0, 1, 1000, 10000, 10) == []   # leased
    assert len(r("FCALL", "jiesu_claim", 0, 1, 20000, 10000, 10)) == 6  # lease over
    advance(r, "A", 1, 1, 2)
    r("ZADD", "jiesu:due:1", 0, "A")  # a stray entry: A is no longer received
    out = r("FCALL", "jiesu_claim", 0, 1, 50000, 10, 10)
    assert out[0::3] == [b"B"]
    assert r("ZSCORE", "jiesu:due:1", "A") is None


def tmember(oid, what="due", fire=100, gen=3, epoch="0.0", unit="u", kind="h"):
    return f"{oid}|{unit}|{kind}|{what}|{fire}|{fire - 1}|{gen}|{epoch}|15w"


def test_timer_fires_once_and_comes_back_after_its_lease(r):
    r("HSET", "o:{O}", "v", 3)
    t1, t2, t3 = tmember("O", fire=100), tmember("O", "f0.5", 200, epoch="0"), tmember("O", fire=99999, epoch="0.1")
    r("ZADD", "jiesu:tm:{0}", 100, t1, 200, t2, 99999, t3)
    out = r("FCALL", "jiesu_timer_claim", 0, 0, 1000, 5000, 10)
    assert out == [t1.encode(), b"100", t2.encode(), b"200"]
    assert r("FCALL_RO", "jiesu_next_due", 0, 1) == 6000          # the lease end of T1/T2
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, 1000, t1, "jiesu.clock.overdue", b"e") == [1]
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, 1000, t1, "jiesu.clock.overdue", b"e") == [0]
    assert r("XLEN", "jiesu:events") == 1                          # recorded once
    assert r("HGET", "o:{O}", "f:h|u|due|0.0") == b"1000"         # the fired mark
    # T2 never acknowledged: it comes back when its lease ends
    assert r("FCALL", "jiesu_timer_claim", 0, 0, 2000, 5000, 10) == []
    assert r("FCALL", "jiesu_timer_claim", 0, 0, 7000, 5000, 10) == [t2.encode(), b"0"]


def test_timer_ack_checks_generation_mark_and_order(r):
    r("HSET", "o:{O}", "v", 5, "g:h|u", 5)
    stale, cur = tmember("O", gen=3), tmember("O", gen=5)
    again = tmember("O", fire=150, gen=5)                  # re-armed: same what and epoch
    other = tmember("O", fire=160, gen=5, epoch="0.1")     # after an extension: a new epoch
    ghost, bad = tmember("NOPE", gen=1), "O|u|h|due|1"
    r("ZADD", "jiesu:tm:{0}", 100, stale, 100, cur, 150, again, 160, other, 100, ghost, 100, bad)
    assert len(r("FCALL", "jiesu_timer_claim", 0, 0, 1000, 5000, 10)) == 12
    got = r("FCALL", "jiesu_timer_ack", 0, 0, 100, 1000, stale, "jiesu.clock.overdue", b"e",
            cur, "jiesu.clock.overdue", b"e", again, "jiesu.clock.overdue", b"e",
            other, "jiesu.clock.overdue", b"e", ghost, "jiesu.clock.overdue", b"e", bad, "", b"")
    assert got == [2, 1, 3, 1, 4, 5]     # stale gen, recorded, fired before, new epoch, no order, malformed
    assert r("XLEN", "jiesu:events") == 2
    assert r("ZCARD", "jiesu:tl:{0}") == 0                     # every claim removed
    assert r("EXISTS", "o:{NOPE}") == 0                        # nothing written for an unknown order
    # no g: field: every generation is current
    r("HSET", "o:{P}", "v", 4)
    p = tmember("P", gen=1)
    r("ZADD", "jiesu:tm:{0}", 100, p)
    r("FCALL", "jiesu_timer_claim", 0, 0, 1000, 5000, 10)
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, 1000, p, "jiesu.clock.overdue", b"e") == [1]


def test_recompute_checks_version_and_stores_the_new_plan(r):
    r("HSET", "o:{R}", "v", 4, "d", b"old")
    r("SADD", "jiesu:prov", "R", "GONE")
    m = tmember("R", fire=5000, gen=5)
    args = [100, "R", 3, b"new", 0, 1, "g:h|u", 5, 1, "jiesu.clock.recomputed", b"e", 1, 0, 5000, m]
    assert r("FCALL", "jiesu_recompute", 1, "o:{R}", *args) == [[0, 4]]      # moved meanwhile
    assert r("HGET", "o:{R}", "d") == b"old" and r("XLEN", "jiesu:events") == 0
    args[2] = 4
    assert r("FCALL", "jiesu_recompute", 1, "o:{R}", *args) == [[1, 5]]
    assert r("HMGET", "o:{R}", "v", "d", "g:h|u") == [b"5", b"new", b"5"]
    assert r("ZSCORE", "jiesu:tm:{0}", m) == b"5000"
    assert r("XLEN", "jiesu:events") == 1
    assert r("SISMEMBER", "jiesu:prov", "R") == 0                            # nothing provisional any more
    args[1], args[2] = "GONE", 1
    assert r("FCALL", "jiesu_recompute", 1, "o:{GONE}", *args) == [[-1]]
    assert r("SISMEMBER", "jiesu:prov", "GONE") == 0
