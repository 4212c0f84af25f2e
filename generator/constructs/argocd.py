"""ArgoCD app-of-apps per environment, with sync waves from the dependency graph.

Runs LAST among the PARTS builders: every other folder of `rendered/<env>/` already
exists in `ctx.charts`. Emits into `rendered/<env>/argocd/`:

  appproject-<project>-bootstrap.yaml   project of the root only: may create Applications and
                                        AppProjects in the ArgoCD namespace, nothing else
  application-<env>-root.yaml           the root (app-of-apps): path rendered/<env>/argocd, excluding
                                        the two bootstrap files, so it never manages itself or its project
  appproject-<project>.yaml             the project of the rendered folders (managed by the root, wave -20)
  appproject-<project>-addons.yaml      the project of the add-ons (their namespaces, chart repos, cluster
                                        kinds); an add-on whose chart writes kube-system gets its own
                                        project <project>-<add-on> (generator/addons.yaml systemNamespaces)
  application-<env>-<folder>.yaml       one per rendered folder (services, datastores, platform, ...)
  application-<env>-<addon>.yaml        one per enabled platform add-on (Helm chart, pinned version)

Waves (`argocd.argoproj.io/sync-wave`, strings): the project -20; add-ons from -10 up, each
after the add-ons it needs; `platform` after every add-on (-3); datastores, queues and other
folders 0; a service 1 + the highest wave of what it depends on (dependsOn.services,
datastores, queues). Inside every other folder the builder also stamps resource waves
(Namespace/CRDs, then RBAC and stores, then config and secrets, then workloads, then
autoscalers and monitors) on objects that have no wave or hook annotation of their own.
docs/argocd.md has the bootstrap command and the argocd-cm health check waves need.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping

from ..errors import DrydockError, InputError
from ..model.types import DATASTORES, QUEUES, Environment, Platform
from .addons import Addon, enabled_addons
from .base import MANAGED_BY, PART_OF, RenderContext, emit

FOLDER = "argocd"
RENDERED = "rendered"  # where ArgoCD finds the tree in the repository (docs/contracts.md)
IN_CLUSTER = "https://kubernetes.default.svc"
FINALIZER = "resources-finalizer.argocd.argoproj.io"
WAVE = "argocd.argoproj.io/sync-wave"
HOOK_ANNOTATIONS = ("argocd.argoproj.io/hook", "helm.sh/hook")
NEEDS = "drydock.dev/needs"  # human-readable: what an Application waits for (explains its wave)

PROJECT_WAVE = -20
ADDON_WAVE = -10
PLATFORM_WAVE = -3
DATA_WAVE = 0
SERVICE_WAVE = 1

# Resource waves inside one Application. Kinds not listed stay in wave 0 (no annotation written).
KIND_WAVES = {
    "Namespace": -3, "CustomResourceDefinition": -3,
    "ServiceAccount": -2, "Role": -2, "RoleBinding": -2, "ClusterRole": -2, "ClusterRoleBinding": -2,
    "NetworkPolicy": -2, "ResourceQuota": -2, "LimitRange": -2, "PriorityClass": -2, "StorageClass": -2,
    "ClusterIssuer": -2, "Issuer": -2, "ClusterSecretStore": -2, "SecretStore": -2,
    "ConfigMap": -1, "Secret": -1, "ExternalSecret": -1, "SealedSecret": -1, "Certificate": -1,
    "PersistentVolumeClaim": -1, "AnalysisTemplate": -1,
    "HorizontalPodAutoscaler": 1, "VerticalPodAutoscaler": 1, "Ingress": 1,
    "ServiceMonitor": 1, "PodMonitor": 1, "PrometheusRule": 1,
}

ORPHAN_IGNORE = [  # objects Kubernetes creates in every namespace: not orphans worth a warning
    {"group": "", "kind": "ConfigMap", "name": "kube-root-ca.crt"},
    {"group": "", "kind": "ServiceAccount", "name": "default"},
]


# -- the dependency graph ----------------------------------------------------------------------
def addon_node(name: str) -> str:
    return f"addon:{name}"


def folder_role(folder: str, platform: Platform) -> str:
    if folder == "platform":
        return "platform"
    if folder in platform.services:
        return "service"
    if folder in DATASTORES or folder in QUEUES:
        return "data"
    return "other"


def dependency_graph(platform: Platform, folders: Iterable[str], addons: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """node -> the nodes that must be synced and healthy first.

    Nodes are the rendered folders plus `addon:<name>` for each enabled add-on. Edges:
    add-on -> the add-ons it needs; platform -> every add-on (their CRDs: ClusterIssuer,
    ClusterSecretStore, ServiceMonitor...); datastores, queues and other folders -> platform;
    a service -> platform, its dependsOn.services and the datastore/queue folders it uses
    that are rendered (managed datastores have no folder, hence no edge).
    """
    folders = sorted(set(folders))
    present = set(folders)
    resolved = enabled_addons_needs(addons)
    graph: dict[str, tuple[str, ...]] = {addon_node(n): tuple(addon_node(m) for m in needs)
                                        for n, needs in resolved.items()}
    for folder in folders:
        role = folder_role(folder, platform)
        if role == "platform":
            deps = [addon_node(n) for n in resolved]
        elif role in ("data", "other"):
            deps = ["platform"]
        else:
            svc = platform.services[folder]
            deps = ["platform", *svc.depends_on_services, *svc.datastores, *svc.queues]
        graph[folder] = tuple(sorted({d for d in deps if d in present or d.startswith("addon:")}))
    return graph


def enabled_addons_needs(addons: Iterable[str] | Mapping[str, Addon]) -> dict[str, tuple[str, ...]]:
    if isinstance(addons, Mapping):
        return {n: tuple(a.needs) for n, a in sorted(addons.items())}
    return {n: () for n in sorted(addons)}


def _floor(node: str, platform: Platform) -> int:
    if node.startswith("addon:"):
        return ADDON_WAVE
    return {"platform": PLATFORM_WAVE, "data": DATA_WAVE, "other": DATA_WAVE,
            "service": SERVICE_WAVE}[folder_role(node, platform)]


def compute_waves(graph: Mapping[str, Iterable[str]], platform: Platform) -> dict[str, int]:
    """wave(n) = max(floor of n's tier, 1 + max wave of what n needs). Raises InputError on a cycle.

    Iterative depth-first search with an explicit colour map: it terminates on any input
    (a cycle is reported, never followed) and does not hit Python's recursion limit.
    """
    waves: dict[str, int] = {}
    on_path: set[str] = set()
    for start in sorted(graph):
        if start in waves:
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        on_path.add(start)
        while stack:
            node, deps = stack[-1]
            nxt = next(deps, None)
            if nxt is None:
                stack.pop()
                on_path.discard(node)
                waves[node] = max([_floor(node, platform)] + [waves[d] + 1 for d in graph.get(node, ())])
                continue
            if nxt in waves:
                continue
            if nxt in on_path:
                path = [n for n, _ in stack]
                cycle = path[path.index(nxt):] + [nxt]
                raise InputError(f"dependency cycle: {' -> '.join(cycle)}",
                                 hint="break the cycle in spec.dependsOn of one of these services")
            if nxt not in graph:
                waves[nxt] = _floor(nxt, platform)
                continue
            on_path.add(nxt)
            stack.append((nxt, iter(sorted(graph[nxt]))))
    return waves


# -- resource waves inside the other charts -------------------------------------------------------
def stamp_resource_waves(objects: list[dict]) -> None:
    """Add a sync-wave to every object that needs one and has neither a wave nor a hook annotation."""
    for obj in objects:
        wave = KIND_WAVES.get(obj["kind"], 0)
        if wave == 0:
            continue
        annotations = obj["metadata"].get("annotations") or {}
        if WAVE in annotations or any(h in annotations for h in HOOK_ANNOTATIONS):
            continue
        obj["metadata"]["annotations"] = {**annotations, WAVE: str(wave)}


# -- the manifests -------------------------------------------------------------------------
def _labels(name: str, instance: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/component": component, "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY}


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def root_name(env: Environment) -> str:
    return f"{env.name}-root"


def bootstrap_project(env: Environment) -> str:
    return f"{env.project}-bootstrap"


def root_files(env: Environment) -> tuple[str, str]:
    """The two files `kubectl apply` bootstraps with; the root excludes them from its own source."""
    return f"appproject-{bootstrap_project(env)}.yaml", f"application-{root_name(env)}.yaml"


def addon_project(env: Environment, addon: Addon) -> str:
    """`<project>-addons`; an add-on whose chart writes a system namespace (catalogue
    `systemNamespaces`, e.g. metrics-server into kube-system) gets a project of its own, so
    that right never extends to another add-on."""
    return f"{env.project}-{addon.spec.name}" if addon.spec.system_namespaces else f"{env.project}-addons"


def addon_projects(env: Environment, addons: Mapping[str, Addon]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, a in sorted(addons.items()):
        out.setdefault(addon_project(env, a), []).append(name)
    return out


def _project(env: Environment, name: str, description: str, repos: list[str], namespaces: set[str],
             cluster_kinds: set[tuple[str, str]]) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": name, "namespace": env.argocd_namespace,
                     "labels": _labels(name, name, "gitops"), "annotations": {WAVE: str(PROJECT_WAVE)}},
        "spec": {
            "description": description,
            "sourceRepos": list(repos),
            "destinations": [{"server": env.destination, "namespace": ns} for ns in sorted(namespaces)],
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in sorted(cluster_kinds)],
            "orphanedResources": {"warn": True, "ignore": ORPHAN_IGNORE},
        },
    }


def sync_policy(env: Environment, server_side: bool = False, create_namespace: bool = True) -> dict:
    options = []
    if create_namespace:
        options.append("CreateNamespace=true")
    options += ["PruneLast=true", "RespectIgnoreDifferences=true"]
    if server_side:
        options.append("ServerSideApply=true")
    policy: dict[str, Any] = {
        "syncOptions": options,
        "retry": {"limit": env.retry_limit, "backoff": {"duration": env.retry_duration, "factor": env.retry_factor,
                                                        "maxDuration": env.retry_max_duration}},
    }
    if env.auto_sync:
        policy["automated"] = {"prune": env.prune, "selfHeal": env.self_heal}
    return policy


def _ignore_differences(objs: list[dict]) -> list[dict]:
    """Fields other controllers own: HPA-managed replicas, Argo Rollouts' Service selector/annotation."""
    out = []
    for o in objs:
        if o["kind"] == "HorizontalPodAutoscaler":
            ref = o.get("spec", {}).get("scaleTargetRef", {})
            if ref.get("kind") and ref.get("name"):
                out.append({"group": _group(ref.get("apiVersion", "")), "kind": ref["kind"], "name": ref["name"],
                            "jsonPointers": ["/spec/replicas"]})
    if any(o["kind"] == "Rollout" for o in objs):
        for o in objs:
            if o["kind"] == "Service":
                out.append({"group": "", "kind": "Service", "name": o["metadata"]["name"], "jqPathExpressions": [
                    '.spec.selector."rollouts-pod-template-hash"',
                    '.metadata.annotations."argo-rollouts.argoproj.io/managed-by-rollouts"']})
    return sorted(out, key=lambda d: (d["group"], d["kind"], d["name"]))


def _application(env: Environment, name: str, component: str, short: str, wave: int, needs: list[str],
                 source: dict, namespace: str, policy: dict, ignore: list[dict] | None = None,
                 project: str | None = None) -> dict:
    annotations = {WAVE: str(wave)}
    if needs:
        annotations[NEEDS] = ",".join(needs)
    spec: dict[str, Any] = {
        "project": project or env.project,
        "source": source,
        "destination": {"server": env.destination, "namespace": namespace},
        "syncPolicy": policy,
    }
    if ignore:
        spec["ignoreDifferences"] = ignore
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": env.argocd_namespace, "labels": _labels(short, name, component),
                         "annotations": annotations, "finalizers": [FINALIZER]},
            "spec": spec}


def _needs_label(deps: Iterable[str], env: Environment) -> list[str]:
    return [f"{env.name}-{d.removeprefix('addon:')}" for d in sorted(deps)]


def build_argocd(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    if FOLDER in ctx.charts and ctx.objects(FOLDER):
        raise DrydockError(f"another builder wrote into rendered/{env.name}/{FOLDER}/",
                           hint="only the ArgoCD builder (last in PARTS) may emit into the argocd folder")
    folders = sorted(f for f in ctx.charts if f != FOLDER)
    objects: dict[str, list[dict]] = {}
    for folder in folders:
        stamp_resource_waves(ctx.objects(folder))
        objects[folder] = sorted(ctx.objects(folder),
                                 key=lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    addons = enabled_addons(env)
    graph = dependency_graph(platform, folders, addons)
    waves = compute_waves(graph, platform)
    chart = ctx.chart(FOLDER)
    argo_src = env.line_of("spec.argocd")

    names: dict[str, str] = {}
    for short in [*folders, *addons]:
        name = f"{env.name}-{short}"
        if name in names.values() or name == root_name(env):
            raise InputError(f"two ArgoCD Applications would be named '{name}'",
                             hint="rename the service or folder: Application names are <env>-<folder> and <env>-<add-on>")
        if len(name) > 63:
            src = platform.services[short].source if short in platform.services else env.source
            raise InputError(f"ArgoCD Application name '{name}' ({len(name)} characters) is longer than Kubernetes' "
                             "limit of 63 characters (ArgoCD puts it in a label)", file=src.file, line=src.line,
                             hint=f"shorten the service or environment name by at least {len(name) - 63} characters")
        names[short] = name

    # -- the children's projects: what they may deploy, and where. Two projects, so the add-ons'
    # extra rights (their namespaces, kube-system for a chart that hard-codes it, cluster kinds,
    # chart repositories) never extend to the platform's own folders.
    namespaces = {env.namespace}
    cluster_kinds: set[tuple[str, str]] = set()
    for folder in folders:
        for o in objects[folder]:
            ns = o["metadata"].get("namespace")
            if ns:
                namespaces.add(ns)
            else:
                cluster_kinds.add((_group(o["apiVersion"]), o["kind"]))
    emit(chart, ctx, _project(env, env.project, f"{env.name}: the {PART_OF} platform (generated by drydock)",
                              [env.repo_url], namespaces, cluster_kinds), argo_src)
    for project, members in addon_projects(env, addons).items():
        listed = ", ".join(members)
        emit(chart, ctx, _project(
            env, project, f"{env.name}: platform add-ons ({listed}), public Helm charts (generated by drydock)",
            sorted({addons[n].spec.repo for n in members}),
            {addons[n].namespace for n in members} | {ns for n in members for ns in addons[n].spec.system_namespaces},
            {k for n in members for k in addons[n].spec.cluster_kinds}),
            env.line_of("spec.addons") if "spec.addons" in env.lines else argo_src)

    # -- the bootstrap project and the root (applied by hand once; see docs/argocd.md)
    project_file, root_file = root_files(env)
    emit(chart, ctx, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": bootstrap_project(env), "namespace": env.argocd_namespace,
                     "labels": _labels(bootstrap_project(env), bootstrap_project(env), "gitops")},
        "spec": {
            "description": f"{env.name}: the app-of-apps root only (Applications and AppProjects in {env.argocd_namespace})",
            "sourceRepos": [env.repo_url],
            "destinations": [{"server": IN_CLUSTER, "namespace": env.argocd_namespace}],
            "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": "AppProject"},
                                           {"group": "argoproj.io", "kind": "Application"}],
        },
    }, argo_src)
    root_policy = sync_policy(env, create_namespace=False)
    emit(chart, ctx, {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        # No finalizer on purpose: deleting the root orphans the children instead of deleting the platform.
        "metadata": {"name": root_name(env), "namespace": env.argocd_namespace,
                     "labels": _labels("root", root_name(env), "gitops")},
        "spec": {
            "project": bootstrap_project(env),
            "source": {"repoURL": env.repo_url, "targetRevision": env.target_revision,
                       "path": f"{RENDERED}/{env.name}/{FOLDER}",
                       "directory": {"recurse": False, "exclude": "{" + ",".join(sorted((project_file, root_file))) + "}"}},
            # Applications live where ArgoCD runs; the children's destination may be another cluster.
            "destination": {"server": IN_CLUSTER, "namespace": env.argocd_namespace},
            "syncPolicy": root_policy,
        },
    }, argo_src)

    # -- one child per rendered folder
    for folder in folders:
        role = folder_role(folder, platform)
        objs = objects[folder]
        if role == "other":
            counts = Counter(o["metadata"]["namespace"] for o in objs if o["metadata"].get("namespace"))
            namespace = min(counts, key=lambda n: (-counts[n], n)) if counts else env.namespace
        else:
            namespace = env.namespace
        if role == "service":
            src = platform.services[folder].source
        elif role == "data":
            src = env.line_of("spec.datastores")
        elif role == "platform":
            src = env.line_of("spec.namespace")
        else:
            src = argo_src
        manifest = _application(
            env, names[folder], role, folder, waves[folder], _needs_label(graph[folder], env),
            {"repoURL": env.repo_url, "targetRevision": env.target_revision,
             "path": f"{RENDERED}/{env.name}/{folder}", "directory": {"recurse": False}},
            namespace, sync_policy(env, server_side=any(o["kind"] == "CustomResourceDefinition" for o in objs)),
            _ignore_differences(objs))
        emit(chart, ctx, manifest, src)

    # -- one child per enabled add-on: a public Helm chart at a pinned version
    for name, a in addons.items():
        helm: dict[str, Any] = {"releaseName": name}
        if a.values:
            helm["valuesObject"] = a.values
        manifest = _application(
            env, names[name], "addon", name, waves[addon_node(name)], _needs_label(graph[addon_node(name)], env),
            {"repoURL": a.spec.repo, "chart": a.spec.chart, "targetRevision": a.version, "helm": helm},
            a.namespace, sync_policy(env, server_side=a.spec.crds), list(a.spec.ignore_differences),
            project=addon_project(env, a))
        emit(chart, ctx, manifest, env.line_of(f"spec.addons.{name}"))
