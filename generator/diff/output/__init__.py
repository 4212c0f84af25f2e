"""Diff output: one module per view (markdown, text), JSON from the model, and part files.

Add a view = add a module with `render(result, max_chars) -> list[str]` and list it in VIEWS.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..model import DiffResult
from . import markdown, text

GITHUB_COMMENT_LIMIT = 65536


def _json(result: DiffResult, max_chars: int) -> list[str]:
    return [json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"]


VIEWS: dict[str, Callable[[DiffResult, int], list[str]]] = {
    "markdown": markdown.render,
    "text": lambda result, max_chars: [text.render(result)],
    "json": _json,
}
FORMATS: tuple[str, ...] = tuple(VIEWS)


def render_diff(result: DiffResult, fmt: str = "markdown", max_chars: int = GITHUB_COMMENT_LIMIT) -> list[str]:
    """Render `result` as a list of parts.

    markdown: one part when it fits in `max_chars`, else several parts, each shorter
    than `max_chars`, split between resources (never inside a code fence or a
    `<details>` block). text and json: always one part.
    """
    try:
        view = VIEWS[fmt]
    except KeyError:
        raise ValueError(f"unknown diff format {fmt!r}; use markdown, text or json") from None
    return view(result, max_chars)


PART_SEPARATOR = "\n<!-- drydock diff: next part -->\n\n"


def join_parts(parts: list[str]) -> str:
    """All parts as one text for stdout: parts separated by an HTML comment line."""
    return PART_SEPARATOR.join(parts)


def write_parts(parts: list[str], output: Path) -> list[Path]:
    """Write part 1 to `output`, part i (i >= 2) to `output` + `.i`; return the paths.

    Stale `output.N` files from an earlier, longer diff are removed so a workflow that
    posts `output*` never posts an old part.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for i, part in enumerate(parts, 1):
        path = output if i == 1 else output.with_name(f"{output.name}.{i}")
        path.write_text(part, encoding="utf-8")
        written.append(path)
    i = len(parts) + 1
    while (stale := output.with_name(f"{output.name}.{i}")).exists():
        stale.unlink()
        i += 1
    return written

