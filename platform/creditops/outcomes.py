"""Outcomes: how loans ended, known weeks after their prediction.

`split` keeps each raw file's labels aside as an outcome file in
`outcomes-pending/`. Once its applications were predicted and the delay has
passed, the file is released into `outcomes/` (a rename: exactly once), where
the outcome-ingestion job claims it like a raw file, checks every row, and
upserts the good ones. `POST /outcomes` runs the same checks for systems that
push labels. One row per application: a later, different outcome replaces the
earlier and counts as a correction; the same outcome again changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import bindparam, exists, select, text
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP
from sqlalchemy.engine import Engine
from sqlalchemy.types import Text

from .db import ingestion_runs, outcome_ingestion_runs, prediction_files, predictions
from .features import IDENTIFIER
from .ingestion import unchanged_since
from .schemas import Outcome

log = logging.getLogger(__name__)

COLUMNS = (IDENTIFIER, "status", "decided_at")
# What is wrong with a row, by the field that is wrong.
KIND_OF_FIELD = {IDENTIFIER: "invalid_id", "status": "unknown_status", "decided_at": "invalid_date"}
_outcome = TypeAdapter(Outcome)


@dataclass(frozen=True)
class OutcomeProblem:
    row: int  # 0-based, in the file (without its header) or the request
    field: str
    kind: str  # missing_id, invalid_id, unknown_status, invalid_date, duplicate_id, never_predicted
    message: str


@dataclass
class CheckedOutcomes:
    """A batch of outcome rows: the usable ones, and what is wrong with the others."""

    n_rows: int
    valid: dict[int, Outcome] = field(default_factory=dict)  # row -> outcome
    problems: list[OutcomeProblem] = field(default_factory=list)

    def reject(self, problem: OutcomeProblem) -> None:
        self.valid.pop(problem.row, None)
        self.problems.append(problem)

    def counts(self) -> dict[str, int]:
        """Rows per kind of problem (a row is counted under its first problem)."""
        first = {}
        for problem in self.problems:
            first.setdefault(problem.row, problem.kind)
        return dict(Counter(first.values()))

    @property
    def invalid_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})


def _problem(row: int, error: dict, values: dict) -> OutcomeProblem:
    name = str(error["loc"][0]) if error["loc"] else IDENTIFIER
    kind = KIND_OF_FIELD.get(name, "unexpected_field")
    if name == IDENTIFIER and values.get(IDENTIFIER) in (None, ""):
        kind = "missing_id"
    return OutcomeProblem(row, name, kind, error["msg"])


def check_outcomes(rows: list[dict]) -> CheckedOutcomes:
    """Each row's fields, and ids repeated within the batch (every repeat past the first)."""
    checked = CheckedOutcomes(len(rows))
    seen: dict[str, int] = {}
    for row, values in enumerate(rows):
        try:
            outcome = _outcome.validate_python(values)
        except ValidationError as exc:
            checked.problems.extend(_problem(row, e, values) for e in exc.errors())
            continue
        if outcome.application_id in seen:
            message = f"{outcome.application_id} is already in row {seen[outcome.application_id]}"
            checked.problems.append(OutcomeProblem(row, IDENTIFIER, "duplicate_id", message))
            continue
        seen[outcome.application_id] = row
        checked.valid[row] = _in_utc(outcome)
    return checked


def _in_utc(outcome: Outcome) -> Outcome:
    if outcome.decided_at.tzinfo is not None:
        return outcome
    return outcome.model_copy(update={"decided_at": outcome.decided_at.replace(tzinfo=UTC)})


def reject_never_predicted(engine: Engine, checked: CheckedOutcomes) -> None:
    """An outcome joins a prediction on its id: one for an id never predicted is an orphan."""
    ids = [o.application_id for o in checked.valid.values()]
    if not ids:
        return
    query = (
        select(predictions.c.application_id)
        .distinct()
        .where(predictions.c.application_id.in_(bindparam("ids", expanding=True)))
    )
    with engine.connect() as conn:
        known = set(conn.execute(query, {"ids": ids}).scalars())
    for row, outcome in list(checked.valid.items()):
        if outcome.application_id not in known:
            message = f"no prediction has the application id {outcome.application_id}"
            checked.reject(OutcomeProblem(row, IDENTIFIER, "never_predicted", message))


_UPSERT = text(
    """
INSERT INTO outcomes AS o (application_id, status, decided_at, source)
SELECT id, status, decided_at, :source
FROM unnest(:ids, :statuses, :decided) AS given(id, status, decided_at)
ON CONFLICT (application_id) DO UPDATE
SET status = excluded.status, decided_at = excluded.decided_at, source = excluded.source,
    received_at = now(), corrections = o.corrections + 1
WHERE (o.status, o.decided_at) IS DISTINCT FROM (excluded.status, excluded.decided_at)
RETURNING xmax = 0 AS inserted
"""
).bindparams(
    bindparam("ids", type_=ARRAY(Text)),
    bindparam("statuses", type_=ARRAY(Text)),
    bindparam("decided", type_=ARRAY(TIMESTAMP(timezone=True))),
)


def upsert_outcomes(conn, outcomes: list[Outcome], source: str) -> dict[str, int]:
    """New outcomes saved, earlier ones corrected, repeats of what was known left alone.

    The ids must be distinct (`check_outcomes` sees to it): one statement may
    not touch a row twice.
    """
    if not outcomes:
        return {"saved": 0, "corrected": 0, "unchanged": 0}
    inserted = (
        conn.execute(
            _UPSERT,
            {
                "source": source,
                "ids": [o.application_id for o in outcomes],
                "statuses": [o.status for o in outcomes],
                "decided": [o.decided_at for o in outcomes],
            },
        )
        .scalars()
        .all()
    )
    saved = sum(inserted)
    corrected = len(inserted) - saved
    return {"saved": saved, "corrected": corrected, "unchanged": len(outcomes) - len(inserted)}


def save_pushed_outcomes(engine: Engine, outcomes: list[Outcome]) -> dict[str, int]:
    """`POST /outcomes`: checked already; idempotent, since a repeat changes nothing."""
    with engine.begin() as conn:
        return upsert_outcomes(conn, outcomes, "api")


# Outcome files -------------------------------------------------------------------


def release_due_outcomes(
    engine: Engine, pending_dir: Path, outcomes_dir: Path, delay: timedelta
) -> list[str]:
    """Move into outcomes/ each pending file older than `delay` whose raw file was
    ingested and, if it had good rows, predicted: labels never come before scores."""
    if not pending_dir.is_dir():
        return []
    cutoff = time.time() - delay.total_seconds()
    aged = [
        p.name
        for p in pending_dir.iterdir()
        if not p.name.startswith(".") and unchanged_since(p, cutoff)
    ]
    if not aged:
        return []
    predicted = exists().where(
        prediction_files.c.file_name == ingestion_runs.c.file_name,
        prediction_files.c.status == "predicted",
    )
    query = (
        select(ingestion_runs.c.file_name)
        .distinct()
        .where(ingestion_runs.c.file_name.in_(aged))
        .where((ingestion_runs.c.n_valid_rows == 0) | predicted)
    )
    with engine.connect() as conn:
        due = conn.execute(query).scalars().all()
    outcomes_dir.mkdir(parents=True, exist_ok=True)
    released = []
    for name in due:
        try:
            os.rename(pending_dir / name, outcomes_dir / name)  # atomic: released once
        except FileNotFoundError:
            continue  # another run released it
        os.utime(outcomes_dir / name)  # settled from now, not from the split
        released.append(name)
    return released


def read_outcome_file(content: bytes) -> tuple[list[dict], str | None]:
    """The rows of an outcome file as text, or the reason the file cannot be read."""
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"not UTF-8 text (byte {exc.start})"
    if not decoded.strip():
        return [], "the file is empty"
    reader = csv.DictReader(io.StringIO(decoded, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
    rows = [{c: (row[c] or None) for c in COLUMNS} for row in reader]
    if not rows:
        return [], "the file has a header but no rows"
    return rows, None


@dataclass(frozen=True)
class OutcomeReport:
    """What validate-outcomes found in one claimed file (JSON-safe for XCom)."""

    n_rows: int
    invalid_rows: list[int]
    problems: dict[str, int]  # kind -> rows
    file_error: str | None = None
    examples: list[str] = field(default_factory=list)  # a few problems, in words

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OutcomeReport:
        return cls(**data)


def check_outcome_file(engine: Engine, content: bytes) -> OutcomeReport:
    rows, file_error = read_outcome_file(content)
    checked = check_outcomes(rows)
    if file_error:
        return OutcomeReport(0, [], {}, file_error)
    reject_never_predicted(engine, checked)
    examples = [f"row {p.row}, {p.field}: {p.message}" for p in checked.problems[:5]]
    return OutcomeReport(len(rows), checked.invalid_rows, checked.counts(), None, examples)


def save_outcome_file(
    engine: Engine,
    run_key: str,
    file_name: str,
    content: bytes,
    report: OutcomeReport,
    orchestrator: str,
) -> dict:
    """The file's valid outcomes and its run row in one transaction, once per run key:
    a redo after a crash finds the row and changes nothing."""
    rows, _ = read_outcome_file(content)
    invalid = set(report.invalid_rows)
    outcomes = [
        _in_utc(_outcome.validate_python(r)) for i, r in enumerate(rows) if i not in invalid
    ]
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": run_key})
        done = conn.execute(
            select(outcome_ingestion_runs.c.id).where(outcome_ingestion_runs.c.run_key == run_key)
        ).scalar()
        if done is not None:
            return {"run_id": done, "saved before": True}
        counts = upsert_outcomes(conn, outcomes, "file")
        run_id = conn.execute(
            outcome_ingestion_runs.insert()
            .values(
                run_key=run_key,
                file_name=file_name,
                orchestrator=orchestrator,
                ingested_at=datetime.now(UTC),
                n_rows=report.n_rows,
                n_saved=counts["saved"],
                n_corrected=counts["corrected"],
                n_unchanged=counts["unchanged"],
                n_invalid=len(invalid),
                problems=report.problems,
                file_error=report.file_error,
            )
            .returning(outcome_ingestion_runs.c.id)
        ).scalar_one()
    return {"run_id": run_id, **counts, "invalid": len(invalid)}


def set_aside_bad_outcomes(content: bytes, report: OutcomeReport, bad_dir: Path, name: str):
    """The rows that were not saved (or the whole unreadable file), for a person to look at.
    Replaces an earlier try's copy, so a redo leaves one."""
    if report.file_error is None and not report.invalid_rows:
        return None
    if report.file_error is None:
        rows, _ = read_outcome_file(content)
        lines = io.StringIO()
        writer = csv.DictWriter(lines, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[i] for i in report.invalid_rows)
        content = lines.getvalue().encode()
    bad_dir.mkdir(parents=True, exist_ok=True)
    partial = bad_dir / f".{name}.partial"
    partial.write_bytes(content)
    os.replace(partial, bad_dir / name)
    return bad_dir / name
