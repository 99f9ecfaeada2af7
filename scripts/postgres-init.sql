-- The orchestrators' own metadata lives beside the platform's tables (compose.yaml).
CREATE DATABASE dagster;
CREATE DATABASE airflow;
