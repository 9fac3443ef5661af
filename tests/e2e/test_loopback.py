"""`make airflow` has no login (the simple auth manager makes every visitor an admin): everything it starts
listens on loopback only, unless the user asks otherwise (AIRFLOW_HOST), and then the banner says what that means.
"""

from __future__ import annotations

import selectors
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT
from tests.e2e.airflow_server import SCRIPT, AirflowServer, free_port, session_processes, skip_requested

pytestmark = pytest.mark.slow

LOOPBACK = {"127.0.0.1", "::1"}
TRIGGERER_TIMEOUT_S = 120.0
BANNER_TIMEOUT_S = 60.0
BANNER_END = "Stop:"
EXPOSED_WARNING = "WARNING: listening on"


def listening_sockets(procs: list[psutil.Process]) -> list[tuple[str, int, int, str]]:
    """(address, port, pid, command line) of each listening TCP socket of these processes."""
    found = []
    for proc in procs:
        try:
            cmd = " ".join(proc.cmdline())[:120]
            for conn in proc.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append((conn.laddr.ip, conn.laddr.port, proc.pid, cmd))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def wait_for_triggerer(airflow: AirflowServer) -> None:
    """Until the triggerer is healthy: the last component up (and with a log server, the last to listen)."""
    deadline = time.monotonic() + TRIGGERER_TIMEOUT_S
    while True:
        status = airflow.client.get("/api/v2/monitor/health").json().get("triggerer", {}).get("status")
        if status == "healthy":
            return
        assert time.monotonic() < deadline, (
            f"triggerer not healthy after {TRIGGERER_TIMEOUT_S:.0f} s: {status}"
        )
        time.sleep(1.0)


def test_everything_listens_on_loopback_only(airflow):
    wait_for_triggerer(airflow)
    time.sleep(3.0)  # a log server subprocess binds a moment after its parent starts
    sockets = listening_sockets(session_processes(airflow.proc.pid))
    table = "\n".join(f"  {ip}:{port}  pid={pid} {cmd}" for ip, port, pid, cmd in sorted(sockets))

    assert airflow.port in {port for _, port, _, _ in sockets}, f"the API port is not among\n{table}"
    exposed = [s for s in sockets if s[0] not in LOOPBACK]
    assert not exposed, f"listening beyond loopback (every visitor is an admin):\n{table}"
    banner = airflow.log_path.read_text(errors="replace")
    assert f"http://127.0.0.1:{airflow.port}/" in banner
    assert EXPOSED_WARNING not in banner


def read_banner(proc: subprocess.Popen) -> str:
    """The script's output up to the end of its banner (or what came before the time ran out)."""
    out = b""
    deadline = time.monotonic() + BANNER_TIMEOUT_S
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while BANNER_END.encode() not in out and time.monotonic() < deadline:
            if sel.select(timeout=1.0):
                chunk = proc.stdout.read1(4096)
                if not chunk:
                    break
                out += chunk
    return out.decode(errors="replace")


def test_banner_warns_when_asked_to_listen_beyond_loopback(tmp_path: Path):
    if skip_requested():
        pytest.skip("SKIP_AIRFLOW_E2E=1")
    server = AirflowServer(home=tmp_path / "home", port=free_port())
    server.home.mkdir()
    env = server.env() | {"AIRFLOW_HOST": "0.0.0.0"}
    server.proc = subprocess.Popen(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        banner = read_banner(server.proc)
    finally:
        server.stop()  # only the banner is wanted: stop it (the whole session) before it comes up
    assert EXPOSED_WARNING in banner and "every visitor" in banner, banner
    assert f"http://127.0.0.1:{server.port}/" in banner, banner
