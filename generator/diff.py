"""Semantic diff of the rendered tree between two git refs.

`diff_refs` reads `rendered/` at both refs with git plumbing only (`ls-tree`,
`cat-file --batch`; nothing is checked out), parses every YAML document, and
matches resources by identity (env, apiVersion, kind, namespace, name), not by
file path. `render_diff` turns the result into markdown (for PR comments, split
into parts below GitHub's comment limit), plain text or JSON.

Secret material never reaches the output: Secret data, SealedSecret encrypted
data, credential-looking env vars / ConfigMap keys / mapping keys and passwords
inside URLs are replaced by `<redacted>` / `<redacted: changed>` before anything
is diffed or rendered.
"""
from __future__ import annotations

import difflib
import html
import json
import os
import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from .errors import InputError
from .core import Finding, Resource

RENDERED = "rendered"
PROD_ENVS = frozenset({"prod", "production", "prd", "live"})
GITHUB_COMMENT_LIMIT = 65536

try:  # the C loader is several times faster on big trees
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pyyaml built without libyaml
    _Loader = yaml.SafeLoader


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, order=True)
class ResourceKey:
    env: str
    api_version: str
    kind: str
    namespace: str
    name: str
    dup: str = ""  # set only when one side holds the same identity twice (the file path)

    @property
    def resource(self) -> Resource:
        return Resource(self.api_version, self.kind, self.namespace, self.name)

    def display(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or '(no kind)'}/{ns}{self.name or '(no name)'}"

    def to_json(self) -> dict:
        return {"env": self.env, **self.resource.to_json()}


@dataclass(frozen=True)
class Highlight:
    category: str  # prod | image | replicas | resources | rbac | network | ingress | crd | secret
    env: str
    resource: str  # ResourceKey.display()
    detail: str

    def to_json(self) -> dict:
        return {"category": self.category, "env": self.env, "resource": self.resource, "detail": self.detail}


@dataclass
class ResourceChange:
    key: ResourceKey
    status: str  # added | removed | changed | moved
    app: str
    base_path: str | None
    head_path: str | None
    diff: list[str] = field(default_factory=list)  # unified diff lines of the redacted YAML
    highlights: list[Highlight] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.head_path or self.base_path or ""

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "env": self.key.env,
            "app": self.app,
            "resource": self.key.resource.to_json(),
            "base_path": self.base_path,
            "head_path": self.head_path,
            "diff": "\n".join(self.diff),
            "highlights": [h.to_json() for h in self.highlights],
        }


@dataclass
class PolicyDelta:
    introduced: list[Finding]  # at head, not at base
    resolved: list[Finding]  # at base, not at head

    def to_json(self) -> dict:
        return {
            "introduced": [f.to_json() for f in self.introduced],
            "resolved": [f.to_json() for f in self.resolved],
        }


@dataclass
class DiffResult:
    base: str
    head: str  # ref name, or "working tree"
    base_sha: str
    head_sha: str | None  # None for the working tree
    changes: list[ResourceChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    policy_delta: PolicyDelta | None = None
    env: str | None = None

    @property
    def empty(self) -> bool:
        return not self.changes and not (self.policy_delta and (self.policy_delta.introduced or self.policy_delta.resolved))

    @property
    def envs(self) -> list[str]:
        return sorted({c.key.env for c in self.changes}, key=_env_order)

    @property
    def highlights(self) -> list[Highlight]:
        out: list[Highlight] = []
        prod = Counter(c.key.env for c in self.changes if c.key.env in PROD_ENVS)
        for env in sorted(prod):
            n = prod[env]
            out.append(Highlight("prod", env, "", f"{n} resource{'s change' if n != 1 else ' changes'} in production ({env})"))
        for c in self.changes:
            out.extend(c.highlights)
        return out

    def counts(self) -> dict[str, int]:
        c = Counter(ch.status for ch in self.changes)
        return {s: c.get(s, 0) for s in ("added", "changed", "removed", "moved")}

    def to_json(self) -> dict:
        by_env: dict[str, dict] = {}
        for env in self.envs:
            table: dict[str, dict[str, int]] = {}
            for c in self.changes:
                if c.key.env == env:
                    row = table.setdefault(c.key.kind, {"added": 0, "changed": 0, "removed": 0, "moved": 0})
                    row[c.status] += 1
            by_env[env] = {"by_kind": dict(sorted(table.items()))}
        return {
            "version": 1,
            "base": {"ref": self.base, "sha": self.base_sha},
            "head": {"ref": self.head, "sha": self.head_sha},
            "summary": self.counts(),
            "environments": by_env,
            "highlights": [h.to_json() for h in self.highlights],
            "changes": [c.to_json() for c in self.changes],
            "policy_delta": self.policy_delta.to_json() if self.policy_delta else None,
            "warnings": list(self.warnings),
        }


def _env_order(env: str) -> tuple:
    # prod first: that is what reviewers must see.
    rank = {"prod": 0, "production": 0, "staging": 1, "dev": 2}
    return (rank.get(env, 3 if env not in PROD_ENVS else 0), env)


# --------------------------------------------------------------------------- git


def _git(repo: Path, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=repo,
            input=input,
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise InputError("git is not installed", hint="install git; drydock diff reads refs with git") from None
    except NotADirectoryError:
        raise InputError(f"{repo} is not a directory", hint="pass the repository folder") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(
            f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}",
            hint="run drydock diff inside the repository that holds rendered/",
        )
    return proc


def _check_repo(repo: Path) -> None:
    if not repo.is_dir():
        raise InputError(f"{repo} is not a directory", hint="pass the repository folder")
    proc = _git(repo, "rev-parse", "--is-inside-work-tree", check=False)
    if proc.returncode != 0 or proc.stdout.strip() != b"true":
        raise InputError(
            f"{repo} is not a git repository",
            hint="run drydock diff inside a git clone (in CI: actions/checkout with fetch-depth: 0)",
        )


def _resolve(repo: Path, ref: str) -> str:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise InputError(
            f"git ref '{ref}' not found",
            hint=f"check the name, or fetch it first (git fetch origin {ref}); "
            "in GitHub Actions check out with fetch-depth: 0",
        )
    return proc.stdout.decode().strip()


def _ls_tree(repo: Path, sha: str, prefix: str) -> dict[str, str]:
    """path (relative to repo) -> blob sha, for YAML files under prefix."""
    proc = _git(repo, "ls-tree", "-r", "-z", sha, "--", prefix)
    out: dict[str, str] = {}
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path_b = entry.partition(b"\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != b"blob":
            continue
        path = path_b.decode("utf-8", "surrogateescape")
        if _wanted(path):
            out[path] = parts[2].decode()
    return out


def _cat_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    proc = _git(repo, "cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
    data = proc.stdout
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) == 2 and header[1] == b"missing":
            continue
        sha, _typ, size = header[0].decode(), header[1], int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1  # content is followed by a newline
    return out


def _wanted(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(".") and name.endswith((".yaml", ".yml"))


def _read_worktree(repo: Path, prefix: str) -> dict[str, bytes]:
    root = repo / prefix
    out: dict[str, bytes] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in filenames:
            p = Path(dirpath) / fn
            rel = p.relative_to(repo).as_posix()
            if _wanted(rel):
                out[rel] = p.read_bytes()
    return out


# --------------------------------------------------------------------------- parsing


@dataclass
class _Doc:
    key: ResourceKey
    app: str
    path: str
    obj: Any


def _split_path(path: str) -> tuple[str, str]:
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


def _parse(files: dict[str, bytes], warnings: list[str]) -> dict[ResourceKey, _Doc]:
    out: dict[ResourceKey, _Doc] = {}
    for path in sorted(files):
        env, app = _split_path(path)
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


# --------------------------------------------------------------------------- redaction

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


def _secrets(obj: Any) -> dict[tuple, Any]:
    found: dict[tuple, Any] = {}

    def grab(path: tuple, value: Any) -> Any:
        found[path] = value
        return REDACTED

    _redact(obj, grab)
    return found


def redact_pair(base: Any, head: Any) -> tuple[Any, Any]:
    """Redacted copies of both sides; the head side says which secrets changed."""
    base_secrets = _secrets(base) if base is not None else {}

    def head_label(path: tuple, value: Any) -> str:
        if path not in base_secrets:
            return REDACTED_ADDED if base is not None else REDACTED
        return REDACTED if base_secrets[path] == value else REDACTED_CHANGED

    rb = _redact(base, lambda p, v: REDACTED) if base is not None else None
    rh = _redact(head, head_label) if head is not None else None
    return rb, rh


# --------------------------------------------------------------------------- highlights

RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"})
NETWORK_KINDS = frozenset({"NetworkPolicy", "CiliumNetworkPolicy", "AuthorizationPolicy"})
INGRESS_KINDS = frozenset({"Ingress", "IngressClass", "Gateway", "HTTPRoute", "Certificate", "Issuer", "ClusterIssuer"})
CRD_KINDS = frozenset({"CustomResourceDefinition"})
SECRET_KINDS = frozenset({"Secret", "SealedSecret"})


def _containers(obj: Any) -> dict[str, dict]:
    """Every container spec in a workload, keyed by 'name' (init containers prefixed)."""
    out: dict[str, dict] = {}

    def walk(node: Any, depth: int) -> None:
        if depth > 12:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("containers", "initContainers", "ephemeralContainers") and isinstance(v, list):
                    for i, c in enumerate(v):
                        if isinstance(c, dict):
                            name = str(c.get("name") or f"#{i}")
                            out[f"{'init:' if k == 'initContainers' else ''}{name}"] = c
                else:
                    walk(v, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    walk(obj, 0)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)
    return str(v)


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _highlights(key: ResourceKey, status: str, base: Any, head: Any) -> list[Highlight]:
    out: list[Highlight] = []
    disp = key.display()

    def add(cat: str, detail: str) -> None:
        out.append(Highlight(cat, key.env, disp, detail))

    if status == "moved":
        return out
    cb, ch = _containers(base), _containers(head)
    for name in sorted(set(cb) | set(ch)):
        ib = cb.get(name, {}).get("image")
        ih = ch.get(name, {}).get("image")
        if ib != ih:
            if status == "changed" or (ib and not ih and status == "removed") or (ih and status == "added"):
                add("image", f"container `{name}`: `{_fmt(ib)}` → `{_fmt(ih)}`")
        if status == "changed" and name in cb and name in ch:
            rb, rh = cb[name].get("resources"), ch[name].get("resources")
            if rb != rh:
                add("resources", f"container `{name}` resources: `{_fmt(rb)}` → `{_fmt(rh)}`")
    if status == "changed":
        for path in (("spec", "replicas"), ("spec", "minReplicas"), ("spec", "maxReplicas")):
            vb, vh = _get(base, *path), _get(head, *path)
            if vb != vh:
                add("replicas", f"{'.'.join(path)}: {_fmt(vb)} → {_fmt(vh)}")
    verb = {"added": "added", "removed": "removed", "changed": "changed"}[status]
    kind = key.kind
    if status == "changed" and _without_labels(base) == _without_labels(head):
        return out  # only labels/annotations moved (e.g. a version label): not a risk
    if kind in RBAC_KINDS:
        add("rbac", f"RBAC {kind} {verb}")
    elif kind in NETWORK_KINDS:
        add("network", f"{kind} {verb}")
    elif kind in INGRESS_KINDS:
        detail = f"{kind} {verb}"
        tb, th = _get(base, "spec", "tls"), _get(head, "spec", "tls")
        if kind == "Ingress" and tb != th:
            detail += f"; TLS `{_fmt(tb)}` → `{_fmt(th)}`"
        add("ingress", detail)
    elif kind in CRD_KINDS:
        add("crd", f"CustomResourceDefinition {verb}")
    elif kind in SECRET_KINDS:
        sb, sh = _secrets(base) if base is not None else {}, _secrets(head) if head is not None else {}
        changed = sorted(
            {p[-1] for p in set(sb) | set(sh) if sb.get(p, _MISSING) != sh.get(p, _MISSING)}
        )
        add("secret", f"{kind} {verb}" + (f"; keys: {', '.join(changed)}" if changed else ""))
    return out


_MISSING = object()


def _without_labels(obj: Any) -> Any:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return _dump(obj)
    meta = {k: v for k, v in obj["metadata"].items() if k not in ("labels", "annotations")}
    return _dump({**obj, "metadata": meta})


# --------------------------------------------------------------------------- diffing


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


def _dump(obj: Any) -> list[str]:
    """Stable YAML lines: sorted keys, block style, no line folding."""
    if obj is None:
        return []
    text = yaml.safe_dump(_canon(obj), sort_keys=True, default_flow_style=False, allow_unicode=True, width=1_000_000)
    return text.splitlines()


def _unified(base: Any, head: Any, base_path: str | None, head_path: str | None) -> list[str]:
    lines = difflib.unified_diff(
        _dump(base),
        _dump(head),
        fromfile=f"a/{base_path}" if base_path else "/dev/null",
        tofile=f"b/{head_path}" if head_path else "/dev/null",
        lineterm="",
        n=3,
    )
    return list(lines)


def _same(a: Any, b: Any) -> bool:
    # `==` alone says 1 == 1.0 == True and nan != nan; the canonical dump does not.
    return _dump(a) == _dump(b)


def diff_trees(base_files: dict[str, bytes], head_files: dict[str, bytes], warnings: list[str] | None = None) -> list[ResourceChange]:
    """Resource-level diff of two {path: bytes} trees (paths like rendered/<env>/<app>/<file>)."""
    warnings = warnings if warnings is not None else []
    # Identical bytes at the same path cannot change, move or be matched elsewhere.
    same = {p for p in base_files if p in head_files and base_files[p] == head_files[p]}
    base = _parse({p: b for p, b in base_files.items() if p not in same}, warnings)
    head = _parse({p: b for p, b in head_files.items() if p not in same}, warnings)
    changes: list[ResourceChange] = []
    for key in sorted(set(base) | set(head)):
        b, h = base.get(key), head.get(key)
        if b is not None and h is not None:
            if _same(b.obj, h.obj):
                if b.path == h.path:
                    continue
                status = "moved"
            else:
                status = "changed"
        elif h is not None:
            status = "added"
        else:
            status = "removed"
        bobj = b.obj if b else None
        hobj = h.obj if h else None
        rb, rh = redact_pair(bobj, hobj)
        diff = [] if status == "moved" else _unified(rb, rh, b.path if b else None, h.path if h else None)
        changes.append(
            ResourceChange(
                key=key,
                status=status,
                app=(h or b).app,  # type: ignore[union-attr]
                base_path=b.path if b else None,
                head_path=h.path if h else None,
                diff=diff,
                highlights=_highlights(key, status, bobj, hobj),
            )
        )
    changes.sort(key=lambda c: (_env_order(c.key.env), c.app, c.key.kind, c.key.namespace, c.key.name, c.key.dup))
    return changes


def diff_refs(
    repo: Path,
    base: str,
    head: str | None = None,
    *,
    worktree: bool = False,
    env: str | None = None,
) -> DiffResult:
    """Diff `rendered/` at `base` against `head` (default HEAD) or the working tree.

    Raises InputError when `repo` is not a git repository or a ref does not exist.
    """
    repo = Path(repo)
    _check_repo(repo)
    if worktree and head is not None:
        raise InputError("--head and --worktree cannot be used together", hint="drop one of them")
    prefix = f"{RENDERED}/{env}/" if env else f"{RENDERED}/"
    base_sha = _resolve(repo, base)
    warnings: list[str] = []
    base_tree = _ls_tree(repo, base_sha, prefix)
    if worktree:
        head_label, head_sha = "working tree", None
        head_files = _read_worktree(repo, prefix)
        base_files = _cat_blobs_by_path(repo, base_tree)
    else:
        head_label = head or "HEAD"
        head_sha = _resolve(repo, head_label)
        head_tree = _ls_tree(repo, head_sha, prefix)
        same = {p for p, s in base_tree.items() if head_tree.get(p) == s}
        blobs = _cat_blobs(repo, [s for p, s in base_tree.items() if p not in same] + [s for p, s in head_tree.items() if p not in same])
        base_files = {p: blobs[s] for p, s in base_tree.items() if p not in same and s in blobs}
        head_files = {p: blobs[s] for p, s in head_tree.items() if p not in same and s in blobs}
    changes = diff_trees(base_files, head_files, warnings)
    return DiffResult(base=base, head=head_label, base_sha=base_sha, head_sha=head_sha, changes=changes, warnings=warnings, env=env)


def _cat_blobs_by_path(repo: Path, tree: dict[str, str]) -> dict[str, bytes]:
    blobs = _cat_blobs(repo, tree.values())
    return {p: blobs[s] for p, s in tree.items() if s in blobs}


# --------------------------------------------------------------------------- policy delta


def _finding_key(f: Finding) -> tuple:
    env, _ = _split_path(f.file or "")
    return (f.rule_id, env, f.resource)


def set_policy_delta(result: DiffResult, base_findings: Iterable[Finding], head_findings: Iterable[Finding]) -> DiffResult:
    """Fill result.policy_delta with findings new at head and findings gone since base.

    Findings are matched by (rule_id, env taken from the rendered path, resource), so a
    line shift or a reworded message is not a new finding.
    """
    base_list, head_list = list(base_findings), list(head_findings)
    base_keys = {_finding_key(f) for f in base_list}
    head_keys = {_finding_key(f) for f in head_list}

    def uniq(fs: list[Finding], other: set) -> list[Finding]:
        seen: set = set()
        out = []
        for f in sorted(fs, key=lambda f: (-int(f.severity), _finding_key(f), f.message)):
            k = _finding_key(f)
            if k not in other and k not in seen:
                seen.add(k)
                out.append(f)
        return out

    result.policy_delta = PolicyDelta(introduced=uniq(head_list, base_keys), resolved=uniq(base_list, head_keys))
    return result


# --------------------------------------------------------------------------- rendering

_CATEGORY_LABEL = {
    "prod": "production",
    "image": "image",
    "replicas": "replicas",
    "resources": "resources",
    "rbac": "RBAC",
    "network": "network policy",
    "ingress": "ingress/TLS",
    "crd": "CRD",
    "secret": "secret",
}
_STATUS_SIGN = {"added": "+", "removed": "-", "changed": "~", "moved": "→"}
MAX_HIGHLIGHTS = 60
MAX_DELTA = 50
_PART_HEADER_RESERVE = 300


def _fence(lines: list[str]) -> str:
    longest = 2
    for line in lines:
        for m in re.finditer(r"`+", line):
            longest = max(longest, len(m.group()))
    return "`" * (longest + 1)


def _md_code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    text = text.replace("\n", " ")
    ticks = max((len(m.group()) for m in re.finditer(r"`+", text)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_inline(detail: str) -> str:
    # details already use `x` for values; just keep them on one line and neutralise HTML
    return html.escape(detail.replace("\n", " "), quote=False)


def _md_highlights(result: DiffResult) -> str:
    hl = result.highlights
    if not hl:
        return ""
    lines = ["### Risk highlights", ""]
    for h in hl[:MAX_HIGHLIGHTS]:
        label = _CATEGORY_LABEL.get(h.category, h.category)
        if h.category == "prod":
            lines.append(f"- **{label}**: {_md_inline(h.detail)}")
        else:
            lines.append(f"- **{label}** `{h.env}` {_md_code(h.resource)}: {_md_inline(h.detail)}")
    if len(hl) > MAX_HIGHLIGHTS:
        lines.append(f"- … and {len(hl) - MAX_HIGHLIGHTS} more (see the details below)")
    return "\n".join(lines) + "\n\n"


def _finding_line(f: Finding) -> str:
    where = f" ({_md_code(f.file)})" if f.file else ""
    waived = " — waived" if f.waived else ""
    return f"- **{f.severity.name}** {_md_code(f.rule_id)} {_md_code(f.resource.display())}: {_md_inline(f.message)}{where}{waived}"


def _md_policy(result: DiffResult) -> str:
    d = result.policy_delta
    if d is None:
        return ""
    lines = ["### Policy delta", ""]
    if not d.introduced and not d.resolved:
        lines.append("No findings introduced or resolved.")
    for title, fs in (("Introduced", d.introduced), ("Resolved", d.resolved)):
        if not fs:
            continue
        lines.append(f"**{title}** ({len(fs)})")
        lines.append("")
        lines.extend(_finding_line(f) for f in fs[:MAX_DELTA])
        if len(fs) > MAX_DELTA:
            lines.append(f"- … and {len(fs) - MAX_DELTA} more")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _md_env_table(result: DiffResult, env: str) -> str:
    rows: dict[str, Counter] = {}
    for c in result.changes:
        if c.key.env == env:
            rows.setdefault(c.key.kind or "(no kind)", Counter())[c.status] += 1
    prod = " (production)" if env in PROD_ENVS else ""
    lines = [f"### Environment `{env or '(none)'}`{prod}", "", "| kind | added | changed | removed | moved |", "|---|---:|---:|---:|---:|"]
    for kind in sorted(rows):
        r = rows[kind]
        lines.append(f"| {kind} | {r['added']} | {r['changed']} | {r['removed']} | {r['moved']} |")
    return "\n".join(lines) + "\n\n"


def _md_entry(c: ResourceChange, budget: int | None = None) -> str:
    sign = _STATUS_SIGN[c.status]
    head = f"**{sign} {c.status}** {_md_code(c.key.display())}"
    if c.status == "moved" or (c.base_path and c.head_path and c.base_path != c.head_path):
        head += f" {_md_code(c.base_path or '')} → {_md_code(c.head_path or '')}"
    else:
        head += f" {_md_code(c.path)}"
    head += "\n\n"
    if not c.diff:
        return head
    diff = c.diff
    fence = _fence(diff)
    body = "\n".join(diff)
    entry = f"{head}{fence}diff\n{body}\n{fence}\n\n"
    if budget is None or len(entry) <= budget:
        return entry
    # Too big for one part: keep the first lines that fit, say what was cut.
    note_tpl = "_diff truncated: {n} more lines; run `drydock diff` locally to see all of it._\n\n"
    room = budget - len(head) - 2 * len(fence) - len("diff\n\n\n") - len(note_tpl) - 20
    kept: list[str] = []
    used = 0
    for line in diff:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    if not kept and diff:
        kept = [diff[0][: max(room, 0)]]
    return f"{head}{fence}diff\n" + "\n".join(kept) + f"\n{fence}\n" + note_tpl.format(n=len(diff) - len(kept))


def _apps(result: DiffResult, env: str) -> list[tuple[str, list[ResourceChange]]]:
    groups: dict[str, list[ResourceChange]] = {}
    for c in result.changes:
        if c.key.env == env:
            groups.setdefault(c.app or "(top level)", []).append(c)
    return sorted(groups.items())


def _app_summary(app: str, changes: list[ResourceChange], cont: bool = False) -> str:
    cnt = Counter(c.status for c in changes)
    bits = ", ".join(f"{cnt[s]} {s}" for s in ("added", "changed", "removed", "moved") if cnt[s])
    label = html.escape(app)
    if cont:
        return f"<details><summary><b>{label}</b> (continued)</summary>\n\n"
    return f"<details><summary><b>{label}</b> — {bits}</summary>\n\n"


_DETAILS_CLOSE = "</details>\n\n"


def _md_title(result: DiffResult) -> str:
    c = result.counts()
    head = f"`{result.head}`" if result.head_sha is None else f"`{result.head}` ({result.head_sha[:8]})"
    lines = [f"## drydock diff: `{result.base}` ({result.base_sha[:8]}) → {head}", ""]
    if result.empty:
        lines.append("No changes to rendered resources." if not result.env else f"No changes to rendered resources in `{result.env}`.")
    else:
        envs = ", ".join(f"`{e}`" for e in result.envs)
        lines.append(
            f"**{c['changed']} changed, {c['added']} added, {c['removed']} removed, {c['moved']} moved** in {envs or 'no environment'}"
        )
    for w in result.warnings[:20]:
        lines.append(f"> warning: {_md_inline(w)}")
    return "\n".join(lines) + "\n\n"


def _markdown_blocks(result: DiffResult, budget: int) -> list[tuple[str, str, Any]]:
    """Stream of (type, text, extra) blocks; the packer may split between any two."""
    blocks: list[tuple[str, str, Any]] = [("atom", _md_title(result), None)]
    if _md_highlights(result):
        blocks.append(("atom", _md_highlights(result), None))
    if _md_policy(result):
        blocks.append(("atom", _md_policy(result), None))
    for env in result.envs:
        blocks.append(("atom", _md_env_table(result, env), None))
        for app, changes in _apps(result, env):
            opener, cont = _app_summary(app, changes), _app_summary(app, changes, cont=True)
            blocks.append(("open", opener, cont))
            room = budget - max(len(opener), len(cont)) - len(_DETAILS_CLOSE)
            for c in changes:
                blocks.append(("entry", _md_entry(c, room), c))
            blocks.append(("close", _DETAILS_CLOSE, None))
    return blocks


def _pack(blocks: list[tuple[str, str, Any]], budget: int) -> list[str]:
    """Greedy packing into parts of at most `budget` chars, splitting only between blocks.

    An app's `<details>` is closed at the end of a part and reopened "(continued)" in
    the next, so every part is balanced on its own.
    """
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    opener = ""  # text that opens the current app's <details> in the next part
    cont = ""
    in_details = False

    def add(text: str) -> None:
        nonlocal size
        cur.append(text)
        size += len(text)

    def flush() -> None:
        nonlocal cur, size
        if cur:
            parts.append("".join(cur))
        cur, size = [], 0

    close_len = len(_DETAILS_CLOSE)
    for typ, text, extra in blocks:
        if typ == "atom":
            if len(text) > budget:
                text = text[: budget - 40] + "\n\n_(section truncated)_\n\n"
            if cur and size + len(text) > budget:
                flush()
            add(text)
        elif typ == "open":
            opener, cont, in_details = text, extra, False
        elif typ == "entry":
            need = len(text) + close_len + (0 if in_details else len(opener))
            if cur and size + need > budget:
                if in_details:
                    add(_DETAILS_CLOSE)
                flush()
                in_details = False
            if not in_details:
                add(opener)
                in_details = True
                opener = cont
            add(text)
        elif typ == "close":
            if in_details:
                add(_DETAILS_CLOSE)
            in_details = False
    flush()
    return parts or [""]


def _render_markdown(result: DiffResult, max_chars: int) -> list[str]:
    whole = "".join(t for _, t, _ in _markdown_blocks(result, budget=10**12))
    if len(whole.rstrip("\n")) + 1 < max_chars:
        return [whole.rstrip("\n") + "\n"]
    if max_chars < 2000:
        raise ValueError("max_chars must be at least 2000")
    budget = max_chars - _PART_HEADER_RESERVE
    parts = _pack(_markdown_blocks(result, budget), budget)
    n = len(parts)
    out = []
    for i, body in enumerate(parts, 1):
        header = f"**drydock diff (part {i}/{n})**"
        if i == 1:
            header += f" — this diff is too long for one comment and was split into {n} parts."
        out.append(f"{header}\n\n{body.rstrip(chr(10))}\n")
    return out


def _render_text(result: DiffResult) -> str:
    c = result.counts()
    head = result.head if result.head_sha is None else f"{result.head} ({result.head_sha[:8]})"
    lines = [f"drydock diff: {result.base} ({result.base_sha[:8]}) -> {head}"]
    if result.empty:
        lines.append("no changes to rendered resources")
    else:
        lines.append(f"{c['changed']} changed, {c['added']} added, {c['removed']} removed, {c['moved']} moved")
    for w in result.warnings:
        lines.append(f"warning: {w}")
    hl = result.highlights
    if hl:
        lines += ["", "risk highlights:"]
        for h in hl:
            where = f" {h.env} {h.resource}" if h.resource else ""
            lines.append(f"  [{_CATEGORY_LABEL.get(h.category, h.category)}]{where}: {h.detail.replace('`', '')}")
    d = result.policy_delta
    if d is not None:
        lines += ["", f"policy delta: {len(d.introduced)} introduced, {len(d.resolved)} resolved"]
        for title, fs in (("introduced", d.introduced), ("resolved", d.resolved)):
            for f in fs:
                lines.append(f"  {title}: {f.severity.name} {f.rule_id} {f.resource.display()}: {' '.join(f.message.split())}")
    for env in result.envs:
        lines += ["", f"== {env or '(none)'}{' (production)' if env in PROD_ENVS else ''}"]
        for app, changes in _apps(result, env):
            lines.append(f"-- {app}")
            for ch in changes:
                where = ch.path if ch.status != "moved" else f"{ch.base_path} -> {ch.head_path}"
                lines.append(f"{_STATUS_SIGN[ch.status]} {ch.status} {ch.key.display()} {where}")
                lines.extend(f"    {line}" for line in ch.diff)
    return "\n".join(lines) + "\n"


def render_diff(result: DiffResult, fmt: str = "markdown", max_chars: int = GITHUB_COMMENT_LIMIT) -> list[str]:
    """Render `result` as a list of parts.

    markdown: one part when it fits in `max_chars`, else several parts, each shorter
    than `max_chars`, split between resources (never inside a code fence or a
    `<details>` block). text and json: always one part.
    """
    if fmt == "markdown":
        return _render_markdown(result, max_chars)
    if fmt == "text":
        return [_render_text(result)]
    if fmt == "json":
        return [json.dumps(result.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"]
    raise ValueError(f"unknown diff format {fmt!r}; use markdown, text or json")


PART_SEPARATOR = "\n<!-- drydock diff: next part -->\n\n"


def join_parts(parts: list[str]) -> str:
    """All parts as one text for stdout: parts separated by an HTML comment line."""
    return PART_SEPARATOR.join(parts)


def write_parts(parts: list[str], output: Path) -> list[Path]:
    """Write part 1 to `output`, part i (i >= 2) to `output` + `.i`; return the paths.

    Stale `output.N` files from an earlier, longer diff are removed so a workflow that
    posts `output*` never posts an old part.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for i, part in enumerate(parts, 1):
        path = output if i == 1 else output.with_name(f"{output.name}.{i}")
        path.write_text(part, encoding="utf-8")
        written.append(path)
    i = len(parts) + 1
    while (stale := output.with_name(f"{output.name}.{i}")).exists():
        stale.unlink()
        i += 1
    return written


__all__ = [
    "PART_SEPARATOR",
    "join_parts",
    "write_parts",
    "DiffResult",
    "Highlight",
    "PolicyDelta",
    "ResourceChange",
    "ResourceKey",
    "diff_refs",
    "diff_trees",
    "redact_pair",
    "render_diff",
    "set_policy_delta",
]


def read_rendered(repo: Path, ref: str | None, env: str | None = None) -> dict[str, bytes]:
    """The YAML files under rendered/ at a git ref, or in the working tree when ref is None."""
    repo = Path(repo)
    _check_repo(repo)
    prefix = f"{RENDERED}/{env}/" if env else f"{RENDERED}/"
    if ref is None:
        return _read_worktree(repo, prefix)
    return _cat_blobs_by_path(repo, _ls_tree(repo, _resolve(repo, ref), prefix))


def _render_at(repo: Path, ref: str | None, env: str | None) -> dict[str, bytes]:
    """Render services/ + environments/ as they are at `ref` (None: working tree), in memory."""
    import io
    import tarfile
    import tempfile

    from .model import load_project
    from .render import render_env

    with tempfile.TemporaryDirectory(prefix="drydock-diff-") as tmp:
        root = Path(tmp)
        if ref is None:
            root = repo
        else:
            archive = _git(repo, "archive", "--format=tar", _resolve(repo, ref), "--", "services", "environments").stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(root, filter="data")
        platform = load_project(root)
        envs = [env] if env else list(platform.environments)
        return {f"{RENDERED}/{e}/{f.path}": f.text.encode() for e in envs if e in platform.environments
                for f in render_env(platform, e).files}


def diff_renders(repo: Path, base: str, head: str | None = None, *, worktree: bool = False,
                 env: str | None = None) -> DiffResult:
    """Like diff_refs, but renders both sides from their inputs instead of reading committed rendered/."""
    repo = Path(repo)
    _check_repo(repo)
    if worktree and head is not None:
        raise InputError("--head and --worktree cannot be used together", hint="drop one of them")
    warnings: list[str] = []
    base_files = _render_at(repo, base, env)
    head_label = "working tree" if worktree else (head or "HEAD")
    head_files = _render_at(repo, None if worktree else head_label, env)
    changes = diff_trees(base_files, head_files, warnings)
    return DiffResult(base=base, head=head_label, base_sha=_resolve(repo, base),
                      head_sha=None if worktree else _resolve(repo, head_label), changes=changes,
                      warnings=warnings, env=env)
