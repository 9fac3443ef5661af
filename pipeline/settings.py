"""One typed settings object: defaults here, overridable by `PIPELINE_<NAME>` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from pipeline.errors import SetupError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/articles.duckdb")
    staging_dir: Path | None = None  # where a run's Parquet hand-off files live; default: beside the DB
    suite_path: Path = PROJECT_ROOT / "expectations" / "articles.json"
    max_input_bytes: int = 5_000_000  # larger inputs are quarantined as too_large before extraction
    extract_workers: int = min(os.cpu_count() or 1, 4)  # processes extracting HTML in parallel
    extract_timeout_s: float = 30.0  # a page still extracting after this is stopped: extract_timeout
    extract_memory_mb: int = 2048  # address-space cap of an extraction process: extract_out_of_memory
    max_file_bytes: int = 200_000_000  # cap on a JSON, JSONL or feed file holding many articles
    # Near-duplicate detection: word shingles, MinHash permutations, LSH bands (rows per band = perms / bands).
    shingle_size: int = 5
    minhash_perms: int = 128
    lsh_bands: int = 32
    near_dup_jaccard: float = 0.6  # verified Jaccard at or above this is a near duplicate ...
    near_dup_containment: float = 0.8  # ... and so is a copy this much contained in a landed article
    validate_chunk: int = 2000  # articles per Great Expectations batch
    lock_timeout_s: float = 0.0  # how long to retry a DB locked by another process

    def __post_init__(self) -> None:
        if self.minhash_perms % self.lsh_bands:
            raise SetupError(
                f"minhash_perms ({self.minhash_perms}) must be a multiple of lsh_bands ({self.lsh_bands})"
            )
        for name in (
            "max_input_bytes",
            "max_file_bytes",
            "shingle_size",
            "minhash_perms",
            "lsh_bands",
            "validate_chunk",
        ):
            if getattr(self, name) <= 0:
                raise SetupError(f"setting {name} must be positive, got {getattr(self, name)}")
        for name in ("near_dup_jaccard", "near_dup_containment"):
            if not 0 < getattr(self, name) <= 1:
                raise SetupError(f"setting {name} must be in (0, 1], got {getattr(self, name)}")

    @property
    def staging_root(self) -> Path:
        return self.staging_dir if self.staging_dir is not None else self.db_path.parent / "staging"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then `PIPELINE_*` variables, then explicit keyword overrides (CLI flags, Airflow params)."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"PIPELINE_{f.name.upper()}")
            if raw is None:
                continue
            kind = Path if f.name == "staging_dir" else type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise SetupError(f"PIPELINE_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
