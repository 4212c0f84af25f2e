"""The environment's namespace: Pod Security Admission `restricted`, labelled for the platform."""
from __future__ import annotations

from ..model.types import Platform
from .base import MANAGED_BY, PART_OF, RenderContext, emit


def build_namespace(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    emit(ctx.chart("platform"), ctx, {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": env.namespace, "labels": {
            "app.kubernetes.io/name": env.namespace,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }},
    }, env.line_of("spec.namespace"))
