"""Issue 14 "Must show": the expanded add-ons pass the gates by fixed values, their own image
allow-list and reasoned waivers (waivers/), never by silence.

Each values fix is proved on the object the real helm renders from the committed Application
(helm silently ignores a mistyped key: only the expanded object shows the setting took).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from generator.gate.waivers import load_repo_waivers, repo_waiver_files
from generator.errors import InputError

from .conftest import REPO, run_drydock
from .test_helm import CHARTS, _inject

ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def expanded(demo_addons):
    return demo_addons


def _obj(docs, kind, name):
    hits = [d.obj for d in docs if d.obj["kind"] == kind and d.obj["metadata"]["name"] == name]
    assert hits, f"{kind}/{name} not in the expanded add-ons"
    return hits[0]


def _containers(obj):
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec, spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("env", ENVS)
def test_every_addon_container_has_cpu_and_memory_requests_and_limits(env, expanded):
    missing = []
    for d in expanded[env]:
        if d.obj["kind"] not in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
            continue
        for c in _containers(d.obj)[1]:
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for key in ("cpu", "memory"):
                    if key not in (res.get(part) or {}):
                        missing.append(f"{d.obj['metadata']['name']}/{c['name']} {part}.{key}")
    assert missing == []


@pytest.mark.parametrize("addon,kind,name,uid", [
    ("jaeger", "Deployment", "jaeger", 10001),
    ("opentelemetry-collector", "Deployment", "opentelemetry-collector", 10001),
    ("vertical-pod-autoscaler", "Job", "vertical-pod-autoscaler-vpa-admission-certgen", 65534),
])
def test_charts_without_a_secure_default_get_the_restricted_profile(expanded, addon, kind, name, uid):
    envs = [env for env in ENVS if any(d.app == f"{env}-{addon}" for d in expanded[env])]
    assert "prod" in envs  # prod runs every add-on; which run elsewhere is data (test_argocd)
    for env in envs:
        spec, containers = _containers(_obj(expanded[env], kind, name))
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == uid
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in containers:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]


def test_host_agents_keep_only_what_they_need(expanded):
    for env in ENVS:
        fb = _obj(expanded[env], "DaemonSet", "fluent-bit")
        spec, (c,) = _containers(fb)
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        ne = _obj(expanded[env], "DaemonSet", "kube-prometheus-stack-prometheus-node-exporter")
        spec, containers = _containers(ne)
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        node_exporter = next(c for c in containers if c["name"] == "node-exporter")
        assert node_exporter["securityContext"]["allowPrivilegeEscalation"] is False
        assert node_exporter["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_tokens_are_off_where_the_addon_never_calls_the_api(expanded):
    prod = expanded["prod"]  # the env that runs all of them
    assert _obj(prod, "ServiceAccount", "jaeger").get("automountServiceAccountToken") is False
    assert _obj(prod, "ServiceAccount", "kube-prometheus-stack-alertmanager")["automountServiceAccountToken"] is False
    assert _obj(prod, "Alertmanager", "kube-prometheus-stack-alertmanager")["spec"]["automountServiceAccountToken"] is False


def test_pod_security_contexts_that_were_empty_are_set(expanded):
    for env in ENVS:
        for name in ("ingress-nginx-admission-create", "ingress-nginx-admission-patch"):
            spec, _ = _containers(_obj(expanded[env], "Job", name))
            assert spec["securityContext"]["runAsNonRoot"] is True
        for name in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"):
            spec, _ = _containers(_obj(expanded[env], "Deployment", name))
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_addon_images_come_from_their_catalogue_prefixes(expanded):
    from generator.model.addons import catalogue

    cat = catalogue()
    for env in ENVS:
        for d in expanded[env]:
            if d.obj["kind"] not in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
                continue
            addon = d.app.removeprefix(f"{env}-")
            for c in _containers(d.obj)[1]:
                assert c["image"].startswith(cat[addon].images), (d.app, c["image"])


def test_an_image_smuggled_through_addon_values_is_caught(repo_copy):
    """An add-on may pull only its own upstream images: a registry the env trusts for our
    services, or another add-on's, is no more trusted than an unknown one."""
    line = _inject(repo_copy, "dev", "fluent-bit",
                   {"image": {"repository": "registry.example.com/ecommerce/fluent-bit", "tag": "3.1.9"}})
    r = run_drydock("synth", "--env", "dev", "--format", "json", cwd=repo_copy, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 1, r.err
    report = json.loads(r.out)
    hits = [f for f in report["findings"] if f["rule_id"] == "DD-WKL-010" and f["waived"] is None]
    assert len(hits) == 1, [f["rule_id"] for f in report["findings"] if f["waived"] is None]
    f = hits[0]
    assert "registry.example.com/ecommerce/fluent-bit:3.1.9" in f["message"]
    assert "cr.fluentbit.io/fluent/fluent-bit:" in f["message"]
    assert f["resource"] == {"apiVersion": "apps/v1", "kind": "DaemonSet", "namespace": "logging", "name": "fluent-bit"}
    assert f["file"] == "rendered/dev/argocd/application-dev-fluent-bit.yaml#fluent-bit/templates/daemonset.yaml"
    assert f["source"] == {"file": "environments/dev.yaml", "line": line}
    assert not (repo_copy / "rendered" / "dev").exists()  # a gated-out render writes nothing


def test_waivers_folder_is_read_and_each_file_names_one_addon():
    files = repo_waiver_files(REPO)
    assert files[0].name == "waivers.yaml" and len(files) > 1
    waivers = load_repo_waivers(REPO, envs=ENVS)
    assert {Path(w.file).parent.as_posix() for w in waivers} == {".", "waivers"}
    for path in files[1:]:
        data = yaml.safe_load(path.read_text())
        assert data["kind"] == "WaiverList" and data["waivers"], path


def test_a_waiver_written_in_two_files_is_bad_input(tmp_path):
    entry = ("  - rule: DD-PSS-002\n    resource: {kind: DaemonSet, namespace: monitoring, name: x}\n"
             "    env: [dev]\n    reason: node-exporter needs the host network by design\n"
             "    owner: platform-team\n    expires: \"2027-01-31\"\n")
    head = "apiVersion: drydock/v1\nkind: WaiverList\nwaivers:\n"
    (tmp_path / "waivers.yaml").write_text(head + entry)
    (tmp_path / "waivers").mkdir()
    (tmp_path / "waivers" / "kube-prometheus-stack.yaml").write_text(head + entry)
    with pytest.raises(InputError) as err:
        load_repo_waivers(tmp_path, envs=["dev"])
    assert "written twice" in str(err.value) and "waivers.yaml:4" in str(err.value)


def test_an_unused_addon_waiver_still_fails_the_gate(repo_copy):
    """A waiver in waivers/ that matches nothing is reported like one in waivers.yaml."""
    extra = repo_copy / "waivers" / "zz-stale.yaml"
    extra.write_text("apiVersion: drydock/v1\nkind: WaiverList\nwaivers:\n"
                     "  - rule: DD-PSS-002\n    resource: {kind: DaemonSet, namespace: monitoring, name: gone-exporter}\n"
                     "    env: [dev]\n    reason: an exporter that was removed from the chart\n"
                     "    owner: platform-team\n    expires: \"2027-01-31\"\n")
    r = run_drydock("synth", "--env", "dev", "--format", "json", cwd=repo_copy, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 1, r.err
    report = json.loads(r.out)
    unused = [f for f in report["findings"] if "gone-exporter" in f["message"] and f["waived"] is None]
    assert unused and unused[0]["file"] == "waivers/zz-stale.yaml"


@pytest.mark.slow
def test_the_demo_passes_all_four_gates_in_every_env_and_synth_writes_nothing_new(repo_with_render):
    r = run_drydock("synth", "--all", "--format", "json", cwd=repo_with_render, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 0, r.out[-3000:] + r.err[-2000:]
    summary = json.loads(r.out)["summary"]
    assert summary["engines"] == ["schema", "policy", "trivy", "platform"] and summary["blocking"] == 0
    r = run_drydock("synth", "--all", "--check", cwd=repo_with_render, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 0, r.out + r.err
    for env in ENVS:
        r = run_drydock("check", f"rendered/{env}", "--env", env, "--format", "json", cwd=repo_with_render,
                        env={"DRYDOCK_CHARTS": str(CHARTS)})
        assert r.code == 0, (env, r.out[-2000:], r.err[-2000:])
        assert json.loads(r.out)["summary"]["engines"] == ["schema", "policy", "trivy", "platform"]


def test_addon_waivers_are_not_judged_unused_by_a_run_that_did_not_expand_the_charts(repo_copy):
    """Without the platform engine the add-ons' objects are never gated, so their waivers cannot be
    judged; a stale waiver on an object that run did gate still fails it."""
    r = run_drydock("synth", "--env", "dev", "--engines", "schema,policy,trivy", cwd=repo_copy,
                    env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 0, r.out[-2000:] + r.err[-2000:]
    (repo_copy / "waivers" / "zz-stale.yaml").write_text(
        "apiVersion: drydock/v1\nkind: WaiverList\nwaivers:\n"
        "  - rule: DD-WKL-010\n    resource: {kind: Deployment, namespace: ecommerce, name: frontend}\n"
        "    env: [dev]\n    reason: the frontend image moved to our own registry long ago\n"
        "    owner: platform-team\n    expires: \"2027-01-31\"\n")
    r = run_drydock("synth", "--env", "dev", "--engines", "schema,policy,trivy", "--format", "json", cwd=repo_copy,
                    env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 1
    assert [f["rule_id"] for f in json.loads(r.out)["findings"] if f["file"] == "waivers/zz-stale.yaml"] == ["DD-WAIVER-002"]
