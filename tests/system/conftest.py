"""Fixtures of the system tests (the harness is tests/system/jiesu_harness.py).

  redis_server        a private redis-server (AOF on) for one test
  make_suite(...)     start chosen services: make_suite(["bus"]) or
                      make_suite(aof=False, env={...}); stopped after the test,
                      which fails on a non-zero exit or a sanitizer report
  jiesu               the whole suite, started
  client              a Client of `jiesu` (submit, ping, subscribe)

Every process a test starts is stopped when it ends, whether it passed or
not; JIESU_KEEP_LOGS=1 keeps the temporary directory with every log."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jiesu_harness as h  # noqa: E402


def pytest_report_header(config):
    return f"jiesu: binaries in {h.BIN} (timeouts x{h.SLOW:g})"


@pytest.fixture
def redis_server(tmp_path):
    r = h.RedisServer(tmp_path).start()
    yield r
    r.stop()


@pytest.fixture
def make_suite(request):
    suites = []

    def make(services=h.SERVICES, **kw):
        s = h.Suite(services, **kw)
        suites.append(s)  # before start: a failed start is still cleaned up
        return s.start()

    yield make
    # a test that failed already reports its own error; then only clean up
    failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))
    problems = []
    for s in reversed(suites):
        _, p = s.close(check=False)
        problems += p
    if problems and not failed:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def jiesu(make_suite):
    return make_suite()


@pytest.fixture
def client(jiesu):
    return jiesu.client()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # lets fixtures see whether the test itself failed (request.node.rep_call)
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
