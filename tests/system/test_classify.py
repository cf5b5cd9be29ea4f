"""An operator decides an order in the manual queue (jiesuctl classify), the
dispatcher takes it at once, the decision is kept as a correction
(jiesuctl corrections) and jiesu-train learns from it (--corrections)."""
import json
import subprocess

import pytest

from suite import BIN, ROOT, Suite, types_pb2, wait_for

# The classifier is told to be sure of nothing (classifier.threshold 0.999), so
# this order goes to the manual queue; the dispatch catalog knows its matter
# (下水道), so once an operator has classified it the dispatcher dispatches it.
MANUAL_TEXT = "小区东门的下水道堵了，污水漫到路面，已经三天没人处理"
TITLE = "下水道堵塞"


@pytest.fixture(scope="module")
def suite():
    s = Suite(extra_env={"JIESU_CLASSIFIER_THRESHOLD": "0.999"}).start()
    yield s
    codes, problems = s.stop()
    assert not problems, "\n".join(problems)


def ctl(suite, *args, timeout=30):
    cmd = [str(BIN / "jiesuctl"), "--redis.port", str(suite.redis.port), "--intake", suite.ep("intake"),
           "--bus", suite.ep("sub"), "--classifier.model_dir", str(ROOT / "config/classifier"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=suite.env("jiesuctl"),
                          cwd=ROOT)


def show(suite, oid):
    p = ctl(suite, "show", oid)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def submit(suite, text, title=None):
    args = ["submit", "--text", text] + (["--title", title] if title else [])
    p = ctl(suite, *args)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


def in_stage(suite, oid, stage, timeout=20):
    return wait_for(lambda: (lambda o: o["stage"] == stage and o)(show(suite, oid)), timeout, every=0.2,
                    what=f"order {oid} in stage {stage}")


def one_line_error(p, *words):
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and lines[0].startswith("jiesuctl: "), (p.returncode, p.stderr)
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_classify_dispatch_refuse_export_train(suite, tmp_path):
    oid = submit(suite, MANUAL_TEXT, title=TITLE)
    order = in_stage(suite, oid, "manual")
    machine = order["classification"]
    assert machine["manual"] is True and "topic unsure" in machine["reason"] and machine["topic"]

    # refused before anything is written: bad topic, bad type, unknown order
    one_line_error(ctl(suite, "classify", oid, "--topic", "天气", "--type", "complaint"), "unknown topic", "城乡建设")
    one_line_error(ctl(suite, "classify", oid, "--topic", "城乡建设", "--type", "praise"), "unknown type")
    one_line_error(ctl(suite, "classify", "01JNOSUCHORDER000000000000", "--topic", "城乡建设", "--type", "complaint"),
                   "no order")
    assert show(suite, oid)["stage"] == "manual"

    p = ctl(suite, "classify", oid, "--topic", "城乡建设", "--type", "投诉", "--urgency", "high", "--name", "alice",
            "--reason", "drain blocked for three days")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out == {"id": oid, "stage": "classified", "version": order["version"] + 1, "topic": "城乡建设",
                   "type": "complaint"}

    # the dispatcher's re-drive sweep takes it at once (its re-drive time is now)
    done = in_stage(suite, oid, "dispatched")
    k = done["classification"]
    assert k["topic"] == "城乡建设" and k["type"] == "complaint" and k["urgency"] == "high", k
    assert not k.get("manual", False) and k["disposition"] == "dispatch"
    assert k["decided_by"] == {"role": "operator", "name": "alice"}
    assert k["reason"] == "classified by operator:alice: drain blocked for three days"
    assert k["topic_confidence"] == 1.0 and k["type_confidence"] == 1.0
    assert done["topic"] == "城乡建设"
    kinds = [h["type"] for h in done["history"]]
    assert kinds[:3] == ["jiesu.order.received", "jiesu.order.manual", "jiesu.order.classified"], kinds
    assert "jiesu.order.dispatched" in kinds
    by_op = [h for h in done["history"] if h["type"] == "jiesu.order.classified"][0]
    assert by_op["actor"]["name"] == "alice" and "drain blocked" in by_op["note"]
    t = ctl(suite, "tail", "jiesu.order.classified", "--from-stream")
    assert t.returncode == 0, t.stderr
    assert any(json.loads(x)["subject"] == oid for x in t.stdout.splitlines())

    # a second decision is refused, naming the stage it is in
    again = ctl(suite, "classify", oid, "--topic", "交通运输", "--type", "suggestion")
    one_line_error(again, "stage dispatched", "not manual")
    assert show(suite, oid)["classification"]["topic"] == "城乡建设"

    # the correction as training rows
    topics = tmp_path / "topics.tsv"
    p = ctl(suite, "corrections", "--out", str(topics))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"rows": 1, "out": str(topics)}
    rows = topics.read_text().splitlines()
    assert rows[0] == "label\ttext" and rows[1] == "城乡建设\t" + TITLE + " " + MANUAL_TEXT
    p = ctl(suite, "corrections", "--kind", "type")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "complaint\t" + TITLE + " " + MANUAL_TEXT
    one_line_error(ctl(suite, "corrections", "--kind", "colour"), "--kind")
    raw = suite.redis.cmd("XRANGE", "jiesu:corrections", "-", "+")
    assert len(raw) == 1
    f = dict(zip(raw[0][1][::2], raw[0][1][1::2]))
    f = {k.decode(): v.decode() for k, v in f.items()}
    assert f["o"] == oid and f["m_topic"] == machine.get("topic", "") and f["by"] == "operator:alice"

    # jiesu-train learns from it: the row joins training, counted 3 times a data row
    model = tmp_path / "topic.model"
    tr = subprocess.run([str(BIN / "jiesu-train"), "--data", str(ROOT / "tests/data/topics-sample.tsv"),
                         "--corrections", str(topics), "--out", str(model), "--folds", "2", "--bits", "16"],
                        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert tr.returncode == 0, tr.stderr
    j = json.loads(tr.stdout.splitlines()[-1])
    assert j["corrections"] == 1 and j["rows"] == 300 and model.exists()
    assert "1 corrections (weight 3.0)" in tr.stderr
    # a label the data does not have is refused
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\n天气\t今天下雨\n")
    tr = subprocess.run([str(BIN / "jiesu-train"), "--data", str(ROOT / "tests/data/topics-sample.tsv"),
                         "--corrections", str(bad), "--out", str(tmp_path / "x.model"), "--folds", "2", "--bits", "16"],
                        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert tr.returncode == 1 and "not a class of the training data" in tr.stderr


def test_classify_refuses_an_order_not_in_manual(suite):
    # an emergency is transferred at once by a rule, whatever the threshold: never in the manual queue
    oid = submit(suite, "紧急！我家楼下的饭店着火了，浓烟很大，里面好像还有人")
    o = in_stage(suite, oid, "transferred")
    p = ctl(suite, "classify", oid, "--topic", "城乡建设", "--type", "complaint")
    one_line_error(p, "stage transferred", "not manual")
    assert show(suite, oid)["version"] == o["version"]


def test_an_unsure_type_goes_on_to_its_unit_and_an_operator_confirms_it(make_suite):
    """The type only chooses a default limit: with the shipped type threshold an order whose type the model is
    unsure of is dispatched all the same, marked type_unsure; an operator confirms or corrects the type while the
    order stays with its unit (jiesu.order.type_confirmed), and the correction is kept."""
    s = make_suite()
    text = "金河路梨园小区从早上开始停水，到现在水龙头不出水，家里有老人"  # says no type; the catalog knows the matter
    oid = submit(s, text)
    o = wait_for(lambda: (lambda x: x["stage"] not in ("received", "classified") and x)(show(s, oid)), 20,
                 every=0.2, what="the dispatch")
    assert o["stage"] == "dispatched", o
    k = o["classification"]
    assert k.get("type_unsure") is True and "type unsure" in k["reason"] and not k.get("manual", False)
    one_line_error(ctl(s, "classify", oid, "--topic", "环境保护", "--type", "help"), "its topic stays")
    p = ctl(s, "classify", oid, "--topic", o["topic"], "--type", "help", "--name", "li")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["stage"] == "dispatched" and out["type"] == "help"
    o2 = show(s, oid)
    assert o2["stage"] == "dispatched" and o2["type"] == "help" and o2["assignments"] == o["assignments"]
    assert not o2["classification"].get("type_unsure", False)
    assert o2["history"][-1]["type"] == "jiesu.order.type_confirmed"
    p = ctl(s, "corrections", "--kind", "type")
    assert p.returncode == 0 and p.stdout.startswith("label\ttext\n") and "help\t" in p.stdout


# A text no shipped rule knows: dispatched as it stands, decided by a rule once one is added.
LIZARD = "小区花园里有人在遛一只巨型蜥蜴，吓坏了孩子们，物业说管不了"


def test_sighup_reloads_rules_and_refuses_a_bad_file(tmp_path):
    """Operators edit rules.tsv (or retrain a model) and send SIGHUP: a file that does not load is refused and
    the engine in use stays; a good one decides the next orders."""
    import shutil
    import signal

    from suite import order_in_redis, request, submission
    wait = wait_for

    model_dir = tmp_path / "classifier"
    shutil.copytree(ROOT / "config/classifier", model_dir)
    s = Suite(services=("bus", "classifier", "intake"),
              extra_env={"JIESU_CLASSIFIER_MODEL_DIR": str(model_dir), "JIESU_CLASSIFIER_THRESHOLD": "0"}).start()
    try:
        def classified(text):
            oid = request(s.dealer(), submission(text)).submit_reply.order_id
            return wait(lambda: (lambda o: o if o.classification.reason else None)(order_in_redis(s, oid)[2]), 20,
                        what=f"order {oid} classified")

        assert classified(LIZARD).disposition == types_pb2.DISPOSITION_DISPATCH
        rules = model_dir / "rules.tsv"
        good = rules.read_text()
        rules.write_text(good + "broken line without its columns\n")
        s.signal_service("classifier", signal.SIGHUP)
        wait(lambda: "reload refused" in s.log("classifier"), 10, what="the refusal in the log")
        assert "rules.tsv:" in s.log("classifier")
        assert classified(LIZARD).disposition == types_pb2.DISPOSITION_DISPATCH  # the engine in use stayed

        rules.write_text(good + "test-lizard\tout_of_scope\t-\t巨型蜥蜴\t-\texotic pets: the market channel\n")
        s.signal_service("classifier", signal.SIGHUP)
        wait(lambda: "rules and knowledge base reloaded" in s.log("classifier"), 10, what="the reload in the log")
        o = classified(LIZARD)
        assert o.disposition == types_pb2.DISPOSITION_OUT_OF_SCOPE and o.classification.rule == "test-lizard"
    finally:
        codes, problems = s.stop()
    assert not problems, "\n".join(problems)
