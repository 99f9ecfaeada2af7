"""Scoring applicants and storing every prediction with its features; reading them back.

Writes go through `PredictionBatcher`: requests that arrive while a batch is
being scored wait and are merged into the next one, so many concurrent
single-row requests cost one model call and one COPY, and a single request
waits for nothing.
"""

from __future__ import annotations

import base64
import os
import queue
import secrets
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.engine import Engine
from threadpoolctl import ThreadpoolController

from .db import predictions
from .errors import CreditopsError
from .features import FEATURE_NAMES, IDENTIFIER, column_name
from .model import ModelArtifact
from .settings import get_settings

FEATURE_COLUMNS = tuple(column_name(name) for name in FEATURE_NAMES)
STORED_COLUMNS = (
    "predicted_at",
    "source",
    "source_file",
    "application_id",
    "batch_id",
    "model_version",
    "prediction",
    "probability_bad",
    *FEATURE_COLUMNS,
    "reasons",
)
COPY_PREDICTIONS = f"COPY predictions ({', '.join(STORED_COLUMNS)}) FROM STDIN"


@dataclass(frozen=True)
class PredictionRequest:
    applicants: Sequence[dict[str, Any]]
    source: str
    source_file: str | None = None


@dataclass(frozen=True)
class PredictionBatch:
    """What one request got back: a class and a probability per applicant, in order."""

    batch_id: uuid.UUID
    predicted_at: datetime
    model_version: str
    source: str
    source_file: str | None
    applicants: Sequence[dict[str, Any]]
    application_ids: list[str]  # the caller's, or made here for rows without one
    predictions: list[str]
    probabilities_bad: list[float]
    reasons: list[bytes]  # each applicant's, as JSON (see `explanations`): stored as sent


def score_and_store(
    engine: Engine,
    artifact: ModelArtifact,
    requests: Sequence[PredictionRequest],
    top_reasons: int | None = None,
) -> list[PredictionBatch]:
    """Score and explain all requests in one model call and store them in one COPY, in one
    transaction. `top_reasons`: reasons per applicant, default the setting."""
    applicants = [a for request in requests for a in request.applicants]
    top = get_settings().reason_count if top_reasons is None else top_reasons
    classes, probabilities, reasons = artifact.score_and_explain(applicants, top)
    classes, probabilities = classes.tolist(), probabilities.tolist()
    reasons = [msgspec.json.encode(own) for own in reasons]  # once, for the row and the reply
    predicted_at = datetime.now(UTC)
    batches, start = [], 0
    for request in requests:
        end = start + len(request.applicants)
        batches.append(
            PredictionBatch(
                uuid.uuid4(),
                predicted_at,
                artifact.version,
                request.source,
                request.source_file,
                request.applicants,
                application_ids(request.applicants),
                classes[start:end],
                probabilities[start:end],
                reasons[start:end],
            )
        )
        start = end
    _copy_batches(engine, batches)
    return batches


def application_ids(applicants: Sequence[dict[str, Any]]) -> list[str]:
    """The callers' ids, and a random one (`app-` and 16 hex digits) where a caller gave
    none, as the webapp's form; one call to the system's randomness for the batch."""
    random = secrets.token_hex(8 * len(applicants))
    return [
        a.get(IDENTIFIER) or f"app-{random[16 * i : 16 * i + 16]}" for i, a in enumerate(applicants)
    ]


def _copy_batches(engine: Engine, batches: Sequence[PredictionBatch]) -> None:
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(COPY_PREDICTIONS) as copy:
            for batch in batches:
                head = (batch.predicted_at, batch.source, batch.source_file)
                tail = (batch.batch_id, batch.model_version)
                for applicant, application_id, label, probability, reasons in zip(
                    batch.applicants,
                    batch.application_ids,
                    batch.predictions,
                    batch.probabilities_bad,
                    batch.reasons,
                    strict=True,
                ):
                    copy.write_row(
                        (
                            *head,
                            application_id,
                            *tail,
                            label,
                            probability,
                            *(applicant[n] for n in FEATURE_NAMES),
                            reasons.decode(),
                        )
                    )
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


_STOP = object()
# From this many rows a batch is scored on every core: the trees' threads pay for
# themselves (10,000 rows: 29 -> 16 ms on 2 cores), where on small batches they would
# spin and take the CPU the web server needs.
THREADED_ROWS = 1_000


class PredictionBatcher:
    """One worker thread that scores and stores queued requests, merging what has piled up."""

    def __init__(
        self, engine: Engine, artifact: ModelArtifact, max_rows: int, top_reasons: int
    ) -> None:
        self.engine, self.artifact, self.max_rows = engine, artifact, max_rows
        self.top_reasons = top_reasons
        self._threads = ThreadpoolController()  # limits set in the worker: they are per thread
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="prediction-batcher", daemon=True)
        self._worker.start()

    def submit(self, request: PredictionRequest) -> Future[PredictionBatch]:
        future: Future[PredictionBatch] = Future()
        self._queue.put((request, future))
        return future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._worker.join(timeout=30)

    def _work(self) -> None:
        self._threads.limit(limits=1, user_api="openmp")  # see THREADED_ROWS
        held = None  # taken from the queue but too big for the batch it came after
        while True:
            job = held or self._queue.get()
            held = None
            if job is _STOP:
                return
            jobs, rows = [job], len(job[0].applicants)
            while rows < self.max_rows:
                try:
                    follower = self._queue.get_nowait()
                except queue.Empty:
                    break
                if follower is _STOP or rows + len(follower[0].applicants) > self.max_rows:
                    held = follower
                    break
                jobs.append(follower)
                rows += len(follower[0].applicants)
            self._run(jobs)

    def _run(self, jobs: list[tuple[PredictionRequest, Future]]) -> None:
        requests = [request for request, _ in jobs]
        rows = sum(len(request.applicants) for request in requests)
        threads = os.cpu_count() if rows >= THREADED_ROWS else 1
        try:
            with self._threads.limit(limits=threads, user_api="openmp"):
                batches = score_and_store(self.engine, self.artifact, requests, self.top_reasons)
        except Exception as exc:  # every waiting caller hears of it
            for _, future in jobs:
                future.set_exception(exc)
            return
        for (_, future), batch in zip(jobs, batches, strict=True):
            future.set_result(batch)


class InvalidCursor(CreditopsError):
    """A page cursor that this service did not issue."""


def encode_cursor(predicted_at: datetime, prediction_id: int) -> str:
    raw = f"{predicted_at.isoformat()}|{prediction_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, prediction_id = raw.split("|")
        return datetime.fromisoformat(stamp), int(prediction_id)
    except ValueError as exc:
        raise InvalidCursor("cursor is not one this service issued: pass next_cursor") from exc


def past_predictions(
    engine: Engine,
    start: datetime,
    end: datetime,
    source: str | None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Predictions made in [start, end), newest first, one page; and the next page's cursor."""
    conditions = [predictions.c.predicted_at >= start, predictions.c.predicted_at < end]
    if source is not None:
        conditions.append(predictions.c.source == source)
    if cursor is not None:
        conditions.append(
            tuple_(predictions.c.predicted_at, predictions.c.id) < decode_cursor(cursor)
        )
    query = (
        select(predictions)
        .where(and_(*conditions))
        .order_by(predictions.c.predicted_at.desc(), predictions.c.id.desc())
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    page = [
        {
            "id": row["id"],
            "predicted_at": row["predicted_at"],
            "source": row["source"],
            "source_file": row["source_file"],
            "application_id": row["application_id"],
            "batch_id": row["batch_id"],
            "model_version": row["model_version"],
            "prediction": row["prediction"],
            "probability_bad": row["probability_bad"],
            "features": {n: row[c] for n, c in zip(FEATURE_NAMES, FEATURE_COLUMNS, strict=True)},
            "reasons": row["reasons"],
        }
        for row in rows[:limit]
    ]
    if len(rows) <= limit:
        return page, None
    last = rows[limit - 1]
    return page, encode_cursor(last["predicted_at"], last["id"])


def prediction_summary(
    engine: Engine, start: datetime, end: datetime, source: str | None, bucket: str
) -> list[dict[str, Any]]:
    """Predictions per time bucket and class in [start, end), with the mean probability of bad."""
    bucket_start = func.date_trunc(bucket, predictions.c.predicted_at).label("bucket")
    conditions = [predictions.c.predicted_at >= start, predictions.c.predicted_at < end]
    if source is not None:
        conditions.append(predictions.c.source == source)
    query = (
        select(
            bucket_start,
            predictions.c.prediction,
            func.count().label("count"),
            func.avg(predictions.c.probability_bad).label("mean_probability_bad"),
        )
        .where(and_(*conditions))
        .group_by(bucket_start, predictions.c.prediction)
        .order_by(bucket_start)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
