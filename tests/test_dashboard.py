"""deploy/grafana-dashboard.json: valid JSON whose queries name metrics the app really exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import Metrics
from tests.support import ROOT

DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus, not by the app
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}
METRIC = re.compile(r"\b(relo_[a-z0-9_]+)")
SELECTOR = re.compile(r"\b(relo_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"((?:[^\"\\]|\\.)*)\"\s*,?")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def exported() -> dict[str, set[str]]:
    """Every sample name a real `Metrics().render()` can expose -> the labels it carries."""
    metrics = Metrics()
    labels = {
        m._name: set(m._labelnames)
        for m in vars(metrics).values()
        if isinstance(m, MetricWrapperBase)
    }
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        if family.name.endswith("_created") and family.name[: -len("_created")] in labels:
            continue  # the histogram's creation time, listed under its own name
        for suffix in SUFFIXES[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = labels.get(family.name, set()) | extra
    return names


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_the_datasource_is_a_prometheus_variable(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_every_expression_uses_metrics_and_labels_the_app_exports(
    dashboard: dict[str, Any],
) -> None:
    names = exported()
    assert "relo_deliveries_total" in names and "relo_review_duration_seconds_bucket" in names
    problems = []
    queries = list(exprs(dashboard))
    queries += [
        ("variable " + v["name"], v["definition"])
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    for title, expr in queries:
        used = METRIC.findall(expr)
        if not used:
            problems.append(f"{title}: {expr!r} reads no relo_ metric")
        for name in used:
            if name not in names:
                problems.append(f"{title}: {name} is not exported by app/metrics.py")
        known = set().union(*(names.get(n, set()) for n in used)) | SCRAPE_LABELS
        for name, matchers in SELECTOR.findall(expr):
            for label, _, _ in MATCHER.findall(matchers):
                if label not in names.get(name, set()) | SCRAPE_LABELS:
                    problems.append(f"{title}: {name} has no label {label!r}")
        for group in GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                if label not in known:
                    problems.append(f"{title}: no metric in {expr!r} has label {label!r}")
        label_values = re.findall(r"label_values\(\s*relo_[a-z0-9_]+\s*,\s*(\w+)\s*\)", expr)
        for label in label_values:
            if label not in known:
                problems.append(f"{title}: label_values of unknown label {label!r}")
    assert not problems, "\n".join(problems)


def test_every_exported_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = {name for _, expr in exprs(dashboard) for name in METRIC.findall(expr)}
    families = {m._name for m in vars(Metrics()).values() if isinstance(m, MetricWrapperBase)}
    missing = [f for f in sorted(families) if not any(u.startswith(f) for u in used)]
    assert not missing, f"metrics without a panel: {missing}"


def test_panels_have_unique_ids_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard["panels"]):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] > 0 and grid["y"] >= 0, panel["title"]
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
