"""Shared pieces for drydock's cdk8s constructs.

Constructs emit plain `cdk8s.ApiObject`s with explicit names (no hashes) and the
`app.kubernetes.io/*` labels. We measured typed bindings (cdk8s-plus) against
plain ApiObjects: the typed layer costs several jsii round-trips per field and
adds hashed names and `cdk8s.io/metadata.addr` selectors we would then have to
undo, so plain ApiObjects with dict bodies are both faster and more legible in
diffs (docs/architecture.md has the figures).

Every emitted object is registered with the SourceRef of the input line that
produced it, so a finding on a rendered file can point back to the fix.

Emitting is two-phase: constructs hand `emit` a manifest dict, which stays a
plain Python dict until every builder has run (so the ArgoCD builder, which runs
last, can add sync-wave annotations without jsii round-trips); then
`RenderContext.materialize` turns each into an ApiObject in its construct scope
with one constructor call and one JSON patch. jsii round-trips are the render's
main cost, so this keeps them at two per object (docs/performance.md).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cdk8s_runtime import load_cdk8s
from ..core import SourceRef
from ..model.types import Environment, Service

cdk8s = load_cdk8s()

PART_OF = "ecommerce"
MANAGED_BY = "drydock"
UID = 10001  # non-root uid/gid used by every workload; high enough for Trivy's KSV-0020/0021


@dataclass
class RenderContext:
    """What a construct needs besides its own props: the env and the source registry."""

    env: Environment
    services: dict[str, Service]
    app: Any = None  # the cdk8s.App of this environment
    charts: dict[str, Any] = field(default_factory=dict)  # app folder name -> cdk8s.Chart
    sources: dict[tuple[str, str, str, str], SourceRef] = field(default_factory=dict)
    # identity -> {JSON path: SourceRef}: the input line behind single fields (the image line,
    # the env file's versions line), so findings on those fields point where the fix goes.
    field_sources: dict[tuple[str, str, str, str], dict[tuple, SourceRef]] = field(default_factory=dict)
    pending: list[tuple[Any, str, dict]] = field(default_factory=list)  # (scope, folder, manifest) in order
    _folders: dict[int, str] = field(default_factory=dict)  # id(scope) -> folder
    _by_folder: dict[str, list[dict]] = field(default_factory=dict)  # folder -> its pending manifests

    def chart(self, folder: str) -> Any:
        """The chart whose objects land in rendered/<env>/<folder>/ (created on first use)."""
        if folder not in self.charts:
            self.charts[folder] = cdk8s.Chart(self.app, folder, disable_resource_name_hashes=True)
            self._folders[id(self.charts[folder])] = folder
        return self.charts[folder]

    def folder_of(self, scope: Any) -> str:
        key = id(scope)
        if key not in self._folders:
            self._folders[key] = cdk8s.Chart.of(scope).node.id  # a construct nested in a chart
        return self._folders[key]

    def objects(self, folder: str) -> list[dict]:
        """The manifests emitted into a folder so far (mutable until materialize())."""
        return list(self._by_folder.get(folder, ()))

    def materialize(self) -> list[tuple[str, dict]]:
        """Synthesize every object through cdk8s; return (folder, object) pairs.

        The emitted manifests enter cdk8s as one `cdk8s.Include` of a JSON file per chunk (one
        chunk for a normal env; INCLUDE_LIMIT bytes each) in a chart of its own, and come back
        with that chart's `to_json()`: two jsii crossings per chunk instead of two per object,
        and the app is validated once per chunk instead of once per folder (docs/performance.md).
        ApiObjects that other constructs create directly in a folder's chart are synthesized
        with that chart.
        """
        pending, self.pending = self.pending, []
        self._by_folder = {}
        folder_of = {_key(m): f for _, f, m in pending}
        chunks = _chunks([m for _, _, m in pending])
        del pending  # the chunks' JSON text is all cdk8s needs now
        out: list[tuple[str, dict]] = []
        with tempfile.TemporaryDirectory(prefix="drydock-render-") as tmp:
            for i, chunk in enumerate(chunks):
                # One chart per chunk, synthesized before the next is read: Node's peak memory
                # follows the chunk, not the whole env (docs/performance.md).
                chart = cdk8s.Chart(self.app, f"{BULK_CHART}{i}", disable_resource_name_hashes=True)
                path = Path(tmp) / f"objects-{i}.json"
                path.write_text(chunk, encoding="utf-8")
                chunks[i] = ""
                cdk8s.Include(chart, "objects", url=str(path))
                out += [(folder_of[_key(obj)], obj) for obj in chart.to_json()]
        for folder, chart in self.charts.items():
            if any(isinstance(c, cdk8s.ApiObject) for c in chart.node.find_all()):
                out += [(folder, obj) for obj in chart.to_json()]
        return out


# Include reads its file through a Node child process whose output cdk8s caps at 10 MiB, and
# Node's peak memory follows the chunk: with a worker per env, 2 MiB (~1,350 objects) kept the
# largest process at 1,000 services x 3 envs to ~550 MB against 730-880 MB at 4 MiB, same speed
# (docs/performance.md).
INCLUDE_LIMIT = 2 << 20
BULK_CHART = "~drydock"  # not a DNS label, so never a folder name


def _key(obj: dict) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return identity(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def _include_id(obj: dict) -> str:
    """The construct id Include gives an object (name[-kind][-namespace]): unique per Include."""
    meta = obj["metadata"]
    return "-".join(x for x in (meta.get("name"), str(obj.get("kind", "")).lower(), meta.get("namespace")) if x)


def _chunks(manifests: list[dict]) -> list[str]:
    """Multi-document JSON texts, each under INCLUDE_LIMIT and without two objects of one Include id."""
    chunks: list[list[str]] = [[]]
    size, ids = 0, set()
    for m in manifests:
        text = json.dumps(m, ensure_ascii=False, separators=(",", ":"))
        cid = _include_id(m)
        if chunks[-1] and (size + len(text) > INCLUDE_LIMIT or cid in ids):
            chunks.append([])
            size, ids = 0, set()
        chunks[-1].append(text)
        size += len(text.encode("utf-8")) + 5
        ids.add(cid)
    return ["\n---\n".join(c) for c in chunks if c]


def identity(api_version: str, kind: str, namespace: str | None, name: str) -> tuple[str, str, str, str]:
    return (api_version, kind, namespace or "", name)


def emit(scope: Any, ctx: RenderContext, manifest: dict, source: SourceRef,
         field_sources: dict[tuple, SourceRef] | None = None) -> dict:
    """Add one object (a full manifest dict) to `scope`; remember where it came from
    (the whole object, and optionally single fields by JSON path)."""
    meta = manifest["metadata"]
    folder = ctx.folder_of(scope)
    ctx.pending.append((scope, folder, manifest))
    ctx._by_folder.setdefault(folder, []).append(manifest)
    key = identity(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])
    ctx.sources[key] = source
    if field_sources:
        ctx.field_sources[key] = dict(field_sources)
    return manifest


def image_sources(service: Any, env: Any, container: tuple) -> dict[tuple, SourceRef]:
    """Input lines behind a container's image. A path may go one step below a scalar to name
    a part of it: the registry/repository is the service's `image` line, the tag/digest the env
    file's `versions` entry for the service (else its `default`, else `versions`)."""
    for key in (f"spec.images.versions.{service.name}", "spec.images.versions.default", "spec.images.versions"):
        if key in env.lines:
            break
    return {container + ("image",): service.line_of("spec.image"), container + ("image", "tag"): env.line_of(key)}


def labels(name: str, env: Environment, component: str, version: str | None = None) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": f"{name}-{env.name}",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if version:
        out["app.kubernetes.io/version"] = version
    return out


def selector(name: str, env: Environment) -> dict[str, str]:
    """Stable selector: never includes the version, so upgrades do not orphan pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": f"{name}-{env.name}"}


def restricted_pod_security() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def cpu_millis(cpu: str) -> int:
    return int(cpu[:-1]) if cpu.endswith("m") else int(round(float(cpu) * 1000))


def cpu_quantity(cpu: str) -> str:
    """Canonical CPU quantity ("0.5" -> "500m", "2" -> "2") so renders do not depend on spelling."""
    m = cpu_millis(cpu)
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"
