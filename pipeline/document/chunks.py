"""A body the page splits into chunks: containers of one template, of which trafilatura keeps the first.

Some sites set a long article in several containers of the same kind, one after the other (a chunk between
each ad slot or "lightbox"): the same tag and classes, under the same ancestors. trafilatura picks one element
as the body and keeps the chunk it found, so the article stops at the first ad. Read before extraction (which
prunes the tree), `chunk_groups` notes each such set of containers and their paragraphs; `restore_chunks` adds
the paragraphs of the chunks the extraction missed where it kept at least one of the same set.

No language and no site: only the page's own repetition of one container. Comment threads and teaser lists are
left alone by the shape they have (a container with fewer than two paragraphs of prose, a link-dense paragraph,
a set none of whose members the extraction kept).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.models import Block
from pipeline.text import fold

# a paragraph at least this long is prose (a CJK one too: about 80 characters is two or three sentences)
PROSE_CHARS = 80
MIN_PROSE = 2  # a chunk holds at least this many prose paragraphs
TAKEN_SHARE = 0.5  # a chunk the extraction kept: this share of its prose characters found in the extraction
MISSED_SHARE = 0.1  # a chunk it missed: at most this share found
LINKED_SHARE = 0.3  # a paragraph with more of its characters inside links is a teaser, not prose
_SKIPPED_ANCESTORS = frozenset({"aside", "nav", "footer", "form", "template"})
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")


@dataclass
class Chunk:
    blocks: list[Block]  # the container's prose paragraphs and headings, in order
    folded: list[str]  # the prose paragraphs, folded


def _signature(element) -> tuple:
    """The container's tag and classes, and those of its two nearest ancestors."""
    chain = []
    node = element
    while node is not None and isinstance(node.tag, str) and len(chain) < 3:
        chain.append((node.tag, " ".join(sorted((node.get("class") or "").split()))))
        node = node.getparent()
    return tuple(chain)


def _prose(p) -> str | None:
    text = " ".join(p.text_content().split())
    if len(text) < PROSE_CHARS:
        return None
    linked = sum(len(" ".join(a.text_content().split())) for a in p.iter("a"))
    return None if linked > LINKED_SHARE * len(text) else text


def chunk_groups(tree) -> list[list[Chunk]]:
    """Sets of two or more same-template containers, each with MIN_PROSE prose paragraphs, in document order."""
    containers = dict.fromkeys(p.getparent() for p in tree.iter("p"))  # in document order, each once
    containers.pop(None, None)
    groups: dict[tuple, list[Chunk]] = {}
    for container in containers:
        if any(a.tag in _SKIPPED_ANCESTORS for a in container.iterancestors()):
            continue
        blocks = []
        for child in container.iterchildren("p", *_HEADINGS):
            if child.tag == "p":
                if text := _prose(child):
                    blocks.append(Block(text, "p"))
            elif text := " ".join(child.text_content().split()):
                blocks.append(Block(text, "head", int(child.tag[1])))
        paragraphs = [block.text for block in blocks if block.kind == "p"]
        if len(paragraphs) < MIN_PROSE:
            continue
        chunk = Chunk(blocks, [fold(text) for text in paragraphs])
        groups.setdefault(_signature(container), []).append(chunk)
    return [chunks for chunks in groups.values() if len(chunks) > 1]


def _found_share(chunk: Chunk, extracted: str) -> float:
    total = sum(len(text) for text in chunk.folded)
    found = sum(len(text) for text in chunk.folded if text and text in extracted)
    return found / total if total else 0.0


def restore_chunks(blocks: list[Block], groups: list[list[Chunk]]) -> tuple[list[Block], int]:
    """The blocks with the missed chunks' paragraphs put back, each after the kept chunk before it (or before
    the first kept one); and how many chunks were put back."""
    if not groups or not blocks:
        return blocks, 0
    extracted = "\n".join(fold(block.text) for block in blocks)
    restored = 0
    for chunks in groups:
        shares = [_found_share(chunk, extracted) for chunk in chunks]
        if not any(share >= TAKEN_SHARE for share in shares):
            continue
        folded_blocks = [fold(block.text) for block in blocks]
        anchor = None  # index of the block after which the next missed chunk goes
        pending: list[Chunk] = []  # missed chunks before any kept one
        for chunk, share in zip(chunks, shares, strict=True):
            if share >= TAKEN_SHARE:
                last = _last_block_of(chunk, folded_blocks)
                if last is not None:
                    if pending:
                        first = _first_block_of(chunk, folded_blocks)
                        at = first if first is not None else last
                        new = [block for missed in pending for block in missed.blocks]
                        blocks[at:at] = new
                        folded_blocks[at:at] = [fold(b.text) for b in new]
                        restored += len(pending)
                        pending = []
                        last = _last_block_of(chunk, folded_blocks)
                    anchor = last
            elif share <= MISSED_SHARE:
                if anchor is None:
                    pending.append(chunk)
                    continue
                new = list(chunk.blocks)
                blocks[anchor + 1 : anchor + 1] = new
                folded_blocks[anchor + 1 : anchor + 1] = [fold(b.text) for b in new]
                anchor += len(new)
                restored += 1
    return blocks, restored


def _last_block_of(chunk: Chunk, folded_blocks: list[str]) -> int | None:
    for index in range(len(folded_blocks) - 1, -1, -1):
        if _part_of(folded_blocks[index], chunk):
            return index
    return None


def _first_block_of(chunk: Chunk, folded_blocks: list[str]) -> int | None:
    for index, folded in enumerate(folded_blocks):
        if _part_of(folded, chunk):
            return index
    return None


def _part_of(folded_block: str, chunk: Chunk) -> bool:
    """The block is (part of) one of the chunk's prose paragraphs."""
    return len(folded_block) >= PROSE_CHARS // 4 and any(folded_block in text for text in chunk.folded)
