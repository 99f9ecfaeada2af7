"""The model over its life: training sets, the MLflow registry, the promotion gate, retraining."""

import os

# For MLflow, before it is imported: no progress bars or run links on stdout, no telemetry
# (no internet here), the requirements we give instead of a look at uv.lock, and a
# short wait when the server is down instead of minutes of retries.
for _variable, _value in {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_UV_AUTO_DETECT": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}.items():
    os.environ.setdefault(_variable, _value)
