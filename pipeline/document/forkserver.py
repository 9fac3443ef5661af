"""The workers' forkserver, started so that it dies with the run's process.

A forkserver outlives the process that started it (it is reparented to init), and so would the workers it
forks, which die with it (`workers.die_with_parent`). Linux ties "dies with its parent" to the thread that
started the child, so `start` starts the forkserver from the main thread, which lives as long as the process;
the forkserver, importing this module first among its preloads, then takes SIGKILL when the process ends,
however it ends. A forkserver started from another thread (a pool that starts it itself) is not tied: its
workers still end by their own CPU limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from multiprocessing.process import AuthenticationString

_PR_SET_PDEATHSIG = 1  # prctl(2)


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent ends, however it ends (kill -9 included).

    A worker's parent is the forkserver, which itself exits when the run's process is gone; so no worker goes
    on extracting a page for a run that no longer exists. Elsewhere a no-op.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent ended before the call: nobody is left to wait for us
            os._exit(1)


@contextlib.contextmanager
def main_not_reimported() -> Iterator[None]:
    """Start workers without multiprocessing re-running the parent's `__main__` in them.

    For spawn and forkserver children, multiprocessing imports the parent's main script again. Inside an
    Airflow task that script is Airflow's command line, which re-reads its configuration and fails in a child
    without the task's environment; our workers need nothing from `__main__`, so hide it while they start.

    Also lets a daemonic process start them: a Celery worker's pool runs each Airflow task in one, and
    multiprocessing refuses children there ("daemonic processes are not allowed to have children", lest they be
    orphaned when it is killed). Ours are stopped by the pool's close and die with it, so the flag is lifted
    while one starts; and the process's key, billiard's there (Celery's multiprocessing), becomes one the
    standard library can hand to the forkserver.
    """
    with _STARTING:  # the changes are process-wide: one start at a time (re-entrant for a nested one)
        yield from _main_hidden()


_STARTING = threading.RLock()


def _main_hidden() -> Iterator[None]:
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if main and name in main.__dict__}
    config = multiprocessing.current_process()._config  # where multiprocessing keeps the flag
    daemon, authkey = config.get("daemon"), config.get("authkey")
    foreign_key = authkey is not None and type(authkey) is not AuthenticationString
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__spec__ = None
        if daemon:
            config["daemon"] = False
        if foreign_key:
            config["authkey"] = AuthenticationString(bytes(authkey))  # billiard's cannot be pickled here
        yield
    finally:
        if foreign_key:
            config["authkey"] = authkey
        if daemon:
            config["daemon"] = daemon
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _forget_parents_forkserver() -> None:
    """In a forked child: multiprocessing still names the parent's forkserver, which is not this process's
    child (waiting for it raises ChildProcessError: no pool could start), and its lock may have been held by
    another thread at the fork. Forget both, so this process starts a forkserver of its own when it needs one.
    A Celery prefork worker's task process is such a child."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if server._forkserver_alive_fd is not None:
        with contextlib.suppress(OSError):
            os.close(server._forkserver_alive_fd)  # the parent's forkserver watches for its last copy
    server._forkserver_pid = server._forkserver_address = server._forkserver_alive_fd = None
    server._lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_parents_forkserver)

_TIE = "PIPELINE_FORKSERVER_OF"  # the pid the forkserver dies with, set only while `start` starts it


def start(context, preload: tuple[str, ...]) -> None:
    """Start `context`'s forkserver now, from the main thread, tied to this process; a no-op elsewhere."""
    if (
        context.get_start_method() != "forkserver"
        or threading.current_thread() is not threading.main_thread()
    ):
        return
    from multiprocessing import forkserver

    context.set_forkserver_preload(list(preload))
    os.environ[_TIE] = str(os.getpid())
    try:
        with main_not_reimported():
            forkserver.ensure_running()
    finally:
        os.environ.pop(_TIE, None)


if sys.argv[:1] == ["-c"] and os.environ.get(_TIE) == str(os.getppid()):  # in the forkserver `start` started
    die_with_parent()
