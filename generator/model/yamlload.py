"""Strict, line-aware YAML loading for drydock's own input files.

Inputs are small hand-written files, so we trade a little speed for safety and
precise errors: every value keeps its line and column, duplicate keys, aliases,
custom tags, several documents, oversized or deeply nested files are refused
with a message that says how to fix them.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, Problem

MAX_INPUT_BYTES = 1024 * 1024  # inputs are hand-written; 1 MiB is far beyond any real one
MAX_DEPTH = 32

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
# Timestamps stay strings: a date like 2026-01-31 means the text the user typed.
_AS_STRING_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}

Path_ = tuple  # a path into the document: ("spec", "ports", 0, "port")
LineMap = dict  # Path_ -> (line, column), both 1-based; see load_document


def key_position(lines: LineMap, path: tuple) -> tuple[int | None, int | None]:
    """Where the key that ends `path` is written (for 'unknown key' errors)."""
    return lines.get(("#key",) + path) or lines.get(path, (None, None))


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def read_text(path: Path, display: str, root: Path | None = None) -> str:
    """Read an input file: a regular file (or a link to one inside `root`), UTF-8, under the size limit.

    FIFOs, devices, sockets and directories are refused before anything is opened (a FIFO
    would block the run); a symlink that leaves the repo is refused (an input is what the
    repo says, not what some other folder holds).
    """
    path = Path(path)
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = path.resolve(strict=True)
            if root is not None and not _inside(target, Path(root).resolve()):
                raise InputError(f"input file is a symlink to {target}, outside the repository", file=display,
                                 hint="replace the link with the file itself (inputs must live in the repo)")
            st = os.stat(target)
        elif root is not None and not _inside(path.resolve(), Path(root).resolve()):
            # the file is no link, but a folder on its way is (waivers/ -> /elsewhere)
            raise InputError(f"input file is in a linked folder, at {path.resolve()}, outside the repository",
                             file=display, hint="replace the linked folder with the files themselves (inputs must "
                                                "live in the repo)")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"input is not a regular file (it is a {_file_type(st.st_mode)})", file=display,
                             hint="inputs must be plain YAML files; remove or rename it")
        if st.st_size > MAX_INPUT_BYTES:
            raise InputError(
                f"file is {st.st_size} bytes, over the {MAX_INPUT_BYTES}-byte limit for input files",
                file=display, hint="input files describe one service or environment; split or trim it")
        # O_NONBLOCK: if the file was swapped for a FIFO since the check, open() must not hang.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError("input is not a regular file", file=display, hint="inputs must be plain YAML files")
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise InputError("cannot read file: it does not exist (or is a broken symlink)", file=display,
                         hint="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=display, hint="check the path and its permissions") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"file is over the {MAX_INPUT_BYTES}-byte limit for input files", file=display,
                         hint="input files describe one service or environment; split or trim it")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 BOM is harmless; editors on Windows add it
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})", file=display, line=line,
                         hint="save the file as UTF-8")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def load_document(text: str, display: str) -> tuple[Any, LineMap]:
    """Parse exactly one YAML document; return its value and a path -> (line, col) map.

    A scalar's path maps to where its value is written; a mapping's or list's path to
    its key (block collections start on the next line, the key is what users look for).
    """
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        hint = "fix the YAML syntax at that spot"
        if "\t" in text and ("tab" in str(what).lower() or "found character" in str(what)):
            hint = "YAML indentation must use spaces, not tabs"
        if "nesting depth" in str(what):  # libyaml's own limit, met before ours
            hint = f"keep nesting under {MAX_DEPTH} levels"
        raise InputError(Problem(f"invalid YAML: {what}", display, mark.line + 1 if mark else None,
                                 mark.column + 1 if mark else None, hint=hint)) from None
    except yaml.reader.ReaderError as exc:  # str(exc) spans two lines and has no mark: say it on one
        raw = text if _Loader is yaml.SafeLoader else text.encode("utf-8", "surrogatepass")
        line = raw.count("\n" if isinstance(raw, str) else b"\n", 0, max(exc.position, 0)) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise InputError(f"invalid YAML: unacceptable character {what}: {exc.reason}", file=display, line=line,
                         hint="remove the control character (YAML allows printable Unicode, tab, CR and LF only)") from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=display, hint="fix the YAML syntax") from None
    except RecursionError:
        raise InputError("document is nested too deeply", file=display, hint=f"keep nesting under {MAX_DEPTH} levels") from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise InputError("file is empty", file=display, line=1,
                         hint="write an apiVersion/kind/metadata/spec document, or delete the file")
    if len(nodes) > 1:
        second = nodes[1].start_mark.line + 1
        raise InputError("file holds more than one YAML document", file=display, line=second,
                         hint="put one service or environment per file (remove the extra '---')")
    lines: LineMap = {}
    value = _build(nodes[0], (), lines, display, 0, set())
    return value, lines


def _build(node: yaml.Node, path: tuple, lines: LineMap, display: str, depth: int, seen: set[int]) -> Any:
    mark = node.start_mark
    lines[path] = (mark.line + 1, mark.column + 1)
    if depth > MAX_DEPTH:
        raise InputError(Problem("document is nested too deeply", display, mark.line + 1, mark.column + 1,
                                 hint=f"keep nesting under {MAX_DEPTH} levels"))
    if id(node) in seen:
        # The composer resolves an alias to the anchored node itself, so meeting a node twice
        # means an alias. Unneeded in small inputs, and how "billion laughs" documents explode.
        raise InputError(Problem("YAML anchors and aliases are not allowed in drydock inputs", display,
                                 mark.line + 1, mark.column + 1, hint="write the value out in full"))
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise _bad_tag(node, display)
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(Problem("mapping keys must be plain strings", display, key_node.start_mark.line + 1,
                                         key_node.start_mark.column + 1, hint="use a simple word as the key"))
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(Problem("YAML merge keys (<<) are not allowed in drydock inputs", display,
                                         key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                         hint="write the keys out in full"))
            key = key_node.value
            kline = key_node.start_mark.line + 1
            if key in out:
                first = lines[("#key",) + path + (key,)][0]
                raise InputError(Problem(f"duplicate key '{key}' (first defined on line {first})", display, kline,
                                         key_node.start_mark.column + 1, field=format_path(path + (key,)),
                                         hint="remove one of the two entries"))
            out[key] = _build(value_node, path + (key,), lines, display, depth + 1, seen)
            lines[("#key",) + path + (key,)] = (kline, key_node.start_mark.column + 1)
            if not isinstance(value_node, yaml.ScalarNode):
                lines[path + (key,)] = (kline, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise _bad_tag(node, display)
        return [_build(item, path + (i,), lines, display, depth + 1, seen) for i, item in enumerate(node.value)]
    if not node.style:  # plain: None from PyYAML, '' from libyaml
        lines[("#plain",) + path] = node.value  # the text as typed, for "quote it" checks (scalars.py)
    if node.tag in _AS_STRING_TAGS:
        return node.value
    if node.tag not in _PLAIN_TAGS:
        raise _bad_tag(node, display)
    return _constructor.construct_object(node)


def _bad_tag(node: yaml.Node, display: str) -> InputError:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    return InputError(Problem(f"YAML tag '{tag}' is not allowed", display, node.start_mark.line + 1,
                              node.start_mark.column + 1, hint="remove the tag; drydock inputs are plain data"))
