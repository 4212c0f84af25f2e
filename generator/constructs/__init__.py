"""cdk8s constructs that turn the validated inputs into manifests.

`PARTS` are the platform-wide builders run once per environment after the
services; each takes (ctx, platform) and emits into `ctx.chart(<folder>)`.
"""
from __future__ import annotations

from typing import Callable

from ..model.types import Platform
from .base import RenderContext
from .platform import build_namespace

PARTS: list[Callable[[RenderContext, Platform], None]] = [build_namespace]
