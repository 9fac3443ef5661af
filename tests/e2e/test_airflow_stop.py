"""`make airflow` stops on one Ctrl-C: the script, and every process its components started, are gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.e2e.airflow_server import AirflowServer, describe, free_port, session_processes, skip_requested

pytestmark = pytest.mark.slow


def test_one_ctrl_c_stops_airflow_and_everything_it_started():
    if skip_requested():
        pytest.skip("SKIP_AIRFLOW_E2E=1")
    home = Path(tempfile.mkdtemp(prefix="airflow-stop-home-"))
    server = AirflowServer(home=home, port=free_port())
    try:
        server.start()
        sid = server.proc.pid
        running = session_processes(sid)
        assert len(running) > 4, describe(running)  # the components and their workers are up
        t0 = time.monotonic()
        os.kill(
            server.proc.pid, signal.SIGINT
        )  # what Ctrl-C sends the script (its components have own groups)
        try:
            code = server.proc.wait(timeout=120)  # a hang guard, not a speed check
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 120 s after one SIGINT:\n{describe(session_processes(sid))}")
        took = time.monotonic() - t0
        left = session_processes(sid)
        assert code == 130 and not left, f"exit {code}; left behind:\n{describe(left)}\n{server.log_tail()}"
        print(f"\n[e2e] one Ctrl-C: {len(running)} processes stopped in {took:.1f} s")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
