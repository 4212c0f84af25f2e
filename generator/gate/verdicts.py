"""The verdict cache: a whole gate run's engine results, reused when nothing that feeds them changed.

A warm `synth --all` with the platform engine used to read 28 cached Helm expansions and push
~1,240 documents through schema, Rego, Trivy's cache and the platform checks again (~0.8 s)
to reach the answer it reached last time. This cache keys the engines' answer for one
`run_engines` call (every env of the run together: Trivy and the schema gate see all envs at
once, with shared settings) by everything that feeds it, computed *before* the add-ons are
expanded:

* drydock's own code and the installed distributions (`code_digest()` plus every
  `*.dist-info` name on sys.path: regorus, jsonschema-rs, cdk8s, ... versions);
* the engines chosen and, per env in run order, the env name, the data the engines see
  (`env_data`, `require_trivy`) and every document: file, line, text, object, input source,
  field sources, Application;
* the bytes of every file under the policy folders;
* Trivy: the binary (path, size, mtime, ctime, inode) and its version, or "absent";
* the platform engine, when a document is an Application with a Helm source: the chart
  folder (path, and path/size/mtime/ctime/inode of every file in it) and the helm binary and
  version. An expansion is a pure function of the Application, the chart and helm (helm.py),
  so its result is covered without reading it.

Not in the key, because they are applied after the cache (runner.judge): waivers (an edit
takes effect at once), thresholds, today's date (only waiver expiry reads it), input
findings, shards. The Rego backends `opa` and `opa-server` are not cached (their version is
outside drydock's view), nor is a sharded run.

Fail closed: entries live in a MAC'd `MacStore` (`<cache>/verdicts/`), so a foreign or edited
entry is a miss; any entry that does not decode exactly is a miss; a run is stored only after
every engine succeeded and only if the key, computed again after the run, is unchanged (an
input edited during the run never lands under the old key). See docs/cache.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Sequence

from ..core import Document, Finding, Resource, Severity, SourceRef, WaiverRef
from .cache import MacStore, digest_key
from .runner import EngineRun

FORMAT = 1
_FINDING_FIELDS = tuple(f.name for f in dataclasses.fields(Finding))


# -- the key ----------------------------------------------------------------------------------
def _json(value) -> str:
    # YAML can yield dates and other non-JSON scalars: tag them with their type so a date and
    # the string that looks like it never share a key.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=lambda o: f"<{type(o).__name__}>{o!r}")


def _ref(ref: SourceRef | None) -> list | None:
    return [ref.file, ref.line] if ref else None


def _doc_parts(doc: Document) -> str:
    fields = sorted(([list(p), _ref(r)] for p, r in doc.field_sources.items()), key=_json) if doc.field_sources else None
    return _json([doc.file, doc.line, doc.text, doc.obj, _ref(doc.source), doc.app, fields, doc.implied_keys])


def _distributions() -> str:
    """Every installed distribution's `name-version.dist-info`: a changed regorus, jsonschema-rs
    or PyYAML is a new key. Listing the folders costs about a millisecond."""
    names: set[str] = set()
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                names.update(n for n in os.listdir(entry) if n.endswith(".dist-info"))
            except OSError:
                continue
    return "\n".join(sorted(names))


def _file_id(path: str) -> str:
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _walk(root: Path):
    """(relative path, path, stat) of every entry below root, symlinks followed as helm and the
    policy loader follow them, each folder once (a symlink loop ends)."""
    seen: set[tuple[int, int]] = set()
    todo = [str(root)]
    while todo:
        folder = todo.pop()
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:  # a dangling symlink: what it names is absent
                yield os.path.relpath(path, root), path, None
                continue
            yield os.path.relpath(path, root), path, st
            if stat.S_ISDIR(st.st_mode):
                todo.append(path)


def tree_fingerprint(root: Path) -> str:
    """Path, size, mtime, ctime and inode of every entry below root: a chart of ~1,000 files in
    ~10 ms, where hashing its bytes costs ~0.2 s. Any write changes ctime, which no tool can set
    back, so an edited chart is a new key."""
    h = hashlib.sha256(str(Path(root).absolute()).encode())
    for rel, _, st in _walk(root):
        meta = "absent" if st is None else f"{st.st_mode}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
        h.update(f"{rel}\0{meta}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _folder_bytes(root: Path) -> str:
    """Every file's relative path and bytes (policy folders are small: ~0.2 MB); a file's bytes."""
    h = hashlib.sha256(str(Path(root).absolute()).encode())
    if not root.is_dir():
        h.update(root.read_bytes() if root.is_file() else b"\0absent")
        return h.hexdigest()
    for rel, path, st in _walk(root):
        if st is not None and stat.S_ISDIR(st.st_mode):
            continue
        data = Path(path).read_bytes() if st is not None and stat.S_ISREG(st.st_mode) else b"\0not a regular file"
        name = rel.encode("utf-8", "surrogateescape")
        h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def _trivy_part(cache_dir: Path | None) -> str:
    from .engines.trivy import find_trivy, trivy_version

    binary = find_trivy()
    return "absent" if binary is None else f"{_file_id(binary)}:{trivy_version(binary, cache_dir)}"


def _helm_part(docs_by_env: dict, charts: Path | None, cache_dir: Path | None) -> str | None:
    """helm and the chart folder of every Helm source in the docs ("" when there is none); None
    when a chart is missing (the run itself reports it)."""
    from ..platform.helm import Expander, chart_refs, is_application

    refs = {r for docs in docs_by_env.values() for d in docs if is_application(d.obj) for r in chart_refs(d)}
    if not refs:
        return ""
    if charts is None:
        return None
    expander = Expander(charts, cache_dir)
    folders = {expander.folder.find(r) for r in refs}
    if None in folders:
        return None
    index = Path(charts) / "index.yaml"
    return "\n".join([_file_id(expander.helm), expander.version(), _file_id(str(index)),
                      *(f"{f}:{tree_fingerprint(f)}" for f in sorted(folders))])


def run_key(docs_by_env: dict[str | None, list[Document]], contexts: dict, engines: Sequence[str],
            charts: Path | None = None, extra: str = "") -> str | None:
    """The key of one `run_engines` call, or None when it must not be cached.

    extra: anything else the caller feeds the run (the env files' line map, which places
    add-on findings at their `environments/<env>.yaml` line)."""
    from ..render_cache import code_digest

    first = next(iter(contexts.values()))
    if first.cache_dir is None or ("policy" in engines and (first.engine or "regorus") != "regorus"):
        return None
    try:
        parts = [f"drydock-verdict-v{FORMAT}", code_digest(), _distributions(), ",".join(engines), extra]
        for env, docs in docs_by_env.items():
            ctx = contexts[env]
            parts += [_json([env, ctx.env_data, ctx.require_trivy, len(docs)]), *(_doc_parts(d) for d in docs)]
        if "policy" in engines:
            parts += [_folder_bytes(Path(p)) for p in first.policy_dirs]
        if "trivy" in engines:
            parts.append(_trivy_part(first.cache_dir))
        if "platform" in engines:
            helm = _helm_part(docs_by_env, charts, first.cache_dir)
            if helm is None:
                return None
            parts.append(helm)
    except Exception:  # noqa: BLE001 - an input or tool we cannot identify: the run reports it, uncached
        return None
    return digest_key(*parts)


# -- the entry --------------------------------------------------------------------------------
def _encode_value(value):
    if isinstance(value, Severity):
        return value.name
    if isinstance(value, (Resource, SourceRef, WaiverRef)):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a finding")


def encode_finding(f: Finding) -> dict:
    return {name: _encode_value(getattr(f, name)) for name in _FINDING_FIELDS}


def decode_finding(d: dict) -> Finding:
    """The exact Finding `encode_finding` stored; ValueError/TypeError/KeyError on anything else."""
    if set(d) != set(_FINDING_FIELDS):
        raise ValueError("finding fields changed")
    res, src, waived = d["resource"], d["source"], d["waived"]
    return Finding(
        rule_id=d["rule_id"], title=d["title"], severity=Severity[d["severity"]], message=d["message"],
        engine=d["engine"], resource=Resource(**res), file=d["file"], line=d["line"],
        source=SourceRef(**src) if src is not None else None,
        waived=WaiverRef(**waived) if waived is not None else None,
        related_ids=tuple(d["related_ids"]), fix=d["fix"], url=d["url"], end_line=d["end_line"],
        path=tuple(d["path"]) if d["path"] is not None else None,
        scope=tuple(d["scope"]) if d["scope"] is not None else None)


def encode_run(key: str, run: EngineRun) -> dict:
    return {"format": FORMAT, "key": key, "cached": run.cached, "skipped": list(run.skipped),
            "warnings": list(run.warnings),
            "envs": [[env, [encode_finding(f) for f in run.findings.get(env, [])], run.extras.get(env, {}),
                      run.resources.get(env, 0)] for env in run.findings]}


def decode_run(entry, key: str) -> EngineRun | None:
    try:
        if entry.get("format") != FORMAT or entry.get("key") != key:
            return None
        run = EngineRun({}, {}, {}, int(entry["cached"]), [str(s) for s in entry["skipped"]],
                        [str(w) for w in entry["warnings"]])
        for env, findings, extras, resources in entry["envs"]:
            if not isinstance(extras, dict):
                return None
            run.findings[env] = [decode_finding(f) for f in findings]
            run.extras[env] = extras
            run.resources[env] = int(resources)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None  # a damaged or older entry is a miss
    return run


class VerdictCache:
    """Engine runs by `run_key`, in `<cache_dir>/verdicts/` (MAC'd)."""

    def __init__(self, cache_dir: Path):
        self.store = MacStore(Path(cache_dir) / "verdicts", suffix=".json")

    def get(self, key: str, docs_by_env: dict) -> EngineRun | None:
        run = decode_run(self.store.get_json(key), key)
        if run is None or list(run.findings) != list(docs_by_env):
            return None
        # On a hit every document's answer came from the cache.
        run.cached = sum(run.resources.values())
        return run

    def put(self, key: str, run: EngineRun) -> bool:
        try:
            entry = encode_run(key, run)
        except TypeError:
            return False  # something we cannot store exactly is not stored at all
        return self.store.put_json(key, entry)
