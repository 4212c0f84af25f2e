"""The diff's data model: resource identity, one resource's change, the whole result."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..core import Finding, Resource

RENDERED = "rendered"
PROD_ENVS = frozenset({"prod", "production", "prd", "live"})

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
    # Files with uncommitted changes that this diff does not include (head is a ref): the
    # command line says so. Not part of the JSON: it describes the run, not the change.
    uncommitted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes and not (self.policy_delta and (self.policy_delta.introduced or self.policy_delta.resolved))

    @property
    def envs(self) -> list[str]:
        return sorted({c.key.env for c in self.changes}, key=env_order)

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


def env_order(env: str) -> tuple:
    # prod first: that is what reviewers must see.
    rank = {"prod": 0, "production": 0, "staging": 1, "dev": 2}
    return (rank.get(env, 3 if env not in PROD_ENVS else 0), env)

