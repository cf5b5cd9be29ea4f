"""The same matter (DOMAIN.md 分类处置): a requester who tells again what an
open or finished order of theirs already says gets an order of its own
(nothing is refused at the door), which intake links to the first one and the
classifier closes with the link and its reason; another requester, another
matter, an emergency, or the search turned off, go their own way."""
import pytest

from suite import Suite, events, order_in_redis, request, submission, types_pb2

STAGE_CLOSED = 11

FIRST = "小区东门的下水道堵了，污水漫到路面，已经三天没人处理，居民出行非常不便，请尽快派人疏通"
AGAIN = "小区东门的下水道堵了！污水漫到路面，已经三天了还没人处理，居民出行非常不便，请尽快疏通"
OTHER = "建议在小区南门外的路口增设红绿灯，方便小朋友上学过马路，现在车流量大非常危险"
FIRE = "小区东门旁边的仓库着火了，浓烟滚滚，下水道堵了，污水漫到路面，已经三天没人处理"


@pytest.fixture(scope="module")
def suite():
    s = Suite(extra_env={"JIESU_CLASSIFIER_THRESHOLD": "0", "JIESU_CLASSIFIER_TYPE_THRESHOLD": "0"}).start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)
    assert all(c == 0 for c in codes.values()), codes


def submit(suite, text, contact, title=""):
    rep = request(suite.dealer(), submission(text, contact=contact, title=title))
    assert rep.WhichOneof("payload") == "submit_reply", rep
    return rep.submit_reply


def settled(suite, sub, oid):
    """The order's last pipeline event (dispatched, closed or transferred)."""
    done = ("jiesu.order.dispatched", "jiesu.order.consultation", "jiesu.order.closed", "jiesu.order.transferred")
    got = events(sub, lambda g: any(t in done and e.subject == oid for t, e in g))
    return [(t, e) for t, e in got if t in done and e.subject == oid][-1]


def test_the_same_matter_is_linked_and_closed(suite):
    sub = suite.subscriber(b"jiesu.order.")
    first = submit(suite, FIRST, "13800000001")
    assert not first.same_matter_of
    t, e = settled(suite, sub, first.order_id)
    assert t == "jiesu.order.dispatched"

    again = submit(suite, AGAIN, "13800000001", title="停水")
    assert again.same_matter_of == first.order_id and not again.duplicate and again.order_id != first.order_id
    t, e = settled(suite, sub, again.order_id)
    assert t == "jiesu.order.closed"
    o = e.order
    assert o.duplicate_of == first.order_id and o.disposition == types_pb2.DISPOSITION_DUPLICATE
    assert o.classification.rule == "same_matter" and first.order_id in o.close_reason
    stage, _, kept = order_in_redis(suite, again.order_id)
    assert stage == STAGE_CLOSED and kept.duplicate_of == first.order_id  # what Redis holds decodes the same

    # a third telling links to the first order, not to the second
    third = submit(suite, FIRST, "13800000001")
    assert third.same_matter_of == first.order_id
    settled(suite, sub, third.order_id)

    # another requester, or another matter of the same requester: dispatched on their own
    for text, contact in ((AGAIN, "13900000002"), (OTHER, "13800000001")):
        r = submit(suite, text, contact)
        assert not r.same_matter_of
        t, e = settled(suite, sub, r.order_id)
        assert t in ("jiesu.order.dispatched", "jiesu.order.consultation") and not e.order.duplicate_of

    # no contact, no requester to compare: never linked
    r = submit(suite, FIRST, "")
    assert not r.same_matter_of

    # an emergency told again is still transferred at once (the link stays on the order)
    fire = submit(suite, FIRE, "13800000001")
    t, e = settled(suite, sub, fire.order_id)
    assert t == "jiesu.order.transferred"
    assert e.order.disposition == types_pb2.DISPOSITION_EMERGENCY


def test_the_search_can_be_turned_off():
    s = Suite(services=("bus", "intake"), extra_env={"JIESU_INTAKE_SAME_MATTER_WINDOW_S": "0"}).start()
    try:
        a = submit(s, FIRST, "13800000009")
        b = submit(s, FIRST, "13800000009")
        assert not b.same_matter_of and a.order_id != b.order_id
        r = s.redis.client()
        try:
            assert r("KEYS", "sm:*") == []
        finally:
            r.close()
    finally:
        codes, problems = s.stop()
    assert not problems, "\n".join(problems)


def test_bad_settings_are_refused(tmp_path):
    import subprocess
    from suite import BIN
    for key, value in (("--intake.same_matter_max_distance", "65"), ("--intake.same_matter_keep", "0"),
                       ("--intake.same_matter_window_s", "-1")):
        p = subprocess.run([str(BIN / "jiesu-intake"), key, value, "--pii.key_file", str(tmp_path / "none")],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and key[2:] in p.stderr, (key, p.stderr)
