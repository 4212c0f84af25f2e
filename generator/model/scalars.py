"""Scalars that do not mean what they look like: refused with a hint to quote them.

YAML 1.1 (PyYAML, and sigs.k8s.io/yaml under kubectl and ArgoCD) reads `NO` as false,
`0755` as 493, `1:30` as 90; YAML 1.2 readers read `1e3` as 1000 and `0o17` as 15. A
service `config` value ends up as a string in a ConfigMap, so it must be the text the user
typed: an unquoted value is accepted only when every common YAML reader agrees on its text
(plain words, decimal integers without leading zeros, decimals, true/false). Anything else
must be quoted. Numbers that are not finite (.nan, .inf) are refused in every field.
"""
from __future__ import annotations

import math
import re
from typing import Any

from ..errors import Problem
from .yamlload import format_path

# Plain scalars some YAML reader (1.1 or 1.2 core) turns into a non-string, or into another text.
_AMBIGUOUS = re.compile(r"""\A(?:
    ~|null|Null|NULL|
    y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|
    [-+]?(?:0|[1-9][0-9_]*)|[-+]?0[0-7_]+|[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+|
    [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|
    [-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|
    [-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|
    [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?|=|<<
)\Z""", re.X)
# Numbers every YAML reader reads alike: decimal, no leading zero, no `_`, no `0x`/`0o`, no `1:30`
# (`port: 0443` is 291 to YAML 1.1 and 443 to YAML 1.2; `8_080` is a string to YAML 1.2).
_PLAIN_NUMBER = re.compile(r"\A[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+][0-9]+)?\Z")
# Unquoted forms whose meaning every reader agrees on; the text is kept as typed.
_SAFE = re.compile(r"\A(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false)\Z")


def scalar_problems(data: Any, lines: dict, display: str) -> list[Problem]:
    problems: list[Problem] = []
    spec = data.get("spec") if isinstance(data, dict) else None
    config_maps: list[tuple] = []
    if isinstance(spec, dict) and data.get("kind") == "Service":
        config_maps.append(("spec", "config"))
        for env, o in (spec.get("overrides") or {}).items() if isinstance(spec.get("overrides"), dict) else ():
            config_maps.append(("spec", "overrides", env, "config"))
    config_paths = set()
    for base in config_maps:
        node = _get(data, base)
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            path = base + (key,)
            config_paths.add(path)
            text = lines.get(("#plain",) + path)
            if text is None or not isinstance(value, (str, int, float, bool, type(None))):
                continue  # quoted (as written) or not a scalar (the schema says so)
            if _SAFE.match(text) and _as_text(value) == text:
                continue
            if isinstance(value, str) and not _AMBIGUOUS.match(text):
                continue
            line, col = lines.get(path, (None, None))
            shown = "null (empty)" if value is None else repr(_as_text(value)) if not isinstance(value, str) else "a non-string by other YAML readers"
            problems.append(Problem(
                f"config value {text!r} is read as {shown}, not as the text written", display, line, col, format_path(path),
                f"quote it: {key}: \"{text}\" (config values are strings; YAML turns some unquoted words and numbers into other values)"))
    _walk(data, (), lines, display, problems, config_paths)
    problems += _credentials(data, (), lines, display)
    return problems


def _credentials(value: Any, path: tuple, lines: dict, display: str) -> list[Problem]:
    """A credential by its shape in any other field (an ArgoCD repoURL with a password, a token in
    a description): exit 2. `config` values and add-on `values` are judged per environment as
    DD-CRED findings instead (generator/model/literals.py); high-entropy text is only judged there,
    where a key says what the value is."""
    from ..credentials import find_in_text

    if _judged_as_finding(path):
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _credentials(v, path + (k,), lines, display)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _credentials(v, path + (i,), lines, display)]
    if not isinstance(value, str):
        return []
    for span in find_in_text(value, hide_more=False):
        if span.kind == "high-entropy" or (span.kind == "pem" and "PRIVATE KEY" not in value[span.start:span.start + 80]):
            continue
        line, col = lines.get(path, (None, None))
        return [Problem(f"holds a credential ({span.kind.replace('-', ' ')}); it would be written in clear text to "
                        "rendered/", display, line, col, format_path(path),
                        "remove it: credentials live in AWS Secrets Manager (spec.secrets); a git repository "
                        "ArgoCD reads is given access in ArgoCD, never in the URL")]
    return []


def _judged_as_finding(path: tuple) -> bool:
    return (path[:2] == ("spec", "config") or (len(path) > 3 and path[:2] == ("spec", "overrides") and path[3] == "config")
            or _helm_values(path))


def _walk(value: Any, path: tuple, lines: dict, display: str, out: list[Problem], skip: set) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, path + (k,), lines, display, out, skip)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, path + (i,), lines, display, out, skip)
    elif isinstance(value, float) and not math.isfinite(value) and path not in skip:
        line, col = lines.get(path, (None, None))
        out.append(Problem(f"{lines.get(('#plain',) + path, value)!s} is not a finite number", display, line, col,
                           format_path(path), "write a real number (NaN and infinity are not allowed)"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and path not in skip and not _helm_values(path):
        text = lines.get(("#plain",) + path)
        if text is not None and not _PLAIN_NUMBER.match(text):
            line, col = lines.get(path, (None, None))
            out.append(Problem(f"number {text!r} is read as {value!r} by some YAML readers and differently by others",
                               display, line, col, format_path(path),
                               f"write it as a plain decimal number ({value!r}), without leading zeros, '_', 0x/0o or ':'"))


def _helm_values(path: tuple) -> bool:
    """Helm `values` of an add-on are the chart's, read by Helm's own YAML 1.1 reader as we read them."""
    return len(path) > 3 and path[:2] == ("spec", "addons") and path[3] == "values"


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
