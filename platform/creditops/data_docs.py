"""Data Docs pages as a reader needs them: what failed at the top, nothing loaded from outside.

Great Expectations' pages link bootstrap, bootstrap-table, vega, Font Awesome and
more on public CDNs, and its logo on a public bucket: on a machine without
internet, like most banks' internal networks, they render bare. `make install`
installs the same packages, at the versions the pages name, from the npm registry
(`platform/data-docs-assets/`, locked); `vendor` copies the files the pages use
under `<docs>/vendor/`, and `localize` points a page's links there, so the Data
Docs server serves everything a page needs. `add_failure_summary` puts the failed
expectations, with examples of their unexpected values, at the top of the page.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
from pathlib import Path

from .errors import ConfigurationError
from .settings import PROJECT_ROOT

ASSETS_PROJECT = PROJECT_ROOT / "platform" / "data-docs-assets"
NODE_MODULES = ASSETS_PROJECT / "node_modules"
VENDOR = "vendor"

BOOTSTRAP_CSS = "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"
# Each address in Great Expectations' pages -> the file under node_modules it serves.
CDN_FILES = {
    BOOTSTRAP_CSS: "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap/dist/js/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js/dist/umd/popper.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table/dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table/dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free/css/all.min.css"
    ),
    # `@5` is what the CDN resolves to the newest 5.x: the lock pins that one.
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
FOLDERS = ("@fortawesome/fontawesome-free/webfonts",)  # what all.min.css loads
# Great Expectations' logos on its public bucket -> its own copy in the site's static/.
LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[\w.-]+\.amazonaws\.com/[\w.-]+")
LOGO_FILE = "static/images/logo-long.png"
FAVICON = re.compile(r'href="(?:\.\./)*static/images/favicon\.ico"')
# Loads (not links a person may click): src=, <link href=, and url() in styles.
EXTERNAL_LOAD = re.compile(
    r"""(?:src=["']|<link[^>]*href=["']|url\(["']?)(https?:)?//[^"')\s>]+""", re.IGNORECASE
)


def vendored(url: str) -> str:
    """Where, relative to the Data Docs root, the copy of a CDN file is served."""
    return f"{VENDOR}/{CDN_FILES[url]}"


def _lock_digest() -> str:
    return hashlib.sha256((ASSETS_PROJECT / "package-lock.json").read_bytes()).hexdigest()


def vendor(docs_dir: Path) -> Path:
    """Copy the files the pages load under `<docs_dir>/vendor/` (once per lock version)."""
    target = docs_dir / VENDOR
    marker = target / ".lock-sha256"
    digest = _lock_digest()
    if marker.is_file() and marker.read_text() == digest:
        return target
    if not NODE_MODULES.is_dir():
        raise ConfigurationError(
            f"the Data Docs assets are not installed in {NODE_MODULES}: run `make install` "
            "(it needs npm: `apt-get install npm`)"
        )
    for relative in CDN_FILES.values():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NODE_MODULES / relative, destination)
    for folder in FOLDERS:
        shutil.copytree(NODE_MODULES / folder, target / folder, dirs_exist_ok=True)
    marker.write_text(digest)
    return target


def localize(page: Path, docs_dir: Path) -> None:
    """Point the page's CDN links at the vendored copies, relative to the page."""

    def relative(path: str) -> str:
        return Path(os.path.relpath(docs_dir / path, page.parent)).as_posix()

    text = page.read_text()
    for url in CDN_FILES:
        text = text.replace(url, relative(vendored(url)))
    text = LOGO.sub(relative(LOGO_FILE), text)
    text = FAVICON.sub(f'href="{relative("static/images/favicon.ico")}"', text)
    page.write_text(text)


def external_loads(html: str) -> list[str]:
    """What a page would load from outside the platform (none, once localized)."""
    return [match.group(0) for match in EXTERNAL_LOAD.finditer(html)]


SUMMARY_ANCHOR = '<div class="container-fluid pt-4 pb-4 pl-5 pr-5">'


def add_failure_summary(page: Path, title: str, failures: list[dict]) -> None:
    """A box at the top of the page: each failed check (error kind, column, rows, example
    unexpected values, what it means), or that every check passed."""
    if failures:
        rows = "".join(
            "<tr>"
            f"<td><code>{html.escape(f['kind'])}</code></td>"
            f"<td>{html.escape(f['column'] or 'whole file')}</td>"
            f"<td class='text-right'>{f['rows'] if f['rows'] is not None else '-'}</td>"
            f"<td>{html.escape(', '.join(map(str, f['examples'])) or '-')}</td>"
            f"<td>{html.escape(f['meaning'])}</td>"
            "</tr>"
            for f in failures
        )
        body = (
            f'<div class="alert alert-danger mb-4" role="alert">'
            f'<h4 class="alert-heading">What failed in {html.escape(title)}</h4>'
            '<table class="table table-sm mb-0"><thead><tr><th>error kind</th><th>column</th>'
            '<th class="text-right">rows</th><th>unexpected values (examples)</th>'
            f"<th>what it means</th></tr></thead><tbody>{rows}</tbody></table>"
            '<p class="mb-0 mt-2 small">Every expectation, passed or failed, follows below; '
            "&ldquo;Failed Only&rdquo; hides the ones that passed.</p></div>"
        )
    else:
        body = (
            '<div class="alert alert-success mb-4" role="alert">'
            f"Every expectation passed for {html.escape(title)}.</div>"
        )
    text = page.read_text()
    anchor = SUMMARY_ANCHOR if SUMMARY_ANCHOR in text else "<body>"
    page.write_text(text.replace(anchor, anchor + body, 1))
