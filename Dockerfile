# One image for every Python service of the platform (API, webapp, Dagster, Airflow);
# compose.yaml picks the command. Dependencies come from the same locks as `make`.

# The Data Docs pages' stylesheets and scripts (served by the platform, not CDNs).
FROM node:20-bookworm-slim AS data-docs-assets
WORKDIR /assets
COPY platform/data-docs-assets/package.json platform/data-docs-assets/package-lock.json platform/data-docs-assets/.npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    CREDITOPS_DATA_ROOT=/data
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --compile-bytecode
COPY platform ./platform
COPY --from=data-docs-assets /assets/node_modules ./platform/data-docs-assets/node_modules
COPY api ./api
COPY webapp ./webapp
COPY airflow_dags ./airflow_dags
COPY workspace.yaml alembic.ini ./
COPY data/credit_risk.csv /app/data/credit_risk.csv
RUN uv sync --frozen --no-dev --compile-bytecode
ENV CREDITOPS_DATASET_PATH=/app/data/credit_risk.csv
