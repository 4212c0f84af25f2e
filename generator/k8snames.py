"""Every name and label value a render produces must fit Kubernetes' limits.

Kubernetes refuses an object whose name or labels are too long or of the wrong form, but
only at apply time, in the cluster, long after review. drydock checks the whole render
before any gate or write, and blames the services/ or environments/ line that produced the
object (usually a service name that is too long once suffixes such as `-config` are added).
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .core import Document
from .errors import Problem

DNS1123_LABEL = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
DNS1035_LABEL = re.compile(r"\A[a-z]([-a-z0-9]*[a-z0-9])?\Z")
LABEL_VALUE = re.compile(r"\A(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")

# kind -> (max length, pattern, what Kubernetes calls the rule). Others: DNS-1123 subdomain, 253.
NAME_RULES = {
    "Service": (63, DNS1035_LABEL, "a DNS-1035 label: lower-case letters, digits, '-', starting with a letter"),
    "Namespace": (63, DNS1123_LABEL, "a DNS-1123 label: lower-case letters, digits and '-', starting and ending alphanumeric"),
    "StatefulSet": (63, DNS1123_LABEL, "a DNS-1123 label (its pods' names become labels)"),
    "Job": (63, DNS1123_LABEL, "a DNS-1123 label (the job-name label holds it)"),
    "CronJob": (52, DNS1123_SUBDOMAIN, "52 characters (the Jobs it creates append 11)"),
}
# RBAC objects take any path segment (`system:aggregate-to-edit`): no '/', no '%', not '.' or '..'.
PATH_SEGMENT = re.compile(r"\A(?!\.{1,2}\Z)[^/%]+\Z")
for _kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"):
    NAME_RULES[_kind] = (253, PATH_SEGMENT, "a path segment: no '/' or '%', not '.' or '..'")
DEFAULT_RULE = (253, DNS1123_SUBDOMAIN, "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', "
                                        "starting and ending alphanumeric")
# ConfigMap and Secret data keys
DATA_KEY = re.compile(r"\A(?!\.{1,2}\Z)[-._a-zA-Z0-9]+\Z")


def bad_name(kind: str, name: str) -> tuple[int, str] | None:
    """(limit, rule) when the API server would refuse `name` for a `kind`, else None."""
    limit, pattern, rule = NAME_RULES.get(kind, DEFAULT_RULE)
    return None if len(name) <= limit and pattern.match(name) else (limit, rule)


def refused_names(kind: str, meta: dict, obj: dict) -> list[tuple[list, str]]:
    """What the API server refuses beyond the OpenAPI schema: the object's name format and
    ConfigMap / Secret data keys (the sync would fail on them, after review)."""
    out: list[tuple[list, str]] = []
    name = meta.get("name")
    if isinstance(name, str) and name and (bad := bad_name(kind, name)):
        limit, rule = bad
        out.append((["metadata", "name"], f"{json.dumps(name)} is not a valid {kind} name: it must be {rule}, "
                                          f"at most {limit} characters"))
    if kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData", "stringData"):
            keys = obj.get(field) if isinstance(obj.get(field), dict) else {}
            for key in keys:
                if not (isinstance(key, str) and len(key) <= 253 and DATA_KEY.match(key)):
                    out.append(([field, str(key)], f"key {json.dumps(str(key))} is not a valid {kind} key: letters, "
                                                   "digits, '-', '_' and '.' (not '.' or '..'), at most 253 characters"))
    return out


def name_problems(docs: Iterable[Document]) -> list[Problem]:
    out: list[Problem] = []
    for doc in docs:
        obj = doc.obj if isinstance(doc.obj, dict) else {}
        kind = str(obj.get("kind") or "")
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        name = meta.get("name")
        if isinstance(name, str) and (bad := bad_name(kind, name)):
            limit, rule = bad
            out.append(_problem(doc, f"{kind} name '{name}' ({len(name)} characters) does not fit Kubernetes' "
                                     f"limit of {limit} characters for a {kind} name ({rule})", limit, len(name) - limit))
        for where, labels in _label_maps(obj):
            for key, value in labels.items():
                if isinstance(value, str) and (len(value) > 63 or not LABEL_VALUE.match(value)):
                    out.append(_problem(doc, f"{kind} '{name}' {where} label {key}='{value}' ({len(value)} characters) does not "
                                             "fit Kubernetes' limit of 63 characters for a label value "
                                             "(letters, digits, '-', '_', '.', starting and ending alphanumeric)", 63, len(value) - 63))
        for c in _containers(obj):
            cname = c.get("name")
            if isinstance(cname, str) and (len(cname) > 63 or not DNS1123_LABEL.match(cname)):
                out.append(_problem(doc, f"{kind} '{name}' container name '{cname}' does not fit Kubernetes' limit of 63 "
                                         "characters (DNS-1123 label)", 63, len(cname) - 63))
    return list(dict.fromkeys(out))


def _problem(doc: Document, message: str, limit: int, over: int) -> Problem:
    src = doc.source
    hint = (f"shorten the name in {src.file} by at least {over} characters" if over > 0
            else "use lower-case letters, digits and '-' in names")
    return Problem(message, src.file if src else doc.file, src.line if src else doc.line, hint=hint)


def _label_maps(obj: dict) -> list[tuple[str, dict]]:
    out = []
    meta = obj.get("metadata") or {}
    if isinstance(meta.get("labels"), dict):
        out.append(("metadata", meta["labels"]))
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    sel = spec.get("selector")
    if isinstance(sel, dict):
        labels = sel.get("matchLabels") if isinstance(sel.get("matchLabels"), dict) else sel
        if all(isinstance(v, str) for v in labels.values()):
            out.append(("selector", labels))
    tmpl = _template(obj)
    if isinstance(tmpl.get("metadata"), dict) and isinstance(tmpl["metadata"].get("labels"), dict):
        out.append(("pod template", tmpl["metadata"]["labels"]))
    return out


def _template(obj: dict) -> dict:
    spec: Any = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec") or {})
    t = spec.get("template") if isinstance(spec, dict) else None
    return t if isinstance(t, dict) else {}


def _containers(obj: dict) -> list[dict]:
    pod = _template(obj).get("spec") or {}
    if not isinstance(pod, dict):
        return []
    return [c for key in ("initContainers", "containers") for c in (pod.get(key) or []) if isinstance(c, dict)]
