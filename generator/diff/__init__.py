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

from ..lazy import exports

# name -> submodule; imported on first use (PEP 562), so `drydock --help` does not load git plumbing.
_EXPORTS = {
    "read_rendered": "git",
    "PROD_ENVS": "model", "RENDERED": "model", "DiffResult": "model", "Highlight": "model",
    "PolicyDelta": "model", "ResourceChange": "model", "ResourceKey": "model",
    "FORMATS": "output", "GITHUB_COMMENT_LIMIT": "output", "PART_SEPARATOR": "output",
    "join_parts": "output", "render_diff": "output", "write_parts": "output",
    "set_policy_delta": "policy",
    "REDACTED": "redaction", "REDACTED_ADDED": "redaction", "REDACTED_CHANGED": "redaction", "redact_pair": "redaction",
    "diff_refs": "treediff", "diff_renders": "treediff", "diff_trees": "treediff",
}


__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())


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


from ..callmodule import make_callable  # noqa: E402  `generator.diff(...)` is the API's diff()

make_callable(__name__)
