"""Redaction: secret values are replaced before anything is diffed or printed.

By key: Secret/SealedSecret data; ConfigMap data, annotations, `name`/`value` lists (container
env, Helm parameters) and everything inside Helm `values`/`valuesObject` whose key looks like a
credential (generator.credentials.broad_secret_key); elsewhere, keys like `password`, `apiKey`.
By value: every string is searched for credentials by shape (URL passwords, password= parameters,
JDBC, AWS keys, PEM blocks, high-entropy tokens; generator.credentials.find_in_text).
"""
from __future__ import annotations

import re
from typing import Any, Callable

import yaml

from ..credentials import broad_secret_key, find_in_text, loose_secret_key, replace_spans, secret_key

_CRED_MAPKEY = re.compile(r"password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|client[_-]?secret|auth[_-]?key|dsn", re.I)
# mapping keys that name or point to a secret rather than hold one
_REF_KEY = re.compile(r"(name|names|ref|refs|path|file|selector|mount|namespace|type|enabled|ttl|provider)$", re.I)
# `key: value` / `key=value` / `export KEY=value` lines of an embedded file (properties, .env, INI, YAML)
_LINE = re.compile(r"(?m)^([ \t]*(?:export[ \t]+)?[\"']?([A-Za-z0-9_.\-/]+)[\"']?[ \t]*[:=][ \t]*)(\S.*?)[ \t]*$")
# <password>value</password> elements of an embedded XML file (Maven settings, Tomcat, .NET config)
_XML = re.compile(r"<([A-Za-z_][\w.:-]{0,100})(\s[^<>]*)?>([^<]{1,4096})</\1\s*>")
# a command-line flag that takes the credential as the next argument: ["--db-password", "x"]
_FLAG = re.compile(r"\A-{1,2}([A-Za-z][A-Za-z0-9_.-]*)\Z")
# "key": "value" pairs of inline JSON / flow YAML
_PAIR = re.compile(r"""(["'])([^"'\n]{1,100})\1(\s*:\s*)(["'])((?:(?!\4)[^\\\n]|\\.)*)\4""")

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
        # v1 List / SecretList: each item is redacted by its own kind; items of a typed list
        # (`kind: SecretList`) may leave their kind out: the list's kind implies it
        rest = _redact({k: v for k, v in obj.items() if k != "items"}, on_secret)
        implied = kind[:-len("List")] if kind != "List" else None
        items = []
        for i, item in enumerate(obj["items"]):
            seg = ("items", _segment(item, i) if not isinstance(item, dict) else f"[{i}]")
            typed = isinstance(item, dict) and implied and "kind" not in item
            red = _redact({**item, "kind": implied} if typed else item, lambda p, v, seg=seg: on_secret(seg + p, v))
            if typed and isinstance(red, dict):
                red.pop("kind", None)
            items.append(red)
        return {**rest, "items": items} if isinstance(rest, dict) else rest
    # the API server matches kinds exactly, but a reader of the diff must not see a `kind: secret`'s data
    kind = {"secret": "Secret", "sealedsecret": "SealedSecret", "configmap": "ConfigMap"}.get(
        kind.lower(), kind) if isinstance(kind, str) else kind

    def whole(value: Any, path: tuple) -> Any:
        if isinstance(value, dict):
            return {k: on_secret(path + (str(k),), v) for k, v in value.items()}
        return on_secret(path, value)

    def walk(node: Any, path: tuple, parent_key: str | None, broad: bool = False) -> Any:
        """broad: inside a context where any credential-like key hides its value."""
        if isinstance(node, dict):
            res: dict = {}
            named_value = isinstance(node.get("name"), str) and broad_secret_key(node["name"])
            for k, v in node.items():
                ks = str(k)
                p = path + (ks,)
                if kind == "Secret" and path == () and ks in ("data", "stringData"):
                    res[k] = whole(v, p)
                elif kind == "SealedSecret" and path == ("spec",) and ks == "encryptedData":
                    res[k] = whole(v, p)
                elif kind == "SealedSecret" and path == ("spec", "template") and ks in ("data", "stringData"):
                    res[k] = whole(v, p)
                elif ((kind == "ConfigMap" and path == () and ks in ("data", "binaryData"))
                      or ks == "annotations" or ks == "valuesObject") and isinstance(v, dict):
                    res[k] = walk(v, p, ks, broad=True)
                elif ks == "values" and parent_key == "helm" and isinstance(v, str):
                    res[k] = helm_values(v, p)
                elif named_value and ks == "value":  # env: [{name: DB_PASSWORD, value: ...}], helm parameters
                    res[k] = on_secret(p, v)
                elif not isinstance(v, (dict, list, bool)) and v is not None and (
                        broad_secret_key(ks) if broad else
                        ((_CRED_MAPKEY.search(ks) and not _REF_KEY.search(ks)) or secret_key(ks))):
                    res[k] = on_secret(p, v)
                else:
                    res[k] = walk(v, p, ks, broad)
            return res
        if isinstance(node, list):
            out = []
            for i, item in enumerate(node):
                p = path + (_segment(item, i),)
                prev = node[i - 1] if i else None
                flag = _FLAG.match(prev) if isinstance(prev, str) else None
                if flag and isinstance(item, str) and not item.startswith("-") and loose_secret_key(flag.group(1)):
                    out.append(on_secret(p, item))  # args: ["--db-password", "<the password>"]
                else:
                    out.append(walk(item, p, parent_key, broad))
            return out
        if isinstance(node, str):
            if parent_key != "values" and ("\n" in node.strip() or node.lstrip()[:1] in ("{", "[", "<")):
                node = embedded(node, path)  # an embedded file: YAML, JSON, properties, .env
            spans = find_in_text(node)
            if spans:
                label = str(on_secret(path + ("(value)",), tuple(node[s.start:s.end] for s in spans)))
                return replace_spans(node, spans, label)
        return node

    def embedded(text: str, path: tuple) -> str:
        """A config file inside a string: hide the values of credential-named keys in it."""
        out = helm_values(text, path, walk_after=False)
        out = _XML.sub(lambda m: m.group(0)[: m.start(3) - m.start(0)] + str(on_secret(path + ("(xml)", m.group(1)), m.group(3)))
                       + m.group(0)[m.end(3) - m.start(0):] if broad_secret_key(m.group(1)) else m.group(0), out)
        out = _PAIR.sub(lambda m: m.group(0)[: m.start(5) - m.start(0)] + str(on_secret(path + ("(pair)", m.group(2)), m.group(5)))
                        + m.group(4) if broad_secret_key(m.group(2)) else m.group(0), out)
        return _LINE.sub(lambda m: m.group(1) + str(on_secret(path + ("(line)", m.group(2)), m.group(3)))
                         if broad_secret_key(m.group(2)) and m.group(3).strip() not in ("", "|", ">", "|-", ">-")
                         else m.group(0), out)

    def helm_values(text: str, path: tuple, walk_after: bool = True) -> Any:
        """Helm values given as a YAML string: hide what the same values as a mapping would hide."""
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            found: list[str] = []
            if isinstance(parsed, dict) and isinstance(parsed.get("kind"), str) and isinstance(parsed.get("apiVersion"), str):
                # a whole object inside a string (kubectl's last-applied-configuration annotation):
                # redacted as that object, so a Secret's data is hidden whatever its keys are called
                redacted = _redact(parsed, lambda p, v: on_secret(path + ("(object)",) + p, v))
            else:
                redacted = walk(parsed, path, "valuesObject", broad=True)
            collect(parsed, redacted, found)
            out = text
            for secret in sorted(set(found), key=len, reverse=True):
                if secret and secret not in out:  # written differently (quoted, escaped): show the parsed form
                    return yaml.safe_dump(redacted, sort_keys=True, default_flow_style=False, width=1_000_000)
                out = out.replace(secret, str(on_secret(path + ("(values)",), secret)))
            text = out
        return walk(text, path, "values") if walk_after else text

    def collect(a: Any, b: Any, found: list[str]) -> None:
        """Scalars of `a` that redaction changed in `b`."""
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a:
                collect(a[k], b.get(k), found)
        elif isinstance(a, list) and isinstance(b, list):
            for x, y in zip(a, b):
                collect(x, y, found)
        elif a != b and a is not None and not isinstance(a, (dict, list)):
            found.append(str(a))

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

