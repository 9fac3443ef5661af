"""One typed settings object: defaults here, overridable by `PIPELINE_<NAME>` environment variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from pipeline.errors import SetupError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/articles.duckdb")
    staging_dir: Path | None = None  # where a run's Parquet hand-off files live; default: beside the DB
    # An fsspec URL (s3://bucket/prefix, gs://..., abfs://...) through which the Airflow DAG's partitions go
    # from the workers that extract them to the one that owns the database; None: they stay in staging_dir.
    staging_url: str | None = None
    suite_path: Path = PROJECT_ROOT / "expectations" / "articles.json"
    audit_suite_path: Path = PROJECT_ROOT / "expectations" / "run_audit.json"
    # The audit (write-audit-publish): a run over these shares is not published; it waits in staging.
    max_quarantined_share: float = 0.5
    max_duplicate_share: float = 0.9
    data_docs_dir: Path | None = None  # write the run's GX Data Docs report here (index.html)
    audit_require_kept: bool = True  # a run that read inputs must keep one, whatever its size
    audit_min_read: int = 10  # shares are judged from this many inputs on (a hand-run of 2 files is not)
    max_input_bytes: int = 5_000_000  # larger inputs are quarantined as too_large before extraction
    # Processes extracting, cleaning and enriching documents in parallel; 0 runs them in the main process
    # (no extract timeout there: for debugging and profiling only).
    extract_workers: int = min(os.cpu_count() or 1, 4)
    extract_timeout_s: float = 30.0  # a page still extracting after this is stopped: extract_timeout
    extract_memory_mb: int = 2048  # address-space cap of an extraction process: extract_out_of_memory
    max_file_bytes: int = 200_000_000  # cap on a JSON, JSONL or feed file holding many articles
    # Fetching feeds and pages (pipeline/fetch.py). Bodies are capped at max_input_bytes, decompressed.
    max_feed_bytes: int = 50_000_000  # a source URL's cap (it may be a feed); a page stays at max_input_bytes
    allow_private_network: bool = False  # fetch from loopback/private addresses too (local use and tests)
    fetch_deadline_s: float = 60.0  # one request, redirects and whole body included
    fetch_total_s: float = 90.0  # one URL, all its attempts and the waits between them: a trickling server
    fetch_retries: int = 3  # extra attempts on 429, 5xx and connection errors, with backoff
    host_delay_s: float = 1.0  # minimum time between two requests to one host
    fetch_in_flight: int = 4  # requests in flight at once, all hosts together
    respect_robots: bool = True
    # Sitemaps (pipeline/read/sitemaps.py): entries read from one sitemap (the protocol's own limit), sitemap
    # indexes nested below a source's, and sitemaps fetched for one source.
    max_sitemap_urls: int = 50_000
    max_sitemap_depth: int = 3
    max_sitemaps: int = 1_000
    # Near-duplicate detection: word shingles, MinHash permutations, LSH bands (rows per band = perms / bands).
    shingle_size: int = 5
    minhash_perms: int = 128
    lsh_bands: int = 64  # 2 rows a band: a half-length copy (Jaccard 0.3-0.5) still meets its original
    near_dup_jaccard: float = 0.6  # verified Jaccard at or above this is a near duplicate ...
    near_dup_containment: float = 0.7  # ... and so is a copy this much contained in a landed article
    dedupe_chunk: int = 1000  # articles whose history lookups dedupe answers with one query per kind
    validate_chunk: int = 2000  # articles per Great Expectations batch
    # How long to retry a database another process holds: a run's load waits for readers' queries to end, a
    # query (`sql`) for a load to commit, a second ingest for the first to finish.
    lock_timeout_s: float = 60.0
    # DuckDB's memory limit per connection; beyond it DuckDB spills to <db>.tmp/. 0 lifts it to DuckDB's own
    # default, 80% of RAM. A 100k-article run loads into a 100k-article database in 300 MB.
    db_memory_mb: int = 384

    def __post_init__(self) -> None:
        if self.minhash_perms % self.lsh_bands:
            raise SetupError(
                f"minhash_perms ({self.minhash_perms}) must be a multiple of lsh_bands ({self.lsh_bands})"
            )
        for name in (
            "max_input_bytes",
            "max_file_bytes",
            "max_feed_bytes",
            "extract_timeout_s",
            "extract_memory_mb",
            "fetch_deadline_s",
            "fetch_total_s",
            "fetch_in_flight",
            "max_sitemap_urls",
            "max_sitemaps",
            "shingle_size",
            "minhash_perms",
            "lsh_bands",
            "dedupe_chunk",
            "validate_chunk",
        ):
            if getattr(self, name) <= 0:
                raise SetupError(f"setting {name} must be positive, got {getattr(self, name)}")
        for name in ("fetch_retries", "host_delay_s", "extract_workers", "db_memory_mb", "max_sitemap_depth"):
            if getattr(self, name) < 0:
                raise SetupError(f"setting {name} must not be negative, got {getattr(self, name)}")
        for name in (
            "near_dup_jaccard",
            "near_dup_containment",
            "max_quarantined_share",
            "max_duplicate_share",
        ):
            if not 0 < getattr(self, name) <= 1:
                raise SetupError(f"setting {name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def staging_root(self) -> Path:
        return self.staging_dir if self.staging_dir is not None else self.db_path.parent / "staging"

    def run_folder(self, run_id: str, suffix: str = "") -> Path:
        """A run's staging folder. The run id is kept as given (Airflow's, with ':' and '+', is stored as the
        UI shows it); only its folder name is made safe."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_") or "run"
        return self.staging_root / f"{name}{suffix}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then `PIPELINE_*` variables, then explicit keyword overrides (CLI flags, Airflow params)."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"PIPELINE_{f.name.upper()}")
            if raw is None:
                continue
            kind = (
                Path
                if f.name in ("staging_dir", "data_docs_dir")
                else str
                if f.name == "staging_url"
                else type(f.default)
            )
            try:
                values[f.name] = _flag(raw) if kind is bool else kind(raw)
            except ValueError as exc:
                raise SetupError(f"PIPELINE_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _flag(raw: str) -> bool:
    """An on/off environment value: 1/true/yes/on or 0/false/no/off, any case."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(raw)
