"""Sources files: the list of feeds, pages, files and folders a run reads (`sources.toml`, or one per line)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SetupError


def is_url(source: str) -> bool:
    return "://" in source


@dataclass(frozen=True)
class SourceSpec:
    location: str  # a URL, or a file or folder path
    name: str | None = None  # a display name; for a feed, the articles' `source`


def read_sources_file(path: Path) -> list[SourceSpec]:
    """The sources a sources file lists: TOML (`[[source]]` tables with `url` or `path`, and an optional `name`)
    or plain text (one `location [name ...]` per line; a line starting with `#` is a comment). Relative paths
    are taken from the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"cannot read sources file {path}: {exc}") from exc
    specs = _toml_sources(path, text) if path.suffix.lower() == ".toml" else _line_sources(text)
    resolved = []
    for spec in specs:
        if not is_url(spec.location) and not Path(spec.location).expanduser().is_absolute():
            spec = SourceSpec(str(path.parent / spec.location), spec.name)
        resolved.append(spec)
    return resolved


def _toml_sources(path: Path, text: str) -> list[SourceSpec]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"sources file {path} is not valid TOML: {exc}") from exc
    specs = []
    for n, entry in enumerate(doc.get("source", []), 1):
        location = entry.get("url") or entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(location, str) or not location.strip():
            raise SetupError(f"sources file {path}: [[source]] number {n} needs a url or a path")
        specs.append(SourceSpec(location.strip(), entry.get("name")))
    return specs


def _line_sources(text: str) -> list[SourceSpec]:
    specs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            location, _, name = line.partition(" ")
            specs.append(SourceSpec(location, name.strip() or None))
    return specs
