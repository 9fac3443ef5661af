"""A small process pool whose tasks can be killed one by one.

HTML extraction (trafilatura/lxml) has no timeout, and a hostile page (millions of sibling elements,
nesting tens of thousands deep) can run for minutes or crash the interpreter. ProcessPoolExecutor can
neither cancel a running task nor survive a dead worker. Here every item has a hard deadline: a worker
over it is killed (SIGKILL), one that dies (segfault, `os._exit`, OOM killer) is reaped; either is
replaced and only that item fails. Each worker has its own Pipe; the parent sends tasks only to idle
workers and waits on pipes and sentinels up to the nearest deadline. Results come in input order and
the input is read lazily. Workers come from the "forkserver" context: safe when the parent has threads
(e.g. in Airflow), cheap to restart. POSIX only; one `map` at a time, from one thread.
"""

import contextlib
import ctypes
import gc
import importlib
import math
import multiprocessing
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Self

from pipeline.document.forkserver import die_with_parent, main_not_reimported, start

_MAX_MESSAGE = 500  # characters of an exception message kept in TaskResult.detail
_START_TIMEOUT_S = 60.0  # for a worker to import its modules and report ready
_GRACE_S = 2.0  # for idle workers to exit on close(), and for dead or killed ones to be reaped
# A task's CPU budget in its worker, past its wall-clock timeout: the parent's deadline comes first, this limit
# only if the parent cannot enforce it (stopped, or gone and its death not yet noticed).
CPU_MARGIN_S = 5.0
_forkserver_preload: set[str] = set()  # all that any pool asked for: there is one forkserver per process
_open_pools = 0  # pools not yet closed: the forkserver serves them


def stop_forkserver() -> bool:
    """Stop this process's forkserver when no pool is open; the next pool starts it again. True if stopped.

    It holds its preloaded modules (trafilatura and the stage code: about 100 MB) for as long as the process
    lives, which after a run's last document is only memory taken from the load.
    """
    if _open_pools:
        return False
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", None) is None:
        return False
    with contextlib.suppress(AttributeError, OSError):  # a private API: never fail a run over it
        server._stop()
        return True
    return False


def release_memory() -> None:
    """Stop the idle forkserver, collect garbage and hand freed heap pages back to the OS (glibc keeps them):
    a run's state is garbage once it is staged, and the load that follows needs the memory."""
    stop_forkserver()
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PoolInterrupted(Exception):
    """`WorkerPool.interrupt` was called while `map` ran."""


def prepare(preload: Sequence[str]) -> None:
    """Before a pool is made in another thread: start the forkserver now, from this (the main) thread, with
    `preload`, so that it dies with this process (`pipeline.document.forkserver`)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return
    _forkserver_preload.update(preload)
    start(multiprocessing.get_context("forkserver"), tuple(sorted(_forkserver_preload)))


@dataclass(frozen=True)
class TaskResult:
    """The outcome of one item: its value, or why there is none."""

    ok: bool
    value: Any = None  # fn's return value when ok
    failure: str | None = None  # "timeout" | "crashed" | "error"
    detail: str = ""  # "over the 30 s limit", "worker died with signal SIGSEGV", "ValueError: ..."
    error_type: str | None = None  # the exception's class name when failure == "error"


def _describe(exc: BaseException) -> tuple[str, str]:
    """(class name, "Name: message"), the message cut to _MAX_MESSAGE characters."""
    name, message = type(exc).__name__, str(exc)[:_MAX_MESSAGE]
    return name, f"{name}: {message}" if message else name


def _limit_cpu(seconds: float) -> None:
    """The next task may use at most `seconds` more CPU (SIGXCPU ends the process past it): a worker enforces
    its own timeout, even if its parent, which enforces the wall-clock one, is stopped or gone."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(spent + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _worker_main(
    fn: Callable, conn: Connection, memory_mb: int | None, preload: Sequence[str], cpu_s: float | None = None
) -> None:
    """Child process: set limits, import `preload`, report ready, then run tasks until told to stop."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a parent's SIGTERM handler is not ours
    try:
        if memory_mb is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = memory_mb * 1024 * 1024
            if hard != resource.RLIM_INFINITY:
                limit = min(limit, hard)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        for name in preload:  # a no-op when the forkserver preloaded it
            importlib.import_module(name)
    except Exception as exc:
        conn.send(("init_error", _describe(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            kind, item = conn.recv()
        except EOFError:  # the parent is gone
            return
        except Exception as exc:  # the item could not be unpickled
            kind, reply = "task", ("error", _describe(exc))
        else:
            if kind == "stop":
                return
            if cpu_s is not None:
                _limit_cpu(cpu_s)
            try:
                reply = ("ok", fn(item))
            except Exception as exc:
                reply = ("error", _describe(exc))
        try:
            conn.send(reply)  # pickles before writing, so an unpicklable value fails with nothing sent
        except OSError:
            return
        except Exception as exc:
            conn.send(("error", _describe(exc)))


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    deadline: float  # to report ready, then to finish the current task
    ready: bool = False
    task: int | None = None  # index of the item it is working on


class WorkerPool:
    """Apply a module-level `fn` to items in up to `workers` processes, `timeout_s` at most per item.

    `memory_limit_mb` caps each worker's address space (RLIMIT_AS: interpreter and libraries count too),
    so a runaway allocation raises MemoryError, an "error". Each worker imports `preload` before its
    first task; so does the forkserver, for cheap restarts, if it has not started yet (Python 3.11 gives
    it only its default sys.path). A worker that cannot start raises RuntimeError from `map`.
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        workers: int = 2,
        timeout_s: float = 30.0,
        memory_limit_mb: int | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        if workers < 1 or timeout_s <= 0 or (memory_limit_mb is not None and memory_limit_mb < 1):
            raise ValueError("need workers >= 1, timeout_s > 0 and memory_limit_mb >= 1 (or None)")
        self.fn, self.workers, self.timeout_s = fn, workers, timeout_s
        self.memory_limit_mb, self.preload = memory_limit_mb, tuple(preload)
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self._ctx = multiprocessing.get_context(method)
        if method == "forkserver" and self.preload:  # effective only until the forkserver starts
            _forkserver_preload.update(self.preload)
            self._ctx.set_forkserver_preload(sorted(_forkserver_preload))
            start(self._ctx, tuple(sorted(_forkserver_preload)))
        self._over_limit = f"over the {timeout_s:g} s limit"
        self._workers: list[_Worker] = []
        self._closed = self._mapping = False
        self._interrupted = False
        self._wake_r, self._wake_w = os.pipe()  # `interrupt` wakes `_wait` from another thread
        global _open_pools
        _open_pools += 1

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def map(self, items: Iterable[Any]) -> Iterator[TaskResult]:
        """Yield one TaskResult per item, in input order, pulling items lazily."""
        if self._closed or self._mapping:
            raise RuntimeError("WorkerPool is closed" if self._closed else "another map() is still running")
        self._mapping, finished = True, False
        source, backlog, done = iter(items), deque[tuple[int, Any]](), dict[int, TaskResult]()
        pulled = yielded = 0
        exhausted, cap = False, 2 * self.workers  # cap: items pulled and not yet yielded
        try:
            while True:
                while yielded in done:
                    yield done.pop(yielded)
                    yielded += 1
                    if self._closed:
                        raise RuntimeError("WorkerPool was closed during map()")
                busy = sum(w.task is not None for w in self._workers)
                while not exhausted and busy + len(backlog) < self.workers and pulled - yielded < cap:
                    try:
                        backlog.append((pulled, next(source)))
                        pulled += 1
                    except StopIteration:
                        exhausted = True
                if exhausted and yielded == pulled:
                    finished = True
                    return
                self._dispatch(backlog)
                done.update(self._wait())
                if self._interrupted:
                    raise PoolInterrupted("the pool was interrupted")
        finally:
            self._mapping = False
            if not finished:  # closed early or failed: abandon the tasks in flight
                self._stop_workers()

    def _dispatch(self, backlog: deque[tuple[int, Any]]) -> None:
        """Start the workers the backlog needs, and hand items to idle ones."""
        starting = sum(not w.ready for w in self._workers)
        idle = [w for w in self._workers if w.ready and w.task is None]
        while len(backlog) > len(idle) + starting and len(self._workers) < self.workers:
            conn, child_conn = self._ctx.Pipe()
            args = (self.fn, child_conn, self.memory_limit_mb, self.preload, self.timeout_s + CPU_MARGIN_S)
            with main_not_reimported():  # made inside: a Process copies this process's config when it is made
                process = self._ctx.Process(
                    target=_worker_main, args=args, name="WorkerPool-worker", daemon=True
                )
                process.start()
            child_conn.close()  # so that the worker's death reads as EOF
            self._workers.append(_Worker(process, conn, time.monotonic() + _START_TIMEOUT_S))
            starting += 1
        for w in idle[: len(backlog)]:
            w.task, item = backlog.popleft()
            w.deadline = time.monotonic() + self.timeout_s
            with contextlib.suppress(OSError):  # idle = in recv(), no deadlock; if dead, the sentinel tells
                w.conn.send(("task", item))

    def _wait(self) -> dict[int, TaskResult]:
        """Wait until a worker answers, dies or passes its deadline; return the finished tasks."""
        pending = [w for w in self._workers if w.task is not None or not w.ready]
        timeout = max(0.0, min(w.deadline for w in pending) - time.monotonic())
        waited = [x for w in self._workers for x in (w.conn, w.process.sentinel)]
        ready = set(wait([*waited, self._wake_r], timeout))
        if self._wake_r in ready:
            return {}
        results: dict[int, TaskResult] = {}
        for w in list(self._workers):
            if w not in pending:  # an idle worker has nothing to say: it died
                if w.conn in ready or w.process.sentinel in ready:
                    self._reap(w)
            elif w.conn.poll() or w.process.sentinel in ready:  # poll(): a result may beat the deadline
                results.update(self._receive(w))
            elif time.monotonic() >= w.deadline:
                self._reap(w, kill=True)
                if not w.ready:
                    raise RuntimeError(f"worker process did not start within {_START_TIMEOUT_S:g} s")
                results[w.task] = TaskResult(False, failure="timeout", detail=self._over_limit)
        return results

    def _receive(self, w: _Worker) -> dict[int, TaskResult]:
        """Read one message from a worker (or find that it died); return the task it finished, if any."""
        try:
            kind, payload = w.conn.recv()
        except (EOFError, OSError):
            detail = self._reap(w)
            if not w.ready:
                raise RuntimeError(f"worker process failed to start: {detail}") from None
            return {w.task: TaskResult(False, failure="crashed", detail=detail)}
        if kind == "ready":
            w.ready = True
            return {}
        if kind == "init_error":
            self._reap(w, kill=True)
            raise RuntimeError(f"worker process failed to start: {payload[1]}")
        task, w.task = w.task, None
        if kind == "ok":
            return {task: TaskResult(True, value=payload)}
        return {task: TaskResult(False, failure="error", detail=payload[1], error_type=payload[0])}

    def _reap(self, w: _Worker, kill: bool = False) -> str:
        """Drop a worker (killing it first if asked), wait for it to end, and say how it ended."""
        if w in self._workers:
            self._workers.remove(w)
        if kill:
            w.process.kill()
        w.process.join(_GRACE_S)
        if w.process.exitcode is None:  # EOF but still running: make sure
            w.process.kill()
            w.process.join(_GRACE_S)
        w.conn.close()
        if (code := w.process.exitcode) is not None:
            w.process.close()
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):  # a signal without a name
                return f"worker died with signal {signal.Signals(-code).name}"
            return f"worker died with signal {-code}"
        return f"worker exited with code {code}"

    def _stop_workers(self) -> None:
        """Ask idle workers to exit, kill busy or starting ones, and reap them all."""
        workers, self._workers = self._workers, []
        for w in workers:
            with contextlib.suppress(OSError):
                if w.ready and w.task is None:
                    w.conn.send(("stop", None))
                else:
                    w.process.kill()
        grace_end = time.monotonic() + _GRACE_S
        for w in workers:
            w.process.join(max(0.0, grace_end - time.monotonic()))
            self._reap(w, kill=w.process.exitcode is None)

    def interrupt(self) -> None:
        """From any thread: make a running `map` stop at once (it raises `PoolInterrupted` in its own thread,
        after killing its workers), instead of waiting for the page in hand."""
        self._interrupted = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        """Stop all workers; the pool cannot be used afterwards. Safe to call twice."""
        global _open_pools
        if not self._closed:
            _open_pools -= 1
            self._closed = True
            self._stop_workers()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
