"""trafilatura's extraction cascade (2.3.1), step by step, less what the pipeline never reads.

`extract_page` is `trafilatura.bare_extraction(tree, with_metadata=True, ...)` without categories, tags and
license in the metadata, without text rendering and without copying the tree; `main_text` is its
`trafilatura_sequence` with the fallback extractors consulted only for a short result (`FALLBACK_BELOW`).
With the gate lifted, it gives exactly trafilatura's body and metadata (`tests/document/test_extract.py`).
"""

from __future__ import annotations

import functools
import logging
import math

log = logging.getLogger(__name__)

# trafilatura checks its own extraction against readability and justext on every page; that costs about a fifth of
# the extraction. Here they are consulted only when our extraction has fewer characters than this: on AEB the
# fallback replaced 5 of 181 extractions, better on the two under 300 characters, worse on the three over 800.
FALLBACK_BELOW = 500


def extract_page(
    tree,
    url: str | None,
    date_extraction_params: dict,
    include_comments: bool,
    include_tables: bool,
    include_links: bool,
    favor_precision: bool,
    keep_metadata: bool = False,
    on_metadata=None,
):
    """`trafilatura.bare_extraction(tree, with_metadata=True, ...)` less what we never read, on a tree it may change.

    The page's metadata without categories, tags or license (`page_metadata`), and the body tree from
    `main_text`; no text rendering and no copy of the tree. Returns trafilatura's Document with `.body` set, or
    None where bare_extraction gives None; with `keep_metadata`, the Document with `.body` None there when the
    metadata was read (a body from elsewhere may still come with it). `on_metadata(doc)`, if given, is called
    with the metadata before the body's extraction changes the tree (guarded like a metadata step).
    """
    from trafilatura.settings import Extractor

    from pipeline.document.xpaths import screen_trafilatura

    screen_trafilatura()  # the same nodes from trafilatura's expressions, at less cost (once per process)
    options = Extractor(
        output_format="python",
        comments=include_comments,
        tables=include_tables,
        links=include_links,
        precision=favor_precision,
        url=url,
        with_metadata=True,
        date_params=date_extraction_params,
    )
    doc = None
    try:
        doc = page_metadata(tree, options.url, options.date_params)
        if on_metadata is not None:
            guarded("labelled byline", on_metadata, doc)  # a crash there costs the byline, not the article
        body, text = main_text(tree, options, options.url or doc.url)
    except (TypeError, ValueError):  # bare_extraction's "no document"
        log.debug("trafilatura discarded %s", options.source)
        body, text = None, ""
    if len(text) < options.min_output_size:
        if doc is not None and keep_metadata:
            doc.body = None
            return doc
        return None
    doc.body = body
    return doc


def page_metadata(tree, default_url: str | None, date_params: dict):
    """trafilatura's `extract_metadata` (2.3.1) without categories, tags and license, which nothing here reads.

    Title, author, URL, hostname, date (htmldate), site name and description come out as trafilatura gives them.
    """
    from trafilatura import metadata as md

    metadata = md.examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    metadata = guarded("JSON-LD metadata", md.extract_meta_json, tree, metadata) or metadata
    if not metadata.title:
        metadata.title = guarded("title", md.extract_title, tree)
    if not metadata.author:
        metadata.author = guarded("author", page_author, tree)
    if not metadata.url:
        metadata.url = guarded("url", md.extract_url, tree, default_url)
    if metadata.url:
        metadata.hostname = guarded("hostname", md.extract_domain, metadata.url, fast=True)
    metadata.date = guarded("date", md.find_date, tree, **{**date_params, "url": metadata.url})
    if not metadata.sitename:
        metadata.sitename = guarded("site name", md.extract_sitename, tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")  # a Twitter handle
        if metadata.sitename and "." not in metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url:
        match = md.META_URL.match(metadata.url)
        if match:
            metadata.sitename = match[1]
    metadata.filedate = date_params.get("max_date")
    metadata.clean_and_trim()
    return metadata


# trafilatura's `extract_author` (2.3.1) deep-copies the whole page to delete from the copy what may not hold an
# author (comment sections, sidebars, quotes, <time>, <figure>: AUTHOR_DISCARD_XPATHS), then takes the first
# AUTHOR_XPATHS element of 3 to 119 characters. On the AEB and fundus pages the copy and the deletions cost 1.7 ms
# of its 5.3 a call.
# `page_author` gives the same answer without them, as its expressions read in 2.3.1 (their fingerprint): the
# author expressions test an element's own name and attributes, so on the copy they select the elements they
# select on the page, less those deleted (one of them or an ancestor matching a discard test); and an element's
# text there is its text once its own deleted descendants are gone, which a copy of that element alone gives.
# Expressions that read otherwise (another trafilatura), or a <rel> element (`rel='me'` tests a child's text),
# go to trafilatura's own.
_AUTHOR_EXPRESSIONS = (
    "25bd9dc701d833cf"  # sha256 of AUTHOR_XPATHS + AUTHOR_DISCARD_XPATHS as 2.3.1 writes them
)
_AUTHOR_DISCARD_TAGS = ("time", "figure")  # AUTHOR_DISCARD_XPATHS[1]: "//time|//figure"


@functools.cache
def _discard_tests():
    """AUTHOR_DISCARD_XPATHS[0] (`.//*[...]`) as a test of one element and of an element's descendants; None
    when trafilatura's author expressions are not the ones `page_author` was written for."""
    import hashlib

    from lxml.etree import XPath
    from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

    from pipeline.document.xpaths import original

    written = [x.path for x in original(AUTHOR_XPATHS) + original(AUTHOR_DISCARD_XPATHS)]
    fingerprint = hashlib.sha256("\x00".join(written).encode()).hexdigest()[:16]
    first = AUTHOR_DISCARD_XPATHS[0].path.strip()  # screened or not: the same elements
    if fingerprint != _AUTHOR_EXPRESSIONS or not first.startswith(".//*["):
        return None
    ns = {"re": "http://exslt.org/regular-expressions"}
    steps = first[len(".//*") :]
    return XPath("self::*" + steps, namespaces=ns), XPath("descendant::*" + steps, namespaces=ns)


def page_author(tree) -> str | None:
    """trafilatura's `extract_author(tree)`, without copying the page (see above)."""
    from copy import deepcopy

    from trafilatura import metadata as md
    from trafilatura.xml import delete_element
    from trafilatura.xpaths import AUTHOR_XPATHS

    tests = _discard_tests()
    if tests is None or tree.find(".//rel") is not None:
        return md.extract_author(tree)
    discarded, discarded_within = tests

    def deleted(element) -> bool:  # from the copy: it, or an ancestor below the root, is discarded
        while element is not None and element.getparent() is not None:
            if element.tag in _AUTHOR_DISCARD_TAGS or discarded(element):
                return True
            element = element.getparent()
        return False

    for expression in AUTHOR_XPATHS:
        for element in expression(tree):
            if deleted(element):
                continue
            # its text once its discarded descendants are deleted, in trafilatura's order
            alone = deepcopy(element)
            for inner in discarded_within(alone):
                delete_element(inner)
            for inner in list(alone.iterdescendants(*_AUTHOR_DISCARD_TAGS)):
                delete_element(inner)
            content = md.trim(" ".join(alone.itertext()))
            if content and 2 < len(content) < 120:
                return md.normalize_authors(None, content)
    return None


def guarded(field: str, step, *args, **kwargs):
    """One metadata step; a crash inside it (htmldate's lxml `drop_tree` AssertionError on an SVG `<title>`, a
    bug in trafilatura's JSON-LD reader) costs that field, not the article: None, and one log line."""
    try:
        return step(*args, **kwargs)
    except Exception as exc:  # any bug of a dependency's metadata step
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning(
            "metadata: %s not read (%s in %s); the article goes on without it", field, cause, step.__name__
        )
        return None


def main_text(tree, options, url: str | None):
    """trafilatura's extraction cascade (`trafilatura.core.trafilatura_sequence`, 2.3.1) without comments, and
    with the fallback comparison (readability, justext) only under FALLBACK_BELOW characters. Changes `tree`.

    Returns the body tree and its text.
    """
    from copy import copy

    from trafilatura import core

    if options.comments:  # not a ValueError: extract_page reads those as trafilatura's "no document"
        raise NotImplementedError("main_text extracts without comments only")
    is_forum = core._forum_thread_page(tree)
    tree = core.prune_unwanted_nodes(tree, core.RAW_TREE_PRUNE_XPATH)
    if options.focus == "precision" or not is_forum:
        tree = core.prune_unwanted_nodes(tree, core.REMOVE_COMMENTS_AND_LISTS_XPATH)
    # No base URL: links are kept only to measure each block's link share, their targets are never read, and
    # resolving every relative href cost 2 ms a page (AEB).
    # trafilatura's `_prepare_tree(tree, options, None)` without its backup copy of the cleaned tree, which only the
    # fallback reads: there it is cleaned again from `tree`, which nothing has changed since. The copy cost 0.3 ms a
    # page; cleaning again costs 1.2 ms on a page that falls back (23 of the 310 AEB and fundus pages).
    cleaned_tree = core.convert_tags(core.tree_cleaning(copy(tree), options), options, None)
    if options.focus == "precision" and not is_forum:
        cleaned_tree = core.prune_unwanted_nodes(cleaned_tree, core.REMOVE_COMMENTS_XPATH)

    # 1. the main extractor; 2. readability and justext, here only for a short result
    body, text = core.extract_content(cleaned_tree, options)
    if not options.fast and len(text) < FALLBACK_BELOW:
        cleaned_tree_backup = core.tree_cleaning(copy(tree), options)  # _prepare_tree's backup, made again
        body, text = core.compare_extraction(cleaned_tree_backup, copy(tree), body, text, options)

    # 3. rescue: the baseline on the whole page, if it gives more text
    if len(text) < options.min_extracted_size and options.focus != "precision":
        b_body, b_text, b_len = core.baseline(tree)
        if b_len > len(text):
            body, text = b_body, b_text

    # 4. recall escalation for a short extraction that covers little of the page, as trafilatura does it
    if (
        options.focus == "balanced"
        and 0 < len(text) < core.ESCALATION_MAX_LENGTH
        and len(text) < core.ESCALATION_PAGE_SHARE * _page_text_bound(tree)
        and len(text) < core.ESCALATION_PAGE_SHARE * len(core.html2txt(tree))
    ):
        r_options = copy(options)
        r_options.focus = "recall"
        r_text = j_text = ""
        try:
            r_body, r_text = core._recall_retry(tree, r_options, None)
        except Exception as err:
            log.warning("recall retry failed: %s %s", err, url)
        if not options.fast:
            try:
                j_body, j_text = core.justext_rescue(copy(tree), options)
            except Exception as err:
                log.warning("justext candidate failed: %s %s", err, url)
        len_text, r_len, j_len = len(text), len(r_text), len(j_text)
        if j_len > r_len and j_len > core.ESCALATION_JUSTEXT_RATIO * len_text:
            body, text = j_body, j_text
        elif r_len >= options.min_extracted_size and r_len > core.ESCALATION_ACCEPT_RATIO * len_text:
            body, text = r_body, r_text
    return body, text


# What trafilatura's html2txt always deletes, whatever the attributes (its BASIC_CLEAN_XPATH deletes more).
_ALWAYS_CLEANED = ("aside", "fencedframe", "footer", "script", "style", "svg", "template")


def _page_text_bound(tree) -> float:
    """An upper bound of `len(trafilatura.baseline.html2txt(tree))` at a tenth of its cost (no copy, no XPath).

    html2txt deletes elements (their tails stay), pads each block element's text and tail with a space, and
    collapses whitespace: its length is at most the body's characters, less those of the elements it always
    deletes, plus two per block element. The escalation test needs html2txt only when this bound does not decide.
    """
    from trafilatura.baseline import _BLOCK_ELEMS

    body = tree.find(".//body")
    if body is None:
        return math.inf
    chars = len(body.text_content())
    for element in body.iter(*_ALWAYS_CLEANED):
        if not any(parent.tag in _ALWAYS_CLEANED for parent in element.iterancestors()):
            chars -= len(element.text_content())
    return chars + 2 * sum(1 for _ in body.iter(*_BLOCK_ELEMS))
