"""DD-ARGO-*: would ArgoCD's first sync of this env finish? Judged on the System model.

Each check reads `System` (system.py) and returns findings that name the Application,
the offending object, where it is (file:line) and the fix. AppProject matching follows
argo-cd's `AppProject.IsDestinationPermitted`, `IsGroupKindPermitted` and
`IsSourcePermitted` (pkg/apis/application/v1alpha1); see docs/platform-gate.md.
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..core import Finding
from .rules import finding, rule
from .system import (ARGOCD_KINDS, CLUSTER_KINDS, IN_CLUSTER_SERVER, SYSTEM_NAMESPACES, App, Obj, System,
                     _builtin_kinds, _dict, _list, _str, exists_before, pod_spec, when)

M = __name__
DESTINATION = rule("DD-ARGO-001", "HIGH", "Application writes to a namespace its AppProject does not allow",
                   "add the namespace to the AppProject's spec.destinations, or make the object (chart values) "
                   "write to an allowed namespace",
                   "ArgoCD refuses to sync an Application whose destination, or any object it applies, lands in a "
                   "namespace (or cluster) that no entry of the AppProject's `destinations` matches, or that a "
                   "`!` entry denies. Namespaced objects without metadata.namespace land in the Application's "
                   "destination namespace. The whole sync fails: \"namespace X is not permitted in project\".", M)
CLUSTER_KIND = rule("DD-ARGO-002", "HIGH", "Application applies a cluster-scoped kind its AppProject does not allow",
                    "add {group, kind} to the AppProject's spec.clusterResourceWhitelist (and keep it out of "
                    "clusterResourceBlacklist), or stop rendering the object",
                    "A cluster-scoped object is applied only when its group/kind matches "
                    "`clusterResourceWhitelist` (an empty whitelist allows none) and not "
                    "`clusterResourceBlacklist`. Scope comes from the CRD in the render, else Kubernetes' own kinds.", M)
NAMESPACED_KIND = rule("DD-ARGO-003", "HIGH", "Application applies a namespaced kind its AppProject does not allow",
                       "add {group, kind} to the AppProject's spec.namespaceResourceWhitelist, or remove it from "
                       "namespaceResourceBlacklist",
                       "A namespaced object is applied only when the AppProject's `namespaceResourceWhitelist` is "
                       "absent or matches its group/kind, and `namespaceResourceBlacklist` does not.", M)
SOURCE = rule("DD-ARGO-004", "HIGH", "Application source repository not in the AppProject's sourceRepos",
              "add the repository URL (or a glob) to the AppProject's spec.sourceRepos",
              "ArgoCD compares each source's repoURL, normalised as a git URL, with the `sourceRepos` globs "
              "(`*` stops at `/`, `**` does not; `!` entries deny).", M)
CRD_ORDER = rule("DD-ARGO-005", "HIGH", "Custom resource applied before its CRD exists",
                 "apply the CRD in an earlier sync wave than the resource: in the same Application (CRD wave lower "
                 "than the resource's), or in an Application with a lower sync-wave",
                 "A custom resource can only be applied once its CustomResourceDefinition is established. ArgoCD "
                 "orders Applications only by the sync waves of sibling Applications (with the Application health "
                 "check enabled in argocd-cm). Within one Application the CRD must be in an earlier phase or wave: "
                 "only the wave barrier waits for the CRD to be Established; inside one wave gitops-engine waits "
                 "best-effort for 3 s after applying a CRD and then applies the resource anyway. Objects expanded "
                 "from one Helm chart together with their CRD are the exception (the chart cannot carry our "
                 "waves). gitops-engine itself skips the dry-run of a resource whose CRD is part of the same sync, "
                 "so SkipDryRunOnMissingResource=true is accepted but not needed there; it never makes a CRD appear. "
                 "CRDs ArgoCD itself installs (Application, AppProject, ApplicationSet) are always present.", M)
NAMESPACE = rule("DD-ARGO-006", "HIGH", "Object lands in a namespace that does not exist yet",
                 "add CreateNamespace=true to the Application's syncOptions (for its destination namespace), or "
                 "apply a Namespace object in an earlier wave",
                 "`CreateNamespace=true` creates only the Application's destination namespace. Any other namespace "
                 "must be a pre-existing system namespace or a Namespace object applied before the object.", M)
PROJECT = rule("DD-ARGO-007", "HIGH", "Application names an AppProject that does not exist",
               "add the AppProject to the render (applied before the Application), or fix spec.project",
               "An Application whose project does not exist is never reconciled (\"application references project "
               "X which does not exist\"). Only `default` exists without being declared.", M)
CYCLE = rule("DD-ARGO-008", "HIGH", "App-of-apps cycle",
             "make the tree acyclic: an Application must not (indirectly) apply its own ancestor",
             "Applications that apply each other fight over ownership and prune each other.", M)
ORPHAN = rule("DD-ARGO-009", "MEDIUM", "Rendered object no Application applies",
              "point an Application (directory path/include, or a child of the root app-of-apps) at it, or stop "
              "rendering it",
              "An object in the render that no Application of the app-of-apps tree applies is never deployed; an "
              "Application outside the tree is never created.", M)
HOOK_ORDER = rule("DD-ARGO-010", "HIGH", "Workload needs an object ArgoCD applies later",
                  "give the object it needs an earlier phase/wave (e.g. make the ConfigMap/ServiceAccount a PreSync "
                  "hook with a lower wave), or move the workload later",
                  "ArgoCD applies PreSync hooks, then the Sync phase, then PostSync hooks; within a phase wave by "
                  "wave, waiting for health between waves. A pod that needs a ServiceAccount, ConfigMap or Secret "
                  "applied in a later phase or wave never starts, and the sync hangs or fails on the first run.", M)
SHARED = rule("DD-ARGO-011", "HIGH", "Object applied by more than one Application",
              "render the object in exactly one Application's source",
              "Two Applications that both manage one object report SharedResourceWarning and, with automated "
              "prune/selfHeal, delete or overwrite each other's copy.", M)


# -- AppProject matching (argo-cd semantics) -------------------------------------------------------

@lru_cache(maxsize=512)
def _glob_re(pattern: str, sep: str) -> re.Pattern:
    """gobwas/glob as argo-cd compiles it: `*` stops at separators, `**` does not, ?, [..], {a,b}."""
    out, i = [], 0
    other = f"[^{re.escape(sep)}]" if sep else "."
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append(other + "*")
        elif c == "?":
            out.append(other)
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = j
        elif c == "{":
            j = pattern.find("}", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(_glob_re(p, sep).pattern[4:-3] for p in pattern[i + 1:j].split(",")) + ")")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("(?s:" + "".join(out) + ")\\Z")


def glob_match(pattern: str, value: str, sep: str = "", negation: bool = True) -> bool:
    if negation and pattern.startswith("!"):
        return not glob_match(pattern[1:], value, sep, False)
    if pattern == "*":
        return True
    return bool(_glob_re(pattern, sep).match(value))


def destination_permitted(project: dict, server: str, name: str, namespace: str) -> bool:
    """argo-cd isDestinationMatched: one entry matches, and no `!` entry excludes it."""
    return _destination_permitted(_destinations(project), server, name, namespace)


def _destinations(project: dict) -> tuple:
    return tuple((_str(_dict(i).get("server")), _str(_dict(i).get("name")), _str(_dict(i).get("namespace")))
                 for i in _list(_dict(project.get("spec")).get("destinations")))


@lru_cache(maxsize=4096)
def _destination_permitted(destinations: tuple, server: str, name: str, namespace: str) -> bool:
    any_match, denied = False, False
    for p_server, p_name, p_ns in destinations:
        name_ok = bool(name) and glob_match(p_name, name)
        server_ok = bool(server) and glob_match(p_server, server)
        ns_ok = glob_match(p_ns, namespace)
        if (server_ok or name_ok) and ns_ok:
            any_match = True
        elif ((not name_ok and p_name.startswith("!")) or (not server_ok and p_server.startswith("!"))
              or (not ns_ok and p_ns.startswith("!"))):
            denied = True
    return any_match and not denied


def _in_list(group: str, kind: str, items, name: str = "") -> bool:
    """Entries match kind and group (Go filepath.Match); an entry's optional `name` glob must match too."""
    return any(glob_match(_str(_dict(i).get("kind")), kind, negation=False)
               and glob_match(_str(_dict(i).get("group")), group, negation=False)
               and (not _str(_dict(i).get("name")) or glob_match(_str(_dict(i).get("name")), name, negation=False))
               for i in _list(items))


def kind_permitted(project: dict, group: str, kind: str, namespaced: bool, name: str = "") -> bool:
    """argo-cd IsGroupKindPermitted: a nil namespace whitelist allows all, an empty cluster whitelist none."""
    spec = _dict(project.get("spec"))
    if namespaced:
        white = spec.get("namespaceResourceWhitelist")
        ok = white is None or (bool(_list(white)) and _in_list(group, kind, white, name))
        return ok and not _in_list(group, kind, spec.get("namespaceResourceBlacklist"), name)
    return (_in_list(group, kind, spec.get("clusterResourceWhitelist"), name)
            and not _in_list(group, kind, spec.get("clusterResourceBlacklist"), name))


def normalize_repo(url: str) -> str:
    """argo-cd git.NormalizeGitURL, enough for comparison: lower case, no trailing / or .git."""
    url = url.strip().lower().rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def source_permitted(project: dict, repo: str) -> bool:
    repo, any_match = normalize_repo(repo), False
    for pattern in _list(_dict(project.get("spec")).get("sourceRepos")):
        pattern = normalize_repo(_str(pattern))
        if glob_match(pattern, repo, "/"):
            any_match = True
        elif pattern.startswith("!"):
            return False
    return any_match


# -- checks -----------------------------------------------------------------------------------------

def check(system: System, ctx=None) -> tuple[list[Finding], dict]:
    if not system.apps:
        return [], {}  # no ArgoCD tree in these documents: nothing to simulate
    out: list[Finding] = []
    for app in system.apps.values():
        out += _check_app(system, app)
    out += _check_tree(system)
    for o in system.objects:
        if len(o.apps) > 1:
            names = ", ".join(a.name for a in o.apps)
            out.append(finding(SHARED, o.doc, f"{o.display()} is applied by Applications {names}"))
    out += _check_crds(system)
    out += _check_namespaces(system)
    out += _check_workload_refs(system)
    return out, {}


def _project_doc(system: System, app: App) -> dict | None:
    doc = system.projects.get(app.project)
    return doc.obj if doc else None


def _check_app(system: System, app: App) -> list[Finding]:
    project = _project_doc(system, app)
    if project is None:
        if app.project == "default":
            return []  # ArgoCD's built-in project: allows everything
        return [finding(PROJECT, app.doc, f"Application {app.name} names AppProject '{app.project}', which is not "
                        "in the render", ["spec", "project"])]
    pname = app.project
    pdoc = system.projects[pname]
    out: list[Finding] = []
    for i, src in enumerate(app.sources):
        repo = _str(src.get("repoURL"))
        if repo and not source_permitted(project, repo):
            single = isinstance(_dict(app.doc.obj.get("spec")).get("source"), dict)
            path = ["spec", "source", "repoURL"] if single and i == 0 else ["spec", "sources", i - single, "repoURL"]
            out.append(finding(SOURCE, app.doc, f"Application {app.name}: source {repo} is not in sourceRepos of "
                               f"AppProject {pname} ({pdoc.file}:{pdoc.line})", path,
                               fix=f"add '{repo}' to spec.sourceRepos of AppProject {pname} ({pdoc.file})"))
    if not destination_permitted(project, app.server, app.cluster, app.namespace):
        # argo-cd matches server (or name) and namespace together; an empty namespace matches only `*`
        dest = f"server {app.server or '-'}" if app.server else f"cluster name '{app.cluster or '-'}'"
        out.append(finding(DESTINATION, app.doc, f"Application {app.name}: destination namespace "
                           f"{repr(app.namespace) if app.namespace else '(none)'} ({dest}) is not permitted in AppProject {pname} ({pdoc.file}:{pdoc.line})",
                           ["spec", "destination", "namespace" if app.namespace else "server" if app.server else "name"],
                           fix=f"add {{namespace: {app.namespace}, server: {app.server or IN_CLUSTER_SERVER}}} "
                               f"to spec.destinations of AppProject {pname}"))
    for o in app.objects:
        if o.phase is None:
            continue
        out += _check_permitted(app, pname, pdoc, project, o)
    return out


def _check_permitted(app: App, pname: str, pdoc, project: dict, o: Obj) -> list[Finding]:
    where = f"AppProject {pname} ({pdoc.file}:{pdoc.line})"
    if o.cluster_scoped:
        if not kind_permitted(project, o.group, o.kind, False, o.name):
            return [finding(CLUSTER_KIND, o.doc, f"Application {app.name} applies cluster-scoped {o.display()} "
                            f"({o.group or 'core'}/{o.kind}), which {where} does not whitelist", ["kind"],
                            fix=f"add {{group: '{o.group}', kind: {o.kind}}} to spec.clusterResourceWhitelist of "
                                f"AppProject {pname}, or stop rendering {o.display()}")]
        return []
    out = []
    if not destination_permitted(project, app.server, app.cluster, o.namespace):
        explicit = bool(_str(_dict(o.obj.get("metadata")).get("namespace")))
        place = f"in namespace '{o.namespace}'" if o.namespace else \
            "without a namespace (the Application has no destination namespace either)"
        out.append(finding(DESTINATION, o.doc, f"Application {app.name} applies {o.display()} {place}, which "
                           f"{where} does not permit",
                           ["metadata", "namespace"] if explicit else ["metadata"],
                           fix=(f"add {{namespace: {o.namespace}, server: {app.server or IN_CLUSTER_SERVER}}} to "
                                f"spec.destinations of AppProject {pname}, or set the chart/object to write to an "
                                "allowed namespace") if o.namespace else
                               f"set spec.destination.namespace of Application {app.name} to a namespace AppProject "
                               f"{pname} allows"))
    if not kind_permitted(project, o.group, o.kind, True, o.name):
        out.append(finding(NAMESPACED_KIND, o.doc, f"Application {app.name} applies {o.display()} "
                           f"({o.group or 'core'}/{o.kind}), which {where} does not permit", ["kind"],
                           fix=f"add {{group: '{o.group}', kind: {o.kind}}} to spec.namespaceResourceWhitelist of "
                               f"AppProject {pname}"))
    return out


def _check_tree(system: System) -> list[Finding]:
    out: list[Finding] = []
    reported: set[str] = set()
    for app in system.apps.values():
        seen, cur = [], app
        while cur is not None and cur not in seen:
            seen.append(cur)
            cur = cur.parent
        if cur is app and app.name not in reported:
            cycle = seen
            reported.update(a.name for a in cycle)
            names = " -> ".join(a.name for a in reversed(cycle)) + f" -> {cycle[-1].name}"
            first = min(cycle, key=lambda a: a.name)
            out.append(finding(CYCLE, first.doc, f"Applications apply each other: {names}"))
    trees = [r for r in system.roots if r.children]
    if not trees:
        return out
    bootstrap = {id(r.doc) for r in system.roots}
    bootstrap_projects = {r.project for r in system.roots}
    tree_names = ", ".join(r.name for r in trees)
    for root in system.roots:
        if not root.children and root not in trees:
            out.append(finding(ORPHAN, root.doc, f"Application {root.name} is not applied by the app-of-apps "
                               f"({tree_names}): ArgoCD never creates it", ["metadata", "name"],
                               fix=f"render {root.name} into the folder the root Application {trees[0].name} reads"))
    for o in system.objects:
        if o.apps or id(o.doc) in bootstrap or o.phase is None:
            continue
        if o.kind == "AppProject" and o.name in bootstrap_projects:
            continue  # the root's own project is applied with the root (bootstrap)
        if o.kind == "Application":
            continue  # reported above as a root
        out.append(finding(ORPHAN, o.doc, f"{o.display()} ({o.doc.file}) is applied by no Application of "
                           f"{tree_names}: it is never deployed"))
    return out


def _builtin(o: Obj) -> bool:
    key = (o.group, o.kind)
    return key in _builtin_kinds() or key in CLUSTER_KINDS or key in ARGOCD_KINDS


def _check_crds(system: System) -> list[Finding]:
    out = []
    for o in system.objects:
        if o.phase is None or _builtin(o) or not o.group:
            continue
        crds = system.crds.get((o.group, o.kind), [])
        owner = f"Application {o.app.name}" if o.app else "no Application"
        if not crds:
            out.append(finding(CRD_ORDER, o.doc, f"{o.display()} ({o.group}/{o.kind}, {owner}) has no "
                               f"CustomResourceDefinition in the render or the expanded charts", ["kind"],
                               fix=f"install the CRD for {o.kind}.{o.group} (e.g. the chart's crds/installCRDs value) "
                                   "in an earlier-wave Application"))
            continue
        version = _str(o.obj.get("apiVersion")).rsplit("/", 1)[-1]
        served = sorted({_str(_dict(v).get("name")) for c in crds for v in _list(_dict(c.obj.get("spec")).get("versions"))
                         if _dict(v).get("served") is not False})
        if served and version not in served:
            crd = crds[0]
            storage = [_str(_dict(v).get("name")) for v in _list(_dict(crd.obj.get("spec")).get("versions"))
                       if _dict(v).get("storage") is True and _str(_dict(v).get("name")) in served]
            out.append(finding(CRD_ORDER, o.doc, f"{o.display()} uses {o.group}/{version}, which its CRD {crd.name} "
                               f"({crd.doc.file}:{crd.doc.line}) does not serve (served: {', '.join(served)}): "
                               f"\"no matches for kind {o.kind} in version {o.group}/{version}\"", ["apiVersion"],
                               fix=f"set apiVersion to {o.group}/{(storage or served)[0]} (a version the CRD serves), or "
                                   f"install a CRD version that serves {version}"))
            continue
        if any(_crd_ready(crd, o) for crd in crds):
            continue
        crd = crds[0]
        same = o.app is not None and crd.app is o.app
        skip = "SkipDryRunOnMissingResource" in (o.app.options if o.app else ()) or any(
            x.startswith("SkipDryRunOnMissingResource") for x in o.options)
        note = " (SkipDryRunOnMissingResource only skips the dry-run)" if skip else ""
        if same and (crd.phase, crd.wave) == (o.phase, o.wave):
            note += ("; in one wave ArgoCD waits only best-effort (3 s) for the CRD to be Established before "
                     "applying the resource")
        fix = (f"give {crd.name} an earlier sync-wave than {o.display()} in Application {o.app.name} "
               f"(argocd.argoproj.io/sync-wave lower than {o.wave})" if same else
               f"give the Application that installs {crd.name} a lower sync-wave than "
               f"{o.app.name if o.app else 'this object'}, or move the CRD into the same Application at an "
               "earlier wave")
        out.append(finding(CRD_ORDER, o.doc, f"{o.display()} ({when(o)}) is applied before its CRD "
                           f"{crd.name} ({when(crd)}, {crd.doc.file}:{crd.doc.line}){note}", ["kind"], fix=fix))
    return out


def _crd_ready(crd: Obj, o: Obj) -> bool:
    """Is the CRD Established when ArgoCD applies `o`? Same Application: an earlier (phase, wave), since only
    the wave barrier waits for the CRD's health; a chart's own CRD may share the wave of the chart's objects."""
    if crd.app is None or crd.app is not o.app or crd.phase is None or o.phase is None:
        return exists_before(crd, o)
    if (crd.phase, crd.wave) < (o.phase, o.wave):
        return True
    return (crd.phase, crd.wave) == (o.phase, o.wave) and bool(crd.doc.app) and crd.doc.app == o.doc.app


def _check_namespaces(system: System) -> list[Finding]:
    namespaces: dict[str, list[Obj]] = {}
    for o in system.objects:
        if o.kind == "Namespace" and o.group == "":
            namespaces.setdefault(o.name, []).append(o)
    argocd_ns = {_str(_dict(a.doc.obj.get("metadata")).get("namespace")) for a in system.apps.values()}
    out = []
    for o in system.objects:
        ns = o.namespace
        if o.cluster_scoped or not ns or o.phase is None or ns in SYSTEM_NAMESPACES or ns in argocd_ns:
            continue
        if o.app is not None and o.app.option("CreateNamespace") and ns == o.app.namespace:
            continue
        if any(exists_before(n, o) for n in namespaces.get(ns, [])):
            continue
        owner = f"Application {o.app.name}" if o.app else "no Application"
        if namespaces.get(ns):
            n = namespaces[ns][0]
            why = f"Namespace {ns} is applied later ({when(n)}, {n.doc.file}:{n.doc.line})"
        elif o.app is not None and ns == o.app.namespace:
            why = f"{owner} has no CreateNamespace=true and no Namespace object creates it"
        else:
            why = (f"it is not {owner}'s destination namespace ({o.app.namespace if o.app else '-'}), so "
                   "CreateNamespace=true does not create it, and no Namespace object does")
        out.append(finding(NAMESPACE, o.doc, f"{o.display()} ({owner}) lands in namespace '{ns}', which does not "
                           f"exist yet: {why}", ["metadata", "namespace"]))
    return out


# Objects that make a Secret of a given name appear: (kind, where the name is).
def _secret_names(o: Obj) -> list[str]:
    spec = _dict(o.obj.get("spec"))
    if o.kind == "Secret" and o.group == "":
        return [o.name]
    if o.kind == "ExternalSecret":
        return [_str(_dict(spec.get("target")).get("name")) or o.name]
    if o.kind == "SealedSecret":
        return [_str(_dict(_dict(spec.get("template")).get("metadata")).get("name")) or o.name]
    if o.kind == "Certificate" and o.group == "cert-manager.io":
        return [_str(spec.get("secretName"))]
    return []


def _providers(system: System) -> dict[tuple[str, str, str], list[Obj]]:
    out: dict[tuple[str, str, str], list[Obj]] = {}
    for o in system.objects:
        if o.group == "" and o.kind in ("ServiceAccount", "ConfigMap"):
            out.setdefault((o.kind, o.namespace, o.name), []).append(o)
        for name in _secret_names(o):
            if name:
                out.setdefault(("Secret", o.namespace, name), []).append(o)
    return out


def workload_refs(spec: dict) -> list[tuple[str, str, list]]:
    """(kind, name, path under the pod spec) of every ServiceAccount, ConfigMap and Secret a pod needs."""
    refs: list[tuple[str, str, list]] = []
    sa = _str(spec.get("serviceAccountName") or spec.get("serviceAccount"))
    if sa and sa != "default":
        refs.append(("ServiceAccount", sa, ["serviceAccountName"]))
    for i, v in enumerate(_list(spec.get("volumes"))):
        v = _dict(v)
        if _dict(v.get("configMap")).get("optional") is not True and _str(_dict(v.get("configMap")).get("name")):
            refs.append(("ConfigMap", _str(v["configMap"]["name"]), ["volumes", i]))
        if _dict(v.get("secret")).get("optional") is not True and _str(_dict(v.get("secret")).get("secretName")):
            refs.append(("Secret", _str(v["secret"]["secretName"]), ["volumes", i]))
        for s in _list(_dict(v.get("projected")).get("sources")):
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                ref = _dict(_dict(s).get(key))
                if _str(ref.get("name")) and ref.get("optional") is not True:
                    refs.append((kind, _str(ref["name"]), ["volumes", i]))
    for group in ("initContainers", "containers"):
        for ci, c in enumerate(_list(spec.get(group))):
            c = _dict(c)
            for ei, e in enumerate(_list(c.get("env"))):
                vf = _dict(_dict(e).get("valueFrom"))
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    ref = _dict(vf.get(key))
                    if _str(ref.get("name")) and ref.get("optional") is not True:
                        refs.append((kind, _str(ref["name"]), [group, ci, "env", ei]))
            for ei, e in enumerate(_list(c.get("envFrom"))):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    ref = _dict(_dict(e).get(key))
                    if _str(ref.get("name")) and ref.get("optional") is not True:
                        refs.append((kind, _str(ref["name"]), [group, ci, "envFrom", ei]))
    return refs


_TEMPLATE_PATH = {"Pod": ["spec"], "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"]}


def _check_workload_refs(system: System) -> list[Finding]:
    providers = _providers(system)
    out = []
    for o in system.objects:
        spec = pod_spec(o.obj) if o.phase is not None else None
        if not spec or o.kind == "CronJob":  # a CronJob runs later, on its schedule
            continue
        base = _TEMPLATE_PATH.get(o.kind, ["spec", "template", "spec"])
        for kind, name, path in workload_refs(spec):
            found = providers.get((kind, o.namespace, name), [])
            if not found or any(exists_before(p, o) for p in found):
                continue  # not in the render (made at runtime or by hand): nothing to order
            p = found[0]
            out.append(finding(HOOK_ORDER, o.doc, f"{o.display()} ({when(o)}) needs {kind} {name}, which "
                               f"{p.display()} provides only later ({when(p)}, {p.doc.file}:{p.doc.line})",
                               base + path,
                               fix=f"apply {p.display()} before {o.display()}: same Application with an earlier "
                                   f"hook phase/wave, or an Application with a lower sync-wave"))
    return out
