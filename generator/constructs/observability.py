"""Metrics, alerts and dashboards, by the environment's `spec.monitoring` level.

basic     a ServiceMonitor per service (port/path from `spec.metrics`).
full      + a PrometheusRule per service: recording rules for the four golden signals,
            multi-window multi-burn-rate alerts for the 99.9% availability SLO, and
            business-metric rules for the `spec.businessMetrics` the service lists;
          + a Grafana dashboard per service as a ConfigMap with `grafana_dashboard: "1"`.
full+apm  + OpenTelemetry tracing env on every workload (wiring.tracing_env).

Alert labels `severity` (critical = page, warning = ticket), `team` (from the
service's `metadata.team`), `service` and `env` are what AlertManager routes on.

Metric contract for services: `http_requests_total{code}` (a counter labelled with the
HTTP status code) and `http_request_duration_seconds` (a histogram). The Prometheus
operator adds `service` and `namespace` to every scraped series; the canary
AnalysisTemplate queries the same series.
"""
from __future__ import annotations

import json

from ..model.types import Environment, Platform, Service
from . import datastores
from .base import RenderContext, emit, labels, selector

SLO_TARGET = 0.999
SLO_LABEL = "availability-99.9"
PROMETHEUS_RELEASE = {"release": "kube-prometheus-stack"}  # kube-prometheus-stack's default rule/monitor selector
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, [(burn rate, long window, short window)...], for): Google SRE workbook, ch. 5.
BURN_ALERTS = (
    ("ErrorBudgetBurnFast", "critical", ((14.4, "1h", "5m"), (6, "6h", "30m")), "2m"),
    ("ErrorBudgetBurnSlow", "warning", ((3, "1d", "2h"), (1, "3d", "6h")), "15m"),
)
RUNBOOK = "https://runbooks.example.com/ecommerce"

# businessMetrics name -> recording rules and alerts (recorded names are platform-wide).
BUSINESS = {
    "orders": {
        "record": [("business:orders_created:rate5m", "sum(rate(orders_created_total{{{sel}}}[5m]))")],
        "alerts": [("OrdersStalled",
                    "business:orders_created:rate5m == 0 and business:orders_created:rate5m offset 1d > 0",
                    "30m", "No orders for 30 minutes although there were orders at this time yesterday.")],
    },
    "revenue": {
        "record": [("business:order_revenue:per_hour", "sum(rate(order_revenue_total{{{sel}}}[1h])) * 3600")],
        "alerts": [("RevenueDrop",
                    "business:order_revenue:per_hour < 0.5 * (business:order_revenue:per_hour offset 1w)",
                    "1h", "Revenue per hour is less than half of the same hour last week.")],
    },
    "cart_abandonment": {
        "record": [("business:cart_abandonment:ratio_rate1h",
                    "1 - (sum(rate(checkouts_completed_total{{{sel}}}[1h])) / sum(rate(carts_created_total{{{sel}}}[1h])))")],
        "alerts": [("CartAbandonmentHigh", "business:cart_abandonment:ratio_rate1h > 0.85", "30m",
                    "More than 85% of carts were abandoned over the last hour.")],
    },
    "signups": {
        "record": [("business:user_signups:rate1h", "sum(rate(user_signups_total{{{sel}}}[1h]))")],
        "alerts": [("SignupsStalled",
                    "business:user_signups:rate1h == 0 and business:user_signups:rate1h offset 1d > 0",
                    "2h", "No sign-ups for two hours although there were sign-ups at this time yesterday.")],
    },
}


def level_at_least(env: Environment, level: str) -> bool:
    order = ("basic", "full", "full+apm")
    return order.index(env.monitoring) >= order.index(level)


def _sel(service: Service, env: Environment, extra: str = "") -> str:
    base = f'namespace="{env.namespace}",service="{service.name}"'
    return base + ("," + extra if extra else "")


def _meta(name: str, service: Service, env: Environment, extra_labels: dict | None = None) -> dict:
    return {"name": name, "namespace": env.namespace,
            "labels": {**labels(service.name, env, service.component, env.version_of(service)), **(extra_labels or {})}}


# -- ServiceMonitor ------------------------------------------------------------------------
def service_monitor(service: Service, env: Environment) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": _meta(service.name, service, env, PROMETHEUS_RELEASE),
        "spec": {
            "selector": {"matchLabels": selector(service.name, env)},
            "namespaceSelector": {"matchNames": [env.namespace]},
            "endpoints": [{"port": service.metrics_port, "path": service.metrics_path, "interval": "30s",
                           "scrapeTimeout": "10s", "honorLabels": False}],
        },
    }


# -- PrometheusRule ------------------------------------------------------------------------
def burn_threshold(burn: float) -> str:
    """PromQL for `burn x (1 - SLO)`: the error ratio that spends the budget `burn` times too fast."""
    return f"({burn:g} * (1 - {SLO_TARGET:g}))"


def _alert_labels(service: Service, env: Environment, severity: str, **extra: str) -> dict:
    return {"severity": severity, "team": service.team, "service": service.name, "env": env.name, **extra}


def golden_signal_rules(service: Service, env: Environment) -> list[dict]:
    s, s5 = _sel(service, env), _sel(service, env, 'code=~"5.."')
    c = f'namespace="{env.namespace}",container="{service.name}"'
    return [
        {"record": "service:http_requests:rate5m", "expr": f"sum by (service) (rate(http_requests_total{{{s}}}[5m]))"},
        {"record": "service:http_errors:ratio_rate5m",
         "expr": f"sum by (service) (rate(http_requests_total{{{s5}}}[5m])) / sum by (service) (rate(http_requests_total{{{s}}}[5m]))"},
        {"record": "service:http_request_duration_seconds:p50_5m",
         "expr": f"histogram_quantile(0.5, sum by (le, service) (rate(http_request_duration_seconds_bucket{{{s}}}[5m])))"},
        {"record": "service:http_request_duration_seconds:p99_5m",
         "expr": f"histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket{{{s}}}[5m])))"},
        {"record": "service:cpu_saturation:ratio",
         "expr": f"sum(rate(container_cpu_usage_seconds_total{{{c}}}[5m])) / sum(kube_pod_container_resource_limits{{{c},resource=\"cpu\"}})",
         "labels": {"service": service.name}},
        {"record": "service:memory_saturation:ratio",
         "expr": f"sum(container_memory_working_set_bytes{{{c}}}) / sum(kube_pod_container_resource_limits{{{c},resource=\"memory\"}})",
         "labels": {"service": service.name}},
    ]


def golden_signal_alerts(service: Service, env: Environment) -> list[dict]:
    n = f'service="{service.name}"'
    def alert(name, expr, for_, severity, summary):
        return {"alert": name, "expr": expr, "for": for_, "labels": _alert_labels(service, env, severity),
                "annotations": {"summary": f"{service.name}: {summary}",
                                "runbook_url": f"{RUNBOOK}/{service.name}#{name.lower()}"}}
    return [
        alert("HighLatencyP99", f"service:http_request_duration_seconds:p99_5m{{{n}}} > 1", "10m", "warning",
              "p99 latency above 1s for 10 minutes"),
        alert("TrafficStopped", f"service:http_requests:rate5m{{{n}}} == 0 and service:http_requests:rate5m{{{n}}} offset 1h > 0",
              "10m", "warning", "no requests for 10 minutes although there was traffic an hour ago"),
        alert("HighErrorRatio", f"service:http_errors:ratio_rate5m{{{n}}} > 0.05", "5m", "critical",
              "more than 5% of requests fail"),
        alert("CPUSaturation", f"service:cpu_saturation:ratio{{{n}}} > 0.9", "15m", "warning",
              "CPU above 90% of the limit for 15 minutes"),
        alert("MemorySaturation", f"service:memory_saturation:ratio{{{n}}} > 0.9", "15m", "warning",
              "memory above 90% of the limit for 15 minutes (OOM kill is close)"),
    ]


def slo_rules(service: Service, env: Environment) -> list[dict]:
    s, s5 = _sel(service, env), _sel(service, env, 'code=~"5.."')
    rules: list[dict] = [{
        "record": f"service:slo_errors:ratio_rate{w}",
        "expr": f"sum by (service) (rate(http_requests_total{{{s5}}}[{w}])) / sum by (service) (rate(http_requests_total{{{s}}}[{w}]))",
        "labels": {"slo": SLO_LABEL},
    } for w in WINDOWS]
    n = f'service="{service.name}"'
    for name, severity, tiers, for_ in BURN_ALERTS:
        clauses = [f"(service:slo_errors:ratio_rate{long}{{{n}}} > {burn_threshold(b)} and "
                   f"service:slo_errors:ratio_rate{short}{{{n}}} > {burn_threshold(b)})" for b, long, short in tiers]
        rules.append({
            "alert": name, "expr": " or ".join(clauses), "for": for_,
            "labels": _alert_labels(service, env, severity, slo=SLO_LABEL),
            "annotations": {
                "summary": f"{service.name} is burning its 99.9% error budget too fast",
                "description": "; ".join(f"{b:g}x over {long} and {short}" for b, long, short in tiers)
                               + f" (threshold = burn rate x {1 - SLO_TARGET:.3f})",
                "runbook_url": f"{RUNBOOK}/{service.name}#{name.lower()}",
            },
        })
    return rules


def business_rules(service: Service, env: Environment) -> list[dict]:
    sel = f'namespace="{env.namespace}"'
    rules: list[dict] = []
    for metric in service.business_metrics:
        spec = BUSINESS.get(metric)
        if spec is None:
            continue
        rules += [{"record": rec, "expr": expr.format(sel=sel), "labels": {"service": service.name}}
                  for rec, expr in spec["record"]]
        rules += [{"alert": name, "expr": expr, "for": for_,
                   "labels": _alert_labels(service, env, "warning", category="business"),
                   "annotations": {"summary": summary, "runbook_url": f"{RUNBOOK}/{service.name}#{name.lower()}"}}
                  for name, expr, for_, summary in spec["alerts"]]
    return rules


def prometheus_rule(service: Service, env: Environment) -> dict:
    groups = [
        {"name": f"{service.name}.golden-signals", "interval": "30s",
         "rules": golden_signal_rules(service, env) + golden_signal_alerts(service, env)},
        {"name": f"{service.name}.slo", "interval": "30s", "rules": slo_rules(service, env)},
    ]
    business = business_rules(service, env)
    if business:
        groups.append({"name": f"{service.name}.business", "interval": "1m", "rules": business})
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": _meta(service.name, service, env, PROMETHEUS_RELEASE), "spec": {"groups": groups}}


# -- Grafana dashboard ---------------------------------------------------------------------
def _panel(pid: int, title: str, exprs: list[tuple[str, str]], unit: str, x: int, y: int) -> dict:
    return {
        "id": pid, "type": "timeseries", "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": e, "legendFormat": legend}
                    for i, (e, legend) in enumerate(exprs)],
    }


def dashboard(service: Service, env: Environment) -> dict:
    n = f'service="{service.name}"'
    budget = f"{1 - SLO_TARGET:.3f}"
    specs = [
        ("Traffic (requests/s)", [(f"service:http_requests:rate5m{{{n}}}", "req/s")], "reqps"),
        ("Errors (5xx ratio)", [(f"service:http_errors:ratio_rate5m{{{n}}}", "5xx ratio")], "percentunit"),
        ("Latency", [(f"service:http_request_duration_seconds:p50_5m{{{n}}}", "p50"),
                     (f"service:http_request_duration_seconds:p99_5m{{{n}}}", "p99")], "s"),
        ("Saturation", [(f"service:cpu_saturation:ratio{{{n}}}", "CPU / limit"),
                        (f"service:memory_saturation:ratio{{{n}}}", "memory / limit")], "percentunit"),
        ("Error budget burn rate (99.9% SLO)", [(f"service:slo_errors:ratio_rate1h{{{n}}} / {budget}", "1h"),
                                                (f"service:slo_errors:ratio_rate6h{{{n}}} / {budget}", "6h")], "none"),
    ]
    for metric in service.business_metrics:
        for rec, _ in BUSINESS.get(metric, {}).get("record", []):
            specs.append((f"Business: {metric}", [(f"{rec}{{{n}}}", metric)], "none"))
    panels = [_panel(i + 1, title, exprs, unit, (i % 2) * 12, (i // 2) * 8) for i, (title, exprs, unit) in enumerate(specs)]
    return {
        "uid": f"{env.name}-{service.name}"[:40],
        "title": f"{service.name} ({env.name})",
        "description": service.description,
        "tags": ["ecommerce", env.name, service.team],
        "editable": False, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39, "timezone": "utc",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Data source", "hide": 0}]},
        "panels": panels,
    }


def dashboard_configmap(service: Service, env: Environment) -> dict:
    meta = _meta(f"{service.name}-dashboard", service, env, {"grafana_dashboard": "1"})
    meta["annotations"] = {"grafana_folder": "ecommerce"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {f"{service.name}.json": json.dumps(dashboard(service, env), sort_keys=True, indent=2) + "\n"}}


def rabbitmq_monitor(env: Environment) -> dict:
    name = "rabbitmq"
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": env.namespace,
                     "labels": {**labels(name, env, "queue"), **PROMETHEUS_RELEASE}},
        "spec": {"selector": {"matchLabels": selector(name, env)},
                 "namespaceSelector": {"matchNames": [env.namespace]},
                 "endpoints": [{"port": "prometheus", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]},
    }


def build_observability(ctx: RenderContext, platform: Platform) -> None:
    env = ctx.env
    for name in platform.service_order():
        svc = platform.services[name]
        if not svc.metrics_port:
            continue
        chart = ctx.chart(name)
        emit(chart, ctx, service_monitor(svc, env), svc.line_of("spec.metrics"))
        if level_at_least(env, "full"):
            emit(chart, ctx, prometheus_rule(svc, env), env.line_of("spec.monitoring"))
            emit(chart, ctx, dashboard_configmap(svc, env), env.line_of("spec.monitoring"))
    if not datastores.managed(env) and datastores.used_by(platform.services, "rabbitmq"):
        emit(ctx.chart("rabbitmq"), ctx, rabbitmq_monitor(env), env.line_of("spec.datastores"))
