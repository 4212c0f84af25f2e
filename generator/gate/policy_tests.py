"""`drydock test-policies`: run every rule's `*_test.rego` under embedded regorus.

Like `opa test`: each `test_*` rule of a test package passes when it evaluates
to true. Each rule file is loaded with its own `<rule>_test.rego` and every
helper module (packages outside drydock.rules, including helper test files such
as policies/lib/testdata_test.rego), so one broken rule cannot mask another's
tests. Test files that belong to no rule file are run against all modules.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .engines.rego import RULES_ROOT, PolicyBundle, PolicyFile, engine_error, load_policies

_TEST_RULE_RE = re.compile(r"^(test_[A-Za-z0-9_]*)\b", re.MULTILINE)


@dataclass(frozen=True)
class TestResult:
    package: str
    name: str
    passed: bool
    error: str | None = None
    file: str | None = None

    __test__ = False  # not a pytest class


def policy_test_names(pf: PolicyFile) -> list[str]:
    """Names of the `test_*` rules a test file defines, in file order, deduplicated."""
    return list(dict.fromkeys(_TEST_RULE_RE.findall(pf.text)))


def _groups(bundle: PolicyBundle) -> list[tuple[list[PolicyFile], PolicyFile]]:
    """(modules to load, test file) pairs: rule + its test + all helpers."""
    helpers = [m for m in bundle.modules if not m.package.startswith(RULES_ROOT + ".")]
    helper_tests = [t for t in bundle.tests if not t.package.startswith(RULES_ROOT + ".") and not policy_test_names(t)]
    rules_by_path = {m.path: m for m in bundle.modules if m.package.startswith(RULES_ROOT + ".")}
    groups = []
    for t in bundle.tests:
        if not policy_test_names(t):
            continue
        rule = rules_by_path.get(t.path.with_name(t.path.name[: -len("_test.rego")] + ".rego"))
        mods = helpers + helper_tests + ([rule] if rule else [m for m in bundle.modules if m not in helpers])
        groups.append((mods, t))
    return groups


def _regorus_runner(mods: list[PolicyFile], test: PolicyFile) -> dict:
    import regorus

    engine = regorus.Engine()
    for m in mods + [test]:
        engine.add_policy(str(m.path), m.text)
    out = json.loads(engine.eval_query_as_json("data." + test.package))
    rows = out.get("result") or []
    return rows[0]["expressions"][0]["value"] if rows and rows[0].get("expressions") else {}


def run_policy_tests(dirs: Sequence[Path] | None = None, *,
                     runner: Callable[[list[PolicyFile], PolicyFile], dict] | None = None) -> list[TestResult]:
    """Run every test_* rule; returns one TestResult per test (errors included, never raised).

    `runner(modules, test_file) -> value of data.<test package>` picks the
    engine; the default is embedded regorus. A test file that does not load or
    evaluate yields one failed result per test it defines, with the error.
    """
    bundle = load_policies(dirs)
    run = runner or _regorus_runner
    results: list[TestResult] = []
    for mods, test in _groups(bundle):
        names = policy_test_names(test)
        try:
            value = run(mods, test)
        except Exception as e:  # a broken policy fails its tests, it never passes them
            err = engine_error("regorus" if runner is None else "engine", str(e), bundle).problems[0].render()
            results += [TestResult(test.package, n, False, err, str(test.path)) for n in names]
            continue
        for n in names:
            v = value.get(n) if isinstance(value, dict) else None
            results.append(TestResult(test.package, n, v is True,
                                      None if v is True else ("undefined" if v is None else f"evaluated to {json.dumps(v)}"),
                                      str(test.path)))
    return results
