"""Data-quality alerts: an Adaptive Card posted to a Microsoft Teams Workflows webhook."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx

from .data_errors import ERROR_KINDS
from .errors import CreditopsError
from .palette import CARD_TEXT, CIRCLE, CRITICALITY_COLOURS
from .validation import ValidationReport

log = logging.getLogger(__name__)
MAX_CARD_BYTES = 28_000  # Teams refuses larger messages


class AlertNotDelivered(CreditopsError):
    """Teams did not accept the alert after every retry; the card is kept on disk."""


def summary_lines(report: ValidationReport, limit: int = 10) -> list[str]:
    if report.file_error:
        detail = f" ({report.file_error_detail})" if report.file_error_detail else ""
        return [f"{report.file_error}: {ERROR_KINDS[report.file_error].description}{detail}"]

    def line(kind: str, column: str | None, count: int) -> str:
        if not ERROR_KINDS[kind].invalidates_rows:
            return f"{kind}: {column} (dropped; the rows stay valid)"
        return f"{kind}{f' in {column}' if column else ''}: {count} row(s)"

    lines = [
        line(kind, column, count)
        for (kind, column), count in sorted(report.issues.items(), key=lambda i: -i[1])
    ]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def alert_card(file_name: str, report: ValidationReport, report_url: str | None) -> dict:
    """The Workflows webhook message: criticality, a summary of the errors, the report link."""
    level = report.criticality
    colour = CRITICALITY_COLOURS[level]
    body = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "color": CARD_TEXT[colour],
            "text": f"{CIRCLE[colour]} Data quality {level.upper()}: {file_name}",
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Criticality", "value": level},
                {"title": "Rows", "value": str(report.n_rows)},
                {"title": "Valid rows", "value": str(report.n_valid_rows)},
                {"title": "Invalid rows", "value": str(report.n_invalid_rows)},
            ],
        },
        {"type": "TextBlock", "weight": "Bolder", "text": "Problems found"},
        *(
            {"type": "TextBlock", "text": f"- {line}", "wrap": True}
            for line in summary_lines(report)
        ),
    ]
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": (
            [{"type": "Action.OpenUrl", "title": "Open report", "url": report_url}]
            if report_url
            else []
        ),
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def deliver(message: dict, webhook_url: str, attempts: int = 3, backoff: float = 1.0) -> None:
    """POST with retries on connection errors, timeouts, 429 and 5xx; any 2xx is success."""
    payload = json.dumps(message).encode()
    if len(payload) > MAX_CARD_BYTES:
        raise AlertNotDelivered(f"alert card of {len(payload)} bytes is over Teams' limit")
    last = ""
    for attempt in range(attempts):
        try:
            response = httpx.post(
                webhook_url,
                content=payload,
                headers={"content-type": "application/json"},
                timeout=10,
            )
            if response.is_success:
                return
            last = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break  # a client error will not get better by retrying
        except httpx.HTTPError as exc:
            last = exc.__class__.__name__
        if attempt + 1 < attempts:
            time.sleep(backoff * 2**attempt)
    raise AlertNotDelivered(f"Teams webhook refused the alert after {attempts} tries: {last}")


def keep(message: dict, alerts_dir: Path, file_name: str) -> Path:
    """Every alert is kept on disk, sent or not."""
    alerts_dir.mkdir(parents=True, exist_ok=True)
    path = alerts_dir / f"{file_name}.json"
    path.write_text(json.dumps(message, indent=2))
    return path
