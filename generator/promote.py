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

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import yaml

from .errors import InputError, Interrupted
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
            opts: GateOptions = GateOptions(), digests: Mapping[str, str] | None = None,
            progress: Callable[[str], None] = lambda m: None,
            warn: Callable[[str], None] = lambda m: None) -> PromoteResult:
    """Copy image versions src_env -> dst_env, then render + gate + write rendered/<dst_env>.

    services: the services to promote (default: every service with a version in src_env).
    digests: service -> "sha256:<hex>" for tags going into a digest-pinned env.
    Raises InputError (exit 2) on refusals; returns a result with `blocked` set (exit 1)
    when the destination render is gated out, after restoring the env file.
    """
    root = Path(root)
    repair_promotion(root, warn)
    if src_env == dst_env:
        raise InputError(f"cannot promote '{src_env}' to itself",
                         hint="name two different environments, e.g. --from staging --to prod")
    platform = load_project(root)
    src, dst = platform.environment(src_env), platform.environment(dst_env)

    wanted = _resolve_services(platform, src, services)
    if dst.image_policy == "digest":
        wanted = pin_digests(platform, src, dst, wanted, dict(digests or {}), progress, services)
    elif digests:
        raise InputError(f"--digest given but {dst_env} pins by tag (images.policy: tag)",
                         hint="drop --digest, or set images.policy: digest in " + dst.source.file)

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
    journal = _Journal(root, dst.source.file, dst_env, original)
    with _interruptible():
        journal.open()  # from here a SIGKILL is repaired by the next run
        try:
            _write_atomic(env_file, _encode(text, original))
            rendered = synth(root, [dst_env], gate=True, opts=opts, progress=progress, warn=warn,
                             on_written=lambda env: journal.close())  # signals held: done is recorded first
            result.report = rendered.reports.get(dst_env)
            if rendered.blocked or dst_env not in rendered.written:
                _write_atomic(env_file, original)
                journal.close()
                return result
        except BaseException:
            if not journal.done:  # interrupted or failed before rendered/<dst> landed: undo the edit
                _write_atomic(env_file, original)
                journal.close()
            raise
    result.changes = changes
    result.written = True
    return result


# -- digests ----------------------------------------------------------------------------
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_digests(items: Sequence[str]) -> dict[str, str]:
    """`SVC=sha256:<64 hex>` arguments -> {svc: digest}."""
    out: dict[str, str] = {}
    for item in items:
        svc, sep, digest = item.partition("=")
        if not sep or not svc or not DIGEST.match(digest):
            raise InputError(f"--digest '{item}' is not SVC=sha256:<64 lowercase hex digits>",
                             hint="e.g. --digest order-service=sha256:" + "0" * 64 + " (from `crane digest IMAGE:TAG`)")
        if out.get(svc, digest) != digest:
            raise InputError(f"two different --digest values for '{svc}'", hint="give one digest per service")
        out[svc] = digest
    return out


def pin_digests(platform, src, dst, wanted: dict[str, str], digests: dict[str, str],
                progress: Callable[[str], None] = lambda m: None,
                services: Sequence[str] | None = None) -> dict[str, str]:
    """Make every version going into a digest-pinned env `<tag>@sha256:<digest>`.

    A digest comes from the source (already pinned), from --digest, from the destination when it
    already pins the same tag, or from the registry (crane/skopeo on PATH), in that order.
    """
    extra = sorted(set(digests) - set(wanted))
    if extra:
        raise InputError(f"--digest for service(s) not being promoted: {', '.join(extra)}",
                         hint=f"promote them too (--service), or drop those --digest flags; promoting: {', '.join(wanted)}")
    out, missing = {}, []
    for svc, version in wanted.items():
        tag, _, pinned = version.partition("@")
        if pinned:
            if digests.get(svc, pinned) != pinned:
                raise InputError(f"'{svc}' is already pinned to {pinned} in {src.name}, not {digests[svc]}",
                                 file=src.source.file, line=src.lines.get(f"spec.images.versions.{svc}"),
                                 hint="drop the --digest for it, or fix the pin in " + src.source.file)
            out[svc] = version
            continue
        current = dst.versions.get(svc, "")
        digest = digests.get(svc) or (current.partition("@")[2] if current.partition("@")[0] == tag else "")
        if not digest:
            image = f"{platform.services[svc].image}:{tag}"
            progress(f"promote: looking up the digest of {image}")
            digest = registry_digest(image)
        if digest:
            out[svc] = f"{tag}@{digest}"
        else:
            missing.append((svc, tag))
    if missing:
        # the command the user ran, plus one --digest per missing service
        args = " ".join([f"--service {s}" for s in dict.fromkeys(services or [])]
                        + [f"--digest {s}={digests[s]}" for s in wanted if s in digests]
                        + [f"--digest {s}=sha256:<digest>" for s, _ in missing])
        lookups = "; ".join(f"crane digest {platform.services[s].image}:{t}" for s, t in missing)
        raise InputError(
            f"{dst.name} pins images by digest (images.policy: digest) and no digest is known for "
            + ", ".join(f"{s}:{t}" for s, t in missing),
            file=dst.source.file, line=dst.lines.get("spec.images.policy"),
            hint=f"run `drydock promote --from {src.name} --to {dst.name} {args}` "
                 f"with the digests from `{lookups}` (or put crane or skopeo on PATH to look them up)")
    return out


def registry_digest(image: str, timeout: float = 60.0) -> str | None:
    """The image's digest from the registry via crane or skopeo; None when neither is on PATH."""
    for tool, argv in (("crane", ["crane", "digest", image]),
                       ("skopeo", ["skopeo", "inspect", "--format", "{{.Digest}}", f"docker://{image}"])):
        exe = shutil.which(tool)
        if not exe:
            continue
        try:
            proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InputError(f"`{' '.join(argv)}` failed: {exc}",
                             hint=f"check registry access, or pass --digest SVC=sha256:... for {image}") from None
        digest = proc.stdout.strip()
        if proc.returncode != 0 or not DIGEST.match(digest):
            why = (proc.stderr.strip().splitlines() or [digest or f"exit {proc.returncode}"])[-1][:300]
            raise InputError(f"`{' '.join(argv)}` did not give a digest: {why}",
                             hint=f"check that {image} exists and you are logged in, or pass --digest SVC=sha256:...")
        return digest
    return None


# -- interruption and crash repair ------------------------------------------------------
JOURNAL = Path(".drydock") / "promote-journal.json"
JOURNAL_LOCK = Path(".drydock") / "promote.lock"  # held while a promotion is in flight; freed by the kernel on death


def _try_lock(root: Path, wait: bool) -> int | None:
    path = root / JOURNAL_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class _Journal:
    """Records the destination file's original bytes while a promotion is in flight."""

    def __init__(self, root: Path, env_file: str, dst: str, original: bytes):
        self.root, self.path, self.env_file, self.dst, self.original = root, root / JOURNAL, env_file, dst, original
        self.done = False
        self.lock: int | None = None

    def open(self) -> None:
        self.lock = _try_lock(self.root, wait=True)  # one promotion at a time per repo
        data = {"version": 1, "pid": os.getpid(), "dst": self.dst, "env_file": self.env_file,
                "original": base64.b64encode(self.original).decode()}
        _write_atomic(self.path, json.dumps(data, indent=2).encode())

    def close(self) -> None:
        self.done = True
        self.path.unlink(missing_ok=True)
        _unlock(self.lock)
        self.lock = None


def repair_promotion(root: Path, warn: Callable[[str], None] = lambda m: None) -> str | None:
    """Finish or undo a promotion that a SIGKILL cut short. Returns what was done, None if nothing.

    rendered/<dst> is always the old or the new tree (atomic swap): if it matches the edited env
    file the promotion landed and only the journal is left; otherwise the env file is put back.
    """
    path = Path(root) / JOURNAL
    if not path.is_file():
        return None
    lock = _try_lock(Path(root), wait=False)
    if lock is None:
        return None  # the promotion is still running (this process or another): not ours to repair
    try:
        return _repair(Path(root), path, warn)
    finally:
        _unlock(lock)


def _repair(root: Path, path: Path, warn: Callable[[str], None]) -> str | None:
    if not path.is_file():
        return None  # repaired by whoever held the lock before us
    try:
        data = json.loads(path.read_text())
        env_file, dst = Path(root) / data["env_file"], str(data["dst"])
        original = base64.b64decode(data["original"], validate=True)
        if Path(data["env_file"]).is_absolute() or ".." in Path(data["env_file"]).parts:
            raise ValueError("env_file outside the repo")
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{JOURNAL} is not a drydock promotion journal", file=str(JOURNAL),
                         hint="check environments/*.yaml with `git diff`, then delete the journal file") from None
    current = env_file.read_bytes() if env_file.exists() else None
    if current == original:
        what = f"an interrupted promotion to {dst} had not started editing; its journal was removed"
    else:
        try:
            from .model import load_project as load
            from .render import compare, render_env
            landed = compare(render_env(load(root), dst), Path(root) / "rendered" / dst).up_to_date
        except InputError:
            landed = False
        if landed:
            what = f"an interrupted promotion to {dst} had landed (rendered/{dst} matches); its journal was removed"
        else:
            _write_atomic(env_file, original)
            what = f"an interrupted promotion to {dst} was undone: {data['env_file']} restored"
    path.unlink(missing_ok=True)
    warn(what)
    return what


@contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted here, so the edit is undone before the process exits."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


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
