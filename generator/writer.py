"""Landing a render on disk: atomic swap, lock, crash recovery, ownership.

`write_env` builds the new env tree beside the old one on the same filesystem and
swaps it in with one rename(2) exchange, so rendered/<env> is always either the old
tree or the new one, even if the process is killed. `.index.json` records what
drydock owns: only those files are replaced or pruned; anything else is kept.

What the writer never does: follow a symbolic link (links are carried over as links; a link
where a rendered file or folder goes is refused), read or copy a FIFO or device (refused),
delete what it does not own (owned = listed in .index.json or created by this run), or clean
a temporary folder it did not create (each run names its folders with a random token and
leaves a `.drydock-run-<token>` marker; recovery removes only folders that carry a marker's
token).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .errors import DrydockError, InputError

if TYPE_CHECKING:
    from .render import RenderedEnv

INDEX = ".index.json"
LOCK = ".drydock.lock"


RUN_PREFIX = ".drydock-run-"
_RUN = re.compile(r"^\.drydock-run-(?P<token>[0-9a-f]{16})$")
_TEMP = re.compile(r"^\.drydock-(?P<what>new|old)-(?P<env>.+)-(?P<token>[0-9a-f]{16})$")


def read_index(env_dir: Path) -> dict[str, str]:
    path = env_dir / INDEX
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        if path.is_symlink() or not path.is_file():
            raise ValueError
        data = json.loads(path.read_text())
        files = data["files"]
        assert isinstance(files, dict)
        out = {str(k): str(v) for k, v in files.items()}
        # an entry outside the env folder would let a hand-edited index claim other files
        assert all(k and not k.startswith("/") and ".." not in k.split("/") for k in out)
        return out
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
    """Finish or undo what a killed run left: only folders named with a run marker's token."""
    if not rendered_root.is_dir():
        return
    for marker in sorted(rendered_root.iterdir()):
        m = _RUN.match(marker.name)
        if not m or marker.is_symlink() or not marker.is_file():
            continue
        for leftover in sorted(rendered_root.iterdir()):
            t = _TEMP.match(leftover.name)
            if not t or t["token"] != m["token"] or leftover.is_symlink() or not leftover.is_dir():
                continue
            env_dir = rendered_root / t["env"]
            if t["what"] == "old" and not env_dir.exists() and not env_dir.is_symlink():
                os.rename(leftover, env_dir)  # the swap died between its two renames: put the old tree back
            else:
                shutil.rmtree(leftover)
        marker.unlink()
    _fsync_dir(rendered_root)


def check_out_root(rendered_root: Path) -> None:
    """Refuse an --out folder that holds anything drydock did not write (env folders with an index,
    the lock, run markers and temporary folders are drydock's)."""
    if not rendered_root.is_dir():
        return
    for entry in sorted(rendered_root.iterdir()):
        ours = entry.name == LOCK or _RUN.match(entry.name) or _TEMP.match(entry.name) or (
            not entry.is_symlink() and entry.is_dir() and (entry / INDEX).is_file())
        if not ours:
            raise InputError(f"refusing to write into {rendered_root}: it holds {entry.name}, which drydock did not write",
                             file=str(entry), hint="pick an empty folder, or one drydock rendered into before (--out DIR)")


def _kind(mode: int) -> str:
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")


def check_ownership(rendered: RenderedEnv, rendered_root: Path) -> None:
    """Refuse (InputError) what write_env must not touch, before anything is written:

    - rendered/<env> that is a symbolic link or not a folder;
    - a link, folder or special file where a rendered file goes, or a link on its way there;
    - a hand-written file where a rendered one goes (a file not listed in .index.json);
    - a FIFO, socket or device anywhere in the env folder (it cannot be carried over safely).

    `synth` calls this for every env before writing any, so a refusal in one env
    leaves all of rendered/ untouched.
    """
    env_dir = rendered_root / rendered.env
    fix_link = "replace the link with a real folder or file (drydock never writes through links)"
    if env_dir.is_symlink():
        raise InputError(f"refusing to write {env_dir}: it is a symbolic link", file=str(env_dir), hint=fix_link)
    if not env_dir.exists():
        return
    if not env_dir.is_dir():
        raise InputError(f"refusing to write {env_dir}: it is not a folder", file=str(env_dir),
                         hint="move it out of the way, then run drydock synth again")
    owned = read_index(env_dir)
    for dirpath, dirnames, filenames in os.walk(env_dir):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            mode = os.lstat(p).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                raise InputError(f"refusing to write {env_dir}: {p} is {_kind(mode)}", file=str(p),
                                 hint="remove it from rendered/ (drydock neither reads nor copies special files)")
    for f in rendered.files:
        target = env_dir / f.path
        parent = env_dir
        for part in Path(f.path).parts[:-1]:
            parent = parent / part
            if parent.is_symlink():
                raise InputError(f"refusing to write {target}: {parent} is a symbolic link", file=str(parent), hint=fix_link)
            if parent.exists() and not parent.is_dir():
                raise InputError(f"refusing to write {target}: {parent} is a file, not a folder", file=str(parent),
                                 hint="move the file out of rendered/, then run drydock synth again")
        if target.is_symlink():
            raise InputError(f"refusing to overwrite {target}: it is a symbolic link", file=str(target), hint=fix_link)
        if target.exists() and not target.is_file():
            raise InputError(f"refusing to overwrite {target}: it is a folder", file=str(target),
                             hint="move the folder out of rendered/, then run drydock synth again")
        if f.path not in owned and target.exists() and target.read_bytes() != f.text.encode():
            raise InputError(f"refusing to overwrite {target}: drydock does not own it", file=str(target),
                             hint="move the hand-written file out of rendered/ (drydock only replaces files in .index.json)")


def _carry_over(env_dir: Path, tmp: Path, skip: set[str]) -> None:
    """Copy what drydock does not own into the new tree: files, empty folders, and links as links."""
    for dirpath, dirnames, filenames in os.walk(env_dir):  # os.walk never descends into a linked folder
        for name in sorted(dirnames) + sorted(filenames):
            src = Path(dirpath) / name
            rel = src.relative_to(env_dir).as_posix()
            if rel in skip:
                continue
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dest)
            elif src.is_dir():
                if not any(src.iterdir()):  # a hand-made empty folder; others appear with their files
                    dest.mkdir(exist_ok=True)
            else:  # check_ownership refused everything that is not a file, folder or link
                shutil.copy2(src, dest, follow_symlinks=False)


def _start_run(rendered_root: Path, env: str) -> tuple[str, Path]:
    """A random token for this run's temporary folders, and its marker (written first, so a
    crash at any later point leaves folders recover() recognises as ours)."""
    token = secrets.token_hex(8)
    marker = rendered_root / f"{RUN_PREFIX}{token}"
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps({"env": env, "pid": os.getpid()}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(rendered_root)
    return token, marker


def write_env(rendered: RenderedEnv, rendered_root: Path) -> None:
    """Land one environment's render atomically. Call under repo_lock()."""
    env_dir = rendered_root / rendered.env
    check_ownership(rendered, rendered_root)
    owned = read_index(env_dir) if env_dir.exists() else {}
    produced = {f.path for f in rendered.files}
    token, marker = _start_run(rendered_root, rendered.env)
    tmp = rendered_root / f".drydock-new-{rendered.env}-{token}"
    old = rendered_root / f".drydock-old-{rendered.env}-{token}"
    try:
        os.mkdir(tmp)
        if env_dir.exists():
            # Hand-written content is not ours: carry it over untouched; owned files not rendered any more are pruned.
            _carry_over(env_dir, tmp, {INDEX} | {p for p in owned if not (env_dir / p).is_symlink()} | produced)
        for f in rendered.files:
            dest = tmp / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "x", encoding="utf-8", newline="\n") as fh:
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
                os.rename(env_dir, old)  # recover() puts it back if we die before the next line
                os.rename(tmp, env_dir)
                _fsync_dir(rendered_root)
                shutil.rmtree(old)
        else:
            os.rename(tmp, env_dir)
            _fsync_dir(rendered_root)
        marker.unlink()
        _fsync_dir(rendered_root)
    except OSError as exc:
        if old.is_dir() and not env_dir.exists():
            os.rename(old, env_dir)  # the fallback swap failed half way: the old tree goes back
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        marker.unlink(missing_ok=True)
        what = "no space left on the device" if exc.errno == errno.ENOSPC else (
            "permission denied" if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else exc.strerror)
        where = exc.filename or env_dir
        raise DrydockError(f"cannot write {env_dir}: {what} ({where})" if str(where) != str(env_dir)
                           else f"cannot write {env_dir}: {what}", file=str(where),
                           hint="free space or fix permissions, then run drydock synth again; the previous render is intact")
