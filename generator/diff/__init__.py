"""Semantic diff of the rendered tree between two git refs.

`diff_refs` reads `rendered/` at both refs with git plumbing only (`ls-tree`,
`cat-file --batch`; nothing is checked out), parses every YAML document, and
matches resources by identity (env, apiVersion, kind, namespace, name), not by
file path. `render_diff` turns the result into markdown (for PR comments, split
into parts below GitHub's comment limit), plain text or JSON.

Secret material never reaches the output: Secret data, SealedSecret encrypted
data, credential-looking env vars / ConfigMap keys / mapping keys and passwords
inside URLs are replaced by `<redacted>` / `<redacted: changed>` before anything
is diffed or rendered.

Modules, in the order data flows: `model` (types), `git` (reading refs and the
working tree), `reading` (YAML -> resources), `redaction`, `highlights`,
`treediff` (matching and unified diffs), `policy` (policy delta), `output/`
(markdown, text, json views and part files).
"""
from __future__ import annotations

from .git import read_rendered
from .model import PROD_ENVS, RENDERED, DiffResult, Highlight, PolicyDelta, ResourceChange, ResourceKey
from .output import FORMATS, GITHUB_COMMENT_LIMIT, PART_SEPARATOR, join_parts, render_diff, write_parts
from .policy import set_policy_delta
from .redaction import REDACTED, REDACTED_ADDED, REDACTED_CHANGED, redact_pair
from .treediff import diff_refs, diff_renders, diff_trees

__all__ = [
    "FORMATS",
    "GITHUB_COMMENT_LIMIT",
    "PART_SEPARATOR",
    "PROD_ENVS",
    "RENDERED",
    "REDACTED",
    "REDACTED_ADDED",
    "REDACTED_CHANGED",
    "DiffResult",
    "Highlight",
    "PolicyDelta",
    "ResourceChange",
    "ResourceKey",
    "diff_refs",
    "diff_renders",
    "diff_trees",
    "join_parts",
    "read_rendered",
    "redact_pair",
    "render_diff",
    "set_policy_delta",
    "write_parts",
]
