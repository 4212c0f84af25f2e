"""Manifests nobody here wrote must never stop the gate with exit 2 (issue 16, held-out run).

* Objects whose fields have the wrong types (`containers` a mapping, `volumes` a string,
  `verbs` a string): a Rego rule errs on them. Each is a blocking DD-INPUT-002 at its
  file:line and every other object is still gated (exit 1), as kubeconform keeps going.
  A rule that errs on a *valid* object stays exit 2 (tests/bad_inputs/policy-runtime-error).
* `.nan` / `.inf` (no JSON can carry them): DD-INPUT-001 at the scalar's line.
* Every chart in ../shared/charts, rendered with `helm template` and default values: exit 1,
  never 2; every finding has a line; one severity per rule; no rule twice on one field.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.platform.helm import find_helm

from .conftest import run_drydock


def charts_dir() -> Path:
    return Path(os.environ["DRYDOCK_CHARTS"]).resolve()  # tests/conftest.py defaults it to ../shared/charts

POD = {"apiVersion": "apps/v1", "kind": "Deployment",
       "metadata": {"name": "d", "namespace": "shop", "labels": {"app": "d"}},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}],
                                                      "securityContext": {"runAsNonRoot": True}}],
                                      "volumes": [{"name": "v", "emptyDir": {}}]}}}}
SPEC = ("spec", "template", "spec")
CONTAINER = SPEC + ("containers", 0)

# name -> (path, wrong value): each makes at least one rule fail on a real engine
MALFORMED = {
    "containers-map": (SPEC + ("containers",), {"name": "c"}),
    "containers-string": (SPEC + ("containers",), "c"),
    "container-is-a-number": (SPEC + ("containers",), [1]),
    "init-containers-map": (SPEC + ("initContainers",), {"name": "i"}),
    "volumes-string": (SPEC + ("volumes",), "x"),
    "volumes-list-of-strings": (SPEC + ("volumes",), ["x"]),
    "ports-string": (CONTAINER + ("ports",), "80"),
    "ports-numbers": (CONTAINER + ("ports",), [80]),
    "image-number": (CONTAINER + ("image",), 5),
    "capabilities-add-string": (CONTAINER + ("securityContext",), {"capabilities": {"add": "NET_ADMIN"}}),
}
OTHERS = {
    "role-rules-map": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                       "metadata": {"name": "r", "namespace": "shop"}, "rules": {"verbs": ["get"]}},
    "role-verbs-string": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                          "metadata": {"name": "r2", "namespace": "shop"},
                          "rules": [{"apiGroups": [""], "resources": "secrets", "verbs": "get"}]},
    "ingress-rules-string": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                             "metadata": {"name": "i", "namespace": "shop"}, "spec": {"rules": "x"}},
    "netpol-selector-string": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                               "metadata": {"name": "n", "namespace": "shop"},
                               "spec": {"podSelector": "all", "ingress": {"from": "x"}}},
    "secret-data-list": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
                         "data": ["x"]},
}
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: ok
  namespace: shop
spec:
  containers:
    - name: app
      image: nginx:1.27
      securityContext:
        privileged: true
"""


def _with(path: tuple, value) -> dict:
    obj = json.loads(json.dumps(POD))
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def _write_corpus(folder: Path) -> None:
    folder.mkdir()
    for name, (path, value) in MALFORMED.items():
        (folder / f"{name}.yaml").write_text("# a comment first, so the object starts on line 2\n" +
                                             yaml.safe_dump(_with(path, value), sort_keys=False))
    for name, obj in OTHERS.items():
        (folder / f"{name}.yaml").write_text("# a comment first, so the object starts on line 2\n" +
                                             yaml.safe_dump(obj, sort_keys=False))
    (folder / "privileged.yaml").write_text(PRIVILEGED_POD)


def test_malformed_objects_are_findings_and_the_rest_is_still_gated(tmp_path: Path):
    _write_corpus(tmp_path / "m")
    r = run_drydock("check", "m", "--engines", "schema,policy", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    assert "Traceback" not in r.err
    findings = json.loads(r.out)["findings"]
    unreadable = {Path(f["file"]).stem: f for f in findings if f["rule_id"] == "DD-INPUT-002"}
    # every malformed file is named, at the object's line, and blocks
    assert set(unreadable) == set(MALFORMED) | set(OTHERS), sorted(unreadable)
    assert all(f["line"] == 2 and f["severity"] == "CRITICAL" for f in unreadable.values())
    # the valid file in the same folder is still judged by every rule
    assert any(f["rule_id"] == "DD-PSS-001" and f["file"].endswith("privileged.yaml") for f in findings)


def test_one_malformed_object_among_many_is_found_by_itself(tmp_path: Path):
    """The search names only the object that breaks the rules, not its neighbours."""
    folder = tmp_path / "m"
    folder.mkdir()
    docs = [_with(("metadata", "name"), f"d{i}") for i in range(12)]
    docs[7] = _with(SPEC + ("volumes",), "x")
    docs[7]["metadata"]["name"] = "broken"
    (folder / "many.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    r = run_drydock("check", "m", "--engines", "policy", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    findings = json.loads(r.out)["findings"]
    bad = [f for f in findings if f["rule_id"] == "DD-INPUT-002"]
    assert [f["resource"]["name"] for f in bad] == ["broken"]
    judged = {f["resource"]["name"] for f in findings if f["rule_id"] != "DD-INPUT-002"}
    assert {f"d{i}" for i in range(12) if i != 7} <= judged


@pytest.mark.parametrize("text,line", [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: n}\nspec:\n  replicas: .nan\n", 5),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x:1\n"
     "    resources: {limits: {cpu: -.inf}}\n", 8),
    ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n"
     "  spec: {ports: [{port: .Inf}]}\n", 7),
])
def test_a_non_finite_number_is_an_input_finding_at_its_line(tmp_path: Path, text: str, line: int):
    (tmp_path / "m.yaml").write_text(text)
    (tmp_path / "ok.yaml").write_text(PRIVILEGED_POD)
    r = run_drydock("check", "m.yaml", "ok.yaml", "--engines", "schema,policy", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    findings = json.loads(r.out)["findings"]
    assert [(f["rule_id"], f["file"], f["line"]) for f in findings if f["rule_id"].startswith("DD-INPUT")] == \
        [("DD-INPUT-001", "m.yaml", line)]
    assert any(f["rule_id"] == "DD-PSS-001" for f in findings)


def test_explain_knows_the_unreadable_object_rule(tmp_path: Path):
    r = run_drydock("explain", "DD-INPUT-002", cwd=tmp_path)
    assert r.code == 0 and "Policies cannot read this object" in r.out


def _helm_template_all(out: Path) -> list[Path]:
    helm = find_helm()
    files = []
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "XDG_CACHE_HOME": home,
               "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home}
        for chart in sorted(p for p in charts_dir().iterdir() if (p / "Chart.yaml").is_file()):
            args = [helm, "template", "rel", str(chart), "-n", "tools", "--include-crds"]
            if chart.name.startswith("opentelemetry-collector"):  # the chart refuses to render without these
                args += ["--set", "mode=deployment", "--set", "image.repository=otel/opentelemetry-collector-k8s"]
            proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
            assert proc.returncode == 0, f"{chart.name}: {proc.stderr[-1000:]}"
            path = out / f"{chart.name}.yaml"
            path.write_text(proc.stdout)
            files.append(path)
    return files


@pytest.mark.slow
def test_every_chart_with_default_values_is_gated_without_exit_2(tmp_path: Path):
    folder = tmp_path / "charts"
    folder.mkdir()
    files = _helm_template_all(folder)
    assert len(files) >= 11
    r = run_drydock("check", "charts", "--format", "json", cwd=tmp_path, timeout=600)
    assert r.code == 1, r.err[-3000:]
    assert "Traceback" not in r.err
    report = json.loads(r.out)
    findings = report["findings"]
    assert {Path(f["file"]).name for f in findings} == {p.name for p in files}  # every chart was judged
    assert all(isinstance(f["line"], int) and f["line"] >= 1 for f in findings)
    severities = collections.defaultdict(set)
    for f in findings:
        severities[f["rule_id"]].add(f["severity"])
    assert {r: s for r, s in severities.items() if len(s) > 1} == {}
    # one finding per defect: a rule never reports the same field of one object twice
    seen = collections.Counter((f["file"], json.dumps(f["resource"], sort_keys=True), f["rule_id"], f["line"])
                               for f in findings)
    assert [k for k, n in seen.items() if n > 1] == []


@pytest.mark.parametrize("data,line", [
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: l}\ndata: {a: caf\xe9}\n", 4),  # Latin-1
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u}\n".encode("utf-16"), 1),       # UTF-16 with BOM
])
def test_a_file_that_is_not_utf8_is_a_finding_with_its_line(tmp_path: Path, data: bytes, line: int):
    (tmp_path / "m.yaml").write_bytes(data)
    r = run_drydock("check", "m.yaml", "--engines", "policy", "--format", "json", cwd=tmp_path)
    assert r.code == 1, r.err
    (f,) = [f for f in json.loads(r.out)["findings"] if f["rule_id"] == "DD-INPUT-001"]
    assert (f["file"], f["line"]) == ("m.yaml", line) and "not UTF-8" in f["message"]


def test_non_string_keys_are_the_json_keys_kubernetes_makes_of_them(tmp_path: Path):
    """`1:` and `true:` are "1" and "true" to Kubernetes; to Python `True == 1` (a false duplicate)."""
    (tmp_path / "m.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: k}\n"
                                     "data:\n  1: one\n  true: \"yes\"\n  null: x\n  2.5: y\n")
    r = run_drydock("check", "m.yaml", "--engines", "schema,policy", "--format", "json", cwd=tmp_path)
    assert r.code == 0, r.out + r.err
    from generator.yamlio import parse_manifests
    (doc,) = parse_manifests((tmp_path / "m.yaml").read_text(), "m.yaml")
    assert doc.obj["data"] == {"1": "one", "true": "yes", "null": "x", "2.5": "y"}


# --- property: no wrong type anywhere makes the policy gate give up ---------------------------

BASES = [
    POD,
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
     "rules": [{"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["get", "list"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "shop"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
     "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "shop"}]},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "shop"},
     "spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "t"}],
              "rules": [{"host": "a.example.com", "http": {"paths": [
                  {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n", "namespace": "shop"},
     "spec": {"podSelector": {"matchLabels": {"app": "d"}}, "policyTypes": ["Ingress", "Egress"],
              "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 80}]}], "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"},
     "spec": {"type": "LoadBalancer", "selector": {"app": "d"}, "ports": [{"port": 80, "targetPort": 80}]}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "shop"},
     "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
         "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1", "env": [{"name": "TOKEN", "value": "x"}]}]}}}}}},
]


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


WRONG = st.one_of(st.text(max_size=5), st.integers(-3, 3), st.booleans(), st.lists(st.text(max_size=3), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.lists(st.integers(), max_size=2))


@st.composite
def corrupted(draw):
    docs = json.loads(json.dumps(BASES))
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(st.sampled_from(docs))
        paths = [p for p in _paths(doc) if p and p[0] not in ("apiVersion", "kind")]
        path = draw(st.sampled_from(paths))
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = draw(WRONG)
    return docs


@pytest.mark.slow
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted())
def test_no_wrong_type_anywhere_makes_the_policy_gate_give_up(docs):
    from generator.core import Document
    from generator.gate.engines.rego import evaluate

    documents = [Document("m.yaml", i + 1, d) for i, d in enumerate(docs)]
    findings = evaluate(documents, {})  # an EngineError here is exit 2 for the whole run
    assert all(f.line for f in findings)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted())
def test_no_wrong_type_anywhere_quick(docs):
    """The inner loop's sample of the property above (same body, fewer examples)."""
    test_no_wrong_type_anywhere_makes_the_policy_gate_give_up.hypothesis.inner_test(docs)
