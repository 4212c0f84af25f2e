"""Helm add-ons: expanded by the real helm from the chart folder, cached, and gated like our own objects."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from generator.core import Document, SourceRef
from generator.errors import InputError
from generator.platform.helm import Expander, expand_applications, helm_sources
from generator.yamlio import read_manifests

from .conftest import REPO, run_drydock

CHARTS = (REPO / ".." / "shared" / "charts").resolve()
HELM_APPS = {"dev": 8, "staging": 9, "prod": 11}


def rendered(env: str) -> list[Document]:
    return read_manifests([REPO / "rendered" / env])


def application(chart: str, version: str, repo: str, helm: dict, name: str = "t-app", ns: str = "tools") -> Document:
    obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": name, "namespace": "argocd"},
           "spec": {"project": "p", "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
                    "source": {"repoURL": repo, "chart": chart, "targetRevision": version, "helm": helm}}}
    return Document("apps/app.yaml", 1, obj, SourceRef("environments/dev.yaml", 40))


def metrics_server(helm: dict) -> Document:
    return application("metrics-server", "3.12.2", "https://kubernetes-sigs.github.io/metrics-server/", helm)


def deployment(docs: list[Document]) -> dict:
    return next(d.obj for d in docs if d.obj["kind"] == "Deployment")


@pytest.mark.parametrize("env", sorted(HELM_APPS))
def test_every_demo_application_expands_with_the_real_helm(env, demo_addons):
    docs = rendered(env)  # the committed render; demo_addons expands the same Applications rendered in-process
    out = demo_addons[env]
    apps = {d.obj["metadata"]["name"] for d in docs if helm_sources(d)}
    assert len(apps) == HELM_APPS[env]
    per_app = Counter(d.app for d in out)
    assert set(per_app) == apps and all(n > 0 for n in per_app.values())
    # cert-manager's controller, named by the Application's file and the chart template it came from
    dep = next(d for d in out if d.obj["kind"] == "Deployment" and d.obj["metadata"]["name"] == "cert-manager")
    assert dep.file == f"rendered/{env}/argocd/application-{env}-cert-manager.yaml#cert-manager/templates/deployment.yaml"
    assert dep.app == f"{env}-cert-manager" and dep.obj["metadata"]["namespace"] == "cert-manager"
    assert dep.line >= 3 and dep.text and dep.text.lstrip().startswith("apiVersion")
    # objects without a namespace land in the destination namespace; cluster-scoped kinds stay without
    assert all(d.obj["metadata"].get("namespace") for d in out if d.obj["kind"] in ("Service", "ServiceAccount"))
    assert all("namespace" not in d.obj["metadata"] for d in out if d.obj["kind"] in ("ClusterRole", "CustomResourceDefinition"))


def test_an_unchanged_application_is_served_from_the_cache_by_a_new_expander(tmp_path):
    app = [metrics_server({"valuesObject": {"replicas": 2}})]
    first = Expander(CHARTS, tmp_path, use_memo=False)
    cold = expand_applications(app, CHARTS, expander=first)
    second = Expander(CHARTS, tmp_path, use_memo=False)
    warm = expand_applications(app, CHARTS, expander=second)
    assert (first.runs, first.hits, second.runs, second.hits) == (1, 0, 0, 1)
    assert [(d.file, d.line, d.obj) for d in warm] == [(d.file, d.line, d.obj) for d in cold]


@pytest.mark.slow  # every dev add-on expanded cold (the quick case is the one above)
def test_second_run_is_served_from_the_cache(tmp_path):
    docs = rendered("dev")
    first = Expander(CHARTS, tmp_path, use_memo=False)
    cold = expand_applications(docs, CHARTS, expander=first)
    assert first.runs >= HELM_APPS["dev"] and first.hits == 0
    second = Expander(CHARTS, tmp_path, use_memo=False)
    warm = expand_applications(docs, CHARTS, expander=second)
    assert second.runs == 0 and second.hits == first.runs
    assert [(d.file, d.line, d.obj) for d in warm] == [(d.file, d.line, d.obj) for d in cold]


def test_changed_values_miss_the_cache(tmp_path):
    e = Expander(CHARTS, tmp_path, use_memo=False)
    expand_applications([metrics_server({"valuesObject": {"replicas": 2}})], CHARTS, expander=e)
    expand_applications([metrics_server({"valuesObject": {"replicas": 3}})], CHARTS, expander=e)
    assert e.runs == 2 and e.hits == 0


def test_values_object_values_string_and_parameters_are_honoured():
    # valuesObject wins over the values string (ArgoCD does not merge them)
    out = expand_applications([metrics_server({"valuesObject": {"replicas": 2}, "values": "replicas: 5\n"})], CHARTS)
    assert deployment(out)["spec"]["replicas"] == 2
    out = expand_applications([metrics_server({"values": "replicas: 5\n"})], CHARTS)
    assert deployment(out)["spec"]["replicas"] == 5
    # parameters are --set: they override both; forceString keeps "true" a string
    out = expand_applications([metrics_server({"values": "replicas: 5\n", "parameters": [
        {"name": "replicas", "value": "4"},
        {"name": "podLabels.team", "value": "true", "forceString": True},
        {"name": "podLabels.tier", "value": "a,b"}]})], CHARTS)
    dep = deployment(out)
    assert dep["spec"]["replicas"] == 4
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels["team"] == "true" and labels["tier"] == "a,b"
    # release name and namespace: helm.releaseName, else the Application's name; destination namespace
    out = expand_applications([metrics_server({"releaseName": "ms"})], CHARTS)
    assert deployment(out)["metadata"]["name"] == "ms-metrics-server"
    assert deployment(out)["metadata"]["namespace"] == "tools"
    out = expand_applications([metrics_server({})], CHARTS)
    assert deployment(out)["metadata"]["name"] == "t-app-metrics-server"


def test_missing_chart_is_exit_2_naming_chart_version_and_fix(repo_with_render, tmp_path):
    empty = tmp_path / "charts"
    empty.mkdir()
    r = run_drydock("check", "rendered/dev", "--env", "dev", "--engines", "policy,platform", "--charts", str(empty),
                    cwd=repo_with_render)
    assert r.code == 2, r.err
    assert f"error: chart cert-manager v1.16.2 (https://charts.jetstack.io) is not in {empty}" in r.err
    assert "(environments/dev.yaml:" in r.err and "Traceback" not in r.err
    assert "drydock charts pull" in r.err and "DRYDOCK_CHARTS" in r.err and "--charts" in r.err


def test_helm_failure_is_exit_2_with_helms_message_and_no_values(tmp_path):
    secret = "hunter2-very-secret-token"
    # cert-manager's values.schema.json wants a number here
    app = application("cert-manager", "v1.16.2", "https://charts.jetstack.io", {"valuesObject": {"replicaCount": secret}})
    with pytest.raises(InputError) as err:
        expand_applications([app], CHARTS)
    text = str(err.value)
    assert "helm template failed for Application t-app (chart cert-manager v1.16.2" in text
    assert "replicaCount" in text and secret not in text
    assert err.value.problems[0].file == "environments/dev.yaml" and err.value.problems[0].line == 40
    # and through the CLI: exit 2, no traceback
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(app.obj))
    r = run_drydock("check", str(path), "--engines", "platform", "--charts", str(CHARTS), cwd=tmp_path)
    assert r.code == 2 and "helm template failed" in r.err and secret not in r.err + r.out
    assert "Traceback" not in r.err


def test_unknown_helm_is_exit_2(tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text(yaml.safe_dump(metrics_server({}).obj))
    r = run_drydock("check", str(app), "--engines", "platform", "--charts", str(CHARTS), cwd=tmp_path,
                    env={"DRYDOCK_HELM": str(tmp_path / "no-helm")})
    assert r.code == 2 and "DRYDOCK_HELM" in r.err and "provision_helm.py" in r.err


def _inject(repo: Path, env: str, addon: str, values: dict) -> int:
    """Add spec.addons.<addon>.values to environments/<env>.yaml; return the line of `values:`."""
    path = repo / "environments" / f"{env}.yaml"
    text = path.read_text()
    block = yaml.safe_dump({addon: {"values": values}}, default_flow_style=False)
    indented = "".join(f"    {line}\n" for line in block.splitlines())
    if "\n  addons:\n" in text:
        text = text.replace("\n  addons:\n", "\n  addons:\n" + indented, 1)
    else:
        text = text.rstrip("\n") + "\n  addons:\n" + indented
    path.write_text(text)
    return text.splitlines().index("      values:", text.splitlines().index(f"    {addon}:")) + 1


@pytest.mark.parametrize("env,addon,values,template", [
    ("dev", "fluent-bit", {"securityContext": {"privileged": True}}, "fluent-bit/templates/daemonset.yaml"),
    ("staging", "ingress-nginx", {"controller": {"containerSecurityContext": {"privileged": True}}},
     "ingress-nginx/templates/controller-deployment.yaml"),
])
def test_privileged_pod_smuggled_through_addon_values_is_caught(repo_copy, env, addon, values, template):
    line = _inject(repo_copy, env, addon, values)
    r = run_drydock("synth", "--env", env, "--engines", "policy,platform", "--format", "json",
                    cwd=repo_copy, env={"DRYDOCK_CHARTS": str(CHARTS)})
    assert r.code == 1, r.err
    report = json.loads(r.out)
    hits = [f for f in report["findings"] if f["rule_id"] == "DD-PSS-001" and f["waived"] is None]
    assert hits, [f["rule_id"] for f in report["findings"]][:20]
    f = hits[0]
    assert f["file"] == f"rendered/{env}/argocd/application-{env}-{addon}.yaml#{template}"
    assert f["source"] == {"file": f"environments/{env}.yaml", "line": line}
    assert "platform" in report["summary"]["engines"]


def test_provision_script_is_idempotent_and_helm_works():
    script = REPO / "scripts" / "provision_helm.py"
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    helm = Path(sys.executable).parent / "helm"
    assert os.access(helm, os.X_OK) and "v4.1.4" in r.stdout
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "already" in r.stdout


def test_provision_refuses_other_platforms_with_a_clear_fix(monkeypatch):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import provision_helm
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(provision_helm.platform, "machine", lambda: "arm64")
    with pytest.raises(provision_helm.ProvisionError) as err:
        provision_helm.check_platform()
    assert "x86-64" in str(err.value) and "DRYDOCK_HELM" in err.value.fix


def test_only_what_argocd_applies_is_gated():
    from generator.platform.cluster import applied_by_argocd

    def obj(ann):
        return {"kind": "Pod", "metadata": {"name": "p", "annotations": ann}}
    assert applied_by_argocd(obj({}))
    assert applied_by_argocd(obj({"helm.sh/hook": "pre-install,pre-upgrade"}))  # ArgoCD runs it as PreSync
    assert not applied_by_argocd(obj({"helm.sh/hook": "test"}))  # helm test hooks: ArgoCD has no equivalent
    assert not applied_by_argocd(obj({"helm.sh/hook": "post-delete"}))
    assert applied_by_argocd(obj({"helm.sh/hook": "test", "argocd.argoproj.io/hook": "PostSync"}))
    assert not applied_by_argocd(obj({"argocd.argoproj.io/hook": "Skip"}))
    out = expand_applications(rendered("dev"), CHARTS)
    assert not [d for d in out if "/templates/tests/" in d.file]


def test_namespace_filled_objects_are_judged_by_object_not_stale_text():
    out = expand_applications(rendered("prod"), CHARTS)
    filled = [d for d in out if d.app == "prod-vertical-pod-autoscaler" and d.obj["kind"] == "Deployment"]
    assert filled and all(d.obj["metadata"]["namespace"] == "vpa" and d.text is None for d in filled)


def test_helm_that_hangs_is_killed_with_its_children_and_is_exit_2(tmp_path):
    from generator.errors import EngineError

    marker = tmp_path / "child.pid"
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\n"
                    'if [ "$1" = version ]; then echo v9.9.9; exit 0; fi\n'
                    f"sleep 300 & echo $! > {marker}\nwait\n")
    fake.chmod(0o755)
    e = Expander(CHARTS, None, helm=str(fake), timeout=1, use_memo=False)
    with pytest.raises(EngineError) as err:
        expand_applications([metrics_server({})], CHARTS, expander=e)
    assert "did not finish in 1 s" in str(err.value) and err.value.problems[0].file == "environments/dev.yaml"
    child = int(marker.read_text())
    assert _dead(child)  # killed with helm's process group


def test_a_failed_expansion_ends_the_others_still_running(tmp_path):
    """helm runs in a session of its own, in a pool of threads: when one template fails (or
    Ctrl-C arrives), the others are killed, not awaited (the slow one here would finish in 5 s)."""
    pid_file, finished = tmp_path / "hanging.pid", tmp_path / "finished"
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\n"
                    'if [ "$1" = version ]; then echo v9.9.9; exit 0; fi\n'
                    # the broken chart fails once the other helm runs, so that one is in flight
                    f'case "$*" in *metrics-server*) while [ ! -s {pid_file} ]; do sleep 0.05; done\n'
                    '  echo "Error: broken chart" >&2; exit 1;; esac\n'
                    f"echo $$ > {pid_file}\nsleep 5\ntouch {finished}\n")
    fake.chmod(0o755)
    hanging = application("sealed-secrets", "2.16.2", "https://bitnami-labs.github.io/sealed-secrets", {}, name="t-ss")
    e = Expander(CHARTS, None, helm=str(fake), timeout=600, use_memo=False)
    with pytest.raises(InputError, match="broken chart"):
        expand_applications([metrics_server({}), hanging], CHARTS, expander=e)
    assert _dead(int(pid_file.read_text()))
    time.sleep(0.2)
    assert not finished.exists()  # killed, not awaited


def _dead(pid: int) -> bool:
    """Gone or a zombie; a SIGKILLed process on a busy machine takes a moment to be scheduled and die."""
    status, deadline = Path(f"/proc/{pid}/status"), time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in status.read_text():
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_charts_pull_fills_and_indexes_the_folder_then_list_is_clean(repo_copy, tmp_path):
    # A stand-in for `helm pull` (no network here): copies the chart from the shared folder,
    # so the test checks what drydock asks for and what it does with the download.
    log = tmp_path / "calls"
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\n"
                    f'echo "$@" >> {log}\n'
                    'if [ "$1" = version ]; then echo v4.1.4; exit 0; fi\n'
                    'chart=$2; shift 2; while [ $# -gt 0 ]; do case $1 in --version) v=$2;; --untardir) d=$2;; esac; shift; done\n'
                    f'cp -r {CHARTS}/$chart-$v "$d/$chart"\n')
    fake.chmod(0o755)
    folder = tmp_path / "charts"
    r = run_drydock("charts", "pull", "--charts", str(folder), cwd=repo_copy, env={"DRYDOCK_HELM": str(fake)})
    assert r.code == 0, r.err
    assert r.out.count("pulled chart ") == 11
    calls = log.read_text()
    assert "pull cert-manager --repo https://charts.jetstack.io --version v1.16.2 --untar" in calls
    index = yaml.safe_load((folder / "index.yaml").read_text())["charts"]
    assert {"repoURL": "https://charts.jetstack.io", "chart": "cert-manager", "version": "v1.16.2",
            "path": "cert-manager-v1.16.2"} in index and len(index) == 11
    r = run_drydock("charts", "list", "--charts", str(folder), cwd=repo_copy)
    assert r.code == 0 and "MISSING" not in r.out
    # nothing left to pull: no helm call at all
    log.write_text("")
    r = run_drydock("charts", "pull", "--charts", str(folder), cwd=repo_copy, env={"DRYDOCK_HELM": str(fake)})
    assert r.code == 0 and "pull " not in log.read_text()


HELM_STREAM = """---
# Source: c/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: a1
---
# Source: c/templates/b.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: b1
---
# Source: c/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: a2
"""


def test_helm_output_lines_count_in_each_templates_own_output():
    from generator.platform.helm_output import split_output

    rows = split_output(HELM_STREAM)
    assert [(r["template"], r["obj"]["metadata"]["name"], r["line"]) for r in rows] == [
        ("c/templates/a.yaml", "a1", 3), ("c/templates/a.yaml", "a2", 9), ("c/templates/b.yaml", "b1", 3)]
    assert rows[0]["text"].startswith("apiVersion: v1\nkind: ConfigMap")
    # the same chunks in another release's output (parsed once) land on the same rows
    assert split_output(HELM_STREAM) == rows


def test_a_broken_chunk_of_helm_output_names_the_template_and_its_line():
    from generator.platform.helm_output import split_output

    broken = HELM_STREAM.replace("  name: a2\n", "  name: [a2\n")
    with pytest.raises(InputError) as e:
        split_output(broken)
    problem = e.value.problems[0]
    assert problem.file == "c/templates/a.yaml" and problem.line >= 9, problem.render()
