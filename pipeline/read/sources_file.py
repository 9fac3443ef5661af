"""Sources files: the list of feeds, pages, files and folders a run reads (`sources.toml`, or one per line)."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SetupError


def is_url(source: str) -> bool:
    """A source to fetch. A `file://` URI is how a local file whose name is not UTF-8 is named (`source_uri_of`)."""
    return "://" in source and not source.startswith("file://")


@dataclass(frozen=True)
class SourceSpec:
    location: str  # a URL, or a file or folder path
    name: str | None = None  # a display name; for a feed, the articles' `source`


def read_sources_file(path: Path) -> list[SourceSpec]:
    """The sources a sources file lists: TOML (`[[source]]` tables with `url` or `path`, and an optional `name`)
    or plain text (one `location [name ...]` per line, quoted as in a shell; a line starting with `#` is a comment). Relative paths
    are taken from the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupError(f"cannot read sources file {path}: {exc}") from exc
    specs = _toml_sources(path, text) if path.suffix.lower() == ".toml" else _line_sources(path, text)
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
    entries = doc.get("source", [])
    if not isinstance(entries, list):
        raise SetupError(f"sources file {path}: `source` must be [[source]] tables (url or path, and a name)")
    specs = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise SetupError(
                f"sources file {path}: [[source]] number {n} must be a table with a url or a path"
            )
        location = entry.get("url") or entry.get("path")
        if not isinstance(location, str) or not location.strip():
            raise SetupError(f"sources file {path}: [[source]] number {n} needs a url or a path, as a string")
        name = entry.get("name")
        if name is not None and not isinstance(name, str):
            raise SetupError(f"sources file {path}: [[source]] number {n} has a name that is not a string")
        specs.append(SourceSpec(location.strip(), name))
    return specs


def _line_sources(path: Path, text: str) -> list[SourceSpec]:
    """One `location [name ...]` per line, split as a shell would: quote a path with spaces ("my feeds/a.xml")."""
    specs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise SetupError(
                f"sources file {path}, line {number}: {exc} (quote a path with spaces whole)"
            ) from exc
        specs.append(SourceSpec(words[0], " ".join(words[1:]) or None))
    return specs
