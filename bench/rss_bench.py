"""Peak memory of `drydock synth --all` on N generated services x the demo's 3 envs, whole process tree.

How it counts: the command runs as a child; every 20 ms the sampler reads VmRSS of that
child and of all its descendants (Node started by jsii, render workers, trivy, helm) from
/proc and adds them up. "peak tree" is the largest such sum: what the machine had to hold
at one moment. "largest process" is the largest single VmHWM (kernel high-water mark, so
it misses nothing between samples) seen in the tree. CPU is each process's own user+system
time at its last sample (processes shorter than a sample are missed). /usr/bin/time's "Maximum resident set
size" is the largest single process, not the sum, and so under-counts a parent with a
live child.

The render is what grows with services, so the run is `--no-gate` (gating 48,000 documents
with Trivy is a different benchmark: bench/gate_bench.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus  # noqa: E402

TARGET_MB = 800


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "PPid:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def _tree(root: int) -> dict[int, dict[str, int]]:
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            s = _status(int(name))
            if s:
                stats[int(name)] = s
    tree, frontier = {}, {root}
    while frontier:
        tree.update({p: stats[p] for p in frontier if p in stats})
        frontier = {p for p, s in stats.items() if s.get("PPid") in frontier and p not in tree}
    return tree


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(argv: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run argv; sample its process tree's summed RSS until it exits."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_sum, peak_one, most, cpu_of = 0, 0, 0, {}
    while proc.poll() is None:
        tree = _tree(proc.pid)
        peak_sum = max(peak_sum, sum(s.get("VmRSS", 0) for s in tree.values()))
        peak_one = max([peak_one] + [s.get("VmHWM", 0) for s in tree.values()])
        most = max(most, len(tree))
        cpu_of.update({pid: c for pid in tree if (c := _cpu(pid)) is not None})
        time.sleep(0.02)
    err = proc.stderr.read().decode(errors="replace")
    # Each process's own CPU at its last sample: getrusage(RUSAGE_CHILDREN) would miss the workers,
    # whose fork server outlives the command and is reaped by init.
    cpu = sum(cpu_of.values())
    return {"peak_tree_mb": peak_sum / 1024, "largest_process_mb": peak_one / 1024, "max_processes": most,
            "wall_s": time.perf_counter() - t, "cpu_s": cpu, "exit": proc.returncode, "stderr": err[-1500:]}


def run(quick: bool = False, services: int | None = None) -> dict:
    n = services or (300 if quick else 1000)
    with tempfile.TemporaryDirectory(prefix="drydock-rss-") as tmp:
        repo = make_corpus(Path(tmp) / "r", n)
        argv = [sys.executable, "-m", "generator.cli", "-q", "synth", "--all", "--no-gate", "--no-cache",
                "--out", str(Path(tmp) / "out")]
        res = measure(argv, repo)
    if res["exit"] != 0:
        sys.stderr.write(res["stderr"])
    return {"services": n, **res}


def report(r: dict) -> str:
    ok = "ok" if r["peak_tree_mb"] <= TARGET_MB else "over"
    return (f"synth --all --no-gate, {r['services']} services x 3 envs: peak RSS {r['peak_tree_mb']:.0f} MB summed over "
            f"the process tree (target <= {TARGET_MB} at 1,000, {ok}); largest process {r['largest_process_mb']:.0f} MB; "
            f"up to {r['max_processes']} processes; {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU (exit {r['exit']})")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    print(report(run("--quick" in sys.argv, int(args[0]) if args else None)))
