"""A criticality has one colour, declared once (creditops.palette), used everywhere it shows."""

from __future__ import annotations

import json

import numpy as np

from creditops import palette
from creditops.alerts import alert_card
from creditops.db import CRITICALITIES
from creditops.settings import PROJECT_ROOT
from creditops.validation import ValidationReport

EXPECTED = {"none": "green", "low": "yellow", "medium": "orange", "high": "red"}


def test_each_criticality_has_its_colour():
    assert palette.CRITICALITY_COLOURS == EXPECTED
    assert set(palette.CRITICALITY_COLOURS) == set(CRITICALITIES)


def test_colours_are_declared_in_the_palette_only():
    sources = [
        path
        for folder in ("platform/creditops", "api", "webapp")
        for path in (PROJECT_ROOT / folder).rglob("*.py")
    ]
    for value in palette.HEX.values():
        assert [p.name for p in sources if value in p.read_text()] == ["palette.py"], value
    webapp = (PROJECT_ROOT / "webapp" / "views" / "monitoring.py").read_text()
    assert "from creditops.palette import HEX" in webapp


def test_grafana_colours_criticality_bars_and_cells_with_the_palette():
    dashboard = json.loads(
        (PROJECT_ROOT / "grafana" / "dashboards" / "creditops-data-quality.json").read_text()
    )
    panels = {p["title"]: p for p in dashboard["panels"]}
    bars = panels["Files per criticality"]
    assert bars["transformations"][0]["id"] == "rowsToFields"  # a field, so a colour, per bar
    fixed = {
        o["matcher"]["options"]["names"][0]: o["properties"][0]["value"]["fixedColor"]
        for o in bars["fieldConfig"]["overrides"]
    }
    assert fixed == EXPECTED
    assert bars["fieldConfig"]["defaults"]["decimals"] == 0  # counts are integers
    assert panels["Unusable files"]["fieldConfig"]["defaults"]["decimals"] == 0
    table = panels["Latest ingestion runs"]["fieldConfig"]
    (cells,) = table["overrides"]
    assert cells["matcher"]["options"]["names"] == ["criticality"]
    assert cells["properties"] == [
        {"id": "custom.cellOptions", "value": {"type": "color-background"}}
    ]
    mapping = table["defaults"]["mappings"][0]["options"]
    assert {name: m["color"] for name, m in mapping.items()} == EXPECTED


def test_the_teams_card_shows_the_criticality_in_its_colour():
    for level, colour in EXPECTED.items():
        report = ValidationReport("f.csv", 10, np.zeros(10, dtype=bool), {})
        report_level = {"none": {}, "low": {("duplicate_row", None): 1}}.get(level)
        if report_level is not None:
            report.issues = report_level
        elif level == "medium":
            report.invalid_rows[:2], report.issues = True, {("out_of_range", "Age"): 2}
        else:
            report.invalid_rows[:], report.issues = True, {("out_of_range", "Age"): 10}
        assert report.criticality == level
        (title, *_) = alert_card("f.csv", report, None)["attachments"][0]["content"]["body"]
        assert title["text"].startswith(palette.CIRCLE[colour])
        assert title["color"] == palette.CARD_TEXT[colour]
