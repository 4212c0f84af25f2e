"""Policy gate: `drydock check --engines policy` vs checkov on the same rendered tree, whole processes.

The tree is the prod render of N generated services (real inputs, real constructs).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus  # noqa: E402


def _timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, proc.returncode


def write_tree(repo: Path, env: str = "prod") -> tuple[Path, int]:
    from generator.model import load_project
    from generator.render import render_env

    rendered = render_env(load_project(repo), env)
    out = repo / "tree"
    for f in rendered.files:
        (out / f.path).parent.mkdir(parents=True, exist_ok=True)
        (out / f.path).write_text(f.text)
    return out, len(rendered.files)


def run(quick: bool = False) -> dict:
    n = 100 if quick else 1000
    checkov = shutil.which("checkov") or str(Path(sys.executable).parent / "checkov")
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_corpus(Path(tmp) / "repo", n)
        tree, docs = write_tree(repo)
        drydock_s, rc = _timed([sys.executable, "-m", "generator.cli", "-q", "check", str(tree), "--engines", "policy",
                                "--format", "json", "--output", str(Path(tmp) / "r.json")], repo)
        result = {"services": n, "documents": docs, "drydock_s": drydock_s, "drydock_rc": rc}
        if Path(checkov).exists():
            checkov_s, crc = _timed([checkov, "-d", str(tree), "--framework", "kubernetes", "--quiet", "--compact",
                                     "-o", "json"], repo)
            result.update(checkov_s=checkov_s, checkov_rc=crc, ratio=checkov_s / drydock_s)
        else:
            result.update(checkov_s=None, ratio=None, note="checkov not installed (pip install -e '.[bench]')")
    return result


def report(r: dict) -> str:
    line = (f"policy: {r['documents']} docs ({r['services']} services): drydock {r['drydock_s']:.2f} s "
            f"({r['documents'] / r['drydock_s']:.0f} docs/s)")
    if r.get("checkov_s"):
        line += f", checkov {r['checkov_s']:.2f} s, drydock {r['ratio']:.1f}x faster"
    else:
        line += f", {r.get('note')}"
    return line


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
