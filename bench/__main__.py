"""`python -m bench [--quick]`: every benchmark, each against a peer measured in the same run."""
from __future__ import annotations

import importlib
import platform
import sys
import time

BENCHES = ["speed_bench", "rss_bench", "render_bench", "schema_bench", "policy_bench", "trivy_bench", "gate_bench", "helm_bench"]


USAGE = f"""usage: python -m bench [--quick] [BENCH ...]

Runs every benchmark (or the ones named), each against a peer measured in the same run, and
prints their figures and the ratios against the targets. --quick: smaller corpora and fewer
repeats (minutes instead of ~10). Benchmarks: {", ".join(BENCHES)}.
"""


def main() -> int:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(USAGE, end="")
        return 0
    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("-")]
    unknown = [a for a in only if a not in BENCHES] + [a for a in sys.argv[1:] if a.startswith("-") and a != "--quick"]
    if unknown:
        print(f"error: unknown {' '.join(unknown)}\n  fix: {USAGE.splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"drydock bench ({'quick' if quick else 'full'}) on {platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    results, failed = {}, []
    for name in only or BENCHES:
        mod = importlib.import_module(f"bench.{name}")
        t = time.perf_counter()
        try:
            res = mod.run(quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            print(f"\n== {name} FAILED ({time.perf_counter() - t:.1f} s): {type(exc).__name__}: {str(exc)[:500]}")
            failed.append(name)
            continue
        results[name] = res
        print(f"\n== {name} ({time.perf_counter() - t:.1f} s)")
        print(mod.report(res) if hasattr(mod, "report") else res)
    print("\nratios:\n  " + summary(results).removeprefix("ratios: ").replace("; ", "\n  "))
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def summary(r: dict) -> str:
    bits = []
    if "speed_bench" in r:
        s = r["speed_bench"]
        bits.append(f"cold synth --all {s['cold']['ratio']:.2f}x Trivy alone on the same {s['gated_documents']} documents "
                    f"({s['same_wall_s']:.2f} s), CPU {s['cold']['cpu_ratio']:.2f}x (<= 1.25)")
        bits.append(f"vs Trivy alone on the rendered tree ({s['trivy_wall_s']:.2f} s): cold without add-on expansion "
                    f"{s['cold_render']['ratio']:.2f}x (<= 1.25), warm {s['warm']['ratio']:.2f}x (<= 0.20), "
                    f"--check {s['check']['ratio']:.2f}x (<= 0.10)")
    if "render_bench" in r:
        for m in r["render_bench"]["marginal"]:
            bits.append(f"render {m['ms_per_service']:.1f} ms/service at {m['at']} (CPU {m['cpu_ms_per_service']:.1f}, target <= 15)")
    if "schema_bench" in r and r["schema_bench"].get("ratio"):
        bits.append(f"schema {r['schema_bench']['ratio']:.0f}x kubernetes-validate")
    if "policy_bench" in r and r["policy_bench"].get("ratio"):
        bits.append(f"policy {r['policy_bench']['ratio']:.1f}x checkov")
    if "gate_bench" in r:
        g = r["gate_bench"]
        bits.append(f"full gate cold {g['cold_s']:.1f} s / warm {g['warm_s']:.1f} s")
    if "rss_bench" in r:
        m = r["rss_bench"]
        bits.append(f"peak RSS {m['peak_tree_mb']:.0f} MB summed over the process tree (largest process "
                    f"{m['largest_process_mb']:.0f} MB) at {m['services']} services x 3 envs (<= 800 at 1,000)")
    if "helm_bench" in r:
        h = r["helm_bench"]
        bits.append(f"helm add-ons cold {h['cold_s']:.1f} s / warm {h['warm_s']:.2f} s")
        bits.append(f"warm platform overhead {h['warm_overhead_s']:.2f} s (target < 0.3)")
    return "ratios: " + "; ".join(bits)


if __name__ == "__main__":
    sys.exit(main())
