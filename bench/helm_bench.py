"""Helm add-on expansion of the demo (3 envs, 28 Applications): cold (empty cache, helm runs)
vs warm (every expansion from the cache dir, as a second `synth --all` sees it).

The peer is the cold run itself: warm must stay a small fraction of it (< 0.3 s absolute).
Each measurement uses a fresh Expander without the in-process memo, so warm pays what a new
process pays: chart folder digests, reading cache entries, building Documents.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from generator.platform.helm import Expander, expand_applications
from generator.yamlio import read_manifests

REPO = Path(__file__).resolve().parents[1]
CHARTS = REPO.parent / "shared" / "charts"


def _once(docs: dict, cache: Path) -> tuple[float, int, int, int]:
    e = Expander(CHARTS, cache, use_memo=False)
    t = time.perf_counter()
    n = sum(len(expand_applications(d, CHARTS, expander=e)) for d in docs.values())
    return time.perf_counter() - t, n, e.runs, e.hits


def run(quick: bool) -> dict:
    docs = {env: read_manifests([REPO / "rendered" / env]) for env in ("dev", "staging", "prod")}
    with tempfile.TemporaryDirectory() as tmp:
        cold, n, runs, _ = _once(docs, Path(tmp))
        warms = [_once(docs, Path(tmp)) for _ in range(1 if quick else 5)]
    warm = sorted(w[0] for w in warms)[len(warms) // 2]
    return {"cold_s": cold, "warm_s": warm, "documents": n, "helm_runs": runs, "warm_hits": warms[0][3],
            "ratio": cold / warm if warm else None}


def report(r: dict) -> str:
    return (f"expanded {r['documents']} documents: cold {r['cold_s']:.2f} s ({r['helm_runs']} helm runs), "
            f"warm {r['warm_s']:.3f} s ({r['warm_hits']} cache hits, 0 helm runs) -> warm {r['ratio']:.0f}x faster")
