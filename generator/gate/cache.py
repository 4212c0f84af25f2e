"""Content-addressed, per-document result cache for gate engines (issue 11).

A gate that looks at one document at a time (Trivy, schema) gets the same
answer for the same document text as long as nothing else that shapes the
answer changes. `ResultCache` stores that answer under

    key = sha256(FORMAT_VERSION, salt, document text)

where the *salt* is everything besides the text that can change the result:
engine name and version, the checks bundle identity, engine configuration
(e.g. Trivy's trusted-registry data). The caller builds the salt; see
`TrivyGate.cache_salt()` and docs/cache.md.

Entries hold *all* findings for a document (never filtered by severity, never
waived) in a location-free form: the caller stores line offsets relative to the
document start and rebuilds file/line/source/resource from the current
Document on a hit. So moving a file or renaming an environment reuses entries,
and changing the severity threshold or waivers.yaml never needs a new key.

Robustness rules:
* writes are atomic (temp file in the same directory + os.replace), so a
  concurrent reader sees either nothing or a whole entry, and two writers of
  the same key simply replace each other with identical content;
* an entry that cannot be read or parsed, or does not carry the expected key,
  is a miss (and the caller rewrites it): the cache can make a run faster,
  never make it pass without checking;
* a cache that cannot be written (read-only disk, full disk) is not an error:
  the run is just as correct, only not faster next time (`write_errors`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

FORMAT_VERSION = 1
DEFAULT_CACHE_DIR = Path(".drydock") / "cache"

_TAG_NAME = "CACHEDIR.TAG"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This directory is drydock's gate result cache (see docs/cache.md).\n"
    "# It is safe to delete; `drydock cache clear` does exactly that.\n"
)


def default_cache_dir(repo_root: Path | str = ".") -> Path:
    """Where the cache lives unless configured: `<repo>/.drydock/cache`."""
    return Path(repo_root) / DEFAULT_CACHE_DIR


class ResultCache:
    """Per-document findings keyed by sha256(format version + salt + text).

    `get(text)` returns the stored list of finding dicts or None (a miss);
    `put(text, findings)` stores one (an empty list is a valid, cacheable
    result). `hits` / `misses` count lookups for the report.
    """

    def __init__(self, root: Path | str, salt: str):
        self.root = Path(root)
        self.salt = salt
        self.hits = 0
        self.misses = 0
        self.write_errors = 0
        self._prepared = False

    # -- keys -------------------------------------------------------------
    def key(self, doc_text: str) -> str:
        h = hashlib.sha256()
        # Length-prefix the parts so (salt, text) pairs can never collide by
        # moving characters from one to the other.
        for part in (f"drydock-cache-v{FORMAT_VERSION}", self.salt, doc_text):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
        return h.hexdigest()

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key[2:]}.json"

    # -- read -------------------------------------------------------------
    def get(self, doc_text: str) -> list[dict] | None:
        key = self.key(doc_text)
        findings = self._read(key)
        if findings is None:
            self.misses += 1
        else:
            self.hits += 1
        return findings

    def _read(self, key: str) -> list[dict] | None:
        try:
            raw = self.path_for(key).read_bytes()
        except OSError:  # absent, unreadable, a directory, ...
            return None
        try:
            entry = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None  # truncated or garbage: a miss, rewritten by the caller
        if not isinstance(entry, dict) or entry.get("format") != FORMAT_VERSION or entry.get("key") != key:
            return None
        findings = entry.get("findings")
        if not isinstance(findings, list) or not all(isinstance(f, dict) for f in findings):
            return None
        return findings

    # -- write ------------------------------------------------------------
    def put(self, doc_text: str, findings: list[dict]) -> None:
        key = self.key(doc_text)
        entry = {"format": FORMAT_VERSION, "key": key, "findings": list(findings)}
        data = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("utf-8")
        target = self.path_for(key)
        tmp_name = None
        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp_name, target)
            tmp_name = None
        except OSError:
            self.write_errors += 1
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass

    def _prepare(self) -> None:
        """Create the root with a CACHEDIR.TAG (backup tools skip it; `clear()`
        checks it) and a .gitignore so the cache is never committed."""
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

    # -- maintenance ------------------------------------------------------
    def clear(self) -> bool:
        """Remove the whole cache directory. Returns True if something was removed.

        Refuses (ValueError) to delete a non-empty directory that drydock did
        not create (no CACHEDIR.TAG), so a mistyped `--cache-dir` cannot wipe
        unrelated files.
        """
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
