"""The Rego rules and their tests, the METADATA loader and engine errors.

Every rule's `_test.rego` runs under embedded regorus (what `drydock
test-policies` does) and, when `opa-golib-python-bindings` is installed, under
the real OPA Go engine too, so a rule relying on a regorus-only behaviour fails
here rather than in GitHub Actions' `opa test`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from generator.errors import EngineError, InputError
from generator.gate.engines.rego import (
    RegorusEngine,
    clear_engine_cache,
    default_policy_dir,
    evaluate,
    get_engine,
    load_policies,
)
from generator.core import Document, Severity
from generator.gate.policy_tests import run_policy_tests, policy_test_names

POLICIES = default_policy_dir()

RULE = '''# METADATA
# title: No pods named evil
# description: Test rule.
# related_resources:
#   - https://example.com/rule
# custom:
#   id: {id}
#   severity: {severity}
#   fix: Rename the pod.
package drydock.rules.{pkg}

import rego.v1

deny contains {{"msg": "evil pod", "doc": i}} if {{
	some i, d in input.documents
	d.object.metadata.name == "evil"
}}
'''

TEST = '''package drydock.rules.{pkg}_test

import data.drydock.rules.{pkg}
import rego.v1

test_fail_evil if {{
	count({pkg}.deny) == 1 with input as {{"documents": [{{"object": {{"metadata": {{"name": "evil"}}}}}}]}}
}}

test_pass_good if {{
	count({pkg}.deny) == {expect_pass} with input as {{"documents": [{{"object": {{"metadata": {{"name": "good"}}}}}}]}}
}}
'''


def write_rule(d: Path, pkg="evil", id="T-001", severity="HIGH", expect_pass=0, body=None):
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{pkg}.rego").write_text(body or RULE.format(id=id, severity=severity, pkg=pkg))
    (d / f"{pkg}_test.rego").write_text(TEST.format(pkg=pkg, expect_pass=expect_pass))
    return d


def rule_files() -> list[Path]:
    return sorted(p for p in POLICIES.rglob("*.rego") if not p.name.endswith("_test.rego") and "lib" not in p.parts)


# ---------------------------------------------------------------- the rules


def test_all_policy_tests_pass_under_regorus():
    results = run_policy_tests([POLICIES])
    failed = [f"{r.package}.{r.name}: {r.error}" for r in results if not r.passed]
    assert failed == []
    assert len(results) >= 2 * len(rule_files())


@pytest.mark.slow  # the OPA double of test_all_policy_tests_pass_under_regorus
def test_all_policy_tests_pass_under_real_opa():
    opa_bindings = pytest.importorskip("opa_bindings")

    def runner(mods, test):
        engine = opa_bindings.OpaEngine()
        for m in mods + [test]:
            engine.add_policy(str(m.path), m.text)
        return engine.eval_document(test.package)

    results = run_policy_tests([POLICIES], runner=runner)
    failed = [f"{r.package}.{r.name}: {r.error}" for r in results if not r.passed]
    assert failed == []
    assert len(results) == len(run_policy_tests([POLICIES]))


def test_at_least_40_rules_with_unique_ids_and_full_metadata():
    bundle = load_policies([POLICIES])
    ids = [r.id for r in bundle.rules]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    assert len(bundle.rules) == len(rule_files())
    for r in bundle.rules:
        assert re.fullmatch(r"DD-(PSS|WKL|RBAC|PLT|XRS)-\d{3}", r.id), r.id
        assert r.title and r.description and r.fix and r.url.startswith("https://"), r.id
        assert r.package == "drydock.rules." + r.file.stem, r.file
        assert all(re.fullmatch(r"KSV-\d{4}", t) for t in r.trivy_ids), r.id


@pytest.mark.parametrize("rule", rule_files(), ids=lambda p: p.stem)
def test_rule_has_fail_and_pass_tests(rule):
    test = rule.with_name(rule.stem + "_test.rego")
    assert test.exists(), f"{rule} has no {test.name}"
    text = test.read_text()
    assert re.search(rf"^package drydock\.rules\.{rule.stem}_test$", text, re.M)
    names = re.findall(r"^(test_\w+)", text, re.M)
    assert any(n.startswith("test_fail_") for n in names)
    assert any(n.startswith("test_pass_") for n in names)
    assert "with input as" in text
    assert "import rego.v1" in rule.read_text()


def test_runner_reports_failing_and_broken_tests(tmp_path):
    write_rule(tmp_path / "a", expect_pass=5)  # test_pass_good is wrong on purpose
    results = {r.name: r for r in run_policy_tests([tmp_path / "a"])}
    assert results["test_fail_evil"].passed and not results["test_pass_good"].passed
    assert results["test_pass_good"].error == "evaluated to false" or results["test_pass_good"].error == "undefined"

    d = write_rule(tmp_path / "b")
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('"evil pod"', "no_such_fn(1)"))
    results = run_policy_tests([d])
    assert results and not any(r.passed for r in results)
    assert "evil.rego" in (results[0].error or "")


def test_test_names_deduplicates_incremental_tests(tmp_path):
    write_rule(tmp_path)
    bundle = load_policies([tmp_path])
    assert policy_test_names(bundle.tests[0]) == ["test_fail_evil", "test_pass_good"]


# ------------------------------------------------------------ the loader


def test_metadata_is_parsed(tmp_path):
    write_rule(tmp_path, severity="medium")
    [rule] = load_policies([tmp_path]).rules
    assert (rule.id, rule.severity, rule.title, rule.fix, rule.url) == (
        "T-001", Severity.MEDIUM, "No pods named evil", "Rename the pod.", "https://example.com/rule")
    assert rule.package == "drydock.rules.evil" and rule.line == 10


@pytest.mark.parametrize("mutate, message, line", [
    (lambda t: t.replace("#   id: T-001\n", ""), "no custom.id", 2),
    (lambda t: t.replace("#   severity: HIGH\n", ""), "no custom.severity", 7),
    (lambda t: t.replace("severity: HIGH", "severity: URGENT"), "unknown severity", 8),
    (lambda t: t.replace("# title: No pods named evil\n", ""), "no title", 2),
    (lambda t: t.replace("# METADATA\n", ""), "no `# METADATA` block", 9),
    (lambda t: t.replace("# custom:", "# custom: [oops"), "not valid YAML", None),
])
def test_bad_metadata_is_an_input_error_with_file_and_line(tmp_path, mutate, message, line):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text(mutate((d / "evil.rego").read_text()))
    with pytest.raises(InputError) as e:
        load_policies([d])
    p = e.value.problems[0]
    assert message in p.message and p.file.endswith("evil.rego")
    if line:
        assert p.line == line


def test_duplicate_ids_are_an_input_error(tmp_path):
    write_rule(tmp_path, pkg="one", id="T-001")
    write_rule(tmp_path, pkg="two", id="T-001")
    with pytest.raises(InputError) as e:
        load_policies([tmp_path])
    p = e.value.problems[0]
    assert "duplicate rule id T-001" in p.message and p.file.endswith("two.rego") and p.line == 7


def test_digest_changes_with_content_only(tmp_path):
    d = write_rule(tmp_path / "x")
    first = load_policies([d]).digest
    assert load_policies([d]).digest == first
    (d / "evil_test.rego").write_text((d / "evil_test.rego").read_text() + "\n")
    assert load_policies([d]).digest == first  # tests are not evaluated by the gate
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace("evil pod", "bad pod"))
    assert load_policies([d]).digest != first


def test_missing_policy_dir_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        load_policies([tmp_path / "nope"])
    with pytest.raises(InputError, match="no policies"):
        load_policies([tmp_path])


# ------------------------------------------------------------- engine errors


def doc(name="evil"):
    return Document("x.yaml", 3, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}})


def test_regorus_syntax_error_names_file_and_line(tmp_path):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('== "evil"', '== '))
    with pytest.raises(EngineError) as e:
        evaluate([doc()], policy_dirs=[d])
    p = e.value.problems[0]
    assert p.file.endswith("evil.rego") and p.line in (17, 18) and "Stack backtrace" not in p.message
    assert p.hint


def test_regorus_unknown_function_is_an_engine_error(tmp_path):
    # regorus resolves functions lazily (it has no separate compile step): the
    # error comes from the first evaluation that reaches the call. OPA reports it
    # at load (see test_policies_opa.py).
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('"evil pod"', "no_such_fn(1)"))
    with pytest.raises(EngineError) as e:
        evaluate([doc()], policy_dirs=[d])
    assert e.value.problems[0].file.endswith("evil.rego") and "no_such_fn" in e.value.problems[0].message


def test_regorus_runtime_conflict_is_an_engine_error(tmp_path):
    d = write_rule(tmp_path)
    text = (d / "evil.rego").read_text() + '\nname_of(d) := d.object.metadata.name\nname_of(d) := "x"\n'
    text = text.replace('d.object.metadata.name == "evil"', 'name_of(d) == "evil"')
    (d / "evil.rego").write_text(text)
    with pytest.raises(EngineError) as e:
        evaluate([doc()], policy_dirs=[d])
    assert e.value.problems[0].file.endswith("evil.rego")


def test_rule_without_deny_fails_closed(tmp_path):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace("deny contains", "warn contains"))
    with pytest.raises(EngineError, match="no `deny` set"):
        evaluate([doc()], policy_dirs=[d])


def test_bad_deny_entry_fails_closed(tmp_path):
    d = write_rule(tmp_path)
    (d / "evil.rego").write_text((d / "evil.rego").read_text().replace('"doc": i', '"doc": 99'))
    with pytest.raises(EngineError, match="index into input.documents"):
        evaluate([doc()], policy_dirs=[d])


def test_unknown_engine_and_missing_opa_binary(tmp_path, monkeypatch):
    bundle = load_policies([write_rule(tmp_path)])
    with pytest.raises(EngineError, match="unknown policy engine"):
        get_engine("nope", bundle)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    clear_engine_cache()
    with pytest.raises(EngineError, match="not on PATH") as e:
        get_engine("opa", bundle)
    assert "--engine regorus" in e.value.problems[0].hint


def test_engine_is_reused_and_clones_are_independent(tmp_path):
    d = write_rule(tmp_path)
    bundle = load_policies([d])
    engine = get_engine("regorus", bundle)
    assert get_engine("regorus", bundle) is engine and isinstance(engine, RegorusEngine)
    assert {f.message for f in evaluate([doc()], policy_dirs=[d])} == {"evil pod"}
    assert evaluate([doc("good")], policy_dirs=[d]) == []


def test_whole_render_of_200_documents_is_fast():
    from tests.test_policies_fixtures import PROD_ENV, FIXTURES, load_docs

    base = load_docs(FIXTURES / "good" / "shop-stack.yaml") + load_docs(FIXTURES / "good" / "data-stack.yaml")
    docs = []
    n = 0
    while len(docs) < 200:  # copies of the good stacks, each in its own namespaces
        for d in base:
            meta = dict(d.obj["metadata"])
            if d.obj["kind"] == "Namespace":
                meta["name"] = f"c{n}-{meta['name']}"
            elif "namespace" in meta:
                meta["namespace"] = f"c{n}-{meta['namespace']}"
            docs.append(Document(d.file, d.line, dict(d.obj, metadata=meta)))
        n += 1
    evaluate(docs[:10], PROD_ENV)  # engine loaded once per process
    start = time.perf_counter()
    findings = evaluate(docs, PROD_ENV)
    elapsed = time.perf_counter() - start
    assert findings == []
    assert elapsed < 10, f"{len(docs)} documents took {elapsed:.2f}s"


def test_docs_rule_table_is_current():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "policies.md").read_text()
    table = doc.split("<!-- rules:begin -->")[1].split("<!-- rules:end -->")[0]
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(r"^\| (DD-\S+) \| (\w+) \| ([^|]+?) \|", table, re.M)}
    assert rows == {r.id: (r.severity.name, r.title) for r in load_policies([POLICIES]).rules}
