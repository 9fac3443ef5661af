#!/usr/bin/env bash
# Start a local Airflow 3 (API server + UI, scheduler, DAG processor, triggerer) with the project's DAGs.
# No login: the simple auth manager makes every visitor an admin, so everything listens on 127.0.0.1 only,
# unless AIRFLOW_HOST says otherwise (AIRFLOW_HOST=0.0.0.0: every machine that reaches this one is an admin).
set -euo pipefail
PROJECT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${AIRFLOW_PORT:-8080}"
HOST="${AIRFLOW_HOST:-127.0.0.1}"
# Where this machine reaches the API server (the UI's address, and the task workers' Execution API).
case "$HOST" in
  0.0.0.0) LOCAL_HOST=127.0.0.1 ;;
  ::) LOCAL_HOST="[::1]" ;;
  *:*) LOCAL_HOST="[$HOST]" ;;
  *) LOCAL_HOST="$HOST" ;;
esac

# The components start as plain `airflow ...`: the venv's bin/ must come first on PATH.
export PATH="$PROJECT_DIR/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$PROJECT_DIR/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$PROJECT_DIR/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# What `airflow standalone` would force: tasks run on this machine, the simple auth manager, no login.
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
# Task workers reach the Execution API at this URL; its default ignores the host and port settings.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$LOCAL_HOST:$PORT/execution/"
# Task slots sized to the machine: Airflow's default, 32 LocalExecutor workers, on 2 cores only thrashes.
CPUS="$(nproc 2>/dev/null || echo 2)"
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-$((CPUS * 2 > 4 ? CPUS * 2 : 4))}"
export GX_ANALYTICS_ENABLED=false
export PYTHONPATH="$PROJECT_DIR${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$AIRFLOW_HOME"

case "$HOST" in
  127.* | localhost | ::1) EXPOSED="" ;;
  *) EXPOSED="
  WARNING: listening on $HOST (port $PORT): every visitor that can reach this machine is an admin (no login)" ;;
esac
cat <<MSG
Starting Airflow (AIRFLOW_HOME=$AIRFLOW_HOME)
  UI:     http://$LOCAL_HOST:$PORT/   (no login: every visitor is an admin; nothing to type)$EXPOSED
  DAGs:   article_ingest (daily; "Trigger" opens a form: sources, database, since, max items, dry run),
          article_quality (runs after each load: quality report and the day's summary)
  Stop:   Ctrl-C
It takes about 30 s to come up; the DAGs appear after the first parse (unpause them to schedule).
MSG

# The metadata DB first (the DAGs need nothing else: no pool, connection or variable).
airflow db migrate >/dev/null

# The components one by one, not `airflow standalone`: it starts the scheduler and the triggerer with their log
# servers, which listen on every interface whatever [api] host says (Airflow 3.3 has no setting for their address:
# airflow/utils/serve_logs/core.py binds host ""), and takes no option to skip them. On one machine they serve
# nothing the API server does not read itself from $AIRFLOW_HOME/logs. It still asks them for a running task's
# log, and logs each refused connection with a traceback (after the log from the file): label() drops those.
pids=()
label() { # label NAME: each line of stdin after NAME (the API server's without the refused log fetches)
  python -u -c '
import re, sys
name = sys.argv[1]
traceback_line = re.compile(r"$|\s|Traceback |During handling |The above exception |[\w.]+: ")
skipping = False
for line in sys.stdin:
    if name == "api-server" and "Could not read served logs" in line:
        skipping = True
    elif not (skipping and traceback_line.match(line)):
        skipping = False
        sys.stdout.write(f"{name:13}| {line}")
' "$1"
}
start() { # start NAME ARGS...: `airflow NAME ARGS...` in the background, its output labelled
  # Each in a process group of its own (set -m), so Ctrl-C reaches only this script, which stops them once:
  # a second signal makes the scheduler quit without waiting for its running tasks.
  set -m
  airflow "$@" </dev/null > >(label "$1") 2>&1 &
  set +m
  pids+=("$!")
}
all_alive() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}
groups_alive() { # any process left in the components' process groups (a component's workers included)
  local pid
  for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && return 0; done
  return 1
}
kill_groups() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
stop() { # SIGTERM to each component (the scheduler lets running tasks finish); after STOP_GRACE_S seconds (30),
  # or at a second Ctrl-C, SIGKILL to each component's whole process group: its workers and task processes too
  local pid waited=0 grace="${STOP_GRACE_S:-30}"
  [[ "$grace" =~ ^[0-9]+$ ]] || grace=30
  trap 'echo "Killing Airflow" >&2; kill_groups' INT TERM
  echo "Stopping Airflow (Ctrl-C again to kill it)" >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while groups_alive; do
    sleep 0.5
    waited=$((waited + 1))
    if [ "$waited" -eq $((grace * 2)) ]; then
      echo "Airflow still running after $grace s: killing what is left" >&2
      kill_groups
    fi
  done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

start api-server
start scheduler --skip-serve-logs
start dag-processor
start triggerer --skip-serve-logs
while all_alive; do sleep 1; done
echo "airflow-standalone.sh: a component exited; stopping the others" >&2
stop
exit 1
