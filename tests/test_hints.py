"""The commands the CLI prints as hints work as printed, pasted into a fresh shell that knows nothing of the venv."""

from __future__ import annotations

import subprocess

from tests.conftest import run_cli


def fresh_shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp", "bash", "--noprofile", "--norc", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )


def test_the_query_hint_runs_in_a_fresh_shell(seeds_copy, db_path):
    proc = run_cli("ingest", str(seeds_copy), "--db", str(db_path))
    assert proc.returncode == 0, proc.stderr
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("Query it: ")]
    command = line.removeprefix("Query it: ")
    assert "article-pipeline sql" in command and command.startswith("/")
    shell = fresh_shell(command)
    assert shell.returncode == 0, shell.stderr
    assert "Zelensky" in shell.stdout


def test_the_release_hint_of_a_held_run_runs_in_a_fresh_shell(tmp_path):
    from tests.quality.test_audit import write_articles, write_broken

    write_articles(tmp_path / "in", 4)
    write_broken(tmp_path / "in", 8)
    db = tmp_path / "a.duckdb"
    proc = run_cli("ingest", str(tmp_path / "in"), "--db", str(db))
    assert proc.returncode == 4
    command = proc.stderr.split("publish it with: ", 1)[1].strip()
    shell = fresh_shell(command)
    assert shell.returncode == 0, shell.stderr
    assert "released" in shell.stdout
