"""The `creditops` command line: database, training and running the stack."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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

    version, trained = ensure_model(settings, bring_up_database(settings))
    print(
        f"model creditops version {version} is champion "
        + ("(trained now)" if trained else "(already there: `creditops retrain` trains another)")
    )


def _retrain(args: argparse.Namespace, settings: Settings) -> None:
    from .db import database_url, engine_for
    from .lifecycle.registry import Registry
    from .lifecycle.retraining import request_retraining, run_retraining

    by = f"creditops retrain ({args.requested_by})"
    if args.request:
        row = request_retraining(engine_for(database_url(settings)), "manual", by, by)
        if row is None:
            raise CreditopsError("a retraining is requested or running already: one at a time")
        print(f"retraining {row['id']} requested: the orchestrators' sensors will run it")
        return
    Registry(settings.tracking_uri).check()
    row = run_retraining(settings, "manual", by, by)
    evaluation = row["evaluation"]
    print(
        f"retraining {row['id']}: challenger version {row['challenger_version']} "
        f"{row['status']} (champion was {row['champion_version'] or 'none'}; "
        f"judged on the {evaluation['judged_on']} set)"
    )
    for check in evaluation["checks"]:
        print(f"  {'pass' if check['passed'] else 'FAIL'}  {check['name']}: {check['detail']}")


def _model(args: argparse.Namespace, settings: Settings) -> None:
    from .lifecycle.registry import Registry
    from .lifecycle.retraining import promote

    if args.action == "promote" and not args.version:
        raise CreditopsError("`model promote` needs the VERSION to serve")
    registry = Registry(settings.tracking_uri)
    registry.check()
    if args.action == "promote":
        previous = promote(settings, args.version, f"creditops model promote ({args.reason})")
        print(
            f"version {args.version} is champion (was {previous or 'none'}); "
            "the model service switches within a few seconds"
        )
        return
    for v in registry.versions():
        auc = v["metrics"].get("holdout.roc_auc")
        print(
            f"{v['version']:>4}  {','.join(v['aliases']) or '-':<18} "
            f"ROC AUC {auc:.4f}  {v['tags'].get('reason', '-'):<9} "
            f"gate: {v['tags'].get('gate', '-')}"
            + (f"  ({v['tags']['gate_reasons']})" if v["tags"].get("gate") == "rejected" else "")
        )


def _split(args: argparse.Namespace, settings: Settings) -> None:
    from .splitting import split_dataset, write_manifest

    dataset = args.dataset or settings.dataset
    raw_dir = args.raw_data or settings.raw_data_dir
    pending = args.outcomes or settings.outcomes_pending_dir
    files = split_dataset(dataset, raw_dir, args.files, args.seed, args.error_share, pending)
    with_errors = [f for f in files if f.errors]
    if args.manifest:
        write_manifest(files, args.manifest)
    print(
        f"wrote {len(files)} files ({sum(f.rows for f in files)} rows, "
        f"{len(with_errors)} with injected errors) to {raw_dir}; their outcomes to {pending}"
    )
    for raw in with_errors:
        kinds = ", ".join(e.kind for e in raw.errors)
        print(f"  {raw.path.name}: {kinds}")


def _errors(args: argparse.Namespace, settings: Settings) -> None:
    from .data_errors import ERROR_KINDS, inject
    from .splitting import Corruption, write_atomically
    from .training import load_dataset

    if args.action == "list":
        for kind in ERROR_KINDS.values():
            print(f"{kind.name:<24} {kind.level:<7} {kind.description}")
        return
    if not args.output or not args.kind:
        raise CreditopsError("`errors make` needs an OUTPUT file and at least one --kind")
    frame = load_dataset(args.dataset or settings.dataset).drop(columns="Status")
    sample = frame.sample(n=min(args.rows, len(frame)), random_state=args.seed)
    try:
        corruption: Corruption = inject(sample, args.kind, args.seed, args.share)
    except ValueError as exc:
        raise CreditopsError(str(exc)) from exc
    if args.output.exists():
        raise CreditopsError(f"{args.output} exists already; choose another name")
    write_atomically(args.output, corruption)
    print(
        json.dumps({"file": str(args.output), "errors": [e.as_dict() for e in corruption.errors]})
    )


def _simulate(args: argparse.Namespace, settings: Settings) -> None:
    import time
    from datetime import UTC, datetime

    import httpx

    from .simulation import simulated_applicants

    headers = {"X-API-Key": settings.api_key.get_secret_value()} if settings.api_key else {}

    def send(path: str, body: dict) -> dict:
        try:
            response = httpx.post(
                f"{settings.model_service_url}{path}", json=body, headers=headers, timeout=60
            )
        except httpx.HTTPError as exc:
            raise CreditopsError(
                f"the model service at {settings.model_service_url} is not reachable: {exc}"
            ) from exc
        if not response.is_success:
            raise CreditopsError(f"the model service refused {path}: {response.text[:300]}")
        return response.json()

    for batch in range(args.batches):
        applicants, statuses = simulated_applicants(
            settings.dataset, args.mode, args.rows, args.seed + batch
        )
        body = {
            "source": "scheduled",
            "source_file": f"simulated-{args.mode}",
            "applicants": applicants,
        }
        scored = send("/predict", body)["predictions"]
        bad = sum(p["prediction"] == "bad" for p in scored)
        line = (
            f"batch {batch + 1}/{args.batches}: {len(applicants)} {args.mode} applicants, "
            f"{bad} predicted bad"
        )
        if args.outcomes:
            decided = datetime.now(UTC).isoformat()
            outcomes = [
                {"application_id": p["application_id"], "status": s, "decided_at": decided}
                for p, s in zip(scored, statuses, strict=True)
            ]
            send("/outcomes", {"outcomes": outcomes})
            line += f"; their outcomes sent back ({statuses.count('bad')} bad)"
        print(line)
        if batch + 1 < args.batches:
            time.sleep(args.pause)


def _grafana(args: argparse.Namespace, settings: Settings) -> None:
    from .grafana import write_provisioning

    for path in write_provisioning(args.output):
        print(f"wrote {path}")


def _run(args: argparse.Namespace, settings: Settings) -> None:
    from .stack import run_platform

    sys.exit(run_platform(settings))


def _status(args: argparse.Namespace, settings: Settings) -> None:
    from .supervision import format_status, read_status, status_file

    status = read_status(status_file(settings.logs_dir))
    if status is None:
        raise CreditopsError(f"no stack has run with the data root {settings.data_root} yet")
    if status["running"]:
        print(f"creditops run is up (pid {status['supervisor_pid']}); logs in {settings.logs_dir}")
    else:
        print(f"creditops run is not running; its last state, written {status['written_at']}:")
    print(format_status(status))
    if not status["running"]:
        sys.exit(3)  # as `systemctl status` does for a unit that is not active


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="creditops",
        description="Credit-risk platform: database, model training and the local stack.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="the database (embedded PostgreSQL unless DATABASE_URL)")
    db.add_argument("action", choices=["start", "stop", "status", "migrate", "url"])
    db.set_defaults(handler=_db)

    train = commands.add_parser(
        "train", help="train the first model and make it champion, unless there is one"
    )
    train.set_defaults(handler=_train)

    retrain = commands.add_parser(
        "retrain",
        help="train a challenger now, judge it against the champion, promote it if it is better",
    )
    retrain.add_argument(
        "--request", action="store_true", help="only ask the orchestrators to do it"
    )
    retrain.add_argument("--requested-by", default="a person", help="recorded with the request")
    retrain.set_defaults(handler=_retrain)

    model = commands.add_parser("model", help="the registry's versions; promote one by hand")
    model.add_argument("action", choices=["list", "promote"])
    model.add_argument("version", nargs="?", help="with promote: the version to serve")
    model.add_argument("--reason", default="by hand", help="with promote: recorded with it")
    model.set_defaults(handler=_model)

    split = commands.add_parser(
        "split",
        help="split the dataset into N raw files for ingestion (labels kept aside as outcomes)",
    )
    split.add_argument("files", type=int, help="how many files to write (not rows per file)")
    split.add_argument("--dataset", type=Path, help="default: the configured dataset")
    split.add_argument("--raw-data", type=Path, help="default: <data root>/raw-data")
    split.add_argument(
        "--outcomes",
        type=Path,
        help="where the labels wait to be released; default: <data root>/outcomes-pending",
    )
    split.add_argument(
        "--error-share", type=float, default=0.0, help="share of files given injected errors"
    )
    split.add_argument("--seed", type=int, default=42)
    split.add_argument("--manifest", type=Path, help="append what was injected, as JSON lines")
    split.set_defaults(handler=_split)

    errors = commands.add_parser("errors", help="list the data-error kinds or make a bad file")
    errors.add_argument("action", choices=["list", "make"])
    errors.add_argument("output", type=Path, nargs="?", help="with make: the file to write")
    errors.add_argument("--kind", action="append", help="with make: an error kind (repeatable)")
    errors.add_argument("--rows", type=int, default=100, help="rows sampled from the dataset")
    errors.add_argument("--share", type=float, default=0.1, help="share of rows per kind")
    errors.add_argument("--seed", type=int, default=42)
    errors.add_argument("--dataset", type=Path)
    errors.set_defaults(handler=_errors)

    simulate = commands.add_parser(
        "simulate", help="send batches of applicants to the model service (source scheduled)"
    )
    simulate.add_argument("mode", choices=["normal", "noisy", "drifted"])
    simulate.add_argument("--batches", type=int, default=5)
    simulate.add_argument("--rows", type=int, default=200)
    simulate.add_argument("--pause", type=float, default=2.0, help="seconds between batches")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--no-outcomes",
        dest="outcomes",
        action="store_false",
        help="do not send the loans' outcomes after each batch (POST /outcomes)",
    )
    simulate.set_defaults(handler=_simulate)

    grafana = commands.add_parser(
        "grafana", help="write Grafana's provisioning (dashboards, alerts) from the panel specs"
    )
    grafana.add_argument("--output", type=Path, default=Path("grafana"))
    grafana.set_defaults(handler=_grafana)

    run = commands.add_parser("run", help="start the whole platform locally (Ctrl-C stops it)")
    run.set_defaults(handler=_run)

    status = commands.add_parser(
        "status", help="each service of `creditops run`: state, up since, restarts, last exit"
    )
    status.set_defaults(handler=_status)
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
