"""Metrics, alerts, dashboards and tracing as rendered per monitoring level."""
from __future__ import annotations

import json
import math

import promql_parser
import pytest

from .test_platform_support import ENVS, env_of, get, objects, of_kind, platform, pod_spec

from generator.constructs import observability  # noqa: E402

SLO = 0.999


# -- PromQL helpers --------------------------------------------------------------------------
def nodes(expr):
    """Every node of a promql_parser AST."""
    yield expr
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(expr, attr, None)
        if child is not None and type(child).__module__ == "promql_parser":
            yield from nodes(child)
    for arg in getattr(expr, "args", None) or []:
        yield from nodes(arg)


def constant(expr) -> float | None:
    """Value of a constant arithmetic expression, None if it is not constant."""
    if isinstance(expr, promql_parser.NumberLiteral):
        return expr.val
    if isinstance(expr, promql_parser.ParenExpr):
        return constant(expr.expr)
    if isinstance(expr, promql_parser.BinaryExpr):
        a, b = constant(expr.lhs), constant(expr.rhs)
        if a is None or b is None:
            return None
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else math.nan}.get(str(expr.op))
    return None


def comparisons(expr) -> list[tuple[str, float]]:
    """(recorded series name, threshold) for every `series > constant` in the expression."""
    out = []
    for n in nodes(expr):
        if isinstance(n, promql_parser.BinaryExpr) and str(n.op) == ">" and \
                isinstance(n.lhs, promql_parser.VectorSelector):
            value = constant(n.rhs)
            if value is not None:
                out.append((n.lhs.name, value))
    return out


def metric_names(expr) -> set[str]:
    return {n.name for n in nodes(expr) if isinstance(n, promql_parser.VectorSelector) and n.name}


def label_matchers(expr, metric: str) -> set[tuple[str, str]]:
    return {(m.name, m.value) for n in nodes(expr) if isinstance(n, promql_parser.VectorSelector) and n.name == metric
            for m in n.matchers.matchers}


def all_rules(env: str) -> list[dict]:
    return [r for pr in of_kind(env, "PrometheusRule") for g in pr["spec"]["groups"] for r in g["rules"]]


def dashboards(env: str) -> list[tuple[dict, dict]]:
    out = []
    for cm in of_kind(env, "ConfigMap"):
        if cm["metadata"]["labels"].get("grafana_dashboard") == "1":
            ((name, text),) = cm["data"].items()
            out.append((cm, json.loads(text)))
    return out


# -- levels ----------------------------------------------------------------------------------
def test_basic_is_service_monitors_only():
    assert of_kind("dev", "ServiceMonitor")
    assert not of_kind("dev", "PrometheusRule")
    assert not dashboards("dev")


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_full_adds_rules_and_dashboards_for_every_service(env):
    names = sorted(platform().services)
    assert sorted(o["metadata"]["name"] for o in of_kind(env, "PrometheusRule")) == names
    assert sorted(cm["metadata"]["name"] for cm, _ in dashboards(env)) == [f"{n}-dashboard" for n in names]


@pytest.mark.parametrize("env", ENVS)
def test_tracing_env_only_with_apm(env):
    e = platform().environments[env]
    count = 0
    for obj in objects(env):
        spec = pod_spec(obj)
        if spec is None or obj["kind"] == "StatefulSet":
            continue
        v = env_of(spec["containers"][0])
        if env == "prod":
            assert v["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
            assert float(v["OTEL_TRACES_SAMPLER_ARG"]["value"]) == e.tracing_sample_rate
            assert v["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].endswith(":4317")
            assert v["OTEL_SERVICE_NAME"]["value"] == obj["metadata"]["name"]
            count += 1
        else:
            assert not [k for k in v if k.startswith("OTEL_")]
    assert count == (9 if env == "prod" else 0)  # 6 Rollouts + 3 migration Jobs


@pytest.mark.parametrize("env", ENVS)
def test_service_monitor_points_at_a_declared_port(env):
    for sm in of_kind(env, "ServiceMonitor"):
        svc = get(env, "Service", sm["metadata"]["name"])
        ports = {p["name"] for p in svc["spec"]["ports"]}
        assert sm["spec"]["endpoints"][0]["port"] in ports
        assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()


@pytest.mark.parametrize("env", ENVS)
def test_json_logs_are_annotated_for_fluent_bit(env):
    for obj in objects(env):
        if obj["kind"] in ("Deployment", "Rollout", "Job"):
            assert obj["spec"]["template"]["metadata"]["annotations"]["fluentbit.io/parser"] == "json"


# -- PromQL ------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVS)
def test_every_promql_expression_parses(env):
    exprs = [r["expr"] for r in all_rules(env)]
    exprs += [t["expr"] for _, d in dashboards(env) for p in d["panels"] for t in p["targets"]]
    exprs += [m["provider"]["prometheus"]["query"].replace("{{args.service}}", "order-service")
              .replace("{{args.canary-hash}}", "5d8f7c9b4")
              for at in of_kind(env, "AnalysisTemplate") for m in at["spec"]["metrics"]]
    if env != "dev":
        assert len(exprs) > 50
    for e in exprs:
        promql_parser.parse(e)  # raises ValueError on a bad expression


def test_parser_rejects_bad_promql():
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(http_requests_total[5m])")


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_burn_rate_alerts_for_the_999_slo(env):
    budget = 1 - SLO
    for svc in platform().services.values():
        pr = get(env, "PrometheusRule", svc.name)
        rules = [r for g in pr["spec"]["groups"] for r in g["rules"]]
        alerts = {r["alert"]: r for r in rules if "alert" in r}
        fast, slow = alerts["ErrorBudgetBurnFast"], alerts["ErrorBudgetBurnSlow"]
        assert fast["labels"]["severity"] == "critical" and slow["labels"]["severity"] == "warning"
        fast_c = comparisons(promql_parser.parse(fast["expr"]))
        slow_c = comparisons(promql_parser.parse(slow["expr"]))
        expected_fast = {("service:slo_errors:ratio_rate1h", 14.4), ("service:slo_errors:ratio_rate5m", 14.4),
                         ("service:slo_errors:ratio_rate6h", 6.0), ("service:slo_errors:ratio_rate30m", 6.0)}
        expected_slow = {("service:slo_errors:ratio_rate1d", 3.0), ("service:slo_errors:ratio_rate2h", 3.0),
                         ("service:slo_errors:ratio_rate3d", 1.0), ("service:slo_errors:ratio_rate6h", 1.0)}
        for got, want in ((fast_c, expected_fast), (slow_c, expected_slow)):
            assert len(got) == len(want)
            for (series, burn) in want:
                match = [t for s, t in got if s == series and math.isclose(t, burn * budget, rel_tol=1e-9)]
                assert match, f"{svc.name}: no {series} > {burn} x {budget:.3f} in {got}"
        assert math.isclose(dict(fast_c)["service:slo_errors:ratio_rate1h"], 0.0144, rel_tol=1e-9)
        # Each window the alerts read is recorded.
        recorded = {r["record"] for r in rules if "record" in r}
        for series, _ in fast_c + slow_c:
            assert series in recorded


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_golden_signals_are_recorded(env):
    for svc in platform().services.values():
        recorded = {r["record"] for r in all_rules(env) if "record" in r
                    and (r.get("labels", {}).get("service") == svc.name or f'service="{svc.name}"' in r["expr"])}
        assert {"service:http_requests:rate5m", "service:http_errors:ratio_rate5m",
                "service:http_request_duration_seconds:p99_5m", "service:cpu_saturation:ratio",
                "service:memory_saturation:ratio"} <= recorded, svc.name


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_alerts_carry_routing_labels(env):
    teams = {s.name: s.team for s in platform().services.values()}
    alerts = [r for r in all_rules(env) if "alert" in r]
    assert alerts
    for a in alerts:
        assert a["labels"]["severity"] in ("critical", "warning")
        assert a["labels"]["team"] == teams[a["labels"]["service"]]
        assert a["labels"]["env"] == env


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_business_rules_follow_business_metrics(env):
    expected = {
        "order-service": {"business:orders_created:rate5m", "business:order_revenue:per_hour"},
        "frontend": {"business:cart_abandonment:ratio_rate1h"},
        "user-service": {"business:user_signups:rate1h"},
    }
    for pr in of_kind(env, "PrometheusRule"):
        name = pr["metadata"]["name"]
        records = {r["record"] for g in pr["spec"]["groups"] for r in g["rules"]
                   if "record" in r and r["record"].startswith("business:")}
        assert records == expected.get(name, set()), name


@pytest.mark.parametrize("env", ("staging", "prod"))
def test_analysis_template_reads_the_series_the_slo_rules_use(env):
    rule_exprs = [promql_parser.parse(r["expr"]) for r in all_rules(env)
                  if r.get("record", "").startswith("service:slo_errors:")]
    assert any(("code", "5..") in label_matchers(e, "http_requests_total") for e in rule_exprs)
    for at in of_kind("prod", "AnalysisTemplate"):
        svc = at["metadata"]["name"].removesuffix("-error-rate")
        q = promql_parser.parse(at["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
                                .replace("{{args.service}}", svc).replace("{{args.canary-hash}}", "5d8f7c9b4"))
        assert metric_names(q) == {"http_requests_total"}
        assert metric_names(q) <= set().union(*(metric_names(e) for e in rule_exprs))
        assert ("code", "5..") in label_matchers(q, "http_requests_total")
        # canary-only: the pods of the canary ReplicaSet (<rollout>-<pod-template-hash>-*)
        assert ("pod", f"{svc}-5d8f7c9b4-.*") in label_matchers(q, "http_requests_total")
        # The canary fails above the SLO's error-budget rate; no traffic (empty result) is no evidence.
        assert at["spec"]["metrics"][0]["successCondition"] == f"len(result) == 0 || result[0] < {1 - SLO:.3f}"


# -- dashboards --------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ("staging", "prod"))
def test_dashboards_are_deterministic_valid_json(env):
    uids = set()
    for cm, dash in dashboards(env):
        ((key, text),) = cm["data"].items()
        assert key.endswith(".json")
        assert text == json.dumps(dash, sort_keys=True, indent=2) + "\n"
        assert dash["uid"] not in uids and len(dash["uid"]) <= 40
        uids.add(dash["uid"])
        titles = {p["title"] for p in dash["panels"]}
        assert {"Traffic (requests/s)", "Errors (5xx ratio)", "Latency", "Saturation"} <= titles
        assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])


def test_burn_threshold_text():
    assert observability.burn_threshold(14.4) == "(14.4 * (1 - 0.999))"
    assert observability.burn_threshold(6) == "(6 * (1 - 0.999))"
