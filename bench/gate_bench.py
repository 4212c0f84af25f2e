"""The full gate on the demo: `drydock synth --all` (3 envs, every engine), whole processes.

Cold (empty result cache), warm (cache hit), and after changing one service; plus an
in-process breakdown of where the time goes (cdk8s import, render, schema, Rego, Trivy,
write). Peak memory is bench/rss_bench.py.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import REPO, bench_env  # noqa: E402


def _copy_demo(dest: Path) -> Path:
    for name in ("services", "environments", "policies", "waivers"):  # waivers/: the add-ons' reviewed exceptions
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dest / name)
    if (REPO / "waivers.yaml").exists():
        shutil.copy2(REPO / "waivers.yaml", dest / "waivers.yaml")
    return dest


def _synth(repo: Path, *extra: str) -> tuple[float, int]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "generator.cli", "-q", "synth", "--all", "--out", str(repo / "out"),
                           "--cache-dir", str(repo / "cache"), *extra], cwd=repo, capture_output=True, text=True,
                          env=bench_env())
    if proc.returncode not in (0, 1):  # the time of a run that stopped on an error measures nothing
        raise RuntimeError(f"synth --all {' '.join(extra)} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return time.perf_counter() - t, proc.returncode


def breakdown(repo: Path, cache: bool) -> dict[str, float]:
    code = ("import time,json,sys;t=time.perf_counter();from generator.constructs.base import cdk8s;"
            "i=time.perf_counter()-t;from pathlib import Path;from generator.pipeline import synth,GateOptions;"
            f"r=synth(Path('.'),None,out=Path('out2'),opts=GateOptions(cache_dir={'Path(chr(99)+chr(50))' if cache else None}));"
            "r.timings['cdk8s_import']=i;print(json.dumps(r.timings))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, env=bench_env())
    import json
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-500:]}


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        repo = _copy_demo(Path(tmp) / "demo")
        cold, rc1 = _synth(repo)
        warm, rc2 = _synth(repo)
        svc = repo / "services" / "order-service.yaml"
        svc.write_text(svc.read_text().replace("LOG_FORMAT: json", "LOG_FORMAT: json\n    FEATURE_FLAG_X: \"on\""))
        one_change, rc3 = _synth(repo)
        nocache, rc4 = _synth(repo, "--no-cache")
        parts_cold = breakdown(repo, cache=False)
        breakdown(repo, cache=True)  # fills the breakdown's own cache
        parts_warm = breakdown(repo, cache=True)
    return {"cold_s": cold, "warm_s": warm, "one_service_s": one_change, "no_cache_s": nocache,
            "exit_codes": [rc1, rc2, rc3, rc4], "breakdown_cold": parts_cold, "breakdown_warm": parts_warm}


def report(r: dict) -> str:
    fmt = lambda d: ", ".join(f"{k} {v:.2f}s" for k, v in sorted(d.items()) if isinstance(v, float))  # noqa: E731
    return "\n".join([
        f"full gate (demo, 3 envs, every engine): cold {r['cold_s']:.2f} s, warm {r['warm_s']:.2f} s, "
        f"one service changed {r['one_service_s']:.2f} s, --no-cache {r['no_cache_s']:.2f} s (exit {r['exit_codes']})",
        f"  cold breakdown: {fmt(r['breakdown_cold'])}",
        f"  warm breakdown: {fmt(r['breakdown_warm'])}",
    ])


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
