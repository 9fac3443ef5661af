"""A warm `python -m pipeline` for the tests: one process that has imported the pipeline and its heavy libraries
(GX alone takes about 5 s), and forks a fresh copy of itself for each command line a test runs.

Each command still runs in its own process, with its own arguments, environment, working directory, stdout,
stderr and exit code (or the signal that ended it), and ends the way `python -m pipeline` ends: `entry()` raises
SystemExit and the interpreter finishes normally. What it skips is the start-up a user pays once per command.
Tests about start-up itself, signals or process trees start `python -m pipeline` directly.

Protocol, one JSON object per line. In on stdin: {"args", "cwd", "env", "stdout", "stderr", "fsize"} (file paths
for the two streams; `fsize`, if set, an RLIMIT_FSIZE for the command). Out on stdout: {"pid"} when the command
has started, then {"pid", "status"} (os.waitpid's status) when it has ended.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import threading


def preload() -> None:
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import trafilatura  # noqa: F401

    import pipeline.cli
    import pipeline.quality.docs
    import pipeline.quality.validate
    import pipeline.rarity
    import pipeline.run.runner
    import pipeline.stories
    from pipeline.quality.gx import import_gx

    import_gx()  # as the pipeline imports GX: scipy.stats and altair deferred
    pipeline.rarity.weighable_languages()


def cap_file_size(size: int) -> None:
    """This process's files grow to `size` bytes at most: a write past it fails (EFBIG) instead of killing."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def run_command(request: dict) -> None:
    """In the forked child: become `python -m pipeline ARGS` and run to its exit (never returns)."""
    try:
        os.setpgid(0, 0)  # a timeout kills the command's whole tree, workers included
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            target = os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        if request.get("fsize") is not None:
            cap_file_size(request["fsize"])
        sys.argv = [os.path.join(request["root"], "pipeline", "__main__.py"), *request["args"]]
        from pipeline.cli import entry

        entry()
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.exit(1)


def serve() -> None:
    preload()
    assert threading.active_count() == 1, "a preloaded import started a thread: forking would copy its locks"
    out = sys.stdout
    inbox = sys.stdin.buffer
    running: set[int] = set()
    buffered = b""
    while True:
        ready, _, _ = select.select([inbox], [], [], 0.05 if running else None)
        if ready:
            chunk = os.read(inbox.fileno(), 65536)
            if not chunk:
                return  # the test process is gone
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                request = json.loads(line)
                out.flush()
                pid = os.fork()
                if pid == 0:
                    run_command(request)  # raises SystemExit: the interpreter ends as `python -m` would
                running.add(pid)
                out.write(json.dumps({"pid": pid}) + "\n")
                out.flush()
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                running.discard(pid)
                out.write(json.dumps({"pid": pid, "status": status}) + "\n")
                out.flush()


if __name__ == "__main__":
    serve()
