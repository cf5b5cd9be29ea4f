"""jiesuctl against the real suite, as an operator uses it."""
import json
import subprocess

import pytest

from suite import BIN, Suite, wait_for


@pytest.fixture(scope="module")
def suite():
    s = Suite().start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)


def ctl(suite, *args, timeout=30):
    cmd = [str(BIN / "jiesuctl"), "--redis.port", str(suite.redis.port), "--intake", suite.ep("intake"),
           "--bus", suite.ep("sub"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=suite.env("jiesuctl"))


def test_submit_show_tail_ping(suite):
    p = ctl(suite, "submit", "--text", "小区东门的下水道堵了，污水漫到路面", "--contact", "13800000000",
            "--channel", "web", "--address", "东城区和平里街道")
    assert p.returncode == 0, p.stderr
    oid = p.stdout.strip().splitlines()[-1]
    assert len(oid) == 26

    def dispatched():
        s = ctl(suite, "show", oid)
        return s.returncode == 0 and json.loads(s.stdout)["stage"] == "dispatched" and json.loads(s.stdout)
    order = wait_for(dispatched, 20, every=0.2, what="dispatched")
    assert order["id"] == oid and order["version"] == 3
    assert [h["type"] for h in order["history"]] == ["jiesu.order.received", "jiesu.order.classified",
                                                     "jiesu.order.dispatched"]
    assert all(h["time"].endswith("+08:00") for h in order["history"])
    a = order["assignments"][0]
    assert a["unit"] and a["role"] == "lead" and a["due"].endswith("+08:00")
    assert "13800000000" not in json.dumps(order) and order["requester"]["contact_masked"] == "138****0000"

    # the same key twice: one order
    k1 = ctl(suite, "submit", "--text", "路灯坏了", "--key", "cli-k1").stdout.strip().splitlines()[-1]
    k2 = ctl(suite, "submit", "--text", "路灯坏了", "--key", "cli-k1").stdout.strip().splitlines()[-1]
    assert k1 == k2

    t = ctl(suite, "tail", "--from-stream")
    assert t.returncode == 0, t.stderr
    lines = [json.loads(x) for x in t.stdout.splitlines()]
    assert any(e["type"] == "jiesu.order.dispatched" and e["subject"] == oid for e in lines)

    ping = ctl(suite, "ping")
    assert ping.returncode == 0, ping.stderr
    assert json.loads(ping.stdout.splitlines()[-1])["redis"] == "ok"


def test_errors_are_one_line_and_exit_1(suite):
    p = ctl(suite, "show", "01JNOSUCHORDER000000000000")
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    p = ctl(suite, "submit", "--text", "   ")
    assert p.returncode == 1 and "content" in p.stderr
    p = ctl(suite, "submit", "--text", "ok", "--contact", "not-a-phone")
    assert p.returncode == 1 and "contact" in p.stderr
    p = ctl(suite, "frobnicate")
    assert p.returncode == 1
