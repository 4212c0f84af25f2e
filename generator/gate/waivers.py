"""Exceptions as data: waivers.yaml names one rule, one resource, the envs, reason, owner and expiry.

A waiver is a hole in a gate, so the file is held to a strict shape (docs/waivers.md):
exactly one rule id (no globs), exact resource names, an env or a list of envs, a real
reason and owner, an expiry at most MAX_DAYS ahead, and `approvedBy` for a CRITICAL
finding in a production env. Anything else is bad input (exit 2 at the waiver's line).

A waived finding stays in the report, marked waived. A waiver that has expired or names a
rule no engine knows fails the gate; one that matches nothing fails only a run that gated
the whole env it names (a check of one file cannot know what the rest of the env needs).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..core import Finding, Resource, Severity, WaiverRef
from ..errors import InputError, Problem
from ..model.versions import CURRENT, upgrade
from ..model.yamlload import format_path, key_position, load_document, read_text

MAX_DAYS = 365  # an exception must be looked at again within a year
MIN_REASON = 15  # non-blank characters: "legacy" or "n/a" is not a reason
RULE_ID = re.compile(r"\A[A-Z][A-Z0-9]*(-[A-Z0-9]+)+\Z")  # DD-PSS-001, KSV-0017, AVD-KSV-0017
NAME = re.compile(r"\A[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?\Z")  # exact names: no * ? [ ]
ENV_NAME = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_KNOWN_EXTERNAL = re.compile(r"\A(KSV-?\d{3,4}|AVD-KSV-\d{4}|DD-SCHEMA-\d{3}|DD-(ARGO|ID|NET|HELM)-\d{3})\Z")
_DATE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")  # only YYYY-MM-DD: no week dates, no 20270101
UNWAIVABLE = ("DD-INPUT-", "DD-WAIVER-")  # "not checked at all" and the waiver gate itself
_FIELDS = {"rule", "resource", "env", "reason", "owner", "expires", "approvedBy"}
_RESOURCE_FIELDS = {"kind", "namespace", "name"}


def is_production(env: str | None) -> bool:
    """Production envs are the ones a CRITICAL waiver needs a second person for."""
    return bool(env) and (env in ("prod", "production") or env.startswith(("prod-", "production-")))


@dataclass(frozen=True)
class Waiver:
    rule: str
    kind: str
    namespace: str | None  # None: any namespace
    name: str
    envs: tuple[str, ...]
    reason: str
    owner: str
    expires: dt.date
    file: str
    line: int
    approved_by: str = ""

    def matches(self, finding: Finding, env: str | None, shared: frozenset[str] = frozenset()) -> bool:
        """`shared`: other engines' ids that several of our rules fold in (KSV-0023 is both a
        hostPath and the docker socket): such an id waives none of them, or one waiver would
        silence several defects; the waiver must name our rule."""
        r = finding.resource
        return (
            env in self.envs
            and (self.rule == finding.rule_id or (self.rule in finding.related_ids and self.rule not in shared))
            and r.kind == self.kind and r.name == self.name
            and (self.namespace is None or r.namespace == self.namespace)
        )

    def target(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    def ref(self) -> WaiverRef:
        return WaiverRef(self.reason, self.owner, self.expires.isoformat())


def load_waivers(path: Path, display: str | None = None, envs: Iterable[str] | None = None,
                 today: dt.date | None = None, root: Path | None = None) -> list[Waiver]:
    """Read and check a waiver file; `envs` (when a project is loaded) are the env names that exist."""
    display = display or str(path)
    if not path.exists() and not path.is_symlink():
        return []
    data, lines = load_document(read_text(path, display, root=root), display)
    data, problems = upgrade(data, lines, display)  # same spec versions as services/ and environments/
    if problems:
        raise InputError(problems)
    return parse_waivers(data, lines, display, envs, today)


WAIVER_FILE = "waivers.yaml"
WAIVER_DIR = "waivers"  # optional: one file per add-on or team, read after waivers.yaml


def repo_waiver_files(root: Path) -> list[Path]:
    """The repo's waiver files: waivers.yaml, then waivers/*.yaml (and .yml) by name."""
    root = Path(root)
    files = [root / WAIVER_FILE] if (root / WAIVER_FILE).exists() else []
    folder = root / WAIVER_DIR
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return files


def load_repo_waivers(root: Path, envs: Iterable[str] | None = None, today: dt.date | None = None) -> list[Waiver]:
    """Every waiver of the repo (waivers.yaml and the waivers/ folder); a waiver written twice
    (same rule and resource, overlapping envs) is bad input: one of the copies would always be unused."""
    root = Path(root)
    envs = list(envs) if envs is not None else None
    out: list[Waiver] = []
    seen: dict[tuple, Waiver] = {}
    for path in repo_waiver_files(root):
        for w in load_waivers(path, path.relative_to(root).as_posix(), envs=envs, today=today, root=root):
            for e in w.envs:
                key = (w.rule, w.kind, w.namespace, w.name, e)
                if key in seen:
                    first = seen[key]
                    raise InputError(Problem(f"waiver for {w.rule} on {w.target()} in {e} is written twice "
                                             f"(also {first.file}:{first.line})", w.file, w.line,
                                             hint="keep one of them"))
                seen[key] = w
            out.append(w)
    return out


def parse_waivers(data, lines: dict, display: str, envs: Iterable[str] | None = None,
                  today: dt.date | None = None) -> list[Waiver]:
    today = today or dt.date.today()
    known_envs = sorted(envs) if envs is not None else None
    problems: list[Problem] = []

    def bad(p: tuple, msg: str, hint: str, key: bool = False) -> None:
        line, col = key_position(lines, p) if key else lines.get(p, (None, None))
        if line is None and p:
            line, col = lines.get(p[:2], (None, None))
        problems.append(Problem(msg, display, line, col, format_path(p), hint))

    if not isinstance(data, dict) or data.get("apiVersion") != CURRENT or data.get("kind") != "WaiverList":
        bad((), "not a waiver list", "start the file with apiVersion: drydock/v1, kind: WaiverList, waivers: [...]")
        raise InputError(problems)
    for key in sorted(set(data) - {"apiVersion", "kind", "waivers"}):
        bad((key,), f"unknown key '{key}'", "allowed keys: apiVersion, kind, waivers", key=True)
    items = data.get("waivers") or []
    if not isinstance(items, list):
        bad(("waivers",), "waivers must be a list", "write each waiver as a '- rule: ...' entry")
        raise InputError(problems)
    out = []
    for i, w in enumerate(items):
        p = ("waivers", i)
        before = len(problems)
        if not isinstance(w, dict):
            bad(p, "a waiver must be a mapping", "see docs/waivers.md")
            continue
        for key in sorted(set(w) - _FIELDS):
            from ..model.inputschema import did_you_mean
            bad(p + (key,), f"unknown key '{key}'", did_you_mean(key, _FIELDS) or f"allowed keys: {', '.join(sorted(_FIELDS))}", key=True)
        for key in ("rule", "resource", "env", "reason", "owner", "expires"):
            if key not in w:
                bad(p, f"'{key}' is required", "every waiver needs rule, resource, env, reason, owner and expires")
        rule = w.get("rule")
        if "rule" in w and not (isinstance(rule, str) and RULE_ID.match(rule)):
            bad(p + ("rule",), f"rule {rule!r} is not one rule id",
                "name exactly one rule id such as DD-PSS-001 or KSV-0017 (no wildcards; `drydock rules` lists them)")
        elif isinstance(rule, str) and rule.startswith(UNWAIVABLE):
            bad(p + ("rule",), f"{rule} cannot be waived: it says a file or object was not checked at all, "
                               "or that a waiver itself is wrong",
                "fix the file or the waiver it names; nothing is gated until then")
        res = w.get("resource")
        kind = name = namespace = None
        if "resource" in w:
            if not isinstance(res, dict):
                bad(p + ("resource",), "resource must be a mapping with kind and name", "e.g. resource: {kind: Deployment, name: legacy}")
            else:
                for key in sorted(set(res) - _RESOURCE_FIELDS):
                    bad(p + ("resource", key), f"unknown key '{key}'", "a resource has kind, name and optionally namespace", key=True)
                for key in ("kind", "name"):
                    if key not in res:
                        bad(p + ("resource",), f"resource.{key} is required", "name the exact resource the waiver covers")
                for key in ("kind", "namespace", "name"):
                    v = res.get(key)
                    if key in res and not (isinstance(v, str) and NAME.match(v)):
                        bad(p + ("resource", key), f"resource.{key} {v!r} is not an exact name",
                            "write the exact name (no wildcards or globs): one waiver per resource")
                kind, name, namespace = res.get("kind"), res.get("name"), res.get("namespace")
        env = w.get("env")
        env_list = env if isinstance(env, list) else [env]
        if "env" in w:
            if not env_list or not all(isinstance(e, str) and ENV_NAME.match(e) for e in env_list):
                bad(p + ("env",), f"env {env!r} is not an environment name or a list of them",
                    "write env: prod or env: [dev, staging] (no wildcards)")
            elif len(set(env_list)) != len(env_list):
                bad(p + ("env",), "env lists an environment twice", "list each environment once")
            elif known_envs is not None:
                for e in env_list:
                    if e not in known_envs:
                        bad(p + ("env",), f"unknown environment '{e}'", f"use one of: {', '.join(known_envs)}")
        for key, minimum in (("reason", MIN_REASON), ("owner", 1), ("approvedBy", 1)):
            if key not in w:
                continue
            v = w.get(key)
            if isinstance(v, str) and any(unicodedata.category(c) in ("Cf", "Co", "Cs", "Cn") for c in v):
                bad(p + (key,), f"{key} holds an invisible or unassigned character",
                    "write it in plain text (no zero-width spaces or other format characters)")
                continue
            solid = _solid(v)
            if solid < minimum:
                what = f"at least {minimum} letters or digits" if minimum > 1 else "a name with letters or digits"
                bad(p + (key,), f"{key} must be {what}",
                    "say why the exception is safe and until when" if key == "reason" else f"name who {'owns' if key == 'owner' else 'approved'} the exception")
        expires = None
        if "expires" in w:
            try:
                text = w.get("expires")
                if not (isinstance(text, str) and _DATE.match(text)):
                    raise ValueError(text)
                expires = dt.date.fromisoformat(text)
            except ValueError:
                bad(p + ("expires",), f"expires {w.get('expires')!r} is not a date", "write it as \"YYYY-MM-DD\"")
            else:
                latest = today + dt.timedelta(days=MAX_DAYS)
                if expires > latest:
                    bad(p + ("expires",), f"expires {expires.isoformat()} is more than {MAX_DAYS} days ahead",
                        f"choose a date on or before {latest.isoformat()}; renew the waiver when it is due")
        owner, approver = w.get("owner"), w.get("approvedBy")
        if isinstance(owner, str) and isinstance(approver, str) and _same_person(owner, approver):
            bad(p + ("approvedBy",), "approvedBy names the owner: the sign-off must come from a second person",
                "ask someone else to review the exception and put their name in approvedBy")
        if len(problems) > before:
            continue
        out.append(Waiver(rule, kind, namespace, name, tuple(env_list), " ".join(w["reason"].split()),
                          w["owner"].strip(), expires, display, lines[p][0],
                          (w.get("approvedBy") or "").strip()))
    if problems:
        raise InputError(problems)
    return out


def _same_person(a: str, b: str) -> bool:
    """`Alice`, ` alice ` and `ALICE` are one person (case and blanks aside)."""
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _solid(v: object) -> int:
    """Letters and digits in v: blank-looking text (spaces, punctuation, braille blanks,
    Hangul fillers) is not a reason or a name."""
    if not isinstance(v, str):
        return 0
    return sum(1 for c in v if unicodedata.category(c)[0] in "LN" and c not in _FILLERS)


_FILLERS = {"\u3164", "\uffa0", "\u115f", "\u1160", "\u2800"}  # letters by category, blank on screen


def _gate_finding(w: Waiver, rule_id: str, title: str, message: str, fix: str) -> Finding:
    return Finding(rule_id, title, Severity.CRITICAL, message, "drydock", Resource(), w.file, w.line, fix=fix)


def engine_of(rule: str) -> str:
    """Which gate produces a rule id: a waiver is only 'unused' if that gate ran."""
    rule = rule.upper()
    if rule.startswith(("KSV", "AVD-")):
        return "trivy"
    if rule.startswith("DD-SCHEMA"):
        return "schema"
    if rule.startswith(("DD-ARGO-", "DD-ID-", "DD-NET-", "DD-HELM-")):
        return "platform"
    return "policy"


def apply_waivers(findings_by_env: dict[str | None, list[Finding]], waivers: Iterable[Waiver],
                  known_rules: set[str], today: dt.date | None = None,
                  engines_run: Iterable[str] = ("schema", "policy", "trivy"),
                  complete_envs: Iterable[str | None] | None = None,
                  gated: dict[str | None, tuple[set[tuple], set[str]]] | None = None,
                  shared: Iterable[str] = ()) -> dict[str | None, list[Finding]]:
    """Mark waived findings; add blocking findings for expired, unused or unknown-rule waivers.

    `complete_envs`: the envs whose whole render this run gated (None: every env in the run).
    Only there can a waiver be judged unused. `gated` (runs without the platform engine, which
    expands the add-ons' Helm charts): env -> ((kind, namespace, name) of every object gated, the
    destination namespaces of the Helm Applications). A waiver on an object the run never saw that
    an expansion could produce (in such a namespace, or cluster-scoped) is not judged unused there. A waiver that would cover a CRITICAL finding in
    a production env without `approvedBy` is bad input (InputError at the waiver's line).
    """
    engines_run = set(engines_run)
    shared = frozenset(shared)
    complete = set(findings_by_env) if complete_envs is None else set(complete_envs)
    today = today or dt.date.today()
    waivers = list(waivers)
    used: set[tuple[int, str | None]] = set()
    unapproved: list[Problem] = []
    out: dict[str | None, list[Finding]] = {}
    for env, findings in findings_by_env.items():
        marked = []
        for f in findings:
            for i, w in enumerate(waivers):
                if w.expires >= today and w.matches(f, env, shared):
                    if f.severity >= Severity.CRITICAL and is_production(env) and not w.approved_by:
                        unapproved.append(Problem(
                            f"waiver for {w.rule} on {w.target()} covers a CRITICAL finding in {env} but has no approvedBy",
                            w.file, w.line, hint="add approvedBy: <who signed off> (a second person), or fix the finding"))
                    f = f.with_waiver(w.ref())
                    used.add((i, env))
                    break
            marked.append(f)
        out[env] = marked
    if unapproved:
        raise InputError(list(dict.fromkeys(unapproved)))
    for i, w in enumerate(waivers):
        targets = [e for e in findings_by_env if e in w.envs]
        if not targets:
            continue  # the waiver is for an environment not gated in this run
        if w.rule not in known_rules and not _KNOWN_EXTERNAL.match(w.rule):
            for e in targets:
                out[e].append(_gate_finding(w, "DD-WAIVER-003", "Waiver names an unknown rule",
                                            f"waiver for unknown rule '{w.rule}'",
                                            "fix the rule id (drydock rules lists them) or delete the waiver"))
            continue
        if w.expires < today:
            for e in targets:
                out[e].append(_gate_finding(w, "DD-WAIVER-001", "Waiver expired",
                                            f"waiver for {w.rule} on {w.target()} expired on {w.expires.isoformat()} (owner {w.owner})",
                                            "fix the finding, or renew the waiver with a new expiry and a reason"))
            continue
        if engine_of(w.rule) not in engines_run:
            continue
        for e in targets:
            if "platform" not in engines_run and gated is not None and _maybe_expanded(gated.get(e), w):
                continue
            if e in complete and (i, e) not in used:
                why = (f"{w.rule} is folded into several drydock rules, so it waives none of them: name the drydock rule"
                       if w.rule in shared else
                       f"remove '{e}' from the waiver's env (or delete the waiver): the finding it covered is gone")
                out[e].append(_gate_finding(w, "DD-WAIVER-002", "Waiver matches nothing",
                                            f"waiver for {w.rule} on {w.target()} matches no finding in env '{e}'", why))
    return out


def _maybe_expanded(gated: tuple[set[tuple], set[str]] | None, w: Waiver) -> bool:
    objects, helm_namespaces = gated or (set(), set())
    if any(k == w.kind and n == w.name and (w.namespace is None or ns == w.namespace) for k, ns, n in objects):
        return False  # the run gated the object itself: the waiver can be judged
    return w.namespace is None or w.namespace in helm_namespaces


def fold_duplicates(findings: list[Finding]) -> list[Finding]:
    """One finding per defect.

    * Exact repeats (same file, resource, rule and message) are dropped.
    * A Trivy finding is the same defect as one of ours when our rule lists its id
      (METADATA custom.trivy), both are on the same resource, and Trivy's cause
      lines overlap the container, volume or resource our finding is about: it is
      dropped and ours stays as it is, severity included (a rule has one severity).
      A Trivy finding on another container stays: that is another defect.
    """
    ours: dict[tuple, list[Finding]] = {}
    for f in findings:
        if f.engine != "trivy":
            for other in f.related_ids:
                ours.setdefault((f.file, f.resource, other), []).append(f)
    seen: set[tuple] = set()
    out: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.engine == "trivy", f.sort_key())):
        key = (f.file, f.resource, f.rule_id, f.message)
        if key in seen:
            continue
        seen.add(key)
        if f.engine == "trivy" and any(_overlaps(f, o) for i in (f.rule_id, *f.related_ids)
                                       for o in ours.get((f.file, f.resource, i), ())):
            continue
        out.append(f)
    return out


def _overlaps(trivy: Finding, ours: Finding) -> bool:
    if trivy.line is None or ours.scope is None:
        return True  # nothing to tell them apart: same resource, same defect
    start, end = trivy.line, trivy.end_line or trivy.line
    return start <= ours.scope[1] and ours.scope[0] <= end
