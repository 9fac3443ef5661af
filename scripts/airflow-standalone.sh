#!/usr/bin/env bash
# Start a local Airflow 3 (standalone: API server + UI, scheduler, DAG processor, triggerer) with the project's
# DAGs. No login: the simple auth manager makes every visitor an admin, which is for a local machine only.
set -euo pipefail
PROJECT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${AIRFLOW_PORT:-8080}"

# `airflow standalone` starts its components as plain `airflow ...`: the venv's bin/ must come first on PATH.
export PATH="$PROJECT_DIR/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PROJECT_DIR/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$PROJECT_DIR/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__API__PORT="$PORT"
# Task workers reach the Execution API at this URL; its default ignores the port setting.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
# The scheduler's and triggerer's log servers listen on fixed ports (8793, 8794) whatever the API port is;
# on another port, move them along too so two local Airflows do not collide.
if [ "$PORT" != 8080 ]; then
  export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$((PORT + 1))}"
  export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$((PORT + 2))}"
fi
export GX_ANALYTICS_ENABLED=false
export PYTHONPATH="$PROJECT_DIR${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$AIRFLOW_HOME"

# The metadata DB first, then the one-slot pool the load tasks share: one process writes DuckDB at a time.
airflow db migrate >/dev/null
airflow pools set duckdb_writer 1 "One writer per DuckDB file: the load tasks of all DAGs" >/dev/null

cat <<MSG
Starting Airflow standalone (AIRFLOW_HOME=$AIRFLOW_HOME)
  UI:     http://127.0.0.1:$PORT/   (no login: every local visitor is an admin; nothing to type)
  DAGs:   article_ingest (daily; "Trigger" opens a form: sources, database, since, max items, dry run),
          article_quality (runs after each load: quality report and the day's summary)
  Stop:   Ctrl-C
It takes about 30 s to come up; the DAGs appear after the first parse (unpause them to schedule).
MSG
exec airflow standalone
