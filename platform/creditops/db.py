"""The database schema (SQLAlchemy Core tables) and the engine.

Alembic migrations under `migrations/` are the only way the schema changes;
these tables are what the migrations produce, used to build queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from .embedded_postgres import EmbeddedPostgres
from .errors import DatabaseUnavailable
from .features import CLASSES, FEATURES, NumericFeature, column_name
from .settings import Settings

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

PREDICTION_SOURCES = ("webapp", "scheduled")
OUTCOME_SOURCES = ("file", "api")
ORCHESTRATORS = ("dagster", "airflow", "cli")
RETRAINING_REASONS = ("first", "drift", "outcomes", "schedule", "manual")
RETRAINING_STATUSES = ("requested", "running", "promoted", "rejected", "failed")
ACTIVE_RETRAINING = ("requested", "running")
CRITICALITIES = ("none", "low", "medium", "high")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _feature_column(feature) -> Column:
    kind = (
        (BigInteger if feature.kind == "int" else Float)
        if isinstance(feature, NumericFeature)
        else Text
    )
    return Column(column_name(feature.name), kind, nullable=feature.nullable)


predictions = Table(
    "predictions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("predicted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", Text, nullable=False),
    Column("source_file", Text),
    # NULL only for rows stored before application ids existed.
    Column("application_id", Text),
    Column("batch_id", UUID(as_uuid=True), nullable=False),
    Column("model_version", Text, nullable=False),  # the registry's version number
    Column("prediction", Text, nullable=False),
    Column("probability_bad", Float, nullable=False),
    *(_feature_column(f) for f in FEATURES),
    # The features that pushed the score towards bad, as the scoring version explained
    # them (see `explanations`); NULL for rows scored before reasons existed.
    Column("reasons", JSONB),
    CheckConstraint(_in("source", PREDICTION_SOURCES), name="source"),
    CheckConstraint(_in("prediction", CLASSES), name="prediction"),
    CheckConstraint("probability_bad BETWEEN 0 AND 1", name="probability_bad"),
    # Past predictions and dashboards read newest first, optionally by source.
    Index("ix_predictions_predicted_at_id", text("predicted_at DESC"), text("id DESC")),
    Index(
        "ix_predictions_source_predicted_at_id",
        "source",
        text("predicted_at DESC"),
        text("id DESC"),
    ),
    # Outcomes join their predictions on the application.
    Index(
        "ix_predictions_application_id",
        "application_id",
        postgresql_where=text("application_id IS NOT NULL"),
    ),
    # The prediction job asks whether a file's rows are stored already.
    Index(
        "ix_predictions_source_file",
        "source_file",
        postgresql_where=text("source_file IS NOT NULL"),
    ),
)

ingestion_runs = Table(
    "ingestion_runs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # One row per claimed file: a rerun after a crash updates, never duplicates.
    Column("run_key", Text, nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("orchestrator", Text, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("n_rows", Integer, nullable=False),
    Column("n_valid_rows", Integer, nullable=False),
    Column("n_invalid_rows", Integer, nullable=False),
    Column("criticality", Text, nullable=False),
    Column("file_error", Text),
    Column("report_url", Text),
    CheckConstraint(_in("orchestrator", ORCHESTRATORS), name="orchestrator"),
    CheckConstraint(_in("criticality", CRITICALITIES), name="criticality"),
    CheckConstraint("n_valid_rows + n_invalid_rows = n_rows", name="row_counts"),
    Index("ix_ingestion_runs_ingested_at", "ingested_at"),
)

data_quality_issues = Table(
    "data_quality_issues",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "ingestion_run_id",
        BigInteger,
        ForeignKey("ingestion_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("error_type", Text, nullable=False),
    # NULL for problems of the whole file (empty, not CSV, ...).
    Column("column_name", Text),
    Column("n_rows", Integer, nullable=False),
    UniqueConstraint(
        "ingestion_run_id", "error_type", "column_name", postgresql_nulls_not_distinct=True
    ),
    Index("ix_data_quality_issues_error_type", "error_type"),
)

drift_metrics = Table(
    "drift_metrics",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("model_version", Text, nullable=False),  # the registry's version number
    Column("feature", Text, nullable=False),
    Column("test", Text, nullable=False),
    Column("statistic", Float, nullable=False),
    Column("p_value", Float),
    Column("psi", Float, nullable=False),
    Column("n_reference", Integer, nullable=False),
    Column("n_current", Integer, nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("drifted", Boolean, nullable=False),
    CheckConstraint(_in("test", ("ks", "chi2")), name="test"),
    Index("ix_drift_metrics_computed_at", "computed_at"),
    Index("ix_drift_metrics_feature_computed_at", "feature", "computed_at"),
)

# How each application ended: one row per application; a later, different outcome
# replaces the earlier and is counted as a correction.
outcomes = Table(
    "outcomes",
    metadata,
    Column("application_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", Text, nullable=False),
    Column("corrections", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(_in("status", CLASSES), name="status"),
    CheckConstraint(_in("source", OUTCOME_SOURCES), name="source"),
)

# Live performance per model version and minute of prediction time, kept by triggers
# (migration 0006): counts of predictions and approvals, and the labelled predictions'
# scores (8-byte floats), outcomes and decisions (1-byte booleans) packed in
# prediction order, so that a month of metrics reads minutes instead of a join.
performance_minutes = Table(
    "performance_minutes",
    metadata,
    Column("model_version", Text, nullable=False),
    Column("minute", DateTime(timezone=True), nullable=False),
    Column("n_predictions", BigInteger, nullable=False),
    Column("n_approved", BigInteger, nullable=False),
    Column("n_labelled", BigInteger, nullable=False, server_default=text("0")),
    Column("scores", LargeBinary, nullable=False, server_default=text("''")),
    Column("bad_outcomes", LargeBinary, nullable=False, server_default=text("''")),
    Column("bad_predictions", LargeBinary, nullable=False, server_default=text("''")),
    PrimaryKeyConstraint("minute", "model_version"),  # minute first: refreshed by minute
)

# One row per outcome file ingested: what it held and what became of it.
outcome_ingestion_runs = Table(
    "outcome_ingestion_runs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("run_key", Text, nullable=False, unique=True),
    Column("file_name", Text, nullable=False),
    Column("orchestrator", Text, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("n_rows", Integer, nullable=False),
    Column("n_saved", Integer, nullable=False),  # new outcomes
    Column("n_corrected", Integer, nullable=False),
    Column("n_unchanged", Integer, nullable=False),  # repeats of what was known
    Column("n_invalid", Integer, nullable=False),
    Column("problems", JSONB, nullable=False),  # error kind -> rows
    Column("file_error", Text),  # why the whole file could not be read
    CheckConstraint(_in("orchestrator", ORCHESTRATORS), name="orchestrator"),
    CheckConstraint("n_saved + n_corrected + n_unchanged + n_invalid = n_rows", name="row_counts"),
)

# The first file that carried each content: a copy under another name is a duplicate.
raw_file_contents = Table(
    "raw_file_contents",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The prediction job's ledger: a file of good_data/ is taken by the run that
# inserts its row; the unique key makes that claim atomic across orchestrators.
prediction_files = Table(
    "prediction_files",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("file_name", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("claimed_by", Text, nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("n_rows", Integer),
    Column("error", Text),
    UniqueConstraint("file_name", "fingerprint"),
    CheckConstraint(_in("status", ("claimed", "predicted", "failed")), name="status"),
)


# Every retraining: why it was asked for, who ran it, and how it ended. At most one
# is requested or running at a time, across orchestrators (a partial unique index).
retrainings = Table(
    "retrainings",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", Text, nullable=False, server_default=text("'requested'")),
    Column("orchestrator", Text),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("training_set", JSONB),
    Column("champion_version", Text),
    Column("challenger_version", Text),
    Column("evaluation", JSONB),
    Column("error", Text),
    CheckConstraint(_in("reason", RETRAINING_REASONS), name="reason"),
    CheckConstraint(_in("status", RETRAINING_STATUSES), name="status"),
    CheckConstraint(f"orchestrator IS NULL OR {_in('orchestrator', ORCHESTRATORS)}", name="orch"),
    Index(
        "ix_retrainings_one_active",
        text("(true)"),
        unique=True,
        postgresql_where=text(_in("status", ACTIVE_RETRAINING)),
    ),
    Index("ix_retrainings_requested_at", "requested_at"),
)

# Who served when: every change of the champion alias, by the gate or by hand.
promotions = Table(
    "promotions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("promoted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("version", Text, nullable=False),
    Column("previous_version", Text),
    Column("promoted_by", Text, nullable=False),
    Column("retraining_id", BigInteger, ForeignKey("retrainings.id")),
    Column("note", Text, nullable=False),
)


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@contextmanager
def reporting_outages(url: str) -> Iterator[None]:
    """Turn a connection failure into DatabaseUnavailable: one line, no password."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach the database at {describe_url(url)}: {reason}"
        ) from exc


def check_database(engine: Engine) -> None:
    """Raise DatabaseUnavailable with one clear line unless the database answers and is migrated."""
    where = describe_url(engine.url.render_as_string(hide_password=False))
    try:
        with reporting_outages(where), engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM alembic_version"))
    except ProgrammingError as exc:
        raise DatabaseUnavailable(
            f"the database at {where} has no schema yet: run `creditops db migrate`"
        ) from exc


def embedded_cluster(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.postgres_dir, settings.pg_port, settings.pg_bin_dir)


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the URL of the running embedded cluster."""
    return settings.database_url or embedded_cluster(settings).url()


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["url"] = url
    with reporting_outages(url):
        command.upgrade(config, "head")
