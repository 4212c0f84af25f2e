"""What `helm template` printed -> rows the expansion turns into Documents.

A row is {template, line, obj, text}: `template` is the `# Source:` path, `line` counts in that
template's own output (what `helm template --show-only <template>` prints), CRDs are slimmed.
Chunks are parsed once per content: the same add-on in three envs prints mostly the same chunks.
"""
from __future__ import annotations

import hashlib
import re
import threading

from ..errors import InputError
from ..yamlio import parse_manifests

_SOURCE_LINE = re.compile(r"^# Source: (.+)$")


def split_output(out: str) -> list[dict]:
    """helm's stream -> rows {template, line, obj, text}; line counted in that template's own output
    (all its `---` / `# Source:` chunks in order, i.e. what `--show-only <template>` prints)."""
    chunks: list[list[str]] = []
    current: list[str] | None = None
    for line in out.splitlines(keepends=True):
        if current is None or line.rstrip("\r\n") == "---":
            current = []
            chunks.append(current)
        current.append(line)
    by_template: dict[str, list[list[str]]] = {}
    for chunk in chunks:
        template = next((m.group(1) for m in map(_SOURCE_LINE.match, (c.rstrip("\r\n") for c in chunk[:3])) if m),
                        "(no source)")
        by_template.setdefault(template, []).append(chunk)
    rows = []
    for template, parts in by_template.items():
        offset = 0
        try:
            for chunk in parts:
                rows += [{"template": template, "line": line + offset, "obj": obj, "text": text}
                         for line, obj, text in _parse_chunk("".join(chunk))]
                offset += len(chunk)
        except InputError:
            parse_manifests("".join(line for chunk in parts for line in chunk), template)  # the error at the template's line
            raise
    return rows


# Parsed chunks by content: the same add-on in three envs prints mostly the same chunks (its CRDs
# alone are ~4 MB for kube-prometheus-stack), and a chunk's objects do not depend on where it is.
_PARSED: dict[bytes, list[tuple[int, dict, str | None]]] = {}
_PARSED_LOCK = threading.Lock()
_PARSED_MAX = 4096


def _parse_chunk(text: str) -> list[tuple[int, dict, str | None]]:
    """(line in the chunk, object, text) of each object in one `---` chunk of helm's output;
    CRDs slimmed (no text: Trivy reads the slim object)."""
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).digest()
    with _PARSED_LOCK:
        known = _PARSED.get(key)
    if known is not None:
        return known
    parsed = []
    for doc in parse_manifests(text, "(helm output)"):
        if doc.obj.get("kind") == "CustomResourceDefinition":
            parsed.append((doc.line, _slim_crd(doc.obj), None))
        else:
            parsed.append((doc.line, doc.obj, doc.text))
    with _PARSED_LOCK:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


def _slim_crd(obj: dict) -> dict:
    """A CRD without its validation schemas (4 MB for kube-prometheus-stack): the gates judge the
    CRD's group, names, scope and versions; the schemas only slow every run down."""
    spec = dict(obj.get("spec") or {})
    spec["versions"] = [{k: v for k, v in ver.items() if k != "schema"} if isinstance(ver, dict) else ver
                        for ver in spec.get("versions") or []]
    return {**obj, "spec": spec}
