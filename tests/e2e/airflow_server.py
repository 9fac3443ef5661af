"""A real local Airflow for the end-to-end tests: start, wait until ready, talk REST, stop.

Started as `make airflow` starts it (scripts/airflow-standalone.sh: API server, scheduler, DAG processor,
triggerer), in a temp AIRFLOW_HOME on a free port, in its own session and process group, so stopping it stops
every process it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "airflow-standalone.sh"
STARTUP_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0
KILL_TIMEOUT_S = 10.0
LOG_TAIL_LINES = 100
TERMINAL_RUN_STATES = {"success", "failed"}


def skip_requested() -> bool:
    return os.environ.get("SKIP_AIRFLOW_E2E", "").strip().lower() in {"1", "true", "yes"}


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a text file ('' if it does not exist)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return "".join(deque(f, maxlen=lines))
    except FileNotFoundError:
        return ""


def free_port() -> int:
    """A free TCP port on 127.0.0.1: the API server's (the only port scripts/airflow-standalone.sh listens on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_processes(sid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of a session: the standalone and everything it started, including task
    runners that moved to process groups of their own."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE or os.getsid(proc.pid) != sid:
                continue
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
        found.append(proc)
    return found


def describe(procs: list[psutil.Process]) -> str:
    rows = []
    for p in procs:
        try:
            rows.append(f"  pid={p.pid} pgid={os.getpgid(p.pid)} {' '.join(p.cmdline())[:160]}")
        except (ProcessLookupError, psutil.Error):
            rows.append(f"  pid={p.pid} (gone)")
    return "\n".join(rows)


@dataclass
class AirflowServer:
    home: Path
    port: int
    proc: subprocess.Popen | None = None
    token: str | None = None
    startup_s: float | None = None
    client: httpx.Client | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "standalone.log"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return f"--- last {lines} lines of {self.log_path} ---\n{tail(self.log_path, lines)}"

    # --- start -------------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        # Nothing Airflow-related leaks in from the test session (tests/dags sets its own AIRFLOW_HOME etc.).
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW_PORT=str(self.port),
            # No AIRFLOW_HOST: the script's own default (loopback only) is what tests/e2e/test_loopback.py checks.
            # No scheduled or asset-triggered runs: unpausing article_ingest would otherwise start its
            # daily run at once, with the default params, into the project's data/articles.duckdb.
            # Runs triggered by hand (REST, UI) still run.
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            PYTHONUNBUFFERED="1",
            GX_ANALYTICS_ENABLED="false",
        )
        return env

    def command(self) -> list[str]:
        return ["bash", str(SCRIPT)]

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: pgid == sid == pid
            )
        self.client = httpx.Client(base_url=self.base_url, timeout=30.0)
        self._wait_ready(t0 + STARTUP_TIMEOUT_S)
        self.startup_s = time.monotonic() - t0

    def _fail(self, what: str) -> None:
        raise AssertionError(f"Airflow standalone on {self.base_url}: {what}\n{self.log_tail()}")

    def _wait_ready(self, deadline: float) -> None:
        """Until the API is healthy, a token is had and article_ingest is parsed and visible over REST."""
        last = "no answer yet"
        while True:
            if self.proc.poll() is not None:
                self._fail(f"exited with code {self.proc.returncode} while starting")
            try:
                last = self._readiness()
                if last == "ready":
                    return
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                self._fail(
                    f"not ready after {STARTUP_TIMEOUT_S:.0f} s (last: {last}); import errors: "
                    f"{self._import_errors()}"
                )
            time.sleep(1.0)

    def _readiness(self) -> str:
        health = self.client.get("/api/v2/monitor/health")
        if health.status_code != 200:
            return f"health: HTTP {health.status_code}"
        body = health.json()
        unhealthy = {
            k: body.get(k, {}).get("status")
            for k in ("metadatabase", "scheduler", "dag_processor")
            if body.get(k, {}).get("status") != "healthy"
        }
        if unhealthy:
            return f"health: {unhealthy}"
        if self.token is None:
            self.token = self.fetch_token()
            self.client.headers["Authorization"] = f"Bearer {self.token}"
        dag = self.client.get("/api/v2/dags/article_ingest")
        if dag.status_code != 200:
            return f"article_ingest: HTTP {dag.status_code} (not parsed yet?)"
        return "ready"

    def fetch_token(self) -> str:
        """The simple auth manager in all-admins mode hands out an admin JWT without credentials:
        GET /auth/token -> 201 {"access_token": ...} (403 unless simple_auth_manager_all_admins is on)."""
        resp = self.client.get("/auth/token")
        assert resp.status_code == 201, f"GET /auth/token: {resp.status_code} {resp.text}"
        return resp.json()["access_token"]

    def _import_errors(self) -> str:
        try:
            resp = self.client.get("/api/v2/importErrors")
            if resp.status_code == 200:
                return str([(e["filename"], e["stack_trace"][-500:]) for e in resp.json()["import_errors"]])
            return f"HTTP {resp.status_code}"
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            return repr(exc)

    # --- REST ------------------------------------------------------------------------------------------

    def unpause(self, dag_id: str) -> None:
        resp = self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert resp.status_code == 200 and resp.json()["is_paused"] is False, resp.text

    def trigger(self, dag_id: str, conf: dict) -> dict:
        # Airflow 3: logical_date is required in the body; null for a manual run with no data interval.
        resp = self.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert resp.status_code == 200, f"trigger {dag_id}: {resp.status_code} {resp.text}"
        return resp.json()

    def run_ids(self, dag_id: str) -> set[str]:
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        assert resp.status_code == 200, resp.text
        return {r["dag_run_id"] for r in resp.json()["dag_runs"]}

    def get_run(self, dag_id: str, run_id: str) -> dict:
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
        """Poll the run until it ends (success or failed) or the time is up; the run as REST shows it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES or time.monotonic() > deadline:
                return run
            time.sleep(1.0)

    def run_report(self, dag_id: str, run_id: str) -> str:
        """Task states and the tail of each unsuccessful task's log: what a failed run's assertion shows."""
        resp = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        if resp.status_code != 200:
            return f"task instances: HTTP {resp.status_code}"
        lines = []
        for ti in resp.json()["task_instances"]:
            lines.append(f"{ti['task_id']}[{ti['map_index']}]: {ti['state']} (try {ti['try_number']})")
            if ti["state"] not in {"success", "skipped"}:
                task_logs = (
                    self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
                )
                logs = sorted(task_logs.rglob("attempt=*.log"), key=lambda p: p.stat().st_mtime)
                if logs:
                    lines.append(f"--- {logs[-1]} (last 40 lines) ---\n{tail(logs[-1], 40)}")
        return "\n".join(lines)

    # --- stop ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM to the whole process group (and any process of the session that left it), then SIGKILL
        what is left; fails if any process of the session survives."""
        if self.client is not None:
            self.client.close()
        if self.proc is None:
            return
        sid = self.proc.pid
        self._signal_all(sid, signal.SIGTERM)
        if self._wait_gone(sid, STOP_TIMEOUT_S):
            self._reap()
            return
        self._signal_all(sid, signal.SIGKILL)
        self._wait_gone(sid, KILL_TIMEOUT_S)
        self._reap()
        left = session_processes(sid)
        assert not left, (
            f"processes of Airflow's process group/session {sid} still alive after SIGKILL:\n{describe(left)}"
        )

    def _signal_all(self, sid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(sid, sig)
        for p in session_processes(sid):  # task runners have process groups of their own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p.pid, sig)

    def _wait_gone(self, sid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.proc.poll()  # reap the leader as soon as it exits
            if not session_processes(sid):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def _reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
