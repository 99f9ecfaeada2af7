"""Retraining: what asks for it, one at a time, and its four steps.

A retraining is a row of `retrainings`. The triggers (drift, new outcomes, a
schedule) and people (webapp, `creditops retrain`) request one; the partial
unique index lets only one be requested or running, whichever orchestrator asks.
An orchestrator claims the requested row, then runs the steps, each a call here:
build-training-set, train-challenger, evaluate-challenger, promote-model. Each
step reads what the one before left on the row, so a step can run in another
process (Airflow) or the same one (Dagster, the command line).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine

from ..db import (
    ACTIVE_RETRAINING,
    database_url,
    drift_metrics,
    engine_for,
    outcomes,
    promotions,
    reporting_outages,
    retrainings,
)
from ..errors import CreditopsError
from ..settings import Settings
from ..training import load_dataset, train_model
from . import gate
from .registry import CHALLENGER, CHAMPION, Registry
from .training_set import TrainingSet, build_training_set, frozen_split

log = logging.getLogger(__name__)
T = TypeVar("T")


class RetrainingBusy(CreditopsError):
    """Another retraining is requested or running."""


# --- requests and triggers ---------------------------------------------------------


def active_retraining(engine: Engine) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(retrainings).where(retrainings.c.status.in_(ACTIVE_RETRAINING))
        ).first()
    return dict(row._mapping) if row else None


def request_retraining(engine: Engine, reason: str, detail: str, requested_by: str) -> dict | None:
    """The new request, or None when one is requested or running already."""
    with engine.begin() as conn:
        row = conn.execute(
            pg_insert(retrainings)
            .values(reason=reason, detail=detail, requested_by=requested_by)
            .on_conflict_do_nothing(
                index_elements=[text("(true)")],
                index_where=retrainings.c.status.in_(ACTIVE_RETRAINING),
            )
            .returning(retrainings)
        ).first()
    return dict(row._mapping) if row else None


def fail_abandoned(engine: Engine, timeout: timedelta) -> int:
    """Running retrainings whose process died (none finishes this late) are failed."""
    with engine.begin() as conn:
        return conn.execute(
            update(retrainings)
            .where(retrainings.c.status == "running")
            .where(retrainings.c.started_at < func.now() - timeout)
            .values(status="failed", finished_at=func.now(), error="abandoned: ran past timeout")
        ).rowcount


def claim_retraining(engine: Engine, orchestrator: str) -> int | None:
    """Take the requested retraining for this orchestrator; its id, or None."""
    with engine.begin() as conn:
        return conn.execute(
            update(retrainings)
            .where(retrainings.c.status == "requested")
            .values(status="running", orchestrator=orchestrator, started_at=func.now())
            .returning(retrainings.c.id)
        ).scalar()


def last_finished(engine: Engine) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(retrainings)
            .where(retrainings.c.finished_at.is_not(None))
            .order_by(retrainings.c.finished_at.desc())
            .limit(1)
        ).first()
    return dict(row._mapping) if row else None


def due_trigger(engine: Engine, settings: Settings, now: datetime) -> tuple[str, str] | None:
    """(reason, detail) of the first automatic trigger that fires, else None.

    Every trigger counts from the end of the last retraining, so one condition
    starts one retraining; none fires in the cool-down after a retraining.
    """
    last = last_finished(engine)
    since = last["finished_at"] if last else datetime(1970, 1, 1, tzinfo=UTC)
    if last and now - since < timedelta(minutes=settings.retrain_cooldown_minutes):
        return None
    k, m = settings.retrain_drift_features, settings.retrain_drift_checks
    with engine.connect() as conn:
        drifted = (
            conn.execute(
                select(func.count().filter(drift_metrics.c.drifted))
                .where(drift_metrics.c.computed_at > since)
                .group_by(drift_metrics.c.computed_at)
                .order_by(drift_metrics.c.computed_at.desc())
                .limit(m)
            )
            .scalars()
            .all()
        )
        new_outcomes = conn.execute(
            select(func.count()).where(outcomes.c.received_at > since)
        ).scalar_one()
    if len(drifted) == m and min(drifted) >= k:
        return "drift", f"{k}+ features drifted in each of the last {m} drift checks"
    if new_outcomes >= settings.retrain_new_outcomes:
        return "outcomes", f"{new_outcomes} new outcomes since the last retraining"
    if last and now - since >= timedelta(hours=settings.retrain_every_hours):
        return "schedule", f"no retraining for {settings.retrain_every_hours:g} h"
    return None


def request_if_due(settings: Settings, now: datetime | None = None) -> dict | None:
    """What a sensor or a scheduled task calls: request a retraining if a trigger fires."""
    engine = _engine(settings)
    fail_abandoned(engine, timedelta(minutes=settings.claim_timeout_minutes))
    if active_retraining(engine) is not None:
        return None
    trigger = due_trigger(engine, settings, now or datetime.now(UTC))
    if trigger is None:
        return None
    return request_retraining(engine, *trigger, requested_by="trigger")


def next_retraining(settings: Settings, orchestrator: str) -> int | None:
    """What a sensor or the first task calls: request one if a trigger fires, then claim
    the requested retraining (a person's or a trigger's); its id, or None."""
    request_if_due(settings)
    return claim_retraining(_engine(settings), orchestrator)


# --- the steps ---------------------------------------------------------------------


def _engine(settings: Settings) -> Engine:
    url = database_url(settings)
    with reporting_outages(url):
        return engine_for(url)


def _row(engine: Engine, retraining_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(retrainings).where(retrainings.c.id == retraining_id))
            .one()
            ._mapping
        )


def _set(engine: Engine, retraining_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(retrainings).where(retrainings.c.id == retraining_id).values(**values))


def _step(settings: Settings, retraining_id: int, work: Callable[[Engine, dict], T]) -> T:
    """Run one step; a failure fails the retraining (with its reason) and is raised."""
    engine = _engine(settings)
    row = _row(engine, retraining_id)
    if row["status"] != "running":
        raise CreditopsError(f"retraining {retraining_id} is {row['status']}, not running")
    try:
        return work(engine, row)
    except Exception as exc:
        _set(engine, retraining_id, status="failed", finished_at=func.now(), error=str(exc)[:2000])
        raise


def build_training_set_step(settings: Settings, retraining_id: int) -> dict:
    """`build-training-set`: the dataset plus outcomes, written and fingerprinted."""

    def work(engine: Engine, row: dict) -> dict:
        built = build_training_set(
            engine,
            settings.dataset,
            settings.training_sets_dir,
            settings.random_seed,
            settings.test_size,
            settings.recent_window_rows,
        )
        _set(engine, retraining_id, training_set=built.to_dict())
        return built.to_dict()

    return _step(settings, retraining_id, work)


def train_challenger_step(settings: Settings, retraining_id: int) -> str:
    """`train-challenger`: fit on the training set, register, alias `challenger`."""

    def work(engine: Engine, row: dict) -> str:
        built = TrainingSet(**row["training_set"])
        train = built.frame("train")
        holdout = _holdout(settings)
        artifact = train_model(train, holdout, settings.random_seed)
        registry = Registry(settings.tracking_uri)
        version = registry.register(
            artifact,
            training={
                "fingerprint": built.fingerprint,
                "rows": built.n_rows,
                "dataset_rows": built.n_dataset_rows,
                "outcome_rows": built.n_outcome_rows,
            },
            example=train.head(5),
            tags={"retraining_id": str(retraining_id), "reason": row["reason"]},
        )
        registry.set_alias(CHALLENGER, version)
        _set(engine, retraining_id, challenger_version=version)
        return version

    return _step(settings, retraining_id, work)


def _holdout(settings: Settings):
    _, holdout = frozen_split(
        load_dataset(settings.dataset), settings.random_seed, settings.test_size
    )
    return holdout


def evaluate_challenger_step(settings: Settings, retraining_id: int) -> dict:
    """`evaluate-challenger`: both models on the same rows, the gate's checks, recorded
    on the row and as tags of the challenger's version. A rejection ends the retraining."""

    def work(engine: Engine, row: dict) -> dict:
        registry = Registry(settings.tracking_uri)
        challenger = registry.load(row["challenger_version"])
        champion_version = registry.alias_version(CHAMPION)
        champion = registry.load(champion_version) if champion_version else None
        recent = TrainingSet(**row["training_set"]).frame("recent")
        evaluation = gate.evaluate(
            challenger,
            champion,
            _holdout(settings),
            recent,
            min_auc_gain=settings.promotion_min_auc_gain,
            max_brier_increase=settings.promotion_max_brier_increase,
            recent_min_rows=settings.recent_window_min_rows,
            seed=settings.random_seed,
            fairness_min_ratio=settings.fairness_min_ratio,
            fairness_max_ratio_drop=settings.fairness_max_ratio_drop,
            fairness_min_group_rows=settings.fairness_min_group_rows,
        )
        verdict = evaluation.to_dict()
        registry.log_fairness(challenger.version, evaluation.fairness["holdout"]["challenger"])
        registry.tag(
            challenger.version,
            {
                "gate": "passed" if evaluation.passed else "rejected",
                "gate_reasons": "; ".join(evaluation.reasons()) or "all checks passed",
                "judged_on": evaluation.judged_on,
            },
        )
        ended = {} if evaluation.passed else {"status": "rejected", "finished_at": func.now()}
        if not evaluation.passed:
            registry.drop_alias(CHALLENGER)
        _set(
            engine,
            retraining_id,
            champion_version=champion_version,
            evaluation=verdict,
            **ended,
        )
        return verdict

    return _step(settings, retraining_id, work)


def promote_step(settings: Settings, retraining_id: int) -> str | None:
    """`promote-model`: the challenger that passed becomes champion; None when rejected."""
    engine = _engine(settings)
    row = _row(engine, retraining_id)
    if row["status"] == "rejected":
        return None

    def work(engine: Engine, row: dict) -> str:
        if not (row["evaluation"] or {}).get("passed"):
            raise CreditopsError(f"retraining {retraining_id} has no passed evaluation")
        version = row["challenger_version"]
        with engine.begin() as conn:
            conn.execute(
                update(retrainings)
                .where(retrainings.c.id == retraining_id)
                .values(status="promoted", finished_at=func.now())
            )
            _record_promotion(conn, settings, version, "gate", retraining_id)
        Registry(settings.tracking_uri).drop_alias(CHALLENGER)
        return version

    return _step(settings, retraining_id, work)


def _record_promotion(conn, settings: Settings, version: str, by: str, retraining_id=None) -> None:
    """Move the champion alias, with its row in `promotions` (same transaction)."""
    registry = Registry(settings.tracking_uri)
    previous = registry.alias_version(CHAMPION)
    note = (
        f"passed the gate in retraining {retraining_id}"
        if by == "gate"
        else f"promoted by hand ({by})"
    )
    conn.execute(
        insert(promotions).values(
            version=version,
            previous_version=previous,
            promoted_by=by,
            retraining_id=retraining_id,
            note=note,
        )
    )
    registry.set_alias(CHAMPION, version)


def promote(settings: Settings, version: str, by: str) -> str | None:
    """Make `version` the champion by hand (roll back or forward); the previous champion."""
    registry = Registry(settings.tracking_uri)
    registry.load(version)  # refuses a version that could not be served
    previous = registry.alias_version(CHAMPION)
    with _engine(settings).begin() as conn:
        _record_promotion(conn, settings, version, by)
    return previous


def run_retraining(
    settings: Settings, reason: str, detail: str, requested_by: str, orchestrator: str = "cli"
) -> dict:
    """Request, claim and run all four steps in this process; the finished row."""
    engine = _engine(settings)
    fail_abandoned(engine, timedelta(minutes=settings.claim_timeout_minutes))
    request = request_retraining(engine, reason, detail, requested_by)
    if request is None:
        active = active_retraining(engine)
        raise RetrainingBusy(
            f"retraining {active['id']} ({active['reason']}) is {active['status']}"
            + (f" on {active['orchestrator']}" if active["orchestrator"] else "")
            + ": wait for it to finish"
        )
    retraining_id = claim_retraining(engine, orchestrator)
    if retraining_id != request["id"]:
        raise RetrainingBusy("another orchestrator claimed the retraining first")
    build_training_set_step(settings, retraining_id)
    train_challenger_step(settings, retraining_id)
    evaluate_challenger_step(settings, retraining_id)
    promote_step(settings, retraining_id)
    return _row(engine, retraining_id)


def ensure_champion(settings: Settings) -> tuple[str, bool]:
    """The champion's version, trained and promoted first when the registry has none."""
    registry = Registry(settings.tracking_uri)
    version = registry.alias_version(CHAMPION)
    if version is not None:
        return version, False
    row = run_retraining(settings, "first", "no champion in the registry", "creditops run")
    if row["status"] != "promoted":
        raise CreditopsError(f"the first model was not promoted: {row['evaluation']}")
    return row["challenger_version"], True


def retrainings_history(engine: Engine, limit: int = 50) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(retrainings).order_by(retrainings.c.requested_at.desc()).limit(limit)
        ).mappings()
        return [dict(r) for r in rows]
