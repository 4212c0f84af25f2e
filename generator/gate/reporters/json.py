"""JSON report: the stable contract (DESIGN.md); every other format is a view of it."""
from __future__ import annotations

import json as _json

from ...core import Report


def render(report: Report, *, color: bool = False, rules: dict | None = None) -> str:
    # Key order is the model's (not sorted); non-ASCII text is kept as UTF-8.
    return _json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
