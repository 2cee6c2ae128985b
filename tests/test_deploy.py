"""The deploy/ files hold together: compose, Dockerfile, Grafana provisioning and
dashboard, Prometheus config and rules (promtool), the systemd unit, and the
README's operations section. Docker cannot run here: the compose file is proven
by parsing it and following every path and name it uses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus import binary
from prometheus_client import CollectorRegistry

from monitor.config import DeliveryConfig
from monitor.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "newsmon.json"
METRIC = re.compile(r"\b((?:newsmon|process)_[a-z_]+|up)\b(?!\s*\()")  # not a function call


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def services() -> dict[str, Any]:
    return dict(load(DEPLOY / "docker-compose.yml")["services"])


def mounts(service: str) -> dict[str, str]:
    """Container path -> host path (relative to deploy/) or named volume."""
    out = {}
    for volume in services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "info": ("_info",)}


def exposed_metric_names() -> set[str]:
    """Every series name newsmon can expose (labelled or not), and Prometheus's ``up``."""
    families = Metrics(CollectorRegistry()).registry.collect()
    return {f.name + suffix for f in families for suffix in SUFFIXES.get(f.type, ("",))} | {"up"}


def test_compose_is_kafka_newsmon_prometheus_and_grafana() -> None:
    s = services()
    assert set(s) == {"kafka", "newsmon", "prometheus", "grafana"}
    kafka = s["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node, no ZooKeeper
    assert str(env["KAFKA_CONTROLLER_QUORUM_VOTERS"]).startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert not [key for key in env if "ZOOKEEPER" in key]
    assert mounts("kafka")[env["KAFKA_LOG_DIRS"]] == "kafka-data"  # the data survives restarts
    build = s["newsmon"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT and (context / build["dockerfile"]).is_file()
    for name, service in s.items():
        assert set(service.get("depends_on", [])) <= set(s) - {name}


def test_compose_mounts_only_files_that_exist_and_declared_volumes() -> None:
    doc = load(DEPLOY / "docker-compose.yml")
    named = set()
    for name in doc["services"]:
        for target, source in mounts(name).items():
            assert target.startswith("/"), target
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                named.add(source)
    assert named == set(doc["volumes"])


def test_newsmon_prometheus_and_grafana_find_each_other() -> None:
    s = services()
    config = load(DEPLOY / mounts("newsmon")["/etc/newsmon/newsmon.yaml"])
    assert s["newsmon"].get("command") is None  # the image's CMD reads /etc/newsmon/newsmon.yaml
    assert '"/etc/newsmon/newsmon.yaml"' in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    port = config["http"]["listen"].rsplit(":", 1)[1]
    assert config["http"]["listen"].startswith("0.0.0.0:")  # reachable from the prometheus service
    assert f"127.0.0.1:{port}:{port}" in s["newsmon"]["ports"]
    advertised = s["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"PLAINTEXT://{config['bus']['bootstrap_servers']}" == advertised

    flags = dict(arg.split("=", 1) for arg in s["prometheus"]["command"])
    prom_mounts = mounts("prometheus")
    prom = load(DEPLOY / prom_mounts[flags["--config.file"]])
    (scrape,) = prom["scrape_configs"]
    assert scrape["job_name"] == "newsmon"  # the dashboard's up{job="newsmon"}
    assert scrape["static_configs"][0]["targets"] == [f"newsmon:{port}"]
    config_dir = Path(flags["--config.file"]).parent
    for rules in prom["rule_files"]:
        assert (DEPLOY / prom_mounts[str(config_dir / rules)]).is_file()

    grafana = mounts("grafana")
    sources = DEPLOY / grafana["/etc/grafana/provisioning/datasources"]
    (datasource,) = [d for f in sources.glob("*.yml") for d in load(f)["datasources"]]
    assert datasource["url"] == "http://prometheus:9090"
    assert any(p.endswith(":9090") for p in s["prometheus"]["ports"])
    boards = DEPLOY / grafana["/etc/grafana/provisioning/dashboards"]
    (provider,) = [p for f in boards.glob("*.yml") for p in load(f)["providers"]]
    assert (DEPLOY / grafana[provider["options"]["path"]] / DASHBOARD.name) == DASHBOARD
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    assert variables["datasource"]["query"] == datasource["type"]
    assert variables["datasource"]["current"]["value"] == datasource["uid"]


def test_dockerfile_copies_only_files_that_exist() -> None:
    lines = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source


@pytest.mark.parametrize("config", ["newsmon.compose.yaml", "systemd/newsmon.yaml"])
def test_the_shipped_deploy_configs_are_valid(tmp_path: Path, config: str) -> None:
    """Each as installed: /etc/newsmon/newsmon.yaml with the rule files in rules/ beside it."""
    shutil.copy(DEPLOY / config, tmp_path / "newsmon.yaml")
    (tmp_path / "rules").symlink_to(ROOT / "rules")
    env = {**os.environ, "NEWSMON_UI_TOKEN": "a-web-ui-token-0123456789"}  # as compose passes it
    check = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check", "-c", str(tmp_path / "newsmon.yaml")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_the_systemd_config_writes_only_where_the_sandbox_lets_it() -> None:
    """ProtectSystem=strict: the state file and file receivers under StateDirectory."""
    doc = yaml.safe_load((DEPLOY / "systemd" / "newsmon.yaml").read_text(encoding="utf-8"))
    writes = [doc["state"]["path"]] + [r["path"] for r in doc["receivers"] if r["kind"] == "file"]
    assert writes and all(path.startswith("/var/lib/newsmon/") for path in writes), writes
    unit = (DEPLOY / "systemd" / "newsmon.service").read_text(encoding="utf-8")
    assert "StateDirectory=newsmon" in unit and "deploy/systemd/newsmon.yaml" in unit


def dashboard_panels() -> list[dict[str, Any]]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for panel in doc["panels"]:
        out += [panel, *panel.get("panels", [])]
    return out


def test_dashboard_has_the_rows_and_queries_only_metrics_that_exist() -> None:
    panels = dashboard_panels()
    rows = [p["title"] for p in panels if p["type"] == "row"]
    for wanted in ("Feed health", "Ingest", "Matches per rule", "Alerts per receiver",
                   "Latencies", "Kafka lag"):  # fmt: skip
        assert any(wanted in row for row in rows), wanted
    names = exposed_metric_names()
    exprs = [t["expr"] for p in panels if p["type"] != "row" for t in p["targets"]]
    assert len(exprs) >= 20
    for expr in exprs:
        used = set(METRIC.findall(expr))
        assert used and used <= names, (expr, used - names)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    joined = " ".join(exprs)
    assert "0.99" in joined and "0.5" in joined  # p50 and p99 latencies


def test_alert_rules_query_only_metrics_that_exist() -> None:
    groups = load(DEPLOY / "prometheus" / "alerts.yml")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = exposed_metric_names()
    for rule in rules:
        used = set(METRIC.findall(rule["expr"]))
        assert used and used <= names, (rule["alert"], used - names)
        assert rule["labels"]["severity"] in ("page", "ticket")
    alerts = {r["alert"] for r in rules}
    assert {"NewsmonNoSuccessfulFetch", "NewsmonDeliveryFailing", "NewsmonAlertsDeadLettered",
            "NewsmonConsumerLagGrowing"} <= alerts  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],  # and the rule files it names
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],  # each alert fires when it should, and only then
    ],
)
def test_promtool_accepts_the_prometheus_files(args: list[str]) -> None:
    result = subprocess.run([binary("promtool"), *args], cwd=DEPLOY / "prometheus",
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def unit() -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / "newsmon.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def test_systemd_unit_is_sandboxed_and_drains_on_sigterm() -> None:
    u = unit()
    assert u["DynamicUser"] == ["yes"] or u.get("User")
    assert u["ProtectSystem"] == ["strict"]
    assert u["NoNewPrivileges"] == ["yes"]
    assert u["StateDirectory"] == ["newsmon"]
    assert u["ExecStart"][0].endswith("newsmon run -c /etc/newsmon/newsmon.yaml")
    assert u["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP reloads the rules
    assert u["KillSignal"] == ["SIGTERM"]  # newsmon drains to the sinks, then exits 0
    assert u["KillMode"] == ["mixed"]  # parse workers are not killed under the drain
    # above the daemon's 30 s drain, then a send in flight (its delivery timeout)
    assert float(u["TimeoutStopSec"][0]) > 30 + DeliveryConfig().timeout


def test_systemd_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    newsmon = Path(sys.executable).with_name("newsmon")  # the unit's binary must exist
    text = (DEPLOY / "systemd" / "newsmon.service").read_text(encoding="utf-8")
    (tmp_path / "newsmon.service").write_text(text.replace("/usr/local/bin/newsmon", str(newsmon)))
    result = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / "newsmon.service")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_readme_operations_section_explains_the_deploy_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Operations\n", 1)[1].split("\n## ", 1)[0]
    for needle in ("/metrics", "/healthz", "/readyz", "127.0.0.1",
                   "docker compose -f deploy/docker-compose.yml up",
                   "deploy/grafana/dashboards/newsmon.json", "deploy/prometheus/alerts.yml",
                   "deploy/systemd/newsmon.service"):  # fmt: skip
        assert needle in section, needle
    for path in re.findall(r"\bdeploy/[\w./-]*\w", readme):
        assert (ROOT / path).exists(), path
    names = exposed_metric_names()
    for name in re.findall(r"\bnewsmon_[a-z_]+\b", section):
        assert name in names or f"{name}_total" in names or f"{name}_bucket" in names, name
