"""Inputs that are not plain files never hang, crash or vanish a run: each is one quarantine row with its reason,
and the rest of the run lands. (FIFO, device behind a symlink, symlink loop, a name that is not UTF-8, a folder
that cannot be listed.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from pipeline.read.sources import expand_sources, local_path, source_uri_of
from tests.conftest import ROOT, SEED_FILES, ingest_json


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def a_seed(folder: Path, name: str = "good.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(SEED_FILES[0], folder / name))


def quarantined(db: Path) -> dict[str, tuple[str, str]]:
    return {
        uri.rsplit("/", 1)[-1]: (reason, detail)
        for uri, reason, detail in rows(db, "SELECT source_uri, reason, detail FROM quarantine")
    }


def test_a_fifo_in_a_folder_is_quarantined_not_read_and_the_run_goes_on(tmp_path):
    src = tmp_path / "src"
    a_seed(src)
    os.mkfifo(src / "pipe.txt")  # read_bytes() on it would block forever
    (src / "zero.txt").symlink_to("/dev/zero")  # and this would never end
    db = tmp_path / "a.duckdb"
    summary = ingest_json(str(src), "--db", str(db), timeout=120)
    assert (summary["landed"], summary["quarantined"]) == (1, 2)
    q = quarantined(db)
    assert q["pipe.txt"][0] == "unsupported_type" and "FIFO" in q["pipe.txt"][1]
    assert q["zero.txt"][0] == "unsupported_type" and "character device" in q["zero.txt"][1]
    # the symlink keeps its own path, not its target's
    assert [u for (u,) in rows(db, "SELECT source_uri FROM quarantine") if u.endswith("zero.txt")] == [
        str(src / "zero.txt")
    ]


def test_a_symlink_loop_is_one_input_with_a_reason(tmp_path):
    src = tmp_path / "src"
    a_seed(src)
    (src / "loop.txt").symlink_to("loop.txt")
    (src / "a.html").symlink_to("b.html")
    (src / "b.html").symlink_to("a.html")
    inputs, _ = expand_sources([str(src)])  # Path.resolve() raised RuntimeError here
    assert len(inputs) == 4
    db = tmp_path / "a.duckdb"
    summary = ingest_json(str(src), "--db", str(db))
    assert (summary["landed"], summary["quarantined"]) == (1, 3)
    assert {r for r, _ in quarantined(db).values()} == {"unreadable"}
    assert "symbolic links" in quarantined(db)["loop.txt"][1]


def test_a_file_name_that_is_not_utf8_is_read_and_named_in_a_form_that_round_trips(tmp_path):
    src = tmp_path / "src"
    a_seed(src)
    name = os.fsdecode(b"caf\xe9.txt")  # Latin-1 bytes, not UTF-8
    text = (
        b"A headline about a cafe\n\n" + b"The cafe on the corner opened again this week after repairs. " * 8
    )
    (src / name).write_bytes(text)
    db = tmp_path / "a.duckdb"
    summary = ingest_json(str(src), "--db", str(db))
    assert (summary["landed"], summary["quarantined"]) == (2, 0)
    (uri,) = [u for (u,) in rows(db, "SELECT source_uri FROM articles") if "caf" in u]
    assert uri == "file://" + str(src).replace(" ", "%20") + "/caf%E9.txt"
    assert local_path(uri).read_bytes() == text  # the stored name leads back to the file
    assert rows(db, "SELECT count(*) FROM raw_documents") == [(2,)]
    assert source_uri_of(src / name) == uri


def test_a_folder_that_cannot_be_listed_is_a_quarantine_row():
    """Run as an unprivileged user (root lists any folder): the locked folder's files appear as one row."""
    tmp_path = Path(tempfile.mkdtemp(prefix="unlistable-"))  # pytest's own tmp folders are private to root
    src = tmp_path / "src"
    a_seed(src)
    a_seed(src / "locked", "inside.txt")
    (src / "locked").chmod(0o000)
    db = tmp_path / "out" / "a.duckdb"
    (tmp_path / "out").mkdir()
    os.chmod(tmp_path, 0o755)
    for p in (tmp_path / "out", src):
        p.chmod(0o777 if p.name == "out" else 0o755)
    # --workers 0: the forkserver cannot start as nobody here (the interpreter lives under /root)
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "ingest",
        str(src),
        "--db",
        str(db),
        "--json",
        "--workers",
        "0",
    ]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    try:
        proc = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path / "out")},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        (src / "locked").chmod(0o755)
    try:
        assert proc.returncode == 0, proc.stderr
        check_one_unlistable_row(proc, db)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def check_one_unlistable_row(proc, db: Path) -> None:
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["landed"], summary["quarantined"]) == (1, 1)
    reason, detail = quarantined(db)["locked"]
    assert reason == "unreadable" and "cannot list the folder" in detail and "Permission denied" in detail
