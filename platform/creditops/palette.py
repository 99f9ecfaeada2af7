"""The colours that carry meaning, declared once, and how each view draws them.

A criticality has one colour everywhere: the webapp, Grafana's dashboards and the
Teams card. Colours are named as Grafana names them; the webapp draws them in hex,
and the card, whose palette has no orange, names them with a coloured circle.
"""

from __future__ import annotations

CRITICALITY_COLOURS = {"none": "green", "low": "yellow", "medium": "orange", "high": "red"}
PREDICTION_COLOURS = {"good": "green", "bad": "red"}

HEX = {
    "green": "#12b76a",
    "yellow": "#fdb022",
    "orange": "#f79009",
    "red": "#f04438",
    "grey": "#98a2b3",
}
# Adaptive Cards' text colours (good, warning, attention) and a circle of the colour itself.
CARD_TEXT = {"green": "good", "yellow": "warning", "orange": "warning", "red": "attention"}
CIRCLE = {
    "green": "\N{LARGE GREEN CIRCLE}",
    "yellow": "\N{LARGE YELLOW CIRCLE}",
    "orange": "\N{LARGE ORANGE CIRCLE}",
    "red": "\N{LARGE RED CIRCLE}",
}
