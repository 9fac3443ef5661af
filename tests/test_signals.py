"""SIGTERM and SIGINT stop a run cleanly: one line on stderr, no process left behind (the
workers die with their parent), and the run recorded as `interrupted` with no staging debris."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from tests.conftest import ROOT

SLOW_PAGE_SPANS = 2_000_000  # a page lxml and trafilatura take tens of seconds over (28 MB)


def slow_source(folder: Path) -> Path:
    folder.mkdir()
    (folder / "spans.html").write_text("<span>w</span>" * SLOW_PAGE_SPANS, encoding="utf-8")
    return folder


def start_ingest(source: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "ingest",
            str(source),
            "--db",
            str(db),
            "--max-input-bytes",
            "40000000",
            "--extract-timeout",
            "300",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def busy_worker(parent: psutil.Process, timeout_s: float = 120) -> list[psutil.Process]:
    """Wait until a worker (a child of the forkserver, so a grandchild of `parent`) has spent a second of CPU on
    the page; the whole tree then."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tree = parent.children(recursive=True)
        try:
            if any(p.ppid() != parent.pid and p.cpu_times().user > 1.0 for p in tree):
                return tree
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.2)
    raise AssertionError("no worker started extracting")


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_within_seconds_and_leaves_no_process(tmp_path, signum):
    db = tmp_path / "db" / "articles.duckdb"
    proc = start_ingest(slow_source(tmp_path / "in"), db)
    try:
        tree = busy_worker(psutil.Process(proc.pid))
        proc.send_signal(signum)
        # A hang guard, not a speed check; a worker left extracting after its parent is gone fails below
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.0)  # the workers' SIGKILL from the kernel is immediate; reaping may take a moment
    assert alive(tree) == [], [p.cmdline() for p in alive(tree)]
    assert proc.returncode == 128 + signum, stderr
    name = signal.Signals(signum).name
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("progress: ")]
    assert lines == [lines[-1]] and lines[0].startswith(f"error: stopped by {name}: run "), stderr
    assert "Traceback" not in stderr and "nothing was published" in stderr
    with duckdb.connect(str(db), read_only=True) as con:
        status, error = con.execute("SELECT status, error FROM runs").fetchone()
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)
    assert status == "interrupted" and error == f"stopped by {name}"
    staging = db.parent / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []  # no debris


def test_workers_die_with_their_parent_even_when_it_is_killed(tmp_path):
    """kill -9 of the run: nobody can clean up, yet no worker goes on extracting for a run that is gone."""
    proc = start_ingest(slow_source(tmp_path / "in"), tmp_path / "db.duckdb")
    try:
        tree = busy_worker(psutil.Process(proc.pid))
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert alive(tree) == [], [p.cmdline() for p in alive(tree)]


def test_a_worker_enforces_its_own_cpu_limit():
    """Without its parent's deadline (a stopped parent), a worker's task still ends at its CPU budget."""
    from pipeline.document.workers import _limit_cpu

    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from pipeline.document.workers import _limit_cpu; _limit_cpu(1.0)\n"
        "while True: pass"
    )
    done = subprocess.run([sys.executable, "-c", code, str(ROOT)], timeout=120)
    assert done.returncode == -signal.SIGXCPU  # killed by its own limit, not by the hang guard
    assert callable(_limit_cpu)
