"""Tree diff: match resources by identity between two trees, committed or rendered from inputs."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..errors import InputError
from .git import cat_blobs, cat_blobs_by_path, check_repo, ls_tree, read_worktree, resolve, run_git, uncommitted
from .highlights import highlights_for
from .model import RENDERED, DiffResult, ResourceChange, env_order
from .reading import dump_lines, parse_files
from .redaction import redact_pair

def _unified(base: Any, head: Any, base_path: str | None, head_path: str | None) -> list[str]:
    lines = difflib.unified_diff(
        dump_lines(base),
        dump_lines(head),
        fromfile=f"a/{base_path}" if base_path else "/dev/null",
        tofile=f"b/{head_path}" if head_path else "/dev/null",
        lineterm="",
        n=3,
    )
    return list(lines)


def _same(a: Any, b: Any) -> bool:
    # `==` alone says 1 == 1.0 == True and nan != nan; the canonical dump does not.
    return dump_lines(a) == dump_lines(b)


def diff_trees(base_files: dict[str, bytes], head_files: dict[str, bytes], warnings: list[str] | None = None) -> list[ResourceChange]:
    """Resource-level diff of two {path: bytes} trees (paths like rendered/<env>/<app>/<file>)."""
    warnings = warnings if warnings is not None else []
    # Identical bytes at the same path cannot change, move or be matched elsewhere.
    same = {p for p in base_files if p in head_files and base_files[p] == head_files[p]}
    base = parse_files({p: b for p, b in base_files.items() if p not in same}, warnings)
    head = parse_files({p: b for p, b in head_files.items() if p not in same}, warnings)
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
                highlights=highlights_for(key, status, bobj, hobj),
            )
        )
    changes.sort(key=lambda c: (env_order(c.key.env), c.app, c.key.kind, c.key.namespace, c.key.name, c.key.dup))
    return changes


def _sides(base: str | None, head: str | None, worktree: bool) -> tuple[str, bool]:
    """No base: HEAD against the working tree, like `git diff`."""
    if worktree and head is not None:
        raise InputError("--head and --worktree cannot be used together", hint="drop one of them")
    if base is None:
        if head is not None:
            raise InputError("--head needs --base", hint="give both refs (--base REF --head REF), or neither to see "
                             "uncommitted changes")
        return "HEAD", True
    return base, worktree


def diff_refs(
    repo: Path,
    base: str | None = None,
    head: str | None = None,
    *,
    worktree: bool = False,
    env: str | None = None,
) -> DiffResult:
    """Diff `rendered/` at `base` against `head` (default HEAD) or the working tree.

    With no base: HEAD against the working tree. When head is a ref, `uncommitted` lists the
    files under rendered/ that the diff leaves out. Raises InputError when `repo` is not a git
    repository or a ref does not exist.
    """
    repo = Path(repo)
    check_repo(repo)
    base, worktree = _sides(base, head, worktree)
    prefix = f"{RENDERED}/{env}/" if env else f"{RENDERED}/"
    base_sha = resolve(repo, base)
    warnings: list[str] = []
    base_tree = ls_tree(repo, base_sha, prefix)
    if worktree:
        head_label, head_sha = "working tree", None
        head_files = read_worktree(repo, prefix, warnings)
        base_files = cat_blobs_by_path(repo, base_tree)
    else:
        head_label = head or "HEAD"
        head_sha = resolve(repo, head_label)
        head_tree = ls_tree(repo, head_sha, prefix)
        same = {p for p, s in base_tree.items() if head_tree.get(p) == s}
        blobs = cat_blobs(repo, [s for p, s in base_tree.items() if p not in same] + [s for p, s in head_tree.items() if p not in same])
        base_files = {p: blobs[s] for p, s in base_tree.items() if p not in same and s in blobs}
        head_files = {p: blobs[s] for p, s in head_tree.items() if p not in same and s in blobs}
    changes = diff_trees(base_files, head_files, warnings)
    return DiffResult(base=base, head=head_label, base_sha=base_sha, head_sha=head_sha, changes=changes, warnings=warnings,
                      env=env, uncommitted=[] if worktree else uncommitted(repo, [prefix]))


def _render_at(repo: Path, ref: str | None, env: str | None) -> dict[str, bytes]:
    """Render services/ + environments/ as they are at `ref` (None: working tree), in memory."""
    import io
    import tarfile
    import tempfile

    from ..model import load_project
    from ..render import render_env

    with tempfile.TemporaryDirectory(prefix="drydock-diff-") as tmp:
        root = Path(tmp)
        if ref is None:
            root = repo
        else:
            archive = run_git(repo, "archive", "--format=tar", resolve(repo, ref), "--", "services", "environments").stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(root, filter="data")
        platform = load_project(root)
        envs = [env] if env else list(platform.environments)
        return {f"{RENDERED}/{e}/{f.path}": f.text.encode() for e in envs if e in platform.environments
                for f in render_env(platform, e).files}


def diff_renders(repo: Path, base: str | None = None, head: str | None = None, *, worktree: bool = False,
                 env: str | None = None) -> DiffResult:
    """Like diff_refs, but renders both sides from their inputs instead of reading committed rendered/."""
    repo = Path(repo)
    check_repo(repo)
    base, worktree = _sides(base, head, worktree)
    warnings: list[str] = []
    base_files = _render_at(repo, base, env)
    head_label = "working tree" if worktree else (head or "HEAD")
    head_files = _render_at(repo, None if worktree else head_label, env)
    changes = diff_trees(base_files, head_files, warnings)
    return DiffResult(base=base, head=head_label, base_sha=resolve(repo, base),
                      head_sha=None if worktree else resolve(repo, head_label), changes=changes,
                      warnings=warnings, env=env,
                      uncommitted=[] if worktree else uncommitted(repo, ["services/", "environments/"]))
