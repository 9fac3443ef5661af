"""End-to-end fixtures: one real Airflow standalone for the session, started as `make airflow` starts it.

SKIP_AIRFLOW_E2E=1 skips every test here (quick local loops); `make test` runs them.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.airflow_server import AirflowServer, free_port, skip_requested

ARTIFACTS = ROOT / "test-artifacts"
SKIP_REASON = "SKIP_AIRFLOW_E2E=1: the end-to-end tests that start a real Airflow standalone are skipped"
# The DAGs the tests trigger. article_quality (scheduled on the articles asset) and article_stream
# (@continuous) stay paused: nothing here needs them, and the stream would run for the whole session.
DAGS_TO_UNPAUSE = ("article_ingest",)


@pytest.fixture(scope="session")
def airflow() -> Iterator[AirflowServer]:
    """A running Airflow standalone (temp AIRFLOW_HOME, free port) with article_ingest parsed and unpaused.

    `airflow.base_url`, `airflow.token` (a bearer token) and `airflow.client` (an httpx client that sends it).
    Stopped at the end of the session: the whole process group, SIGTERM then SIGKILL."""
    if skip_requested():
        pytest.skip(SKIP_REASON)
    home = Path(tempfile.mkdtemp(prefix="airflow-e2e-home-"))
    server = AirflowServer(home=home, port=free_port())
    try:
        server.start()
        for dag_id in DAGS_TO_UNPAUSE:
            server.unpause(dag_id)
        print(f"\n[e2e] Airflow standalone ready on {server.base_url} in {server.startup_s:.1f} s")
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_artifacts() -> Path:
    """Where the browser test saves its screenshots (git-ignored: test-artifacts/)."""
    path = ARTIFACTS / "browser"
    path.mkdir(parents=True, exist_ok=True)
    for old in [*path.glob("*.png"), path / "trace.zip"]:  # only this session's screenshots stay
        old.unlink(missing_ok=True)
    return path
