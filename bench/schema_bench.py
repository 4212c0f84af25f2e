#!/usr/bin/env python
"""Schema gate benchmark: drydock vs kubernetes-validate, whole processes, same files, same run.

    python bench/schema_bench.py [--quick] [--docs N] [--json]

Generates a rendered-like tree (one object per file, `# Source:` header) of realistic
manifests for an e-commerce platform in a temp dir: Deployments, Services, ConfigMaps,
ServiceAccounts, HPAs, PDBs, NetworkPolicies, Ingresses, ServiceMonitors, ExternalSecrets
and Argo CD Applications. Then times, as separate processes on the same files:

  drydock             python -m generator.gate.engines.schema -q DIR   (forked workers, one per CPU)
  drydock -j 1        the same in one process
  kubernetes-validate kubernetes-validate --strict --quiet -k 1.31.0 FILES...

`run(quick)` returns a dict for bench drivers. The last printed line is
`schema: drydock X docs/s, kubernetes-validate Y docs/s, ratio Z×`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.31.0"


def _service_docs(env: str, i: int) -> list[tuple[str, str, str]]:
    """(app, file name, yaml text) for one service."""
    name = f"svc-{i:02d}"
    ns = "shop"
    labels = f"""    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
    app.kubernetes.io/managed-by: drydock"""
    replicas = {"dev": 1, "staging": 2, "prod": 3}[env]
    docs = []
    docs.append(("deployment", f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
  annotations:
    argocd.argoproj.io/sync-wave: "2"
spec:
  replicas: {replicas}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
{labels.replace('    app', '        app')}
      annotations:
        prometheus.io/scrape: "true"
    spec:
      serviceAccountName: {name}
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {name}
      containers:
        - name: {name}
          image: registry.example.com/ecommerce/{name}@sha256:{i:064x}
          imagePullPolicy: IfNotPresent
          args: ["--port=8080", "--log-format=json"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            - name: metrics
              containerPort: 9090
              protocol: TCP
          env:
            - name: ENVIRONMENT
              value: {env}
            - name: LOG_LEVEL
              value: info
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {name}-db
                  key: password
          envFrom:
            - configMapRef:
                name: {name}
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 10
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: /live
              port: http
            initialDelaySeconds: 10
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
"""))
    docs.append(("service", f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
    - name: metrics
      port: 9090
      targetPort: metrics
"""))
    docs.append(("configmap", f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
data:
  FEATURE_FLAGS: "checkout-v2,fast-search"
  CACHE_TTL_SECONDS: "300"
  UPSTREAM_URL: http://svc-{(i + 1) % 60:02d}.shop.svc
  config.yaml: |
    retries: 3
    timeout: 5s
"""))
    docs.append(("serviceaccount", f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
automountServiceAccountToken: false
"""))
    docs.append(("horizontalpodautoscaler", f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: {replicas}
  maxReplicas: {replicas * 4}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 70
"""))
    docs.append(("poddisruptionbudget", f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
"""))
    docs.append(("networkpolicy", f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: {name}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: ingress-nginx
      ports:
        - port: 8080
          protocol: TCP
  egress:
    - to:
        - namespaceSelector: {{}}
      ports:
        - port: 53
          protocol: UDP
"""))
    docs.append(("servicemonitor", f"""apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  endpoints:
    - port: metrics
      path: /metrics
      interval: 30s
"""))
    docs.append(("externalsecret", f"""apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: {name}-db
  namespace: {ns}
  labels:
{labels}
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault
    kind: ClusterSecretStore
  target:
    name: {name}-db
  data:
    - secretKey: password
      remoteRef:
        key: shop/{env}/{name}/db
        property: password
"""))
    if i % 3 == 0:
        docs.append(("ingress", f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: {ns}
  labels:
{labels}
spec:
  ingressClassName: nginx
  tls:
    - hosts: [{name}.{env}.shop.example.com]
      secretName: {name}-tls
  rules:
    - host: {name}.{env}.shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {name}
                port:
                  name: http
"""))
    out = [(name, f"{kind}-{name}.yaml", text) for kind, text in docs]
    out.append(("argocd", f"application-{name}.yaml", f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {env}-{name}
  namespace: argocd
  finalizers:
    - resources-finalizer.argocd.argoproj.io
  annotations:
    argocd.argoproj.io/sync-wave: "2"
spec:
  project: shop
  source:
    repoURL: https://git.example.com/platform/deploy.git
    targetRevision: main
    path: rendered/{env}/{name}
  destination:
    server: https://kubernetes.default.svc
    namespace: {ns}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
"""))
    return out


def generate(root: Path, target_docs: int) -> list[Path]:
    files: list[Path] = []
    envs = ["dev", "staging", "prod"]
    i = 0
    while len(files) < target_docs:
        env = envs[i % 3]
        for app, fname, text in _service_docs(env, i // 3):
            if len(files) >= target_docs:
                break
            p = root / env / app / fname
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"# Source: services/svc-{i // 3:02d}.yaml (generated by drydock; do not edit)\n{text}")
            files.append(p)
        i += 1
    return sorted(files)


_CPU: dict[tuple, float] = {}


def _time(cmd: list[str], repeat: int, env: dict, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Median wall time of `repeat` runs; the median CPU time (user+sys, all processes) goes to _CPU."""
    import resource

    times, cpu = [], []
    proc = None
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    _CPU[tuple(cmd)] = statistics.median(cpu)
    return statistics.median(times), proc


def run(quick: bool = False, docs: int | None = None, verbose: bool = True) -> dict:
    n = docs or (360 if quick else 1800)
    say = print if verbose else (lambda *a, **k: None)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result: dict = {"docs": n, "cores": os.cpu_count(), "kubernetes_version": K8S_VERSION}
    with tempfile.TemporaryDirectory(prefix="drydock-schema-bench-") as tmp:
        root = Path(tmp) / "rendered"
        files = generate(root, n)
        rel = [str(f.relative_to(tmp)) for f in files]
        # drydock
        cmd = [sys.executable, "-m", "generator.gate.engines.schema", "-q", "rendered"]
        d_time, proc = _time(cmd, 3 if quick else 5, env, Path(tmp))
        if proc.returncode != 0:
            raise RuntimeError(f"drydock found problems in generated documents:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        d1_time, _ = _time(cmd[:-1] + ["-j", "1", "rendered"], 3 if quick else 5, env, Path(tmp))
        result["drydock_one_process"] = {"seconds": round(d1_time, 4), "docs_per_s": round(n / d1_time, 1),
                                         "cpu_s": round(_CPU[tuple(cmd[:-1] + ["-j", "1", "rendered"])], 4)}
        startup, _ = _time([sys.executable, "-c", "pass"], 3, env, Path(tmp))
        result["drydock"] = {"seconds": round(d_time, 4), "docs_per_s": round(n / d_time, 1),
                             "cpu_s": round(_CPU[tuple(cmd)], 4), "python_startup_s": round(startup, 4)}
        # in-process split (one run): read vs validate
        code = ("import time,sys;t=time.perf_counter();from generator.yamlio import read_manifests;"
                "from generator.gate.engines.schema import validate_documents;t1=time.perf_counter();"
                "d=read_manifests(['rendered']);t2=time.perf_counter();validate_documents(d);t3=time.perf_counter();"
                "print(t1-t,t2-t1,t3-t2)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp).stdout.split()
        if len(out) == 3:
            result["drydock"].update(import_s=round(float(out[0]), 4), read_s=round(float(out[1]), 4),
                                     validate_s=round(float(out[2]), 4))
        # kubernetes-validate
        kv = shutil.which("kubernetes-validate") or str(Path(sys.executable).parent / "kubernetes-validate")
        if Path(kv).exists():
            kcmd = [kv, "--strict", "--quiet", "-k", K8S_VERSION, *rel]
            k_time, kproc = _time(kcmd, 1, env, Path(tmp))
            warned = kproc.stdout.count("WARN ")
            errors = kproc.stdout.count("ERROR ")
            result["kubernetes_validate"] = {"seconds": round(k_time, 3), "docs_per_s": round(n / k_time, 1),
                                             "cpu_s": round(_CPU[tuple(kcmd)], 3),
                                             "exit": kproc.returncode, "no_schema_warnings": warned, "errors": errors}
            result["ratio"] = round(k_time / d_time, 1)
            result["cpu_ratio"] = round(_CPU[tuple(kcmd)] / _CPU[tuple(cmd)], 1)
        else:
            result["kubernetes_validate"] = None
            result["ratio"] = None
    d = result["drydock"]
    say(f"{'tool':<22}{'docs':>6}{'wall s':>10}{'docs/s':>10}{'CPU s':>10}")
    d1 = result["drydock_one_process"]
    say(f"{'drydock':<22}{n:>6}{d['seconds']:>10.3f}{d['docs_per_s']:>10.0f}{d['cpu_s']:>10.3f}")
    say(f"{'drydock -j 1':<22}{n:>6}{d1['seconds']:>10.3f}{d1['docs_per_s']:>10.0f}{d1['cpu_s']:>10.3f}")
    k = result["kubernetes_validate"]
    if k:
        say(f"{'kubernetes-validate':<22}{n:>6}{k['seconds']:>10.3f}{k['docs_per_s']:>10.0f}{k['cpu_s']:>10.3f}")
        say(f"(kubernetes-validate: {k['no_schema_warnings']} documents without a schema there (CRDs) were only warned about; "
            f"exit {k['exit']}, {k['errors']} errors)")
    if "read_s" in d:
        say(f"drydock split: python start {d['python_startup_s']:.3f}s, imports {d['import_s']:.3f}s, "
            f"read+parse {d['read_s']:.3f}s, validate {d['validate_s']:.3f}s; {result['cores']} cores")
    try:
        load = os.getloadavg()[0]
        result["load_average"] = round(load, 2)
        busy = " (a busy machine: wall times stretch unevenly, compare CPU times)" if load >= (result["cores"] or 1) - 0.5 else ""
        say(f"load average during the run: {load:.2f} on {result['cores']} cores{busy}")
    except OSError:
        pass
    if k:
        say(f"CPU-time ratio (less sensitive to a busy machine): {result['cpu_ratio']}×")
        say(f"schema: drydock {d['docs_per_s']:.0f} docs/s, kubernetes-validate {k['docs_per_s']:.0f} docs/s, ratio {result['ratio']}×")
    else:
        say(f"schema: drydock {d['docs_per_s']:.0f} docs/s, kubernetes-validate not installed (pip install kubernetes-validate), ratio n/a")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="360 documents instead of 1,800")
    ap.add_argument("--docs", type=int, help="number of documents")
    ap.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = ap.parse_args()
    res = run(args.quick, args.docs)
    if args.json:
        print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
