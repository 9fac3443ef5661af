"""Jobs for tests/test_workers.py, in their own module so forkserver children can import them by name.

`run((name, arg))` calls the job `name` with `arg`, so one pool can mix well-behaved and hostile items.
"""

import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any


def echo(value: Any) -> Any:
    return value


def sleep_then(arg: tuple[float, Any]) -> Any:
    seconds, value = arg
    time.sleep(seconds)
    return value


def pid(_: Any) -> int:
    return os.getpid()


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def hang(pid_file: str) -> None:
    """Record our pid, then sleep far past any test's timeout."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(60)


def mark_then_sleep(arg: tuple[str, float, Any]) -> Any:
    """Create a marker file, so the test knows the task is running, then sleep."""
    marker, seconds, value = arg
    Path(marker).touch()
    time.sleep(seconds)
    return value


def spin(_: Any) -> None:
    while True:
        pass


def exit_with(code: int) -> None:
    os._exit(code)


def kill_self(signum: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file from SIGSEGV
    os.kill(os.getpid(), signum)
    time.sleep(10)


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def big_text(seed: int) -> str:
    return random.Random(seed).randbytes(2_600_000).hex()  # 5.2 MB of text


def unpicklable(_: Any) -> Any:
    return lambda: None


def modules_loaded(names: list[str]) -> list[bool]:
    return [name in sys.modules for name in names]


def language_model_loaded(_: Any) -> bool:
    """Whether py3langid's model is in memory, before this task classifies anything."""
    langid = sys.modules.get("py3langid.langid")
    return langid is not None and langid.IDENTIFIER is not None


JOBS = {
    f.__name__: f for f in (echo, sleep_then, pid, raise_value_error, hang, mark_then_sleep, spin, exit_with)
}
JOBS |= {
    f.__name__: f for f in (kill_self, allocate, big_text, unpicklable, modules_loaded, language_model_loaded)
}


def run(task: tuple[str, Any]) -> Any:
    name, arg = task
    return JOBS[name](arg)


class ForeignKey(bytes):
    """An authkey of another multiprocessing (Celery's billiard has its own), which refuses to be pickled."""

    def __reduce__(self):
        raise TypeError("Pickling an AuthenticationString object is disallowed for security reasons")


def pool_in_a_celery_like_process(out) -> None:
    """What a Celery prefork worker's task process is to us: daemonic, with billiard's key. A pool must work."""
    from pipeline.document.workers import WorkerPool

    config = multiprocessing.current_process()._config
    config["authkey"] = ForeignKey(bytes(config["authkey"]))
    assert multiprocessing.current_process().daemon
    try:
        with WorkerPool(run, workers=2, timeout_s=30) as pool:
            out.put([r.value for r in pool.map(("echo", i) for i in range(4))])
    except Exception as exc:  # the test shows what went wrong
        out.put(f"{type(exc).__name__}: {exc}")
