"""YAML in: parse rendered files into resources keyed by identity; YAML out: stable lines to diff."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import yaml

from ..core import Resource
from .model import RENDERED, ResourceKey

try:  # the C loader is several times faster on big trees
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml built without libyaml
    _Loader = yaml.SafeLoader


@dataclass
class _Doc:
    key: ResourceKey
    app: str
    path: str
    obj: Any


def split_path(path: str) -> tuple[str, str]:
    """rendered/<env>/<app>/<file> -> (env, app)."""
    parts = path.split("/")
    try:
        i = parts.index(RENDERED)
    except ValueError:
        i = -1
    rest = parts[i + 1 :]
    env = rest[0] if len(rest) > 1 else ""
    app = rest[1] if len(rest) > 2 else ""
    return env, app


def parse_files(files: dict[str, bytes], warnings: list[str]) -> dict[ResourceKey, _Doc]:
    out: dict[ResourceKey, _Doc] = {}
    for path in sorted(files):
        env, app = split_path(path)
        try:
            docs = list(yaml.load_all(files[path].decode("utf-8", "replace"), Loader=_Loader))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else path
            warnings.append(f"{where}: not valid YAML, skipped ({getattr(e, 'problem', None) or e})")
            continue
        for n, obj in enumerate(docs):
            if obj is None:
                continue
            if isinstance(obj, dict):
                r = Resource.of(obj)
                key = ResourceKey(env, r.api_version, r.kind, r.namespace, r.name)
            else:
                key = ResourceKey(env, "", "", "", "", dup=f"{path}#{n}")
            if key in out:
                warnings.append(f"{path}: {key.display()} in {env or '(no env)'} also in {out[key].path}; compared by file")
                key = replace(key, dup=f"{path}#{n}")
            out[key] = _Doc(key, app, path, obj)
    return out


def _canon(obj: Any) -> Any:
    """Mapping keys as strings (YAML allows int/bool/null keys; sorting mixed keys fails)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            ks = k if isinstance(k, str) else yaml.safe_dump(k, default_flow_style=True).strip().removesuffix("...").strip()
            while ks in out:
                ks += "'"
            out[ks] = _canon(v)
        return out
    if isinstance(obj, list):
        return [_canon(v) for v in obj]
    return obj


def dump_lines(obj: Any) -> list[str]:
    """Stable YAML lines: sorted keys, block style, no line folding."""
    if obj is None:
        return []
    text = yaml.safe_dump(_canon(obj), sort_keys=True, default_flow_style=False, allow_unicode=True, width=1_000_000)
    return text.splitlines()

