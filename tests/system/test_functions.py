"""The jiesu Redis Functions library on a real redis-server: every
transition checks stage and version, a repeat is refused, claims take a
lease, a timer is recorded once."""
import pytest

from suite import Redis, RedisError, ROOT, wait_for

LUA = (ROOT / "common" / "functions.lua").read_text()


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


def receive(r, *orders, now=1000, redrive=5000):
    keys = ["o:{%s}" % o[0] for o in orders]
    args = [now, redrive, 100, 3600]
    for oid, idem in orders:
        args += [oid, idem, b"blob-" + oid.encode(), b"", "jiesu.order.received", b"env"]
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


def advance(r, oid, es, ev, ns, redrive=0, timers=()):
    args = [100, oid, es, ev, ns, b"new", "jiesu.order.x", b"env", redrive, len(timers)]
    for b, t, m in timers:
        args += [b, t, m]
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


def test_timer_fires_once_and_comes_back_after_its_lease(r):
    r("ZADD", "jiesu:tm:{0}", 100, "T1", 200, "T2", 99999, "T3")
    out = r("FCALL", "jiesu_timer_claim", 0, 0, 1000, 5000, 10)
    assert out == [b"T1", b"100", b"T2", b"200"]
    assert r("FCALL_RO", "jiesu_next_due", 0, 1) == 6000          # the lease end of T1/T2
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, "T1", "O", "jiesu.clock.overdue", b"e", 0, "") == [1]
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, "T1", "O", "jiesu.clock.overdue", b"e", 0, "") == [0]
    assert r("XLEN", "jiesu:events") == 1                          # recorded once
    # T2 never acknowledged: it comes back when its lease ends
    assert r("FCALL", "jiesu_timer_claim", 0, 0, 2000, 5000, 10) == []
    assert r("FCALL", "jiesu_timer_claim", 0, 0, 7000, 5000, 10) == [b"T2", b"0"]
    assert r("FCALL", "jiesu_timer_ack", 0, 0, 100, "T2", "O", "jiesu.clock.warning", b"e", 8000, "T2b") == [1]
    assert r("ZSCORE", "jiesu:tm:{0}", "T2b") == b"8000"
    assert r("FCALL_RO", "jiesu_next_due", 0, 1) == 8000
