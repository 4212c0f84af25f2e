"""What the cluster serves and what ArgoCD applies: the context `helm template` and the gates need.

ArgoCD passes the live cluster's API list to `helm template` and applies namespace-less objects in
the Application's destination namespace; it never applies Helm test or delete hooks. These helpers
model that offline for generator/platform/helm.py.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Iterable

# Cluster-scoped built-in kinds: a namespace-less object of any other kind lands in the
# Application's destination namespace, as `kubectl apply -n` (and ArgoCD) would put it.
CLUSTER_KINDS = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ComponentStatus",
    "CSIDriver", "CSINode", "CustomResourceDefinition", "FlowSchema", "IngressClass", "IPAddress",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "Namespace",
    "Node", "PersistentVolume", "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration",
    "RuntimeClass", "SelfSubjectAccessReview", "SelfSubjectReview", "SelfSubjectRulesReview", "ServiceCIDR",
    "StorageClass", "StorageVersionMigration", "SubjectAccessReview", "TokenReview",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment", "VolumeAttributesClass",
})


@lru_cache(maxsize=1)
def builtin_api_versions() -> tuple[str, ...]:
    """group/version and group/version/Kind of the vendored Kubernetes minor's GA APIs
    (alpha and beta versions are off by default on EKS)."""
    from ..gate.engines.schema import SCHEMA_DIR

    kinds = json.loads((SCHEMA_DIR / "k8s" / "index.json").read_text())["kinds"]
    out = set()
    for gv, by_kind in kinds.items():
        if re.search(r"v\d+(alpha|beta)\d*$", gv):
            continue
        out.add(gv)
        out.update(f"{gv}/{k}" for k in by_kind if not k.endswith("List") and k not in ("Status", "WatchEvent",
                   "APIGroup", "APIGroupList", "APIResourceList", "APIVersions", "DeleteOptions"))
    return tuple(sorted(out))


def crd_api_versions(objs: Iterable[dict]) -> set[str]:
    """group/version and group/version/Kind served by the CRDs among objs."""
    out = set()
    for o in objs:
        if o.get("kind") != "CustomResourceDefinition" or not isinstance(o.get("spec"), dict):
            continue
        spec = o["spec"]
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for v in spec.get("versions") or []:
            if isinstance(v, dict) and v.get("served", True) and group and v.get("name"):
                out.add(f"{group}/{v['name']}")
                if kind:
                    out.add(f"{group}/{v['name']}/{kind}")
    return out


def crd_scopes(objs: Iterable[dict]) -> dict[str, str]:
    """kind -> Namespaced | Cluster, from the CRDs among objs."""
    return {str(o["spec"]["names"]["kind"]): str(o["spec"].get("scope") or "Namespaced") for o in objs
            if o.get("kind") == "CustomResourceDefinition" and isinstance(o.get("spec"), dict)
            and isinstance(o["spec"].get("names"), dict) and o["spec"]["names"].get("kind")}


HELM_HOOKS_ARGOCD_RUNS = {"pre-install", "pre-upgrade", "post-install", "post-upgrade"}


def applied_by_argocd(obj: dict) -> bool:
    """False for what ArgoCD never applies: `argocd.argoproj.io/hook: Skip`, and Helm hooks it has no
    equivalent for (test, pre/post-delete, rollback), unless an ArgoCD hook annotation overrides them
    (gitops-engine pkg/sync/hook)."""
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    argo = [t.strip() for t in str(ann.get("argocd.argoproj.io/hook", "")).split(",") if t.strip()]
    if argo:
        return argo != ["Skip"]
    if "helm.sh/hook" not in ann:
        return True
    helm = {t.strip() for t in str(ann["helm.sh/hook"]).split(",")}
    return bool(helm & HELM_HOOKS_ARGOCD_RUNS)


def with_namespace(obj: dict, namespace: str, scopes: dict[str, str]) -> dict:
    meta = obj.get("metadata")
    kind = obj.get("kind")
    if not namespace or not isinstance(meta, dict) or meta.get("namespace"):
        return obj
    if kind in CLUSTER_KINDS or scopes.get(str(kind)) == "Cluster":
        return obj
    return {**obj, "metadata": {**meta, "namespace": namespace}}
