"""DD-ID-*: workload identity and secret scoping of one environment.

- external-secrets: a SecretStore/ClusterSecretStore authenticates through a
  ServiceAccount (`auth.jwt.serviceAccountRef` for AWS, `workloadIdentity` for GCP/Azure)
  that must exist and carry the cloud's identity annotation (IRSA:
  `eks.amazonaws.com/role-arn`); without `auth` the controller's own ServiceAccount must.
- cert-manager's Route53 DNS-01 solver: static keys, `auth.kubernetes.serviceAccountRef`
  plus `role`, `role` alone, or ambient credentials of the cert-manager controller's
  ServiceAccount (ClusterIssuers only: cert-manager disables ambient credentials for Issuers).
- secret paths: an ExternalSecret of env X reads keys that carry X's name as a path
  segment, never another environment's (convention inferred from the render; an explicit
  `secretPathTemplate` such as `ecommerce/{env}/` in the env data overrides it).
"""
from __future__ import annotations

import re
from collections import Counter

from ..core import Finding
from .rules import finding, rule
from .system import Obj, System, _dict, _list, _str, pod_spec

M = __name__
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
# Provider key -> the ServiceAccount annotation its workload identity needs.
IDENTITY_ANNOTATIONS = {"aws": ROLE_ANNOTATION, "gcpsm": "iam.gke.io/gcp-service-account",
                        "azurekv": "azure.workload.identity/client-id"}
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")

STORE_SA = rule("DD-ID-001", "HIGH", "Secret store names a ServiceAccount that does not exist",
                "render the ServiceAccount (e.g. the external-secrets chart's serviceAccount.name) or fix "
                "serviceAccountRef name/namespace",
                "external-secrets requests a token for the referenced ServiceAccount; if it does not exist every "
                "ExternalSecret using the store fails and the pods that need the secrets never start.", M)
NO_ROLE = rule("DD-ID-002", "HIGH", "ServiceAccount used for cloud access has no IAM role",
               "annotate the ServiceAccount with eks.amazonaws.com/role-arn: <the environment's role ARN> (for the "
               "external-secrets chart: serviceAccount.annotations)",
               "On EKS, IRSA maps a ServiceAccount to an IAM role through the eks.amazonaws.com/role-arn "
               "annotation. Without it external-secrets fails (\"an IAM role must be associated with service "
               "account\") and cert-manager's ambient Route53 credentials are the node's, not a scoped role.", M)
ROLE_MISMATCH = rule("DD-ID-003", "HIGH", "IAM role annotation does not match the environment's role",
                     "use the role ARN the environment file names",
                     "The environment file names the IAM role ARN(s) of this environment; a ServiceAccount that "
                     "points at any other role reads another environment's (or account's) secrets, or nothing.", M)
SOLVER = rule("DD-ID-004", "HIGH", "cert-manager Route53 solver has no working identity",
              "give the solver `role` (and auth.kubernetes.serviceAccountRef), or annotate cert-manager's "
              "ServiceAccount with eks.amazonaws.com/role-arn (ClusterIssuer only)",
              "A Route53 DNS-01 solver needs AWS credentials: static keys, a ServiceAccount token exchanged for "
              "`role`, `role` assumed from ambient credentials, or the cert-manager controller's own (IRSA) "
              "identity. Ambient credentials are disabled for namespaced Issuers by default.", M)
UNSCOPED = rule("DD-ID-005", "HIGH", "Secret path is not scoped to the environment",
                "put the environment into the key (e.g. ecommerce/<env>/...) and create the secret per environment",
                "A key without the environment's name is the same secret in every environment: dev reads prod's "
                "credentials (or prod runs on dev's).", M)
CROSS_ENV = rule("DD-ID-006", "CRITICAL", "Secret path reads another environment's secret",
                 "use this environment's key", "An ExternalSecret of one environment must never read a key of "
                 "another environment.", M)

NO_STORE = rule("DD-ID-007", "HIGH", "ExternalSecret names a secret store that does not serve it",
                "point secretStoreRef at an existing store (kind and name), or add the namespace to the "
                "ClusterSecretStore's spec.conditions",
                "An ExternalSecret whose SecretStore/ClusterSecretStore does not exist, or whose namespace the "
                "ClusterSecretStore's `conditions` exclude, never produces its Secret; the pods that need it never "
                "start.", M)


def check(system: System, ctx=None) -> tuple[list[Finding], dict]:
    env_data = getattr(ctx, "env_data", None) or {}
    roles = [r for r in _list(env_data.get("roleArns")) if isinstance(r, str)]
    out = _check_stores(system, roles)
    out += _check_assumed_roles(system, roles, env_data)
    out += _check_store_refs(system)
    out += _check_solvers(system, roles)
    if system.env:
        out += _check_paths(system, system.env, env_data)
    return out, {}


def _sa_role(system: System, sa: Obj, annotation: str, roles: list[str], who: str) -> list[Finding]:
    value = _str(_dict(_dict(sa.obj.get("metadata")).get("annotations")).get(annotation))
    if not value:
        return [finding(NO_ROLE, sa.doc, f"ServiceAccount {sa.namespace}/{sa.name}, used by {who}, has no "
                        f"{annotation} annotation", ["metadata"])]
    if annotation == ROLE_ANNOTATION and not ROLE_ARN_RE.match(value):
        return [finding(NO_ROLE, sa.doc, f"ServiceAccount {sa.namespace}/{sa.name}, used by {who}: "
                        f"{annotation} '{value}' is not an IAM role ARN", ["metadata", "annotations", annotation])]
    if annotation == ROLE_ANNOTATION and roles and value not in roles:
        return [finding(ROLE_MISMATCH, sa.doc, f"ServiceAccount {sa.namespace}/{sa.name}, used by {who}, assumes "
                        f"{value}; the environment names {', '.join(roles)}", ["metadata", "annotations", annotation])]
    return []


def _controller_sas(system: System, image_part: str, exclude_args: tuple[str, ...] = ()) -> list[Obj]:
    """ServiceAccounts of the Deployments running an image (the add-on's controller)."""
    out = []
    for d in system.by_kind("Deployment"):
        spec = pod_spec(d.obj) or {}
        containers = [_dict(c) for c in _list(spec.get("containers"))]
        if not any(image_part in _str(c.get("image")) for c in containers):
            continue
        args = " ".join(_str(a) for c in containers for a in _list(c.get("args")))
        if any(x in args for x in exclude_args):
            continue
        name = _str(spec.get("serviceAccountName")) or "default"
        out += system.find("ServiceAccount", d.namespace, name)
    return out


def _sa_refs(auth) -> list[tuple[dict, list]]:
    """Every serviceAccountRef under a provider's auth block, with its path."""
    found: list[tuple[dict, list]] = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "serviceAccountRef" and isinstance(v, dict):
                    found.append((v, path + [k]))
                else:
                    walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])
    walk(auth, [])
    return found


def _check_stores(system: System, roles: list[str]) -> list[Finding]:
    out: list[Finding] = []
    for store in system.objects:
        if store.kind not in ("SecretStore", "ClusterSecretStore") or not store.group.startswith("external-secrets"):
            continue
        providers = _dict(_dict(store.obj.get("spec")).get("provider"))
        for pname, provider in providers.items():
            provider = _dict(provider)
            auth = provider.get("auth")
            annotation = IDENTITY_ANNOTATIONS.get(pname)
            who = f"{store.kind} {store.name} ({pname})"
            refs = _sa_refs(auth)
            if not refs and not auth and annotation:
                # No auth: the controller's own identity (ambient credentials).
                for sa in _controller_sas(system, "external-secrets", ("webhook", "certcontroller")):
                    out += _sa_role(system, sa, annotation, roles if pname == "aws" else [], who + ", ambient")
                continue
            for ref, path in refs:
                name = _str(ref.get("name"))
                # external-secrets honours serviceAccountRef.namespace only in a ClusterSecretStore; a
                # SecretStore always uses its own namespace.
                namespaces = [store.namespace or _str(ref.get("namespace"))]
                if not namespaces[0]:  # ClusterSecretStore without namespace: the ExternalSecret's namespace
                    namespaces = sorted({e.namespace for e in _external_secrets(system, store)})
                for ns in namespaces:
                    sas = system.find("ServiceAccount", ns, name)
                    if not sas:
                        out.append(finding(STORE_SA, store.doc, f"{who} authenticates as ServiceAccount {ns}/{name}, "
                                           "which is neither in the render nor in an expanded chart",
                                           ["spec", "provider", pname, "auth", *path]))
                    elif annotation:
                        out += _sa_role(system, sas[0], annotation, roles if pname == "aws" else [], who)
    return out


def _check_assumed_roles(system: System, roles: list[str], env_data: dict) -> list[Finding]:
    """A role assumed on top of the identity (an AWS store's `provider.aws.role`, a Route53 solver's `role`) must
    be one of this env: in the account of the env's roles, and naming no other environment (a dev store that
    assumes prod's role reads prod's secrets)."""
    accounts = {r.split(":")[4] for r in roles if ROLE_ARN_RE.match(r)}
    others = {e for e in _list(env_data.get("environments")) if isinstance(e, str)} - {system.env}
    out: list[Finding] = []
    for o in system.objects:
        spec = _dict(o.obj.get("spec"))
        if o.kind in ("SecretStore", "ClusterSecretStore") and o.group.startswith("external-secrets"):
            found = [(_str(_dict(_dict(spec.get("provider")).get("aws")).get("role")), ["spec", "provider", "aws", "role"],
                      f"{o.kind} {o.name} (aws)")]
        elif o.kind in ("Issuer", "ClusterIssuer") and o.group == "cert-manager.io":
            found = [(_str(_dict(_dict(_dict(s).get("dns01")).get("route53")).get("role")),
                      ["spec", "acme", "solvers", i, "dns01", "route53", "role"], f"{o.kind} {o.name} (Route53 solver)")
                     for i, s in enumerate(_list(_dict(spec.get("acme")).get("solvers")))]
        else:
            continue
        for role, path, who in found:
            if not role:
                continue
            if not ROLE_ARN_RE.match(role):
                out.append(finding(NO_ROLE, o.doc, f"{who} assumes '{role}', which is not an IAM role ARN", path))
                continue
            other = sorted(set(_tokens(role.split(":", 5)[5])) & others)
            if (accounts and role.split(":")[4] not in accounts) or other:
                why = (f"a role of environment {', '.join(other)}" if other else
                       f"account {role.split(':')[4]}, not the environment's ({', '.join(sorted(accounts))})")
                out.append(finding(ROLE_MISMATCH, o.doc, f"{who} assumes {role}: {why}", path,
                                   fix="assume a role of this environment's account (environments/<env>.yaml "
                                       "spec.aws.roles), or drop the role"))
    return out


def _external_secrets(system: System, store: Obj) -> list[Obj]:
    out = []
    for e in system.by_kind("ExternalSecret"):
        ref = _dict(_dict(e.obj.get("spec")).get("secretStoreRef"))
        if _str(ref.get("name")) == store.name and (_str(ref.get("kind")) or "SecretStore") == store.kind:
            out.append(e)
    return out


def _serves(store: Obj, namespace: str) -> bool:
    """Does a ClusterSecretStore's spec.conditions let ExternalSecrets of this namespace use it?"""
    conditions = [_dict(c) for c in _list(_dict(store.obj.get("spec")).get("conditions"))]
    if not conditions:
        return True
    for c in conditions:
        names = [_str(n) for n in _list(c.get("namespaces"))]
        regexes = [_str(r) for r in _list(c.get("namespaceRegexes"))]
        if namespace in names or any(re.search(r, namespace) for r in regexes if r):
            return True
        if not names and not regexes and c.get("namespaceSelector"):
            return True  # a label selector: namespace labels are not modelled, assume it serves
    return False


def _check_store_refs(system: System) -> list[Finding]:
    if not any(o.kind in ("SecretStore", "ClusterSecretStore") for o in system.objects):
        return []  # stores live elsewhere (not this render): nothing to resolve against
    out = []
    for es in system.by_kind("ExternalSecret"):
        if not es.group.startswith("external-secrets"):
            continue
        spec = _dict(es.obj.get("spec"))
        refs = [(_dict(spec.get("secretStoreRef")), ["spec", "secretStoreRef"])]
        refs += [(_dict(_dict(d).get("sourceRef")).get("storeRef"), ["spec", "dataFrom", i, "sourceRef"])
                 for i, d in enumerate(_list(spec.get("dataFrom"))) if _dict(_dict(d).get("sourceRef")).get("storeRef")]
        for ref, path in refs:
            ref = _dict(ref)
            name, kind = _str(ref.get("name")), _str(ref.get("kind")) or "SecretStore"
            if not name:
                continue
            stores = system.find(kind, "" if kind == "ClusterSecretStore" else es.namespace, name)
            if not stores:
                out.append(finding(NO_STORE, es.doc, f"ExternalSecret {es.namespace}/{es.name} uses {kind} {name}, "
                                   "which is not in the render", path))
            elif kind == "ClusterSecretStore" and not any(_serves(s, es.namespace) for s in stores):
                s = stores[0]
                out.append(finding(NO_STORE, es.doc, f"ExternalSecret {es.namespace}/{es.name} uses ClusterSecretStore "
                                   f"{name}, whose conditions exclude namespace '{es.namespace}' "
                                   f"({s.doc.file}:{s.doc.line})", path))
    return out


def _check_solvers(system: System, roles: list[str]) -> list[Finding]:
    out: list[Finding] = []
    for issuer in system.objects:
        if issuer.kind not in ("Issuer", "ClusterIssuer") or issuer.group != "cert-manager.io":
            continue
        for i, solver in enumerate(_list(_dict(_dict(issuer.obj.get("spec")).get("acme")).get("solvers"))):
            r53 = _dict(_dict(_dict(solver).get("dns01")).get("route53"))
            if not _dict(solver).get("dns01") or "route53" not in _dict(_dict(solver).get("dns01")):
                continue
            path = ["spec", "acme", "solvers", i, "dns01", "route53"]
            who = f"{issuer.kind} {issuer.name} (Route53 solver)"
            if r53.get("secretAccessKeySecretRef"):
                continue  # static keys
            ref = _dict(_dict(_dict(r53.get("auth")).get("kubernetes")).get("serviceAccountRef"))
            if ref:
                ns = issuer.namespace or _cert_manager_namespace(system)
                if not _str(r53.get("role")):
                    out.append(finding(SOLVER, issuer.doc, f"{who} exchanges a token of ServiceAccount "
                                       f"{_str(ref.get('name'))} but names no `role` to assume", path))
                elif ns and not system.find("ServiceAccount", ns, _str(ref.get("name"))):
                    out.append(finding(SOLVER, issuer.doc, f"{who} uses ServiceAccount {ns}/{_str(ref.get('name'))}, "
                                       "which is not in the render", path + ["auth"]))
                continue
            if _str(r53.get("role")):
                continue  # assumed from ambient credentials
            if issuer.kind == "Issuer":
                out.append(finding(SOLVER, issuer.doc, f"{who} relies on ambient credentials, which cert-manager "
                                   "disables for namespaced Issuers (--issuer-ambient-credentials)", path))
                continue
            for sa in _controller_sas(system, "cert-manager-controller"):
                out += _sa_role(system, sa, ROLE_ANNOTATION, roles, who + ", ambient")
    return out


def _cert_manager_namespace(system: System) -> str:
    for d in system.by_kind("Deployment"):
        spec = pod_spec(d.obj) or {}
        if any("cert-manager-controller" in _str(_dict(c).get("image")) for c in _list(spec.get("containers"))):
            return d.namespace
    return "cert-manager"


def secret_keys(es: Obj) -> list[tuple[str, list]]:
    """(key, path) of every remote key an ExternalSecret reads."""
    spec = _dict(es.obj.get("spec"))
    out = []
    for i, d in enumerate(_list(spec.get("data"))):
        key = _str(_dict(_dict(d).get("remoteRef")).get("key"))
        if key:
            out.append((key, ["spec", "data", i, "remoteRef", "key"]))
    for i, d in enumerate(_list(spec.get("dataFrom"))):
        d = _dict(d)
        for kind, field in (("extract", "key"), ("find", "path")):
            key = _str(_dict(d.get(kind)).get(field))
            if key:
                out.append((key, ["spec", "dataFrom", i, kind, field]))
    return out


def _tokens(key: str) -> list[str]:
    return [t for t in re.split(r"[^A-Za-z0-9]+", key) if t]


def _check_paths(system: System, env: str, env_data: dict) -> list[Finding]:
    others = {e for e in _list(env_data.get("environments")) if isinstance(e, str)} - {env}
    template = _str(env_data.get("secretPathTemplate"))
    keys = [(es, k, p) for es in system.by_kind("ExternalSecret") for k, p in secret_keys(es)]
    prefix = _inferred_prefix([k for _, k, _ in keys], env)
    out = []
    for es, key, path in keys:
        tokens = _tokens(key)
        other = sorted(t for t in set(tokens) if t in others)
        if template:
            mine = template.format(env=env)
            theirs = [o for o in others if key.startswith(template.format(env=o))]
            scoped = key.startswith(mine)
            other = sorted(theirs)
        else:
            scoped = env in tokens and not other
        if other:
            out.append(finding(CROSS_ENV, es.doc, f"ExternalSecret {es.namespace}/{es.name} in env '{env}' reads key "
                               f"'{key}' of environment {', '.join(other)}", path))
        elif not scoped:
            hint = f"e.g. '{prefix}{env}/{key[len(prefix):]}'" if prefix and key.startswith(prefix) else \
                f"the environment name '{env}' as a path segment"
            if template:
                hint = f"'{template.format(env=env)}...'"
            out.append(finding(UNSCOPED, es.doc, f"ExternalSecret {es.namespace}/{es.name} in env '{env}' reads key "
                               f"'{key}', which is not scoped to the environment", path,
                               fix=f"use a per-environment key ({hint}) and create that secret for '{env}'"))
    return out


def _inferred_prefix(keys: list[str], env: str) -> str:
    """The most common text before the env segment in keys that have one ('ecommerce/' in 'ecommerce/dev/x')."""
    found = Counter()
    for k in keys:
        m = re.search(rf"(?:^|[^A-Za-z0-9]){re.escape(env)}(?:[^A-Za-z0-9]|$)", k)
        if m:
            found[k[:m.start() + (1 if m.start() or not k.startswith(env) else 0)]] += 1
    return found.most_common(1)[0][0] if found else ""
