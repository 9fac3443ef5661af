"""A local Airflow cluster: PostgreSQL metadata, Redis broker, CeleryExecutor, two workers, S3 staging.

    python scripts/cluster.py [--home DIR] [--port 8080]     (what `make cluster` runs; Ctrl-C stops it)

Every component runs in a working directory of its own under `--home`, as if on its own machine: PostgreSQL
(`postgres/`, Debian's server binaries), Redis (`redis/`), an S3-compatible object store (moto's server mode,
`s3/`), and Airflow's API server, scheduler and DAG processor, each with its own AIRFLOW_HOME. Two Celery
workers: `worker-a` listens on the `default` queue and on `writer`, and owns the DuckDB file
(`worker-a/data/articles.duckdb`); `worker-b` listens on `default` only and, where the kernel allows it, runs in a
mount namespace in which worker-a's folder is an empty tmpfs: it cannot see the database or worker-a's files,
so whatever it hands on goes through the object store. The DAGs are parsed with PIPELINE_WRITER_QUEUE=writer
(plan, dedupe, audit and load on worker-a) and every task stages partitions at PIPELINE_STAGING_URL
(s3://article-staging/runs on the local S3 server).

Used by tests/cluster/ (`make test-cluster`) through `Cluster`; started by hand with `make cluster`.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the project's venv: airflow, moto_server
BUCKET = "article-staging"
WRITER_QUEUE = "writer"
STARTUP_TIMEOUT_S = 300.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise SystemExit(
            "PostgreSQL's server is not installed: apt-get install postgresql redis-server (make test-cluster "
            "and make cluster do it)"
        )
    return Path(found[-1]).parent


def hiding_command() -> list[str] | None:
    """How to start a process in a mount namespace of its own: `unshare -m` as root, `unshare -rm` (a user
    namespace too) where the kernel lets other users have one; None when neither works here."""
    for command in (["unshare", "-m"], ["unshare", "-rm"]):
        probe = subprocess.run(
            [*command, "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"],
            capture_output=True,
            check=False,
            timeout=10,
        )
        if probe.returncode == 0:
            return command
    return None


def session_pids(sid: int) -> list[int]:
    """The live processes of a session (a component and everything it started: Airflow runs each task in a
    process group of its own, in the same session)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) == sid:
                    found.append(int(entry))
    return found


@dataclass
class Cluster:
    home: Path
    api_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    schedule: bool = False  # the daily schedule on or off (the tests trigger by hand)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    isolated: bool = False
    keep: bool = (
        False  # keep PostgreSQL's data (Airflow's history) when stopped: make cluster's, not the tests'
    )

    # --- layout ------------------------------------------------------------------------------------------

    def dir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db(self) -> Path:
        return self.home / "worker-a" / "data" / "articles.duckdb"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def log(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def s3_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "cluster",
            "AWS_SECRET_ACCESS_KEY": "cluster-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "FSSPEC_S3_ENDPOINT_URL": self.s3_url,  # fsspec's configuration from the environment (s3fs)
            "AWS_ENDPOINT_URL_S3": self.s3_url,
        }

    def airflow_env(self, component: str) -> dict[str, str]:
        pg = f"postgres@127.0.0.1:{self.pg_port}/airflow"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PIPELINE_"))}
        env.update(self.s3_env())
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            AIRFLOW_HOME=str(self.dir(component)),
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://{pg}",
            AIRFLOW__CELERY__BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            AIRFLOW__CELERY__RESULT_BACKEND=f"db+postgresql+psycopg2://{pg}",
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            AIRFLOW__API_AUTH__JWT_SECRET=self.secret,
            AIRFLOW__API__SECRET_KEY=self.secret,
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=str(self.schedule),
            PIPELINE_WRITER_QUEUE=WRITER_QUEUE,
            PIPELINE_STAGING_URL=f"s3://{BUCKET}/runs",
            PIPELINE_EXTRACT_WORKERS="1",  # two workers on a small machine: one extraction process per task
            GX_ANALYTICS_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def secret(self) -> str:
        path = self.home / ".secret"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
        return path.read_text()

    # --- start -------------------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: dict | None = None, cwd: Path | None = None) -> None:
        self.dir("logs")
        with self.log(name).open("ab") as out:
            self.procs[name] = subprocess.Popen(
                args,
                cwd=cwd or self.dir(name),
                env=env or os.environ.copy(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, progress=print) -> None:
        t0 = time.monotonic()
        self.start_postgres()
        self.spawn(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir("redis"))],
        )  # fmt: skip
        self.spawn(
            "s3",
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.s3_port)],
            env=self.s3_env_full(),
        )
        self.wait_port(self.redis_port, "redis")
        self.wait_port(self.s3_port, "s3")
        self.make_bucket()
        progress(f"[cluster] PostgreSQL :{self.pg_port}, Redis :{self.redis_port}, S3 :{self.s3_port} up")
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.airflow_env("scheduler"),
            cwd=self.dir("scheduler"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}"
            )
        airflow = str(BIN / "airflow")
        self.spawn("api-server", [airflow, "api-server"], env=self.airflow_env("api-server"))
        self.spawn("scheduler", [airflow, "scheduler"], env=self.airflow_env("scheduler"))
        self.spawn("dag-processor", [airflow, "dag-processor"], env=self.airflow_env("dag-processor"))
        self.db.parent.mkdir(parents=True, exist_ok=True)
        worker = [airflow, "celery", "worker", "--concurrency", "2", "--skip-serve-logs"]
        self.spawn(
            "worker-a",
            [*worker, "--queues", f"default,{WRITER_QUEUE}", "--celery-hostname", "worker-a@%h"],
            env=self.airflow_env("worker-a"),
        )
        b_args = [*worker, "--queues", "default", "--celery-hostname", "worker-b@%h"]
        hiding = hiding_command()
        self.isolated = hiding is not None
        if hiding:  # worker-a's folder is an empty tmpfs for worker-b
            hidden = self.home / "worker-a"
            b_args = [
                *hiding,
                "sh",
                "-c",
                f'mount -t tmpfs tmpfs "{hidden}" && exec "$@"',
                "sh",
                *b_args,
            ]
        self.spawn("worker-b", b_args, env=self.airflow_env("worker-b"))
        self.wait_ready(t0 + STARTUP_TIMEOUT_S)
        progress(f"[cluster] Airflow up on {self.base_url} in {time.monotonic() - t0:.0f} s")

    def s3_env_full(self) -> dict[str, str]:
        return {**os.environ, **self.s3_env()}

    def start_postgres(self) -> None:
        """As root, PostgreSQL runs as its own user, from a folder of its own that user can reach (the home's
        parents may be private to root: pytest's temp folders are)."""
        pg = pg_bin()
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        where = self.dir("postgres")
        if os.geteuid() == 0:
            link = where / "data"
            if not link.is_symlink():
                outside = Path(tempfile.mkdtemp(prefix="cluster-postgres-", dir="/var/tmp"))
                shutil.chown(outside, "postgres")
                link.symlink_to(outside)
            where = link.resolve()
        data = where / "pgdata"
        if not (data / "PG_VERSION").exists():
            subprocess.run(
                [
                    *as_postgres,
                    str(pg / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        self.spawn(
            "postgres",
            [*as_postgres, str(pg / "postgres"), "-D", str(data), "-p", str(self.pg_port), "-h", "127.0.0.1",
             "-k", str(where)],
            cwd=where,
        )  # fmt: skip
        self.wait_port(self.pg_port, "postgres")
        for _ in range(60):
            made = subprocess.run(
                [
                    str(pg / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.pg_port),
                    "-U",
                    "postgres",
                    "airflow",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if made.returncode == 0 or "already exists" in made.stderr:
                return
            time.sleep(0.5)
        raise RuntimeError(f"createdb failed: {made.stderr}")

    def make_bucket(self) -> None:
        import boto3

        client = boto3.client("s3", endpoint_url=self.s3_url, **{
            "aws_access_key_id": "cluster", "aws_secret_access_key": "cluster-secret", "region_name": "us-east-1"})  # fmt: skip
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=BUCKET)

    def wait_port(self, port: int, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not listening on {port} after {timeout:.0f} s\n{self.tail(name)}")
            time.sleep(0.2)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 60) -> str:
        try:
            text = self.log(name).read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return f"--- {name} ---\n" + "\n".join(text[-lines:])

    def wait_ready(self, deadline: float) -> None:
        """API healthy, the DAG parsed, both Celery workers ready."""
        import httpx

        client = httpx.Client(base_url=self.base_url, timeout=10)
        last = "nothing yet"
        while True:
            self.check_alive()
            try:
                health = client.get("/api/v2/monitor/health").json()
                states = {
                    k: health.get(k, {}).get("status") for k in ("metadatabase", "scheduler", "dag_processor")
                }
                token = client.get("/auth/token").json()["access_token"]
                dag = client.get("/api/v2/dags/article_ingest", headers={"Authorization": f"Bearer {token}"})
                workers = [
                    w for w in ("worker-a", "worker-b") if "ready." in self.log(w).read_text(errors="replace")
                ]
                last = f"health {states}, dag HTTP {dag.status_code}, workers ready {workers}"
                if set(states.values()) == {"healthy"} and dag.status_code == 200 and len(workers) == 2:
                    client.close()
                    return
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                client.close()
                raise RuntimeError(
                    f"cluster not ready ({last})\n" + "\n".join(self.tail(n, 30) for n in self.procs)
                )
            time.sleep(1.0)

    # --- stop --------------------------------------------------------------------------------------------

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to every component's process group (Airflow first, the services last), then SIGKILL."""
        order = [
            "api-server",
            "scheduler",
            "dag-processor",
            "worker-a",
            "worker-b",
            "s3",
            "redis",
            "postgres",
        ]
        for name in order:
            proc = self.procs.get(name)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            for pid in session_pids(proc.pid):  # anything it left: a task's processes, in groups of their own
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        self.procs.clear()
        link = self.home / "postgres" / "data"
        if link.is_symlink() and not self.keep:  # root's PostgreSQL folder, outside the home
            shutil.rmtree(link.resolve(), ignore_errors=True)
            link.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/cluster.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home", type=Path, default=ROOT / "cluster_home", help="where every component lives"
    )
    parser.add_argument("--port", type=int, default=8080, help="the API server's (and UI's) port")
    args = parser.parse_args(argv)
    cluster = Cluster(home=args.home.resolve(), api_port=args.port, schedule=True, keep=True)
    stopping = []

    def on_signal(signum, _frame):
        if stopping:
            return
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)  # the terminal closed: stop as for Ctrl-C
    try:
        cluster.start()
        print(
            f"""
  UI:        {cluster.base_url}/   (no login: every visitor is an admin)
  Database:  {cluster.db}   (worker-a's; pass it as the trigger form's Database)
  Staging:   s3://{BUCKET}/runs on {cluster.s3_url}
  Workers:   worker-a (queues default, {WRITER_QUEUE}: owns the database), worker-b (default{", cannot see worker-a's folder" if cluster.isolated else ""})
  Logs:      {cluster.home / "logs"}/
  Stop:      Ctrl-C""",
            flush=True,
        )  # fmt: skip
        while True:
            cluster.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\n[cluster] stopping", flush=True)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave the components running
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
