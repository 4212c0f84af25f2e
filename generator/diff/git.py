"""Reading rendered/ with git plumbing only (`ls-tree`, `cat-file --batch`), or from the working tree."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from .model import RENDERED

def run_git(repo: Path, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
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


def check_repo(repo: Path) -> None:
    if not repo.is_dir():
        raise InputError(f"{repo} is not a directory", hint="pass the repository folder")
    proc = run_git(repo, "rev-parse", "--is-inside-work-tree", check=False)
    if proc.returncode != 0 or proc.stdout.strip() != b"true":
        raise InputError(
            f"{repo} is not a git repository",
            hint="run drydock diff inside a git clone (in CI: actions/checkout with fetch-depth: 0)",
        )


def resolve(repo: Path, ref: str) -> str:
    proc = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise InputError(
            f"git ref '{ref}' not found",
            hint=f"check the name, or fetch it first (git fetch origin {ref}); "
            "in GitHub Actions check out with fetch-depth: 0",
        )
    return proc.stdout.decode().strip()


def ls_tree(repo: Path, sha: str, prefix: str) -> dict[str, str]:
    """path (relative to repo) -> blob sha, for YAML files under prefix."""
    proc = run_git(repo, "ls-tree", "-r", "-z", sha, "--", prefix)
    out: dict[str, str] = {}
    for entry in proc.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, path_b = entry.partition(b"\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != b"blob" or parts[0] == b"120000":  # 120000: a committed symlink
            continue
        path = path_b.decode("utf-8", "surrogateescape")
        if _wanted(path):
            out[path] = parts[2].decode()
    return out


def cat_blobs(repo: Path, shas: Iterable[str]) -> dict[str, bytes]:
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    proc = run_git(repo, "cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
    data = proc.stdout
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) == 2 and header[1] == b"missing":
            continue
        sha, size = header[0].decode(), int(header[2])
        out[sha] = data[pos : pos + size]
        pos += size + 1  # content is followed by a newline
    return out


def _wanted(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return not name.startswith(".") and name.endswith((".yaml", ".yml"))


def read_worktree(repo: Path, prefix: str, warnings: list[str] | None = None) -> dict[str, bytes]:
    """YAML files under prefix on disk. Symlinks, FIFOs and devices are never followed or
    read (a warning names them): a link could show a file outside the repo in a PR comment,
    and a FIFO would block the read forever."""
    warnings = warnings if warnings is not None else []
    root = repo / prefix
    out: dict[str, bytes] = {}
    top = repo / prefix.split("/", 1)[0]
    for p in (top, root):
        if p.is_symlink():
            warnings.append(f"{p.relative_to(repo).as_posix()}: a symbolic link, not read")
            return out
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into linked folders
        for d in sorted(dirnames):
            if os.path.islink(os.path.join(dirpath, d)) and not d.startswith("."):
                warnings.append(f"{(Path(dirpath) / d).relative_to(repo).as_posix()}: a symbolic link, not read")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = p.relative_to(repo).as_posix()
            if _wanted(rel):
                data = _read_regular(p)
                if data is None:
                    warnings.append(f"{rel}: not a regular file (symbolic link, FIFO or device), not read")
                else:
                    out[rel] = data
    return out


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file; None for anything else. O_NOFOLLOW + O_NONBLOCK, then
    fstat: no window between the check and the read where a link or FIFO could slip in."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def uncommitted(repo: Path, prefixes: Iterable[str]) -> list[str]:
    """Paths under prefixes that differ from HEAD in the working tree (staged, unstaged, untracked)."""
    proc = run_git(repo, "status", "--porcelain", "-z", "--untracked-files=all", "--", *prefixes)
    return sorted({e[3:].decode("utf-8", "surrogateescape") for e in proc.stdout.split(b"\0") if len(e) > 3
                   and e[2:3] == b" "})


def cat_blobs_by_path(repo: Path, tree: dict[str, str]) -> dict[str, bytes]:
    blobs = cat_blobs(repo, tree.values())
    return {p: blobs[s] for p, s in tree.items() if s in blobs}


def read_rendered(repo: Path, ref: str | None, env: str | None = None,
                  warnings: list[str] | None = None) -> dict[str, bytes]:
    """The YAML files under rendered/ at a git ref, or in the working tree when ref is None."""
    repo = Path(repo)
    check_repo(repo)
    prefix = f"{RENDERED}/{env}/" if env else f"{RENDERED}/"
    if ref is None:
        return read_worktree(repo, prefix, warnings)
    return cat_blobs_by_path(repo, ls_tree(repo, resolve(repo, ref), prefix))

