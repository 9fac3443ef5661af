"""Title and authors as the page shows them, from what trafilatura read in its metadata.

- The headline: the article's JSON-LD `headline` (the publisher's own declaration), else the metadata's title
  (og:title, <title>), or og:title when the JSON-LD headline only copies the <title> (`pick_headline`),
  reconciled with the page's <h1>s, and the site name and section that they carry around it removed. A
  part of the title is dropped when the page's own <h1> is the rest, or when it is the site's name
  (`og:site_name`, JSON-LD's publisher, the host's name) or a date, with all that follows it.
- The authors: no "By"/"Von"/"Author" lead, no outlet when a person is named, no web addresses, no role words
  alone, one name once however it was spelled (a slug "Chuck-Ross" beside "Chuck Ross"), and "Last; First"
  pairs put back together.

Nothing here names a site; the only word lists are a few byline words and the roles CJK bylines write after the
name (기자, 記者). Labelled bylines in the page, for when the metadata names no person: `bylines.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pipeline.text import fold, normalise_line

# What sites put between a headline and their name: a bar, a dash or a bullet with spaces around it, or the
# full-width forms CJK sites write without spaces (｜ ： and the Hangul letter ㅣ used as a bar). Not ": ", which
# joins a kicker to its headline ("Nationaler Veteranentag: Orden fürs Morden").
_SEPARATOR = re.compile(r"\s+(?:[|–—·•»/]|-{1,2}|::)\s+|\s*[|｜]\s*|\s*[：ㅣ]\s*")
_DATE = re.compile(r"^\d{1,4}([./-])\d{1,2}\1\d{1,4}$")
MAX_H1_CHARS = 300
MAX_SITE_NAME_CHARS = 60  # longer is not a name (trafilatura's site name is at times a whole <title>)
_SPACES = re.compile(r"\s+")


def h1_texts(tree) -> list[str]:
    """The page's <h1> texts in document order (those inside <article> or <main> first), empty ones left out."""
    inside, outside = [], []
    for h1 in tree.iter("h1"):
        text = _SPACES.sub(" ", h1.text_content()).strip()
        if text and len(text) <= MAX_H1_CHARS:
            in_article = any(a.tag in ("article", "main") for a in h1.iterancestors())
            (inside if in_article else outside).append(text)
    return inside + outside


def headline(
    title: str | None, h1s: list[str], site_names: list[str], sections: list[str] = ()
) -> str | None:
    """The page's headline, in the title's own characters: the title less the parts around it that the page's
    <h1> does not show, else less the parts that name the site or give a date, and less a last part that is
    the section the page declares itself in (`sections`); the title as it is when nothing says more."""
    if not title:
        return title
    found = _headline(title, h1s, site_names)
    return found if fold(found) in {fold(h1) for h1 in h1s} else _without_section(found, sections)


def pick_headline(
    declared: str | None,
    og_title: str | None,
    html_title: str | None,
    fallback: str | None,
    h1s: list[str],
    site_names: list[str],
    sections: list[str] = (),
) -> str | None:
    """The headline among the page's sources, each through `headline`: the JSON-LD `headline` (`declared`),
    else `fallback` (trafilatura's title: og:title, a meta title or `<title>`).

    One exception, when the JSON-LD headline is a copy of the `<title>` (the headline written for search
    engines, which many CMSs also put in the JSON-LD) and og:title differs from both: og:title is then the
    one headline the publisher set apart, and it is taken. On fundus, where the JSON-LD headline and og:title
    differ (33 pages), that chose right on 12 of 16 pages and wrong on 4 (title accuracy 0.868 to 0.93);
    a JSON-LD headline of its own, unlike the `<title>`, stays first."""

    ld = clean_headline(declared, h1s, site_names, sections)
    if ld and og_title and html_title:
        og = clean_headline(og_title, h1s, site_names, sections)
        shown = clean_headline(html_title, h1s, site_names, sections)
        if og and shown and fold(ld) == fold(shown) and fold(og) != fold(ld):
            return og
    return ld or clean_headline(fallback, h1s, site_names, sections)


def clean_headline(
    text: str | None, h1s: list[str], site_names: list[str], sections: list[str] = ()
) -> str | None:
    """One title source's text as a headline: spacing normalised, through `headline`."""
    return normalise_line(headline(normalise_line(text), h1s, site_names, sections)) if text else None


def _headline(title: str, h1s: list[str], site_names: list[str]) -> str:
    folded_h1s = {fold(h1) for h1 in h1s} - {""}
    if fold(title) in folded_h1s:
        return title
    parts = _SEPARATOR.split(title)
    if len(parts) == 1:
        return title
    # the title less one or two parts at its end, or one at its start, is one of the page's <h1>s
    n = len(parts)
    for start, end in ((0, n - 1), (0, n - 2), (1, n), (1, n - 1)):
        if end - start < 1:
            continue
        kept = parts[start:end]
        if fold(" ".join(kept)) in folded_h1s:
            return _rejoin(title, kept)
    # else drop the first part after the headline that names the site or gives a date, and all after it
    # ("Headline - Site - Site's slogan - Site in another script"), or one leading such part
    names = {fold(n) for n in site_names if n and fold(n)}
    kept = list(parts)
    site_at = next((i for i in range(1, len(kept)) if _names_site(kept[i], names)), None)
    if site_at is not None:
        kept = kept[:site_at]
    if len(kept) > 1 and _names_site(kept[0], names):
        kept.pop(0)
    if len(kept) == len(parts):
        return title
    return _rejoin(title, kept)


# A hyphen with no space is a separator only after a CJK character ("...커졌다-정치"): after a Latin letter it
# joins a word ("e-Politics").
_GLUED_HYPHEN = r"(?<=[\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff])-"


def _without_section(title: str, sections: list[str]) -> str:
    """`title` less a section name the page declares (`article:section`, JSON-LD `articleSection`) at its end,
    after a separator or, in CJK text, a bare hyphen ("...커졌다-정치"); a title that is only the section
    stays."""
    for section in sections:
        section = section.strip()
        if not section or len(section) > MAX_SITE_NAME_CHARS:
            continue
        match = re.search(rf"(?:{_SEPARATOR.pattern}|{_GLUED_HYPHEN}){re.escape(section)}\s*$", title)
        if match and len(title[: match.start()].strip()) > len(section):
            return title[: match.start()].strip()
    return title


def page_sections(tree, page_data: JsonLd) -> list[str]:
    """The sections the page declares itself in: its meta tags named for a section or a category
    (`article:section`, `parsely-section`, `category`, ...), then the JSON-LD's `articleSection`."""
    meta = tree.xpath(
        "//meta[contains(translate(concat(@name, @property), 'SECTIONAGRY', 'sectionagry'), 'section')"
        " or contains(translate(concat(@name, @property), 'SECTIONAGRY', 'sectionagry'), 'category')]/@content"
    )
    return [s for s in dict.fromkeys(x.strip() for x in [*meta, *page_data.sections]) if s]


def _names_site(part: str, names: set[str]) -> bool:
    f = fold(part)
    if not f:
        return True
    if _DATE.match(part.strip()):
        return True
    squeezed = f.replace(" ", "")
    for name in names:
        n = name.replace(" ", "")
        if squeezed == n:
            return True
        short, long = sorted((squeezed, n), key=len)
        if len(short) >= 2 and short in long and 2 * len(short) >= len(long):  # "Golem.de" and "golem"
            return True
    return False


def _rejoin(title: str, kept: list[str]) -> str:
    """The kept parts as they stand in `title` (with the separators between them)."""
    start = title.find(kept[0])
    end = title.rfind(kept[-1]) + len(kept[-1])
    return title[start:end].strip() if 0 <= start < end else " ".join(kept)


def site_names(
    sitename: str | None, hostname: str | None, og_site_names: list[str], publishers: list[str] = ()
) -> list[str]:
    """What the site is called: og:site_name, the JSON-LD publisher, trafilatura's site name, and the host
    without www. and its suffix ("news.orf.at" -> "news.orf.at", "orf.at", "orf")."""
    names = [n for n in [*og_site_names, *publishers, sitename] if n and len(n) <= MAX_SITE_NAME_CHARS]
    if hostname:
        host = hostname.lower().removeprefix("www.")
        labels = host.split(".")
        names += [host, ".".join(labels[-2:])]
        if len(labels) >= 2:
            names.append(labels[-2])
    return names


MAX_JSON_LD_CHARS = 1_000_000
_ARTICLE_TYPE = re.compile(r"Article|Posting|Report", re.I)  # NewsArticle, BlogPosting, Report and the like


@dataclass
class JsonLd:
    """What the page's JSON-LD says that the headline and the site's names need."""

    publishers: list[str] = field(default_factory=list)  # `"publisher": {"name": ...}` at any depth
    headline: str | None = None  # the article object's `headline` (else the first `headline` at all)
    authors: list[str] = field(default_factory=list)  # the article object's `author` names
    sections: list[str] = field(default_factory=list)  # the article object's `articleSection`


def _names_in(value) -> list[str]:
    """`"author"`'s names: a string, {"name": ...}, or a list of either."""
    items = value if isinstance(value, list) else [value]
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    return [name.strip() for name in names if isinstance(name, str) and name.strip()]


def json_ld(tree) -> JsonLd:
    """The page's JSON-LD publishers and headline, read once (before extraction, which drops scripts)."""
    found = JsonLd()
    headlines: list[tuple[bool, str]] = []

    def walk(node, depth: int = 0) -> None:
        if depth > 20:
            return
        if isinstance(node, dict):
            kind = node.get("@type")
            kind = (
                " ".join(k for k in kind if isinstance(k, str)) if isinstance(kind, list) else str(kind or "")
            )
            is_article = bool(_ARTICLE_TYPE.search(kind))
            if isinstance(node.get("headline"), str) and node["headline"].strip():
                headlines.append((is_article, node["headline"]))
            if is_article and not found.authors and "author" in node:
                found.authors = _names_in(node["author"])
            if is_article and not found.sections and "articleSection" in node:
                found.sections = _names_in(node["articleSection"])
            for key, value in node.items():
                if key == "publisher":
                    for p in value if isinstance(value, list) else [value]:
                        if isinstance(p, dict) and isinstance(p.get("name"), str):
                            found.publishers.append(p["name"])
                        elif isinstance(p, str):
                            found.publishers.append(p)
                walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        if len(script) > MAX_JSON_LD_CHARS:
            continue
        try:
            walk(json.loads(script))
        except (ValueError, RecursionError):
            continue
    found.headline = next(
        (h for is_article, h in headlines if is_article), headlines[0][1] if headlines else None
    )
    return found


# A byline's lead word ("By Jane Doe", "Von Max Muster", "Autor: ..."), anywhere before the name.
_LEAD = re.compile(
    r"^(?:.*?\s)?(?:by|von|par|por|di|door|av|af|autor(?:in)?|author|text|texto|reportage)\s*:?\s+", re.I
)
# Words that name a role, not a person, when they stand alone.
_ROLES = {
    fold(w)
    for w in [
        "journalist",
        "reporter",
        "redaktion",
        "red",
        "redakteur",
        "editor",
        "staff",
        "correspondent",
        "autor",
        "author",
        "agenturen",
    ]
}
_ADDRESS = re.compile(r"https?\b|\bwww\b|\.(?:com|de|org|net)\b|\b(?:com|de|org|net)$", re.I)


def pick_authors(declared: str | None, meta: str | None, names_of_site: list[str]) -> str | None:
    """The article's JSON-LD authors (`declared`, cleaned), which the publisher states for the article, unless
    they name only the site or a slug ("chuck-ross") where the page's meta author (cleaned) names a person."""
    if not declared or not meta:
        return declared or meta
    site = {fold(n) for n in names_of_site if n and fold(n)}
    only_site = all(_names_site(name, site) for name in declared.split("; "))
    slug = all(_SLUG.match(name) for name in declared.split("; "))
    meta_person = not all(_names_site(name, site) for name in meta.split("; "))
    return meta if (only_site or slug) and meta_person else declared


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")


def clean_authors(author: str | None, names_of_site: list[str]) -> str | None:
    """The author field ("A; B" as trafilatura joins names) as the page's byline names its people."""
    if not author:
        return author
    people, outlets = sort_names(author, names_of_site)
    kept = people or outlets
    return "; ".join(kept) if kept else author


def sort_names(author: str | None, names_of_site: list[str]) -> tuple[list[str], list[str]]:
    """The author field's names, cleaned, as (people, outlets); addresses and lone role words in neither."""
    parts = [p.strip() for p in (author or "").split(";") if p.strip()]
    if len(parts) >= 2 and len(parts) % 2 == 0 and all(len(p.split()) == 1 for p in parts):
        parts = [f"{parts[i + 1]} {parts[i]}" for i in range(0, len(parts), 2)]  # "Last; First" pairs
    site = {fold(n).replace(" ", "") for n in names_of_site if n and fold(n)}
    people, outlets, seen = [], [], set()
    for part in parts:
        if _ADDRESS.search(part):
            continue
        name = _LEAD.sub("", part).strip(" ,:-")
        name = _TRAILING_ROLE.sub("", name) or name
        key = fold(name.replace("-", " "))
        if not key or key in _ROLES or key in seen:
            continue
        seen.add(key)
        squeezed = key.replace(" ", "")
        is_outlet = any(squeezed == n or (len(n) >= 3 and (n in squeezed or squeezed in n)) for n in site)
        (outlets if is_outlet else people).append(name)
    return people, outlets


# A role written after the name, as Korean, Japanese and Chinese bylines do ("신현주 기자", "山田太郎記者"): the
# reporter, the correspondent, the senior or editorial writer.
_TRAILING_ROLE = re.compile(r"\s*(?:선임기자|기자|특파원|논설위원|記者|记者|特派員|特派员|編集委員)$")
