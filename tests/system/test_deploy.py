"""The container files parse and agree with the code: every service of the
suite is in docker-compose.yml and in the Kubernetes manifests, every image
command is a binary we build, and no secret value is committed."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"bus", "intake", "classifier", "dispatcher", "deadline-timer"}


def test_compose_parses_and_names_every_service():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert SERVICES | {"redis"} <= set(doc["services"])
    for name in SERVICES:
        svc = doc["services"][name]
        assert svc["command"] == [f"jiesu-{name}"]
        assert svc["environment"]["JIESU_REDIS_HOST"] == "redis"
    assert doc["secrets"]["pii_key"]["file"].startswith("./var/")  # var/ is ignored by git


def test_k8s_manifests_parse_and_cover_the_suite():
    kinds, commands = [], set()
    for f in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            assert d["apiVersion"] and d["kind"] and d["metadata"]["name"]
            kinds.append(d["kind"])
            if d["kind"] in ("Deployment", "StatefulSet"):
                for c in d["spec"]["template"]["spec"]["containers"]:
                    if c["image"].startswith("jiesu:"):
                        commands.add(c["command"][0])
            if d["kind"] == "Secret":
                assert not d.get("data") and not d.get("stringData"), "a committed secret value"
    assert {f"jiesu-{s}" for s in SERVICES} == commands
    assert {"Namespace", "ConfigMap", "Secret", "StatefulSet", "Deployment", "Service"} <= set(kinds)


def test_dockerfile_builds_every_binary_as_non_root():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "make install" in text and "USER 10001" in text
    assert text.count("FROM ") == 2  # multi-stage
