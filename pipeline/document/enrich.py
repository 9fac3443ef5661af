"""Enrichment: canonical URL, stable ids, content hash, word count and language."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pipeline.errors import Reject
from pipeline.models import Article
from pipeline.stage import Stage
from pipeline.text import HAN_KANA, fold

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "vero_", "hsa_")
_TRACKING_KEYS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mkt_tok",
    "ref",
    "ref_src",
    "cmpid",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
# py3langid's cost grows with the text. On the 310 AEB and fundus bodies (19 languages) the first 1,000 characters
# give the language the first 5,000 give on every page; 2,000 keeps a margin at 40% of the cost.
LANGUAGE_SAMPLE_CHARS = 2000


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters; None if not http(s)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_KEYS
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def stable_id(kind: str, value: str) -> str:
    """A 16-hex-digit key from what identifies an input: its canonical URL, else its file path."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:16]


def content_hash(body: str) -> str:
    """sha256 of the body after case, whitespace and punctuation folding: equal for cosmetic variants."""
    return hashlib.sha256(fold(body).encode()).hexdigest()


def count_words(text: str) -> int:
    """Words separated by spaces (a lone dash is not one), plus one per Chinese or Japanese character, as word
    processors count them.

    Splitting on spaces alone would call a long Japanese article a dozen words and fail it as too short.
    """
    unspaced = len(HAN_KANA.findall(text))
    spaced = HAN_KANA.sub(" ", text) if unspaced else text
    return len(_WORD_TOKEN.findall(spaced)) + unspaced


# A run of non-space characters (as str.split cuts them) holding a letter or digit ([^\W_] is str.isalnum).
_WORD_TOKEN = re.compile(r"(?<!\S)\S*?[^\W_]\S*")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code from py3langid (its model ships in the package: nothing is downloaded)."""
    import py3langid

    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if count_words(sample) < 3:
        return None
    code, _score = py3langid.classify(sample)
    return code


class EnrichStage(Stage):
    """Fill in the derived fields of an article: url, ids, hash, counts, language, source, timestamps."""

    name = "enrich"

    def __init__(self, ledger, run_id: str, now: datetime | None = None):
        super().__init__(ledger)
        self.run_id = run_id
        self.now = now or datetime.now(UTC).replace(tzinfo=None)  # the run's ingested_at, naive UTC

    def process(self, article: Article) -> Article:
        if not article.body.strip():
            raise Reject("empty_body", "no body text")
        article.url = canonical_url(article.url)
        if article.url:
            article.article_id = stable_id("url", article.url)
            article.source = article.source or urlsplit(article.url).hostname
        else:
            article.article_id = stable_id("file", article.source_uri)
            article.source = article.source or Path(article.source_uri).parent.name or None
        article.content_hash = content_hash(article.body)
        article.word_count = count_words(article.body)
        article.language = detect_language(article.body) or article.language  # else what the source said
        article.story_id = article.article_id
        article.run_id = self.run_id
        article.ingested_at = self.now
        return article
