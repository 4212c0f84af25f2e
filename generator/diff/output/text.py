"""Plain-text view for a terminal."""
from __future__ import annotations

from ..model import PROD_ENVS, DiffResult
from ._common import CATEGORY_LABEL, STATUS_SIGN, apps_of


def render(result: DiffResult) -> str:
    c = result.counts()
    head = result.head if result.head_sha is None else f"{result.head} ({result.head_sha[:8]})"
    lines = [f"drydock diff: {result.base} ({result.base_sha[:8]}) -> {head}"]
    if result.empty:
        lines.append("no changes to rendered resources")
    else:
        lines.append(f"{c['changed']} changed, {c['added']} added, {c['removed']} removed, {c['moved']} moved")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    hl = result.highlights
    if hl:
        lines += ["", "risk highlights:"]
        for h in hl:
            where = f" {h.env} {h.resource}" if h.resource else ""
            lines.append(f"  [{CATEGORY_LABEL.get(h.category, h.category)}]{where}: {h.detail.replace('`', '')}")
    d = result.policy_delta
    if d is not None:
        lines += ["", f"policy delta: {len(d.introduced)} introduced, {len(d.resolved)} resolved"]
        for title, fs in (("introduced", d.introduced), ("resolved", d.resolved)):
            for f in fs:
                lines.append(f"  {title}: {f.severity.name} {f.rule_id} {f.resource.display()}: {' '.join(f.message.split())}")
    for env in result.envs:
        lines += ["", f"== {env or '(none)'}{' (production)' if env in PROD_ENVS else ''}"]
        for app, changes in apps_of(result, env):
            lines.append(f"-- {app}")
            for ch in changes:
                where = ch.path if ch.status != "moved" else f"{ch.base_path} -> {ch.head_path}"
                lines.append(f"{STATUS_SIGN[ch.status]} {ch.status} {ch.key.display()} {where}")
                lines.extend(f"    {line}" for line in ch.diff)
    return "\n".join(lines) + "\n"

