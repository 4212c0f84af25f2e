"""The verdict cache (generator/gate/verdicts.py) must never change a report.

Equivalence: after seeded random edits of every input class that feeds the gates (an add-on
value that changes a Helm expansion, a chart file, a policy, a waiver, a service), a warm run
reports byte for byte what a run without the verdict cache reports, and at the end what a
`--no-cache` run reports. Several edits add a blocking finding that a stale cached answer
would hide. The unit tests pin the key and the entry format.
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
from pathlib import Path

import pytest
import yaml

from generator import api
from generator.core import Finding, Report, Resource, Severity, SourceRef, WaiverRef
from generator.gate import GateContext
from generator.gate import verdicts
from generator.gate.runner import EngineRun
from generator.pipeline import GateOptions, synth

from .conftest import REPO, copy_inputs

CHARTS = Path(os.environ["DRYDOCK_CHARTS"])
HIT = "engine results from the cache"


# -- helpers ------------------------------------------------------------------------------------
def _charts_copy(dest: Path) -> Path:
    shutil.copytree(CHARTS, dest, copy_function=shutil.copyfile)
    for dirpath, _, _ in os.walk(dest):  # the shared folder is read-only; the copy must be editable
        os.chmod(dirpath, 0o755)
    return dest


def _report(repo: Path, charts: Path, cache: Path | None, verdict_cache: bool = True,
            monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[str, bool]:
    """(the JSON report of `synth --all` minus summary.cached, whether the verdict cache answered)."""
    seen: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        if not verdict_cache:
            mp.setattr(verdicts, "run_key", lambda *a, **k: None)
        result = synth(repo, None, out=repo / "out", opts=GateOptions(cache_dir=cache, charts=charts),
                       progress=seen.append)
    report = json.loads(api.format_report(Report.combine(list(result.reports.values())), "json"))
    report["summary"].pop("cached")  # how many answers came from a cache: the one field meant to differ
    return json.dumps(report, sort_keys=True, indent=1), any(HIT in m for m in seen)


def _unwaived(report: str, rule: str, file_part: str = "") -> list[dict]:
    return [f for f in json.loads(report)["findings"]
            if f["rule_id"] == rule and f["waived"] is None and file_part in (f["file"] or "")]


def _add_addon_values(repo: Path, env: str, addon: str, values: dict) -> None:
    path = repo / "environments" / f"{env}.yaml"
    text = path.read_text()
    block = "".join(f"    {line}\n" for line in yaml.safe_dump({addon: {"values": values}}).splitlines())
    text = text.replace("\n  addons:\n", "\n  addons:\n" + block, 1) if "\n  addons:\n" in text \
        else text.rstrip("\n") + "\n  addons:\n" + block
    path.write_text(text)


# -- the edits: each changes one input class; `expect` names a finding the warm run must show --------
def edit_addon_values(repo, charts, rng):
    env = rng.choice(["dev", "staging", "prod"])
    _add_addon_values(repo, env, "fluent-bit", {"securityContext": {"privileged": True}})
    return ("DD-PSS-001", f"rendered/{env}/argocd/application-{env}-fluent-bit.yaml#fluent-bit/")


def edit_chart_file(repo, charts, rng):
    # Only the chart folder changes: nothing in the repo, so only the chart fingerprint can see it.
    name = rng.choice(["metrics-server", "sealed-secrets"])
    chart = next(p for p in charts.iterdir() if p.name.startswith(name + "-"))
    (chart / "templates" / "zz-drydock-test.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-zz-test\nspec:\n  containers:\n"
        "    - name: c\n      image: busybox:1.36\n      securityContext:\n        privileged: true\n")
    return ("DD-PSS-001", "zz-drydock-test.yaml")


def edit_policy(repo, charts, rng):
    folder = repo / "policies" / "workload"
    (folder / "zz_no_config_maps.rego").write_text(
        "# METADATA\n# title: No ConfigMaps (test rule)\n# description: A rule added after the cache was filled.\n"
        "# custom:\n#   id: DD-TST-900\n#   severity: HIGH\n#   fix: Remove the ConfigMap.\n"
        "package drydock.rules.zz_no_config_maps\n\nimport rego.v1\n\n"
        "deny contains {\"msg\": \"a ConfigMap\", \"doc\": i} if {\n\tsome i, d in input.documents\n"
        "\td.object.kind == \"ConfigMap\"\n}\n")
    (folder / "zz_no_config_maps_test.rego").write_text(
        "package drydock.rules.zz_no_config_maps_test\n\nimport rego.v1\n\nimport data.drydock.rules.zz_no_config_maps\n\n"
        "test_fail_cm if {\n\tcount(zz_no_config_maps.deny) == 1 with input as "
        "{\"documents\": [{\"object\": {\"kind\": \"ConfigMap\"}}]}\n}\n\n"
        "test_pass_other if {\n\tcount(zz_no_config_maps.deny) == 0 with input as "
        "{\"documents\": [{\"object\": {\"kind\": \"Secret\"}}]}\n}\n")
    return ("DD-TST-900", "")


def edit_waiver(repo, charts, rng):
    # Waivers are applied after the cache: dropping one must un-waive its findings on a cache hit.
    path = repo / "waivers.yaml"
    data = yaml.safe_load(path.read_text())
    dropped = data["waivers"].pop(rng.randrange(len(data["waivers"])))
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return (dropped["rule"], "")


def edit_service(repo, charts, rng):
    files = sorted(p for p in (repo / "services").glob("*.yaml") if "\n  config:\n" in p.read_text())
    path = rng.choice(files)
    path.write_text(path.read_text().replace("\n  config:\n", f"\n  config:\n    DRYDOCK_EDIT: \"{rng.randrange(10**6)}\"\n", 1))
    return None


def edit_env_lines(repo, charts, rng):
    # Shifts the env file lines of the add-on entries: add-on findings must point at the new lines.
    path = repo / "environments" / f"{rng.choice(['dev', 'staging', 'prod'])}.yaml"
    text = path.read_text()
    path.write_text(text.replace("\n  addons:\n", "\n  addons:\n    # reviewed by the platform team\n", 1)
                    if "\n  addons:\n" in text else text + "# reviewed by the platform team\n")
    return None


EDITS = [edit_addon_values, edit_chart_file, edit_policy, edit_waiver, edit_service, edit_env_lines]


# -- equivalence ----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed", [int(os.environ.get("DRYDOCK_TEST_SEED", "14"))])
def test_warm_reports_equal_uncached_reports_after_random_edits(tmp_path, seed):
    rng = random.Random(seed)
    repo = copy_inputs(tmp_path / "repo")
    charts = _charts_copy(tmp_path / "charts")
    cache = tmp_path / "cache"
    pristine = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}

    first, _ = _report(repo, charts, cache)
    again, hit = _report(repo, charts, cache)
    assert hit and again == first  # nothing changed: the verdict cache answers, and answers the same
    assert _report(repo, charts, cache, verdict_cache=False)[0] == first

    edits = rng.sample(EDITS, len(EDITS))
    for edit in edits:
        expect = edit(repo, charts, rng)
        warm, hit = _report(repo, charts, cache)
        # A waiver is applied after the cache: its edit is answered from it; every other edit is a miss.
        assert hit == (edit is edit_waiver), f"{edit.__name__}: verdict cache hit = {hit}"
        assert warm == _report(repo, charts, cache, verdict_cache=False)[0], edit.__name__
        if expect:
            assert _unwaived(warm, *expect), f"{edit.__name__}: the new blocking finding is missing"

    warm, hit = _report(repo, charts, cache)
    assert hit
    assert warm == _report(repo, charts, None)[0]  # a true --no-cache run: every engine, every document

    for p in list(repo.rglob("*")):  # undo every edit; the chart file goes too
        if p.is_file() and p not in pristine and "out" not in p.relative_to(repo).parts[:1]:
            p.unlink()
    for p, data in pristine.items():
        p.write_bytes(data)
    for p in charts.rglob("zz-drydock-test.yaml"):
        p.unlink()
    assert _report(repo, charts, cache)[0] == first


def test_a_waiver_edit_takes_effect_on_a_cache_hit(tmp_path):
    repo = copy_inputs(tmp_path / "repo")
    opts = GateOptions(cache_dir=tmp_path / "cache", engines=("schema", "policy", "trivy"))

    def run():
        seen: list[str] = []
        result = synth(repo, ["dev"], out=repo / "out", opts=opts, progress=seen.append)
        return [f for r in result.reports.values() for f in r.findings], any(HIT in m for m in seen)

    findings, _ = run()
    waived = [f for f in findings if f.waived]
    assert waived
    path = repo / "waivers.yaml"
    original = path.read_text()
    data = yaml.safe_load(original)
    data["waivers"] = [w for w in data["waivers"] if w["rule"] != waived[0].rule_id]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    findings, hit = run()
    assert hit  # the engines' answer came from the cache ...
    assert [f for f in findings if f.rule_id == waived[0].rule_id and f.resource == waived[0].resource and not f.waived]
    path.write_text(original)
    findings, hit = run()
    assert hit  # ... and restoring the waiver waives it again, still on a hit
    assert [f for f in findings if f.rule_id == waived[0].rule_id and f.resource == waived[0].resource and f.waived]


# -- the key ------------------------------------------------------------------------------------
def _ctx(tmp_path, **kw):
    return GateContext(env="dev", cache_dir=tmp_path / "cache", policy_dirs=(REPO / "policies",), **kw)


def _docs(text="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"):
    from generator.yamlio import parse_manifests

    return {"dev": parse_manifests(text, "rendered/dev/a.yaml")}


def test_the_key_covers_documents_policies_data_and_engines(tmp_path):
    base = verdicts.run_key(_docs(), {"dev": _ctx(tmp_path)}, ("schema", "policy"))
    assert base and base == verdicts.run_key(_docs(), {"dev": _ctx(tmp_path)}, ("schema", "policy"))
    assert verdicts.run_key(_docs("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"),
                            {"dev": _ctx(tmp_path)}, ("schema", "policy")) != base
    assert verdicts.run_key(_docs(), {"dev": _ctx(tmp_path, env_data={"x": 1})}, ("schema", "policy")) != base
    assert verdicts.run_key(_docs(), {"dev": _ctx(tmp_path)}, ("schema",)) != base
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    mine = {"dev": dataclasses.replace(_ctx(tmp_path), policy_dirs=(policies,))}
    before = verdicts.run_key(_docs(), mine, ("policy",))
    rule = next(policies.rglob("*.rego"))
    rule.write_text(rule.read_text() + "\n# edited\n")
    assert verdicts.run_key(_docs(), mine, ("policy",)) != before


def test_no_key_without_a_cache_or_with_an_outside_rego_engine(tmp_path):
    assert verdicts.run_key(_docs(), {"dev": dataclasses.replace(_ctx(tmp_path), cache_dir=None)}, ("policy",)) is None
    assert verdicts.run_key(_docs(), {"dev": _ctx(tmp_path, engine="opa")}, ("policy",)) is None
    assert verdicts.run_key(_docs(), {"dev": _ctx(tmp_path, engine="opa")}, ("schema",)) is not None


def test_a_chart_edit_is_a_new_key_without_reading_the_expansion(tmp_path):
    charts = _charts_copy(tmp_path / "charts")
    from generator.yamlio import read_manifests

    docs = {"dev": read_manifests([REPO / "rendered" / "dev" / "argocd"])}
    ctxs = {"dev": _ctx(tmp_path)}
    before = verdicts.run_key(docs, ctxs, ("platform",), charts)
    assert before and before == verdicts.run_key(docs, ctxs, ("platform",), charts)
    values = next(charts.glob("metrics-server-*")) / "values.yaml"
    data = values.read_bytes()
    values.write_bytes(data.replace(b"replicas: 1", b"replicas: 2"))  # same size, another ctime
    assert verdicts.run_key(docs, ctxs, ("platform",), charts) != before
    (next(charts.glob("metrics-server-*")) / "Chart.yaml").unlink()  # a chart gone: the run reports it
    assert verdicts.run_key(docs, ctxs, ("platform",), charts) is None


# -- the entry ----------------------------------------------------------------------------------
FULL = Finding("DD-X-1", "t", Severity.HIGH, "m", "regorus", Resource("v1", "Pod", "ns", "p"), "f.yaml", 3,
               SourceRef("services/a.yaml", 7), WaiverRef("r", "o", "2027-01-01"), ("KSV-1",), "fix", "u", 9,
               ("spec", "containers", 0), (3, 9))


def test_findings_round_trip_exactly():
    assert verdicts.decode_finding(json.loads(json.dumps(verdicts.encode_finding(FULL)))) == FULL
    bare = Finding("DD-X-2", "t", Severity.LOW, "m", "trivy")
    assert verdicts.decode_finding(json.loads(json.dumps(verdicts.encode_finding(bare)))) == bare


def test_a_damaged_or_foreign_entry_is_a_miss(tmp_path):
    cache = verdicts.VerdictCache(tmp_path)
    run = EngineRun({"dev": [FULL]}, {"dev": {"reachability": {"a": 1}}}, {"dev": 5}, 0, ["k"], ["w"])
    key = "ab" * 32
    assert cache.put(key, run)
    got = cache.get(key, {"dev": []})
    assert got.findings == run.findings and got.extras == run.extras and got.warnings == ["w"] and got.cached == 5
    assert cache.get(key, {"prod": []}) is None  # another set of envs
    path = cache.store.path_for(key)
    path.write_bytes(path.read_bytes().replace(b"DD-X-1", b"DD-X-0"))  # edited: the MAC fails
    assert cache.get(key, {"dev": []}) is None
    other = verdicts.VerdictCache(tmp_path)
    other.store._secret = b"\1" * 32  # another machine's entry
    assert other.put(key, run) and cache.get(key, {"dev": []}) is None
    entry = verdicts.encode_run(key, run)
    entry["envs"][0][1][0].pop("scope")  # an entry written by another version of Finding
    assert verdicts.decode_run(entry, key) is None


def test_folders_are_read_through_symlinks_and_a_loop_ends(tmp_path):
    outside = tmp_path / "outside.rego"
    outside.write_text("package a\n")
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "a.rego").symlink_to(outside)  # the loader reads through it: so must the key
    (folder / "loop").symlink_to(folder)
    before = verdicts._folder_bytes(folder), verdicts.tree_fingerprint(folder)
    outside.write_text("package b\n")
    after = verdicts._folder_bytes(folder), verdicts.tree_fingerprint(folder)
    assert before[0] != after[0] and before[1] != after[1]
