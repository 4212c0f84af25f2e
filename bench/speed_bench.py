"""Issue 18's ratios: `drydock synth --all` against Trivy alone on the same rendered tree, same run.

Whole processes, as a user runs them, on a copy of the demo:

  trivy alone   `trivy config` on every file of the rendered tree (the yardstick; median of
                runs interleaved with drydock's, so load drifts hit both). Trivy's walker skips
                any folder named `dev`, `proc` or `sys` (aquasecurity/trivy#6651), so a literal
                `trivy config rendered/` never reads rendered/dev: the yardstick scans a copy
                whose env folders are named `<env>-env`. The literal command is timed too and
                its report counts the files it really scanned.
  same files    `trivy config` on every document the gate scans: the rendered tree plus
                the objects of the Helm add-ons the platform engine expands (one file each)
  cold          `synth --all`, every cache empty (render, helm, result caches); its ratio is
                against "same files", because the platform engine gates the add-ons too
  cold render   `synth --all --engines schema,policy,trivy`, every cache empty: the gate on the
                render's own files (no add-on expansion), against the yardstick on those files
  warm          `synth --all` again, nothing changed
  check         `synth --all --check`, nothing changed (the pre-commit hook)

Each drydock figure is divided by the yardstick; wall-clock and CPU time (the process
and its children: Node, trivy, helm) are both reported, because on a shared machine
wall-clock drifts with load while CPU time does not.
"""
from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, bench_env  # noqa: E402

TARGETS = {"cold": 1.25, "cold_render": 1.25, "warm": 0.20, "check": 0.10}


def _timed(argv: list[str], cwd: Path, env: dict) -> tuple[float, float, int]:
    """(wall s, CPU s of the process tree, exit code)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.stderr.write(f"{' '.join(argv[:6])}: exit {proc.returncode}\n{proc.stderr[-1500:]}\n")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def _trivy() -> str:
    from generator.gate.engines.trivy import find_trivy

    found = find_trivy()
    if not found:
        raise SystemExit("speed_bench needs trivy (pip install -e .)")
    return found


def run(quick: bool = False) -> dict:
    trivy = _trivy()
    with tempfile.TemporaryDirectory(prefix="drydock-speed-") as tmp:
        repo = Path(tmp) / "demo"
        for name in ("services", "environments", "policies", "waivers", "rendered"):
            if (REPO / name).exists():
                shutil.copytree(REPO / name, repo / name)
        if (REPO / "waivers.yaml").exists():
            shutil.copy2(REPO / "waivers.yaml", repo / "waivers.yaml")
        env = bench_env(XDG_CACHE_HOME=str(Path(tmp) / "xdg-cache"))  # no cache from earlier runs
        drydock = [sys.executable, "-m", "generator.cli", "-q", "synth", "--all", "--cache-dir", str(Path(tmp) / "cache")]
        every = Path(tmp) / "yardstick"  # rendered/ with folders trivy does not skip
        for folder in (repo / "rendered").iterdir():
            if folder.is_dir():
                shutil.copytree(folder, every / _unskipped(folder.name))
        yard = [trivy, "config", "--skip-check-update", "--skip-version-check", "--disable-telemetry",
                "--cache-dir", str(Path(tmp) / "trivy-cache"), "--format", "json", "-q", str(every)]
        literal = [*yard[:-1], str(repo / "rendered")]
        same = Path(tmp) / "gated"  # every document drydock's Trivy gate scans, one file each
        rounds = 1 if quick else 3
        trivy_runs, same_runs, literal_runs, rows = [], [], [], {k: [] for k in TARGETS}
        for i in range(rounds):
            shutil.rmtree(Path(tmp) / "cache", ignore_errors=True)
            shutil.rmtree(Path(tmp) / "xdg-cache", ignore_errors=True)
            trivy_runs.append(_timed(yard, repo, env))
            rows["cold"].append(_timed(drydock, repo, env))
            shutil.rmtree(Path(tmp) / "render-only", ignore_errors=True)
            shutil.rmtree(Path(tmp) / "xdg-cache", ignore_errors=True)
            rows["cold_render"].append(_timed([*drydock[:-1], str(Path(tmp) / "render-only"), "--engines",
                                               "schema,policy,trivy"], repo, env))
            if i == 0:
                gated = _write_gated_documents(repo, Path(tmp) / "cache", env.get("DRYDOCK_CHARTS"), same)
            same_runs.append(_timed([*yard[:-1], str(same)], repo, env))
            literal_runs.append(_timed(literal, repo, env))
            trivy_runs.append(_timed(yard, repo, env))
            rows["warm"].append(_timed(drydock, repo, env))
            rows["check"].append(_timed([*drydock, "--check"], repo, env))
        docs = sum(1 for _ in (repo / "rendered").rglob("*.yaml"))
        literal_files = _scanned_files(literal, repo, env)
    yard_wall = statistics.median(r[0] for r in trivy_runs)
    yard_cpu = statistics.median(r[1] for r in trivy_runs)
    out = {"documents": docs, "trivy_wall_s": yard_wall, "trivy_cpu_s": yard_cpu, "rounds": rounds,
           "gated_documents": gated, "same_wall_s": statistics.median(r[0] for r in same_runs),
           "same_cpu_s": statistics.median(r[1] for r in same_runs),
           "literal_wall_s": statistics.median(r[0] for r in literal_runs), "literal_files": literal_files}
    for name, runs in rows.items():
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        out[name] = {"wall_s": wall, "cpu_s": cpu, "ratio": wall / yard_wall, "cpu_ratio": cpu / yard_cpu,
                     "exit_codes": [r[2] for r in runs]}
    out["cold"]["tree_ratio"] = out["cold"]["ratio"]  # against the rendered tree alone, for the record
    out["cold"]["ratio"] = out["cold"]["wall_s"] / out["same_wall_s"]
    out["cold"]["cpu_ratio"] = out["cold"]["cpu_s"] / out["same_cpu_s"]
    return out


def _unskipped(name: str) -> str:
    """A folder name trivy's walker reads (it skips `dev`, `proc` and `sys` wherever they are)."""
    return f"{name}-env"


def _scanned_files(argv: list[str], cwd: Path, env: dict) -> int:
    """How many files a `trivy config ... --format json` run reports on (every Kubernetes file it read)."""
    import json

    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True).stdout
    return len(json.loads(out or "{}").get("Results") or [])


def _write_gated_documents(repo: Path, cache: Path, charts: str | None, dest: Path) -> int:
    """Write each document `synth --all` gates (the render plus the Helm add-ons it expands) to a file of
    its own, as Trivy's gate sees it; from the caches the cold run filled (no Node, no helm)."""
    from generator.gate.engines.trivy import document_text
    from generator.pipeline import GateOptions, expand_addons, load_project, synth

    opts = GateOptions(cache_dir=cache, charts=Path(charts) if charts else None)
    rendered = synth(repo, None, check=True, opts=opts).rendered
    docs = expand_addons(repo, {e: r.documents() for e, r in rendered.items()}, load_project(repo), opts)
    n = 0
    for env, env_docs in docs.items():
        (dest / _unskipped(env)).mkdir(parents=True, exist_ok=True)
        for n, doc in enumerate(env_docs, n + 1):
            (dest / _unskipped(env) / f"{n:05d}.yaml").write_text(document_text(doc), encoding="utf-8")
    return n


def report(r: dict) -> str:
    lines = [f"yardstick: trivy config on every file of the rendered tree ({r['documents']} docs): "
             f"{r['trivy_wall_s']:.2f} s wall, {r['trivy_cpu_s']:.2f} s CPU (median of {2 * r['rounds']})",
             f"  (a literal `trivy config rendered/` took {r['literal_wall_s']:.2f} s but scanned only "
             f"{r['literal_files']} of {r['documents']} files: trivy skips folders named dev, trivy#6651)"]
    what = {"cold": f"synth --all, cold (vs the same {r['gated_documents']} docs)",
            "cold_render": "synth --all --engines schema,policy,trivy, cold", "warm": "synth --all, warm",
            "check": "synth --all --check, nothing changed"}
    for name in TARGETS:
        x = r[name]
        ok = "ok" if x["ratio"] <= TARGETS[name] else "over"
        lines.append(f"  {what[name]}: {x['wall_s']:.2f} s = {x['ratio']:.2f}x (target <= {TARGETS[name]:.2f}x, {ok}); "
                     f"CPU {x['cpu_s']:.2f} s = {x['cpu_ratio']:.2f}x  (exit {x['exit_codes']})")
    lines.append(f"same files as the gate: trivy config on the {r['gated_documents']} documents synth --all gates "
                 f"(render + Helm add-ons): {r['same_wall_s']:.2f} s wall, {r['same_cpu_s']:.2f} s CPU; cold synth --all "
                 f"is {r['cold']['tree_ratio']:.2f}x the rendered-tree yardstick, which does not scan the add-ons")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
