"""The one record that flows through every stage, and the outcomes a stage can give it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Block:
    """One line of extracted text with what the page's structure said about it.

    HTML extraction gives each paragraph, heading, list item, quote or table row its kind, heading level and
    the share of its characters inside links; the block rules in `pipeline.rules` use them. Plain-text lines
    are kind "text" with no structure.
    """

    text: str
    kind: str = "text"  # p | head | item | quote | row | code | text
    level: int = 0  # heading level: 1 for <h1>
    link_ratio: float = 0.0  # characters inside links / all characters


@dataclass
class Article:
    """One input document on its way to an `articles` row. Field names match the table's columns."""

    source_uri: str  # the file path or URL the document was read from
    raw: bytes = b""  # the input as read; dropped after extraction to keep memory flat
    media_type: str = "text/plain"  # text/plain or text/html
    url: str | None = None  # canonical URL when known
    source: str | None = None  # site or feed name
    title: str | None = None
    title_source: str | None = None  # "source" (from the document) or "derived" (from the lead sentence)
    author: str | None = None
    published_at: datetime | None = None  # naive UTC; None when the document does not say
    language: str | None = None
    body: str = ""
    word_count: int = 0
    content_hash: str | None = None  # sha256 of the normalised body
    article_id: str | None = None
    story_id: str | None = None
    run_id: str | None = None
    ingested_at: datetime | None = None
    extractor: str | None = None  # which reader produced the text: "text" or "trafilatura"
    removed: dict[str, int] = field(default_factory=dict)  # boilerplate removals by rule name
    # Set by HTML extraction for the clean stage, not stored: the page's blocks and its meta description.
    blocks: list[Block] = field(default_factory=list)
    description: str | None = None
    # Set by dedupe: the MinHash band keys and shingle count of the body, persisted with the row.
    lsh_bands: list[int] = field(default_factory=list)
    shingle_count: int = 0
    minhash: bytes = b""
    # Dedupe's paragraphs of the body and their keys, computed once (`SiteTemplates.paragraphs`), not stored.
    paragraph_keys: tuple[list[str], list[int]] | None = field(default=None, repr=False)
    # The body's MinHash (setup, signature, band keys), computed in the extraction worker; not stored.
    body_signature: tuple | None = field(default=None, repr=False)

    def payload(self) -> dict:
        """What quarantine keeps of the article: every field as far as it got, minus raw bytes."""
        out = {}
        for name in ("url", "source", "title", "title_source", "author", "language", "body", "word_count"):
            value = getattr(self, name)
            if value not in (None, "", 0):
                out[name] = value
        if self.published_at is not None:
            out["published_at"] = self.published_at.isoformat()
        if self.removed:
            out["removed"] = dict(self.removed)
        return out


@dataclass(frozen=True)
class Quarantined:
    """An input that failed a stage: kept with the stage, reason(s) and payload so it can be fixed and replayed."""

    source_uri: str
    stage: str
    reasons: tuple[str, ...]
    detail: str
    payload: dict


@dataclass(frozen=True)
class Duplicate:
    """An input recognised as a copy of an article that landed (now or in an earlier run)."""

    source_uri: str
    url: str | None
    duplicate_of: str
    method: str  # exact | url | near
    similarity: float
    title: str | None
    content_hash: str | None


@dataclass(frozen=True)
class Skipped:
    """An input already landed with identical content: nothing to do."""

    source_uri: str
    article_id: str
