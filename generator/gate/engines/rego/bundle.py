"""Policy bundle: read every *.rego of the policy folders and parse each rule's METADATA.

`load_policies(dirs)` validates id, severity, title and unique ids/packages, and keeps
`*_test.rego` apart (they are run by `generator.gate.policy_tests`, never by the gate).
A bundle is cached by the digest of its files, so every engine loads it once per process.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from ....core import Document, Severity
from ....errors import InputError, Problem

RULES_ROOT = "drydock.rules"
QUERY = "data." + RULES_ROOT
ENGINE_HINT = "fix the policy, or run `drydock test-policies` to see which rule breaks"

_PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    severity: Severity
    fix: str
    url: str
    trivy_ids: tuple[str, ...]
    package: str  # e.g. drydock.rules.privileged
    file: Path
    line: int = 1  # line of the `package` statement
    fix_input: str = ""  # the fix in drydock's own input files, for resources drydock rendered

    def fix_for(self, doc: Document) -> str:
        """The fix as whoever runs the check applies it: the input key for a resource drydock
        rendered (it has a source), the manifest field otherwise."""
        return self.fix_input if self.fix_input and doc.source is not None else self.fix


@dataclass(frozen=True)
class PolicyFile:
    path: Path  # as found on disk (under one of the policy dirs)
    rel: str  # posix path relative to its policy dir, prefixed with the dir's index when several
    text: str
    package: str

    @property
    def is_test(self) -> bool:
        return self.path.name.endswith("_test.rego")


@dataclass(frozen=True)
class PolicyBundle:
    dirs: tuple[Path, ...]
    modules: tuple[PolicyFile, ...]  # evaluated: rules and helpers (no tests)
    tests: tuple[PolicyFile, ...]  # *_test.rego, for policy_tests only
    rules: tuple[Rule, ...]
    digest: str  # sha256 over sorted (rel path, content) of `modules`

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id.lower() == rule_id.lower()), None)

    def module_for(self, name: str) -> PolicyFile | None:
        """The module an engine's error message names (path, rel path or policy id)."""
        for m in self.modules + self.tests:
            if name in (str(m.path), m.rel, policy_id(m)) or str(m.path).endswith(name):
                return m
        return None


def default_policy_dir() -> Path:
    """`policies/` at the repo root: the working directory's, else the one next to the package."""
    cwd = Path.cwd() / "policies"
    if cwd.is_dir():
        return cwd
    return Path(__file__).resolve().parents[4] / "policies"


_BUNDLE_LOCK = threading.Lock()
_BUNDLES: dict[str, PolicyBundle] = {}  # digest of all files (tests included) -> bundle


def load_policies(dirs: Sequence[Path] | None = None) -> PolicyBundle:
    """Read and validate every *.rego below dirs (default: `default_policy_dir()`).

    Raises InputError naming file and line for a missing/unknown severity, a
    missing id or title, a duplicate id or package, or unparseable METADATA.
    """
    dirs = tuple(Path(d) for d in (dirs or (default_policy_dir(),)))
    files: list[tuple[Path, str, str]] = []
    for n, d in enumerate(dirs):
        if not d.is_dir():
            raise InputError(f"policy folder {d} does not exist", hint="pass an existing folder with --policy")
        prefix = f"{n}/" if len(dirs) > 1 else ""
        for p in sorted(d.rglob("*.rego")):
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"cannot read policy: {e}", file=str(p), hint="make it a readable UTF-8 file")
            files.append((p, prefix + p.relative_to(d).as_posix(), text))
    if not any(not p.name.endswith("_test.rego") for p, _, _ in files):
        raise InputError(f"no policies (*.rego) found in {', '.join(map(str, dirs))}",
                         hint="point --policy at a folder with Rego rules, or restore policies/")
    all_digest = _digest((rel, text) for _, rel, text in files)
    with _BUNDLE_LOCK:
        cached = _BUNDLES.get(all_digest)
    if cached is not None and cached.dirs == dirs:
        return cached
    bundle = _build_bundle(dirs, files)
    with _BUNDLE_LOCK:
        _BUNDLES[all_digest] = bundle
    return bundle


def _digest(items) -> str:
    h = hashlib.sha256()
    for rel, text in sorted(items):
        h.update(rel.encode())
        h.update(b"\0")
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()


def _build_bundle(dirs: tuple[Path, ...], files: list[tuple[Path, str, str]]) -> PolicyBundle:
    modules: list[PolicyFile] = []
    tests: list[PolicyFile] = []
    rules: list[Rule] = []
    problems: list[Problem] = []
    seen_ids: dict[str, Rule] = {}
    seen_pkgs: dict[str, Path] = {}
    for path, rel, text in files:
        m = _PACKAGE_RE.search(text)
        if not m:
            problems.append(Problem("policy has no package statement", file=str(path), line=1,
                                    hint="start the file with `package drydock.rules.<name>` (or drydock.lib.<name>)"))
            continue
        pf = PolicyFile(path, rel, text, m.group(1))
        (tests if pf.is_test else modules).append(pf)
        if pf.is_test or not pf.package.startswith(RULES_ROOT + "."):
            continue
        if pf.package in seen_pkgs:
            problems.append(Problem(f"package {pf.package} is also declared in {seen_pkgs[pf.package]}",
                                    file=str(path), line=_line_of(text, m.start()),
                                    hint="one rule per file: give each rule file its own package"))
            continue
        seen_pkgs[pf.package] = path
        try:
            rule = _parse_rule(pf, _line_of(text, m.start()))
        except InputError as e:
            problems.extend(e.problems)
            continue
        if rule.id in seen_ids:
            problems.append(Problem(f"duplicate rule id {rule.id} (also in {seen_ids[rule.id].file})",
                                    file=str(path), line=_metadata_line(text, "id") or rule.line,
                                    hint="give every rule a unique custom.id"))
            continue
        seen_ids[rule.id] = rule
        rules.append(rule)
    if problems:
        raise InputError(problems)
    modules_t = tuple(modules)
    return PolicyBundle(dirs, modules_t, tuple(tests), tuple(rules),
                        _digest((m.rel, m.text) for m in modules_t))


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _metadata_line(text: str, key: str) -> int | None:
    m = re.search(rf"^#\s*{re.escape(key)}\s*:", text, re.MULTILINE)
    return _line_of(text, m.start()) if m else None


def _metadata_block(text: str) -> tuple[str, int] | None:
    """YAML text of the `# METADATA` comment block right before `package`, and its first line."""
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.strip() == "# METADATA":
            body = []
            for follow in lines[n + 1:]:
                if not follow.startswith("#"):
                    break
                body.append(follow[2:] if follow.startswith("# ") else follow[1:])
            return "\n".join(body), n + 2
        if _PACKAGE_RE.match(line):
            return None
    return None


def _parse_rule(pf: PolicyFile, package_line: int) -> Rule:
    f = str(pf.path)
    block = _metadata_block(pf.text)
    if block is None:
        raise InputError(f"rule {pf.package} has no `# METADATA` block before its package", file=f, line=package_line,
                         hint="add a package-scoped METADATA block with title, custom.id, custom.severity and custom.fix")
    body, first = block
    try:
        meta = yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"METADATA is not valid YAML: {getattr(e, 'problem', e)}", file=f,
                         line=first + mark.line if mark else first,
                         hint="each METADATA line is `# ` followed by YAML") from None
    if not isinstance(meta, dict):
        raise InputError("METADATA must be a YAML mapping", file=f, line=first, hint="use `# title: ...` lines")
    custom = meta.get("custom") if isinstance(meta.get("custom"), dict) else {}
    rid = str(custom.get("id") or "").strip()
    if not rid:
        raise InputError(f"rule {pf.package} has no custom.id in METADATA", file=f, line=first,
                         hint="add `#   id: DD-XXX-NNN` under `# custom:`")
    sev_raw = custom.get("severity")
    if sev_raw is None:
        raise InputError(f"rule {rid} has no custom.severity", file=f, line=_metadata_line(pf.text, "id") or first,
                         hint="add `#   severity: LOW|MEDIUM|HIGH|CRITICAL` under `# custom:`")
    try:
        severity = Severity.parse(sev_raw)
    except ValueError as e:
        raise InputError(f"rule {rid}: {e}", file=f, line=_metadata_line(pf.text, "severity") or first,
                         hint="use one of LOW, MEDIUM, HIGH, CRITICAL") from None
    title = str(meta.get("title") or "").strip()
    if not title:
        raise InputError(f"rule {rid} has no title in METADATA", file=f, line=first, hint="add `# title: <one line>`")
    related = meta.get("related_resources") or []
    url = ""
    for r in related if isinstance(related, list) else []:
        url = r.get("ref", "") if isinstance(r, dict) else str(r)
        if url:
            break
    trivy = custom.get("trivy") or []
    if isinstance(trivy, str):
        trivy = [trivy]
    return Rule(
        id=rid, title=title, description=" ".join(str(meta.get("description") or "").split()),
        severity=severity, fix=" ".join(str(custom.get("fix") or "").split()), url=url,
        trivy_ids=tuple(str(t) for t in trivy), package=pf.package, file=pf.path, line=package_line,
        fix_input=" ".join(str(custom.get("fix_input") or "").split()),
    )


def policy_id(m: PolicyFile) -> str:
    """The id a module is known by in an OPA server (`drydock/<rel path>`)."""
    return "drydock/" + re.sub(r"[^A-Za-z0-9_./-]", "_", m.rel)
