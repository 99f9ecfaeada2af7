"""The `creditops` command line: database, training and running the stack."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import CreditopsError
from .settings import Settings, get_settings


def _db(args: argparse.Namespace, settings: Settings) -> None:
    from .db import database_url, describe_url, embedded_cluster, migrate

    cluster = embedded_cluster(settings)
    if args.action in ("start", "stop") and settings.database_url:
        raise CreditopsError(
            "DATABASE_URL is set, so there is no embedded cluster to start or stop"
        )
    if args.action == "start":
        url = cluster.start()
        print(f"PostgreSQL running: {describe_url(url)}")
    elif args.action == "stop":
        cluster.stop()
        print(f"PostgreSQL in {cluster.root} stopped")
    elif args.action == "migrate":
        url = database_url(settings)
        migrate(url)
        print(f"database at {describe_url(url)} is at the newest schema")
    elif args.action == "url":
        print(database_url(settings))
    elif args.action == "status":
        if settings.database_url:
            print(f"external database: {describe_url(settings.database_url)}")
        else:
            port = cluster.running_port()
            print(
                f"embedded PostgreSQL in {cluster.root}: "
                + (f"running on 127.0.0.1:{port}" if port else "stopped")
            )


def _train(args: argparse.Namespace, settings: Settings) -> None:
    from .stack import bring_up_database, ensure_model

    url = bring_up_database(settings)
    artifact, trained = ensure_model(settings, url, force=args.force)
    metrics = artifact.metadata["metrics"]
    verb = "trained" if trained else "already trained (use --force to retrain)"
    print(f"model {artifact.version} {verb}")
    print(json.dumps({k: v for k, v in metrics.items() if k != "confusion_matrix"}, indent=2))
    print("confusion matrix (rows: true good/bad, columns: predicted good/bad):")
    for row in metrics["confusion_matrix"]["matrix"]:
        print("  ", row)


def _run(args: argparse.Namespace, settings: Settings) -> None:
    from .stack import run_platform

    sys.exit(run_platform(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creditops",
        description="Credit-risk platform: database, model training and the local stack.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the database (embedded PostgreSQL unless DATABASE_URL)")
    db.add_argument("action", choices=["start", "stop", "status", "migrate", "url"])
    db.set_defaults(handler=_db)

    train = commands.add_parser("train", help="train the model if none exists, and record it")
    train.add_argument("--force", action="store_true", help="train a new version anyway")
    train.set_defaults(handler=_train)

    run = commands.add_parser("run", help="start the whole platform locally (Ctrl-C stops it)")
    run.set_defaults(handler=_run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"creditops: invalid configuration: {exc}", file=sys.stderr)
        sys.exit(2)
    try:
        args.handler(args, settings)
    except CreditopsError as exc:
        print(f"creditops: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
