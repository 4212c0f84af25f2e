"""Input spec versions: which `apiVersion`s drydock reads, and how an old one is brought up to date.

Every services/ and environments/ file (and waivers.yaml) names its format in `apiVersion`.
`VERSIONS` maps each apiVersion drydock reads to a `SpecVersion`: `upgrade` (None for the
current version) rewrites an old document into the current form before the schema check,
and `deprecation` says what to change, issued as a `DeprecatedInput` warning naming the
file. The command line prints those as `warning: ...`; a library caller sees them through
the `warnings` module. An apiVersion not in `VERSIONS` is an input error naming the
supported ones (exit 2).

Adding drydock/v2 later: add its schema, make it `CURRENT`, and give drydock/v1 an
`upgrade` that rewrites a v1 document into v2 plus a deprecation message (as tanka's
`handleDeprecated`). Lines stay those of the file the user wrote.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import Problem

CURRENT = "drydock/v1"


class DeprecatedInput(UserWarning):
    """An input file uses an apiVersion (or form) that still loads but will stop loading."""


@dataclass(frozen=True)
class SpecVersion:
    api_version: str
    upgrade: Callable[[dict], dict] | None = None  # old document -> the CURRENT form; None: is current
    deprecation: str = ""  # what to change, said once per file that uses it


VERSIONS: dict[str, SpecVersion] = {
    CURRENT: SpecVersion(CURRENT),
}


def supported() -> list[str]:
    return sorted(VERSIONS)


def upgrade(data: Any, lines: dict, display: str) -> tuple[Any, list[Problem]]:
    """The document in the CURRENT form, or problems when its apiVersion is unknown.

    A document that is not a mapping, or has no string apiVersion, is returned as it is:
    the schema check reports those with its usual messages.
    """
    if not isinstance(data, dict) or not isinstance(data.get("apiVersion"), str):
        return data, []
    version = VERSIONS.get(data["apiVersion"])
    if version is None:
        line, col = lines.get(("apiVersion",), (None, None))
        return data, [Problem(f"apiVersion {data['apiVersion']!r} is not supported by this drydock",
                              display, line, col, "apiVersion",
                              f"use one of: {', '.join(supported())} (docs/inputs.md), or upgrade drydock")]
    if version.upgrade is None:
        return data, []
    if version.deprecation:
        line = lines.get(("apiVersion",), (None, None))[0]
        where = f"{display}:{line}" if line else display
        warnings.warn(DeprecatedInput(f"{where}: {version.deprecation}"), stacklevel=2)
    new = version.upgrade(dict(data))
    return {**new, "apiVersion": CURRENT}, []
