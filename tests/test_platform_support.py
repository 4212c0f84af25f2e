"""Shared helpers for the platform tests (no tests here): one in-process render per environment."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema

from generator.model.loader import load_project
from generator.render import render_env

ROOT = Path(__file__).resolve().parent.parent
ENVS = ("dev", "staging", "prod")
CRDS = Path("/work/shared/schemas/crds")


@functools.lru_cache(maxsize=None)
def platform():
    return load_project(ROOT)


@functools.lru_cache(maxsize=None)
def rendered(env: str):
    return render_env(platform(), env)


def objects(env: str) -> list[dict]:
    return [f.obj for f in rendered(env).files]


def files(env: str) -> dict[str, dict]:
    return {f.path: f.obj for f in rendered(env).files}


def of_kind(env: str, kind: str) -> list[dict]:
    return [o for o in objects(env) if o["kind"] == kind]


def get(env: str, kind: str, name: str) -> dict:
    found = [o for o in of_kind(env, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{env}: expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(obj: dict) -> dict | None:
    if obj["kind"] in ("Deployment", "StatefulSet", "Job", "Rollout", "DaemonSet", "ReplicaSet"):
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj: dict) -> dict:
    return obj["spec"]["template"]["metadata"]["labels"]


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


@functools.lru_cache(maxsize=None)
def crd_validator(group: str, kind: str, version: str):
    path = CRDS / group / f"{kind.lower()}_{version}.json"
    return jsonschema.Draft202012Validator(json.loads(path.read_text())) if path.exists() else None
