"""The platform engine on the demo (3 envs, 28 Helm Applications), cold and warm, in one run.

Two measurements:

* expansion: `expand_applications` cold (empty cache, helm runs) vs warm (every expansion
  from the cache dir), in-process with a fresh Expander and no memo, so warm pays what a new
  process pays;
* whole processes, as a user runs them, on a copy of the demo: `synth --all` with the
  platform engine and with `--engines schema,policy,trivy`, each cold (its own empty cache)
  and warm (nothing changed; runs interleaved so load drift hits both), and `check
  rendered/prod --env prod` warm with and without. The warm difference is issue 14's
  "warm platform overhead" (target < 0.3 s). Wall and CPU time (process tree) are reported.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import CHARTS, bench_env
from bench.speed_bench import _timed as timed_run
from generator.platform.helm import Expander, expand_applications
from generator.yamlio import read_manifests

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.3  # seconds the platform engine may add to a warm `synth --all`
WITHOUT = ("--engines", "schema,policy,trivy")


def _once(docs: dict, cache: Path) -> tuple[float, int, int, int]:
    e = Expander(CHARTS, cache, use_memo=False)
    t = time.perf_counter()
    n = sum(len(expand_applications(d, CHARTS, expander=e)) for d in docs.values())
    return time.perf_counter() - t, n, e.runs, e.hits


def _timed(argv: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall s, CPU s of the process tree); a run that errs (exit 2) stops the bench."""
    wall, cpu, code = timed_run(argv, cwd, env)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv[3:8])}: exit {code}")
    return wall, cpu


def _median(runs: list[tuple[float, float]]) -> dict:
    return {"wall_s": statistics.median(r[0] for r in runs), "cpu_s": statistics.median(r[1] for r in runs),
            "runs": len(runs)}


def _processes(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="drydock-platform-") as tmp:
        repo = Path(tmp) / "demo"
        for name in ("services", "environments", "policies", "waivers", "rendered"):
            if (REPO / name).exists():
                shutil.copytree(REPO / name, repo / name)
        shutil.copy2(REPO / "waivers.yaml", repo / "waivers.yaml")
        env = bench_env(XDG_CACHE_HOME=str(Path(tmp) / "xdg"))

        def drydock(cache: str, *args: str) -> list[str]:
            return [sys.executable, "-m", "generator.cli", "-q", *args, "--cache-dir", str(Path(tmp) / cache)]

        with_p = drydock("with", "synth", "--all")
        without = drydock("without", "synth", "--all", *WITHOUT)
        out = {"cold_with": _timed(with_p, repo, env), "cold_without": _timed(without, repo, env)}
        warm = {k: [] for k in ("warm_with", "warm_without", "check_with", "check_without")}
        check = ["check", "rendered/prod", "--env", "prod"]
        _timed(drydock("with", *check), repo, env)  # fills the check's own verdict; not measured
        _timed(drydock("without", *check, *WITHOUT), repo, env)
        for _ in range(3 if quick else 7):
            warm["warm_with"].append(_timed(with_p, repo, env))
            warm["warm_without"].append(_timed(without, repo, env))
            warm["check_with"].append(_timed(drydock("with", *check), repo, env))
            warm["check_without"].append(_timed(drydock("without", *check, *WITHOUT), repo, env))
    result = {k: {"wall_s": v[0], "cpu_s": v[1], "runs": 1} for k, v in out.items()}
    result.update({k: _median(v) for k, v in warm.items()})
    return result


def run(quick: bool) -> dict:
    docs = {env: read_manifests([REPO / "rendered" / env]) for env in ("dev", "staging", "prod")}
    with tempfile.TemporaryDirectory() as tmp:
        cold, n, runs, _ = _once(docs, Path(tmp))
        warms = [_once(docs, Path(tmp)) for _ in range(1 if quick else 5)]
    warm = sorted(w[0] for w in warms)[len(warms) // 2]
    p = _processes(quick)
    return {"cold_s": cold, "warm_s": warm, "documents": n, "helm_runs": runs, "warm_hits": warms[0][3],
            "ratio": cold / warm if warm else None, "processes": p,
            "warm_overhead_s": p["warm_with"]["wall_s"] - p["warm_without"]["wall_s"],
            "check_overhead_s": p["check_with"]["wall_s"] - p["check_without"]["wall_s"]}


def report(r: dict) -> str:
    p = r["processes"]
    lines = [f"expansion: {r['documents']} documents: cold {r['cold_s']:.2f} s ({r['helm_runs']} helm runs), "
             f"warm {r['warm_s']:.3f} s ({r['warm_hits']} cache hits, 0 helm runs)"]
    for name, what in (("cold_with", "synth --all, cold, with platform"), ("cold_without", "synth --all, cold, without"),
                       ("warm_with", "synth --all, warm, with platform"), ("warm_without", "synth --all, warm, without"),
                       ("check_with", "check rendered/prod, warm, with platform"),
                       ("check_without", "check rendered/prod, warm, without")):
        x = p[name]
        lines.append(f"  {what:<42} {x['wall_s']:6.2f} s wall, {x['cpu_s']:6.2f} s CPU (median of {x['runs']})")
    ok = "ok" if r["warm_overhead_s"] < TARGET else "over"
    lines.append(f"warm platform overhead: {r['warm_overhead_s']:.2f} s (target < {TARGET} s, {ok}); "
                 f"check rendered/prod: {r['check_overhead_s']:.2f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
