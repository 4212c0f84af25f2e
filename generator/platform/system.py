"""The system one environment's render becomes under ArgoCD, built offline from Documents.

`build_system(docs, env)` answers, for every object: which Application applies it
(directory sources by folder, Helm sources by `Document.app`), in which namespace it
lands, whether its kind is cluster-scoped, and when ArgoCD applies it (sync phase,
wave, kind order). The checks in argo.py, identity.py and network.py read this model;
none of them parses annotations itself.

ArgoCD semantics used here (gitops-engine, argo-cd v2.x/v3.x; see docs/platform-gate.md):
- a namespaced object without metadata.namespace gets the Application's destination namespace;
- `argocd.argoproj.io/hook` (CSV) puts an object in a phase; without it, Helm's
  `helm.sh/hook` maps pre-install/pre-upgrade -> PreSync, post-install/post-upgrade ->
  PostSync, and any other Helm hook is never run by a sync;
- the wave is `argocd.argoproj.io/sync-wave`, else (Helm hooks) `helm.sh/hook-weight`, else 0;
- within one phase and wave, objects apply in gitops-engine's kind order (KIND_ORDER).
"""
from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..core import Document

HOOK = "argocd.argoproj.io/hook"
WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
HELM_HOOK = "helm.sh/hook"
HELM_WEIGHT = "helm.sh/hook-weight"

PRESYNC, SYNC, POSTSYNC = 0, 1, 2
PHASES = {"PreSync": PRESYNC, "Sync": SYNC, "PostSync": POSTSYNC}
PHASE_NAMES = {v: k for k, v in PHASES.items()}
HELM_PHASES = {"pre-install": PRESYNC, "pre-upgrade": PRESYNC, "post-install": POSTSYNC, "post-upgrade": POSTSYNC}

# gitops-engine pkg/sync/sync_tasks.go: apply order inside one phase and wave; other kinds last.
KIND_ORDER = {k: i for i, k in enumerate((
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
    "ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
    "CronJob", "IngressClass", "Ingress", "APIService"))}

# Kubernetes' own cluster-scoped kinds (v1.31, `kubectl api-resources --namespaced=false`).
CLUSTER_KINDS = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "TokenReview"), ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"), ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"), ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"), ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"), ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"), ("networking.k8s.io", "ServiceCIDR"), ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"), ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"), ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"), ("storage.k8s.io", "VolumeAttributesClass"),
    ("internal.apiserver.k8s.io", "StorageVersion"), ("storagemigration.k8s.io", "StorageVersionMigration"),
    ("resource.k8s.io", "ResourceSlice"), ("resource.k8s.io", "DeviceClass"),
})
# CRDs ArgoCD installs itself: their custom resources never wait for a CRD in the render.
ARGOCD_KINDS = frozenset({("argoproj.io", "Application"), ("argoproj.io", "AppProject"),
                          ("argoproj.io", "ApplicationSet")})
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None or isinstance(value, (dict, list)) else str(value))


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def csv(value: Any) -> list[str]:
    return [p.strip() for p in _str(value).split(",") if p.strip()]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(_str(value).strip())
    except ValueError:
        return default


@lru_cache(maxsize=1)
def _builtin_kinds() -> frozenset[tuple[str, str]]:
    """(group, kind) of every Kubernetes kind in the vendored schemas: namespaced unless in CLUSTER_KINDS."""
    index = Path(__file__).resolve().parent.parent / "schemas" / "k8s" / "index.json"
    try:
        kinds = json.loads(index.read_text())["kinds"]
    except (OSError, ValueError, KeyError):
        return frozenset()
    return frozenset((group_of(gv), k) for gv, by_kind in kinds.items() for k in by_kind)


@dataclass(eq=False)
class App:
    """One ArgoCD Application, as ArgoCD reads it."""

    doc: Document
    name: str
    project: str
    server: str
    cluster: str  # destination.name
    namespace: str  # destination.namespace
    sources: list[dict]
    wave: int
    options: frozenset[str]  # syncPolicy.syncOptions
    parent: "App | None" = None
    children: list["App"] = field(default_factory=list)
    objects: list["Obj"] = field(default_factory=list)

    def chain(self) -> list["App"]:
        """This app and its ancestors, root first (stops at a cycle)."""
        out: list[App] = []
        app: App | None = self
        while app is not None and app not in out:
            out.append(app)
            app = app.parent
        return out[::-1]

    def option(self, name: str) -> bool:
        return f"{name}=true" in self.options


@dataclass(eq=False)
class Obj:
    """One object a sync would apply, with where and when."""

    doc: Document
    group: str
    kind: str
    name: str
    namespace: str  # effective namespace; "" for cluster-scoped kinds (or unknown)
    cluster_scoped: bool
    phase: int | None  # PRESYNC/SYNC/POSTSYNC; None: a successful sync never applies it
    wave: int
    options: frozenset[str]  # per-resource argocd.argoproj.io/sync-options
    app: App | None = None
    apps: list[App] = field(default_factory=list)  # every Application that claims it (> 1 is a conflict)

    @property
    def obj(self) -> dict:
        return self.doc.obj

    @property
    def kind_rank(self) -> int:
        return KIND_ORDER.get(self.kind, len(KIND_ORDER))

    def display(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


@dataclass
class System:
    env: str | None
    apps: dict[str, App]
    projects: dict[str, Document]
    objects: list[Obj]
    crds: dict[tuple[str, str], list[Obj]]  # (group, kind) served -> CRD objects
    roots: list[App]

    def by_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if o.kind in kinds]

    def find(self, kind: str, namespace: str, name: str) -> list[Obj]:
        return [o for o in self.objects if o.kind == kind and o.name == name and o.namespace == namespace]


def hook_phase(meta: dict) -> tuple[int | None, bool]:
    """(phase, is_hook) from an object's annotations, as gitops-engine reads them."""
    ann = _dict(meta.get("annotations"))
    argo = csv(ann.get(HOOK))
    if argo:
        phases = [PHASES[t] for t in argo if t in PHASES]
        if not phases:  # Skip, SyncFail, PreDelete, PostDelete: not part of a successful sync
            return None, "Skip" not in argo or len(argo) > 1
        return min(phases), True
    helm = csv(ann.get(HELM_HOOK))
    if helm:
        phases = [HELM_PHASES[t] for t in helm if t in HELM_PHASES]
        return (min(phases) if phases else None), True
    return SYNC, False


def _wave(meta: dict, is_hook: bool) -> int:
    ann = _dict(meta.get("annotations"))
    if WAVE in ann:
        return _int(ann.get(WAVE))
    if is_hook and HELM_WEIGHT in ann and HELM_HOOK in ann:
        return _int(ann.get(HELM_WEIGHT))
    return 0


def _app_of(doc: Document) -> App | None:
    obj = doc.obj
    if obj.get("kind") != "Application" or group_of(_str(obj.get("apiVersion"))) != "argoproj.io":
        return None
    meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
    dest = _dict(spec.get("destination"))
    sources = [s for s in [spec.get("source"), *_list(spec.get("sources"))] if isinstance(s, dict)]
    options = frozenset(csv(",".join(_str(o) for o in _list(_dict(spec.get("syncPolicy")).get("syncOptions")))))
    server, cluster = _str(dest.get("server")), _str(dest.get("name"))
    if not server and cluster == "in-cluster":
        server = IN_CLUSTER_SERVER
    return App(doc, _str(meta.get("name")), _str(spec.get("project")) or "default", server, cluster,
               _str(dest.get("namespace")), sources, _wave(meta, False), options)


def _brace_glob(pattern: str, value: str) -> bool:
    """Go-glob with {a,b} alternatives (ArgoCD directory include/exclude)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if m:
        return any(_brace_glob(pattern[:m.start()] + alt + pattern[m.end():], value) for alt in m.group(1).split(","))
    return fnmatch.fnmatchcase(value, pattern)


def _in_directory(file: str, source: dict) -> bool:
    """Does a directory source (path, directory.recurse/include/exclude) take this rendered file?"""
    path = _str(source.get("path")).strip("/")
    if not path or source.get("chart"):
        return False
    file = file.replace("\\", "/")
    folder = posixpath.dirname(file)
    dirspec = _dict(source.get("directory"))
    if folder == path or folder.endswith("/" + path):
        rel = posixpath.basename(file)
    elif dirspec.get("recurse") is True and (folder.startswith(path + "/") or f"/{path}/" in folder):
        rel = file[file.index(path + "/") + len(path) + 1:]
    else:
        return False
    include, exclude = _str(dirspec.get("include")), _str(dirspec.get("exclude"))
    if include and not _brace_glob(include, rel):
        return False
    return not (exclude and _brace_glob(exclude, rel))


def build_system(docs: Sequence[Document], env: str | None = None) -> System:
    apps: dict[str, App] = {}
    projects: dict[str, Document] = {}
    for d in docs:
        if not isinstance(d.obj, dict):
            continue
        app = _app_of(d)
        if app is not None and app.name and app.name not in apps:
            apps[app.name] = app
        if d.obj.get("kind") == "AppProject" and group_of(_str(d.obj.get("apiVersion"))) == "argoproj.io":
            projects.setdefault(_str(_dict(d.obj.get("metadata")).get("name")), d)
    crd_scope: dict[tuple[str, str], bool] = {}
    crd_docs: list[Document] = []
    for d in docs:
        if isinstance(d.obj, dict) and d.obj.get("kind") == "CustomResourceDefinition":
            spec = _dict(d.obj.get("spec"))
            kind = _str(_dict(spec.get("names")).get("kind"))
            if kind:
                crd_scope[(_str(spec.get("group")), kind)] = _str(spec.get("scope")) == "Cluster"
                crd_docs.append(d)
    objects: list[Obj] = []
    app_of_doc: dict[int, App] = {id(a.doc): a for a in apps.values()}
    for d in docs:
        if not isinstance(d.obj, dict) or not d.obj.get("kind"):
            continue
        owners = _owners(d, apps)
        objects.append(_obj(d, owners, crd_scope))
    for o in objects:
        for owner in o.apps:
            owner.objects.append(o)
        child = app_of_doc.get(id(o.doc))
        if child is not None and o.app is not None and child.parent is None and o.app is not child:
            child.parent = o.app
            o.app.children.append(child)
    crds: dict[tuple[str, str], list[Obj]] = {}
    for o in objects:
        if o.kind == "CustomResourceDefinition":
            spec = _dict(o.obj.get("spec"))
            crds.setdefault((_str(spec.get("group")), _str(_dict(spec.get("names")).get("kind"))), []).append(o)
    roots = [a for a in apps.values() if a.parent is None]
    return System(env, apps, projects, objects, crds, roots)


def _owners(doc: Document, apps: dict[str, App]) -> list[App]:
    if doc.app:  # expanded from a Helm chart: the Application that ran helm
        return [apps[doc.app]] if doc.app in apps else []
    owners = [a for a in apps.values() if any(_in_directory(doc.file, s) for s in a.sources)]
    if owners or not doc.file:
        return owners
    # A tree checked outside its repository layout (a copy of rendered/<env> elsewhere): match the source
    # path without its leading folders, down to `<env>/<folder>`.
    return [a for a in apps.values() if any(_in_directory(doc.file, r) for s in a.sources for r in _relaxed(s))]


def _relaxed(source: dict) -> list[dict]:
    parts = _str(source.get("path")).strip("/").split("/")
    return [{**source, "path": "/".join(parts[k:])} for k in range(1, len(parts) - 1)]


def is_cluster_scoped(group: str, kind: str, has_namespace: bool, crd_scope: dict[tuple[str, str], bool]) -> bool:
    if (group, kind) in crd_scope:
        return crd_scope[(group, kind)]
    if (group, kind) in CLUSTER_KINDS:
        return True
    if (group, kind) in _builtin_kinds() or (group, kind) in ARGOCD_KINDS or has_namespace:
        return False
    # A custom kind whose CRD is not in the render: by convention only Cluster* kinds are cluster-wide.
    return kind.startswith("Cluster")


def _obj(doc: Document, owners: list[App], crd_scope: dict[tuple[str, str], bool]) -> Obj:
    obj = doc.obj
    meta = _dict(obj.get("metadata"))
    group, kind = group_of(_str(obj.get("apiVersion"))), _str(obj.get("kind"))
    ns = _str(meta.get("namespace"))
    cluster = is_cluster_scoped(group, kind, bool(ns), crd_scope)
    app = owners[0] if owners else None
    if cluster:
        ns = ""
    elif not ns and app is not None:
        ns = app.namespace
    phase, is_hook = hook_phase(meta)
    options = frozenset(csv(_dict(meta.get("annotations")).get(SYNC_OPTIONS)))
    return Obj(doc, group, kind, _str(meta.get("name")) or _str(meta.get("generateName")), ns, cluster, phase,
               _wave(meta, is_hook), options, app, list(owners))


# -- ordering --------------------------------------------------------------------------------------

def exists_before(provider: Obj, consumer: Obj) -> bool:
    """Is `provider` applied by the time ArgoCD applies `consumer` on a first sync?

    Same Application: an earlier or the same (phase, wave). Different Applications: only sync waves of sibling Applications order
    them (the parent waits for a child's health before its next wave), so the provider's
    branch must have a strictly lower wave; Applications in the same wave sync in parallel.
    """
    if provider.phase is None or consumer.phase is None:
        return provider.phase is not None
    if provider.app is consumer.app:
        # One wave is applied together (kinds in KIND_ORDER, so a CRD or Namespace goes first) and
        # its health awaited as a whole: a pod waiting for a Secret of its own wave starts once it exists.
        return (provider.phase, provider.wave) <= (consumer.phase, consumer.wave)
    if provider.app is None or consumer.app is None:
        return True  # one side is applied outside ArgoCD (bootstrap): nothing to order
    pa, ca = provider.app.chain(), consumer.app.chain()
    i = 0
    while i < min(len(pa), len(ca)) and pa[i] is ca[i]:
        i += 1
    if i == len(pa):  # provider's app is an ancestor: it applies the consumer's branch at that child's wave
        child = ca[i]
        return (provider.phase, provider.wave) <= (SYNC, child.wave)
    if i == len(ca):  # consumer's app is an ancestor of the provider's app
        child = pa[i]
        return (consumer.phase, consumer.wave) > (SYNC, child.wave)
    return pa[i].wave < ca[i].wave


def when(o: Obj) -> str:
    """`PreSync hook, wave -1 of app X` for messages."""
    phase = "never applied by a sync" if o.phase is None else (
        f"{PHASE_NAMES[o.phase]} hook" if o.phase != SYNC or HOOK in _dict(_dict(o.obj.get('metadata')).get('annotations'))
        else "Sync")
    app = f" of Application {o.app.name} (wave {o.app.wave})" if o.app else ""
    return f"{phase}, wave {o.wave}{app}"


def pod_spec(obj: dict) -> dict | None:
    """The pod template spec of a workload (Pod, Job, CronJob, Deployment, ... Rollout)."""
    spec = _dict(obj.get("spec"))
    kind = obj.get("kind")
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return _dict(_dict(_dict(_dict(spec.get("jobTemplate")).get("spec")).get("template")).get("spec")) or None
    template = _dict(spec.get("template"))
    return _dict(template.get("spec")) or None


def iter_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_strings(v)
