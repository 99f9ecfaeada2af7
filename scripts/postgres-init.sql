-- The orchestrators' and MLflow's own metadata live beside the platform's tables
-- (compose.yaml).
CREATE DATABASE dagster;
CREATE DATABASE airflow;
CREATE DATABASE mlflow;
