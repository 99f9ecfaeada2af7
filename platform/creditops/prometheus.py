"""Prometheus: the local configuration written from the repo's, and panels read over its API.

`prometheus/prometheus.yml` is the one configuration (compose.yaml runs it as is).
A local run (`creditops run`) writes a copy under <data_root>/prometheus/ with the
local addresses, the scrape interval of the settings, and the supervisor as one
more target: only `creditops run` has one.
"""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import yaml

from .errors import ConfigurationError, CreditopsError
from .settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from .monitoring import Panel

CONFIG = PROJECT_ROOT / "prometheus" / "prometheus.yml"
# Points per time series panel: enough for a smooth line, few enough to stay fast.
POINTS = 240


class PrometheusUnavailable(CreditopsError):
    """Prometheus does not answer, or refused the query."""


def local_config(settings: Settings) -> dict[str, Any]:
    """The repo's configuration with this machine's addresses and the supervisor added."""
    config = yaml.safe_load(CONFIG.read_text())
    interval = f"{settings.prometheus_scrape_seconds}s"
    config["global"].update(scrape_interval=interval, evaluation_interval=interval)
    config["rule_files"] = [str(CONFIG.parent / pattern) for pattern in config["rule_files"]]
    targets = {
        "model-service": urlsplit(settings.model_service_url).netloc,
        "prometheus": f"127.0.0.1:{settings.prometheus_port}",
    }
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    config["scrape_configs"].append(
        {
            "job_name": "supervisor",
            "static_configs": [{"targets": [f"127.0.0.1:{settings.supervisor_metrics_port}"]}],
        }
    )
    return config


def write_local_config(settings: Settings) -> str:
    """Write the local configuration; its path."""
    settings.prometheus_dir.mkdir(parents=True, exist_ok=True)
    path = settings.prometheus_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(local_config(settings), sort_keys=False))
    return str(path)


def server_command(settings: Settings) -> list[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise ConfigurationError(
            "Prometheus is not installed: run `make system-deps` (Debian/Ubuntu: "
            "`apt-get install prometheus`)"
        )
    return [
        binary,
        f"--config.file={write_local_config(settings)}",
        f"--storage.tsdb.path={settings.prometheus_dir / 'tsdb'}",
        "--storage.tsdb.retention.time=15d",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
    ]


def _number(value: str) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _query(base_url: str, path: str, params: dict[str, Any]) -> list[dict]:
    try:
        response = httpx.get(f"{base_url}/api/v1/{path}", params=params, timeout=10)
    except httpx.HTTPError as exc:
        raise PrometheusUnavailable(f"Prometheus at {base_url} does not answer ({exc})") from exc
    body = response.json() if "json" in response.headers.get("content-type", "") else {}
    if response.status_code != 200 or body.get("status") != "success":
        reason = body.get("error") or response.text[:200]
        raise PrometheusUnavailable(f"Prometheus at {base_url} refused the query: {reason}")
    return body["data"]["result"]


def query_panel(base_url: str, panel: Panel, start: datetime, end: datetime) -> list[dict]:
    """The panel's rows in the shape of the SQL panels: time, metric (per series), value."""

    def series_name(labels: dict[str, str]) -> dict[str, str]:
        return {"metric": labels.get(panel.series_label, "")} if panel.series_label else {}

    if panel.kind == "timeseries":
        step = max(math.ceil((end - start).total_seconds() / POINTS), 1)
        result = _query(
            base_url,
            "query_range",
            {
                "query": panel.query,
                "start": start.timestamp(),
                "end": end.timestamp(),
                "step": step,
            },
        )
        return [
            {
                "time": datetime.fromtimestamp(moment, UTC).isoformat(),
                **series_name(series["metric"]),
                "value": _number(value),
            }
            for series in result
            for moment, value in series["values"]
        ]
    result = _query(base_url, "query", {"query": panel.query, "time": end.timestamp()})
    rows = [
        {**series_name(sample["metric"]), "value": _number(sample["value"][1])} for sample in result
    ]
    return sorted(rows, key=lambda row: row.get("metric", ""))
