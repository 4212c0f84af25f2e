"""Content-addressed caches for gate results (and Helm expansions), trusted only if this machine wrote them.

Two layers:

* `MacStore`: a generic key -> bytes/JSON store. Every entry carries an HMAC-SHA256 over
  (format, key, payload) keyed by a per-machine secret (`machine_secret()`): a 0600 file in
  the user's config folder created with O_EXCL, or `DRYDOCK_CACHE_KEY` (CI secret). An entry
  whose MAC does not verify is a miss: a cache restored from elsewhere, a file someone
  edited, or a truncated write can make a run slower, never make it pass.
* `ResultCache`: per-document gate findings on top of it, keyed by
  sha256(FORMAT_VERSION, salt, document text); the salt is everything besides the text that
  shapes the answer (engine version, flags, data). See docs/cache.md.

The default folder is the user cache folder (`$XDG_CACHE_HOME/drydock`, else
`~/.cache/drydock`), the same for the library and the CLI, never inside a repository: a
folder git tracks could carry entries from a pull request into someone else's run.
Writes are atomic (temp file + os.replace); a cache that cannot be written is not an error.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import DrydockError

FORMAT_VERSION = 2  # 2: entries carry a MAC

_TAG_NAME = "CACHEDIR.TAG"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This directory is drydock's gate result cache (see docs/cache.md).\n"
    "# It is safe to delete; `drydock cache clear` does exactly that.\n"
)
_KEY_RE = re.compile(r"\A[0-9a-f]{16,128}\Z")
_SECRET_RE = re.compile(r"\A[0-9a-f]{64,256}\Z")
KEY_ENV = "DRYDOCK_CACHE_KEY"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/drydock`, else `~/.cache/drydock` (a relative XDG path is ignored, as the spec says)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "drydock"


def key_file() -> Path:
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "drydock" / "cache.key"


def machine_secret() -> bytes:
    """The HMAC key: $DRYDOCK_CACHE_KEY (hex, >= 64 digits), else the key file, created on first use.

    The file is created with O_EXCL and mode 0600; an existing one that is not a regular
    file owned by this user with no group/other permissions is refused (exit 2): whoever
    can write it can forge entries.
    """
    env = os.environ.get(KEY_ENV, "").strip().lower()
    if env:
        if not _SECRET_RE.match(env):
            raise DrydockError(f"{KEY_ENV} is not a hex string of at least 64 digits",
                               hint="e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`; keep it a CI secret")
        return bytes.fromhex(env)
    path = key_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return _read_secret(path)
    except OSError as exc:
        raise DrydockError(f"cannot create the cache key {path}: {exc.strerror}", file=str(path),
                           hint="make the folder writable, set XDG_CONFIG_HOME, or run with --no-cache") from None
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return bytes.fromhex(secret)


def _read_secret(path: Path) -> bytes:
    for _ in range(100):  # another process may have created it and not written it yet
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise DrydockError(f"cannot read the cache key {path}: {exc.strerror}", file=str(path),
                               hint="delete it; drydock creates a new one") from None
        bad = None
        if not stat.S_ISREG(st.st_mode):
            bad = "is not a regular file"
        elif hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            bad = f"is owned by uid {st.st_uid}, not by you"
        elif st.st_mode & 0o077:
            bad = f"has mode {stat.S_IMODE(st.st_mode):04o}; others could read or forge it"
        if bad:
            raise DrydockError(f"cache key {path} {bad}", file=str(path),
                               hint=f"delete it (the cache is then rebuilt) or `chmod 600 {path}`")
        text = path.read_text(encoding="ascii", errors="replace").strip()
        if _SECRET_RE.match(text):
            return bytes.fromhex(text)
        if st.st_size > 0 and time.time() - st.st_mtime > 5:  # mtime is wall-clock time
            break
        time.sleep(0.01)
    raise DrydockError(f"cache key {path} does not hold a key", file=str(path), hint="delete it; drydock creates a new one")


@functools.lru_cache(maxsize=32)
def check_cache_dir(path: Path) -> str | None:
    """Why `path` must not hold a cache (inside a git work tree and not ignored), or None.

    Entries in a tracked folder could be committed, and a pull request could hand them to
    a reviewer's or CI's run. The MAC already refuses foreign entries; this keeps them out.
    """
    path = Path(path).absolute()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return None
    try:
        top = subprocess.run(["git", "-C", str(probe), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10)
        if top.returncode != 0:
            return None
        ignored = subprocess.run(["git", "-C", top.stdout.strip(), "check-ignore", "-q", "--no-index",
                                  str(path / "00" / "entry.json")],  # an entry: what would be committed
                                 capture_output=True, timeout=10)
        tracked = subprocess.run(["git", "-C", top.stdout.strip(), "ls-files", "--", str(path)], capture_output=True,
                                 text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None  # no git: nothing can track it
    if tracked.stdout.strip():
        return f"cache folder {path} holds files git tracks in {top.stdout.strip()}"
    if ignored.returncode == 0:
        return None
    return f"cache folder {path} is inside the git work tree {top.stdout.strip()} and not ignored"


def digest_key(*parts: str | bytes) -> str:
    """A store key from parts, length-prefixed so (a, bc) and (ab, c) never collide."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


MAX_ENTRY_BYTES = 256 * 1024 * 1024  # the largest Helm expansion is a few MB; anything bigger is not ours


def _read_entry(path: Path) -> bytes | None:
    """An entry's bytes, or None: a symlink, FIFO or device put in the cache folder is never
    followed or read (a FIFO would block the run forever), nor an absurdly large file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            return None
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_ENTRY_BYTES:  # grew while we read it
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


class MacStore:
    """Bytes or JSON under a hex key, each entry MAC'd with the machine secret.

    File layout: `<root>/<2 hex>/<rest><suffix>`; content: one line with the hex MAC, then
    the payload. `get_*` returns None on any miss (absent, unreadable, bad MAC).
    """

    def __init__(self, root: Path | str, secret: bytes | None = None, suffix: str = ".bin"):
        self.root = Path(root)
        self.suffix = suffix
        self._secret = secret
        self.write_errors = 0
        self._prepared = False

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = machine_secret()
        return self._secret

    def path_for(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"cache key {key!r} is not 16-128 lower-case hex digits")
        return self.root / key[:2] / f"{key[2:]}{self.suffix}"

    def _mac(self, key: str, payload: bytes) -> str:
        msg = f"drydock-cache-v{FORMAT_VERSION}\0{key}\0".encode() + payload
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def get_bytes(self, key: str) -> bytes | None:
        path = self.path_for(key)
        raw = _read_entry(path)
        if raw is None:
            return None
        mac, sep, payload = raw.partition(b"\n")
        if not sep or not hmac.compare_digest(mac, self._mac(key, payload).encode()):
            return None
        _mark_used(path)
        return payload

    def put_bytes(self, key: str, payload: bytes) -> bool:
        target = self.path_for(key)
        tmp_name = None
        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=self.suffix, dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._mac(key, payload).encode() + b"\n" + payload)
            os.replace(tmp_name, target)
            tmp_name = None
            return True
        except OSError:
            self.write_errors += 1
            return False
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass

    def get_json(self, key: str):
        raw = self.get_bytes(key)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def put_json(self, key: str, value) -> bool:
        return self.put_bytes(key, json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8"))

    def _prepare(self) -> None:
        """Create the root with a CACHEDIR.TAG (backup tools skip it; `clear()` checks it) and
        a .gitignore, so a cache placed in a repository is never committed."""
        if self._prepared:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        for name, content in ((_TAG_NAME, _TAG), (".gitignore", "*\n")):
            path = self.root / name
            if not path.exists():
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(content)
                os.replace(tmp, path)
        self._prepared = True


class ResultCache:
    """Per-document findings keyed by sha256(format version + salt + text), in a MacStore.

    `get(text)` returns the stored list of finding dicts or None (a miss);
    `put(text, findings)` stores one (an empty list is a valid, cacheable
    result). `hits` / `misses` count lookups for the report.
    """

    def __init__(self, root: Path | str, salt: str, secret: bytes | None = None):
        self.store = MacStore(root, secret, suffix=".json")
        self.root = self.store.root
        self.salt = salt
        self.hits = 0
        self.misses = 0

    @property
    def write_errors(self) -> int:
        return self.store.write_errors

    def key(self, doc_text: str) -> str:
        return digest_key(f"drydock-cache-v{FORMAT_VERSION}", self.salt, doc_text)

    def path_for(self, key: str) -> Path:
        return self.store.path_for(key)

    def get(self, doc_text: str) -> list[dict] | None:
        key = self.key(doc_text)
        findings = self._read(key)
        if findings is None:
            self.misses += 1
        else:
            self.hits += 1
        return findings

    def _read(self, key: str) -> list[dict] | None:
        entry = self.store.get_json(key)
        if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION or entry.get("key") != key:
            return None
        findings = entry.get("findings")
        if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
            return None
        return findings

    def put(self, doc_text: str, findings: list[dict]) -> None:
        key = self.key(doc_text)
        self.store.put_json(key, {"format": FORMAT_VERSION, "key": key, "findings": list(findings)})

    def clear(self) -> bool:
        """Remove the whole cache directory (see clear_cache_dir)."""
        return clear_cache_dir(self.root)


def clear_cache_dir(root: Path | str) -> bool:
    """`drydock cache clear`: delete the cache directory `root` (see ResultCache.clear)."""
    root = Path(root)
    if not root.exists():
        return False
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory; refusing to delete it as a cache")
    if not (root / _TAG_NAME).is_file() and any(root.iterdir()):
        raise ValueError(f"{root} does not look like a drydock cache (no {_TAG_NAME}); refusing to delete it")
    # Move it aside first: a concurrent run then either sees the old cache or
    # none at all, never a half-deleted one, and rmtree has nothing racing it.
    doomed = root.with_name(f".{root.name}.deleting-{os.getpid()}")
    try:
        os.rename(root, doomed)
    except OSError:
        doomed = root
    shutil.rmtree(doomed, ignore_errors=doomed is root)
    return True


# --- pruning: the cache is bounded by age and size, least recently used first ----------------
DEFAULT_MAX_BYTES = 1 << 30
DEFAULT_MAX_DAYS = 30
_PRUNE_STAMP = ".last-prune"
_DAY = 86400
_ENTRY_NAME = re.compile(r"\A[0-9a-f]{14,126}\.(?:bin|json)\Z")
_SHARD_NAME = re.compile(r"\A[0-9a-f]{2}\Z")


def _mark_used(path: Path) -> None:
    """A hit moves the entry's mtime to now, at most once a day (pruning reads mtime as last use)."""
    try:
        if time.time() - os.stat(path, follow_symlinks=False).st_mtime > _DAY:
            os.utime(path, follow_symlinks=False)
    except OSError:
        pass


def prune_cache_dir(root: Path | str, max_bytes: int = DEFAULT_MAX_BYTES, max_days: float = DEFAULT_MAX_DAYS,
                    now: float | None = None) -> tuple[int, int, int]:
    """Delete entries unused for `max_days`, then the least recently used until the entries
    total at most `max_bytes`; also temp files a killed write left. Returns (files removed,
    bytes freed, bytes kept). Only entry-shaped files under a folder tagged as our cache are
    touched; anything else in it is left alone."""
    root = Path(root)
    if not (root / _TAG_NAME).is_file():
        return 0, 0, 0
    now = time.time() if now is None else now
    entries, doomed = [], []
    for folder, _dirs, files in os.walk(root):  # never follows a linked folder
        in_shard = _SHARD_NAME.match(Path(folder).name) is not None
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.stat(path, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            if name.startswith(".tmp-") and now - st.st_mtime > 3600:
                doomed.append((path, st.st_size))
            elif in_shard and _ENTRY_NAME.match(name):
                entries.append((st.st_mtime, st.st_size, path))
    entries.sort()
    total = sum(size for _, size, _ in entries)
    for mtime, size, path in entries:
        if now - mtime <= max_days * _DAY and total <= max_bytes:
            break
        doomed.append((path, size))
        total -= size
    removed = freed = 0
    for path, size in doomed:
        try:
            os.unlink(path)
        except OSError:
            continue
        removed, freed = removed + 1, freed + size
    try:
        (root / _PRUNE_STAMP).touch()
    except OSError:
        pass
    return removed, freed, total


def prune_if_due(root: Path | str) -> None:
    """The automatic prune, at most once a day per cache folder, with the defaults; never fails a run."""
    try:
        if time.time() - os.stat(Path(root) / _PRUNE_STAMP).st_mtime < _DAY:
            return
    except OSError:
        pass
    try:
        prune_cache_dir(root)
    except OSError:
        pass
