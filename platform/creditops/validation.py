"""Validate a raw file with a Great Expectations suite built from the feature spec.

The file is read as text, so that `Age=twelve` is seen as what it is. Each
expectation carries the error kind it detects (the vocabulary of
`data_errors`), and its unexpected rows become per-row problems. The same run
writes the Data Docs page of the file. Import cost (~5 s) is paid once per
process: the context and suite are built on first use.

Great Expectations spends most of a run on each expectation's bookkeeping, whatever
the rows, so a batch of files is validated in one run over all their rows, and each
file's own result is split back out of it, as GX would have given it for the file
alone (the tests hold the two side by side).
"""

from __future__ import annotations

import heapq
import html
import io
import logging
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from . import data_docs
from .data_errors import ERROR_KINDS
from .features import (
    CROSS_COLUMN_RULES,
    FEATURE_NAMES,
    FEATURES,
    IDENTIFIER,
    CategoricalFeature,
    NumericFeature,
)

ROW = "row"
FILE = "file_in_batch"  # which file of the batch a row comes from
REPEATS = "repeats_an_earlier_row"
NUMBER = r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$"
WHOLE_NUMBER = r"^-?\d+(?:\.0+)?$"
# Where one cell breaks two expectations, the more basic problem is the one counted.
OUTRANKS = {"unknown_category": "wrong_type", "extreme_outlier": "out_of_range"}

DOCS_SITE = "reports"
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]}
INDEX_LIMIT = 200  # validation pages listed on the index, newest first
INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data Docs: raw file validations</title>
<link rel="stylesheet" href="{bootstrap}"></head>
<body><main class="container py-4"><h1 class="h3">Raw file validations</h1>
<p>The expectation suite: <a href="expectations/applicants.html">applicants</a>.
The newest {shown} validation reports ({total} files validated in all). Exact repeats of
an earlier row in the same file are flagged <code>duplicate_row</code> (every repeat
beyond the first), a copy of an earlier file under a new name <code>duplicate_file</code>.</p>
<table class="table table-sm table-hover"><thead><tr><th>file</th><th>validated at (UTC)</th>
</tr></thead><tbody>
{rows}
</tbody></table></main></body></html>
"""


def value_column(name: str) -> str:
    """The numeric reading of a text column (NaN where the text is not a number)."""
    return f"{name} (as number)"


@dataclass
class ValidationReport:
    """What validation found in one file."""

    file_name: str
    n_rows: int
    invalid_rows: np.ndarray  # one bool per data row
    issues: dict[tuple[str, str | None], int]  # (error kind, column) -> rows
    file_error: str | None = None
    file_error_detail: str | None = None  # e.g. which file it is a copy of
    report_path: Path | None = None  # the Data Docs page of this validation
    row_problems: dict[int, list[str]] = field(default_factory=dict)  # row -> "kind: column"

    @property
    def n_invalid_rows(self) -> int:
        return int(self.invalid_rows.sum())

    @property
    def n_valid_rows(self) -> int:
        return self.n_rows - self.n_invalid_rows

    @property
    def criticality(self) -> str:
        return criticality(self)

    def to_dict(self) -> dict:
        """JSON-safe, for handing the report from one orchestrator task to the next."""
        return {
            "file_name": self.file_name,
            "n_rows": self.n_rows,
            "invalid_rows": [int(i) for i in self.invalid_rows.nonzero()[0]],
            "issues": [[kind, column, count] for (kind, column), count in self.issues.items()],
            "file_error": self.file_error,
            "file_error_detail": self.file_error_detail,
            "report_path": str(self.report_path) if self.report_path else None,
            "row_problems": {str(row): problems for row, problems in self.row_problems.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> ValidationReport:
        invalid = np.zeros(data["n_rows"], dtype=bool)
        invalid[data["invalid_rows"]] = True
        return cls(
            file_name=data["file_name"],
            n_rows=data["n_rows"],
            invalid_rows=invalid,
            issues={(kind, column): count for kind, column, count in data["issues"]},
            file_error=data["file_error"],
            file_error_detail=data.get("file_error_detail"),
            report_path=Path(data["report_path"]) if data["report_path"] else None,
            row_problems={int(row): p for row, p in data["row_problems"].items()},
        )


def criticality(report: ValidationReport) -> str:
    """high: the file is unusable or half its rows are invalid; medium: 10% or more;
    low: any problem; none: a clean file."""
    if report.file_error == "duplicate_file":
        return "medium"  # nothing is lost or wrong: the data came twice
    if report.file_error or any(kind == "missing_column" for kind, _ in report.issues):
        return "high"
    if report.n_rows == 0 or not report.issues:
        return "none"
    share = report.n_invalid_rows / report.n_rows
    if share >= 0.5:
        return "high"
    return "medium" if share >= 0.1 else "low"


class UnreadableFile(Exception):
    def __init__(self, kind: str, detail: str | None = None) -> None:
        super().__init__(kind)
        self.kind, self.detail = kind, detail


DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _other_delimiter(header: str) -> str | None:
    """The delimiter a header is separated by when it is not a comma."""
    if "," in header:
        return None
    return next((d for d in DELIMITERS if header.count(d) >= 2), None)


def read_raw_file(content: bytes) -> pd.DataFrame:
    """The file's rows as text; raises UnreadableFile(empty_file | not_csv | wrong_delimiter |
    header_only)."""
    if not content.strip():
        raise UnreadableFile("empty_file")
    try:
        text = content.decode("utf-8-sig")  # a byte order mark (Excel's CSV) is not data
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", content, 0, 1, "NUL byte")
        delimiter = _other_delimiter(text.lstrip().splitlines()[0])
        if delimiter is not None:
            raise UnreadableFile(
                "wrong_delimiter",
                f"its columns are separated by {DELIMITERS[delimiter]} ({delimiter!r}), not commas",
            )
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UnreadableFile("not_csv") from exc
    if frame.empty:
        raise UnreadableFile("header_only")
    return frame


def checked_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame the suite runs on: text columns, their numeric readings, row ids, repeats
    (the file's place in its batch is added by `validate_files`)."""
    checked = pd.DataFrame({ROW: np.arange(len(frame))})
    for feature in FEATURES:
        if feature.name not in frame.columns:
            continue
        text = frame[feature.name].astype(object).where(frame[feature.name].notna(), None)
        checked[feature.name] = text.str.strip() if len(text) else text
        if isinstance(feature, NumericFeature):
            # float always, so that a file reads the same alone or among others
            checked[value_column(feature.name)] = pd.to_numeric(
                checked[feature.name], errors="coerce"
            ).astype(float)
    present = [c for c in FEATURE_NAMES if c in frame.columns]
    checked[REPEATS] = frame[present].duplicated(keep="first").to_numpy() if present else False
    for column in unexpected_columns(frame):  # seen by the suite, never used
        checked[column] = frame[column].astype(object)
    return checked


def unexpected_columns(frame: pd.DataFrame) -> list[str]:
    """Columns the feature spec does not declare (nor the application id): reported, dropped."""
    return [str(c) for c in frame.columns if c not in (*FEATURE_NAMES, IDENTIFIER)]


def _checked_columns() -> list[str]:
    """Every column `checked_frame` makes from a file with exactly the declared columns."""
    numeric = [value_column(f.name) for f in FEATURES if isinstance(f, NumericFeature)]
    return [ROW, *FEATURE_NAMES, *numeric, REPEATS, FILE]


def _expectations():
    """The suite, from the spec: (expectation, error kind, column reported) triples."""
    import great_expectations as gx

    ex = gx.expectations
    for feature in FEATURES:
        name = feature.name
        yield ex.ExpectColumnToExist(column=name), "missing_column", name
        if not feature.nullable:
            yield ex.ExpectColumnValuesToNotBeNull(column=name), "missing_value", name
        if isinstance(feature, CategoricalFeature):
            yield (
                ex.ExpectColumnValuesToNotMatchRegex(column=name, regex=NUMBER),
                "wrong_type",
                name,
            )
            yield (
                ex.ExpectColumnValuesToBeInSet(column=name, value_set=list(feature.categories)),
                "unknown_category",
                name,
            )
            continue
        pattern = WHOLE_NUMBER if feature.kind == "int" else NUMBER
        yield ex.ExpectColumnValuesToMatchRegex(column=name, regex=pattern), "not_a_number", name
        yield (
            ex.ExpectColumnValuesToBeBetween(
                column=value_column(name), min_value=feature.minimum, max_value=feature.maximum
            ),
            "out_of_range",
            name,
        )
        if feature.outlier_above is not None:
            yield (
                ex.ExpectColumnValuesToBeBetween(
                    column=value_column(name), max_value=feature.outlier_above
                ),
                "extreme_outlier",
                name,
            )
    for rule in CROSS_COLUMN_RULES:
        greater, smaller = (
            (rule.right, rule.left) if rule.op in ("<=", "<") else (rule.left, rule.right)
        )
        yield (
            ex.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=value_column(greater),
                column_B=value_column(smaller),
                or_equal=rule.op in ("<=", ">="),
                ignore_row_if="either_value_is_missing",
                meta={"rule": rule.description},
            ),
            "impossible_combination",
            f"{rule.left},{rule.right}",
        )
    yield ex.ExpectColumnValuesToBeInSet(column=REPEATS, value_set=[False]), "duplicate_row", None
    yield (
        ex.ExpectTableColumnsToMatchSet(column_set=_checked_columns(), exact_match=True),
        "unexpected_column",
        None,
    )


@dataclass(frozen=True)
class _Validator:
    context: object
    batch_definition: object  # the whole dataframe of a file
    suite: object
    page_renderer: object  # a result as Data Docs' page of it
    page_view: object  # keeps its compiled page templates for the process


@lru_cache(maxsize=4)
def _validator(docs_dir: Path) -> _Validator:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    for site in list(context.variables.data_docs_sites or {}):
        context.delete_data_docs_site(site)
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    batch_definition = (
        context.data_sources.add_pandas("raw_files")
        .add_dataframe_asset("applicants")
        .add_batch_definition_whole_dataframe("whole_file")
    )
    suite = gx.ExpectationSuite(name="applicants")
    for expectation, kind, column in _expectations():
        expectation.meta = {**(expectation.meta or {}), "error_kind": kind, "reported_as": column}
        suite.add_expectation(expectation)
    suite = context.suites.add(suite)
    context.build_data_docs(
        site_names=[DOCS_SITE],
        resource_identifiers=[ExpectationSuiteIdentifier(name=suite.name)],
        build_index=False,
    )
    data_docs.vendor(docs_dir)
    data_docs.localize(docs_dir / "expectations" / f"{suite.name}.html", docs_dir)
    return _Validator(
        context, batch_definition, suite, ValidationResultsPageRenderer(), DefaultJinjaPageView()
    )


def _shown(value) -> str:
    """An unexpected value as a person reads it: `-33` not `-33.0`, `(empty)` not None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _example(outcome, value) -> str:
    """An unexpected value; for a rule between two columns, each named, in the order the
    rule is reported: `Amount 1434 / Price 1378`."""
    kwargs = outcome.expectation_config.kwargs
    if "column_A" not in kwargs:
        return _shown(value)
    values = dict(zip((kwargs["column_A"], kwargs["column_B"]), value, strict=True))
    columns = outcome.expectation_config.meta["reported_as"].split(",")
    return " / ".join(f"{name} {_shown(values[value_column(name)])}" for name in columns)


def _extra_columns(outcome) -> list[str]:
    """The unexpected columns a failed column-set expectation found (not the missing ones)."""
    return (outcome.result or {}).get("details", {}).get("mismatched", {}).get("unexpected", [])


def _failures(result) -> list[dict]:
    """Each failed expectation as the page's summary shows it."""
    failures = []
    for outcome in result.results:
        if outcome.success:
            continue
        kind = outcome.expectation_config.meta["error_kind"]
        details = outcome.result or {}
        examples = details.get("partial_unexpected_list") or []
        if kind == "unexpected_column":
            examples = _extra_columns(outcome)
            if not examples:
                continue  # only missing columns: their own expectations say so
        failures.append(
            {
                "kind": kind,
                "column": outcome.expectation_config.meta["reported_as"],
                "rows": details.get("unexpected_count"),
                "examples": list(dict.fromkeys(_example(outcome, v) for v in examples))[:8],
                "meaning": ERROR_KINDS[kind].description,
            }
        )
    return sorted(failures, key=lambda f: -(f["rows"] or 0))


def _write_page(
    validator: _Validator, docs_dir: Path, identifier, result, failures: list[dict]
) -> Path:
    """The validation's own page (offline assets, what failed at the top), where Data Docs
    puts it.

    The page is rendered as Data Docs' site builder renders it, without its detour
    through the results store and a fresh set of templates per page. Nor is GX's index
    built: it reads every earlier result (seconds once there are thousands) and deletes
    the pages of results its context does not know, which, in a new process per run, is
    all of them. `write_docs_index` writes ours."""
    page = docs_dir.joinpath("validations", *identifier.to_tuple()).with_suffix(".html")
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        validator.page_view.render(
            validator.page_renderer.render(result),
            data_context_id=validator.context.data_context_id,
            show_how_to_buttons=True,
        )
    )
    data_docs.localize(page, docs_dir)
    data_docs.add_failure_summary(page, identifier.run_id.run_name, failures)
    return page


def _run_time(folder: str) -> str:
    """`20261123T104431.247739Z` as `2026-11-23 10:44:31`."""
    try:
        return f"{datetime.strptime(folder, '%Y%m%dT%H%M%S.%fZ'):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return html.escape(folder)


def write_docs_index(docs_dir: Path, limit: int = INDEX_LIMIT) -> Path:
    """`index.html`: the suite, and the newest validation pages, newest first."""
    folders = [  # validations/<suite>/<file>/<run time>/<page>.html
        entry
        for suite in os.scandir(docs_dir / "validations")
        for entry in os.scandir(suite.path)
        if entry.is_dir()
    ]
    newest = heapq.nlargest(limit, folders, key=lambda entry: entry.stat().st_mtime)
    pages = sorted(
        (page for folder in newest for page in Path(folder.path).glob("*/*.html")),
        key=lambda page: page.parts[-2],  # the run time, e.g. 20261123T104431.247739Z
        reverse=True,
    )
    rows = "\n".join(
        f'<tr><td><a href="{quote(page.relative_to(docs_dir).as_posix())}">'
        f"{html.escape(page.parts[-3])}</a></td><td>{_run_time(page.parts[-2])}</td></tr>"
        for page in pages[:limit]
    )
    total = len(folders)
    index = docs_dir / "index.html"
    partial = index.with_name(f".index.{os.getpid()}.html")
    bootstrap = data_docs.vendored(
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"
    )
    partial.write_text(
        INDEX_PAGE.format(bootstrap=bootstrap, shown=min(limit, len(pages)), total=total, rows=rows)
    )
    partial.replace(index)  # atomic: runs may write it at the same time
    return index


def _run_suite(validator: _Validator, checked: pd.DataFrame):
    """The suite on the frame (the rows of one or more files).

    The batch validates directly: a checkpoint (and a validation definition's run)
    first checks that the suite and definition match their stored copies, which costs
    as much as the expectations themselves on a file of a few hundred rows."""
    batch = validator.batch_definition.get_batch(batch_parameters={"dataframe": checked})
    result_format = RESULT_FORMAT | {"unexpected_index_column_names": [ROW, FILE]}
    return batch.validate(validator.suite, result_format=result_format), batch.id


def _domain(outcome) -> list[str]:
    """The columns a row-by-row expectation reads."""
    kwargs = outcome.expectation_config.kwargs
    return [kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs]


def _split(result, checked: pd.DataFrame, files: list[int]) -> dict[int, object]:
    """Each file's own suite result out of a run over several files' rows (a file
    without rows has its result too).

    Expectations about the table (its columns) hold alike for every file of the run;
    a row-by-row expectation's unexpected rows are shared out by file and its figures
    recounted by GX's own formatter; the batch's fingerprint becomes the file's."""
    from great_expectations.constants import MAX_RESULT_RECORDS
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.execution_engine.pandas_execution_engine import (
        hash_pandas_dataframe,
    )
    from great_expectations.expectations.expectation import _format_map_output
    from great_expectations.expectations.expectation_configuration import parse_result_format
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    file_of_row = checked[FILE].to_numpy()
    rows = pd.Series(file_of_row).value_counts().reindex(files, fill_value=0)
    result_format = parse_result_format(dict(RESULT_FORMAT))
    outcomes: dict[int, list] = {file: [] for file in files}
    for outcome in result.results:
        details = outcome.result or {}
        if "unexpected_index_list" not in details:  # about the table, or it failed to run
            for found in outcomes.values():
                found.append(outcome)
            continue
        columns = _domain(outcome)
        missing = checked[columns].isna().any(axis=1).groupby(file_of_row).sum()
        missing = missing.reindex(files, fill_value=0)
        # The index list holds every unexpected row with its values (GX keeps only the
        # first MAX_RESULT_RECORDS values themselves: in a batch, the first files').
        indexes: dict[int, list[dict]] = {file: [] for file in outcomes}
        for index in details["unexpected_index_list"]:
            index = dict(index)
            indexes[int(index.pop(FILE))].append(index)
        for file, found in outcomes.items():
            values = [
                index[columns[0]] if len(columns) == 1 else tuple(index[c] for c in columns)
                for index in indexes[file][:MAX_RESULT_RECORDS]
            ]
            formatted = _format_map_output(
                result_format=result_format,
                success=not indexes[file],
                element_count=int(rows[file]),
                nonnull_count=int(rows[file] - missing[file])
                if "missing_count" in details
                else None,
                unexpected_count=len(indexes[file]),
                unexpected_list=values,
                unexpected_index_list=indexes[file],
                unexpected_index_query=(
                    f"df.filter(items={[int(index[ROW]) for index in indexes[file]]}, axis=0)"
                ),
                unexpected_index_column_names=[ROW],
            )
            found.append(
                ExpectationValidationResult(
                    success=formatted["success"],
                    expectation_config=outcome.expectation_config,
                    result=formatted["result"],
                    meta=outcome.meta,
                    exception_info=outcome.exception_info,
                )
            )
    split = {}
    for file, found in outcomes.items():
        statistics = calc_validation_statistics(found)
        own_rows = checked[file_of_row == file].drop(columns=FILE).reset_index(drop=True)
        markers = result.meta["batch_markers"] | {
            "pandas_data_fingerprint": hash_pandas_dataframe(own_rows)
        }
        split[file] = ExpectationSuiteValidationResult(
            success=statistics.success,
            results=found,
            suite_name=result.suite_name,
            statistics={
                "evaluated_expectations": statistics.evaluated_expectations,
                "successful_expectations": statistics.successful_expectations,
                "unsuccessful_expectations": statistics.unsuccessful_expectations,
                "success_percent": statistics.success_percent,
            },
            meta=result.meta | {"batch_markers": markers},
            batch_id=result.batch_id,
        )
    return split


def _read(content: bytes) -> tuple[pd.DataFrame, str | None, str | None]:
    """The file's rows, or no rows and why the file could not be read."""
    try:
        return read_raw_file(content), None, None
    except UnreadableFile as unreadable:
        return pd.DataFrame(), unreadable.kind, unreadable.detail


def validate_files(files: list[tuple[bytes, str]], docs_dir: Path) -> list[ValidationReport]:
    """Validate several files' bytes (content, name), one report and page each, in order;
    never raises for bad data, whatever the files hold. Files of the same columns share
    one run of the suite."""
    read = [_read(content) for content, _ in files]
    checked = [checked_frame(frame).assign(**{FILE: n}) for n, (frame, _, _) in enumerate(read)]
    alike: dict[tuple, list[int]] = {}
    for n, frame in enumerate(checked):
        alike.setdefault(tuple(frame.columns), []).append(n)
    validator = _validator(docs_dir)
    results, batch_ids = {}, {}
    for group in alike.values():
        rows = pd.concat([checked[n] for n in group], ignore_index=True)
        result, batch_id = _run_suite(validator, rows)
        results |= _split(result, rows, group)
        batch_ids |= dict.fromkeys(group, batch_id)
    reports = [
        _report(validator, docs_dir, name, *read[n], results[n], batch_ids[n])
        for n, (_, name) in enumerate(files)
    ]
    write_docs_index(docs_dir)
    return reports


def validate(content: bytes, file_name: str, docs_dir: Path) -> ValidationReport:
    """Validate one file's bytes; never raises for bad data, whatever the file holds."""
    return validate_files([(content, file_name)], docs_dir)[0]


def _report(
    validator: _Validator,
    docs_dir: Path,
    file_name: str,
    frame: pd.DataFrame,
    file_error: str | None,
    detail: str | None,
    result,
    batch_id: str,
) -> ValidationReport:
    """One file's report from its suite result, and its Data Docs page."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=file_name, run_time=datetime.now(UTC))
    result.meta |= {"run_id": run_id, "validation_time": run_id.run_time}
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=validator.suite.name),
        run_id=run_id,
        batch_identifier=batch_id,
    )
    failures = _failures(result)
    if file_error:  # the file could not be read: that is the one problem to show
        meaning = ERROR_KINDS[file_error].description
        failures = [dict(kind=file_error, column=None, rows=None, examples=[], meaning=meaning)]
        if detail:
            failures[0]["meaning"] += f" This file: {detail}."
    page = _write_page(validator, docs_dir, identifier, result, failures)
    problems: dict[tuple[str, str | None], set[int]] = {}
    notes: dict[tuple[str, str | None], int] = {}
    for outcome in result.results:
        if outcome.success:
            continue
        kind = outcome.expectation_config.meta["error_kind"]
        column = outcome.expectation_config.meta["reported_as"]
        if kind == "unexpected_column":  # the rows stay valid; the column is dropped
            notes |= {(kind, name): len(frame) for name in _extra_columns(outcome)}
            continue
        if kind == "missing_column":
            problems[(kind, column)] = set(range(len(frame)))
        rows = outcome.result.get("unexpected_index_list") or []
        if rows and kind != "missing_column":
            problems.setdefault((kind, column), set()).update(int(r[ROW]) for r in rows)
    for weaker, stronger in OUTRANKS.items():
        for (kind, column), rows in problems.items():
            if kind == weaker and (stronger, column) in problems:
                rows -= problems[(stronger, column)]
    problems = {key: rows for key, rows in problems.items() if rows}
    invalid = np.zeros(len(frame), dtype=bool)
    row_problems: dict[int, list[str]] = {}
    for (kind, column), rows in problems.items():
        invalid[list(rows)] = True
        for row in rows:
            row_problems.setdefault(row, []).append(f"{kind}: {column}" if column else kind)
    issues = {key: len(rows) for key, rows in problems.items()} | notes
    if file_error:
        issues = {(file_error, None): 1}
    return ValidationReport(
        file_name=file_name,
        n_rows=len(frame),
        invalid_rows=invalid,
        issues=issues,
        file_error=file_error,
        file_error_detail=detail,
        report_path=page,
        row_problems=row_problems,
    )


def mark_duplicate(report: ValidationReport, original: str) -> ValidationReport:
    """The report of a file whose content was ingested before as `original`: every row is
    set aside, so that the same applicants are never predicted twice."""
    return replace(
        report,
        invalid_rows=np.ones(report.n_rows, dtype=bool),
        issues={("duplicate_file", None): report.n_rows},
        file_error="duplicate_file",
        file_error_detail=f"the same content as {original}, ingested before",
        row_problems={},
    )


def summarize(report: ValidationReport) -> Counter:
    """Problem counts by kind, for alerts and logs."""
    counts: Counter = Counter()
    for (kind, _), rows in report.issues.items():
        counts[kind] += rows
    return counts
