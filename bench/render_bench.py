"""Render cost: drydock's cdk8s render vs a plain PyYAML dump of the same documents (the floor).

Runs in one process after the cdk8s import (whose cost is reported separately),
for 10, 100 and 1000 generated services, and prints the per-service cost so
linearity is visible.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from bench.corpus import make_corpus  # noqa: E402


def run(quick: bool = False) -> dict:
    t0 = time.perf_counter()
    from generator.constructs.base import cdk8s  # noqa: F401  (the one cdk8s import)
    import_s = time.perf_counter() - t0
    from generator.model import load_project
    from generator.render import render_env

    sizes = (10, 100, 300) if quick else (10, 100, 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            repo = make_corpus(Path(tmp) / f"c{n}", n)
            t = time.perf_counter()
            platform = load_project(repo)
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            rendered = render_env(platform, "prod")
            render_s = time.perf_counter() - t
            objs = [f.obj for f in rendered.files]
            t = time.perf_counter()
            for o in objs:
                yaml.dump(o, Dumper=yaml.SafeDumper, sort_keys=False)
            floor_s = time.perf_counter() - t
            rows.append({"services": n, "documents": len(objs), "load_s": load_s, "render_s": render_s,
                         "ms_per_service": 1000 * render_s / n, "pyyaml_floor_s": floor_s,
                         "ratio_vs_floor": render_s / floor_s if floor_s else 0.0})
    return {"cdk8s_import_s": import_s, "rows": rows}


def report(res: dict) -> str:
    out = [f"cdk8s import: {res['cdk8s_import_s']:.2f} s",
           f"{'services':>8} {'docs':>6} {'load s':>7} {'render s':>9} {'ms/svc':>7} {'pyyaml s':>9} {'x floor':>8}"]
    for r in res["rows"]:
        out.append(f"{r['services']:>8} {r['documents']:>6} {r['load_s']:>7.2f} {r['render_s']:>9.2f} "
                   f"{r['ms_per_service']:>7.2f} {r['pyyaml_floor_s']:>9.2f} {r['ratio_vs_floor']:>8.1f}")
    return "\n".join(out)


if __name__ == "__main__":
    print(report(run("--quick" in sys.argv)))
