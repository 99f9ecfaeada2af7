# The two commands: `make run` (install + start the platform) and `make test`.
# Everything installs into .venv from uv.lock; uv itself is bootstrapped into
# .tools/ when the machine has none. The Data Docs pages' stylesheets and scripts
# install from the npm registry, locked, into platform/data-docs-assets/node_modules.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
UV_RUN := $(UV) run --frozen --no-sync
DOCS_ASSETS := platform/data-docs-assets

.PHONY: install system-deps test-system-deps run test bench requirements

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV) $(DOCS_ASSETS)/node_modules/.package-lock.json
	$(UV) sync --frozen --compile-bytecode --quiet

$(DOCS_ASSETS)/node_modules/.package-lock.json: $(DOCS_ASSETS)/package-lock.json
	cd $(DOCS_ASSETS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

system-deps:
	scripts/install-system-deps.sh

test-system-deps:
	scripts/install-system-deps.sh --browser

run: system-deps install
	$(UV_RUN) creditops run

test: test-system-deps install
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check .
	$(UV_RUN) pytest

bench: system-deps install
	$(UV_RUN) python -m bench

# The exported lock for plain pip users: pip install -r requirements.lock
requirements: $(UV)
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes -o requirements.lock --quiet
