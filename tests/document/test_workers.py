"""pipeline.document.workers: input order, hard timeouts, crashes, errors, memory limit, laziness and cleanup."""

import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.document.workers import TaskResult, WorkerPool
from tests.conftest import is_alive
from tests.document import worker_jobs as jobs


def assert_all_gone(pids: list[int]) -> None:
    assert pids, "expected some worker pids to check"
    assert not set(pids) & {p.pid for p in multiprocessing.active_children()}
    assert not [pid for pid in pids if is_alive(pid)]


def test_results_come_in_input_order_when_later_items_finish_first() -> None:
    delays = [0.3, 0.0, 0.15, 0.0, 0.05, 0.0, 0.0]
    with WorkerPool(jobs.run, workers=3, timeout_s=10) as pool:
        results = list(pool.map(("sleep_then", (d, i)) for i, d in enumerate(delays)))
    assert [r.value for r in results] == list(range(len(delays)))
    assert all(r.ok and r.failure is None for r in results)


def test_a_task_over_the_timeout_is_killed_and_the_run_goes_on(tmp_path: Path) -> None:
    pid_file = tmp_path / "hung.pid"
    items = [("hang", str(pid_file)), ("spin", None), ("echo", 2), ("echo", 3)]
    with WorkerPool(jobs.run, workers=2, timeout_s=1) as pool:
        results = pool.map(items)
        hung = next(results)
        assert hung == TaskResult(False, failure="timeout", detail="over the 1 s limit")
        assert not is_alive(int(pid_file.read_text()))  # killed and reaped, not merely abandoned
        rest = list(results)
    assert rest[0].failure == "timeout"
    assert [r.value for r in rest[1:]] == [2, 3]


def test_a_worker_that_dies_is_reported_as_crashed_and_replaced() -> None:
    items = [
        ("exit_with", 3),
        ("kill_self", signal.SIGSEGV),
        ("kill_self", signal.SIGKILL),
        ("echo", "after"),
    ]
    with WorkerPool(jobs.run, workers=1, timeout_s=10) as pool:
        results = list(pool.map(items))
    assert [(r.failure, r.detail) for r in results[:3]] == [
        ("crashed", "worker exited with code 3"),
        ("crashed", "worker died with signal SIGSEGV"),
        ("crashed", "worker died with signal SIGKILL"),
    ]
    assert results[3] == TaskResult(True, value="after")


def test_an_exception_is_an_error_and_the_worker_is_reused() -> None:
    items = [("pid", None), ("raise_value_error", "bad item 7"), ("raise_value_error", "x" * 5000)]
    items += [("unpicklable", None), ("pid", None)]
    with WorkerPool(jobs.run, workers=1, timeout_s=10) as pool:
        first, error, long_error, bad_value, last = pool.map(items)
    assert error == TaskResult(
        False, failure="error", detail="ValueError: bad item 7", error_type="ValueError"
    )
    assert long_error.error_type == "ValueError" and 500 < len(long_error.detail) < 520
    assert bad_value.failure == "error" and "pickle" in bad_value.detail
    assert first.ok and last.ok and first.value == last.value  # same worker process throughout


def test_memory_limit_turns_a_runaway_allocation_into_memory_error() -> None:
    with WorkerPool(jobs.run, workers=1, memory_limit_mb=512) as pool:
        too_big, fits = pool.map([("allocate", 2048), ("allocate", 16)])
    assert (too_big.failure, too_big.error_type) == ("error", "MemoryError")
    assert fits == TaskResult(True, value=16 * 1024 * 1024)


def test_results_of_several_megabytes_come_back_intact() -> None:
    with WorkerPool(jobs.run, workers=2) as pool:
        results = list(pool.map(("big_text", i) for i in range(3)))
    assert [r.value for r in results] == [jobs.big_text(i) for i in range(3)]
    assert len(results[0].value) > 5_000_000


def test_input_is_consumed_lazily() -> None:
    pulled = 0

    def counted(items: Iterator[tuple]) -> Iterator[tuple]:
        nonlocal pulled
        for item in items:
            pulled += 1
            yield item

    slow_first = itertools.chain([("sleep_then", (0.3, 0))], (("echo", i) for i in itertools.count(1)))
    with WorkerPool(jobs.run, workers=2) as pool:
        results = pool.map(counted(slow_first))  # an endless stream
        assert pulled == 0
        assert next(results).value == 0
        assert pulled <= 4  # 2 * workers
        assert [r.value for r in itertools.islice(results, 20)] == list(range(1, 21))
        assert pulled <= 21 + 4
        results.close()


def test_closing_map_early_stops_the_workers_and_the_pool_stays_usable() -> None:
    with WorkerPool(jobs.run, workers=2) as pool:
        results = pool.map(("sleep_then", (0.05, i)) for i in range(100))
        assert next(results).value == 0
        pids = pool.pids
        assert len(pids) == 2
        results.close()
        assert pool.pids == []
        assert_all_gone(pids)
        assert [r.value for r in pool.map([("echo", "again")])] == ["again"]


def test_leaving_the_with_block_stops_the_workers(tmp_path: Path) -> None:
    with WorkerPool(jobs.run, workers=2, timeout_s=60) as pool:
        for _ in pool.map([("echo", 1), ("hang", str(tmp_path / "pid")), ("echo", 3)]):
            pids = pool.pids  # one worker is busy with a task that would take 60 s
            break
    assert_all_gone(pids)

    with pytest.raises(ZeroDivisionError), WorkerPool(jobs.run, workers=2) as pool:
        results = pool.map(("echo", i) for i in range(10))  # never closed: only the with block cleans up
        next(results)
        pids = pool.pids
        raise ZeroDivisionError
    assert_all_gone(pids)
    with pytest.raises(RuntimeError, match="closed"):
        next(results)
    with pytest.raises(RuntimeError, match="closed"):
        next(pool.map([1]))


def test_empty_input_yields_nothing_and_starts_no_process() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    with WorkerPool(jobs.run, workers=4) as pool:
        assert list(pool.map([])) == []
        assert pool.pids == []
    assert {p.pid for p in multiprocessing.active_children()} == before


def test_only_as_many_workers_as_items() -> None:
    with WorkerPool(jobs.run, workers=4) as pool:
        assert [r.value for r in pool.map([("echo", 1)])] == [1]
        assert len(pool.pids) == 1


def test_preload_modules_are_imported_before_the_first_task() -> None:
    with WorkerPool(jobs.run, workers=1, preload=["colorsys"]) as pool:
        assert [r.value for r in pool.map([("modules_loaded", ["colorsys"])])] == [[True]]


def test_the_document_workers_start_with_the_language_model_loaded() -> None:
    from pipeline.document.stage import DocumentStage

    assert "pipeline.document.language_model" in DocumentStage.PRELOAD
    with WorkerPool(jobs.run, workers=1, preload=DocumentStage.PRELOAD) as pool:
        assert [r.value for r in pool.map([("language_model_loaded", None)])] == [True]


def test_a_worker_that_cannot_start_fails_the_run() -> None:
    with (
        pytest.raises(RuntimeError, match="failed to start: ModuleNotFoundError"),
        WorkerPool(jobs.run, workers=1, preload=["no_such_module_for_test_workers"]) as pool,
    ):
        list(pool.map([("echo", 1)]))
    assert pool.pids == []


def test_workers_ignore_sigint(tmp_path: Path) -> None:
    marker = tmp_path / "running"

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        for pid in pool.pids:
            os.kill(pid, signal.SIGINT)

    with WorkerPool(jobs.run, workers=1) as pool:
        thread = threading.Thread(target=interrupt_once_running)
        thread.start()
        results = list(pool.map([("mark_then_sleep", (str(marker), 0.3, "survived"))]))
        thread.join()
    assert [r.value for r in results] == ["survived"]


def test_only_one_map_at_a_time() -> None:
    with WorkerPool(jobs.run, workers=1) as pool:
        first = pool.map([("echo", 1), ("echo", 2)])
        next(first)
        with pytest.raises(RuntimeError, match="still running"):
            next(pool.map([("echo", 3)]))
        assert [r.value for r in first] == [2]


def test_workers_do_not_rerun_the_parents_main_script(tmp_path):
    """Inside an Airflow task, `__main__` is Airflow's CLI script: a worker that re-ran it would fail to start."""
    script = tmp_path / "main_script.py"
    script.write_text(
        "import sys\n"
        "if __name__ == '__mp_main__':\n"
        "    raise SystemExit('the parent main script was re-run in a worker')\n"
        "from pipeline.document.workers import WorkerPool\n"
        "from tests.document.worker_jobs import echo\n"
        "with WorkerPool(echo, workers=2) as pool:\n"
        "    print([r.value for r in pool.map(range(4))])\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 1, 2, 3]"


def _forkservers() -> list[int]:
    """This process's children running multiprocessing's forkserver."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        if ppid == os.getpid() and b"multiprocessing.forkserver" in cmdline:
            found.append(int(entry.name))
    return found


def test_the_forkserver_is_stopped_once_no_pool_is_open_and_comes_back_for_the_next() -> None:
    from pipeline.document.workers import stop_forkserver

    pool = WorkerPool(jobs.run, workers=1, timeout_s=10)
    assert [r.value for r in pool.map([("echo", 1)])] == [1]
    assert _forkservers()
    assert stop_forkserver() is False  # a pool is open: its workers came from the forkserver
    pool.close()
    assert stop_forkserver() is True and _forkservers() == []
    with WorkerPool(jobs.run, workers=1, timeout_s=10) as again:
        assert [r.value for r in again.map([("echo", 2)])] == [2]
    assert stop_forkserver() is True and _forkservers() == []


def test_a_pool_starts_inside_a_daemonic_process_with_a_foreign_authkey() -> None:
    """Celery's prefork workers run each Airflow task in a daemonic process whose key is billiard's:
    multiprocessing refused children there ("daemonic processes are not allowed to have children") and could
    not pickle the key for the forkserver. Found on the two-worker cluster (tests/cluster). The parent runs a
    pool first: its forkserver, inherited by name by the forked child, is not the child's (ChildProcessError)."""
    with WorkerPool(jobs.run, workers=1, timeout_s=30) as pool:
        assert [r.value for r in pool.map([("echo", "parent")])] == ["parent"]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=jobs.pool_in_a_celery_like_process, args=(out,), daemon=True)
    proc.start()
    try:
        result = out.get(timeout=120)
    finally:
        proc.join(30)
    assert result == [0, 1, 2, 3]
