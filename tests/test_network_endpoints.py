"""Which values name an in-cluster endpoint, and which Service, namespace and port they mean."""
from __future__ import annotations

import pytest

from generator.platform.endpoints import Names, parse_value, workload_endpoints
from generator.yamlio import parse_manifests

NAMES = Names(namespaces={"shop", "obs", "kube-system"}, services={"api", "db", "cache"})


@pytest.mark.parametrize("value, key, want", [
    ("http://api:8080/v1", "API_URL", [("api", "shop", 8080, False)]),
    ("http://api/v1", "API_URL", [("api", "shop", 80, False)]),
    ("https://api.shop/v1", "X", [("api", "shop", 443, True)]),
    ("api.obs.svc:9000", "ANY", [("api", "obs", 9000, True)]),
    ("API.Obs.SVC.cluster.local.:9000", "ANY", [("api", "obs", 9000, True)]),
    ("grpc://collector.obs.svc.cluster.local:4317", "OTLP", [("collector", "obs", 4317, True)]),
    ("postgres://u:p@db.shop.svc.cluster.local/app?sslmode=disable", "DSN", [("db", "shop", 5432, True)]),
    ("postgresql://db/app", "DATABASE_URL", [("db", "shop", 5432, False)]),
    ("jdbc:postgresql://db.shop.svc:6543/app", "JDBC_URL", [("db", "shop", 6543, True)]),
    ("jdbc:mysql://mysql.data.svc/app", "JDBC_URL", [("mysql", "data", 3306, True)]),
    ("mongodb://mongo-0.mongo.data.svc:27017,mongo-1.mongo.data.svc:27018/shop?replicaSet=rs0", "MONGO_URL",
     [("mongo", "data", 27017, True), ("mongo", "data", 27018, True)]),
    ("mongodb://a.data.svc,b.data.svc/x", "M", [("a", "data", 27017, True), ("b", "data", 27017, True)]),
    ("rediss://cache.shop.svc:6380/0", "REDIS_URL", [("cache", "shop", 6380, True)]),
    ("redis://:secret@cache/0", "REDIS_URL", [("cache", "shop", 6379, False)]),
    ("amqp://rabbit.shop.svc", "AMQP_URL", [("rabbit", "shop", 5672, True)]),
    ("amqps://rabbit.shop.svc", "AMQP_URL", [("rabbit", "shop", 5671, True)]),
    ("kafka-0.kafka.data.svc:9092,kafka-1.kafka.data.svc:9092", "KAFKA_BOOTSTRAP_SERVERS",
     [("kafka", "data", 9092, True)] * 2),
    ("cache:6379", "ANYTHING", [("cache", "shop", 6379, False)]),
    ("dns:///collector.obs.svc.cluster.local:4317", "OTLP_TARGET", [("collector", "obs", 4317, True)]),
    ("dns://10.0.0.10/collector.obs:4317", "OTLP_TARGET", [("collector", "obs", 4317, True)]),
    ("cache", "CACHE_HOST", [("cache", "shop", None, False)]),
    ("db.shop", "WHATEVER", [("db", "shop", None, True)]),
    ("api.unknownns", "X", [("api", "unknownns", None, True)]),  # a Service of the render, any namespace
])
def test_in_cluster_names(value, key, want):
    assert parse_value(value, key, "shop", NAMES) == want


@pytest.mark.parametrize("value, key", [
    ("https://api.stripe.com/v1", "PAYMENT_URL"),
    ("db.abc.eu-west-1.rds.amazonaws.com:5432", "DATABASE_HOST"),
    ("redis.internal.shop.example.com", "REDIS_HOST"),
    ("10.0.0.5:5432", "DATABASE_HOST"),
    ("http://localhost:8080", "SELF_URL"),
    ("example.com", "SITE"),
    ("json", "LOG_FORMAT"),
    ("ecommerce", "AMQP_VHOST"),
    ("1.5", "RATIO"),
    ("db", "DATABASE_NAME"),  # a bare word is a host only under a host-like key
    ("none", "CALLBACK_URL"),
    ("redis", "CACHE_BACKEND"),  # a backend *type*, not a host
    ("pod.obs.pod.cluster.local", "X"),
    ("redis:7", "REDIS_IMAGE"),  # an image reference, not host:port
    ("12:30", "BACKUP_AT"),  # Service names start with a letter
    ("api:8080", "API_VERSION"),
])
def test_not_in_cluster(value, key):
    assert parse_value(value, key, "shop", NAMES) == []


def test_sibling_port_and_custom_cluster_domain():
    assert parse_value("db", "DATABASE_HOST", "shop", NAMES, sibling_port=5432) == [("db", "shop", 5432, False)]
    names = Names({"shop"}, set(), cluster_domain="corp.internal")
    assert parse_value("http://api.shop.svc.corp.internal:81", "U", "shop", names) == [("api", "shop", 81, True)]
    assert parse_value("http://api.shop.svc.cluster.local:81", "U", "shop", names) == []


def test_free_text_takes_only_qualified_names():
    conf = "upstream backend { server api.shop.svc.cluster.local:8080; }\nlisten 80; root /srv/api;"
    assert parse_value(conf, "nginx.conf", "shop", NAMES, free_text=True) == [("api", "shop", 8080, True)]


WORKLOADS = """apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: wait
            image: busybox
            args: ["--target=db.shop.svc:5432", "wait for http://api.shop.svc:8080/ready"]
          containers:
          - name: report
            image: report:1
            env:
            - {name: DB_HOST, value: db}
            - {name: DB_PORT, value: "5432"}
            - name: CACHE_ADDR
              valueFrom:
                configMapKeyRef: {name: report-config, key: cache}
            - name: QUEUE_HOST
              value: rabbit
            - name: QUEUE_PORT
              valueFrom:
                configMapKeyRef: {name: report-config, key: queue-port}
            envFrom:
            - configMapRef: {name: report-env}
              prefix: R_
          volumes:
          - name: conf
            configMap: {name: report-files}
          - name: proj
            projected:
              sources:
              - configMap: {name: report-projected}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: report-config, namespace: shop}
data: {cache: "cache:6379", queue-port: "5671"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: report-env, namespace: shop}
data: {QUEUE_URL: "amqp://rabbit.shop.svc"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: report-files, namespace: shop}
data:
  app.yaml: |
    exporter:
      endpoint: collector.obs.svc:4317
  ENDPOINT: collector.obs:4318
---
apiVersion: v1
kind: ConfigMap
metadata: {name: report-projected, namespace: shop}
data: {PEER: "http://peer.shop.svc:7000"}
"""


def test_every_source_of_a_workload_and_its_lines():
    docs = parse_manifests(WORKLOADS, "w.yaml")
    cms = {("shop", d.obj["metadata"]["name"]): d for d in docs if d.obj["kind"] == "ConfigMap"}
    eps = workload_endpoints(docs[0], cms, NAMES)
    got = {(e.key, e.service, e.namespace, e.port) for e in eps}
    assert got == {
        ("target", "db", "shop", 5432),            # --flag=value argument of an init container
        ("args", "api", "shop", 8080),             # URL inside a free-text argument
        ("DB_HOST", "db", "shop", 5432),           # bare host + sibling *_PORT
        ("QUEUE_HOST", "rabbit", "shop", 5671),    # sibling *_PORT from a configMapKeyRef
        ("CACHE_ADDR", "cache", "shop", 6379),     # configMapKeyRef
        ("R_QUEUE_URL", "rabbit", "shop", 5672),   # envFrom with prefix
        ("app.yaml", "collector", "obs", 4317),    # mounted ConfigMap file
        ("ENDPOINT", "collector", "obs", 4318),    # mounted ConfigMap setting
        ("PEER", "peer", "shop", 7000),            # projected ConfigMap
    }
    by_key = {e.key: e for e in eps}
    assert by_key["CACHE_ADDR"].doc.obj["metadata"]["name"] == "report-config"
    assert by_key["R_QUEUE_URL"].path == ("data", "QUEUE_URL")
