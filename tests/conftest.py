import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.models import Article

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def is_alive(pid: int) -> bool:
    """Whether a process exists (a worker that was killed and reaped does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def make_article(
    body: str, title: str | None = "A headline for testing", url: str | None = None, **fields
) -> Article:
    """A small article as it leaves extraction."""
    return Article(
        source_uri=fields.pop("source_uri", "/tmp/test.txt"), title=title, url=url, body=body, **fields
    )


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of seeds/ (articles only)."""
    return copy_seeds(tmp_path)


def copy_seeds(tmp_path: Path) -> Path:
    """seeds/ (articles only) copied to `tmp_path/seeds`."""
    target = tmp_path / "seeds"
    target.mkdir()
    for f in SEED_FILES:
        shutil.copy(f, target / f.name)
    return target


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "articles.duckdb"


def run_cli(
    *args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """`python -m pipeline ...` in a subprocess, as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ingest_json(*args: str, **kwargs) -> dict:
    """Run `ingest --json` and parse the summary from stdout's last line; fail with stderr on error."""
    proc = run_cli("ingest", *args, "--json", **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def every_run_accounts_for_its_inputs(request):
    """After each test, every run recorded in any database the test made balances:
    read = landed + duplicates + quarantined + skipped (a run that crashed records no counts)."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is None:
        return
    import duckdb

    for db in tmp.rglob("*.duckdb"):
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.Error:
            continue  # not a database (a test's deliberately broken file), or still held by a child
        try:
            unbalanced = con.execute(
                """SELECT run_id, "read", landed, duplicates, quarantined, skipped FROM runs
                   WHERE status <> 'failed' AND "read" <> landed + duplicates + quarantined + skipped"""
            ).fetchall()
        except duckdb.Error:
            unbalanced = []  # no runs table
        finally:
            con.close()
        assert not unbalanced, f"{db}: runs whose inputs do not add up: {unbalanced}"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks into the node ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs two workers), the tests that share one Airflow standalone run in one
    worker, so that one server starts, not two."""
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("airflow-standalone"))
