"""Staging on object storage (`pipeline.store.remote`): a folder up and back, replaced, removed, on fsspec
filesystems that need no server (the local one, which creates no folders by itself, and memory); S3 is
tested on the cluster (tests/cluster)."""

import pytest

from pipeline.errors import SetupError
from pipeline.store import remote


def folder_with_files(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.parquet").write_bytes(b"a" * 10)
    (root / "sub" / "b.json").write_text('{"b": 1}')
    return root


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_a_folder_goes_up_and_comes_back_whole(tmp_path, kind):
    local = folder_with_files(tmp_path / "part")
    url = (
        f"file://{tmp_path}/store/run.parts/0001"
        if kind == "file"
        else f"memory://store-{tmp_path.name}/0001"
    )
    assert remote.upload(local, url) == 2
    (local / "a.parquet").write_bytes(b"changed")
    (local / "sub" / "b.json").unlink()
    assert remote.upload(local, url) == 1  # a retried task replaces what its last attempt staged
    back = tmp_path / "back"
    (back / "stale").mkdir(parents=True)
    assert remote.download(url, back) == 1
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*")) == ["a.parquet"]
    assert (back / "a.parquet").read_bytes() == b"changed"
    remote.remove(url)
    with pytest.raises(FileNotFoundError, match="nothing staged at"):
        remote.download(url, tmp_path / "again")


def test_an_unknown_protocol_is_bad_setup(tmp_path):
    with pytest.raises(SetupError, match="cannot reach staging URL nosuch://"):
        remote.upload(folder_with_files(tmp_path / "p"), "nosuch://bucket/x")
