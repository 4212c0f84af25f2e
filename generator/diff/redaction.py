"""Redaction: secret values are replaced before anything is diffed or printed."""
from __future__ import annotations

import re
from typing import Any, Callable

_CRED_ENV = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|KEY|CREDENTIAL|CREDS?(?:$|_)|AUTH|PRIVATE|DSN|SALT", re.I)
_CRED_MAPKEY = re.compile(r"password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|client[_-]?secret|auth[_-]?key|dsn", re.I)
# mapping keys that name or point to a secret rather than hold one
_REF_KEY = re.compile(r"(name|names|ref|refs|path|file|selector|mount|namespace|type|enabled|ttl|provider)$", re.I)
_URL_USERINFO = re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<at>@)", re.I)

REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted: changed>"
REDACTED_ADDED = "<redacted: added>"


def _segment(item: Any, i: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("name"), (str, int)):
        return f"[name={item['name']}]"
    return f"[{i}]"


def _redact(obj: Any, on_secret: Callable[[tuple, Any], Any]) -> Any:
    """Copy of obj with every secret value replaced by on_secret(path, value)."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        # v1 List / SecretList: each item is redacted by its own kind
        rest = _redact({k: v for k, v in obj.items() if k != "items"}, on_secret)
        items = []
        for i, item in enumerate(obj["items"]):
            seg = ("items", _segment(item, i) if not isinstance(item, dict) else f"[{i}]")
            items.append(_redact(item, lambda p, v, seg=seg: on_secret(seg + p, v)))
        return {**rest, "items": items} if isinstance(rest, dict) else rest

    def whole(value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            return {k: on_secret(path + (str(k),), v) for k, v in value.items()}
        return on_secret(path, value)

    def walk(node: Any, path: tuple, parent_key: str | None) -> Any:
        if isinstance(node, dict):
            res: dict = {}
            for k, v in node.items():
                ks = str(k)
                p = path + (ks,)
                if kind == "Secret" and path == () and ks in ("data", "stringData"):
                    res[k] = whole(v, p)
                elif kind == "SealedSecret" and path == ("spec",) and ks == "encryptedData":
                    res[k] = whole(v, p)
                elif kind == "SealedSecret" and path == ("spec", "template") and ks in ("data", "stringData"):
                    res[k] = whole(v, p)
                elif kind == "ConfigMap" and path == () and ks in ("data", "binaryData") and isinstance(v, dict):
                    res[k] = {
                        dk: on_secret(p + (str(dk),), dv) if _CRED_ENV.search(str(dk)) else walk(dv, p + (str(dk),), str(dk))
                        for dk, dv in v.items()
                    }
                elif (
                    parent_key == "env"
                    and ks == "value"
                    and isinstance(node.get("name"), str)
                    and _CRED_ENV.search(node["name"])
                ):
                    res[k] = on_secret(p, v)
                elif _CRED_MAPKEY.search(ks) and not _REF_KEY.search(ks) and not isinstance(v, (dict, list, bool)):
                    res[k] = on_secret(p, v) if v is not None else v
                else:
                    res[k] = walk(v, p, ks)
            return res
        if isinstance(node, list):
            return [walk(item, path + (_segment(item, i),), parent_key) for i, item in enumerate(node)]
        if isinstance(node, str) and "://" in node and "@" in node:
            passwords = tuple(m.group("pw") for m in _URL_USERINFO.finditer(node))
            if passwords:
                label = str(on_secret(path + ("(url password)",), passwords))
                return _URL_USERINFO.sub(lambda m: m.group("pre") + label + m.group("at"), node)
        return node

    return walk(obj, (), None)


def secret_values(obj: Any) -> dict[tuple, Any]:
    found: dict[tuple, Any] = {}

    def grab(path: tuple, value: Any) -> Any:
        found[path] = value
        return REDACTED

    _redact(obj, grab)
    return found


def redact_pair(base: Any, head: Any) -> tuple[Any, Any]:
    """Redacted copies of both sides; the head side says which secrets changed."""
    base_secrets = secret_values(base) if base is not None else {}

    def head_label(path: tuple, value: Any) -> str:
        if path not in base_secrets:
            return REDACTED_ADDED if base is not None else REDACTED
        return REDACTED if base_secrets[path] == value else REDACTED_CHANGED

    rb = _redact(base, lambda p, v: REDACTED) if base is not None else None
    rh = _redact(head, head_label) if head is not None else None
    return rb, rh

