"""live performance per model version and minute, kept by triggers

Reading a month of live performance used to join a million predictions with
their outcomes on every request. `performance_minutes` holds, per model
version and minute of prediction time, the count of predictions and of
approvals, and each labelled prediction's score, outcome and decision packed
as bytes in prediction order (8-byte floats, 1-byte booleans), so that a month
reads ~43,000 rows. `performance_by_minute` computes the same rows from the
tables themselves: the triggers use it to refresh the minutes an outcome
touches, and requests use it for the partial minutes at a window's edges.

Prediction inserts add to the counts; outcome inserts and corrections
recompute the minutes of their predictions. Both take one transaction lock,
so that a prediction and its outcome written at the same moment by two
transactions are still joined by whichever commits second. The trigger
functions run right after bulk writes, before the statistics catch up (a table
just truncated and refilled looks empty), and they only ever look rows up by
key: so they say so (`enable_seqscan = off`) instead of trusting an estimate
that would scan a million rows once per minute refreshed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVERYTHING = "tstzrange('-infinity', 'infinity')"

FUNCTIONS = f"""
CREATE FUNCTION performance_by_minute(spans tstzrange[])
RETURNS TABLE (model_version text, minute timestamptz, n_predictions bigint,
               n_approved bigint, n_labelled bigint, scores bytea, bad_outcomes bytea,
               bad_predictions bytea)
LANGUAGE sql STABLE AS $$
    SELECT p.model_version, date_trunc('minute', p.predicted_at, 'UTC'), count(*),
           count(*) FILTER (WHERE p.prediction = 'good'), count(p.status),
           coalesce(string_agg(float8send(p.probability_bad), '' ORDER BY p.id)
                    FILTER (WHERE p.status IS NOT NULL), ''),
           coalesce(string_agg(boolsend(p.status = 'bad'), '' ORDER BY p.id)
                    FILTER (WHERE p.status IS NOT NULL), ''),
           coalesce(string_agg(boolsend(p.prediction = 'bad'), '' ORDER BY p.id)
                    FILTER (WHERE p.status IS NOT NULL), '')
    FROM unnest(spans) AS span
    CROSS JOIN LATERAL (
        -- One index range scan per span and one index lookup per prediction, whatever
        -- the statistics say (they lag behind the writes that fire the triggers).
        SELECT id, model_version, predicted_at, prediction, probability_bad,
               (SELECT o.status FROM outcomes o WHERE o.application_id = pr.application_id)
               AS status
        FROM predictions pr
        WHERE predicted_at >= lower(span) AND predicted_at < upper(span)
        OFFSET 0
    ) AS p
    GROUP BY 1, 2
$$;

CREATE FUNCTION refresh_performance_minutes(minutes timestamptz[]) RETURNS void
LANGUAGE sql SET enable_seqscan = off AS $$
    DELETE FROM performance_minutes m USING unnest(minutes) AS k(minute) WHERE m.minute = k.minute;
    -- Consecutive minutes make one span: a bulk write refreshes a few long spans.
    INSERT INTO performance_minutes
    SELECT * FROM performance_by_minute(ARRAY(
        SELECT tstzrange(min(m), max(m) + interval '1 minute')
        FROM (SELECT m, m - interval '1 minute' * row_number() OVER (ORDER BY m) AS island
              FROM unnest(minutes) AS m) AS numbered
        GROUP BY island));
$$;

-- New predictions add to their minutes' counts; their labels, if their outcome
-- came first (an application scored again), need the minute recomputed.
CREATE FUNCTION performance_after_new_predictions() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('performance_minutes'));
    INSERT INTO performance_minutes AS m (model_version, minute, n_predictions, n_approved)
    SELECT model_version, date_trunc('minute', predicted_at, 'UTC'), count(*),
           count(*) FILTER (WHERE prediction = 'good')
    FROM changed GROUP BY 1, 2
    ON CONFLICT (model_version, minute) DO UPDATE
    SET n_predictions = m.n_predictions + excluded.n_predictions,
        n_approved = m.n_approved + excluded.n_approved;
    PERFORM refresh_performance_minutes(
        array_agg(DISTINCT date_trunc('minute', predicted_at, 'UTC')))
    FROM changed
    WHERE (SELECT true FROM outcomes o WHERE o.application_id = changed.application_id)
    HAVING count(*) > 0;  -- a lookup per row: a hash join would read every outcome
    RETURN NULL;
END
$$;

-- Predictions changed or deleted (never by the platform, which only appends).
CREATE FUNCTION performance_after_changed_predictions() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('performance_minutes'));
    PERFORM refresh_performance_minutes(
        array_agg(DISTINCT date_trunc('minute', predicted_at, 'UTC')))
    FROM changed HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE FUNCTION performance_after_outcomes() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('performance_minutes'));
    PERFORM refresh_performance_minutes(
        array_agg(DISTINCT date_trunc('minute', p.predicted_at, 'UTC')))
    FROM changed c JOIN predictions p ON p.application_id = c.application_id
    HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE FUNCTION performance_after_truncate() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM performance_minutes;
    INSERT INTO performance_minutes SELECT * FROM performance_by_minute(ARRAY[{EVERYTHING}]);
    RETURN NULL;
END
$$;
"""

# (name, event, transition table, function suffix)
TRIGGERS = (
    ("new_predictions", "INSERT ON predictions", "NEW", "new_predictions"),
    ("predictions_before_update", "UPDATE ON predictions", "OLD", "changed_predictions"),
    ("predictions_after_update", "UPDATE ON predictions", "NEW", "changed_predictions"),
    ("deleted_predictions", "DELETE ON predictions", "OLD", "changed_predictions"),
    ("new_outcomes", "INSERT ON outcomes", "NEW", "outcomes"),
    ("corrected_outcomes", "UPDATE ON outcomes", "NEW", "outcomes"),
    ("deleted_outcomes", "DELETE ON outcomes", "OLD", "outcomes"),
    ("truncated_predictions", "TRUNCATE ON predictions", None, "truncate"),
    ("truncated_outcomes", "TRUNCATE ON outcomes", None, "truncate"),
)


def upgrade() -> None:
    op.create_table(
        "performance_minutes",
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_predictions", sa.BigInteger(), nullable=False),
        sa.Column("n_approved", sa.BigInteger(), nullable=False),
        sa.Column("n_labelled", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("scores", sa.LargeBinary(), server_default=sa.text("''"), nullable=False),
        sa.Column("bad_outcomes", sa.LargeBinary(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "bad_predictions", sa.LargeBinary(), server_default=sa.text("''"), nullable=False
        ),
        sa.PrimaryKeyConstraint("minute", "model_version", name=op.f("pk_performance_minutes")),
    )
    op.execute(FUNCTIONS)
    for name, event, transition, function in TRIGGERS:
        referencing = f"REFERENCING {transition} TABLE AS changed" if transition else ""
        op.execute(
            f"CREATE TRIGGER performance_{name} AFTER {event} {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION performance_after_{function}()"
        )
    op.execute(
        f"INSERT INTO performance_minutes SELECT * FROM performance_by_minute(ARRAY[{EVERYTHING}])"
    )


def downgrade() -> None:
    for name, event, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER performance_{name} ON {event.split(' ON ')[1]}")
    for function in (
        "performance_after_truncate()",
        "performance_after_outcomes()",
        "performance_after_changed_predictions()",
        "performance_after_new_predictions()",
        "refresh_performance_minutes(timestamptz[])",
        "performance_by_minute(tstzrange[])",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("performance_minutes")
