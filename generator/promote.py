"""Promote image versions from one environment to the next (dev -> staging -> prod).

`promote()` copies `spec.images.versions.<service>` from environments/<src>.yaml
into environments/<dst>.yaml by editing the destination file's text in place:
only the version scalars change (comments, key order, quoting and indentation
stay as they were), then it renders, gates and writes rendered/<dst>/.

It is all or nothing. Every refusal (same env, unknown env or service, a tag
going into a digest-pinned env, a stale or gated-out source render) happens
before anything is touched; if the destination render is blocked by a gate or
anything raises after the edit, the environment file's original bytes are put
back and rendered/<dst>/ is left as it was (synth writes nothing when blocked).

Nothing here prints or exits: the CLI (`drydock promote`) does that.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from .errors import InputError, Problem
from .core import Report
from .model import load_project
from .model.yamlload import load_document
from .pipeline import GateOptions, synth

VERSIONS_PATH = ("spec", "images", "versions")


@dataclass(frozen=True)
class Change:
    service: str
    old: str | None  # None: the key was added to the destination file
    new: str
    line: int  # 1-based line in the destination env file after the edit


@dataclass
class PromoteResult:
    src: str
    dst: str
    env_file: Path  # the destination environment file
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # services already at the source version
    written: bool = False  # rendered/<dst>/ was re-rendered and written
    report: Report | None = None  # the destination's gate report (None when nothing changed)

    @property
    def changed(self) -> dict[str, tuple[str | None, str]]:
        return {c.service: (c.old, c.new) for c in self.changes}

    @property
    def blocked(self) -> bool:
        """The edited destination was gated out; the env file was restored."""
        return bool(self.report and self.report.blocking())


def promote(root: Path, src_env: str, dst_env: str, services: Sequence[str] | None = None, *,
            opts: GateOptions = GateOptions(), progress: Callable[[str], None] = lambda m: None,
            warn: Callable[[str], None] = lambda m: None) -> PromoteResult:
    """Copy image versions src_env -> dst_env, then render + gate + write rendered/<dst_env>.

    services: the services to promote (default: every service with a version in src_env).
    Raises InputError (exit 2) on refusals; returns a result with `blocked` set (exit 1)
    when the destination render is gated out, after restoring the env file.
    """
    root = Path(root)
    if src_env == dst_env:
        raise InputError(f"cannot promote '{src_env}' to itself",
                         hint="name two different environments, e.g. --from staging --to prod")
    platform = load_project(root)
    src, dst = platform.environment(src_env), platform.environment(dst_env)

    wanted = _resolve_services(platform, src, services)
    if dst.image_policy == "digest":
        unpinned = [s for s, v in wanted.items() if "@sha256:" not in v]
        if unpinned:
            raise InputError(
                [Problem(f"'{s}' is '{wanted[s]}' in {src_env}, not pinned by digest, but {dst_env} requires digests "
                         f"(images.policy: digest)", src.source.file,
                         src.lines.get(f"spec.images.versions.{s}", src.source.line),
                         field=f"spec.images.versions.{s}",
                         hint=f"pin it in {src.source.file} first as <tag>@sha256:<digest> "
                              f"(e.g. from `crane digest <image>:<tag>`), re-render {src_env} and commit")
                 for s in unpinned])

    # The source must be what is deployed: committed render up to date, and passing its gates.
    progress(f"promote: checking rendered/{src_env} is up to date")
    stale = synth(root, [src_env], check=True, opts=opts, progress=progress, warn=warn).staleness[src_env]
    if not stale.up_to_date:
        n = len(stale.stale) + len(stale.missing) + len(stale.extra)
        raise InputError(f"rendered/{src_env} is out of date with services/ and environments/ ({n} files differ); "
                         f"promoting from it would ship something that was never deployed to {src_env}",
                         hint=f"run `drydock synth --env {src_env}`, commit rendered/{src_env}, then promote")
    progress(f"promote: gating {src_env}")
    with tempfile.TemporaryDirectory(prefix="drydock-promote-") as tmp:
        gated = synth(root, [src_env], gate=True, out=Path(tmp), opts=opts, progress=progress, warn=warn)
    if gated.blocked:
        blocking = sum(len(r.blocking()) for r in gated.reports.values())
        raise InputError(f"{src_env} is gated out ({blocking} blocking findings); refusing to promote from it",
                         hint=f"run `drydock synth --env {src_env}` to see the findings, fix or waive them first")

    env_file = root / dst.source.file
    result = PromoteResult(src_env, dst_env, env_file)
    original = env_file.read_bytes()
    text, changes, unchanged = edit_versions(_decode(original, dst.source.file), dst.source.file, wanted)
    result.unchanged = unchanged
    if not changes:
        progress(f"promote: {dst_env} already has {src_env}'s versions; nothing to do")
        return result

    progress(f"promote: editing {dst.source.file} ({len(changes)} versions)")
    try:
        _write_atomic(env_file, _encode(text, original))
        rendered = synth(root, [dst_env], gate=True, opts=opts, progress=progress, warn=warn)
        result.report = rendered.reports.get(dst_env)
        if rendered.blocked or dst_env not in rendered.written:
            _write_atomic(env_file, original)
            return result
    except BaseException:
        _write_atomic(env_file, original)
        raise
    result.changes = changes
    result.written = True
    return result


def _resolve_services(platform, src, services: Sequence[str] | None) -> dict[str, str]:
    """service -> version to copy (the source's explicit version or its `default`)."""
    known = platform.services
    if services is None:
        names = [s for s in known if src.versions.get(s) or src.versions.get("default")]
    else:
        names = list(dict.fromkeys(services))
        unknown = [s for s in names if s not in known]
        if unknown:
            raise InputError(f"unknown service(s): {', '.join(unknown)}",
                             hint=f"use one of: {', '.join(known)} (files in services/)")
    out = {}
    for s in names:
        version = src.versions.get(s) or src.versions.get("default")
        if not version:
            raise InputError(f"'{s}' has no image version in {src.name}",
                             file=src.source.file, line=src.lines.get("spec.images.versions", src.source.line),
                             hint=f"add it under spec.images.versions in {src.source.file} first")
        out[s] = version
    return out


def edit_versions(text: str, display: str, wanted: dict[str, str]) -> tuple[str, list[Change], list[str]]:
    """Set spec.images.versions.<svc> = version for each item of `wanted`, editing only those scalars.

    Returns the new text, the changes (with their lines in the new text) and the services that
    already had the wanted version. Keys that are missing are added under `versions:` at the
    indentation of their siblings, in sorted position when the existing keys are sorted.
    """
    data, lines = load_document(text, display)  # validates; gives us the key lines
    current = _dig(data, VERSIONS_PATH) or {}
    node = _versions_node(text, display)
    changes: list[Change] = []
    unchanged: list[str] = []
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in character offsets
    additions: list[tuple[str, str]] = []
    for svc, version in wanted.items():
        if current.get(svc) == version:
            unchanged.append(svc)
            continue
        if svc in current:
            key_node, value_node = next((k, v) for k, v in node.value if k.value == svc)
            assert lines[VERSIONS_PATH + (svc,)][0] == key_node.start_mark.line + 1
            edits.append((value_node.start_mark.index, value_node.end_mark.index,
                          _scalar(version, value_node.style)))
            changes.append(Change(svc, current[svc], version, key_node.start_mark.line + 1))
        else:
            additions.append((svc, version))
            changes.append(Change(svc, None, version, 0))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    if additions:
        text = _add_keys(text, display, additions)
    if changes:  # report the lines as they are in the edited text
        _, new_lines = load_document(text, display)
        changes = [Change(c.service, c.old, c.new, new_lines[VERSIONS_PATH + (c.service,)][0]) for c in changes]
    return text, changes, unchanged


def _dig(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _versions_node(text: str, display: str) -> yaml.MappingNode:
    # The pure-Python composer: its marks' `index` counts characters of `text`.
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for key in VERSIONS_PATH:
        if not isinstance(node, yaml.MappingNode):
            break
        node = next((v for k, v in node.value if k.value == key), None)
    if not isinstance(node, yaml.MappingNode):
        raise InputError("spec.images.versions is missing or not a mapping", file=display,
                         hint="add `versions:` under spec.images with one `<service>: \"<version>\"` per line")
    return node


def _scalar(value: str, style: str | None) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style is None and yaml.safe_load(value) == value and ": " not in value and " #" not in value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _add_keys(text: str, display: str, additions: list[tuple[str, str]]) -> str:
    for svc, version in additions:
        node = _versions_node(text, display)
        if node.flow_style or not node.value:
            raise InputError(f"cannot add '{svc}' to a flow-style spec.images.versions ({{...}})", file=display,
                             line=node.start_mark.line + 1,
                             hint="write versions in block style, one `<service>: \"<version>\"` per line, then retry")
        keys = [k.value for k, _ in node.value]
        first_key = node.value[0][0]
        indent = " " * first_key.start_mark.column
        style = node.value[0][1].style  # quote like the first sibling does
        quoted = _scalar(version, style if style in ('"', "'") else None)
        entry = f"{indent}{svc}: {quoted}"
        text_lines = _split_lines(text)
        newline = "\r\n" if text_lines and text_lines[0].endswith("\r\n") else "\n"
        later = [i for i, k in enumerate(keys) if k > svc]
        if keys == sorted(keys) and later:
            # before the first key that sorts after svc, and before the comments just above it
            at = node.value[later[0]][0].start_mark.line
            while at > 0 and text_lines[at - 1].strip().startswith("#") and \
                    len(text_lines[at - 1]) - len(text_lines[at - 1].lstrip()) == len(indent):
                at -= 1
        else:
            at = node.value[-1][1].end_mark.line + (0 if node.value[-1][1].end_mark.column == 0 else 1)
        if at > 0 and at <= len(text_lines) and not text_lines[at - 1].endswith("\n"):
            text_lines[at - 1] += newline
        text_lines.insert(at, entry + newline)
        text = "".join(text_lines)
    return text


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, split on \\n only (as YAML marks count them)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    return out + ([parts[-1]] if parts[-1] else [])


def _decode(raw: bytes, display: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("file is not valid UTF-8", file=display, hint="save the file as UTF-8") from None


def _encode(text: str, original: bytes) -> bytes:
    bom = b"\xef\xbb\xbf" if original.startswith(b"\xef\xbb\xbf") else b""
    return bom + text.encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
