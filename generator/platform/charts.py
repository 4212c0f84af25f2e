"""The chart folder (index.yaml + unpacked charts) and `drydock charts pull` / `list`.

The pins are the Helm sources of every Application of every environment's render
(repoURL + chart + targetRevision). `pull` runs `helm pull --untar` for each one not yet
in the folder and records it in `index.yaml`; it needs the network (GitHub Actions has
it), and says so with exit 2 where there is none.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import yaml

from ..errors import EngineError, InputError, Problem

if TYPE_CHECKING:
    from .helm import Expander

DEFAULT_CHARTS = Path(".drydock") / "charts"
INDEX = "index.yaml"
FIX_MISSING_CHART = ("run `drydock charts pull` where the network allows, or point `--charts DIR` / "
                     "DRYDOCK_CHARTS at a folder laid out like ../shared/charts (index.yaml + <chart>-<version>/)")


def charts_dir(option: str | Path | None, repo_root: Path | str = ".") -> Path:
    """`--charts DIR`, else $DRYDOCK_CHARTS, else `<repo>/.drydock/charts`."""
    if option:
        return Path(option)
    if os.environ.get("DRYDOCK_CHARTS"):
        return Path(os.environ["DRYDOCK_CHARTS"])
    return Path(repo_root) / DEFAULT_CHARTS


@dataclass(frozen=True, order=True)
class ChartRef:
    repo: str
    chart: str
    version: str

    def display(self) -> str:
        return f"chart {self.chart} {self.version} ({self.repo})"

    def key(self) -> tuple[str, str, str]:
        return (self.repo.rstrip("/"), self.chart, self.version)


class ChartFolder:
    """A chart folder: `index.yaml` (repoURL + chart + version -> path) and the unpacked charts."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self._entries: dict[tuple[str, str, str], Path] | None = None

    def entries(self) -> dict[tuple[str, str, str], Path]:
        if self._entries is None:
            self._entries = {}
            path = self.root / INDEX
            if path.is_file():
                try:
                    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                    rows = data.get("charts") or []
                    for row in rows:
                        ref = ChartRef(str(row["repoURL"]), str(row["chart"]), str(row["version"]))
                        self._entries[ref.key()] = self.root / str(row["path"])
                except (yaml.YAMLError, OSError, AttributeError, KeyError, TypeError) as e:
                    raise InputError(f"chart index is broken: {e}", file=str(path),
                                     hint="each entry needs repoURL, chart, version and path; `drydock charts pull` "
                                          "rewrites it") from None
        return self._entries

    def find(self, ref: ChartRef) -> Path | None:
        folder = self.entries().get(ref.key())
        return folder if folder is not None and (folder / "Chart.yaml").is_file() else None

    def write_index(self, refs: dict[ChartRef, str]) -> None:
        """Merge `refs` (ref -> folder name) into index.yaml, atomically."""
        rows = {k: str(v.relative_to(self.root)) for k, v in self.entries().items()}
        rows.update({r.key(): p for r, p in refs.items()})
        lines = ["# drydock chart folder: repoURL + chart + version -> folder (see docs/helm.md)", "charts:"]
        for (repo, chart, version), path in sorted(rows.items()):
            lines.append(f"- {json.dumps({'repoURL': repo, 'chart': chart, 'version': version, 'path': path})}")
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-", dir=self.root)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, self.root / INDEX)
        self._entries = None


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: a chart changes, its expansions miss."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix().encode()
            data = path.read_bytes()
            h.update(len(rel).to_bytes(8, "big") + rel + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()




@dataclass(frozen=True)
class Pin:
    ref: ChartRef
    apps: tuple[str, ...]  # Applications (by file) that pin it
    folder: Path | None  # where it is in the chart folder; None: missing


def pinned(docs_by_env: dict, folder: ChartFolder) -> list[Pin]:
    from .helm import helm_sources, is_application

    apps: dict[ChartRef, list[str]] = {}
    for docs in docs_by_env.values():
        for d in docs:
            if is_application(d.obj):
                for s in helm_sources(d):
                    apps.setdefault(s.ref, []).append(d.file)
    return [Pin(ref, tuple(sorted(files)), folder.find(ref)) for ref, files in sorted(apps.items())]


def pull(pins: list[Pin], folder: ChartFolder, expander: "Expander",
         progress: Callable[[str], None] = lambda m: None) -> list[ChartRef]:
    """helm pull every missing pin into the folder; returns what was pulled."""
    pulled: dict[ChartRef, str] = {}
    problems = []
    for pin in pins:
        if pin.folder is not None:
            continue
        ref = pin.ref
        progress(f"helm pull {ref.display()}")
        name = f"{ref.chart}-{ref.version}"
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=_ensure(folder.root)) as tmp:
            if ref.repo.startswith("oci://") or "://" not in ref.repo:
                base = ref.repo if ref.repo.startswith("oci://") else f"oci://{ref.repo}"
                cmd = [expander.helm, "pull", f"{base.rstrip('/')}/{ref.chart}", "--version", ref.version]
            else:
                cmd = [expander.helm, "pull", ref.chart, "--repo", ref.repo, "--version", ref.version]
            proc = expander.run_networked(cmd + ["--untar", "--untardir", tmp])
            unpacked = Path(tmp) / ref.chart
            if proc.returncode != 0 or not (unpacked / "Chart.yaml").is_file():
                msg = " ".join(proc.stderr.split())[:400] or "no chart in the download"
                problems.append(Problem(f"could not download {ref.display()}: {msg}", pin.apps[0], 1,
                                        hint="run `drydock charts pull` where the network reaches the chart "
                                             "repository (e.g. in GitHub Actions), or copy the chart folder and "
                                             "point --charts / DRYDOCK_CHARTS at it"))
                left = sum(1 for p in pins if p.folder is None) - len(pulled) - 1
                if left:  # the network is the likely cause: do not wait on every other repository
                    problems.append(Problem(f"{left} more missing chart(s) not tried after that failure"))
                break
            target = folder.root / name
            if target.exists():
                shutil.rmtree(target)
            os.replace(unpacked, target)
            pulled[ref] = name
    if pulled:
        folder.write_index(pulled)
    if problems:
        raise EngineError(problems)
    return sorted(pulled)


def _ensure(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return root
