"""What the markdown and text views share: labels, signs, grouping by app."""
from __future__ import annotations

from ..model import DiffResult, ResourceChange

CATEGORY_LABEL = {
    "prod": "production",
    "image": "image",
    "replicas": "replicas",
    "resources": "resources",
    "rbac": "RBAC",
    "network": "network policy",
    "ingress": "ingress/TLS",
    "crd": "CRD",
    "secret": "secret",
}
STATUS_SIGN = {"added": "+", "removed": "-", "changed": "~", "moved": "→"}


def apps_of(result: DiffResult, env: str) -> list[tuple[str, list[ResourceChange]]]:
    groups: dict[str, list[ResourceChange]] = {}
    for c in result.changes:
        if c.key.env == env:
            groups.setdefault(c.app or "(top level)", []).append(c)
    return sorted(groups.items())

