"""Grafana 12 provisioning generated from `monitoring` (`creditops grafana` writes grafana/).

The committed files under grafana/ are this module's output; a test checks
they are in sync, so a panel's SQL is edited in `monitoring` only.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .monitoring import ALERT_RULES, DASHBOARDS, AlertRule, Dashboard, Panel

DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "creditops-postgres"}
PROMETHEUS = {"type": "prometheus", "uid": "creditops-prometheus"}
DATASOURCES = {"postgres": DATASOURCE, "prometheus": PROMETHEUS}
REFRESH = "5s"
_LEGEND = {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True}
_TOOLTIP = {"mode": "single", "sort": "none"}
_REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": True}


def _options(panel: Panel) -> dict:
    if panel.kind == "timeseries":
        return {"legend": _LEGEND, "tooltip": _TOOLTIP}
    if panel.kind == "stat":
        return {
            "graphMode": "area",
            "colorMode": "background",
            "justifyMode": "auto",
            "textMode": "value",
            "wideLayout": True,
            "showPercentChange": False,
            "reduceOptions": {**_REDUCE, "values": False},
            "percentChangeColorMode": "standard",
            "orientation": "auto",
        }
    if panel.kind == "bargauge":
        return {
            "displayMode": "gradient",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
            "legend": _LEGEND,
            "reduceOptions": _REDUCE,
            "maxVizHeight": 300,
            "orientation": "horizontal",
        }
    return {"frameIndex": 0, "showHeader": True}


def _colour_overrides(panel: Panel) -> list[dict]:
    """Fixed colours by meaning: per bar (a field once rows become fields), or per cell."""
    if not panel.colours:
        return []
    if panel.kind == "bargauge":
        return [
            {
                "matcher": {"id": "byNames", "options": {"mode": "include", "names": [name]}},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}],
            }
            for name, colour in panel.colours.items()
        ]
    return [  # the cell colour comes from the value mappings of the defaults
        {
            "matcher": {
                "id": "byNames",
                "options": {"mode": "include", "names": [panel.coloured_by]},
            },
            "properties": [{"id": "custom.cellOptions", "value": {"type": "color-background"}}],
        }
    ]


def _value_mappings(panel: Panel) -> list[dict]:
    """Table cells by meaning: each value of `coloured_by` to its colour."""
    if not panel.colours or panel.kind == "bargauge":
        return []
    options = {
        name: {"color": colour, "index": index}
        for index, (name, colour) in enumerate(panel.colours.items())
    }
    return [{"type": "value", "options": options}]


def _field_config(panel: Panel) -> dict:
    defaults = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": panel.threshold.steps()},
        "color": {"mode": "thresholds"},
        "noValue": "no data yet",
    }
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    if mappings := _value_mappings(panel):
        defaults["mappings"] = mappings
    if panel.kind == "timeseries":
        # Series in their own colours (versions, groups); the thresholds as lines and areas.
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 10,
            "showPoints": "auto",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "line+area"},
        }
    return {"defaults": defaults, "overrides": _colour_overrides(panel)}


def _target(panel: Panel) -> dict:
    datasource = DATASOURCES[panel.source]
    if panel.source == "prometheus":
        return {
            "refId": "A",
            "datasource": datasource,
            "expr": panel.query,
            "legendFormat": f"{{{{{panel.series_label}}}}}" if panel.series_label else "__auto",
            "range": panel.kind == "timeseries",
            "instant": panel.kind != "timeseries",
            "editorMode": "code",
        }
    return {
        "refId": "A",
        "datasource": datasource,
        "rawSql": panel.query,
        "format": panel.format,
        "rawQuery": True,
        "editorMode": "code",
    }


def panel_json(panel: Panel, panel_id: int, position: dict) -> dict:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCES[panel.source],
        "gridPos": position,
        "targets": [_target(panel)],
        "options": _options(panel),
        "fieldConfig": _field_config(panel),
        # A bar per criticality needs each row as a field, to colour it by name.
        "transformations": (
            [
                {
                    "id": "rowsToFields",
                    "options": {
                        "mappings": [
                            {"fieldName": "metric", "handlerKey": "field.name"},
                            {"fieldName": "value", "handlerKey": "field.value"},
                        ]
                    },
                }
            ]
            if panel.colours and panel.kind == "bargauge"
            else []
        ),
    }


def dashboard_json(dashboard: Dashboard) -> dict:
    panels, x, y = [], 0, 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        width = panel.width or (24 if panel.kind == "table" else 12)
        if x + width > 24:
            x, y = 0, y + 8
        panels.append(panel_json(panel, panel_id, {"h": 8, "w": width, "x": x, "y": y}))
        x += width
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": REFRESH,
        "time": {"from": "now-30m", "to": "now"},
        "schemaVersion": 41,
        "version": 1,
        "panels": panels,
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
    }


def _alert_rule(rule: AlertRule) -> dict:
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "B",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 1800, "to": 0},
                "datasourceUid": DATASOURCE["uid"],
                "model": {
                    "refId": "A",
                    "rawSql": rule.sql,
                    "format": "table",
                    "rawQuery": True,
                    "editorMode": "code",
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "threshold",
                    "expression": "A",
                    "conditions": [
                        {
                            "evaluator": {
                                "type": "lt" if rule.fires_below else "gt",
                                "params": [rule.threshold],
                            }
                        }
                    ],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": "1m",
        "annotations": {"summary": rule.summary, "__dashboardUid__": rule.dashboard_uid},
        "labels": {"team": "creditops"},
    }


def provisioning_files() -> dict[str, str]:
    """Relative path under grafana/ -> content."""
    files = {
        "provisioning/datasources/postgres.yaml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "creditops PostgreSQL",
                        **DATASOURCE,
                        "access": "proxy",
                        "url": "${CREDITOPS_GRAFANA_DB_HOST}",
                        "user": "${CREDITOPS_GRAFANA_DB_USER}",
                        "jsonData": {
                            "database": "${CREDITOPS_GRAFANA_DB_NAME}",
                            "sslmode": "disable",
                            "postgresVersion": 1500,
                            "timescaledb": False,
                        },
                        "secureJsonData": {"password": "${CREDITOPS_GRAFANA_DB_PASSWORD}"},
                        "isDefault": True,
                    }
                ],
            },
            sort_keys=False,
        ),
        "provisioning/datasources/prometheus.yaml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "creditops Prometheus",
                        **PROMETHEUS,
                        "access": "proxy",
                        "url": "${CREDITOPS_GRAFANA_PROMETHEUS_URL}",
                        "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
                        "isDefault": False,
                    }
                ],
            },
            sort_keys=False,
        ),
        "provisioning/dashboards/creditops.yaml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "creditops",
                        "folder": "creditops",
                        "type": "file",
                        "disableDeletion": True,
                        "updateIntervalSeconds": 30,
                        "options": {"path": "/var/lib/grafana/dashboards"},
                    }
                ],
            },
            sort_keys=False,
        ),
        "provisioning/alerting/rules.yaml": yaml.safe_dump(
            {
                "apiVersion": 1,
                "groups": [
                    {
                        "orgId": 1,
                        "name": "creditops",
                        "folder": "creditops",
                        "interval": "1m",
                        "rules": [_alert_rule(rule) for rule in ALERT_RULES],
                    }
                ],
            },
            sort_keys=False,
        ),
    }
    for dashboard in DASHBOARDS:
        files[f"dashboards/{dashboard.uid}.json"] = (
            json.dumps(dashboard_json(dashboard), indent=2) + "\n"
        )
    return files


def write_provisioning(folder: Path) -> list[Path]:
    written = []
    for relative, content in provisioning_files().items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written
