#!/usr/bin/env python
"""Regenerate drydock's vendored JSON Schemas (generator/schemas/k8s and generator/schemas/crds).

Sources (see generator/schemas/PROVENANCE.md):
  * Kubernetes built-in kinds: the installed PyPI package `kubernetes-validate`
    (Apache-2.0), folder `kubernetes-json-schema/v<K8S_VERSION>-local-strict/_definitions.json`
    (the Kubernetes OpenAPI definitions converted to JSON Schema 2020-12, strict flavour:
    `additionalProperties: false` on every object with properties).
  * Custom resources: the shared copy of datreeio/CRDs-catalog (MIT), default
    `../shared/schemas/crds` relative to the repository root.

Transformations (none changes what validates):
  * drop the annotation keywords `description` and `x-kubernetes-*` from schema objects
    (never from `properties` maps, where `description` can be a field name);
  * keep only the Kubernetes definitions reachable from an indexed kind (today that is all);
  * write minified, key-sorted JSON; the Kubernetes definitions one per line so git diffs stay readable.

Usage: python scripts/vendor_schemas.py [CRD_DIR] [--out generator/schemas] [--k8s-version 1.31.0]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.31.0"  # pinned minor; change here and re-run, then update docs/schemas.md

# (apiVersion, kind) -> file in the CRD catalog: the custom resources drydock emits.
CRD_KINDS: dict[tuple[str, str], str] = {
    ("argoproj.io/v1alpha1", "Application"): "argoproj.io/application_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AppProject"): "argoproj.io/appproject_v1alpha1.json",
    ("argoproj.io/v1alpha1", "Rollout"): "argoproj.io/rollout_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "argoproj.io/analysistemplate_v1alpha1.json",
    ("cert-manager.io/v1", "Certificate"): "cert-manager.io/certificate_v1.json",
    ("cert-manager.io/v1", "ClusterIssuer"): "cert-manager.io/clusterissuer_v1.json",
    ("cert-manager.io/v1", "Issuer"): "cert-manager.io/issuer_v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com/podmonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("bitnami.com/v1alpha1", "SealedSecret"): "bitnami.com/sealedsecret_v1alpha1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
    ("external-secrets.io/v1beta1", "ExternalSecret"): "external-secrets.io/externalsecret_v1beta1.json",
    ("external-secrets.io/v1", "ClusterSecretStore"): "external-secrets.io/clustersecretstore_v1.json",
    ("external-secrets.io/v1", "SecretStore"): "external-secrets.io/secretstore_v1.json",
    ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler"): "autoscaling.k8s.io/verticalpodautoscaler_v1.json",
}

# Keywords whose value maps names to subschemas / is a subschema / is a list of subschemas.
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_SCHEMA_ONE = {"additionalProperties", "items", "not", "if", "then", "else", "contains",
               "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems"}
_SCHEMA_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}


def strip_annotations(schema):
    """Return `schema` without `description` / `x-kubernetes-*` keywords, schema-aware."""
    if isinstance(schema, list):  # draft-4 style tuple `items`
        return [strip_annotations(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "description" or key.startswith("x-kubernetes-"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_annotations(sub) for name, sub in value.items()}
        elif key in _SCHEMA_ONE and isinstance(value, (dict, list)):
            out[key] = strip_annotations(value)
        elif key in _SCHEMA_LIST and isinstance(value, list):
            out[key] = [strip_annotations(s) for s in value]
        else:  # enum, default, required, type, format, ...: data, copied as is
            out[key] = value
    return out


def refs_in(schema, acc: set[str]) -> set[str]:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            acc.add(ref[len("#/$defs/"):])
        for v in schema.values():
            refs_in(v, acc)
    elif isinstance(schema, list):
        for v in schema:
            refs_in(v, acc)
    return acc


def closure(defs: dict, roots) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(refs_in(defs[name], set()) - seen)
    return seen


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def k8s_source_dir(version: str) -> tuple[Path, str]:
    try:
        import kubernetes_validate  # noqa: F401
        from kubernetes_validate.version import __version__ as kv_version
    except ImportError:
        raise SystemExit("error: kubernetes-validate is not installed\n  fix: pip install kubernetes-validate (bench extra), then re-run")
    src = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    if not (src / "_definitions.json").is_file():
        raise SystemExit(f"error: kubernetes-validate {kv_version} has no schemas for v{version} ({src})\n"
                         "  fix: pick a version it ships (ls its kubernetes-json-schema folder)")
    return src, kv_version


def build_k8s(version: str) -> tuple[dict[str, str], dict]:
    """Return {relative path: text} for generator/schemas/k8s and a summary."""
    src, kv_version = k8s_source_dir(version)
    raw = (src / "_definitions.json").read_bytes()
    defs = json.loads(raw)["$defs"]
    kinds: dict[str, dict[str, str]] = {}
    for name, d in defs.items():
        gvks = d.get("x-kubernetes-group-version-kind") or []
        if len(gvks) != 1:  # DeleteOptions / WatchEvent carry every group: not manifests
            continue
        g = gvks[0]
        api_version = f"{g['group']}/{g['version']}" if g["group"] else g["version"]
        kinds.setdefault(api_version, {})[g["kind"]] = name
    roots = [n for per in kinds.values() for n in per.values()]
    keep = closure(defs, roots)
    stripped = {n: strip_annotations(defs[n]) for n in sorted(keep)}
    lines = ",\n".join(f"{json.dumps(n)}:{dumps(s)}" for n, s in stripped.items())
    definitions = '{"$defs":{\n' + lines + "\n}}\n"
    index = {
        "kubernetesVersion": version,
        "flavour": "strict",
        "source": {
            "package": "kubernetes-validate",
            "packageVersion": kv_version,
            "file": f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/_definitions.json",
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "kinds": {av: dict(sorted(per.items())) for av, per in sorted(kinds.items())},
    }
    files = {
        "k8s/definitions.json": definitions,
        "k8s/index.json": json.dumps(index, indent=1, sort_keys=True) + "\n",
    }
    return files, {"kinds": len(roots), "definitions": len(keep), "of": len(defs)}


def build_crds(crd_dir: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    index: dict[str, dict[str, dict]] = {}
    for (api_version, kind), rel in sorted(CRD_KINDS.items()):
        path = crd_dir / rel
        if not path.is_file():
            raise SystemExit(f"error: CRD schema {path} not found\n  fix: pass the CRDs-catalog folder as the first argument")
        raw = path.read_bytes()
        schema = json.loads(raw)
        files[f"crds/{rel}"] = dumps(strip_annotations(schema)) + "\n"
        index.setdefault(api_version, {})[kind] = {"file": rel, "sha256": hashlib.sha256(raw).hexdigest()}
    files["crds/index.json"] = json.dumps(
        {"source": "datreeio/CRDs-catalog (MIT), see ../PROVENANCE.md", "kinds": index}, indent=1, sort_keys=True) + "\n"
    return files


def build(crd_dir: Path, version: str = K8S_VERSION) -> dict[str, str]:
    files, _ = build_k8s(version)
    files.update(build_crds(crd_dir))
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("crd_dir", nargs="?", default=str(REPO.parent / "shared" / "schemas" / "crds"),
                    help="folder of the CRDs-catalog copy (default ../shared/schemas/crds)")
    ap.add_argument("--out", default=str(REPO / "generator" / "schemas"), help="output folder (default generator/schemas)")
    ap.add_argument("--k8s-version", default=K8S_VERSION)
    args = ap.parse_args(argv)
    out = Path(args.out)
    k8s, summary = build_k8s(args.k8s_version)
    files = {**k8s, **build_crds(Path(args.crd_dir))}
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    total = sum(len(t.encode()) for t in files.values())
    print(f"wrote {len(files)} files ({total / 1024:.0f} KiB) to {out}: Kubernetes v{args.k8s_version} "
          f"{summary['kinds']} kinds, {summary['definitions']}/{summary['of']} definitions; {len(CRD_KINDS)} CRD kinds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
