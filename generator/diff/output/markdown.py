"""Markdown view for PR comments: risk first, one <details> per app, split into parts under a size limit."""
from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any

from ...core import Finding
from ..model import PROD_ENVS, DiffResult, ResourceChange
from ._common import CATEGORY_LABEL, STATUS_SIGN, apps_of

MAX_HIGHLIGHTS = 60
MAX_DELTA = 50
_PART_HEADER_RESERVE = 300


MAX_SHOWN = 300  # characters of one name or path shown inline
MAX_TICKS = 30  # longest backtick run shown inside a diff block or code span, so a fence stays short
MAX_LABEL = 100  # characters of an app name in <summary> (escaped, at most 6x that)


def _fence(lines: list[str]) -> str:
    longest = 2
    for line in lines:
        for m in re.finditer(r"`+", line):
            longest = max(longest, len(m.group()))
    return "`" * (longest + 1)


def _fenced_lines(lines: list[str]) -> list[str]:
    """Lines as shown in a code fence: absurd backtick runs shortened, so the fence is at most 31."""
    lines = [_BREAKS.sub(" ", line) for line in lines]
    return [re.sub(r"`{%d,}" % (MAX_TICKS + 1), "`" * MAX_TICKS + "…", line) if "`" * (MAX_TICKS + 1) in line
            else line for line in lines]


_BREAKS = re.compile("[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # anything some reader takes for a new line


def _cap(text: str, limit: int = MAX_SHOWN) -> str:
    """One line of at most `limit` characters."""
    text = _BREAKS.sub(" ", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_code(text: str, limit: int = MAX_SHOWN) -> str:
    """Inline code that survives backticks in the text (GitHub shows code spans literally)."""
    text = _cap(re.sub(r"`{%d,}" % (MAX_TICKS + 1), "`" * MAX_TICKS + "…", str(text)), limit)
    text = text or "(empty)"  # an empty span would read as a stray backtick run
    ticks = max((len(m.group()) for m in re.finditer(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_text(text: str) -> str:
    """Plain text that stays plain: no HTML or comments, no links or images, no mentions."""
    text = html.escape(_BREAKS.sub(" ", text), quote=False)
    text = text.replace("\\", "\\\\").replace("`", "\\`")
    return text.replace("[", "\\[").replace("]", "\\]").replace("@", "&#64;").replace("|", "\\|")


def _html_text(text: str) -> str:
    """Text inside our HTML (<summary>): entities only, since markdown escapes do not apply there."""
    text = html.escape(_cap(text, MAX_LABEL), quote=True)
    return text.replace("[", "&#91;").replace("]", "&#93;").replace("@", "&#64;").replace("`", "&#96;")


def _md_inline(detail: str, limit: int = 1000) -> str:
    """A detail or message: its `code` spans kept as code, everything else escaped as plain text."""
    detail = _cap(detail, limit)
    out, pos = [], 0
    while pos < len(detail):
        m = re.compile(r"`+").search(detail, pos)
        if not m:
            out.append(_md_text(detail[pos:]))
            break
        close = re.compile(r"(?<!`)%s(?!`)" % m.group()).search(detail, m.end())
        out.append(_md_text(detail[pos:m.start()]))
        if close is None:  # an unmatched run is literal text
            out.append("\\`" * len(m.group()))
            pos = m.end()
        else:
            out.append(_md_code(detail[m.end():close.start()], limit))
            pos = close.end()
    return "".join(out)


def _md_highlights(result: DiffResult) -> str:
    hl = result.highlights
    if not hl:
        return ""
    lines = ["### Risk highlights", ""]
    for h in hl[:MAX_HIGHLIGHTS]:
        label = CATEGORY_LABEL.get(h.category, h.category)
        if h.category == "prod":
            lines.append(f"- **{label}**: {_md_inline(h.detail)}")
        else:
            lines.append(f"- **{label}** {_md_code(h.env)} {_md_code(h.resource)}: {_md_inline(h.detail)}")
    if len(hl) > MAX_HIGHLIGHTS:
        lines.append(f"- … and {len(hl) - MAX_HIGHLIGHTS} more (see the details below)")
    return "\n".join(lines) + "\n\n"


def _finding_line(f: Finding) -> str:
    where = f" ({_md_code(f.file)})" if f.file else ""
    waived = " — waived" if f.waived else ""
    return f"- **{f.severity.name}** {_md_code(f.rule_id)} {_md_code(f.resource.display())}: {_md_inline(f.message)}{where}{waived}"


def _md_policy(result: DiffResult) -> str:
    d = result.policy_delta
    if d is None:
        return ""
    lines = ["### Policy delta", ""]
    if not d.introduced and not d.resolved:
        lines.append("No findings introduced or resolved.")
    for title, fs in (("Introduced", d.introduced), ("Resolved", d.resolved)):
        if not fs:
            continue
        lines.append(f"**{title}** ({len(fs)})")
        lines.append("")
        lines.extend(_finding_line(f) for f in fs[:MAX_DELTA])
        if len(fs) > MAX_DELTA:
            lines.append(f"- … and {len(fs) - MAX_DELTA} more")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _md_env_table(result: DiffResult, env: str) -> str:
    rows: dict[str, Counter] = {}
    for c in result.changes:
        if c.key.env == env:
            rows.setdefault(c.key.kind or "(no kind)", Counter())[c.status] += 1
    prod = " (production)" if env in PROD_ENVS else ""
    lines = [f"### Environment {_md_code(env or '(none)')}{prod}", "", "| kind | added | changed | removed | moved |", "|---|---:|---:|---:|---:|"]
    for kind in sorted(rows):
        r = rows[kind]
        lines.append(f"| {_md_text(_cap(kind))} | {r['added']} | {r['changed']} | {r['removed']} | {r['moved']} |")
    return "\n".join(lines) + "\n\n"


def _entry_head(c: ResourceChange, limit: int = MAX_SHOWN) -> str:
    head = f"**{STATUS_SIGN[c.status]} {c.status}** {_md_code(c.key.display(), limit)}"
    if c.status == "moved" or (c.base_path and c.head_path and c.base_path != c.head_path):
        head += f" {_md_code(c.base_path or '', limit)} → {_md_code(c.head_path or '', limit)}"
    else:
        head += f" {_md_code(c.path, limit)}"
    return head + "\n\n"


def _md_entry(c: ResourceChange, budget: int | None = None) -> str:
    head = _entry_head(c)
    if budget is not None and len(head) > budget // 3:  # absurd names: keep room for the diff
        head = _entry_head(c, 60)
    if not c.diff:
        return head
    diff = _fenced_lines(c.diff)
    fence = _fence(diff)
    body = "\n".join(diff)
    entry = f"{head}{fence}diff\n{body}\n{fence}\n\n"
    if budget is None or len(entry) <= budget:
        return entry
    # Too big for one part: keep the first lines that fit, say what was cut.
    note_tpl = "_diff truncated: {n} more lines; run `drydock diff` locally to see all of it._\n\n"
    room = budget - len(head) - 2 * len(fence) - len("diff\n\n\n") - len(note_tpl) - 20
    kept: list[str] = []
    used = 0
    for line in diff:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    if not kept and diff:
        kept = [diff[0][: max(room, 0)]]
    return f"{head}{fence}diff\n" + "\n".join(kept) + f"\n{fence}\n" + note_tpl.format(n=len(diff) - len(kept))


def _app_summary(app: str, changes: list[ResourceChange], cont: bool = False) -> str:
    cnt = Counter(c.status for c in changes)
    bits = ", ".join(f"{cnt[s]} {s}" for s in ("added", "changed", "removed", "moved") if cnt[s])
    label = _html_text(app)
    if cont:
        return f"<details><summary><b>{label}</b> (continued)</summary>\n\n"
    return f"<details><summary><b>{label}</b> — {bits}</summary>\n\n"


_DETAILS_CLOSE = "</details>\n\n"


def _md_title(result: DiffResult) -> str:
    c = result.counts()
    head = _md_code(result.head) if result.head_sha is None else f"{_md_code(result.head)} ({result.head_sha[:8]})"
    lines = [f"## drydock diff: {_md_code(result.base)} ({result.base_sha[:8]}) → {head}", ""]
    if result.empty:
        lines.append("No changes to rendered resources." if not result.env else f"No changes to rendered resources in {_md_code(result.env)}.")
    else:
        envs = ", ".join(_md_code(e) for e in result.envs)
        lines.append(
            f"**{c['changed']} changed, {c['added']} added, {c['removed']} removed, {c['moved']} moved** in {envs or 'no environment'}"
        )
    for w in result.warnings[:20]:
        lines.append(f"> warning: {_md_inline(w, 500)}")
    return "\n".join(lines) + "\n\n"


def _markdown_blocks(result: DiffResult, budget: int) -> list[tuple[str, str, Any]]:
    """Stream of (type, text, extra) blocks; the packer may split between any two."""
    blocks: list[tuple[str, str, Any]] = [("atom", _md_title(result), None)]
    if _md_highlights(result):
        blocks.append(("atom", _md_highlights(result), None))
    if _md_policy(result):
        blocks.append(("atom", _md_policy(result), None))
    for env in result.envs:
        blocks.append(("atom", _md_env_table(result, env), None))
        for app, changes in apps_of(result, env):
            opener, cont = _app_summary(app, changes), _app_summary(app, changes, cont=True)
            blocks.append(("open", opener, cont))
            room = budget - max(len(opener), len(cont)) - len(_DETAILS_CLOSE)
            for c in changes:
                blocks.append(("entry", _md_entry(c, room), c))
            blocks.append(("close", _DETAILS_CLOSE, None))
    return blocks


def _pack(blocks: list[tuple[str, str, Any]], budget: int) -> list[str]:
    """Greedy packing into parts of at most `budget` chars, splitting only between blocks.

    An app's `<details>` is closed at the end of a part and reopened "(continued)" in
    the next, so every part is balanced on its own.
    """
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    opener = ""  # text that opens the current app's <details> in the next part
    cont = ""
    in_details = False

    def add(text: str) -> None:
        nonlocal size
        cur.append(text)
        size += len(text)

    def flush() -> None:
        nonlocal cur, size
        if cur:
            parts.append("".join(cur))
        cur, size = [], 0

    close_len = len(_DETAILS_CLOSE)
    for typ, text, extra in blocks:
        if typ == "atom":
            if len(text) > budget:  # cut between lines, never inside one
                cut = text.rfind("\n", 0, budget - 40)
                text = text[: max(cut, 0)] + "\n\n_(section truncated)_\n\n"
            if cur and size + len(text) > budget:
                flush()
            add(text)
        elif typ == "open":
            opener, cont, in_details = text, extra, False
        elif typ == "entry":
            need = len(text) + close_len + (0 if in_details else len(opener))
            if cur and size + need > budget:
                if in_details:
                    add(_DETAILS_CLOSE)
                flush()
                in_details = False
            if not in_details:
                add(opener)
                in_details = True
                opener = cont
            add(text)
        elif typ == "close":
            if in_details:
                add(_DETAILS_CLOSE)
            in_details = False
    flush()
    return parts or [""]


def render(result: DiffResult, max_chars: int) -> list[str]:
    whole = "".join(t for _, t, _ in _markdown_blocks(result, budget=10**12))
    if len(whole.rstrip("\n")) + 1 < max_chars:
        return [whole.rstrip("\n") + "\n"]
    if max_chars < 2000:
        raise ValueError("max_chars must be at least 2000")
    budget = max_chars - _PART_HEADER_RESERVE
    parts = _pack(_markdown_blocks(result, budget), budget)
    n = len(parts)
    out = []
    for i, body in enumerate(parts, 1):
        header = f"**drydock diff (part {i}/{n})**"
        if i == 1:
            header += f" — this diff is too long for one comment and was split into {n} parts."
        out.append(f"{header}\n\n{body.rstrip(chr(10))}\n")
    return out

