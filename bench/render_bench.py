"""Render cost: drydock's cdk8s render vs a plain PyYAML dump of the same documents (the floor).

Runs in one process after the cdk8s import (whose cost is reported separately), for
20, 200 and 1,000 generated services (quick: 20 and 200), and prints the marginal cost
per service between sizes (issue 18's target: <= 15 ms at 200 and at 1,000, linear).
Wall-clock and CPU time are both given; CPU time counts Node (jsii's kernel and the
processes cdk8s starts), so it is the figure that load on a shared machine does not move.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from bench.corpus import make_corpus  # noqa: E402

TARGET_MS = 15.0


def tree_cpu() -> float:
    """CPU seconds of this process plus its live descendants (Node), Linux /proc; else this process."""
    me = os.getpid()
    total = time.process_time()
    if not os.path.isdir("/proc"):
        return total
    parent, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(pid)] = int(f[1])
        cpu[int(pid)] = sum(int(x) for x in f[11:15]) / tick  # utime stime cutime cstime
    for pid in cpu:
        p = parent.get(pid)
        while p and p != me and p in parent:
            p = parent[p]
        if p == me and pid != me:
            total += cpu[pid]
    return total


def run(quick: bool = False) -> dict:
    t0 = time.perf_counter()
    from generator.constructs.base import cdk8s  # noqa: F401  (the one cdk8s import)
    import_s = time.perf_counter() - t0
    from generator.model import load_project
    from generator.render import render_env

    sizes = (20, 200) if quick else (20, 200, 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            repo = make_corpus(Path(tmp) / f"c{n}", n)
            t = time.perf_counter()
            platform = load_project(repo)
            load_s = time.perf_counter() - t
            render_env(platform, "dev")  # warm the code paths once per size
            c, t = tree_cpu(), time.perf_counter()
            rendered = render_env(platform, "prod")
            render_s, render_cpu = time.perf_counter() - t, tree_cpu() - c
            objs = [f.obj for f in rendered.files]
            t = time.perf_counter()
            for o in objs:
                yaml.dump(o, Dumper=yaml.CSafeDumper, sort_keys=False)
            floor_s = time.perf_counter() - t
            rows.append({"services": n, "documents": len(objs), "load_s": load_s, "render_s": render_s,
                         "render_cpu_s": render_cpu, "ms_per_service": 1000 * render_s / n,
                         "pyyaml_floor_s": floor_s, "ratio_vs_floor": render_s / floor_s if floor_s else 0.0})
            del rendered, objs, platform
    marginal = []
    for a, b in zip(rows, rows[1:]):
        span = b["services"] - a["services"]
        marginal.append({"at": b["services"], "ms_per_service": 1000 * (b["render_s"] - a["render_s"]) / span,
                         "cpu_ms_per_service": 1000 * (b["render_cpu_s"] - a["render_cpu_s"]) / span})
    return {"cdk8s_import_s": import_s, "rows": rows, "marginal": marginal}


def report(res: dict) -> str:
    out = [f"cdk8s import: {res['cdk8s_import_s']:.2f} s",
           f"{'services':>8} {'docs':>6} {'load s':>7} {'render s':>9} {'cpu s':>7} {'ms/svc':>7} {'pyyaml s':>9} {'x floor':>8}"]
    for r in res["rows"]:
        out.append(f"{r['services']:>8} {r['documents']:>6} {r['load_s']:>7.2f} {r['render_s']:>9.2f} "
                   f"{r['render_cpu_s']:>7.2f} {r['ms_per_service']:>7.2f} {r['pyyaml_floor_s']:>9.2f} {r['ratio_vs_floor']:>8.1f}")
    for m in res["marginal"]:
        out.append(f"marginal at {m['at']} services: {m['ms_per_service']:.1f} ms/service wall, "
                   f"{m['cpu_ms_per_service']:.1f} ms CPU (target <= {TARGET_MS:.0f})")
    return "\n".join(out)


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
