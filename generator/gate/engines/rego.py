"""The policy gate: drydock's Rego rules (policies/) over a whole render.

* `load_policies(dirs)` reads every `*.rego` below the policy folders, parses the
  `# METADATA` block of each rule file into a `Rule` and validates it (id,
  severity, title, unique ids and packages). Test files (`*_test.rego`) are kept
  apart: they are never evaluated by the gate (see `generator.gate.policy_tests`).
* Three engines answer the same query, `data.drydock.rules`, over the same input
  (contracts.md): `RegorusEngine` (embedded, default), `OpaCliEngine` (`opa eval`,
  when `opa` is on PATH) and `OpaServerEngine` (a running `opa run --server`,
  through opa-python-client). They return the same value, so `PolicyGate` maps
  it to `Finding`s the same way whichever engine spoke.
* Fail closed: a policy that does not parse or compile, a runtime error, a rule
  package missing from the result, an unreachable server or a timeout is an
  `EngineError` (exit 2), never an empty list of findings.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence
from urllib.parse import urlparse

import yaml

from ...errors import EngineError, InputError, Problem
from ...core import Document, Finding, Severity, scope_path, source_for
from ...yamlio import field_span

RULES_ROOT = "drydock.rules"
QUERY = "data." + RULES_ROOT
DEFAULT_OPA_URL = "http://localhost:8181"
DEFAULT_OPA_TIMEOUT = 30.0  # seconds; env DRYDOCK_OPA_TIMEOUT
ENGINE_HINT = "fix the policy, or run `drydock test-policies` to see which rule breaks"

_PACKAGE_RE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


# --------------------------------------------------------------------------
# Policy bundle
# --------------------------------------------------------------------------


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
            if name in (str(m.path), m.rel, _policy_id(m)) or str(m.path).endswith(name):
                return m
        return None


def default_policy_dir() -> Path:
    """`policies/` at the repo root: the working directory's, else the one next to the package."""
    cwd = Path.cwd() / "policies"
    if cwd.is_dir():
        return cwd
    return Path(__file__).resolve().parents[3] / "policies"


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


# --------------------------------------------------------------------------
# Input, result and errors shared by every engine
# --------------------------------------------------------------------------


def strip_nulls(value: Any) -> Any:
    """JSON nulls removed from objects and arrays (regorus iterates them badly)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [strip_nulls(v) for v in value if v is not None]
    return value


def build_input(docs: Sequence[Document], env_data: dict | None) -> dict:
    raw = {
        # `app`: the ArgoCD Application whose Helm chart produced the object (absent for our own)
        "documents": [{"file": d.file, "line": d.line, "object": d.obj, **({"app": d.app} if d.app else {})}
                      for d in docs],
        "env": dict(env_data or {}),
    }
    # strip_nulls walks every value in Python (~0.8 s for 16,000 documents);
    # json.dumps is C. No `null` in the JSON text means no None anywhere (a string
    # such as "/dev/null" only sends us down the slow path, which is still right).
    try:
        if "null" not in json.dumps(raw):
            return raw
    except (TypeError, ValueError):
        pass  # not JSON-serialisable: let strip_nulls and the engine report it as before
    return strip_nulls(raw)


_LOC_RE = re.compile(r"-->\s*(?P<file>[^\n]+?\.rego):(?P<line>\d+)(?::\d+)?")
_LOC2_RE = re.compile(r"(?P<file>[^\s:'\"]+\.rego):(?P<line>\d+)")


def engine_error(engine: str, raw: str, bundle: PolicyBundle | None, what: str = "policy error",
                 hint: str = ENGINE_HINT) -> EngineError:
    """An EngineError from an engine's message, located at the policy file:line it names."""
    text = str(raw).split("Stack backtrace:")[0].strip()
    m = _LOC_RE.search(text) or _LOC2_RE.search(text)
    file = line = None
    if m:
        file, line = m.group("file").strip(), int(m.group("line"))
        mod = bundle.module_for(file) if bundle else None
        if mod is not None:
            file = str(mod.path)
    detail = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
    msg = detail[0][len("error:"):].strip() if detail else " ".join(text.split())[:500]
    return EngineError(Problem(f"{engine}: {what}: {msg}", file=file, line=line, hint=hint))


def _check_result(value: Any, bundle: PolicyBundle, engine: str) -> dict:
    if not isinstance(value, dict):
        raise EngineError(f"{engine}: {QUERY} is undefined; the policies were not loaded",
                          hint="check the policy folders, or use --engine regorus")
    return value


def _deny_of(value: dict, rule: Rule) -> Any:
    node: Any = value
    for part in rule.package[len(RULES_ROOT) + 1:].split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node.get("deny") if isinstance(node, dict) else None


def _judged_path(item: dict, rule: Rule, engine: str) -> tuple | None:
    """The deny entry's `path` (keys and list indexes of the field the rule judged), if any."""
    raw = item.get("path")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(p, (str, int, float)) and not isinstance(p, bool) for p in raw):
        raise EngineError(Problem(f"{engine}: rule {rule.id} returned path {json.dumps(raw)[:200]}; "
                                  "a deny entry's path must be an array of keys and list indexes",
                                  file=str(rule.file), line=rule.line, hint="fix the rule's deny head"))
    return tuple(int(p) if isinstance(p, float) and p.is_integer() else p for p in raw)


def findings_from_result(value: dict, bundle: PolicyBundle, docs: Sequence[Document], engine: str) -> list[Finding]:
    """Map `data.drydock.rules` to Findings; a rule missing from the result is an EngineError."""
    value = _check_result(value, bundle, engine)
    out: list[tuple[int, str, str, Finding]] = []
    for rule in bundle.rules:
        deny = _deny_of(value, rule)
        if deny is None:
            raise EngineError(Problem(f"{engine}: rule {rule.id} ({rule.package}) produced no `deny` set",
                                      file=str(rule.file), line=rule.line,
                                      hint="define `deny contains {\"msg\": msg, \"doc\": i} if {...}` in the rule"))
        if not isinstance(deny, list):
            deny = [deny]
        for item in deny:
            idx = item.get("doc") if isinstance(item, dict) else None
            msg = item.get("msg") if isinstance(item, dict) else None
            if isinstance(idx, float) and idx.is_integer():
                idx = int(idx)
            if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(docs) or not isinstance(msg, str):
                raise EngineError(Problem(f"{engine}: rule {rule.id} returned {json.dumps(item)[:200]}; "
                                          "each deny entry must be {\"msg\": string, \"doc\": index into input.documents}",
                                          file=str(rule.file), line=rule.line, hint="fix the rule's deny head"))
            doc = docs[idx]
            path = _judged_path(item, rule, engine)
            span = field_span(doc, path) if path else None
            line, end_line = span if span else (doc.line, None)
            scope = field_span(doc, scope_path(path))
            out.append((idx, rule.id, msg, Finding(
                rule_id=rule.id, title=rule.title, severity=rule.severity, message=msg, engine=engine,
                resource=doc.resource, file=doc.file, line=line, end_line=end_line if end_line != line else None,
                source=source_for(doc, path), related_ids=rule.trivy_ids, fix=rule.fix_for(doc), url=rule.url, path=path,
                scope=scope,
            )))
    out.sort(key=lambda t: t[:3])
    return [f for *_, f in out]


# --------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------


class RegoEngine(Protocol):
    name: str

    def evaluate(self, input_doc: dict) -> dict:
        """The value of `data.drydock.rules` for input_doc (already null-free)."""


def _policy_id(m: PolicyFile) -> str:
    return "drydock/" + re.sub(r"[^A-Za-z0-9_./-]", "_", m.rel)


class RegorusEngine:
    """Embedded regorus: all modules added once; a cheap clone per evaluation."""

    name = "regorus"

    def __init__(self, bundle: PolicyBundle):
        import regorus

        self.bundle = bundle
        self._base = regorus.Engine()
        for m in bundle.modules:
            try:
                self._base.add_policy(str(m.path), m.text)
            except Exception as e:  # regorus raises RuntimeError with `--> file:line:col`
                raise engine_error(self.name, str(e), bundle, "policy does not parse") from None
        # Compile-time problems (unknown functions, conflicts) surface on the first
        # evaluation: do one now so a broken bundle fails at load, not mid-run.
        self.evaluate({"documents": [], "env": {}})

    def evaluate(self, input_doc: dict) -> dict:
        engine = self._base.clone()
        try:
            engine.set_input_json(json.dumps(input_doc))
            raw = engine.eval_query_as_json(QUERY)
        except Exception as e:
            raise engine_error(self.name, str(e), self.bundle, "policy evaluation failed") from None
        return _query_value(json.loads(raw), self.name)


def _query_value(result: dict, engine: str) -> Any:
    rows = result.get("result") or []
    if not rows or not rows[0].get("expressions"):
        return None
    return rows[0]["expressions"][0].get("value")


class OpaCliEngine:
    """`opa eval` from PATH, input on stdin, one process per evaluation."""

    name = "opa"

    def __init__(self, bundle: PolicyBundle, opa: str | None = None, timeout: float | None = None):
        self.bundle = bundle
        self.opa = opa or shutil.which("opa")
        if not self.opa:
            raise EngineError("opa engine: the `opa` binary is not on PATH",
                              hint="install OPA (https://www.openpolicyagent.org/docs/#running-opa) or use --engine regorus")
        self.timeout = timeout or _env_timeout()
        self.evaluate({"documents": [], "env": {}})

    def evaluate(self, input_doc: dict) -> dict:
        cmd = [self.opa, "eval", "--format", "json", "--stdin-input"]
        for m in self.bundle.modules:
            cmd += ["--data", str(m.path)]
        cmd.append(QUERY)
        try:
            proc = subprocess.run(cmd, input=json.dumps(input_doc), capture_output=True, text=True,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise EngineError(f"opa engine: `opa eval` did not finish within {self.timeout:g}s",
                              hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or use --engine regorus") from None
        except OSError as e:
            raise EngineError(f"opa engine: cannot run {self.opa}: {e}", hint="check the opa binary, or use --engine regorus") from None
        try:
            out = json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            out = {}
        if proc.returncode != 0 or out.get("errors"):
            raise self._error(out, proc.stderr or proc.stdout)
        return _query_value(out, self.name)

    def _error(self, out: dict, text: str) -> EngineError:
        errors = out.get("errors") or []
        if errors and isinstance(errors[0], dict):
            e = errors[0]
            loc = e.get("location") or {}
            if loc.get("file"):
                return engine_error(self.name, f"--> {loc['file']}:{loc.get('row', 0)}\nerror: {e.get('message', '')}",
                                    self.bundle)
            return engine_error(self.name, f"error: {e.get('message', '')}", self.bundle)
        return engine_error(self.name, text or "opa eval failed without a message", self.bundle)


def _env_timeout() -> float:
    try:
        return float(os.environ.get("DRYDOCK_OPA_TIMEOUT") or DEFAULT_OPA_TIMEOUT)
    except ValueError:
        return DEFAULT_OPA_TIMEOUT


class OpaServerEngine:
    """A running `opa run --server`, through opa-python-client.

    Every module is pushed with the policy API (PUT /v1/policies/drydock/<path>)
    once per process and bundle; each evaluation POSTs the whole render as input
    to the data API (/v1/data/drydock/rules). A result that lacks a rule package
    (server restarted, policies deleted) triggers one re-push; if still missing,
    the gate fails closed.
    """

    name = "opa-server"
    _pushed: dict[tuple[str, str], bool] = {}
    _lock = threading.Lock()

    def __init__(self, bundle: PolicyBundle, url: str | None = None, timeout: float | None = None):
        from opa_client import OpaClient

        self.bundle = bundle
        self.url = (url or DEFAULT_OPA_URL).rstrip("/")
        parsed = urlparse(self.url if "://" in self.url else "http://" + self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EngineError(f"opa-server engine: bad --opa-url {url!r}", hint="use e.g. http://localhost:8181")
        self.timeout = timeout or _env_timeout()
        self.client = OpaClient(host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8181),
                                ssl=parsed.scheme == "https", timeout=self.timeout, retries=0)
        self._push(force=False)

    def _hint(self) -> str:
        return f"start it with `opa run --server --addr {urlparse(self.url).netloc or 'localhost:8181'}` or use --engine regorus"

    def _transport_error(self, e: Exception, what: str) -> EngineError:
        import requests

        # A read timeout under urllib3 retries arrives as ConnectionError(MaxRetryError(ReadTimeoutError)).
        if isinstance(e, requests.exceptions.Timeout) or "timed out" in str(e).lower():
            return EngineError(f"opa-server engine: {what} at {self.url} timed out after {self.timeout:g}s",
                               hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or " + self._hint().split(" or ", 1)[1])
        if isinstance(e, requests.exceptions.HTTPError) and e.response is not None:
            body = e.response.text[:500]
            try:
                j = e.response.json()
                body = j.get("message", body)
                errs = j.get("errors") or []
                if errs:
                    return self._located(errs[0], what)
            except ValueError:
                pass
            return EngineError(f"opa-server engine: {what} at {self.url} failed: HTTP {e.response.status_code}: {body}",
                               hint=ENGINE_HINT)
        return EngineError(f"opa-server engine: cannot reach OPA at {self.url} ({what}): {type(e).__name__}",
                           hint=self._hint())

    def _located(self, err: dict, what: str) -> EngineError:
        loc = err.get("location") or {}
        raw = f"error: {err.get('message', '')}"
        if loc.get("file"):
            raw = f"--> {loc['file']}:{loc.get('row', 0)}\n" + raw
        return engine_error(self.name, raw, self.bundle, what)

    def _push(self, force: bool) -> None:
        import requests
        from opa_client.errors import RegoParseError

        key = (self.url, self.bundle.digest)
        with self._lock:
            if self._pushed.get(key) and not force:
                return
            # Helpers first: OPA compiles each upload against what it already has,
            # and a rule calling an unknown helper function is a type error.
            ordered = sorted(self.bundle.modules, key=lambda m: (m.package.startswith(RULES_ROOT + "."), m.rel))
            for m in ordered:
                try:
                    self._deadline(lambda: self.client.update_policy_from_string(m.text, _policy_id(m), rego_compat=False),
                                   "policy upload")
                except RegoParseError as e:
                    errs = e.errors or [{"message": e.message}]
                    raise self._located(errs[0], f"policy {m.path} rejected") from None
                except requests.exceptions.RequestException as e:
                    raise self._transport_error(e, "policy upload") from None
                except ValueError as e:  # non-JSON error body
                    raise EngineError(f"opa-server engine: {self.url} answered the policy upload with a non-OPA reply: {e}",
                                      hint=self._hint()) from None
            self._pushed[key] = True

    def evaluate(self, input_doc: dict) -> dict:
        value = self._query(input_doc)
        if not self._complete(value):
            self._push(force=True)
            value = self._query(input_doc)
            if not self._complete(value):
                raise EngineError(f"opa-server engine: {self.url} does not serve every drydock rule after upload",
                                  hint="another client may be replacing policies under drydock/; " + self._hint())
        return value

    def _deadline(self, call, what: str):
        """Run one HTTP exchange with a wall-clock deadline.

        requests' timeout bounds each socket read, so a server that trickles a byte a second
        never trips it. The exchange runs in a daemon thread; at the deadline the session is
        closed (unblocking the read) and the gate fails closed.
        """
        box: dict = {}

        def run() -> None:
            try:
                box["value"] = call()
            except BaseException as e:  # handed to the caller's thread
                box["error"] = e

        worker = threading.Thread(target=run, name="drydock-opa", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            try:
                self.client._session.close()
            except Exception:  # closing is best effort; the thread is a daemon anyway
                pass
            type(self)._pushed.pop((self.url, self.bundle.digest), None)
            raise EngineError(f"opa-server engine: {what} at {self.url} timed out after {self.timeout:g}s "
                              "(wall clock for the whole exchange)",
                              hint="set DRYDOCK_OPA_TIMEOUT to a larger value, or " + self._hint().split(" or ", 1)[1])
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def _complete(self, value: Any) -> bool:
        return isinstance(value, dict) and all(_deny_of(value, r) is not None for r in self.bundle.rules)

    def _query(self, input_doc: dict) -> Any:
        import requests

        try:
            out = self._deadline(lambda: self.client.query_rule(input_data=input_doc, package_path=RULES_ROOT), "query")
        except requests.exceptions.RequestException as e:
            raise self._transport_error(e, "query") from None
        except ValueError as e:
            raise EngineError(f"opa-server engine: {self.url} returned a non-JSON answer: {e}", hint=self._hint()) from None
        if isinstance(out, dict) and out.get("errors"):
            raise self._located(out["errors"][0], "query failed")
        return out.get("result") if isinstance(out, dict) else None


ENGINES = ("regorus", "opa", "opa-server")
_ENGINE_LOCK = threading.Lock()
_ENGINE_CACHE: dict[tuple[str, str, str], RegoEngine] = {}


def get_engine(kind: str, bundle: PolicyBundle, opa_url: str | None = None) -> RegoEngine:
    """A loaded engine for bundle, reused for the whole process (keyed by bundle digest)."""
    if kind not in ENGINES:
        raise EngineError(f"unknown policy engine {kind!r}", hint=f"use one of: {', '.join(ENGINES)}")
    key = (kind, bundle.digest, opa_url or "")
    with _ENGINE_LOCK:
        engine = _ENGINE_CACHE.get(key)
    if engine is not None:
        return engine
    if kind == "regorus":
        engine = RegorusEngine(bundle)
    elif kind == "opa":
        engine = OpaCliEngine(bundle)
    else:
        engine = OpaServerEngine(bundle, opa_url)
    with _ENGINE_LOCK:
        _ENGINE_CACHE[key] = engine
    return engine


def clear_engine_cache() -> None:
    with _ENGINE_LOCK:
        _ENGINE_CACHE.clear()
    with OpaServerEngine._lock:
        OpaServerEngine._pushed.clear()


# --------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------


class PolicyGate:
    """`Gate` for the Rego rules: one evaluation per render, whole render at once."""

    name = "policy"

    def run(self, docs: Sequence[Document], ctx) -> list[Finding]:
        return evaluate(docs, ctx.env_data, engine=ctx.engine or "regorus",
                        policy_dirs=tuple(ctx.policy_dirs) or None, opa_url=ctx.opa_url)


def evaluate(docs: Sequence[Document], env_data: dict | None = None, *, engine: str = "regorus",
             policy_dirs: Sequence[Path] | None = None, opa_url: str | None = None) -> list[Finding]:
    """The policy findings for docs (also the convenience entry for tests and scripts)."""
    bundle = load_policies(policy_dirs)
    eng = get_engine(engine, bundle, opa_url)  # loads (and checks) the policies even for no docs
    if not docs:
        return []
    return findings_from_result(eng.evaluate(build_input(docs, env_data)), bundle, docs, eng.name)
