"""JSON-Schema checks of drydock's own input files, with errors a person can act on.

Used by the project loader and by `drydock validate services/x.yaml ...`. Unknown keys get
a "did you mean" from edit distance; a value of the wrong form gets the `x-hint` written
next to its pattern in the schema, never the raw regex. Patterns end in `$(?!\\n)`: in
Python's `re` a bare `$` also matches before a trailing newline, in ECMA-262 (jsonschema-rs)
it does not; the lookahead makes both engines refuse "name\\n" (tests/test_input_trust.py).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import jsonschema

from ..errors import Problem
from .yamlload import format_path, key_position

KINDS = {"Service": "service", "Environment": "environment", "WaiverList": "waivers"}


@lru_cache(maxsize=None)
def schema(kind: str) -> dict:
    return json.loads(resources.files("generator.schemas.inputs").joinpath(f"{kind}.schema.json").read_text())


@lru_cache(maxsize=None)
def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(kind))


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean 'replicas'?' when one allowed word is close enough (case ignored)."""
    best = None
    for c in sorted(choices):
        d = edit_distance(word.lower(), c.lower())
        if d <= max(1, min(3, len(c) // 3)) and (best is None or d < best[0]):
            best = (d, c)
    return f"did you mean '{best[1]}'?" if best else None


def input_problems(data: Any, lines: dict, kind: str, display: str) -> list[Problem]:
    """Scalars YAML would change (scalars.py), then schema problems not already said at the same field."""
    from .scalars import scalar_problems

    first = scalar_problems(data, lines, display)
    said = {p.field for p in first}
    return first + [p for p in schema_problems(data, lines, kind, display) if p.field not in said]


def schema_problems(data: Any, lines: dict, kind: str, display: str) -> list[Problem]:
    problems = []
    for err in sorted(validator(kind).iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            for extra in sorted(k for k in err.instance if k not in allowed):
                line, col = key_position(lines, path + (extra,))
                hint = did_you_mean(extra, allowed) if allowed else None
                hint = hint or (f"remove it; allowed keys here: {', '.join(sorted(allowed))}" if allowed else "remove it")
                problems.append(Problem(f"unknown key '{extra}'", display, line, col, format_path(path + (extra,)), hint))
            continue
        if "propertyNames" in err.relative_schema_path and isinstance(err.instance, str):
            # A bad key of a user map: the error holds the key, its path is the map's.
            line, col = key_position(lines, path + (err.instance,))
            problems.append(Problem(f"key {json.dumps(err.instance)[:60]} has the wrong form", display, line, col,
                                    format_path(path + (err.instance,)), _hint(err)))
            continue
        line, col = lines.get(path, (None, None))
        problems.append(Problem(_explain(err), display, line, col, format_path(path), _hint(err)))
    return problems


def _explain(err: jsonschema.ValidationError) -> str:
    v, inst = err.validator, err.instance
    if v == "type":
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        got = "null" if inst is None else type(inst).__name__
        return f"expected {want}, got {got} {json.dumps(inst)[:60]}"
    if v == "required":
        return err.message.replace("is a required property", "is required")
    if v == "enum":
        return f"{json.dumps(inst)[:60]} is not one of {', '.join(map(str, err.validator_value))}"
    if v == "const":
        return f"must be {json.dumps(err.validator_value)}, got {json.dumps(inst)[:60]}"
    if v == "pattern":
        return f"{json.dumps(inst)[:60]} has the wrong form"
    if v in ("minimum", "maximum"):
        return f"{inst} is out of range ({v} {err.validator_value})"
    if v in ("maxLength", "minLength"):
        return f"{json.dumps(inst)[:60]} is {len(inst)} characters ({v} {err.validator_value})"
    return err.message[:200]


def _hint(err: jsonschema.ValidationError) -> str:
    v = err.validator
    if v == "pattern":
        return f"write {err.schema.get('x-hint') or 'a value of the documented form (docs/inputs.md)'}"
    if v == "type":
        if err.instance is None:
            return "write a value after the colon (an empty value is null)"
        return "write the value without quotes" if err.validator_value in ("integer", "number", "boolean") else "change the value's type"
    if v == "enum":
        close = did_you_mean(str(err.instance), map(str, err.validator_value)) if isinstance(err.instance, str) else None
        return close or f"use one of: {', '.join(map(str, err.validator_value))}"
    if v == "const":
        return f"set it to {err.validator_value}"
    if v == "required":
        return "add the missing key"
    if v == "maxLength":
        return f"shorten it to at most {err.validator_value} characters"
    return "see docs/inputs.md for the file format"
