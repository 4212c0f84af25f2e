"""YAML in and out.

Manifest reading (this part): `read_manifests` turns files, directories and stdin
into `Document`s with the line each object starts on; `parse_manifests` does the
same for a string; `field_line` finds the line of a field inside a document.

Parsing uses PyYAML's C loader (libyaml) when present. We compose each document
to a node first (the C parser does that anyway) and construct the object from the
node, so start lines come for free; field lines are only looked up (by composing
`Document.text` again) for documents that have a finding.

Manifest writing (end of file): `ordered` puts keys in drydock's fixed order and drops
nulls; `dump_yaml` writes the deterministic YAML every rendered file is made of.
"""
from __future__ import annotations

import functools
import gc
import os
import re
import sys
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

import yaml

from .errors import InputError, Problem
from .core import Document, SourceRef

_BaseLoader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class ManifestLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with Kubernetes semantics for two YAML 1.1 oddities.

    * timestamps stay strings (Kubernetes decodes YAML to JSON: `2024-01-01` is a string there);
    * a bare `=` is the string "=" (PyYAML otherwise fails on the `value` tag).
    """


    # The C parser asks the (pure Python, regex-based) resolver for every scalar's tag;
    # manifests repeat the same keys and values endlessly, so the answers are memoised
    # (a C-level LRU cache: measured ~7% faster parsing than calling the resolver).
    resolve = staticmethod(functools.lru_cache(maxsize=65536)(
        lambda kind, value, implicit: yaml.resolver.Resolver.resolve(ManifestLoader, kind, value, implicit)))

    def descend_resolver(self, current_node, current_index):  # no path resolvers are registered
        pass

    def ascend_resolver(self):
        pass

    def construct_yaml_float(self, node):
        """JSON, and so the API server and every engine, has no NaN or infinity: `.nan` in a
        manifest is a file Kubernetes cannot read, not a number to gate."""
        value = super().construct_yaml_float(node)
        if value != value or value in (float("inf"), float("-inf")):
            raise NotFinite(None, None, f"{node.value} is not a finite number (JSON and Kubernetes have no NaN or "
                                        "infinity)", node.start_mark)
        return value


class NotFinite(yaml.constructor.ConstructorError):
    """A `.nan` / `.inf` scalar in a manifest."""


def _construct_str(loader, node):
    return loader.construct_scalar(node)


ManifestLoader.add_constructor("tag:yaml.org,2002:float", ManifestLoader.construct_yaml_float)
ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
ManifestLoader.add_constructor("tag:yaml.org,2002:value", _construct_str)

_YAML_SUFFIXES = (".yaml", ".yml")
_KIND_NAMES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_SOURCE_RE = re.compile(r"^#\s*Source:\s*(\S+)", re.MULTILINE)

_HINT_SYNTAX = "fix the YAML at that line: wrong indentation, a missing ':' or an unclosed quote are the usual causes"
_HINT_TAG = "manifests are plain YAML: remove the tag (drydock never constructs Python objects or custom types)"
_HINT_MAPPING = "each YAML document must be one Kubernetes object (a mapping with apiVersion, kind, metadata); remove or fix this document"


def display_path(path: Path | str) -> str:
    """Path as shown to users: relative to the working directory when inside it, `/`-separated."""
    path = os.path.normpath(path)
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            rel = ".."
        if not rel.startswith(".."):
            path = rel
    return path.replace(os.sep, "/") if os.sep != "/" else path


def _manifest_files(root: str) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(_YAML_SUFFIXES) and not name.startswith("."):
                found.append(os.path.join(dirpath, name))
    found.sort(key=lambda f: f.split(os.sep))  # path order, component by component (as Path sorts)
    return found


def iter_manifest_files(root: Path | str) -> list[Path]:
    """All `*.yaml`/`*.yml` files under `root`, recursively, sorted; hidden folders and files skipped."""
    return [Path(f) for f in _manifest_files(os.fspath(root))]


def expand_paths(paths: Sequence[str | Path]) -> list[str]:
    """Files to read, in order: directories expanded (see `iter_manifest_files`), `-` kept.

    Raises InputError for a path that does not exist or a directory without YAML files.
    """
    out: list[str] = []
    for p in paths:
        path = os.fspath(p)
        if path == "-":
            out.append(path)
        elif os.path.isdir(path):
            files = _manifest_files(path)
            if not files:  # gating or validating nothing must not look like a pass
                raise InputError(Problem(f"no YAML files (*.yaml, *.yml) in {p}", file=str(p),
                                         hint="point at the folder with the manifests (e.g. rendered/<env>), or render first: drydock synth"))
            out.extend(files)
        elif os.path.isfile(path):
            out.append(path)
        else:
            raise InputError(Problem(f"no such file or directory: {p}", file=str(p),
                                     hint="pass existing files or directories, or '-' to read standard input"))
    return out


def read_manifests_tolerant(paths: Sequence[str | Path], stdin: IO[str] | None = None) -> tuple[list[Document], list[Problem]]:
    """Like `read_manifests`, but a file that cannot be read or parsed is skipped and its
    problem returned instead of raised (`drydock check DIR` reports it and gates the rest).
    A missing path or a folder without YAML still raises: that is a wrong command line."""
    problems: list[Problem] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(paths, stdin, problems), problems
    finally:
        if gc_was_enabled:
            gc.enable()


def read_manifests(paths: Sequence[str | Path], stdin: IO[str] | None = None) -> list[Document]:
    """Read Kubernetes manifests from files, directories (recursive) and `-` (stdin).

    Returns one `Document` per object, in path order then file order. Empty documents
    are skipped; `kind: List` documents are expanded into their items.
    Raises `InputError` (file:line and a hint) for a missing path, YAML that does not
    parse, a custom tag, or a document that is not a mapping.
    """
    # Parsing allocates many small objects that all stay alive: the cyclic GC only costs time here.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(paths, stdin)
    finally:
        if gc_was_enabled:
            gc.enable()


def _read(paths: Sequence[str | Path], stdin: IO[str] | None, problems: list[Problem] | None = None) -> list[Document]:
    docs: list[Document] = []
    for f in expand_paths(paths):
        try:
            docs.extend(_read_one(f, stdin))
        except InputError as e:
            if problems is None:
                raise
            problems.extend(e.problems)
    return docs


def _read_one(f: str, stdin: IO[str] | None) -> list[Document]:
    if f == "-":
        stream = stdin if stdin is not None else sys.stdin
        return parse_manifests(stream.read(), "<stdin>")
    shown = display_path(f)
    try:
        with open(f, "rb") as fh:  # bytes + decode: measurably cheaper than a text-mode reader
            data = fh.read()
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        why = "it is UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else e.reason
        raise InputError(Problem(f"file is not UTF-8 text ({why} at byte {e.start})",
                                 file=shown, line=data.count(b"\n", 0, e.start) + 1,
                                 hint="save the manifest as UTF-8")) from None
    except OSError as e:
        raise InputError(Problem(f"cannot read file: {e.strerror}", file=shown,
                                 hint="check the path and its permissions")) from None
    return parse_manifests(text, shown)


def _reader_line(err: yaml.reader.ReaderError, content: str) -> int:
    """1-based line of a ReaderError: libyaml gives a byte offset, the pure reader a character index."""
    text = content if _BaseLoader is yaml.SafeLoader else content.encode("utf-8", "surrogatepass")
    return text.count("\n" if isinstance(text, str) else b"\n", 0, max(err.position, 0)) + 1


def _yaml_problem(err: yaml.YAMLError, file: str, content: str | None = None) -> Problem:
    if isinstance(err, yaml.reader.ReaderError):  # its str() spans two lines and has no mark
        what = f"character #x{err.character:04x}" if isinstance(err.character, int) else f"byte {err.character!r}"
        return Problem(f"YAML does not parse: unacceptable {what}: {err.reason}", file=file,
                       line=_reader_line(err, content) if content is not None else None,
                       hint="remove the control character (YAML allows printable Unicode, tab, CR and LF only)")
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    problem = getattr(err, "problem", None) or str(err)
    if isinstance(err, NotFinite):
        return Problem(problem, file=file, line=line, column=column,
                       hint="write a finite number (or quote it if it is text)")
    if isinstance(err, yaml.constructor.ConstructorError) and "tag" in problem:
        m = re.search(r"tag '([^']+)'", problem)
        tag = m.group(1) if m else "?"
        if tag.startswith("tag:yaml.org,2002:"):
            tag = "!!" + tag[len("tag:yaml.org,2002:"):]
        return Problem(f"custom YAML tag {tag} is not allowed", file=file, line=line, column=column, hint=_HINT_TAG)
    context = getattr(err, "context", None)
    cmark = getattr(err, "context_mark", None)
    if context and cmark is not None and mark is not None and cmark.line != mark.line:
        context += f" started at line {cmark.line + 1}"
    msg = f"YAML does not parse: {problem}" + (f" ({context})" if context else "")
    return Problem(msg, file=file, line=line, column=column, hint=_HINT_SYNTAX)


class _Fallback(Exception):
    """The fast constructor met something only PyYAML's constructor handles (merge keys, !!set, ...)."""


_T = "tag:yaml.org,2002:"


_STR, _INT, _BOOL, _NULL, _FLOAT = (_T + t for t in ("str", "int", "bool", "null", "float"))
_MAP, _SEQ, _MERGE = _T + "map", _T + "seq", _T + "merge"
_AS_STRING = {_STR, _T + "timestamp", _T + "value"}
_Scalar, _Mapping, _Sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


def _fast_construct(loader, node):
    """Node -> plain Python object, ~10x faster than `construct_document` for manifests.

    Handles the JSON-like subset (str, int, float, bool, null, mappings, sequences),
    timestamps and `=` as strings, and raises `InputError`-worthy duplicate keys as
    `_Duplicate`. Anything else raises `_Fallback` and the caller uses PyYAML's constructor.
    String scalars, by far the most common nodes, are handled inline without a call.
    """
    cls = node.__class__
    if cls is _Scalar:
        tag = node.tag
        if tag in _AS_STRING:
            return node.value
        if tag == _INT:
            v = node.value
            if v.isdecimal() and (v[0] != "0" or v == "0"):  # plain decimal; 0-prefixed is octal in YAML 1.1
                return int(v)
            return loader.construct_yaml_int(node)
        if tag == _BOOL:
            return loader.construct_yaml_bool(node)
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            return loader.construct_yaml_float(node)
        raise _Fallback
    if cls is _Mapping:
        if node.tag != _MAP:
            raise _Fallback
        out = {}
        for k, v in node.value:
            if k.__class__ is not _Scalar or k.tag != _STR:
                if k.__class__ is not _Scalar or k.tag == _MERGE:
                    raise _Fallback
                key = _json_key(_fast_construct(loader, k))
            else:
                key = k.value
            if key in out:
                raise _Duplicate(k)
            out[key] = v.value if v.__class__ is _Scalar and v.tag == _STR else _fast_construct(loader, v)
        return out
    if cls is _Sequence:
        if node.tag != _SEQ:
            raise _Fallback
        return [x.value if x.__class__ is _Scalar and x.tag == _STR else _fast_construct(loader, x) for x in node.value]
    raise _Fallback


def _json_key(value: Any) -> Any:
    """A non-string key as the JSON key Kubernetes makes of it (`1:` -> "1", `true:` -> "true"):
    in Python `True == 1`, so `1:` and `true:` in one mapping would look like a duplicate."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value) if isinstance(value, (int, float)) else value


class _Duplicate(Exception):
    def __init__(self, key_node):
        super().__init__(key_node.value)
        self.node = key_node


def _construct(loader, node, file: str):
    try:
        return _fast_construct(loader, node)
    except _Fallback:
        return loader.construct_document(node)
    except RecursionError:  # a self-referencing alias, or absurd nesting
        raise InputError(Problem("document nests too deeply (a recursive alias?)", file=file,
                                 line=node.start_mark.line + 1, hint="Kubernetes objects are plain trees: remove the recursive alias")) from None
    except _Duplicate as d:
        raise InputError(Problem(f"duplicate key {d.node.value!r}", file=file, line=d.node.start_mark.line + 1,
                                 column=d.node.start_mark.column + 1,
                                 hint="YAML keys must be unique and Kubernetes rejects duplicate fields: keep one")) from None


MAX_EXPANDED_NODES = 1_000_000  # a real manifest has a few thousand; an alias bomb has billions


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse documents whose aliases expand to absurd sizes ("billion laughs").

    Aliases share nodes, so composing is cheap, but building and validating the object
    would touch every expanded node. Sizes are counted once per distinct node.
    """
    sizes: dict[int, int] = {}

    def size(node) -> int:
        key = id(node)
        got = sizes.get(key)
        if got is not None:
            return got
        sizes[key] = 1  # cycles (recursive aliases) count once here; the constructor refuses them
        if node.__class__ is yaml.MappingNode:
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif node.__class__ is yaml.SequenceNode:
            total = 1 + sum(size(x) for x in node.value)
        else:
            total = 1
        sizes[key] = total
        return total

    try:
        total = size(root)
    except RecursionError:
        total = MAX_EXPANDED_NODES + 1
    if total > MAX_EXPANDED_NODES:
        raise InputError(Problem(f"document expands to more than {MAX_EXPANDED_NODES:,} values through YAML aliases",
                                 file=file, line=root.start_mark.line + 1,
                                 hint="Kubernetes refuses excessive aliasing too: write the values out or drop the aliases"))


def _node_text(content: str, node: yaml.Node) -> str:
    """The exact text of `node`, padded so its first line keeps its column."""
    start, end = node.start_mark, node.end_mark
    return " " * start.column + content[start.index:end.index]


def parse_manifests(content: str, file: str) -> list[Document]:
    """Parse one file's (or stdin's) text into Documents. See `read_manifests`."""
    loader = ManifestLoader(content)
    docs: list[Document] = []
    prev_end = 0
    may_alias = "&" in content and "*" in content
    try:
        while loader.check_node():
            node = loader.get_node()
            if may_alias:
                _check_expansion(node, file)
            obj = _construct(loader, node, file)
            start = node.start_mark
            header = content[prev_end:start.index]
            prev_end = node.end_mark.index
            if obj is None:
                continue
            line = start.line + 1
            if not isinstance(obj, dict):
                what = _KIND_NAMES.get(type(obj), type(obj).__name__)
                raise InputError(Problem(f"document is {what}, not a mapping", file=file, line=line, hint=_HINT_MAPPING))
            source = None
            m = None
            for m in _SOURCE_RE.finditer(header):
                pass
            if m is not None:
                source = SourceRef(m.group(1), 1)
            if is_list_kind(obj):
                items_node = next((v for k, v in node.value if k.value == "items"), None)
                for i, item in enumerate(obj["items"]):
                    item_node = items_node.value[i] if items_node is not None else node
                    item_line = item_node.start_mark.line + 1
                    if not isinstance(item, dict):
                        raise InputError(Problem(f"List item {i} is not a mapping", file=file, line=item_line,
                                                 hint=_HINT_MAPPING))
                    full = list_item(obj, item)
                    implied = {k: full[k] for k in ("apiVersion", "kind") if k not in item and isinstance(full.get(k), str)}
                    docs.append(Document(file, item_line, full, source, _node_text(content, item_node),
                                         implied_keys=implied or None))
                continue
            docs.append(Document(file, line, obj, source, _node_text(content, node)))
    except yaml.YAMLError as e:
        raise InputError(_yaml_problem(e, file, content)) from None
    finally:
        loader.dispose()
    return docs


def is_list_kind(obj: dict) -> bool:
    """`kind: List` or a typed list (`DeploymentList`, `PodList`, ...) with an items array."""
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)


def list_item(lst: dict, item: dict) -> dict:
    """An item of a list as the object it stands for: items of a typed list
    (`kind: DeploymentList`) may leave out their kind and apiVersion, which the list implies."""
    kind = lst.get("kind")
    if kind == "List" or not isinstance(item, dict) or ("kind" in item and "apiVersion" in item):
        return item
    implied = {"apiVersion": lst.get("apiVersion"), "kind": kind[:-len("List")]}
    return {**{k: v for k, v in implied.items() if k not in item}, **item}


def _first_node(text: str) -> yaml.Node | None:
    loader = ManifestLoader(text)
    try:
        return loader.get_node() if loader.check_node() else None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def field_line(doc: Document, path: Iterable[str | int]) -> int | None:
    """1-based line in `doc.file` of the field at `path` (keys and list indexes).

    Walks as deep as the path exists and returns that node's line (a key's line for
    mapping entries). Returns None when the document's text is unknown or does not parse.
    `doc.text` may hold just the document or the document plus leading comments.
    """
    if not doc.text:
        return None
    root = _first_node(doc.text)
    if root is None:
        return None
    offset = doc.line - (root.start_mark.line + 1)
    node, line = root, root.start_mark.line
    for key in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    node, line = v, k.start_mark.line
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return line + 1 + offset


@functools.lru_cache(maxsize=4096)
def _span_map(text: str) -> tuple[int, dict[tuple, tuple[int, int]]] | None:
    """(first line of the object, {JSON path: (line, end_line)}) for one document's text, 0-based.

    A mapping entry spans its key's line to the end of its value; a list item its own lines.
    End lines skip the blank and comment lines a block collection's end mark swallows.
    """
    root = _first_node(text)
    if root is None:
        return None
    lines = text.split("\n")

    def end_of(node, start: int) -> int:
        # A block collection's end mark sits at the next token (the next list item's
        # dash, the next key): its last line is that of its last descendant instead.
        while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.value and node.flow_style is not True:
            last = node.value[-1]
            node = last[1] if isinstance(last, tuple) else last
        end = node.end_mark.line - (1 if node.end_mark.column == 0 and node.end_mark.line > start else 0)
        while end > start and (not lines[end].strip() or lines[end].lstrip().startswith("#")):
            end -= 1
        return max(end, start)

    spans: dict[tuple, tuple[int, int]] = {(): (root.start_mark.line, end_of(root, root.start_mark.line))}
    stack: list[tuple[tuple, yaml.Node]] = [((), root)]
    seen: set[int] = set()
    while stack:
        path, node = stack.pop()
        if id(node) in seen:  # an alias: its spans are the anchor's
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    sub = path + (k.value,)
                    spans[sub] = (k.start_mark.line, end_of(v, k.start_mark.line))
                    stack.append((sub, v))
        elif isinstance(node, yaml.SequenceNode):
            for n, item in enumerate(node.value):
                sub = path + (n,)
                spans[sub] = (item.start_mark.line, end_of(item, item.start_mark.line))
                stack.append((sub, item))
    return root.start_mark.line, spans


def field_span(doc: Document, path: Iterable[str | int]) -> tuple[int, int] | None:
    """(line, end_line), 1-based in `doc.file`, of the deepest existing prefix of `path`.

    A rule that judges a missing field (no `readOnlyRootFilesystem`) names the path it
    wanted; the finding then points at the nearest ancestor that exists (the container).
    Returns None when the document's text is unknown or does not parse.
    """
    if not doc.text:
        return None
    got = _span_map(doc.text)
    if got is None:
        return None
    root_line, spans = got
    offset = doc.line - (root_line + 1)
    key: tuple = ()
    best = spans[()]
    for part in path:
        part = part if isinstance(part, int) and not isinstance(part, bool) else str(part)
        nxt = key + (part,)
        if nxt not in spans:
            break
        key, best = nxt, spans[nxt]
    return best[0] + 1 + offset, best[1] + 1 + offset


# -- writing: deterministic YAML ---------------------------------------------------------
# Keys that read best first; everything else follows alphabetically.
_FIRST = ("name", "apiVersion", "kind", "metadata", "namespace", "labels", "annotations", "spec", "data")


def ordered(value: Any) -> Any:
    """A copy with mapping keys in drydock's order and null values dropped."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_FIRST.index(k) if k in _FIRST else len(_FIRST), k))
        return {k: ordered(value[k]) for k in keys if value[k] is not None}
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _dumper(base: type) -> type:
    dumper = type(f"Drydock{base.__name__}", (base,), {"ignore_aliases": lambda self, data: True})
    dumper.add_representer(str, _str_representer)
    return dumper


# libyaml's emitter is ~10x faster; tests/test_render.py proves both emitters write the same
# bytes for every rendered file, so output does not depend on which one a machine has.
PURE_DUMPER = _dumper(yaml.SafeDumper)
DUMPER = _dumper(yaml.CSafeDumper) if hasattr(yaml, "CSafeDumper") else PURE_DUMPER


def dump_yaml(obj: Any, dumper: type = DUMPER) -> str:
    """Deterministic block-style YAML of `obj` (keys ordered, nulls dropped, no aliases)."""
    return dump_ordered(ordered(obj), dumper)


def dump_ordered(obj: Any, dumper: type = DUMPER) -> str:
    """dump_yaml of an object that already went through ordered() (the render orders once)."""
    return yaml.dump(obj, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=10_000, indent=2)
