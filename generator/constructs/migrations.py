"""Schema migrations as an ArgoCD PreSync hook (docs/migrations.md).

For every service with `spec.database.migrations: true`:

- Job `<svc>-migrate` (hook PreSync, wave 0): the service's own image at the version
  being deployed runs `/app/migrate up` before any new pod starts. Deleted before the
  next hook is created and after it succeeds; kept when it fails so it can be read.
- ServiceAccount, ExternalSecret (the *migrator* database user, which owns the schema;
  the service's own user only reads and writes rows) and NetworkPolicy for the Job,
  all hooks in wave -1 so they exist before the Job on the very first sync too.

Migrations must be expand/contract: the schema after `up` has to work with both the
old and the new version of the service, because old pods keep serving until the
rollout finishes (and during a canary, for a long time).
"""
from __future__ import annotations

from ..model.types import Environment, Platform, Service
from . import datastores, security, wiring
from .base import RenderContext, emit, image_sources, labels, restricted_container_security, restricted_pod_security, selector

COMMAND = ["/app/migrate", "up"]
BACKOFF_LIMIT = 2
ACTIVE_DEADLINE_SECONDS = 900
TTL_SECONDS_AFTER_FINISHED = 86400
CPU, MEMORY = "500m", "512Mi"


def hook(wave: int, delete_policy: str) -> dict[str, str]:
    return {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": delete_policy,
            "argocd.argoproj.io/sync-wave": str(wave)}


def job_name(service: Service) -> str:
    return f"{service.name}-migrate"


def migrator_secret(service: Service) -> str:
    return f"{service.name}-migrator-credentials"


def _labels(service: Service, env: Environment) -> dict:
    return labels(job_name(service), env, "migration", env.version_of(service))


def migration_env(service: Service, env: Environment) -> list[dict]:
    out = [{"name": "DEPLOY_ENV", "value": env.name}]
    out += datastores.connection_env(service, service.database_engine, env, secret=migrator_secret(service))
    if service.database_engine == "postgresql":
        # Fail fast instead of queueing behind live traffic: a DDL lock wait blocks every later query.
        out.append({"name": "PGOPTIONS", "value": "-c lock_timeout=5s -c statement_timeout=15min"})
    out += wiring.tracing_env(job_name(service), env.version_of(service), env)
    return sorted(out, key=lambda e: e["name"])


def migration_job(service: Service, env: Environment) -> dict:
    name = job_name(service)
    meta_labels = _labels(service, env)
    pod_labels = {**meta_labels, **selector(name, env)}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": env.namespace, "labels": meta_labels,
                     "annotations": hook(0, "BeforeHookCreation,HookSucceeded")},
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": wiring.pod_annotations(service, env) or None},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": restricted_pod_security(),
                    "containers": [{
                        "name": "migrate",
                        "image": env.image_for(service),
                        "imagePullPolicy": "IfNotPresent",
                        "command": list(COMMAND),
                        "env": migration_env(service, env),
                        "resources": {"requests": {"cpu": CPU, "memory": MEMORY},
                                      "limits": {"cpu": CPU, "memory": MEMORY}},
                        "securityContext": restricted_container_security(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def build_migrations(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    for name in platform.service_order():
        svc = platform.services[name]
        if not (svc.migrations and svc.database_engine):
            continue
        chart, src = ctx.chart(name), svc.line_of("spec.database.migrations")
        support = hook(-1, "BeforeHookCreation")
        emit(chart, ctx, {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": job_name(svc), "namespace": env.namespace,
                                       "labels": _labels(svc, env), "annotations": support},
                          "automountServiceAccountToken": False}, src)
        emit(chart, ctx, datastores.external_secret(
            migrator_secret(svc), env.namespace, _labels(svc, env),
            datastores.credential_keys(env, svc.database_engine, f"{svc.name}-migrator"), annotations=support), src)
        emit(chart, ctx, security.migration_policy(svc, env, support), src)
        emit(chart, ctx, migration_job(svc, env), src,
             image_sources(svc, env, ("spec", "template", "spec", "containers", 0)))
