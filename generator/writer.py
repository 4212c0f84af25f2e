"""Landing a render on disk: atomic swap, lock, crash recovery, ownership.

`write_env` builds the new env tree beside the old one on the same filesystem and
swaps it in with one rename(2) exchange, so rendered/<env> is always either the old
tree or the new one, even if the process is killed. `.index.json` records what
drydock owns: only those files are replaced or pruned; anything else is kept.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .errors import DrydockError, InputError

if TYPE_CHECKING:
    from .render import RenderedEnv

INDEX = ".index.json"
LOCK = ".drydock.lock"


def read_index(env_dir: Path) -> dict[str, str]:
    path = env_dir / INDEX
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        files = data["files"]
        assert isinstance(files, dict)
        return {str(k): str(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, AssertionError, TypeError):  # OSError: a folder or unreadable file
        raise InputError(f"{path} is not a drydock index", file=str(path),
                         hint="restore it from git (git checkout -- it) or delete it and run drydock synth again")



# -- atomic write ----------------------------------------------------------------------
def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE). False when unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    rc = fn(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP if hasattr(errno, "ENOTSUP") else errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def repo_lock(rendered_root: Path) -> Iterator[None]:
    """Serialize writers: two synth runs on one repo take turns instead of interleaving."""
    try:
        rendered_root.mkdir(parents=True, exist_ok=True)
        fd = os.open(rendered_root / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as exc:  # --out under a regular file, read-only fs, ...: bad input, not a crash
        raise DrydockError(f"cannot write {rendered_root}: {exc.strerror}", file=str(exc.filename or rendered_root),
                           hint="pick an output folder you can create and write (--out DIR), then run drydock synth again")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(rendered_root: Path) -> None:
    """Finish or undo a swap that a killed process left half done."""
    if not rendered_root.is_dir():
        return
    for leftover in rendered_root.glob(".drydock-*"):
        if leftover.is_dir():
            name = leftover.name
            # .drydock-old-<env>-<pid> holds the previous tree; if <env> is gone, put it back.
            if name.startswith(".drydock-old-"):
                env = name[len(".drydock-old-"):].rsplit("-", 1)[0]
                if not (rendered_root / env).exists():
                    os.rename(leftover, rendered_root / env)
                    continue
            shutil.rmtree(leftover, ignore_errors=True)


def check_ownership(rendered: RenderedEnv, rendered_root: Path) -> None:
    """Refuse (InputError) when a hand-written file sits where a rendered one would go.

    `synth` calls this for every env before writing any, so a refusal in one env
    leaves all of rendered/ untouched.
    """
    env_dir = rendered_root / rendered.env
    if not env_dir.exists():
        return
    owned = read_index(env_dir)
    for f in rendered.files:
        target = env_dir / f.path
        if f.path not in owned and target.exists() and target.read_bytes() != f.text.encode():
            raise InputError(f"refusing to overwrite {target}: drydock does not own it", file=str(target),
                             hint="move the hand-written file out of rendered/ (drydock only replaces files in .index.json)")


def write_env(rendered: RenderedEnv, rendered_root: Path) -> None:
    """Land one environment's render atomically. Call under repo_lock()."""
    env_dir = rendered_root / rendered.env
    check_ownership(rendered, rendered_root)
    owned = read_index(env_dir) if env_dir.exists() else {}
    produced = {f.path for f in rendered.files}
    tmp = rendered_root / f".drydock-new-{rendered.env}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # Hand-written files in the env folder are not ours: carry them over untouched.
        if env_dir.exists():
            for src in sorted(env_dir.rglob("*")):
                rel = src.relative_to(env_dir).as_posix()
                if src.is_file() and rel != INDEX and rel not in owned and rel not in produced:
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest)
        for f in rendered.files:
            dest = tmp / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(f.text)
                fh.flush()
                os.fsync(fh.fileno())
        (tmp / INDEX).write_text(json.dumps(rendered.index(), indent=2, sort_keys=True) + "\n")
        for d in sorted({p.parent for p in tmp.rglob("*")} | {tmp}, key=lambda p: -len(p.parts)):
            _fsync_dir(d)
        if env_dir.exists():
            if _renameat2_exchange(tmp, env_dir):
                _fsync_dir(rendered_root)
                shutil.rmtree(tmp)  # tmp now holds the old tree
            else:
                old = rendered_root / f".drydock-old-{rendered.env}-{os.getpid()}"
                os.rename(env_dir, old)  # recover() puts it back if we die before the next line
                os.rename(tmp, env_dir)
                _fsync_dir(rendered_root)
                shutil.rmtree(old)
        else:
            os.rename(tmp, env_dir)
            _fsync_dir(rendered_root)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        what = "no space left on the device" if exc.errno == errno.ENOSPC else (
            "permission denied" if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else exc.strerror)
        raise DrydockError(f"cannot write {env_dir}: {what}", file=str(exc.filename or env_dir),
                           hint="free space or fix permissions, then run drydock synth again; the previous render is intact")
