"""cdk8s constructs that turn the validated inputs into manifests.

`PARTS` are the platform-wide builders run once per environment after the
services; each takes (ctx, platform) and emits into `ctx.chart(<folder>)`.
Order matters only at the ends: the namespace first, ArgoCD last.
"""
from __future__ import annotations

from typing import Callable

from ..model.types import Platform
from .argocd import build_argocd
from .base import RenderContext
from .datastores import build_datastores
from .ingress import build_ingress
from .migrations import build_migrations
from .observability import build_observability
from .platform import build_namespace
from .security import build_security

PARTS: list[Callable[[RenderContext, Platform], None]] = [
    build_namespace,  # keep first
    build_security,
    build_datastores,
    build_ingress,
    build_observability,
    build_migrations,
    # The ArgoCD builder (app-of-apps over every folder the parts above created) is appended
    # here and must stay LAST: it reads ctx.charts to know which child Applications to make.
    build_argocd,  # app-of-apps + sync waves (docs/argocd.md); KEEP LAST (reads every other chart)
]
