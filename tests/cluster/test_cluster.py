"""article_ingest on a real cluster (`make test-cluster`; not part of `make test`): PostgreSQL metadata, Redis
broker, CeleryExecutor with two workers that share no folder, partitions staged on an S3 server, the load on the
worker that owns the DuckDB file. The rows must equal what the CLI lands from the same pages.

The pages are served on 127.0.0.1 (both workers reach them); the cluster is scripts/cluster.py's, in a temp
folder. Figures (which worker ran each task, the run's time) go to test-artifacts/cluster.json.
"""

from __future__ import annotations

import html
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import ROOT, SEED_FILES, ingest_json

sys.path.insert(0, str(ROOT / "scripts"))
from cluster import BUCKET, Cluster  # scripts/ is not a package: on the path above

RUN_TIMEOUT_S = 600.0
ARTIFACT = ROOT / "test-artifacts" / "cluster.json"


def pages() -> dict[str, bytes]:
    """Each seed article as an HTML page, twice over (ten sources: enough mapped tasks for two workers)."""
    out = {}
    for copy in ("a", "b"):
        for f in SEED_FILES:
            title, _, body = f.read_text(encoding="utf-8").partition("\n")
            paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
            out[f"/{copy}/{f.stem}.html"] = (
                f"<html><head><title>{html.escape(title)}</title></head><body><article>"
                f"<h1>{html.escape(title)}</h1>{paragraphs}</article></body></html>"
            ).encode()
    return out


@pytest.fixture(scope="module")
def site():
    served = pages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = served.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield [f"http://127.0.0.1:{server.server_address[1]}{path}" for path in sorted(served)]
    server.shutdown()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(home=tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def ran_on(cluster: Cluster, run_id: str) -> dict[str, list[str]]:
    """task (with its map index) -> the workers whose AIRFLOW_HOME holds its log: who ran it."""
    found: dict[str, list[str]] = {}
    for worker in ("worker-a", "worker-b"):
        logs = cluster.home / worker / "logs" / "dag_id=article_ingest" / f"run_id={run_id}"
        for log in logs.rglob("attempt=*.log"):
            task = log.relative_to(logs).parts[0].removeprefix("task_id=")
            index = next(
                (p.removeprefix("map_index=") for p in log.parts if p.startswith("map_index=")), None
            )
            found.setdefault(f"{task}[{index}]" if index else task, []).append(worker)
    return {k: sorted(set(v)) for k, v in sorted(found.items())}


def rows(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "articles": con.execute(
                "SELECT url, title, body, content_hash, language, word_count FROM articles ORDER BY url"
            ).fetchall(),
            "duplicates": con.execute(
                "SELECT d.url, a.url, d.method FROM article_duplicates d JOIN articles a "
                "ON a.article_id = d.duplicate_of ORDER BY d.url"
            ).fetchall(),
            "quarantine": con.execute("SELECT source_uri, reason FROM quarantine ORDER BY 1").fetchall(),
            "stories": con.execute(
                "SELECT list(url ORDER BY url) FROM articles GROUP BY story_id ORDER BY 1"
            ).fetchall(),
        }
    finally:
        con.close()


def test_article_ingest_on_two_celery_workers_with_s3_staging_lands_what_the_cli_lands(
    cluster, site, tmp_path
):
    client = httpx.Client(base_url=cluster.base_url, timeout=30)
    client.headers["Authorization"] = "Bearer " + client.get("/auth/token").json()["access_token"]
    assert client.patch("/api/v2/dags/article_ingest", json={"is_paused": False}).status_code == 200
    conf = {"sources": site, "db": str(cluster.db), "allow_private_network": True, "data_docs": False}
    t0 = time.monotonic()
    run = client.post("/api/v2/dags/article_ingest/dagRuns", json={"logical_date": None, "conf": conf}).json()
    run_id = run["dag_run_id"]
    while (run := client.get(f"/api/v2/dags/article_ingest/dagRuns/{run_id}").json())["state"] not in (
        "success",
        "failed",
    ) and time.monotonic() - t0 < RUN_TIMEOUT_S:
        time.sleep(2)
    took = time.monotonic() - t0
    tis = client.get(f"/api/v2/dags/article_ingest/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    workers = ran_on(cluster, run_id)
    report = "\n".join(
        f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']}" for ti in tis
    )
    assert run["state"] == "success", f"{report}\n{workers}\n" + "\n".join(
        cluster.tail(n, 40) for n in cluster.procs
    )

    # the mapped extract tasks ran on both workers; everything that touches the database on worker-a only
    extract_workers = {w for task, ws in workers.items() if task.startswith("extract[") for w in ws}
    assert extract_workers == {"worker-a", "worker-b"}, workers
    for task in ("plan", "dedupe", "audit", "load"):
        assert workers[task] == ["worker-a"], workers
    assert sum(task.startswith("extract[") for task in workers) == len(site)

    # worker-b's partitions went through the object store; published, none are left there
    b_logs = [
        p for p in (cluster.home / "worker-b" / "logs").rglob("attempt=*.log") if "task_id=extract" in str(p)
    ]
    assert any(re.search(rf"staged \d+ file\(s\) from .* to s3://{BUCKET}/", p.read_text()) for p in b_logs)
    import s3fs

    fs = s3fs.S3FileSystem(
        key="cluster", secret="cluster-secret", client_kwargs={"endpoint_url": cluster.s3_url}
    )
    assert fs.find(f"{BUCKET}/runs") == []
    assert cluster.isolated, "unshare -m is not available: worker-b could see worker-a's folder"

    # the same pages through the CLI, in one process, into a database of its own
    cli_db = tmp_path / "cli.duckdb"
    summary = ingest_json(*site, "--db", str(cli_db), "--allow-private-network")
    assert (summary["read"], summary["landed"], summary["duplicates"]) == (10, 5, 5)
    cluster_rows, cli_rows = rows(cluster.db), rows(cli_db)
    assert cluster_rows == cli_rows

    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(
        json.dumps(
            {"run_id": run_id, "run_s": round(took, 1), "ran_on": workers, "landed": len(cluster_rows["articles"]),
             "duplicates": len(cluster_rows["duplicates"]), "rows_equal_cli": True, "isolated": cluster.isolated},
            indent=2,
        )
    )  # fmt: skip
    print(f"\n[cluster] run {run_id}: success in {took:.1f} s; ran on: {json.dumps(workers)}")
