"""The schema, its migrations, and the embedded PostgreSQL cluster."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from creditops.db import check_database, engine_for, metadata, migrate
from creditops.embedded_postgres import EmbeddedPostgres, find_server_binaries
from creditops.errors import ConfigurationError, DatabaseUnavailable
from creditops.features import FEATURES, column_name

from ..conftest import server_reachable_dir


def test_the_migrations_produce_exactly_the_schema_the_code_declares(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(database_url, engine):
    migrate(database_url)
    check_database(engine)


def test_predictions_have_one_column_per_feature_and_the_indexes_the_reads_need(engine):
    inspector = inspect(engine)
    columns = {c["name"] for c in inspector.get_columns("predictions")}
    assert {column_name(f.name) for f in FEATURES} <= columns
    indexes = {i["name"] for i in inspector.get_indexes("predictions")}
    assert {"ix_predictions_predicted_at_id", "ix_predictions_source_predicted_at_id"} <= indexes


def test_the_prediction_file_ledger_refuses_a_second_claim_of_the_same_file(engine):
    claim = text(
        "INSERT INTO prediction_files (file_name, fingerprint, status, claimed_by) "
        "VALUES ('a.csv', 'abc', 'claimed', :who)"
    )
    with engine.begin() as conn:
        conn.execute(claim, {"who": "dagster"})
    with (
        pytest.raises(Exception, match="uq_prediction_files_file_name_fingerprint"),
        engine.begin() as conn,
    ):
        conn.execute(claim, {"who": "airflow"})


def test_an_unreachable_database_is_one_clear_line():
    engine = engine_for("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseUnavailable) as caught:
        check_database(engine)
    message = str(caught.value)
    assert message.startswith("cannot reach the database at postgresql+psycopg://nobody:***@")
    assert "secret" not in message and "\n" not in message


def test_an_unmigrated_database_says_to_migrate(postgres):
    postgres.create_database("empty")
    with pytest.raises(DatabaseUnavailable, match="creditops db migrate"):
        check_database(engine_for(postgres.url(database="empty")))


def test_the_embedded_cluster_keeps_its_data_across_a_restart():
    cluster = EmbeddedPostgres(server_reachable_dir("creditops-restart-") / "pg", 0, durable=False)
    try:
        url = cluster.start()
        with engine_for(url).begin() as conn:
            conn.execute(text("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"))
        engine_for(url).dispose()
        cluster.stop()
        assert cluster.running_port() is None
        url = cluster.start()
        with engine_for(url).connect() as conn:
            assert conn.execute(text("SELECT x FROM kept")).scalar_one() == 7
        engine_for(url).dispose()
    finally:
        cluster.destroy()


def test_missing_server_binaries_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(ConfigurationError, match="apt-get install postgresql"):
        find_server_binaries(tmp_path / "nothing-here")
