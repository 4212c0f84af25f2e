"""Expand ArgoCD Applications with a Helm source into the objects the real `helm template` makes.

ArgoCD's repo-server runs `helm template` for every Application whose source names a
`chart`; the objects it applies are that output, not the Application. To gate them we run
the same command offline, the way ArgoCD does (reposerver/repository.go, util/helm/cmd.go):

    helm template <chart folder> --name-template <helm.releaseName or app name>
        --namespace <helm.namespace or destination.namespace> --kube-version <cluster>
        --set/--set-string <helm.parameters> --values <valuesObject, else values>
        --api-versions <every group/version[/Kind] the cluster serves> --include-crds

Charts come from a chart folder (`--charts`, `DRYDOCK_CHARTS`, default `.drydock/charts`)
whose `index.yaml` maps repoURL + chart + version to a sub-folder; `drydock charts pull`
fills it. helm runs with a private HOME, a proxy that refuses every connection (no network),
a wall-clock timeout and its own process group (killed on timeout).

Each expansion is cached by content (chart folder digest, release, namespace, values,
parameters, capabilities, helm version) in the gate cache. Expanded documents are named
`<Application file>#<template path>`, with `line` counted in that template's output (what
`helm template --show-only <template>` prints) and `source` = the env file line of the
add-on's values. See docs/helm.md.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import yaml

from ..core import Document, SourceRef
from ..children import exchange, stop_all
from ..errors import EngineError, InputError, Problem
from .charts import FIX_MISSING_CHART, ChartFolder, ChartRef, folder_digest
from .cluster import applied_by_argocd, builtin_api_versions, crd_api_versions, crd_scopes, with_namespace
from .helm_output import split_output
from .system import iter_strings

TIMEOUT = 120.0  # seconds per helm call; kube-prometheus-stack takes ~1 s on a busy laptop
KUBE_VERSION = "1.31.0"  # the Kubernetes minor whose schemas the schema gate vendors
CACHE_FORMAT = "helm-expansion-v1"
APP_API = "argoproj.io/v1alpha1"



# -- helm itself ----------------------------------------------------------------------------
def find_helm() -> str:
    """$DRYDOCK_HELM, else `helm` on PATH, else `helm` beside this Python (the venv's bin/)."""
    fix = ("run `python scripts/provision_helm.py` (installs helm into the venv), install helm v3.17+/v4 "
           "on PATH, or set DRYDOCK_HELM=/path/to/helm")
    explicit = os.environ.get("DRYDOCK_HELM")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            raise EngineError(f"DRYDOCK_HELM={explicit} is not an executable file", hint=fix)
        return explicit
    found = shutil.which("helm")
    if found:
        return found
    beside = Path(sys.executable).parent / "helm"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise EngineError("helm not found (DRYDOCK_HELM, PATH, the venv's bin/)", hint=fix)


# -- what to expand ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HelmSource:
    """One Helm source of one Application, with the arguments ArgoCD would pass."""

    app: Document
    index: int | None  # None: spec.source; i: spec.sources[i]
    ref: ChartRef
    release: str
    namespace: str
    values: str  # YAML text ("" = none)
    sets: tuple[tuple[str, str], ...] = ()
    set_strings: tuple[tuple[str, str], ...] = ()
    include_crds: bool = True
    skip_schema_validation: bool = False
    skip_tests: bool = False
    kube_version: str | None = None  # helm.kubeVersion overrides the cluster's
    value_files: tuple[str, ...] = ()  # helm.valueFiles, relative to the chart folder
    ignore_missing_value_files: bool = False
    unresolvable: tuple[str, ...] = ()  # inputs offline expansion cannot read ($ref files, URLs, fileParameters)

    @property
    def app_name(self) -> str:
        return str(self.app.obj.get("metadata", {}).get("name") or "")

    def where(self) -> str:
        return "spec.source" if self.index is None else f"spec.sources[{self.index}]"


def is_application(obj: dict) -> bool:
    return obj.get("apiVersion") == APP_API and obj.get("kind") == "Application"


def chart_refs(app: Document) -> list[ChartRef]:
    """The charts an Application's Helm sources name (helm_sources without building their values)."""
    spec = app.obj.get("spec") if isinstance(app.obj.get("spec"), dict) else {}
    found = [spec.get("source")] + list(spec.get("sources") or [])
    return [ChartRef(str(src.get("repoURL") or ""), str(src["chart"]), str(src.get("targetRevision") or ""))
            for src in found if isinstance(src, dict) and src.get("chart")]


def helm_sources(app: Document) -> list[HelmSource]:
    """The Helm (chart) sources of an Application document; [] for directory/git sources."""
    spec = app.obj.get("spec") if isinstance(app.obj.get("spec"), dict) else {}
    name = str(app.obj.get("metadata", {}).get("name") or "")
    dest = spec.get("destination") if isinstance(spec.get("destination"), dict) else {}
    found: list[tuple[int | None, dict]] = []
    if isinstance(spec.get("source"), dict):
        found.append((None, spec["source"]))
    for i, src in enumerate(spec.get("sources") or []):
        if isinstance(src, dict):
            found.append((i, src))
    out = []
    for index, src in found:
        if not src.get("chart"):
            continue
        helm = src.get("helm") if isinstance(src.get("helm"), dict) else {}
        ref = ChartRef(str(src.get("repoURL") or ""), str(src["chart"]), str(src.get("targetRevision") or ""))
        sets, set_strings = [], []
        for p in helm.get("parameters") or []:
            if isinstance(p, dict) and p.get("name"):
                pair = (str(p["name"]), _envsubst(_scalar(p.get("value", "")), name, dest, src))
                (set_strings if p.get("forceString") else sets).append(pair)
        files = [str(f) for f in helm.get("valueFiles") or [] if f is not None]
        out.append(HelmSource(
            app=app, index=index, ref=ref, release=str(helm.get("releaseName") or name),
            namespace=str(helm.get("namespace") or dest.get("namespace") or ""),
            values=_values_text(helm), sets=tuple(sets), set_strings=tuple(set_strings),
            include_crds=not helm.get("skipCrds", False),
            skip_schema_validation=bool(helm.get("skipSchemaValidation", False)),
            skip_tests=bool(helm.get("skipTests", False)),
            kube_version=str(helm["kubeVersion"]) if helm.get("kubeVersion") else None,
            value_files=tuple(f for f in files if _chart_relative(f)),
            ignore_missing_value_files=bool(helm.get("ignoreMissingValueFiles", False)),
            unresolvable=tuple([f"valueFiles {f}" for f in files if not _chart_relative(f)]
                               + [f"fileParameters {_scalar(_dict_get(p, 'name'))}"
                                  for p in helm.get("fileParameters") or []]),
        ))
    return out


def _chart_relative(path: str) -> bool:
    """A values file ArgoCD reads from the chart itself (not `$ref/...` of another source, a URL or /abs)."""
    return bool(path) and not path.startswith(("$", "/")) and "://" not in path and ".." not in path.split("/")


def _dict_get(value, key: str):
    return value.get(key) if isinstance(value, dict) else None


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _values_text(helm: dict) -> str:
    """ArgoCD's ValuesYAML(): valuesObject wins over the values string; they are not merged."""
    obj = helm.get("valuesObject")
    if isinstance(obj, dict) and obj:
        return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False)
    values = helm.get("values")
    return values if isinstance(values, str) else ""


def _envsubst(value: str, app: str, dest: dict, src: dict) -> str:
    """ArgoCD substitutes its build environment in --set values; the revision is unknown offline."""
    env = {"ARGOCD_APP_NAME": app, "ARGOCD_APP_NAMESPACE": str(dest.get("namespace") or ""),
           "ARGOCD_APP_SOURCE_REPO_URL": str(src.get("repoURL") or ""),
           "ARGOCD_APP_SOURCE_PATH": str(src.get("path") or ""),
           "ARGOCD_APP_SOURCE_TARGET_REVISION": str(src.get("targetRevision") or "")}
    return re.sub(r"\$\{?(ARGOCD_APP_[A-Z_]+)\}?", lambda m: env.get(m.group(1), m.group(0)), value)


def _set_arg(name: str, value: str) -> str:
    # As ArgoCD: escape unescaped commas unless the value is a {list}.
    if not (value.startswith("{") and value.endswith("}")):
        value = re.sub(r"(?<!\\),", r"\\,", value)
    return f"{name}={value}"


def _capability_queries(folder: Path) -> frozenset[str] | None:
    """The literal `.Capabilities.APIVersions.Has "x"` queries of a chart; None when it asks in
    a way we cannot list (then every API change re-expands it)."""
    found: set[str] = set()
    for path in folder.rglob("*"):
        if path.suffix not in (".yaml", ".yml", ".tpl", ".txt", ".json") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if "APIVersions" not in text:
            continue
        literal = re.findall(r'APIVersions\.Has\s+"([^"]+)"', text)
        if len(literal) != text.count("APIVersions"):
            return None
        found.update(literal)
    return frozenset(found)


# -- running helm ---------------------------------------------------------------------------
@dataclass
class Expansion:
    """One source's expanded documents, as cached: (template, line, obj, text) rows."""

    rows: list[dict]
    from_cache: bool = False


class Expander:
    """Runs (or recalls) `helm template`. One per gate run; thread-safe.

    Counters for tests and reports: `runs` (helm processes started), `hits` (answered from
    the cache directory), `memo_hits` (answered from this process's memory).
    """

    _memo: dict[str, list[dict]] = {}  # key -> rows, shared by every Expander in this process
    _memo_lock = threading.Lock()

    def __init__(self, charts: Path | str, cache_dir: Path | None = None, helm: str | None = None,
                 timeout: float = TIMEOUT, use_memo: bool = True):
        self.folder = ChartFolder(charts)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._helm = helm
        self.timeout = timeout
        self.use_memo = use_memo
        self.runs = self.hits = self.memo_hits = 0
        self._digests: dict[Path, str] = {}
        self._queries: dict[Path, frozenset[str] | None] = {}
        self._version: str | None = None
        self._lock = threading.Lock()
        self._home: tempfile.TemporaryDirectory | None = None

    # helm itself
    @property
    def helm(self) -> str:
        if self._helm is None:
            self._helm = find_helm()
        return self._helm

    def version(self) -> str:
        """`helm version`, remembered in the cache per binary (path, size, mtime): a process less per run."""
        if self._version is None:
            st = os.stat(self.helm)
            key, cache = f"helm-version:{os.path.realpath(self.helm)}:{st.st_size}:{st.st_mtime_ns}", self._cache()
            stored = cache.get(key) if cache is not None else None
            if stored and isinstance(stored[0].get("version"), str):
                self._version = stored[0]["version"]
            else:
                self._version = self._run([self.helm, "version", "--short"], None).stdout.strip()
                if cache is not None:
                    cache.put(key, [{"version": self._version}])
        return self._version

    def _env(self, offline: bool = True) -> dict[str, str]:
        with self._lock:
            if self._home is None:
                self._home = tempfile.TemporaryDirectory(prefix="drydock-helm-")
        home = self._home.name
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "XDG_CACHE_HOME": f"{home}/cache",
               "XDG_CONFIG_HOME": f"{home}/config", "XDG_DATA_HOME": f"{home}/data",
               "HELM_CACHE_HOME": f"{home}/cache", "HELM_CONFIG_HOME": f"{home}/config",
               "HELM_DATA_HOME": f"{home}/data", "LANG": "C.UTF-8"}
        if offline:  # a proxy on the discard port: any download fails at once
            refuse = "http://127.0.0.1:9"
            env.update(HTTP_PROXY=refuse, HTTPS_PROXY=refuse, http_proxy=refuse, https_proxy=refuse,
                       NO_PROXY="", no_proxy="")
        else:  # `charts pull`: the user's proxy settings, nothing else of their environment
            env.update({k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")})
        return env

    def run_networked(self, cmd: list[str]) -> subprocess.CompletedProcess:
        """For `charts pull`: helm with network access, private HOME, same timeout and kill."""
        return self._run(cmd, None, offline=False)

    def _run(self, cmd: list[str], src: HelmSource | None, offline: bool = True) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    env=self._env(offline), start_new_session=True, text=True)
        except OSError as e:
            raise EngineError(f"cannot run helm ({self.helm}): {e.strerror}",
                              hint="run `python scripts/provision_helm.py` or set DRYDOCK_HELM") from None
        try:
            out, err = exchange(proc, self.timeout)  # Ctrl-C or a failure elsewhere kills it too (children.py)
        except subprocess.TimeoutExpired:
            what = f"helm template of {src.ref.display()} for Application {src.app_name}" if src else f"helm {cmd[1]}"
            raise EngineError(Problem(f"{what} did not finish in {self.timeout:.0f} s", *_where(src),
                                      hint="a chart that loops or waits on the network; check the chart folder")) from None
        if proc.returncode != 0 and cmd[1] == "version":
            raise EngineError(f"`helm version` failed: {' '.join(err.split())[:300]}",
                              hint="run `python scripts/provision_helm.py` or set DRYDOCK_HELM to a working helm")
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    # charts
    def chart_path(self, src: HelmSource) -> Path:
        folder = self.folder.find(src.ref)
        if folder is None:
            raise InputError(Problem(f"{src.ref.display()} is not in {self.folder.root}", *_where(src),
                                     hint=FIX_MISSING_CHART))
        return folder

    def _digest(self, folder: Path) -> str:
        with self._lock:
            if folder not in self._digests:
                self._digests[folder] = folder_digest(folder)
            return self._digests[folder]

    def queries(self, src: HelmSource) -> frozenset[str] | None:
        folder = self.chart_path(src)
        with self._lock:
            if folder in self._queries:
                return self._queries[folder]
        key, cache = f"capabilities:{self._digest(folder)}", self._cache()
        stored = cache.get(key) if cache is not None else None
        if stored and "queries" in stored[0]:
            found = None if stored[0]["queries"] is None else frozenset(stored[0]["queries"])
        else:
            found = _capability_queries(folder)
            if cache is not None:
                cache.put(key, [{"queries": None if found is None else sorted(found)}])
        with self._lock:
            self._queries[folder] = found
        return found

    def relevant_apis(self, src: HelmSource, apis: Sequence[str]) -> tuple[str, ...]:
        """The part of the API list that can change this chart's output (all of it when unknown)."""
        q = self.queries(src)
        return tuple(apis) if q is None else tuple(a for a in apis if a in q)

    # expansion
    def args(self, src: HelmSource, folder: Path, apis: Sequence[str], values_file: str | None) -> list[str]:
        cmd = [self.helm, "template", str(folder), "--name-template", src.release]
        if src.namespace:
            cmd += ["--namespace", src.namespace]
        cmd += ["--kube-version", src.kube_version or KUBE_VERSION]
        for k, v in src.sets:
            cmd += ["--set", _set_arg(k, v)]
        for k, v in src.set_strings:
            cmd += ["--set-string", _set_arg(k, v)]
        for f in src.value_files:
            if (folder / f).is_file():
                cmd += ["--values", str(folder / f)]
        if values_file:
            cmd += ["--values", values_file]
        for a in apis:
            cmd += ["--api-versions", a]
        if src.include_crds:
            cmd.append("--include-crds")
        if src.skip_schema_validation:
            cmd.append("--skip-schema-validation")
        if src.skip_tests:
            cmd.append("--skip-tests")
        return cmd

    def key(self, src: HelmSource, apis: Sequence[str]) -> str:
        folder = self.chart_path(src)
        parts = {"format": CACHE_FORMAT, "chart": self._digest(folder), "release": src.release,
                 "namespace": src.namespace, "values": src.values, "set": src.sets, "setString": src.set_strings,
                 "kubeVersion": src.kube_version or KUBE_VERSION, "apis": list(self.relevant_apis(src, apis)),
                 "flags": [src.include_crds, src.skip_schema_validation, src.skip_tests], "helm": self.version(),
                 "valueFiles": list(src.value_files)}
        return json.dumps(parts, sort_keys=True, separators=(",", ":"))

    def expand(self, src: HelmSource, apis: Sequence[str]) -> Expansion:
        key = self.key(src, apis)
        if self.use_memo:
            with self._memo_lock:
                rows = self._memo.get(key)
            if rows is not None:
                with self._lock:
                    self.memo_hits += 1
                return Expansion(rows, True)
        cache = self._cache()
        if cache is not None:
            stored = cache.get(key)
            if stored and isinstance(stored[0].get("rows"), list):
                with self._lock:
                    self.hits += 1
                self._remember(key, stored[0]["rows"])
                return Expansion(stored[0]["rows"], True)
        rows = self._template(src, apis)
        if cache is not None:
            cache.put(key, [{"rows": rows}])
        self._remember(key, rows)
        return Expansion(rows)

    def _remember(self, key: str, rows: list[dict]) -> None:
        if self.use_memo:
            with self._memo_lock:
                self._memo[key] = rows

    def _cache(self):
        if self.cache_dir is None:
            return None
        from ..gate.cache import ResultCache

        return ResultCache(self.cache_dir / "helm", CACHE_FORMAT)

    def _template(self, src: HelmSource, apis: Sequence[str]) -> list[dict]:
        folder = self.chart_path(src)
        with tempfile.TemporaryDirectory(prefix="drydock-values-") as tmp:
            values_file = None
            if src.values:
                values_file = os.path.join(tmp, "values.yaml")
                with open(values_file, "w", encoding="utf-8") as fh:
                    fh.write(src.values)
            with self._lock:
                self.runs += 1
            proc = self._run(self.args(src, folder, apis, values_file), src)
        if proc.returncode != 0:
            msg = _redact(" ".join(proc.stderr.split()), src)[:800] or f"exit code {proc.returncode}"
            raise InputError(Problem(f"helm template failed for Application {src.app_name} "
                                     f"({src.ref.display()}): {msg}", *_where(src),
                                     hint="fix the add-on's values (or the chart folder); "
                                          f"`helm template` of {folder} reproduces it"))
        return split_output(proc.stdout)


def _where(src: HelmSource | None) -> tuple[str | None, int | None]:
    """Where a fix goes: the env file line of the add-on when known, else the Application."""
    if src is None:
        return None, None
    if src.app.source and src.app.source.file.startswith("environments/"):
        return src.app.source.file, src.app.source.line
    return src.app.file, src.app.line


def _redact(text: str, src: HelmSource) -> str:
    """helm may echo values in its message (a `fail`, a schema error): hide every value we gave it."""
    secrets = {v for _, v in src.sets + src.set_strings}
    try:
        secrets |= set(iter_strings(yaml.safe_load(src.values))) if src.values else set()
    except yaml.YAMLError:
        pass
    for s in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(s, "***")
    return text


# -- the library entry point ------------------------------------------------------------------
def addon_source(env) -> Callable[[Document], SourceRef | None]:
    """For an Environment model: the env file line of an add-on's values (else its add-on entry)."""
    def source_for(app: Document) -> SourceRef | None:
        labels = (app.obj.get("metadata") or {}).get("labels") or {}
        addon = labels.get("app.kubernetes.io/name")
        for key in (f"spec.addons.{addon}.values", f"spec.addons.{addon}"):
            if addon and key in env.lines:
                return SourceRef(env.source.file, env.lines[key])
        return app.source if app.source and app.source.line > 1 else SourceRef(env.source.file, env.source.line)
    return source_for


def expand_applications(docs: Sequence[Document], charts: Path | str, cache_dir: Path | None = None, *,
                        helm: str | None = None, source_for: Callable[[Document], SourceRef | None] | None = None,
                        timeout: float = TIMEOUT, expander: Expander | None = None) -> list[Document]:
    """Every object the Helm sources of the Applications in `docs` would apply, as Documents.

    `docs` is one environment's render (or any manifests). The cluster's API list is the
    vendored Kubernetes minor plus every CRD in `docs` and in the expansions (charts asking
    `.Capabilities.APIVersions` for a CRD another add-on installs are expanded again with it:
    the state ArgoCD converges to once every Application has synced).
    """
    expander = expander or Expander(charts, cache_dir, helm, timeout)
    sources = [s for d in docs if is_application(d.obj) for s in helm_sources(d)]
    if not sources:
        return []
    missing = []
    for s in sources:  # every missing chart is reported before any helm runs
        try:
            expander.chart_path(s)
        except InputError as e:
            missing += [p for p in e.problems if p.render() not in {m.render() for m in missing}]
    for s in sources:  # fail closed: values helm would get but we cannot read offline
        folder = expander.chart_path(s) if not missing else None
        gone = [f for f in s.value_files if folder is not None and not (folder / f).is_file()
                and not s.ignore_missing_value_files]
        for what in [*s.unresolvable, *(f"valueFiles {f} (not in the chart)" for f in gone)]:
            missing.append(Problem(f"Application {s.app_name} ({s.where()}.helm): {what} cannot be read offline, "
                                   "so the add-on's expansion (and every gate on it) would be incomplete",
                                   s.app.file, s.app.line,
                                   hint="put those values into the Application's helm.valuesObject (drydock renders "
                                        "them from spec.addons.<name>.values in environments/<env>.yaml)"))
    if missing:
        raise InputError(missing)
    base = set(builtin_api_versions()) | crd_api_versions(d.obj for d in docs)
    apis = sorted(base)
    results = _expand_all(expander, sources, apis)
    for _ in range(3):  # converge: CRDs from the expansions may change what charts render
        grown = sorted(base | crd_api_versions(r["obj"] for rows in results for r in rows))
        stale = [i for i, s in enumerate(sources)
                 if expander.relevant_apis(s, grown) != expander.relevant_apis(s, apis)]
        apis = grown
        if not stale:
            break
        again = _expand_all(expander, [sources[i] for i in stale], apis)
        for i, rows in zip(stale, again):
            results[i] = rows
    scopes = crd_scopes(d.obj for d in docs)
    for rows in results:
        scopes.update(crd_scopes(r["obj"] for r in rows))
    out: list[Document] = []
    for src, rows in zip(sources, results):
        source = source_for(src.app) if source_for else src.app.source
        prefix = src.app.file if src.index is None else f"{src.app.file}#sources[{src.index}]"
        for r in rows:
            if not applied_by_argocd(r["obj"]):
                continue
            obj = with_namespace(r["obj"], src.namespace, scopes)
            # the text helm printed no longer matches an object we gave a namespace: Trivy reads the object
            text = r["text"] if obj is r["obj"] else None
            out.append(Document(f"{prefix}#{r['template']}", r["line"], obj, source, text, app=src.app_name))
    return out



def _expand_all(expander: Expander, sources: Sequence[HelmSource], apis: Sequence[str]) -> list[list[dict]]:
    workers = max(1, min(len(sources), os.cpu_count() or 1))
    if workers == 1:
        return [expander.expand(s, apis).rows for s in sources]
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(expander.expand, s, apis) for s in sources]
        try:
            return [f.result().rows for f in futures]
        except BaseException:  # one failed or Ctrl-C: the queued templates are not run, the running ones end
            pool.shutdown(wait=False, cancel_futures=True)
            while not wait(futures, timeout=0.05).not_done.isdisjoint(futures):
                stop_all()  # again: a thread may have started its helm after the last call
            raise

