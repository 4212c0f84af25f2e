"""Generated input trees for benchmarks: N services through the real input files."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The Helm charts the platform engine expands: $DRYDOCK_CHARTS, else the shared offline copy beside
# the repo (a demo copied into a temp folder has no .drydock/charts of its own).
CHARTS = Path(os.environ.get("DRYDOCK_CHARTS") or REPO.parent / "shared" / "charts")


def bench_env(**extra: str) -> dict[str, str]:
    """The environment drydock runs in during a bench: this one, with the chart folder set."""
    return {**os.environ, "DRYDOCK_CHARTS": str(CHARTS), **extra}
DATASTORES = {"postgresql", "mongodb", "redis", "rabbitmq"}

SERVICE = """\
apiVersion: drydock/v1
kind: Service
metadata:
  name: {name}
  team: team-{team}
spec:
  component: backend
  image: registry.example.com/ecommerce/{name}
  ports:
    - name: http
      port: 8080
  metrics:
    port: http
  probes:
    liveness:
      path: /healthz
    readiness:
      path: /ready
  dependsOn:
    services: [{deps}]
    datastores: [postgresql, redis]
  config:
    LOG_FORMAT: json
    SHARD: "{i}"
  secrets:
    - env: API_TOKEN
      key: ecommerce/{name}/token
"""


def make_corpus(dest: Path, n: int) -> Path:
    """A repo with n generated services (each depending on up to two earlier ones) and the demo envs."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "services").mkdir(parents=True)
    shutil.copytree(REPO / "environments", dest / "environments")
    if (REPO / "policies").exists():
        shutil.copytree(REPO / "policies", dest / "policies")
    names = [f"svc-{i:04d}" for i in range(n)]
    for i, name in enumerate(names):
        deps = ", ".join(names[max(0, i - 2):i])
        (dest / "services" / f"{name}.yaml").write_text(SERVICE.format(name=name, team=i % 7, deps=deps, i=i))
    for env in (dest / "environments").glob("*.yaml"):
        # Drop the demo's per-service versions; every generated service uses a default.
        lines, out, skipping = env.read_text().splitlines(keepends=True), [], False
        for line in lines:
            if line.startswith("    versions:"):
                out.append(line)
                digest = "@sha256:" + "ab" * 32 if "policy: digest" in env.read_text() else ""
                out.append(f'      default: "1.0.0{digest}"\n')
                skipping = True
                continue
            if skipping and line.startswith("      "):
                if line.strip().split(":")[0] in DATASTORES:
                    out.append(line)  # in-cluster datastores keep their pinned versions
                continue
            skipping = False
            out.append(line)
        env.write_text("".join(out))
    return dest
