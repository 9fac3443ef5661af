import atexit
import contextlib
import json
import locale
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from pipeline.models import Article
from tests.cli_server import cap_file_size

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
if "ARTICLE_PIPELINE_CACHE" not in os.environ:  # the tests' caches (rarity tables) apart from the user's
    _CACHE = tempfile.mkdtemp(prefix="pipeline-tests-cache-")
    os.environ["ARTICLE_PIPELINE_CACHE"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)
# Started in the background by a shell without job control (`make test &`), the suite inherits SIGINT ignored, and
# so would every process it starts: the tests that stop a run or Airflow with one Ctrl-C (SIGINT) would wait out
# their hang guards. A handled signal is reset to its default at exec, an ignored one is not: handled here.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    *args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300, fsize: int | None = None
) -> subprocess.CompletedProcess:
    """`python -m pipeline ...` in a process of its own, as a user runs it, and the result as subprocess.run gives
    it. The process is forked from a warm copy of the CLI (tests/cli_server.py), which has already paid the
    imports; PIPELINE_TESTS_COLD_CLI=1 starts each one from nothing instead. `fsize` caps the files it writes."""
    if os.environ.get("PIPELINE_TESTS_COLD_CLI") == "1":
        return cold_cli(*args, cwd=cwd, env=env, timeout=timeout, fsize=fsize)
    return WARM_CLI.run(list(args), cwd=cwd, env=cli_env(env), timeout=timeout, fsize=fsize)


def cli_env(env: dict | None) -> dict:
    """The test process's environment, `env` over it, and this checkout first on the import path."""
    return {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}


def cold_cli(
    *args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300, fsize: int | None = None
) -> subprocess.CompletedProcess:
    """`python -m pipeline ...` started from nothing by subprocess.run (the same arguments as run_cli)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: cap_file_size(fsize)) if fsize is not None else None,
    )


class WarmCli:
    """The client of one tests/cli_server.py per test process, started at its first use."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.requests = threading.Lock()
        self.changed = threading.Condition()
        self.started: list[int] = []
        self.ended: dict[int, int] = {}
        self.log = None

    def _ensure_running(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.log = Path(tempfile.mkdtemp(prefix="cli-server-")) / "stderr.log"
            with open(self.log, "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "tests.cli_server"],
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                )
            self.started, self.ended = [], {}
            threading.Thread(
                target=self._read, args=(self.proc,), name="cli-server-reader", daemon=True
            ).start()
        return self.proc

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            message = json.loads(line)
            with self.changed:
                if "status" in message:
                    self.ended[message["pid"]] = message["status"]
                else:
                    self.started.append(message["pid"])
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def _wait(self, ready, timeout: float | None, proc: subprocess.Popen):
        with self.changed:
            done = self.changed.wait_for(lambda: ready() or proc.poll() is not None, timeout)
            if ready():
                return True
        if proc.poll() is not None:
            raise RuntimeError(f"the warm CLI (tests/cli_server.py) died: {self.log.read_text()[-3000:]}")
        return done

    def run(
        self, args: list[str], cwd: Path, env: dict, timeout: float, fsize: int | None
    ) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="cli-") as tmp:
            request = {
                "args": args,
                "cwd": str(cwd),
                "env": env,
                "root": str(ROOT),
                "stdout": f"{tmp}/stdout",
                "stderr": f"{tmp}/stderr",
                "fsize": fsize,
            }
            with self.requests:
                proc = self._ensure_running()
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
                self._wait(lambda: bool(self.started), 120, proc)
                with self.changed:
                    pid = self.started.pop(0)
            if not self._wait(lambda: pid in self.ended, timeout, proc):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self._wait(lambda: pid in self.ended, 60, proc)
                raise subprocess.TimeoutExpired([sys.executable, "-m", "pipeline", *args], timeout)
            with self.changed:
                status = self.ended.pop(pid)
            encoding = locale.getpreferredencoding(False)
            with (
                open(f"{tmp}/stdout", encoding=encoding) as out,
                open(f"{tmp}/stderr", encoding=encoding) as err,
            ):
                stdout, stderr = out.read(), err.read()
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "pipeline", *args], os.waitstatus_to_exitcode(status), stdout, stderr
        )


WARM_CLI = WarmCli()


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


@pytest.hookimpl(optionalhook=True)  # xdist's hook: known only where xdist is loaded (not under -p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """Under `--dist loadgroup` (`make test` runs two workers), the tests of tests/e2e, which share one Airflow
    standalone, run in one worker, so that one server starts, not two; every other test goes where there is room.

    xdist's own `xdist_group` mark does not reach its scheduler under pytest 9 (it renames `item._nodeid`, which
    pytest 9 no longer reads), so the grouping is done here, in the scheduler, by node id."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class AirflowTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "airflow-standalone" if nodeid.startswith("tests/e2e/") else nodeid

    return AirflowTestsTogether(config, log)
