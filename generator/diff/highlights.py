"""Risk highlights: what a reviewer must see first (images, replicas, RBAC, network, ...)."""
from __future__ import annotations

import json
import re
from typing import Any

from ..credentials import find_in_text, replace_spans
from .model import Highlight, ResourceKey
from .reading import dump_lines
from .redaction import REDACTED, secret_values

RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"})
NETWORK_KINDS = frozenset({"NetworkPolicy", "CiliumNetworkPolicy", "AuthorizationPolicy"})
INGRESS_KINDS = frozenset({"Ingress", "IngressClass", "Gateway", "HTTPRoute", "Certificate", "Issuer", "ClusterIssuer"})
CRD_KINDS = frozenset({"CustomResourceDefinition"})
SECRET_KINDS = frozenset({"Secret", "SealedSecret"})


def _containers(obj: Any) -> dict[str, dict]:
    """Every container spec in a workload, keyed by 'name' (init containers prefixed)."""
    out: dict[str, dict] = {}

    def walk(node: Any, depth: int) -> None:
        if depth > 12:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("containers", "initContainers", "ephemeralContainers") and isinstance(v, list):
                    for i, c in enumerate(v):
                        if isinstance(c, dict):
                            name = str(c.get("name") or f"#{i}")
                            out[f"{'init:' if k == 'initContainers' else ''}{name}"] = c
                else:
                    walk(v, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    walk(obj, 0)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "(none)"
    text = json.dumps(v, sort_keys=True, default=str, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)
    return replace_spans(text, find_in_text(text), REDACTED)  # an image or TLS value never carries a secret out


def _code(text: str) -> str:
    """`text` as a code span even when it holds backticks (views parse these spans back)."""
    text = text.replace("\n", " ")
    text = text or "(empty)"  # an empty span would read as a stray backtick run
    ticks = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def highlights_for(key: ResourceKey, status: str, base: Any, head: Any) -> list[Highlight]:
    out: list[Highlight] = []
    disp = key.display()

    def add(cat: str, detail: str) -> None:
        out.append(Highlight(cat, key.env, disp, detail))

    if status == "moved":
        return out
    cb, ch = _containers(base), _containers(head)
    for name in sorted(set(cb) | set(ch)):
        ib = cb.get(name, {}).get("image")
        ih = ch.get(name, {}).get("image")
        if ib != ih:
            if status == "changed" or (ib and not ih and status == "removed") or (ih and status == "added"):
                add("image", f"container {_code(name)}: {_code(_fmt(ib))} → {_code(_fmt(ih))}")
        if status == "changed" and name in cb and name in ch:
            rb, rh = cb[name].get("resources"), ch[name].get("resources")
            if rb != rh:
                add("resources", f"container {_code(name)} resources: {_code(_fmt(rb))} → {_code(_fmt(rh))}")
    if status == "changed":
        for path in (("spec", "replicas"), ("spec", "minReplicas"), ("spec", "maxReplicas")):
            vb, vh = _get(base, *path), _get(head, *path)
            if vb != vh:
                add("replicas", f"{'.'.join(path)}: {_fmt(vb)} → {_fmt(vh)}")
    verb = {"added": "added", "removed": "removed", "changed": "changed"}[status]
    kind = key.kind
    if status == "changed" and _without_labels(base) == _without_labels(head):
        return out  # only labels/annotations moved (e.g. a version label): not a risk
    if kind in RBAC_KINDS:
        add("rbac", f"RBAC {kind} {verb}")
    elif kind in NETWORK_KINDS:
        add("network", f"{kind} {verb}")
    elif kind in INGRESS_KINDS:
        detail = f"{kind} {verb}"
        tb, th = _get(base, "spec", "tls"), _get(head, "spec", "tls")
        if kind == "Ingress" and tb != th:
            detail += f"; TLS {_code(_fmt(tb))} → {_code(_fmt(th))}"
        add("ingress", detail)
    elif kind in CRD_KINDS:
        add("crd", f"CustomResourceDefinition {verb}")
    elif kind in SECRET_KINDS:
        sb, sh = secret_values(base) if base is not None else {}, secret_values(head) if head is not None else {}
        changed = sorted(
            {p[-1] for p in set(sb) | set(sh) if sb.get(p, _MISSING) != sh.get(p, _MISSING)}
        )
        add("secret", f"{kind} {verb}" + (f"; keys: {', '.join(changed)}" if changed else ""))
    return out


_MISSING = object()


def _without_labels(obj: Any) -> Any:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return dump_lines(obj)
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("labels", "annotations")}
    return dump_lines({**obj, "metadata": meta})

