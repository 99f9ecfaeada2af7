"""The ingestion job's steps as plain functions: claim, validate, record, alert, split.

Dagster assets and Airflow tasks each call one of these. Steps hand each other
plain dicts (JSON-safe, so Airflow's XCom carries them). A raw file is claimed
by renaming it into `ingesting/`, which only one process can do; it leaves
`ingesting/` only once its good and bad parts are safely written, or goes back
to `raw-data/` when a claim is older than the timeout (its run died).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from .db import data_quality_issues, ingestion_runs, raw_file_contents
from .features import FEATURE_NAMES, IDENTIFIER
from .splitting import write_atomically
from .validation import ValidationReport, read_raw_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedFile:
    path: Path  # inside the claims folder
    fingerprint: str  # sha256 of the content

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def run_key(self) -> str:
        """The same file (name and content) always gets the same key, so reruns update."""
        return f"{self.name}:{self.fingerprint[:16]}"

    def to_dict(self) -> dict:
        return {"path": str(self.path), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: dict) -> ClaimedFile:
        return cls(Path(data["path"]), data["fingerprint"])


def release_stale_claims(claims_dir: Path, raw_dir: Path, timeout: timedelta) -> list[str]:
    """Put back in raw-data/ the claims whose run died (claimed longer ago than `timeout`)."""
    if not claims_dir.is_dir():
        return []
    released = []
    cutoff = time.time() - timeout.total_seconds()
    for claim in claims_dir.iterdir():
        if claim.name.startswith(".") or not unchanged_since(claim, cutoff):
            continue  # hidden, younger than the timeout, or finished meanwhile
        target = raw_dir / claim.name
        if not target.exists():
            try:
                os.rename(claim, target)
            except FileNotFoundError:  # finished or released meanwhile
                continue
            released.append(claim.name)
            log.warning("released stale claim %s back to %s", claim.name, raw_dir)
    return released


def unchanged_since(path: Path, before: float) -> bool:
    """Not changed since `before`: a file still being written is left for a later run."""
    try:
        return path.stat().st_mtime <= before
    except FileNotFoundError:  # taken meanwhile
        return False


def settled_files(raw_dir: Path, settle_seconds: float = 0) -> list[Path]:
    """The files of raw-data/ no one is still writing (unchanged for `settle_seconds`)."""
    if not raw_dir.is_dir():
        return []
    before = time.time() - settle_seconds
    return [
        p
        for p in raw_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and unchanged_since(p, before)
    ]


def claim(path: Path, claims_dir: Path) -> ClaimedFile | None:
    """Take `path` out of raw-data/ atomically; None when another run took it first."""
    claim = claims_dir / path.name
    try:
        os.rename(path, claim)  # atomic: exactly one claimant succeeds
    except FileNotFoundError:
        return None
    os.utime(claim)  # the claim's age starts now
    return ClaimedFile(claim, hashlib.sha256(claim.read_bytes()).hexdigest())


def claim_raw_files(
    raw_dir: Path,
    claims_dir: Path,
    limit: int,
    rng: random.Random | None = None,
    settle_seconds: float = 0,
) -> list[ClaimedFile]:
    """Take up to `limit` random settled files out of raw-data/; [] when there is none."""
    claims_dir.mkdir(parents=True, exist_ok=True)
    candidates = settled_files(raw_dir, settle_seconds)
    (rng or random.Random()).shuffle(candidates)
    claimed: list[ClaimedFile] = []
    for candidate in candidates:
        if len(claimed) == limit:
            break
        if (file := claim(candidate, claims_dir)) is not None:
            claimed.append(file)
    return claimed


def first_file_with_content(engine: Engine, claimed: ClaimedFile) -> str:
    """The name under which this content was first ingested: this file's own name, unless
    it is a copy of an earlier file. Atomic, so two runs never both take a copy as new."""
    remember = (
        pg_insert(raw_file_contents)
        .values(fingerprint=claimed.fingerprint, file_name=claimed.name)
        .on_conflict_do_nothing(index_elements=["fingerprint"])
    )
    with engine.begin() as conn:
        conn.execute(remember)
        return conn.execute(
            select(raw_file_contents.c.file_name).where(
                raw_file_contents.c.fingerprint == claimed.fingerprint
            )
        ).scalar_one()


def save_statistics(
    engine: Engine,
    claimed: ClaimedFile,
    report: ValidationReport,
    orchestrator: str,
    report_url: str | None,
) -> int:
    """One run row and the problem counts in long format, replacing those of an earlier try."""
    values = {
        "file_name": claimed.name,
        "orchestrator": orchestrator,
        "ingested_at": datetime.now(UTC),
        "n_rows": report.n_rows,
        "n_valid_rows": report.n_valid_rows,
        "n_invalid_rows": report.n_invalid_rows,
        "criticality": report.criticality,
        "file_error": report.file_error,
        "report_url": report_url,
    }
    upsert = pg_insert(ingestion_runs).values(run_key=claimed.run_key, **values)
    upsert = upsert.on_conflict_do_update(index_elements=["run_key"], set_=values)
    with engine.begin() as conn:
        run_id = conn.execute(upsert.returning(ingestion_runs.c.id)).scalar_one()
        conn.execute(
            delete(data_quality_issues).where(data_quality_issues.c.ingestion_run_id == run_id)
        )
        if report.issues:
            conn.execute(
                insert(data_quality_issues),
                [
                    {
                        "ingestion_run_id": run_id,
                        "error_type": kind,
                        "column_name": column,
                        "n_rows": count,
                    }
                    for (kind, column), count in sorted(report.issues.items(), key=str)
                ],
            )
    return run_id


@dataclass(frozen=True)
class SplitResult:
    good: Path | None
    bad: Path | None


def _write_once(path: Path, frame: pd.DataFrame | None, content: bytes | None = None) -> None:
    """Write atomically; a rerun finding the identical file there already is fine."""
    from .data_errors import Corruption

    corruption = Corruption(frame if frame is not None else pd.DataFrame(), [], content)
    try:
        write_atomically(path, corruption)
    except FileExistsError:
        partial = path.with_name(f".{path.name}.check")
        corruption.write(partial)
        same = partial.read_bytes() == path.read_bytes()
        partial.unlink()
        if not same:
            raise


def split_and_save(
    claimed: ClaimedFile, report: ValidationReport, good_dir: Path, bad_dir: Path
) -> SplitResult:
    """Valid rows to good_data/, invalid ones (with their problems) to bad_data/; then the
    claim is removed, and only then: a crash before leaves the file claimed, not lost."""
    good_dir.mkdir(parents=True, exist_ok=True)
    bad_dir.mkdir(parents=True, exist_ok=True)
    content = claimed.path.read_bytes()
    good = bad = None
    if report.file_error:
        bad = bad_dir / claimed.name
        _write_once(bad, None, content)
    else:
        frame = read_raw_file(content)
        columns = [c for c in (IDENTIFIER, *FEATURE_NAMES) if c in frame.columns]
        invalid = report.invalid_rows
        if (~invalid).any():
            good = good_dir / claimed.name
            _write_once(good, frame.loc[~invalid, columns])
        if invalid.any():
            bad_rows = frame.loc[invalid].copy()
            bad_rows["problems"] = [
                "; ".join(report.row_problems.get(i, [])) for i in bad_rows.index
            ]
            bad = bad_dir / claimed.name
            _write_once(bad, bad_rows)
    claimed.path.unlink(missing_ok=True)
    return SplitResult(good, bad)
