"""The run's compact state gives exactly what dicts and lists would, across its merges and spills."""

import random

import numpy as np
import pytest

from pipeline.dedupe.compact import HexKeys, IdColumn, Spill, hex_words, words_hex
from pipeline.dedupe.index import RunIndex, RunSignatures
from pipeline.dedupe.minhash import Signature
from pipeline.dedupe.templates import ParagraphCounts


def test_hex_words_round_trip_and_refuse_what_is_not_a_lowercase_digest():
    digest = "ff" * 8 + "0123456789abcdef" * 3
    assert words_hex(hex_words(digest, 64)) == digest
    assert hex_words("8000000000000000", 16) == [-(2**63)]
    for other in ("a1", "FFFFFFFFFFFFFFFF", "g" * 16, "0" * 15, None, 7):
        assert hex_words(other, 16) is None


@pytest.mark.parametrize("digits", [16, 64])
def test_hex_keys_answer_as_a_dict_across_flushes(monkeypatch, digits):
    monkeypatch.setattr(HexKeys, "FLUSH_AT", 5)
    rng = random.Random(digits)
    keys = HexKeys(digits)
    reference: dict = {}
    # Digests sharing their first word, so a hit on the sorted column must check the others.
    shared = f"{rng.getrandbits(64):016x}"
    pool = [f"{rng.getrandbits(4 * digits):0{digits}x}" for _ in range(60)]
    pool += (
        [shared + f"{rng.getrandbits(4 * (digits - 16)):0{digits - 16}x}" for _ in range(5)]
        if digits > 16
        else []
    )
    pool += ["a1", "", None, "ABCDEF0123456789"]  # not lowercase digests: kept aside, still answered
    for step in range(400):
        key = rng.choice(pool)
        if rng.random() < 0.6:
            keys[key] = reference[key] = step
        probe = rng.choice(pool)
        assert keys.get(probe) == reference.get(probe), (step, probe)
        assert (probe in keys) == (probe in reference)
    assert len(keys) == len(reference) and len(keys.heads) > 0


def test_id_column_gives_back_every_id():
    ids = ["0123456789abcdef", "ffffffffffffffff", "a1", "8000000000000000", "0000000000000000"]
    column = IdColumn()
    assert [column.append(i) for i in ids] == list(range(len(ids)))
    assert [column[r] for r in range(len(ids))] == ids and column.other == {2: "a1"}


def test_spill_reads_back_from_the_file_from_memory_and_across_both(monkeypatch):
    monkeypatch.setattr(Spill, "BUFFER", 100)
    spill = Spill()
    rng = random.Random(1)
    chunks = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 70))) for _ in range(40)]
    offsets = [spill.append(c) for c in chunks]
    data = b"".join(chunks)
    assert spill.written > 0 and spill.buffer  # some in the file, the newest in memory
    for offset, chunk in zip(offsets, chunks, strict=True):
        assert spill.read(offset, len(chunk)) == chunk
    start = spill.written - 10  # straddles the file's end
    assert spill.read(start, 30) == data[start : start + 30]
    spill.close()


def test_run_index_checks_a_tag_match_against_the_article_s_own_keys(monkeypatch):
    """Keys differing only in their low bits share partition and tag: only equal keys are members, in the
    order a dict of lists gives, also when an article holds two keys of one tag, from every level."""
    monkeypatch.setattr(RunIndex, "FLUSH_AT", 6)
    monkeypatch.setattr(RunIndex, "YOUNG_AT", 40)  # members come from all three levels
    base = 0x0123_4567_89AB_CDEF
    near = [base + i for i in range(6)]  # one partition, one tag
    index, reference = RunIndex(), {}
    rng = random.Random(4)
    for n in range(120):
        keys = [*rng.sample(near, 2), rng.getrandbits(63)]
        expected = list(dict.fromkeys(a for k in keys for a in reference.get(k, ())))
        assert index.members(keys) == expected, n
        for k in keys:
            reference.setdefault(k, []).append(f"{n:016x}")
        index.add(f"{n:016x}", keys)
    assert index.old > 0 and len(index.young_keys) > 0 and len(index) == 360
    assert sorted(index.keys_of(7)) == sorted(reference_keys(reference, f"{7:016x}"))
    assert index.members([base + 100]) == []  # same tag, no such key


def reference_keys(reference: dict, article_id: str) -> list[int]:
    return [k for k, members in reference.items() if article_id in members]


def test_run_signatures_read_spilled_blocks_back(monkeypatch):
    monkeypatch.setattr(RunSignatures, "BLOCK", 3)
    held = RunSignatures(perms=4)
    rng = np.random.default_rng(2)
    sigs = {f"{i:016x}": Signature(i * 7, rng.integers(0, 2**32, 4, dtype=np.uint32)) for i in range(11)}
    for aid, sig in sigs.items():
        held.add(aid, sig)
    assert [type(b).__name__ for b in held.minhash] == ["int", "int", "int", "ndarray"]
    for aid, sig in sigs.items():
        assert aid in held and held[aid].shingles == sig.shingles
        assert held[aid].minhash.tolist() == sig.minhash.tolist()
    assert "0" * 15 + "f" not in held
    with pytest.raises(KeyError):
        held["missing"]


def test_paragraph_counts_give_a_dict_of_dicts_across_flushes(monkeypatch):
    monkeypatch.setattr(ParagraphCounts, "FLUSH_AT", 7)
    rng = random.Random(9)
    hosts = ["a.example", "b.example", "c.example", ""]
    keys = [rng.getrandbits(64) - 2**63 for _ in range(30)]
    counts, reference = ParagraphCounts(), {}
    for step in range(500):
        host = rng.choice(hosts)
        article = set(rng.sample(keys, rng.randint(0, 5)))
        if rng.random() < 0.5:
            counts.add(host, article)
            seen = reference.setdefault(host, {})
            for k in article:
                seen[k] = seen.get(k, 0) + 1
        probe = [rng.choice(keys) for _ in range(4)]
        expected = {k: reference[host][k] for k in probe if k in reference.get(host, {})}
        assert counts.get(host, probe) == expected, step
    assert len(counts.keys) > 0
    by_host = counts.by_host()
    assert list(by_host) == list(reference)  # hosts in the order first counted
    assert {h: dict(m.items()) for h, m in by_host.items()} == reference
    for host, mapping in by_host.items():
        assert list(mapping) == sorted(reference[host]) and list(mapping.values()) == [
            reference[host][k] for k in sorted(reference[host])
        ]
        assert all(mapping[k] == n for k, n in reference[host].items()) and len(mapping) == len(
            reference[host]
        )
