"""`python -m bench [--quick]`: every benchmark, each against a peer measured in the same run."""
from __future__ import annotations

import importlib
import platform
import sys
import time

BENCHES = ["render_bench", "schema_bench", "policy_bench", "trivy_bench", "gate_bench", "helm_bench"]


def main() -> int:
    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    print(f"drydock bench ({'quick' if quick else 'full'}) on {platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    results = {}
    for name in only or BENCHES:
        mod = importlib.import_module(f"bench.{name}")
        t = time.perf_counter()
        res = mod.run(quick)
        results[name] = res
        print(f"\n== {name} ({time.perf_counter() - t:.1f} s)")
        print(mod.report(res) if hasattr(mod, "report") else res)
    print("\n" + summary(results))
    return 0


def summary(r: dict) -> str:
    bits = []
    if "render_bench" in r:
        last = r["render_bench"]["rows"][-1]
        bits.append(f"render {last['ms_per_service']:.1f} ms/service")
    if "schema_bench" in r and r["schema_bench"].get("ratio"):
        bits.append(f"schema {r['schema_bench']['ratio']:.0f}x kubernetes-validate")
    if "policy_bench" in r and r["policy_bench"].get("ratio"):
        bits.append(f"policy {r['policy_bench']['ratio']:.1f}x checkov")
    if "gate_bench" in r:
        g = r["gate_bench"]
        bits.append(f"full gate cold {g['cold_s']:.1f} s / warm {g['warm_s']:.1f} s")
    if "helm_bench" in r:
        h = r["helm_bench"]
        bits.append(f"helm add-ons cold {h['cold_s']:.1f} s / warm {h['warm_s']:.2f} s")
    return "ratios: " + "; ".join(bits)


if __name__ == "__main__":
    sys.exit(main())
