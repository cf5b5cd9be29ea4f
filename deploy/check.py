#!/usr/bin/python3
"""deploy/check.py [BUILD] -- check the container files with what runs on a
build machine without a Docker engine or a Kubernetes cluster.

Prints one line per check ("ok: ..." or "FAIL: ...") and exits 1 if any
failed. BUILD (default build) holds the binaries whose --help lists the
configuration keys. What each check proves, and what stays unchecked, is in
docs/DEPLOY-CHECKS.md."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if p.is_dir())
failures = []


def check(ok, what, detail=""):
    print(("ok: " if ok else "FAIL: ") + what + ("" if ok or not detail else f": {detail}"))
    if not ok:
        failures.append(what)


# ---- configuration keys the binaries know ----------------------------------


def env_names(binary):
    """JIESU_* names a binary reads, from its --help."""
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30).stdout
    return set(re.findall(r"env (JIESU_[A-Z0-9_]+)", out))


known_env = {}
for b in sorted((BUILD / "bin").glob("*")):
    known_env[b.name] = env_names(b)
check(all(f"jiesu-{s}" in known_env for s in SERVICES) and "jiesuctl" in known_env,
      f"every service and jiesuctl is built in {BUILD}/bin", ", ".join(sorted(known_env)))
every_env = set().union(*known_env.values()) | {"JIESU_CONFIG"}


def check_env(where, env, binaries):
    """Every JIESU_* variable is read by some binary of the suite (a typo is
    read by none; one environment serves every service, and each ignores
    the variables of the others), and binaries[0] finds the peers it needs."""
    unknown = sorted(k for k in env if k.startswith("JIESU_") and k not in every_env)
    check(not unknown, f"{where}: every JIESU_* variable is a key some binary reads", ", ".join(unknown))
    need = NEEDS.get(binaries[0], [])
    missing = [k for k in need if k not in env or k not in known_env.get(binaries[0], set())]
    check(not missing, f"{where}: {binaries[0]} is told {', '.join(need) or 'nothing it needs'}", missing)


STAGE_ENV = ["JIESU_REDIS_HOST", "JIESU_REDIS_PORT", "JIESU_BUS_PUBLISH"]
NEEDS = {
    "jiesu-bus": [],
    "jiesu-intake": STAGE_ENV + ["JIESU_CLASSIFIER_CONNECT", "JIESU_PII_KEY_FILE"],
    "jiesu-classifier": STAGE_ENV + ["JIESU_DISPATCHER_CONNECT"],
    "jiesu-dispatcher": STAGE_ENV,
    "jiesu-deadline-timer": STAGE_ENV,
}


# ---- docker-compose.yml ----------------------------------------------------

compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
svcs = compose["services"]
check(set(svcs) == set(SERVICES) | {"redis"}, "compose: one container per service plus redis", sorted(svcs))
for name in SERVICES:
    s = svcs.get(name, {})
    check(s.get("command") == [f"jiesu-{name}"], f"compose {name}: runs jiesu-{name}", s.get("command"))
    env = s.get("environment", {})
    check(env.get("JIESU_REDIS_HOST") == "redis", f"compose {name}: Redis by service name")
    check_env(f"compose {name}", env, [f"jiesu-{name}", "jiesuctl"])
    hc = s.get("healthcheck", {}).get("test", [])
    check(bool(hc) and hc[0] == "CMD", f"compose {name}: has an exec healthcheck", hc)
    check(s.get("restart") in ("unless-stopped", "always", "on-failure"), f"compose {name}: restart policy")
    for dep in s.get("depends_on", {}):
        check(dep in svcs, f"compose {name}: depends on an existing service {dep}")
    for v in env.values():
        for host in re.findall(r"tcp://([^:/,]+):", str(v)):
            check(host in svcs or host in ("*", "0.0.0.0", "127.0.0.1"), f"compose {name}: endpoint host {host} is a service")
check(svcs["intake"].get("secrets") == ["pii_key"] and
      svcs["intake"]["environment"].get("JIESU_PII_KEY_FILE") == "/run/secrets/pii_key",
      "compose: intake reads the key from the pii_key secret")
key_file = compose["secrets"]["pii_key"]["file"]
ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", key_file]).returncode == 0
check(ignored, f"compose: the secret file {key_file} is ignored by git (never committed)")
tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.key", "**/*.key"], capture_output=True,
                         text=True).stdout.split()
check(not tracked, "no key file is tracked by git", tracked)
check("redis-data" in compose.get("volumes", {}) and
      any(str(v).startswith("redis-data:/data") for v in svcs["redis"].get("volumes", [])),
      "compose: Redis data on a named volume")

# ---- Kubernetes ------------------------------------------------------------

docs = []
for f in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
    for d in yaml.safe_load_all(f.read_text()):
        if d:
            docs.append((f.name, d))
objs = {(d["kind"], d["metadata"]["name"]): d for _, d in docs if d["kind"] != "Kustomization"}
check(all(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name") for _, d in docs),
      f"k8s: {len(docs)} documents parse, each with apiVersion, kind, metadata.name")
check(all(d["metadata"].get("namespace") == "jiesu" for k, d in objs.items() if k[0] != "Namespace"),
      "k8s: every object is in namespace jiesu")
kust = [d for _, d in docs if d["kind"] == "Kustomization"]
listed = set(kust[0]["resources"]) if kust else set()
check(listed == {f.name for f in (ROOT / "deploy" / "k8s").glob("*.yaml")} - {"kustomization.yaml"},
      "k8s: kustomization.yaml lists every manifest")
secret = objs.get(("Secret", "jiesu-pii"), {})
check(secret and not secret.get("data") and not secret.get("stringData"), "k8s: the Secret is a template without a value")
cm = objs.get(("ConfigMap", "jiesu-env"), {}).get("data", {})

workloads = {k: d for k, d in objs.items() if k[0] in ("Deployment", "StatefulSet")}
commands = set()
for (kind, name), d in workloads.items():
    spec, tmpl = d["spec"], d["spec"]["template"]
    labels = tmpl["metadata"].get("labels", {})
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          f"k8s {kind} {name}: selector matches the pod labels")
    for c in tmpl["spec"]["containers"]:
        lim = c.get("resources", {}).get("limits", {})
        check("memory" in lim, f"k8s {name}: container {c['name']} has a memory limit")
        if not c["image"].startswith("jiesu:"):
            continue
        commands.add(c["command"][0])
        check(c["command"][0] in known_env, f"k8s {name}: runs a binary we build ({c['command'][0]})")
        check(tmpl["spec"].get("securityContext", {}).get("runAsNonRoot") is True, f"k8s {name}: runs as non-root")
        for ef in c.get("envFrom", []):
            ref = ef.get("configMapRef", {}).get("name")
            check(("ConfigMap", ref) in objs, f"k8s {name}: envFrom ConfigMap {ref} exists")
        check_env(f"k8s {name} (jiesu-env)", cm, [c["command"][0], "jiesuctl"])
        if any(p.get("containerPort") for p in c.get("ports", [])):
            check("readinessProbe" in c and "livenessProbe" in c, f"k8s {name}: readiness and liveness probes")
    for v in tmpl["spec"].get("volumes", []):
        if "secret" in v:
            check(("Secret", v["secret"]["secretName"]) in objs, f"k8s {name}: secret {v['secret']['secretName']} exists")
        if "configMap" in v:
            check(("ConfigMap", v["configMap"]["name"]) in objs, f"k8s {name}: ConfigMap {v['configMap']['name']} exists")
    if kind == "StatefulSet":
        hs = objs.get(("Service", spec["serviceName"]), {})
        check(hs.get("spec", {}).get("clusterIP") == "None", f"k8s {name}: serviceName {spec['serviceName']} is headless")
check({f"jiesu-{s}" for s in SERVICES} == commands, "k8s: one workload per service", sorted(commands))

for (kind, name), d in objs.items():
    if kind != "Service":
        continue
    sel = d["spec"]["selector"]
    pods = [w for w in workloads.values()
            if all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
    check(len(pods) == 1, f"k8s Service {name}: selects one workload")
    if pods:
        cports = {p["containerPort"] for c in pods[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        sports = {p.get("targetPort", p["port"]) for p in d["spec"]["ports"]}
        check(sports <= cports, f"k8s Service {name}: its ports are container ports", f"{sports} vs {cports}")

# the PUSH connect lists name every replica of the next stage, by stable name
for key, stage, port in (("JIESU_CLASSIFIER_CONNECT", "classifier", 7011),
                         ("JIESU_DISPATCHER_CONNECT", "dispatcher", 7012)):
    n = workloads.get(("StatefulSet", stage), {}).get("spec", {}).get("replicas", 0)
    want = {f"tcp://{stage}-{i}.{stage}:{port}" for i in range(n)}
    got = set(cm.get(key, "").split(","))
    check(n > 0 and got == want, f"k8s: {key} lists the {n} {stage} pods", f"{sorted(got)} vs {sorted(want)}")
rh = cm.get("JIESU_REDIS_HOST", "")
check(rh == "redis-0.redis" and ("StatefulSet", "redis") in objs, "k8s: JIESU_REDIS_HOST names the Redis pod")

if shutil.which("kubectl"):
    r = subprocess.run(["kubectl", "kustomize", str(ROOT / "deploy" / "k8s")], capture_output=True, text=True)
    n = len([d for d in yaml.safe_load_all(r.stdout) if d]) if r.returncode == 0 else 0
    check(r.returncode == 0 and n == len(objs), f"k8s: kubectl kustomize builds the {len(objs)} objects",
          r.stderr.strip()[:300])
else:
    print("skip: kubectl not installed (kustomize build)")

# ---- Redis configurations: loaded by a real redis-server --------------------


def redis_effective(conf_text):
    """Start redis-server on conf_text (dir rewritten to a temporary one, on a
    free port), read CONFIG GET back, shut it down."""
    tmp = Path(tempfile.mkdtemp(prefix="jiesu-redis-conf-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = re.sub(r"(?m)^dir .*$", f"dir {tmp}", conf_text)
    text = re.sub(r"(?m)^port .*$", f"port {port}", text)
    text = re.sub(r"(?m)^bind .*$", "bind 127.0.0.1", text)
    (tmp / "redis.conf").write_text(text)
    p = subprocess.Popen(["redis-server", str(tmp / "redis.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        got = {}
        for _ in range(100):
            if p.poll() is not None:
                return None, p.stdout.read().decode(errors="replace")[-400:]
            r = subprocess.run(["redis-cli", "-p", str(port), "config", "get", "*"], capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip():
                lines = r.stdout.split("\n")
                got = dict(zip(lines[0::2], lines[1::2]))
                break
            time.sleep(0.05)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        return got, ""
    finally:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


WANT = {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"}
for where, text in (("deploy/redis.conf", (ROOT / "deploy" / "redis.conf").read_text()),
                    ("k8s ConfigMap redis-conf", objs[("ConfigMap", "redis-conf")]["data"]["redis.conf"])):
    got, err = redis_effective(text)
    check(got is not None and got, f"{where}: redis-server starts with it", err)
    if got:
        bad = {k: got.get(k) for k, v in WANT.items() if got.get(k) != v}
        check(not bad, f"{where}: AOF everysec and noeviction in effect", bad)
        check(got.get("protected-mode") == "no", f"{where}: other containers may connect (protected-mode no)")

# ---- Dockerfile --------------------------------------------------------------

df = (ROOT / "deploy" / "Dockerfile").read_text()
joined = re.sub(r"\\\n", " ", df)
instr = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
KNOWN = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "LABEL",
         "STOPSIGNAL", "HEALTHCHECK", "VOLUME", "SHELL", "ONBUILD"}
check(all(i.split()[0].upper() in KNOWN for i in instr), "Dockerfile: every line is a known instruction")
stages = [m.group(2) for m in (re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", i, re.I) for i in instr if i.upper().startswith("FROM"))]
froms = [i.split()[1] for i in instr if i.upper().startswith("FROM")]
check(froms == ["debian:12", "debian:12-slim"], "Dockerfile: build on debian:12, run on debian:12-slim", froms)
for i, line in enumerate(instr):
    m = re.search(r"--from=(\S+)", line)
    if m:
        before = [s for s in stages[:sum(1 for x in instr[:i] if x.upper().startswith('FROM'))] if s]
        check(m.group(1) in before, f"Dockerfile: COPY --from={m.group(1)} names an earlier stage")
user = [i.split()[1] for i in instr if i.upper().startswith("USER")]
check(user and user[-1].split(":")[0] not in ("0", "root"), "Dockerfile: the runtime user is not root", user)
check(instr[-1].upper().startswith("CMD") or any(i.upper().startswith("ENTRYPOINT") for i in instr),
      "Dockerfile: has a default command")
build_pkgs = set()
for line in instr:
    m = re.search(r"apt-get install -y --no-install-recommends(.*?)(?:&&|$)", line)
    if m and "xargs" not in line:
        build_pkgs |= set(m.group(1).split())
if shutil.which("apt-cache"):
    missing = [p for p in sorted(build_pkgs)
               if subprocess.run(["apt-cache", "show", p], capture_output=True).returncode != 0]
    check(build_pkgs and not missing, f"Dockerfile: the {len(build_pkgs)} build packages exist in this Debian's archive",
          missing)
    pc = []
    for mod in ("libzmq", "libprotobuf-c", "hiredis", "libuv", "jansson", "libsodium", "opencc"):
        d = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True).stdout.strip()
        r = subprocess.run(["dpkg", "-S", f"{d}/{mod}.pc"], capture_output=True, text=True)
        pc.append(r.stdout.split(":")[0] if r.returncode == 0 else f"?{mod}")
    check(set(pc) <= build_pkgs, "Dockerfile: the build stage has the -dev package of every pkg-config module",
          sorted(set(pc) - build_pkgs))
    bins = sorted(str(b) for b in (BUILD / "bin").glob("*"))
    r = subprocess.run(["sh", str(ROOT / "deploy" / "runtime-packages.sh"), *bins], capture_output=True, text=True)
    rt = r.stdout.split()
    check(r.returncode == 0 and rt, "deploy/runtime-packages.sh finds the runtime packages of the binaries",
          r.stderr.strip())
    if rt:
        missing = [p for p in rt if subprocess.run(["apt-cache", "show", p], capture_output=True).returncode != 0]
        check(not missing, f"runtime packages exist in the archive: {' '.join(rt)}", missing)
        check(not any(p.endswith("-dev") for p in rt), "no -dev package at run time")
ign = ROOT / "deploy" / "Dockerfile.dockerignore"
check(ign.exists() and {"build", "var"} <= set(ign.read_text().split()), "Dockerfile.dockerignore keeps build/ and var/ out")

print(f"{len(failures)} failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)
