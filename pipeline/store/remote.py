"""Staging on object storage: a run's partitions copied to and from an fsspec URL (`PIPELINE_STAGING_URL`).

On a cluster the mapped extract tasks run on any worker and the load only on the one that owns the DuckDB
file; no local folder is shared. Each extract task stages its partition on its own disk, as always, then
uploads it; the writer's dedupe task downloads every partition into its own staging and goes on from there.

Any filesystem fsspec knows works (`s3://`, `gs://`, `abfs://`, `file://`), with the protocol's package
installed (s3fs for S3). Credentials and endpoints come from the protocol's usual sources (for S3: the
`AWS_*` variables, `~/.aws/`, an instance role) or fsspec's own configuration (`FSSPEC_S3_ENDPOINT_URL`, ...).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipeline.errors import SetupError

log = logging.getLogger(__name__)


def _fs(url: str):
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(url)
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its package missing
        raise SetupError(f"cannot reach staging URL {url}: {exc}") from exc


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *parts])


def upload(folder: Path, url: str) -> int:
    """Copy every file under `folder` to `url` (replacing what was there: a retried task rewrites its
    partition); the number of files."""
    fs, root = _fs(url)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for f in files:
        target = f"{root}/{f.relative_to(folder).as_posix()}"
        fs.makedirs(fs._parent(target), exist_ok=True)  # a no-op on object stores; local files need it
        fs.put_file(str(f), target)
    log.info("staged %d file(s) from %s to %s", len(files), folder, url)
    return len(files)


def download(url: str, folder: Path) -> int:
    """Copy every object under `url` into `folder` (emptied first); the number of files."""
    fs, root = _fs(url)
    keys = [k for k in fs.find(root) if not k.endswith("/")]
    if not keys:
        raise FileNotFoundError(f"nothing staged at {url}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for key in keys:
        target = folder / key[len(root.rstrip("/")) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(key, str(target))
    log.info("fetched %d staged file(s) from %s to %s", len(keys), url, folder)
    return len(keys)


def remove(url: str) -> None:
    """Delete what is staged under `url` (published: the database holds it now); never raises."""
    try:
        fs, root = _fs(url)
        if fs.exists(root):
            fs.rm(root, recursive=True)
    except Exception as exc:  # a leftover prefix costs storage, not correctness
        log.warning("could not remove staged files at %s: %s", url, exc)
