"""The monitoring assets in ops/: the alert rules and the Grafana dashboard parse, have what
Prometheus, Alertmanager and Grafana need, and query only the metrics that ops/README.md
documents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPS = ROOT / "ops"
RULES = OPS / "prometheus" / "threadline-alerts.yml"
DASHBOARD = OPS / "grafana" / "threadline-dashboard.json"
README = OPS / "README.md"

METRIC_NAME = re.compile(r"\bthreadline_[a-z_]+")
DOCUMENTED_NAME = re.compile(r"`(threadline_[a-z_]+)`")
# What Prometheus adds to a family's name: _total (and _created) for counters, _bucket, _sum
# and _count for histograms.
SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")
DURATION = re.compile(r"(\d+(ms|[smhdwy]))+")


def family(name: str) -> str:
    """The metric family a series name belongs to."""
    for suffix in SERIES_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def families(exprs: Iterable[str]) -> set[str]:
    return {family(name) for expr in exprs for name in METRIC_NAME.findall(expr)}


def documented_families() -> set[str]:
    """The names in the first column of the README's metric table."""
    found = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        first_cell = line.strip("|").split("|", 1)[0].strip()
        if match := DOCUMENTED_NAME.fullmatch(first_cell):
            found.add(family(match[1]))
    return found


def all_panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in container.get("panels", []):
        yield panel
        yield from all_panels(panel)


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads the alert rules")
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    groups = document["groups"]
    assert groups
    for group in groups:
        assert group["name"]
        assert group["rules"], f"group {group['name']} has no rules"
    return [rule for group in groups for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def test_readme_documents_the_metrics() -> None:
    documented = documented_families()
    assert {
        "threadline_build_info",
        "threadline_component_state",
        "threadline_queue_depth",
        "threadline_accept_to_stored_seconds",
        "threadline_sends",
    } <= documented


def test_every_rule_is_an_alert_an_operator_can_act_on(rules: list[dict[str, Any]]) -> None:
    names = [rule.get("alert") for rule in rules]
    assert all(names), "every rule is an alerting rule with a name"
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules:
        name = rule["alert"]
        assert rule["expr"].strip(), name
        assert DURATION.fullmatch(str(rule["for"])), f"{name}: for is a duration"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name


def test_alerts_use_only_documented_metrics(rules: list[dict[str, Any]]) -> None:
    used = families(rule["expr"] for rule in rules)
    assert used
    assert not used - documented_families(), "undocumented in ops/README.md"


def test_dashboard_identity_and_variables(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "threadline"
    assert dashboard["title"] == "threadline"
    assert dashboard["schemaVersion"] == 39
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["definition"] == "label_values(threadline_build_info, instance)"


def test_dashboard_panels_query_the_chosen_data_source(dashboard: dict[str, Any]) -> None:
    panels = [panel for panel in all_panels(dashboard) if panel["type"] != "row"]
    assert len(panels) >= 8
    ids = [panel["id"] for panel in all_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_uses_only_documented_metrics(dashboard: dict[str, Any]) -> None:
    used = families(
        target["expr"] for panel in all_panels(dashboard) for target in panel.get("targets", [])
    )
    assert used
    assert not used - documented_families(), "undocumented in ops/README.md"
