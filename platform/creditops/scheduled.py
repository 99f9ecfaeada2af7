"""The scheduled prediction job: find good files no run has taken, and predict each exactly once.

Files in good_data/ are never moved, renamed or deleted. A ledger row per file
(name + content fingerprint, unique) is the claim: the run whose INSERT lands
owns the file. A file's rows go to the model service in one request, which the
service stores all-or-nothing. If a response is lost after the service stored
the rows, the next run finds them by `source_file` and does not send them again.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from .db import prediction_files, predictions
from .errors import CreditopsError
from .features import FEATURES, IDENTIFIER, NumericFeature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoodFile:
    name: str
    fingerprint: str

    def to_dict(self) -> dict:
        return {"name": self.name, "fingerprint": self.fingerprint}


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def release_stale_claims(engine: Engine, timeout: timedelta) -> int:
    """Claims of runs that died (older than `timeout`, never finished) are taken back."""
    cutoff = datetime.now(UTC) - timeout
    with engine.begin() as conn:
        result = conn.execute(
            delete(prediction_files).where(
                and_(
                    prediction_files.c.status == "claimed",
                    prediction_files.c.claimed_at < cutoff,
                )
            )
        )
    return result.rowcount


def new_files(engine: Engine, good_dir: Path) -> list[GoodFile]:
    """Files in good_data/ that no run has claimed or predicted, oldest name first."""
    if not good_dir.is_dir():
        return []
    on_disk = [
        GoodFile(p.name, fingerprint(p))
        for p in sorted(good_dir.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]
    with engine.connect() as conn:
        taken = set(
            conn.execute(select(prediction_files.c.file_name, prediction_files.c.fingerprint))
        )
    return [f for f in on_disk if (f.name, f.fingerprint) not in taken]


def claim(engine: Engine, files: list[GoodFile], claimed_by: str) -> list[GoodFile]:
    """Insert a ledger row per file; return only the files this caller won."""
    if not files:
        return []
    statement = (
        pg_insert(prediction_files)
        .values(
            [
                {
                    "file_name": f.name,
                    "fingerprint": f.fingerprint,
                    "status": "claimed",
                    "claimed_by": claimed_by,
                }
                for f in files
            ]
        )
        .on_conflict_do_nothing(index_elements=["file_name", "fingerprint"])
        .returning(prediction_files.c.file_name, prediction_files.c.fingerprint)
    )
    with engine.begin() as conn:
        won = set(conn.execute(statement))
    return [f for f in files if (f.name, f.fingerprint) in won]


def applicants_from_csv(path: Path) -> list[dict]:
    """A good file's rows as JSON-ready applicants, typed by the feature spec."""

    def typed(feature, text: str):
        if text == "":
            return None
        if isinstance(feature, NumericFeature):
            return int(float(text)) if feature.kind == "int" else float(text)
        return text

    with path.open(newline="") as handle:
        return [
            {
                IDENTIFIER: row.get(IDENTIFIER) or None,
                **{f.name: typed(f, row[f.name]) for f in FEATURES},
            }
            for row in csv.DictReader(handle)
        ]


def _stored_rows(engine: Engine, name: str) -> int:
    query = select(func.count()).where(
        and_(predictions.c.source == "scheduled", predictions.c.source_file == name)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def _finish(engine: Engine, file: GoodFile, status: str, n_rows: int | None, error=None):
    with engine.begin() as conn:
        conn.execute(
            update(prediction_files)
            .where(
                and_(
                    prediction_files.c.file_name == file.name,
                    prediction_files.c.fingerprint == file.fingerprint,
                )
            )
            .values(status=status, n_rows=n_rows, error=error, finished_at=datetime.now(UTC))
        )


def _release(engine: Engine, file: GoodFile) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(prediction_files).where(
                and_(
                    prediction_files.c.file_name == file.name,
                    prediction_files.c.fingerprint == file.fingerprint,
                )
            )
        )


class PredictionRunFailed(CreditopsError):
    """Some files could not be predicted now; they were released for a later run."""


def predict_files(
    engine: Engine,
    good_dir: Path,
    files: list[GoodFile],
    service_url: str,
    api_key: str | None = None,
    max_rows: int = 20_000,
) -> dict[str, int]:
    """Send each claimed file to the model service; rows predicted per file.

    A file the service cannot take now (down, 5xx) is released for a later
    run; a file it refuses for good (4xx, too big, unreadable) is marked failed.
    """
    predicted: dict[str, int] = {}
    released: list[str] = []
    headers = {"X-API-Key": api_key} if api_key else {}
    with httpx.Client(base_url=service_url, timeout=120, headers=headers) as client:
        for file in files:
            stored = _stored_rows(engine, file.name)
            if stored:  # a lost response: the rows are in already
                _finish(engine, file, "predicted", stored)
                predicted[file.name] = stored
                continue
            try:
                applicants = applicants_from_csv(good_dir / file.name)
            except (OSError, ValueError, KeyError) as exc:
                _finish(engine, file, "failed", None, f"unreadable: {exc}")
                continue
            if len(applicants) > max_rows:
                message = f"{len(applicants)} rows, more than one request may carry ({max_rows})"
                _finish(engine, file, "failed", None, message)
                continue
            body = {"source": "scheduled", "source_file": file.name, "applicants": applicants}
            try:
                response = client.post("/predict", json=body)
            except httpx.HTTPError as exc:
                log.warning("model service unreachable for %s: %s", file.name, exc)
                _release(engine, file)
                released.append(file.name)
                continue
            if response.status_code >= 500:
                _release(engine, file)
                released.append(file.name)
            elif response.is_success:
                _finish(engine, file, "predicted", response.json()["count"])
                predicted[file.name] = len(applicants)
            else:
                _finish(engine, file, "failed", None, response.text[:500])
    if released:
        raise PredictionRunFailed(
            f"model service unavailable: {len(released)} file(s) released for the next run "
            f"({', '.join(released)}); predicted {sum(predicted.values())} rows"
        )
    return predicted
