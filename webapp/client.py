"""The webapp's only way to the data: the model service's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from creditops.features import FEATURE_NAMES
from creditops.settings import get_settings


class ServiceProblem(Exception):
    """The model service is down, slow, or refused the request; the message says which."""


class ModelService:
    def __init__(self, base_url: str | None = None, timeout: float = 30) -> None:
        settings = get_settings()
        self.base_url = base_url or settings.model_service_url
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self._client = httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"X-API-Key": key} if key else {}
        )

    def _call(self, method: str, path: str, **kwargs) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceProblem(
                f"The model service at {self.base_url} did not answer in time. Try again."
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceProblem(
                f"The model service at {self.base_url} is not reachable "
                f"({exc.__class__.__name__}). Is it running?"
            ) from exc
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ServiceProblem(
            f"The model service refused the request ({response.status_code}): {detail}"
        )

    def predict(self, applicants: list[dict], source_file: str | None = None) -> dict:
        body = {"source": "webapp", "applicants": applicants}
        if source_file:
            body["source_file"] = source_file
        result = self._call("POST", "/predict", json=body)
        # The service does not echo features back: join each prediction to its row.
        for prediction, applicant in zip(result["predictions"], applicants, strict=True):
            prediction["features"] = {name: applicant[name] for name in FEATURE_NAMES}
        return result

    def past_predictions(
        self, start: datetime, end: datetime, source: str, limit: int, cursor: str | None
    ) -> dict:
        params = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "source": source,
            "limit": limit,
        }
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/past-predictions", params=params)

    def summary(self, start: datetime, end: datetime, source: str, bucket: str) -> list[dict]:
        params = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "source": source,
            "bucket": bucket,
        }
        return self._call("GET", "/past-predictions/summary", params=params)

    def performance(self, start: datetime, end: datetime, bucket: str) -> dict:
        params = {"start": start.isoformat(), "end": end.isoformat(), "bucket": bucket}
        return self._call("GET", "/model/performance", params=params)

    def fairness(self, start: datetime, end: datetime) -> dict:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        return self._call("GET", "/model/fairness", params=params)

    def model(self) -> dict:
        return self._call("GET", "/model")

    def models(self) -> list[dict]:
        return self._call("GET", "/models")

    def retrainings(self) -> list[dict]:
        return self._call("GET", "/model/retrainings")

    def retrain(self) -> dict:
        return self._call("POST", "/model/retrain", json={"requested_by": "webapp"})

    def dashboards(self) -> list[dict]:
        return self._call("GET", "/monitoring/dashboards")

    def panel(self, key: str, minutes: int) -> list[dict]:
        return self._call("GET", f"/monitoring/panels/{key}", params={"minutes": minutes})
