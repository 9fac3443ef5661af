"""The Makefile's own targets: `make help` shows real defaults, `make clean` keeps the user's data, `make clean-data`
asks first. Run with the real `make` on a copy of the Makefile in a scratch project folder."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

USER_DATA = (
    "data/articles.duckdb",
    "data/inbox/done/2026-01-01/x.txt",
    "data/inbox/held/run-1/y.txt",
    "data/staging/run-1/part.parquet",
    "airflow_home/airflow.db",
)
CACHES = (
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/z",
    "test-artifacts/browser/step.png",
    "data/bench/report.json",
    "pipeline/__pycache__/models.cpython-311.pyc",
    "tests/e2e/__pycache__/conftest.cpython-311.pyc",
)
VENV_FILE = ".venv/lib/python3.11/site-packages/pkg/__pycache__/mod.cpython-311.pyc"
PROMPT_TIMEOUT_S = 10.0


def make(project: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"CONFIRM", "MAKEFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project folder: the real Makefile, the user's data, caches, and a venv to leave alone."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for rel in (*USER_DATA, *CACHES, VENV_FILE):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    return tmp_path


def existing(project: Path, paths) -> list[str]:
    return [rel for rel in paths if (project / rel).exists()]


def test_help_shows_defaults_not_variable_references():
    result = make(ROOT, "help")
    assert result.returncode == 0, result.stderr
    assert "$(" not in result.stdout, result.stdout
    assert "data/articles.duckdb" in result.stdout and "seeds" in result.stdout, result.stdout
    assert "make clean-data" in result.stdout, result.stdout


def test_clean_removes_caches_and_keeps_user_data(project: Path):
    result = make(project, "clean")
    assert result.returncode == 0, result.stderr
    assert existing(project, CACHES) == []
    assert existing(project, USER_DATA) == list(USER_DATA)
    assert (project / VENV_FILE).exists()


def test_clean_data_without_terminal_or_confirm_refuses(project: Path):
    result = make(project, "clean-data")  # stdin is /dev/null: nobody to ask
    assert result.returncode != 0
    refusal = [line for line in result.stderr.splitlines() if "CONFIRM=yes" in line]
    assert len(refusal) == 1, result.stderr
    assert existing(project, USER_DATA) == list(USER_DATA)


def test_clean_data_with_confirm_removes_data_and_airflow_home(project: Path):
    result = make(project, "clean-data", "CONFIRM=yes")
    assert result.returncode == 0, result.stderr
    assert not (project / "data").exists() and not (project / "airflow_home").exists()
    assert existing(project, (".ruff_cache/z",)) == [".ruff_cache/z"]  # only what it says it removes
    assert (project / VENV_FILE).exists()


def read_terminal(controller: int, until: bytes | None, timeout: float) -> bytes:
    """What the program writes to the terminal, until `until` appears, it closes the terminal, or time is up."""
    out = b""
    deadline = time.monotonic() + timeout
    while (until is None or until not in out) and time.monotonic() < deadline:
        if not select.select([controller], [], [], 0.2)[0]:
            if until is None:
                break
            continue
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: every process holding the terminal has closed it
            break
        if not chunk:
            break
        out += chunk
    return out


def answer_prompt(project: Path, answer: str) -> tuple[int, str]:
    """`make clean-data` on a terminal (a pty): wait for its question, type the answer; (exit status, output)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "clean-data"],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k not in {"CONFIRM", "MAKEFLAGS", "MAKELEVEL"}},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        out = read_terminal(controller, b"Type yes", PROMPT_TIMEOUT_S)
        if proc.poll() is None:
            os.write(controller, answer.encode() + b"\n")
        status = proc.wait(timeout=PROMPT_TIMEOUT_S)
        out += read_terminal(controller, None, 1.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    return status, out.decode(errors="replace")


def test_clean_data_on_a_terminal_deletes_only_after_yes(project: Path):
    status, out = answer_prompt(project, "no")
    assert status != 0, out
    assert existing(project, USER_DATA) == list(USER_DATA), out

    status, out = answer_prompt(project, "yes")
    assert status == 0, out
    assert not (project / "data").exists() and not (project / "airflow_home").exists(), out
